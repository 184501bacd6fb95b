/* Mamba's selective scan on CUDA (kernels.h: selective_scan_fwd/bwd), f32, fused in the
 * manner of the official csrc/selective_scan, following lib/cpu_selective_scan.inc
 * formula for formula.
 *
 * Layout of the work. One block serves one sequence b and a group of G channels; a
 * thread owns NS = 4 (8 for d_state > 128) consecutive states of one channel, so Q =
 * ceil(d_state / NS) neighbouring lanes share a channel (Q = 4 at d_state 16: a warp is 8
 * channels x 16 states). The hidden state lives in registers and each thread runs its
 * states' recurrence sequentially along the sequence; the parallelism is over (b, d, n)
 * (8 x 1536 x 16 at the benchmark size: 49152 threads). The sequence is walked in tiles
 * of TF (forward) or TB (backward) steps. Per tile the block loads, with cp.async one
 * tile ahead, its channels' u, delta, z (and dy) rows, coalesced along t, and B, C
 * [d_state, T] once for all its channels (the official kernel re-reads B and C for every
 * channel); a prep pass computes softplus(delta + bias), delta u, the gate silu(z) once
 * per (channel, t) into shared memory. B and C are stored transposed ([t][n], swizzled by
 * 16-byte groups) so a thread reads its NS states as one 16-byte load.
 *
 * State multipliers e^{delta A} are exp2(delta A log2 e) through ex2.approx (one MUFU op
 * per (b, d, n, t); A pre-scaled once per thread). The sum over n of C x for each t is
 * kept per thread over the tile (p[T]) and summed over the Q lanes by a reduce-scatter
 * butterfly: after log2 Q exchange steps lane r holds the complete sums of T/Q
 * consecutive steps (about one shuffle per (state, step) instead of log2 Q); those lanes
 * apply the D skip and the z gate and store y.
 *
 * Forward saves the state entering each chunk (x_chunks) and the last state.
 *
 * Backward, per block, walks the chunks from the last to the first. A chunk is cut into
 * sub-tiles of TB steps from its start; the state entering each sub-tile but the first
 * is found by a forward pass over the chunk ("boundary" items, states parked in a global
 * scratch each thread reads back itself); then the sub-tiles are taken from the last to
 * the first ("adjoint" items): the TB + 1 states of the sub-tile are recomputed into
 * registers (xh), y' is recomputed on the way for dz, and the adjoint h runs backwards:
 *   ht = h + g C;  ddelta: sum_n ht (A e x_prev + B u);  dA += ht delta e x_prev;
 *   du: sum_n ht B;  dB_n = ht delta u;  dC_n = g x;  h = ht e.
 * Sums over n (ddelta, du) go through the same reduce-scatter over the Q lanes; sums
 * over the channels (dB, dC) through a reduce-scatter over the warp's channels, then a
 * fixed-order sum over the block's warps in shared memory, then one write per (group,
 * b, n, t) into a scratch of partial sums that a second kernel adds up in fixed order.
 * dA, dD, d delta_bias: per (b, d) partials in scratch, summed over b by a third kernel.
 * No atomics anywhere: results are deterministic. */
#include "common.cuh"

namespace {

constexpr float SS_LOG2E = 1.4426950408889634f;

/* Static shape of one kernel instance: NS states per thread, Q lanes per channel. */
template <int NS, int Q> struct SsCfg {
    static constexpr int G = Q >= 4 ? 128 / Q : 32;  /* channels per block */
    static constexpr int THREADS = G * Q;
    static constexpr int NP = NS * Q;                 /* states incl. padding */
    static constexpr int TF = NP <= 64 ? 32 : NP <= 128 ? 16 : 8;  /* forward tile */
    static constexpr int TB = NP <= 128 ? 16 : 8;     /* backward sub-tile */
    static constexpr int RT = NS == 8 ? 2 : 4;        /* backward: steps per reduction */
    static constexpr int W = THREADS / 32;            /* warps per block */
    static constexpr int K = 32 / Q;                  /* channels per warp */
    static constexpr int SWM = NP / 4 < 8 ? NP / 4 : 8; /* B/C swizzle period */
    static constexpr size_t fwd_smem =
        3 * G * TF * 4 + 4 * G * (TF + 1) * 8 + 6 * TF * NP * 4;
    static constexpr size_t bwd_smem = 13 * G * TB * 4 + G * (TB + 1) * (16 + 8) +
                                       4 * TB * NP * 4 + W * 2 * NP * (TB + 1) * 4;
};

__device__ __forceinline__ float ss_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
/* torch.nn.functional.softplus, beta 1, threshold 20 (the CPU's formula) */
__device__ __forceinline__ float ss_softplus(float r) { return r > 20.0f ? r : log1pf(expf(r)); }
__device__ __forceinline__ float ss_sigmoid(float v) { return __frcp_rn(1.0f + expf(-v)); }

__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes) {
    unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src),
                 "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async4(void *dst, const void *src, int src_bytes) {
    unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(src),
                 "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
__device__ __forceinline__ void cp_async_wait_all() {
    asm volatile("cp.async.wait_all;\n" ::: "memory");
}

/* Position of state n of step j in a [T][NP] B/C tile: 16-byte groups XOR-swizzled by
 * the row, so the column-wise stores of the loader spread over the banks while a
 * thread's NS states stay in whole 16-byte groups. */
template <int NP, int SWM> __device__ __forceinline__ int bc_idx(int j, int n) {
    return j * NP + (n ^ (4 * (j % SWM)));
}
/* A thread's NS values of step j (states r NS .. r NS + NS - 1). */
template <int NS, int NP, int SWM>
__device__ __forceinline__ void bc_load(const float *t, int j, int r, float (&v)[NS]) {
#pragma unroll
    for (int q = 0; q < NS / 4; q++) {
        const float4 f = *reinterpret_cast<const float4 *>(t + bc_idx<NP, SWM>(j, r * NS + 4 * q));
        v[4 * q] = f.x;
        v[4 * q + 1] = f.y;
        v[4 * q + 2] = f.z;
        v[4 * q + 3] = f.w;
    }
}

/* Reduce-scatter of v[V] over the KL lanes lane ^ (m STRIDE), m < KL (powers of two).
 * Afterwards the lane of rank k = (lane / STRIDE) % KL holds in v[0 .. V/KL) the sums of
 * the original v[k V/KL + i] (V >= KL), or in v[0] the sum of v[k V / KL] (V < KL; the
 * KL/V lanes of a run then hold the same value). Fixed order: deterministic. */
