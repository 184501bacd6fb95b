#include "gradcheck.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "ops.h"
#include "philox.h"

/* L = sum(out * w) in a no_grad evaluation. */
static double objective(ssm_ctx *c, ssm_gradcheck_fn fn, ssm_tensor **in, void *user,
                        const double *w) {
    int saved = ssm_no_grad_begin(c);
    c->rng_offset = 0;
    ssm_tensor *out = fn(c, in, user);
    double L = 0;
    for (int64_t i = 0; i < out->numel; i++) L += ((double *)out->data)[i] * w[i];
    ssm_no_grad_end(c, saved);
    ssm_ctx_reset(c);
    return L;
}

ssm_gradcheck_result ssm_gradcheck(ssm_gradcheck_fn fn, ssm_tensor **in, int n, void *user,
                                   double eps) {
    ssm_gradcheck_result res = {0, -1};
    ssm_ctx *c = ssm_ctx_new(1234);
    c->poison_fresh_grads = 1; /* a rule that stores only part of a gradient shows as NaN */
    for (int i = 0; i < n; i++) {
        SSM_CHECK(in[i]->device == SSM_CPU, "gradcheck: inputs must be on the CPU");
        if (in[i]->flags & SSM_T_REQUIRES_GRAD) {
            SSM_CHECK(in[i]->dtype == SSM_F64 && in[i]->grad, "gradcheck: input %d must be f64 "
                      "with a gradient buffer (ssm_requires_grad)", i);
            ssm_tensor_zero(in[i]->grad);
        }
    }
    /* analytic gradients */
    ssm_tensor *out = fn(c, in, user);
    SSM_CHECK(out->dtype == SSM_F64, "gradcheck: output must be f64");
    int64_t nout = out->numel;
    double *w = malloc((size_t)nout * sizeof *w);
    for (int64_t i = 0; i < nout; i++) w[i] = ssm_philox_normal(99, (uint64_t)i);
    if (out->flags & SSM_T_REQUIRES_GRAD) {
        ssm_tensor *wt = ssm_tensor_like(c->arena, out);
        memcpy(wt->data, w, (size_t)nout * sizeof *w);
        ssm_backward_with(c, out, wt);
    }
    ssm_ctx_reset(c);
    /* numeric gradients, input by input */
    for (int i = 0; i < n; i++) {
        if (!(in[i]->flags & SSM_T_REQUIRES_GRAD)) continue;
        double *x = in[i]->data, *g = in[i]->grad->data, dn = 0, nn = 0, na = 0;
        for (int64_t j = 0; j < in[i]->numel; j++) {
            double x0 = x[j];
            x[j] = x0 + eps;
            double fp = objective(c, fn, in, user, w);
            x[j] = x0 - eps;
            double fm = objective(c, fn, in, user, w);
            x[j] = x0;
            double num = (fp - fm) / (2 * eps);
            dn += (num - g[j]) * (num - g[j]);
            nn += num * num;
            na += g[j] * g[j];
        }
        double denom = sqrt(nn > na ? nn : na);
        double rel = denom > 0 ? sqrt(dn) / denom : sqrt(dn);
        if (rel > res.max_rel_err || res.worst_input < 0) {
            res.max_rel_err = rel;
            res.worst_input = i;
        }
    }
    free(w);
    ssm_ctx_free(c);
    return res;
}
