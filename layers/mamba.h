/* Mamba: the selective state-space block of Gu & Dao 2023, as the official
 * state-spaces/mamba mamba_ssm/modules/mamba_simple.py (class Mamba, the path
 * without fused CUDA kernels: selective_scan_ref, nn.Conv1d, the PyTorch step()).
 *
 *   x [B, L, d_model] -> in_proj -> (x, z) -> causal depthwise conv1d -> SiLU
 *     -> x_proj -> (dt [dt_rank], B [d_state], C [d_state]) -> dt = dt_proj.weight dt
 *     -> selective scan (A = -exp(A_log), delta_bias = dt_proj.bias inside the softplus,
 *        D skip, y * SiLU(z)) -> out_proj -> [B, L, d_model]
 *
 * Parameters (official state_dict names under `prefix`): in_proj.weight (2 d_inner,
 * d_model) [+ in_proj.bias], conv1d.weight (d_inner, 1, d_conv), conv1d.bias (d_inner),
 * x_proj.weight (dt_rank + 2 d_state, d_inner), dt_proj.weight (d_inner, dt_rank),
 * dt_proj.bias (d_inner), A_log (d_inner, d_state), D (d_inner), out_proj.weight
 * (d_model, d_inner) [+ out_proj.bias]. A_log and D go to the SSM optimizer group (the
 * official code marks them _no_weight_decay); everything else to the default group.
 *
 * Step mode (recurrent inference) keeps conv_state (B, d_inner, d_conv), a shift
 * register of the last d_conv pre-convolution inputs (newest last), and ssm_state
 * (B, d_inner, d_state), as allocate_inference_cache() and step(). */
#ifndef SSM_MAMBA_H
#define SSM_MAMBA_H
#include "init.h"
#include "params.h"
#include "tape.h"

typedef struct {
    int64_t d_model;
    int64_t d_state;       /* N (default 16) */
    int64_t d_conv;        /* convolution width (default 4) */
    int64_t expand;        /* d_inner = expand * d_model (default 2) */
    int64_t dt_rank;       /* 0 = ceil(d_model / 16) */
    double dt_min, dt_max; /* Δ log-uniform in [dt_min, dt_max] (1e-3, 1e-1) */
    double dt_init_floor;  /* Δ clamped below at this (1e-4) */
    double dt_scale;       /* dt_proj.weight ~ U(±dt_scale dt_rank^-1/2) (1) */
    int conv_bias;         /* conv1d.bias (default 1) */
    int bias;              /* in_proj.bias and out_proj.bias (default 0) */
    int64_t chunk;         /* scan chunk: states saved every `chunk` steps (0 = default) */
} ssm_mamba_config;

ssm_mamba_config ssm_mamba_defaults(int64_t d_model);

typedef struct {
    ssm_mamba_config cfg;
    int64_t d_inner, dt_rank;
    ssm_tensor *in_proj_w, *in_proj_b, *conv_w, *conv_b, *x_proj_w, *dt_proj_w, *dt_proj_b;
    ssm_tensor *A_log, *D, *out_proj_w, *out_proj_b;
} ssm_mamba;

/* Register the parameters (before ssm_params_finalize). */
void ssm_mamba_declare(ssm_mamba *m, const ssm_mamba_config *cfg, ssm_params *ps,
                       const char *prefix);
/* Official initialisation (after finalize): PyTorch defaults for in_proj, conv1d, x_proj,
 * out_proj; dt_proj.weight ~ U(±dt_scale dt_rank^-1/2); dt_proj.bias = softplus^-1(Δ),
 * Δ = max(exp(U(log dt_min, log dt_max)), dt_init_floor); A_log[d, n] = log(n + 1); D = 1. */
void ssm_mamba_init(ssm_mamba *m, ssm_rng *r);

/* x [B, L, d_model] -> [B, L, d_model] (parallel mode). */
ssm_tensor *ssm_mamba_forward(ssm_ctx *c, ssm_mamba *m, ssm_tensor *x);

typedef struct {
    ssm_tensor *conv_state; /* [batch, d_inner, d_conv] */
    ssm_tensor *ssm_state;  /* [batch, d_inner, d_state] */
} ssm_mamba_state;
/* Zero states for `batch` sequences (persistent tensors of the parameters' dtype/device). */
ssm_mamba_state *ssm_mamba_state_alloc(ssm_mamba *m, int64_t batch);
void ssm_mamba_state_free(ssm_mamba_state *st);
void ssm_mamba_state_reset(ssm_mamba_state *st);
/* Prefill: the parallel forward over x [B, L, d_model] that also leaves in st the states
 * after its last token (conv_state: the last d_conv pre-convolution inputs, zeros on the
 * left when L < d_conv; ssm_state: the scan's last state), as forward() with
 * inference_params at seqlen_offset 0. Differentiable; the states are plain copies. */
ssm_tensor *ssm_mamba_prefill(ssm_ctx *c, ssm_mamba *m, ssm_mamba_state *st, ssm_tensor *x);
/* One token: x_t [B, d_model] -> y_t [B, d_model], updating st (records nothing). */
ssm_tensor *ssm_mamba_step(ssm_ctx *c, ssm_mamba *m, ssm_mamba_state *st, ssm_tensor *x_t);

#endif
