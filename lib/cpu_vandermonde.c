/* Diagonal SSMs on the CPU (kernels.h: vandermonde_fwd/bwd, diag_ssm_step), in C99
 * complex arithmetic, OpenMP over channels. */
#include <complex.h>
#include <stdlib.h>
#include <tgmath.h>
#include "cpu_kernels.h"

#define BLK 64

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
