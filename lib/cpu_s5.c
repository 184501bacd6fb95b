/* S5's diagonal linear recurrence on the CPU (kernels.h: s5_scan_fwd/bwd).
 *
 * The recurrence is run sequentially along the sequence: on a CPU the
 * associative (parallel) scan only adds work, and the parallelism is across
 * batch and modes instead. Work items are (batch, block of PC modes); within
 * one item the loop goes over l outside and the modes of the block inside, so
 * every access is contiguous (Bu and x are [B, L, P2, 2]). f32 and f64 through
 * the same template (cpu_s5.inc). */
#include <stdlib.h>
#include "cpu_kernels.h"

#define PC 64 /* modes per work item */

#define T float
#define F(name) name##_f32
#include "cpu_s5.inc"
#undef T
#undef F
#define T double
#define F(name) name##_f64
#include "cpu_s5.inc"
#undef T
#undef F

void ssm_cpu_s5_scan_fwd(ssm_dtype dt, const void *Lambda_bar, const void *Bu, void *x, int64_t B,
                         int64_t L, int64_t P2, int reverse) {
    SSM_CPU_DISPATCH("s5_scan_fwd", dt, s5_scan_fwd_f32(Lambda_bar, Bu, x, B, L, P2, reverse),
                     s5_scan_fwd_f64(Lambda_bar, Bu, x, B, L, P2, reverse));
}

void ssm_cpu_s5_scan_bwd(ssm_dtype dt, const void *Lambda_bar, const void *x, const void *dx,
                         void *dLambda_bar, void *dBu, int64_t B, int64_t L, int64_t P2,
                         int reverse) {
    SSM_CPU_DISPATCH("s5_scan_bwd", dt,
                     s5_scan_bwd_f32(Lambda_bar, x, dx, dLambda_bar, dBu, B, L, P2, reverse),
                     s5_scan_bwd_f64(Lambda_bar, x, dx, dLambda_bar, dBu, B, L, P2, reverse));
}
