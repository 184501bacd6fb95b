/* Optimizers over a parameter set's flat buffers: Adam, AdamW (PyTorch
 * semantics), SGD with momentum; per-group learning rate and weight decay;
 * global-norm gradient clipping; learning-rate schedules. */
#ifndef SSM_OPTIM_H
#define SSM_OPTIM_H
#include "kernels.h"
#include "params.h"

typedef enum { SSM_OPT_ADAMW = 0, SSM_OPT_ADAM = 1, SSM_OPT_SGD = 2 } ssm_optim_kind;

typedef struct {
    double lr, weight_decay;
} ssm_group_hparams;

typedef struct ssm_optim {
    ssm_optim_kind kind;
    ssm_params *params;
    double beta1, beta2, eps; /* Adam */
    double momentum;          /* SGD */
    int nesterov;
    ssm_group_hparams group[SSM_MAX_GROUPS];
    int64_t step;             /* updates done so far */
    ssm_tensor *m, *v;        /* flat moments (SGD: m is the momentum buffer) */
    ssm_optim_hp *hp;         /* this update's hyper-parameters, in the parameters' memory */
} ssm_optim;

/* Every group starts with (lr, weight_decay); change opt->group[g] for others.
 * Defaults: betas (0.9, 0.999), eps 1e-8, momentum 0.9. */
ssm_optim *ssm_optim_new(ssm_optim_kind kind, ssm_params *ps, double lr, double weight_decay);
void ssm_optim_free(ssm_optim *o);
/* One update: lr of group g = group[g].lr * lr_factor; gradients are multiplied by
 * grad_scale first (pass ssm_clip_coef() to fold clipping into the update). */
void ssm_optim_step(ssm_optim *o, double lr_factor, double grad_scale);
/* The same in two halves, for a step that stays on the device (and may be a captured
 * graph): ssm_optim_prepare counts the update and uploads its hyper-parameters (lr
 * factor, clipping at max_norm, <= 0: none); ssm_optim_apply launches the update, which
 * takes the gradient norm from st (device memory, kernels.h: ssm_step_stats) and skips
 * itself when st holds a non-finite loss or norm. prepare runs outside a capture, apply
 * may be captured. */
void ssm_optim_prepare(ssm_optim *o, double lr_factor, double max_norm);
void ssm_optim_apply(ssm_optim *o, const ssm_step_stats *st);

/* Global L2 norm of all gradients. */
double ssm_grad_norm(const ssm_params *ps);
/* Its square into st->gnorm_sq (device memory), with no host round trip. */
void ssm_grad_norm_sq_into(const ssm_params *ps, ssm_step_stats *st);
/* PyTorch clip_grad_norm_: coefficient min(1, max_norm / (norm + 1e-6)); 1 when max_norm <= 0. */
double ssm_clip_coef(double norm, double max_norm);
/* Scale the gradients in place by the clip coefficient; returns the pre-clip norm. */
double ssm_clip_grad_norm(ssm_params *ps, double max_norm);

typedef enum { SSM_SCHED_CONSTANT = 0, SSM_SCHED_COSINE = 1, SSM_SCHED_STEP = 2 } ssm_sched_kind;

typedef struct {
    ssm_sched_kind kind;
    int64_t warmup_steps; /* linear warm-up from 0 (all kinds) */
    int64_t total_steps;  /* cosine: decays to min_factor at total_steps */
    double min_factor;    /* cosine floor, as a fraction of the base lr */
    int64_t step_size;    /* step: multiply by gamma every step_size steps */
    double gamma;
} ssm_lr_schedule;

/* Multiplier of the base learning rate for update number `step` (0-based). */
double ssm_lr_factor(const ssm_lr_schedule *s, int64_t step);

#endif
