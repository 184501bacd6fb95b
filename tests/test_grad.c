/* Every differentiable op (tests/opcases.c) against central finite differences
 * in f64: relative error < 1e-6, at N = 1, 3 and 70. */
#include <string.h>
#include "opcases.h"
#include "profile.h"
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

/* ReLU's values, and torch's convention at the kink: gradient 0 at x = 0 (the finite
 * differences of grad_op never land there). */
START_TEST(relu_values) {
    double xs[5] = {-2.5, -1e-300, 0.0, 1e-300, 3.25}, want[5] = {0, 0, 0, 1e-300, 3.25};
    double dwant[5] = {0, 0, 0, 1, 1}, got[5], dgot[5];
    ssm_tensor *x = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(5));
    memcpy(x->data, xs, sizeof xs);
    ssm_requires_grad(x);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *y = ssm_relu(c, x);
    ssm_tensor_to_host(y, got);
    ssm_backward(c, ssm_sum_all(c, y));
    ssm_tensor_to_host(x->grad, dgot);
    for (int i = 0; i < 5; i++) {
        ck_assert_double_eq(got[i], want[i]);
        ck_assert_double_eq(dgot[i], dwant[i]);
    }
    ssm_ctx_free(c);
    ssm_tensor_free(x);
}
END_TEST

/* The per-op profile charges each recorded op once forward and once backward, by name,
 * and leaves the results of the step unchanged. */
/* The fused dropout + residual add gives ssm_add(ssm_dropout(x), r)'s output and
 * gradients bit for bit (f32, the training dtype), and is a plain add in evaluation. */
START_TEST(dropout_add_is_dropout_then_add) {
    int64_t n = 5000;
    ssm_tensor *out[2], *gx[2], *gr[2];
    for (int fused = 0; fused < 2; fused++) {
        ssm_tensor *x = tu_rand(SSM_F32, 1, &n, 3, -1, 1), *r = tu_rand(SSM_F32, 1, &n, 4, -1, 1);
        ssm_tensor *dy = tu_rand(SSM_F32, 1, &n, 5, -1, 1);
        ssm_requires_grad(x);
        ssm_requires_grad(r);
        ssm_ctx *c = ssm_ctx_new(11);
        ssm_tensor *y = fused ? ssm_dropout_add(c, x, 0.25, r)
                              : ssm_add(c, ssm_dropout(c, x, 0.25), r);
        out[fused] = ssm_tensor_to(NULL, y, SSM_CPU);
        ssm_backward_with(c, y, dy);
        gx[fused] = ssm_tensor_to(NULL, x->grad, SSM_CPU);
        gr[fused] = ssm_tensor_to(NULL, r->grad, SSM_CPU);
        c->training = 0;
        ssm_tensor *e = ssm_dropout_add(c, x, 0.25, r);
        for (int64_t i = 0; i < n; i++)
            ck_assert(((float *)e->data)[i] == ((float *)x->data)[i] + ((float *)r->data)[i]);
        ssm_ctx_free(c);
        ssm_tensor_free(dy);
        ssm_tensor_free(x);
        ssm_tensor_free(r);
    }
    size_t bytes = (size_t)n * sizeof(float);
    ck_assert(!memcmp(out[0]->data, out[1]->data, bytes));
    ck_assert(!memcmp(gx[0]->data, gx[1]->data, bytes));
    ck_assert(!memcmp(gr[0]->data, gr[1]->data, bytes));
    int dropped = 0;
    for (int64_t i = 0; i < n; i++) dropped += ((float *)gx[1]->data)[i] == 0.0f;
    ck_assert_msg(dropped > n / 5 && dropped < n / 3, "%d of %lld dropped at p = 0.25", dropped,
                  (long long)n);
    for (int i = 0; i < 2; i++) {
        ssm_tensor_free(out[i]);
        ssm_tensor_free(gx[i]);
        ssm_tensor_free(gr[i]);
    }
}
END_TEST

START_TEST(profile_counts_ops) {
    ssm_tensor *a = tu_randn(SSM_F64, SSM_DIMS(3, 4), 2, 1.0), *b = tu_randn(SSM_F64, SSM_DIMS(4, 5), 3, 1.0);
    ssm_requires_grad(a);
    double grads[2][12];
    for (int run = 0; run < 2; run++) {
        ssm_ctx *c = ssm_ctx_new(0);
        ssm_profile p;
        if (run) ssm_profile_attach(c, &p, SSM_CPU);
        ssm_tensor *y = ssm_sum_all(c, ssm_exp(c, ssm_exp(c, ssm_matmul(c, a, b))));
        ssm_tensor_zero(a->grad);
        ssm_backward(c, y);
        ssm_tensor_to_host(a->grad, grads[run]);
        if (run) {
            ssm_profile_attach(c, NULL, SSM_CPU);
            ck_assert_int_eq(p.n, 4); /* sum_all is a reshape and a sum */
            const char *ops[4] = {"matmul", "exp", "reshape", "sum"};
            const int64_t calls[4] = {1, 2, 1, 1};
            for (int i = 0; i < 4; i++) {
                int j = 0;
                while (j < p.n && strcmp(p.e[j].op, ops[i])) j++;
                ck_assert_msg(j < p.n, "no entry for %s", ops[i]);
                ck_assert_int_eq(p.e[j].fwd_calls, calls[i]);
                ck_assert_int_eq(p.e[j].bwd_calls, calls[i]);
                ck_assert(p.e[j].fwd_ms >= 0 && p.e[j].bwd_ms >= 0);
            }
            ck_assert_ptr_null(c->profile);
        }
        ssm_ctx_free(c);
    }
    for (int i = 0; i < 12; i++) ck_assert_double_eq(grads[0][i], grads[1][i]);
    ssm_tensor_free(a);
    ssm_tensor_free(b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad");
    TCase *t = tcase_create("f64 finite differences");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, grad_op, 0, opc_n_cases);
    tcase_add_test(t, gradcheck_catches_wrong_rule);
    tcase_add_test(t, relu_values);
    tcase_add_test(t, profile_counts_ops);
    tcase_add_test(t, dropout_add_is_dropout_then_add);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
