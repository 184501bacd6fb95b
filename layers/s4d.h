/* S4D: the diagonal state-space layer of Gu et al. 2022 ("On the
 * parameterization and initialization of diagonal state space models"), as
 * the official state-spaces/s4 models/s4/s4d.py, with ZOH or bilinear
 * discretisation and the S4D-Lin/Inv/Real initialisations.
 *
 * Parameters (official state_dict names under `prefix`): kernel.log_dt (H),
 * kernel.C (H, N/2, 2), kernel.log_A_real (H, N/2), kernel.A_imag (H, N/2), D (H),
 * output_linear.0.weight (2H, H, 1), output_linear.0.bias (2H). log_dt,
 * log_A_real, A_imag go to the SSM optimizer group (the official code gives them
 * their own lr and no weight decay; cfg.dt_place may move log_dt); C, D and the output
 * linear do not.
 * Bidirectional (as s4.py's FFTConv): kernel.C becomes (2, H, N/2, 2), C[0] giving the
 * causal kernel and C[1] the anti-causal one (same A and dt); no step mode then. */
#ifndef SSM_S4D_H
#define SSM_S4D_H
#include "init.h"
#include "params.h"
#include "tape.h"

typedef struct {
    int64_t d_model;       /* H */
    int64_t d_state;       /* N: N/2 complex modes */
    double dt_min, dt_max; /* Δ log-uniform in [dt_min, dt_max] */
    ssm_init_kind init;    /* LIN (default), INV, REAL */
    int disc;              /* 0 ZOH (default), 1 bilinear */
    double dropout;
    int tie_dropout;       /* one dropout mask per channel for the whole sequence */
    int bidirectional;
    ssm_param_place dt_place; /* optimizer group of log_dt (default: SSM) */
} ssm_s4d_config;

ssm_s4d_config ssm_s4d_defaults(int64_t d_model);

typedef struct {
    ssm_s4d_config cfg;
    ssm_tensor *log_dt, *C, *log_A_real, *A_imag, *D, *W, *b;
} ssm_s4d;

/* Register the parameters (before ssm_params_finalize). */
void ssm_s4d_declare(ssm_s4d *m, const ssm_s4d_config *cfg, ssm_params *ps, const char *prefix);
/* Official initialisation (after finalize). */
void ssm_s4d_init(ssm_s4d *m, ssm_rng *r);

/* The convolution kernel K [H, L] ([H, 2L] = [causal | anti-causal] when bidirectional). */
ssm_tensor *ssm_s4d_kernel(ssm_ctx *c, ssm_s4d *m, int64_t L);
/* x [B, L, H] -> [B, L, H] (parallel mode). */
ssm_tensor *ssm_s4d_forward(ssm_ctx *c, ssm_s4d *m, ssm_tensor *x);

/* Recurrent mode: discretised z, Ct taken from the current parameters and a zero
 * state for `batch` sequences. Call again after the parameters change. */
typedef struct {
    ssm_tensor *z, *Ct, *s; /* [H, N2, 2], [H, N2, 2], [batch, H, N2, 2] */
} ssm_s4d_state;
ssm_s4d_state *ssm_s4d_state_alloc(ssm_s4d *m, int64_t batch);
void ssm_s4d_state_free(ssm_s4d_state *st);
/* One token: x_t [B, H] -> y_t [B, H] (records nothing). */
ssm_tensor *ssm_s4d_step(ssm_ctx *c, ssm_s4d *m, ssm_s4d_state *st, ssm_tensor *x_t);

#endif
