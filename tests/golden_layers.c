#include "golden_layers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "golden.h"
#include "log.h"
#include "mamba.h"
#include "ops.h"
#include "s4.h"
#include "s4d.h"
#include "s5.h"
#include "testutil.h"

/* An S4D module sized from the file's attributes, with the file's parameters. */
static ssm_params *s4d_from_file(ssm_h5 *f, ssm_s4d *m, ssm_dtype dt, ssm_device dev,
                                 const char *prefix) {
    ssm_s4d_config cfg = ssm_s4d_defaults((int64_t)golden_attr(f, "H"));
    cfg.d_state = (int64_t)golden_attr(f, "N");
    ssm_params *ps = ssm_params_new(dt, dev);
    ssm_s4d_declare(m, &cfg, ps, prefix);
    ssm_params_finalize(ps);
    return ps;
}

void golden_s4d_kernel(ssm_dtype dt, ssm_device dev, double tol) {
    ssm_h5 *f = golden_open("s4d_kernel.h5");
    ssm_s4d m;
    ssm_params *ps = s4d_from_file(f, &m, dt, dev, "");
    /* the kernel file has only the kernel's parameters, without the "kernel." prefix */
    ssm_tensor *kp[4] = {m.log_dt, m.C, m.log_A_real, m.A_imag};
    const char *names[4] = {"log_dt", "C", "log_A_real", "A_imag"};
    char path[128];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/params/%s", names[i]);
        ssm_tensor *t = golden_tensor(f, path, dt, dev);
        ssm_tensor_copy(kp[i], t);
        ssm_tensor_free(t);
    }
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *K = ssm_s4d_kernel(c, &m, (int64_t)golden_attr(f, "L"));
    golden_expect(f, "/outputs/K", K, tol);
    ssm_tensor *dK = golden_tensor(f, "/inputs/dy_K", dt, dev);
    ssm_backward_with(c, K, dK);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/grads/params/%s", names[i]);
        golden_expect(f, path, kp[i]->grad, tol);
    }
    ssm_tensor_free(dK);
    ssm_ctx_free(c);
    ssm_params_free(ps);
    ssm_h5_close(f);
}

void golden_s4d_layer(ssm_dtype dt, ssm_device dev, double tol) {
    ssm_h5 *f = golden_open("s4d_layer.h5");
    ssm_s4d m;
    ssm_params *ps = s4d_from_file(f, &m, dt, dev, "");
    golden_load_params(f, ps);
    ssm_tensor *u = golden_tensor(f, "/inputs/u", dt, dev); /* (B, H, L) */
    ssm_requires_grad(u);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *y = ssm_transpose(c, ssm_s4d_forward(c, &m, ssm_transpose(c, u, 1, 2)), 1, 2);
    golden_expect_layer(f, c, y, u, "u", ps, tol);
    ssm_tensor_free(u);
    ssm_ctx_free(c);
    ssm_params_free(ps);
    ssm_h5_close(f);
}

/* s4_fftconv.h5 names its parameters as FFTConv (kernel.X, D); S4Block prefixes "layer.". */
static void s4_load(ssm_h5 *f, ssm_params *ps, int with_output) {
    if (with_output) {
        golden_load_params(f, ps);
        return;
    }
    char path[300];
    for (int i = 0; i < ps->n; i++) {
        const char *name = ps->p[i]->name;
        if (strncmp(name, "layer.", 6)) continue; /* output linear: not in FFTConv */
        snprintf(path, sizeof path, "/params/%s", name + 6);
        ssm_tensor *t = golden_tensor(f, path, ps->p[i]->dtype, SSM_CPU);
        ssm_tensor_copy(ps->p[i], t);
        ssm_tensor_free(t);
    }
}

