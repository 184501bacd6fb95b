/* S5: golden outputs and gradients of the official S5SSM (f64 < 1e-8, f32 < 1e-4),
 * parallel mode == step mode == a dense complex recurrence written here, the
 * HiPPO-N block-diagonal initialisation (structure and statistics), the C_init options,
 * clip_eigs, L = 1, and
 * f64 gradient checks of the SSM and of the layer (every activation) through
 * the layer registry. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "golden.h"
#include "golden_layers.h"
#include "gradcheck.h"
#include "hippo.h"
#include "layer.h"
#include "log.h"
#include "ops.h"
#include "s5.h"
#include "testutil.h"

START_TEST(s5_zoh_golden_f64) { golden_s5("s5_zoh.h5", SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(s5_zoh_golden_f32) { golden_s5("s5_zoh.h5", SSM_F32, SSM_CPU, 1e-4); }
END_TEST
START_TEST(s5_bilinear_bidir_golden_f64) { golden_s5("s5_bilinear_bidir.h5", SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(s5_bilinear_bidir_golden_f32) { golden_s5("s5_bilinear_bidir.h5", SSM_F32, SSM_CPU, 1e-4); }
END_TEST

/* An initialised S5 SSM; Λ gets 0.1 N(0, 1) on top of the init so that no two modes
 * are equal (the init repeats the same modes on every block). */
static ssm_params *make_s5(ssm_s5 *m, ssm_dtype dt, int64_t H, int64_t P, int64_t blocks,
                           int disc, int bidir, uint64_t seed) {
    ssm_s5_config cfg = ssm_s5_defaults(H);
    cfg.d_state = P;
    cfg.blocks = blocks;
    cfg.disc = disc;
    cfg.bidirectional = bidir;
    ssm_params *ps = ssm_params_new(dt, SSM_CPU);
    ssm_s5_declare(m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {seed, 0};
    ck_assert_int_eq(ssm_s5_init(m, &r), SSM_OK);
    int64_t P2 = P / 2;
    double *v = malloc(sizeof(double) * (size_t)(2 * P2)), *e = v + P2;
    ssm_tensor *lam[2] = {m->Lambda_re, m->Lambda_im};
    for (int k = 0; k < 2; k++) {
        ssm_rng_normal(&r, e, P2, 0.0, 0.1);
        for (int64_t p = 0; p < P2; p++) v[p] = ssm_tensor_get(lam[k], p) + e[p];
        ssm_tensor_from_f64(lam[k], v);
    }
    free(v);
    return ps;
}

static double complex cpar(const ssm_tensor *t, int64_t i) {
    return ssm_tensor_get(t, 2 * i) + I * ssm_tensor_get(t, 2 * i + 1);
}

/* The S5 SSM written out: complex double recurrence from the parameters (any dtype).
 * u, y [B, L, H] row-major doubles. */
static void dense_s5(const ssm_s5 *m, const double *u, int64_t B, int64_t L, double *y) {
    int64_t H = m->cfg.d_model, P2 = m->cfg.d_state / 2;
    double complex *lb = malloc(sizeof(double complex) * (size_t)(P2 * (H + 1) + P2));
    double complex *Bb = lb + P2, *x = Bb + P2 * H;
    for (int64_t p = 0; p < P2; p++) {
        double complex lam = ssm_tensor_get(m->Lambda_re, p) + I * ssm_tensor_get(m->Lambda_im, p);
        double d = exp(ssm_tensor_get(m->log_step, p));
        double complex coef;
        if (m->cfg.disc == 0) {
            lb[p] = cexp(lam * d);
            coef = (lb[p] - 1) / lam;
        } else {
            lb[p] = (1 + d * lam / 2) / (1 - d * lam / 2);
            coef = d / (1 - d * lam / 2);
        }
        for (int64_t h = 0; h < H; h++) Bb[p * H + h] = coef * cpar(m->B, p * H + h);
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t l = 0; l < L; l++)
            for (int64_t h = 0; h < H; h++)
                y[(b * L + l) * H + h] = ssm_tensor_get(m->D, h) * u[(b * L + l) * H + h];
        for (int dir = 0; dir < (m->cfg.bidirectional ? 2 : 1); dir++) {
            const ssm_tensor *C = dir ? m->C2 : m->C;
            for (int64_t p = 0; p < P2; p++) x[p] = 0;
            for (int64_t s = 0; s < L; s++) {
                int64_t l = dir ? L - 1 - s : s;
                const double *ul = u + (b * L + l) * H;
                for (int64_t p = 0; p < P2; p++) {
                    double complex acc = 0;
                    for (int64_t h = 0; h < H; h++) acc += Bb[p * H + h] * ul[h];
                    x[p] = lb[p] * x[p] + acc;
                }
                for (int64_t h = 0; h < H; h++) {
                    double acc = 0;
                    for (int64_t p = 0; p < P2; p++) acc += 2 * creal(cpar(C, h * P2 + p) * x[p]);
                    y[(b * L + l) * H + h] += acc;
                }
            }
        }
    }
    free(lb);
}

