/* S4: HiPPO-LegS and its NPLR form against the official s4.py (hippo_legs.h5),
 * compared through the eigenvector-phase-invariant products the README names. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include "golden.h"
#include "golden_layers.h"
#include "hippo.h"
#include "init.h"
#include "log.h"
#include "ops.h"
#include "layer.h"
#include "s4.h"
#include "testutil.h"

static ssm_tensor *from(const double *v, int ndim, const int64_t *shape) {
    ssm_tensor *t = ssm_tensor_new(SSM_F64, SSM_CPU, ndim, shape);
    ssm_tensor_from_host(t, v);
    return t;
}

static void expect(ssm_h5 *f, const char *path, const double *v, int ndim, const int64_t *shape,
                   double tol) {
    ssm_tensor *t = from(v, ndim, shape);
    golden_expect(f, path, t, tol);
    ssm_tensor_free(t);
}

START_TEST(hippo_legs_matches_official) {
    ssm_h5 *f = golden_open("hippo_legs.h5");
    int64_t N = (int64_t)golden_attr(f, "N"), N2 = N / 2;
    double B_clip = golden_attr(f, "B_clip");
    double *A = malloc(sizeof(double) * (size_t)(N * N)), *B = malloc(sizeof(double) * (size_t)N);
    double *P = malloc(sizeof(double) * (size_t)N);
    ssm_hippo_legs(N, A, B);
    ssm_hippo_legs_P(N, P);
    expect(f, "/outputs/A", A, SSM_DIMS(N, N), 1e-15);
    expect(f, "/outputs/B", B, SSM_DIMS(N, 1), 1e-15);
    expect(f, "/outputs/P_legs", P, SSM_DIMS(1, N), 1e-15);

    double *w = malloc(sizeof(double) * (size_t)(2 * N2)), *Pn = malloc(sizeof(double) * (size_t)(2 * N2));
    double *Bn = malloc(sizeof(double) * (size_t)(2 * N2)), *Bu = malloc(sizeof(double) * (size_t)(2 * N2));
    double *V = malloc(sizeof(double) * (size_t)(2 * N * N2));
    ck_assert_int_eq(ssm_nplr_legs(N, B_clip, w, Pn, Bn, V), 0);
    expect(f, "/outputs/w", w, SSM_DIMS(N2, 2), 1e-12);
    /* phase-invariant: V diag(w) V^*, |V|, P conj(B) without the clip */
    double *vwv = malloc(sizeof(double) * (size_t)(2 * N * N)), *absV = malloc(sizeof(double) * (size_t)(N * N2));
    for (int64_t r = 0; r < N; r++) {
        for (int64_t c = 0; c < N; c++) {
            double complex s = 0;
            for (int64_t j = 0; j < N2; j++) {
                double complex vr = V[2 * (r * N2 + j)] + I * V[2 * (r * N2 + j) + 1];
                double complex vc = V[2 * (c * N2 + j)] + I * V[2 * (c * N2 + j) + 1];
                s += vr * (w[2 * j] + I * w[2 * j + 1]) * conj(vc);
            }
            vwv[2 * (r * N + c)] = creal(s);
            vwv[2 * (r * N + c) + 1] = cimag(s);
        }
        for (int64_t j = 0; j < N2; j++) absV[r * N2 + j] = hypot(V[2 * (r * N2 + j)], V[2 * (r * N2 + j) + 1]);
    }
    expect(f, "/derived/V_w_Vh", vwv, SSM_DIMS(N, N, 2), 1e-12);
    expect(f, "/derived/abs_V", absV, SSM_DIMS(N, N2), 1e-12);
    ck_assert_int_eq(ssm_nplr_legs(N, 0, w, Pn, Bu, V), 0);
    double *pcb = malloc(sizeof(double) * (size_t)(2 * N2));
    for (int64_t j = 0; j < N2; j++) {
        double complex pb = (Pn[2 * j] + I * Pn[2 * j + 1]) * conj(Bu[2 * j] + I * Bu[2 * j + 1]);
        pcb[2 * j] = creal(pb);
        pcb[2 * j + 1] = cimag(pb);
    }
    expect(f, "/derived/P_conj_B_noclip", pcb, SSM_DIMS(N2, 2), 1e-12);
    /* the clip changes only imaginary parts beyond B_clip */
    for (int64_t j = 0; j < N2; j++) {
        ck_assert_double_eq_tol(Bn[2 * j], Bu[2 * j], 1e-15);
        ck_assert(fabs(Bn[2 * j + 1]) <= B_clip);
    }
    /* S4D inits in s4.py's sign (negative imaginary parts) */
    const char *names[3] = {"/outputs/s4d_lin_A", "/outputs/s4d_inv_A", "/outputs/s4d_real_A"};
    ssm_init_kind kinds[3] = {SSM_INIT_LIN, SSM_INIT_INV, SSM_INIT_REAL};
    double *re = malloc(sizeof(double) * (size_t)N2), *im = malloc(sizeof(double) * (size_t)N2);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(ssm_init_s4d_A(kinds[k], N, re, im), 0);
        for (int64_t j = 0; j < N2; j++) {
            pcb[2 * j] = re[j];
            pcb[2 * j + 1] = -im[j];
        }
        expect(f, names[k], pcb, SSM_DIMS(N2, 2), 1e-12);
    }
    free(A); free(B); free(P); free(w); free(Pn); free(Bn); free(Bu); free(V);
    free(vwv); free(absV); free(pcb); free(re); free(im);
    ssm_h5_close(f);
}
END_TEST

