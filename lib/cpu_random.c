/* Random fills from Philox4x32-10 (lib/philox.h): element i is a pure function of
 * (seed, offset + i), so any thread split, and the CUDA backend, give the same
 * numbers. Values are computed in double and rounded once to the output type. */
#include "cpu_kernels.h"
#include "log.h"
#include "philox.h"

#define PAR_MIN ((int64_t)1 << 12) /* Philox costs ~10 multiplies per element */

/* lo + (hi - lo) u, u in [0, 1) with 53 bits; rounding to f32 can reach hi itself. */
void ssm_cpu_rand_uniform(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                          double lo, double hi) {
    double span = hi - lo;
    if (dt == SSM_F32) {
        float *o = y;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            o[i] = (float)(lo + span * ssm_philox_uniform(seed, offset + (uint64_t)i));
    } else if (dt == SSM_F64) {
        double *o = y;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            o[i] = lo + span * ssm_philox_uniform(seed, offset + (uint64_t)i);
    } else {
        ssm_panic("rand_uniform: unsupported dtype %s", ssm_dtype_name(dt));
    }
}

void ssm_cpu_rand_normal(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                         double mean, double std) {
    if (dt == SSM_F32) {
        float *o = y;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            o[i] = (float)(mean + std * ssm_philox_normal(seed, offset + (uint64_t)i));
    } else if (dt == SSM_F64) {
        double *o = y;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            o[i] = mean + std * ssm_philox_normal(seed, offset + (uint64_t)i);
    } else {
        ssm_panic("rand_normal: unsupported dtype %s", ssm_dtype_name(dt));
    }
}