static double rel_err(const double *a, const double *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static void to_f64(const ssm_tensor *t, double *v) {
    for (int64_t i = 0; i < t->numel; i++) v[i] = ssm_tensor_get(t, i);
}

/* parallel == dense recurrence, and (unidirectional) step == parallel */
static void parallel_step_dense(ssm_dtype dt, int64_t B, int64_t L, int disc, int bidir,
                                int64_t blocks, double tol) {
    int64_t H = 5, P = 16;
    ssm_s5 m;
    ssm_params *ps = make_s5(&m, dt, H, P, blocks, disc, bidir, 7);
    ssm_tensor *u = tu_randn(dt, SSM_DIMS(B, L, H), 3, 1.0);
    double *ud = malloc(sizeof(double) * (size_t)(3 * B * L * H)), *yd = ud + B * L * H,
           *yp = yd + B * L * H;
    to_f64(u, ud);
    dense_s5(&m, ud, B, L, yd);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    to_f64(ssm_s5_forward(c, &m, u), yp);
    double e = rel_err(yp, yd, B * L * H);
    ck_assert_msg(e < tol, "parallel vs dense (%s, L %lld, disc %d, bidir %d): %.3g",
                  ssm_dtype_name(dt), (long long)L, disc, bidir, e);
    if (!bidir) {
        ssm_s5_state *st = ssm_s5_state_alloc(&m, B);
        ck_assert(st != NULL);
        double *ys = malloc(sizeof(double) * (size_t)(B * L * H));
        for (int64_t t = 0; t < L; t++) {
            ssm_tensor *ut = ssm_reshape(c, ssm_slice(c, u, 1, t, 1), SSM_DIMS(B, H));
            ssm_tensor *yt = ssm_s5_step(c, &m, st, ut);
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < H; h++)
                    ys[(b * L + t) * H + h] = ssm_tensor_get(yt, b * H + h);
        }
        e = rel_err(ys, yp, B * L * H);
        ck_assert_msg(e < tol, "step vs parallel (%s, L %lld, disc %d): %.3g", ssm_dtype_name(dt),
                      (long long)L, disc, e);
        free(ys);
        ssm_s5_state_free(st);
    } else {
        ck_assert(ssm_s5_state_alloc(&m, B) == NULL); /* no step mode when bidirectional */
    }
    ssm_no_grad_end(c, saved);
    ssm_ctx_free(c);
    free(ud);
    ssm_tensor_free(u);
    ssm_params_free(ps);
}

START_TEST(s5_parallel_step_dense) {
    for (int disc = 0; disc < 2; disc++) {
        parallel_step_dense(SSM_F64, 2, 150, disc, 0, 2, 1e-12);
        parallel_step_dense(SSM_F64, 2, 150, disc, 1, 1, 1e-12);
        parallel_step_dense(SSM_F32, 2, 150, disc, 0, 4, 1e-5);
        parallel_step_dense(SSM_F32, 2, 150, disc, 1, 2, 1e-5);
    }
}
END_TEST

/* L = 1: one step, both directions see the same single token */
START_TEST(s5_length_one) {
    for (int disc = 0; disc < 2; disc++)
        for (int bidir = 0; bidir < 2; bidir++) parallel_step_dense(SSM_F64, 3, 1, disc, bidir, 2, 1e-13);
}
END_TEST

