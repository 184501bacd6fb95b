/* Convolution along the last axis, u [B, H, L] by k [H, Lk]:
 *   y[b, h, t] = sum_{s <= t} k[h, s] u[b, h, t - s]                   (Lk = L, causal)
 *              + sum_{j < L} k[h, L + j] u[b, h, t + 1 + j]             (Lk = 2L, two-sided)
 * (the second half is the bidirectional FFTConv's anti-causal kernel in natural order;
 * it goes reversed to the end of the circular buffer).
 * f32 uses KissFFT real transforms of a zero-padded length n = 2m, m >= L the next
 * 2,3,5-smooth number (KissFFT's fast radices; any n >= 2L - 1 gives the same linear
 * convolution, and n = 2L when L is a power of two). f64, and f32 with short L where
 * the transforms cost more than they save, use the direct O(L^2) sums.
 * Backward: du = dy correlated with k, dk = sum_b dy correlated with u; in frequency
 * space both are products with a conjugate (DY conj(K), sum_b DY conj(U)).
 *
 * Template: the part under `#else` (direct sums) is compiled for float and double. */
#ifndef T
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <kiss_fftr.h>
#include "cpu_kernels.h"
#include "log.h"

#define PAR_MIN ((int64_t)1 << 15) /* multiply-adds below which threads cost more */
enum { DIRECT_MAX_L = 32 };         /* f32: direct sums up to this length */

#define SSM_CPU_TEMPLATE "cpu_fft.c"
#include "cpu_template.h"

/* --- per-thread FFT state ---
 * A kiss_fftr config holds its own scratch buffer, so threads cannot share one:
 * each thread keeps configs for the last few lengths and scratch buffers that only
 * grow. A steady training step therefore allocates nothing. States are linked
 * into a global list so they stay reachable (not leaks) for the process lifetime. */
enum { NPLAN = 4 };
typedef struct fft_state {
    struct fft_state *next;
    struct { int n; kiss_fftr_cfg fwd, inv; } plan[NPLAN];
    int evict; /* round-robin slot to replace when all are taken */
    int cap;   /* scratch sized for transforms up to this length */
    float *time;
    kiss_fft_cpx *fa, *fb, *fc;
    double *acc; /* frequency-space accumulator for dk (interleaved re, im) */
} fft_state;

static _Atomic(fft_state *) all_states;
static _Thread_local fft_state *my_state;

static void *xrealloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes);
    if (!q) ssm_panic("fft_conv: out of memory (%zu bytes)", bytes);
    return q;
}

/* This thread's state, with a plan for length n in slot *slot and scratch for n. */
static fft_state *fft_thread_state(int n, int *slot) {
    fft_state *s = my_state;
    if (!s) {
        s = xrealloc(NULL, sizeof *s);
        memset(s, 0, sizeof *s);
        s->next = atomic_load(&all_states);
        while (!atomic_compare_exchange_weak(&all_states, &s->next, s)) {}
        my_state = s;
    }
    int i = 0;
    while (i < NPLAN && s->plan[i].n != n) i++;
    if (i == NPLAN) {
        i = s->evict;
        s->evict = (s->evict + 1) % NPLAN;
        if (s->plan[i].n) {
            kiss_fftr_free(s->plan[i].fwd);
            kiss_fftr_free(s->plan[i].inv);
        }
        s->plan[i].fwd = kiss_fftr_alloc(n, 0, NULL, NULL);
        s->plan[i].inv = kiss_fftr_alloc(n, 1, NULL, NULL);
        if (!s->plan[i].fwd || !s->plan[i].inv)
            ssm_panic("fft_conv: kiss_fftr_alloc(%d) failed", n);
        s->plan[i].n = n;
    }
    if (s->cap < n) {
        size_t nf = (size_t)n / 2 + 1;
        s->time = xrealloc(s->time, (size_t)n * sizeof(float));
        s->fa = xrealloc(s->fa, nf * sizeof(kiss_fft_cpx));
        s->fb = xrealloc(s->fb, nf * sizeof(kiss_fft_cpx));
        s->fc = xrealloc(s->fc, nf * sizeof(kiss_fft_cpx));
        s->acc = xrealloc(s->acc, 2 * nf * sizeof(double));
        s->cap = n;
    }
    *slot = i;
    return s;
}

/* n = 2m with m >= L the smallest number of the form 2^a 3^b 5^c */
static int fft_len(int64_t L) {
    SSM_CHECK(L <= INT_MAX / 4, "fft_conv: L = %lld is too long", (long long)L);
    for (int64_t m = L;; m++) {
        int64_t r = m;
        while (r % 2 == 0) r /= 2;
        while (r % 3 == 0) r /= 3;
        while (r % 5 == 0) r /= 5;
        if (r == 1) return (int)(2 * m);
    }
}

