/* Layers' building blocks: embedding, inverted dropout (Philox, the CPU's
 * numbers), GLU, causal depthwise conv1d on channels-first [B, C, L].
 * Formulas and summation orders follow lib/cpu_nn.c. */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
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

/* Backward, deterministic, in kernels.h's order: the positions sorted by id (CUB's radix
 * sort is stable, so each id keeps its positions in order); a segment is one id's
 * positions inside one chunk of SSM_EMB_CHUNK positions, contiguous in that order. A
 * thread per (segment, d) sums a segment from 0 (at most a chunk of rows), then a thread
 * per (id, d) adds its segments into dW in chunk order: the CPU's additions, bit for bit,
 * and no atomics. One thread walking all of an id's rows took milliseconds on LRA
 * batches, where the padding id alone holds tens of thousands of positions. */
static __global__ void iota_kernel(int32_t *p, int64_t n) {
    GRID_STRIDE(i, n) p[i] = (int32_t)i;
}

static __global__ void emb_seg_flags_kernel(const uint32_t *key, const int32_t *pos,
                                            int32_t *flag, int64_t n) {
    GRID_STRIDE(s, n)
        flag[s] = s == 0 || key[s] != key[s - 1] ||
                  pos[s] / SSM_EMB_CHUNK != pos[s - 1] / SSM_EMB_CHUNK;
}

/* seg[s] is the inclusive sum of the flags: a head's segment number + 1 */
static __global__ void emb_seg_start_kernel(const int32_t *flag, const int32_t *seg,
                                            int32_t *start, int64_t n) {
    GRID_STRIDE(s, n) if (flag[s]) start[seg[s] - 1] = (int32_t)s;
}

static __global__ void emb_seg_sum_kernel(const float *dy, const int32_t *pos,
                                          const int32_t *start, const int32_t *seg, float *part,
                                          int64_t n, int64_t dim, int64_t bound) {
    const int64_t nseg = seg[n - 1];
    GRID_STRIDE(i, bound * dim) {
        int64_t g = i / dim, d = i - g * dim;
        if (g >= nseg) continue;
        int64_t end = g + 1 < nseg ? start[g + 1] : n;
        float acc = 0.0f;
        for (int64_t j = start[g]; j < end; j++) acc += dy[(int64_t)pos[j] * dim + d];
        part[g * dim + d] = acc;
    }
}

