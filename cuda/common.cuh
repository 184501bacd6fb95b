/* Shared helpers of the CUDA backend: error checks, launch geometry, the one
 * stream every entry runs on, scratch memory, warp/block reductions and a
 * deterministic column reduction used by every "sum over rows" gradient. */
#ifndef SSM_CUDA_COMMON_CUH
#define SSM_CUDA_COMMON_CUH
/* System headers first: kernels.h and log.h are then included inside
 * extern "C" without dragging C++ headers into a C-linkage block. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <cufft.h>
#include "cuda_kernels.h"
extern "C" {
#include "log.h"
}
#include "philox.h"

/* --- errors: a failing CUDA call is a bug or a dead device; abort loudly --- */
const char *ssm_cufft_error_string(cufftResult r);

#define CUDA_CHECK(call)                                                              \
    do {                                                                              \
        cudaError_t err_ = (call);                                                    \
        if (err_ != cudaSuccess)                                                      \
            ssm_panic("cuda: %s:%d: %s: %s", __FILE__, __LINE__, #call,                \
                      cudaGetErrorString(err_));                                      \
    } while (0)
#define CUBLAS_CHECK(call)                                                            \
    do {                                                                              \
        cublasStatus_t st_ = (call);                                                  \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                             \
            ssm_panic("cuda: %s:%d: %s: %s", __FILE__, __LINE__, #call,                \
                      cublasGetStatusString(st_));                                    \
    } while (0)
#define CUFFT_CHECK(call)                                                             \
    do {                                                                              \
        cufftResult r_ = (call);                                                      \
        if (r_ != CUFFT_SUCCESS)                                                      \
            ssm_panic("cuda: %s:%d: %s: %s", __FILE__, __LINE__, #call,                \
                      ssm_cufft_error_string(r_));                                    \
    } while (0)
/* After every launch: configuration errors show here, faults at the next sync. */
#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

/* Every entry is f32-only on CUDA. */
#define SSM_CUDA_F32(dt, entry)                                                       \
    do {                                                                              \
        if ((dt) != SSM_F32)                                                          \
            ssm_panic("cuda: %s: dtype %s not supported on CUDA", (entry),            \
                      (dt) == SSM_F64 ? "f64" : (dt) == SSM_I32 ? "i32" : "unknown");  \
    } while (0)

/* --- the stream: every launch and async copy goes through this accessor. A stream
 * of our own (blocking: it still orders with the legacy default stream), since the
 * legacy stream cannot be captured into a CUDA graph (backend.cu) --- */
cudaStream_t ssm_cuda_stream(void);
/* The value added to dropout counter offsets in kernels (kernels.h: set_rng_base), a
 * device pointer to one uint64_t: 0 except while a captured step replays. */
const uint64_t *ssm_cuda_rng_base(void);

/* --- device facts and shared resources (backend.cu) --- */
int ssm_cuda_sm_count(void);
cublasHandle_t ssm_cuda_cublas(void);
ssm_gemm_precision ssm_cuda_gemm_precision(void); /* kernels.h: set_gemm_precision */
/* Grow-only device scratch, one buffer per slot so one entry can hold several
 * at once. Contents are undefined; valid until the next call for the same slot. */
enum { SSM_SCR_REDUCE, SSM_SCR_OP, SSM_SCR_FFT, SSM_SCR_FFTWORK, SSM_SCR_COUNT };
void *ssm_cuda_scratch(int slot, size_t bytes);
/* Resources a captured graph may hold pointers into (scratch buffers, cuFFT plans):
 * whoever frees one calls ssm_cuda_resources_freed(), and a graph captured before that
 * is no longer launched (graph.cu). */
void ssm_cuda_resources_freed(void);
uint64_t ssm_cuda_resource_epoch(void);

/* --- launch geometry: grid-stride loops, so the grid is capped --- */
#define SSM_THREADS 256
static inline unsigned ssm_grid(int64_t n, int threads = SSM_THREADS) {
    int64_t b = (n + threads - 1) / threads;
    int64_t cap = (int64_t)ssm_cuda_sm_count() * 32;
    if (b > cap) b = cap;
    if (b < 1) b = 1;
    return (unsigned)b;
}
/* Grid for one warp per item. */
static inline unsigned ssm_grid_warps(int64_t items) {
    return ssm_grid(items * 32);
}

#define GRID_STRIDE(i, n)                                                             \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);         \
         i += (int64_t)gridDim.x * blockDim.x)
/* One warp per item: `lane` in 0..31; all lanes of a warp take the same w. */
#define WARP_STRIDE(w, lane, n)                                                       \
    const int lane = threadIdx.x & 31;                                                \
    for (int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; w < (n);  \
         w += ((int64_t)gridDim.x * blockDim.x) >> 5)

/* --- reductions: fixed order, so results are deterministic --- */
struct d2 { double a, b; }; /* two sums carried together (e.g. dw and db) */
__host__ __device__ __forceinline__ d2 operator+(d2 x, d2 y) { return {x.a + y.a, x.b + y.b}; }

__device__ __forceinline__ float ssm_shfl_xor(float v, int m) {
    return __shfl_xor_sync(0xffffffffu, v, m);
}
__device__ __forceinline__ double ssm_shfl_xor(double v, int m) {
    return __shfl_xor_sync(0xffffffffu, v, m);
}
__device__ __forceinline__ d2 ssm_shfl_xor(d2 v, int m) {
    return {ssm_shfl_xor(v.a, m), ssm_shfl_xor(v.b, m)};
}
/* Butterfly: every lane ends with the total. */
template <class T> __device__ __forceinline__ T warp_sum(T v) {
    for (int m = 16; m > 0; m >>= 1) v = v + ssm_shfl_xor(v, m);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int m = 16; m > 0; m >>= 1) v = fmaxf(v, ssm_shfl_xor(v, m));
    return v;
}
/* Every thread gets the block total; blockDim.x a multiple of 32; call from
 * uniform control flow (it has barriers). */
