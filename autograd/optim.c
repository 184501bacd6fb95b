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
    o->hp = ssm_kernels_for(ps->device)->alloc(sizeof *o->hp);
    if (!o->hp) ssm_out_of_memory("optim: %s", ssm_last_error());
    return o;
}

void ssm_optim_free(ssm_optim *o) {
    if (!o) return;
    ssm_tensor_free(o->m);
    ssm_tensor_free(o->v);
    ssm_kernels_for(o->params->device)->free(o->hp);
    free(o);
}

_Static_assert(SSM_MAX_GROUPS == SSM_OPT_GROUPS, "optimizer groups: params.h and kernels.h");

static void upload(ssm_optim *o, double lr_factor, double max_norm, double grad_scale) {
    ssm_params *ps = o->params;
    ssm_optim_hp hp = {.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps,
                       .momentum = o->momentum, .step = ++o->step,
                       .decoupled = o->kind == SSM_OPT_ADAMW, .nesterov = o->nesterov,
                       .max_norm = max_norm, .grad_scale = grad_scale};
    for (int g = 0; g < SSM_MAX_GROUPS; g++) {
        hp.end[g] = ps->group_begin[g + 1];
        hp.lr[g] = o->group[g].lr * lr_factor;
        hp.weight_decay[g] = o->group[g].weight_decay;
    }
    ssm_kernels_for(ps->device)->from_host(o->hp, &hp, sizeof hp);
}

void ssm_optim_prepare(ssm_optim *o, double lr_factor, double max_norm) {
    upload(o, lr_factor, max_norm, 1.0);
}

void ssm_optim_apply(ssm_optim *o, const ssm_step_stats *st) {
    ssm_params *ps = o->params;
    const ssm_kernels *k = ssm_kernels_for(ps->device);
    if (o->kind == SSM_OPT_SGD)
        k->sgd(ps->dtype, ps->values->data, ps->grads->data, o->m->data, ps->numel, o->hp, st);
    else
        k->adamw(ps->dtype, ps->values->data, ps->grads->data, o->m->data, o->v->data, ps->numel,
                 o->hp, st);
}

void ssm_optim_step(ssm_optim *o, double lr_factor, double grad_scale) {
    upload(o, lr_factor, 0, grad_scale);
    ssm_optim_apply(o, NULL);
}

void ssm_grad_norm_sq_into(const ssm_params *ps, ssm_step_stats *st) {
    ssm_kernels_for(ps->device)->sumsq(ps->dtype, ps->grads->data, ps->numel, &st->gnorm_sq);
}

double ssm_grad_norm(const ssm_params *ps) {
    const ssm_kernels *k = ssm_kernels_for(ps->device);
    ssm_step_stats *d = k->alloc(sizeof *d), h;
    if (!d) ssm_out_of_memory("grad_norm: %s", ssm_last_error());
    ssm_grad_norm_sq_into(ps, d);
    k->to_host(&h, d, sizeof h);
    k->free(d);
    return sqrt(h.gnorm_sq);
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
