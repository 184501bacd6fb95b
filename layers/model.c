#include "model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "ops.h"

/* The Mamba LM variant: sized from the same config. */
static ssm_model *mamba_lm_new(const ssm_model_config *cfg, ssm_dtype dt, ssm_device dev) {
    if (strcmp(cfg->layer, "mamba") || !cfg->embedding || cfg->pool != SSM_POOL_NONE) {
        ssm_error("model: the Mamba LM needs layer mamba, a token embedding and no pooling");
        return NULL;
    }
    ssm_mamba_lm_config lc = ssm_mamba_lm_defaults(cfg->lcfg.d_model, cfg->n_layers, cfg->d_input);
    const ssm_layer_config *l = &cfg->lcfg;
    if (l->d_state > 0) lc.mixer.d_state = l->d_state;
    if (l->expand > 0) lc.mixer.expand = l->expand;
    if (l->d_conv > 0) lc.mixer.d_conv = l->d_conv;
    lc.mixer.dt_rank = l->dt_rank;
    lc.mixer.dt_min = l->dt_min;
    lc.mixer.dt_max = l->dt_max;
    ssm_mamba_lm *lm = ssm_mamba_lm_new(&lc, dt, dev);
    if (!lm) return NULL;
    ssm_model *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "model: out of memory");
    m->cfg = *cfg;
    m->cfg.d_output = lm->vocab;
    m->lm = lm;
    m->ps = lm->ps;
    return m;
}

ssm_model *ssm_model_new(const ssm_model_config *cfg, ssm_dtype dt, ssm_device dev) {
    if (cfg->mamba_lm) return mamba_lm_new(cfg, dt, dev);
    const ssm_layer_ops *ops = ssm_layer_ops_for(cfg->layer);
    if (!ops) return NULL;
    if (cfg->n_layers < 1 || cfg->lcfg.d_model < 1 || cfg->d_input < 1 || cfg->d_output < 1) {
        ssm_error("model: n_layers, d_model, d_input and d_output must be positive");
        return NULL;
    }
    if (cfg->retrieval && cfg->pool == SSM_POOL_NONE) {
        ssm_error("model: the retrieval decoder needs pooling (mean or last)");
        return NULL;
    }
    ssm_model *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "model: out of memory");
    m->cfg = *cfg;
    m->ops = ops;
    m->ps = ssm_params_new(dt, dev);
    int64_t H = cfg->lcfg.d_model, n = cfg->n_layers;
    if (cfg->embedding) {
        m->enc_W = ssm_params_add(m->ps, "encoder.weight", SSM_GROUP_DEFAULT, SSM_DIMS(cfg->d_input, H));
    } else {
        m->enc_W = ssm_params_add(m->ps, "encoder.weight", SSM_GROUP_DEFAULT, SSM_DIMS(H, cfg->d_input));
        m->enc_b = ssm_params_add(m->ps, "encoder.bias", SSM_GROUP_DEFAULT, SSM_DIMS(H));
    }
    m->layers = calloc((size_t)n, sizeof *m->layers);
    m->norm_w = calloc((size_t)n, sizeof *m->norm_w);
    m->norm_b = calloc((size_t)n, sizeof *m->norm_b);
    m->bn_mean = calloc((size_t)n, sizeof *m->bn_mean);
    m->bn_var = calloc((size_t)n, sizeof *m->bn_var);
    char name[64];
    for (int64_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "layers.%lld.", (long long)i);
        m->layers[i] = ops->create(&cfg->lcfg, m->ps, name);
        if (!m->layers[i]) {
            ssm_model_free(m);
            return NULL;
        }
        snprintf(name, sizeof name, "norms.%lld.weight", (long long)i);
        m->norm_w[i] = ssm_params_add(m->ps, name, SSM_GROUP_DEFAULT, SSM_DIMS(H));
        if (cfg->norm != SSM_NORM_RMS) {
            snprintf(name, sizeof name, "norms.%lld.bias", (long long)i);
            m->norm_b[i] = ssm_params_add(m->ps, name, SSM_GROUP_DEFAULT, SSM_DIMS(H));
        }
        if (cfg->norm == SSM_NORM_BATCH) {
            m->bn_mean[i] = ssm_tensor_new(dt, dev, SSM_DIMS(H));
            m->bn_var[i] = ssm_tensor_new(dt, dev, SSM_DIMS(H));
        }
    }
    if (cfg->retrieval) { /* S4's RetrievalHead with d_model = d_input = H */
        m->head_W = ssm_params_add(m->ps, "decoder.retrieval.classifier.0.weight", SSM_GROUP_DEFAULT,
                                   SSM_DIMS(H, 4 * H));
        m->head_b = ssm_params_add(m->ps, "decoder.retrieval.classifier.0.bias", SSM_GROUP_DEFAULT,
                                   SSM_DIMS(H));
    }
    const char *dw = cfg->retrieval ? "decoder.retrieval.classifier.2.weight" : "decoder.weight";
    const char *db = cfg->retrieval ? "decoder.retrieval.classifier.2.bias" : "decoder.bias";
    m->dec_W = ssm_params_add(m->ps, dw, SSM_GROUP_DEFAULT, SSM_DIMS(cfg->d_output, H));
    m->dec_b = ssm_params_add(m->ps, db, SSM_GROUP_DEFAULT, SSM_DIMS(cfg->d_output));
    ssm_params_finalize(m->ps);
    return m;
}

