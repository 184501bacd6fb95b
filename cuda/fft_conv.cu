/* Convolution along the last axis, u [B, H, L] by k [H, Lk] (kernels.h: fft_conv_fwd):
 *   y[b, h, t] = sum_{s <= t} k[h, s] u[b, h, t - s]                  (Lk = L, causal)
 *              + sum_{j < L} k[h, L + j] u[b, h, t + 1 + j]            (Lk = 2L, two-sided:
 * the anti-causal taps go reversed to the end of the circular buffer).
 * cuFFT real transforms of a zero-padded length n = 2m, m >= L the next
 * 2,3,5,7-smooth number (cuFFT's fast radices; any n >= 2L - 1 gives the same
 * linear convolution). Backward: du = irfft(DY conj(K)), dk = irfft(sum_b DY
 * conj(U)), the sum over b taken in frequency space in double, as the CPU does.
 * Short L (<= 32, the CPU's threshold) uses direct sums in double, like the CPU.
 * Plans are cached per (length, batch, direction) and share one work area. */
#include <limits.h>
#include "common.cuh"

enum { DIRECT_MAX_L = 32 };

/* --- direct sums (short L) --- */

/* The tap applied to u[i] for y[t]: d = t - i >= 0 causal, d < 0 anti-causal (Lk = 2L). */
__device__ __forceinline__ double conv_tap(const float *kr, int64_t d, int64_t L, int64_t Lk) {
    return d >= 0 ? (double)kr[d] : Lk == 2 * L ? (double)kr[L - 1 - d] : 0.0;
}

/* Where (b, h, t) lives, row = b * H + h: [B, H, L] (cl 0) or [B, L, H] (cl 1); sequence
 * elements are `step` apart. */
__device__ __forceinline__ int64_t seq_at(int64_t row, int64_t t, int64_t H, int64_t L, int cl) {
    return cl ? ((row / H) * L + t) * H + row % H : row * L + t;
}

static __global__ void direct_fwd_kernel(const float *u, const float *k, const float *D, float *y,
                                         int64_t B, int64_t H, int64_t L, int64_t Lk, int cl) {
    const int64_t step = cl ? H : 1;
    GRID_STRIDE(i, B * H * L) {
        int64_t row = i / L, t = i - row * L;
        const float *ur = u + seq_at(row, 0, H, L, cl), *kr = k + (row % H) * Lk;
        double s = 0;
        int64_t last = Lk == L ? t : L - 1;
        for (int64_t j = 0; j <= last; j++) s += conv_tap(kr, t - j, L, Lk) * ur[j * step];
        if (D) s += (double)D[row % H] * ur[t * step];
        y[seq_at(row, t, H, L, cl)] = (float)s;
    }
}

/* du[b,h,i] += sum_t dy[b,h,t] tap(t - i) */
static __global__ void direct_du_kernel(const float *k, const float *D, const float *dy, float *du,
                                        int64_t B, int64_t H, int64_t L, int64_t Lk, int cl,
                                        int acc) {
    const int64_t step = cl ? H : 1;
    GRID_STRIDE(i, B * H * L) {
        int64_t row = i / L, t0 = i - row * L;
        const float *g = dy + seq_at(row, 0, H, L, cl), *kr = k + (row % H) * Lk;
        double s = 0;
        for (int64_t t = Lk == L ? t0 : 0; t < L; t++)
            s += (double)g[t * step] * conv_tap(kr, t - t0, L, Lk);
        if (D) s += (double)D[row % H] * g[t0 * step];
        float *d = du + seq_at(row, t0, H, L, cl);
        *d = acc ? *d + (float)s : (float)s;
    }
}

/* dk[h,j] += sum_b sum_t dy[b,h,t] u[b,h,t-d], d the offset tap j serves */
static __global__ void direct_dk_kernel(const float *u, const float *dy, float *dk, int64_t B,
                                        int64_t H, int64_t L, int64_t Lk, int cl) {
    const int64_t step = cl ? H : 1;
    GRID_STRIDE(i, H * Lk) {
        int64_t h = i / Lk, j = i - h * Lk, d = j < L ? j : L - 1 - j;
        double s = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t at = seq_at(b * H + h, 0, H, L, cl);
            const float *g = dy + at, *ur = u + at;
            for (int64_t t = d > 0 ? d : 0; t < L && t - d < L; t++)
                s += (double)g[t * step] * ur[(t - d) * step];
        }
        dk[i] += (float)s;
    }
}

