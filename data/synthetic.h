/* Synthetic tasks of the Mamba paper (Gu & Dao 2023, sec. 3.1 and 4.1), made
 * on the fly: example i is a pure function of (params, seed, i), so a trainer
 * can draw fresh data every epoch (first = epoch * n) without storing it.
 *
 * Targets are aligned with inputs: targets[t] is what the model must emit at
 * position t having read inputs[0..t] (no shift), SSM_IGNORE_INDEX elsewhere.
 *
 * Selective copying (paper: vocab 16, seq_len 4096, 16 tokens to copy):
 *   ids 0 pad (unused: all sequences have seq_len), 1 blank (noise), 2 marker,
 *   3..vocab_size-1 data. Positions [0, seq_len - n_copy) are blanks except
 *   n_copy data tokens (uniform, with repetition) at distinct uniform positions;
 *   the last n_copy positions are markers, and at the j-th marker the target is
 *   the j-th data token in order of position.
 * Induction heads (paper: vocab 16, train seq_len 256):
 *   ids 0 pad, 1 trigger, 2..vocab_size-1 data. All positions hold uniform data
 *   tokens except the trigger at a uniform position p in [0, seq_len - 3] and
 *   at seq_len - 1; the only target, at seq_len - 1, is the token at p + 1.
 * Recall (the copy-memory problem of Arjovsky et al. 2016 as classification; the
 *   quickstart task): ids 0 pad, 1..K the K = (vocab_size - 1) / 2 class tokens,
 *   K+1..vocab_size-1 noise tokens. The first token is a uniform class token, the
 *   other seq_len - 1 are uniform noise; the label is the first token (class =
 *   id - 1). Read at the last position, the model must carry it across seq_len - 1
 *   steps. Chance level 1 / K. Classification: a label, no targets. */
#ifndef SSM_SYNTHETIC_H
#define SSM_SYNTHETIC_H
#include <stdint.h>
#include "dataset.h"

typedef enum {
    SSM_SYNTH_SELECTIVE_COPY = 1,
    SSM_SYNTH_INDUCTION = 2,
    SSM_SYNTH_RECALL = 3
} ssm_synth_task;

enum { SSM_SC_PAD = 0, SSM_SC_BLANK = 1, SSM_SC_MARKER = 2, SSM_SC_DATA0 = 3 };
enum { SSM_IH_PAD = 0, SSM_IH_TRIGGER = 1, SSM_IH_DATA0 = 2 };
enum { SSM_RC_PAD = 0, SSM_RC_DATA0 = 1 };

typedef struct ssm_synth_params {
    ssm_synth_task task;
    int64_t vocab_size; /* all ids, special ones included */
    int64_t seq_len;    /* input length, markers included */
    int64_t n_copy;     /* selective copying: data tokens to copy (unused by induction) */
} ssm_synth_params;

/* The paper's settings for a task. */
ssm_synth_params ssm_synth_defaults(ssm_synth_task task);
/* SSM_ERR naming the parameter when p cannot make an example (from a config). */
int ssm_synth_validate(const ssm_synth_params *p);
/* Example i (i < 2^32) into tokens[seq_len] and targets[seq_len] (recall: all ignored,
 * the label is tokens[0] - SSM_RC_DATA0); p must validate. */
void ssm_synth_example(const ssm_synth_params *p, uint64_t seed, int64_t i, int32_t *tokens,
                       int32_t *targets);
/* Examples first..first+n-1 as a dataset with per-position targets (recall: labels). */
int ssm_synth_dataset(const ssm_synth_params *p, uint64_t seed, int64_t first, int64_t n,
                      ssm_dataset **out);

#endif