template <int C, int M, int STRIDE, int V>
__device__ __forceinline__ void rs_step(float (&v)[V], int lane) {
    if constexpr (M >= 1) {
        const int mask = M * STRIDE;
        const bool up = (lane & mask) != 0;
        if constexpr (C >= 2) {
            constexpr int H = C / 2;
#pragma unroll
            for (int i = 0; i < H; i++) {
                const float send = up ? v[i] : v[i + H], keep = up ? v[i + H] : v[i];
                v[i] = keep + __shfl_xor_sync(0xffffffffu, send, mask);
            }
            rs_step<H, M / 2, STRIDE, V>(v, lane);
        } else {
            v[0] += __shfl_xor_sync(0xffffffffu, v[0], mask);
            rs_step<C, M / 2, STRIDE, V>(v, lane);
        }
    }
}
template <int V, int KL, int STRIDE>
__device__ __forceinline__ void reduce_scatter(float (&v)[V], int lane) {
    rs_step<V, KL / 2, STRIDE, V>(v, lane);
}

/* ------------------------------------------------------------------ forward */

struct FwdArgs {
    const float *u, *delta, *A, *B, *C, *D, *z, *dbias;
    float *y, *last, *xc;
    int64_t Bn, Di, N, L, chunk, nc;
    int vec; /* rows start on 16 bytes: L % 4 == 0 and aligned pointers */
};

/* Units of a tile's rows: with vec a 16-byte chunk (4 steps) of one channel, else one
 * step; unit i = g (T / EPU) + c. Thread tid takes units tid + it TH, it = 0, 1, ..., both
 * when loading (ss_load_rows) and in the forward's prep, so a thread only ever refills
 * raw data it has itself consumed. */
template <int G, int T, int TH, int EPU, class F>
__device__ __forceinline__ void ss_units(int tid, F f) {
    constexpr int CH = T / EPU, UNITS = G * CH, IT = (UNITS + TH - 1) / TH;
#pragma unroll
    for (int it = 0; it < IT; it++) {
        const int i = tid + it * TH;
        if (UNITS % TH == 0 || i < UNITS) f(i / CH, (i % CH) * EPU);
    }
}

/* cp.async rows [t0, t0 + len) of the block's G channels of NA arrays (NULL: skipped)
 * into dst[a][g][T]; zero-filled past len and for channels past d_inner. */
template <int G, int T, int TH, int NA>
__device__ __forceinline__ void ss_load_rows(const float *const (&src)[NA],
                                             float *const (&dst)[NA], int vec, int64_t b,
                                             int64_t d0, int64_t Di, int64_t L, int64_t t0,
                                             int len, int tid) {
    if (vec) {
        ss_units<G, T, TH, 4>(tid, [&](int g, int j) {
            const bool ok = d0 + g < Di && j < len;
            const int64_t off = (b * Di + d0 + g) * L + t0 + j;
#pragma unroll
            for (int a = 0; a < NA; a++)
                if (src[a]) cp_async16(dst[a] + g * T + j, ok ? src[a] + off : src[a], ok ? 16 : 0);
        });
    } else {
        ss_units<G, T, TH, 1>(tid, [&](int g, int j) {
            const bool ok = d0 + g < Di && j < len;
            const int64_t off = (b * Di + d0 + g) * L + t0 + j;
#pragma unroll
            for (int a = 0; a < NA; a++)
                if (src[a]) cp_async4(dst[a] + g * T + j, ok ? src[a] + off : src[a], ok ? 4 : 0);
        });
    }
}

/* cp.async B (and C, when Cp) [N][t0, t0 + len) transposed into bc [2][T][NP]. */
template <int T, int NP, int SWM, int TH>
__device__ __forceinline__ void ss_load_bc(const float *Bp, const float *Cp, float *bc,
                                           int64_t b, int64_t N, int64_t L, int64_t t0, int len,
                                           int tid) {
    const int nbc = Cp ? 2 : 1;
    for (int i = tid; i < nbc * NP * T; i += TH) {
        /* 32 consecutive i: 8 steps x 4 states (4 sectors read, spread banks written) */
        const int which = i / (NP * T), rem = i % (NP * T), e = rem & 31, blk = rem >> 5;
        const int j = (blk % (T / 8)) * 8 + (e & 7), n = (blk / (T / 8)) * 4 + (e >> 3);
        if (n >= N) continue;
        const float *s = which ? Cp : Bp;
        const bool ok = j < len;
        cp_async4(bc + which * T * NP + bc_idx<NP, SWM>(j, n),
                  ok ? s + ((b * N + n) * L + t0 + j) : s, ok ? 4 : 0);
    }
}

/* Zero the padding states n >= N of the B/C buffers ([NBUF][2][T][NP]). */
template <int T, int NP, int SWM, int TH, int NBUF = 2>
__device__ __forceinline__ void ss_zero_pad(float *bc, int64_t N, int tid) {
    if (N >= NP) return;
    for (int i = tid; i < NBUF * 2 * T * NP; i += TH) {
        const int n = i % NP, j = (i / NP) % T, base = (i / (NP * T)) * T * NP;
        if (n >= N) bc[base + bc_idx<NP, SWM>(j, n)] = 0.0f;
    }
}

/* One forward tile of a thread: x advanced over the steps, p[j] = sum over the thread's
 * states of C x_t. !ALIGNED: states entering chunks that start inside the tile saved. */
template <int NS, int TF, int NP, int SWM, bool FULL, bool ALIGNED>
__device__ __forceinline__ void fwd_steps(float (&x)[NS], const float (&A2)[NS], float (&p)[TF],
                                          const float2 *ddrow, const float *sB, const float *sC,
                                          int r, int len, int64_t t0, int64_t &next_save,
                                          int64_t &csave, float *xcrow, int64_t chunk, int64_t N) {
#pragma unroll
    for (int j = 0; j < TF; j++) {
        if (!FULL && j >= len) {
            p[j] = 0.0f;
            continue;
        }
        if (!ALIGNED && t0 + j == next_save) {
            if (xcrow) {
#pragma unroll
                for (int s = 0; s < NS; s++)
                    if (r * NS + s < N) xcrow[csave * N + r * NS + s] = x[s];
            }
            next_save += chunk;
            csave++;
        }
        const float2 dv = ddrow[j];
        float bb[NS], cc[NS];
        bc_load<NS, NP, SWM>(sB, j, r, bb);
        bc_load<NS, NP, SWM>(sC, j, r, cc);
        float acc = 0.0f;
#pragma unroll
        for (int s = 0; s < NS; s++) {
            const float e = ss_exp2(dv.x * A2[s]);
            x[s] = fmaf(e, x[s], dv.y * bb[s]);
            acc = fmaf(cc[s], x[s], acc);
        }
        p[j] = acc;
    }
}

