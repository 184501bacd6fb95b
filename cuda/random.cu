/* Random fills from Philox4x32-10 (lib/philox.h): element i is a pure function
 * of (seed, offset + i), computed in double and rounded once to float, so the
 * numbers are the CPU's. */
#include "common.cuh"

static __global__ void uniform_kernel(float *y, int64_t n, uint64_t seed, uint64_t offset,
                                      double lo, double span) {
    GRID_STRIDE(i, n) y[i] = (float)(lo + span * ssm_philox_uniform(seed, offset + (uint64_t)i));
}

static __global__ void normal_kernel(float *y, int64_t n, uint64_t seed, uint64_t offset,
                                     double mean, double std) {
    GRID_STRIDE(i, n) y[i] = (float)(mean + std * ssm_philox_normal(seed, offset + (uint64_t)i));
}

void ssm_cuda_rand_uniform(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                           double lo, double hi) {
    SSM_CUDA_F32(dt, "rand_uniform");
    if (n <= 0) return;
    uniform_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(F32(y), n, seed, offset,
                                                                       lo, hi - lo);
    LAUNCH_CHECK();
}

void ssm_cuda_rand_normal(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                          double mean, double std) {
    SSM_CUDA_F32(dt, "rand_normal");
    if (n <= 0) return;
    normal_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(F32(y), n, seed, offset,
                                                                      mean, std);
    LAUNCH_CHECK();
}
