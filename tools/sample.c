#include "sample.h"
#include <math.h>
#include <stdlib.h>
#include "log.h"
#include "philox.h"

int ssm_sample_check(const ssm_sample_opts *o) {
    if (!(o->temperature >= 0) || !isfinite(o->temperature))
        return ssm_error("--temperature %g: must be a finite number >= 0", o->temperature);
    if (o->top_k < 0) return ssm_error("--top-k %lld: must be >= 0 (0: no limit)", (long long)o->top_k);
    if (!(o->top_p > 0 && o->top_p <= 1)) return ssm_error("--top-p %g: must be in (0, 1]", o->top_p);
    return SSM_OK;
}

typedef struct {
    double p;
    int64_t id;
} cand;

/* by probability, descending; the lower id first among equals (a deterministic order) */
static int by_prob(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static int64_t argmax(const float *l, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (l[i] > l[best]) best = i;
    return best;
}

/* the kept candidates, sorted, renormalised; returns how many */
static int64_t kept(const float *l, int64_t n, const ssm_sample_opts *o, cand *c) {
    double mx = l[argmax(l, n)], sum = 0;
    for (int64_t i = 0; i < n; i++) {
        c[i] = (cand){exp(((double)l[i] - mx) / o->temperature), i};
        sum += c[i].p;
    }
    qsort(c, (size_t)n, sizeof *c, by_prob);
    int64_t k = o->top_k > 0 && o->top_k < n ? o->top_k : n;
    double mass = 0, total = 0;
    for (int64_t i = 0; i < k; i++) total += c[i].p / sum;
    int64_t m = 0;
    while (m < k && (m == 0 || mass < o->top_p * total)) mass += c[m++].p / sum;
    for (int64_t i = 0; i < m; i++) c[i].p = c[i].p / sum / mass;
    return m;
}

void ssm_sample_probs(const float *logits, int64_t n, const ssm_sample_opts *o, double *p,
                      void *work) {
    for (int64_t i = 0; i < n; i++) p[i] = 0;
    if (o->temperature == 0) {
        p[argmax(logits, n)] = 1;
        return;
    }
    cand *c = work;
    int64_t m = kept(logits, n, o, c);
    for (int64_t i = 0; i < m; i++) p[c[i].id] = c[i].p;
}

int32_t ssm_sample(const float *logits, int64_t n, const ssm_sample_opts *o, uint64_t counter,
                   void *work) {
    if (o->temperature == 0) return (int32_t)argmax(logits, n);
    cand *c = work;
    int64_t m = kept(logits, n, o, c);
    double u = ssm_philox_uniform(o->seed, counter), acc = 0;
    for (int64_t i = 0; i < m; i++)
        if (u < (acc += c[i].p)) return (int32_t)c[i].id;
    return (int32_t)c[m - 1].id; /* u within rounding of 1 */
}