/* Forward pipeline, one barrier per tile: in iteration k, after the barrier, each thread
 * (1) preps tile k + 1 from the raw rows it loaded itself, (2) issues the loads of tile
 * k + 2 into the raw rows it has just consumed and into B/C buffer (k + 2) % 3, (3) runs
 * tile k. Warps interleave the latency-bound prep with the MUFU-bound recurrence. */
template <int NS, int Q, bool ALIGNED>
__global__ void __launch_bounds__(SsCfg<NS, Q>::THREADS) ss_fwd_kernel(const FwdArgs a) {
    using Cf = SsCfg<NS, Q>;
    constexpr int G = Cf::G, TF = Cf::TF, NP = Cf::NP, TH = Cf::THREADS, SWM = Cf::SWM;
    constexpr int TS = TF + 1;
    extern __shared__ float4 ss_smem[];
    float *raw = reinterpret_cast<float *>(ss_smem);            /* [3][G][TF] */
    float2 *dd = reinterpret_cast<float2 *>(raw + 3 * G * TF);  /* [2][G][TS]: delta, delta u */
    float2 *ep = dd + 2 * G * TS;                               /* [2][G][TS]: D u, gate */
    float *bcb = reinterpret_cast<float *>(ep + 2 * G * TS);    /* [3][2][TF][NP] */
    const int tid = threadIdx.x, lane = tid & 31, r = tid % Q, gl = tid / Q;
    const int64_t b = blockIdx.y, d0 = (int64_t)blockIdx.x * G, d = d0 + gl;
    const int64_t Di = a.Di, N = a.N, L = a.L;
    const bool dv = d < Di;
    float A2[NS], x[NS];
#pragma unroll
    for (int s = 0; s < NS; s++) {
        const int n = r * NS + s;
        A2[s] = (dv && n < N) ? a.A[d * N + n] * SS_LOG2E : 0.0f;
        x[s] = 0.0f;
    }
    ss_zero_pad<TF, NP, SWM, TH, 3>(bcb, N, tid);
    const float *const src[3] = {a.u, a.delta, a.z};
    float *const dst[3] = {raw, raw + G * TF, raw + 2 * G * TF};
    const int ntiles = (int)((L + TF - 1) / TF);
    auto load = [&](int k) {
        const int64_t t0 = (int64_t)k * TF;
        const int len = (int)min((int64_t)TF, L - t0);
        ss_load_rows<G, TF, TH, 3>(src, dst, a.vec, b, d0, Di, L, t0, len, tid);
        ss_load_bc<TF, NP, SWM, TH>(a.B, a.C, bcb + (k % 3) * 2 * TF * NP, b, N, L, t0, len, tid);
        cp_async_commit();
    };
    /* softplus once per (channel, t), the gate, D u: raw -> dd, ep [buf] */
    auto prep_elem = [&](int g, int j, int buf) {
        const int64_t dg = d0 + g;
        const bool ok = dg < Di;
        const float uu = raw[g * TF + j];
        const float rr = raw[G * TF + g * TF + j] + ((a.dbias && ok) ? a.dbias[dg] : 0.0f);
        const float dl = ss_softplus(rr);
        dd[(buf * G + g) * TS + j] = make_float2(dl, dl * uu);
        float gate = 1.0f;
        if (a.z) {
            const float zz = raw[2 * G * TF + g * TF + j];
            gate = zz * ss_sigmoid(zz);
        }
        ep[(buf * G + g) * TS + j] = make_float2((a.D && ok) ? a.D[dg] * uu : 0.0f, gate);
    };
    auto prep = [&](int buf) {
        if (a.vec)
            ss_units<G, TF, TH, 4>(tid, [&](int g, int j) {
#pragma unroll
                for (int e = 0; e < 4; e++) prep_elem(g, j + e, buf);
            });
        else
            ss_units<G, TF, TH, 1>(tid, [&](int g, int j) { prep_elem(g, j, buf); });
    };
    load(0);
    cp_async_wait_all(); /* own rows only: no barrier needed before the prep */
    prep(0);
    if (ntiles > 1) load(1);
    float *xcrow = (a.xc && dv) ? a.xc + (b * Di + d) * a.nc * N : nullptr;
    int64_t next_save = 0, csave = 0;
    for (int k = 0; k < ntiles; k++) {
        const int64_t t0 = (int64_t)k * TF;
        const int len = (int)min((int64_t)TF, L - t0);
        cp_async_wait_all();
        __syncthreads();
        if (k + 1 < ntiles) prep((k + 1) & 1);
        if (k + 2 < ntiles) load(k + 2);
        const float *sB = bcb + (k % 3) * 2 * TF * NP, *sC = sB + TF * NP;
        const float2 *ddrow = dd + ((k & 1) * G + gl) * TS, *e = ep + ((k & 1) * G + gl) * TS;
        if (ALIGNED && xcrow && t0 % a.chunk == 0) {
#pragma unroll
            for (int s = 0; s < NS; s++)
                if (r * NS + s < N) xcrow[(t0 / a.chunk) * N + r * NS + s] = x[s];
        }
        float p[TF];
        if (len == TF)
            fwd_steps<NS, TF, NP, SWM, true, ALIGNED>(x, A2, p, ddrow, sB, sC, r, len, t0,
                                                      next_save, csave, xcrow, a.chunk, N);
        else
            fwd_steps<NS, TF, NP, SWM, false, ALIGNED>(x, A2, p, ddrow, sB, sC, r, len, t0,
                                                       next_save, csave, xcrow, a.chunk, N);
        /* sums over n, then y = (sum + D u) silu(z) by the lanes that hold them */
        reduce_scatter<TF, Q, 1>(p, lane);
        constexpr int CNT = TF >= Q ? TF / Q : 1, DUP = Q > TF ? Q / TF : 1;
        if (dv && r % DUP == 0) {
            const int jb = (r / DUP) * CNT;
            float *yrow = a.y + (b * Di + d) * L + t0;
            bool done = false;
            if constexpr (CNT >= 4) {
                if (a.vec) { /* 16-byte stores (L % 4 == 0: len is a multiple of 4) */
#pragma unroll
                    for (int i = 0; i < CNT; i += 4)
                        if (jb + i < len) {
                            float4 o;
                            o.x = (p[i] + e[jb + i].x) * e[jb + i].y;
                            o.y = (p[i + 1] + e[jb + i + 1].x) * e[jb + i + 1].y;
                            o.z = (p[i + 2] + e[jb + i + 2].x) * e[jb + i + 2].y;
                            o.w = (p[i + 3] + e[jb + i + 3].x) * e[jb + i + 3].y;
                            *reinterpret_cast<float4 *>(yrow + jb + i) = o;
                        }
                    done = true;
                }
            }
            if (!done) {
#pragma unroll
                for (int i = 0; i < CNT; i++)
                    if (jb + i < len) yrow[jb + i] = (p[i] + e[jb + i].x) * e[jb + i].y;
            }
        }
    }
    if (a.last && dv) {
#pragma unroll
        for (int s = 0; s < NS; s++)
            if (r * NS + s < N) a.last[(b * Di + d) * N + r * NS + s] = x[s];
    }
}

