/* Checkpoints: one HDF5 file (layout in docs/CHECKPOINT.md) holding the
 * parameters under their official names, BatchNorm buffers, the optimizer
 * moments, and everything needed to resume bit for bit: step, epoch, data
 * position, RNG state, the resolved config text. Written to <path>.tmp,
 * fsync'd and renamed, so a crash never leaves a broken checkpoint. */
#ifndef SSM_CHECKPOINT_H
#define SSM_CHECKPOINT_H
#include <stdint.h>
#include "model.h"
#include "optim.h"

#define SSM_CKPT_FORMAT_VERSION 1

typedef struct {
    int64_t step;        /* optimizer updates done */
    int64_t epoch;       /* data epoch in progress */
    int64_t data_index;  /* next example position within the epoch order */
    uint64_t seed;       /* run seed */
    uint64_t rng_offset; /* next Philox counter of the training context (dropout) */
    double best_metric;  /* best validation metric so far */
    char config[16384];  /* resolved config text */
} ssm_train_state;

int ssm_ckpt_save(const char *path, const ssm_model *m, const ssm_optim *o,
                  const ssm_train_state *st);
/* Validates everything (format, layer type, every name, shape) before changing m and o;
 * o may be NULL (evaluation only). On error nothing is modified. */
int ssm_ckpt_load(const char *path, ssm_model *m, ssm_optim *o, ssm_train_state *st);

/* What a checkpoint holds, without a model to load it into (export, ssminfo, ssmgen): the
 * layer type, the resolved config text, the step, and the tensors as f32 CPU tensors: the
 * parameters in registration order (the first n_params), then the buffers in name order,
 * with the dtype each is stored in. Every checksum is verified, the optimizer moments'
 * too (n_verified counts the datasets); SSM_ERR naming the file and what is wrong. */
typedef struct {
    char layer[16];
    char library_version[32];
    char *config;
    int64_t step;
    int n, n_params;
    char **names;
    ssm_tensor **values;
    char (*dtypes)[8];    /* as stored: "F32" (training) or "F64" */
    int has_moments;      /* /optim present (saved with an optimizer) */
    int n_verified;       /* datasets whose checksum was checked */
} ssm_ckpt_contents;
int ssm_ckpt_read_contents(const char *path, ssm_ckpt_contents *c);
void ssm_ckpt_contents_free(ssm_ckpt_contents *c);

#endif
