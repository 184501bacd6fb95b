/* Initialisers, computed on the host in double from a Philox stream and then
 * copied into parameters of any dtype and device, so a model starts from the
 * same numbers on the CPU and on CUDA. */
#ifndef SSM_INIT_H
#define SSM_INIT_H
#include <stdint.h>
#include "tensor.h"

/* A Philox counter stream: draw i uses counter `offset + i`, then offset advances. */
typedef struct {
    uint64_t seed, offset;
} ssm_rng;

void ssm_rng_uniform(ssm_rng *r, double *out, int64_t n, double lo, double hi);
void ssm_rng_normal(ssm_rng *r, double *out, int64_t n, double mean, double std);

/* log Δ uniform in [log dt_min, log dt_max] (Δ log-uniform). */
void ssm_init_log_dt(ssm_rng *r, double *log_dt, int64_t n, double dt_min, double dt_max);

typedef enum { SSM_INIT_LEGS, SSM_INIT_LIN, SSM_INIT_INV, SSM_INIT_REAL } ssm_init_kind;
/* Parse "legs" | "lin" | "inv" | "real"; -1 if unknown. */
int ssm_init_kind_parse(const char *s);

/* Diagonal A for S4D in s4d.py's convention (positive imaginary parts), N2 = N/2 modes
 * for a state of size N: Lin  -1/2 + i pi n;  Inv  -1/2 + i (N/pi)(N/(2n+1) - 1);
 * Real  -(n+1).  re[n] is the (negative) real part. Returns -1 for LEGS (S4's DPLR). */
int ssm_init_s4d_A(ssm_init_kind kind, int64_t N, double *re, double *im);

/* PyTorch's default for Linear and Conv1d weights and biases (kaiming_uniform with
 * a = sqrt 5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void ssm_init_torch_default(ssm_rng *r, double *out, int64_t n, int64_t fan_in);

/* Fill parameter p from a stream: normal(mean, std) / uniform(lo, hi). */
void ssm_param_normal(ssm_tensor *p, ssm_rng *r, double mean, double std);
void ssm_param_uniform(ssm_tensor *p, ssm_rng *r, double lo, double hi);

#endif