void ssm_model_init(ssm_model *m, uint64_t seed) {
    if (m->lm) {
        ssm_mamba_lm_init(m->lm, seed);
        return;
    }
    ssm_rng r = {seed, 0};
    int64_t H = m->cfg.lcfg.d_model;
    if (m->cfg.embedding) {
        ssm_param_normal(m->enc_W, &r, 0.0, 1.0); /* nn.Embedding */
    } else {
        ssm_param_uniform(m->enc_W, &r, -1 / sqrt((double)m->cfg.d_input), 1 / sqrt((double)m->cfg.d_input));
        ssm_param_uniform(m->enc_b, &r, -1 / sqrt((double)m->cfg.d_input), 1 / sqrt((double)m->cfg.d_input));
    }
    for (int64_t i = 0; i < m->cfg.n_layers; i++) {
        /* each layer draws from its own counter range: adding a layer keeps the others */
        ssm_rng lr = {seed, ((uint64_t)(i + 1)) << 40};
        m->ops->init(m->layers[i], &lr);
        ssm_tensor_fill(m->norm_w[i], 1.0);
        if (m->norm_b[i]) ssm_tensor_fill(m->norm_b[i], 0.0);
        if (m->bn_mean[i]) {
            ssm_tensor_fill(m->bn_mean[i], 0.0);
            ssm_tensor_fill(m->bn_var[i], 1.0);
        }
    }
    if (m->head_W) { /* nn.Linear's default: U(+-1/sqrt(fan_in)) */
        double a = 1 / sqrt(4.0 * (double)H);
        ssm_param_uniform(m->head_W, &r, -a, a);
        ssm_param_uniform(m->head_b, &r, -a, a);
    }
    ssm_param_uniform(m->dec_W, &r, -1 / sqrt((double)H), 1 / sqrt((double)H));
    ssm_param_uniform(m->dec_b, &r, -1 / sqrt((double)H), 1 / sqrt((double)H));
}

void ssm_model_free(ssm_model *m) {
    if (!m) return;
    if (m->lm) {
        ssm_mamba_lm_free(m->lm);
        free(m);
        return;
    }
    for (int64_t i = 0; i < m->cfg.n_layers; i++) {
        if (m->layers && m->layers[i]) m->ops->destroy(m->layers[i]);
        if (m->bn_mean) ssm_tensor_free(m->bn_mean[i]);
        if (m->bn_var) ssm_tensor_free(m->bn_var[i]);
    }
    free(m->layers);
    free(m->norm_w);
    free(m->norm_b);
    free(m->bn_mean);
    free(m->bn_var);
    ssm_params_free(m->ps);
    free(m);
}

