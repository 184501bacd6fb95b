#include "s4d.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "fftconv.h"
#include "kernels.h"
#include "log.h"
#include "ops.h"

ssm_s4d_config ssm_s4d_defaults(int64_t d_model) {
    return (ssm_s4d_config){.d_model = d_model, .d_state = 64, .dt_min = 1e-3, .dt_max = 1e-1,
                            .init = SSM_INIT_LIN, .disc = 0, .dropout = 0.0};
}

static ssm_tensor *add(ssm_params *ps, const char *prefix, const char *name, int group, int ndim,
                       const int64_t *shape) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return ssm_params_add(ps, full, group, ndim, shape);
}

void ssm_s4d_declare(ssm_s4d *m, const ssm_s4d_config *cfg, ssm_params *ps, const char *prefix) {
    SSM_CHECK(cfg->d_state >= 2 && cfg->d_state % 2 == 0, "s4d: d_state must be even, got %lld",
              (long long)cfg->d_state);
    m->cfg = *cfg;
    int64_t H = cfg->d_model, N2 = cfg->d_state / 2;
    int dt_group = ssm_place_group(cfg->dt_place);
    m->log_dt = add(ps, prefix, "kernel.log_dt", dt_group, SSM_DIMS(H));
    if (cfg->bidirectional)
        m->C = add(ps, prefix, "kernel.C", SSM_GROUP_DEFAULT, SSM_DIMS(2, H, N2, 2));
    else
        m->C = add(ps, prefix, "kernel.C", SSM_GROUP_DEFAULT, SSM_DIMS(H, N2, 2));
    m->log_A_real = add(ps, prefix, "kernel.log_A_real", SSM_GROUP_SSM, SSM_DIMS(H, N2));
    m->A_imag = add(ps, prefix, "kernel.A_imag", SSM_GROUP_SSM, SSM_DIMS(H, N2));
    m->D = add(ps, prefix, "D", SSM_GROUP_DEFAULT, SSM_DIMS(H));
    m->W = add(ps, prefix, "output_linear.0.weight", SSM_GROUP_DEFAULT, SSM_DIMS(2 * H, H, 1));
    m->b = add(ps, prefix, "output_linear.0.bias", SSM_GROUP_DEFAULT, SSM_DIMS(2 * H));
}

void ssm_s4d_init(ssm_s4d *m, ssm_rng *r) {
    int64_t H = m->cfg.d_model, N = m->cfg.d_state, N2 = N / 2;
    double *buf = malloc(sizeof(double) * (size_t)(2 * H * H + 2 * H * N2 + 2 * N2));
    double *re = buf, *im = buf + N2, *v = buf + 2 * N2;
    SSM_CHECK(buf, "s4d: out of memory");
    SSM_CHECK(ssm_init_s4d_A(m->cfg.init, N, re, im) == 0, "s4d: init must be lin, inv or real");
    for (int64_t h = 0; h < H; h++)
        for (int64_t n = 0; n < N2; n++) {
            v[h * N2 + n] = log(-re[n]);
            v[H * N2 + h * N2 + n] = im[n];
        }
    ssm_tensor_from_f64(m->log_A_real, v);
    ssm_tensor_from_f64(m->A_imag, v + H * N2);
    ssm_init_log_dt(r, v, H, m->cfg.dt_min, m->cfg.dt_max);
    ssm_tensor_from_f64(m->log_dt, v);
    ssm_param_normal(m->C, r, 0.0, sqrt(0.5)); /* complex standard normal: each part N(0, 1/2) */
    ssm_param_normal(m->D, r, 0.0, 1.0);
    ssm_init_torch_default(r, v, 2 * H * H, H);
    ssm_tensor_from_f64(m->W, v);
    ssm_init_torch_default(r, v, 2 * H, H);
    ssm_tensor_from_f64(m->b, v);
    free(buf);
}

/* Δ = exp(log_dt), A = -exp(log_A_real) + i A_imag (s4d.py keeps Im A positive). */
static void dt_and_A(ssm_ctx *c, ssm_s4d *m, ssm_tensor **dt, ssm_tensor **A) {
    int64_t H = m->cfg.d_model, N2 = m->cfg.d_state / 2;
    *dt = ssm_exp(c, m->log_dt);
    ssm_tensor *re = ssm_scale(c, ssm_exp(c, ssm_reshape(c, m->log_A_real, SSM_DIMS(H, N2, 1))), -1);
    ssm_tensor *im = ssm_reshape(c, m->A_imag, SSM_DIMS(H, N2, 1));
    *A = ssm_concat(c, (ssm_tensor *[]){re, im}, 2, 2);
}

