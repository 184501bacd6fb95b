/* The Cauchy kernel of S4's DPLR generating function on the CPU (kernels.h:
 * cauchy_fwd/bwd), OpenMP over (channel, node). */
#include <complex.h>
#include <tgmath.h>
#include "cpu_kernels.h"

#define CAUCHY_MAX_S SSM_CAUCHY_MAX_S

#define T float
#define CT float complex
#define F(name) name##_f32
#include "cpu_cauchy.inc"
#undef T
#undef CT
#undef F
#define T double
#define CT double complex
#define F(name) name##_f64
#include "cpu_cauchy.inc"
#undef T
#undef CT
#undef F

void ssm_cpu_cauchy_fwd(ssm_dtype dt, const void *v, const void *w, const void *z, void *r,
                        int64_t S, int64_t H, int64_t N2, int64_t K) {
    SSM_CHECK(S >= 1 && S <= SSM_CAUCHY_MAX_S, "cauchy: %lld numerators (1 to %d)", (long long)S,
              SSM_CAUCHY_MAX_S);
    SSM_CPU_DISPATCH("cauchy_fwd", dt, cauchy_fwd_f32(v, w, z, r, S, H, N2, K),
                     cauchy_fwd_f64(v, w, z, r, S, H, N2, K));
}

void ssm_cpu_cauchy_bwd(ssm_dtype dt, const void *v, const void *w, const void *z, const void *dr,
                        void *dv, void *dw, int64_t S, int64_t H, int64_t N2, int64_t K) {
    SSM_CHECK(S >= 1 && S <= SSM_CAUCHY_MAX_S, "cauchy: %lld numerators (1 to %d)", (long long)S,
              SSM_CAUCHY_MAX_S);
    SSM_CPU_DISPATCH("cauchy_bwd", dt, cauchy_bwd_f32(v, w, z, dr, dv, dw, S, H, N2, K),
                     cauchy_bwd_f64(v, w, z, dr, dv, dw, S, H, N2, K));
}
