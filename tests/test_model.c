/* The sequence model end to end: f64 gradient check of the whole network
 * (every parameter, through each norm, pre/postnorm, both encoders and every
 * pooling, the retrieval decoder, tied dropout), the tied dropout mask, the retrieval
 * head against plain loops, and that the same seed gives the same model on every run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gradcheck.h"
#include "log.h"
#include "model.h"
#include "ops.h"
#include "testutil.h"

typedef struct {
    ssm_model *m;
    ssm_tensor *x, *pool_w;
} model_case;

static ssm_tensor *f_model(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)in;
    model_case *mc = u;
    return ssm_model_forward(c, mc->m, mc->x, mc->pool_w);
}

static ssm_model_config tiny(ssm_norm_kind norm, int prenorm, int embedding, ssm_pool_kind pool) {
    ssm_model_config cfg = {.layer = "s4d", .embedding = embedding, .d_input = 5, .d_output = 3,
                            .n_layers = 2, .norm = norm, .prenorm = prenorm, .residual = 1,
                            .dropout = 0.1, .pool = pool};
    cfg.lcfg = (ssm_layer_config){.d_model = 4, .d_state = 4, .dt_min = 1e-3, .dt_max = 1e-1,
                                  .init = SSM_INIT_LIN, .dropout = 0.1};
    return cfg;
}

static void check_model(ssm_model_config cfg) {
    int64_t B = 2, L = 6;
    ssm_model *m = ssm_model_new(&cfg, SSM_F64, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 11);
    model_case mc = {m, NULL, NULL};
    if (cfg.embedding) {
        mc.x = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(B, L));
        for (int64_t i = 0; i < B * L; i++) ((int32_t *)mc.x->data)[i] = (int32_t)((i * 7) % 5);
    } else {
        mc.x = tu_randn(SSM_F64, SSM_DIMS(B, L, cfg.d_input), 3, 1.0);
    }
    if (cfg.pool != SSM_POOL_NONE) { /* second sequence padded after 4 tokens */
        mc.pool_w = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, 1, L));
        ssm_tensor_zero(mc.pool_w);
        double *w = mc.pool_w->data;
        int64_t len[2] = {L, 4};
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < len[b]; t++)
                w[b * L + t] = cfg.pool == SSM_POOL_MEAN ? 1.0 / len[b] : (t == len[b] - 1);
    }
    /* the flat parameter buffer as one input: perturbing it perturbs every parameter */
    ssm_tensor *flat = ssm_tensor_alias(NULL, m->ps->values, SSM_DIMS(m->ps->numel));
    flat->grad = ssm_tensor_alias(NULL, m->ps->grads, SSM_DIMS(m->ps->numel));
    flat->flags |= SSM_T_REQUIRES_GRAD;
    ssm_gradcheck_result r = ssm_gradcheck(f_model, &flat, 1, &mc, 1e-6);
    ck_assert_msg(r.max_rel_err < 1e-6, "model (norm %d, prenorm %d, embedding %d, pool %d): "
                  "relative error %.3g", cfg.norm, cfg.prenorm, cfg.embedding, cfg.pool,
                  r.max_rel_err);
    ssm_tensor_free(flat->grad);
    flat->grad = NULL;
    ssm_tensor_free(flat);
    ssm_tensor_free(mc.x);
    ssm_tensor_free(mc.pool_w);
    ssm_model_free(m);
}

START_TEST(model_gradcheck_norms) {
    check_model(tiny(SSM_NORM_LAYER, 0, 1, SSM_POOL_MEAN));
    check_model(tiny(SSM_NORM_LAYER, 1, 0, SSM_POOL_LAST));
    check_model(tiny(SSM_NORM_RMS, 1, 1, SSM_POOL_NONE));
    check_model(tiny(SSM_NORM_BATCH, 0, 0, SSM_POOL_MEAN));
}
END_TEST

/* Every S4-family layer variant inside the model: S4 (DPLR) and both bidirectional; tied
 * dropout (in the block and inside s4, s4d and s5 layers). */