/* out = FFT of x[0, L) zero-padded to n */
static void rfft(kiss_fftr_cfg cfg, const float *x, int64_t L, int n, float *time,
                 kiss_fft_cpx *out) {
    memcpy(time, x, (size_t)L * sizeof(float));
    memset(time + L, 0, (size_t)(n - L) * sizeof(float));
    kiss_fftr(cfg, time, out);
}

/* Spectrum of kernel row kr [Lk]: the causal taps at the start of the length-n buffer,
 * the anti-causal ones (Lk = 2L) reversed at its end (k[L + j] at n - 1 - j), so the
 * circular convolution applies them at offsets t - i = -1 - j. */
static void rfft_kernel(kiss_fftr_cfg cfg, const float *kr, int64_t L, int64_t Lk, int n,
                        float *time, kiss_fft_cpx *out) {
    memcpy(time, kr, (size_t)L * sizeof(float));
    memset(time + L, 0, (size_t)(n - L) * sizeof(float));
    for (int64_t j = 0; Lk == 2 * L && j < L; j++) time[n - 1 - j] = kr[L + j];
    kiss_fftr(cfg, time, out);
}

/* Rows are visited h-major, so with a static schedule each thread transforms k[h]
 * once per h it meets rather than once per (b, h). */
static void fft_conv_fwd_f32(const float *u, const float *k, const float *D, float *y,
                             int64_t B, int64_t H, int64_t L, int64_t Lk) {
    int n = fft_len(L), nf = n / 2 + 1;
    float inv_n = 1.0f / (float)n;
#pragma omp parallel if (B * H > 1)
    {
        int p;
        fft_state *s = fft_thread_state(n, &p);
        int64_t cur_h = -1;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < H * B; i++) {
            int64_t h = i / B, row = (i % B) * H + h;
            if (h != cur_h) {
                rfft_kernel(s->plan[p].fwd, k + h * Lk, L, Lk, n, s->time, s->fb);
                cur_h = h;
            }
            rfft(s->plan[p].fwd, u + row * L, L, n, s->time, s->fa);
            for (int f = 0; f < nf; f++) {
                kiss_fft_cpx a = s->fa[f], b = s->fb[f];
                s->fc[f].r = a.r * b.r - a.i * b.i;
                s->fc[f].i = a.r * b.i + a.i * b.r;
            }
            kiss_fftri(s->plan[p].inv, s->fc, s->time);
            float d = D ? D[h] : 0.0f;
            for (int64_t t = 0; t < L; t++) y[row * L + t] = s->time[t] * inv_n + d * u[row * L + t];
        }
    }
}

/* One h per iteration: dk[h] sums over b without races. With fewer channels than
 * threads some threads idle; H is large in every model that uses this. */
static void fft_conv_bwd_f32(const float *u, const float *k, const float *D, const float *dy,
                             float *du, float *dk, float *dD, int64_t B, int64_t H, int64_t L,
                             int64_t Lk) {
    int n = fft_len(L), nf = n / 2 + 1;
    float inv_n = 1.0f / (float)n;
#pragma omp parallel if (H > 1)
    {
        int p;
        fft_state *s = fft_thread_state(n, &p);
        kiss_fftr_cfg fwd = s->plan[p].fwd, inv = s->plan[p].inv;
        kiss_fft_cpx *kf = s->fb, *dyf = s->fa, *tmp = s->fc;
#pragma omp for schedule(static)
        for (int64_t h = 0; h < H; h++) {
            if (du) rfft_kernel(fwd, k + h * Lk, L, Lk, n, s->time, kf);
            if (dk) memset(s->acc, 0, 2 * (size_t)nf * sizeof(double));
            double sD = 0;
            for (int64_t b = 0; b < B; b++) {
                int64_t row = b * H + h;
                if (dD)
                    for (int64_t t = 0; t < L; t++) sD += (double)dy[row * L + t] * u[row * L + t];
                rfft(fwd, dy + row * L, L, n, s->time, dyf);
                if (du) { /* DY conj(K) */
                    for (int f = 0; f < nf; f++) {
                        kiss_fft_cpx a = dyf[f], c = kf[f];
                        tmp[f].r = a.r * c.r + a.i * c.i;
                        tmp[f].i = a.i * c.r - a.r * c.i;
                    }
                    kiss_fftri(inv, tmp, s->time);
                    float d = D ? D[h] : 0.0f;
                    for (int64_t t = 0; t < L; t++)
                        du[row * L + t] += s->time[t] * inv_n + d * dy[row * L + t];
                }
                if (dk) { /* += DY conj(U), summed over b in double */
                    rfft(fwd, u + row * L, L, n, s->time, tmp);
                    for (int f = 0; f < nf; f++) {
                        kiss_fft_cpx a = dyf[f], c = tmp[f];
                        s->acc[2 * f] += (double)a.r * c.r + (double)a.i * c.i;
                        s->acc[2 * f + 1] += (double)a.i * c.r - (double)a.r * c.i;
                    }
                }
            }
            if (dD) dD[h] += (float)sD;
            if (dk) {
                for (int f = 0; f < nf; f++) {
                    tmp[f].r = (float)s->acc[2 * f];
                    tmp[f].i = (float)s->acc[2 * f + 1];
                }
                kiss_fftri(inv, tmp, s->time);
                for (int64_t j = 0; j < L; j++) dk[h * Lk + j] += s->time[j] * inv_n;
                if (Lk == 2 * L) /* anti-causal taps from the end of the buffer */
                    for (int64_t j = 0; j < L; j++) dk[h * Lk + L + j] += s->time[n - 1 - j] * inv_n;
            }
        }
    }
}

