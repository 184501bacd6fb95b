/* Layers' building blocks: embedding, inverted dropout, GLU, causal depthwise
 * conv1d (channels first, optional fused SiLU). Gradient reductions (dW of the
 * embedding, dw/dbias of the conv) are
 * partitioned by output element so threads never share one, and each element
 * sums its terms in a fixed order: no races, no dependence on the thread count.
 * The embedding's per-chunk partial rows live in one grow-only scratch buffer, so a
 * steady step allocates nothing.
 *
 * Template: the part under `#else` is compiled for T = float and T = double. */
#ifndef T
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>
#include "cpu_kernels.h"
#include "log.h"
#include "philox.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define PAR_MIN ((int64_t)1 << 15) /* elements below which threads cost more than they save */

/* embedding_bwd's scratch: `bytes` for each of `threads` threads, grown, never shrunk
 * (one host thread calls the kernels; OpenMP threads share it by slices) */
static char *emb_scratch(int threads, size_t bytes) {
    static char *buf;
    static size_t cap;
    size_t need = (size_t)threads * bytes;
    if (need > cap) {
        char *p = realloc(buf, need);
        SSM_CHECK(p, "embedding_bwd: out of memory for %zu bytes of partial sums", need);
        buf = p, cap = need;
    }
    return buf;
}

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

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

#define SSM_CPU_TEMPLATE "cpu_nn.c"
#include "cpu_template.h"

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

void ssm_cpu_dropout_fwd(ssm_dtype dt, const void *x, const void *r, void *y, int64_t n, double p,
                         uint64_t seed, uint64_t offset) {
    SSM_CHECK(p >= 0 && p <= 1, "dropout_fwd: p = %g is outside [0, 1]", p);
    DISPATCH(dropout_fwd, dt, x, r, y, n, p, seed, offset);
}

void ssm_cpu_dropout_bwd(ssm_dtype dt, const void *dy, void *dx, int64_t n, double p,
                         uint64_t seed, uint64_t offset, int acc) {
    if (!dx) return;
    ssm_cpu_clear_unless(acc, dx, n, dt);
    SSM_CHECK(p >= 0 && p <= 1, "dropout_bwd: p = %g is outside [0, 1]", p);
    DISPATCH(dropout_bwd, dt, dy, dx, n, p, seed, offset);
}

void ssm_cpu_glu_fwd(ssm_dtype dt, const void *x, const void *b, void *y, int64_t rows,
                     int64_t half) {
    DISPATCH(glu_fwd, dt, x, b, y, rows, half);
}

void ssm_cpu_glu_bwd(ssm_dtype dt, const void *x, const void *b, const void *dy, void *dx,
                     int64_t rows, int64_t half, int acc) {
    if (!dx) return;
    ssm_cpu_clear_unless(acc, dx, rows * 2 * half, dt);
    DISPATCH(glu_bwd, dt, x, b, dy, dx, rows, half);
}

void ssm_cpu_conv1d_causal_fwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                               void *y, int64_t B, int64_t C, int64_t L, int64_t K, int act) {
    DISPATCH(conv1d_causal_fwd, dt, x, w, bias, y, B, C, L, K, act);
}

