/* In-memory datasets and the seeded, resumable loader that cuts them into batches.
 *
 * An example is n_seq sequences (1; 2 for LRA Retrieval's document pairs) and,
 * for classification, one label. A sequence is `len` positions of `channels`
 * int32 values each: token ids for text/ListOps (channels 1), raw pixel bytes
 * for image tasks (channels 1 or 3; the dataset says how a linear encoder turns
 * them into features, see feat_scale). Language-model
 * style tasks carry per-position targets instead, SSM_IGNORE_INDEX where no loss
 * applies. All sequences live in one flat array with offsets, so a dataset of a
 * million examples is three allocations. */
#ifndef SSM_DATASET_H
#define SSM_DATASET_H
#include <stdint.h>
#include "tensor.h"

/* The target value that carries no loss (PyTorch's cross_entropy default). */
#define SSM_IGNORE_INDEX (-100)
/* Channels that can carry their own feature normalisation (RGB needs 3). */
#define SSM_FEAT_MAX_CHANNELS 4

typedef struct ssm_dataset_spec {
    const char *name;   /* "listops", "selective_copy", ... (copied, 31 chars max) */
    int n_seq;          /* sequences per example; 0 means 1 */
    int channels;       /* int32 values per position; 0 means 1 */
    int has_labels;     /* one class label per example */
    int has_targets;    /* per-position targets */
    int64_t vocab_size; /* ids lie in [0, vocab_size) */
    int64_t n_classes;  /* labels lie in [0, n_classes) */
    int64_t max_len;    /* longest sequence allowed; 0: no limit */
    int32_t pad_id;
} ssm_dataset_spec;

typedef struct ssm_dataset {
    char name[32];
    int n_seq, channels, has_labels, has_targets;
    int64_t vocab_size, n_classes, max_len;
    int32_t pad_id;
    int64_t n;         /* complete examples */
    int64_t longest;   /* longest sequence stored */
    /* Sequence j (example j / n_seq, part j % n_seq) holds positions off[j]..off[j+1]. */
    int64_t *off;      /* [n*n_seq + 1] */
    int32_t *tokens;   /* [off[end] * channels] */
    int32_t *targets;  /* [off[end]] when has_targets */
    int32_t *labels;   /* [n] when has_labels */
    int64_t n_seqs, cap_seqs, cap_pos, cap_ex; /* storage bookkeeping */
    /* Features for a linear encoder: value v of channel c becomes
     * (v * feat_scale - feat_mean[c]) / feat_std[c], e.g. torchvision's ToTensor then
     * Normalize(mean, std) for CIFAR. feat_scale 0 (the default) means v / (vocab_size - 1)
     * with no centring: pixels in [0, 1], as ToTensor alone (S4's MNIST, Pathfinder). */
    double feat_scale, feat_mean[SSM_FEAT_MAX_CHANNELS], feat_std[SSM_FEAT_MAX_CHANNELS];
} ssm_dataset;

ssm_dataset *ssm_dataset_new(const ssm_dataset_spec *spec);
void ssm_dataset_free(ssm_dataset *d);
/* Append one sequence of the example being built (targets NULL unless has_targets).
 * Ids, targets and length are checked against the spec: a violation is a bug in
 * the reader or generator (readers validate external input first), so it aborts. */
void ssm_dataset_add_seq(ssm_dataset *d, const int32_t *tokens, int64_t len,
                         const int32_t *targets);
/* Close the example after its n_seq sequences (label ignored unless has_labels). */
void ssm_dataset_end_example(ssm_dataset *d, int32_t label);
/* Both at once, for n_seq == 1. */
void ssm_dataset_add(ssm_dataset *d, const int32_t *tokens, int64_t len, const int32_t *targets,
                     int32_t label);
/* Sequence `part` of example i: its tokens (len*channels values), length, targets. */
const int32_t *ssm_dataset_seq(const ssm_dataset *d, int64_t i, int part, int64_t *len);
const int32_t *ssm_dataset_seq_targets(const ssm_dataset *d, int64_t i, int part);

/* Set the feature normalisation: scale > 0, mean[c] and std[c] > 0 for each channel. */
void ssm_dataset_set_features(ssm_dataset *d, double scale, const double *mean, const double *std);
/* Features of n values laid out channels-last (a batch's [R, L, C] tokens). */
void ssm_dataset_features(const ssm_dataset *d, const int32_t *vals, int64_t n, float *out);

/* Replace every token id t by map[t] (t < n_map), e.g. to adopt another code's vocabulary
 * order; the dataset's vocab_size becomes vocab_size. Token datasets (channels 1). */
