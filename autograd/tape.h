/* The tape (Wengert list) and the context every op takes.
 *
 * Ops are eager: each computes its output at once and, when gradients are
 * enabled and an input requires one, appends a node holding its backward rule
 * and what that rule needs. ssm_backward() walks the nodes in reverse and
 * accumulates into .grad. All per-step tensors come from the context's arena;
 * ssm_ctx_reset() drops the tape and the arena together after the optimizer
 * step. */
#ifndef SSM_TAPE_H
#define SSM_TAPE_H
#include <stdint.h>
#include "arena.h"
#include "kernels.h"
#include "tensor.h"

#define SSM_NODE_MAX_IN 8 /* the selective scan takes 8 */
#define SSM_NODE_MAX_SAVED 4

struct ssm_ctx;
struct ssm_node;
struct ssm_params;
typedef void (*ssm_backward_fn)(struct ssm_ctx *c, struct ssm_node *n);

/* Watches a backward pass (grad_buckets.h starts gradient all-reduces with it while the
 * pass goes on): `begin` sees the whole tape before the first node runs, `node_done`
 * comes after node i's rule ran (or was skipped: no gradient reached it). */
typedef struct ssm_backward_hook {
    void (*begin)(void *arg, const struct ssm_ctx *c);
    void (*node_done)(void *arg, int64_t i);
    void *arg;
} ssm_backward_hook;

typedef struct ssm_node {
    const char *op;
    ssm_backward_fn backward;
    ssm_tensor *out;
    ssm_tensor *in[SSM_NODE_MAX_IN];
    int n_in;
    ssm_tensor *saved[SSM_NODE_MAX_SAVED]; /* tensors the rule needs besides in/out */
    double f[4];                           /* scalar arguments */
    int64_t i[8];                          /* integer arguments (sizes, axes, flags) */
} ssm_node;

typedef struct ssm_ctx {
    ssm_arena *arena;
    ssm_node *nodes; /* persistent array, reused every step */
    int64_t n_nodes, cap_nodes;
    int grad_enabled; /* 0 inside no_grad scopes */
    int training;     /* dropout and BatchNorm behaviour */
    uint64_t seed;    /* Philox key for dropout */
    uint64_t rng_offset; /* next unused Philox counter; part of the checkpoint */
    struct ssm_profile *profile; /* per-op timing when attached (profile.h), else NULL */
    const ssm_backward_hook *hook; /* called by ssm_backward when set, else NULL */
    /* Gradients of intermediate tensors whose producer's backward has run: dead, their
     * memory handed to the next gradient of the same size (tape.c) */
    ssm_tensor **spare_grads;
    int n_spare, cap_spare;
    /* Tests: fill the gradient buffers ssm_grad_w hands out for writing with NaN, so an
     * op that leaves part of one unwritten fails its gradient check (gradcheck.c) */
    int poison_fresh_grads;
} ssm_ctx;

ssm_ctx *ssm_ctx_new(uint64_t seed);
void ssm_ctx_free(ssm_ctx *c);
/* Forget the tape and free every per-step tensor (call after the optimizer step). */
void ssm_ctx_reset(ssm_ctx *c);

/* no_grad scope: int saved = ssm_no_grad_begin(c); ... ssm_no_grad_end(c, saved); */
int ssm_no_grad_begin(ssm_ctx *c);
void ssm_no_grad_end(ssm_ctx *c, int saved);

/* Seed d(out)/d(out) = 1 (out must have one element) and run the tape backward. */
void ssm_backward(ssm_ctx *c, ssm_tensor *out);
/* Same with an explicit upstream gradient for out (same shape). */
void ssm_backward_with(ssm_ctx *c, ssm_tensor *out, const ssm_tensor *dout);

/* When each parameter's gradient is final in a backward pass of the tape as recorded:
 * final[p] (p indexing ps->p) = the index of the node after whose rule the gradient of
 * ps->p[p] is complete, that is of its earliest-recorded consumer (the walk is in
 * reverse); c->n_nodes for a parameter that no node takes (final before the first
 * node). A node takes a parameter as an input or a saved tensor: its rule is the only one
 * that may add to that gradient, as every use of a parameter goes through such a node
 * (a view of it is a node's output). */
void ssm_tape_grad_final(const ssm_ctx *c, const struct ssm_params *ps, int64_t *final);

/* --- for op implementations --- */
/* New per-step tensor of the given shape with x's dtype and device. */
ssm_tensor *ssm_new_like_shape(ssm_ctx *c, const ssm_tensor *x, int ndim, const int64_t *shape);
#define ssm_new_like_shape(...) ssm_new_like_shape_at(__VA_ARGS__, __func__)
/* The same, naming the calling op in out-of-memory messages (the macro passes it). */
ssm_tensor *ssm_new_like_shape_at(ssm_ctx *c, const ssm_tensor *x, int ndim, const int64_t *shape,
                                  const char *fn);
/* Whether an op with these inputs must record a node. */
int ssm_needs_grad(ssm_ctx *c, ssm_tensor *const *in, int n);
/* Append a node for out (marks out as requiring grad); returns it for the op to fill. */
ssm_node *ssm_record(ssm_ctx *c, const char *op, ssm_backward_fn bw, ssm_tensor *out,
                     ssm_tensor *const *in, int n);
/* Gradient buffer of t (zero-initialised on first use), or NULL if t needs none. */
ssm_tensor *ssm_grad(ssm_ctx *c, ssm_tensor *t);
/* t's gradient buffer for a rule that writes every element of it: *acc = 0 when the
 * buffer is new (its contents undefined: the rule stores, so the buffer needs no zeroing
 * pass and the rule no read of it), 1 when an earlier rule's gradient is there (the rule
 * adds). NULL when t needs no gradient. A rule that writes only part of a gradient takes
 * ssm_grad's zeroed buffer instead. */
ssm_tensor *ssm_grad_w(ssm_ctx *c, ssm_tensor *t, int *acc);
static inline void *ssm_grad_data_w(struct ssm_ctx *c, ssm_tensor *t, int *acc) {
    ssm_tensor *g = ssm_grad_w(c, t, acc);
    return g ? g->data : NULL;
}
/* t's data, or NULL for an absent optional input. */
static inline const void *ssm_data_or_null(const ssm_tensor *t) { return t ? t->data : NULL; }
/* Data of t's gradient buffer, or NULL when t needs no gradient. */
static inline void *ssm_grad_data(struct ssm_ctx *c, ssm_tensor *t) {
    ssm_tensor *g = ssm_grad(c, t);
    return g ? g->data : NULL;
}
/* Kernel table for the op's inputs; aborts when they are on different devices. */
const ssm_kernels *ssm_kernels_of(const char *op, ssm_tensor *const *in, int n);
/* Draw `n` fresh Philox counters (dropout, random init). */
uint64_t ssm_ctx_take_counters(ssm_ctx *c, uint64_t n);

#endif
