/* Sum and mean over one axis. */
#include <string.h>
#include "log.h"
#include "ops.h"

static void sum_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    ssm_kernels_for(x->device)->expand_axis(x->dtype, n->out->grad->data, ssm_grad(c, x)->data,
                                            n->i[0], n->i[1], n->i[2], n->f[0]);
}

static ssm_tensor *reduce(ssm_ctx *c, ssm_tensor *x, int axis, int keepdim, int mean,
                          const char *name) {
    if (axis < 0) axis += x->ndim;
    SSM_CHECK(axis >= 0 && axis < x->ndim, "%s: axis out of range for %d dimensions", name,
              x->ndim);
    int64_t outer = 1, inner = 1, len = x->shape[axis], shape[SSM_MAX_DIMS];
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != axis) shape[nd++] = x->shape[d];
        else if (keepdim) shape[nd++] = 1;
    }
    double scale = mean ? 1.0 / (double)len : 1.0;
    ssm_tensor *y = ssm_new_like_shape(c, x, nd, shape);
    ssm_kernels_for(x->device)->sum_axis(x->dtype, x->data, y->data, outer, len, inner, scale, 0);
    if (ssm_needs_grad(c, &x, 1)) {
        ssm_node *n = ssm_record(c, name, sum_bw, y, &x, 1);
        n->i[0] = outer;
        n->i[1] = len;
        n->i[2] = inner;
        n->f[0] = scale;
    }
    return y;
}

ssm_tensor *ssm_sum(ssm_ctx *c, ssm_tensor *x, int axis, int keepdim) {
    return reduce(c, x, axis, keepdim, 0, "sum");
}

ssm_tensor *ssm_mean(ssm_ctx *c, ssm_tensor *x, int axis, int keepdim) {
    return reduce(c, x, axis, keepdim, 1, "mean");
}

ssm_tensor *ssm_sum_all(ssm_ctx *c, ssm_tensor *x) {
    return ssm_sum(c, ssm_reshape(c, x, SSM_DIMS(x->numel)), 0, 0);
}

/* i[0..2] outer, n, inner */
static void expand_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    ssm_kernels_for(x->device)->sum_axis(x->dtype, n->out->grad->data, ssm_grad(c, x)->data,
                                         n->i[0], n->i[1], n->i[2], 1.0, 1);
}

ssm_tensor *ssm_expand(ssm_ctx *c, ssm_tensor *x, int axis, int64_t n) {
    SSM_CHECK(axis >= 0 && axis <= x->ndim && x->ndim < SSM_MAX_DIMS && n >= 1,
              "expand: axis %d of %d dimensions, n = %lld", axis, x->ndim, (long long)n);
    int64_t shape[SSM_MAX_DIMS], outer = 1, inner = 1;
    for (int d = 0, k = 0; d <= x->ndim; d++) {
        if (d == axis) shape[d] = n;
        else shape[d] = x->shape[k++];
    }
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis; d < x->ndim; d++) inner *= x->shape[d];
    ssm_tensor *y = ssm_new_like_shape(c, x, x->ndim + 1, shape);
    const ssm_kernels *k = ssm_kernels_for(x->device);
    k->memset0(y->data, (size_t)y->numel * ssm_dtype_size(y->dtype));
    k->expand_axis(x->dtype, x->data, y->data, outer, n, inner, 1.0);
    if (ssm_needs_grad(c, &x, 1)) {
        ssm_node *nd = ssm_record(c, "expand", expand_bw, y, &x, 1);
        nd->i[0] = outer;
        nd->i[1] = n;
        nd->i[2] = inner;
    }
    return y;
}
