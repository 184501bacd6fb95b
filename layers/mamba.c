#include "mamba.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"
#include "log.h"
#include "ops.h"

ssm_mamba_config ssm_mamba_defaults(int64_t d_model) {
    return (ssm_mamba_config){.d_model = d_model, .d_state = 16, .d_conv = 4, .expand = 2,
                              .dt_rank = 0, .dt_min = 1e-3, .dt_max = 1e-1,
                              .dt_init_floor = 1e-4, .dt_scale = 1.0, .conv_bias = 1, .bias = 0,
                              .chunk = 0};
}

static ssm_tensor *add(ssm_params *ps, const char *prefix, const char *name, int group, int ndim,
                       const int64_t *shape) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return ssm_params_add(ps, full, group, ndim, shape);
}

void ssm_mamba_declare(ssm_mamba *m, const ssm_mamba_config *cfg, ssm_params *ps,
                       const char *prefix) {
    SSM_CHECK(cfg->d_model >= 1 && cfg->expand >= 1 && cfg->d_conv >= 1 && cfg->dt_rank >= 0,
              "mamba: d_model, expand and d_conv must be positive, dt_rank >= 0");
    SSM_CHECK(cfg->d_state >= 1 && cfg->d_state <= SSM_SCAN_MAX_STATE,
              "mamba: d_state %lld (1 .. %d)", (long long)cfg->d_state, SSM_SCAN_MAX_STATE);
    m->cfg = *cfg;
    const int64_t H = cfg->d_model, Di = cfg->expand * H, N = cfg->d_state, K = cfg->d_conv;
    const int64_t R = cfg->dt_rank ? cfg->dt_rank : (H + 15) / 16;
    m->d_inner = Di;
    m->dt_rank = R;
    m->in_proj_w = add(ps, prefix, "in_proj.weight", SSM_GROUP_DEFAULT, SSM_DIMS(2 * Di, H));
    m->in_proj_b = cfg->bias ? add(ps, prefix, "in_proj.bias", SSM_GROUP_DEFAULT, SSM_DIMS(2 * Di))
                             : NULL;
    m->conv_w = add(ps, prefix, "conv1d.weight", SSM_GROUP_DEFAULT, SSM_DIMS(Di, 1, K));
    m->conv_b = cfg->conv_bias ? add(ps, prefix, "conv1d.bias", SSM_GROUP_DEFAULT, SSM_DIMS(Di))
                               : NULL;
    m->x_proj_w = add(ps, prefix, "x_proj.weight", SSM_GROUP_DEFAULT, SSM_DIMS(R + 2 * N, Di));
    m->dt_proj_w = add(ps, prefix, "dt_proj.weight", SSM_GROUP_DEFAULT, SSM_DIMS(Di, R));
    m->dt_proj_b = add(ps, prefix, "dt_proj.bias", SSM_GROUP_DEFAULT, SSM_DIMS(Di));
    m->A_log = add(ps, prefix, "A_log", SSM_GROUP_SSM, SSM_DIMS(Di, N));
    m->D = add(ps, prefix, "D", SSM_GROUP_SSM, SSM_DIMS(Di));
    m->out_proj_w = add(ps, prefix, "out_proj.weight", SSM_GROUP_DEFAULT, SSM_DIMS(H, Di));
    m->out_proj_b = cfg->bias ? add(ps, prefix, "out_proj.bias", SSM_GROUP_DEFAULT, SSM_DIMS(H))
                              : NULL;
}

/* PyTorch's default init for a weight or bias with this fan-in */
static void torch_default(ssm_tensor *p, ssm_rng *r, int64_t fan_in) {
    if (!p) return;
    double b = 1.0 / sqrt((double)fan_in);
    ssm_param_uniform(p, r, -b, b);
}

void ssm_mamba_init(ssm_mamba *m, ssm_rng *r) {
    const ssm_mamba_config *cfg = &m->cfg;
    const int64_t H = cfg->d_model, Di = m->d_inner, N = cfg->d_state, R = m->dt_rank;
    /* in the official module's order */
    torch_default(m->in_proj_w, r, H);
    torch_default(m->in_proj_b, r, H);
    torch_default(m->conv_w, r, cfg->d_conv); /* depthwise: fan_in = 1 * d_conv */
    torch_default(m->conv_b, r, cfg->d_conv);
    torch_default(m->x_proj_w, r, Di);
    double s = cfg->dt_scale / sqrt((double)R);
    ssm_param_uniform(m->dt_proj_w, r, -s, s);
    double *v = malloc(sizeof(double) * (size_t)(Di * N > Di ? Di * N : Di));
    SSM_CHECK(v, "mamba: out of memory");
    ssm_init_log_dt(r, v, Di, cfg->dt_min, cfg->dt_max);
    for (int64_t d = 0; d < Di; d++) {
        double dt = fmax(exp(v[d]), cfg->dt_init_floor);
        v[d] = dt + log(-expm1(-dt)); /* softplus^-1 */
    }
    ssm_tensor_from_f64(m->dt_proj_b, v);
    for (int64_t d = 0; d < Di; d++) /* S4D-Real: A = -(n + 1) */
        for (int64_t n = 0; n < N; n++) v[d * N + n] = log((double)(n + 1));
    ssm_tensor_from_f64(m->A_log, v);
    free(v);
    ssm_tensor_fill(m->D, 1.0);
    torch_default(m->out_proj_w, r, Di);
    torch_default(m->out_proj_b, r, Di);
}