static __global__ void emb_add_kernel(const uint32_t *key, const int32_t *start,
                                      const int32_t *seg, const float *part, float *dW, int64_t n,
                                      int64_t dim, int64_t vocab, int64_t bound) {
    const int64_t nseg = seg[n - 1];
    GRID_STRIDE(i, bound * dim) {
        int64_t g = i / dim, d = i - g * dim;
        if (g >= nseg) continue;
        uint32_t v = key[start[g]];
        if ((g > 0 && key[start[g - 1]] == v) || (int64_t)v >= vocab) continue; /* not an id's first */
        float acc = dW[v * dim + d];
        for (int64_t j = g; j < nseg && key[start[j]] == v; j++) acc += part[j * dim + d];
        dW[v * dim + d] = acc;
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
    if (n > 2147483647 || vocab > 2147483647)
        ssm_panic("cuda: embedding_bwd: %lld indices over %lld rows", (long long)n,
                  (long long)vocab);
    int bits = 1;
    while (bits < 32 && ((int64_t)1 << bits) < vocab) bits++;
    /* segments: at most one per position, and one per (id, chunk) */
    const int64_t chunks = (n + SSM_EMB_CHUNK - 1) / SSM_EMB_CHUNK;
    const int64_t bound = vocab * chunks < n ? vocab * chunks : n;
    /* ids are >= 0 (the forward checks): as unsigned keys, only the low `bits` matter */
    const uint32_t *keys_in = (const uint32_t *)idx;
    size_t sort_bytes = 0, scan_bytes = 0, a = 256, nb = ((size_t)n * 4 + a - 1) / a * a;
    cudaStream_t st = ssm_cuda_stream();
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, keys_in, (uint32_t *)NULL,
                                               (const int32_t *)NULL, (int32_t *)NULL, (int)n, 0,
                                               bits, st));
    CUDA_CHECK(cub::DeviceScan::InclusiveSum(NULL, scan_bytes, (const int32_t *)NULL,
                                             (int32_t *)NULL, (int)n, st));
    size_t tmp = sort_bytes > scan_bytes ? sort_bytes : scan_bytes;
    tmp = (tmp + a - 1) / a * a;
    char *buf = (char *)ssm_cuda_scratch(SSM_SCR_OP, 6 * nb + tmp +
                                                     (size_t)(bound * dim) * sizeof(float));
    uint32_t *keys = (uint32_t *)buf;
    int32_t *pos_in = (int32_t *)(buf + nb), *pos = (int32_t *)(buf + 2 * nb);
    int32_t *flag = (int32_t *)(buf + 3 * nb), *seg = (int32_t *)(buf + 4 * nb);
    int32_t *start = (int32_t *)(buf + 5 * nb);
    void *work = buf + 6 * nb;
    float *part = (float *)(buf + 6 * nb + tmp);
    iota_kernel<<<ssm_grid(n), SSM_THREADS, 0, st>>>(pos_in, n);
    LAUNCH_CHECK();
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(work, sort_bytes, keys_in, keys, pos_in, pos,
                                               (int)n, 0, bits, st));
    emb_seg_flags_kernel<<<ssm_grid(n), SSM_THREADS, 0, st>>>(keys, pos, flag, n);
    LAUNCH_CHECK();
    CUDA_CHECK(cub::DeviceScan::InclusiveSum(work, scan_bytes, flag, seg, (int)n, st));
    emb_seg_start_kernel<<<ssm_grid(n), SSM_THREADS, 0, st>>>(flag, seg, start, n);
    LAUNCH_CHECK();
    emb_seg_sum_kernel<<<ssm_grid(bound * dim), SSM_THREADS, 0, st>>>(CF32(dy), pos, start, seg,
                                                                      part, n, dim, bound);
    LAUNCH_CHECK();
    emb_add_kernel<<<ssm_grid(bound * dim), SSM_THREADS, 0, st>>>(keys, start, seg, part,
                                                                  F32(dW), n, dim, vocab, bound);
    LAUNCH_CHECK();
}

/* --- dropout: keep element i when u(seed, offset + i) >= p; scale kept by 1/(1-p).
 * The offset is the argument plus the replay base (graph.cu: 0 outside replays) --- */

static __global__ void dropout_fwd_kernel(const float *x, const float *r, float *y, int64_t n,
                                          double p, float s, uint64_t seed, uint64_t offset,
                                          const uint64_t *base) {
    offset += *base;
    GRID_STRIDE(i, n) {
        float v = ssm_philox_uniform(seed, offset + (uint64_t)i) >= p ? x[i] * s : 0.0f;
        y[i] = r ? v + r[i] : v;
    }
}

static __global__ void dropout_bwd_kernel(const float *dy, float *dx, int64_t n, double p,
                                          float s, uint64_t seed, uint64_t offset,
                                          const uint64_t *base, int acc) {
    offset += *base;
    GRID_STRIDE(i, n) {
        const bool keep = ssm_philox_uniform(seed, offset + (uint64_t)i) >= p;
        if (acc) {
            if (keep) dx[i] += dy[i] * s;
        } else {
            dx[i] = keep ? dy[i] * s : 0.0f;
        }
    }
}

static float dropout_scale(const char *entry, double p) {
    if (!(p >= 0 && p <= 1)) ssm_panic("cuda: %s: p = %g is outside [0, 1]", entry, p);
    return p < 1 ? (float)(1 / (1 - p)) : 0.0f; /* p = 1 drops everything */
}