START_TEST(model_gradcheck_layers) {
    static const struct { const char *layer; int bidir, tie; } v[] = {
        {"s4d", 1, 0}, {"s4", 0, 0}, {"s4", 1, 0}, {"s4d", 0, 1}, {"s4", 1, 1}, {"s5", 1, 1}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ssm_model_config cfg = tiny(SSM_NORM_LAYER, 1, 1, SSM_POOL_MEAN);
        snprintf(cfg.layer, sizeof cfg.layer, "%s", v[i].layer);
        cfg.lcfg.bidirectional = v[i].bidir;
        cfg.tie_dropout = cfg.lcfg.tie_dropout = v[i].tie;
        if (strcmp(v[i].layer, "s4d")) cfg.lcfg.init = SSM_INIT_LEGS;
        if (!strcmp(v[i].layer, "s4")) {
            cfg.lcfg.disc = 1;
            cfg.lcfg.l_max = 6;
        }
        check_model(cfg);
    }
}
END_TEST

/* Tied dropout: each (sequence, channel) is kept (scaled by 1/(1-p)) or dropped at every
 * position at once; the gradient is the mask; identity in evaluation mode. */
START_TEST(tied_dropout_shares_mask) {
    int64_t B = 4, L = 7, H = 16;
    double p = 0.5;
    ssm_ctx *c = ssm_ctx_new(3);
    c->training = 1;
    ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 5, 1.0);
    x->grad = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, L, H));
    ssm_tensor_zero(x->grad);
    ssm_requires_grad(x);
    ssm_tensor *y = ssm_dropout_tied(c, x, p);
    ssm_backward(c, ssm_sum_all(c, y));
    const double *xv = x->data, *yv = y->data, *g = x->grad->data;
    int dropped = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            double m0 = g[b * L * H + h];
            ck_assert_msg(m0 == 0.0 || m0 == 1 / (1 - p), "mask %g", m0);
            dropped += m0 == 0.0;
            for (int64_t t = 0; t < L; t++) {
                int64_t i = (b * L + t) * H + h;
                ck_assert_double_eq(g[i], m0);
                ck_assert_double_eq(yv[i], xv[i] * m0);
            }
        }
    ck_assert_int_gt(dropped, B * H / 4); /* 64 draws at p = 0.5 */
    ck_assert_int_lt(dropped, 3 * B * H / 4);
    ssm_ctx_reset(c);
    c->training = 0;
    ck_assert_ptr_eq(ssm_dropout_tied(c, x, p), x);
    ssm_tensor_free(x->grad);
    x->grad = NULL;
    ssm_tensor_free(x);
    ssm_ctx_free(c);
}
END_TEST

/* Two pairs (rows 0-1, 2-3) of token sequences of lengths 6, 4, 5, 6 and their mean
 * pooling weights. */
static void retrieval_inputs(ssm_tensor **x, ssm_tensor **pool_w) {
    int64_t R = 4, L = 6, len[4] = {6, 4, 5, 6};
    *x = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(R, L));
    for (int64_t i = 0; i < R * L; i++) ((int32_t *)(*x)->data)[i] = (int32_t)((i * 7 + 3) % 5);
    *pool_w = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(R, 1, L));
    ssm_tensor_zero(*pool_w);
    for (int64_t r = 0; r < R; r++)
        for (int64_t t = 0; t < len[r]; t++) ((double *)(*pool_w)->data)[r * L + t] = 1.0 / len[r];
}

START_TEST(model_gradcheck_retrieval) {
    ssm_model_config cfg = tiny(SSM_NORM_LAYER, 1, 1, SSM_POOL_MEAN);
    cfg.retrieval = 1;
    ssm_model *m = ssm_model_new(&cfg, SSM_F64, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 11);
    ck_assert_ptr_nonnull(ssm_params_find(m->ps, "decoder.retrieval.classifier.0.weight"));
    ck_assert_ptr_null(ssm_params_find(m->ps, "decoder.weight"));
    model_case mc = {m, NULL, NULL};
    retrieval_inputs(&mc.x, &mc.pool_w);
    ssm_ctx *c = ssm_ctx_new(1);
    ssm_tensor *y = ssm_model_forward(c, m, mc.x, mc.pool_w);
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 2); /* one row of logits per pair */
    ck_assert_int_eq(y->shape[1], 3);
    ssm_ctx_free(c);
    ssm_tensor *flat = ssm_tensor_alias(NULL, m->ps->values, SSM_DIMS(m->ps->numel));
    flat->grad = ssm_tensor_alias(NULL, m->ps->grads, SSM_DIMS(m->ps->numel));
    flat->flags |= SSM_T_REQUIRES_GRAD;
    ssm_gradcheck_result r = ssm_gradcheck(f_model, &flat, 1, &mc, 1e-6);
    ck_assert_msg(r.max_rel_err < 1e-6, "retrieval model: relative error %.3g", r.max_rel_err);
    ssm_tensor_free(flat->grad);
    flat->grad = NULL;
    ssm_tensor_free(flat);
    ssm_tensor_free(mc.x);
    ssm_tensor_free(mc.pool_w);
    ssm_model_free(m);
}
END_TEST