/* --- FFT path helpers --- */

/* n = 2m, m >= L the smallest 2^a q with q odd, 7-smooth and at most 49 (1, 3, 5, 7, 9, 15,
 * 21, 25, 27, 35, 45, 49): cuFFT's fast radices, at most 12% longer than the smallest
 * 7-smooth m, and few enough sizes (about 12 an octave) that batches of varying length
 * (LRA Text, ListOps) reuse the cached plans instead of creating four new ones a step. */
static int64_t fft_len(int64_t L) {
    for (int64_t m = L;; m++) {
        int64_t r = m;
        while (r % 2 == 0) r /= 2;
        if (r > 49) continue;
        while (r % 3 == 0) r /= 3;
        while (r % 5 == 0) r /= 5;
        while (r % 7 == 0) r /= 7;
        if (r == 1) return 2 * m;
    }
}

/* R[row, t] = t < L ? src[row, t] : 0 for t < n */
static __global__ void pad_kernel(const float *src, float *R, int64_t rows, int64_t L,
                                  int64_t n) {
    GRID_STRIDE(i, rows * n) {
        int64_t row = i / n, t = i - row * n;
        R[i] = t < L ? src[row * L + t] : 0.0f;
    }
}

/* Channels-last [B, L, H] in and out of the [B * H, n] rows the transforms use, through
 * 32 x 32 shared-memory tiles so that both sides are read and written along their
 * contiguous axis (the transposes the layout would otherwise cost, fused into the pad
 * and extract passes the transforms need anyway). Grid (n or L / 32, H / 32, B). */
enum { TILE = 32, TILE_ROWS = 8 };

/* R[b*H + h, t] = t < L ? src[b, t, h] : 0 for t < n */
static __global__ void pad_cl_kernel(const float *src, float *R, int64_t H, int64_t L,
                                     int64_t n) {
    __shared__ float tile[TILE][TILE + 1];
    const int64_t b = blockIdx.z, t0 = (int64_t)blockIdx.x * TILE, h0 = (int64_t)blockIdx.y * TILE;
    for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
        int64_t t = t0 + j, h = h0 + threadIdx.x;
        tile[j][threadIdx.x] = t < L && h < H ? src[(b * L + t) * H + h] : 0.0f;
    }
    __syncthreads();
    for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
        int64_t h = h0 + j, t = t0 + threadIdx.x;
        if (h < H && t < n) R[(b * H + h) * n + t] = tile[threadIdx.x][j];
    }
}

/* dst[b, t, h] (+)= R[b*H + h, t] / n + D[h] src[b, t, h] for t < L (extract_kernel's
 * arithmetic, so both layouts give the same bits) */
static __global__ void extract_cl_kernel(const float *R, float *dst, int64_t H, int64_t L,
                                         int64_t n, float inv_n, int acc, const float *D,
                                         const float *src) {
    __shared__ float tile[TILE][TILE + 1];
    const int64_t b = blockIdx.z, t0 = (int64_t)blockIdx.x * TILE, h0 = (int64_t)blockIdx.y * TILE;
    for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
        int64_t h = h0 + j, t = t0 + threadIdx.x;
        tile[j][threadIdx.x] = h < H && t < L ? R[(b * H + h) * n + t] : 0.0f;
    }
    __syncthreads();
    for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
        int64_t t = t0 + j, h = h0 + threadIdx.x;
        if (t >= L || h >= H) continue;
        int64_t at = (b * L + t) * H + h;
        float v = tile[threadIdx.x][j] * inv_n;
        if (D) v += D[h] * src[at];
        dst[at] = acc ? dst[at] + v : v;
    }
}

static dim3 tile_grid(int64_t len, int64_t H, int64_t B) {
    if (B > 65535) ssm_panic("cuda: fft_conv: batch %lld exceeds the grid", (long long)B);
    return dim3((unsigned)((len + TILE - 1) / TILE), (unsigned)((H + TILE - 1) / TILE),
                (unsigned)B);
}

