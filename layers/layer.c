/* The registry of layer types and their adapters to the common interface. */
#include "layer.h"
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mamba.h"
#include "s4.h"
#include "s4d.h"
#include "s5.h"

static void *s4d_create(const ssm_layer_config *cfg, ssm_params *ps, const char *prefix) {
    if (cfg->init == SSM_INIT_LEGS) {
        ssm_error("layer s4d: init must be lin, inv or real (legs is S4's DPLR init)");
        return NULL;
    }
    ssm_s4d *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "s4d: out of memory");
    ssm_s4d_config c = ssm_s4d_defaults(cfg->d_model);
    c.d_state = cfg->d_state;
    c.dt_min = cfg->dt_min;
    c.dt_max = cfg->dt_max;
    c.init = cfg->init;
    c.disc = cfg->disc;
    c.dropout = cfg->dropout;
    c.tie_dropout = cfg->tie_dropout;
    c.bidirectional = cfg->bidirectional;
    c.dt_place = cfg->dt_place;
    ssm_s4d_declare(m, &c, ps, prefix);
    return m;
}

static void s4d_init(void *self, ssm_rng *r) { ssm_s4d_init(self, r); }
static ssm_tensor *s4d_forward(ssm_ctx *c, void *self, ssm_tensor *x) {
    return ssm_s4d_forward(c, self, x);
}
static void *s4d_state_alloc(void *self, int64_t batch) { return ssm_s4d_state_alloc(self, batch); }
static ssm_tensor *s4d_step(ssm_ctx *c, void *self, void *st, ssm_tensor *x) {
    return ssm_s4d_step(c, self, st, x);
}
static void s4d_state_free(void *st) { ssm_s4d_state_free(st); }

static const ssm_layer_ops s4d_ops = {"s4d", s4d_create, s4d_init, s4d_forward, s4d_state_alloc,
                                      s4d_step, s4d_state_free, free};

static void *s4_create(const ssm_layer_config *cfg, ssm_params *ps, const char *prefix) {
    if (cfg->init != SSM_INIT_LEGS || cfg->disc != 1) {
        ssm_error("layer s4: the DPLR kernel needs init = legs and discretization = bilinear");
        return NULL;
    }
    if (cfg->l_max < 1) {
        ssm_error("layer s4: the maximum sequence length (l_max) is unknown");
        return NULL;
    }
    ssm_s4 *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "s4: out of memory");
    ssm_s4_config c = ssm_s4_defaults(cfg->d_model, cfg->l_max);
    c.d_state = cfg->d_state;
    c.dt_min = cfg->dt_min;
    c.dt_max = cfg->dt_max;
    c.dropout = cfg->dropout;
    c.tie_dropout = cfg->tie_dropout;
    c.bidirectional = cfg->bidirectional;
    c.dt_place = cfg->dt_place;
    c.b_place = cfg->b_place;
    ssm_s4_declare(m, &c, ps, prefix);
    return m;
}

static void s4_init(void *self, ssm_rng *r) {
    SSM_CHECK(ssm_s4_init(self, r) == SSM_OK, "%s", ssm_last_error());
}
static ssm_tensor *s4_forward(ssm_ctx *c, void *self, ssm_tensor *x) {
    return ssm_s4_forward(c, self, x);
}
static void *s4_state_alloc(void *self, int64_t batch) { return ssm_s4_state_alloc(self, batch); }
static ssm_tensor *s4_step(ssm_ctx *c, void *self, void *st, ssm_tensor *x) {
    return ssm_s4_step(c, self, st, x, 1);
}
static void s4_state_free(void *st) { ssm_s4_state_free(st); }

static const ssm_layer_ops s4_ops = {"s4", s4_create, s4_init, s4_forward, s4_state_alloc,
                                     s4_step, s4_state_free, free};

