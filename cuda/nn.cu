/* Layers' building blocks: embedding, inverted dropout (Philox, the CPU's
 * numbers), GLU, causal depthwise conv1d on channels-last [B, L, C].
 * Formulas and summation orders follow lib/cpu_nn.c. */
#include "common.cuh"

/* --- embedding --- */

/* An index outside [0, vocab) is a caller bug; the CPU aborts, but checking here
 * would need a host sync, so the row becomes NaN (the NaN-loss check reports it). */
static __global__ void embedding_fwd_kernel(const float *W, const int32_t *idx, float *y,
                                            int64_t n, int64_t dim, int64_t vocab) {
    GRID_STRIDE(i, n * dim) {
        int64_t r = i / dim, d = i - r * dim, v = idx[r];
        y[i] = (v >= 0 && v < vocab) ? W[v * dim + d] : NAN;
    }
}

/* Repeated indices collide: atomics (the only ones in the backend; the order of
 * the additions, hence the last bits, may vary between runs). */
static __global__ void embedding_bwd_kernel(const float *dy, const int32_t *idx, float *dW,
                                            int64_t n, int64_t dim, int64_t vocab) {
    GRID_STRIDE(i, n * dim) {
        int64_t r = i / dim, d = i - r * dim, v = idx[r];
        if (v >= 0 && v < vocab) atomicAdd(dW + v * dim + d, dy[i]);
    }
}

void ssm_cuda_embedding_fwd(ssm_dtype dt, const void *W, const int32_t *idx, void *y, int64_t n,
                            int64_t dim, int64_t vocab) {
    SSM_CUDA_F32(dt, "embedding_fwd");
    if (n <= 0 || dim <= 0) return;
    embedding_fwd_kernel<<<ssm_grid(n * dim), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(W), idx, F32(y), n, dim, vocab);
    LAUNCH_CHECK();
}

void ssm_cuda_embedding_bwd(ssm_dtype dt, const void *dy, const int32_t *idx, void *dW,
                            int64_t n, int64_t dim, int64_t vocab) {
    SSM_CUDA_F32(dt, "embedding_bwd");
    if (!dW || n <= 0 || dim <= 0) return;
    embedding_bwd_kernel<<<ssm_grid(n * dim), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(dy), idx, F32(dW), n, dim, vocab);
    LAUNCH_CHECK();
}

/* --- dropout: keep element i when u(seed, offset + i) >= p; scale kept by 1/(1-p) --- */

static __global__ void dropout_fwd_kernel(const float *x, float *y, int64_t n, double p,
                                          float s, uint64_t seed, uint64_t offset) {
    GRID_STRIDE(i, n)
        y[i] = ssm_philox_uniform(seed, offset + (uint64_t)i) >= p ? x[i] * s : 0.0f;
}

static __global__ void dropout_bwd_kernel(const float *dy, float *dx, int64_t n, double p,
                                          float s, uint64_t seed, uint64_t offset) {
    GRID_STRIDE(i, n)
        if (ssm_philox_uniform(seed, offset + (uint64_t)i) >= p) dx[i] += dy[i] * s;
}

static float dropout_scale(const char *entry, double p) {
    if (!(p >= 0 && p <= 1)) ssm_panic("cuda: %s: p = %g is outside [0, 1]", entry, p);
    return p < 1 ? (float)(1 / (1 - p)) : 0.0f; /* p = 1 drops everything */
}

void ssm_cuda_dropout_fwd(ssm_dtype dt, const void *x, void *y, int64_t n, double p,
                          uint64_t seed, uint64_t offset) {
    SSM_CUDA_F32(dt, "dropout_fwd");
    float s = dropout_scale("dropout_fwd", p);
    if (n <= 0) return;
    if (p == 0) { /* every draw is >= 0: a plain copy */
        ssm_cuda_copy(y, x, (size_t)n * sizeof(float));
        return;
    }
    dropout_fwd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(CF32(x), F32(y), n,
                                                                           p, s, seed, offset);
    LAUNCH_CHECK();
}

void ssm_cuda_dropout_bwd(ssm_dtype dt, const void *dy, void *dx, int64_t n, double p,
                          uint64_t seed, uint64_t offset) {
    SSM_CUDA_F32(dt, "dropout_bwd");
    if (!dx) return;
    float s = dropout_scale("dropout_bwd", p);
    if (n <= 0) return;
    if (p == 0) {
        ssm_cuda_scale(SSM_F32, dy, dx, n, 1.0, 1);
        return;
    }
    dropout_bwd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(CF32(dy), F32(dx), n,
                                                                           p, s, seed, offset);
    LAUNCH_CHECK();
}

/* --- GLU over the last axis: y = x1 * sigmoid(x2) --- */

static __global__ void glu_fwd_kernel(const float *x, float *y, int64_t rows, int64_t half) {
    GRID_STRIDE(i, rows * half) {
        int64_t r = i / half, j = i - r * half;
        const float *a = x + r * 2 * half;
        y[i] = a[j] / (1.0f + expf(-a[half + j]));
    }
}