/* ------------------------------------------------------------------ backward */

struct BwdArgs {
    const float *u, *delta, *A, *B, *C, *D, *z, *dbias, *xc, *dy, *dlast;
    float *du, *ddelta, *dz;
    float *part;              /* [groups][Bn][2][N][L]: dB, dC partial sums (NULL: not needed) */
    float *pA, *pD, *pbias;   /* [Bn][Di][N], [Bn][Di], [Bn][Di] (NULL: not needed) */
    float *bnd;               /* [Bn Di][nsubm][NP]: states entering sub-tiles */
    int64_t Bn, Di, N, L, chunk, nc, nsubm;
    int vec;
    int acc; /* SSM_SCAN_ACC_*: du, ddelta, dz added to (their old rows prefetched) or stored */
};

/* Forward over a boundary item: x advanced over len steps. */
template <int NS, int TB, int NP, int SWM>
__device__ __forceinline__ void bnd_steps(float (&x)[NS], const float (&A2)[NS], const float4 *p1row,
                                          const float *sB, int r, int len) {
#pragma unroll
    for (int j = 0; j < TB; j++) {
        if (j >= len) break;
        const float4 pv = p1row[j];
        float bb[NS];
        bc_load<NS, NP, SWM>(sB, j, r, bb);
#pragma unroll
        for (int s = 0; s < NS; s++) x[s] = fmaf(ss_exp2(pv.x * A2[s]), x[s], pv.y * bb[s]);
    }
}

/* Recompute the sub-tile's states xh[j + 1] = x_{s0 + j} from xh[0]; pz[j] = sum over the
 * thread's states of C x (for dz; skipped when !want). */
template <int NS, int TB, int NP, int SWM, bool FULL>
__device__ __forceinline__ void rec_steps(float (&xh)[TB + 1][NS], const float (&A2)[NS],
                                          float (&pz)[TB], const float4 *p1row, const float *sB,
                                          const float *sC, int r, int len, bool want) {
#pragma unroll
    for (int j = 0; j < TB; j++) {
        if (!FULL && j >= len) {
            pz[j] = 0.0f;
#pragma unroll
            for (int s = 0; s < NS; s++) xh[j + 1][s] = 0.0f;
            continue;
        }
        const float4 pv = p1row[j];
        float bb[NS];
        bc_load<NS, NP, SWM>(sB, j, r, bb);
#pragma unroll
        for (int s = 0; s < NS; s++) xh[j + 1][s] = fmaf(ss_exp2(pv.x * A2[s]), xh[j][s], pv.y * bb[s]);
        float acc = 0.0f;
        if (want) {
            float cc[NS];
            bc_load<NS, NP, SWM>(sC, j, r, cc);
#pragma unroll
            for (int s = 0; s < NS; s++) acc = fmaf(cc[s], xh[j + 1][s], acc);
        }
        pz[j] = acc;
    }
}

/* The adjoint over one sub-tile, steps len - 1 .. 0, in groups of RT steps; after each
 * group the sums over n (du, ddelta) are finished by the lanes that hold them (into the
 * shared tiles nw) and the sums over the warp's channels (dB, dC) are parked in red
 * [W][2][NP][TB + 1]. */