void golden_s4(int with_output, ssm_dtype dt, ssm_device dev, double tol) {
    ssm_h5 *f = golden_open(with_output ? "s4_layer.h5" : "s4_fftconv.h5");
    int64_t H = (int64_t)golden_attr(f, "H"), L = (int64_t)golden_attr(f, "L");
    ssm_s4_config cfg = ssm_s4_defaults(H, (int64_t)golden_attr(f, "l_max"));
    cfg.d_state = (int64_t)golden_attr(f, "N");
    ssm_params *ps = ssm_params_new(dt, dev);
    ssm_s4 m;
    ssm_s4_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    s4_load(f, ps, with_output);
    ssm_tensor *u = golden_tensor(f, "/inputs/u", dt, dev); /* (B, H, L) */
    ssm_requires_grad(u);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *x = ssm_transpose(c, u, 1, 2);
    ssm_tensor *yb = with_output ? ssm_s4_forward(c, &m, x) : ssm_s4_fftconv(c, &m, x);
    ssm_tensor *y = ssm_transpose(c, yb, 1, 2);
    golden_expect_layer(f, c, y, u, "u", NULL, tol); /* FFTConv names mapped below */
    char path[300];
    for (int i = 0; i < ps->n; i++) {
        const char *name = ps->p[i]->name;
        if (!with_output && strncmp(name, "layer.", 6)) continue;
        snprintf(path, sizeof path, "/grads/params/%s", with_output ? name : name + 6);
        golden_expect(f, path, ps->p[i]->grad, tol);
    }
    ssm_ctx_reset(c);
    int saved = ssm_no_grad_begin(c);
    golden_expect(f, "/extra/K", ssm_s4_kernel(c, &m, L), tol);
    ssm_no_grad_end(c, saved);
    if (dt == SSM_F64 && dev == SSM_CPU) {
        /* C~ from the plain C with the file's (perturbed) A, B, P, dt */
        ssm_tensor *C0 = golden_tensor(f, "/extra/C_before_setup", SSM_F64, SSM_CPU);
        ck_assert_int_eq(ssm_s4_setup_C(&m, C0->data), 0);
        golden_expect(f, with_output ? "/params/layer.kernel.C" : "/params/kernel.C", m.C, tol);
        ssm_tensor_free(C0);
        /* step mode, token by token, against the official dense step outputs */
        int64_t B = u->shape[0];
        ssm_s4_state *st = ssm_s4_state_alloc(&m, B);
        ssm_tensor *ys = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, H, L));
        ssm_tensor *xt = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, H));
        for (int64_t t = 0; t < L; t++) {
            for (int64_t i = 0; i < B * H; i++) ((double *)xt->data)[i] = ((double *)u->data)[i * L + t];
            ssm_tensor *yt = ssm_s4_step(c, &m, st, xt, with_output);
            for (int64_t i = 0; i < B * H; i++) ((double *)ys->data)[i * L + t] = ((double *)yt->data)[i];
            ssm_ctx_reset(c);
        }
        golden_expect(f, "/extra/y_step", ys, 1e-10);
        ssm_tensor_free(ys);
        ssm_tensor_free(xt);
        ssm_s4_state_free(st);
    }
    ssm_tensor_free(u);
    ssm_ctx_free(c);
    ssm_params_free(ps);
    ssm_h5_close(f);
}

