/* The sequence model end to end: f64 gradient check of the whole network
 * (every parameter, through each norm, pre/postnorm, both encoders and every
 * pooling), and that the same seed gives the same model on every run. */
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

/* Every S4-family layer variant inside the model: S4 (DPLR) and both bidirectional. */
START_TEST(model_gradcheck_layers) {
    static const struct { const char *layer; int bidir; } v[] = {
        {"s4d", 1}, {"s4", 0}, {"s4", 1}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ssm_model_config cfg = tiny(SSM_NORM_LAYER, 1, 1, SSM_POOL_MEAN);
        snprintf(cfg.layer, sizeof cfg.layer, "%s", v[i].layer);
        cfg.lcfg.bidirectional = v[i].bidir;
        if (!strcmp(v[i].layer, "s4")) {
            cfg.lcfg.init = SSM_INIT_LEGS;
            cfg.lcfg.disc = 1;
            cfg.lcfg.l_max = 6;
        }
        check_model(cfg);
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
    tcase_add_test(t, model_same_seed_same_model);
    tcase_add_test(t, model_rejects_unknown_layer);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
