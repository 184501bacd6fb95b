/* Normalisation ops: LayerNorm and RMSNorm over the last axis, BatchNorm1d per channel. */
#include "log.h"
#include "ops.h"

static int64_t last_dim(const ssm_tensor *x) { return x->ndim ? x->shape[x->ndim - 1] : 1; }

static void check_affine(const char *op, const ssm_tensor *x, const ssm_tensor *p) {
    SSM_CHECK(!p || (p->numel == last_dim(x) && p->dtype == x->dtype),
              "%s: parameter of %lld elements for a last axis of %lld", op,
              (long long)(p ? p->numel : 0), (long long)last_dim(x));
}

/* saved: [0] mean, [1] rstd; i[0] rows, i[1] dim */
static void layernorm_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    int acc; /* dx: stored when new */
    void *dx = ssm_grad_data_w(c, x, &acc);
    ssm_kernels_for(x->device)->layernorm_bwd(
        x->dtype, x->data, ssm_data_or_null(n->in[1]), n->saved[0]->data, n->saved[1]->data,
        n->out->grad->data, dx, ssm_grad_data(c, n->in[1]), ssm_grad_data(c, n->in[2]), n->i[0],
        n->i[1], acc);
}

ssm_tensor *ssm_layernorm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, ssm_tensor *b, double eps) {
    ssm_tensor *in[3] = {x, w, b};
    const ssm_kernels *k = ssm_kernels_of("layernorm", in, 3);
    check_affine("layernorm", x, w);
    check_affine("layernorm", x, b);
    int64_t dim = last_dim(x), rows = x->numel / dim;
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    ssm_tensor *mean = ssm_new_like_shape(c, x, SSM_DIMS(rows));
    ssm_tensor *rstd = ssm_new_like_shape(c, x, SSM_DIMS(rows));
    k->layernorm_fwd(x->dtype, x->data, ssm_data_or_null(w), ssm_data_or_null(b), y->data, mean->data,
                     rstd->data, rows, dim, eps);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "layernorm", layernorm_bw, y, in, 3);
        n->saved[0] = mean;
        n->saved[1] = rstd;
        n->i[0] = rows;
        n->i[1] = dim;
    }
    return y;
}

static void rmsnorm_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    int acc;
    void *dx = ssm_grad_data_w(c, x, &acc);
    ssm_kernels_for(x->device)->rmsnorm_bwd(x->dtype, x->data, ssm_data_or_null(n->in[1]),
                                            n->saved[0]->data, n->out->grad->data, dx,
                                            ssm_grad_data(c, n->in[1]), n->i[0], n->i[1], acc);
}

ssm_tensor *ssm_rmsnorm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, double eps) {
    ssm_tensor *in[2] = {x, w};
    const ssm_kernels *k = ssm_kernels_of("rmsnorm", in, 2);
    check_affine("rmsnorm", x, w);
    int64_t dim = last_dim(x), rows = x->numel / dim;
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    ssm_tensor *rstd = ssm_new_like_shape(c, x, SSM_DIMS(rows));
    k->rmsnorm_fwd(x->dtype, x->data, ssm_data_or_null(w), y->data, rstd->data, rows, dim, eps);
    if (ssm_needs_grad(c, in, 2)) {
        ssm_node *n = ssm_record(c, "rmsnorm", rmsnorm_bw, y, in, 2);
        n->saved[0] = rstd;
        n->i[0] = rows;
        n->i[1] = dim;
    }
    return y;
}

/* saved: [0] mean, [1] invstd; i[0] rows, i[1] C, i[2] training */
static void batchnorm_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    int acc;
    void *dx = ssm_grad_data_w(c, x, &acc);
    ssm_kernels_for(x->device)->batchnorm_bwd(
        x->dtype, x->data, ssm_data_or_null(n->in[1]), n->saved[0]->data, n->saved[1]->data,
        n->out->grad->data, dx, ssm_grad_data(c, n->in[1]), ssm_grad_data(c, n->in[2]), n->i[0],
        n->i[1], (int)n->i[2], acc);
}

ssm_tensor *ssm_batchnorm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, ssm_tensor *b,
                          ssm_tensor *running_mean, ssm_tensor *running_var, double eps,
                          double momentum) {
    ssm_tensor *in[3] = {x, w, b};
    const ssm_kernels *k = ssm_kernels_of("batchnorm", in, 3);
    check_affine("batchnorm", x, w);
    check_affine("batchnorm", x, b);
    check_affine("batchnorm", x, running_mean);
    check_affine("batchnorm", x, running_var);
    SSM_CHECK(c->training || (running_mean && running_var),
              "batchnorm: evaluation mode needs running statistics");
    int64_t C = last_dim(x), rows = x->numel / C;
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    ssm_tensor *mean = ssm_new_like_shape(c, x, SSM_DIMS(C));
    ssm_tensor *invstd = ssm_new_like_shape(c, x, SSM_DIMS(C));
    k->batchnorm_fwd(x->dtype, x->data, ssm_data_or_null(w), ssm_data_or_null(b), y->data, mean->data,
                     invstd->data, running_mean ? running_mean->data : NULL,
                     running_var ? running_var->data : NULL, rows, C, eps, momentum, c->training);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "batchnorm", batchnorm_bw, y, in, 3);
        n->saved[0] = mean;
        n->saved[1] = invstd;
        n->i[0] = rows;
        n->i[1] = C;
        n->i[2] = c->training;
    }
    return y;
}
