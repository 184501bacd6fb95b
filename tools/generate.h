/* Generation with a language model: the prompt fed one token at a time through the
 * model's step mode (ssm_model_step: constant memory per token), then n_new tokens each
 * sampled (sample.h) from the last logits and fed back. Also the parallel forward's
 * logits, the reference the step mode is checked against and what --dump-logits writes. */
#ifndef SSM_GENERATE_H
#define SSM_GENERATE_H
#include "model.h"
#include "sample.h"

/* Ids a model can emit: the vocabulary before padding (Mamba LM) or d_output. */
int64_t ssm_model_vocab(const ssm_model *m);

typedef struct {
    int64_t steps;  /* tokens fed through the step mode: the prompt's and all new but the last */
    double seconds; /* their wall time, sampling included */
} ssm_gen_stats;

/* out[0..n_new) gets the new ids (prompt ids must lie in [0, d_input)); SSM_ERR when the
 * model has no step mode or an id is out of range. */
int ssm_generate(ssm_model *m, const int32_t *prompt, int64_t n_prompt, int64_t n_new,
                 const ssm_sample_opts *o, int32_t *out, ssm_gen_stats *stats);

/* logits [n, d_output] (row t: after ids[0..t]) of the parallel forward, malloc'd */
float *ssm_parallel_logits(ssm_model *m, const int32_t *ids, int64_t n);

#endif