template <class T> __device__ T block_sum(T v) {
    __shared__ T sh[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* a previous call may still be reading sh */
    if (lane == 0) sh[w] = v;
    __syncthreads();
    T t = lane < nw ? sh[lane] : T{};
    return warp_sum(t);
}

/* Column reduction: for o < outer, j < J: e(o, j, sum_{k < K} f(o, k, j)),
 * with f(o, k, j) -> T (double or d2) and e a device functor. No atomics:
 *  - many outputs (or tiny K): a thread per output loops over k;
 *  - J == 1 (row sums): a warp per row, lanes over k (coalesced);
 *  - otherwise K is split into nc interleaved chunks, partials go to scratch
 *    and a warp per output sums them in fixed order. */
template <class T, class F, class E>
__global__ void cr_direct_kernel(int64_t outer, int64_t K, int64_t J, F f, E e) {
    GRID_STRIDE(idx, outer * J) {
        int64_t o = idx / J, j = idx - o * J;
        T s{};
        for (int64_t k = 0; k < K; k++) s = s + f(o, k, j);
        e(o, j, s);
    }
}
template <class T, class F, class E>
__global__ void cr_rows_kernel(int64_t outer, int64_t K, F f, E e) {
    WARP_STRIDE(o, lane, outer) {
        T s{};
        for (int64_t k = lane; k < K; k += 32) s = s + f(o, k, (int64_t)0);
        s = warp_sum(s);
        if (lane == 0) e(o, (int64_t)0, s);
    }
}
template <class T, class F>
__global__ void cr_partial_kernel(int64_t outer, int64_t K, int64_t J, int64_t nc, int cfast,
                                  F f, T *part) {
    const int64_t P = outer * J;
    GRID_STRIDE(t, P * nc) {
        int64_t oj, c;
        /* small J: neighbouring threads take neighbouring k (coalesced) */
        if (cfast) { oj = t / nc; c = t - oj * nc; }
        else { c = t / P; oj = t - c * P; }
        int64_t o = oj / J, j = oj - o * J;
        T s{};
        for (int64_t k = c; k < K; k += nc) s = s + f(o, k, j);
        part[oj * nc + c] = s;
    }
}
template <class T, class E>
__global__ void cr_final_kernel(int64_t outer, int64_t J, int64_t nc, const T *part, E e) {
    WARP_STRIDE(oj, lane, outer * J) {
        T s{};
        for (int64_t c = lane; c < nc; c += 32) s = s + part[oj * nc + c];
        s = warp_sum(s);
        if (lane == 0) e(oj / J, oj % J, s);
    }
}
/* The same with a block of threads per output: for few outputs with many partials (a
 * warp summing 32768 partials alone took 100 us for the gradient norm) */
template <class T, class E>
__global__ void cr_final_block_kernel(int64_t J, int64_t nc, const T *part, E e) {
    const int64_t oj = blockIdx.x;
    T s{};
    for (int64_t c = threadIdx.x; c < nc; c += blockDim.x) s = s + part[oj * nc + c];
    s = block_sum(s);
    if (threadIdx.x == 0) e(oj / J, oj % J, s);
}
template <class T, class F, class E>
void col_reduce(int64_t outer, int64_t K, int64_t J, F f, E e) {
    const int64_t P = outer * J;
    if (P <= 0) return;
    const int64_t full = (int64_t)ssm_cuda_sm_count() * 2048; /* threads that fill the GPU */
    cudaStream_t st = ssm_cuda_stream();
    if (K <= 16 || (J > 1 && P >= full / 2)) {
        cr_direct_kernel<T><<<ssm_grid(P), SSM_THREADS, 0, st>>>(outer, K, J, f, e);
        LAUNCH_CHECK();
    } else if (J == 1 && (P >= full / 64 || K <= 1024)) {
        cr_rows_kernel<T><<<ssm_grid_warps(P), SSM_THREADS, 0, st>>>(outer, K, f, e);
        LAUNCH_CHECK();
    } else {
        int64_t nc = (full + P - 1) / P;
        if (nc > (K + 3) / 4) nc = (K + 3) / 4; /* at least ~4 terms per partial */
        if (nc > 32768) nc = 32768;
        if (nc < 2) nc = 2;
        T *part = (T *)ssm_cuda_scratch(SSM_SCR_REDUCE, (size_t)(P * nc) * sizeof(T));
        cr_partial_kernel<T><<<ssm_grid(P * nc), SSM_THREADS, 0, st>>>(outer, K, J, nc,
                                                                      J < 32, f, part);
        LAUNCH_CHECK();
        if (P <= 2 * ssm_cuda_sm_count() && nc >= 1024)
            cr_final_block_kernel<T><<<(unsigned)P, 1024, 0, st>>>(J, nc, part, e);
        else
            cr_final_kernel<T><<<ssm_grid_warps(P), SSM_THREADS, 0, st>>>(outer, J, nc, part, e);
        LAUNCH_CHECK();
    }
}

/* Typical epilogue: y[o * J + j] (+)= scale * sum. */
struct cr_store {
    float *y;
    double scale;
    int acc;
    int64_t J;
    __device__ void operator()(int64_t o, int64_t j, double s) const {
        float v = (float)(scale * s);
        float *p = y + o * J + j;
        *p = acc ? *p + v : v;
    }
};

/* float pointers from the table's void pointers */
#define F32(p) ((float *)(p))
#define CF32(p) ((const float *)(p))

#endif
