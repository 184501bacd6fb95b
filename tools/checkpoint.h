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

/* The version written. Version 2 files start with a 512-byte header (an HDF5 user block)
 * holding the length and CRC-32 of the rest, verified before HDF5 parses the file;
 * version 1 files (no header) are still read, with a warning (docs/CHECKPOINT.md). */
#define SSM_CKPT_FORMAT_VERSION 2
#define SSM_CKPT_MAGIC "ssmtrain checkpoint\n" /* the header's first line */

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
    int format;           /* the file's format version (1: not whole-file verified) */
} ssm_ckpt_contents;
int ssm_ckpt_read_contents(const char *path, ssm_ckpt_contents *c);
void ssm_ckpt_contents_free(ssm_ckpt_contents *c);

/* The checks made before HDF5 opens a checkpoint (the loaders above make them): the
 * header, length and CRC-32 of a format 2 file, the HDF5 superblock of a format 1 file
 * (format may be NULL). SSM_ERR naming the file and what is wrong. */
int ssm_ckpt_verify(const char *path, int *format);
/* The stored config text of a verified checkpoint (malloc'd), or NULL with an error. */
char *ssm_ckpt_read_config(const char *path);
/* Write the header of the format 2 file at path for its current bytes (the writer's last
 * step; tests use it to reach the checks behind the CRC-32 after editing a checkpoint). */
int ssm_ckpt_seal(const char *path);

#endif
