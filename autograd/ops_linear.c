/* Matrix products: batched matmul and torch.nn.Linear. */
#include "log.h"
#include "ops.h"

static int64_t batch_of(const ssm_tensor *t) {
    int64_t b = 1;
    for (int d = 0; d < t->ndim - 2; d++) b *= t->shape[d];
    return b;
}

/* A new per-step tensor of x's shape with its last dimension `last` (the products'
 * outputs); out-of-memory messages name the calling op, as ssm_new_like_shape's do. */
static ssm_tensor *new_last_dim_at(ssm_ctx *c, const ssm_tensor *x, int64_t last,
                                   const char *fn) {
    int64_t shape[SSM_MAX_DIMS];
    for (int d = 0; d < x->ndim - 1; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = last;
    return ssm_new_like_shape_at(c, x, x->ndim, shape, fn);
}
#define new_last_dim(c, x, last) new_last_dim_at(c, x, last, __func__)

/* node: i[0] batch, i[1] m, i[2] k, i[3] n, i[4] b shared (2-D) */
static void matmul_bw(ssm_ctx *c, ssm_node *n) {
    int acc_a, acc_b; /* a new gradient is stored (beta 0), an existing one added to */
    ssm_tensor *a = n->in[0], *b = n->in[1], *da = ssm_grad_w(c, a, &acc_a);
    ssm_tensor *db = ssm_grad_w(c, b, &acc_b);
    const ssm_kernels *k = ssm_kernels_for(a->device);
    int64_t B = n->i[0], M = n->i[1], K = n->i[2], N = n->i[3];
    const void *dy = n->out->grad->data;
    int64_t sb = n->i[4] ? 0 : K * N;
    if (da) /* da = dy @ b^T */
        k->gemm(a->dtype, 0, 1, M, K, N, 1.0, dy, N, M * N, b->data, N, sb, acc_a, da->data, K,
                M * K, B);
    if (db) {
        if (n->i[4]) /* shared b: db = sum over batches = a_flat^T @ dy_flat */
            k->gemm(a->dtype, 1, 0, K, N, B * M, 1.0, a->data, K, 0, dy, N, 0, acc_b, db->data, N,
                    0, 1);
        else
            k->gemm(a->dtype, 1, 0, K, N, M, 1.0, a->data, K, M * K, dy, N, M * N, acc_b, db->data,
                    N, K * N, B);
    }
}

ssm_tensor *ssm_matmul(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b) {
    ssm_tensor *in[2] = {a, b};
    const ssm_kernels *k = ssm_kernels_of("matmul", in, 2);
    char sa[96], sb[96];
    SSM_CHECK(a->ndim >= 2 && b->ndim >= 2 && a->shape[a->ndim - 1] == b->shape[b->ndim - 2] &&
                  (b->ndim == 2 || (b->ndim == a->ndim && batch_of(a) == batch_of(b))),
              "matmul: shapes %s and %s do not multiply", ssm_tensor_describe(a, sa, sizeof sa),
              ssm_tensor_describe(b, sb, sizeof sb));
    int64_t B = batch_of(a), M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1];
    int64_t N = b->shape[b->ndim - 1];
    ssm_tensor *y = new_last_dim(c, a, N);
    int shared = b->ndim == 2;
    k->gemm(a->dtype, 0, 0, M, N, K, 1.0, a->data, K, M * K, b->data, N, shared ? 0 : K * N, 0.0,
            y->data, N, M * N, B);
    if (ssm_needs_grad(c, in, 2)) {
        ssm_node *n = ssm_record(c, "matmul", matmul_bw, y, in, 2);
        n->i[0] = B;
        n->i[1] = M;
        n->i[2] = K;
        n->i[3] = N;
        n->i[4] = shared;
    }
    return y;
}

/* node: i[0] rows, i[1] in, i[2] out */
/* dx += dy W (stored when dx is new), dW += dy^T x, db += the column sums of dy
 * (y = x W^T + b, [R, O]) */
static void linear_grads(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias,
                         const void *dy, int64_t R, int64_t I, int64_t O) {
    int acc;
    ssm_tensor *dx = ssm_grad_w(c, x, &acc), *dW = ssm_grad(c, W), *db = ssm_grad(c, bias);
    const ssm_kernels *k = ssm_kernels_for(x->device);
    if (dx) k->gemm(x->dtype, 0, 0, R, I, O, 1.0, dy, O, 0, W->data, I, 0, acc, dx->data, I, 0, 1);
    if (dW) k->gemm(x->dtype, 1, 0, O, I, R, 1.0, dy, O, 0, x->data, I, 0, 1.0, dW->data, I, 0, 1);
    if (db) k->sum_axis(x->dtype, dy, db->data, 1, R, O, 1.0, 1);
}