/* dD[h] += sum over (b, t) of dy u, channels-last: a deterministic column sum */
struct skip_term {
    const float *dy, *u;
    int64_t H;
    __device__ double operator()(int64_t, int64_t k, int64_t j) const {
        return (double)dy[k * H + j] * u[k * H + j];
    }
};
struct skip_add {
    float *dD;
    __device__ void operator()(int64_t, int64_t j, double s) const { dD[j] += (float)s; }
};

/* Kernel rows k [rows, Lk] into the circular buffer: causal taps first, anti-causal
 * taps (Lk = 2L) reversed at the end (k[L + j] at n - 1 - j). */
static __global__ void pack_kernel(const float *k, float *R, int64_t rows, int64_t L, int64_t Lk,
                                   int64_t n) {
    GRID_STRIDE(i, rows * n) {
        int64_t row = i / n, t = i - row * n;
        float v = 0.0f;
        if (t < L) v = k[row * Lk + t];
        else if (Lk == 2 * L && t >= n - L) v = k[row * Lk + L + (n - 1 - t)];
        R[i] = v;
    }
}

/* dk [rows, Lk] += the buffer's causal and anti-causal positions / n */
static __global__ void unpack_kernel(const float *R, float *dk, int64_t rows, int64_t L,
                                     int64_t Lk, int64_t n, float inv_n) {
    GRID_STRIDE(i, rows * Lk) {
        int64_t row = i / Lk, j = i - row * Lk;
        int64_t t = j < L ? j : n - 1 - (j - L);
        dk[i] += R[row * n + t] * inv_n;
    }
}

/* dst[row, t] (+)= R[row, t] / n + D[row % H] src[row, t] for t < L (D may be NULL:
 * the fused skip term, with src = u forward and dy backward) */
static __global__ void extract_kernel(const float *R, float *dst, int64_t rows, int64_t L,
                                      int64_t n, float inv_n, int acc, const float *D,
                                      const float *src, int64_t H) {
    GRID_STRIDE(i, rows * L) {
        int64_t row = i / L, t = i - row * L;
        float v = R[row * n + t] * inv_n;
        if (D) v += D[row % H] * src[i];
        dst[i] = acc ? dst[i] + v : v;
    }
}

/* dD[h] += sum_{b,t} dy[b,h,t] u[b,h,t]: one block per h, summed in double */
static __global__ void skip_grad_kernel(const float *u, const float *dy, float *dD, int64_t B,
                                        int64_t H, int64_t L) {
    int64_t h = blockIdx.x;
    double s = 0;
    for (int64_t i = threadIdx.x; i < B * L; i += blockDim.x) {
        int64_t b = i / L, t = i - b * L, at = (b * H + h) * L + t;
        s += (double)dy[at] * u[at];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) dD[h] += (float)s;
}

/* X[b, h, f] *= K[h, f] (conj_k = 0) or X = X conj(K) (conj_k = 1), rows = b * H + h */
/* Y = X Kf (conj(Kf) with conj_k) per row of X; Y may be X */
static __global__ void spec_mul_kernel(float2 *Y, const float2 *X, const float2 *Kf, int64_t BH,
                                       int64_t H, int64_t nf, int conj_k) {
    GRID_STRIDE(i, BH * nf) {
        int64_t row = i / nf, f = i - row * nf;
        float2 a = X[i], c = Kf[(row % H) * nf + f];
        if (conj_k) c.y = -c.y;
        Y[i] = make_float2(a.x * c.x - a.y * c.y, a.x * c.y + a.y * c.x);
    }
}

/* DK[h, f] = sum_b DY[b, h, f] conj(U[b, h, f]), accumulated in double */
static __global__ void dk_spec_kernel(const float2 *DY, const float2 *U, float2 *DK, int64_t B,
                                      int64_t H, int64_t nf) {
    GRID_STRIDE(i, H * nf) {
        double re = 0, im = 0;
        for (int64_t b = 0; b < B; b++) {
            float2 a = DY[b * H * nf + i], c = U[b * H * nf + i];
            re += (double)a.x * c.x + (double)a.y * c.y;
            im += (double)a.y * c.x - (double)a.x * c.y;
        }
        DK[i] = make_float2((float)re, (float)im);
    }
}

