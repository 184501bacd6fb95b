/* Optimizer updates over flat buffers (PyTorch semantics, one fused pass).
 * Per-step scalars (bias corrections) are formed in double; the per-element
 * arithmetic runs in the parameter type, as torch does.
 *
 * Template: the part under `#else` is compiled for T = float and T = double. */
#ifndef T
#include <tgmath.h>
#include "cpu_kernels.h"
#include "log.h"
#include "optim_scale.h"

#define PAR_MIN ((int64_t)1 << 15) /* elements below which threads cost more than they save */

#define SSM_CPU_TEMPLATE "cpu_optim.c"
#include "cpu_template.h"

/* Group g's elements [*lo, *hi) of a buffer of n; 0 when it has none. */
static int group_range(const ssm_optim_hp *hp, int64_t n, int g, int64_t *lo, int64_t *hi) {
    *lo = g ? hp->end[g - 1] : 0;
    *hi = hp->end[g] < n ? hp->end[g] : n;
    return *hi > *lo;
}

/* Element i of a flat buffer of dtype dt (NULL stays NULL). */
static void *at(const void *p, int64_t i, ssm_dtype dt) {
    return p ? (char *)p + (size_t)i * ssm_dtype_size(dt) : NULL;
}

void ssm_cpu_adamw(ssm_dtype dt, void *p, const void *g, void *m, void *v, int64_t n,
                   const ssm_optim_hp *hp, const ssm_step_stats *st) {
    SSM_CHECK(hp->step >= 1, "adamw: step is %lld, must be >= 1 (1-based, after this "
              "update)", (long long)hp->step);
    double s = ssm_grad_multiplier(hp, st);
    int64_t lo, hi;
    for (int gr = 0; s >= 0 && gr < SSM_OPT_GROUPS; gr++)
        if (group_range(hp, n, gr, &lo, &hi))
            DISPATCH(adamw, dt, at(p, lo, dt), at(g, lo, dt), at(m, lo, dt), at(v, lo, dt), hi - lo,
                     hp->lr[gr], hp->beta1, hp->beta2, hp->eps, hp->weight_decay[gr], hp->step,
                     hp->decoupled, s);
}

void ssm_cpu_sgd(ssm_dtype dt, void *p, const void *g, void *buf, int64_t n,
                 const ssm_optim_hp *hp, const ssm_step_stats *st) {
    SSM_CHECK(hp->momentum == 0 || buf, "sgd: momentum %g needs a momentum buffer",
              hp->momentum);
    double s = ssm_grad_multiplier(hp, st);
    int64_t lo, hi;
    for (int gr = 0; s >= 0 && gr < SSM_OPT_GROUPS; gr++)
        if (group_range(hp, n, gr, &lo, &hi))
            DISPATCH(sgd, dt, at(p, lo, dt), at(g, lo, dt), at(buf, lo, dt), hi - lo, hp->lr[gr],
                     hp->momentum, hp->weight_decay[gr], hp->nesterov, hp->step == 1, s);
}

#else /* ---------------- template body, T = float or double ---------------- */

/* torch.optim.Adam/AdamW (amsgrad off, maximize off):
 *   Adam:  g = s grad + wd p        AdamW: p *= 1 - lr wd, g = s grad
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
static void FN(adamw)(T *p, const T *g, T *m, T *v, int64_t n, double lr, double beta1,
                      double beta2, double eps, double wd, int64_t step, int decoupled,
                      double grad_scale) {
    T step_size = (T)(lr / (1 - pow(beta1, (double)step)));
    T bc2_sqrt = (T)sqrt(1 - pow(beta2, (double)step));
    T decay = decoupled ? (T)(1 - lr * wd) : 1, l2 = decoupled ? 0 : (T)wd;
    T b1 = (T)beta1, b2 = (T)beta2, c1 = (T)(1 - beta1), c2 = (T)(1 - beta2);
    T e = (T)eps, s = (T)grad_scale;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        T gi = s * g[i] + l2 * p[i];
        T mi = b1 * m[i] + c1 * gi;
        T vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (sqrt(vi) / bc2_sqrt + e);
    }
}

/* torch.optim.SGD (dampening 0): d = s grad + wd p; with momentum, buf = d on the first
 * step, else momentum buf + d, and d = nesterov ? d + momentum buf : buf; p -= lr d */
static void FN(sgd)(T *p, const T *g, T *buf, int64_t n, double lr, double momentum, double wd,
                    int nesterov, int first_step, double grad_scale) {
    T mu = (T)momentum, l2 = (T)wd, s = (T)grad_scale, step = (T)lr;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        T d = s * g[i] + l2 * p[i];
        if (mu != 0) {
            T b = first_step ? d : mu * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + mu * b : b;
        }
        p[i] -= step * d;
    }
}

#endif