void ssm_cpu_conv1d_causal_bwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                               const void *dy, void *dx, void *dw, void *dbias, int64_t B,
                               int64_t C, int64_t L, int64_t K, int act, int acc_dx) {
    if (!dx && !dw && !dbias) return;
    ssm_cpu_clear_unless(acc_dx, dx, B * C * L, dt);
    DISPATCH(conv1d_causal_bwd, dt, x, w, bias, dy, dx, dw, dbias, B, C, L, K, act);
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
    /* kernels.h's order: per chunk of positions, a partial row for each id met (slot[v]),
     * added to dW at the chunk's end; each thread owns a range of ids and a slice of the
     * scratch: slot per id of its range, the ids met in a chunk, their partial rows */
    /* a slot for every id: the region may run on fewer threads than max_threads() */
    const size_t a = 64, slot_b = ((size_t)vocab * sizeof(int32_t) + a - 1) / a * a,
                 ids_b = (SSM_EMB_CHUNK * sizeof(int32_t) + a - 1) / a * a,
                 per = slot_b + ids_b + (size_t)(SSM_EMB_CHUNK * dim) * sizeof(T);
    char *scratch = emb_scratch(max_threads(), per);
#pragma omp parallel if (n * dim >= PAR_MIN)
    {
        int64_t nt = num_threads(), t = thread_num();
        int64_t v0 = vocab * t / nt, v1 = vocab * (t + 1) / nt;
        char *mine = scratch + (size_t)t * per;
        int32_t *slot = (int32_t *)mine, *ids = (int32_t *)(mine + slot_b);
        T *part = (T *)(mine + slot_b + ids_b);
        for (int64_t v = 0; v < v1 - v0; v++) slot[v] = -1;
        for (int64_t c0 = 0; c0 < n; c0 += SSM_EMB_CHUNK) {
            int64_t c1 = c0 + SSM_EMB_CHUNK < n ? c0 + SSM_EMB_CHUNK : n;
            int32_t met = 0;
            for (int64_t r = c0; r < c1; r++) {
                int64_t v = idx[r];
                if (v < v0 || v >= v1) continue;
                if (slot[v - v0] < 0) {
                    slot[v - v0] = met;
                    ids[met] = (int32_t)v;
                    for (int64_t i = 0; i < dim; i++) part[met * dim + i] = 0;
                    met++;
                }
                T *p = part + slot[v - v0] * dim;
                const T *g = dy + r * dim;
                for (int64_t i = 0; i < dim; i++) p[i] += g[i];
            }
            for (int32_t k = 0; k < met; k++) {
                T *d = dW + ids[k] * dim;
                const T *p = part + k * dim;
                for (int64_t i = 0; i < dim; i++) d[i] += p[i];
                slot[ids[k] - v0] = -1;
            }
        }
    }
}

/* Keep element i when its Philox draw u(seed, offset + i) >= p; p = 1 drops all
 * (no 1/0 scale is ever applied). */
static void FN(dropout_fwd)(const T *x, const T *r, T *y, int64_t n, double p, uint64_t seed,
                            uint64_t offset) {
    T s = p < 1 ? (T)(1 / (1 - p)) : 0;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t i = 0; i < n; i++) {
        T v = ssm_philox_uniform(seed, offset + (uint64_t)i) >= p ? x[i] * s : 0;
        y[i] = r ? v + r[i] : v;
    }
}

static void FN(dropout_bwd)(const T *dy, T *dx, int64_t n, double p, uint64_t seed,
                            uint64_t offset) {
    T s = p < 1 ? (T)(1 / (1 - p)) : 0;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 8)
    for (int64_t i = 0; i < n; i++)
        if (ssm_philox_uniform(seed, offset + (uint64_t)i) >= p) dx[i] += dy[i] * s;
}

/* x1 and x2 of element i of row r, with the bias (b may be NULL) */
#define GLU_PAIR(T, x, b, r, i, half, a1, a2)                                               \
    T a1 = (x)[(r) * 2 * (half) + (i)], a2 = (x)[(r) * 2 * (half) + (half) + (i)];           \
    if (b) a1 += (b)[i], a2 += (b)[(half) + (i)]

static void FN(glu_fwd)(const T *x, const T *b, T *y, int64_t rows, int64_t half) {
#pragma omp parallel for schedule(static) if (rows * half >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < half; i++) {
            GLU_PAIR(T, x, b, r, i, half, a, g);
            y[r * half + i] = a / (1 + exp(-g));
        }
}