/* The scan's states after the last token of the parallel pass: conv_state = the last
 * d_conv pre-convolution inputs xi [B, Di, L] (zeros first when L < d_conv), ssm_state =
 * last [B, Di, N]. Plain copies: recorded nowhere. */
static void keep_states(ssm_ctx *c, ssm_mamba *m, ssm_mamba_state *st, ssm_tensor *xi,
                        ssm_tensor *last) {
    const int64_t Bn = xi->shape[0], L = xi->shape[2], K = m->cfg.d_conv;
    SSM_CHECK(st->ssm_state->shape[0] == Bn, "mamba prefill: state for %lld sequences, input "
              "has %lld", (long long)st->ssm_state->shape[0], (long long)Bn);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *tail;
    if (L >= K) {
        tail = ssm_slice(c, xi, 2, L - K, K);
    } else {
        ssm_tensor *zeros = ssm_new_like_shape(c, xi, SSM_DIMS(Bn, m->d_inner, K - L));
        ssm_tensor_zero(zeros);
        tail = ssm_concat(c, (ssm_tensor *[]){zeros, xi}, 2, 2);
    }
    ssm_tensor_copy(st->conv_state, tail);
    ssm_tensor_copy(st->ssm_state, last);
    ssm_no_grad_end(c, saved);
}

static ssm_tensor *forward(ssm_ctx *c, ssm_mamba *m, ssm_tensor *x, ssm_mamba_state *st) {
    const int64_t H = m->cfg.d_model, Di = m->d_inner, N = m->cfg.d_state, R = m->dt_rank;
    SSM_CHECK(x->ndim == 3 && x->shape[2] == H, "mamba: input must be [B, L, %lld]",
              (long long)H);
    const int64_t L = x->shape[1];
    ssm_tensor *p[3], *last = NULL;
    /* Channels before time ([B, Di, L]) from in_proj on, as the official code: the GEMMs
     * write and read that layout through their transpose flags, so nothing is transposed. */
    ssm_tensor *bx = NULL, *bz = NULL;
    if (m->in_proj_b) {
        bx = ssm_slice(c, m->in_proj_b, 0, 0, Di);
        bz = ssm_slice(c, m->in_proj_b, 0, Di, Di);
    }
    ssm_tensor *xi = ssm_linear_cm(c, x, ssm_slice(c, m->in_proj_w, 0, 0, Di), NULL, 0, 1);
    ssm_tensor *z = ssm_linear_cm(c, x, ssm_slice(c, m->in_proj_w, 0, Di, Di), NULL, 0, 1);
    if (bx) { /* [B, Di, L] + bias[Di] along L */
        xi = ssm_add(c, xi, ssm_expand(c, bx, 1, L));
        z = ssm_add(c, z, ssm_expand(c, bz, 1, L));
    }
    ssm_tensor *w = ssm_reshape(c, m->conv_w, SSM_DIMS(Di, m->cfg.d_conv));
    ssm_tensor *xc = ssm_conv1d_causal(c, xi, w, m->conv_b, 1); /* SiLU fused */
    ssm_split(c, ssm_linear_cm(c, xc, m->x_proj_w, NULL, 1, 1), 1, 3, (int64_t[]){R, N, N}, p);
    ssm_tensor *dt = ssm_linear_cm(c, p[0], m->dt_proj_w, NULL, 1, 1); /* bias: in the scan */
    ssm_tensor *A = ssm_scale(c, ssm_exp(c, m->A_log), -1.0);
    ssm_tensor *y = ssm_selective_scan(c, xc, dt, A, p[1], p[2], m->D, z, m->dt_proj_b,
                                       st ? &last : NULL, m->cfg.chunk);
    if (st) keep_states(c, m, st, xi, last);
    return ssm_linear_cm(c, y, m->out_proj_w, m->out_proj_b, 1, 0);
}

