/* SSM kernel generation ops: each is one fused kernel-table entry with its own
 * backward, because they are the hot path of the S4 family. */
#include "log.h"
#include "ops.h"

/* i[0] disc, i[1..3] H, N2, L */
static void vandermonde_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *dt = n->in[0], *A = n->in[1], *C = n->in[2];
    ssm_kernels_for(dt->device)->vandermonde_bwd(
        dt->dtype, (int)n->i[0], dt->data, A->data, C->data, n->out->grad->data,
        ssm_grad_data(c, dt), ssm_grad_data(c, A), ssm_grad_data(c, C), n->i[1], n->i[2], n->i[3]);
}

ssm_tensor *ssm_vandermonde(ssm_ctx *c, ssm_tensor *dt, ssm_tensor *A, ssm_tensor *C, int64_t L,
                            int disc) {
    ssm_tensor *in[3] = {dt, A, C};
    const ssm_kernels *k = ssm_kernels_of("vandermonde", in, 3);
    int64_t H = dt->numel;
    SSM_CHECK(A->ndim == 3 && A->shape[0] == H && A->shape[2] == 2 && ssm_same_shape(A, C) &&
                  L >= 1 && (disc == 0 || disc == 1),
              "vandermonde: needs dt [H], A and C [H, N2, 2], L >= 1, disc 0 or 1");
    int64_t N2 = A->shape[1];
    ssm_tensor *K = ssm_new_like_shape(c, dt, SSM_DIMS(H, L));
    k->vandermonde_fwd(dt->dtype, disc, dt->data, A->data, C->data, K->data, H, N2, L);
    if (ssm_needs_grad(c, in, 3)) {
        ssm_node *n = ssm_record(c, "vandermonde", vandermonde_bw, K, in, 3);
        n->i[0] = disc;
        n->i[1] = H;
        n->i[2] = N2;
        n->i[3] = L;
    }
    return K;
}

/* i[0..3] S, H, N2, K */
static void cauchy_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *v = n->in[0], *w = n->in[1], *z = n->in[2];
    ssm_kernels_for(v->device)->cauchy_bwd(v->dtype, v->data, w->data, z->data,
                                           n->out->grad->data, ssm_grad_data(c, v),
                                           ssm_grad_data(c, w), n->i[0], n->i[1], n->i[2], n->i[3]);
}

ssm_tensor *ssm_cauchy(ssm_ctx *c, ssm_tensor *v, ssm_tensor *w, ssm_tensor *z) {
    ssm_tensor *in[3] = {v, w, z};
    const ssm_kernels *k = ssm_kernels_of("cauchy", in, 3);
    SSM_CHECK(v->ndim == 4 && v->shape[3] == 2 && w->ndim == 3 && w->shape[0] == v->shape[1] &&
                  w->shape[1] == v->shape[2] && w->shape[2] == 2 && z->ndim == 2 &&
                  z->shape[1] == 2 && v->shape[0] <= SSM_CAUCHY_MAX_S,
              "cauchy: needs v [S <= %d, H, N2, 2], w [H, N2, 2], z [K, 2]", SSM_CAUCHY_MAX_S);
    SSM_CHECK(!(z->flags & SSM_T_REQUIRES_GRAD), "cauchy: the nodes z are constants");
    int64_t S = v->shape[0], H = v->shape[1], N2 = v->shape[2], K = z->shape[0];
    ssm_tensor *r = ssm_new_like_shape(c, v, SSM_DIMS(S, H, K, 2));
    k->cauchy_fwd(v->dtype, v->data, w->data, z->data, r->data, S, H, N2, K);
    if (ssm_needs_grad(c, in, 2)) {
        ssm_node *n = ssm_record(c, "cauchy", cauchy_bw, r, in, 3);
        n->i[0] = S;
        n->i[1] = H;
        n->i[2] = N2;
        n->i[3] = K;
    }
    return r;
}

/* i[0] R, i[1] n */
static void irfft_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *X = n->in[0];
    ssm_kernels_for(X->device)->irfft_bwd(X->dtype, n->out->grad->data, ssm_grad(c, X)->data,
                                          n->i[0], n->i[1]);
}

ssm_tensor *ssm_irfft(ssm_ctx *c, ssm_tensor *X, int64_t n) {
    SSM_CHECK(X->ndim >= 2 && X->shape[X->ndim - 1] == 2 && X->shape[X->ndim - 2] == n / 2 + 1,
              "irfft: needs X [..., n/2 + 1, 2] for n = %lld", (long long)n);
    int64_t R = X->numel / (2 * (n / 2 + 1)), shape[SSM_MAX_DIMS];
    for (int d = 0; d < X->ndim - 2; d++) shape[d] = X->shape[d];
    shape[X->ndim - 2] = n;
    ssm_tensor *y = ssm_new_like_shape(c, X, X->ndim - 1, shape);
    ssm_kernels_for(X->device)->irfft_fwd(X->dtype, X->data, y->data, R, n);
    if (ssm_needs_grad(c, &X, 1)) {
        ssm_node *nd = ssm_record(c, "irfft", irfft_bw, y, &X, 1);
        nd->i[0] = R;
        nd->i[1] = n;
    }
    return y;
}

/* i[0..2] B, L, P2, i[3] reverse; the rule reads the output x (the states) */
static void s5_scan_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *lam = n->in[0], *Bu = n->in[1];
    ssm_kernels_for(lam->device)->s5_scan_bwd(lam->dtype, lam->data, n->out->data,
                                              n->out->grad->data, ssm_grad_data(c, lam),
                                              ssm_grad_data(c, Bu), n->i[0], n->i[1], n->i[2],
                                              (int)n->i[3]);
}

ssm_tensor *ssm_s5_scan(ssm_ctx *c, ssm_tensor *Lambda_bar, ssm_tensor *Bu, int reverse) {
    ssm_tensor *in[2] = {Lambda_bar, Bu};
    const ssm_kernels *k = ssm_kernels_of("s5_scan", in, 2);
    char sl[96], sb[96];
    SSM_CHECK(Lambda_bar->ndim == 2 && Lambda_bar->shape[1] == 2 && Bu->ndim == 4 &&
                  Bu->shape[2] == Lambda_bar->shape[0] && Bu->shape[3] == 2 &&
                  Lambda_bar->dtype == Bu->dtype && (reverse == 0 || reverse == 1),
              "s5_scan: needs Lambda_bar [P2, 2] and Bu [B, L, P2, 2] of one dtype, reverse 0 or "
              "1; got %s and %s",
              ssm_tensor_describe(Lambda_bar, sl, sizeof sl), ssm_tensor_describe(Bu, sb, sizeof sb));
    int64_t B = Bu->shape[0], L = Bu->shape[1], P2 = Bu->shape[2];
    ssm_tensor *x = ssm_new_like_shape(c, Bu, 4, Bu->shape);
    k->s5_scan_fwd(Bu->dtype, Lambda_bar->data, Bu->data, x->data, B, L, P2, reverse);
    if (ssm_needs_grad(c, in, 2)) {
        ssm_node *n = ssm_record(c, "s5_scan", s5_scan_bw, x, in, 2);
        n->i[0] = B;
        n->i[1] = L;
        n->i[2] = P2;
        n->i[3] = reverse;
    }
    return x;
}
