/* S5: the simplified state-space layer of Smith, Warrington & Linderman 2023,
 * as the official lindermanlab/S5 s5/ssm.py (S5SSM) and s5/layers.py
 * (SequenceLayer), with conjugate symmetry (conj_sym = True) and C_init
 * "trunc_standard_normal" (the official defaults).
 *
 * The SSM (ssm_s5) is a MIMO diagonal system with P2 = P/2 stored complex modes
 * (their conjugates are implicit):
 *   Λ = Lambda_re + i Lambda_im, Δ = exp(log_step), per mode
 *   ZOH:      Λ̄ = exp(ΛΔ),                    B̄ = (Λ̄ − 1)/Λ · B̃
 *   bilinear: Λ̄ = (1 + ΔΛ/2)/(1 − ΔΛ/2),     B̄ = Δ/(1 − ΔΛ/2) · B̃
 *   x_k = Λ̄ x_{k−1} + B̄ u_k,  y_k = 2 Re(C̃ x_k) + D ⊙ u_k
 * Bidirectional: a second scan over the same B̄u read backwards
 * (x'_k = Λ̄ x'_{k+1} + B̄ u_k) and y = 2 Re(C̃1 x_k + C̃2 x'_k) + D ⊙ u.
 * B̄u and the output are GEMMs over interleaved (re, im) columns; the
 * recurrence is the fused s5_scan op (kernels.h: s5_scan_fwd/bwd).
 *
 * Parameters (official flax names under `prefix`): Lambda_re, Lambda_im (P2),
 * B (P2, H, 2) = B̃, C (H, P2, 2) = C̃ (bidirectional: C1, C2), D (H),
 * log_step (P2, 1). Lambda_re, Lambda_im, B and log_step go to the SSM optimizer
 * group (the official ssm_lr, no weight decay; cfg.b_place and cfg.dt_place move B and
 * log_step as the official opt_config and dt_global); C and D are regular parameters.
 *
 * Initialisation (s5/ssm_init.py and the block-diagonal setup of s5/train.py):
 * the normal part S = A + P Pᵀ of HiPPO-LegS of size P/J is diagonalised
 * (S = V Λ V*, LAPACK zheev as layers/hippo.c), the P/(2J) modes with negative
 * imaginary part are kept and repeated on J diagonal blocks; B̃ = V⁻¹B with B
 * (P, H) lecun_normal, C̃ = C V with C (H, P) complex, each part lecun_normal
 * over P (cfg.c_init: the other C_init options), D ~ N(0, 1), log Δ uniform in
 * [log dt_min, log dt_max] per mode. clip_eigs (official: np.clip(Lambda_re, None, -1e-4))
 * clips Re Λ in the forward; a clipped mode gets no gradient on Lambda_re. */
#ifndef SSM_S5_H
#define SSM_S5_H
#include "init.h"
#include "params.h"
#include "tape.h"

/* C_init of the official code: C (H, P) complex with each part lecun_normal over P per
 * channel (trunc_standard_normal, the default), or over P x H for the whole matrix
 * (lecun_normal: jax counts the H rows as receptive field), then C~ = C V; or C~ itself
 * complex normal, each part N(0, 1/2) (complex_normal, no V). */
typedef enum { SSM_S5_C_TRUNC_STANDARD = 0, SSM_S5_C_LECUN, SSM_S5_C_COMPLEX } ssm_s5_c_init;

typedef struct {
    int64_t d_model;       /* H */
    int64_t d_state;       /* P: the full state size; P/2 complex modes are stored */
    int64_t blocks;        /* J HiPPO-N blocks on the diagonal of the initial A (P/J even) */
    int disc;              /* 0 ZOH (default), 1 bilinear */
    int bidirectional;
    double dt_min, dt_max; /* Δ log-uniform in [dt_min, dt_max] */
    ssm_param_place dt_place, b_place; /* optimizer groups of log_step and B (default: SSM) */
    ssm_s5_c_init c_init;
    int clip_eigs;         /* use min(Lambda_re, -1e-4): Re Λ stays in the left half-plane */
} ssm_s5_config;

ssm_s5_config ssm_s5_defaults(int64_t d_model);

typedef struct {
    ssm_s5_config cfg;
    ssm_tensor *Lambda_re, *Lambda_im, *B, *C, *C2, *D, *log_step; /* C2 when bidirectional (C = C1) */
} ssm_s5;

/* Register the parameters (before ssm_params_finalize); aborts on a bad config
 * (d_state must be a multiple of 2 * blocks). */