/* The official init (/init of s4_layer.h5): A_real, A_imag exactly; B and P up to each
 * mode's eigenvector phase (LAPACK picks it): rotate ours by P_file / P_ours, then B,
 * whose imaginary part is clipped after the rotation, must match too. */
START_TEST(s4_init_matches_official) {
    ssm_h5 *f = golden_open("s4_layer.h5");
    int64_t H = (int64_t)golden_attr(f, "H"), N = (int64_t)golden_attr(f, "N"), N2 = N / 2;
    ssm_s4_config cfg = ssm_s4_defaults(H, (int64_t)golden_attr(f, "l_max"));
    cfg.d_state = N;
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_s4 m;
    ssm_s4_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {3, 0};
    ck_assert_int_eq(ssm_s4_init(&m, &r), SSM_OK);
    golden_expect(f, "/init/layer.kernel.A_real", m.A_real, 1e-12);
    golden_expect(f, "/init/layer.kernel.A_imag", m.A_imag, 1e-12);
    ssm_tensor *Pf = golden_tensor(f, "/init/layer.kernel.P", SSM_F64, SSM_CPU);
    ssm_tensor *Bf = golden_tensor(f, "/init/layer.kernel.B", SSM_F64, SSM_CPU);
    double *w = malloc(sizeof(double) * (size_t)(8 * N2 + 2 * N * N2));
    double *P = w + 2 * N2, *Bu = P + 2 * N2, *V = Bu + 2 * N2;
    ck_assert_int_eq(ssm_nplr_legs(N, 0, w, P, Bu, V), 0); /* unclipped B */
    double clip = 2.0;
    for (int64_t h = 0; h < H; h++)
        for (int64_t n = 0; n < N2; n++) {
            const double *pf = (double *)Pf->data + 2 * (h * N2 + n), *bf = (double *)Bf->data + 2 * (h * N2 + n);
            double complex po = P[2 * n] + I * P[2 * n + 1];
            double complex rot = (pf[0] + I * pf[1]) / po;
            ck_assert_double_eq_tol(cabs(rot), 1.0, 1e-10);
            double complex b = rot * (Bu[2 * n] + I * Bu[2 * n + 1]);
            double im = cimag(b) < -clip ? -clip : cimag(b) > clip ? clip : cimag(b);
            ck_assert_double_eq_tol(creal(b), bf[0], 1e-10);
            ck_assert_double_eq_tol(im, bf[1], 1e-10);
            /* and our own init equals the rotation-free one (same LAPACK convention here) */
            ck_assert_double_eq_tol(ssm_tensor_get(m.P, 2 * (h * N2 + n)), P[2 * n], 1e-12);
        }
    free(w);
    ssm_tensor_free(Pf);
    ssm_tensor_free(Bf);
    ssm_params_free(ps);
    ssm_h5_close(f);
}
END_TEST

