#include "train_step.h"
#include <stdio.h>
#include <string.h>
#include "dataset.h"
#include "kernels.h"
#include "log.h"
#include "ops.h"

void ssm_stepper_init(ssm_stepper *s, ssm_model *m, ssm_optim *o, ssm_ctx *c, int graphs) {
    memset(s, 0, sizeof *s);
    s->model = m;
    s->opt = o;
    s->ctx = c;
    const ssm_kernels *k = ssm_kernels_for(m->ps->device);
    s->graphs = graphs && k->graph_begin != NULL;
    s->stats = k->alloc(sizeof *s->stats);
    if (!s->stats) ssm_out_of_memory("step statistics: %s", ssm_last_error());
    ssm_stepper_zero_stats(s);
}

static const ssm_kernels *kern(const ssm_stepper *s) {
    return ssm_kernels_for(s->model->ps->device);
}

static void drop(const ssm_stepper *s, ssm_step_graph *g) {
    if (g->exec) kern(s)->graph_free(g->exec);
    memset(g, 0, sizeof *g);
}

void ssm_stepper_free(ssm_stepper *s) {
    if (!s->model) return;
    for (int i = 0; i < SSM_STEP_GRAPHS; i++) drop(s, &s->g[i]);
    kern(s)->free(s->stats);
    memset(s, 0, sizeof *s);
}

/* The step's kernels, in the order an eager step launches them (and a capture records). */
static void body(ssm_stepper *s, const ssm_dev_batch *b, void (*sync_grads)(void *), void *arg) {
    ssm_ctx *c = s->ctx;
    ssm_params *ps = s->model->ps;
    ssm_stepper_zero_stats(s);
    ssm_params_zero_grad(ps);
    if (b) { /* NULL: a data-parallel rank with nothing in this step adds no gradient */
        ssm_tensor *logits = ssm_model_forward(c, s->model, b->tokens, b->pool_w);
        ssm_tensor *loss = ssm_cross_entropy_stats(c, logits, b->target, NULL, SSM_IGNORE_INDEX,
                                                   s->stats);
        ssm_backward(c, loss);
    }
    if (sync_grads) sync_grads(arg);
    ssm_grad_norm_sq_into(ps, s->stats);
    ssm_optim_apply(s->opt, s->stats);
}

/* What identifies a graph: the batch tensors' shapes (and whether each is there). */
static void key_of(const ssm_dev_batch *b, int64_t key[8]) {
    const ssm_tensor *t[3] = {b->tokens, b->pool_w, b->target};
    memset(key, 0, 8 * sizeof key[0]);
    int j = 0;
    for (int i = 0; i < 3; i++) {
        if (!t[i]) continue;
        for (int d = 0; d < t[i]->ndim && j < 8; d++) key[j++] = t[i]->shape[d] + 1;
        if (j < 8) key[j++] = -(i + 1); /* separator: [2, 3] + [4] is not [2] + [3, 4] */
    }
}

/* The batch tensors' addresses, which a graph captured them at. */
static void ptrs_of(const ssm_dev_batch *b, void *ptr[3]) {
    ptr[0] = b->tokens->data;
    ptr[1] = b->pool_w ? b->pool_w->data : NULL;
    ptr[2] = b->target->data;
}

static int same_ptrs(const ssm_step_graph *g, const ssm_dev_batch *b) {
    void *ptr[3];
    ptrs_of(b, ptr);
    return !memcmp(g->ptr, ptr, sizeof ptr);
}

/* An eager step; g (may be NULL) records that its shape ran with the backend as it is now,
 * so that the shape's next step may be captured without creating anything. */
static void eager(ssm_stepper *s, ssm_step_graph *g, const ssm_dev_batch *b,
                  void (*sync_grads)(void *), void *arg) {
    const ssm_kernels *k = kern(s);
    k->set_rng_base(0);
    body(s, b, sync_grads, arg);
    if (g) {
        g->used = s->clock;
        g->epoch = k->graph_epoch();
    }
    s->eager++;
}