/* The HiPPO-N modes: V has orthonormal columns, 2 Re(V diag(Λ) V*) is the block-diagonal
 * normal part S = A + P Pᵀ of HiPPO-LegS (conjugate symmetry: the dropped half is the
 * conjugate of the kept one), Re Λ = -1/2, Im Λ < 0, the same on every block. */
START_TEST(s5_hippo_n_structure) {
    static const int64_t cases[][2] = {{8, 1}, {8, 2}, {64, 4}, {12, 3}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int64_t P = cases[t][0], J = cases[t][1], P2 = P / 2, bs = P / J, bs2 = bs / 2;
        double *lam = malloc(sizeof(double) * (size_t)(2 * P2));
        double complex *V = malloc(sizeof(double complex) * (size_t)(P * P2));
        ck_assert_int_eq(ssm_s5_hippo_n(P, J, lam, (double *)V), SSM_OK);
        double *A = malloc(sizeof(double) * (size_t)(bs * bs + 2 * bs)), *Bl = A + bs * bs, *Pl = Bl + bs;
        ssm_hippo_legs(bs, A, Bl);
        ssm_hippo_legs_P(bs, Pl);
        for (int64_t p = 0; p < P2; p++) {
            ck_assert_double_eq_tol(lam[2 * p], -0.5, 1e-12);
            ck_assert(lam[2 * p + 1] < 0);
            ck_assert_double_eq_tol(lam[2 * p + 1], lam[2 * (p % bs2) + 1], 1e-12);
        }
        double err = 0;
        for (int64_t i = 0; i < P; i++)
            for (int64_t k = 0; k < P; k++) {
                double complex s = 0;
                for (int64_t p = 0; p < P2; p++)
                    s += V[i * P2 + p] * (lam[2 * p] + I * lam[2 * p + 1]) * conj(V[k * P2 + p]);
                double want = 0;
                if (i / bs == k / bs) {
                    int64_t r = i % bs, q = k % bs;
                    want = A[r * bs + q] + Pl[r] * Pl[q];
                }
                err = fmax(err, fabs(2 * creal(s) - want));
            }
        ck_assert_msg(err < 1e-10 * (double)bs, "P %lld J %lld: 2 Re(V Λ V*) - S = %.3g",
                      (long long)P, (long long)J, err);
        for (int64_t p = 0; p < P2; p++)
            for (int64_t q = 0; q < P2; q++) {
                double complex s = 0;
                for (int64_t i = 0; i < P; i++) s += conj(V[i * P2 + p]) * V[i * P2 + q];
                ck_assert(cabs(s - (p == q)) < 1e-12);
            }
        free(lam);
        free(V);
        free(A);
    }
}
END_TEST

/* The initialised parameters: Λ from HiPPO-N; B~ = V* B with B real lecun_normal
 * (recovered as 2 Re(V B~): conjugate symmetry), so |B| <= 2 std and std = 1/sqrt(P);
 * E|C~|^2 = 2/P (C~ = C V, C complex, each part of variance 1/P); D ~ N(0, 1);
 * Δ = exp(log_step) within [dt_min, dt_max] with log Δ spread over the whole range. */