/* d x1 = dy * sig(x2), d x2 = dy * x1 * sig(x2) * (1 - sig(x2)) */
static void FN(glu_bwd)(const T *x, const T *b, const T *dy, T *dx, int64_t rows, int64_t half) {
#pragma omp parallel for schedule(static) if (rows * half >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *d = dy + r * half;
        T *da = dx + r * 2 * half, *dg = da + half;
        for (int64_t i = 0; i < half; i++) {
            GLU_PAIR(T, x, b, r, i, half, a, g);
            T s = 1 / (1 + exp(-g));
            da[i] += d[i] * s;
            dg[i] += d[i] * a * s * (1 - s);
        }
    }
}

/* Pre-activation of the causal conv at time t of one row xr [L] (taps in k order). */
static inline T FN(conv_pre)(const T *xr, const T *wc, T b, int64_t t, int64_t K) {
    T acc = b;
    for (int64_t k = 0; k < K; k++) {
        int64_t s = t - (K - 1) + k; /* input time feeding tap k */
        if (s >= 0) acc += wc[k] * xr[s];
    }
    return acc;
}

static void FN(conv1d_causal_fwd)(const T *x, const T *w, const T *bias, T *y, int64_t B,
                                  int64_t C, int64_t L, int64_t K, int act) {
#pragma omp parallel for schedule(static) if (B * C * L * K >= PAR_MIN)
    for (int64_t r = 0; r < B * C; r++) {
        const int64_t c = r % C;
        const T *xr = x + r * L, *wc = w + c * K, b = bias ? bias[c] : 0;
        for (int64_t t = 0; t < L; t++) {
            T p = FN(conv_pre)(xr, wc, b, t, K);
            y[r * L + t] = act ? p / (1 + exp(-p)) : p;
        }
    }
}

/* Per channel c (so threads never share an output, and every sum has a fixed order):
 * g = dy * act'(pre) row by row, then dx[s] += sum_k w[c, k] g[s + K - 1 - k],
 * dw[c, k] += sum_{b,t} g[t] x[t - (K - 1) + k], dbias[c] += sum_{b,t} g[t]. */
static void FN(conv1d_causal_bwd)(const T *x, const T *w, const T *bias, const T *dy, T *dx,
                                  T *dw, T *dbias, int64_t B, int64_t C, int64_t L, int64_t K,
                                  int act) {
    SSM_CHECK(K <= SSM_CONV_MAX_K, "conv1d_causal: kernel size %lld (at most %d)", (long long)K,
              SSM_CONV_MAX_K);
#pragma omp parallel if (B * C * L * K >= PAR_MIN)
    {
        T *g = malloc(sizeof(T) * (size_t)(L > 0 ? L : 1));
        SSM_CHECK(g, "conv1d_causal: out of memory");
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            const T *wc = w + c * K, b = bias ? bias[c] : 0;
            double aw[SSM_CONV_MAX_K] = {0}, ab = 0;
            for (int64_t bb = 0; bb < B; bb++) {
                const int64_t r = bb * C + c;
                const T *xr = x + r * L, *dyr = dy + r * L;
                for (int64_t t = 0; t < L; t++) {
                    T d = dyr[t];
                    if (act) {
                        T p = FN(conv_pre)(xr, wc, b, t, K), sg = 1 / (1 + exp(-p));
                        d *= sg * (1 + p * (1 - sg));
                    }
                    g[t] = d;
                    ab += d;
                    for (int64_t k = 0; k < K; k++) {
                        int64_t s = t - (K - 1) + k;
                        if (s >= 0) aw[k] += (double)d * xr[s];
                    }
                }
                if (dx)
                    for (int64_t s = 0; s < L; s++) {
                        T acc = 0;
                        for (int64_t k = 0; k < K; k++) {
                            int64_t t = s + (K - 1) - k; /* output time tap k reads s from */
                            if (t < L) acc += wc[k] * g[t];
                        }
                        dx[r * L + s] += acc;
                    }
            }
            for (int64_t k = 0; dw && k < K; k++) dw[c * K + k] += (T)aw[k];
            if (dbias) dbias[c] += (T)ab;
        }
        free(g);
    }
}

#endif
