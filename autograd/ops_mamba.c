/* Mamba's selective scan: one fused kernel-table entry with its own backward.
 *
 * Two outputs, one saved context. The tape has one output per node, so the op
 * records the scan node for y, which runs the whole fused backward, and, when the
 * caller asks for last_state, a second node for last_state recorded right after it
 * (its only input is y). Walking the tape in reverse, every consumer of either output
 * runs first (they were all recorded later); then the last_state node, whose only job
 * is to give y a zero gradient buffer when nothing flowed into y, so that the scan
 * node is not skipped; then the scan node, which reads y's gradient and last_state's
 * (NULL when none flowed) and calls selective_scan_bwd once. Nothing is copied: the
 * alternative, one output holding y and last_state side by side and sliced apart,
 * would copy y forward and backward. */
#include "log.h"
#include "ops.h"

enum { IN_U, IN_DELTA, IN_A, IN_B, IN_C, IN_D, IN_Z, IN_DBIAS, N_IN };

/* i[0..4] batch, d_inner, d_state, L, chunk; saved[0] x_chunks, saved[1] last_state or NULL */
static void scan_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor **in = n->in, *ls = n->saved[1];
    int au, ad, az; /* new per-position gradients are stored, existing ones added to */
    void *du = ssm_grad_data_w(c, in[IN_U], &au), *ddelta = ssm_grad_data_w(c, in[IN_DELTA], &ad);
    void *dz = ssm_grad_data_w(c, in[IN_Z], &az);
    ssm_kernels_for(in[IN_U]->device)
        ->selective_scan_bwd(in[IN_U]->dtype, in[IN_U]->data, in[IN_DELTA]->data, in[IN_A]->data,
                             in[IN_B]->data, in[IN_C]->data, ssm_data_or_null(in[IN_D]),
                             ssm_data_or_null(in[IN_Z]), ssm_data_or_null(in[IN_DBIAS]),
                             n->saved[0]->data, n->out->grad->data,
                             ls && ls->grad ? ls->grad->data : NULL, du, ddelta,
                             ssm_grad_data(c, in[IN_A]), ssm_grad_data(c, in[IN_B]),
                             ssm_grad_data(c, in[IN_C]), ssm_grad_data(c, in[IN_D]), dz,
                             ssm_grad_data(c, in[IN_DBIAS]), n->i[0], n->i[1], n->i[2], n->i[3],
                             n->i[4],
                             (au ? SSM_SCAN_ACC_DU : 0) | (ad ? SSM_SCAN_ACC_DDELTA : 0) |
                                 (az ? SSM_SCAN_ACC_DZ : 0));
}

/* in[0] = y: make sure the scan node runs when only last_state received a gradient */
static void last_state_bw(ssm_ctx *c, ssm_node *n) { (void)ssm_grad(c, n->in[0]); }

static int has_shape(const ssm_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d]) return 0;
    return 1;
}

static void check_input(const char *what, const ssm_tensor *t, const ssm_tensor *u, int ndim,
                        const int64_t *shape) {
    char a[96], b[96];
    if (!t) return;
    SSM_CHECK(t->dtype == u->dtype, "selective_scan: %s is %s, u is %s", what,
              ssm_dtype_name(t->dtype), ssm_dtype_name(u->dtype));
    if (!has_shape(t, ndim, shape)) {
        ssm_tensor e = {.ndim = ndim, .dtype = t->dtype, .device = t->device};
        for (int d = 0; d < ndim; d++) e.shape[d] = shape[d];
        ssm_panic("selective_scan: %s is %s, expected %s (u is [batch, d_inner, L], A "
                  "[d_inner, d_state])", what, ssm_tensor_describe(t, a, sizeof a),
                  ssm_tensor_describe(&e, b, sizeof b));
    }
}

ssm_tensor *ssm_selective_scan(ssm_ctx *c, ssm_tensor *u, ssm_tensor *delta, ssm_tensor *A,
                               ssm_tensor *B, ssm_tensor *C, ssm_tensor *D, ssm_tensor *z,
                               ssm_tensor *delta_bias, ssm_tensor **last_state, int64_t chunk) {
    ssm_tensor *in[N_IN] = {u, delta, A, B, C, D, z, delta_bias};
    SSM_CHECK(u && delta && A && B && C, "selective_scan: u, delta, A, B and C are required");
    const ssm_kernels *k = ssm_kernels_of("selective_scan", in, N_IN);
    SSM_CHECK(u->ndim == 3 && A->ndim == 2 && u->shape[2] >= 1,
              "selective_scan: needs u [batch, d_inner, L >= 1] and A [d_inner, d_state]");
    SSM_CHECK(u->dtype == SSM_F32 || u->dtype == SSM_F64, "selective_scan: u must be f32 or f64");
    const int64_t Bn = u->shape[0], Di = u->shape[1], L = u->shape[2], N = A->shape[1];
    SSM_CHECK(N >= 1 && N <= SSM_SCAN_MAX_STATE, "selective_scan: d_state %lld (at most %d)",
              (long long)N, SSM_SCAN_MAX_STATE);
    check_input("delta", delta, u, SSM_DIMS(Bn, Di, L));
    check_input("z", z, u, SSM_DIMS(Bn, Di, L));
    check_input("A", A, u, SSM_DIMS(Di, N));
    check_input("B", B, u, SSM_DIMS(Bn, N, L));
    check_input("C", C, u, SSM_DIMS(Bn, N, L));
    check_input("D", D, u, SSM_DIMS(Di));
    check_input("delta_bias", delta_bias, u, SSM_DIMS(Di));
    if (chunk <= 0) chunk = SSM_SCAN_CHUNK_DEFAULT;
    if (chunk > L) chunk = L; /* one chunk: one saved state per channel */
    const int64_t nc = (L + chunk - 1) / chunk;
    const int grad = ssm_needs_grad(c, in, N_IN);
    ssm_tensor *y = ssm_new_like_shape(c, u, SSM_DIMS(Bn, Di, L));
    ssm_tensor *ls = last_state ? ssm_new_like_shape(c, u, SSM_DIMS(Bn, Di, N)) : NULL;
    ssm_tensor *xc = grad ? ssm_new_like_shape(c, u, SSM_DIMS(Bn, Di, nc, N)) : NULL;
    k->selective_scan_fwd(u->dtype, u->data, delta->data, A->data, B->data, C->data,
                          ssm_data_or_null(D), ssm_data_or_null(z), ssm_data_or_null(delta_bias),
                          y->data, ls ? ls->data : NULL, xc ? xc->data : NULL, Bn, Di, N, L, chunk);
    if (grad) {
        ssm_node *n = ssm_record(c, "selective_scan", scan_bw, y, in, N_IN);
        n->saved[0] = xc;
        n->saved[1] = ls;
        n->i[0] = Bn;
        n->i[1] = Di;
        n->i[2] = N;
        n->i[3] = L;
        n->i[4] = chunk;
        if (ls) ssm_record(c, "selective_scan.last_state", last_state_bw, ls, &y, 1);
    }
    if (last_state) *last_state = ls;
    return y;
}