START_TEST(s5_init_statistics) {
    int64_t H = 256, P = 32, J = 2, P2 = P / 2;
    ssm_s5_config cfg = ssm_s5_defaults(H);
    cfg.d_state = P;
    cfg.blocks = J;
    cfg.dt_min = 2e-3;
    cfg.dt_max = 5e-2;
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_s5 m;
    ssm_s5_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ck_assert_str_eq(m.Lambda_re->name, "Lambda_re");
    ck_assert_int_eq(m.Lambda_re->group, SSM_GROUP_SSM);
    ck_assert_int_eq(m.Lambda_im->group, SSM_GROUP_SSM);
    ck_assert_int_eq(m.B->group, SSM_GROUP_SSM);
    ck_assert_int_eq(m.log_step->group, SSM_GROUP_SSM);
    ck_assert_int_eq(m.C->group, SSM_GROUP_DEFAULT);
    ck_assert_int_eq(m.D->group, SSM_GROUP_DEFAULT);
    ssm_rng r = {99, 0};
    ck_assert_int_eq(ssm_s5_init(&m, &r), SSM_OK);
    double *lam = malloc(sizeof(double) * (size_t)(2 * P2));
    double complex *V = malloc(sizeof(double complex) * (size_t)(P * P2));
    ck_assert_int_eq(ssm_s5_hippo_n(P, J, lam, (double *)V), SSM_OK);
    for (int64_t p = 0; p < P2; p++) {
        ck_assert_double_eq_tol(ssm_tensor_get(m.Lambda_re, p), lam[2 * p], 1e-15);
        ck_assert_double_eq_tol(ssm_tensor_get(m.Lambda_im, p), lam[2 * p + 1], 1e-15);
    }
    /* B = 2 Re(V B~) is real lecun_normal */
    double std = 1 / sqrt((double)P), s2 = 0, mx = 0;
    for (int64_t i = 0; i < P; i++)
        for (int64_t h = 0; h < H; h++) {
            double complex s = 0;
            for (int64_t p = 0; p < P2; p++) s += V[i * P2 + p] * cpar(m.B, p * H + h);
            double b = 2 * creal(s);
            s2 += b * b;
            mx = fmax(mx, fabs(b));
        }
    ck_assert_double_le(mx, 2 * std / 0.87962566103423978 + 1e-12);
    ck_assert_double_eq_tol(sqrt(s2 / (double)(P * H)), std, 0.05 * std);
    /* mean |B~|^2 = 1/P, mean |C~|^2 = 2/P */
    double b2 = 0, c2 = 0;
    for (int64_t i = 0; i < P2 * H; i++) {
        b2 += pow(cabs(cpar(m.B, i)), 2);
        c2 += pow(cabs(cpar(m.C, i)), 2);
    }
    ck_assert_double_eq_tol(b2 / (double)(P2 * H), 1.0 / P, 0.1 / P);
    ck_assert_double_eq_tol(c2 / (double)(P2 * H), 2.0 / P, 0.2 / P);
    double dm = 0, dv = 0;
    for (int64_t h = 0; h < H; h++) dm += ssm_tensor_get(m.D, h) / (double)H;
    for (int64_t h = 0; h < H; h++) dv += pow(ssm_tensor_get(m.D, h) - dm, 2) / (double)(H - 1);
    ck_assert_double_lt(fabs(dm), 0.25);
    ck_assert_double_eq_tol(dv, 1.0, 0.25);
    double lo = log(cfg.dt_min), hi = log(cfg.dt_max), mn = hi, mxl = lo;
    ck_assert_int_eq(m.log_step->ndim, 2);
    ck_assert_int_eq(m.log_step->shape[1], 1);
    for (int64_t p = 0; p < P2; p++) {
        double ls = ssm_tensor_get(m.log_step, p);
        ck_assert(ls >= lo && ls <= hi);
        mn = fmin(mn, ls);
        mxl = fmax(mxl, ls);
    }
    ck_assert_double_gt(mxl - mn, 0.5 * (hi - lo)); /* per-mode draws, not one value */
    free(lam);
    free(V);
    ssm_params_free(ps);
}
END_TEST

