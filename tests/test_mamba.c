/* Mamba: the selective scan and the block against the official mamba_ssm (golden files,
 * f64 < 1e-8, f32 < 1e-4), the official initialisation, the scan's chunking and thread
 * count changing nothing, step mode == parallel mode, the layer registry, and f64
 * gradient checks of a sequence model with Mamba layers and of the Mamba LM. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "golden.h"
#include "golden_layers.h"
#include "gradcheck.h"
#include "kernels.h"
#include "layer.h"
#include "log.h"
#include "mamba.h"
#include "mamba_lm.h"
#include "model.h"
#include "ops.h"
#include "testutil.h"

START_TEST(selective_scan_golden_f64) { golden_selective_scan(SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(selective_scan_golden_f32) { golden_selective_scan(SSM_F32, SSM_CPU, 1e-4); }
END_TEST
START_TEST(mamba_block_golden_f64) { golden_mamba_block(SSM_F64, SSM_CPU, 1e-8); }
END_TEST
START_TEST(mamba_block_golden_f32) { golden_mamba_block(SSM_F32, SSM_CPU, 1e-4); }
END_TEST

/* /init holds the official A_log and D (A_log computed in float32 by the official code:
 * up to 2e-8 from the f64 log); the random parts are checked for their ranges. */
START_TEST(mamba_init_matches_official) {
    ssm_h5 *f = golden_open("mamba_block.h5");
    ssm_mamba m;
    ssm_params *ps = golden_mamba_from_file(f, &m, SSM_F64, SSM_CPU);
    ssm_rng r = {3, 0};
    ssm_mamba_init(&m, &r);
    golden_expect(f, "/init/A_log", m.A_log, 1e-7);
    golden_expect(f, "/init/D", m.D, 1e-15);
    const ssm_mamba_config *cfg = &m.cfg;
    const double lo = fmax(cfg->dt_min, cfg->dt_init_floor), hi = cfg->dt_max;
    for (int64_t d = 0; d < m.d_inner; d++) {
        double b = ssm_tensor_get(m.dt_proj_b, d), dt = log1p(exp(b)); /* softplus(bias) = Δ */
        ck_assert_msg(dt >= lo * (1 - 1e-12) && dt <= hi * (1 + 1e-12), "Δ %g outside [%g, %g]",
                      dt, lo, hi);
    }
    const double s = cfg->dt_scale / sqrt((double)m.dt_rank);
    for (int64_t i = 0; i < m.dt_proj_w->numel; i++)
        ck_assert(fabs(ssm_tensor_get(m.dt_proj_w, i)) <= s);
    for (int64_t i = 0; i < m.conv_w->numel; i++)
        ck_assert(fabs(ssm_tensor_get(m.conv_w, i)) <= 1 / sqrt((double)cfg->d_conv));
    for (int64_t i = 0; i < m.in_proj_w->numel; i++)
        ck_assert(fabs(ssm_tensor_get(m.in_proj_w, i)) <= 1 / sqrt((double)cfg->d_model));
    /* groups: A_log and D without weight decay (the SSM group), the rest default */
    for (int i = 0; i < ps->n; i++) {
        const char *name = ps->p[i]->name;
        int ssm = !strcmp(name, "A_log") || !strcmp(name, "D");
        ck_assert_msg(ps->p[i]->group == (ssm ? SSM_GROUP_SSM : SSM_GROUP_DEFAULT), "%s: group %d",
                      name, ps->p[i]->group);
    }
    ssm_params_free(ps);
    ssm_h5_close(f);
}
END_TEST

/* Random scan inputs as the block makes them (A < 0), f64 or f32, requiring gradients. */
typedef struct {
    ssm_tensor *t[8]; /* u, delta, A, B, C, D, z, delta_bias */
    ssm_tensor *dy, *dlast;
} scan_inputs;

