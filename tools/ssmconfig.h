/* ssmtrain's configuration: one typed struct, filled from an INI file
 * (libinih) and `--set section.key=value` overrides.
 *
 * A single table of key descriptors (ssm_cfg_keys) drives parsing,
 * validation, defaults, serialisation back to INI and docs/CONFIG.md, so a
 * key is added in exactly one place: a field here and a row in ssmconfig.c.
 *
 * Errors are external input: functions return SSM_ERR with a message in
 * ssm_last_error() that names where the value came from ("FILE:LINE:" or
 * "--set ...:"), the key as section.key, and what was expected. */
#ifndef SSM_CONFIG_H
#define SSM_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "optim.h"  /* ssm_optim_kind, ssm_sched_kind */
#include "tensor.h" /* ssm_device */

/* Longest string value + 1. Bounded so that "key = value" fits libinih's
 * 200-byte line buffer and the serialised text parses back. */
#define SSM_CFG_STR_MAX 176

/* Enumerations: value = index of the name in the key's list of choices. */
typedef enum { SSM_CFG_TASK_CLASSIFICATION = 0, SSM_CFG_TASK_LM } ssm_cfg_model_task;
typedef enum { SSM_CFG_ENC_LINEAR = 0, SSM_CFG_ENC_EMBEDDING } ssm_cfg_encoder;
typedef enum { SSM_CFG_LAYER_S4 = 0, SSM_CFG_LAYER_S4D, SSM_CFG_LAYER_S5, SSM_CFG_LAYER_MAMBA } ssm_cfg_layer;
typedef enum { SSM_CFG_NORM_LAYER = 0, SSM_CFG_NORM_RMS, SSM_CFG_NORM_BATCH } ssm_cfg_norm;
typedef enum { SSM_CFG_POOL_MEAN = 0, SSM_CFG_POOL_LAST, SSM_CFG_POOL_NONE } ssm_cfg_pooling;
/* AUTO resolves to RETRIEVAL for data.task = retrieval, else LINEAR. */
typedef enum { SSM_CFG_DEC_AUTO = 0, SSM_CFG_DEC_LINEAR, SSM_CFG_DEC_RETRIEVAL } ssm_cfg_decoder;
typedef enum { SSM_CFG_TOK_CHAR = 0, SSM_CFG_TOK_BYTE } ssm_cfg_tokenizer;
typedef enum { SSM_CFG_RACT_RELU = 0, SSM_CFG_RACT_GELU } ssm_cfg_retrieval_act;
/* AUTO is resolved by ssm_config_resolve(), never seen after ssm_config_load(). */
typedef enum {
    SSM_CFG_INIT_AUTO = 0, SSM_CFG_INIT_LEGS, SSM_CFG_INIT_LIN, SSM_CFG_INIT_INV, SSM_CFG_INIT_REAL
} ssm_cfg_init;
typedef enum { SSM_CFG_DISC_AUTO = 0, SSM_CFG_DISC_ZOH, SSM_CFG_DISC_BILINEAR } ssm_cfg_disc;
/* S5's C_init; the order of layers/s5.h's ssm_s5_c_init. */
typedef enum {
    SSM_CFG_C_TRUNC_STANDARD = 0, SSM_CFG_C_LECUN, SSM_CFG_C_COMPLEX
} ssm_cfg_c_init;
/* Optimizer group of a configurable SSM parameter; the order of params.h's ssm_param_place. */
typedef enum {
    SSM_CFG_GROUP_SSM = 0, SSM_CFG_GROUP_SSM_DECAY, SSM_CFG_GROUP_NO_DECAY, SSM_CFG_GROUP_DEFAULT
} ssm_cfg_group;
typedef enum {
    SSM_CFG_ACT_GELU = 0, SSM_CFG_ACT_SILU, SSM_CFG_ACT_RELU, SSM_CFG_ACT_TANH, SSM_CFG_ACT_NONE
} ssm_cfg_act;
typedef enum {
    SSM_CFG_FINAL_GLU = 0, SSM_CFG_FINAL_LINEAR, SSM_CFG_FINAL_NONE, SSM_CFG_FINAL_HALF_GLU1,
    SSM_CFG_FINAL_HALF_GLU2
} ssm_cfg_final_act;
/* The data tasks; what each one is: ssm_cfg_task_info(). */
typedef enum {
    SSM_CFG_DATA_LISTOPS = 0,
    SSM_CFG_DATA_TEXT,
    SSM_CFG_DATA_RETRIEVAL,
    SSM_CFG_DATA_IMAGE,
    SSM_CFG_DATA_PATHFINDER,
    SSM_CFG_DATA_PATHX,
    SSM_CFG_DATA_MNIST,
    SSM_CFG_DATA_SELECTIVE_COPY,
    SSM_CFG_DATA_INDUCTION,
    SSM_CFG_DATA_RECALL,
    SSM_CFG_DATA_LM_BYTES,
    SSM_CFG_DATA_NTASKS
} ssm_cfg_data_task;
typedef enum { SSM_CFG_METRIC_VAL_ACC = 0, SSM_CFG_METRIC_VAL_LOSS } ssm_cfg_metric;
/* train.precision: the values of ssm_gemm_precision (kernels.h) */
typedef enum { SSM_CFG_PREC_FP32 = 0, SSM_CFG_PREC_TF32, SSM_CFG_PREC_BF16 } ssm_cfg_precision;
typedef enum { SSM_CFG_GRAPH_AUTO = 0, SSM_CFG_GRAPH_ON, SSM_CFG_GRAPH_OFF } ssm_cfg_graph;
/* Pixel orders of image tasks (data.permute) and Pathfinder's difficulty folders. */
typedef enum { SSM_CFG_PERMUTE_NONE = 0, SSM_CFG_PERMUTE_BITREVERSAL, SSM_CFG_PERMUTE_RANDOM } ssm_cfg_permute;
typedef enum {
    SSM_CFG_PF_BASELINE = 0, SSM_CFG_PF_LENGTH_9, SSM_CFG_PF_LENGTH_14
} ssm_cfg_pf_difficulty;

