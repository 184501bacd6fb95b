/* Softmax cross-entropy with ignore_index and an optional class mask.
 * Forward: a warp per row computes the log-sum-exp (max pass, then the sum of
 * exponentials in double, as the CPU does); one block then sums the counted
 * rows' losses in a fixed order and writes loss[0] and lse[rows] = count.
 * Backward reads dloss and the count on the device: no host round trip. */
#include "common.cuh"

/* lse is written for every row, ignored ones included (they simply do not count) */
static __global__ void xent_lse_kernel(const float *logits, const int32_t *mask, float *lse,
                                       int64_t rows, int64_t C) {
    WARP_STRIDE(r, lane, rows) {
        const float *z = logits + r * C;
        float mx = -INFINITY;
        for (int64_t c = lane; c < C; c += 32)
            if ((!mask || mask[c]) && z[c] > mx) mx = z[c];
        mx = warp_max(mx);
        double s = 0;
        for (int64_t c = lane; c < C; c += 32)
            if (!mask || mask[c]) s += expf(z[c] - mx);
        s = warp_sum(s);
        if (lane == 0) lse[r] = (float)(mx + log(s));
    }
}

/* One block: loss = mean over counted rows of lse - z[target]. A target outside
 * [0, C) or on a masked class (a caller bug the CPU aborts on; here it would
 * need a host sync to detect) makes the loss NaN instead of reading out of bounds. */
static __global__ void xent_total_kernel(const float *logits, const int32_t *target,
                                         const int32_t *mask, float *loss, float *lse,
                                         int64_t rows, int64_t C, int32_t ignore_index) {
    d2 acc = {0, 0}; /* (sum of losses, count) */
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
        int32_t t = target[r];
        if (t == ignore_index) continue;
        bool bad = t < 0 || t >= C || (mask && !mask[t]);
        acc.a += bad ? (double)NAN : (double)lse[r] - logits[r * C + t];
        acc.b += 1;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
        loss[0] = acc.b > 0 ? (float)(acc.a / acc.b) : 0.0f;
        lse[rows] = (float)acc.b;
    }
}

void ssm_cuda_xent_fwd(ssm_dtype dt, const void *logits, const int32_t *target,
                       const int32_t *class_mask, void *loss, void *lse, int64_t rows, int64_t C,
                       int32_t ignore_index) {
    SSM_CUDA_F32(dt, "xent_fwd");
    cudaStream_t st = ssm_cuda_stream();
    if (rows > 0) {
        xent_lse_kernel<<<ssm_grid_warps(rows), SSM_THREADS, 0, st>>>(CF32(logits), class_mask,
                                                                      F32(lse), rows, C);
        LAUNCH_CHECK();
    }
    xent_total_kernel<<<1, 1024, 0, st>>>(CF32(logits), target, class_mask, F32(loss), F32(lse),
                                          rows, C, ignore_index);
    LAUNCH_CHECK();
}

/* dlogits += dloss / count * (softmax - onehot), skipping ignored rows and masked classes
 * (acc 0: stored, the skipped ones as zeros) */
static __global__ void xent_bwd_kernel(const float *logits, const int32_t *target,
                                       const int32_t *mask, const float *lse, const float *dloss,
                                       float *dlogits, int64_t rows, int64_t C,
                                       int32_t ignore_index, int acc) {
    double count = lse[rows];
    if (count == 0 && acc) return;
    float scale = count == 0 ? 0.0f : (float)(dloss[0] / count);
    GRID_STRIDE(i, rows * C) {
        int64_t r = i / C, c = i - r * C;
        int32_t t = target[r];
        if (count == 0 || t == ignore_index || (mask && !mask[c])) {
            if (!acc) dlogits[i] = 0.0f;
            continue;
        }
        float g = scale * (expf(logits[i] - lse[r]) - (c == t ? 1.0f : 0.0f));
        dlogits[i] = acc ? dlogits[i] + g : g;
    }
}

void ssm_cuda_xent_bwd(ssm_dtype dt, const void *logits, const int32_t *target,
                       const int32_t *class_mask, const void *lse, const void *dloss,
                       void *dlogits, int64_t rows, int64_t C, int32_t ignore_index, int acc) {
    SSM_CUDA_F32(dt, "xent_bwd");
    if (!dlogits || rows <= 0 || C <= 0) return;
    xent_bwd_kernel<<<ssm_grid(rows * C), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(logits), target, class_mask, CF32(lse), CF32(dloss), F32(dlogits), rows, C,
        ignore_index, acc);
    LAUNCH_CHECK();
}

/* kernels.h: xent_stats. A warp per row finds the argmax (NaN never wins, ties to the
 * lowest class) and adds its hits to st->correct; counts are whole numbers, so the
 * atomic additions are exact in any order. Thread 0 of block 0 adds the count and the
 * loss (one addition each: deterministic). */
__device__ __forceinline__ bool beats(float a, int64_t ia, float b, int64_t ib) {
    if (isnan(a) != isnan(b)) return isnan(b);
    return a > b || (!(a < b) && ia < ib); /* equal values, or both NaN: the lower index */
}

static __global__ void xent_stats_kernel(const float *logits, const int32_t *target,
                                         const float *loss, const float *lse, int64_t rows,
                                         int64_t C, int32_t ignore_index, ssm_step_stats *st) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        double count = lse[rows];
        st->count += count;
        if (loss) st->loss_sum += (double)loss[0] * count;
    }
    double hits = 0;
    WARP_STRIDE(r, lane, rows) {
        int32_t t = target[r];
        if (t == ignore_index) continue; /* uniform across the warp */
        const float *z = logits + r * C;
        float bv = NAN;
        int64_t bi = C; /* no column yet: any column beats it */
        for (int64_t c = lane; c < C; c += 32)
            if (bi == C || beats(z[c], c, bv, bi)) bv = z[c], bi = c;
        for (int m = 16; m > 0; m >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, bv, m);
            int64_t oi = __shfl_xor_sync(0xffffffffu, bi, m);
            if (oi < C && (bi == C || beats(ov, oi, bv, bi))) bv = ov, bi = oi;
        }
        if (lane == 0) hits += bi == t;
    }
    if (hits > 0) atomicAdd(&st->correct, hits);
}

void ssm_cuda_xent_stats(ssm_dtype dt, const void *logits, const int32_t *target,
                         const void *loss, const void *lse, int64_t rows, int64_t C,
                         int32_t ignore_index, ssm_step_stats *st) {
    SSM_CUDA_F32(dt, "xent_stats");
    xent_stats_kernel<<<ssm_grid_warps(rows > 0 ? rows : 1), SSM_THREADS, 0,
                        ssm_cuda_stream()>>>(CF32(logits), target, CF32(loss), CF32(lse), rows,
                                             C, ignore_index, st);
    LAUNCH_CHECK();
}