void ssm_cuda_dropout_fwd(ssm_dtype dt, const void *x, const void *r, void *y, int64_t n, double p,
                          uint64_t seed, uint64_t offset) {
    SSM_CUDA_F32(dt, "dropout_fwd");
    float s = dropout_scale("dropout_fwd", p);
    if (n <= 0) return;
    if (p == 0 && !r) { /* every draw is >= 0: a plain copy */
        ssm_cuda_copy(y, x, (size_t)n * sizeof(float));
        return;
    }
    dropout_fwd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(r), F32(y), n, p, s, seed, offset, ssm_cuda_rng_base());
    LAUNCH_CHECK();
}

void ssm_cuda_dropout_bwd(ssm_dtype dt, const void *dy, void *dx, int64_t n, double p,
                          uint64_t seed, uint64_t offset, int acc) {
    SSM_CUDA_F32(dt, "dropout_bwd");
    if (!dx) return;
    float s = dropout_scale("dropout_bwd", p);
    if (n <= 0) return;
    if (p == 0) {
        ssm_cuda_scale(SSM_F32, dy, dx, n, 1.0, acc);
        return;
    }
    dropout_bwd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(dy), F32(dx), n, p, s, seed, offset, ssm_cuda_rng_base(), acc);
    LAUNCH_CHECK();
}

/* --- GLU over the last axis: y = x1 * sigmoid(x2) --- */

/* x1 and x2 of element j of row r, plus the bias when there is one (b may be NULL) */
__device__ __forceinline__ float2 glu_pair(const float *x, const float *b, int64_t r, int64_t j,
                                           int64_t half) {
    float a = x[r * 2 * half + j], g = x[r * 2 * half + half + j];
    if (b) a += b[j], g += b[half + j];
    return make_float2(a, g);
}

static __global__ void glu_fwd_kernel(const float *x, const float *b, float *y, int64_t rows,
                                      int64_t half) {
    GRID_STRIDE(i, rows * half) {
        int64_t r = i / half, j = i - r * half;
        float2 p = glu_pair(x, b, r, j, half);
        y[i] = p.x / (1.0f + expf(-p.y));
    }
}

/* d x1 += dy * sig(x2), d x2 += dy * x1 * sig(x2) * (1 - sig(x2)) */
static __global__ void glu_bwd_kernel(const float *x, const float *b, const float *dy, float *dx,
                                      int64_t rows, int64_t half, int acc) {
    GRID_STRIDE(i, rows * half) {
        int64_t r = i / half, j = i - r * half;
        float2 p = glu_pair(x, b, r, j, half);
        float *da = dx + r * 2 * half;
        float s = 1.0f / (1.0f + expf(-p.y)), d = dy[i];
        float g1 = d * s, g2 = d * p.x * s * (1.0f - s);
        da[j] = acc ? da[j] + g1 : g1;
        da[half + j] = acc ? da[half + j] + g2 : g2;
    }
}

void ssm_cuda_glu_fwd(ssm_dtype dt, const void *x, const void *b, void *y, int64_t rows,
                      int64_t half) {
    SSM_CUDA_F32(dt, "glu_fwd");
    if (rows <= 0 || half <= 0) return;
    glu_fwd_kernel<<<ssm_grid(rows * half), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(b), F32(y), rows, half);
    LAUNCH_CHECK();
}

void ssm_cuda_glu_bwd(ssm_dtype dt, const void *x, const void *b, const void *dy, void *dx,
                      int64_t rows, int64_t half, int acc) {
    SSM_CUDA_F32(dt, "glu_bwd");
    if (!dx || rows <= 0 || half <= 0) return;
    glu_bwd_kernel<<<ssm_grid(rows * half), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(b), CF32(dy), F32(dx), rows, half, acc);
    LAUNCH_CHECK();
}

/* --- causal depthwise conv1d, channels first: x [B, C, L], w [C, K], optional SiLU ---
 * Forward: a thread per (row, t), neighbouring threads on neighbouring times
 * (coalesced). Backward: a block per row (b, c) walks it in tiles, recomputing the
 * pre-activation for act' (K taps, from cache) so nothing is saved; a row's dw and dbias
 * terms are block sums in double, added over b in a fixed order by a second kernel
 * (deterministic, no atomics). A block per channel walking its B rows one after the
 * other left 1,536 long blocks for 132 SMs (Mamba d_inner 1536): 1.45 waves, the
 * second one half empty. */