static ssm_tensor *norm(ssm_ctx *c, ssm_model *m, int64_t i, ssm_tensor *x) {
    switch (m->cfg.norm) {
    case SSM_NORM_LAYER: return ssm_layernorm(c, x, m->norm_w[i], m->norm_b[i], 1e-5);
    case SSM_NORM_RMS: return ssm_rmsnorm(c, x, m->norm_w[i], 1e-5);
    case SSM_NORM_BATCH:
        return ssm_batchnorm(c, x, m->norm_w[i], m->norm_b[i], m->bn_mean[i], m->bn_var[i], 1e-5,
                             m->cfg.bn_momentum > 0 ? m->cfg.bn_momentum : 0.1);
    }
    return x;
}

/* S4's RetrievalHead: pooled rows [2B, H], documents of pair b at rows 2b and 2b + 1
 * (the trainer's batch layout; S4 stacks all first documents, then all second ones). */
static ssm_tensor *retrieval_head(ssm_ctx *c, ssm_model *m, ssm_tensor *h) {
    int64_t R = h->shape[0], H = h->shape[1], B = R / 2;
    SSM_CHECK(R % 2 == 0, "model: the retrieval decoder needs document pairs, got %lld rows",
              (long long)R);
    ssm_tensor *pair = ssm_reshape(c, h, SSM_DIMS(B, 2, H));
    ssm_tensor *x1 = ssm_reshape(c, ssm_slice(c, pair, 1, 0, 1), SSM_DIMS(B, H));
    ssm_tensor *x2 = ssm_reshape(c, ssm_slice(c, pair, 1, 1, 1), SSM_DIMS(B, H));
    ssm_tensor *f[4] = {x1, x2, ssm_sub(c, x1, x2), ssm_mul(c, x1, x2)};
    ssm_tensor *z = ssm_linear(c, ssm_concat(c, f, 4, 1), m->head_W, m->head_b);
    z = m->cfg.retrieval_gelu ? ssm_gelu(c, z) : ssm_relu(c, z);
    return ssm_linear(c, z, m->dec_W, m->dec_b);
}

ssm_tensor *ssm_model_forward(ssm_ctx *c, ssm_model *m, ssm_tensor *x, ssm_tensor *pool_w) {
    if (m->lm) {
        SSM_CHECK(!pool_w, "model: the Mamba LM has no pooling");
        return ssm_mamba_lm_forward(c, m->lm, x);
    }
    ssm_tensor *h = m->cfg.embedding ? ssm_embedding(c, m->enc_W, x)
                                     : ssm_linear(c, x, m->enc_W, m->enc_b);
    for (int64_t i = 0; i < m->cfg.n_layers; i++) {
        ssm_tensor *z = m->cfg.prenorm ? norm(c, m, i, h) : h;
        z = m->ops->forward(c, m->layers[i], z);
        if (m->cfg.residual && !m->cfg.tie_dropout) { /* one pass: dropout(z) + h */
            h = ssm_dropout_add(c, z, m->cfg.dropout, h);
        } else {
            z = m->cfg.tie_dropout ? ssm_dropout_tied(c, z, m->cfg.dropout)
                                   : ssm_dropout(c, z, m->cfg.dropout);
            h = m->cfg.residual ? ssm_add(c, z, h) : z;
        }
        if (!m->cfg.prenorm) h = norm(c, m, i, h);
    }
    if (pool_w) {
        int64_t B = h->shape[0], H = h->shape[2];
        SSM_CHECK(pool_w->ndim == 3 && pool_w->shape[0] == B && pool_w->shape[1] == 1 &&
                      pool_w->shape[2] == h->shape[1],
                  "model: pooling weights must be [B, 1, L]");
        h = ssm_reshape(c, ssm_matmul(c, pool_w, h), SSM_DIMS(B, H));
    }
    if (m->cfg.retrieval) {
        SSM_CHECK(pool_w, "model: the retrieval decoder needs pooling weights");
        return retrieval_head(c, m, h);
    }
    return ssm_linear(c, h, m->dec_W, m->dec_b);
}

