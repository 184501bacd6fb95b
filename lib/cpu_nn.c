/* Layers' building blocks: embedding, inverted dropout, GLU, causal depthwise
 * conv1d. Gradient reductions (dW of the embedding, dw/dbias of the conv) are
 * partitioned by output element so threads never share one, and each element
 * sums its terms in a fixed order: no races, no scratch, no dependence on the
 * thread count.
 *
 * Template: the part under `#else` is compiled for T = float and T = double. */
#ifndef T
#include <string.h>
#include <tgmath.h>
#include "cpu_kernels.h"
#include "log.h"
#include "philox.h"
#ifdef _OPENMP
#include <omp.h>
#endif

enum { CW_MAX = 64 };   /* widest channel chunk */
enum { ACC_MAX = 1024 }; /* conv1d: double accumulators per chunk, all taps + bias */
#define PAR_MIN ((int64_t)1 << 15) /* elements below which threads cost more than they save */

static int thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int num_threads(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* Channel chunk width: about two chunks per thread, within [8, CW_MAX]. */
static int64_t col_chunk(int64_t cols) {
    int64_t nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    int64_t w = (cols + 2 * nt - 1) / (2 * nt);
    return w < 8 ? 8 : w > CW_MAX ? CW_MAX : w;
}

#define T float
#define FN(name) name##_f32
#include "cpu_nn.c"
#undef T
#undef FN
#define T double
#define FN(name) name##_f64
#include "cpu_nn.c"
#undef T
#undef FN

/* same arguments for both instantiations */
#define DISPATCH(fname, dt, ...) \
    SSM_CPU_DISPATCH(#fname, dt, fname##_f32(__VA_ARGS__), fname##_f64(__VA_ARGS__))

static void check_indices(const char *op, const int32_t *idx, int64_t n, int64_t vocab) {
    for (int64_t r = 0; r < n; r++)
        SSM_CHECK(idx[r] >= 0 && idx[r] < vocab, "%s: index %d at position %lld is outside the "
                  "vocabulary [0, %lld)", op, (int)idx[r], (long long)r, (long long)vocab);
}

void ssm_cpu_embedding_fwd(ssm_dtype dt, const void *W, const int32_t *idx, void *y, int64_t n,
                           int64_t dim, int64_t vocab) {
    check_indices("embedding_fwd", idx, n, vocab);
    DISPATCH(embedding_fwd, dt, W, idx, y, n, dim);
}

void ssm_cpu_embedding_bwd(ssm_dtype dt, const void *dy, const int32_t *idx, void *dW,
                           int64_t n, int64_t dim, int64_t vocab) {
    if (!dW) return;
    check_indices("embedding_bwd", idx, n, vocab);
    DISPATCH(embedding_bwd, dt, dy, idx, dW, n, dim, vocab);
}

void ssm_cpu_dropout_fwd(ssm_dtype dt, const void *x, void *y, int64_t n, double p,
                         uint64_t seed, uint64_t offset) {
    SSM_CHECK(p >= 0 && p <= 1, "dropout_fwd: p = %g is outside [0, 1]", p);
    DISPATCH(dropout_fwd, dt, x, y, n, p, seed, offset);
}

void ssm_cpu_dropout_bwd(ssm_dtype dt, const void *dy, void *dx, int64_t n, double p,
                         uint64_t seed, uint64_t offset) {
    if (!dx) return;
    SSM_CHECK(p >= 0 && p <= 1, "dropout_bwd: p = %g is outside [0, 1]", p);
    DISPATCH(dropout_bwd, dt, dy, dx, n, p, seed, offset);
}

void ssm_cpu_glu_fwd(ssm_dtype dt, const void *x, void *y, int64_t rows, int64_t half) {
    DISPATCH(glu_fwd, dt, x, y, rows, half);
}

void ssm_cpu_glu_bwd(ssm_dtype dt, const void *x, const void *dy, void *dx, int64_t rows,
                     int64_t half) {
    if (!dx) return;
    DISPATCH(glu_bwd, dt, x, dy, dx, rows, half);
}

void ssm_cpu_conv1d_causal_fwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                               void *y, int64_t B, int64_t L, int64_t C, int64_t K) {
    DISPATCH(conv1d_causal_fwd, dt, x, w, bias, y, B, L, C, K);
}

void ssm_cpu_conv1d_causal_bwd(ssm_dtype dt, const void *x, const void *w, const void *dy,
                               void *dx, void *dw, void *dbias, int64_t B, int64_t L, int64_t C,
                               int64_t K) {
    DISPATCH(conv1d_causal_bwd, dt, x, w, dy, dx, dw, dbias, B, L, C, K);
}

#else /* ---------------- template body, T = float or double ---------------- */

static void FN(embedding_fwd)(const T *W, const int32_t *idx, T *y, int64_t n, int64_t dim) {
#pragma omp parallel for schedule(static) if (n * dim >= PAR_MIN)
    for (int64_t r = 0; r < n; r++)
        memcpy(y + r * dim, W + (int64_t)idx[r] * dim, (size_t)dim * sizeof(T));
}

/* Thread t owns the vocabulary rows [t V / nt, (t+1) V / nt): repeated indices never
 * race, and each row of dW adds its contributions in position order. */
static void FN(embedding_bwd)(const T *dy, const int32_t *idx, T *dW, int64_t n, int64_t dim,
                              int64_t vocab) {
#pragma omp parallel if (n * dim >= PAR_MIN)
    {
        int64_t nt = num_threads(), t = thread_num();
        int64_t v0 = vocab * t / nt, v1 = vocab * (t + 1) / nt;
        for (int64_t r = 0; r < n; r++) {
            int64_t v = idx[r];
            if (v < v0 || v >= v1) continue;
            T *d = dW + v * dim;
            const T *g = dy + r * dim;
            for (int64_t i = 0; i < dim; i++) d[i] += g[i];
        }
    }
}

/* Keep element i when its Philox draw u(seed, offset + i) >= p; p = 1 drops all
 * (no 1/0 scale is ever applied). */
static void FN(dropout_fwd)(const T *x, T *y, int64_t n, double p, uint64_t seed,
                            uint64_t offset) {
    T s = p < 1 ? (T)(1 / (1 - p)) : 0;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t i = 0; i < n; i++)
        y[i] = ssm_philox_uniform(seed, offset + (uint64_t)i) >= p ? x[i] * s : 0;
}

