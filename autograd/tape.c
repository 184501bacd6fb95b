#include "tape.h"
#include "profile.h"
#include <math.h>
#include <stdlib.h>
#include "log.h"
#include "params.h"

ssm_ctx *ssm_ctx_new(uint64_t seed) {
    ssm_ctx *c = calloc(1, sizeof *c);
    SSM_CHECK(c, "ctx: out of memory");
    c->arena = ssm_arena_new();
    c->grad_enabled = 1;
    c->training = 1;
    c->seed = seed;
    return c;
}

void ssm_ctx_free(ssm_ctx *c) {
    if (!c) return;
    ssm_arena_free(c->arena);
    free(c->nodes);
    free(c->spare_grads);
    free(c);
}

void ssm_ctx_reset(ssm_ctx *c) {
    /* Leaves keep their persistent grads; per-step tensors vanish with the arena. */
    c->n_nodes = 0;
    c->n_spare = 0;
    ssm_arena_reset(c->arena);
}

int ssm_no_grad_begin(ssm_ctx *c) {
    int saved = c->grad_enabled;
    c->grad_enabled = 0;
    return saved;
}

void ssm_no_grad_end(ssm_ctx *c, int saved) { c->grad_enabled = saved; }

#undef ssm_new_like_shape
ssm_tensor *ssm_new_like_shape_at(ssm_ctx *c, const ssm_tensor *x, int ndim, const int64_t *shape,
                                  const char *fn) {
    return ssm_tensor_arena_at(c->arena, x->dtype, x->device, ndim, shape, fn);
}

ssm_tensor *ssm_new_like_shape(ssm_ctx *c, const ssm_tensor *x, int ndim, const int64_t *shape) {
    return ssm_new_like_shape_at(c, x, ndim, shape, NULL);
}

int ssm_needs_grad(ssm_ctx *c, ssm_tensor *const *in, int n) {
    if (!c->grad_enabled) return 0;
    for (int i = 0; i < n; i++)
        if (in[i] && (in[i]->flags & SSM_T_REQUIRES_GRAD)) return 1;
    return 0;
}

ssm_node *ssm_record(ssm_ctx *c, const char *op, ssm_backward_fn bw, ssm_tensor *out,
                     ssm_tensor *const *in, int n) {
    SSM_CHECK(n <= SSM_NODE_MAX_IN, "%s: %d inputs (at most %d)", op, n, SSM_NODE_MAX_IN);
    if (c->n_nodes == c->cap_nodes) { /* grows during the first steps only */
        c->cap_nodes = c->cap_nodes ? 2 * c->cap_nodes : 256;
        c->nodes = realloc(c->nodes, (size_t)c->cap_nodes * sizeof *c->nodes);
        SSM_CHECK(c->nodes, "tape: out of memory");
    }
    ssm_node *node = &c->nodes[c->n_nodes++];
    *node = (ssm_node){.op = op, .backward = bw, .out = out, .n_in = n};
    for (int i = 0; i < n; i++) node->in[i] = in[i];
    out->flags |= SSM_T_REQUIRES_GRAD;
    out->grad = NULL;
    if (c->profile) ssm_profile_fwd(c->profile, op);
    return node;
}

/* A spare gradient buffer of t's size, device and dtype (its header reshaped to t), or
 * NULL. The most recently freed first: the same sequence every step of a shape, so the
 * addresses repeat (CUDA graphs) and nothing depends on timing. */
static ssm_tensor *take_spare(ssm_ctx *c, ssm_tensor *t) {
    for (int i = c->n_spare - 1; i >= 0; i--) {
        ssm_tensor *g = c->spare_grads[i];
        if (g->numel != t->numel || g->dtype != t->dtype || g->device != t->device) continue;
        c->spare_grads[i] = c->spare_grads[--c->n_spare];
        ssm_tensor *a = ssm_tensor_alias(c->arena, g, t->ndim, t->shape);
        a->flags |= SSM_T_STEP_GRAD;
        return a;
    }
    return NULL;
}

ssm_tensor *ssm_grad_w(ssm_ctx *c, ssm_tensor *t, int *acc) {
    *acc = 1;
    if (!t || !(t->flags & SSM_T_REQUIRES_GRAD)) return NULL;
    if (!t->grad) {
        SSM_CHECK(!(t->flags & SSM_T_PARAM), "grad: parameter %s has no gradient buffer",
                  t->name ? t->name : "?");
        t->grad = take_spare(c, t);
        if (!t->grad) {
            t->grad = ssm_tensor_like(c->arena, t);
            t->grad->flags |= SSM_T_STEP_GRAD;
        }
        *acc = 0;
        if (c->poison_fresh_grads) ssm_tensor_fill(t->grad, NAN);
    }
    return t->grad;
}