void golden_s5(const char *file, ssm_dtype dt, ssm_device dev, double tol) {
    ssm_h5 *f = golden_open(file);
    int64_t H = (int64_t)golden_attr(f, "H"), L = (int64_t)golden_attr(f, "L");
    ssm_s5_config cfg = ssm_s5_defaults(H);
    cfg.d_state = (int64_t)golden_attr(f, "P");
    cfg.blocks = (int64_t)golden_attr(f, "blocks");
    cfg.bidirectional = golden_attr(f, "bidirectional") != 0;
    cfg.dt_min = golden_attr(f, "dt_min");
    cfg.dt_max = golden_attr(f, "dt_max");
    ck_assert_int_eq((int64_t)golden_attr(f, "P_stored"), cfg.d_state / 2);
    ck_assert_int_eq((int64_t)golden_attr(f, "conj_sym"), 1);
    char disc[32];
    ck_assert_msg(ssm_h5_attr_string(f, "/", "discretization", disc, sizeof disc) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_msg(!strcmp(disc, "zoh") || !strcmp(disc, "bilinear"), "%s: discretization %s",
                  file, disc);
    cfg.disc = !strcmp(disc, "bilinear");
    ssm_params *ps = ssm_params_new(dt, dev);
    ssm_s5 m;
    ssm_s5_declare(&m, &cfg, ps, "");
    ssm_params_finalize(ps);
    golden_load_params(f, ps);
    ssm_tensor *u = golden_tensor(f, "/inputs/u", dt, dev); /* (L, H): no batch axis */
    ck_assert(u->ndim == 2 && u->shape[0] == L && u->shape[1] == H);
    ssm_requires_grad(u);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *y = ssm_reshape(c, ssm_s5_forward(c, &m, ssm_reshape(c, u, SSM_DIMS(1, L, H))),
                                SSM_DIMS(L, H));
    golden_expect_layer(f, c, y, u, "u", ps, tol);
    ssm_tensor_free(u);
    ssm_ctx_free(c);
    ssm_params_free(ps);
    ssm_h5_close(f);
}

/* selective_scan.h5: every tensor is an input; D, z, delta_bias are used when present.
 * Run with several chunk sizes (a partial last chunk, one step per chunk, the default):
 * the chunked recomputation must not change anything. */
void golden_selective_scan(ssm_dtype dt, ssm_device dev, double tol) {
    static const char *names[8] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};
    static const int64_t chunks[3] = {5, 1, 0};
    ssm_h5 *f = golden_open("selective_scan.h5");
    ck_assert_msg(golden_attr(f, "delta_softplus") == 1, "selective_scan.h5: delta_softplus is "
                  "not 1 (the scan always applies the softplus)");
    ssm_tensor *in[8] = {0};
    char path[128];
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "/inputs/%s", names[i]);
        if (i >= 5 && !ssm_h5_exists(f, path)) continue; /* optional */
        in[i] = golden_tensor(f, path, dt, dev);
        ssm_requires_grad(in[i]);
    }
    const int64_t Bn = (int64_t)golden_attr(f, "batch"), Di = (int64_t)golden_attr(f, "d_inner");
    const int64_t N = (int64_t)golden_attr(f, "d_state"), L = (int64_t)golden_attr(f, "L");
    ck_assert(in[0]->ndim == 3 && in[0]->shape[0] == Bn && in[0]->shape[1] == Di &&
              in[0]->shape[2] == L && in[2]->ndim == 2 && in[2]->shape[1] == N);
    ssm_tensor *dy = golden_tensor(f, "/inputs/dy_y", dt, dev);
    ssm_tensor *dlast = golden_tensor(f, "/inputs/dy_last_state", dt, dev);
    for (int k = 0; k < 3; k++) {
        ssm_ctx *c = ssm_ctx_new(0);
        ssm_tensor *last;
        ssm_tensor *y = ssm_selective_scan(c, in[0], in[1], in[2], in[3], in[4], in[5], in[6],
                                           in[7], &last, chunks[k]);
        golden_expect(f, "/outputs/y", y, tol);
        golden_expect(f, "/outputs/last_state", last, tol);
        /* loss = sum(y dy_y) + sum(last_state dy_last_state), as the file's */
        ssm_tensor *loss = ssm_add(c, ssm_sum_all(c, ssm_mul(c, y, dy)),
                                   ssm_sum_all(c, ssm_mul(c, last, dlast)));
        ssm_backward(c, loss);
        for (int i = 0; i < 8; i++) {
            if (!in[i]) continue;
            snprintf(path, sizeof path, "/grads/inputs/%s", names[i]);
            golden_expect(f, path, in[i]->grad, tol);
            ssm_tensor_zero(in[i]->grad);
        }
        ssm_ctx_free(c);
    }
    for (int i = 0; i < 8; i++) ssm_tensor_free(in[i]);
    ssm_tensor_free(dy);
    ssm_tensor_free(dlast);
    ssm_h5_close(f);
}

ssm_params *golden_mamba_from_file(ssm_h5 *f, ssm_mamba *m, ssm_dtype dt, ssm_device dev) {
    const int64_t H = (int64_t)golden_attr(f, "d_model");
    ssm_mamba_config cfg = ssm_mamba_defaults(H);
    cfg.d_state = (int64_t)golden_attr(f, "d_state");
    cfg.d_conv = (int64_t)golden_attr(f, "d_conv");
    cfg.expand = (int64_t)golden_attr(f, "expand");
    cfg.dt_rank = (int64_t)golden_attr(f, "dt_rank");
    cfg.dt_min = golden_attr(f, "dt_min");
    cfg.dt_max = golden_attr(f, "dt_max");
    cfg.dt_init_floor = golden_attr(f, "dt_init_floor");
    cfg.dt_scale = golden_attr(f, "dt_scale");
    cfg.conv_bias = golden_attr(f, "conv_bias") != 0;
    cfg.bias = golden_attr(f, "bias") != 0;
    ssm_params *ps = ssm_params_new(dt, dev);
    ssm_mamba_declare(m, &cfg, ps, "");
    ssm_params_finalize(ps);
    ck_assert_int_eq(m->d_inner, (int64_t)golden_attr(f, "d_inner"));
    return ps;
}