__device__ __forceinline__ float conv_pre(const float *xr, const float *wc, float b, int64_t t,
                                          int64_t K) {
    float acc = b;
    for (int64_t k = 0; k < K; k++) {
        int64_t s = t - (K - 1) + k; /* input time feeding tap k */
        if (s >= 0) acc += wc[k] * xr[s];
    }
    return acc;
}

/* dy * act'(pre) at time t of a row */
__device__ __forceinline__ float conv_g(const float *xr, const float *dyr, const float *wc,
                                        float b, int64_t t, int64_t K, int act) {
    float d = dyr[t];
    if (act) {
        float p = conv_pre(xr, wc, b, t, K), sg = 1.0f / (1.0f + expf(-p));
        d *= sg * (1.0f + p * (1.0f - sg));
    }
    return d;
}

/* a thread per time of blockIdx.y's rows (grid-stride over rows): no 64-bit division per
 * element, which a flat index over B C L needed (2.8x the byte floor at the Mamba size) */
static __global__ void conv_fwd_kernel(const float *x, const float *w, const float *bias,
                                       float *y, int64_t R, int64_t C, int64_t L, int64_t K,
                                       int act) {
    const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= L) return;
    for (int64_t r = blockIdx.y; r < R; r += gridDim.y) {
        const int64_t c = r % C;
        float p = conv_pre(x + r * L, w + c * K, bias ? bias[c] : 0.0f, t, K);
        y[r * L + t] = act ? p / (1.0f + expf(-p)) : p;
    }
}

enum { CONV_BWD_THREADS = 256 };

/* Row (blockIdx.y, blockIdx.x), tiles of CONV_BWD_THREADS times: each thread forms
 * g = dy act'(pre) at its time (and K - 1 threads the halo after the tile) into shared
 * memory once, then reads its K neighbours from there for dx. part[(b C + c)(K + 1) + k]
 * gets the row's dw[k] term, + K its dbias term. The loops over the taps are unrolled
 * to a bound known when compiling, so the double accumulators aw[] live in registers: a
 * loop to the run-time K put them in local memory (64 bytes of stack a thread), read and
 * written at every element. KT > 0 is K itself (Mamba's d_conv 4 and its neighbours: no
 * guards for absent taps); KT = 0 unrolls to SSM_CONV_MAX_K with guards, any K. */
template <int KT>
static __global__ void __launch_bounds__(CONV_BWD_THREADS)
conv_bwd_kernel(const float *x, const float *w, const float *bias, const float *dy, float *dx,
                double *part, int64_t C, int64_t L, int64_t K_, int act, int acc) {
    constexpr int NA = KT ? KT : SSM_CONV_MAX_K;
    const int K = KT ? KT : (int)K_;
    __shared__ float s_g[CONV_BWD_THREADS + SSM_CONV_MAX_K];
    const int64_t c = blockIdx.x, bb = blockIdx.y;
    const int tid = threadIdx.x;
    const float *wc = w + c * K, b = bias ? bias[c] : 0.0f;
    double aw[NA], ab = 0.0;
#pragma unroll
    for (int k = 0; k < NA; k++) aw[k] = 0.0;
    const int64_t r = bb * C + c;
    const float *xr = x + r * L, *dyr = dy + r * L;
    for (int64_t t0 = 0; t0 < L; t0 += CONV_BWD_THREADS) { /* uniform over the block */
        const int64_t t = t0 + tid;
        const float g = t < L ? conv_g(xr, dyr, wc, b, t, K, act) : 0.0f;
        s_g[tid] = g;
        if (tid < K - 1) {
            int64_t th = t0 + CONV_BWD_THREADS + tid;
            s_g[CONV_BWD_THREADS + tid] = th < L ? conv_g(xr, dyr, wc, b, th, K, act) : 0.0f;
        }
        __syncthreads();
        if (t < L) {
            ab += g;
#pragma unroll
            for (int k = 0; k < NA; k++) {
                int64_t s = t - (K - 1) + k;
                if (k < K && s >= 0) aw[k] += (double)g * xr[s];
            }
            if (dx) { /* dx[t] (+)= sum_k w[k] g[t + K - 1 - k] (zero past L), k order */
                float s = 0.0f;
#pragma unroll
                for (int k = 0; k < NA; k++)
                    if (k < K) s += wc[k] * s_g[tid + (K - 1) - k];
                dx[r * L + t] = acc ? dx[r * L + t] + s : s;
            }
        }
        __syncthreads(); /* s_g is rewritten by the next tile */
    }
    double *pr = part + (bb * C + c) * (K + 1);
#pragma unroll
    for (int k = 0; k < NA; k++) {
        if (k >= K) break;
        double v = block_sum(aw[k]);
        if (tid == 0) pr[k] = v;
    }
    double v = block_sum(ab);
    if (tid == 0) pr[K] = v;
}

