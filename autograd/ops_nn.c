/* Building blocks of the layers: embedding, dropout, GLU, causal depthwise
 * conv1d, FFT causal convolution. */
#include "log.h"
#include "ops.h"

/* i[0] n, i[1] dim, i[2] vocab */
static void embedding_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *W = n->in[0];
    ssm_kernels_for(W->device)->embedding_bwd(W->dtype, n->out->grad->data, n->in[1]->data,
                                              ssm_grad(c, W)->data, n->i[0], n->i[1], n->i[2]);
}

ssm_tensor *ssm_embedding(ssm_ctx *c, ssm_tensor *W, ssm_tensor *idx) {
    ssm_tensor *in[2] = {W, idx};
    const ssm_kernels *k = ssm_kernels_of("embedding", in, 2);
    SSM_CHECK(W->ndim == 2 && idx->dtype == SSM_I32 && idx->ndim < SSM_MAX_DIMS,
              "embedding: needs W [vocab, dim] and i32 indices of rank < %d", SSM_MAX_DIMS);
    int64_t shape[SSM_MAX_DIMS];
    for (int d = 0; d < idx->ndim; d++) shape[d] = idx->shape[d];
    shape[idx->ndim] = W->shape[1];
    ssm_tensor *y = ssm_new_like_shape(c, W, idx->ndim + 1, shape);
    k->embedding_fwd(W->dtype, W->data, idx->data, y->data, idx->numel, W->shape[1], W->shape[0]);
    if (ssm_needs_grad(c, &W, 1)) {
        ssm_node *n = ssm_record(c, "embedding", embedding_bw, y, in, 2);
        n->i[0] = idx->numel;
        n->i[1] = W->shape[1];
        n->i[2] = W->shape[0];
    }
    return y;
}

/* in: x (and r for dropout_add); f[0] p; i[0] Philox offset */
static void dropout_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0], *r = n->n_in > 1 ? n->in[1] : NULL;
    const ssm_kernels *k = ssm_kernels_for(x->device);
    int acc_x, acc_r; /* new gradients are stored, existing ones (r == x: dx) added to */
    void *dx = ssm_grad_data_w(c, x, &acc_x);
    if (dx) k->dropout_bwd(x->dtype, n->out->grad->data, dx, x->numel, n->f[0], c->seed,
                           (uint64_t)n->i[0], acc_x);
    void *dr = r ? ssm_grad_data_w(c, r, &acc_r) : NULL;
    if (dr) k->scale(x->dtype, n->out->grad->data, dr, x->numel, 1.0, acc_r);
}

static ssm_tensor *dropout(ssm_ctx *c, ssm_tensor *x, double p, ssm_tensor *r) {
    ssm_tensor *in[2] = {x, r};
    int n_in = r ? 2 : 1;
    uint64_t offset = ssm_ctx_take_counters(c, (uint64_t)x->numel);
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    ssm_kernels_of("dropout", in, n_in)->dropout_fwd(x->dtype, x->data, ssm_data_or_null(r),
                                                     y->data, x->numel, p, c->seed, offset);
    if (ssm_needs_grad(c, in, n_in)) {
        ssm_node *n = ssm_record(c, r ? "dropout_add" : "dropout", dropout_bw, y, in, n_in);
        n->f[0] = p;
        n->i[0] = (int64_t)offset;
    }
    return y;
}

ssm_tensor *ssm_dropout(ssm_ctx *c, ssm_tensor *x, double p) {
    SSM_CHECK(p >= 0 && p < 1, "dropout: p = %g outside [0, 1)", p);
    if (p == 0 || !c->training) return x;
    return dropout(c, x, p, NULL);
}

ssm_tensor *ssm_dropout_add(ssm_ctx *c, ssm_tensor *x, double p, ssm_tensor *r) {
    SSM_CHECK(p >= 0 && p < 1, "dropout_add: p = %g outside [0, 1)", p);
    char sx[96], sr[96];
    SSM_CHECK(ssm_same_shape(x, r) && x->dtype == r->dtype, "dropout_add: %s and %s differ",
              ssm_tensor_describe(x, sx, sizeof sx), ssm_tensor_describe(r, sr, sizeof sr));
    if (p == 0 || !c->training) return ssm_add(c, x, r);
    return dropout(c, x, p, r);
}

/* One keep/drop draw per (batch, channel), shared along L: a constant mask [B, H], expanded
 * over L and multiplied in (the product's backward is the mask's). */
ssm_tensor *ssm_dropout_tied(ssm_ctx *c, ssm_tensor *x, double p) {
    SSM_CHECK(x->ndim == 3, "dropout_tied: needs x [B, L, H], got rank %d", x->ndim);
    SSM_CHECK(p >= 0 && p < 1, "dropout_tied: p = %g outside [0, 1)", p);
    if (p == 0 || !c->training) return x;
    ssm_tensor *ones = ssm_new_like_shape(c, x, SSM_DIMS(x->shape[0], x->shape[2]));
    ssm_kernels_for(x->device)->fill(x->dtype, ones->data, ones->numel, 1.0);
    ssm_tensor *mask = ssm_dropout(c, ones, p); /* ones needs no gradient: nothing recorded */
    return ssm_mul(c, x, ssm_expand(c, mask, 1, x->shape[1]));
}

static void glu_bw(ssm_ctx *c, ssm_node *n) {
    int acc;
    ssm_tensor *x = n->in[0], *dx = ssm_grad_w(c, x, &acc);
    ssm_kernels_for(x->device)->glu_bwd(x->dtype, x->data, NULL, n->out->grad->data, dx->data,
                                        n->i[0], n->i[1], acc);
}