static scan_inputs scan_inputs_new(ssm_dtype dt, int64_t Bn, int64_t Di, int64_t N, int64_t L) {
    scan_inputs s;
    s.t[0] = tu_randn(dt, SSM_DIMS(Bn, Di, L), 1, 1.0);
    s.t[1] = tu_randn(dt, SSM_DIMS(Bn, Di, L), 2, 1.0);
    s.t[2] = tu_rand(dt, SSM_DIMS(Di, N), 3, -3.0, -0.05);
    s.t[3] = tu_randn(dt, SSM_DIMS(Bn, N, L), 4, 1.0);
    s.t[4] = tu_randn(dt, SSM_DIMS(Bn, N, L), 5, 1.0);
    s.t[5] = tu_randn(dt, SSM_DIMS(Di), 6, 1.0);
    s.t[6] = tu_randn(dt, SSM_DIMS(Bn, Di, L), 7, 1.0);
    s.t[7] = tu_randn(dt, SSM_DIMS(Di), 8, 1.0);
    for (int i = 0; i < 8; i++) ssm_requires_grad(s.t[i]);
    s.dy = tu_randn(dt, SSM_DIMS(Bn, Di, L), 9, 1.0);
    s.dlast = tu_randn(dt, SSM_DIMS(Bn, Di, N), 10, 1.0);
    return s;
}

static void scan_inputs_free(scan_inputs *s) {
    for (int i = 0; i < 8; i++) ssm_tensor_free(s->t[i]);
    ssm_tensor_free(s->dy);
    ssm_tensor_free(s->dlast);
}

/* Forward and backward with `chunk`; out[0] y, out[1] last_state, out[2..9] the gradients
 * (persistent copies). */
static void scan_run(scan_inputs *s, int64_t chunk, ssm_tensor **out) {
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor **t = s->t, *last;
    for (int i = 0; i < 8; i++) ssm_tensor_zero(t[i]->grad);
    ssm_tensor *y = ssm_selective_scan(c, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], &last,
                                       chunk);
    ssm_backward(c, ssm_add(c, ssm_sum_all(c, ssm_mul(c, y, s->dy)),
                            ssm_sum_all(c, ssm_mul(c, last, s->dlast))));
    out[0] = ssm_tensor_to(NULL, y, SSM_CPU);
    out[1] = ssm_tensor_to(NULL, last, SSM_CPU);
    for (int i = 0; i < 8; i++) out[2 + i] = ssm_tensor_to(NULL, t[i]->grad, SSM_CPU);
    ssm_ctx_free(c);
}

static void free_outs(ssm_tensor **o) {
    for (int i = 0; i < 10; i++) ssm_tensor_free(o[i]);
}

/* The chunk size only trades memory for recomputation: same outputs and gradients. */
START_TEST(scan_chunk_size_changes_nothing) {
    scan_inputs s = scan_inputs_new(SSM_F64, 3, 40, 16, 203);
    ssm_tensor *ref[10], *o[10];
    scan_run(&s, 0, ref);
    static const int64_t chunks[] = {1, 13, 203, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        scan_run(&s, chunks[k], o);
        for (int i = 0; i < 10; i++) {
            double e = tu_rel_err(o[i], ref[i]);
            ck_assert_msg(e < 1e-13, "chunk %lld: output %d differs by %.3g",
                          (long long)chunks[k], i, e);
        }
        free_outs(o);
    }
    free_outs(ref);
    scan_inputs_free(&s);
}
END_TEST

/* Only last_state used: its node must still make the fused backward run (as with a
 * zero gradient for y). */