static void linear_bw(ssm_ctx *c, ssm_node *n) {
    linear_grads(c, n->in[0], n->in[1], n->in[2], n->out->grad->data, n->i[0], n->i[1], n->i[2]);
}

ssm_tensor *ssm_linear(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias) {
    ssm_tensor *in[3] = {x, W, bias};
    const ssm_kernels *k = ssm_kernels_of("linear", in, 3);
    char sx[96], sw[96];
    int64_t I = x->shape[x->ndim - 1], O = W->shape[0], R = x->numel / (I ? I : 1);
    SSM_CHECK(W->ndim == 2 && W->shape[1] == I && (!bias || (bias->ndim == 1 && bias->shape[0] == O)),
              "linear: input %s, weight %s (expected [out, %lld]) and bias do not match",
              ssm_tensor_describe(x, sx, sizeof sx), ssm_tensor_describe(W, sw, sizeof sw),
              (long long)I);
    ssm_tensor *y = new_last_dim(c, x, O);
    k->gemm(x->dtype, 0, 1, R, O, I, 1.0, x->data, I, 0, W->data, I, 0, 0.0, y->data, O, 0, 1);
    if (bias) k->binary(SSM_BIN_ADD, x->dtype, y->data, y->numel, bias->data, O, y->data, y->numel);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "linear", linear_bw, y, in, 3);
        n->i[0] = R;
        n->i[1] = I;
        n->i[2] = O;
    }
    return y;
}

/* --- GLU(x W^T + b): the bias is added inside the GLU kernels, so the [R, 2H] product
 * gets no pass of its own for it (S4 and S4D's output linear) ---
 * node: in x, W, b; saved[0] z = x W^T (no bias); i[0] R, i[1] I, i[2] O = 2 half */
static void linear_glu_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0], *z = n->saved[0];
    const int64_t R = n->i[0], O = n->i[2];
    ssm_tensor *dz = ssm_tensor_arena(c->arena, z->dtype, z->device, SSM_DIMS(R, O));
    const ssm_kernels *k = ssm_kernels_for(x->device);
    k->glu_bwd(z->dtype, z->data, ssm_data_or_null(n->in[2]), n->out->grad->data, dz->data, R,
               O / 2, 0); /* stored: dz needs no zeroing */
    linear_grads(c, x, n->in[1], n->in[2], dz->data, R, n->i[1], O);
}

ssm_tensor *ssm_linear_glu(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias) {
    ssm_tensor *in[3] = {x, W, bias};
    const ssm_kernels *k = ssm_kernels_of("linear_glu", in, 3);
    char sx[96], sw[96];
    int64_t I = x->shape[x->ndim - 1], O = W->shape[0], R = x->numel / (I ? I : 1);
    SSM_CHECK(W->ndim == 2 && W->shape[1] == I && O % 2 == 0 &&
                  (!bias || (bias->ndim == 1 && bias->shape[0] == O)),
              "linear_glu: input %s, weight %s (expected [2H, %lld]) and bias do not match",
              ssm_tensor_describe(x, sx, sizeof sx), ssm_tensor_describe(W, sw, sizeof sw),
              (long long)I);
    ssm_tensor *z = ssm_tensor_arena(c->arena, x->dtype, x->device, SSM_DIMS(R, O));
    k->gemm(x->dtype, 0, 1, R, O, I, 1.0, x->data, I, 0, W->data, I, 0, 0.0, z->data, O, 0, 1);
    ssm_tensor *y = new_last_dim(c, x, O / 2);
    k->glu_fwd(x->dtype, z->data, ssm_data_or_null(bias), y->data, R, O / 2);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "linear_glu", linear_glu_bw, y, in, 3);
        n->saved[0] = z;
        n->i[0] = R;
        n->i[1] = I;
        n->i[2] = O;
    }
    return y;
}

/* --- linear with channel-major operands (Mamba's layout: [B, channels, L]) ---
 * Per batch b, in row terms Yr = Xr W^T with Xr [L, I], Yr [L, O]; a channel-major
 * operand is stored transposed (Xc = Xr^T [I, L], Yc = Yr^T [O, L]), which the GEMM
 * reads or writes through its transpose flags instead of a copy.
 * node: i[0] B, i[1] L, i[2] I, i[3] O, i[4] in_cm, i[5] out_cm */

/* x (as Xr_b) for a GEMM: transpose flag and leading dimension */
static void xr_operand(int in_cm, int64_t L, int64_t I, int *trans, int64_t *ld) {
    *trans = in_cm;
    *ld = in_cm ? L : I;
}

