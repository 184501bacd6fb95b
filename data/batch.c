/* Batching, padding and the seeded, resumable shuffle. */
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "dataset.h"
#include "log.h"

static ssm_tensor *i32_tensor(ssm_arena *a, int ndim, const int64_t *shape) {
    return a ? ssm_tensor_arena(a, SSM_I32, SSM_CPU, ndim, shape)
             : ssm_tensor_new(SSM_I32, SSM_CPU, ndim, shape);
}

void ssm_batch_make(const ssm_dataset *d, const int64_t *idx, int64_t B, int64_t fixed_len,
                    int64_t pad_multiple, ssm_arena *a, ssm_batch *b) {
    SSM_CHECK(B > 0, "batch_make(%s): batch of %lld", d->name, (long long)B);
    int64_t S = d->n_seq, R = B * S, C = d->channels, L = fixed_len;
    if (L == 0)
        for (int64_t r = 0; r < R; r++) {
            int64_t len;
            ssm_dataset_seq(d, idx[r / S], (int)(r % S), &len);
            if (len > L) L = len;
        }
    if (fixed_len == 0 && pad_multiple > 1 && L % pad_multiple) { /* never past the longest */
        int64_t up = (L / pad_multiple + 1) * pad_multiple, cap = L > d->longest ? L : d->longest;
        L = up < cap ? up : cap;
    }
    if (L == 0) L = 1; /* all sequences empty: keep the tensors non-empty */
    memset(b, 0, sizeof *b);
    b->size = B;
    b->tokens = C == 1 ? i32_tensor(a, SSM_DIMS(R, L)) : i32_tensor(a, SSM_DIMS(R, L, C));
    b->lengths = i32_tensor(a, SSM_DIMS(R));
    if (d->has_labels) b->labels = i32_tensor(a, SSM_DIMS(B));
    if (d->has_targets) b->targets = i32_tensor(a, SSM_DIMS(R, L));
    /* From the arena too, so a steady-state step performs no malloc. */
    b->owns_index = a == NULL;
    b->index = a ? ssm_arena_alloc(a, SSM_CPU, (size_t)B * sizeof *b->index)
                 : malloc((size_t)B * sizeof *b->index);
    SSM_CHECK(b->index, "batch_make: out of memory");
    int32_t *tok = b->tokens->data, *lens = b->lengths->data;
    int32_t *tgt = b->targets ? b->targets->data : NULL;
    for (int64_t r = 0; r < R; r++) {
        int64_t i = idx[r / S], len;
        int part = (int)(r % S);
        const int32_t *src = ssm_dataset_seq(d, i, part, &len);
        SSM_CHECK(len <= L, "batch_make(%s): example %lld has length %lld > fixed length %lld",
                  d->name, (long long)i, (long long)len, (long long)L);
        memcpy(tok + r * L * C, src, (size_t)(len * C) * sizeof *tok);
        for (int64_t k = len * C; k < L * C; k++) tok[r * L * C + k] = d->pad_id;
        lens[r] = (int32_t)len;
        if (tgt) {
            memcpy(tgt + r * L, ssm_dataset_seq_targets(d, i, part), (size_t)len * sizeof *tgt);
            for (int64_t k = len; k < L; k++) tgt[r * L + k] = SSM_IGNORE_INDEX;
        }
    }
    for (int64_t k = 0; k < B; k++) {
        b->index[k] = idx[k];
        if (b->labels) ((int32_t *)b->labels->data)[k] = d->labels[idx[k]];
    }
}

void ssm_batch_free(ssm_batch *b) {
    if (!b) return;
    ssm_tensor_free(b->tokens); /* no-op for arena tensors */
    ssm_tensor_free(b->lengths);
    ssm_tensor_free(b->labels);
    ssm_tensor_free(b->targets);
    if (b->owns_index) free(b->index);
    memset(b, 0, sizeof *b);
}

void ssm_shuffle_order(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm) {
    /* The epoch keys the substream (32 bits: four billion epochs). */
    ssm_stream s = ssm_stream_make(seed, SSM_DOMAIN_SHUFFLE, (uint32_t)epoch);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)ssm_stream_below(&s, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

ssm_loader *ssm_loader_new(const ssm_dataset *d, const ssm_loader_opts *o) {
    SSM_CHECK(o->world <= 1 || (o->rank >= 0 && o->rank < o->world),
              "loader_new(%s): rank %d of %d", d->name, o->rank, o->world);
    SSM_CHECK(o->batch_size > 0, "loader_new(%s): batch_size %lld", d->name,
              (long long)o->batch_size);
    SSM_CHECK(o->fixed_len == 0 || o->fixed_len >= d->longest,
              "loader_new(%s): fixed_len %lld is shorter than the longest sequence %lld", d->name,
              (long long)o->fixed_len, (long long)d->longest);
    ssm_loader *l = calloc(1, sizeof *l);
    SSM_CHECK(l, "loader_new: out of memory");
    l->ds = d;
    l->opts = *o;
    l->order = malloc((size_t)(d->n ? d->n : 1) * sizeof *l->order);
    SSM_CHECK(l->order, "loader_new: out of memory");
    l->order_epoch = -1;
    return l;
}

void ssm_loader_free(ssm_loader *l) {
    if (!l) return;
    free(l->order);
    free(l);
}

void ssm_loader_seek(ssm_loader *l, int64_t epoch, int64_t index) {
    SSM_CHECK(epoch >= 0 && index >= 0 && index <= l->ds->n,
              "loader_seek(%s): (epoch %lld, index %lld) with %lld examples", l->ds->name,
              (long long)epoch, (long long)index, (long long)l->ds->n);
    l->epoch = epoch;
    l->index = index;
}

int64_t ssm_loader_batches_per_epoch(const ssm_loader *l) {
    int64_t n = l->ds->n, B = l->opts.batch_size;
    return l->opts.drop_last ? n / B : (n + B - 1) / B;
}

int ssm_loader_next(ssm_loader *l, ssm_arena *a, ssm_batch *b) {
    int64_t n = l->ds->n, B = l->opts.batch_size, left = n - l->index;
    if (left <= 0 || (l->opts.drop_last && left < B)) {
        l->epoch++;
        l->index = 0;
        return 0;
    }
    if (l->order_epoch != l->epoch) {
        if (l->opts.shuffle)
            ssm_shuffle_order(l->opts.seed, l->epoch, n, l->order);
        else
            for (int64_t i = 0; i < n; i++) l->order[i] = i;
        l->order_epoch = l->epoch;
    }
    int64_t take = left < B ? left : B, K = l->opts.world > 1 ? l->opts.world : 1;
    int64_t lo = take * l->opts.rank / K, hi = take * (l->opts.rank + 1) / K;
    if (hi > lo)
        ssm_batch_make(l->ds, l->order + l->index + lo, hi - lo, l->opts.fixed_len,
                       l->opts.pad_multiple, a, b);
    else
        memset(b, 0, sizeof *b);
    l->index += take;
    return 1;
}
