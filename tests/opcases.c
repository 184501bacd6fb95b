#include "opcases.h"
#include "kernels.h"
#include "ops.h"
#include "philox.h"

#define U(c) (*(int *)(c))

typedef ssm_tensor *(*unary_fn)(ssm_ctx *, ssm_tensor *);
static const unary_fn unary_ops[] = {ssm_exp,  ssm_log,  ssm_softplus, ssm_sigmoid, ssm_tanh,
                                     ssm_silu, ssm_gelu, ssm_gelu_tanh, ssm_square, ssm_relu};
static ssm_tensor *f_unary(ssm_ctx *c, ssm_tensor **in, void *u) { return unary_ops[U(u)](c, in[0]); }

typedef ssm_tensor *(*binary_fn)(ssm_ctx *, ssm_tensor *, ssm_tensor *);
static const binary_fn binary_ops[] = {ssm_add, ssm_sub, ssm_mul, ssm_div, ssm_cmul, ssm_cdiv};
static ssm_tensor *f_binary(ssm_ctx *c, ssm_tensor **in, void *u) {
    return binary_ops[U(u)](c, in[0], in[1]);
}

static ssm_tensor *f_scale(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_scale(c, in[0], -2.5);
}
static ssm_tensor *f_cexp(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_cexp(c, in[0]);
}
static ssm_tensor *f_expand(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_square(c, ssm_expand(c, in[0], U(u), 3));
}
static ssm_tensor *f_reshape_permute(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    static const int perm[4] = {2, 0, 3, 1};
    ssm_tensor *x = in[0];
    ssm_tensor *r = ssm_reshape(c, x, SSM_DIMS(2, x->shape[0], 3, x->shape[1] / 6));
    return ssm_mul(c, ssm_permute(c, r, perm), ssm_exp(c, ssm_permute(c, r, perm)));
}
static ssm_tensor *f_transpose(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_square(c, ssm_transpose(c, in[0], 0, 2));
}
static ssm_tensor *f_concat(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_square(c, ssm_concat(c, in, 3, U(u)));
}
static ssm_tensor *f_split(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    ssm_tensor *p[3];
    ssm_split(c, in[0], 1, 3, (int64_t[]){1, 3, 2}, p);
    ssm_tensor *q[3] = {ssm_exp(c, p[2]), ssm_mul(c, p[1], p[1]), ssm_scale(c, p[0], 3.0)};
    return ssm_concat(c, q, 3, 1);
}
static ssm_tensor *f_sum(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_square(c, ssm_sum(c, in[0], U(u), 0));
}
static ssm_tensor *f_mean(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_square(c, ssm_mean(c, in[0], U(u), 1));
}
static ssm_tensor *f_matmul(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_matmul(c, in[0], in[1]);
}
static ssm_tensor *f_linear(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_linear(c, in[0], in[1], U(u) ? in[2] : NULL);
}
/* u: bit 0 input channel-major, bit 1 output channel-major, bit 2 bias */
static ssm_tensor *f_linear_glu(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_linear_glu(c, in[0], in[1], U(u) ? in[2] : NULL);
}
static ssm_tensor *f_linear_cm(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_linear_cm(c, in[0], in[1], U(u) & 4 ? in[2] : NULL, U(u) & 1, (U(u) >> 1) & 1);
}
static ssm_tensor *f_embedding(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_square(c, ssm_embedding(c, in[0], in[1]));
}
static ssm_tensor *f_layernorm(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_layernorm(c, in[0], U(u) ? in[1] : NULL, U(u) ? in[2] : NULL, 1e-5);
}
static ssm_tensor *f_rmsnorm(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_rmsnorm(c, in[0], in[1], 1e-5);
}
static ssm_tensor *f_batchnorm(ssm_ctx *c, ssm_tensor **in, void *u) {
    c->training = U(u);
    ssm_tensor *y = ssm_batchnorm(c, in[0], in[1], in[2], c->training ? NULL : in[3],
                                  c->training ? NULL : in[4], 1e-5, 0.1);
    c->training = 1;
    return y;
}
static ssm_tensor *f_dropout(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_dropout(c, ssm_tanh(c, in[0]), 0.3);
}
static ssm_tensor *f_glu(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_glu(c, in[0]);
}
static ssm_tensor *f_conv1d(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_conv1d_causal(c, in[0], in[1], U(u) & 1 ? in[2] : NULL, U(u) >> 1);
}
static ssm_tensor *f_fft_conv(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_fft_conv(c, in[0], in[1]);
}
static ssm_tensor *f_dropout_add(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_dropout_add(c, ssm_tanh(c, in[0]), 0.3, in[1]);
}
static ssm_tensor *f_vandermonde(ssm_ctx *c, ssm_tensor **in, void *u) {
    /* positive steps and stable modes (Re A < 0) as the layers make them */
    ssm_tensor *dt = ssm_exp(c, ssm_scale(c, in[0], 0.5));
    ssm_tensor *re = ssm_scale(c, ssm_exp(c, ssm_slice(c, in[1], 2, 0, 1)), -1.0);
    ssm_tensor *A = ssm_concat(c, (ssm_tensor *[]){re, ssm_slice(c, in[1], 2, 1, 1)}, 2, 2);
    return ssm_vandermonde(c, dt, A, in[2], in[3]->shape[0], U(u));
}
static ssm_tensor *f_cauchy(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_cauchy(c, in[0], in[1], in[2]);
}
static ssm_tensor *f_irfft(ssm_ctx *c, ssm_tensor **in, void *u) {
    ssm_tensor *X = ssm_concat(c, in, 2, 1); /* N + 1 >= 2 bins: n = 2N or 2N + 1 */
    return ssm_irfft(c, X, 2 * (X->shape[1] - 1) + U(u));
}
static ssm_tensor *f_s5_scan(ssm_ctx *c, ssm_tensor **in, void *u) {
    /* a stable transition as the layer makes it: Lambda_bar = e^w, Re w = -0.2 e^a < 0 */
    ssm_tensor *re = ssm_scale(c, ssm_exp(c, ssm_slice(c, in[0], 1, 0, 1)), -0.2);
    ssm_tensor *w = ssm_concat(c, (ssm_tensor *[]){re, ssm_slice(c, in[0], 1, 1, 1)}, 2, 1);
    return ssm_s5_scan(c, ssm_cexp(c, w), in[1], U(u));
}
static ssm_tensor *f_fft_conv_2(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_fft_conv(c, in[0], ssm_concat(c, in + 1, 2, 1)); /* k [H, 2L] */
}
static ssm_tensor *f_fft_conv_skip(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_fft_conv_skip(c, in[0], in[1], in[2]);
}
static ssm_tensor *f_fft_conv_cl(ssm_ctx *c, ssm_tensor **in, void *u) {
    ssm_tensor *k = U(u) ? ssm_concat(c, in + 1, 2, 1) : in[1]; /* k [H, 2L] two-sided */
    return ssm_fft_conv_skip_cl(c, in[0], k, in[U(u) ? 3 : 2]);
}
static ssm_tensor *f_xent(ssm_ctx *c, ssm_tensor **in, void *u) {
    return ssm_cross_entropy(c, in[0], in[1], U(u) ? in[2] : NULL, -100);
}
static ssm_tensor *f_mse(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    return ssm_mse(c, in[0], in[1]);
}