ssm_tensor *ssm_s4d_kernel(ssm_ctx *c, ssm_s4d *m, int64_t L) {
    ssm_tensor *dt, *A;
    dt_and_A(c, m, &dt, &A);
    if (!m->cfg.bidirectional) return ssm_vandermonde(c, dt, A, m->C, L, m->cfg.disc);
    int64_t H = m->cfg.d_model, N2 = m->cfg.d_state / 2;
    ssm_tensor *K[2];
    for (int i = 0; i < 2; i++) {
        ssm_tensor *Ci = ssm_reshape(c, ssm_slice(c, m->C, 0, i, 1), SSM_DIMS(H, N2, 2));
        K[i] = ssm_vandermonde(c, dt, A, Ci, L, m->cfg.disc);
    }
    return ssm_concat(c, K, 2, 1); /* [H, 2L]: causal, then anti-causal */
}

ssm_tensor *ssm_s4d_forward(ssm_ctx *c, ssm_s4d *m, ssm_tensor *x) {
    SSM_CHECK(x->ndim == 3 && x->shape[2] == m->cfg.d_model, "s4d: input must be [B, L, %lld]",
              (long long)m->cfg.d_model);
    ssm_tensor *K = ssm_s4d_kernel(c, m, x->shape[1]);
    ssm_tensor *y = ssm_fftconv_gelu(c, x, K, m->D);
    return ssm_glu_output(c, y, m->W, m->b, m->cfg.dropout, m->cfg.tie_dropout);
}

ssm_s4d_state *ssm_s4d_state_alloc(ssm_s4d *m, int64_t batch) {
    SSM_CHECK(!m->cfg.bidirectional, "s4d: a bidirectional layer has no recurrent step mode");
    int64_t H = m->cfg.d_model, N2 = m->cfg.d_state / 2;
    ssm_s4d_state *st = calloc(1, sizeof *st);
    SSM_CHECK(st, "s4d: out of memory");
    ssm_dtype dt_ = m->C->dtype;
    ssm_device dev = m->C->device;
    st->z = ssm_tensor_new(dt_, dev, SSM_DIMS(H, N2, 2));
    st->Ct = ssm_tensor_new(dt_, dev, SSM_DIMS(H, N2, 2));
    st->s = ssm_tensor_new(dt_, dev, SSM_DIMS(batch, H, N2, 2));
    ssm_tensor_zero(st->s);
    ssm_ctx *c = ssm_ctx_new(0);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *dt, *A;
    dt_and_A(c, m, &dt, &A);
    ssm_kernels_for(dev)->diag_discretise(dt_, m->cfg.disc, dt->data, A->data, m->C->data,
                                          st->z->data, st->Ct->data, H, N2);
    ssm_no_grad_end(c, saved);
    ssm_ctx_free(c);
    return st;
}

void ssm_s4d_state_free(ssm_s4d_state *st) {
    if (!st) return;
    ssm_tensor_free(st->z);
    ssm_tensor_free(st->Ct);
    ssm_tensor_free(st->s);
    free(st);
}

ssm_tensor *ssm_s4d_step(ssm_ctx *c, ssm_s4d *m, ssm_s4d_state *st, ssm_tensor *x_t) {
    int64_t B = st->s->shape[0], H = m->cfg.d_model, N2 = m->cfg.d_state / 2;
    SSM_CHECK(x_t->ndim == 2 && x_t->shape[0] == B && x_t->shape[1] == H,
              "s4d step: input must be [%lld, %lld]", (long long)B, (long long)H);
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *y = ssm_tensor_like(c->arena, x_t);
    ssm_kernels_for(x_t->device)->diag_ssm_step(x_t->dtype, st->z->data, st->Ct->data,
                                                st->s->data, x_t->data, y->data, B, H, N2);
    y = ssm_gelu(c, ssm_add(c, y, ssm_mul(c, x_t, m->D)));
    y = ssm_glu_output(c, y, m->W, m->b, 0.0, 0);
    ssm_no_grad_end(c, saved);
    return y;
}