/* Plan cache: a training step touches a handful of (n, batch, direction) triples, four
 * more for each new length of a varying-length data set. Plans do not own work areas;
 * all share one scratch slot (one stream, in order). */
enum { NPLANS = 128 }; /* 4 a length: ~30 lengths of the ListOps or Text range */
struct plan_entry {
    int64_t n, batch;
    cufftType type;
    cufftHandle h;
    size_t work;
    uint64_t used;
    int valid;
};
static plan_entry plan_cache[NPLANS];
static int plan_cap = NPLANS; /* kernels.h: fft_plan_limit */

static void drop_plan(plan_entry *e) { /* nothing may still run on it */
    CUDA_CHECK(cudaDeviceSynchronize());
    CUFFT_CHECK(cufftDestroy(e->h));
    ssm_cuda_resources_freed(); /* a captured graph may have used this plan */
    e->valid = 0;
}

int ssm_cuda_fft_plan_limit(int n) {
    int old = plan_cap;
    plan_cap = n < 1 ? 1 : n > NPLANS ? NPLANS : n;
    for (int i = plan_cap; i < NPLANS; i++)
        if (plan_cache[i].valid) drop_plan(&plan_cache[i]);
    return old;
}

static plan_entry *get_plan(int64_t n, int64_t batch, cufftType type) {
    static uint64_t clock = 0;
    plan_entry *victim = &plan_cache[0];
    for (int i = 0; i < plan_cap; i++) {
        plan_entry *e = &plan_cache[i];
        if (e->valid && e->n == n && e->batch == batch && e->type == type) {
            e->used = ++clock;
            return e;
        }
        if (!e->valid || (victim->valid && e->used < victim->used)) victim = e;
    }
    if (victim->valid) drop_plan(victim); /* least recently used */
    long long nn = n;
    CUFFT_CHECK(cufftCreate(&victim->h));
    CUFFT_CHECK(cufftSetAutoAllocation(victim->h, 0));
    /* NULL embeds: the basic layout, rows of n reals <-> rows of n/2 + 1 complexes */
    CUFFT_CHECK(cufftMakePlanMany64(victim->h, 1, &nn, NULL, 1, 0, NULL, 1, 0, type,
                                    (long long)batch, &victim->work));
    CUFFT_CHECK(cufftSetStream(victim->h, ssm_cuda_stream()));
    victim->n = n;
    victim->batch = batch;
    victim->type = type;
    victim->used = ++clock;
    victim->valid = 1;
    return victim;
}

static void set_work(plan_entry *p) {
    if (p->work) CUFFT_CHECK(cufftSetWorkArea(p->h, ssm_cuda_scratch(SSM_SCR_FFTWORK, p->work)));
}

/* rfft of `batch` rows of n reals into rows of n/2 + 1 complexes */
static void rfft(const float *R, float2 *X, int64_t n, int64_t batch) {
    plan_entry *p = get_plan(n, batch, CUFFT_R2C);
    set_work(p);
    CUFFT_CHECK(cufftExecR2C(p->h, (cufftReal *)R, (cufftComplex *)X));
}

/* unnormalised inverse; X is overwritten */
static void irfft(float2 *X, float *R, int64_t n, int64_t batch) {
    plan_entry *p = get_plan(n, batch, CUFFT_C2R);
    set_work(p);
    CUFFT_CHECK(cufftExecC2R(p->h, (cufftComplex *)X, (cufftReal *)R));
}

/* Scratch: R real [B*H, n], CA and CB complex [B*H, nf], CH complex [H, nf]. */
struct fft_bufs {
    float *R;
    float2 *CA, *CB, *CH;
};
static fft_bufs get_bufs(int64_t BH, int64_t H, int64_t n, int64_t nf) {
    const size_t al = 256;
    size_t r = ((size_t)(BH * n) * sizeof(float) + al - 1) / al * al;
    size_t c = ((size_t)(BH * nf) * sizeof(float2) + al - 1) / al * al;
    size_t ch = (size_t)(H * nf) * sizeof(float2);
    char *base = (char *)ssm_cuda_scratch(SSM_SCR_FFT, r + 2 * c + ch);
    return {(float *)base, (float2 *)(base + r), (float2 *)(base + r + c),
            (float2 *)(base + r + 2 * c)};
}

