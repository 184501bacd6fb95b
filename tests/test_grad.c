/* Every differentiable op (tests/opcases.c) against central finite differences
 * in f64: relative error < 1e-6, at N = 1, 3 and 70. */
#include "opcases.h"
#include "ops.h"
#include "testutil.h"

#define TOL 1e-6
#define EPS 1e-6

static void check_case(const op_case *oc, int64_t n) {
    ssm_tensor *in[5];
    for (int i = 0; i < oc->n_in; i++) in[i] = opc_input_new(oc, i, SSM_F64, n, 100 + (uint64_t)i);
    int user = oc->user;
    ssm_gradcheck_result r = ssm_gradcheck(oc->fn, in, oc->n_in, &user, EPS);
    ck_assert_msg(r.worst_input >= 0, "%s: nothing was checked", oc->name);
    ck_assert_msg(r.max_rel_err < TOL, "%s (N=%lld): relative error %.3g in input %d", oc->name,
                  (long long)n, r.max_rel_err, r.worst_input);
    for (int i = 0; i < oc->n_in; i++) ssm_tensor_free(in[i]);
}

START_TEST(grad_op) {
    check_case(&opc_cases[_i], 3);
    check_case(&opc_cases[_i], 1);
    check_case(&opc_cases[_i], 70); /* past blocked loops (Vandermonde powers: 64) */
}
END_TEST

/* The check must catch a wrong rule: d(x^2)/dx reported as 2 instead of 2x. */
static void wrong_bw(ssm_ctx *c, ssm_node *n) {
    ssm_kernels_for(SSM_CPU)->scale(SSM_F64, n->out->grad->data, ssm_grad(c, n->in[0])->data,
                                    n->out->numel, 2.0, 1);
}
static ssm_tensor *f_wrong(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    ssm_tensor *y = ssm_tensor_like(c->arena, in[0]);
    for (int64_t i = 0; i < y->numel; i++)
        ((double *)y->data)[i] = ((double *)in[0]->data)[i] * ((double *)in[0]->data)[i];
    if (ssm_needs_grad(c, in, 1)) ssm_record(c, "wrong", wrong_bw, y, in, 1);
    return y;
}
START_TEST(gradcheck_catches_wrong_rule) {
    ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(5), 1, 1.0);
    ssm_requires_grad(x);
    ssm_gradcheck_result r = ssm_gradcheck(f_wrong, &x, 1, NULL, EPS);
    ck_assert_double_gt(r.max_rel_err, 0.1);
    ssm_tensor_free(x);
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad");
    TCase *t = tcase_create("f64 finite differences");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, grad_op, 0, opc_n_cases);
    tcase_add_test(t, gradcheck_catches_wrong_rule);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