START_TEST(scan_last_state_alone_has_gradients) {
    scan_inputs s = scan_inputs_new(SSM_F64, 2, 5, 4, 33);
    ssm_tensor *ref[10];
    ssm_tensor_zero(s.dy);
    scan_run(&s, 8, ref);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor **t = s.t, *last;
    for (int i = 0; i < 8; i++) ssm_tensor_zero(t[i]->grad);
    ssm_selective_scan(c, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], &last, 8);
    ssm_backward(c, ssm_sum_all(c, ssm_mul(c, last, s.dlast)));
    for (int i = 0; i < 8; i++) {
        double e = tu_rel_err(t[i]->grad, ref[2 + i]);
        ck_assert_msg(e < 1e-14, "input %d: gradient differs by %.3g", i, e);
    }
    double sq = 0; /* and they are not trivially zero */
    for (int64_t i = 0; i < ref[2]->numel; i++) {
        double v = ((double *)ref[2]->data)[i];
        sq += v * v;
    }
    ck_assert_double_gt(sq, 1e-6);
    ssm_ctx_free(c);
    free_outs(ref);
    scan_inputs_free(&s);
}
END_TEST

/* Bit-for-bit the same results with 1 and 3 threads (fixed-order reductions). */
START_TEST(scan_thread_count_changes_nothing) {
#ifdef _OPENMP
    scan_inputs s = scan_inputs_new(SSM_F32, 2, 37, 16, 150);
    ssm_tensor *a[10], *b[10];
    int n0 = omp_get_max_threads();
    omp_set_num_threads(1);
    scan_run(&s, 16, a);
    omp_set_num_threads(3);
    scan_run(&s, 16, b);
    omp_set_num_threads(n0);
    for (int i = 0; i < 10; i++)
        ck_assert_msg(memcmp(a[i]->data, b[i]->data, (size_t)a[i]->numel * sizeof(float)) == 0,
                      "output %d differs between 1 and 3 threads", i);
    free_outs(a);
    free_outs(b);
    scan_inputs_free(&s);
#endif
}
END_TEST

/* Add scale * N(0, 1) to a CPU parameter: channels stop being identical. */
static void perturb(ssm_tensor *p, uint64_t seed, double scale) {
    ssm_tensor *n = tu_randn(p->dtype, p->ndim, p->shape, seed, scale);
    for (int64_t i = 0; i < p->numel; i++) {
        if (p->dtype == SSM_F64) ((double *)p->data)[i] += ((double *)n->data)[i];
        else ((float *)p->data)[i] += ((float *)n->data)[i];
    }
    ssm_tensor_free(n);
}

/* Token-by-token steps from zero states (after a parallel prefill of `split` tokens when
 * split > 0) equal the parallel output. */
static void step_equals_parallel(ssm_dtype dt, int64_t Bn, int64_t L, int64_t d_conv,
                                 int64_t split, double tol) {
    const int64_t H = 12;
    ssm_mamba_config cfg = ssm_mamba_defaults(H);
    cfg.d_state = 16;
    cfg.d_conv = d_conv;
    cfg.dt_rank = 3;
    cfg.dt_min = 0.01;
    cfg.dt_max = 0.5;
    ssm_params *ps = ssm_params_new(dt, SSM_CPU);
    ssm_mamba m;
    ssm_mamba_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ssm_rng r = {11, 0};
    ssm_mamba_init(&m, &r);
    perturb(m.A_log, 12, 0.3);
    perturb(m.D, 13, 0.3);
    ssm_tensor *x = tu_randn(dt, SSM_DIMS(Bn, L, H), 14, 1.0);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *y = ssm_mamba_forward(c, &m, x);
    ssm_mamba_state *st = ssm_mamba_state_alloc(&m, Bn);
    ssm_tensor *ys = ssm_tensor_like(c->arena, y);
    const ssm_kernels *k = ssm_kernels_for(SSM_CPU);
    if (split > 0) {
        ssm_tensor *y0 = ssm_mamba_prefill(c, &m, st, ssm_slice(c, x, 1, 0, split));
        k->slice_copy(dt, y0->data, ys->data, Bn, split, L, H, 0, 0, split, 0);
    }
    tu_run_steps(c, ssm_layer_ops_for("mamba")->step, &m, st, x, split, ys);
    double e = tu_rel_err(ys, y);
    ck_assert_msg(e < tol, "step vs parallel (%s, B %lld, L %lld, d_conv %lld, prefill %lld): "
                  "relative error %.3g", ssm_dtype_name(dt), (long long)Bn, (long long)L,
                  (long long)d_conv, (long long)split, e);
    /* the states after the steps equal those a parallel pass over everything leaves */
    ssm_mamba_state *pst = ssm_mamba_state_alloc(&m, Bn);
    ssm_mamba_prefill(c, &m, pst, x);
    ck_assert_double_lt(tu_rel_err(st->conv_state, pst->conv_state), tol);
    ck_assert_double_lt(tu_rel_err(st->ssm_state, pst->ssm_state), tol);
    ssm_no_grad_end(c, saved);
    ssm_mamba_state_free(st);
    ssm_mamba_state_free(pst);
    ssm_ctx_free(c);
    ssm_tensor_free(x);
    ssm_params_free(ps);
}

