#include "mamba_lm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"
#include "log.h"
#include "ops.h"

const char *const ssm_mamba_lm_tied_names[1][2] = {{"lm_head.weight", "backbone.embedding.weight"}};

ssm_mamba_lm_config ssm_mamba_lm_defaults(int64_t d_model, int64_t n_layer, int64_t vocab_size) {
    return (ssm_mamba_lm_config){.vocab_size = vocab_size, .pad_vocab_multiple = 8,
                                 .n_layer = n_layer, .norm_eps = 1e-5,
                                 .mixer = ssm_mamba_defaults(d_model)};
}

ssm_mamba_lm *ssm_mamba_lm_new(const ssm_mamba_lm_config *cfg, ssm_dtype dt, ssm_device dev) {
    const int64_t H = cfg->mixer.d_model, n = cfg->n_layer, pad = cfg->pad_vocab_multiple;
    if (cfg->vocab_size < 1 || n < 1 || H < 1 || pad < 1) {
        ssm_error("mamba lm: vocab_size, n_layer, d_model and pad_vocab_multiple must be positive");
        return NULL;
    }
    if (cfg->mixer.d_state < 1 || cfg->mixer.d_state > SSM_SCAN_MAX_STATE) {
        ssm_error("mamba lm: d_state %lld must be in 1 .. %d", (long long)cfg->mixer.d_state,
                  SSM_SCAN_MAX_STATE);
        return NULL;
    }
    ssm_mamba_lm *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "mamba lm: out of memory");
    m->cfg = *cfg;
    m->vocab = (cfg->vocab_size + pad - 1) / pad * pad;
    m->ps = ssm_params_new(dt, dev);
    m->embedding = ssm_params_add(m->ps, "backbone.embedding.weight", SSM_GROUP_DEFAULT,
                                  SSM_DIMS(m->vocab, H));
    m->layers = calloc((size_t)n, sizeof *m->layers);
    m->norm = calloc((size_t)n, sizeof *m->norm);
    SSM_CHECK(m->layers && m->norm, "mamba lm: out of memory");
    char name[96];
    for (int64_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "backbone.layers.%lld.mixer.", (long long)i);
        ssm_mamba_declare(&m->layers[i], &cfg->mixer, m->ps, name);
        /* norm weights: no weight decay (the usual GPT recipe; the group's wd is 0) */
        snprintf(name, sizeof name, "backbone.layers.%lld.norm.weight", (long long)i);
        m->norm[i] = ssm_params_add(m->ps, name, SSM_GROUP_NO_DECAY, SSM_DIMS(H));
    }
    m->norm_f = ssm_params_add(m->ps, "backbone.norm_f.weight", SSM_GROUP_NO_DECAY, SSM_DIMS(H));
    ssm_params_finalize(m->ps);
    return m;
}

void ssm_mamba_lm_init(ssm_mamba_lm *m, uint64_t seed) {
    ssm_rng r = {seed, 0};
    ssm_param_normal(m->embedding, &r, 0.0, 0.02);
    for (int64_t i = 0; i < m->cfg.n_layer; i++) {
        /* each layer draws from its own counter range: adding a layer keeps the others */
        ssm_rng lr = {seed, ((uint64_t)(i + 1)) << 40};
        ssm_mamba *l = &m->layers[i];
        ssm_mamba_init(l, &lr);
        /* rescale_prenorm_residual: out_proj.weight / sqrt(n_residuals_per_layer * n_layer) */
        ssm_tensor *w = l->out_proj_w;
        ssm_kernels_for(w->device)->scale(w->dtype, w->data, w->data, w->numel,
                                          1.0 / sqrt((double)m->cfg.n_layer), 0);
        ssm_tensor_fill(m->norm[i], 1.0);
    }
    ssm_tensor_fill(m->norm_f, 1.0);
}

void ssm_mamba_lm_free(ssm_mamba_lm *m) {
    if (!m) return;
    free(m->layers);
    free(m->norm);
    ssm_params_free(m->ps);
    free(m);
}

ssm_tensor *ssm_mamba_lm_forward(ssm_ctx *c, ssm_mamba_lm *m, ssm_tensor *tokens) {
    SSM_CHECK(tokens->dtype == SSM_I32 && tokens->ndim == 2, "mamba lm: tokens must be i32 [B, L]");
    const double eps = m->cfg.norm_eps;
    ssm_tensor *h = ssm_embedding(c, m->embedding, tokens);
    for (int64_t i = 0; i < m->cfg.n_layer; i++)
        h = ssm_add(c, h, ssm_mamba_forward(c, &m->layers[i], ssm_rmsnorm(c, h, m->norm[i], eps)));
    h = ssm_rmsnorm(c, h, m->norm_f, eps);
    return ssm_linear(c, h, m->embedding, NULL); /* the tied LM head */
}

ssm_mamba_lm_state *ssm_mamba_lm_state_alloc(ssm_mamba_lm *m, int64_t batch) {
    ssm_mamba_lm_state *st = calloc(1, sizeof *st);
    SSM_CHECK(st, "mamba lm: out of memory");
    st->n_layer = m->cfg.n_layer;
    st->layer = calloc((size_t)st->n_layer, sizeof *st->layer);
    SSM_CHECK(st->layer, "mamba lm: out of memory");
    for (int64_t i = 0; i < st->n_layer; i++)
        st->layer[i] = ssm_mamba_state_alloc(&m->layers[i], batch);
    return st;
}

void ssm_mamba_lm_state_free(ssm_mamba_lm_state *st) {
    if (!st) return;
    for (int64_t i = 0; i < st->n_layer; i++) ssm_mamba_state_free(st->layer[i]);
    free(st->layer);
    free(st);
}

ssm_tensor *ssm_mamba_lm_step(ssm_ctx *c, ssm_mamba_lm *m, ssm_mamba_lm_state *st,
                              ssm_tensor *tokens) {
    SSM_CHECK(tokens->dtype == SSM_I32 && tokens->ndim == 1,
              "mamba lm step: tokens must be i32 [B]");
    const double eps = m->cfg.norm_eps;
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *h = ssm_embedding(c, m->embedding, tokens); /* [B, d_model] */
    for (int64_t i = 0; i < m->cfg.n_layer; i++)
        h = ssm_add(c, h, ssm_mamba_step(c, &m->layers[i], st->layer[i],
                                         ssm_rmsnorm(c, h, m->norm[i], eps)));
    h = ssm_linear(c, ssm_rmsnorm(c, h, m->norm_f, eps), m->embedding, NULL);
    ssm_no_grad_end(c, saved);
    return h;
}