START_TEST(s4_fftconv_golden_f64) { golden_s4(0, SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(s4_fftconv_golden_f32) { golden_s4(0, SSM_F32, SSM_CPU, 1e-4); }
END_TEST
START_TEST(s4_layer_golden_f64) { golden_s4(1, SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(s4_layer_golden_f32) { golden_s4(1, SSM_F32, SSM_CPU, 1e-4); }
END_TEST

/* Bidirectional: the halves of the kernel are the unidirectional kernels of channels
 * C[0] and C[1] (separate modules sharing A, B, P, dt), and C~ is set up per channel. */
START_TEST(s4_bidirectional_kernel_halves) {
    int64_t H = 2, N = 8, L = 32;
    ssm_s4_config cfg = ssm_s4_defaults(H, L);
    cfg.d_state = N;
    cfg.bidirectional = 1;
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_s4 bi, uni;
    ssm_s4_declare(&bi, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {4, 0};
    ck_assert_int_eq(ssm_s4_init(&bi, &r), SSM_OK);
    ck_assert_int_eq(bi.C->shape[0], 2);
    cfg.bidirectional = 0;
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *K = ssm_s4_kernel(c, &bi, L);
    ck_assert_int_eq(K->shape[1], 2 * L);
    for (int i = 0; i < 2; i++) {
        ssm_params *pu = ssm_params_new(SSM_F64, SSM_CPU);
        ssm_s4_declare(&uni, &cfg, pu, "");
        ssm_params_finalize(pu);
        ssm_tensor *src[] = {bi.inv_dt, bi.A_real, bi.A_imag, bi.B, bi.P};
        ssm_tensor *dst[] = {uni.inv_dt, uni.A_real, uni.A_imag, uni.B, uni.P};
        for (int j = 0; j < 5; j++) ssm_tensor_copy(dst[j], src[j]);
        ssm_tensor_copy(uni.C, ssm_slice(c, bi.C, 0, i, 1));
        ck_assert_double_lt(tu_rel_err(ssm_slice(c, K, 1, i * L, L), ssm_s4_kernel(c, &uni, L)),
                            1e-14);
        ssm_params_free(pu);
    }
    ssm_ctx_free(c);
    ssm_params_free(ps);
}
END_TEST

/* f32 step mode (the dense bilinear recurrence on the host) equals the f32 convolutional
 * forward to 1e-5 on a random layer longer than the golden file's. */
START_TEST(s4_step_equals_parallel_f32) {
    int64_t B = 2, H = 4, N = 16, L = 200;
    ssm_s4_config cfg = ssm_s4_defaults(H, L);
    cfg.d_state = N;
    ssm_params *ps = ssm_params_new(SSM_F32, SSM_CPU);
    ssm_s4 m;
    ssm_s4_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {12, 0};
    ck_assert_int_eq(ssm_s4_init(&m, &r), SSM_OK);
    ssm_tensor *x = tu_randn(SSM_F32, SSM_DIMS(B, L, H), 13, 1.0);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *y = ssm_tensor_to(NULL, ssm_s4_forward(c, &m, x), SSM_CPU);
    ssm_ctx_reset(c);
    ssm_tensor *ys = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(B, L, H));
    ssm_s4_state *st = ssm_s4_state_alloc(&m, B);
    tu_run_steps(c, ssm_layer_ops_for("s4")->step, &m, st, x, 0, ys);
    ssm_no_grad_end(c, saved);
    double e = tu_rel_err(ys, y);
    ck_assert_msg(e < 1e-5, "s4 f32 step vs parallel: relative error %.3g", e);
    ssm_s4_state_free(st);
    ssm_ctx_free(c);
    ssm_tensor_free(x);
    ssm_tensor_free(y);
    ssm_tensor_free(ys);
    ssm_params_free(ps);
}
END_TEST

int main(void) {
    Suite *s = suite_create("s4");
    TCase *t = tcase_create("s4");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, hippo_legs_matches_official);
    tcase_add_test(t, s4_init_matches_official);
    tcase_add_test(t, s4_bidirectional_kernel_halves);
    tcase_add_test(t, s4_step_equals_parallel_f32);
    tcase_add_test(t, s4_fftconv_golden_f64);
    tcase_add_test(t, s4_fftconv_golden_f32);
    tcase_add_test(t, s4_layer_golden_f64);
    tcase_add_test(t, s4_layer_golden_f32);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
