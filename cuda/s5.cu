/* S5's diagonal linear recurrence on CUDA (kernels.h: s5_scan_fwd/bwd), f32.
 *
 * x[l] = Lambda x[l - 1] + Bu[l] per (batch, mode) is a scan whose transition does not
 * depend on l, so a chunked scan with carries is exact and cheap: the sequence (in scan
 * order) is cut into S segments of `seg` steps,
 *   1. local:  each (b, segment, mode) thread scans its segment from zero, writing the
 *              partial states and the segment's end state;
 *   2. carry:  each (b, mode) thread walks the S segment ends in order:
 *              carry[s] = Lambda^seg carry[s - 1] + end[s - 1] (Lambda^seg and the carry in
 *              double);
 *   3. fix:    each (b, segment >= 1, mode) thread adds Lambda^(i+1) carry[s] to its
 *              segment's states (a running product, as the recurrence itself).
 * S is chosen so that batch x modes x S threads fill the GPU; modes are the fastest index
 * of a thread, so every access is coalesced. The backward runs the same scan on dx with
 * conj(Lambda) against the forward direction (g = adjoint of x), adds g into dBu in the
 * fix pass, and sums dLambda = sum_{b,l} g conj(x_prev) over batch and length in double
 * through the backend's fixed-order column reduction (deterministic, no atomics). */
#include "common.cuh"