START_TEST(mamba_step_equals_parallel) {
    step_equals_parallel(SSM_F64, 3, 150, 4, 0, 1e-10);
    step_equals_parallel(SSM_F64, 2, 1, 4, 0, 1e-12);  /* L = 1 */
    step_equals_parallel(SSM_F64, 2, 40, 4, 17, 1e-10); /* prefill, then steps */
    step_equals_parallel(SSM_F64, 2, 9, 4, 2, 1e-10);   /* prefill shorter than d_conv */
    step_equals_parallel(SSM_F64, 2, 30, 1, 5, 1e-10);  /* d_conv 1 */
    step_equals_parallel(SSM_F32, 3, 150, 4, 0, 1e-5);
}
END_TEST

/* "mamba" in the layer registry, built from the common layer configuration. */
START_TEST(mamba_in_layer_registry) {
    const ssm_layer_ops *ops = ssm_layer_ops_for("mamba");
    ck_assert_msg(ops != NULL, "%s", ssm_last_error());
    ssm_layer_config lc = {.d_model = 20, .d_state = 8, .dt_min = 1e-3, .dt_max = 1e-1,
                           .expand = 2, .d_conv = 4, .dt_rank = 0};
    ssm_params *ps = ssm_params_new(SSM_F32, SSM_CPU);
    void *l = ops->create(&lc, ps, "layers.0.");
    ck_assert_ptr_nonnull(l);
    ssm_params_finalize(ps);
    static const char *names[] = {"in_proj.weight", "conv1d.weight", "conv1d.bias",
                                  "x_proj.weight", "dt_proj.weight", "dt_proj.bias", "A_log",
                                  "D", "out_proj.weight"};
    ck_assert_int_eq(ps->n, 9);
    char full[64];
    for (int i = 0; i < 9; i++) {
        snprintf(full, sizeof full, "layers.0.%s", names[i]);
        ck_assert_msg(ssm_params_find(ps, full) != NULL, "no parameter %s", full);
    }
    /* dt_rank 0 = ceil(20 / 16) = 2: x_proj is (2 + 2 * 8, 40) */
    ssm_tensor *xp = ssm_params_find(ps, "layers.0.x_proj.weight");
    ck_assert_int_eq(xp->shape[0], 18);
    ck_assert_int_eq(xp->shape[1], 40);
    ssm_rng r = {1, 0};
    ops->init(l, &r);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *x = tu_randn(SSM_F32, SSM_DIMS(2, 5, 20), 2, 1.0);
    ssm_tensor *y = ops->forward(c, l, x);
    ck_assert(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 5 && y->shape[2] == 20);
    void *st = ops->state_alloc(l, 2);
    ssm_tensor *yt = ops->step(c, l, st, ssm_reshape(c, ssm_slice(c, x, 1, 0, 1), SSM_DIMS(2, 20)));
    ck_assert(yt->ndim == 2 && yt->shape[0] == 2 && yt->shape[1] == 20);
    ops->state_free(st);
    ssm_tensor_free(x);
    ssm_ctx_free(c);
    ops->destroy(l);
    ssm_params_free(ps);
    lc.d_state = SSM_SCAN_MAX_STATE + 1;
    ps = ssm_params_new(SSM_F32, SSM_CPU);
    ck_assert_ptr_null(ops->create(&lc, ps, ""));
    ssm_params_free(ps);
}
END_TEST

