/* Optimizer updates over flat buffers, one fused pass each (PyTorch semantics).
 * Per-step scalars are formed in double on the host; the per-element arithmetic
 * runs in float in the same order as lib/cpu_optim.c. */
#include <math.h>
#include "common.cuh"

/* Adam: g = s grad + wd p;  AdamW: p *= 1 - lr wd, g = s grad;
 * m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 * p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
struct adam_consts {
    float step_size, bc2_sqrt, decay, l2, b1, b2, c1, c2, eps, s;
};

static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, int64_t n,
                                    adam_consts k) {
    GRID_STRIDE(i, n) {
        float pi = p[i];
        float gi = k.s * g[i] + k.l2 * pi;
        float mi = k.b1 * m[i] + k.c1 * gi;
        float vi = k.b2 * v[i] + k.c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi * k.decay - k.step_size * mi / (sqrtf(vi) / k.bc2_sqrt + k.eps);
    }
}

void ssm_cuda_adamw(ssm_dtype dt, void *p, const void *g, void *m, void *v, int64_t n, double lr,
                    double beta1, double beta2, double eps, double wd, int64_t step,
                    int decoupled, double grad_scale) {
    SSM_CUDA_F32(dt, "adamw");
    if (step < 1)
        ssm_panic("cuda: adamw: step is %lld, must be >= 1 (1-based, after this update)",
                  (long long)step);
    if (n <= 0) return;
    adam_consts k;
    k.step_size = (float)(lr / (1 - pow(beta1, (double)step)));
    k.bc2_sqrt = (float)sqrt(1 - pow(beta2, (double)step));
    k.decay = decoupled ? (float)(1 - lr * wd) : 1.0f;
    k.l2 = decoupled ? 0.0f : (float)wd;
    k.b1 = (float)beta1;
    k.b2 = (float)beta2;
    k.c1 = (float)(1 - beta1);
    k.c2 = (float)(1 - beta2);
    k.eps = (float)eps;
    k.s = (float)grad_scale;
    adamw_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(F32(p), CF32(g), F32(m),
                                                                     F32(v), n, k);
    LAUNCH_CHECK();
}

/* SGD (dampening 0): d = s grad + wd p; with momentum, buf = d on the first step,
 * else momentum buf + d, and d = nesterov ? d + momentum buf : buf; p -= lr d */
static __global__ void sgd_kernel(float *p, const float *g, float *buf, int64_t n, float lr,
                                  float mu, float l2, int nesterov, int first_step, float s) {
    GRID_STRIDE(i, n) {
        float d = s * g[i] + l2 * p[i];
        if (mu != 0.0f) {
            float b = first_step ? d : mu * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + mu * b : b;
        }
        p[i] -= lr * d;
    }
}

void ssm_cuda_sgd(ssm_dtype dt, void *p, const void *g, void *buf, int64_t n, double lr,
                  double momentum, double wd, int nesterov, int first_step, double grad_scale) {
    SSM_CUDA_F32(dt, "sgd");
    if (momentum != 0 && !buf)
        ssm_panic("cuda: sgd: momentum %g needs a momentum buffer", momentum);
    if (n <= 0) return;
    sgd_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        F32(p), CF32(g), F32(buf), n, (float)lr, (float)momentum, (float)wd, nesterov,
        first_step, (float)grad_scale);
    LAUNCH_CHECK();
}