static void *s5_create(const ssm_layer_config *cfg, ssm_params *ps, const char *prefix) {
    if (cfg->init != SSM_INIT_LEGS) {
        ssm_error("layer s5: init must be legs (block-diagonal HiPPO-N)");
        return NULL;
    }
    int64_t blocks = cfg->blocks > 0 ? cfg->blocks : 1;
    if (cfg->d_state < 2 || cfg->d_state % (2 * blocks)) {
        ssm_error("layer s5: d_state (%lld) must be a multiple of 2 * blocks (%lld)",
                  (long long)cfg->d_state, (long long)(2 * blocks));
        return NULL;
    }
    int act = cfg->activation[0] ? ssm_s5_activation_parse(cfg->activation) : SSM_S5_ACT_HALF_GLU1;
    if (act < 0) {
        ssm_error("layer s5: unknown activation '%s' (expected gelu, full_glu, half_glu1 or "
                  "half_glu2)", cfg->activation);
        return NULL;
    }
    ssm_s5_layer_config c = {.ssm = ssm_s5_defaults(cfg->d_model),
                             .activation = (ssm_s5_activation)act,
                             .dropout = cfg->dropout,
                             .tie_dropout = cfg->tie_dropout};
    c.ssm.d_state = cfg->d_state;
    c.ssm.blocks = blocks;
    c.ssm.disc = cfg->disc;
    c.ssm.bidirectional = cfg->bidirectional;
    c.ssm.dt_min = cfg->dt_min;
    c.ssm.dt_max = cfg->dt_max;
    c.ssm.dt_place = cfg->dt_place;
    c.ssm.b_place = cfg->b_place;
    c.ssm.c_init = (ssm_s5_c_init)cfg->c_init;
    c.ssm.clip_eigs = cfg->clip_eigs;
    ssm_s5_layer *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "s5: out of memory");
    ssm_s5_layer_declare(m, &c, ps, prefix);
    return m;
}

static void s5_init(void *self, ssm_rng *r) {
    SSM_CHECK(ssm_s5_layer_init(self, r) == SSM_OK, "%s", ssm_last_error());
}
static ssm_tensor *s5_forward(ssm_ctx *c, void *self, ssm_tensor *x) {
    return ssm_s5_layer_forward(c, self, x);
}
static void *s5_state_alloc(void *self, int64_t batch) {
    return ssm_s5_state_alloc(&((ssm_s5_layer *)self)->seq, batch);
}
static ssm_tensor *s5_step(ssm_ctx *c, void *self, void *st, ssm_tensor *x) {
    return ssm_s5_layer_step(c, self, st, x);
}
static void s5_state_free(void *st) { ssm_s5_state_free(st); }

static const ssm_layer_ops s5_ops = {"s5", s5_create, s5_init, s5_forward, s5_state_alloc,
                                     s5_step, s5_state_free, free};

static void *mamba_create(const ssm_layer_config *cfg, ssm_params *ps, const char *prefix) {
    if (cfg->bidirectional) {
        ssm_error("layer mamba: bidirectional is not implemented");
        return NULL;
    }
    if (cfg->expand < 1 || cfg->d_conv < 1 || cfg->dt_rank < 0) {
        ssm_error("layer mamba: expand and d_conv must be positive and dt_rank >= 0 (0 = auto)");
        return NULL;
    }
    if (cfg->d_state < 1 || cfg->d_state > SSM_SCAN_MAX_STATE) {
        ssm_error("layer mamba: d_state %lld must be in 1 .. %d", (long long)cfg->d_state,
                  SSM_SCAN_MAX_STATE);
        return NULL;
    }
    ssm_mamba *m = calloc(1, sizeof *m);
    SSM_CHECK(m, "mamba: out of memory");
    ssm_mamba_config c = ssm_mamba_defaults(cfg->d_model);
    c.d_state = cfg->d_state;
    c.expand = cfg->expand;
    c.d_conv = cfg->d_conv;
    c.dt_rank = cfg->dt_rank; /* 0: ceil(d_model / 16) */
    c.dt_min = cfg->dt_min;
    c.dt_max = cfg->dt_max;
    ssm_mamba_declare(m, &c, ps, prefix);
    return m;
}

static void mamba_init(void *self, ssm_rng *r) { ssm_mamba_init(self, r); }
static ssm_tensor *mamba_forward(ssm_ctx *c, void *self, ssm_tensor *x) {
    return ssm_mamba_forward(c, self, x);
}
static void *mamba_state_alloc(void *self, int64_t batch) {
    return ssm_mamba_state_alloc(self, batch);
}
static ssm_tensor *mamba_step(ssm_ctx *c, void *self, void *st, ssm_tensor *x) {
    return ssm_mamba_step(c, self, st, x);
}
static void mamba_state_free(void *st) { ssm_mamba_state_free(st); }

static const ssm_layer_ops mamba_ops = {"mamba", mamba_create, mamba_init, mamba_forward,
                                        mamba_state_alloc, mamba_step, mamba_state_free, free};

const ssm_layer_ops *ssm_layer_ops_for(const char *name) {
    if (!strcmp(name, "s4d")) return &s4d_ops;
    if (!strcmp(name, "s4")) return &s4_ops;
    if (!strcmp(name, "s5")) return &s5_ops;
    if (!strcmp(name, "mamba")) return &mamba_ops;
    ssm_error("unknown layer type '%s' (expected s4, s4d, s5 or mamba)", name);
    return NULL;
}
