/* Optimizer updates over flat buffers, one fused pass each (PyTorch semantics).
 * Per-step scalars are formed in double on the host; the per-element arithmetic
 * runs in float in the same order as lib/cpu_optim.c. */
#include <math.h>
#include "common.cuh"
#include "optim_scale.h"

/* the group of element i */
__device__ __forceinline__ int group_of(const int64_t *end, int64_t i) {
    int g = 0;
    while (g < SSM_OPT_GROUPS - 1 && i >= end[g]) g++;
    return g;
}

/* Adam: g = s grad + wd p;  AdamW: p *= 1 - lr wd, g = s grad;
 * m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 * p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * The per-group scalars are formed in double once per block (shared memory). */
struct adam_group {
    float step_size, decay, l2;
};

static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, int64_t n,
                                    const ssm_optim_hp *hp, const ssm_step_stats *st) {
    __shared__ adam_group cg[SSM_OPT_GROUPS];
    __shared__ int64_t end[SSM_OPT_GROUPS];
    __shared__ float scale;
    if (threadIdx.x < SSM_OPT_GROUPS) {
        int k = threadIdx.x;
        double lr = hp->lr[k], wd = hp->weight_decay[k];
        cg[k].step_size = (float)(lr / (1 - pow(hp->beta1, (double)hp->step)));
        cg[k].decay = hp->decoupled ? (float)(1 - lr * wd) : 1.0f;
        cg[k].l2 = hp->decoupled ? 0.0f : (float)wd;
        end[k] = hp->end[k];
    }
    if (threadIdx.x == 0) scale = (float)ssm_grad_multiplier(hp, st);
    __syncthreads();
    const float s = scale;
    if (s < 0) return; /* non-finite: the step is skipped */
    const float bc2_sqrt = (float)sqrt(1 - pow(hp->beta2, (double)hp->step));
    const float b1 = (float)hp->beta1, b2 = (float)hp->beta2, c1 = (float)(1 - hp->beta1),
                c2 = (float)(1 - hp->beta2), eps = (float)hp->eps;
    GRID_STRIDE(i, n) {
        const adam_group k = cg[group_of(end, i)];
        float pi = p[i];
        float gi = s * g[i] + k.l2 * pi;
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi * k.decay - k.step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

void ssm_cuda_adamw(ssm_dtype dt, void *p, const void *g, void *m, void *v, int64_t n,
                    const ssm_optim_hp *hp, const ssm_step_stats *st) {
    SSM_CUDA_F32(dt, "adamw");
    if (n <= 0) return;
    adamw_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(F32(p), CF32(g), F32(m),
                                                                     F32(v), n, hp, st);
    LAUNCH_CHECK();
}

/* SGD (dampening 0): d = s grad + wd p; with momentum, buf = d on the first step,
 * else momentum buf + d, and d = nesterov ? d + momentum buf : buf; p -= lr d */
static __global__ void sgd_kernel(float *p, const float *g, float *buf, int64_t n,
                                  const ssm_optim_hp *hp, const ssm_step_stats *st) {
    __shared__ float lr[SSM_OPT_GROUPS], l2[SSM_OPT_GROUPS];
    __shared__ int64_t end[SSM_OPT_GROUPS];
    __shared__ float scale;
    if (threadIdx.x < SSM_OPT_GROUPS) {
        lr[threadIdx.x] = (float)hp->lr[threadIdx.x];
        l2[threadIdx.x] = (float)hp->weight_decay[threadIdx.x];
        end[threadIdx.x] = hp->end[threadIdx.x];
    }
    if (threadIdx.x == 0) scale = (float)ssm_grad_multiplier(hp, st);
    __syncthreads();
    const float s = scale, mu = (float)hp->momentum;
    if (s < 0) return;
    const int nesterov = hp->nesterov, first_step = hp->step == 1;
    GRID_STRIDE(i, n) {
        int k = group_of(end, i);
        float d = s * g[i] + l2[k] * p[i];
        if (mu != 0.0f) {
            float b = first_step ? d : mu * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + mu * b : b;
        }
        p[i] -= lr[k] * d;
    }
}

void ssm_cuda_sgd(ssm_dtype dt, void *p, const void *g, void *buf, int64_t n,
                  const ssm_optim_hp *hp, const ssm_step_stats *st) {
    SSM_CUDA_F32(dt, "sgd");
    if (n <= 0) return;
    sgd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(F32(p), CF32(g), F32(buf), n,
                                                                   hp, st);
    LAUNCH_CHECK();
}