ssm_tensor *ssm_glu(ssm_ctx *c, ssm_tensor *x) {
    SSM_CHECK(x->ndim >= 1, "glu: needs at least one axis");
    int64_t last = x->shape[x->ndim - 1];
    SSM_CHECK(last % 2 == 0, "glu: last axis of size %lld is not even", (long long)last);
    int64_t shape[SSM_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = last / 2;
    ssm_tensor *y = ssm_new_like_shape(c, x, x->ndim, shape);
    int64_t rows = x->numel / last;
    ssm_kernels_for(x->device)->glu_fwd(x->dtype, x->data, NULL, y->data, rows, last / 2);
    if (ssm_needs_grad(c, &x, 1)) {
        ssm_node *n = ssm_record(c, "glu", glu_bw, y, &x, 1);
        n->i[0] = rows;
        n->i[1] = last / 2;
    }
    return y;
}

/* i[0..4] B, C, L, K, act */
static void conv1d_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    int acc;
    void *dx = ssm_grad_data_w(c, x, &acc);
    ssm_kernels_for(x->device)->conv1d_causal_bwd(
        x->dtype, x->data, n->in[1]->data, ssm_data_or_null(n->in[2]), n->out->grad->data, dx,
        ssm_grad_data(c, n->in[1]), ssm_grad_data(c, n->in[2]), n->i[0], n->i[1], n->i[2],
        n->i[3], (int)n->i[4], acc);
}

ssm_tensor *ssm_conv1d_causal(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, ssm_tensor *bias,
                              int silu) {
    ssm_tensor *in[3] = {x, w, bias};
    const ssm_kernels *k = ssm_kernels_of("conv1d_causal", in, 3);
    SSM_CHECK(x->ndim == 3 && w->ndim == 2 && w->shape[0] == x->shape[1] &&
                  (!bias || bias->numel == x->shape[1]),
              "conv1d_causal: needs x [B, C, L], w [C, K], bias [C]");
    SSM_CHECK(w->shape[1] >= 1 && w->shape[1] <= SSM_CONV_MAX_K,
              "conv1d_causal: kernel size %lld (1 to %d)", (long long)w->shape[1], SSM_CONV_MAX_K);
    int64_t B = x->shape[0], C = x->shape[1], L = x->shape[2], K = w->shape[1];
    ssm_tensor *y = ssm_tensor_like(c->arena, x);
    k->conv1d_causal_fwd(x->dtype, x->data, w->data, ssm_data_or_null(bias), y->data, B, C, L, K,
                         silu);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "conv1d_causal", conv1d_bw, y, in, 3);
        n->i[0] = B;
        n->i[1] = C;
        n->i[2] = L;
        n->i[3] = K;
        n->i[4] = silu;
    }
    return y;
}

/* in: u, k, D (may be NULL); i[0..3] B, H, L, Lk; i[4] channels-last; saved[0]: u's
 * spectrum from the forward (NULL: recomputed) */
static void fft_conv_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *u = n->in[0], *k = n->in[1], *D = n->in[2];
    int acc_du;
    void *du = ssm_grad_data_w(c, u, &acc_du);
    ssm_kernels_for(u->device)->fft_conv_bwd(u->dtype, u->data, k->data, ssm_data_or_null(D),
                                             n->out->grad->data, du, ssm_grad_data(c, k),
                                             ssm_grad_data(c, D), n->i[0], n->i[1], n->i[2],
                                             n->i[3], (int)n->i[4], ssm_data_or_null(n->saved[0]),
                                             acc_du);
}

static ssm_tensor *fft_conv(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k, ssm_tensor *D, int cl) {
    ssm_tensor *in[3] = {u, k, D};
    const ssm_kernels *kt = ssm_kernels_of("fft_conv", in, 3);
    int ax_h = cl ? 2 : 1, ax_l = cl ? 1 : 2;
    SSM_CHECK(u->ndim == 3, "fft_conv: u must have 3 dimensions");
    SSM_CHECK(!D || (D->numel == u->shape[ax_h] && D->dtype == u->dtype),
              "fft_conv: D must have H elements");
    SSM_CHECK(k->ndim == 2 && k->shape[0] == u->shape[ax_h] &&
                  (k->shape[1] == u->shape[ax_l] || k->shape[1] == 2 * u->shape[ax_l]),
              "fft_conv: needs u %s and k [H, L] or [H, 2L]", cl ? "[B, L, H]" : "[B, H, L]");
    int64_t B = u->shape[0], H = u->shape[ax_h], L = u->shape[ax_l], Lk = k->shape[1];
    ssm_tensor *y = ssm_tensor_like(c->arena, u);
    /* dk needs u's spectrum: kept from the forward where the backend can (memory for a
     * transform of u less in the backward) */
    int64_t sf = ssm_needs_grad(c, &k, 1) ? kt->fft_conv_spec_floats(B, H, L) : 0;
    ssm_tensor *spec = sf ? ssm_tensor_arena(c->arena, SSM_F32, u->device, SSM_DIMS(sf)) : NULL;
    kt->fft_conv_fwd(u->dtype, u->data, k->data, ssm_data_or_null(D), y->data, B, H, L, Lk, cl,
                     spec ? spec->data : NULL);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "fft_conv", fft_conv_bw, y, in, 3);
        n->saved[0] = spec;
        n->i[0] = B;
        n->i[1] = H;
        n->i[2] = L;
        n->i[3] = Lk;
        n->i[4] = cl;
    }
    return y;
}

ssm_tensor *ssm_fft_conv(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k) {
    return fft_conv(c, u, k, NULL, 0);
}

ssm_tensor *ssm_fft_conv_skip(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k, ssm_tensor *D) {
    return fft_conv(c, u, k, D, 0);
}

ssm_tensor *ssm_fft_conv_skip_cl(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k, ssm_tensor *D) {
    return fft_conv(c, u, k, D, 1);
}
