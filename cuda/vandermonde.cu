/* Diagonal SSMs on CUDA (kernels.h: vandermonde_fwd/bwd, diag_discretise,
 * diag_ssm_step), following lib/cpu_vandermonde.inc formula for formula.
 *
 * Powers z^l = e^{l s} (s = log z) come from two tables, as on the CPU:
 * lo[n][j] = e^{j s_n} for j < 64 and hi[n][kb] = e^{64 kb s_n}, so each power
 * is one complex product away from an exact exponential and no error grows
 * with l (a running product would). Both tables are built per block in shared
 * memory; the inner loops are then plain complex multiply-adds.
 *
 * Forward, one block per (channel h, run of 2048-sample chunks): thread (j, q)
 * owns samples l = 64 kb + j for 8 values of kb, so
 *   K[h, l] = sum_n Re(base[n][kb] lo[n][j]),  base = 2 Ct hi,
 * reads lo[n][j] lane by lane and base[n][kb] as a warp broadcast, and the
 * modes are summed in the CPU's order (n = 0, 1, ...).
 *
 * Backward, the same tiling with the roles swapped: lane n is a mode, a warp
 * owns 4 values of kb, and a thread forms
 *   B0[kb] = sum_j dK[64 kb + j] conj(lo[n][j]),  B1[kb] = sum_j j dK[...] conj(lo[n][j]),
 *   S0 += conj(hi) B0,  S1 += conj(hi) (64 kb B0 + B1)
 * (S0 = sum_l dK_l conj(z^l), S1 = sum_l l dK_l conj(z^l)), all in double from an
 * unrounded s, as the CPU (the sums over l cancel, d dt is sensitive, and the work is
 * small). Warps are summed in shared memory in
 * fixed order and each block writes its partial (S0, S1) per mode to scratch; a
 * second kernel (one block per h) sums the partials in fixed order, applies the
 * chain rule through the discretisation and sums d dt over the modes. No
 * atomics: results are deterministic. */
#include "common.cuh"

enum {
    VD_BLK = 64,     /* lo table width: l = 64 kb + j (the CPU's BLK) */
    VD_MG = 32,      /* modes per group held in shared memory */
    VD_THREADS = 256,
    VD_CHUNK_KB = 32 /* kb values per chunk: 2048 samples */
};
enum { VF_KBT = 8 }; /* forward: kb per thread (4 thread rows x 8 = 32) */
enum { VB_KBT = 4 }; /* backward: kb per warp (8 warps x 4 = 32) */

/* --- complex arithmetic in float, as C99's float complex --- */

