#include "s5.h"
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hippo.h"
#include "kernels.h"
#include "log.h"
#include "ops.h"

ssm_s5_config ssm_s5_defaults(int64_t d_model) {
    return (ssm_s5_config){.d_model = d_model, .d_state = 64, .blocks = 1, .disc = 0,
                           .bidirectional = 0, .dt_min = 1e-3, .dt_max = 1e-1};
}

static ssm_tensor *add(ssm_params *ps, const char *prefix, const char *name, int group, int ndim,
                       const int64_t *shape) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return ssm_params_add(ps, full, group, ndim, shape);
}

void ssm_s5_declare(ssm_s5 *m, const ssm_s5_config *cfg, ssm_params *ps, const char *prefix) {
    SSM_CHECK(cfg->d_model >= 1 && cfg->blocks >= 1 && cfg->d_state >= 2 &&
                  cfg->d_state % (2 * cfg->blocks) == 0 && (cfg->disc == 0 || cfg->disc == 1) &&
                  (unsigned)cfg->c_init <= SSM_S5_C_COMPLEX,
              "s5: d_state (%lld) must be a positive multiple of 2 * blocks (%lld), disc 0 or 1, "
              "c_init known",
              (long long)cfg->d_state, (long long)cfg->blocks);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int64_t H = cfg->d_model, P2 = cfg->d_state / 2;
    int dt_group = ssm_place_group(cfg->dt_place), b_group = ssm_place_group(cfg->b_place);
    m->Lambda_re = add(ps, prefix, "Lambda_re", SSM_GROUP_SSM, SSM_DIMS(P2));
    m->Lambda_im = add(ps, prefix, "Lambda_im", SSM_GROUP_SSM, SSM_DIMS(P2));
    m->B = add(ps, prefix, "B", b_group, SSM_DIMS(P2, H, 2));
    if (cfg->bidirectional) {
        m->C = add(ps, prefix, "C1", SSM_GROUP_DEFAULT, SSM_DIMS(H, P2, 2));
        m->C2 = add(ps, prefix, "C2", SSM_GROUP_DEFAULT, SSM_DIMS(H, P2, 2));
    } else {
        m->C = add(ps, prefix, "C", SSM_GROUP_DEFAULT, SSM_DIMS(H, P2, 2));
    }
    m->D = add(ps, prefix, "D", SSM_GROUP_DEFAULT, SSM_DIMS(H));
    m->log_step = add(ps, prefix, "log_step", dt_group, SSM_DIMS(P2, 1));
}

/* --- initialisation --- */

/* jax.nn.initializers.lecun_normal: a normal truncated to [-2, 2] standard deviations,
 * rescaled so the samples have standard deviation std (rejection sampling). */
static void trunc_normal(ssm_rng *r, double *out, int64_t n, double std) {
    for (int64_t i = 0; i < n; i++) {
        double z;
        do ssm_rng_normal(r, &z, 1, 0.0, 1.0);
        while (fabs(z) > 2.0);
        out[i] = z * std / 0.87962566103423978; /* std of N(0, 1) truncated to [-2, 2] */
    }
}

int ssm_s5_hippo_n(int64_t P, int64_t blocks, double *Lambda, double *V) {
    SSM_CHECK(blocks >= 1 && P % (2 * blocks) == 0, "s5: P must be a multiple of 2 * blocks");
    int64_t bs = P / blocks, bs2 = bs / 2, P2 = P / 2;
    /* w, P, B (bs2 complex each) and V (bs x bs2 complex) of one block */
    double *buf = malloc(sizeof(double) * (size_t)(6 * bs2 + 2 * bs * bs2));
    SSM_CHECK(buf, "s5: out of memory");
    double *w = buf, *Pn = w + 2 * bs2, *Bn = Pn + 2 * bs2, *Vb = Bn + 2 * bs2;
    /* eigenvalues sorted by imaginary part, the first half (negative) kept: s5's
     * make_DPLR_HiPPO(bs)[:bs/2] with conj_sym */
    if (ssm_nplr_legs(bs, 0.0, w, Pn, Bn, Vb) != 0) {
        free(buf);
        return ssm_error("s5: HiPPO-N eigendecomposition (LAPACK zheev) failed for size %lld",
                         (long long)bs);
    }
    memset(V, 0, sizeof(double) * (size_t)(2 * P * P2));
    for (int64_t j = 0; j < blocks; j++) {
        for (int64_t k = 0; k < bs2; k++) {
            Lambda[2 * (j * bs2 + k)] = w[2 * k];
            Lambda[2 * (j * bs2 + k) + 1] = w[2 * k + 1];
        }
        for (int64_t r = 0; r < bs; r++)
            for (int64_t k = 0; k < bs2; k++) {
                int64_t at = 2 * ((j * bs + r) * P2 + j * bs2 + k);
                V[at] = Vb[2 * (r * bs2 + k)];
                V[at + 1] = Vb[2 * (r * bs2 + k) + 1];
            }
    }
    free(buf);
    return SSM_OK;
}