template <int NS, int Q, bool FULL>
__device__ __forceinline__ void adj_steps(const BwdArgs &a, float (&xh)[SsCfg<NS, Q>::TB + 1][NS],
                                          float (&h)[NS], float (&gA)[NS], const float (&A)[NS],
                                          const float (&A2)[NS], const float4 *p1row,
                                          const float2 *p2row, const float *sB, const float *sC,
                                          float *red, float *nwrow, int r, int lane, int w,
                                          int len, bool dv, float Dd, float &gD, float &gb,
                                          bool bc) {
    using Cf = SsCfg<NS, Q>;
    constexpr int TB = Cf::TB, NP = Cf::NP, SWM = Cf::SWM, RT = Cf::RT, K = Cf::K, G = Cf::G;
    constexpr int TBP = TB + 1, TBG = TB * G; /* nwrow: du at [j], ddelta at [TBG + j] */
#pragma unroll
    for (int q = TB / RT - 1; q >= 0; q--) {
        if (!FULL && q * RT >= len) continue; /* uniform */
        float qv[2 * RT], vv[2 * NS * RT];
#pragma unroll
        for (int jj = RT - 1; jj >= 0; jj--) {
            const int j = q * RT + jj;
            if (!FULL && j >= len) {
                qv[jj] = qv[RT + jj] = 0.0f;
#pragma unroll
                for (int s = 0; s < NS; s++) vv[s * RT + jj] = vv[(NS + s) * RT + jj] = 0.0f;
                continue;
            }
            const float4 pv = p1row[j]; /* delta, delta u, g, u */
            float bb[NS], cc[NS];
            bc_load<NS, NP, SWM>(sB, j, r, bb);
            bc_load<NS, NP, SWM>(sC, j, r, cc);
            float gdl = 0.0f, hB = 0.0f;
#pragma unroll
            for (int s = 0; s < NS; s++) {
                const float e = ss_exp2(pv.x * A2[s]);
                const float ht = fmaf(pv.z, cc[s], h[s]); /* the adjoint of x_t */
                const float ex = e * xh[j][s];
                gdl = fmaf(ht, fmaf(A[s], ex, bb[s] * pv.w), gdl);
                gA[s] = fmaf(ht * ex, pv.x, gA[s]);
                hB = fmaf(ht, bb[s], hB);
                vv[s * RT + jj] = ht * pv.y;
                vv[(NS + s) * RT + jj] = pv.z * xh[j + 1][s];
                h[s] = ht * e;
            }
            qv[jj] = gdl;
            qv[RT + jj] = hB;
        }
        /* sums over n: lane holds (which, jj) = divmod(flat, RT) */
        reduce_scatter<2 * RT, Q, 1>(qv, lane);
        {
            constexpr int V = 2 * RT, CNT = V >= Q ? V / Q : 1, DUP = Q > V ? Q / V : 1;
            if (dv && r % DUP == 0) {
#pragma unroll
                for (int i = 0; i < CNT; i++) {
                    const int f = (r / DUP) * CNT + i, which = f / RT, j = q * RT + f % RT;
                    if (j >= len) continue;
                    const float4 P1 = p1row[j];
                    if (which == 0) {
                        const float dr = qv[i] * p2row[j].x;
                        nwrow[TBG + j] = dr; /* ddelta */
                        gb += dr;
                    } else {
                        nwrow[j] = fmaf(P1.z, Dd, P1.x * qv[i]); /* du */
                        gD = fmaf(P1.z, P1.w, gD);
                    }
                }
            }
        }
        /* sums over the warp's channels: lane of channel rank kk holds flat indices
         * kk CNT .. of [which][s][jj] */
        if (bc) {
            constexpr int V = 2 * NS * RT, CNT = V / K;
            static_assert(V >= K, "selective scan: too few values per reduction");
            if constexpr (K > 1) reduce_scatter<V, K, Q>(vv, lane);
            const int kk = (lane / Q) % K;
#pragma unroll
            for (int i = 0; i < CNT; i++) {
                const int f = kk * CNT + i, which = f / (NS * RT), s = (f / RT) % NS;
                const int j = q * RT + f % RT;
                red[((w * 2 + which) * NP + r * NS + s) * TBP + j] = vv[i];
            }
        }
    }
}