ssm_tensor *ssm_mamba_forward(ssm_ctx *c, ssm_mamba *m, ssm_tensor *x) {
    return forward(c, m, x, NULL);
}

ssm_tensor *ssm_mamba_prefill(ssm_ctx *c, ssm_mamba *m, ssm_mamba_state *st, ssm_tensor *x) {
    return forward(c, m, x, st);
}

ssm_mamba_state *ssm_mamba_state_alloc(ssm_mamba *m, int64_t batch) {
    ssm_mamba_state *st = calloc(1, sizeof *st);
    SSM_CHECK(st, "mamba: out of memory");
    ssm_dtype dt = m->A_log->dtype;
    ssm_device dev = m->A_log->device;
    st->conv_state = ssm_tensor_new(dt, dev, SSM_DIMS(batch, m->d_inner, m->cfg.d_conv));
    st->ssm_state = ssm_tensor_new(dt, dev, SSM_DIMS(batch, m->d_inner, m->cfg.d_state));
    ssm_mamba_state_reset(st);
    return st;
}

void ssm_mamba_state_reset(ssm_mamba_state *st) {
    ssm_tensor_zero(st->conv_state);
    ssm_tensor_zero(st->ssm_state);
}

void ssm_mamba_state_free(ssm_mamba_state *st) {
    if (!st) return;
    ssm_tensor_free(st->conv_state);
    ssm_tensor_free(st->ssm_state);
    free(st);
}

ssm_tensor *ssm_mamba_step(ssm_ctx *c, ssm_mamba *m, ssm_mamba_state *st, ssm_tensor *x_t) {
    const int64_t Bn = st->ssm_state->shape[0], H = m->cfg.d_model, Di = m->d_inner;
    const int64_t N = m->cfg.d_state, R = m->dt_rank, K = m->cfg.d_conv;
    SSM_CHECK(x_t->ndim == 2 && x_t->shape[0] == Bn && x_t->shape[1] == H,
              "mamba step: input must be [%lld, %lld]", (long long)Bn, (long long)H);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *p[3];
    ssm_split(c, ssm_linear(c, x_t, m->in_proj_w, m->in_proj_b), 1, 2, (int64_t[]){Di, Di}, p);
    ssm_tensor *xi = p[0], *z = p[1]; /* [B, Di] */
    /* convolution: shift the register left, the new input enters last */
    ssm_tensor *col = ssm_reshape(c, xi, SSM_DIMS(Bn, Di, 1));
    ssm_tensor *win = K == 1 ? col
                             : ssm_concat(c, (ssm_tensor *[]){ssm_slice(c, st->conv_state, 2, 1,
                                                                        K - 1), col}, 2, 2);
    ssm_tensor_copy(st->conv_state, win);
    ssm_tensor *w = ssm_reshape(c, m->conv_w, SSM_DIMS(Di, K));
    ssm_tensor *xc = ssm_sum(c, ssm_mul(c, win, w), 2, 0);
    if (m->conv_b) xc = ssm_add(c, xc, m->conv_b);
    xc = ssm_silu(c, xc);
    ssm_split(c, ssm_linear(c, xc, m->x_proj_w, NULL), 1, 3, (int64_t[]){R, N, N}, p);
    ssm_tensor *dt = ssm_softplus(c, ssm_add(c, ssm_linear(c, p[0], m->dt_proj_w, NULL),
                                             m->dt_proj_b));
    /* x <- exp(dt A) x + dt B u;  y = C x + D u, gated by SiLU(z) */
    ssm_tensor *A = ssm_scale(c, ssm_exp(c, m->A_log), -1.0);
    ssm_tensor *dtN = ssm_expand(c, dt, 2, N); /* [B, Di, N] */
    ssm_tensor *dA = ssm_exp(c, ssm_mul(c, dtN, A));
    ssm_tensor *dB = ssm_mul(c, dtN, ssm_expand(c, p[1], 1, Di));
    ssm_tensor *s = ssm_add(c, ssm_mul(c, st->ssm_state, dA),
                            ssm_mul(c, ssm_expand(c, xc, 2, N), dB));
    ssm_tensor_copy(st->ssm_state, s);
    ssm_tensor *y = ssm_sum(c, ssm_mul(c, s, ssm_expand(c, p[2], 1, Di)), 2, 0);
    y = ssm_mul(c, ssm_add(c, y, ssm_mul(c, xc, m->D)), ssm_silu(c, z));
    y = ssm_linear(c, y, m->out_proj_w, m->out_proj_b);
    ssm_no_grad_end(c, saved);
    return y;
}