int ssm_s5_init(ssm_s5 *m, ssm_rng *r) {
    int64_t H = m->cfg.d_model, P = m->cfg.d_state, P2 = P / 2;
    size_t nV = (size_t)(2 * P * P2), nB = (size_t)(P * H), nC = (size_t)(2 * H * P);
    double *Lambda = malloc(sizeof(double) * (size_t)(2 * P2)), *V = malloc(sizeof(double) * nV);
    double *raw = malloc(sizeof(double) * (nB > nC ? nB : nC));
    double *out = malloc(sizeof(double) * (size_t)(2 * P2 * H + 2 * P2));
    SSM_CHECK(Lambda && V && raw && out, "s5: out of memory");
    if (ssm_s5_hippo_n(P, m->cfg.blocks, Lambda, V) != SSM_OK) {
        free(Lambda), free(V), free(raw), free(out);
        return SSM_ERR;
    }
    const double complex *Vc = (const double complex *)V; /* interleaved pairs = C99 layout */
    for (int64_t p = 0; p < P2; p++) {
        out[p] = Lambda[2 * p];
        out[P2 + p] = Lambda[2 * p + 1];
    }
    ssm_tensor_from_f64(m->Lambda_re, out);
    ssm_tensor_from_f64(m->Lambda_im, out + P2);

    /* B~ = V^-1 B = V* B, B (P, H) real lecun_normal (fan_in = P) */
    trunc_normal(r, raw, (int64_t)nB, 1.0 / sqrt((double)P));
    for (int64_t p = 0; p < P2; p++)
        for (int64_t h = 0; h < H; h++) {
            double complex s = 0;
            for (int64_t i = 0; i < P; i++) s += conj(Vc[i * P2 + p]) * raw[i * H + h];
            out[2 * (p * H + h)] = creal(s);
            out[2 * (p * H + h) + 1] = cimag(s);
        }
    ssm_tensor_from_f64(m->B, out);

    /* C~ = C V, C (H, P) complex: per channel lecun_normal of shape (1, P, 2) (fan_in = P), or
     * lecun_normal of shape (H, P, 2) (fan_in = P H); complex_normal: C~ ~ N(0, 1/2) per part */
    ssm_tensor *Cs[2] = {m->C, m->C2};
    for (int k = 0; k < (m->cfg.bidirectional ? 2 : 1); k++) {
        if (m->cfg.c_init == SSM_S5_C_COMPLEX) {
            ssm_param_normal(Cs[k], r, 0.0, sqrt(0.5));
            continue;
        }
        double fan_in = m->cfg.c_init == SSM_S5_C_LECUN ? (double)(P * H) : (double)P;
        trunc_normal(r, raw, (int64_t)nC, 1.0 / sqrt(fan_in));
        for (int64_t h = 0; h < H; h++)
            for (int64_t p = 0; p < P2; p++) {
                double complex s = 0;
                for (int64_t i = 0; i < P; i++)
                    s += (raw[2 * (h * P + i)] + I * raw[2 * (h * P + i) + 1]) * Vc[i * P2 + p];
                out[2 * (h * P2 + p)] = creal(s);
                out[2 * (h * P2 + p) + 1] = cimag(s);
            }
        ssm_tensor_from_f64(Cs[k], out);
    }
    ssm_param_normal(m->D, r, 0.0, 1.0);
    ssm_init_log_dt(r, out, P2, m->cfg.dt_min, m->cfg.dt_max);
    ssm_tensor_from_f64(m->log_step, out);
    free(Lambda), free(V), free(raw), free(out);
    return SSM_OK;
}