/* The head against plain loops: a linear-decoder model with the same backbone and an
 * identity decoder yields the pooled features p[r]; then for pair b (rows 2b, 2b + 1)
 * logits = W2 act(W0 [p1, p2, p1 - p2, p1 * p2] + b0) + b2 (S4's RetrievalHead), act
 * ReLU (loop 0) or exact GELU (loop 1). */
START_TEST(model_retrieval_head_vs_loops) {
    ssm_model_config cfg = tiny(SSM_NORM_LAYER, 1, 1, SSM_POOL_MEAN);
    cfg.dropout = cfg.lcfg.dropout = 0;
    cfg.retrieval = 1;
    cfg.retrieval_gelu = _i;
    ssm_model *m = ssm_model_new(&cfg, SSM_F64, SSM_CPU);
    ssm_model_init(m, 5);
    int64_t H = cfg.lcfg.d_model, C = cfg.d_output;
    ssm_model_config fcfg = cfg;
    fcfg.retrieval = 0;
    fcfg.d_output = H;
    ssm_model *f = ssm_model_new(&fcfg, SSM_F64, SSM_CPU);
    ssm_model_init(f, 99);
    for (int i = 0; i < f->ps->n; i++) { /* the backbone's values, by name */
        ssm_tensor *dst = f->ps->p[i], *src = ssm_params_find(m->ps, dst->name);
        if (src) memcpy(dst->data, src->data, (size_t)dst->numel * sizeof(double));
    }
    double *dw = f->dec_W->data, *dbias = f->dec_b->data;
    for (int64_t i = 0; i < H; i++) {
        dbias[i] = 0;
        for (int64_t j = 0; j < H; j++) dw[i * H + j] = i == j;
    }
    ssm_tensor *x, *pool_w;
    retrieval_inputs(&x, &pool_w);
    ssm_ctx *c = ssm_ctx_new(1);
    c->training = 0;
    double p[4][4], got[2][3];
    ssm_tensor_to_host(ssm_model_forward(c, f, x, pool_w), p);
    ssm_tensor_to_host(ssm_model_forward(c, m, x, pool_w), got);
    const double *W0 = m->head_W->data, *b0 = m->head_b->data, *W2 = m->dec_W->data,
                 *b2 = m->dec_b->data;
    for (int b = 0; b < 2; b++) {
        double feat[16], z[4];
        for (int64_t j = 0; j < H; j++) {
            double u = p[2 * b][j], v = p[2 * b + 1][j];
            feat[j] = u, feat[H + j] = v, feat[2 * H + j] = u - v, feat[3 * H + j] = u * v;
        }
        for (int64_t i = 0; i < H; i++) {
            double s = b0[i];
            for (int64_t j = 0; j < 4 * H; j++) s += W0[i * 4 * H + j] * feat[j];
            z[i] = _i ? 0.5 * s * (1 + erf(s / sqrt(2.0))) : s > 0 ? s : 0;
        }
        for (int64_t k = 0; k < C; k++) {
            double s = b2[k];
            for (int64_t i = 0; i < H; i++) s += W2[k * H + i] * z[i];
            ck_assert_msg(fabs(got[b][k] - s) < 1e-12, "pair %d class %lld: %.17g, loops %.17g", b,
                          (long long)k, got[b][k], s);
        }
    }
    ssm_ctx_free(c);
    ssm_tensor_free(x);
    ssm_tensor_free(pool_w);
    ssm_model_free(m);
    ssm_model_free(f);
}
END_TEST