/* Mamba's selective scan. in[0] [b, d, 3, L] holds u, delta, z; A = -e^{in[1]} < 0 as the
 * layer makes it; in[2] [b, 2, n, L] holds B and C; in[3] [2, d] holds D and delta_bias.
 * y [b, d, L] and last_state [b, d, n] side by side form the output, so both outputs'
 * backward paths are checked. user: 0 everything, chunk 4 (L = 70: a partial last chunk);
 * 1 no D, z, delta_bias; 2 delta x 15 (past softplus' threshold 20), chunk 1; 3 the
 * default chunk. */
static ssm_tensor *f_selective_scan(ssm_ctx *c, ssm_tensor **in, void *u) {
    const int v = U(u);
    const int64_t b = in[0]->shape[0], d = in[0]->shape[1], L = in[0]->shape[3];
    const int64_t n = in[1]->shape[1];
    ssm_tensor *p[3], *bc[2], *dd[2], *last;
    ssm_split(c, in[0], 2, 3, (int64_t[]){1, 1, 1}, p);
    ssm_split(c, in[2], 1, 2, (int64_t[]){1, 1}, bc);
    ssm_split(c, in[3], 0, 2, (int64_t[]){1, 1}, dd);
    for (int i = 0; i < 3; i++) p[i] = ssm_reshape(c, p[i], SSM_DIMS(b, d, L));
    for (int i = 0; i < 2; i++) {
        bc[i] = ssm_reshape(c, bc[i], SSM_DIMS(b, n, L));
        dd[i] = ssm_reshape(c, dd[i], SSM_DIMS(d));
    }
    ssm_tensor *A = ssm_scale(c, ssm_exp(c, in[1]), -1.0);
    ssm_tensor *delta = v == 2 ? ssm_scale(c, p[1], 15.0) : p[1];
    int full = v != 1;
    ssm_tensor *y = ssm_selective_scan(c, p[0], delta, A, bc[0], bc[1], full ? dd[0] : NULL,
                                       full ? p[2] : NULL, full ? dd[1] : NULL, &last,
                                       v == 2 ? 1 : v == 3 ? 0 : 4);
    return ssm_concat(c, (ssm_tensor *[]){y, last}, 2, 2);
}