/* --- parallel mode --- */

/* A per-step [2] tensor (a, b) of like's dtype and device. */
static ssm_tensor *pair(ssm_ctx *c, const ssm_tensor *like, double a, double b) {
    ssm_tensor *t = ssm_new_like_shape(c, like, SSM_DIMS(2));
    ssm_tensor_from_f64(t, (double[]){a, b});
    return t;
}

/* min(Lambda_re, -1e-4) = a - relu(a - Lambda_re), a = -1e-4 */
static ssm_tensor *clip_eigs(ssm_ctx *c, ssm_tensor *re) {
    ssm_tensor *a = ssm_new_like_shape(c, re, re->ndim, re->shape);
    ssm_kernels_for(re->device)->fill(re->dtype, a->data, a->numel, -1e-4);
    return ssm_sub(c, a, ssm_relu(c, ssm_sub(c, a, re)));
}

void ssm_s5_discretise(ssm_ctx *c, ssm_s5 *m, ssm_tensor **Lambda_bar, ssm_tensor **B_bar) {
    int64_t H = m->cfg.d_model, P2 = m->cfg.d_state / 2;
    ssm_tensor *re = m->cfg.clip_eigs ? clip_eigs(c, m->Lambda_re) : m->Lambda_re;
    re = ssm_reshape(c, re, SSM_DIMS(P2, 1));
    ssm_tensor *im = ssm_reshape(c, m->Lambda_im, SSM_DIMS(P2, 1));
    ssm_tensor *lam = ssm_concat(c, (ssm_tensor *[]){re, im}, 2, 1); /* [P2, 2] */
    /* Δ on both parts of each pair: a real scale of the complex numbers */
    ssm_tensor *dt = ssm_expand(c, ssm_reshape(c, ssm_exp(c, m->log_step), SSM_DIMS(P2)), 1, 2);
    ssm_tensor *w = ssm_mul(c, lam, dt), *one = pair(c, lam, 1.0, 0.0), *lb, *coef;
    if (m->cfg.disc == 0) { /* Λ̄ = e^{ΔΛ}, B̄ = (Λ̄ - 1)/Λ B~ */
        lb = ssm_cexp(c, w);
        coef = ssm_cdiv(c, ssm_sub(c, lb, one), lam);
    } else { /* Λ̄ = (1 + ΔΛ/2)/(1 - ΔΛ/2), B̄ = Δ/(1 - ΔΛ/2) B~ */
        ssm_tensor *half = ssm_scale(c, w, 0.5), *den = ssm_sub(c, one, half);
        lb = ssm_cdiv(c, ssm_add(c, half, one), den);
        coef = ssm_mul(c, ssm_cdiv(c, one, den), dt);
    }
    *Lambda_bar = lb;
    *B_bar = ssm_cmul(c, ssm_expand(c, coef, 1, H), m->B); /* [P2, H, 2] */
}

/* B̄ [P2, H, 2] as a Linear weight [2 P2, H]: row 2p + k is part k of mode p, so
 * u W^T gives B̄u with interleaved (re, im) columns, the scan's layout. */
static ssm_tensor *weight_B(ssm_ctx *c, ssm_tensor *B_bar) {
    static const int perm[3] = {0, 2, 1};
    int64_t P2 = B_bar->shape[0], H = B_bar->shape[1];
    return ssm_reshape(c, ssm_permute(c, B_bar, perm), SSM_DIMS(2 * P2, H));
}

/* C~ [H, P2, 2] as a Linear weight [H, 2 P2] with 2 Re(C~ x) = W x over (re, im) pairs:
 * 2 (C_re x_re - C_im x_im). */
static ssm_tensor *weight_C(ssm_ctx *c, ssm_tensor *C) {
    int64_t H = C->shape[0], P2 = C->shape[1];
    return ssm_reshape(c, ssm_mul(c, C, pair(c, C, 2.0, -2.0)), SSM_DIMS(H, 2 * P2));
}

