/* Choosing the next token from a model's logits: greedy (temperature 0: the largest
 * logit, the lowest id among equals) or a draw from softmax(logits / temperature)
 * restricted to the top_k largest (0: all) and then to the smallest set of largest
 * probabilities whose sum reaches top_p (nucleus; 1: all), renormalised. Draw number
 * `counter` uses the Philox uniform of (seed, counter): a seed fixes every draw. */
#ifndef SSM_SAMPLE_H
#define SSM_SAMPLE_H
#include <stdint.h>

typedef struct {
    double temperature; /* 0: greedy */
    int64_t top_k;      /* 0: no limit */
    double top_p;       /* in (0, 1] */
    uint64_t seed;
} ssm_sample_opts;

/* SSM_ERR with a message for options out of range. */
int ssm_sample_check(const ssm_sample_opts *o);
/* An id in [0, n) from logits[0..n); work holds 2n doubles' worth of scratch. */
int32_t ssm_sample(const float *logits, int64_t n, const ssm_sample_opts *o, uint64_t counter,
                   void *work);
/* The probabilities the draw uses (0 outside the kept set), into p[0..n) (for tests). */
void ssm_sample_probs(const float *logits, int64_t n, const ssm_sample_opts *o, double *p,
                      void *work);

#endif