template <int NS, int Q>
__global__ void __launch_bounds__(SsCfg<NS, Q>::THREADS, 3) ss_bwd_kernel(const BwdArgs a) {
    using Cf = SsCfg<NS, Q>;
    constexpr int G = Cf::G, TB = Cf::TB, NP = Cf::NP, TH = Cf::THREADS, SWM = Cf::SWM;
    constexpr int W = Cf::W, TS = TB + 1, TBP = TB + 1, GT = G * TB;
    extern __shared__ float4 ss_smem[];
    float *raw = reinterpret_cast<float *>(ss_smem);      /* [4][G][TB]: u, delta, z, dy */
    float *old = raw + 4 * GT;                            /* [2][3][G][TB]: du, ddelta, dz */
    float *nw = old + 6 * GT;                             /* [3][G][TB]: this item's terms */
    float4 *p1 = reinterpret_cast<float4 *>(nw + 3 * GT); /* [G][TS]: delta, delta u, g, u */
    float2 *p2 = reinterpret_cast<float2 *>(p1 + G * TS); /* [G][TS]: sig(r), dz factor */
    float *bcb = reinterpret_cast<float *>(p2 + G * TS);  /* [2][2][TB][NP] */
    float *red = bcb + 4 * TB * NP;                       /* [W][2][NP][TBP] */
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5, r = tid % Q, gl = tid / Q;
    const int64_t b = blockIdx.y, d0 = (int64_t)blockIdx.x * G, d = d0 + gl;
    const int64_t Di = a.Di, N = a.N, L = a.L, chunk = a.chunk;
    const bool dv = d < Di, bc = a.part != nullptr;
    const bool want_dz = a.dz != nullptr && a.z != nullptr; /* dz needs y' (no z: untouched) */
    const int64_t bd = b * Di + d;
    float A[NS], A2[NS], h[NS], gA[NS], x[NS], xin[NS];
#pragma unroll
    for (int s = 0; s < NS; s++) {
        const int n = r * NS + s;
        const bool ok = dv && n < N;
        A[s] = ok ? a.A[d * N + n] : 0.0f;
        A2[s] = A[s] * SS_LOG2E;
        h[s] = (ok && a.dlast) ? a.dlast[bd * N + n] : 0.0f;
        gA[s] = x[s] = xin[s] = 0.0f;
    }
    const float Dd = (a.D && dv) ? a.D[d] : 0.0f;
    float gD = 0.0f, gb = 0.0f;
    ss_zero_pad<TB, NP, SWM, TH>(bcb, N, tid);
    const int vec = a.vec && chunk % 4 == 0;
    float *const outs[3] = {a.du, a.ddelta, want_dz ? a.dz : nullptr};
    auto nsub_of = [&](int64_t c) {
        const int64_t cl = min(chunk, L - c * chunk);
        return (int)((cl + TB - 1) / TB);
    };
    /* the states a thread needs at the start of an item */
    auto fetch_x = [&](int64_t c, int k, float (&v)[NS]) {
#pragma unroll
        for (int s = 0; s < NS; s++) {
            const int n = r * NS + s;
            v[s] = 0.0f;
            if (!dv || n >= N) continue;
            v[s] = k == 0 ? a.xc[(bd * a.nc + c) * N + n] : a.bnd[(bd * a.nsubm + k - 1) * NP + n];
        }
    };
    /* items: per chunk (last first) boundary sub-tiles 0 .. nsub - 2, then adjoint
     * sub-tiles nsub - 1 .. 0. An adjoint item also prefetches the old du, ddelta, dz
     * rows it will add to (those accumulated: a stored gradient's rows are not read). */
    const bool addto[3] = {(a.acc & SSM_SCAN_ACC_DU) != 0, (a.acc & SSM_SCAN_ACC_DDELTA) != 0,
                           (a.acc & SSM_SCAN_ACC_DZ) != 0};
    auto item_load = [&](int64_t ci, int ki, int ph, int buf) {
        const int64_t s0 = ci * chunk + (int64_t)ki * TB;
        const int len = (int)min((int64_t)TB, min(chunk, L - ci * chunk) - (int64_t)ki * TB);
        float *ob = old + buf * 3 * GT;
        const float *const src[7] = {a.u, a.delta, ph ? a.z : nullptr, ph ? a.dy : nullptr,
                                     ph && addto[0] ? outs[0] : nullptr,
                                     ph && addto[1] ? outs[1] : nullptr,
                                     ph && addto[2] ? outs[2] : nullptr};
        float *const dst[7] = {raw, raw + GT, raw + 2 * GT, raw + 3 * GT, ob, ob + GT, ob + 2 * GT};
        ss_load_rows<G, TB, TH, 7>(src, dst, vec, b, d0, Di, L, s0, len, tid);
        ss_load_bc<TB, NP, SWM, TH>(a.B, ph ? a.C : nullptr, bcb + buf * 2 * TB * NP, b, N, L, s0,
                                    len, tid);
        cp_async_commit();
    };
    int64_t c = a.nc - 1;
    int nsub = nsub_of(c), k = 0, phase = nsub > 1 ? 0 : 1, item = 0;
    item_load(c, k, phase, 0);
    fetch_x(c, 0, xin);
    for (;;) {
        const int64_t s0 = c * chunk + (int64_t)k * TB;
        const int len = (int)min((int64_t)TB, min(chunk, L - c * chunk) - (int64_t)k * TB);
        cp_async_wait_all();
        __syncthreads();
        {
            const int ph = phase;
            auto prep_elem = [&](int g, int j) {
                const int64_t dg = d0 + g;
                const bool ok = dg < Di;
                const float uu = raw[g * TB + j];
                const float rr = raw[GT + g * TB + j] + ((a.dbias && ok) ? a.dbias[dg] : 0.0f);
                const float dl = ss_softplus(rr);
                float gt = 0.0f, sr = 0.0f, dzf = 0.0f;
                if (ph) {
                    const float dyv = a.dy ? raw[3 * GT + g * TB + j] : 0.0f;
                    gt = dyv;
                    if (a.z) {
                        const float zz = raw[2 * GT + g * TB + j], sg = ss_sigmoid(zz);
                        gt = dyv * (zz * sg);
                        dzf = dyv * sg * (1.0f + zz * (1.0f - sg));
                    }
                    sr = rr > 20.0f ? 1.0f : ss_sigmoid(rr);
                }
                p1[g * TS + j] = make_float4(dl, dl * uu, gt, uu);
                p2[g * TS + j] = make_float2(sr, dzf);
            };
            ss_units<G, TB, TH, 1>(tid, prep_elem);
        }
        __syncthreads();
        /* the next item: issue its loads now, they land while this one computes */
        int64_t c2 = c;
        int nsub2 = nsub, k2 = k, phase2 = phase;
        bool more = true;
        if (phase == 0) {
            if (k + 1 <= nsub - 2) k2 = k + 1;
            else {
                k2 = nsub - 1;
                phase2 = 1;
            }
        } else if (k > 0) {
            k2 = k - 1;
        } else if (c > 0) {
            c2 = c - 1;
            nsub2 = nsub_of(c2);
            k2 = 0;
            phase2 = nsub2 > 1 ? 0 : 1;
        } else {
            more = false;
        }
        const bool after_bnd = phase == 0 && phase2 == 1; /* next adjoint item starts at x */
        float xnext[NS];
#pragma unroll
        for (int s = 0; s < NS; s++) xnext[s] = 0.0f;
        if (more) {
            item_load(c2, k2, phase2, (item + 1) & 1);
            if (!after_bnd && !(phase2 == 0 && k2 > 0)) fetch_x(c2, phase2 == 0 ? 0 : k2, xnext);
        }
        const float *sB = bcb + (item & 1) * 2 * TB * NP, *sC = sB + TB * NP;
        const float4 *p1row = p1 + gl * TS;
        const float2 *p2row = p2 + gl * TS;
        if (phase == 0) {
            if (k == 0) {
#pragma unroll
                for (int s = 0; s < NS; s++) x[s] = xin[s];
            }
            bnd_steps<NS, TB, NP, SWM>(x, A2, p1row, sB, r, len);
            if (dv) {
#pragma unroll
                for (int s = 0; s < NS; s++)
                    if (r * NS + s < N) a.bnd[(bd * a.nsubm + k) * NP + r * NS + s] = x[s];
            }
        } else {
            const bool from_x = nsub > 1 && k == nsub - 1;
            float xh[TB + 1][NS], pz[TB];
#pragma unroll
            for (int s = 0; s < NS; s++) xh[0][s] = from_x ? x[s] : xin[s];
            if (len == TB)
                rec_steps<NS, TB, NP, SWM, true>(xh, A2, pz, p1row, sB, sC, r, len, want_dz);
            else
                rec_steps<NS, TB, NP, SWM, false>(xh, A2, pz, p1row, sB, sC, r, len, want_dz);
            if (want_dz) {
                reduce_scatter<TB, Q, 1>(pz, lane);
                constexpr int CNT = TB >= Q ? TB / Q : 1, DUP = Q > TB ? Q / TB : 1;
                if (dv && r % DUP == 0) {
#pragma unroll
                    for (int i = 0; i < CNT; i++) {
                        const int j = (r / DUP) * CNT + i;
                        if (j < len) nw[2 * GT + gl * TB + j] = p2row[j].y * fmaf(Dd, p1row[j].w, pz[i]);
                    }
                }
            }
            if (len == TB)
                adj_steps<NS, Q, true>(a, xh, h, gA, A, A2, p1row, p2row, sB, sC, red, nw + gl * TB,
                                       r, lane, w, len, dv, Dd, gD, gb, bc);
            else
                adj_steps<NS, Q, false>(a, xh, h, gA, A, A2, p1row, p2row, sB, sC, red,
                                        nw + gl * TB, r, lane, w, len, dv, Dd, gD, gb, bc);
            __syncthreads();
            if (bc) { /* fixed-order sum over the warps, one write per (which, n, t) */
                float *pb = a.part + ((int64_t)blockIdx.x * a.Bn + b) * 2 * N * L;
                for (int i = tid; i < 2 * NP * TB; i += TH) {
                    const int which = i / (NP * TB), n = (i / TB) % NP, j = i % TB;
                    if (n >= N || j >= len) continue;
                    float sum = 0.0f;
#pragma unroll
                    for (int ww = 0; ww < W; ww++) sum += red[((ww * 2 + which) * NP + n) * TBP + j];
                    pb[(which * N + n) * L + s0 + j] = sum;
                }
            }
            /* du, ddelta, dz rows: this item's terms, plus the prefetched old values of
             * those accumulated */
            const float *ob = old + (item & 1) * 3 * GT;
            if (vec) {
                ss_units<G, TB, TH, 4>(tid, [&](int g, int j) {
                    if (d0 + g >= Di || j >= len) return;
#pragma unroll
                    for (int o = 0; o < 3; o++) {
                        if (!outs[o]) continue;
                        float4 n4 = *reinterpret_cast<const float4 *>(nw + o * GT + g * TB + j);
                        if (addto[o]) {
                            const float4 u4 =
                                *reinterpret_cast<const float4 *>(ob + o * GT + g * TB + j);
                            n4 = make_float4(u4.x + n4.x, u4.y + n4.y, u4.z + n4.z, u4.w + n4.w);
                        }
                        *reinterpret_cast<float4 *>(outs[o] + (b * Di + d0 + g) * L + s0 + j) = n4;
                    }
                });
            } else {
                ss_units<G, TB, TH, 1>(tid, [&](int g, int j) {
                    if (d0 + g >= Di || j >= len) return;
#pragma unroll
                    for (int o = 0; o < 3; o++)
                        if (outs[o])
                            outs[o][(b * Di + d0 + g) * L + s0 + j] =
                                addto[o] ? ob[o * GT + g * TB + j] + nw[o * GT + g * TB + j]
                                         : nw[o * GT + g * TB + j];
                });
            }
        }
        if (!more) break;
        c = c2;
        k = k2;
        phase = phase2;
        nsub = nsub2;
        item++;
#pragma unroll
        for (int s = 0; s < NS; s++) xin[s] = xnext[s];
    }
    /* per (b, d) partials */
    if (a.pA && dv) {
#pragma unroll
        for (int s = 0; s < NS; s++)
            if (r * NS + s < N) a.pA[bd * N + r * NS + s] = gA[s];
    }
#pragma unroll
    for (int m = 1; m < Q; m <<= 1) {
        gD += __shfl_xor_sync(0xffffffffu, gD, m);
        gb += __shfl_xor_sync(0xffffffffu, gb, m);
    }
    if (dv && r == 0) {
        if (a.pD) a.pD[bd] = gD;
        if (a.pbias) a.pbias[bd] = gb;
    }
}

