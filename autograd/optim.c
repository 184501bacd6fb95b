#include "optim.h"
#include <math.h>
#include <stdlib.h>
#include "kernels.h"
#include "log.h"

ssm_optim *ssm_optim_new(ssm_optim_kind kind, ssm_params *ps, double lr, double weight_decay) {
    SSM_CHECK(ps->finalized, "optim: parameters are not finalized");
    ssm_optim *o = calloc(1, sizeof *o);
    SSM_CHECK(o, "optim: out of memory");
    o->kind = kind;
    o->params = ps;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->momentum = 0.9;
    for (int g = 0; g < SSM_MAX_GROUPS; g++) o->group[g] = (ssm_group_hparams){lr, weight_decay};
    o->m = ssm_tensor_new(ps->dtype, ps->device, SSM_DIMS(ps->numel));
    ssm_tensor_zero(o->m);
    if (kind != SSM_OPT_SGD) {
        o->v = ssm_tensor_new(ps->dtype, ps->device, SSM_DIMS(ps->numel));
        ssm_tensor_zero(o->v);
    }
    return o;
}

void ssm_optim_free(ssm_optim *o) {
    if (!o) return;
    ssm_tensor_free(o->m);
    ssm_tensor_free(o->v);
    free(o);
}

void ssm_optim_step(ssm_optim *o, double lr_factor, double grad_scale) {
    ssm_params *ps = o->params;
    const ssm_kernels *k = ssm_kernels_for(ps->device);
    size_t es = ssm_dtype_size(ps->dtype);
    o->step++;
    for (int g = 0; g < SSM_MAX_GROUPS; g++) {
        int64_t b = ps->group_begin[g], n = ps->group_begin[g + 1] - b;
        if (n == 0) continue;
        size_t at = (size_t)b * es;
        char *p = (char *)ps->values->data + at, *gr = (char *)ps->grads->data + at;
        char *m = (char *)o->m->data + at;
        double lr = o->group[g].lr * lr_factor, wd = o->group[g].weight_decay;
        if (o->kind == SSM_OPT_SGD)
            k->sgd(ps->dtype, p, gr, m, n, lr, o->momentum, wd, o->nesterov, o->step == 1,
                   grad_scale);
        else
            k->adamw(ps->dtype, p, gr, m, (char *)o->v->data + at, n, lr, o->beta1, o->beta2,
                     o->eps, wd, o->step, o->kind == SSM_OPT_ADAMW, grad_scale);
    }
}

double ssm_grad_norm(const ssm_params *ps) {
    return sqrt(ssm_kernels_for(ps->device)->sumsq(ps->dtype, ps->grads->data, ps->numel));
}

double ssm_clip_coef(double norm, double max_norm) {
    if (max_norm <= 0) return 1.0;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1.0 ? coef : 1.0;
}

double ssm_clip_grad_norm(ssm_params *ps, double max_norm) {
    double norm = ssm_grad_norm(ps), coef = ssm_clip_coef(norm, max_norm);
    if (coef < 1.0)
        ssm_kernels_for(ps->device)->scale(ps->dtype, ps->grads->data, ps->grads->data,
                                           ps->numel, coef, 0);
    return norm;
}

double ssm_lr_factor(const ssm_lr_schedule *s, int64_t step) {
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return (double)(step + 1) / (double)s->warmup_steps;
    switch (s->kind) {
    case SSM_SCHED_CONSTANT: return 1.0;
    case SSM_SCHED_COSINE: {
        int64_t span = s->total_steps - s->warmup_steps;
        if (span <= 0) return 1.0;
        double t = (double)(step - s->warmup_steps) / (double)span;
        if (t > 1) t = 1;
        return s->min_factor + (1 - s->min_factor) * 0.5 * (1 + cos(M_PI * t));
    }
    case SSM_SCHED_STEP:
        return s->step_size > 0 ? pow(s->gamma, (double)((step - s->warmup_steps) / s->step_size))
                                : 1.0;
    }
    return 1.0;
}