__device__ __forceinline__ float2 c_mul(float2 a, float2 b) {
    return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ float2 c_conj(float2 a) { return make_float2(a.x, -a.y); }
__device__ __forceinline__ float2 c_scale(float s, float2 a) { return make_float2(s * a.x, s * a.y); }
__device__ __forceinline__ float2 c_exp(float2 z) {
    float e = expf(z.x), s, c;
    sincosf(z.y, &s, &c);
    return make_float2(e * c, e * s);
}
/* e^{l s} for a power l up to L: the product l s and its phase reduction in double, so
 * the only roundings left are s's own and the final f32 ones; in f32, l s loses
 * l |s| 6e-8 of phase, 2.5e-3 rad at l = 4096, |s| = 10 (the CPU uses double tables). */
__device__ __forceinline__ float2 c_exp_l(double l, float2 s) {
    double re = l * (double)s.x, im = l * (double)s.y;
    im -= 6.283185307179586 * rint(im * 0.15915494309189535);
    float e = expf((float)re), sn, cs;
    sincosf((float)im, &sn, &cs);
    return make_float2(e * cs, e * sn);
}

/* --- complex arithmetic in double (the backward's sums and chain rule, as the CPU's) --- */

__device__ __forceinline__ double2 z_mul(double2 a, double2 b) {
    return make_double2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ double2 z_add(double2 a, double2 b) { return make_double2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ double2 z_conj(double2 a) { return make_double2(a.x, -a.y); }
__device__ __forceinline__ double2 z_scale(double s, double2 a) { return make_double2(s * a.x, s * a.y); }
/* Smith's algorithm: no overflow of |b|^2 */
__device__ __forceinline__ double2 z_div(double2 a, double2 b) {
    if (fabs(b.x) >= fabs(b.y)) {
        double r = b.y / b.x, d = b.x + b.y * r;
        return make_double2((a.x + a.y * r) / d, (a.y - a.x * r) / d);
    }
    double r = b.x / b.y, d = b.y + b.x * r;
    return make_double2((a.x * r + a.y) / d, (a.y * r - a.x) / d);
}
__device__ __forceinline__ double2 z_exp(double2 z) {
    double e = exp(z.x), s, c;
    sincos(z.y, &s, &c);
    return make_double2(e * c, e * s);
}
/* e^{l s} in double */
__device__ __forceinline__ double2 z_exp_l(double l, double2 s) {
    return z_exp(make_double2(l * s.x, l * s.y));
}
/* s = log z of one mode in double, unrounded (the backward's; cpu: discretise_d) */
__device__ __forceinline__ double2 vd_s_double(int disc, float dt, float2 A) {
    double wx = (double)dt * A.x, wy = (double)dt * A.y;
    if (disc == 0) return make_double2(wx, wy);
    double hx = 0.5 * wx, hy = 0.5 * wy, nx = 1.0 + hx, dx = 1.0 - hx, dy = -hy;
    double m = dx * dx + dy * dy, qx = (nx * dx + hy * dy) / m, qy = (hy * dx - nx * dy) / m;
    return make_double2(log(hypot(qx, qy)), atan2(qy, qx));
}

/* the backward's per-mode sums S0 = sum_l dK_l conj(z^l), S1 = sum_l l dK_l conj(z^l) */
struct vd_sums {
    double2 S0, S1;
};
__device__ __forceinline__ vd_sums operator+(vd_sums p, vd_sums q) {
    return vd_sums{z_add(p.S0, q.S0), z_add(p.S1, q.S1)};
}

/* s = log z and the discretised C of one mode (cpu: discretise). */
__device__ __forceinline__ void vd_discretise(int disc, float dt, float2 A, float2 C, float2 *s,
                                              float2 *Ct) {
    float2 w = c_scale(dt, A);
    if (disc == 0) {
        *s = w;
        /* Ct = C (e^w - 1) / A in double, as the CPU: in f32, e^w - 1 for small dt A loses
         * most of its digits (expm1 form: expm1(Re w) cos(Im w) - 2 sin^2(Im w / 2)) */
        double wr = (double)dt * A.x, wi = (double)dt * A.y, sh = sin(wi / 2);
        double er = expm1(wr) * cos(wi) - 2 * sh * sh, ei = exp(wr) * sin(wi);
        double nr = (double)C.x * er - (double)C.y * ei, ni = (double)C.x * ei + (double)C.y * er;
        double ar = A.x, ai = A.y, m = ar * ar + ai * ai;
        *Ct = make_float2((float)((nr * ar + ni * ai) / m), (float)((ni * ar - nr * ai) / m));
    } else {
        /* in double from dt and A, rounded once, as the CPU: the quotient (1 + w/2)/(1 - w/2)
         * is near 1 and f32 would lose most of Re s */
        double hx = 0.5 * (double)dt * A.x, hy = 0.5 * (double)dt * A.y;
        double nx = 1.0 + hx, dx = 1.0 - hx, dy = -hy, m = dx * dx + dy * dy;
        double qx = (nx * dx + hy * dy) / m, qy = (hy * dx - nx * dy) / m;
        *s = make_float2((float)log(hypot(qx, qy)), (float)atan2(qy, qx));
        double cr = (double)dt * C.x, ci = (double)dt * C.y; /* Ct = dt C / (1 - w/2) */
        *Ct = make_float2((float)((cr * dx + ci * dy) / m), (float)((ci * dx - cr * dy) / m));
    }
}

/* Blocks along l: each takes `cpb` consecutive chunks, so that the lo table
 * (which depends on h only) is built once per block while the grid still
 * fills the GPU. */
static void vd_chunking(int64_t H, int64_t L, int64_t *nchunk, int *cpb, int *gx) {
    int64_t nkb = (L + VD_BLK - 1) / VD_BLK;
    *nchunk = (nkb + VD_CHUNK_KB - 1) / VD_CHUNK_KB;
    int64_t want = (int64_t)ssm_cuda_sm_count() * 8; /* blocks for two full waves */
    int64_t c = H * *nchunk / (want > 0 ? want : 1);
    if (c < 1) c = 1;
    if (c > *nchunk) c = *nchunk;
    int64_t g = (*nchunk + c - 1) / c;
    c = (*nchunk + g - 1) / g; /* balance the chunks over the blocks */
    *cpb = (int)c;
    *gx = (int)g;
}

/* --- forward --- */

static __global__ void __launch_bounds__(VD_THREADS)
vd_fwd_kernel(int disc, const float *dt, const float2 *A, const float2 *C, float *K, int64_t N2,
              int64_t L, int64_t nchunk, int cpb) {
    __shared__ float2 s_s[VD_MG], s_ct2[VD_MG];
    __shared__ float2 s_lo[VD_MG][VD_BLK];
    __shared__ __align__(16) float2 s_base[VD_MG][VD_CHUNK_KB];
    const int64_t h = blockIdx.y;
    const int tid = threadIdx.x, j = tid & (VD_BLK - 1), q = tid / VD_BLK;
    const int64_t ngroups = (N2 + VD_MG - 1) / VD_MG;
    const float dth = dt[h];
    float *Kh = K + h * L;
    for (int ci = 0; ci < cpb; ci++) {
        const int64_t chunk = (int64_t)blockIdx.x * cpb + ci;
        if (chunk >= nchunk) break; /* uniform over the block */
        float acc[VF_KBT];
#pragma unroll
        for (int i = 0; i < VF_KBT; i++) acc[i] = 0.0f;
        for (int64_t g = 0; g < ngroups; g++) {
            const int nb = (int)min((int64_t)VD_MG, N2 - g * VD_MG);
            __syncthreads(); /* the previous products are done with the tables */
            if (ngroups > 1 || ci == 0) {
                if (tid < VD_MG) {
                    float2 s = make_float2(0.0f, 0.0f), ct = s;
                    if (tid < nb) {
                        int64_t m = h * N2 + g * VD_MG + tid;
                        vd_discretise(disc, dth, A[m], C[m], &s, &ct);
                    }
                    s_s[tid] = s;
                    s_ct2[tid] = c_scale(2.0f, ct);
                }
                __syncthreads();
                for (int i = tid; i < nb * VD_BLK; i += VD_THREADS) {
                    int n = i / VD_BLK, jj = i % VD_BLK;
                    s_lo[n][jj] = c_exp_l((double)jj, s_s[n]);
                }
            }
            for (int i = tid; i < nb * VD_CHUNK_KB; i += VD_THREADS) {
                int n = i / VD_CHUNK_KB, k = i % VD_CHUNK_KB;
                double l0 = (double)((chunk * VD_CHUNK_KB + k) * VD_BLK);
                s_base[n][k] = c_mul(s_ct2[n], c_exp_l(l0, s_s[n]));
            }
            __syncthreads();
            for (int n = 0; n < nb; n++) {
                const float2 lo = s_lo[n][j];
                const float4 *b4 = (const float4 *)&s_base[n][q * VF_KBT];
#pragma unroll
                for (int i = 0; i < VF_KBT / 2; i++) {
                    float4 b = b4[i];
                    acc[2 * i] += b.x * lo.x - b.y * lo.y;
                    acc[2 * i + 1] += b.z * lo.x - b.w * lo.y;
                }
            }
        }
#pragma unroll
        for (int i = 0; i < VF_KBT; i++) {
            int64_t l = (chunk * VD_CHUNK_KB + q * VF_KBT + i) * VD_BLK + j;
            if (l < L) Kh[l] = acc[i];
        }
    }
}

void ssm_cuda_vandermonde_fwd(ssm_dtype dt_, int disc, const void *dt, const void *A,
                              const void *C, void *K, int64_t H, int64_t N2, int64_t L) {
    SSM_CUDA_F32(dt_, "vandermonde_fwd");
    if (H <= 0 || L <= 0) return;
    if (N2 <= 0) {
        ssm_cuda_memset0(K, (size_t)(H * L) * sizeof(float));
        return;
    }
    if (H > 65535) ssm_panic("cuda: vandermonde_fwd: H = %lld exceeds 65535", (long long)H);
    int64_t nchunk;
    int cpb, gx;
    vd_chunking(H, L, &nchunk, &cpb, &gx);
    vd_fwd_kernel<<<dim3((unsigned)gx, (unsigned)H), VD_THREADS, 0, ssm_cuda_stream()>>>(
        disc, CF32(dt), (const float2 *)A, (const float2 *)C, F32(K), N2, L, nchunk, cpb);
    LAUNCH_CHECK();
}

/* --- backward --- */

/* part[(h * gx + bx) * N2 + n] = this block's (S0, S1) */
static __global__ void __launch_bounds__(VD_THREADS)
vd_bwd_partial_kernel(int disc, const float *dt, const float2 *A, const float2 *C,
                      const float *dK, vd_sums *part, int64_t N2, int64_t L, int64_t nchunk,
                      int cpb) {
    __shared__ double2 s_s[VD_MG];
    __shared__ __align__(16) float s_g[VD_BLK][VD_CHUNK_KB + 4]; /* [j][kb], padded rows */
    /* the lo table [j][n] in double while the chunks run, then the warps' sums */
    __shared__ __align__(16) unsigned char s_raw[VD_BLK * VD_MG * sizeof(double2)];
    double2 (*s_lo)[VD_MG] = (double2 (*)[VD_MG])s_raw;
    vd_sums (*s_red)[VD_MG] = (vd_sums (*)[VD_MG])s_raw;
    static_assert(sizeof(vd_sums) * (VD_THREADS / 32) * VD_MG <= sizeof(s_raw), "s_red fits");
    const int64_t h = blockIdx.y;
    const int tid = threadIdx.x, n = tid & 31, w = tid >> 5;
    const int64_t nkb = (L + VD_BLK - 1) / VD_BLK, ngroups = (N2 + VD_MG - 1) / VD_MG;
    const float dth = dt[h];
    const float *g_h = dK + h * L;
    for (int64_t g = 0; g < ngroups; g++) {
        const int nb = (int)min((int64_t)VD_MG, N2 - g * VD_MG);
        __syncthreads();
        if (tid < VD_MG) {
            double2 s = make_double2(0.0, 0.0);
            if (tid < nb) s = vd_s_double(disc, dth, A[h * N2 + g * VD_MG + tid]);
            s_s[tid] = s;
        }
        __syncthreads();
        for (int i = tid; i < VD_BLK * VD_MG; i += VD_THREADS) {
            int jj = i / VD_MG, nn = i % VD_MG;
            s_lo[jj][nn] = z_exp_l((double)jj, s_s[nn]);
        }
        const double2 sn = s_s[n];
        double2 S0 = make_double2(0.0, 0.0), S1 = S0; /* l dK_l terms grow with L */
        for (int ci = 0; ci < cpb; ci++) {
            const int64_t chunk = (int64_t)blockIdx.x * cpb + ci;
            if (chunk >= nchunk) break; /* uniform over the block */
            __syncthreads(); /* the previous chunk's products are done with s_g */
            const int64_t l0 = chunk * VD_CHUNK_KB * VD_BLK;
            for (int i = tid; i < VD_CHUNK_KB * VD_BLK; i += VD_THREADS) {
                int k = i / VD_BLK, jj = i % VD_BLK;
                int64_t l = l0 + i;
                float v = l < L ? g_h[l] : 0.0f;
                s_g[jj][k] = v;
            }
            __syncthreads();
            /* in double, as the CPU: the kernel is tiny (4 multiply-adds per mode and
             * sample), and float tables leave dA 2e-5 from double at L = 4096 */
            double2 b0[VB_KBT], b1[VB_KBT];
#pragma unroll
            for (int i = 0; i < VB_KBT; i++) b0[i] = b1[i] = make_double2(0.0, 0.0);
#pragma unroll 4
            for (int jj = 0; jj < VD_BLK; jj++) {
                const double2 lo = s_lo[jj][n];
                const float4 gv = *(const float4 *)&s_g[jj][w * VB_KBT];
                const double ga[4] = {gv.x, gv.y, gv.z, gv.w}, jd = (double)jj;
#pragma unroll
                for (int i = 0; i < VB_KBT; i++) { /* dK conj(lo), j dK conj(lo) */
                    const double jg = jd * ga[i];
                    b0[i].x += ga[i] * lo.x;
                    b0[i].y -= ga[i] * lo.y;
                    b1[i].x += jg * lo.x;
                    b1[i].y -= jg * lo.y;
                }
            }
#pragma unroll
            for (int i = 0; i < VB_KBT; i++) {
                int64_t kb = chunk * VD_CHUNK_KB + w * VB_KBT + i;
                if (kb >= nkb) break; /* uniform over the warp */
                double l64 = (double)(kb * VD_BLK);
                double2 hc = z_conj(z_exp_l(l64, sn));
                const double2 B0 = b0[i];
                S0 = z_add(S0, z_mul(hc, B0));
                S1 = z_add(S1, z_mul(hc, make_double2(l64 * B0.x + b1[i].x, l64 * B0.y + b1[i].y)));
            }
        }
        __syncthreads(); /* every warp is done with s_lo: its memory takes the sums */
        s_red[w][n] = vd_sums{S0, S1};
        __syncthreads();
        if (tid < nb) {
            vd_sums t = s_red[0][tid];
            for (int k = 1; k < VD_THREADS / 32; k++) t = t + s_red[k][tid];
            part[(h * gridDim.x + blockIdx.x) * N2 + g * VD_MG + tid] = t;
        }
    }
}

/* One block per h: sum the partials, chain rule per mode in double from the float
 * inputs, formula for formula as the CPU's vandermonde_bwd; d dt summed over modes. */
static __global__ void vd_bwd_final_kernel(int disc, const float *dt, const float2 *A,
                                           const float2 *C, const vd_sums *part, float *ddt,
                                           float2 *dA, float2 *dC, int64_t N2, int gx) {
    const int64_t h = blockIdx.x;
    const double d = dt[h];
    double gdt_sum = 0.0;
    for (int64_t n = threadIdx.x; n < N2; n += blockDim.x) {
        vd_sums t = part[h * gx * N2 + n];
        for (int b = 1; b < gx; b++) t = t + part[(h * gx + b) * N2 + n];
        const int64_t m = h * N2 + n;
        const double2 a = make_double2(A[m].x, A[m].y), c = make_double2(C[m].x, C[m].y);
        const double2 w = z_scale(d, a);
        double2 Ct; /* as the CPU's discretise_d */
        if (disc == 0) {
            double er = expm1(w.x), sh = sin(w.y / 2);
            double2 em1 = make_double2(er * cos(w.y) - 2 * sh * sh, exp(w.x) * sin(w.y));
            Ct = z_div(z_mul(c, em1), a);
        } else {
            Ct = z_div(z_scale(d, c), make_double2(1.0 - w.x / 2, -w.y / 2));
        }
        const double2 gCt = z_scale(2.0, t.S0), gs = z_mul(z_scale(2.0, z_conj(Ct)), t.S1);
        double2 gC, gw, gA;
        double gdt;
        if (disc == 0) { /* Ct = C (e^w - 1)/A, s = w */
            double2 e = z_exp(w), e1 = make_double2(e.x - 1.0, e.y);
            gC = z_mul(gCt, z_conj(z_div(e1, a)));
            gw = z_add(gs, z_mul(gCt, z_conj(z_div(z_mul(c, e), a))));
            double2 q = z_mul(gCt, z_conj(z_div(Ct, a)));
            gA = make_double2(-q.x, -q.y);
            gdt = 0.0;
        } else { /* Ct = C dt / (1 - w/2), s = log((1 + w/2)/(1 - w/2)) */
            double2 dd = make_double2(1.0 - 0.5 * w.x, -0.5 * w.y);
            double2 ww4 = z_scale(0.25, z_mul(w, w));
            double2 one = make_double2(1.0, 0.0);
            gC = z_mul(gCt, z_conj(z_div(make_double2(d, 0.0), dd)));
            gw = z_add(z_mul(gs, z_conj(z_div(one, make_double2(1.0 - ww4.x, -ww4.y)))),
                       z_mul(gCt, z_conj(z_div(z_scale(d, c), z_mul(z_scale(2.0, dd), dd)))));
            gA = make_double2(0.0, 0.0);
            gdt = z_mul(gCt, z_conj(z_div(c, dd))).x;
        }
        gdt += z_mul(gw, z_conj(a)).x; /* w = dt A */
        gA = z_add(gA, z_scale(d, gw));
        gdt_sum += gdt;
        if (dA) dA[m] = make_float2(dA[m].x + (float)gA.x, dA[m].y + (float)gA.y);
        if (dC) dC[m] = make_float2(dC[m].x + (float)gC.x, dC[m].y + (float)gC.y);
    }
    gdt_sum = block_sum(gdt_sum);
    if (ddt && threadIdx.x == 0) ddt[h] += (float)gdt_sum;
}

void ssm_cuda_vandermonde_bwd(ssm_dtype dt_, int disc, const void *dt, const void *A,
                              const void *C, const void *dK, void *ddt, void *dA, void *dC,
                              int64_t H, int64_t N2, int64_t L) {
    SSM_CUDA_F32(dt_, "vandermonde_bwd");
    if (H <= 0 || N2 <= 0 || L <= 0 || (!ddt && !dA && !dC)) return;
    if (H > 65535) ssm_panic("cuda: vandermonde_bwd: H = %lld exceeds 65535", (long long)H);
    int64_t nchunk;
    int cpb, gx;
    vd_chunking(H, L, &nchunk, &cpb, &gx);
    vd_sums *part = (vd_sums *)ssm_cuda_scratch(SSM_SCR_OP, (size_t)(H * gx * N2) * sizeof(vd_sums));
    cudaStream_t st = ssm_cuda_stream();
    vd_bwd_partial_kernel<<<dim3((unsigned)gx, (unsigned)H), VD_THREADS, 0, st>>>(
        disc, CF32(dt), (const float2 *)A, (const float2 *)C, CF32(dK), part, N2, L, nchunk, cpb);
    LAUNCH_CHECK();
    int threads = (int)(N2 < 256 ? (N2 + 31) / 32 * 32 : 256);
    vd_bwd_final_kernel<<<(unsigned)H, threads, 0, st>>>(disc, CF32(dt), (const float2 *)A,
                                                         (const float2 *)C, part, F32(ddt),
                                                         (float2 *)dA, (float2 *)dC, N2, gx);
    LAUNCH_CHECK();
}

/* --- step mode --- */

static __global__ void diag_discretise_kernel(int disc, const float *dt, const float2 *A,
                                              const float2 *C, float2 *z, float2 *Ct, int64_t H,
                                              int64_t N2) {
    GRID_STRIDE(m, H * N2) {
        float2 s, ct;
        vd_discretise(disc, dt[m / N2], A[m], C[m], &s, &ct);
        z[m] = c_exp(s);
        Ct[m] = ct;
    }
}

void ssm_cuda_diag_discretise(ssm_dtype dt_, int disc, const void *dt, const void *A,
                              const void *C, void *z, void *Ct, int64_t H, int64_t N2) {
    SSM_CUDA_F32(dt_, "diag_discretise");
    if (H <= 0 || N2 <= 0) return;
    diag_discretise_kernel<<<ssm_grid(H * N2), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        disc, CF32(dt), (const float2 *)A, (const float2 *)C, (float2 *)z, (float2 *)Ct, H, N2);
    LAUNCH_CHECK();
}

/* One warp per (b, h), lanes over the modes. */
static __global__ void diag_ssm_step_kernel(const float2 *z, const float2 *Ct, float2 *s,
                                            const float *u, float *y, int64_t B, int64_t H,
                                            int64_t N2) {
    WARP_STRIDE(bh, lane, B * H) {
        const int64_t h = bh % H;
        const float x = u[bh];
        float acc = 0.0f;
        for (int64_t n = lane; n < N2; n += 32) {
            const int64_t m = h * N2 + n, i = bh * N2 + n;
            float2 st = c_mul(z[m], s[i]);
            st.x += x;
            s[i] = st;
            acc += 2.0f * c_mul(Ct[m], st).x;
        }
        acc = warp_sum(acc);
        if (lane == 0) y[bh] = acc;
    }
}

void ssm_cuda_diag_ssm_step(ssm_dtype dt_, const void *z, const void *Ct, void *s, const void *u,
                            void *y, int64_t B, int64_t H, int64_t N2) {
    SSM_CUDA_F32(dt_, "diag_ssm_step");
    if (B <= 0 || H <= 0) return;
    if (N2 <= 0) {
        ssm_cuda_memset0(y, (size_t)(B * H) * sizeof(float));
        return;
    }
    diag_ssm_step_kernel<<<ssm_grid_warps(B * H), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        (const float2 *)z, (const float2 *)Ct, (float2 *)s, CF32(u), F32(y), B, H, N2);
    LAUNCH_CHECK();
}