/* d x1 += dy * sig(x2), d x2 += dy * x1 * sig(x2) * (1 - sig(x2)) */
static __global__ void glu_bwd_kernel(const float *x, const float *dy, float *dx, int64_t rows,
                                      int64_t half) {
    GRID_STRIDE(i, rows * half) {
        int64_t r = i / half, j = i - r * half;
        const float *a = x + r * 2 * half;
        float *da = dx + r * 2 * half;
        float s = 1.0f / (1.0f + expf(-a[half + j])), d = dy[i];
        da[j] += d * s;
        da[half + j] += d * a[j] * s * (1.0f - s);
    }
}

void ssm_cuda_glu_fwd(ssm_dtype dt, const void *x, void *y, int64_t rows, int64_t half) {
    SSM_CUDA_F32(dt, "glu_fwd");
    if (rows <= 0 || half <= 0) return;
    glu_fwd_kernel<<<ssm_grid(rows * half), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), F32(y), rows, half);
    LAUNCH_CHECK();
}

void ssm_cuda_glu_bwd(ssm_dtype dt, const void *x, const void *dy, void *dx, int64_t rows,
                      int64_t half) {
    SSM_CUDA_F32(dt, "glu_bwd");
    if (!dx || rows <= 0 || half <= 0) return;
    glu_bwd_kernel<<<ssm_grid(rows * half), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(dy), F32(dx), rows, half);
    LAUNCH_CHECK();
}

/* --- causal depthwise conv1d, x [B, L, C], w [C, K]: one thread per (b, t, c),
 * neighbouring threads on neighbouring channels (coalesced) --- */

static __global__ void conv_fwd_kernel(const float *x, const float *w, const float *bias,
                                       float *y, int64_t B, int64_t L, int64_t C, int64_t K) {
    GRID_STRIDE(i, B * L * C) {
        int64_t c = i % C, bt = i / C, t = bt % L;
        float acc = bias ? bias[c] : 0.0f;
        for (int64_t k = 0; k < K; k++) {
            int64_t s = t - (K - 1) + k; /* input time feeding tap k */
            if (s >= 0) acc += w[c * K + k] * x[(bt - t + s) * C + c];
        }
        y[i] = acc;
    }
}

/* dx[b, s, c] += sum_k w[c, k] dy[b, s + K - 1 - k, c], added in k order as on the CPU */
static __global__ void conv_dx_kernel(const float *w, const float *dy, float *dx, int64_t B,
                                      int64_t L, int64_t C, int64_t K) {
    GRID_STRIDE(i, B * L * C) {
        int64_t c = i % C, bs = i / C, s = bs % L;
        float acc = dx[i];
        for (int64_t k = 0; k < K; k++) {
            int64_t t = s + (K - 1) - k; /* output time tap k reads s from */
            if (t < L) acc += w[c * K + k] * dy[(bs - s + t) * C + c];
        }
        dx[i] = acc;
    }
}

/* dw[c, k] = sum over rows r = (b, t) of dy[r, c] x[b, t - (K - 1) + k, c];
 * column j = k * C + c keeps neighbouring threads on neighbouring channels */
struct conv_dw_val {
    const float *x, *dy;
    int64_t L, C, K;
    __device__ double operator()(int64_t, int64_t r, int64_t j) const {
        int64_t k = j / C, c = j - k * C, t = r % L, s = t - (K - 1) + k;
        if (s < 0) return 0.0;
        return (double)dy[r * C + c] * x[(r - t + s) * C + c];
    }
};
struct conv_dw_store {
    float *dw;
    int64_t C, K;
    __device__ void operator()(int64_t, int64_t j, double v) const {
        int64_t k = j / C, c = j - k * C;
        dw[c * K + k] += (float)v;
    }
};
struct conv_db_val {
    const float *dy;
    int64_t C;
    __device__ double operator()(int64_t, int64_t r, int64_t c) const {
        return (double)dy[r * C + c];
    }
};
struct add_store {
    float *y;
    __device__ void operator()(int64_t, int64_t j, double v) const { y[j] += (float)v; }
};

void ssm_cuda_conv1d_causal_fwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                                void *y, int64_t B, int64_t L, int64_t C, int64_t K) {
    SSM_CUDA_F32(dt, "conv1d_causal_fwd");
    int64_t n = B * L * C;
    if (n <= 0) return;
    conv_fwd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(w), CF32(bias), F32(y), B, L, C, K);
    LAUNCH_CHECK();
}

void ssm_cuda_conv1d_causal_bwd(ssm_dtype dt, const void *x, const void *w, const void *dy,
                                void *dx, void *dw, void *dbias, int64_t B, int64_t L, int64_t C,
                                int64_t K) {
    SSM_CUDA_F32(dt, "conv1d_causal_bwd");
    int64_t n = B * L * C;
    if (n <= 0) return;
    if (dx) {
        conv_dx_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(
            CF32(w), CF32(dy), F32(dx), B, L, C, K);
        LAUNCH_CHECK();
    }
    if (dw && K > 0)
        col_reduce<double>(1, B * L, K * C, conv_dw_val{CF32(x), CF32(dy), L, C, K},
                           conv_dw_store{F32(dw), C, K});
    if (dbias) col_reduce<double>(1, B * L, C, conv_db_val{CF32(dy), C}, add_store{F32(dbias)});
}
