#include "grad_buckets.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "grad_sync.h"
#include "log.h"

static int64_t offset_of(const ssm_params *ps, int p) {
    ptrdiff_t bytes = (const char *)ps->p[p]->grad->data - (const char *)ps->grads->data;
    return (int64_t)bytes / (int64_t)ssm_dtype_size(ps->dtype);
}

static int later_first(const void *a, const void *b) {
    int x = ((const ssm_grad_bucket *)a)->first, y = ((const ssm_grad_bucket *)b)->first;
    return (x < y) - (x > y);
}

void ssm_grad_sync_init(ssm_grad_sync *s, ssm_params *ps, const ssm_comm_table *comm,
                        double bucket_mb) {
    memset(s, 0, sizeof *s);
    s->ps = ps;
    s->comm = comm;
    s->overlap = bucket_mb > 0 && s->comm->start_sum && s->comm->wait_all;
    if (!s->overlap) return;
    size_t np = (size_t)(ps->n ? ps->n : 1);
    s->b = malloc(np * sizeof *s->b); /* at most a bucket per parameter */
    s->bucket_of = malloc(np * sizeof *s->bucket_of);
    s->final = malloc(np * sizeof *s->final);
    SSM_CHECK(s->b && s->bucket_of && s->final, "grad sync: out of memory");
    double cap = bucket_mb * 1048576.0 / (double)ssm_dtype_size(ps->dtype); /* elements */
    ssm_grad_bucket *cur = NULL;
    for (int at = ps->n - 1; at >= 0; at--) { /* from the end of the layout */
        int p = ps->layout[at];
        int64_t off = offset_of(ps, p);
        if (!cur || ps->p[cur->first]->group != ps->p[p]->group ||
            (double)(cur->end - cur->begin) >= cap) {
            cur = &s->b[s->n++];
            *cur = (ssm_grad_bucket){.end = off + ps->p[p]->numel, .hi = at + 1, .first = p};
        }
        cur->begin = off, cur->lo = at;
        if (p < cur->first) cur->first = p;
    }
    qsort(s->b, (size_t)s->n, sizeof *s->b, later_first);
    for (int j = 0; j < s->n; j++)
        for (int at = s->b[j].lo; at < s->b[j].hi; at++) s->bucket_of[ps->layout[at]] = j;
}

void ssm_grad_sync_free(ssm_grad_sync *s) {
    free(s->b);
    free(s->bucket_of);
    free(s->final);
    memset(s, 0, sizeof *s);
}

static void start(ssm_grad_sync *s, const ssm_grad_bucket *b) {
    if (b->end == b->begin) return; /* parameters of no elements: nothing to sum */
    ssm_grads_weigh(s->ps, s->weight, b->begin, b->end);
    size_t es = ssm_dtype_size(s->ps->dtype);
    s->comm->start_sum(s->ps->dtype, (char *)s->ps->grads->data + (size_t)b->begin * es,
                       b->end - b->begin);
}

/* After node i (i = the tape's length: before the first): start, in order, the buckets
 * final by now, and let those started advance. */
static void start_final(ssm_grad_sync *s, int64_t i) {
    while (s->next < s->n && s->b[s->next].ready >= i) start(s, &s->b[s->next++]);
    if (s->comm->progress) s->comm->progress();
}

static void on_begin(void *arg, const ssm_ctx *c) {
    ssm_grad_sync *s = arg;
    SSM_CHECK(s->next == 0, "grad sync: a second backward pass in one step");
    ssm_tape_grad_final(c, s->ps, s->final);
    for (int j = 0; j < s->n; j++) s->b[j].ready = c->n_nodes;
    for (int p = 0; p < s->ps->n; p++) {
        ssm_grad_bucket *b = &s->b[s->bucket_of[p]];
        if (s->final[p] < b->ready) b->ready = s->final[p];
    }
    start_final(s, c->n_nodes);
}

static void on_node(void *arg, int64_t i) { start_final(arg, i); }

void ssm_grad_sync_begin(ssm_grad_sync *s, ssm_ctx *c, double weight) {
    s->weight = weight;
    s->next = 0;
    if (!s->overlap) return;
    SSM_CHECK(!c->hook, "grad sync: the context's backward is watched already");
    s->ctx = c;
    s->hook = (ssm_backward_hook){on_begin, on_node, s};
    c->hook = &s->hook;
}

void ssm_grad_sync_end(ssm_grad_sync *s) {
    if (!s->overlap) {
        ssm_grads_allreduce(s->ps, s->weight);
        return;
    }
    SSM_CHECK(s->ctx, "grad sync: end without begin");
    while (s->next < s->n) start(s, &s->b[s->next++]);
    s->comm->wait_all();
    s->ctx->hook = NULL;
    s->ctx = NULL;
}