static void pad(const float *src, float *R, int64_t rows, int64_t L, int64_t n, int cl = 0,
                int64_t H = 1) {
    if (cl)
        pad_cl_kernel<<<tile_grid(n, H, rows / H), dim3(TILE, TILE_ROWS), 0, ssm_cuda_stream()>>>(
            src, R, H, L, n);
    else
        pad_kernel<<<ssm_grid(rows * n), SSM_THREADS, 0, ssm_cuda_stream()>>>(src, R, rows, L, n);
    LAUNCH_CHECK();
}
static void extract(const float *R, float *dst, int64_t rows, int64_t L, int64_t n, int acc,
                    const float *D = nullptr, const float *src = nullptr, int64_t H = 1,
                    int cl = 0) {
    if (cl)
        extract_cl_kernel<<<tile_grid(L, H, rows / H), dim3(TILE, TILE_ROWS), 0,
                            ssm_cuda_stream()>>>(R, dst, H, L, n, 1.0f / (float)n, acc, D, src);
    else
        extract_kernel<<<ssm_grid(rows * L), SSM_THREADS, 0, ssm_cuda_stream()>>>(
            R, dst, rows, L, n, 1.0f / (float)n, acc, D, src, H);
    LAUNCH_CHECK();
}

static void check_sizes(const char *entry, int64_t B, int64_t H, int64_t L) {
    if (B < 0 || H < 0 || L < 0 || L > INT_MAX / 4)
        ssm_panic("cuda: %s: bad sizes B=%lld H=%lld L=%lld", entry, (long long)B, (long long)H,
                  (long long)L);
}

int64_t ssm_cuda_fft_conv_spec_floats(int64_t B, int64_t H, int64_t L) {
    return L <= DIRECT_MAX_L ? 0 : 2 * B * H * (fft_len(L) / 2 + 1); /* direct: no spectrum */
}