namespace {

__device__ __forceinline__ float2 s5_mul(float2 a, float2 b) {
    return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ float2 s5_lam(const float2 *lam, int64_t p, int conj) {
    const float2 v = lam[p];
    return conj ? make_float2(v.x, -v.y) : v;
}

/* in/out/acc [B, L, P2] complex; end [B, S, P2] */
__global__ void s5_local_kernel(const float2 *lam, int conj, const float2 *in, float2 *out,
                                float2 *end, int64_t B, int64_t L, int64_t P2, int64_t S,
                                int64_t seg, int reverse) {
    GRID_STRIDE(idx, B * S * P2) {
        const int64_t p = idx % P2, bs = idx / P2, s = bs % S, b = bs / S;
        const int64_t i0 = s * seg, i1 = min(i0 + seg, L);
        const float2 lm = s5_lam(lam, p, conj);
        float2 y = make_float2(0.0f, 0.0f);
        for (int64_t i = i0; i < i1; i++) {
            const int64_t l = reverse ? L - 1 - i : i, at = (b * L + l) * P2 + p;
            const float2 v = in[at];
            y = make_float2(lm.x * y.x - lm.y * y.y + v.x, lm.x * y.y + lm.y * y.x + v.y);
            out[at] = y;
        }
        end[idx] = y;
    }
}

/* carry[b, s, p]: the state entering segment s (zero for s = 0) */
__global__ void s5_carry_kernel(const float2 *lam, int conj, const float2 *end, float2 *carry,
                                int64_t B, int64_t P2, int64_t S, int64_t seg) {
    GRID_STRIDE(idx, B * P2) {
        const int64_t p = idx % P2, b = idx / P2;
        const float2 lm = s5_lam(lam, p, conj);
        /* Lambda^seg by repeated squaring in double */
        double pr = 1.0, pi = 0.0, br = lm.x, bi = lm.y;
        for (int64_t e = seg; e > 0; e >>= 1) {
            if (e & 1) {
                const double t = pr * br - pi * bi;
                pi = pr * bi + pi * br;
                pr = t;
            }
            const double t = br * br - bi * bi;
            bi = 2.0 * br * bi;
            br = t;
        }
        double cr = 0.0, ci = 0.0;
        for (int64_t s = 0; s < S; s++) {
            const int64_t at = (b * S + s) * P2 + p;
            carry[at] = make_float2((float)cr, (float)ci);
            const float2 e = end[at];
            const double t = pr * cr - pi * ci + e.x;
            ci = pr * ci + pi * cr + e.y;
            cr = t;
        }
    }
}

/* out[l] += Lambda^(i - i0 + 1) carry over segment s >= s_first; acc (if not NULL) += out */
__global__ void s5_fix_kernel(const float2 *lam, int conj, float2 *out, const float2 *carry,
                              float2 *acc, int64_t B, int64_t L, int64_t P2, int64_t S,
                              int64_t seg, int reverse, int64_t s_first) {
    const int64_t Sf = S - s_first;
    GRID_STRIDE(idx, B * Sf * P2) {
        const int64_t p = idx % P2, bs = idx / P2, s = s_first + bs % Sf, b = bs / Sf;
        const int64_t i0 = s * seg, i1 = min(i0 + seg, L);
        const float2 lm = s5_lam(lam, p, conj);
        float2 c = carry[(b * S + s) * P2 + p];
        for (int64_t i = i0; i < i1; i++) {
            const int64_t l = reverse ? L - 1 - i : i, at = (b * L + l) * P2 + p;
            c = s5_mul(lm, c);
            float2 v = out[at];
            v.x += c.x;
            v.y += c.y;
            out[at] = v;
            if (acc) {
                float2 a = acc[at];
                a.x += v.x;
                a.y += v.y;
                acc[at] = a;
            }
        }
    }
}

/* Segments: enough (b, segment, mode) threads to fill the GPU, at least 16 steps each. */
static void s5_segments(int64_t B, int64_t L, int64_t P2, int64_t *S, int64_t *seg) {
    const int64_t want = (int64_t)ssm_cuda_sm_count() * 1024;
    int64_t s = (want + B * P2 - 1) / (B * P2);
    if (s < 1) s = 1;
    int64_t g = (L + s - 1) / s;
    if (g < 16) g = 16;
    *seg = g;
    *S = (L + g - 1) / g;
}

/* The whole scan: out = scan(lam or conj(lam), in); acc += out when acc is not NULL.
 * `extra` complex numbers of the scratch are left for the caller, in front of the
 * scan's own (returned in *scr). */
static void s5_scan(const float2 *lam, int conj, const float2 *in, float2 *out, float2 *acc,
                    int64_t B, int64_t L, int64_t P2, int reverse, int64_t extra, float2 **scr) {
    int64_t S, seg;
    s5_segments(B, L, P2, &S, &seg);
    float2 *base = (float2 *)ssm_cuda_scratch(SSM_SCR_OP, (size_t)(extra + 2 * B * S * P2) *
                                                              sizeof(float2));
    if (scr) *scr = base;
    float2 *end = base + extra, *carry = end + B * S * P2;
    cudaStream_t st = ssm_cuda_stream();
    s5_local_kernel<<<ssm_grid(B * S * P2), SSM_THREADS, 0, st>>>(lam, conj, in, out, end, B, L,
                                                                 P2, S, seg, reverse);
    LAUNCH_CHECK();
    if (S > 1) {
        s5_carry_kernel<<<ssm_grid(B * P2), SSM_THREADS, 0, st>>>(lam, conj, end, carry, B, P2, S,
                                                                 seg);
        LAUNCH_CHECK();
    }
    const int64_t s_first = acc ? 0 : 1;
    if (S > s_first) {
        if (S == 1) /* acc only: no carries were made */
            ssm_cuda_memset0(carry, (size_t)(B * P2) * sizeof(float2));
        s5_fix_kernel<<<ssm_grid(B * (S - s_first) * P2), SSM_THREADS, 0, st>>>(
            lam, conj, out, carry, acc, B, L, P2, S, seg, reverse, s_first);
        LAUNCH_CHECK();
    }
}

/* The backward's scan: g (in the scratch, returned) = scan(conj(lam), dx); acc += g.
 * The scratch is sized before g is written, so g's storage is stable. */
static void s5_scan_into_scratch(const float2 *lam, const float2 *dx, float2 *acc, int64_t B,
                                 int64_t L, int64_t P2, int reverse, float2 **g) {
    int64_t S, seg;
    s5_segments(B, L, P2, &S, &seg);
    float2 *base = (float2 *)ssm_cuda_scratch(SSM_SCR_OP, (size_t)(B * L * P2 + 2 * B * S * P2) *
                                                              sizeof(float2));
    *g = base;
    s5_scan(lam, 1, dx, base, acc, B, L, P2, reverse, B * L * P2, nullptr);
}

/* dLambda[p] += sum over b, l of g[b, l, p] conj(x_prev[b, l, p]) */
struct s5_dlam_f {
    const float2 *g, *x;
    int64_t L, P2;
    int reverse;
    __device__ d2 operator()(int64_t, int64_t k, int64_t j) const {
        const int64_t b = k / L, l = k - b * L, prev = reverse ? l + 1 : l - 1;
        if (prev < 0 || prev >= L) return {0.0, 0.0};
        const float2 gv = g[k * P2 + j], xp = x[(b * L + prev) * P2 + j];
        return {(double)gv.x * xp.x + (double)gv.y * xp.y,
                (double)gv.y * xp.x - (double)gv.x * xp.y};
    }
};
struct s5_dlam_e {
    float *dlam;
    __device__ void operator()(int64_t, int64_t j, d2 s) const {
        dlam[2 * j] += (float)s.a;
        dlam[2 * j + 1] += (float)s.b;
    }
};

} // namespace

extern "C" void ssm_cuda_s5_scan_fwd(ssm_dtype dt, const void *Lambda_bar, const void *Bu,
                                     void *x, int64_t B, int64_t L, int64_t P2, int reverse) {
    SSM_CUDA_F32(dt, "s5_scan_fwd");
    if (B <= 0 || L <= 0 || P2 <= 0) return;
    s5_scan((const float2 *)Lambda_bar, 0, (const float2 *)Bu, (float2 *)x, nullptr, B, L, P2,
            reverse, 0, nullptr);
}

extern "C" void ssm_cuda_s5_scan_bwd(ssm_dtype dt, const void *Lambda_bar, const void *x,
                                     const void *dx, void *dLambda_bar, void *dBu, int64_t B,
                                     int64_t L, int64_t P2, int reverse) {
    SSM_CUDA_F32(dt, "s5_scan_bwd");
    if (B <= 0 || L <= 0 || P2 <= 0 || (!dLambda_bar && !dBu)) return;
    /* g, the adjoint of x: the scan of dx with conj(Lambda) against the forward direction */
    float2 *g;
    s5_scan_into_scratch((const float2 *)Lambda_bar, (const float2 *)dx, (float2 *)dBu, B, L, P2,
                         !reverse, &g);
    if (dLambda_bar)
        col_reduce<d2>((int64_t)1, B * L, P2, s5_dlam_f{g, (const float2 *)x, L, P2, reverse},
                       s5_dlam_e{F32(dLambda_bar)});
}