#define N OPC_N
#define X(...) {OPC_NORMAL, sizeof((int64_t[]){__VA_ARGS__}) / 8, {__VA_ARGS__}, 0}
#define P(...) {OPC_POSITIVE, sizeof((int64_t[]){__VA_ARGS__}) / 8, {__VA_ARGS__}, 0}
#define K(...) {OPC_CONST, sizeof((int64_t[]){__VA_ARGS__}) / 8, {__VA_ARGS__}, 0}
#define KP(...) {OPC_CONST_POS, sizeof((int64_t[]){__VA_ARGS__}) / 8, {__VA_ARGS__}, 0}
#define IDX(bound, ...) {OPC_INDEX, sizeof((int64_t[]){__VA_ARGS__}) / 8, {__VA_ARGS__}, bound}
#define TGT(bound, ...) {OPC_TARGET, sizeof((int64_t[]){__VA_ARGS__}) / 8, {__VA_ARGS__}, bound}
#define MASK(bound) {OPC_MASK, 1, {bound}, bound}

const op_case opc_cases[] = {
    {"exp", f_unary, 0, 1, {X(3, N)}},
    {"log", f_unary, 1, 1, {P(3, N)}},
    {"softplus", f_unary, 2, 1, {X(3, N)}},
    {"sigmoid", f_unary, 3, 1, {X(3, N)}},
    {"tanh", f_unary, 4, 1, {X(3, N)}},
    {"silu", f_unary, 5, 1, {X(3, N)}},
    {"gelu", f_unary, 6, 1, {X(3, N)}},
    {"gelu_tanh", f_unary, 7, 1, {X(3, N)}},
    {"square", f_unary, 8, 1, {X(3, N)}},
    {"relu", f_unary, 9, 1, {X(3, N)}},
    {"scale", f_scale, 0, 1, {X(N)}},
    {"add", f_binary, 0, 2, {X(2, N, 4), X(2, N, 4)}},
    {"add broadcast b", f_binary, 0, 2, {X(2, 3, N), X(3, N)}},
    {"add broadcast a", f_binary, 0, 2, {X(N), X(5, N)}},
    {"sub broadcast b", f_binary, 1, 2, {X(2, N, 4), X(N, 4)}},
    {"sub broadcast a", f_binary, 1, 2, {X(4), X(N, 4)}},
    {"mul", f_binary, 2, 2, {X(N, 3), X(N, 3)}},
    {"mul broadcast", f_binary, 2, 2, {X(N, 2, 3), X(1)}},
    {"div", f_binary, 3, 2, {X(N, 3), P(N, 3)}},
    {"div broadcast", f_binary, 3, 2, {P(2), P(N, 2)}},
    {"cmul", f_binary, 4, 2, {X(3, N, 2), X(3, N, 2)}},
    {"cmul broadcast", f_binary, 4, 2, {X(2, 3, N, 2), X(N, 2)}},
    {"cdiv", f_binary, 5, 2, {X(3, N, 2), P(3, N, 2)}},
    {"cdiv broadcast", f_binary, 5, 2, {P(N, 2), P(4, N, 2)}},
    {"cexp", f_cexp, 0, 1, {X(N, 2)}},
    {"expand middle", f_expand, 1, 1, {X(3, N)}},
    {"expand last", f_expand, 2, 1, {X(N, 2)}},
    {"reshape+permute", f_reshape_permute, 0, 1, {X(N, 12)}},
    {"transpose", f_transpose, 0, 1, {X(3, N, 4)}},
    {"concat axis 1", f_concat, 1, 3, {X(2, 1, 3), X(2, N, 3), X(2, 2, 3)}},
    {"concat last axis", f_concat, -1, 3, {X(2, 3, 1), X(2, 3, N), X(2, 3, 5)}},
    {"split/slice", f_split, 0, 1, {X(N, 6, 2)}},
    {"sum axis 0", f_sum, 0, 1, {X(N, 4, 5)}},
    {"sum axis 1", f_sum, 1, 1, {X(3, N, 5)}},
    {"sum axis 2", f_sum, 2, 1, {X(3, 4, N)}},
    {"mean axis 0", f_mean, 0, 1, {X(N, 4, 5)}},
    {"mean axis 2", f_mean, 2, 1, {X(3, 4, N)}},
    {"matmul 2-D", f_matmul, 0, 2, {X(N, 4), X(4, 5)}},
    {"matmul batched", f_matmul, 0, 2, {X(2, N, 4), X(2, 4, 3)}},
    {"matmul shared b", f_matmul, 0, 2, {X(2, 3, 4), X(4, N)}},
    {"linear", f_linear, 1, 3, {X(2, N, 4), X(5, 4), X(5)}},
    {"linear_glu", f_linear_glu, 1, 3, {X(2, N, 4), X(6, 4), X(6)}},
    {"linear_glu_nobias", f_linear_glu, 0, 2, {X(2, N, 4), X(6, 4)}},
    {"linear no bias", f_linear, 0, 2, {X(N, 4), X(3, 4)}},
    {"linear_cm rows, bias", f_linear_cm, 4, 3, {X(2, N, 4), X(5, 4), X(5)}},
    {"linear_cm to channel-major", f_linear_cm, 2, 2, {X(2, N, 4), X(5, 4)}},
    {"linear_cm from channel-major", f_linear_cm, 5, 3, {X(2, 4, N), X(5, 4), X(5)}},
    {"linear_cm channel-major", f_linear_cm, 3, 2, {X(3, 4, N), X(5, 4)}},
    {"embedding", f_embedding, 0, 2, {X(5, 3), IDX(5, 2, N)}},
    {"layernorm", f_layernorm, 1, 3, {X(2, N, 6), X(6), X(6)}},
    {"layernorm no affine", f_layernorm, 0, 1, {X(N, 5)}},
    {"rmsnorm", f_rmsnorm, 0, 2, {X(3, N), X(N)}},
    {"batchnorm train", f_batchnorm, 1, 3, {X(3, N, 5), X(5), X(5)}},
    {"batchnorm eval", f_batchnorm, 0, 5, {X(3, N, 5), X(5), X(5), K(5), KP(5)}},
    {"dropout", f_dropout, 0, 1, {X(4, N)}},
    {"dropout_add", f_dropout_add, 0, 2, {X(4, N), X(4, N)}},
    {"glu", f_glu, 0, 1, {X(3, N, 8)}},
    {"conv1d_causal", f_conv1d, 1, 3, {X(2, 3, N), X(3, 4), X(3)}},
    {"conv1d_causal no bias", f_conv1d, 0, 2, {X(1, 2, N), X(2, 4)}},
    {"conv1d_causal + silu", f_conv1d, 3, 3, {X(2, 3, N), X(3, 4), X(3)}},
    {"conv1d_causal + silu, no bias, K 1", f_conv1d, 2, 2, {X(2, 3, N), X(3, 1)}},
    {"fft_conv", f_fft_conv, 0, 2, {X(2, 3, N), X(3, N)}},
    {"fft_conv two-sided", f_fft_conv_2, 0, 3, {X(2, 3, N), X(3, N), X(3, N)}},
    {"fft_conv with D skip", f_fft_conv_skip, 0, 3, {X(2, 3, N), X(3, N), X(3)}},
    {"fft_conv two-sided with D skip", f_fft_conv_skip, 1, 3, {X(2, 3, N), X(3, OPC_2N), X(3)}},
    {"fft_conv channels-last with D skip", f_fft_conv_cl, 0, 3, {X(2, N, 3), X(3, N), X(3)}},
    {"fft_conv channels-last two-sided", f_fft_conv_cl, 1, 4, {X(2, N, 3), X(3, N), X(3, N), X(3)}},
    {"vandermonde zoh", f_vandermonde, 0, 4, {X(3), X(3, 4, 2), X(3, 4, 2), K(N)}},
    {"vandermonde bilinear", f_vandermonde, 1, 4, {X(3), X(3, 4, 2), X(3, 4, 2), K(N)}},
    {"cauchy", f_cauchy, 0, 3, {X(4, 3, 5, 2), X(3, 5, 2), K(N, 2)}},
    {"irfft even", f_irfft, 0, 2, {X(2, N, 2), X(2, 1, 2)}},
    {"irfft odd", f_irfft, 1, 2, {X(3, N, 2), X(3, 1, 2)}},
    {"s5_scan", f_s5_scan, 0, 2, {X(5, 2), X(2, N, 5, 2)}},
    {"s5_scan reverse", f_s5_scan, 1, 2, {X(5, 2), X(2, N, 5, 2)}},
    {"s5_scan modes", f_s5_scan, 0, 2, {X(N, 2), X(3, 4, N, 2)}},
    {"s5_scan modes reverse", f_s5_scan, 1, 2, {X(N, 2), X(2, 3, N, 2)}},
    {"cross_entropy ignore", f_xent, 0, 2, {X(2, N, 5), TGT(5, 2, N)}},
    {"cross_entropy class mask", f_xent, 1, 3, {X(N, 6), TGT(6, N), MASK(6)}},
    {"mse", f_mse, 0, 2, {X(3, N), X(3, N)}},
    {"selective_scan", f_selective_scan, 0, 4, {X(2, 3, 3, N), X(3, 4), X(2, 2, 4, N), X(2, 3)}},
    {"selective_scan no D, z, bias", f_selective_scan, 1, 4,
     {X(2, 3, 3, N), X(3, 4), X(2, 2, 4, N), X(2, 3)}},
    {"selective_scan large delta, chunk 1", f_selective_scan, 2, 4,
     {X(1, 2, 3, N), X(2, 5), X(1, 2, 5, N), X(2, 2)}},
    {"selective_scan default chunk", f_selective_scan, 3, 4,
     {X(3, 2, 3, N), X(2, 3), X(3, 2, 3, N), X(2, 2)}},
};
const int opc_n_cases = sizeof opc_cases / sizeof opc_cases[0];

