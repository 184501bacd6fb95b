/* The gradient multiplier of an optimizer update (kernels.h: adamw, sgd), one formula for
 * the CPU and CUDA kernels: global-norm clipping from the step's statistics, or
 * hp->grad_scale when no statistics are given; -1 when the loss or the norm is not
 * finite (the update is skipped). */
#ifndef SSM_OPTIM_SCALE_H
#define SSM_OPTIM_SCALE_H
#include <math.h>
#include "hostdev.h"
#include "kernels.h"

SSM_HD double ssm_grad_multiplier(const ssm_optim_hp *hp, const ssm_step_stats *st) {
    if (!st) return hp->grad_scale;
    if (!isfinite(st->loss_sum) || !isfinite(st->gnorm_sq)) return -1;
    if (hp->max_norm <= 0) return 1;
    double coef = hp->max_norm / (sqrt(st->gnorm_sq) + 1e-6);
    return coef < 1 ? coef : 1;
}

#endif