int ssm_model_n_buffers(const ssm_model *m) {
    return !m->lm && m->cfg.norm == SSM_NORM_BATCH ? (int)(2 * m->cfg.n_layers) : 0;
}

ssm_tensor *ssm_model_buffer(const ssm_model *m, int i, char *name, size_t n) {
    int layer = i / 2, var = i % 2;
    snprintf(name, n, "norms.%d.%s", layer, var ? "running_var" : "running_mean");
    return var ? m->bn_var[layer] : m->bn_mean[layer];
}

struct ssm_model_state {
    ssm_model *m;
    ssm_mamba_lm_state *lm;
    void **layer; /* one state per block */
};

ssm_model_state *ssm_model_state_alloc(ssm_model *m, int64_t batch) {
    if (!m->lm && (m->cfg.pool != SSM_POOL_NONE || m->cfg.retrieval)) {
        ssm_error("model: a pooled (classification) model has no step mode: it predicts once per "
                  "sequence, not per position");
        return NULL;
    }
    if (!m->lm && m->cfg.lcfg.bidirectional) {
        ssm_error("model: a bidirectional %s layer sees future positions: no step mode", m->cfg.layer);
        return NULL;
    }
    ssm_model_state *st = calloc(1, sizeof *st);
    SSM_CHECK(st, "model: out of memory");
    st->m = m;
    if (m->lm) {
        st->lm = ssm_mamba_lm_state_alloc(m->lm, batch);
        return st;
    }
    st->layer = calloc((size_t)m->cfg.n_layers, sizeof *st->layer);
    SSM_CHECK(st->layer, "model: out of memory");
    for (int64_t i = 0; i < m->cfg.n_layers; i++) st->layer[i] = m->ops->state_alloc(m->layers[i], batch);
    return st;
}

void ssm_model_state_free(ssm_model_state *st) {
    if (!st) return;
    ssm_mamba_lm_state_free(st->lm);
    for (int64_t i = 0; st->layer && i < st->m->cfg.n_layers; i++) st->m->ops->state_free(st->layer[i]);
    free(st->layer);
    free(st);
}

/* the block's norm on one position: as a sequence of length 1 (BatchNorm needs [B, L, H]) */
static ssm_tensor *norm_step(ssm_ctx *c, ssm_model *m, int64_t i, ssm_tensor *h) {
    int64_t B = h->shape[0], H = h->shape[1];
    return ssm_reshape(c, norm(c, m, i, ssm_reshape(c, h, SSM_DIMS(B, 1, H))), SSM_DIMS(B, H));
}

ssm_tensor *ssm_model_step(ssm_ctx *c, ssm_model *m, ssm_model_state *st, ssm_tensor *x_t) {
    if (m->lm) return ssm_mamba_lm_step(c, m->lm, st->lm, x_t);
    int saved = ssm_no_grad_begin(c), training = c->training;
    c->training = 0;
    ssm_tensor *h = m->cfg.embedding ? ssm_embedding(c, m->enc_W, x_t)
                                     : ssm_linear(c, x_t, m->enc_W, m->enc_b);
    for (int64_t i = 0; i < m->cfg.n_layers; i++) {
        ssm_tensor *z = m->cfg.prenorm ? norm_step(c, m, i, h) : h;
        z = m->ops->step(c, m->layers[i], st->layer[i], z);
        h = m->cfg.residual ? ssm_add(c, z, h) : z;
        if (!m->cfg.prenorm) h = norm_step(c, m, i, h);
    }
    h = ssm_linear(c, h, m->dec_W, m->dec_b);
    c->training = training;
    ssm_no_grad_end(c, saved);
    return h;
}
