/* Row-major batched GEMM through cuBLAS (column-major). A row-major matrix is
 * its transpose in column-major, so C = op(A) op(B) is computed as
 * C^T = op(B)^T op(A)^T: swap the operands and m with n, keep the flags. */
#include <limits.h>
#include "common.cuh"

static int to_int(int64_t v, const char *what) {
    if (v < 0 || v > INT_MAX) ssm_panic("cuda: gemm: %s = %lld out of cuBLAS's int range", what,
                                        (long long)v);
    return (int)v;
}

/* --- BF16 (kernels.h: SSM_GEMM_BF16): cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF, which rounds
 * the f32 operands to bfloat16 on the way into the tensor cores and sums in f32
 * (cuda_bf16_gemm_rounds_operands pins that rule). It replaced a rounding pass per
 * operand into scratch before a bf16 GemmEx: 6 bytes an element moved outside the GEMM,
 * ~630 us of the Mamba block's 4.7 ms. --- */

static void gemm_bf16(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int im,
                      int in, int ik, float al, const float *a, int ia, int64_t stride_a,
                      const float *b, int ib, int64_t stride_b, float be, float *c, int ic,
                      int64_t stride_c, int64_t batch) {
    const cublasComputeType_t ct = CUBLAS_COMPUTE_32F_FAST_16BF;
    if (stride_c == 0 && batch > 1) { /* in order into one C, as the FP32 path */
        for (int64_t i = 0; i < batch; i++)
            CUBLAS_CHECK(cublasGemmEx(h, tb, ta, in, im, ik, &al, b + i * stride_b, CUDA_R_32F,
                                      ib, a + i * stride_a, CUDA_R_32F, ia, &be, c, CUDA_R_32F,
                                      ic, ct, CUBLAS_GEMM_DEFAULT));
        return;
    }
    const int64_t chunk = 65535;
    for (int64_t b0 = 0; b0 < batch; b0 += chunk) {
        int nb = (int)(batch - b0 < chunk ? batch - b0 : chunk);
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            h, tb, ta, in, im, ik, &al, b + b0 * stride_b, CUDA_R_32F, ib, (long long)stride_b,
            a + b0 * stride_a, CUDA_R_32F, ia, (long long)stride_a, &be, c + b0 * stride_c,
            CUDA_R_32F, ic, (long long)stride_c, nb, ct, CUBLAS_GEMM_DEFAULT));
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
        gemm_bf16(h, ta, tb, im, in, ik, al, CF32(a), ia, stride_a, CF32(b), ib, stride_b, be,
                  F32(c), ic, stride_c, batch);
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