int opc_cuda_missing(const op_case *c) {
    (void)c; /* every op case has a CUDA kernel */
    return 0;
}

ssm_tensor *opc_input_new(const op_case *c, int i, ssm_dtype dt, int64_t n, uint64_t seed) {
    const opc_input *s = &c->in[i];
    int64_t shape[SSM_MAX_DIMS];
    for (int d = 0; d < s->ndim; d++)
        shape[d] = s->shape[d] == OPC_N ? n : s->shape[d] == OPC_2N ? 2 * n : s->shape[d];
    int ints = s->kind == OPC_INDEX || s->kind == OPC_TARGET || s->kind == OPC_MASK;
    ssm_tensor *t = ssm_tensor_new(ints ? SSM_I32 : dt, SSM_CPU, s->ndim, shape);
    const ssm_kernels *k = ssm_kernels_for(SSM_CPU);
    switch (s->kind) {
    case OPC_NORMAL:
    case OPC_CONST: k->rand_normal(dt, t->data, t->numel, seed, 0, 0.0, 1.0); break;
    case OPC_POSITIVE:
    case OPC_CONST_POS: k->rand_uniform(dt, t->data, t->numel, seed, 0, 0.5, 2.0); break;
    case OPC_INDEX:
    case OPC_TARGET:
        for (int64_t j = 0; j < t->numel; j++) {
            /* even classes only: the class-mask case keeps the even ones */
            int32_t v = 2 * (int32_t)(ssm_philox_uniform(seed, (uint64_t)j) * (double)((s->bound + 1) / 2));
            if (s->kind == OPC_INDEX) v = (int32_t)(ssm_philox_uniform(seed, (uint64_t)j) * (double)s->bound);
            ((int32_t *)t->data)[j] = (s->kind == OPC_TARGET && j % 5 == 4) ? -100 : v;
        }
        break;
    case OPC_MASK:
        for (int64_t j = 0; j < t->numel; j++) ((int32_t *)t->data)[j] = j % 2 == 0;
        break;
    }
    if (s->kind == OPC_NORMAL || s->kind == OPC_POSITIVE) ssm_requires_grad(t);
    return t;
}
