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

/* One product (nb = 1) or a strided batch of nb, f32 in and out. FP32 and TF32 through
 * cublasSgemm* (the math mode set_gemm_precision sets picks TF32); BF16 through
 * cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF, which rounds the f32 operands to bfloat16 on the
 * way into the tensor cores and sums in f32 (cuda_bf16_gemm_rounds_operands pins that
 * rule). It replaced a rounding pass per operand into scratch before a bf16 GemmEx: 6
 * bytes an element moved outside the GEMM, ~630 us of the Mamba block's 4.7 ms. */
static void gemm_call(cublasHandle_t h, int bf16, cublasOperation_t ta, cublasOperation_t tb,
                      int im, int in, int ik, const float *al, const float *a, int ia,
                      int64_t sa, const float *b, int ib, int64_t sb, const float *be, float *c,
                      int ic, int64_t sc, int nb) {
    const cublasComputeType_t ct = CUBLAS_COMPUTE_32F_FAST_16BF;
    if (bf16 && nb == 1)
        CUBLAS_CHECK(cublasGemmEx(h, tb, ta, in, im, ik, al, b, CUDA_R_32F, ib, a, CUDA_R_32F, ia,
                                  be, c, CUDA_R_32F, ic, ct, CUBLAS_GEMM_DEFAULT));
    else if (bf16)
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, tb, ta, in, im, ik, al, b, CUDA_R_32F, ib,
                                                (long long)sb, a, CUDA_R_32F, ia, (long long)sa,
                                                be, c, CUDA_R_32F, ic, (long long)sc, nb, ct,
                                                CUBLAS_GEMM_DEFAULT));
    else if (nb == 1)
        CUBLAS_CHECK(cublasSgemm(h, tb, ta, in, im, ik, al, b, ib, a, ia, be, c, ic));
    else
        CUBLAS_CHECK(cublasSgemmStridedBatched(h, tb, ta, in, im, ik, al, b, ib, (long long)sb,
                                               a, ia, (long long)sa, be, c, ic, (long long)sc,
                                               nb));
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
    const int bf16 = ssm_cuda_gemm_precision() == SSM_GEMM_BF16 && k > 0;
    if (stride_c == 0 && batch > 1) {
        /* every product lands in one C: run them in order, as the CPU's loop does
         * (a batched call would race on C) */
        for (int64_t i = 0; i < batch; i++)
            gemm_call(h, bf16, ta, tb, im, in, ik, &al, CF32(a) + i * stride_a, ia, 0,
                      CF32(b) + i * stride_b, ib, 0, &be, F32(c), ic, 0, 1);
        return;
    }
    /* batches beyond the grid's z limit go in chunks */
    const int64_t chunk = 65535;
    for (int64_t b0 = 0; b0 < batch; b0 += chunk) {
        int nb = (int)(batch - b0 < chunk ? batch - b0 : chunk);
        gemm_call(h, bf16, ta, tb, im, in, ik, &al, CF32(a) + b0 * stride_a, ia, stride_a,
                  CF32(b) + b0 * stride_b, ib, stride_b, &be, F32(c) + b0 * stride_c, ic,
                  stride_c, nb);
    }
}