/* dB[b, n, t] += sum over groups of part[g][b][0][n][t]; dC likewise (which 1). */
__global__ void ss_bc_final_kernel(const float *part, float *dB, float *dC, int64_t ng,
                                   int64_t Bn, int64_t N, int64_t L) {
    const int64_t per = Bn * 2 * N * L;
    GRID_STRIDE(i, per) {
        const int64_t t = i % L, bwn = i / L, n = bwn % N, bw = bwn / N, which = bw % 2,
                      bb = bw / 2;
        float *o = which ? dC : dB;
        if (!o) continue;
        float s = 0.0f;
        for (int64_t g = 0; g < ng; g++) s += part[g * per + i];
        o[(bb * N + n) * L + t] += s;
    }
}

/* dA[d, n] += sum_b pA[b, d, n]; dD, d delta_bias likewise over [b, d]. */
__global__ void ss_param_final_kernel(const float *pA, const float *pD, const float *pbias,
                                      float *dA, float *dD, float *dbias, int64_t Bn, int64_t Di,
                                      int64_t N) {
    GRID_STRIDE(i, Di * N + 2 * Di) {
        const float *p;
        float *o;
        int64_t j, stride;
        if (i < Di * N) {
            p = pA, o = dA, j = i, stride = Di * N;
        } else if (i < Di * N + Di) {
            p = pD, o = dD, j = i - Di * N, stride = Di;
        } else {
            p = pbias, o = dbias, j = i - Di * N - Di, stride = Di;
        }
        if (!o) continue;
        float s = 0.0f;
        for (int64_t bb = 0; bb < Bn; bb++) s += p[bb * stride + j];
        o[j] += s;
    }
}

/* ------------------------------------------------------------------ host side */

template <class Kern> void ss_smem_attr(Kern k, size_t bytes, int *done) {
    if (!*done && bytes > 48 * 1024) {
        CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)bytes));
    }
    *done = 1;
}

static int ss_aligned16(const void *p) { return p == nullptr || ((uintptr_t)p & 15) == 0; }

template <int NS, int Q> void ss_fwd_launch(const FwdArgs &a) {
    using Cf = SsCfg<NS, Q>;
    static int done[2];
    const dim3 grid((unsigned)((a.Di + Cf::G - 1) / Cf::G), (unsigned)a.Bn);
    if (!a.xc || a.chunk % Cf::TF == 0) {
        ss_smem_attr(ss_fwd_kernel<NS, Q, true>, Cf::fwd_smem, &done[0]);
        ss_fwd_kernel<NS, Q, true><<<grid, Cf::THREADS, Cf::fwd_smem, ssm_cuda_stream()>>>(a);
    } else {
        ss_smem_attr(ss_fwd_kernel<NS, Q, false>, Cf::fwd_smem, &done[1]);
        ss_fwd_kernel<NS, Q, false><<<grid, Cf::THREADS, Cf::fwd_smem, ssm_cuda_stream()>>>(a);
    }
    LAUNCH_CHECK();
}