ssm_tensor *ssm_s5_forward(ssm_ctx *c, ssm_s5 *m, ssm_tensor *u) {
    int64_t H = m->cfg.d_model, P2 = m->cfg.d_state / 2;
    SSM_CHECK(u->ndim == 3 && u->shape[2] == H, "s5: input must be [B, L, %lld]", (long long)H);
    int64_t B = u->shape[0], L = u->shape[1];
    ssm_tensor *lb, *bb;
    ssm_s5_discretise(c, m, &lb, &bb);
    /* B̄u: one GEMM [B L, H] x [H, 2 P2] */
    ssm_tensor *Bu = ssm_reshape(c, ssm_linear(c, u, weight_B(c, bb), NULL), SSM_DIMS(B, L, P2, 2));
    ssm_tensor *x = ssm_s5_scan(c, lb, Bu, 0);
    ssm_tensor *y = ssm_linear(c, ssm_reshape(c, x, SSM_DIMS(B, L, 2 * P2)), weight_C(c, m->C), NULL);
    if (m->cfg.bidirectional) {
        ssm_tensor *x2 = ssm_s5_scan(c, lb, Bu, 1);
        y = ssm_add(c, y, ssm_linear(c, ssm_reshape(c, x2, SSM_DIMS(B, L, 2 * P2)),
                                     weight_C(c, m->C2), NULL));
    }
    return ssm_add(c, y, ssm_mul(c, u, m->D));
}

/* --- recurrent mode --- */

ssm_s5_state *ssm_s5_state_alloc(ssm_s5 *m, int64_t batch) {
    if (m->cfg.bidirectional) {
        ssm_error("s5: a bidirectional SSM has no recurrent (step) mode");
        return NULL;
    }
    int64_t H = m->cfg.d_model, P2 = m->cfg.d_state / 2;
    ssm_dtype dt = m->B->dtype;
    ssm_device dev = m->B->device;
    ssm_s5_state *st = calloc(1, sizeof *st);
    SSM_CHECK(st, "s5: out of memory");
    st->Lambda_bar = ssm_tensor_new(dt, dev, SSM_DIMS(P2, 2));
    st->WB = ssm_tensor_new(dt, dev, SSM_DIMS(2 * P2, H));
    st->WC = ssm_tensor_new(dt, dev, SSM_DIMS(H, 2 * P2));
    st->x = ssm_tensor_new(dt, dev, SSM_DIMS(batch, P2, 2));
    ssm_tensor_zero(st->x);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *lb, *bb;
    ssm_s5_discretise(c, m, &lb, &bb);
    ssm_tensor_copy(st->Lambda_bar, lb);
    ssm_tensor_copy(st->WB, weight_B(c, bb));
    ssm_tensor_copy(st->WC, weight_C(c, m->C));
    ssm_no_grad_end(c, saved);
    ssm_ctx_free(c);
    return st;
}

void ssm_s5_state_free(ssm_s5_state *st) {
    if (!st) return;
    ssm_tensor_free(st->Lambda_bar);
    ssm_tensor_free(st->WB);
    ssm_tensor_free(st->WC);
    ssm_tensor_free(st->x);
    free(st);
}

ssm_tensor *ssm_s5_step(ssm_ctx *c, ssm_s5 *m, ssm_s5_state *st, ssm_tensor *u_t) {
    int64_t B = st->x->shape[0], H = m->cfg.d_model, P2 = m->cfg.d_state / 2;
    SSM_CHECK(u_t->ndim == 2 && u_t->shape[0] == B && u_t->shape[1] == H,
              "s5 step: input must be [%lld, %lld]", (long long)B, (long long)H);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *Bu = ssm_reshape(c, ssm_linear(c, u_t, st->WB, NULL), SSM_DIMS(B, P2, 2));
    ssm_tensor *x = ssm_add(c, ssm_cmul(c, st->x, st->Lambda_bar), Bu);
    ssm_tensor_copy(st->x, x);
    ssm_tensor *y = ssm_linear(c, ssm_reshape(c, x, SSM_DIMS(B, 2 * P2)), st->WC, NULL);
    y = ssm_add(c, y, ssm_mul(c, u_t, m->D));
    ssm_no_grad_end(c, saved);
    return y;
}

/* --- the sequence layer --- */

