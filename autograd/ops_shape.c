/* Shape ops: reshape (shares data), permute/transpose, concat, slice, split (copy). */
#include <string.h>
#include "log.h"
#include "ops.h"

static void reshape_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    ssm_kernels_for(x->device)->scale(x->dtype, n->out->grad->data, ssm_grad(c, x)->data,
                                      x->numel, 1.0, 1);
}

ssm_tensor *ssm_reshape(ssm_ctx *c, ssm_tensor *x, int ndim, const int64_t *shape) {
    ssm_tensor *y = ssm_tensor_alias(c->arena, x, ndim, shape);
    if (ssm_needs_grad(c, &x, 1)) ssm_record(c, "reshape", reshape_bw, y, &x, 1);
    return y;
}

static void permute_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    int inv[SSM_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) inv[n->i[d]] = d;
    ssm_kernels_for(x->device)->permute(x->dtype, n->out->grad->data, ssm_grad(c, x)->data,
                                        x->ndim, n->out->shape, inv, 1);
}

ssm_tensor *ssm_permute(ssm_ctx *c, ssm_tensor *x, const int *perm) {
    int64_t shape[SSM_MAX_DIMS];
    int seen = 0;
    for (int d = 0; d < x->ndim; d++) {
        SSM_CHECK(perm[d] >= 0 && perm[d] < x->ndim && !(seen & (1 << perm[d])),
                  "permute: invalid permutation of %d dimensions", x->ndim);
        seen |= 1 << perm[d];
        shape[d] = x->shape[perm[d]];
    }
    ssm_tensor *y = ssm_new_like_shape(c, x, x->ndim, shape);
    ssm_kernels_for(x->device)->permute(x->dtype, x->data, y->data, x->ndim, x->shape, perm, 0);
    if (ssm_needs_grad(c, &x, 1)) {
        ssm_node *n = ssm_record(c, "permute", permute_bw, y, &x, 1);
        for (int d = 0; d < x->ndim; d++) n->i[d] = perm[d];
    }
    return y;
}

ssm_tensor *ssm_transpose(ssm_ctx *c, ssm_tensor *x, int d0, int d1) {
    int perm[SSM_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) perm[d] = d;
    perm[d0] = d1;
    perm[d1] = d0;
    return ssm_permute(c, x, perm);
}

/* View x as [outer, x->shape[axis], inner]. */
static void around(const ssm_tensor *x, int axis, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

static int norm_axis(const char *op, const ssm_tensor *x, int axis) {
    if (axis < 0) axis += x->ndim;
    SSM_CHECK(axis >= 0 && axis < x->ndim, "%s: axis out of range for %d dimensions", op, x->ndim);
    return axis;
}


static void concat_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *y = n->out;
    int axis = (int)n->i[0];
    int64_t outer, inner, off = 0;
    around(y, axis, &outer, &inner);
    for (int j = 0; j < n->n_in; j++) {
        ssm_tensor *x = n->in[j], *dx = ssm_grad(c, x);
        if (dx)
            ssm_kernels_for(x->device)->slice_copy(x->dtype, y->grad->data, dx->data, outer,
                                                   y->shape[axis], x->shape[axis], inner, off, 0,
                                                   x->shape[axis], 1);
        off += x->shape[axis];
    }
}

ssm_tensor *ssm_concat(ssm_ctx *c, ssm_tensor *const *xs, int n, int axis) {
    SSM_CHECK(n >= 1 && n <= SSM_NODE_MAX_IN, "concat: %d inputs (1 to %d)", n, SSM_NODE_MAX_IN);
    const ssm_kernels *k = ssm_kernels_of("concat", xs, n);
    axis = norm_axis("concat", xs[0], axis);
    int64_t shape[SSM_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[axis] = 0;
    for (int j = 0; j < n; j++) {
        SSM_CHECK(xs[j]->ndim == xs[0]->ndim && xs[j]->dtype == xs[0]->dtype,
                  "concat: input %d differs in rank or dtype", j);
        for (int d = 0; d < xs[0]->ndim; d++)
            SSM_CHECK(d == axis || xs[j]->shape[d] == xs[0]->shape[d],
                      "concat: input %d has size %lld in dimension %d, input 0 has %lld", j,
                      (long long)xs[j]->shape[d], d, (long long)xs[0]->shape[d]);
        shape[axis] += xs[j]->shape[axis];
    }
    ssm_tensor *y = ssm_new_like_shape(c, xs[0], xs[0]->ndim, shape);
    int64_t outer, inner, off = 0;
    around(y, axis, &outer, &inner);
    for (int j = 0; j < n; j++) {
        k->slice_copy(y->dtype, xs[j]->data, y->data, outer, xs[j]->shape[axis], shape[axis],
                      inner, 0, off, xs[j]->shape[axis], 0);
        off += xs[j]->shape[axis];
    }
    if (ssm_needs_grad(c, xs, n)) ssm_record(c, "concat", concat_bw, y, xs, n)->i[0] = axis;
    return y;
}

static void slice_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0], *y = n->out;
    int axis = (int)n->i[0];
    int64_t outer, inner;
    around(x, axis, &outer, &inner);
    ssm_kernels_for(x->device)->slice_copy(x->dtype, y->grad->data, ssm_grad(c, x)->data, outer,
                                           y->shape[axis], x->shape[axis], inner, 0, n->i[1],
                                           y->shape[axis], 1);
}

ssm_tensor *ssm_slice(ssm_ctx *c, ssm_tensor *x, int axis, int64_t start, int64_t len) {
    axis = norm_axis("slice", x, axis);
    SSM_CHECK(start >= 0 && len >= 0 && start + len <= x->shape[axis],
              "slice: [%lld, %lld) out of range for size %lld", (long long)start,
              (long long)(start + len), (long long)x->shape[axis]);
    int64_t shape[SSM_MAX_DIMS], outer, inner;
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = len;
    ssm_tensor *y = ssm_new_like_shape(c, x, x->ndim, shape);
    around(x, axis, &outer, &inner);
    ssm_kernels_for(x->device)->slice_copy(x->dtype, x->data, y->data, outer, x->shape[axis],
                                           len, inner, start, 0, len, 0);
    if (ssm_needs_grad(c, &x, 1)) {
        ssm_node *n = ssm_record(c, "slice", slice_bw, y, &x, 1);
        n->i[0] = axis;
        n->i[1] = start;
    }
    return y;
}

void ssm_split(ssm_ctx *c, ssm_tensor *x, int axis, int n, const int64_t *sizes,
               ssm_tensor **out) {
    axis = norm_axis("split", x, axis);
    int64_t off = 0;
    for (int j = 0; j < n; j++) {
        out[j] = ssm_slice(c, x, axis, off, sizes[j]);
        off += sizes[j];
    }
    SSM_CHECK(off == x->shape[axis], "split: sizes add up to %lld, the axis has %lld",
              (long long)off, (long long)x->shape[axis]);
}
