/* The training loop of ssmtrain: batches -> model -> loss -> backward ->
 * clipping -> AdamW with the LR schedule, periodic evaluation, checkpoints
 * (last.h5, best.h5), metrics.jsonl, progress on a terminal or plain log
 * lines, NaN/Inf detection. Resuming from last.h5 reproduces the
 * uninterrupted run bit for bit on the CPU. */
#ifndef SSM_TRAINER_H
#define SSM_TRAINER_H
#include <stdio.h>
#include "checkpoint.h"
#include "grad_buckets.h"
#include "metrics.h"
#include "model.h"
#include "optim.h"
#include "ssmconfig.h"
#include "tasks.h"
#include "train_step.h"

/* Exit statuses of ssmtrain (also in --help and docs/CONFIG.md); out of memory exits
 * with SSM_EXIT_OOM = 5 (log.h); an interrupt by signal s exits with 128 + s after saving
 * last.h5 (interrupt.h). */
enum { SSM_BENCH_WARMUP = 5 }; /* --bench: steps before the clock starts (graphs captured) */
enum { SSM_EXIT_DATA = 1, SSM_EXIT_CONFIG = 2, SSM_EXIT_NONFINITE = 3, SSM_EXIT_DIVERGED = 4 };

typedef struct {
    const ssm_config *cfg;
    char out_dir[512], ckpt_dir[600];
    ssm_task_data data;
    ssm_model *model;
    ssm_optim *opt;
    ssm_lr_schedule sched;
    ssm_ctx *ctx;
    ssm_stepper step;        /* the device-side step (CUDA graphs) */
    ssm_grad_sync gsync;     /* data parallel: the gradient all-reduce, in buckets */
    ssm_train_state st;
    ssm_metrics metrics;
    int64_t total_steps, steps_per_epoch;
    int tty;
    const char *config_path; /* for the resume hint; NULL: "CONFIG" */
    int write_outputs;       /* 0: a --profile run that writes nothing */
    int64_t profile_step;    /* time the ops of this run's step n (from 1) and print them; 0 = off */
    int profile_continue;    /* train on after the profiled step (else stop there) */
    int64_t bench_steps;     /* --bench: time this many steps after SSM_BENCH_WARMUP, then stop */
    int64_t ckpt_step;       /* set by ssm_trainer_resume: the loaded checkpoint's step */
    double eval_s;           /* seconds of the validations so far (for the ETA) */
    int64_t n_evals;
    int rank, world;         /* data parallel (lib/comm.h): rank 0 alone writes files */
} ssm_trainer;

/* Builds data, model and optimizer from the config (nothing is written yet).
 * SSM_OK, or the exit status with a message: SSM_EXIT_DATA when the data cannot be
 * read, SSM_EXIT_CONFIG when the config does not fit the data or the machine. */
int ssm_trainer_init(ssm_trainer *t, const ssm_config *cfg, const char *out_dir);
void ssm_trainer_free(ssm_trainer *t);
/* Load a checkpoint (model and, with_optim, optimizer and loop state). */
int ssm_trainer_resume(ssm_trainer *t, const char *ckpt, int with_optim);
/* Train up to the total step count; writes out_dir (config.ini, metrics.jsonl, the
 * checkpoints; the caller holds the folder, rundir.h). Returns 0, an exit code, or
 * 128 + signal after an interrupt (last.h5 saved). */
int ssm_trainer_run(ssm_trainer *t);
/* Epochs completed at the current data position (metrics, progress). */
double ssm_trainer_epoch(const ssm_trainer *t);
/* Loss and accuracy over d (evaluation mode, no gradients); logits (may be NULL;
 * classification, one rank): filled with the logits, [d->n, classes] in d's order. */
void ssm_trainer_evaluate(ssm_trainer *t, const ssm_dataset *d, double *loss, double *acc,
                          float *logits);

#endif
