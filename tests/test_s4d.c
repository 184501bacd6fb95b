/* S4D: golden outputs and gradients of the official s4d.py (f64 < 1e-8, f32 < 1e-4),
 * the official initialisation, Δ statistics, and step mode == parallel mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "golden.h"
#include "golden_layers.h"
#include "ops.h"
#include "layer.h"
#include "s4d.h"
#include "testutil.h"

START_TEST(s4d_kernel_golden_f64) { golden_s4d_kernel(SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(s4d_kernel_golden_f32) { golden_s4d_kernel(SSM_F32, SSM_CPU, 1e-4); }
END_TEST
START_TEST(s4d_layer_golden_f64) { golden_s4d_layer(SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(s4d_layer_golden_f32) { golden_s4d_layer(SSM_F32, SSM_CPU, 1e-4); }
END_TEST

/* The deterministic part of the official init (/init: S4D-Lin A) and the
 * shapes/statistics of the random part. */
START_TEST(s4d_init_matches_official) {
    ssm_h5 *f = golden_open("s4d_layer.h5");
    ssm_s4d_config cfg = ssm_s4d_defaults((int64_t)golden_attr(f, "H"));
    cfg.d_state = (int64_t)golden_attr(f, "N");
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_s4d m;
    ssm_s4d_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {1, 0};
    ssm_s4d_init(&m, &r);
    golden_expect(f, "/init/kernel.log_A_real", m.log_A_real, 1e-15);
    golden_expect(f, "/init/kernel.A_imag", m.A_imag, 1e-15);
    for (int64_t h = 0; h < cfg.d_model; h++) {
        double ld = ssm_tensor_get(m.log_dt, h);
        ck_assert(ld >= log(cfg.dt_min) && ld <= log(cfg.dt_max));
    }
    ssm_params_free(ps);
    ssm_h5_close(f);
}
END_TEST

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* log Δ over 10 000 draws passes a Kolmogorov-Smirnov test against U[log dt_min,
 * log dt_max] at the 1% level (critical value 1.628 / sqrt(n)); every Δ in range. */
START_TEST(dt_init_log_uniform_ks) {
    int64_t n = 10000;
    double lo = log(1e-3), hi = log(1e-1), *v = malloc(sizeof(double) * (size_t)n);
    ssm_rng r = {2024, 0};
    ssm_init_log_dt(&r, v, n, 1e-3, 1e-1);
    qsort(v, (size_t)n, sizeof *v, cmp);
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert(v[i] >= lo && v[i] <= hi);
        double F = (v[i] - lo) / (hi - lo);
        d = fmax(d, fmax(fabs(F - (double)i / n), fabs((double)(i + 1) / n - F)));
    }
    ck_assert_double_lt(d, 1.628 / sqrt((double)n));
    /* and it is not trivially passing: a shifted range fails */
    double d2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double F = (v[i] - lo) / (hi - lo + 0.2);
        d2 = fmax(d2, fabs(F - (double)i / n));
    }
    ck_assert_double_gt(d2, 1.628 / sqrt((double)n));
    free(v);
}
END_TEST

/* Feeding the sequence token by token gives the convolutional output. */
static void step_equals_parallel(ssm_dtype dt, int disc, ssm_init_kind init, double tol) {
    int64_t B = 2, H = 5, L = 150;
    ssm_s4d_config cfg = ssm_s4d_defaults(H);
    cfg.d_state = 16;
    cfg.disc = disc;
    cfg.init = init;
    ssm_params *ps = ssm_params_new(dt, SSM_CPU);
    ssm_s4d m;
    ssm_s4d_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {7, 0};
    ssm_s4d_init(&m, &r);
    ssm_tensor *x = tu_randn(dt, SSM_DIMS(B, L, H), 3, 1.0);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *y = ssm_s4d_forward(c, &m, x);
    ssm_tensor *ys = ssm_tensor_like(c->arena, y);
    ssm_s4d_state *st = ssm_s4d_state_alloc(&m, B);
    tu_run_steps(c, ssm_layer_ops_for("s4d")->step, &m, st, x, 0, ys);
    double e = tu_rel_err(ys, y);
    ck_assert_msg(e < tol, "step vs parallel (disc %d, init %d): relative error %.3g", disc,
                  (int)init, e);
    ssm_no_grad_end(c, saved);
    ssm_s4d_state_free(st);
    ssm_ctx_free(c);
    ssm_tensor_free(x);
    ssm_params_free(ps);
}

START_TEST(s4d_step_equals_parallel) {
    for (int disc = 0; disc < 2; disc++) {
        step_equals_parallel(SSM_F64, disc, SSM_INIT_LIN, 1e-10);
        step_equals_parallel(SSM_F64, disc, SSM_INIT_INV, 1e-10);
        step_equals_parallel(SSM_F64, disc, SSM_INIT_REAL, 1e-10);
        step_equals_parallel(SSM_F32, disc, SSM_INIT_LIN, 1e-5);
    }
}
END_TEST

