/* One training step that stays on the device: forward, loss and its statistics,
 * backward, the gradient norm and the optimizer update, with no host round trip until
 * the statistics are read. On CUDA the step is captured as a CUDA graph once per
 * batch shape and replayed: one launch per step instead of hundreds (DESIGN.md: the
 * trainer decides when; the backend captures). Replays give results bit-identical to
 * eager steps (tests/test_cuda.c). */
#ifndef SSM_TRAIN_STEP_H
#define SSM_TRAIN_STEP_H
#include <stdint.h>
#include "model.h"
#include "optim.h"

/* A batch on the model's device (the trainer uploads it into the step's arena). */
typedef struct {
    ssm_tensor *tokens, *pool_w, *target; /* pool_w NULL for per-position targets */
    int64_t n_tokens;
} ssm_dev_batch;

/* batch shapes with a graph at once: train, the last partial batch, and the lengths
 * data.pad_multiple rounds LRA batches to (ListOps at 256: 7) */
enum { SSM_STEP_GRAPHS = 16 };

typedef struct {
    int64_t key[8];         /* the batch's shapes */
    void *exec;             /* the executable graph; NULL: shape seen once, not captured */
    void *ptr[3];           /* the batch tensors' addresses when captured */
    uint64_t arena_allocs;  /* the arena's system allocations when captured (its layout) */
    uint64_t rng_at, draws; /* dropout counters: offset at capture, draws per step */
    uint64_t epoch;         /* the backend's graph_epoch after this shape's eager step */
    uint64_t used;          /* last use, for eviction */
} ssm_step_graph;

typedef struct {
    ssm_model *model;
    ssm_optim *opt;
    ssm_ctx *ctx;
    ssm_step_stats *stats; /* device memory: the step's statistics */
    int graphs;            /* capture and replay (CUDA, one process) */
    ssm_step_graph g[SSM_STEP_GRAPHS];
    uint64_t clock;
    int64_t captured, replayed, eager; /* steps of each kind so far */
} ssm_stepper;

/* graphs: 1 to use CUDA graphs (the model must be on a device whose table has them). */
void ssm_stepper_init(ssm_stepper *s, ssm_model *m, ssm_optim *o, ssm_ctx *c, int graphs);
void ssm_stepper_free(ssm_stepper *s);
/* One step on b: gradients of the mean loss over b's counted targets, the optimizer
 * update (its hyper-parameters uploaded before: ssm_optim_prepare) skipped when the
 * loss or gradient norm is not finite. `sync_grads`, when not NULL, runs between the
 * backward and the gradient norm (data parallel: the all-reduce; no graph then).
 * Eager the first time a shape is seen, captured the second time, replayed after.
 * b NULL: no forward or backward (zero gradients: a data-parallel rank whose slice of
 * the batch is empty). */
void ssm_stepper_step(ssm_stepper *s, const ssm_dev_batch *b, void (*sync_grads)(void *),
                      void *arg);
/* The statistics of the last step (or of forward passes since ssm_stepper_zero_stats:
 * evaluation), read from the device. */
ssm_step_stats ssm_stepper_read(const ssm_stepper *s);
/* Evaluation: forward only, statistics accumulated over calls (zero them first). */
void ssm_stepper_zero_stats(ssm_stepper *s);
/* Returns the logits (valid until the context is reset). */
ssm_tensor *ssm_stepper_eval(ssm_stepper *s, const ssm_dev_batch *b);

#endif