static void fft_conv_fwd_blh(ssm_dtype dt, const void *u, const void *k, const void *D, void *y,
                             int64_t B, int64_t H, int64_t L, int64_t Lk) {
    if (dt == SSM_F32 && L > DIRECT_MAX_L)
        fft_conv_fwd_f32(u, k, D, y, B, H, L, Lk);
    else if (dt == SSM_F32)
        conv_direct_fwd_f32(u, k, D, y, B, H, L, Lk);
    else if (dt == SSM_F64)
        conv_direct_fwd_f64(u, k, D, y, B, H, L, Lk);
    else
        ssm_panic("fft_conv_fwd: unsupported dtype %s", ssm_dtype_name(dt));
}

static void fft_conv_bwd_blh(ssm_dtype dt, const void *u, const void *k, const void *D,
                             const void *dy, void *du, void *dk, void *dD, int64_t B, int64_t H,
                             int64_t L, int64_t Lk) {
    if (dt == SSM_F32 && L > DIRECT_MAX_L)
        fft_conv_bwd_f32(u, k, D, dy, du, dk, dD, B, H, L, Lk);
    else if (dt == SSM_F32)
        conv_direct_bwd_f32(u, k, D, dy, du, dk, dD, B, H, L, Lk);
    else if (dt == SSM_F64)
        conv_direct_bwd_f64(u, k, D, dy, du, dk, dD, B, H, L, Lk);
    else
        ssm_panic("fft_conv_bwd: unsupported dtype %s", ssm_dtype_name(dt));
}

/* [B, P, Q] -> [B, Q, P] (acc: added in) through the permute kernel; dst NULL: a new
 * buffer. The channels-last layout on the CPU is the channels-first path between two
 * transposes: the same arithmetic, so both layouts give the same bits. */
static void *swap_inner(const void *src, void *dst, int64_t B, int64_t P, int64_t Q, ssm_dtype dt,
                        int acc) {
    if (!dst) dst = xrealloc(NULL, (size_t)(B * P * Q) * ssm_dtype_size(dt));
    ssm_cpu_permute(dt, src, dst, 3, (int64_t[]){B, P, Q}, (int[]){0, 2, 1}, acc);
    return dst;
}

void ssm_cpu_fft_conv_fwd(ssm_dtype dt, const void *u, const void *k, const void *D, void *y,
                          int64_t B, int64_t H, int64_t L, int64_t Lk, int cl, void *u_spec) {
    (void)u_spec; /* fft_conv_spec_floats is 0 here: nothing is kept */
    SSM_CHECK(Lk == L || Lk == 2 * L, "fft_conv: kernel length %lld for L = %lld", (long long)Lk,
              (long long)L);
    if (!cl) {
        fft_conv_fwd_blh(dt, u, k, D, y, B, H, L, Lk);
        return;
    }
    void *ut = swap_inner(u, NULL, B, L, H, dt, 0), *yt = xrealloc(NULL, (size_t)(B * H * L) *
                                                                         ssm_dtype_size(dt));
    fft_conv_fwd_blh(dt, ut, k, D, yt, B, H, L, Lk);
    swap_inner(yt, y, B, H, L, dt, 0);
    free(ut);
    free(yt);
}