void ssm_cuda_fft_conv_fwd(ssm_dtype dt, const void *u, const void *k, const void *D, void *y,
                           int64_t B, int64_t H, int64_t L, int64_t Lk, int cl, void *u_spec) {
    SSM_CUDA_F32(dt, "fft_conv_fwd");
    check_sizes("fft_conv_fwd", B, H, L);
    if (Lk != L && Lk != 2 * L) ssm_panic("cuda: fft_conv_fwd: kernel length %lld for L = %lld",
                                          (long long)Lk, (long long)L);
    const int64_t BH = B * H;
    if (BH == 0 || L == 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (L <= DIRECT_MAX_L) {
        direct_fwd_kernel<<<ssm_grid(BH * L), SSM_THREADS, 0, st>>>(CF32(u), CF32(k), CF32(D),
                                                                    F32(y), B, H, L, Lk, cl);
        LAUNCH_CHECK();
        return;
    }
    const int64_t n = fft_len(L), nf = n / 2 + 1;
    fft_bufs s = get_bufs(BH, H, n, nf);
    pack_kernel<<<ssm_grid(H * n), SSM_THREADS, 0, st>>>(CF32(k), s.R, H, L, Lk, n);
    LAUNCH_CHECK();
    rfft(s.R, s.CH, n, H);
    pad(CF32(u), s.R, BH, L, n, cl, H);
    float2 *U = u_spec ? (float2 *)u_spec : s.CA; /* kept for the backward's dk */
    rfft(s.R, U, n, BH);
    spec_mul_kernel<<<ssm_grid(BH * nf), SSM_THREADS, 0, st>>>(s.CA, U, s.CH, BH, H, nf, 0);
    LAUNCH_CHECK();
    irfft(s.CA, s.R, n, BH);
    extract(s.R, F32(y), BH, L, n, 0, CF32(D), CF32(u), H, cl);
}

void ssm_cuda_fft_conv_bwd(ssm_dtype dt, const void *u, const void *k, const void *D,
                           const void *dy, void *du, void *dk, void *dD, int64_t B, int64_t H,
                           int64_t L, int64_t Lk, int cl, const void *u_spec, int acc_du) {
    SSM_CUDA_F32(dt, "fft_conv_bwd");
    check_sizes("fft_conv_bwd", B, H, L);
    if (Lk != L && Lk != 2 * L) ssm_panic("cuda: fft_conv_bwd: kernel length %lld for L = %lld",
                                          (long long)Lk, (long long)L);
    const int64_t BH = B * H;
    if ((!du && !dk && !dD) || BH == 0 || L == 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (dD && cl) {
        col_reduce<double>(1, B * L, H, skip_term{CF32(dy), CF32(u), H}, skip_add{F32(dD)});
    } else if (dD) {
        skip_grad_kernel<<<(unsigned)H, SSM_THREADS, 0, st>>>(CF32(u), CF32(dy), F32(dD), B, H, L);
        LAUNCH_CHECK();
    }
    if (L <= DIRECT_MAX_L) {
        if (du) {
            direct_du_kernel<<<ssm_grid(BH * L), SSM_THREADS, 0, st>>>(CF32(k), CF32(D), CF32(dy),
                                                                       F32(du), B, H, L, Lk, cl,
                                                                       acc_du);
            LAUNCH_CHECK();
        }
        if (dk) {
            direct_dk_kernel<<<ssm_grid(H * Lk), SSM_THREADS, 0, st>>>(CF32(u), CF32(dy),
                                                                       F32(dk), B, H, L, Lk, cl);
            LAUNCH_CHECK();
        }
        return;
    }
    if (!du && !dk) return; /* only dD */
    const int64_t n = fft_len(L), nf = n / 2 + 1;
    fft_bufs s = get_bufs(BH, H, n, nf);
    pad(CF32(dy), s.R, BH, L, n, cl, H);
    rfft(s.R, s.CA, n, BH); /* CA = DY */
    if (dk) {
        const float2 *U = (const float2 *)u_spec; /* the forward's, bit for bit */
        if (!U) {
            pad(CF32(u), s.R, BH, L, n, cl, H);
            rfft(s.R, s.CB, n, BH);
            U = s.CB;
        }
        dk_spec_kernel<<<ssm_grid(H * nf), SSM_THREADS, 0, st>>>(s.CA, U, s.CH, B, H, nf);
        LAUNCH_CHECK();
        irfft(s.CH, s.R, n, H);
        unpack_kernel<<<ssm_grid(H * Lk), SSM_THREADS, 0, st>>>(s.R, F32(dk), H, L, Lk, n,
                                                                1.0f / (float)n);
        LAUNCH_CHECK();
    }
    if (du) {
        pack_kernel<<<ssm_grid(H * n), SSM_THREADS, 0, st>>>(CF32(k), s.R, H, L, Lk, n);
        LAUNCH_CHECK();
        rfft(s.R, s.CH, n, H); /* CH = K */
        spec_mul_kernel<<<ssm_grid(BH * nf), SSM_THREADS, 0, st>>>(s.CA, s.CA, s.CH, BH, H, nf, 1);
        LAUNCH_CHECK();
        irfft(s.CA, s.R, n, BH);
        extract(s.R, F32(du), BH, L, n, acc_du, CF32(D), CF32(dy), H, cl);
    }
}

/* --- inverse real FFT of half spectra (kernels.h: irfft_fwd/bwd) ---
 * y[r, t] = (1/n) sum_k c_k Re(X_k e^{2 pi i k t/n}), c_k = 1 for bin 0 and the Nyquist
 * bin (their imaginary parts ignored), 2 otherwise; the backward is the adjoint,
 * dX_k += c_k/n rfft(dy)_k. Short n uses direct sums in double (as the CPU's direct
 * path); longer n a cuFFT C2R/R2C of the rows. */
enum { IRFFT_DIRECT_MAX_N = 32 };

static __global__ void irfft_direct_fwd_kernel(const float *X, float *y, int64_t R, int64_t n) {
    const int64_t nf = n / 2 + 1;
    GRID_STRIDE(i, R * n) {
        int64_t r = i / n, t = i - r * n;
        double acc = 0;
        for (int64_t k = 0; k < nf; k++) {
            double a = 2 * M_PI * (double)((k * t) % n) / (double)n, s, c;
            sincos(a, &s, &c);
            int edge = k == 0 || 2 * k == n;
            double re = X[2 * (r * nf + k)], im = edge ? 0 : X[2 * (r * nf + k) + 1];
            acc += (edge ? 1 : 2) * (re * c - im * s);
        }
        y[i] = (float)(acc / (double)n);
    }
}

static __global__ void irfft_direct_bwd_kernel(const float *dy, float *dX, int64_t R, int64_t n) {
    const int64_t nf = n / 2 + 1;
    GRID_STRIDE(i, R * nf) {
        int64_t r = i / nf, k = i - r * nf;
        double re = 0, im = 0;
        for (int64_t t = 0; t < n; t++) {
            double a = 2 * M_PI * (double)((k * t) % n) / (double)n, s, c;
            sincos(a, &s, &c);
            re += dy[r * n + t] * c;
            im -= dy[r * n + t] * s;
        }
        int edge = k == 0 || 2 * k == n;
        double cf = (edge ? 1.0 : 2.0) / (double)n;
        dX[2 * i] += (float)(cf * re);
        if (!edge) dX[2 * i + 1] += (float)(cf * im);
    }
}

/* the half spectrum with the ignored imaginary parts zeroed (C2R also overwrites it) */
static __global__ void irfft_prep_kernel(const float2 *X, float2 *C, int64_t R, int64_t n) {
    const int64_t nf = n / 2 + 1;
    GRID_STRIDE(i, R * nf) {
        int64_t k = i % nf;
        float2 v = X[i];
        if (k == 0 || 2 * k == n) v.y = 0.0f;
        C[i] = v;
    }
}

static __global__ void irfft_bwd_acc_kernel(const float2 *C, float *dX, int64_t R, int64_t n) {
    const int64_t nf = n / 2 + 1;
    GRID_STRIDE(i, R * nf) {
        int64_t k = i % nf;
        int edge = k == 0 || 2 * k == n;
        float cf = (edge ? 1.0f : 2.0f) / (float)n;
        dX[2 * i] += cf * C[i].x;
        if (!edge) dX[2 * i + 1] += cf * C[i].y;
    }
}

void ssm_cuda_irfft_fwd(ssm_dtype dt, const void *X, void *y, int64_t R, int64_t n) {
    SSM_CUDA_F32(dt, "irfft_fwd");
    if (n < 1 || n > INT_MAX / 4) ssm_panic("cuda: irfft_fwd: length %lld", (long long)n);
    if (R <= 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (n <= IRFFT_DIRECT_MAX_N) {
        irfft_direct_fwd_kernel<<<ssm_grid(R * n), SSM_THREADS, 0, st>>>(CF32(X), F32(y), R, n);
        LAUNCH_CHECK();
        return;
    }
    const int64_t nf = n / 2 + 1;
    fft_bufs s = get_bufs(R, 0, n, nf);
    irfft_prep_kernel<<<ssm_grid(R * nf), SSM_THREADS, 0, st>>>((const float2 *)X, s.CA, R, n);
    LAUNCH_CHECK();
    irfft(s.CA, s.R, n, R);
    extract(s.R, F32(y), R, n, n, 0);
}

void ssm_cuda_irfft_bwd(ssm_dtype dt, const void *dy, void *dX, int64_t R, int64_t n) {
    SSM_CUDA_F32(dt, "irfft_bwd");
    if (n < 1 || n > INT_MAX / 4) ssm_panic("cuda: irfft_bwd: length %lld", (long long)n);
    if (!dX || R <= 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (n <= IRFFT_DIRECT_MAX_N) {
        irfft_direct_bwd_kernel<<<ssm_grid(R * (n / 2 + 1)), SSM_THREADS, 0, st>>>(
            CF32(dy), F32(dX), R, n);
        LAUNCH_CHECK();
        return;
    }
    const int64_t nf = n / 2 + 1;
    fft_bufs s = get_bufs(R, 0, n, nf);
    pad(CF32(dy), s.R, R, n, n); /* a copy: the transform may not touch dy */
    rfft(s.R, s.CA, n, R);
    irfft_bwd_acc_kernel<<<ssm_grid(R * nf), SSM_THREADS, 0, st>>>(s.CA, F32(dX), R, n);
    LAUNCH_CHECK();
}