START_TEST(model_retrieval_needs_pooling) {
    ssm_model_config cfg = tiny(SSM_NORM_LAYER, 1, 1, SSM_POOL_NONE);
    cfg.retrieval = 1;
    ck_assert_ptr_null(ssm_model_new(&cfg, SSM_F32, SSM_CPU));
    ck_assert_str_eq(ssm_last_error(), "model: the retrieval decoder needs pooling (mean or last)");
}
END_TEST

/* model.bn_momentum: after one training forward from the initial statistics (mean 0,
 * variance 1), running = (1 - m) initial + m batch; the default (0) is PyTorch's 0.1. */
START_TEST(model_bn_momentum) {
    double got[2][2][4];
    for (int k = 0; k < 2; k++) {
        ssm_model_config cfg = tiny(SSM_NORM_BATCH, 1, 0, SSM_POOL_MEAN);
        cfg.bn_momentum = k ? 0.3 : 0;
        ssm_model *m = ssm_model_new(&cfg, SSM_F64, SSM_CPU);
        ssm_model_init(m, 2);
        ssm_ctx *c = ssm_ctx_new(1);
        c->training = 1;
        ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(2, 6, cfg.d_input), 3, 1.0);
        ssm_model_forward(c, m, x, NULL); /* per-position logits: only the statistics matter */
        for (int h = 0; h < 4; h++) {
            got[k][0][h] = ssm_tensor_get(m->bn_mean[0], h);
            got[k][1][h] = ssm_tensor_get(m->bn_var[0], h);
        }
        ssm_tensor_free(x);
        ssm_ctx_free(c);
        ssm_model_free(m);
    }
    for (int h = 0; h < 4; h++) { /* the same batch statistics from either momentum */
        ck_assert_double_gt(fabs(got[1][0][h]), 1e-6);
        ck_assert_double_eq_tol(got[1][0][h] / 0.3, got[0][0][h] / 0.1, 1e-12);
        ck_assert_double_eq_tol((got[1][1][h] - 0.7) / 0.3, (got[0][1][h] - 0.9) / 0.1, 1e-12);
    }
}
END_TEST

START_TEST(model_same_seed_same_model) {
    ssm_model_config cfg = tiny(SSM_NORM_LAYER, 0, 1, SSM_POOL_MEAN);
    ssm_model *a = ssm_model_new(&cfg, SSM_F32, SSM_CPU), *b = ssm_model_new(&cfg, SSM_F32, SSM_CPU);
    ssm_model_init(a, 5);
    ssm_model_init(b, 5);
    ck_assert_double_eq(tu_rel_err(a->ps->values, b->ps->values), 0.0);
    ssm_model_init(b, 6);
    ck_assert_double_gt(tu_rel_err(a->ps->values, b->ps->values), 0.1);
    ssm_model_free(a);
    ssm_model_free(b);
}
END_TEST

START_TEST(model_rejects_unknown_layer) {
    ssm_model_config cfg = tiny(SSM_NORM_LAYER, 0, 1, SSM_POOL_MEAN);
    snprintf(cfg.layer, sizeof cfg.layer, "s6");
    ck_assert_ptr_null(ssm_model_new(&cfg, SSM_F32, SSM_CPU));
    ck_assert_str_eq(ssm_last_error(), "unknown layer type 's6' (expected s4, s4d, s5 or mamba)");
}
END_TEST

int main(void) {
    Suite *s = suite_create("model");
    TCase *t = tcase_create("model");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, model_gradcheck_norms);
    tcase_add_test(t, model_gradcheck_layers);
    tcase_add_test(t, tied_dropout_shares_mask);
    tcase_add_test(t, model_bn_momentum);
    tcase_add_test(t, model_gradcheck_retrieval);
    tcase_add_loop_test(t, model_retrieval_head_vs_loops, 0, 2);
    tcase_add_test(t, model_retrieval_needs_pooling);
    tcase_add_test(t, model_same_seed_same_model);
    tcase_add_test(t, model_rejects_unknown_layer);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
