/* Row-major batched GEMM through cuBLAS (column-major). A row-major matrix is
 * its transpose in column-major, so C = op(A) op(B) is computed as
 * C^T = op(B)^T op(A)^T: swap the operands and m with n, keep the flags. */
#include <limits.h>
#include <cuda_bf16.h>
#include "common.cuh"

static int to_int(int64_t v, const char *what) {
    if (v < 0 || v > INT_MAX) ssm_panic("cuda: gemm: %s = %lld out of cuBLAS's int range", what,
                                        (long long)v);
    return (int)v;
}

/* --- BF16 (kernels.h: SSM_GEMM_BF16): the f32 operands are rounded to bfloat16 into
 * scratch, then cublasGemmEx multiplies on the tensor cores with f32 sums and an f32 C.
 * The rounding pass reads 4 and writes 2 bytes per element, the GEMM then reads 2. --- */

static __global__ void to_bf16_kernel(const float *x, __nv_bfloat16 *y, int64_t n, int vec) {
    int64_t n4 = vec ? n / 4 : 0; /* float4 loads need 16-byte alignment */
    GRID_STRIDE(i, n4) {
        float4 v = reinterpret_cast<const float4 *>(x)[i];
        __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
        reinterpret_cast<__nv_bfloat162 *>(y)[2 * i] = lo;
        reinterpret_cast<__nv_bfloat162 *>(y)[2 * i + 1] = hi;
    }
    GRID_STRIDE(j, n - n4 * 4) y[n4 * 4 + j] = __float2bfloat16_rn(x[n4 * 4 + j]);
}

/* Elements a strided batch of stored matrices spans: rows of ld, the last row only
 * up to its cols, the last matrix `stride` after the first. */
static int64_t span_of(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
    if (rows <= 0 || cols <= 0) return 0;
    return (batch - 1) * stride + (rows - 1) * ld + cols;
}

/* x's span as bfloat16 in scratch slot `slot` */
static const __nv_bfloat16 *to_bf16(const float *x, int64_t n, int slot) {
    __nv_bfloat16 *y = (__nv_bfloat16 *)ssm_cuda_scratch(slot, (size_t)(n > 0 ? n : 1) * 2);
    if (n <= 0) return y;
    int vec = ((uintptr_t)x & 15) == 0;
    to_bf16_kernel<<<ssm_grid(vec ? n / 4 + 1 : n), SSM_THREADS, 0, ssm_cuda_stream()>>>(x, y, n,
                                                                                        vec);
    LAUNCH_CHECK();
    return y;
}

static void gemm_bf16(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int im,
                      int in, int ik, float al, const float *a, int ia, int64_t stride_a,
                      const float *b, int ib, int64_t stride_b, float be, float *c, int ic,
                      int64_t stride_c, int64_t batch, int64_t a_rows, int64_t a_cols,
                      int64_t b_rows, int64_t b_cols) {
    const __nv_bfloat16 *ha = to_bf16(a, span_of(a_rows, a_cols, ia, stride_a, batch), SSM_SCR_GEMM_A);
    const __nv_bfloat16 *hb = to_bf16(b, span_of(b_rows, b_cols, ib, stride_b, batch), SSM_SCR_GEMM_B);
    if (stride_c == 0 && batch > 1) { /* in order into one C, as the FP32 path */
        for (int64_t i = 0; i < batch; i++)
            CUBLAS_CHECK(cublasGemmEx(h, tb, ta, in, im, ik, &al, hb + i * stride_b, CUDA_R_16BF,
                                      ib, ha + i * stride_a, CUDA_R_16BF, ia, &be, c, CUDA_R_32F,
                                      ic, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return;
    }
    const int64_t chunk = 65535;
    for (int64_t b0 = 0; b0 < batch; b0 += chunk) {
        int nb = (int)(batch - b0 < chunk ? batch - b0 : chunk);
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            h, tb, ta, in, im, ik, &al, hb + b0 * stride_b, CUDA_R_16BF, ib, (long long)stride_b,
            ha + b0 * stride_a, CUDA_R_16BF, ia, (long long)stride_a, &be, c + b0 * stride_c,
            CUDA_R_32F, ic, (long long)stride_c, nb, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

void ssm_cuda_gemm(ssm_dtype dt, int transa, int transb, int64_t m, int64_t n, int64_t k,
                   double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                   int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                   int64_t stride_c, int64_t batch) {
    SSM_CUDA_F32(dt, "gemm");
    if (m <= 0 || n <= 0 || batch <= 0) return;
    cublasHandle_t h = ssm_cuda_cublas();
    const float al = (float)alpha, be = (float)beta;
    const cublasOperation_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k");
    /* cuBLAS rejects a leading dimension of 0 even when nothing is read (k = 0) */
    const int ia = to_int(lda > 0 ? lda : 1, "lda"), ib = to_int(ldb > 0 ? ldb : 1, "ldb");
    const int ic = to_int(ldc, "ldc");
    if (ssm_cuda_gemm_precision() == SSM_GEMM_BF16 && k > 0) {
        /* stored shapes (row-major): A is m x k, or k x m transposed; B is k x n or n x k */
        gemm_bf16(h, ta, tb, im, in, ik, al, CF32(a), ia, stride_a, CF32(b), ib, stride_b, be,
                  F32(c), ic, stride_c, batch, transa ? k : m, transa ? m : k, transb ? n : k,
                  transb ? k : n);
        return;
    }
    if (stride_c == 0 && batch > 1) {
        /* every product lands in one C: run them in order, as the CPU's loop does
         * (a batched call would race on C) */
        for (int64_t i = 0; i < batch; i++)
            CUBLAS_CHECK(cublasSgemm(h, tb, ta, in, im, ik, &al, CF32(b) + i * stride_b, ib,
                                     CF32(a) + i * stride_a, ia, &be, F32(c), ic));
        return;
    }
    /* batches beyond the grid's z limit go in chunks */
    const int64_t chunk = 65535;
    for (int64_t b0 = 0; b0 < batch; b0 += chunk) {
        int nb = (int)(batch - b0 < chunk ? batch - b0 : chunk);
        const float *pa = CF32(a) + b0 * stride_a, *pb = CF32(b) + b0 * stride_b;
        float *pc = F32(c) + b0 * stride_c;
        if (nb == 1)
            CUBLAS_CHECK(cublasSgemm(h, tb, ta, in, im, ik, &al, pb, ib, pa, ia, &be, pc, ic));
        else
            CUBLAS_CHECK(cublasSgemmStridedBatched(h, tb, ta, in, im, ik, &al, pb, ib,
                                                   (long long)stride_b, pa, ia,
                                                   (long long)stride_a, &be, pc, ic,
                                                   (long long)stride_c, nb));
    }
}
