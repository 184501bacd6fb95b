/* Mamba's selective scan on the CPU (kernels.h: selective_scan_fwd/bwd).
 *
 * OpenMP over (sequence, channel): each channel's state is a stack array of d_state
 * entries, and the inner loops run over d_state on contiguous memory (B and C are first
 * transposed to [batch, L, d_state], which every channel of a sequence then shares).
 * The forward keeps only the states entering each chunk; the backward recomputes one
 * chunk's states at a time from them, walking the chunks backwards.
 *
 * dB and dC sum over channels and dA, dD, d delta_bias over sequences. The backward's
 * work items are (sequence, channel group) pairs; each writes its own partial sums,
 * which are then added in a fixed order: the results do not depend on the thread count
 * or the schedule (a resumed run repeats the uninterrupted one bit for bit). */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>
#include "cpu_kernels.h"

#define MAXN SSM_SCAN_MAX_STATE
#define BWD_ITEMS 64 /* backward work items (sequence x channel group) to aim for */

static void *scan_alloc(size_t n, size_t size, int zero) {
    void *p = zero ? calloc(n ? n : 1, size) : malloc((n ? n : 1) * size);
    SSM_CHECK(p, "selective_scan: out of memory (%zu elements)", n);
    return p;
}

/* e^x in f32 for the inner loops over d_state: branch-free and without libm calls, so
 * those loops vectorise (glibc's vector expf needs -ffast-math). Cephes' expf scheme:
 * x = n ln 2 + r with |r| <= ln 2 / 2 (n rounded by the 1.5 * 2^23 trick, ln 2 split in
 * two parts), a polynomial for e^r, then 2^n from the exponent bits. Relative error
 * below 1e-7 (1 ulp); x is clamped to [-87, 88] (e^-87 is 1.6e-38: the state multiplier
 * e^{δA} with A < 0 underflows to that instead of a denormal or 0). The f64 path, the
 * reference for gradient checks and golden files, keeps libm's exp. */
static inline float scan_expf(float x) {
    const float shift = 12582912.0f, lo = -87.0f, hi = 88.0f;
    /* clamp by a bitwise select: with a ternary, GCC duplicates the rest of the function
     * into the clamped branch (where it folds to a constant) and the loop no longer
     * vectorises */
    int32_t xi, loi, hii;
    memcpy(&xi, &x, sizeof xi);
    memcpy(&loi, &lo, sizeof loi);
    memcpy(&hii, &hi, sizeof hii);
    const int32_t below = -(int32_t)(x < lo), above = -(int32_t)(x > hi);
    xi = (xi & ~(below | above)) | (loi & below) | (hii & above);
    memcpy(&x, &xi, sizeof x);
    const float n = (x * 1.44269504088896341f + shift) - shift;
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#define T float
#define F(name) name##_f32
#define EXP_STATE scan_expf
#include "cpu_selective_scan.inc"
#undef T
#undef F
#undef EXP_STATE
#define T double
#define F(name) name##_f64
#define EXP_STATE exp
#include "cpu_selective_scan.inc"
#undef T
#undef F
#undef EXP_STATE

static void check_sizes(const char *entry, int64_t d_state, int64_t chunk) {
    SSM_CHECK(d_state >= 1 && d_state <= MAXN && chunk >= 1,
              "%s: d_state %lld (1 .. %d) and chunk %lld (>= 1)", entry, (long long)d_state, MAXN,
              (long long)chunk);
}

void ssm_cpu_selective_scan_fwd(ssm_dtype dt, const void *u, const void *delta, const void *A,
                                const void *B, const void *C, const void *D, const void *z,
                                const void *delta_bias, void *y, void *last_state,
                                void *x_chunks, int64_t batch, int64_t d_inner, int64_t d_state,
                                int64_t L, int64_t chunk) {
    check_sizes("selective_scan_fwd", d_state, chunk);
    SSM_CPU_DISPATCH("selective_scan_fwd", dt,
                     scan_fwd_f32(u, delta, A, B, C, D, z, delta_bias, y, last_state, x_chunks,
                                  batch, d_inner, d_state, L, chunk),
                     scan_fwd_f64(u, delta, A, B, C, D, z, delta_bias, y, last_state, x_chunks,
                                  batch, d_inner, d_state, L, chunk));
}

void ssm_cpu_selective_scan_bwd(ssm_dtype dt, const void *u, const void *delta, const void *A,
                                const void *B, const void *C, const void *D, const void *z,
                                const void *delta_bias, const void *x_chunks, const void *dy,
                                const void *d_last_state, void *du, void *ddelta, void *dA,
                                void *dB, void *dC, void *dD, void *dz, void *ddelta_bias,
                                int64_t batch, int64_t d_inner, int64_t d_state, int64_t L,
                                int64_t chunk, int acc) {
    check_sizes("selective_scan_bwd", d_state, chunk);
    const int64_t n = batch * d_inner * L;
    ssm_cpu_clear_unless(acc & SSM_SCAN_ACC_DU, du, n, dt);
    ssm_cpu_clear_unless(acc & SSM_SCAN_ACC_DDELTA, ddelta, n, dt);
    ssm_cpu_clear_unless(acc & SSM_SCAN_ACC_DZ, dz, n, dt);
    SSM_CHECK(x_chunks, "selective_scan_bwd: needs the forward's x_chunks");
    SSM_CPU_DISPATCH("selective_scan_bwd", dt,
                     scan_bwd_f32(u, delta, A, B, C, D, z, delta_bias, x_chunks, dy,
                                  d_last_state, du, ddelta, dA, dB, dC, dD, dz, ddelta_bias,
                                  batch, d_inner, d_state, L, chunk),
                     scan_bwd_f64(u, delta, A, B, C, D, z, delta_bias, x_chunks, dy,
                                  d_last_state, du, ddelta, dA, dB, dC, dD, dz, ddelta_bias,
                                  batch, d_inner, d_state, L, chunk));
}