/* An S5 SSM of f64 parameters, initialised from `seed` (ps returned for freeing). */
static ssm_params *s5_with(ssm_s5 *m, const ssm_s5_config *cfg, uint64_t seed) {
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_s5_declare(m, cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {seed, 0};
    ck_assert_int_eq(ssm_s5_init(m, &r), SSM_OK);
    return ps;
}

/* C_init: mean |C~|^2 = 2 s^2 with s = 1/sqrt(P) (trunc_standard_normal), 1/sqrt(P H)
 * (lecun_normal) or sqrt(1/2) (complex_normal), for both C1 and C2. */
START_TEST(s5_c_init_options) {
    int64_t H = 64, P = 16, P2 = P / 2;
    const double var[] = {1.0 / (double)P, 1.0 / (double)(P * H), 0.5};
    for (int k = 0; k < 3; k++) {
        ssm_s5_config cfg = ssm_s5_defaults(H);
        cfg.d_state = P;
        cfg.blocks = 2;
        cfg.bidirectional = 1;
        cfg.c_init = (ssm_s5_c_init)k;
        ssm_s5 m;
        ssm_params *ps = s5_with(&m, &cfg, 7);
        ssm_tensor *Cs[2] = {m.C, m.C2};
        for (int j = 0; j < 2; j++) {
            double c2 = 0;
            for (int64_t i = 0; i < P2 * H; i++) c2 += pow(cabs(cpar(Cs[j], i)), 2);
            c2 /= (double)(P2 * H);
            ck_assert_msg(fabs(c2 - 2 * var[k]) < 0.15 * 2 * var[k], "c_init %d: mean |C|^2 %g, "
                          "expected %g", k, c2, 2 * var[k]);
        }
        ssm_params_free(ps);
    }
}
END_TEST

/* clip_eigs: the forward uses min(Lambda_re, -1e-4) and clipped modes get no gradient. */
START_TEST(s5_clip_eigs) {
    int64_t H = 3, P = 8, B = 2, L = 5;
    ssm_s5_config cfg = ssm_s5_defaults(H);
    cfg.d_state = P;
    ssm_s5 clipped, plain;
    cfg.clip_eigs = 1;
    ssm_params *ps1 = s5_with(&clipped, &cfg, 4);
    cfg.clip_eigs = 0;
    ssm_params *ps2 = s5_with(&plain, &cfg, 4);
    ssm_tensor_from_f64(clipped.Lambda_re, (double[]){0.3, -1e-5, -0.2, -2.0});
    ssm_tensor_from_f64(plain.Lambda_re, (double[]){-1e-4, -1e-4, -0.2, -2.0});
    ssm_tensor *u = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 9, 1.0);
    ssm_ctx *c = ssm_ctx_new(1);
    ssm_tensor *y2 = ssm_s5_forward(c, &plain, u);
    ssm_params_zero_grad(ps1);
    ssm_tensor *y1 = ssm_s5_forward(c, &clipped, u);
    ck_assert_double_lt(tu_rel_err(y1, y2), 1e-14);
    ssm_backward(c, ssm_sum_all(c, y1));
    const double *g = clipped.Lambda_re->grad->data;
    ck_assert(g[0] == 0 && g[1] == 0 && g[2] != 0 && g[3] != 0);
    ssm_ctx_free(c);
    ssm_tensor_free(u);
    ssm_params_free(ps1);
    ssm_params_free(ps2);
}
END_TEST

/* --- f64 finite differences through the whole SSM and the layer --- */

typedef struct {
    const ssm_layer_ops *ops;
    void *layer;
    ssm_s5 *ssm;
} gc_case;

static ssm_tensor *f_ssm(ssm_ctx *c, ssm_tensor **in, void *user) {
    gc_case *g = user;
    return g->ssm ? ssm_s5_forward(c, g->ssm, in[1]) : g->ops->forward(c, g->layer, in[1]);
}

/* the flat parameter buffer as input 0 (perturbing it perturbs every parameter), u input 1 */
static void gradcheck_params(ssm_params *ps, gc_case *g, int64_t B, int64_t L, int64_t H,
                             const char *what) {
    ssm_tensor *in[2];
    in[0] = ssm_tensor_alias(NULL, ps->values, SSM_DIMS(ps->numel));
    in[0]->grad = ssm_tensor_alias(NULL, ps->grads, SSM_DIMS(ps->numel));
    in[0]->flags |= SSM_T_REQUIRES_GRAD;
    in[1] = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 5, 1.0);
    ssm_requires_grad(in[1]);
    ssm_gradcheck_result r = ssm_gradcheck(f_ssm, in, 2, g, 1e-6);
    ck_assert_msg(r.max_rel_err < 1e-6, "%s: relative error %.3g in input %d", what,
                  r.max_rel_err, r.worst_input);
    ssm_tensor_free(in[0]->grad);
    in[0]->grad = NULL;
    ssm_tensor_free(in[0]);
    ssm_tensor_free(in[1]);
}

START_TEST(s5_ssm_gradcheck) {
    for (int disc = 0; disc < 2; disc++)
        for (int bidir = 0; bidir < 2; bidir++) {
            ssm_s5 m;
            ssm_params *ps = make_s5(&m, SSM_F64, 3, 8, 2, disc, bidir, 5);
            gc_case g = {NULL, NULL, &m};
            gradcheck_params(ps, &g, 2, 7, 3, disc ? "s5 bilinear" : "s5 zoh");
            ssm_params_free(ps);
        }
}
END_TEST