void ssm_s5_declare(ssm_s5 *m, const ssm_s5_config *cfg, ssm_params *ps, const char *prefix);
/* Official initialisation (after finalize). SSM_OK, or SSM_ERR if LAPACK fails. */
int ssm_s5_init(ssm_s5 *m, ssm_rng *r);

/* The HiPPO-N block-diagonal modes: Lambda (P/2 complex) and V (P x P/2 complex,
 * row-major, block-diagonal with J blocks of (P/J) x (P/(2J))), 2 Re(V diag(Λ) V*) =
 * the block-diagonal normal part of HiPPO-LegS. SSM_OK or SSM_ERR. */
int ssm_s5_hippo_n(int64_t P, int64_t blocks, double *Lambda, double *V);

/* The discretised system: Lambda_bar [P2, 2], B_bar [P2, H, 2] (differentiable). */
void ssm_s5_discretise(ssm_ctx *c, ssm_s5 *m, ssm_tensor **Lambda_bar, ssm_tensor **B_bar);
/* u [B, L, H] -> y [B, L, H] (parallel mode). */
ssm_tensor *ssm_s5_forward(ssm_ctx *c, ssm_s5 *m, ssm_tensor *u);

/* Recurrent mode (unidirectional only): the discretised system from the current
 * parameters and a zero state for `batch` sequences. Call again after the
 * parameters change. NULL (and ssm_error) for a bidirectional SSM. */
typedef struct {
    ssm_tensor *Lambda_bar; /* [P2, 2] */
    ssm_tensor *WB;         /* [2 P2, H]: B̄ with interleaved (re, im) rows */
    ssm_tensor *WC;         /* [H, 2 P2]: (2 Re C̃, −2 Im C̃) */
    ssm_tensor *x;          /* [batch, P2, 2] */
} ssm_s5_state;
ssm_s5_state *ssm_s5_state_alloc(ssm_s5 *m, int64_t batch);
void ssm_s5_state_free(ssm_s5_state *st);
/* One token: u_t [B, H] -> y_t [B, H] (records nothing). */
ssm_tensor *ssm_s5_step(ssm_ctx *c, ssm_s5 *m, ssm_s5_state *st, ssm_tensor *u_t);

/* --- the sequence layer (official s5/layers.py SequenceLayer without its norm,
 * residual and final dropout, which the sequence model applies) ---
 *   gelu:      y = gelu(ssm(x))
 *   full_glu:  g = dropout(gelu(ssm(x))),  y = out1(g) ⊙ σ(out2(g))
 *   half_glu1: g = dropout(gelu(ssm(x))),  y = g ⊙ σ(out2(g))        (official default)
 *   half_glu2: g = dropout(gelu(ssm(x))),  y = ssm(x) ⊙ σ(out2(g))
 * gelu is flax's nn.gelu, the tanh approximation. out1/out2 are flax Dense layers
 * H -> H: out<k>.kernel (H_in, H_out) (flax layout: y = x kernel + bias), out<k>.bias
 * (H), kernel lecun_normal, bias 0. SSM parameters are named seq.<name>. */
typedef enum {
    SSM_S5_ACT_GELU,
    SSM_S5_ACT_FULL_GLU,
    SSM_S5_ACT_HALF_GLU1,
    SSM_S5_ACT_HALF_GLU2
} ssm_s5_activation;
/* "gelu" | "full_glu" | "half_glu1" | "half_glu2"; -1 if unknown. */
int ssm_s5_activation_parse(const char *s);

typedef struct {
    ssm_s5_config ssm;
    ssm_s5_activation activation; /* default half_glu1 */
    double dropout;
    int tie_dropout; /* one mask per channel for the whole sequence (official: broadcast_dims=[0]) */
} ssm_s5_layer_config;

typedef struct {
    ssm_s5_layer_config cfg;
    ssm_s5 seq;
    ssm_tensor *out1_W, *out1_b, *out2_W, *out2_b; /* NULL where the activation has none */
} ssm_s5_layer;

void ssm_s5_layer_declare(ssm_s5_layer *m, const ssm_s5_layer_config *cfg, ssm_params *ps,
                          const char *prefix);
int ssm_s5_layer_init(ssm_s5_layer *m, ssm_rng *r);
ssm_tensor *ssm_s5_layer_forward(ssm_ctx *c, ssm_s5_layer *m, ssm_tensor *x);
/* Step mode of the whole layer (the activation is per token). */
ssm_tensor *ssm_s5_layer_step(ssm_ctx *c, ssm_s5_layer *m, ssm_s5_state *st, ssm_tensor *x_t);

#endif