void ssm_cpu_fft_conv_bwd(ssm_dtype dt, const void *u, const void *k, const void *D,
                          const void *dy, void *du, void *dk, void *dD, int64_t B, int64_t H,
                          int64_t L, int64_t Lk, int cl, const void *u_spec, int acc_du) {
    (void)u_spec;
    if (!du && !dk && !dD) return;
    ssm_cpu_clear_unless(acc_du, du, B * H * L, dt);
    SSM_CHECK(Lk == L || Lk == 2 * L, "fft_conv: kernel length %lld for L = %lld", (long long)Lk,
              (long long)L);
    if (!cl) {
        fft_conv_bwd_blh(dt, u, k, D, dy, du, dk, dD, B, H, L, Lk);
        return;
    }
    size_t bytes = (size_t)(B * H * L) * ssm_dtype_size(dt);
    void *ut = swap_inner(u, NULL, B, L, H, dt, 0), *dyt = swap_inner(dy, NULL, B, L, H, dt, 0);
    void *dut = du ? xrealloc(NULL, bytes) : NULL;
    if (dut) memset(dut, 0, bytes);
    fft_conv_bwd_blh(dt, ut, k, D, dyt, dut, dk, dD, B, H, L, Lk);
    if (dut) swap_inner(dut, du, B, H, L, dt, 1);
    free(ut);
    free(dyt);
    free(dut);
}


/* --- inverse real FFT of a half spectrum (S4's kernel from its frequency response) ---
 * y[t] = (1/n) sum_k c_k Re(X_k e^{2 pi i k t / n}), c_k = 1 for k = 0 and the Nyquist
 * bin, 2 otherwise (the imaginary parts of those two bins do not enter); the backward
 * is the adjoint: dX_k += c_k / n * sum_t dy_t e^{-2 pi i k t / n}. f32 with even n uses
 * KissFFT; f64 and odd n the direct sums. */
static void irfft_f32(const float *X, float *y, int64_t R, int n) {
    int nf = n / 2 + 1;
#pragma omp parallel if (R > 1)
    {
        int p;
        fft_state *s = fft_thread_state(n, &p);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            for (int k = 0; k < nf; k++) {
                s->fa[k].r = X[2 * (r * nf + k)];
                s->fa[k].i = (k == 0 || k == n / 2) ? 0 : X[2 * (r * nf + k) + 1];
            }
            kiss_fftri(s->plan[p].inv, s->fa, y + r * n);
            for (int t = 0; t < n; t++) y[r * n + t] /= (float)n;
        }
    }
}

static void irfft_bwd_f32(const float *dy, float *dX, int64_t R, int n) {
    int nf = n / 2 + 1;
#pragma omp parallel if (R > 1)
    {
        int p;
        fft_state *s = fft_thread_state(n, &p);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            memcpy(s->time, dy + r * n, (size_t)n * sizeof(float));
            kiss_fftr(s->plan[p].fwd, s->time, s->fa);
            for (int k = 0; k < nf; k++) {
                float c = (k == 0 || k == n / 2 ? 1.0f : 2.0f) / (float)n;
                dX[2 * (r * nf + k)] += c * s->fa[k].r;
                if (k != 0 && k != n / 2) dX[2 * (r * nf + k) + 1] += c * s->fa[k].i;
            }
        }
    }
}

void ssm_cpu_irfft_fwd(ssm_dtype dt, const void *X, void *y, int64_t R, int64_t n) {
    SSM_CHECK(n >= 1 && n <= INT_MAX / 4, "irfft: length %lld", (long long)n);
    if (dt == SSM_F32 && n % 2 == 0) irfft_f32(X, y, R, (int)n);
    else SSM_CPU_DISPATCH("irfft_fwd", dt, irfft_direct_fwd_f32(X, y, R, n),
                          irfft_direct_fwd_f64(X, y, R, n));
}

void ssm_cpu_irfft_bwd(ssm_dtype dt, const void *dy, void *dX, int64_t R, int64_t n) {
    SSM_CHECK(n >= 1 && n <= INT_MAX / 4, "irfft: length %lld", (long long)n);
    if (dt == SSM_F32 && n % 2 == 0) irfft_bwd_f32(dy, dX, R, (int)n);
    else SSM_CPU_DISPATCH("irfft_bwd", dt, irfft_direct_bwd_f32(dy, dX, R, n),
                          irfft_direct_bwd_f64(dy, dX, R, n));
}

#else /* ---------------- template body: direct sums, T = float or double ---------------- */

/* The tap applied to u[i] for y[t]: d = t - i >= 0 causal, d < 0 anti-causal (Lk = 2L). */
static inline double FN(tap)(const T *kr, int64_t d, int64_t L, int64_t Lk) {
    return d >= 0 ? (double)kr[d] : Lk == 2 * L ? (double)kr[L - 1 - d] : 0.0;
}