/* The layer through the registry: every activation, dropout on, step == parallel. */
START_TEST(s5_layer_registry) {
    static const char *acts[] = {"gelu", "full_glu", "half_glu1", "half_glu2", ""};
    const ssm_layer_ops *ops = ssm_layer_ops_for("s5");
    ck_assert_msg(ops != NULL, "%s", ssm_last_error());
    for (int a = 0; a < 5; a++) {
        int64_t H = 4, B = 2, L = 9;
        ssm_layer_config cfg = {.d_model = H, .d_state = 8, .dt_min = 1e-3, .dt_max = 1e-1,
                                .init = SSM_INIT_LEGS, .disc = a % 2, .blocks = 2,
                                .bidirectional = a == 2, .dropout = 0.2};
        strcpy(cfg.activation, acts[a]);
        ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
        void *layer = ops->create(&cfg, ps, "layers.0.");
        ck_assert_msg(layer != NULL, "%s", ssm_last_error());
        ssm_params_finalize(ps);
        ck_assert(ssm_params_find(ps, "layers.0.seq.Lambda_re") != NULL);
        ck_assert(ssm_params_find(ps, "layers.0.seq.log_step") != NULL);
        ck_assert((ssm_params_find(ps, "layers.0.out2.kernel") != NULL) == (a != 0));
        ck_assert((ssm_params_find(ps, "layers.0.out1.kernel") != NULL) == (a == 1));
        ssm_rng r = {3, 0};
        ops->init(layer, &r);
        gc_case g = {ops, layer, NULL};
        gradcheck_params(ps, &g, B, L, H, acts[a]);
        if (!cfg.bidirectional) { /* step mode == parallel (eval: no dropout) */
            ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 8, 1.0);
            ssm_ctx *c = ssm_ctx_new(0);
            c->training = 0;
            int saved = ssm_no_grad_begin(c);
            ssm_tensor *y = ops->forward(c, layer, x);
            void *st = ops->state_alloc(layer, B);
            double e = 0, n = 0;
            for (int64_t t = 0; t < L; t++) {
                ssm_tensor *yt = ops->step(c, layer, st, ssm_reshape(c, ssm_slice(c, x, 1, t, 1), SSM_DIMS(B, H)));
                for (int64_t b = 0; b < B; b++)
                    for (int64_t h = 0; h < H; h++) {
                        double d = ssm_tensor_get(yt, b * H + h) - ssm_tensor_get(y, (b * L + t) * H + h);
                        e += d * d;
                        n += pow(ssm_tensor_get(y, (b * L + t) * H + h), 2);
                    }
            }
            ck_assert_msg(sqrt(e / n) < 1e-12, "%s: step vs parallel %.3g", acts[a], sqrt(e / n));
            ops->state_free(st);
            ssm_no_grad_end(c, saved);
            ssm_ctx_free(c);
            ssm_tensor_free(x);
        }
        ops->destroy(layer);
        ssm_params_free(ps);
    }
    /* configuration errors are reported, not aborted on */
    ssm_layer_config bad = {.d_model = 4, .d_state = 6, .blocks = 2, .dt_min = 1e-3, .dt_max = 1e-1};
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ck_assert(ops->create(&bad, ps, "") == NULL);
    bad.d_state = 8;
    strcpy(bad.activation, "relu");
    ck_assert(ops->create(&bad, ps, "") == NULL);
    ssm_params_free(ps);
}
END_TEST

int main(void) {
    Suite *s = suite_create("s5");
    TCase *t = tcase_create("s5");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, s5_zoh_golden_f64);
    tcase_add_test(t, s5_zoh_golden_f32);
    tcase_add_test(t, s5_bilinear_bidir_golden_f64);
    tcase_add_test(t, s5_bilinear_bidir_golden_f32);
    tcase_add_test(t, s5_parallel_step_dense);
    tcase_add_test(t, s5_length_one);
    tcase_add_test(t, s5_hippo_n_structure);
    tcase_add_test(t, s5_init_statistics);
    tcase_add_test(t, s5_c_init_options);
    tcase_add_test(t, s5_clip_eigs);
    tcase_add_test(t, s5_ssm_gradcheck);
    tcase_add_test(t, s5_layer_registry);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
