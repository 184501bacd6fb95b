/* GEMM on the CPU through OpenBLAS (row-major CBLAS). OpenBLAS runs
 * single-threaded and large products are split into row (or column) blocks
 * over OpenMP's threads: two thread pools busy-waiting against each other on
 * the same cores cost more than the GEMMs (measured: 2.2x slower training
 * steps on 2 cores with OpenBLAS's own threads). */
#include <cblas.h>
#include <omp.h>
#include "cpu_kernels.h"

#define GEMM_THREADED_FLOPS (1 << 22) /* m n k below which one thread is faster */

static void gemm1(ssm_dtype dt, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int64_t m,
                  int64_t n, int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                  int64_t ldb, double beta, void *c, int64_t ldc) {
    if (dt == SSM_F32)
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, (float)alpha, a,
                    (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                    (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

/* One product, split across threads along M (rows of op(A) and C) or, when M is
 * short, along N (columns of op(B) and C). */
static void gemm_split(ssm_dtype dt, int transa, int transb, int64_t m, int64_t n, int64_t k,
                       double alpha, const char *a, int64_t lda, const char *b, int64_t ldb,
                       double beta, char *c, int64_t ldc) {
    enum CBLAS_TRANSPOSE ta = transa ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = transb ? CblasTrans : CblasNoTrans;
    size_t es = ssm_dtype_size(dt);
    int threads = omp_get_max_threads();
    if (threads < 2 || (double)m * (double)n * (double)k < GEMM_THREADED_FLOPS) {
        gemm1(dt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int by_rows = m >= n || m >= 64 * threads;
    int64_t len = by_rows ? m : n;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo = len * t / nt, hi = len * (t + 1) / nt;
        if (hi > lo) {
            if (by_rows) /* rows lo..hi of op(A): row offset, or column offset when transposed */
                gemm1(dt, ta, tb, hi - lo, n, k, alpha, a + (size_t)lo * es * (transa ? 1 : (size_t)lda),
                      lda, b, ldb, beta, c + (size_t)lo * (size_t)ldc * es, ldc);
            else /* columns lo..hi of op(B) and C */
                gemm1(dt, ta, tb, m, hi - lo, k, alpha, a, lda,
                      b + (size_t)lo * es * (transb ? (size_t)ldb : 1), ldb, beta,
                      c + (size_t)lo * es, ldc);
        }
    }
}

void ssm_cpu_gemm(ssm_dtype dt, int transa, int transb, int64_t m, int64_t n, int64_t k,
                  double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                  int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                  int64_t stride_c, int64_t batch) {
    SSM_CHECK(dt == SSM_F32 || dt == SSM_F64, "gemm: unsupported dtype %s", ssm_dtype_name(dt));
    static int blas_single = 0;
    if (!blas_single) { /* this process's OpenBLAS never starts its own pool */
        openblas_set_num_threads(1);
        blas_single = 1;
    }
    size_t es = ssm_dtype_size(dt);
    for (int64_t i = 0; i < batch; i++)
        gemm_split(dt, transa, transb, m, n, k, alpha, (const char *)a + (size_t)(i * stride_a) * es,
                   lda, (const char *)b + (size_t)(i * stride_b) * es, ldb, beta,
                   (char *)c + (size_t)(i * stride_c) * es, ldc);
}