/* Whole-model f64 gradient checks: the flat parameter buffer is one input, so
 * perturbing it perturbs every parameter (tests/test_model.c's trick). */
typedef struct {
    ssm_tensor *(*fn)(ssm_ctx *, void *, ssm_tensor *);
    void *model;
    ssm_tensor *x;
} whole_case;

static ssm_tensor *f_whole(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)in;
    whole_case *w = u;
    return w->fn(c, w->model, w->x);
}

static double gradcheck_flat(ssm_params *ps, whole_case *w) {
    ssm_tensor *flat = ssm_tensor_alias(NULL, ps->values, SSM_DIMS(ps->numel));
    flat->grad = ssm_tensor_alias(NULL, ps->grads, SSM_DIMS(ps->numel));
    flat->flags |= SSM_T_REQUIRES_GRAD;
    ssm_gradcheck_result r = ssm_gradcheck(f_whole, &flat, 1, w, 1e-6);
    ssm_tensor_free(flat->grad);
    flat->grad = NULL;
    ssm_tensor_free(flat);
    return r.max_rel_err;
}

static ssm_tensor *model_fn(ssm_ctx *c, void *m, ssm_tensor *x) {
    return ssm_model_forward(c, m, x, NULL);
}
static ssm_tensor *lm_fn(ssm_ctx *c, void *m, ssm_tensor *x) {
    return ssm_mamba_lm_forward(c, m, x);
}

static ssm_tensor *tokens(int64_t Bn, int64_t L, int64_t vocab) {
    ssm_tensor *t = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(Bn, L));
    for (int64_t i = 0; i < Bn * L; i++) ((int32_t *)t->data)[i] = (int32_t)((i * 7 + 3) % vocab);
    return t;
}

START_TEST(model_with_mamba_gradcheck) {
    ssm_model_config cfg = {.layer = "mamba", .embedding = 1, .d_input = 7, .d_output = 5,
                            .n_layers = 2, .norm = SSM_NORM_RMS, .prenorm = 1, .residual = 1,
                            .pool = SSM_POOL_NONE};
    cfg.lcfg = (ssm_layer_config){.d_model = 4, .d_state = 3, .dt_min = 1e-2, .dt_max = 0.5,
                                  .expand = 2, .d_conv = 3, .dt_rank = 2};
    ssm_model *m = ssm_model_new(&cfg, SSM_F64, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 5);
    whole_case w = {model_fn, m, tokens(2, 6, 7)};
    double e = gradcheck_flat(m->ps, &w);
    ck_assert_msg(e < 1e-6, "model with mamba layers: relative error %.3g", e);
    ssm_tensor_free(w.x);
    ssm_model_free(m);
}
END_TEST

