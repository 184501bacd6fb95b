/* Diagonal SSMs on the CPU (kernels.h: vandermonde_fwd/bwd, diag_ssm_step), in C99
 * complex arithmetic, OpenMP over channels. */
#include <complex.h>
#include <stdlib.h>
#include <tgmath.h>
#include "cpu_kernels.h"

#define BLK 64

/* s = log z and the discretised C for one mode, in double: in f32, e^w - 1 for small
 * dt A and the log of a quotient near 1 lose most of their digits (the gradient of log
 * dt then drifts by 1e-5); the CUDA backend does the same. */
static void discretise_d(int disc, double dt, double complex a, double complex c,
                         double complex *s, double complex *Ct) {
    double complex w = dt * a;
    if (disc == 0) {
        *s = w;
        /* expm1 of a complex w: e^w - 1 = expm1(Re w) cos(Im w) - 2 sin^2(Im w / 2) + i e^Re w sin Im w */
        double er = expm1(creal(w)), sh = sin(cimag(w) / 2);
        double complex em1 = (er * cos(cimag(w)) - 2 * sh * sh) + I * (exp(creal(w)) * sin(cimag(w)));
        *Ct = c * em1 / a;
    } else {
        double complex d = 1 - w / 2;
        *s = clog((1 + w / 2) / d);
        *Ct = c * dt / d;
    }
}

/* lo[j] = e^{j s} (j < BLK, split into re/im), hi[k] = e^{BLK k s} (k <= (L-1)/BLK), as
 * running products in double: at most L/BLK + BLK roundings, far below f32's. */
static void power_tables_d(double complex s, int64_t L, double *lr, double *li, double complex *hi) {
    double complex z = cexp(s), zb = cexp(BLK * s), p = 1;
    for (int64_t j = 0; j < BLK; j++, p *= z) {
        lr[j] = creal(p);
        li[j] = cimag(p);
    }
    p = 1;
    for (int64_t k = 0; k * BLK < L; k++, p *= zb) hi[k] = p;
}

#define T float
#define CT float complex
#define F(name) name##_f32
#include "cpu_vandermonde.inc"
#undef T
#undef CT
#undef F
#define T double
#define CT double complex
#define F(name) name##_f64
#include "cpu_vandermonde.inc"
#undef T
#undef CT
#undef F

void ssm_cpu_vandermonde_fwd(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                             void *K, int64_t H, int64_t N2, int64_t L) {
    SSM_CPU_DISPATCH("vandermonde_fwd", dt_, vandermonde_fwd_f32(disc, dt, A, C, K, H, N2, L),
                     vandermonde_fwd_f64(disc, dt, A, C, K, H, N2, L));
}

void ssm_cpu_vandermonde_bwd(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                             const void *dK, void *ddt, void *dA, void *dC, int64_t H, int64_t N2,
                             int64_t L) {
    SSM_CPU_DISPATCH("vandermonde_bwd", dt_,
                     vandermonde_bwd_f32(disc, dt, A, C, dK, ddt, dA, dC, H, N2, L),
                     vandermonde_bwd_f64(disc, dt, A, C, dK, ddt, dA, dC, H, N2, L));
}

void ssm_cpu_diag_ssm_step(ssm_dtype dt_, const void *z, const void *Ct, void *s, const void *u,
                           void *y, int64_t B, int64_t H, int64_t N2) {
    SSM_CPU_DISPATCH("diag_ssm_step", dt_, diag_ssm_step_f32(z, Ct, s, u, y, B, H, N2),
                     diag_ssm_step_f64(z, Ct, s, u, y, B, H, N2));
}

void ssm_cpu_diag_discretise(ssm_dtype dt_, int disc, const void *dt, const void *A,
                             const void *C, void *z, void *Ct, int64_t H, int64_t N2) {
    SSM_CPU_DISPATCH("diag_discretise", dt_, diag_discretise_f32(disc, dt, A, C, z, Ct, H, N2),
                     diag_discretise_f64(disc, dt, A, C, z, Ct, H, N2));
}