ssm_tensor *ssm_grad(ssm_ctx *c, ssm_tensor *t) {
    int acc;
    ssm_tensor *g = ssm_grad_w(c, t, &acc);
    if (g && !acc) ssm_tensor_zero(g);
    return g;
}

/* After the backward of the node producing t, t's gradient is dead: consumers write it
 * and only its producer reads it, unless another node saved t (a second output of a
 * fused op, as the selective scan's last state, read by the scan's own backward
 * later). Without this the gradients of every activation would pile up in the arena
 * until the step ends, doubling a step's memory. */
static void retire_grad(ssm_ctx *c, ssm_tensor *t) {
    ssm_tensor *g = t->grad;
    if (!g || !(g->flags & SSM_T_STEP_GRAD) || (t->flags & SSM_T_SAVED_BY_NODE)) return;
    if (c->n_spare == c->cap_spare) {
        c->cap_spare = c->cap_spare ? 2 * c->cap_spare : 64;
        c->spare_grads = realloc(c->spare_grads, (size_t)c->cap_spare * sizeof *c->spare_grads);
        SSM_CHECK(c->spare_grads, "tape: out of memory");
    }
    c->spare_grads[c->n_spare++] = g;
    t->grad = NULL;
}

const ssm_kernels *ssm_kernels_of(const char *op, ssm_tensor *const *in, int n) {
    ssm_device dev = in[0]->device;
    for (int i = 1; i < n; i++)
        if (in[i] && in[i]->device != dev)
            ssm_panic("%s: input 0 is on %s but input %d is on %s", op, ssm_device_name(dev), i,
                      ssm_device_name(in[i]->device));
    return ssm_kernels_for(dev);
}

uint64_t ssm_ctx_take_counters(ssm_ctx *c, uint64_t n) {
    uint64_t first = c->rng_offset;
    c->rng_offset += n;
    return first;
}

void ssm_tape_grad_final(const ssm_ctx *c, const ssm_params *ps, int64_t *final) {
    for (int p = 0; p < ps->n; p++) final[p] = c->n_nodes;
    for (int64_t i = c->n_nodes - 1; i >= 0; i--) { /* the last write is the earliest node */
        const ssm_node *n = &c->nodes[i];
        ssm_tensor *const *used[2] = {n->in, n->saved};
        int count[2] = {n->n_in, SSM_NODE_MAX_SAVED};
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < count[k]; j++) {
                int p = used[k][j] ? ssm_params_index(ps, used[k][j]) : -1;
                if (p >= 0) final[p] = i;
            }
    }
}

static void mark_saved(ssm_ctx *c, int on) {
    for (int64_t i = 0; i < c->n_nodes; i++)
        for (int j = 0; j < SSM_NODE_MAX_SAVED; j++) {
            ssm_tensor *s = c->nodes[i].saved[j];
            if (!s) continue;
            if (on) s->flags |= SSM_T_SAVED_BY_NODE;
            else s->flags &= ~(unsigned)SSM_T_SAVED_BY_NODE;
        }
}

/* root: the output backward starts from; its gradient stays readable */
static void run_backward(ssm_ctx *c, ssm_tensor *root) {
    const ssm_backward_hook *h = c->hook;
    if (h) h->begin(h->arg, c);
    mark_saved(c, 1);
    for (int64_t i = c->n_nodes - 1; i >= 0; i--) {
        ssm_node *n = &c->nodes[i];
        if (n->out->grad) { /* else nothing flowed into this node */
            if (c->profile) ssm_profile_bwd_begin(c->profile);
            ssm_alloc_site(n->op, 1);
            n->backward(c, n);
            if (c->profile) ssm_profile_bwd_end(c->profile, n->op);
            if (n->out != root) retire_grad(c, n->out);
        }
        if (h) h->node_done(h->arg, i);
    }
    mark_saved(c, 0);
    ssm_alloc_site(NULL, 0);
    c->n_nodes = 0; /* a tape is used once */
}

void ssm_backward(ssm_ctx *c, ssm_tensor *out) {
    SSM_CHECK(out->numel == 1, "backward: the output has %lld elements; pass its gradient "
              "with ssm_backward_with", (long long)out->numel);
    SSM_CHECK(out->flags & SSM_T_REQUIRES_GRAD, "backward: the output does not require grad");
    ssm_tensor_fill(ssm_grad(c, out), 1.0);
    run_backward(c, out);
}

void ssm_backward_with(ssm_ctx *c, ssm_tensor *out, const ssm_tensor *dout) {
    SSM_CHECK(out->flags & SSM_T_REQUIRES_GRAD, "backward: the output does not require grad");
    SSM_CHECK(dout->numel == out->numel, "backward: gradient of %lld elements for %lld",
              (long long)dout->numel, (long long)out->numel);
    ssm_tensor_copy(ssm_grad(c, out), dout);
    run_backward(c, out);
}