/* Slot g, emptied, for the shape `key`. */
static ssm_step_graph *claim(const ssm_stepper *s, ssm_step_graph *g, const int64_t *key) {
    drop(s, g);
    memcpy(g->key, key, sizeof g->key);
    return g;
}

void ssm_stepper_step(ssm_stepper *s, const ssm_dev_batch *b, void (*sync_grads)(void *),
                      void *arg) {
    ssm_ctx *c = s->ctx;
    const ssm_kernels *k = kern(s);
    s->clock++;
    if (!b) {
        eager(s, NULL, NULL, sync_grads, arg);
        return;
    }
    int64_t key[8];
    key_of(b, key);
    ssm_step_graph *g = NULL, *victim = &s->g[0];
    for (int i = 0; i < SSM_STEP_GRAPHS; i++) {
        if (!memcmp(s->g[i].key, key, sizeof key) && s->g[i].used) g = &s->g[i];
        if (s->g[i].used < victim->used) victim = &s->g[i];
    }
    if (!s->graphs || sync_grads || c->profile) {
        eager(s, NULL, b, sync_grads, arg);
        return;
    }
    uint64_t allocs = ssm_arena_system_allocs(c->arena);
    if (g && g->exec && (g->arena_allocs != allocs || !same_ptrs(g, b)))
        drop(s, g), g = NULL; /* the arena moved since the capture: capture again */
    if (g && g->exec) { /* replay */
        k->set_rng_base(c->rng_offset - g->rng_at);
        if (k->graph_launch(g->exec) == SSM_OK) {
            c->rng_offset += g->draws;
            g->used = s->clock;
            s->replayed++;
            return;
        }
        /* stale (the backend freed something it uses): eager now, captured next time */
        eager(s, claim(s, g, key), b, NULL, NULL);
        return;
    }
    if (!g || g->epoch != k->graph_epoch()) {
        /* eager: the first step of a shape settles the arena's size and creates the plans
         * and buffers it needs; again when the backend freed some since (varying shapes
         * evict each other's cuFFT plans), so that a capture never has to create any */
        eager(s, g ? g : claim(s, victim, key), b, NULL, NULL);
        return;
    }
    /* the second step of this shape: capture it, then launch what was captured */
    uint64_t rng0 = c->rng_offset;
    k->set_rng_base(0);
    k->graph_begin();
    body(s, b, NULL, NULL);
    void *exec = k->graph_end();
    if (!exec) { /* something in the step cannot be captured: eager from now on */
        fprintf(stderr, "ssmtrain: warning: %s; training on without CUDA graphs\n",
                ssm_last_error());
        s->graphs = 0;
        c->rng_offset = rng0; /* the capture ran nothing; its tape is used up */
        eager(s, NULL, b, NULL, NULL);
        return;
    }
    g->exec = exec;
    ptrs_of(b, g->ptr);
    g->arena_allocs = ssm_arena_system_allocs(c->arena);
    g->rng_at = rng0;
    g->draws = c->rng_offset - rng0;
    g->used = s->clock;
    if (g->arena_allocs != allocs) { /* the arena grew inside the capture: not replayable */
        drop(s, g);
        ssm_panic("train step: the arena grew during a CUDA graph capture (the shape's "
                  "first eager step should have sized it)");
    }
    if (k->graph_launch(exec) != SSM_OK) /* nothing can have been freed since graph_end */
        ssm_panic("train step: a graph just captured is already stale");
    s->captured++;
}

ssm_step_stats ssm_stepper_read(const ssm_stepper *s) {
    ssm_step_stats h;
    kern(s)->to_host(&h, s->stats, sizeof h);
    return h;
}

void ssm_stepper_zero_stats(ssm_stepper *s) { kern(s)->memset0(s->stats, sizeof *s->stats); }

ssm_tensor *ssm_stepper_eval(ssm_stepper *s, const ssm_dev_batch *b) {
    ssm_ctx *c = s->ctx;
    kern(s)->set_rng_base(0);
    ssm_tensor *logits = ssm_model_forward(c, s->model, b->tokens, b->pool_w);
    ssm_cross_entropy_stats(c, logits, b->target, NULL, SSM_IGNORE_INDEX, s->stats);
    return logits;
}
