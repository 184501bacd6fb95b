/* The sequence-layer interface: every layer type (S4, S4D, S5, Mamba) maps
 * x [B, L, H] -> y [B, L, H] in parallel (training) mode and x_t [B, H] -> y_t
 * in recurrent (step) mode, behind one table of functions, so the sequence
 * model and the trainer never switch on the layer type. */
#ifndef SSM_LAYER_H
#define SSM_LAYER_H
#include "init.h"
#include "params.h"
#include "tape.h"

typedef struct {
    int64_t d_model;       /* H */
    int64_t d_state;       /* N */
    double dt_min, dt_max;
    ssm_init_kind init;
    int disc;              /* 0 ZOH, 1 bilinear */
    int bidirectional;
    int64_t expand, d_conv, dt_rank; /* Mamba */
    int64_t l_max;         /* S4: the longest sequence (its C~ is set up for it) */
    int64_t blocks;        /* S5: HiPPO-N blocks of the initial A (0 = 1) */
    char activation[16];   /* S5: "gelu", "full_glu", "half_glu1", "half_glu2" as the official
                            * SequenceLayer ("" = half_glu1, the official default) */
    double dropout;
    int tie_dropout;       /* s4, s4d, s5: the dropout mask is shared along L */
    ssm_param_place dt_place; /* s4, s4d, s5: optimizer group of the step size (default SSM) */
    ssm_param_place b_place;  /* s4, s5: optimizer group of B (default SSM) */
    int c_init;            /* s5: ssm_s5_c_init (0 = trunc_standard_normal, the official default) */
    int clip_eigs;         /* s5: clip Re Λ to at most -1e-4 */
} ssm_layer_config;

typedef struct ssm_layer_ops {
    const char *name;
    /* Register parameters under prefix; returns the layer (NULL + ssm_error if the
     * configuration is not supported). */
    void *(*create)(const ssm_layer_config *cfg, ssm_params *ps, const char *prefix);
    void (*init)(void *self, ssm_rng *r);
    ssm_tensor *(*forward)(ssm_ctx *c, void *self, ssm_tensor *x);
    void *(*state_alloc)(void *self, int64_t batch);
    ssm_tensor *(*step)(ssm_ctx *c, void *self, void *state, ssm_tensor *x_t);
    void (*state_free)(void *state);
    void (*destroy)(void *self);
} ssm_layer_ops;

/* "s4", "s4d", "s5", "mamba"; NULL (and ssm_error) when unknown or not built yet. */
const ssm_layer_ops *ssm_layer_ops_for(const char *name);

#endif