static void FN(dropout_bwd)(const T *dy, T *dx, int64_t n, double p, uint64_t seed,
                            uint64_t offset) {
    T s = p < 1 ? (T)(1 / (1 - p)) : 0;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t i = 0; i < n; i++)
        if (ssm_philox_uniform(seed, offset + (uint64_t)i) >= p) dx[i] += dy[i] * s;
}

static void FN(glu_fwd)(const T *x, T *y, int64_t rows, int64_t half) {
#pragma omp parallel for schedule(static) if (rows * half >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *a = x + r * 2 * half, *g = a + half;
        for (int64_t i = 0; i < half; i++) y[r * half + i] = a[i] / (1 + exp(-g[i]));
    }
}

/* d x1 = dy * sig(x2), d x2 = dy * x1 * sig(x2) * (1 - sig(x2)) */
static void FN(glu_bwd)(const T *x, const T *dy, T *dx, int64_t rows, int64_t half) {
#pragma omp parallel for schedule(static) if (rows * half >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *a = x + r * 2 * half, *g = a + half, *d = dy + r * half;
        T *da = dx + r * 2 * half, *dg = da + half;
        for (int64_t i = 0; i < half; i++) {
            T s = 1 / (1 + exp(-g[i]));
            da[i] += d[i] * s;
            dg[i] += d[i] * a[i] * s * (1 - s);
        }
    }
}

/* One output row y[b, t, :] per iteration; the inner loop runs over contiguous channels. */
static void FN(conv1d_causal_fwd)(const T *x, const T *w, const T *bias, T *y, int64_t B,
                                  int64_t L, int64_t C, int64_t K) {
#pragma omp parallel for schedule(static) if (B * L * C * K >= PAR_MIN)
    for (int64_t bt = 0; bt < B * L; bt++) {
        int64_t t = bt % L;
        T *yr = y + bt * C;
        for (int64_t c = 0; c < C; c++) yr[c] = bias ? bias[c] : 0;
        for (int64_t k = 0; k < K; k++) {
            int64_t s = t - (K - 1) + k; /* input time feeding tap k */
            if (s < 0) continue;
            const T *xr = x + (bt - t + s) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) yr[c] += w[c * K + k] * xr[c];
        }
    }
}

/* dx[b, s, c] += sum_k w[c, k] dy[b, s + K - 1 - k, c];
 * dw[c, k] += sum_{b,t} dy[b, t, c] x[b, t - (K - 1) + k, c]; dbias[c] += sum_{b,t} dy[b, t, c] */
static void FN(conv1d_causal_bwd)(const T *x, const T *w, const T *dy, T *dx, T *dw, T *dbias,
                                  int64_t B, int64_t L, int64_t C, int64_t K) {
    if (dx) {
#pragma omp parallel for schedule(static) if (B * L * C * K >= PAR_MIN)
        for (int64_t bs = 0; bs < B * L; bs++) {
            int64_t s = bs % L;
            T *dxr = dx + bs * C;
            for (int64_t k = 0; k < K; k++) {
                int64_t t = s + (K - 1) - k; /* output time tap k reads s from */
                if (t >= L) continue;
                const T *g = dy + (bs - s + t) * C;
#pragma omp simd
                for (int64_t c = 0; c < C; c++) dxr[c] += w[c * K + k] * g[c];
            }
        }
    }
    if (!dw && !dbias) return;
    /* One pass over (b, t) per channel chunk: tap k of dy row t meets x row t - (K-1) + k,
     * and those K rows are still in cache. acc[k * cw + j] for tap k, acc[K * cw + j] bias. */
    SSM_CHECK(K < ACC_MAX, "conv1d_causal_bwd: kernel size %lld is too large",
              (long long)K);
    int64_t cw = col_chunk(C);
    if (cw * (K + 1) > ACC_MAX) cw = ACC_MAX / (K + 1);
#pragma omp parallel for schedule(static) if (B * L * C * K >= PAR_MIN)
    for (int64_t c0 = 0; c0 < C; c0 += cw) {
        int64_t n = C - c0 < cw ? C - c0 : cw;
        double acc[ACC_MAX] = {0}, *ab = acc + K * cw;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < L; t++) {
                const T *g = dy + (b * L + t) * C + c0;
                int64_t k0 = t < K - 1 ? K - 1 - t : 0; /* taps reaching before t = 0 */
                for (int64_t k = k0; dw && k < K; k++) {
                    const T *xr = x + (b * L + t - (K - 1) + k) * C + c0;
                    double *a = acc + k * cw;
#pragma omp simd
                    for (int64_t j = 0; j < n; j++) a[j] += (double)g[j] * xr[j];
                }
                if (dbias) {
#pragma omp simd
                    for (int64_t j = 0; j < n; j++) ab[j] += g[j];
                }
            }
        for (int64_t j = 0; j < n; j++) {
            for (int64_t k = 0; dw && k < K; k++) dw[(c0 + j) * K + k] += (T)acc[k * cw + j];
            if (dbias) dbias[c0 + j] += (T)ab[j];
        }
    }
}

#endif