/* Bidirectional: the two halves of the kernel are the unidirectional kernels of C[0]
 * and C[1] with the same A and dt (an independent path: separate modules). */
START_TEST(s4d_bidirectional_kernel_halves) {
    int64_t H = 3, N = 8, L = 40;
    ssm_s4d_config cfg = ssm_s4d_defaults(H);
    cfg.d_state = N;
    cfg.bidirectional = 1;
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_s4d bi, uni[2];
    ssm_s4d_declare(&bi, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {9, 0};
    ssm_s4d_init(&bi, &r);
    cfg.bidirectional = 0;
    ssm_params *pu[2];
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *K = ssm_s4d_kernel(c, &bi, L);
    ck_assert_int_eq(K->shape[1], 2 * L);
    for (int i = 0; i < 2; i++) {
        pu[i] = ssm_params_new(SSM_F64, SSM_CPU);
        ssm_s4d_declare(&uni[i], &cfg, pu[i], "");
        ssm_params_finalize(pu[i]);
        ssm_tensor_copy(uni[i].log_dt, bi.log_dt);
        ssm_tensor_copy(uni[i].log_A_real, bi.log_A_real);
        ssm_tensor_copy(uni[i].A_imag, bi.A_imag);
        ssm_tensor_copy(uni[i].C, ssm_slice(c, bi.C, 0, i, 1));
        ssm_tensor *Ki = ssm_s4d_kernel(c, &uni[i], L);
        ck_assert_double_lt(tu_rel_err(ssm_slice(c, K, 1, i * L, L), Ki), 1e-15);
        ssm_params_free(pu[i]);
    }
    ssm_ctx_free(c);
    ssm_params_free(ps);
}
END_TEST

/* f32 against f64 at a layer's size (B 4, H 64, N 64, L 1024), S4D-Lin with ZOH, both
 * from the same (f32) parameters: the accuracy that CPU/CUDA agreement rests on. The
 * gradient of log_dt is the sensitive one: one ulp of dt moves it by 2e-5 (dt A l
 * reaches 100 rad), and f32's rounding of dt alone leaves it 1e-5 from f64. */
START_TEST(s4d_f32_large_matches_f64) {
    int64_t B = 4, H = 64, N = 64, L = 1024;
    ssm_layer_config cfg = {.d_model = H, .d_state = N, .dt_min = 1e-3, .dt_max = 1e-1,
                            .init = SSM_INIT_LIN, .disc = 0, .l_max = L};
    ssm_tensor *xc = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 7, 1.0);
    ssm_tensor *dyc = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 8, 1.0);
    tu_layer_run f, d; /* f32, and f64 from the f32 parameters */
    tu_layer_run_fwdbwd(&f, "s4d", &cfg, SSM_F32, SSM_CPU, 5, NULL, xc, dyc);
    tu_layer_run_fwdbwd(&d, "s4d", &cfg, SSM_F64, SSM_CPU, 5, f.ps, xc, dyc);
    double e = tu_rel_err(f.y, d.y), ex = tu_rel_err(f.x->grad, d.x->grad);
    printf("s4d L=1024: output f32/f64 %.2e, input gradient %.2e\n", e, ex);
    ck_assert_msg(e < 4e-6, "output: f32/f64 %.3g", e);
    ck_assert_msg(ex < 4e-6, "input gradient: f32/f64 %.3g", ex);
    for (int i = 0; i < f.ps->n; i++) {
        e = tu_rel_err(f.ps->p[i]->grad, d.ps->p[i]->grad);
        printf("s4d L=1024: gradient of %s: f32/f64 %.2e\n", f.ps->p[i]->name, e);
        ck_assert_msg(e < 1.5e-5, "gradient of %s: f32/f64 %.3g", f.ps->p[i]->name, e);
    }
    tu_layer_run_free(&f);
    tu_layer_run_free(&d);
    ssm_tensor_free(xc);
    ssm_tensor_free(dyc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("s4d");
    TCase *t = tcase_create("s4d");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, s4d_kernel_golden_f64);
    tcase_add_test(t, s4d_kernel_golden_f32);
    tcase_add_test(t, s4d_layer_golden_f64);
    tcase_add_test(t, s4d_layer_golden_f32);
    tcase_add_test(t, s4d_init_matches_official);
    tcase_add_test(t, dt_init_log_uniform_ks);
    tcase_add_test(t, s4d_step_equals_parallel);
    tcase_add_test(t, s4d_bidirectional_kernel_halves);
    tcase_add_test(t, s4d_f32_large_matches_f64);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