int ssm_s5_activation_parse(const char *s) {
    static const char *names[] = {"gelu", "full_glu", "half_glu1", "half_glu2"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

void ssm_s5_layer_declare(ssm_s5_layer *m, const ssm_s5_layer_config *cfg, ssm_params *ps,
                          const char *prefix) {
    SSM_CHECK(cfg->activation >= SSM_S5_ACT_GELU && cfg->activation <= SSM_S5_ACT_HALF_GLU2,
              "s5: unknown activation %d", (int)cfg->activation);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    char sub[256];
    snprintf(sub, sizeof sub, "%sseq.", prefix);
    ssm_s5_declare(&m->seq, &cfg->ssm, ps, sub);
    int64_t H = cfg->ssm.d_model;
    if (cfg->activation == SSM_S5_ACT_FULL_GLU) {
        m->out1_W = add(ps, prefix, "out1.kernel", SSM_GROUP_DEFAULT, SSM_DIMS(H, H));
        m->out1_b = add(ps, prefix, "out1.bias", SSM_GROUP_DEFAULT, SSM_DIMS(H));
    }
    if (cfg->activation != SSM_S5_ACT_GELU) {
        m->out2_W = add(ps, prefix, "out2.kernel", SSM_GROUP_DEFAULT, SSM_DIMS(H, H));
        m->out2_b = add(ps, prefix, "out2.bias", SSM_GROUP_DEFAULT, SSM_DIMS(H));
    }
}

int ssm_s5_layer_init(ssm_s5_layer *m, ssm_rng *r) {
    if (ssm_s5_init(&m->seq, r) != SSM_OK) return SSM_ERR;
    int64_t H = m->cfg.ssm.d_model;
    double *v = malloc(sizeof(double) * (size_t)(H * H));
    SSM_CHECK(v, "s5: out of memory");
    ssm_tensor *Ws[2] = {m->out1_W, m->out2_W}, *bs[2] = {m->out1_b, m->out2_b};
    for (int k = 0; k < 2; k++) {
        if (!Ws[k]) continue;
        trunc_normal(r, v, H * H, 1.0 / sqrt((double)H)); /* flax Dense: lecun_normal, fan_in H */
        ssm_tensor_from_f64(Ws[k], v);
        ssm_tensor_fill(bs[k], 0.0);
    }
    free(v);
    return SSM_OK;
}

/* flax Dense: x [..., H] kernel [H_in, H_out] + bias, as a Linear with the kernel's
 * transpose (an H x H copy; the bias gradient is then a column sum, not a broadcast) */
static ssm_tensor *dense(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *b) {
    return ssm_linear(c, x, ssm_transpose(c, W, 0, 1), b);
}

static ssm_tensor *activate(ssm_ctx *c, ssm_s5_layer *m, ssm_tensor *y, double p) {
    ssm_tensor *g = ssm_gelu_tanh(c, y); /* flax nn.gelu: approximate = True */
    if (m->cfg.activation == SSM_S5_ACT_GELU) return g; /* its dropout: the model's */
    g = m->cfg.tie_dropout ? ssm_dropout_tied(c, g, p) : ssm_dropout(c, g, p);
    ssm_tensor *gate = ssm_sigmoid(c, dense(c, g, m->out2_W, m->out2_b));
    switch (m->cfg.activation) {
    case SSM_S5_ACT_FULL_GLU: return ssm_mul(c, dense(c, g, m->out1_W, m->out1_b), gate);
    case SSM_S5_ACT_HALF_GLU1: return ssm_mul(c, g, gate);
    default: return ssm_mul(c, y, gate); /* half_glu2 */
    }
}

ssm_tensor *ssm_s5_layer_forward(ssm_ctx *c, ssm_s5_layer *m, ssm_tensor *x) {
    return activate(c, m, ssm_s5_forward(c, &m->seq, x), m->cfg.dropout);
}

ssm_tensor *ssm_s5_layer_step(ssm_ctx *c, ssm_s5_layer *m, ssm_s5_state *st, ssm_tensor *x_t) {
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *y = activate(c, m, ssm_s5_step(c, &m->seq, st, x_t), 0.0);
    ssm_no_grad_end(c, saved);
    return y;
}