typedef struct {
    ssm_cfg_model_task task;
    ssm_cfg_encoder encoder;
    int64_t d_input;   /* linear: features per step; embedding: vocabulary; 0 = from data */
    int64_t n_classes; /* 0 = from data */
    int64_t d_model, n_layers;
    ssm_cfg_layer layer;
    ssm_cfg_norm norm;
    double bn_momentum; /* PyTorch convention: running = (1 - m) running + m batch */
    bool prenorm;
    double dropout;
    bool tie_dropout; /* one mask per (sequence, channel), shared along L */
    ssm_cfg_pooling pooling;
    ssm_cfg_decoder decoder;
    ssm_cfg_retrieval_act retrieval_act;
    bool residual, tie_embeddings;
} ssm_cfg_model_section;

typedef struct {
    int64_t d_state; /* 0 = auto until resolved */
    double dt_min, dt_max;
    ssm_cfg_init init;
    ssm_cfg_disc discretization;
    bool bidirectional;
    int64_t expand, d_conv, dt_rank; /* Mamba; dt_rank 0 = auto until resolved */
    int64_t blocks;                  /* S5 */
    double lr, weight_decay;         /* of the SSM parameters (A, B, dt) */
    ssm_cfg_group dt_group, b_group; /* where dt and B train (s4, s4d, s5) */
    ssm_cfg_c_init c_init;           /* s5 */
    bool clip_eigs;                  /* s5 */
    ssm_cfg_act activation;
    ssm_cfg_final_act final_act;
} ssm_cfg_layer_section;

typedef struct {
    ssm_cfg_data_task task;
    char path[SSM_CFG_STR_MAX];
    int64_t seq_len; /* 0 = the task's standard length until resolved */
    int64_t n_train, n_val, n_test;
    double val_fraction;
    int64_t vocab;   /* generated token tasks, specials included; 0 = default until resolved */
    int64_t n_copy;                      /* selective_copy */
    int64_t max_depth, max_args, min_len; /* listops generator */
    int64_t pad_multiple;                /* batch lengths rounded up to a multiple */
    bool append_eos;                      /* listops: <eos> ends every expression (S4, S5) */
    bool grayscale;                       /* image: LRA Image (true) or sCIFAR (false) */
    ssm_cfg_permute permute;              /* mnist, image */
    int64_t permute_seed;                 /* permute = random */
    ssm_cfg_pf_difficulty difficulty;     /* pathfinder, pathx */
    ssm_cfg_tokenizer tokenizer;         /* text, retrieval */
    int64_t min_freq;                    /* text, retrieval (char); 0 = default until resolved */
} ssm_cfg_data_section;

typedef struct {
    ssm_optim_kind optimizer;
    double lr;
    double betas[2];
    double eps, weight_decay, momentum;
    bool nesterov;
    ssm_sched_kind schedule;
    int64_t warmup_steps;
    int64_t decay_steps; /* cosine: steps to decay over; 0 = the run's total */
    double min_lr_ratio;
    int64_t step_size;
    double gamma, grad_clip;
} ssm_cfg_optim_section;

typedef struct {
    int64_t seed, batch_size, epochs, max_steps, eval_every, log_every, threads;
    int64_t check_replicas_every; /* data parallel: compare parameter checksums */
    double allreduce_bucket_mb;   /* data parallel: gradient buckets (0: one all-reduce) */
    ssm_device device;
    ssm_cfg_precision precision;
    ssm_cfg_graph cuda_graph;
    bool tf32; /* the old spelling of precision = tf32, folded into precision on load */
} ssm_cfg_train_section;

typedef struct {
    char dir[SSM_CFG_STR_MAX];
    int64_t save_every;
    bool keep_best;
    ssm_cfg_metric metric;
} ssm_cfg_checkpoint_section;

