/* Elementwise ops: unary functions, scale, broadcasting binary ops, complex helpers. */
#include <stdio.h>
#include "log.h"
#include "ops.h"

void ssm_requires_grad(ssm_tensor *t) {
    t->flags |= SSM_T_REQUIRES_GRAD;
    if (!t->grad) {
        t->grad = ssm_tensor_like(NULL, t);
        ssm_tensor_zero(t->grad);
    }
}

static void unary_bw(ssm_ctx *c, ssm_node *n) {
    int acc;
    ssm_tensor *x = n->in[0], *dx = ssm_grad_w(c, x, &acc);
    ssm_kernels_for(x->device)->unary_bwd((ssm_unary_op)n->i[0], x->dtype, x->data, n->out->data,
                                          n->out->grad->data, dx->data, x->numel, acc);
}

static ssm_tensor *unary(ssm_ctx *c, ssm_tensor *x, ssm_unary_op op, const char *name) {
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    ssm_kernels_for(x->device)->unary(op, x->dtype, x->data, y->data, x->numel);
    if (ssm_needs_grad(c, &x, 1)) ssm_record(c, name, unary_bw, y, &x, 1)->i[0] = op;
    return y;
}

ssm_tensor *ssm_exp(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_EXP, "exp"); }
ssm_tensor *ssm_log(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_LOG, "log"); }
ssm_tensor *ssm_softplus(ssm_ctx *c, ssm_tensor *x) {
    return unary(c, x, SSM_UN_SOFTPLUS, "softplus");
}
ssm_tensor *ssm_sigmoid(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_SIGMOID, "sigmoid"); }
ssm_tensor *ssm_tanh(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_TANH, "tanh"); }
ssm_tensor *ssm_silu(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_SILU, "silu"); }
ssm_tensor *ssm_gelu(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_GELU_ERF, "gelu"); }
ssm_tensor *ssm_gelu_tanh(ssm_ctx *c, ssm_tensor *x) {
    return unary(c, x, SSM_UN_GELU_TANH, "gelu_tanh");
}
ssm_tensor *ssm_square(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_SQUARE, "square"); }
ssm_tensor *ssm_relu(ssm_ctx *c, ssm_tensor *x) { return unary(c, x, SSM_UN_RELU, "relu"); }

ssm_tensor *ssm_cexp(ssm_ctx *c, ssm_tensor *z) {
    SSM_CHECK(z->ndim >= 1 && z->shape[z->ndim - 1] == 2, "cexp: trailing dimension must be 2");
    return unary(c, z, SSM_UN_CEXP, "cexp");
}

static void scale_bw(ssm_ctx *c, ssm_node *n) {
    int acc;
    ssm_tensor *x = n->in[0], *dx = ssm_grad_w(c, x, &acc);
    ssm_kernels_for(x->device)->scale(x->dtype, n->out->grad->data, dx->data, x->numel, n->f[0],
                                      acc);
}

ssm_tensor *ssm_scale(ssm_ctx *c, ssm_tensor *x, double alpha) {
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    ssm_kernels_for(x->device)->scale(x->dtype, x->data, y->data, x->numel, alpha, 0);
    if (ssm_needs_grad(c, &x, 1)) ssm_record(c, "scale", scale_bw, y, &x, 1)->f[0] = alpha;
    return y;
}

/* 1 when s's shape, without its leading 1s, is a suffix of l's (s broadcasts over
 * l's leading dimensions); a one-element s broadcasts everywhere. */
static int is_suffix(const ssm_tensor *s, const ssm_tensor *l) {
    if (s->numel == 1) return 1;
    int nd = s->ndim, lead = 0;
    while (lead < nd && s->shape[lead] == 1) lead++;
    if (nd - lead > l->ndim) return 0;
    for (int i = 1; i <= nd - lead; i++)
        if (s->shape[s->ndim - i] != l->shape[l->ndim - i]) return 0;
    return 1;
}

static void binary_bw(ssm_ctx *c, ssm_node *n) {
    /* new gradients are stored, existing ones added to; for x op x the second request
     * finds the first's buffer, so db adds to the da just stored (the kernel runs da first) */
    int acc_a, acc_b;
    ssm_tensor *a = n->in[0], *b = n->in[1];
    ssm_tensor *da = ssm_grad_w(c, a, &acc_a), *db = ssm_grad_w(c, b, &acc_b);
    ssm_kernels_for(a->device)->binary_bwd((ssm_binary_op)n->i[0], a->dtype, a->data, a->numel,
                                           b->data, b->numel, n->out->grad->data,
                                           n->out->numel, da ? da->data : NULL,
                                           db ? db->data : NULL,
                                           (acc_a ? SSM_BIN_ACC_A : 0) | (acc_b ? SSM_BIN_ACC_B : 0));
}

static ssm_tensor *binary(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b, ssm_binary_op op,
                          const char *name) {
    ssm_tensor *in[2] = {a, b};
    const ssm_kernels *k = ssm_kernels_of(name, in, 2);
    SSM_CHECK(a->dtype == b->dtype, "%s: dtypes %s and %s", name, ssm_dtype_name(a->dtype),
              ssm_dtype_name(b->dtype));
    int a_big = a->numel > b->numel || (a->numel == b->numel && a->ndim >= b->ndim);
    const ssm_tensor *big = a_big ? a : b, *small = a_big ? b : a;
    if (!is_suffix(small, big)) {
        char sa[96], sb[96];
        ssm_panic("%s: shapes %s and %s do not broadcast (one must be a suffix of the other)",
                  name, ssm_tensor_describe(a, sa, sizeof sa), ssm_tensor_describe(b, sb, sizeof sb));
    }
    ssm_tensor *y = ssm_tensor_like(c->arena, big);
    k->binary(op, a->dtype, a->data, a->numel, b->data, b->numel, y->data, y->numel);
    if (ssm_needs_grad(c, in, 2)) ssm_record(c, name, binary_bw, y, in, 2)->i[0] = op;
    return y;
}

ssm_tensor *ssm_add(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    return binary(c, a, b, SSM_BIN_ADD, "add");
}
ssm_tensor *ssm_sub(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    return binary(c, a, b, SSM_BIN_SUB, "sub");
}
ssm_tensor *ssm_mul(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    return binary(c, a, b, SSM_BIN_MUL, "mul");
}
ssm_tensor *ssm_div(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    return binary(c, a, b, SSM_BIN_DIV, "div");
}
static int complex_pair(const ssm_tensor *a, const ssm_tensor *b) {
    return a->ndim >= 1 && b->ndim >= 1 && a->shape[a->ndim - 1] == 2 && b->shape[b->ndim - 1] == 2;
}

ssm_tensor *ssm_cmul(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    SSM_CHECK(complex_pair(a, b), "cmul: both operands need a trailing dimension of 2 (re, im)");
    return binary(c, a, b, SSM_BIN_CMUL, "cmul");
}

ssm_tensor *ssm_cdiv(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    SSM_CHECK(complex_pair(a, b), "cdiv: both operands need a trailing dimension of 2 (re, im)");
    return binary(c, a, b, SSM_BIN_CDIV, "cdiv");
}