static ssm_mamba_lm *tiny_lm(ssm_dtype dt, int bias) {
    ssm_mamba_lm_config cfg = ssm_mamba_lm_defaults(6, 2, 11);
    cfg.mixer.bias = bias; /* in_proj and out_proj biases (off in the official default) */
    cfg.mixer.d_state = 4;
    cfg.mixer.d_conv = 3;
    cfg.mixer.dt_min = 1e-2;
    cfg.mixer.dt_max = 0.5;
    ssm_mamba_lm *m = ssm_mamba_lm_new(&cfg, dt, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_mamba_lm_init(m, 9);
    return m;
}

START_TEST(mamba_lm_gradcheck) {
    ssm_mamba_lm *m = tiny_lm(SSM_F64, 0);
    ck_assert_int_eq(m->vocab, 16); /* 11 padded to a multiple of 8 */
    ck_assert_ptr_nonnull(ssm_params_find(m->ps, "backbone.embedding.weight"));
    ck_assert_ptr_nonnull(ssm_params_find(m->ps, "backbone.layers.1.mixer.A_log"));
    ck_assert_ptr_nonnull(ssm_params_find(m->ps, "backbone.layers.1.norm.weight"));
    ck_assert_ptr_nonnull(ssm_params_find(m->ps, "backbone.norm_f.weight"));
    ck_assert_ptr_null(ssm_params_find(m->ps, "lm_head.weight")); /* tied, not a copy */
    ck_assert_str_eq(ssm_mamba_lm_tied_names[0][0], "lm_head.weight");
    ck_assert_str_eq(ssm_mamba_lm_tied_names[0][1], "backbone.embedding.weight");
    whole_case w = {lm_fn, m, tokens(2, 5, 11)};
    double e = gradcheck_flat(m->ps, &w);
    ck_assert_msg(e < 1e-6, "mamba lm: relative error %.3g", e);
    ssm_mamba_lm_free(m);
    m = tiny_lm(SSM_F64, 1);
    ck_assert_ptr_nonnull(ssm_params_find(m->ps, "backbone.layers.0.mixer.in_proj.bias"));
    w.model = m;
    e = gradcheck_flat(m->ps, &w);
    ck_assert_msg(e < 1e-6, "mamba lm with biases: relative error %.3g", e);
    ssm_tensor_free(w.x);
    ssm_mamba_lm_free(m);
}
END_TEST

START_TEST(mamba_lm_step_equals_parallel) {
    ssm_mamba_lm *m = tiny_lm(SSM_F64, 0);
    const int64_t Bn = 2, L = 9, V = m->vocab;
    ssm_tensor *tok = tokens(Bn, L, 11);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *y = ssm_mamba_lm_forward(c, m, tok);
    ck_assert(y->ndim == 3 && y->shape[2] == V);
    ssm_mamba_lm_state *st = ssm_mamba_lm_state_alloc(m, Bn);
    ssm_tensor *col = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(Bn));
    double dn = 0, rn = 0;
    for (int64_t t = 0; t < L; t++) {
        for (int64_t b = 0; b < Bn; b++)
            ((int32_t *)col->data)[b] = ((int32_t *)tok->data)[b * L + t];
        ssm_tensor *yt = ssm_mamba_lm_step(c, m, st, col);
        for (int64_t b = 0; b < Bn; b++)
            for (int64_t v = 0; v < V; v++) {
                double p = ((double *)y->data)[(b * L + t) * V + v];
                double q = ((double *)yt->data)[b * V + v];
                dn += (p - q) * (p - q);
                rn += p * p;
            }
    }
    ck_assert_double_lt(sqrt(dn / rn), 1e-10);
    ssm_no_grad_end(c, saved);
    ssm_tensor_free(col);
    ssm_mamba_lm_state_free(st);
    ssm_ctx_free(c);
    ssm_tensor_free(tok);
    ssm_mamba_lm_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mamba");
    TCase *t = tcase_create("mamba");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, selective_scan_golden_f64);
    tcase_add_test(t, selective_scan_golden_f32);
    tcase_add_test(t, mamba_block_golden_f64);
    tcase_add_test(t, mamba_block_golden_f32);
    tcase_add_test(t, mamba_init_matches_official);
    tcase_add_test(t, scan_chunk_size_changes_nothing);
    tcase_add_test(t, scan_last_state_alone_has_gradients);
    tcase_add_test(t, scan_thread_count_changes_nothing);
    tcase_add_test(t, mamba_step_equals_parallel);
    tcase_add_test(t, mamba_in_layer_registry);
    tcase_add_test(t, model_with_mamba_gradcheck);
    tcase_add_test(t, mamba_lm_gradcheck);
    tcase_add_test(t, mamba_lm_step_equals_parallel);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