template <int NS, int Q>
void ss_bwd_launch(BwdArgs a, float *dA, float *dB, float *dC, float *dD, float *dbias) {
    using Cf = SsCfg<NS, Q>;
    static int done;
    const int64_t ng = (a.Di + Cf::G - 1) / Cf::G;
    const int64_t Bn = a.Bn, Di = a.Di, N = a.N, L = a.L;
    a.nsubm = (min(a.chunk, L) + Cf::TB - 1) / Cf::TB - 1;
    if (a.nsubm < 1) a.nsubm = 1;
    /* scratch: one slot carved in 256-byte aligned pieces */
    const size_t n[5] = {(size_t)((dB || dC) ? ng * Bn * 2 * N * L : 0),
                         (size_t)(dA ? Bn * Di * N : 0), (size_t)(dD ? Bn * Di : 0),
                         (size_t)(dbias ? Bn * Di : 0), (size_t)(Bn * Di * a.nsubm * Cf::NP)};
    size_t off[5], total = 0;
    for (int i = 0; i < 5; i++) {
        off[i] = total;
        total += (n[i] * sizeof(float) + 255) / 256 * 256;
    }
    char *scr = (char *)ssm_cuda_scratch(SSM_SCR_OP, total);
    a.part = n[0] ? (float *)(scr + off[0]) : nullptr;
    a.pA = n[1] ? (float *)(scr + off[1]) : nullptr;
    a.pD = n[2] ? (float *)(scr + off[2]) : nullptr;
    a.pbias = n[3] ? (float *)(scr + off[3]) : nullptr;
    a.bnd = (float *)(scr + off[4]);
    ss_smem_attr(ss_bwd_kernel<NS, Q>, Cf::bwd_smem, &done);
    cudaStream_t st = ssm_cuda_stream();
    ss_bwd_kernel<NS, Q><<<dim3((unsigned)ng, (unsigned)Bn), Cf::THREADS, Cf::bwd_smem, st>>>(a);
    LAUNCH_CHECK();
    if (a.part) {
        ss_bc_final_kernel<<<ssm_grid(Bn * 2 * N * L), SSM_THREADS, 0, st>>>(a.part, dB, dC, ng,
                                                                             Bn, N, L);
        LAUNCH_CHECK();
    }
    if (dA || dD || dbias) {
        ss_param_final_kernel<<<ssm_grid(Di * N + 2 * Di), SSM_THREADS, 0, st>>>(
            a.pA, a.pD, a.pbias, dA, dD, dbias, Bn, Di, N);
        LAUNCH_CHECK();
    }
}

} // namespace

extern "C" void ssm_cuda_selective_scan_fwd(ssm_dtype dt, const void *u, const void *delta,
                                            const void *A, const void *B, const void *C,
                                            const void *D, const void *z,
                                            const void *delta_bias, void *y, void *last_state,
                                            void *x_chunks, int64_t batch, int64_t d_inner,
                                            int64_t d_state, int64_t L, int64_t chunk) {
    SSM_CUDA_F32(dt, "selective_scan_fwd");
    if (d_state < 1 || d_state > SSM_SCAN_MAX_STATE || chunk < 1)
        ssm_panic("cuda: selective_scan_fwd: d_state %lld (1 .. %d) and chunk %lld (>= 1)",
                  (long long)d_state, SSM_SCAN_MAX_STATE, (long long)chunk);
    if (batch <= 0 || d_inner <= 0 || L <= 0) return;
    if (batch > 65535) ssm_panic("cuda: selective_scan_fwd: batch %lld exceeds 65535", (long long)batch);
    FwdArgs a = {CF32(u), CF32(delta), CF32(A), CF32(B), CF32(C), CF32(D), CF32(z),
                 CF32(delta_bias), F32(y), F32(last_state), F32(x_chunks), batch, d_inner,
                 d_state, L, chunk, (L + chunk - 1) / chunk, 0};
    a.vec = L % 4 == 0 && ss_aligned16(u) && ss_aligned16(delta) && ss_aligned16(z) &&
            ss_aligned16(y);
    if (d_state <= 4) ss_fwd_launch<4, 1>(a);
    else if (d_state <= 8) ss_fwd_launch<4, 2>(a);
    else if (d_state <= 16) ss_fwd_launch<4, 4>(a);
    else if (d_state <= 32) ss_fwd_launch<4, 8>(a);
    else if (d_state <= 64) ss_fwd_launch<4, 16>(a);
    else if (d_state <= 128) ss_fwd_launch<4, 32>(a);
    else ss_fwd_launch<8, 32>(a);
}

extern "C" void ssm_cuda_selective_scan_bwd(ssm_dtype dt, const void *u, const void *delta,
                                            const void *A, const void *B, const void *C,
                                            const void *D, const void *z,
                                            const void *delta_bias, const void *x_chunks,
                                            const void *dy, const void *d_last_state, void *du,
                                            void *ddelta, void *dA, void *dB, void *dC, void *dD,
                                            void *dz, void *ddelta_bias, int64_t batch,
                                            int64_t d_inner, int64_t d_state, int64_t L,
                                            int64_t chunk, int acc) {
    SSM_CUDA_F32(dt, "selective_scan_bwd");
    if (d_state < 1 || d_state > SSM_SCAN_MAX_STATE || chunk < 1)
        ssm_panic("cuda: selective_scan_bwd: d_state %lld (1 .. %d) and chunk %lld (>= 1)",
                  (long long)d_state, SSM_SCAN_MAX_STATE, (long long)chunk);
    if (!x_chunks) ssm_panic("cuda: selective_scan_bwd: needs the forward's x_chunks");
    if (batch <= 0 || d_inner <= 0 || L <= 0) return;
    if (batch > 65535) ssm_panic("cuda: selective_scan_bwd: batch %lld exceeds 65535", (long long)batch);
    if (!du && !ddelta && !dA && !dB && !dC && !dD && !dz && !ddelta_bias) return;
    BwdArgs a = {CF32(u), CF32(delta), CF32(A), CF32(B), CF32(C), CF32(D), CF32(z),
                 CF32(delta_bias), CF32(x_chunks), CF32(dy), CF32(d_last_state), F32(du),
                 F32(ddelta), F32(dz), nullptr, nullptr, nullptr, nullptr, nullptr, batch,
                 d_inner, d_state, L, chunk, (L + chunk - 1) / chunk, 0, 0, acc};
    a.vec = L % 4 == 0 && ss_aligned16(u) && ss_aligned16(delta) && ss_aligned16(z) &&
            ss_aligned16(dy);
    float *gA = F32(dA), *gB = F32(dB), *gC = F32(dC), *gD = F32(dD), *gb = F32(ddelta_bias);
    if (d_state <= 4) ss_bwd_launch<4, 1>(a, gA, gB, gC, gD, gb);
    else if (d_state <= 8) ss_bwd_launch<4, 2>(a, gA, gB, gC, gD, gb);
    else if (d_state <= 16) ss_bwd_launch<4, 4>(a, gA, gB, gC, gD, gb);
    else if (d_state <= 32) ss_bwd_launch<4, 8>(a, gA, gB, gC, gD, gb);
    else if (d_state <= 64) ss_bwd_launch<4, 16>(a, gA, gB, gC, gD, gb);
    else if (d_state <= 128) ss_bwd_launch<4, 32>(a, gA, gB, gC, gD, gb);
    else ss_bwd_launch<8, 32>(a, gA, gB, gC, gD, gb);
}
