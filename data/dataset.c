/* The in-memory dataset container and the Philox stream generators draw from. */
#include "dataset.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "philox.h"

static void *xrealloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    SSM_CHECK(q, "dataset: out of memory (%zu bytes)", bytes);
    return q;
}

ssm_dataset *ssm_dataset_new(const ssm_dataset_spec *s) {
    SSM_CHECK(s->vocab_size > 0, "dataset_new: vocab_size %lld", (long long)s->vocab_size);
    SSM_CHECK(!s->has_labels || s->n_classes > 0, "dataset_new: labels need n_classes > 0");
    SSM_CHECK(s->pad_id >= 0 && s->pad_id < s->vocab_size, "dataset_new: pad_id %d outside vocab",
              (int)s->pad_id);
    ssm_dataset *d = calloc(1, sizeof *d);
    SSM_CHECK(d, "dataset_new: out of memory");
    snprintf(d->name, sizeof d->name, "%s", s->name ? s->name : "");
    d->n_seq = s->n_seq > 0 ? s->n_seq : 1;
    d->channels = s->channels > 0 ? s->channels : 1;
    d->has_labels = s->has_labels;
    d->has_targets = s->has_targets;
    d->vocab_size = s->vocab_size;
    d->n_classes = s->n_classes;
    d->max_len = s->max_len;
    d->pad_id = s->pad_id;
    d->off = xrealloc(NULL, sizeof *d->off);
    d->off[0] = 0;
    return d;
}

void ssm_dataset_free(ssm_dataset *d) {
    if (!d) return;
    free(d->off);
    free(d->tokens);
    free(d->targets);
    free(d->labels);
    free(d);
}

void ssm_dataset_add_seq(ssm_dataset *d, const int32_t *tokens, int64_t len,
                         const int32_t *targets) {
    SSM_CHECK(d->n_seqs < (d->n + 1) * d->n_seq,
              "dataset_add_seq(%s): example %lld already has its %d sequences", d->name,
              (long long)d->n, d->n_seq);
    SSM_CHECK(len >= 0 && (d->max_len == 0 || len <= d->max_len),
              "dataset_add_seq(%s): length %lld, max_len %lld", d->name, (long long)len,
              (long long)d->max_len);
    SSM_CHECK(!d->has_targets == !targets, "dataset_add_seq(%s): targets %s expected", d->name,
              d->has_targets ? "are" : "are not");
    int64_t C = d->channels, pos = d->off[d->n_seqs];
    for (int64_t i = 0; i < len * C; i++)
        SSM_CHECK(tokens[i] >= 0 && tokens[i] < d->vocab_size,
                  "dataset_add_seq(%s): id %d at %lld outside vocab %lld", d->name,
                  (int)tokens[i], (long long)i, (long long)d->vocab_size);
    for (int64_t i = 0; targets && i < len; i++)
        SSM_CHECK(targets[i] == SSM_IGNORE_INDEX || (targets[i] >= 0 && targets[i] < d->vocab_size),
                  "dataset_add_seq(%s): target %d at %lld", d->name, (int)targets[i],
                  (long long)i);
    if (d->n_seqs + 1 >= d->cap_seqs) {
        d->cap_seqs = d->cap_seqs ? 2 * d->cap_seqs : 64;
        d->off = xrealloc(d->off, (size_t)(d->cap_seqs + 1) * sizeof *d->off);
    }
    if (pos + len > d->cap_pos) {
        int64_t cap = d->cap_pos ? 2 * d->cap_pos : 4096;
        while (cap < pos + len) cap *= 2;
        d->tokens = xrealloc(d->tokens, (size_t)(cap * C) * sizeof *d->tokens);
        if (d->has_targets) d->targets = xrealloc(d->targets, (size_t)cap * sizeof *d->targets);
        d->cap_pos = cap;
    }
    if (len) memcpy(d->tokens + pos * C, tokens, (size_t)(len * C) * sizeof *tokens);
    if (len && targets) memcpy(d->targets + pos, targets, (size_t)len * sizeof *targets);
    d->off[++d->n_seqs] = pos + len;
    if (len > d->longest) d->longest = len;
}