void ssm_dataset_remap(ssm_dataset *d, const int32_t *map, int64_t n_map, int64_t vocab_size);

/* A sequential Philox stream for generators: draw k uses counter (k, domain),
 * so streams of different purposes never share draws under one seed. */
typedef struct {
    uint64_t seed, ctr;
    uint32_t domain, hi;
} ssm_stream;
enum { SSM_DOMAIN_SHUFFLE = 0x53485546u, SSM_DOMAIN_LISTOPS = 0x4c4f5053u,
       SSM_DOMAIN_SYNTH = 0x53594e54u };
ssm_stream ssm_stream_make(uint64_t seed, uint32_t domain, uint32_t hi);
uint64_t ssm_stream_u64(ssm_stream *s);
/* Uniform in [0, n), n > 0 (modulo of 64 bits: bias < n / 2^64). */
uint64_t ssm_stream_below(ssm_stream *s, uint64_t n);
/* Uniform in [0, 1) with 53 bits. */
double ssm_stream_uniform(ssm_stream *s);

/* ---- batching ---- */

typedef struct ssm_loader_opts {
    int64_t batch_size;
    uint64_t seed;
    int shuffle;       /* 0: dataset order (evaluation) */
    int drop_last;     /* drop the last partial batch of each epoch */
    int64_t fixed_len; /* 0: pad to the longest in the batch; > 0: pad to this length */
    int64_t pad_multiple; /* fixed_len 0, > 1: round the batch's longest up to a multiple of
                           * this, at most the data set's longest (shapes that repeat) */
    /* Data parallel: of every batch of take examples (the same on every rank), rank r of
     * world K gets positions [take*r/K, take*(r+1)/K) of its example list, so which
     * examples make a step does not depend on K. world 0 or 1: the whole batch. */
    int rank, world;
} ssm_loader_opts;

/* One batch, on the CPU (the trainer copies it to the device). B examples give
 * R = B*n_seq rows, example b's part s being row b*n_seq + s. */
typedef struct ssm_batch {
    int64_t size;         /* B */
    ssm_tensor *tokens;   /* i32 [R, L] (channels 1) or [R, L, C], pad_id past each length */
    ssm_tensor *lengths;  /* i32 [R] */
    ssm_tensor *labels;   /* i32 [B], or NULL */
    ssm_tensor *targets;  /* i32 [R, L] with SSM_IGNORE_INDEX at padding, or NULL */
    int64_t *index;       /* [B] dataset indices of the examples */
    int owns_index;       /* index was malloc'ed (no arena) */
} ssm_batch;

/* Batch of the examples idx[0..B): tensors from arena a (persistent when NULL).
 * fixed_len 0 pads to the longest, rounded up to a multiple of pad_multiple (<= 1: none)
 * but not past the data set's longest; a longer sequence than fixed_len aborts. */
void ssm_batch_make(const ssm_dataset *d, const int64_t *idx, int64_t B, int64_t fixed_len,
                    int64_t pad_multiple, struct ssm_arena *a, ssm_batch *b);
/* Call for every batch: frees what did not come from an arena. */
void ssm_batch_free(ssm_batch *b);

/* The order of epoch e is a pure function of (seed, e, n): Fisher-Yates driven
 * by Philox with counter (i, e), so any epoch can be recomputed on resume. */
void ssm_shuffle_order(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);

/* The whole loader state is (epoch, index): the next batch starts at position
 * `index` of epoch `epoch`'s order. A checkpoint stores both; ssm_loader_seek
 * restores them exactly. */
typedef struct ssm_loader {
    const ssm_dataset *ds;
    ssm_loader_opts opts;
    int64_t epoch, index;
    int64_t *order;      /* order of order_epoch (cache) */
    int64_t order_epoch;
} ssm_loader;

ssm_loader *ssm_loader_new(const ssm_dataset *d, const ssm_loader_opts *o);
void ssm_loader_free(ssm_loader *l);
void ssm_loader_seek(ssm_loader *l, int64_t epoch, int64_t index);
int64_t ssm_loader_batches_per_epoch(const ssm_loader *l);
/* Fills b and returns 1, or returns 0 at the end of the epoch, having moved the
 * state to (epoch + 1, 0): `while (ssm_loader_next(l, a, &b)) {...}` is one epoch.
 * (epoch, index) advance by the whole batch on every rank; a rank whose slice is empty
 * (a batch of fewer examples than ranks) gets b->size == 0 and no tensors. */
int ssm_loader_next(ssm_loader *l, struct ssm_arena *a, ssm_batch *b);

#endif