static void FN(conv_direct_fwd)(const T *u, const T *k, const T *D, T *y, int64_t B, int64_t H,
                                int64_t L, int64_t Lk) {
#pragma omp parallel for schedule(static) if (B * H * L * L / 2 >= PAR_MIN)
    for (int64_t row = 0; row < B * H; row++) {
        const T *ur = u + row * L, *kr = k + (row % H) * Lk;
        for (int64_t t = 0; t < L; t++) {
            double s = 0;
            int64_t last = Lk == L ? t : L - 1;
            for (int64_t i = 0; i <= last; i++) s += FN(tap)(kr, t - i, L, Lk) * ur[i];
            if (D) s += (double)D[row % H] * ur[t];
            y[row * L + t] = (T)s;
        }
    }
}

/* du[b,h,i] += sum_t dy[b,h,t] tap(t - i); dk[h,s] += sum_b sum_t dy[b,h,t] u[b,h,i(s, t)] */
static void FN(conv_direct_bwd)(const T *u, const T *k, const T *D, const T *dy, T *du, T *dk,
                                T *dD, int64_t B, int64_t H, int64_t L, int64_t Lk) {
    if (du) {
#pragma omp parallel for schedule(static) if (B * H * L * L / 2 >= PAR_MIN)
        for (int64_t row = 0; row < B * H; row++) {
            const T *g = dy + row * L, *kr = k + (row % H) * Lk;
            for (int64_t i = 0; i < L; i++) {
                double s = 0;
                for (int64_t t = Lk == L ? i : 0; t < L; t++) s += (double)g[t] * FN(tap)(kr, t - i, L, Lk);
                if (D) s += (double)D[row % H] * g[i];
                du[row * L + i] += (T)s;
            }
        }
    }
    if (dk) {
#pragma omp parallel for schedule(static) if (B * H * L * L / 2 >= PAR_MIN)
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < Lk; j++) {
                int64_t d = j < L ? j : L - 1 - j; /* offset t - i this tap serves */
                double s = 0;
                for (int64_t b = 0; b < B; b++) {
                    const T *g = dy + (b * H + h) * L, *ur = u + (b * H + h) * L;
                    for (int64_t t = d > 0 ? d : 0; t < L && t - d < L; t++) s += (double)g[t] * ur[t - d];
                }
                dk[h * Lk + j] += (T)s;
            }
    }
    if (dD) {
#pragma omp parallel for schedule(static) if (B * H * L >= PAR_MIN)
        for (int64_t h = 0; h < H; h++) {
            double s = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < L; t++)
                    s += (double)dy[(b * H + h) * L + t] * u[(b * H + h) * L + t];
            dD[h] += (T)s;
        }
    }
}

/* Direct inverse real DFT and its adjoint; angles reduced mod n for accuracy. */
static void FN(irfft_direct_fwd)(const T *X, T *y, int64_t R, int64_t n) {
    int64_t nf = n / 2 + 1;
#pragma omp parallel for schedule(static) if (R * n * nf >= PAR_MIN)
    for (int64_t r = 0; r < R; r++)
        for (int64_t t = 0; t < n; t++) {
            double acc = 0;
            for (int64_t k = 0; k < nf; k++) {
                double a = 2 * M_PI * (double)((k * t) % n) / (double)n;
                int edge = k == 0 || 2 * k == n;
                double re = X[2 * (r * nf + k)], im = edge ? 0 : X[2 * (r * nf + k) + 1];
                acc += (edge ? 1 : 2) * (re * cos(a) - im * sin(a));
            }
            y[r * n + t] = (T)(acc / (double)n);
        }
}

static void FN(irfft_direct_bwd)(const T *dy, T *dX, int64_t R, int64_t n) {
    int64_t nf = n / 2 + 1;
#pragma omp parallel for schedule(static) if (R * n * nf >= PAR_MIN)
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < nf; k++) {
            double re = 0, im = 0;
            int edge = k == 0 || 2 * k == n;
            for (int64_t t = 0; t < n; t++) {
                double a = 2 * M_PI * (double)((k * t) % n) / (double)n;
                re += dy[r * n + t] * cos(a);
                im -= dy[r * n + t] * sin(a);
            }
            double c = (edge ? 1.0 : 2.0) / (double)n;
            dX[2 * (r * nf + k)] += (T)(c * re);
            if (!edge) dX[2 * (r * nf + k) + 1] += (T)(c * im);
        }
}

#endif
