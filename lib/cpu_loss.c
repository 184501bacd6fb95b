/* Softmax cross-entropy over [rows, C] logits with ignore_index and an optional
 * class mask. The log-sum-exp is accumulated in double; the loss is summed over
 * rows serially so it does not depend on the thread count.
 *
 * Template: the part under `#else` is compiled for T = float and T = double. */
#ifndef T
#include <tgmath.h>
#include "cpu_kernels.h"
#include "log.h"

#define PAR_MIN ((int64_t)1 << 15) /* elements below which threads cost more than they save */

#define SSM_CPU_TEMPLATE "cpu_loss.c"
#include "cpu_template.h"

/* Targets outside [0, C) or on a masked class, and a mask that excludes every class,
 * are caller bugs (the loss would be infinite or undefined). */
static void check_targets(const char *op, const int32_t *target, const int32_t *mask,
                          int64_t rows, int64_t C, int32_t ignore_index) {
    if (mask) {
        int64_t c = 0;
        while (c < C && !mask[c]) c++;
        SSM_CHECK(c < C, "%s: class_mask excludes all %lld classes", op, (long long)C);
    }
    for (int64_t r = 0; r < rows; r++) {
        int32_t t = target[r];
        if (t == ignore_index) continue;
        SSM_CHECK(t >= 0 && t < C, "%s: target %d at row %lld is outside [0, %lld)", op, (int)t,
                  (long long)r, (long long)C);
        SSM_CHECK(!mask || mask[t], "%s: target %d at row %lld is a masked class", op, (int)t,
                  (long long)r);
    }
}

void ssm_cpu_xent_fwd(ssm_dtype dt, const void *logits, const int32_t *target,
                      const int32_t *class_mask, void *loss, void *lse, int64_t rows, int64_t C,
                      int32_t ignore_index) {
    check_targets("xent_fwd", target, class_mask, rows, C, ignore_index);
    DISPATCH(xent_fwd, dt, logits, target, class_mask, loss, lse, rows, C, ignore_index);
}

void ssm_cpu_xent_bwd(ssm_dtype dt, const void *logits, const int32_t *target,
                      const int32_t *class_mask, const void *lse, const void *dloss,
                      void *dlogits, int64_t rows, int64_t C, int32_t ignore_index, int acc) {
    if (!dlogits) return;
    ssm_cpu_clear_unless(acc, dlogits, rows * C, dt);
    DISPATCH(xent_bwd, dt, logits, target, class_mask, lse, dloss, dlogits, rows, C,
             ignore_index);
}

void ssm_cpu_xent_stats(ssm_dtype dt, const void *logits, const int32_t *target, const void *loss,
                        const void *lse, int64_t rows, int64_t C, int32_t ignore_index,
                        ssm_step_stats *st) {
    DISPATCH(xent_stats, dt, logits, target, loss, lse, rows, C, ignore_index, st);
}

#else /* ---------------- template body, T = float or double ---------------- */

/* lse is written for every row, ignored ones included (they simply do not count). */
static void FN(xent_fwd)(const T *logits, const int32_t *target, const int32_t *mask, T *loss,
                         T *lse, int64_t rows, int64_t C, int32_t ignore_index) {
#pragma omp parallel for schedule(static) if (rows * C >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *z = logits + r * C;
        T mx = -INFINITY;
        for (int64_t c = 0; c < C; c++)
            if ((!mask || mask[c]) && z[c] > mx) mx = z[c];
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            if (!mask || mask[c]) s += exp(z[c] - mx);
        lse[r] = (T)(mx + log(s));
    }
    double total = 0;
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (target[r] == ignore_index) continue;
        total += (double)lse[r] - logits[r * C + target[r]];
        count++;
    }
    loss[0] = count ? (T)(total / count) : 0;
    lse[rows] = (T)count;
}

static void FN(xent_bwd)(const T *logits, const int32_t *target, const int32_t *mask,
                         const T *lse, const T *dloss, T *dlogits, int64_t rows, int64_t C,
                         int32_t ignore_index) {
    double count = lse[rows];
    if (count == 0) return;
    T scale = (T)(dloss[0] / count);
#pragma omp parallel for schedule(static) if (rows * C >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int32_t t = target[r];
        if (t == ignore_index) continue;
        const T *z = logits + r * C;
        T *dz = dlogits + r * C, l = lse[r];
        for (int64_t c = 0; c < C; c++)
            if (!mask || mask[c]) dz[c] += scale * (exp(z[c] - l) - (c == t));
    }
}

/* kernels.h: xent_stats. The argmax ignores NaN (a NaN logit never wins). */
static void FN(xent_stats)(const T *logits, const int32_t *target, const T *loss, const T *lse,
                           int64_t rows, int64_t C, int32_t ignore_index, ssm_step_stats *st) {
    int64_t correct = 0;
#pragma omp parallel for schedule(static) reduction(+ : correct) if (rows * C >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        if (target[r] == ignore_index) continue;
        const T *z = logits + r * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (z[c] > z[best] || (isnan(z[best]) && !isnan(z[c]))) best = c;
        correct += best == target[r];
    }
    double count = (double)lse[rows];
    st->correct += (double)correct;
    st->count += count;
    if (loss) st->loss_sum += (double)loss[0] * count;
}

#endif