void ssm_dataset_end_example(ssm_dataset *d, int32_t label) {
    SSM_CHECK(d->n_seqs == (d->n + 1) * d->n_seq,
              "dataset_end_example(%s): example %lld has %lld of %d sequences", d->name,
              (long long)d->n, (long long)(d->n_seqs - d->n * d->n_seq), d->n_seq);
    if (d->has_labels) {
        SSM_CHECK(label >= 0 && label < d->n_classes, "dataset_end_example(%s): label %d of %lld",
                  d->name, (int)label, (long long)d->n_classes);
        if (d->n >= d->cap_ex) {
            d->cap_ex = d->cap_ex ? 2 * d->cap_ex : 64;
            d->labels = xrealloc(d->labels, (size_t)d->cap_ex * sizeof *d->labels);
        }
        d->labels[d->n] = label;
    }
    d->n++;
}

void ssm_dataset_add(ssm_dataset *d, const int32_t *tokens, int64_t len, const int32_t *targets,
                     int32_t label) {
    SSM_CHECK(d->n_seq == 1, "dataset_add(%s): %d sequences per example, use add_seq", d->name,
              d->n_seq);
    ssm_dataset_add_seq(d, tokens, len, targets);
    ssm_dataset_end_example(d, label);
}

static int64_t seq_index(const ssm_dataset *d, int64_t i, int part) {
    SSM_CHECK(i >= 0 && i < d->n && part >= 0 && part < d->n_seq,
              "dataset(%s): example %lld part %d of %lld x %d", d->name, (long long)i, part,
              (long long)d->n, d->n_seq);
    return i * d->n_seq + part;
}

const int32_t *ssm_dataset_seq(const ssm_dataset *d, int64_t i, int part, int64_t *len) {
    int64_t j = seq_index(d, i, part);
    if (len) *len = d->off[j + 1] - d->off[j];
    return d->tokens + d->off[j] * d->channels;
}

const int32_t *ssm_dataset_seq_targets(const ssm_dataset *d, int64_t i, int part) {
    int64_t j = seq_index(d, i, part);
    return d->targets ? d->targets + d->off[j] : NULL;
}

ssm_stream ssm_stream_make(uint64_t seed, uint32_t domain, uint32_t hi) {
    ssm_stream s = {seed, 0, domain, hi};
    return s;
}

uint64_t ssm_stream_u64(ssm_stream *s) {
    ssm_philox4 c = {{(uint32_t)s->ctr, (uint32_t)(s->ctr >> 32), s->hi, s->domain}};
    s->ctr++;
    ssm_philox4 r = ssm_philox_block(c, (uint32_t)s->seed, (uint32_t)(s->seed >> 32));
    return (uint64_t)r.v[0] << 32 | r.v[1];
}

uint64_t ssm_stream_below(ssm_stream *s, uint64_t n) {
    SSM_CHECK(n > 0, "stream_below: n = 0");
    return ssm_stream_u64(s) % n;
}

double ssm_stream_uniform(ssm_stream *s) {
    return (double)(ssm_stream_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

void ssm_dataset_remap(ssm_dataset *d, const int32_t *map, int64_t n_map, int64_t vocab_size) {
    SSM_CHECK(d->channels == 1, "dataset_remap: %s has %d channels", d->name, d->channels);
    int64_t n = d->off[d->n_seqs];
    for (int64_t i = 0; i < n; i++) {
        int32_t t = d->tokens[i];
        SSM_CHECK(t >= 0 && t < n_map && map[t] >= 0 && map[t] < vocab_size,
                  "dataset_remap: id %d has no image below %lld", t, (long long)vocab_size);
        d->tokens[i] = map[t];
    }
    d->vocab_size = vocab_size;
}

void ssm_dataset_set_features(ssm_dataset *d, double scale, const double *mean, const double *std) {
    SSM_CHECK(d->channels <= SSM_FEAT_MAX_CHANNELS && scale > 0,
              "dataset_set_features(%s): %d channels, scale %g", d->name, d->channels, scale);
    for (int c = 0; c < d->channels; c++) {
        SSM_CHECK(std[c] > 0, "dataset_set_features(%s): std[%d] = %g", d->name, c, std[c]);
        d->feat_mean[c] = mean[c];
        d->feat_std[c] = std[c];
    }
    d->feat_scale = scale;
}

void ssm_dataset_features(const ssm_dataset *d, const int32_t *vals, int64_t n, float *out) {
    int64_t C = d->channels;
    if (d->feat_scale == 0) {
        double scale = 1.0 / (double)(d->vocab_size > 1 ? d->vocab_size - 1 : 1);
        for (int64_t i = 0; i < n; i++) out[i] = (float)(vals[i] * scale);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = i % C;
        out[i] = (float)((vals[i] * d->feat_scale - d->feat_mean[c]) / d->feat_std[c]);
    }
}
