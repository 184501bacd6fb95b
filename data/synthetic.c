/* Selective copying, induction heads and recall (layouts in synthetic.h). */
#include "synthetic.h"
#include <stdlib.h>
#include "log.h"

ssm_synth_params ssm_synth_defaults(ssm_synth_task task) {
    ssm_synth_params p = {task, 16, task == SSM_SYNTH_SELECTIVE_COPY ? 4096 : 256,
                          task == SSM_SYNTH_SELECTIVE_COPY ? 16 : 0};
    if (task == SSM_SYNTH_RECALL) p.vocab_size = 17; /* 8 classes, 8 noise tokens */
    return p;
}

int ssm_synth_validate(const ssm_synth_params *p) {
    switch (p->task) {
    case SSM_SYNTH_SELECTIVE_COPY:
        if (p->vocab_size < SSM_SC_DATA0 + 1)
            return ssm_error("selective copying: vocab_size %lld, need >= %d (pad, blank, "
                             "marker, one data token)", (long long)p->vocab_size, SSM_SC_DATA0 + 1);
        if (p->n_copy < 1 || p->seq_len < 2 * p->n_copy)
            return ssm_error("selective copying: need n_copy >= 1 and seq_len >= 2 * n_copy "
                             "(got n_copy %lld, seq_len %lld)", (long long)p->n_copy,
                             (long long)p->seq_len);
        return SSM_OK;
    case SSM_SYNTH_INDUCTION:
        if (p->vocab_size < SSM_IH_DATA0 + 1)
            return ssm_error("induction heads: vocab_size %lld, need >= %d (pad, trigger, one "
                             "data token)", (long long)p->vocab_size, SSM_IH_DATA0 + 1);
        if (p->seq_len < 3)
            return ssm_error("induction heads: seq_len %lld, need >= 3", (long long)p->seq_len);
        return SSM_OK;
    case SSM_SYNTH_RECALL:
        if (p->vocab_size < SSM_RC_DATA0 + 4)
            return ssm_error("recall: vocab_size %lld, need >= %d (pad, two classes, two noise "
                             "tokens)", (long long)p->vocab_size, SSM_RC_DATA0 + 4);
        if (p->seq_len < 1)
            return ssm_error("recall: seq_len %lld, need >= 1", (long long)p->seq_len);
        return SSM_OK;
    }
    return ssm_error("synthetic task: unknown task %d", (int)p->task);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void selective_copy(const ssm_synth_params *p, ssm_stream *s, int32_t *tok, int32_t *tgt) {
    int64_t L = p->seq_len, k = p->n_copy, M = L - k, ndata = p->vocab_size - SSM_SC_DATA0;
    int64_t *pos = malloc((size_t)k * sizeof *pos);
    SSM_CHECK(pos, "selective_copy: out of memory");
    /* Floyd's sampling: k distinct positions of [0, M) with k draws. */
    for (int64_t j = M - k, c = 0; j < M; j++, c++) {
        int64_t t = (int64_t)ssm_stream_below(s, (uint64_t)j + 1), dup = 0;
        for (int64_t q = 0; q < c && !dup; q++) dup = pos[q] == t;
        pos[c] = dup ? j : t;
    }
    qsort(pos, (size_t)k, sizeof *pos, cmp_i64);
    for (int64_t t = 0; t < L; t++) {
        tok[t] = t < M ? SSM_SC_BLANK : SSM_SC_MARKER;
        tgt[t] = SSM_IGNORE_INDEX;
    }
    for (int64_t j = 0; j < k; j++) {
        int32_t v = SSM_SC_DATA0 + (int32_t)ssm_stream_below(s, (uint64_t)ndata);
        tok[pos[j]] = v;
        tgt[M + j] = v;
    }
    free(pos);
}

static void induction(const ssm_synth_params *p, ssm_stream *s, int32_t *tok, int32_t *tgt) {
    int64_t L = p->seq_len, ndata = p->vocab_size - SSM_IH_DATA0;
    for (int64_t t = 0; t < L; t++) {
        tok[t] = SSM_IH_DATA0 + (int32_t)ssm_stream_below(s, (uint64_t)ndata);
        tgt[t] = SSM_IGNORE_INDEX;
    }
    int64_t at = (int64_t)ssm_stream_below(s, (uint64_t)L - 2); /* p + 1 <= L - 2 */
    tok[at] = SSM_IH_TRIGGER;
    tok[L - 1] = SSM_IH_TRIGGER;
    tgt[L - 1] = tok[at + 1];
}

static int64_t recall_classes(const ssm_synth_params *p) { return (p->vocab_size - 1) / 2; }

static void recall(const ssm_synth_params *p, ssm_stream *s, int32_t *tok, int32_t *tgt) {
    int64_t K = recall_classes(p), noise = p->vocab_size - SSM_RC_DATA0 - K;
    for (int64_t t = 0; t < p->seq_len; t++) {
        tok[t] = t == 0 ? SSM_RC_DATA0 + (int32_t)ssm_stream_below(s, (uint64_t)K)
                        : SSM_RC_DATA0 + (int32_t)(K + (int64_t)ssm_stream_below(s, (uint64_t)noise));
        tgt[t] = SSM_IGNORE_INDEX;
    }
}

void ssm_synth_example(const ssm_synth_params *p, uint64_t seed, int64_t i, int32_t *tokens,
                       int32_t *targets) {
    SSM_CHECK(i >= 0 && i <= (int64_t)UINT32_MAX, "synth_example: index %lld", (long long)i);
    ssm_stream s = ssm_stream_make(seed, SSM_DOMAIN_SYNTH + (uint32_t)p->task, (uint32_t)i);
    switch (p->task) {
    case SSM_SYNTH_SELECTIVE_COPY: selective_copy(p, &s, tokens, targets); break;
    case SSM_SYNTH_INDUCTION: induction(p, &s, tokens, targets); break;
    case SSM_SYNTH_RECALL: recall(p, &s, tokens, targets); break;
    }
}

int ssm_synth_dataset(const ssm_synth_params *p, uint64_t seed, int64_t first, int64_t n,
                      ssm_dataset **out) {
    *out = NULL;
    if (ssm_synth_validate(p) != SSM_OK) return SSM_ERR;
    if (first < 0 || n < 0 || first + n - 1 > (int64_t)UINT32_MAX)
        return ssm_error("synthetic task: examples [%lld, %lld) outside [0, 2^32)",
                         (long long)first, (long long)(first + n));
    static const char *names[] = {"", "selective_copy", "induction_heads", "recall"};
    int cls = p->task == SSM_SYNTH_RECALL;
    ssm_dataset_spec spec = {.name = names[p->task], .has_targets = !cls, .has_labels = cls,
                             .vocab_size = p->vocab_size,
                             .n_classes = cls ? recall_classes(p) : p->vocab_size,
                             .max_len = p->seq_len, .pad_id = 0};
    ssm_dataset *d = ssm_dataset_new(&spec);
    int32_t *tok = malloc((size_t)p->seq_len * 2 * sizeof *tok);
    SSM_CHECK(tok, "synth_dataset: out of memory");
    for (int64_t i = 0; i < n; i++) {
        ssm_synth_example(p, seed, first + i, tok, tok + p->seq_len);
        ssm_dataset_add(d, tok, p->seq_len, cls ? NULL : tok + p->seq_len,
                        cls ? tok[0] - SSM_RC_DATA0 : 0);
    }
    free(tok);
    *out = d;
    return SSM_OK;
}