typedef struct ssm_config {
    ssm_cfg_model_section model;
    ssm_cfg_layer_section layer;
    ssm_cfg_data_section data;
    ssm_cfg_optim_section optim;
    ssm_cfg_train_section train;
    ssm_cfg_checkpoint_section checkpoint;
} ssm_config;

/* ---- the key table ---- */
typedef enum {
    SSM_CFG_INT = 0, /* int64_t */
    SSM_CFG_REAL,    /* double */
    SSM_CFG_REAL2,   /* double[2], written "a, b" */
    SSM_CFG_BOOL,    /* bool: true/false, yes/no, on/off, 1/0 */
    SSM_CFG_ENUM,    /* an enum field, one of `choices` */
    SSM_CFG_STR      /* char[SSM_CFG_STR_MAX] */
} ssm_cfg_type;

/* Bounds of INT/REAL/REAL2 values; open bounds exclude the end point. */
enum { SSM_CFG_MIN_OPEN = 1, SSM_CFG_MAX_OPEN = 2 };

typedef struct {
    const char *name, *doc;
} ssm_cfg_choice;

typedef struct {
    const char *section, *key;
    ssm_cfg_type type;
    size_t offset;                 /* of the field in ssm_config */
    const char *def;               /* default, as INI text */
    double min, max;               /* INT, REAL, REAL2 */
    int bounds;                    /* SSM_CFG_MIN_OPEN | SSM_CFG_MAX_OPEN */
    const ssm_cfg_choice *choices; /* ENUM: terminated by {NULL} */
    const char *doc;
} ssm_cfg_key;

extern const ssm_cfg_key ssm_cfg_keys[];
extern const size_t ssm_cfg_nkeys;
/* Section names in file order; `n` gets their count. */
const char *const *ssm_cfg_sections(size_t *n);
/* Descriptor of section.key, or NULL. */
const ssm_cfg_key *ssm_cfg_find(const char *section, const char *key);

/* What each data task is (one table in config.c, indexed by ssm_cfg_data_task). */
typedef struct {
    bool generated;               /* can be generated (data.path empty) */
    bool files;                   /* can be read from data.path */
    ssm_cfg_model_task model_task; /* the model.task it needs */
    int64_t seq_len;              /* standard length (data.seq_len = 0) */
    int64_t vocab;                /* generated token tasks: default data.vocab; else 0 */
} ssm_cfg_data_task_info;
const ssm_cfg_data_task_info *ssm_cfg_task_info(ssm_cfg_data_task t);

/* ---- use ---- */

/* Every key at its default (automatic values unresolved). */
void ssm_config_defaults(ssm_config *c);

/* The whole job: defaults, then the INI file `path`, then each "section.key=value"
 * of sets[0..n_sets) in order (later wins), then the cross-key checks, then
 * ssm_config_resolve(). c is untouched on error. */
int ssm_config_load(ssm_config *c, const char *path, const char *const *sets, size_t n_sets);
/* Same from INI text in memory (a checkpoint's stored config); `name` stands
 * for the file in messages. */
int ssm_config_load_string(ssm_config *c, const char *text, const char *name,
                           const char *const *sets, size_t n_sets);
/* Both in one: parses `text` when non-NULL (then `path` only names it), else
 * reads the file `path`; `origins[i]` names sets[i] in messages instead of
 * "--set" (e.g. "--device" for an option the CLI maps to a key); origins may
 * be NULL. */
int ssm_config_load_ex(ssm_config *c, const char *path, const char *text,
                       const char *const *sets, const char *const *origins, size_t n_sets);

/* Cross-key rules (dt_min <= dt_max, model.task vs data.task, ...) on a
 * filled struct, e.g. after the trainer set d_input from the data. */
int ssm_config_check(const ssm_config *c);
/* Replace automatic values that depend only on the config (init, discretization,
 * d_state, dt_rank, decoder, seq_len, vocab, min_freq) by what they stand for. Idempotent.
 * d_input and n_classes (0 = from data) are left to the trainer. */
void ssm_config_resolve(ssm_config *c);

/* INI text of every key (the resolved config the trainer writes as
 * DIR/config.ini and stores in checkpoints). Loading it gives an equal
 * struct. ssm_config_to_ini returns malloc'd text: free() it. */
int ssm_config_write(const ssm_config *c, FILE *f);
char *ssm_config_to_ini(const ssm_config *c);
/* One key's value as INI text ("section.key"); SSM_ERR for an unknown key. */
int ssm_config_get(const ssm_config *c, const char *name, char *buf, size_t n);

/* NULL when every key is equal, else the first differing key's descriptor. */
const ssm_cfg_key *ssm_config_diff(const ssm_config *a, const ssm_config *b);

/* docs/CONFIG.md, generated from the table. */
void ssm_config_markdown(FILE *f);

#endif
