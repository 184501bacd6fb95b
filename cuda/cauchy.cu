/* Cauchy kernel of S4's DPLR generating function (kernels.h: cauchy_fwd/bwd),
 * following lib/cpu_cauchy.inc: conjugate pairs explicit,
 *   r[s, h, k] = sum_n v[s,h,n] a + conj(v[s,h,n]) b,  a = 1/(z_k - w), b = 1/(z_k - conj w).
 * The reciprocals are formed in double and rounded once (as libgcc's float complex
 * division does); the forward sums over n in float in the CPU's order. Backward: one
 * warp per (h, n), lanes over the nodes k, sums in double, fixed-order warp
 * reduction (deterministic, no atomics). */
#include "common.cuh"

__device__ __forceinline__ float2 cy_recip(float2 z) {
    double x = z.x, y = z.y, m = x * x + y * y;
    return make_float2((float)(x / m), (float)(-y / m));
}
__device__ __forceinline__ float2 cy_mul(float2 a, float2 b) {
    return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ float2 cy_conj(float2 a) { return make_float2(a.x, -a.y); }

static __global__ void cauchy_fwd_kernel(const float2 *v, const float2 *w, const float2 *z,
                                         float2 *r, int S, int64_t H, int64_t N2, int64_t K) {
    GRID_STRIDE(i, H * K) {
        const int64_t h = i / K, k = i - h * K;
        const float2 zk = z[k];
        float2 acc[SSM_CAUCHY_MAX_S];
#pragma unroll
        for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) acc[s] = make_float2(0.0f, 0.0f);
        for (int64_t n = 0; n < N2; n++) {
            const float2 wn = w[h * N2 + n];
            const float2 a = cy_recip(make_float2(zk.x - wn.x, zk.y - wn.y));
            const float2 b = cy_recip(make_float2(zk.x - wn.x, zk.y + wn.y));
#pragma unroll
            for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) {
                if (s >= S) break;
                const float2 vs = v[(s * H + h) * N2 + n];
                const float2 p = cy_mul(vs, a), q = cy_mul(cy_conj(vs), b);
                acc[s].x += p.x + q.x;
                acc[s].y += p.y + q.y;
            }
        }
#pragma unroll
        for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) {
            if (s >= S) break;
            r[(s * H + h) * K + k] = acc[s];
        }
    }
}

/* g_v = sum_k G conj(a) + conj(G) b;  g_w = sum_k G conj(v a^2) + conj(G v) b^2 */
static __global__ void cauchy_bwd_kernel(const float2 *v, const float2 *w, const float2 *z,
                                         const float2 *dr, float2 *dv, float2 *dw, int S,
                                         int64_t H, int64_t N2, int64_t K) {
    WARP_STRIDE(hn, lane, H * N2) {
        const int64_t h = hn / N2, n = hn - h * N2;
        const float2 wn = w[hn];
        float2 vs[SSM_CAUCHY_MAX_S];
        d2 gv[SSM_CAUCHY_MAX_S], gw = {0.0, 0.0};
#pragma unroll
        for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) {
            vs[s] = s < S ? v[(s * H + h) * N2 + n] : make_float2(0.0f, 0.0f);
            gv[s] = {0.0, 0.0};
        }
        for (int64_t k = lane; k < K; k += 32) {
            const float2 zk = z[k];
            const float2 a = cy_recip(make_float2(zk.x - wn.x, zk.y - wn.y));
            const float2 b = cy_recip(make_float2(zk.x - wn.x, zk.y + wn.y));
            const float2 a2 = cy_mul(a, a), b2 = cy_mul(b, b);
#pragma unroll
            for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) {
                if (s >= S) break;
                const float2 G = dr[(s * H + h) * K + k];
                const float2 t1 = cy_mul(G, cy_conj(a)), t2 = cy_mul(cy_conj(G), b);
                gv[s].a += (double)t1.x + t2.x;
                gv[s].b += (double)t1.y + t2.y;
                const float2 u1 = cy_mul(G, cy_conj(cy_mul(vs[s], a2)));
                const float2 u2 = cy_mul(cy_conj(cy_mul(G, vs[s])), b2);
                gw.a += (double)u1.x + u2.x;
                gw.b += (double)u1.y + u2.y;
            }
        }
        gw = warp_sum(gw);
#pragma unroll
        for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) gv[s] = warp_sum(gv[s]);
        if (lane == 0) {
            if (dv) /* unrolled, as every loop over gv: an index not known when compiling
                     * put the whole array in local memory, the k loop's sums included */
#pragma unroll
                for (int s = 0; s < SSM_CAUCHY_MAX_S; s++) {
                    if (s >= S) break;
                    float2 *p = dv + (s * H + h) * N2 + n;
                    *p = make_float2(p->x + (float)gv[s].a, p->y + (float)gv[s].b);
                }
            if (dw) dw[hn] = make_float2(dw[hn].x + (float)gw.a, dw[hn].y + (float)gw.b);
        }
    }
}

static void cauchy_check(const char *entry, int64_t S) {
    if (S < 1 || S > SSM_CAUCHY_MAX_S)
        ssm_panic("cuda: %s: %lld numerators (1 to %d)", entry, (long long)S, SSM_CAUCHY_MAX_S);
}

void ssm_cuda_cauchy_fwd(ssm_dtype dt, const void *v, const void *w, const void *z, void *r,
                         int64_t S, int64_t H, int64_t N2, int64_t K) {
    SSM_CUDA_F32(dt, "cauchy_fwd");
    cauchy_check("cauchy_fwd", S);
    if (H <= 0 || K <= 0) return;
    cauchy_fwd_kernel<<<ssm_grid(H * K), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        (const float2 *)v, (const float2 *)w, (const float2 *)z, (float2 *)r, (int)S, H, N2, K);
    LAUNCH_CHECK();
}

void ssm_cuda_cauchy_bwd(ssm_dtype dt, const void *v, const void *w, const void *z,
                         const void *dr, void *dv, void *dw, int64_t S, int64_t H, int64_t N2,
                         int64_t K) {
    SSM_CUDA_F32(dt, "cauchy_bwd");
    cauchy_check("cauchy_bwd", S);
    if ((!dv && !dw) || H <= 0 || N2 <= 0 || K <= 0) return;
    cauchy_bwd_kernel<<<ssm_grid_warps(H * N2), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        (const float2 *)v, (const float2 *)w, (const float2 *)z, (const float2 *)dr,
        (float2 *)dv, (float2 *)dw, (int)S, H, N2, K);
    LAUNCH_CHECK();
}