/* ys[:, t0:t0 + yt.shape[1]] = yt for ys [B, L, H] (any device) */
static void put_tokens(ssm_tensor *ys, const ssm_tensor *yt, int64_t t0) {
    const int64_t Bn = ys->shape[0], L = ys->shape[1], H = ys->shape[2], n = yt->numel / (Bn * H);
    ssm_kernels_for(ys->device)->slice_copy(ys->dtype, yt->data, ys->data, Bn, n, L, H, 0, t0, n,
                                            0);
}

/* Token-by-token outputs of x [B, L, H] for t >= t0, in the state st, written to ys. */
static ssm_tensor *mamba_steps(ssm_ctx *c, ssm_mamba *m, ssm_mamba_state *st, ssm_tensor *x,
                               int64_t t0, ssm_tensor *ys) {
    const int64_t Bn = x->shape[0], L = x->shape[1], H = x->shape[2];
    for (int64_t t = t0; t < L; t++)
        put_tokens(ys, ssm_mamba_step(c, m, st, ssm_reshape(c, ssm_slice(c, x, 1, t, 1),
                                                            SSM_DIMS(Bn, H))), t);
    return ys;
}

void golden_mamba_block(ssm_dtype dt, ssm_device dev, double tol) {
    ssm_h5 *f = golden_open("mamba_block.h5");
    ssm_mamba m;
    ssm_params *ps = golden_mamba_from_file(f, &m, dt, dev);
    golden_load_params(f, ps);
    ssm_tensor *x = golden_tensor(f, "/inputs/hidden_states", dt, dev); /* (B, L, d_model) */
    ssm_requires_grad(x);
    const int64_t Bn = x->shape[0], L = x->shape[1];
    ck_assert_int_eq(Bn, (int64_t)golden_attr(f, "batch"));
    ck_assert_int_eq(L, (int64_t)golden_attr(f, "L"));
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *y = ssm_mamba_forward(c, &m, x);
    golden_expect_layer(f, c, y, x, "hidden_states", ps, tol);
    ssm_ctx_reset(c);
    /* recurrent mode: step() from zero states, token by token */
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *ys = ssm_tensor_like(c->arena, x);
    ssm_mamba_state *st = ssm_mamba_state_alloc(&m, Bn);
    golden_expect(f, "/extra/y_step", mamba_steps(c, &m, st, x, 0, ys), tol);
    golden_expect(f, "/extra/step_conv_state", st->conv_state, tol);
    golden_expect(f, "/extra/step_ssm_state", st->ssm_state, tol);
    ssm_mamba_state_reset(st);
    golden_expect(f, "/extra/y_inference_tokens", mamba_steps(c, &m, st, x, 0, ys), tol);
    /* prefill the first prefill_split tokens in parallel, then step */
    const int64_t split = (int64_t)golden_attr(f, "prefill_split");
    ck_assert(split >= 1 && split < L);
    ssm_mamba_state_reset(st);
    ssm_tensor *y0 = ssm_mamba_prefill(c, &m, st, ssm_slice(c, x, 1, 0, split));
    put_tokens(ys, y0, 0);
    golden_expect(f, "/extra/y_prefill_step", mamba_steps(c, &m, st, x, split, ys), tol);
    /* the states one parallel pass over every token leaves */
    ssm_mamba_state_reset(st);
    ssm_mamba_prefill(c, &m, st, x);
    golden_expect(f, "/extra/parallel_conv_state", st->conv_state, tol);
    golden_expect(f, "/extra/parallel_ssm_state", st->ssm_state, tol);
    ssm_no_grad_end(c, saved);
    ssm_mamba_state_free(st);
    ssm_tensor_free(x);
    ssm_ctx_free(c);
    ssm_params_free(ps);
    ssm_h5_close(f);
}
