#include <stdlib.h>
#include "golden.h"
#include <stdio.h>
#include "log.h"
#include "testutil.h"

ssm_h5 *golden_open(const char *name) {
    ssm_h5 *f = ssm_h5_open(tu_data(name));
    ck_assert_msg(f != NULL, "%s", ssm_last_error());
    return f;
}

double golden_attr(ssm_h5 *f, const char *name) {
    double v;
    ck_assert_msg(ssm_h5_attr_double(f, "/", name, &v) == SSM_OK, "%s", ssm_last_error());
    return v;
}

ssm_tensor *golden_tensor(ssm_h5 *f, const char *path, ssm_dtype dt, ssm_device dev) {
    ssm_tensor *t;
    ck_assert_msg(ssm_h5_read(f, path, dt, &t) == SSM_OK, "%s", ssm_last_error());
    if (dev == SSM_CPU) return t;
    ssm_tensor *d = ssm_tensor_to(NULL, t, dev);
    ssm_tensor_free(t);
    return d;
}

void golden_load_params(ssm_h5 *f, ssm_params *ps) {
    char path[300];
    for (int i = 0; i < ps->n; i++) {
        ssm_tensor *p = ps->p[i];
        snprintf(path, sizeof path, "/params/%s", p->name);
        ssm_tensor *t = golden_tensor(f, path, p->dtype, SSM_CPU);
        char a[96], b[96];
        ck_assert_msg(ssm_same_shape(t, p), "%s: file has %s, model has %s", p->name,
                      ssm_tensor_describe(t, a, sizeof a), ssm_tensor_describe(p, b, sizeof b));
        ssm_tensor_copy(p, t);
        ssm_tensor_free(t);
    }
}

void golden_expect(ssm_h5 *f, const char *path, const ssm_tensor *t, double tol) {
    ssm_tensor *want = golden_tensor(f, path, SSM_F64, SSM_CPU);
    ck_assert_msg(want->numel == t->numel, "%s: %lld elements, expected %lld", path,
                  (long long)t->numel, (long long)want->numel);
    double e = tu_rel_err(t, want);
    ssm_tensor_free(want);
    if (getenv("SSM_GOLDEN_PRINT")) /* the figures behind a tolerance (docs/BENCHMARKS.md) */
        printf("golden %s %s: relative error %.3g (tolerance %.1g)\n", ssm_h5_path(f), path, e,
               tol);
    ck_assert_msg(e < tol, "%s: relative error %.3g (tolerance %.1g)", path, e, tol);
}

void golden_expect_param_grads(ssm_h5 *f, const ssm_params *ps, double tol) {
    char path[300];
    for (int i = 0; i < ps->n; i++) {
        snprintf(path, sizeof path, "/grads/params/%s", ps->p[i]->name);
        golden_expect(f, path, ps->p[i]->grad, tol);
    }
}

void golden_expect_layer(ssm_h5 *f, ssm_ctx *c, ssm_tensor *y, ssm_tensor *in,
                         const char *in_name, const ssm_params *ps, double tol) {
    char path[300];
    golden_expect(f, "/outputs/y", y, tol);
    ssm_tensor *dy = golden_tensor(f, "/inputs/dy_y", y->dtype, y->device);
    ssm_backward_with(c, y, dy);
    snprintf(path, sizeof path, "/grads/inputs/%s", in_name);
    golden_expect(f, path, in->grad, tol);
    if (ps) golden_expect_param_grads(f, ps, tol);
    ssm_tensor_free(dy);
}