static void linear_cm_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0], *W = n->in[1], *bias = n->in[2];
    int acc; /* dx: stored when new (GEMM beta 0), else added to */
    ssm_tensor *dx = ssm_grad_w(c, x, &acc), *dW = ssm_grad(c, W), *db = ssm_grad(c, bias);
    const ssm_kernels *k = ssm_kernels_for(x->device);
    int64_t B = n->i[0], L = n->i[1], I = n->i[2], O = n->i[3];
    int in_cm = (int)n->i[4], out_cm = (int)n->i[5];
    const char *dy = n->out->grad->data;
    if (dx) {
        if (!in_cm) /* dXr [L, I] = dYr W, dYr = dYc^T when out_cm */
            k->gemm(x->dtype, out_cm, 0, L, I, O, 1.0, dy, out_cm ? L : O, L * O, W->data, I, 0,
                    acc, dx->data, I, L * I, B);
        else /* dXc [I, L] = W^T dYc, dYc = dYr^T when !out_cm */
            k->gemm(x->dtype, 1, !out_cm, I, L, O, 1.0, W->data, I, 0, dy, out_cm ? L : O, L * O,
                    acc, dx->data, L, L * I, B);
    }
    if (dW) { /* dW [O, I] = sum_b dYr_b^T Xr_b */
        int tx;
        int64_t ldx;
        xr_operand(in_cm, L, I, &tx, &ldx);
        /* The batch's products cannot be one GEMM in this layout: one batched GEMM into
         * [B, O, I], then a sum over b. One [O, I] product at a time has too few output
         * tiles to fill a GPU (1536 x 768 is 72 tiles of 128^2 on 132 SMs); on the CPU
         * the two forms measured the same. */
        ssm_tensor *part = B > 1 ? ssm_tensor_arena(c->arena, x->dtype, x->device,
                                                    SSM_DIMS(B, O, I))
                                 : dW;
        k->gemm(x->dtype, !out_cm, tx, O, I, L, 1.0, dy, out_cm ? L : O, L * O, x->data, ldx,
                L * I, B > 1 ? 0.0 : 1.0, part->data, I, O * I, B);
        if (B > 1) k->sum_axis(x->dtype, part->data, dW->data, 1, B, O * I, 1.0, 1);
    }
    if (db) k->sum_axis(x->dtype, dy, db->data, 1, B * L, O, 1.0, 1);
}

ssm_tensor *ssm_linear_cm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias, int in_cm,
                          int out_cm) {
    ssm_tensor *in[3] = {x, W, bias};
    const ssm_kernels *k = ssm_kernels_of("linear_cm", in, 3);
    char sx[96], sw[96];
    SSM_CHECK(x->ndim == 3 && W->ndim == 2 && W->shape[1] == x->shape[in_cm ? 1 : 2],
              "linear_cm: input %s (%s) and weight %s do not match",
              ssm_tensor_describe(x, sx, sizeof sx), in_cm ? "[B, in, L]" : "[B, L, in]",
              ssm_tensor_describe(W, sw, sizeof sw));
    SSM_CHECK(!bias || (!out_cm && bias->ndim == 1 && bias->shape[0] == W->shape[0]),
              "linear_cm: a bias needs a [B, L, out] output of %lld channels",
              (long long)W->shape[0]);
    int64_t B = x->shape[0], L = x->shape[in_cm ? 2 : 1], I = W->shape[1], O = W->shape[0];
    int64_t ys[3] = {B, out_cm ? O : L, out_cm ? L : O};
    ssm_tensor *y = ssm_new_like_shape(c, x, 3, ys);
    int tx;
    int64_t ldx;
    xr_operand(in_cm, L, I, &tx, &ldx);
    if (!out_cm) /* Yr [L, O] = Xr W^T */
        k->gemm(x->dtype, tx, 1, L, O, I, 1.0, x->data, ldx, L * I, W->data, I, 0, 0.0, y->data,
                O, L * O, B);
    else /* Yc [O, L] = W Xr^T */
        k->gemm(x->dtype, 0, !tx, O, L, I, 1.0, W->data, I, 0, x->data, ldx, L * I, 0.0, y->data,
                L, L * O, B);
    if (bias) k->binary(SSM_BIN_ADD, x->dtype, y->data, y->numel, bias->data, O, y->data, y->numel);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "linear_cm", linear_cm_bw, y, in, 3);
        n->i[0] = B;
        n->i[1] = L;
        n->i[2] = I;
        n->i[3] = O;
        n->i[4] = in_cm;
        n->i[5] = out_cm;
    }
    return y;
}
