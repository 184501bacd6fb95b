/* S4: the structured state-space layer with HiPPO-LegS initialisation in DPLR
 * form (Gu, Goel, Re 2022), as the official state-spaces/s4 models/s4/s4.py
 * (SSMKernelDPLR, FFTConv, S4Block with final_act='glu').
 *
 * Kernel: bilinear discretisation evaluated on the unit circle through the
 * Cauchy kernel and the Woodbury identity, then an inverse real FFT; C is
 * stored as C~ = C (I - dA^L) (the truncated generating function), set up once
 * at initialisation for L = l_max.
 *
 * Parameters under `prefix` (S4Block names): layer.kernel.inv_dt (H, 1),
 * layer.kernel.A_real, layer.kernel.A_imag (H, N/2), layer.kernel.B, .C, .P
 * (1, H, N/2, 2), layer.D (1, H), output_linear.0.weight (2H, H),
 * output_linear.0.bias (2H). inv_dt, A_real, A_imag, B, P are SSM parameters
 * (own lr, no weight decay); C is not, as in the official code. Bidirectional (as the
 * official FFTConv): C becomes (2, H, N/2, 2), channel 0 the causal kernel, channel 1
 * the anti-causal one (same A, B, P, dt); no step mode then. */
#ifndef SSM_S4_H
#define SSM_S4_H
#include "init.h"
#include "params.h"
#include "tape.h"

typedef struct {
    int64_t d_model, d_state; /* H, N */
    int64_t l_max;            /* the length C~ is set up for; forward needs L <= l_max */
    double dt_min, dt_max, B_clip, dropout;
    int tie_dropout; /* one dropout mask per channel for the whole sequence */
    int bidirectional;
    ssm_param_place dt_place, b_place; /* optimizer groups of inv_dt and B (default: SSM) */
} ssm_s4_config;

ssm_s4_config ssm_s4_defaults(int64_t d_model, int64_t l_max);

typedef struct {
    ssm_s4_config cfg;
    ssm_tensor *inv_dt, *A_real, *A_imag, *B, *C, *P, *D, *W, *b;
} ssm_s4;

void ssm_s4_declare(ssm_s4 *m, const ssm_s4_config *cfg, ssm_params *ps, const char *prefix);
/* HiPPO-LegS NPLR init (identical for every channel), random C turned into C~. */
int ssm_s4_init(ssm_s4 *m, ssm_rng *r);
/* Replace C (given as the plain C of the state-space model, [C, H, N/2, 2] doubles) by
 * C~ = C (I - dA^l_max) using the current A, B, P and dt. Returns 0 or -1 (LAPACK). */
int ssm_s4_setup_C(ssm_s4 *m, const double *C_plain);

/* Kernel K [H, L] ([H, 2L] = [causal | anti-causal] when bidirectional) from the
 * parameters (L <= l_max; computed at l_max, truncated). */
ssm_tensor *ssm_s4_kernel(ssm_ctx *c, ssm_s4 *m, int64_t L);
/* FFTConv: GELU(K * u + D u) for x [B, L, H] (no output linear). */
ssm_tensor *ssm_s4_fftconv(ssm_ctx *c, ssm_s4 *m, ssm_tensor *x);
/* S4Block: FFTConv then dropout, Linear H -> 2H and GLU. */
ssm_tensor *ssm_s4_forward(ssm_ctx *c, ssm_s4 *m, ssm_tensor *x);

/* Recurrent mode with the dense bilinear state (official setup_step('dense')), on the
 * host in double: x <- dA x + dB u, y = Re(C x) with C recovered from C~. */
typedef struct ssm_s4_state ssm_s4_state;
ssm_s4_state *ssm_s4_state_alloc(ssm_s4 *m, int64_t batch);
void ssm_s4_state_free(ssm_s4_state *st);
/* One token: x_t [B, H] -> y_t [B, H] (records nothing); with_output = 0 stops after the
 * FFTConv part (GELU(y + D u)), 1 applies the output linear and GLU as the forward. */
ssm_tensor *ssm_s4_step(ssm_ctx *c, ssm_s4 *m, ssm_s4_state *st, ssm_tensor *x_t,
                        int with_output);

#endif