/* dw[c, k] += sum over b of part[b][c][k] (k = K: dbias[c]), b in order */
static __global__ void conv_param_final_kernel(const double *part, float *dw, float *dbias,
                                               int64_t B, int64_t C, int64_t K) {
    GRID_STRIDE(i, C * (K + 1)) {
        double s = 0.0;
        for (int64_t b = 0; b < B; b++) s += part[b * C * (K + 1) + i];
        const int64_t c = i / (K + 1), k = i - c * (K + 1);
        if (k < K && dw) dw[c * K + k] += (float)s;
        if (k == K && dbias) dbias[c] += (float)s;
    }
}

void ssm_cuda_conv1d_causal_fwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                                void *y, int64_t B, int64_t C, int64_t L, int64_t K, int act) {
    SSM_CUDA_F32(dt, "conv1d_causal_fwd");
    const int64_t R = B * C;
    if (R * L <= 0) return;
    const dim3 grid((unsigned)((L + SSM_THREADS - 1) / SSM_THREADS), (unsigned)(R < 65535 ? R : 65535));
    conv_fwd_kernel<<<grid, SSM_THREADS, 0, ssm_cuda_stream()>>>(CF32(x), CF32(w), CF32(bias),
                                                                F32(y), R, C, L, K, act);
    LAUNCH_CHECK();
}

void ssm_cuda_conv1d_causal_bwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                                const void *dy, void *dx, void *dw, void *dbias, int64_t B,
                                int64_t C, int64_t L, int64_t K, int act, int acc_dx) {
    SSM_CUDA_F32(dt, "conv1d_causal_bwd");
    if (B * C * L <= 0 || (!dx && !dw && !dbias)) return;
    if (K > SSM_CONV_MAX_K)
        ssm_panic("cuda: conv1d_causal: kernel size %lld (at most %d)", (long long)K,
                  SSM_CONV_MAX_K);
    if (C > 2147483647 || B > 65535)
        ssm_panic("cuda: conv1d_causal: %lld rows of %lld channels", (long long)B, (long long)C);
    double *part = (double *)ssm_cuda_scratch(SSM_SCR_OP, (size_t)(B * C * (K + 1)) * sizeof(double));
    auto kern = K == 4 ? conv_bwd_kernel<4> : K == 3 ? conv_bwd_kernel<3>
              : K == 2 ? conv_bwd_kernel<2> : conv_bwd_kernel<0>; /* Mamba's d_conv: 4 */
    kern<<<dim3((unsigned)C, (unsigned)B), CONV_BWD_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(w), CF32(bias), CF32(dy), F32(dx), part, C, L, K, act, acc_dx);
    LAUNCH_CHECK();
    if (dw || dbias) {
        conv_param_final_kernel<<<ssm_grid(C * (K + 1)), SSM_THREADS, 0, ssm_cuda_stream()>>>(
            part, F32(dw), F32(dbias), B, C, K);
        LAUNCH_CHECK();
    }
}
