/* The CUDA kernel table against the CPU one: every op of tests/opcases.c
 * forward and backward in f32 at N = 1, 37 and 300 (relative error < 1e-5),
 * plus the optimizer, RNG, reduction, GEMM, FFT and diagonal-SSM entries at
 * larger sizes, the selective scan at a layer's size, and the golden S4, S4D, S5 and
 * Mamba comparisons on the GPU (f32, 1e-4).
 * Without a GPU the suite exits 77, which automake reports as SKIP. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "arena.h"
#include "comm.h"
#include "golden.h"
#include "grad_buckets.h"
#include "grad_sync.h"
#include "optim.h"
#include "golden_layers.h"
#include "half.h"
#include "kernels.h"
#include "layer.h"
#include "log.h"
#include "model.h"
#include <string.h>
#include "opcases.h"
#include "ops.h"
#include "testutil.h"
#include "train_step.h"

#define TOL 1e-5

static const int64_t sizes[] = {1, 37, 300};

/* Inputs on `dev` as leaves (with gradients where the case wants them). */
static void make_inputs(const op_case *oc, int64_t n, ssm_tensor **cpu, ssm_tensor **gpu) {
    for (int i = 0; i < oc->n_in; i++) {
        cpu[i] = opc_input_new(oc, i, SSM_F32, n, 500 + (uint64_t)i);
        gpu[i] = ssm_tensor_to(NULL, cpu[i], SSM_CUDA);
        if (cpu[i]->flags & SSM_T_REQUIRES_GRAD) ssm_requires_grad(gpu[i]);
    }
}

static ssm_tensor *run(const op_case *oc, ssm_ctx *c, ssm_tensor **in, const ssm_tensor *dy_cpu) {
    int user = oc->user;
    ssm_tensor *y = oc->fn(c, in, &user);
    if (y->flags & SSM_T_REQUIRES_GRAD) {
        ssm_tensor *dy = ssm_tensor_to(c->arena, dy_cpu, y->device);
        ssm_backward_with(c, y, dy);
    }
    return ssm_tensor_to(NULL, y, SSM_CPU);
}

START_TEST(cuda_matches_cpu) {
    const op_case *oc = &opc_cases[_i];
    if (opc_cuda_missing(oc)) {
        printf("%s: not compared (no CUDA kernel yet)\n", oc->name);
        return;
    }
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        ssm_tensor *cpu[5], *gpu[5];
        make_inputs(oc, sizes[s], cpu, gpu);
        ssm_ctx *cc = ssm_ctx_new(77), *gc = ssm_ctx_new(77);
        /* the upstream gradient has the output's shape: learn it from a no-grad run */
        int user = oc->user, saved = ssm_no_grad_begin(cc);
        ssm_tensor *probe = oc->fn(cc, cpu, &user);
        ssm_tensor *dy = tu_randn(SSM_F32, probe->ndim, probe->shape, 900, 1.0);
        ssm_no_grad_end(cc, saved);
        ssm_ctx_reset(cc);
        cc->rng_offset = 0;
        ssm_tensor *yc = run(oc, cc, cpu, dy), *yg = run(oc, gc, gpu, dy);
        double e = tu_rel_err(yg, yc);
        ck_assert_msg(e < TOL, "%s N=%lld: output relative error %.3g", oc->name,
                      (long long)sizes[s], e);
        for (int i = 0; i < oc->n_in; i++) {
            if (!cpu[i]->grad) continue;
            e = tu_rel_err(gpu[i]->grad, cpu[i]->grad);
            ck_assert_msg(e < TOL, "%s N=%lld: gradient of input %d relative error %.3g",
                          oc->name, (long long)sizes[s], i, e);
        }
        for (int i = 0; i < oc->n_in; i++) {
            ssm_tensor_free(cpu[i]);
            ssm_tensor_free(gpu[i]);
        }
        ssm_tensor_free(yc);
        ssm_tensor_free(yg);
        ssm_tensor_free(dy);
        ssm_ctx_free(cc);
        ssm_ctx_free(gc);
    }
}
END_TEST

/* Run a kernel-table entry on both backends over the same buffers and compare. */
typedef void (*entry_fn)(const ssm_kernels *k, ssm_tensor **buf, int64_t n);

static void compare_entry(const char *name, entry_fn fn, int nbuf, int64_t n) {
    ssm_tensor *cpu[6], *gpu[6];
    for (int i = 0; i < nbuf; i++) {
        cpu[i] = tu_rand(SSM_F32, SSM_DIMS(n), 40 + (uint64_t)i, 0.1, 1.0);
        gpu[i] = ssm_tensor_to(NULL, cpu[i], SSM_CUDA);
    }
    fn(ssm_kernels_for(SSM_CPU), cpu, n);
    fn(ssm_kernels_for(SSM_CUDA), gpu, n);
    for (int i = 0; i < nbuf; i++) {
        double e = tu_rel_err(gpu[i], cpu[i]);
        ck_assert_msg(e < TOL, "%s n=%lld: buffer %d relative error %.3g", name, (long long)n, i, e);
        ssm_tensor_free(cpu[i]);
        ssm_tensor_free(gpu[i]);
    }
}

/* hp and stats in k's memory */
static void *on_device(const ssm_kernels *k, const void *h, size_t n) {
    void *d = k->alloc(n);
    k->from_host(d, h, n);
    return d;
}
static ssm_optim_hp test_hp(int64_t n, int64_t step, int decoupled) {
    ssm_optim_hp hp = {.end = {n / 3, n / 2, n, n}, .lr = {1e-2, 3e-3, 1e-3, 5e-3},
                       .weight_decay = {0.1, 0, 0.05, 0}, .beta1 = 0.9, .beta2 = 0.999,
                       .eps = 1e-8, .momentum = 0.9, .step = step, .decoupled = decoupled,
                       .nesterov = step == 3, .max_norm = 0.5, .grad_scale = 0.7};
    return hp;
}
/* three kinds of update: a fixed scale (no stats), clipping from stats, and stats with a
 * non-finite norm (must change nothing) */
static void e_optim(const ssm_kernels *k, ssm_tensor **b, int64_t n, int sgd) {
    ssm_step_stats st[2] = {{.loss_sum = 1.5, .gnorm_sq = 9.0, .count = 3},
                            {.loss_sum = 1.5, .gnorm_sq = NAN, .count = 3}};
    ssm_step_stats *dst = on_device(k, st, sizeof st);
    for (int64_t s = 1; s <= 3; s++)
        for (int kind = 0; kind < 3; kind++) {
            ssm_optim_hp hp = test_hp(n, s, kind != 1);
            ssm_optim_hp *d = on_device(k, &hp, sizeof hp);
            const ssm_step_stats *use = kind == 0 ? NULL : dst + (kind - 1);
            if (sgd)
                k->sgd(SSM_F32, b[0]->data, b[1]->data, b[2]->data, n, d, use);
            else
                k->adamw(SSM_F32, b[0]->data, b[1]->data, b[2]->data, b[3]->data, n, d, use);
            k->free(d);
        }
    k->free(dst);
}
static void e_adamw(const ssm_kernels *k, ssm_tensor **b, int64_t n) { e_optim(k, b, n, 0); }
static void e_sgd(const ssm_kernels *k, ssm_tensor **b, int64_t n) { e_optim(k, b, n, 1); }
static void e_rand(const ssm_kernels *k, ssm_tensor **b, int64_t n) {
    k->rand_uniform(SSM_F32, b[0]->data, n, 5, 1000, -2.0, 3.0);
    k->rand_normal(SSM_F32, b[1]->data, n, 6, 7, 1.0, 2.0);
}
static void e_sumsq(const ssm_kernels *k, ssm_tensor **b, int64_t n) {
    double *d = k->alloc(sizeof *d), s;
    k->sumsq(SSM_F32, b[0]->data, n, d);
    k->to_host(&s, d, sizeof s);
    k->free(d);
    k->fill(SSM_F32, b[1]->data, 1, s); /* make the result comparable as a buffer */
}

START_TEST(cuda_entries_match_cpu) {
    static const int64_t ns[] = {1, 1000, 1 << 20};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        compare_entry("adamw", e_adamw, 4, ns[i]);
        compare_entry("sgd", e_sgd, 3, ns[i]);
        compare_entry("rand", e_rand, 2, ns[i]);
        compare_entry("sumsq", e_sumsq, 2, ns[i]);
    }
}
END_TEST

/* Larger FFT convolutions and GEMMs than the op cases, as the layers use them. */
/* The embedding backward (kernels.h's chunked order) the same bits on two runs and as
 * the CPU's: heavily repeated ids (200 000 tokens over 7 of 11 rows), a ListOps-like
 * batch where the padding id holds 45% of the positions, and a language model's large
 * vocabulary (more ids than positions per chunk, mostly one position per segment). */
START_TEST(cuda_embedding_bwd_deterministic) {
    const struct { int64_t n, dim, vocab; int kind; } cases[] = {
        {200000, 33, 11, 0}, {100000, 128, 18, 1}, {5000, 64, 50280, 2}};
    const ssm_kernels *kc = ssm_kernels_for(SSM_CPU), *kg = ssm_kernels_for(SSM_CUDA);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int64_t n = cases[ci].n, dim = cases[ci].dim, vocab = cases[ci].vocab;
        ssm_tensor *idx = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(n));
        int32_t *ip = idx->data;
        for (int64_t i = 0; i < n; i++)
            ip[i] = cases[ci].kind == 0   ? (int32_t)((i * 7919 + i / 13) % 7)
                    : cases[ci].kind == 1 ? (i % 2000 >= 1100 ? 0 : (int32_t)(1 + i * 31 % 17))
                                          : (int32_t)((i * 2654435761u) % (uint64_t)vocab);
        ssm_tensor *dy = tu_randn(SSM_F32, SSM_DIMS(n, dim), 31, 1.0);
        ssm_tensor *dW = tu_randn(SSM_F32, SSM_DIMS(vocab, dim), 32, 1.0); /* accumulates */
        ssm_tensor *gidx = ssm_tensor_to(NULL, idx, SSM_CUDA), *gdy = ssm_tensor_to(NULL, dy, SSM_CUDA);
        ssm_tensor *g[2];
        for (int r = 0; r < 2; r++) {
            g[r] = ssm_tensor_to(NULL, dW, SSM_CUDA);
            kg->embedding_bwd(SSM_F32, gdy->data, gidx->data, g[r]->data, n, dim, vocab);
        }
        kc->embedding_bwd(SSM_F32, dy->data, idx->data, dW->data, n, dim, vocab);
        size_t bytes = sizeof(float) * (size_t)(vocab * dim);
        float *a = malloc(bytes), *b = malloc(bytes);
        ssm_tensor_to_host(g[0], a);
        ssm_tensor_to_host(g[1], b);
        const float *c = dW->data;
        for (int64_t i = 0; i < vocab * dim; i++) {
            ck_assert_msg(a[i] == b[i], "case %zu run to run: element %lld %.9g vs %.9g", ci,
                          (long long)i, a[i], b[i]);
            ck_assert_msg(a[i] == c[i], "case %zu cuda vs cpu: element %lld %.9g vs %.9g", ci,
                          (long long)i, a[i], c[i]);
        }
        free(a);
        free(b);
        ssm_tensor *all[] = {idx, dy, dW, gidx, gdy, g[0], g[1]};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ssm_tensor_free(all[i]);
    }
}
END_TEST

START_TEST(cuda_large_fft_and_gemm) {
    ssm_tensor *u = tu_randn(SSM_F32, SSM_DIMS(4, 64, 1024), 1, 1.0);
    ssm_tensor *kk = tu_randn(SSM_F32, SSM_DIMS(64, 1024), 2, 0.1);
    ssm_tensor *a = tu_randn(SSM_F32, SSM_DIMS(3, 257, 129), 3, 1.0);
    ssm_tensor *w = tu_randn(SSM_F32, SSM_DIMS(129, 65), 4, 1.0);
    ssm_tensor *leaves[4] = {u, kk, a, w}, *gl[4];
    for (int i = 0; i < 4; i++) {
        ssm_requires_grad(leaves[i]);
        gl[i] = ssm_tensor_to(NULL, leaves[i], SSM_CUDA);
        ssm_requires_grad(gl[i]);
    }
    ssm_tensor *y[2][2];
    for (int d = 0; d < 2; d++) {
        ssm_tensor **in = d ? gl : leaves;
        ssm_ctx *c = ssm_ctx_new(1);
        ssm_tensor *conv = ssm_fft_conv(c, in[0], in[1]);
        ssm_tensor *mm = ssm_matmul(c, in[2], in[3]);
        ssm_tensor *loss = ssm_add(c, ssm_sum_all(c, ssm_square(c, conv)),
                                   ssm_sum_all(c, ssm_square(c, mm)));
        ssm_backward(c, loss);
        y[d][0] = ssm_tensor_to(NULL, conv, SSM_CPU);
        y[d][1] = ssm_tensor_to(NULL, mm, SSM_CPU);
        ssm_ctx_free(c);
    }
    for (int j = 0; j < 2; j++) ck_assert_double_lt(tu_rel_err(y[1][j], y[0][j]), TOL);
    for (int i = 0; i < 4; i++) {
        double e = tu_rel_err(gl[i]->grad, leaves[i]->grad);
        ck_assert_msg(e < TOL, "large case: gradient %d relative error %.3g", i, e);
        ssm_tensor_free(gl[i]);
        ssm_tensor_free(leaves[i]);
    }
    for (int d = 0; d < 2; d++)
        for (int j = 0; j < 2; j++) ssm_tensor_free(y[d][j]);
}
END_TEST

/* Causal conv1d with SiLU over more rows than a grid's y extent (B C = 80,000 > 65,535:
 * the forward's row loop) and at Mamba's row length, against the CPU, with gradients;
 * the backward's instances for 4, 3 and 2 taps and its any-K one (5). */
START_TEST(cuda_conv1d_many_rows) {
    const int64_t shapes[5][4] = {{40, 2000, 9, 4}, {2, 48, 2048, 4}, {3, 20, 300, 3},
                                  {3, 20, 300, 2}, {3, 20, 300, 5}};
    for (int s = 0; s < 5; s++) {
        const int64_t B = shapes[s][0], C = shapes[s][1], L = shapes[s][2], K = shapes[s][3];
        ssm_tensor *x = tu_randn(SSM_F32, SSM_DIMS(B, C, L), 21, 1.0);
        ssm_tensor *w = tu_randn(SSM_F32, SSM_DIMS(C, K), 22, 0.5);
        ssm_tensor *b = tu_randn(SSM_F32, SSM_DIMS(C), 23, 0.5);
        ssm_tensor *leaves[3] = {x, w, b}, *gl[3], *y[2];
        for (int i = 0; i < 3; i++) {
            ssm_requires_grad(leaves[i]);
            gl[i] = ssm_tensor_to(NULL, leaves[i], SSM_CUDA);
            ssm_requires_grad(gl[i]);
        }
        for (int d = 0; d < 2; d++) {
            ssm_tensor **in = d ? gl : leaves;
            ssm_ctx *c = ssm_ctx_new(1);
            ssm_tensor *out = ssm_conv1d_causal(c, in[0], in[1], in[2], 1);
            ssm_backward(c, ssm_sum_all(c, ssm_square(c, out)));
            y[d] = ssm_tensor_to(NULL, out, SSM_CPU);
            ssm_ctx_free(c);
        }
        ck_assert_double_lt(tu_rel_err(y[1], y[0]), TOL);
        for (int i = 0; i < 3; i++) {
            double e = tu_rel_err(gl[i]->grad, leaves[i]->grad);
            ck_assert_msg(e < TOL, "conv1d %lld x %lld x %lld, %lld taps: gradient %d relative "
                          "error %.3g", (long long)B, (long long)C, (long long)L, (long long)K, i, e);
            ssm_tensor_free(gl[i]);
            ssm_tensor_free(leaves[i]);
        }
        for (int d = 0; d < 2; d++) ssm_tensor_free(y[d]);
    }
}
END_TEST

/* BatchNorm at a training step's size (ListOps: batch 50 x length 2000 rows, 128
 * channels): the multi-block column reductions, the running statistics and evaluation
 * mode against the CPU. */
START_TEST(cuda_batchnorm_large) {
    const int64_t R = 50 * 2000, C = 128;
    ssm_tensor *x = tu_randn(SSM_F32, SSM_DIMS(R, C), 11, 2.0);
    float *xd = x->data; /* per-channel offsets, as real activations have */
    for (int64_t i = 0; i < R * C; i++) xd[i] += (float)(i % C) * 0.25f - 8.0f;
    ssm_tensor *w = tu_randn(SSM_F32, SSM_DIMS(C), 12, 1.0), *b = tu_randn(SSM_F32, SSM_DIMS(C), 13, 1.0);
    ssm_tensor *out[2][4];
    for (int d = 0; d < 2; d++) {
        ssm_device dev = d ? SSM_CUDA : SSM_CPU;
        ssm_tensor *xi = ssm_tensor_to(NULL, x, dev), *wi = ssm_tensor_to(NULL, w, dev),
                   *bi = ssm_tensor_to(NULL, b, dev);
        ssm_tensor *rm = ssm_tensor_new(SSM_F32, dev, SSM_DIMS(C)), *rv = ssm_tensor_new(SSM_F32, dev, SSM_DIMS(C));
        ssm_tensor_fill(rm, 0.0);
        ssm_tensor_fill(rv, 1.0);
        ssm_ctx *c = ssm_ctx_new(1);
        ssm_tensor *y = NULL;
        for (int k = 0; k < 3; k++) { /* three training steps move the running statistics */
            y = ssm_batchnorm(c, xi, wi, bi, rm, rv, 1e-5, 0.1);
            if (k < 2) ssm_ctx_reset(c);
        }
        out[d][0] = ssm_tensor_to(NULL, y, SSM_CPU);
        out[d][1] = ssm_tensor_to(NULL, rm, SSM_CPU);
        out[d][2] = ssm_tensor_to(NULL, rv, SSM_CPU);
        ssm_ctx_reset(c);
        c->training = 0;
        out[d][3] = ssm_tensor_to(NULL, ssm_batchnorm(c, xi, wi, bi, rm, rv, 1e-5, 0.1), SSM_CPU);
        ssm_ctx_free(c);
        ssm_tensor *all[] = {xi, wi, bi, rm, rv};
        for (int i = 0; i < 5; i++) ssm_tensor_free(all[i]);
    }
    const char *what[] = {"train output", "running_mean", "running_var", "eval output"};
    for (int j = 0; j < 4; j++) {
        double e = tu_rel_err(out[1][j], out[0][j]);
        ck_assert_msg(e < 1e-5, "batchnorm %s: relative error %.3g", what[j], e);
        ssm_tensor_free(out[0][j]);
        ssm_tensor_free(out[1][j]);
    }
    ssm_tensor_free(x);
    ssm_tensor_free(w);
    ssm_tensor_free(b);
}
END_TEST

/* A ListOps-shaped classifier (embedding, bidirectional S4D, post-norm BatchNorm, mean
 * pooling over padded sequences of different lengths) gives the CPU's logits on CUDA in
 * evaluation mode as in training mode: evaluation must not take another path. */
START_TEST(cuda_model_eval_matches_cpu) {
    const int64_t B = 4, L = 300, V = 18;
    ssm_model_config mc;
    memset(&mc, 0, sizeof mc);
    snprintf(mc.layer, sizeof mc.layer, "s4d");
    mc.lcfg = (ssm_layer_config){.d_model = 32, .d_state = 16, .dt_min = 1e-3, .dt_max = 1e-1,
                                 .init = SSM_INIT_LIN, .disc = 0, .l_max = L, .bidirectional = 1};
    mc.embedding = 1;
    mc.d_input = V;
    mc.d_output = 10;
    mc.n_layers = 3;
    mc.norm = SSM_NORM_BATCH;
    mc.residual = 1;
    mc.pool = SSM_POOL_MEAN;
    ssm_tensor *tok = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(B, L));
    ssm_tensor *pw = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(B, 1, L));
    int32_t *t = tok->data;
    float *w = pw->data;
    const int64_t len[4] = {300, 120, 257, 31};
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++) {
            t[b * L + l] = l < len[b] ? (int32_t)(3 + (b * 7 + l * 13) % (V - 3)) : 0;
            w[b * L + l] = l < len[b] ? 1.0f / (float)len[b] : 0.0f;
        }
    ssm_tensor *out[2][3];
    for (int d = 0; d < 2; d++) {
        ssm_device dev = d ? SSM_CUDA : SSM_CPU;
        ssm_model *m = ssm_model_new(&mc, SSM_F32, dev);
        ck_assert_msg(m != NULL, "%s", ssm_last_error());
        ssm_model_init(m, 5);
        char name[128];
        for (int i = 0; i < ssm_model_n_buffers(m); i++) { /* running statistics away from 0, 1 */
            ssm_tensor *buf = ssm_model_buffer(m, i, name, sizeof name);
            ssm_tensor *h = ssm_tensor_new(SSM_F32, SSM_CPU, buf->ndim, buf->shape);
            for (int64_t j = 0; j < h->numel; j++)
                ((float *)h->data)[j] = (float)(0.6 + 0.3 * sin((double)(7 * i + j)));
            ssm_tensor_copy(buf, h);
            ssm_tensor_free(h);
        }
        ssm_tensor *td = ssm_tensor_to(NULL, tok, dev), *wd = ssm_tensor_to(NULL, pw, dev);
        ssm_ctx *c = ssm_ctx_new(1);
        c->training = 0;
        int saved = ssm_no_grad_begin(c); /* as ssm_trainer_evaluate */
        out[d][0] = ssm_tensor_to(NULL, ssm_model_forward(c, m, td, wd), SSM_CPU);
        ssm_no_grad_end(c, saved);
        ssm_ctx_reset(c);
        out[d][1] = ssm_tensor_to(NULL, ssm_model_forward(c, m, td, wd), SSM_CPU); /* eval, grads on */
        ssm_ctx_reset(c);
        c->training = 1;
        out[d][2] = ssm_tensor_to(NULL, ssm_model_forward(c, m, td, wd), SSM_CPU);
        ssm_ctx_free(c);
        ssm_tensor_free(td);
        ssm_tensor_free(wd);
        ssm_model_free(m);
    }
    const char *what[] = {"eval (no grad)", "eval", "train"};
    for (int j = 0; j < 3; j++) {
        double e = tu_rel_err(out[1][j], out[0][j]);
        ck_assert_msg(e < 1e-4, "model logits, %s: CUDA vs CPU relative error %.3g", what[j], e);
        ssm_tensor_free(out[0][j]);
        ssm_tensor_free(out[1][j]);
    }
    ssm_tensor_free(tok);
    ssm_tensor_free(pw);
}
END_TEST

/* S4D-like modes on the CPU: dt log-uniform in [1e-3, 1e-1], A near S4D-Lin
 * (-1/2 + i pi n, jittered), C complex normal. */
static void s4d_modes(int64_t H, int64_t N2, uint64_t seed, ssm_tensor **dt, ssm_tensor **A,
                      ssm_tensor **C) {
    *dt = tu_rand(SSM_F32, SSM_DIMS(H), seed, log(1e-3), log(1e-1));
    ssm_tensor *jit = tu_rand(SSM_F32, SSM_DIMS(H, N2, 2), seed + 1, -0.5, 0.5);
    *A = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(H, N2, 2));
    *C = tu_randn(SSM_F32, SSM_DIMS(H, N2, 2), seed + 2, sqrt(0.5));
    float *d = (*dt)->data, *a = (*A)->data, *j = jit->data;
    for (int64_t h = 0; h < H; h++) d[h] = expf(d[h]);
    for (int64_t m = 0; m < H * N2; m++) {
        a[2 * m] = -0.5f * expf(j[2 * m]);
        a[2 * m + 1] = (float)(M_PI * (double)(m % N2)) + j[2 * m + 1];
    }
    ssm_tensor_free(jit);
}

static void expect_close(const char *what, int disc, const ssm_tensor *gpu, const ssm_tensor *cpu,
                         double tol) {
    double e = tu_rel_err(gpu, cpu);
    ck_assert_msg(e < tol, "%s (disc %d): relative error %.3g", what, disc, e);
}

/* Step mode: discretised modes and a few recurrent steps from a random state. */
START_TEST(cuda_diag_step_matches_cpu) {
    const int64_t B = 3, H = 16, N2 = 32;
    const ssm_kernels *kc = ssm_kernels_for(SSM_CPU), *kg = ssm_kernels_for(SSM_CUDA);
    for (int disc = 0; disc < 2; disc++) {
        ssm_tensor *dt, *A, *C;
        s4d_modes(H, N2, 60 + (uint64_t)disc, &dt, &A, &C);
        ssm_tensor *gdt = ssm_tensor_to(NULL, dt, SSM_CUDA), *gA = ssm_tensor_to(NULL, A, SSM_CUDA),
                   *gC = ssm_tensor_to(NULL, C, SSM_CUDA);
        ssm_tensor *z = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(H, N2, 2));
        ssm_tensor *Ct = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(H, N2, 2));
        ssm_tensor *gz = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(H, N2, 2));
        ssm_tensor *gCt = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(H, N2, 2));
        kc->diag_discretise(SSM_F32, disc, dt->data, A->data, C->data, z->data, Ct->data, H, N2);
        kg->diag_discretise(SSM_F32, disc, gdt->data, gA->data, gC->data, gz->data, gCt->data, H,
                            N2);
        expect_close("diag_discretise z", disc, gz, z, TOL);
        expect_close("diag_discretise Ct", disc, gCt, Ct, TOL);
        ssm_tensor *s = tu_randn(SSM_F32, SSM_DIMS(B, H, N2, 2), 70, 1.0);
        ssm_tensor *gs = ssm_tensor_to(NULL, s, SSM_CUDA);
        ssm_tensor *y = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(B, H));
        ssm_tensor *gy = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(B, H));
        for (int t = 0; t < 6; t++) {
            ssm_tensor *u = tu_randn(SSM_F32, SSM_DIMS(B, H), 80 + (uint64_t)t, 1.0);
            ssm_tensor *gu = ssm_tensor_to(NULL, u, SSM_CUDA);
            kc->diag_ssm_step(SSM_F32, z->data, Ct->data, s->data, u->data, y->data, B, H, N2);
            kg->diag_ssm_step(SSM_F32, gz->data, gCt->data, gs->data, gu->data, gy->data, B, H, N2);
            expect_close("diag_ssm_step y", disc, gy, y, TOL);
            expect_close("diag_ssm_step state", disc, gs, s, TOL);
            ssm_tensor_free(u);
            ssm_tensor_free(gu);
        }
        ssm_tensor *ts[] = {dt, A, C, gdt, gA, gC, z, Ct, gz, gCt, s, gs, y, gy};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) ssm_tensor_free(ts[i]);
    }
}
END_TEST

/* The Vandermonde kernel at a layer's size (H = 64, N2 = 32, L = 4096), and at an odd
 * one (more than 32 modes, a partial last tile): forward, backward accumulating into
 * non-zero gradients, and a backward with NULL outputs. */
START_TEST(cuda_vandermonde_large) {
    static const int64_t shapes[2][3] = {{64, 32, 4096}, {5, 40, 3001}};
    const ssm_kernels *kc = ssm_kernels_for(SSM_CPU), *kg = ssm_kernels_for(SSM_CUDA);
    for (int c = 0; c < 4; c++) {
        const int disc = c & 1;
        const int64_t H = shapes[c / 2][0], N2 = shapes[c / 2][1], L = shapes[c / 2][2];
        ssm_tensor *in[3], *gin[3], *gr[3], *ggr[3];
        s4d_modes(H, N2, 90 + (uint64_t)c, &in[0], &in[1], &in[2]);
        for (int i = 0; i < 3; i++) {
            gin[i] = ssm_tensor_to(NULL, in[i], SSM_CUDA);
            gr[i] = tu_randn(SSM_F32, in[i]->ndim, in[i]->shape, 100 + (uint64_t)i, 0.01);
            ggr[i] = ssm_tensor_to(NULL, gr[i], SSM_CUDA);
        }
        ssm_tensor *K = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(H, L));
        ssm_tensor *gK = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(H, L));
        kg->fill(SSM_F32, gK->data, gK->numel, NAN); /* every element must be written */
        kc->vandermonde_fwd(SSM_F32, disc, in[0]->data, in[1]->data, in[2]->data, K->data, H, N2, L);
        kg->vandermonde_fwd(SSM_F32, disc, gin[0]->data, gin[1]->data, gin[2]->data, gK->data, H,
                            N2, L);
        double eK = tu_rel_err(gK, K);
        ssm_tensor *dK = tu_randn(SSM_F32, SSM_DIMS(H, L), 110, 1.0);
        ssm_tensor *gdK = ssm_tensor_to(NULL, dK, SSM_CUDA);
        kc->vandermonde_bwd(SSM_F32, disc, in[0]->data, in[1]->data, in[2]->data, dK->data,
                            gr[0]->data, gr[1]->data, gr[2]->data, H, N2, L);
        kg->vandermonde_bwd(SSM_F32, disc, gin[0]->data, gin[1]->data, gin[2]->data, gdK->data,
                            ggr[0]->data, ggr[1]->data, ggr[2]->data, H, N2, L);
        double edt = tu_rel_err(ggr[0], gr[0]), eA = tu_rel_err(ggr[1], gr[1]),
               eC = tu_rel_err(ggr[2], gr[2]);
        printf("vandermonde H=%lld N2=%lld L=%lld disc=%d: relative error K %.2e, d dt %.2e, "
               "dA %.2e, dC %.2e\n", (long long)H, (long long)N2, (long long)L, disc, eK, edt, eA,
               eC);
        ck_assert_msg(eK < TOL && edt < TOL && eA < TOL && eC < TOL,
                      "vandermonde H=%lld N2=%lld L=%lld disc=%d: over %g", (long long)H,
                      (long long)N2, (long long)L, disc, TOL);
        /* only dC wanted: the others are skipped */
        kc->vandermonde_bwd(SSM_F32, disc, in[0]->data, in[1]->data, in[2]->data, dK->data, NULL,
                            NULL, gr[2]->data, H, N2, L);
        kg->vandermonde_bwd(SSM_F32, disc, gin[0]->data, gin[1]->data, gin[2]->data, gdK->data,
                            NULL, NULL, ggr[2]->data, H, N2, L);
        expect_close("vandermonde_bwd dC (second pass)", disc, ggr[2], gr[2], TOL);
        for (int i = 0; i < 3; i++) {
            ssm_tensor_free(in[i]);
            ssm_tensor_free(gin[i]);
            ssm_tensor_free(gr[i]);
            ssm_tensor_free(ggr[i]);
        }
        ssm_tensor_free(K);
        ssm_tensor_free(gK);
        ssm_tensor_free(dK);
        ssm_tensor_free(gdK);
    }
}
END_TEST

/* The official s4d.py's outputs and gradients (tests/data), on the GPU in f32. */
START_TEST(cuda_s4d_kernel_golden) { golden_s4d_kernel(SSM_F32, SSM_CUDA, 1e-4); }
END_TEST
/* Whole S4 and S4D layers at a realistic size (B = 4, H = 64, N = 64, L = 1024): the
 * same parameters on the CPU (f32, and f64 from the same values) and CUDA (f32), forward
 * and every gradient: CPU and CUDA agree to 1e-5, CUDA stays within 1e-4 of f64. The
 * sensitive one is S4D's log dt gradient (an ulp of dt moves it by 2e-5): both backends
 * round exp once from double and sum the Vandermonde backward in double. Every error is
 * printed. */
START_TEST(cuda_layers_match_cpu_large) {
    static const char *names[2] = {"s4d", "s4"};
    int64_t B = 4, H = 64, N = 64, L = 1024;
    for (int li = 0; li < 2; li++) {
        int s4 = li == 1;
        ssm_layer_config cfg = {.d_model = H, .d_state = N, .dt_min = 1e-3, .dt_max = 1e-1,
                                .init = s4 ? SSM_INIT_LEGS : SSM_INIT_LIN, .disc = s4, .l_max = L};
        ssm_tensor *xc = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 7, 1.0);
        ssm_tensor *dyc = tu_randn(SSM_F64, SSM_DIMS(B, L, H), 8, 1.0);
        tu_layer_run cpu, gpu, f64; /* the same parameters on all three */
        tu_layer_run_fwdbwd(&cpu, names[li], &cfg, SSM_F32, SSM_CPU, 5, NULL, xc, dyc);
        tu_layer_run_fwdbwd(&gpu, names[li], &cfg, SSM_F32, SSM_CUDA, 5, NULL, xc, dyc);
        tu_layer_run_fwdbwd(&f64, names[li], &cfg, SSM_F64, SSM_CPU, 5, cpu.ps, xc, dyc);
        double e = tu_rel_err(gpu.y, cpu.y);
        printf("%s layer: output cpu/cuda %.2e\n", names[li], e);
        ck_assert_msg(e < TOL, "%s layer: output relative error %.3g", names[li], e);
        e = tu_rel_err(gpu.x->grad, cpu.x->grad);
        printf("%s layer: input gradient cpu/cuda %.2e\n", names[li], e);
        ck_assert_msg(e < TOL, "%s layer: input gradient relative error %.3g", names[li], e);
        for (int i = 0; i < cpu.ps->n; i++) {
            const char *pn = cpu.ps->p[i]->name;
            double cc = tu_rel_err(gpu.ps->p[i]->grad, cpu.ps->p[i]->grad);
            double c64 = tu_rel_err(cpu.ps->p[i]->grad, f64.ps->p[i]->grad);
            double g64 = tu_rel_err(gpu.ps->p[i]->grad, f64.ps->p[i]->grad);
            printf("%s layer: gradient of %s: cpu/cuda %.2e, cpu/f64 %.2e, cuda/f64 %.2e\n",
                   names[li], pn, cc, c64, g64);
            ck_assert_msg(cc < TOL, "%s layer: gradient of %s: cpu/cuda %.3g", names[li], pn, cc);
            ck_assert_msg(g64 < 1e-4, "%s layer: gradient of %s: cuda/f64 %.3g", names[li], pn,
                          g64);
        }
        tu_layer_run_free(&cpu);
        tu_layer_run_free(&gpu);
        tu_layer_run_free(&f64);
        ssm_tensor_free(xc);
        ssm_tensor_free(dyc);
    }
}
END_TEST

/* Mamba's selective scan at a layer's size through the kernel table on both backends:
 * batch 2, d_inner 64, d_state 16, L 2048 (whole tiles) and L 1000 (a partial last tile
 * and chunk); inputs as the layer makes them (delta_bias = softplus^-1 of a log-uniform
 * step in [1e-3, 1e-1], A = -(n + 1) jittered). Forward (y, last_state, x_chunks) and
 * backward accumulating into non-zero gradients, with every optional input and with
 * none, at the default chunk (the backward's sub-tile), at 64 (sub-tiles found by a
 * boundary pass), a chunk that is not a multiple of the tiles and one chunk over the
 * whole sequence. */
typedef struct {
    int64_t L, chunk;
    int full; /* D, z, delta_bias and d_last_state present */
} scan_case;

START_TEST(cuda_selective_scan_large) {
    static const scan_case cases[] = {{2048, SSM_SCAN_CHUNK_DEFAULT, 1}, {1000, 64, 1},
                                      {1000, 100, 0}, {2048, 2048, 1}, {1000, 7, 1},
                                      {2048, 64, 1}};
    static const char *names[] = {"y", "last_state", "x_chunks", "du", "ddelta", "dA", "dB",
                                  "dC", "dD", "dz", "ddelta_bias"};
    const int64_t Bn = 2, Di = 64, N = 16;
    const ssm_kernels *kc = ssm_kernels_for(SSM_CPU), *kg = ssm_kernels_for(SSM_CUDA);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int64_t L = cases[ci].L, chunk = cases[ci].chunk, nc = (L + chunk - 1) / chunk;
        const int full = cases[ci].full;
        /* du, ddelta, dz added to (their random contents read) in even cases; in odd ones
         * du and dz stored over the random contents, ddelta added to */
        const int acc = ci % 2 ? SSM_SCAN_ACC_DDELTA
                               : SSM_SCAN_ACC_DU | SSM_SCAN_ACC_DDELTA | SSM_SCAN_ACC_DZ;
        const uint64_t sd = 200 + 20 * (uint64_t)ci;
        /* inputs: u, delta, A, B, C, D, z, delta_bias, dy, d_last */
        ssm_tensor *in[10];
        in[0] = tu_randn(SSM_F32, SSM_DIMS(Bn, Di, L), sd, 1.0);
        in[1] = tu_randn(SSM_F32, SSM_DIMS(Bn, Di, L), sd + 1, 0.5);
        in[2] = tu_randn(SSM_F32, SSM_DIMS(Di, N), sd + 2, 0.1);
        in[3] = tu_randn(SSM_F32, SSM_DIMS(Bn, N, L), sd + 3, 1.0);
        in[4] = tu_randn(SSM_F32, SSM_DIMS(Bn, N, L), sd + 4, 1.0);
        in[5] = tu_randn(SSM_F32, SSM_DIMS(Di), sd + 5, 0.1);
        in[6] = tu_randn(SSM_F32, SSM_DIMS(Bn, Di, L), sd + 6, 1.0);
        in[7] = tu_rand(SSM_F32, SSM_DIMS(Di), sd + 7, log(1e-3), log(1e-1));
        in[8] = tu_randn(SSM_F32, SSM_DIMS(Bn, Di, L), sd + 8, 1.0);
        in[9] = tu_randn(SSM_F32, SSM_DIMS(Bn, Di, N), sd + 9, 1.0);
        float *A = in[2]->data, *D = in[5]->data, *db = in[7]->data;
        for (int64_t i = 0; i < Di * N; i++) A[i] = -(float)(i % N + 1) * expf(A[i]);
        for (int64_t d = 0; d < Di; d++) {
            D[d] += 1.0f;
            db[d] = logf(expm1f(expf(db[d]))); /* softplus^-1(dt) */
        }
        ssm_tensor *gin[10];
        for (int i = 0; i < 10; i++) gin[i] = ssm_tensor_to(NULL, in[i], SSM_CUDA);
        /* outputs: y, last, x_chunks ([b, d, c * N]), then the 8 gradients (random: they
         * accumulate); {ndim, sizes} */
        const int64_t shapes[11][4] = {{3, Bn, Di, L},  {3, Bn, Di, N}, {3, Bn, Di, nc * N},
                                       {3, Bn, Di, L},  {3, Bn, Di, L}, {2, Di, N},
                                       {3, Bn, N, L},   {3, Bn, N, L},  {1, Di},
                                       {3, Bn, Di, L},  {1, Di}};
        ssm_tensor *out[11], *gout[11];
        for (int i = 0; i < 11; i++) {
            const int64_t *sh = shapes[i];
            int64_t shape[3] = {sh[1], sh[2], sh[3]};
            int nd = (int)sh[0];
            out[i] = i < 3 ? ssm_tensor_new(SSM_F32, SSM_CPU, nd, shape)
                           : tu_randn(SSM_F32, nd, shape, sd + 30 + (uint64_t)i, 0.1);
            gout[i] = ssm_tensor_to(NULL, out[i], SSM_CUDA);
            if (i < 3) kg->fill(SSM_F32, gout[i]->data, gout[i]->numel, NAN); /* all written */
        }
        for (int dev = 0; dev < 2; dev++) {
            const ssm_kernels *k = dev ? kg : kc;
            ssm_tensor **I = dev ? gin : in, **O = dev ? gout : out;
            void *Dp = full ? I[5]->data : NULL, *zp = full ? I[6]->data : NULL;
            void *bp = full ? I[7]->data : NULL, *dl = full ? I[9]->data : NULL;
            k->selective_scan_fwd(SSM_F32, I[0]->data, I[1]->data, I[2]->data, I[3]->data,
                                  I[4]->data, Dp, zp, bp, O[0]->data, O[1]->data, O[2]->data, Bn,
                                  Di, N, L, chunk);
            k->selective_scan_bwd(SSM_F32, I[0]->data, I[1]->data, I[2]->data, I[3]->data,
                                  I[4]->data, Dp, zp, bp, O[2]->data, I[8]->data, dl, O[3]->data,
                                  O[4]->data, O[5]->data, O[6]->data, O[7]->data,
                                  full ? O[8]->data : NULL, full ? O[9]->data : NULL,
                                  full ? O[10]->data : NULL, Bn, Di, N, L, chunk, acc);
        }
        printf("selective_scan batch=%lld d_inner=%lld d_state=%lld L=%lld chunk=%lld %s: "
               "relative error", (long long)Bn, (long long)Di, (long long)N, (long long)L,
               (long long)chunk, full ? "D, z, bias, d_last" : "no D, z, bias, d_last");
        double worst = 0;
        for (int i = 0; i < 11; i++) {
            double e = tu_rel_err(gout[i], out[i]);
            printf(" %s %.2e", names[i], e);
            if (!(e < TOL)) ck_abort_msg("selective_scan L=%lld chunk=%lld: %s relative error %.3g",
                                         (long long)L, (long long)chunk, names[i], e);
            if (e > worst) worst = e;
        }
        printf(" (worst %.2e)\n", worst);
        for (int i = 0; i < 11; i++) {
            ssm_tensor_free(out[i]);
            ssm_tensor_free(gout[i]);
        }
        for (int i = 0; i < 10; i++) {
            ssm_tensor_free(in[i]);
            ssm_tensor_free(gin[i]);
        }
    }
}
END_TEST

/* The official mamba_ssm selective_scan_ref and Mamba block, and the official S5 layer
 * (tests/data), on the GPU in f32. */
START_TEST(cuda_selective_scan_golden) { golden_selective_scan(SSM_F32, SSM_CUDA, 1e-4); }
END_TEST
START_TEST(cuda_mamba_block_golden) { golden_mamba_block(SSM_F32, SSM_CUDA, 1e-4); }
END_TEST
START_TEST(cuda_s5_zoh_golden) { golden_s5("s5_zoh.h5", SSM_F32, SSM_CUDA, 1e-4); }
END_TEST
START_TEST(cuda_s5_bilinear_bidir_golden) {
    golden_s5("s5_bilinear_bidir.h5", SSM_F32, SSM_CUDA, 1e-4);
}
END_TEST

/* What train.precision = bf16 promises a GEMM: each f32 operand rounded to bfloat16 (to
 * nearest, ties to even), products summed in f32. Against that rule computed on the host
 * in double: 1e-5 relative (the f32 sums of k = 384 terms); against the unrounded
 * product it must be off by more than 1e-4 (it is ~2e-3: bf16 keeps 8 bits), so a path
 * that silently multiplied in f32 or TF32, or rounded otherwise (truncation is off by
 * ~1e-3 against the rule), fails. Both transposes, a strided batch and beta = 1. */
START_TEST(cuda_bf16_gemm_rounds_operands) {
    const ssm_kernels *k = ssm_kernels_for(SSM_CUDA);
    const int64_t m = 96, n = 80, kk = 384, batch = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            ssm_tensor *A = tu_randn(SSM_F32, SSM_DIMS(batch, m * kk), 71 + ta, 1.0);
            ssm_tensor *Bm = tu_randn(SSM_F32, SSM_DIMS(batch, kk * n), 73 + tb, 1.0);
            ssm_tensor *C0 = tu_randn(SSM_F32, SSM_DIMS(batch, m * n), 75, 1.0);
            ssm_tensor *gA = ssm_tensor_to(NULL, A, SSM_CUDA), *gB = ssm_tensor_to(NULL, Bm, SSM_CUDA);
            ssm_tensor *gC = ssm_tensor_to(NULL, C0, SSM_CUDA);
            k->set_gemm_precision(SSM_GEMM_BF16);
            /* stored row-major: A [m, k] or [k, m] (ta), B [k, n] or [n, k] (tb) */
            k->gemm(SSM_F32, ta, tb, m, n, kk, 1.0, gA->data, ta ? m : kk, m * kk, gB->data,
                    tb ? kk : n, kk * n, 1.0, gC->data, n, m * n, batch);
            k->set_gemm_precision(SSM_GEMM_FP32);
            float *c = malloc(sizeof *c * (size_t)(batch * m * n));
            ssm_tensor_to_host(gC, c);
            const float *a = A->data, *b = Bm->data, *c0 = C0->data;
            double err_rule = 0, err_exact = 0, big = 0;
            for (int64_t q = 0; q < batch; q++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        double rule = c0[(q * m + i) * n + j], exact = rule;
                        for (int64_t l = 0; l < kk; l++) {
                            float av = a[q * m * kk + (ta ? l * m + i : i * kk + l)];
                            float bv = b[q * kk * n + (tb ? j * kk + l : l * n + j)];
                            rule += (double)ssm_bf16_to_f32(ssm_f32_to_bf16(av)) *
                                    ssm_bf16_to_f32(ssm_f32_to_bf16(bv));
                            exact += (double)av * bv;
                        }
                        double got = c[(q * m + i) * n + j];
                        err_rule = fmax(err_rule, fabs(got - rule));
                        err_exact = fmax(err_exact, fabs(got - exact));
                        big = fmax(big, fabs(exact));
                    }
            ck_assert_msg(err_rule <= 1e-5 * big, "ta %d tb %d: %.3g from the bf16 rule", ta, tb,
                          err_rule / big);
            ck_assert_msg(err_exact > 1e-4 * big, "ta %d tb %d: only %.3g from the f32 product: "
                          "not bf16", ta, tb, err_exact / big);
            free(c);
            ssm_tensor *all[] = {A, Bm, C0, gA, gB, gC};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ssm_tensor_free(all[i]);
        }
}
END_TEST

/* train.precision = bf16: every layer's output and gradients with bf16 GEMMs against the
 * official results (the golden files), within 5e-2 relative (golden.c's measure: the
 * largest difference over the largest reference value). Why 5e-2: bfloat16 keeps 8
 * significant bits (unit roundoff u = 2^-8 = 3.9e-3); a GEMM rounds both operands (2u
 * per product; its f32 sums add ~1e-7) and a gradient passes through up to six GEMMs
 * (the layer's linears forward, then dX and dW backward): 6 x 2u = 4.7e-2. Everything
 * else (SSM kernels, FFT, scan, norms, loss) stays f32, so this bounds the GEMMs alone;
 * the f32 runs of the same files hold 1e-4. */
START_TEST(cuda_bf16_layers_near_golden) {
    const ssm_kernels *k = ssm_kernels_for(SSM_CUDA);
    const double tol = 5e-2;
    k->set_gemm_precision(SSM_GEMM_BF16);
    golden_s4d_layer(SSM_F32, SSM_CUDA, tol);
    golden_s4(1, SSM_F32, SSM_CUDA, tol);
    golden_s5("s5_zoh.h5", SSM_F32, SSM_CUDA, tol);
    golden_mamba_block(SSM_F32, SSM_CUDA, tol);
    k->set_gemm_precision(SSM_GEMM_FP32);
}
END_TEST

/* The golden S4D and S4 layers (s4d_layer.h5, s4_layer.h5) on both devices in f32, from
 * the file's parameters and inputs: CPU and CUDA agree to 1e-5 on the output and every
 * gradient (the golden tests compare each device with the f64 reference separately). */
START_TEST(cuda_matches_cpu_on_golden_layers) {
    static const struct { const char *file, *layer; } cases[] = {{"s4d_layer.h5", "s4d"},
                                                                  {"s4_layer.h5", "s4"}};
    for (int ci = 0; ci < 2; ci++) {
        ssm_h5 *f = golden_open(cases[ci].file);
        int s4 = ci == 1;
        int64_t H = (int64_t)golden_attr(f, "H"), L = (int64_t)golden_attr(f, "L");
        ssm_layer_config cfg = {.d_model = H, .d_state = (int64_t)golden_attr(f, "N"),
                                .dt_min = 1e-3, .dt_max = 1e-1,
                                .init = s4 ? SSM_INIT_LEGS : SSM_INIT_LIN, .disc = s4,
                                .l_max = s4 ? (int64_t)golden_attr(f, "l_max") : L};
        const ssm_layer_ops *ops = ssm_layer_ops_for(cases[ci].layer);
        ssm_params *ps[2];
        void *m[2];
        ssm_tensor *u[2], *y[2];
        for (int d = 0; d < 2; d++) {
            ssm_device dev = d ? SSM_CUDA : SSM_CPU;
            ps[d] = ssm_params_new(SSM_F32, dev);
            m[d] = ops->create(&cfg, ps[d], "");
            ssm_params_finalize(ps[d]);
            golden_load_params(f, ps[d]);
            u[d] = golden_tensor(f, "/inputs/u", SSM_F32, dev);
            ssm_requires_grad(u[d]);
            ssm_ctx *c = ssm_ctx_new(0);
            ssm_tensor *out = ssm_transpose(c, ops->forward(c, m[d], ssm_transpose(c, u[d], 1, 2)), 1, 2);
            ssm_tensor *dy = golden_tensor(f, "/inputs/dy_y", SSM_F32, dev);
            ssm_backward_with(c, out, dy);
            y[d] = ssm_tensor_to(NULL, out, SSM_CPU);
            ssm_tensor_free(dy);
            ssm_ctx_free(c);
        }
        double e = tu_rel_err(y[1], y[0]);
        ck_assert_msg(e < TOL, "%s: output cpu/cuda %.3g", cases[ci].file, e);
        e = tu_rel_err(u[1]->grad, u[0]->grad);
        ck_assert_msg(e < TOL, "%s: gradient of u cpu/cuda %.3g", cases[ci].file, e);
        for (int i = 0; i < ps[0]->n; i++) {
            e = tu_rel_err(ps[1]->p[i]->grad, ps[0]->p[i]->grad);
            ck_assert_msg(e < TOL, "%s: gradient of %s cpu/cuda %.3g", cases[ci].file,
                          ps[0]->p[i]->name, e);
        }
        for (int d = 0; d < 2; d++) {
            ops->destroy(m[d]);
            ssm_params_free(ps[d]);
            ssm_tensor_free(u[d]);
            ssm_tensor_free(y[d]);
        }
        ssm_h5_close(f);
    }
}
END_TEST

START_TEST(cuda_s4_fftconv_golden) { golden_s4(0, SSM_F32, SSM_CUDA, 1e-4); }
END_TEST
START_TEST(cuda_s4_layer_golden) { golden_s4(1, SSM_F32, SSM_CUDA, 1e-4); }
END_TEST
START_TEST(cuda_s4d_layer_golden) { golden_s4d_layer(SSM_F32, SSM_CUDA, 1e-4); }
END_TEST

/* Data parallel on one GPU: the NCCL all-reduce of a world of one (comm.h's CUDA table)
 * leaves training bit-identical to the plain path: 5 AdamW steps of the golden S4D layer,
 * with and without ssm_grads_allreduce between backward and the update. A weight of
 * 0.5 (exact in binary) halves every gradient exactly. The same in buckets overlapped
 * with backward (grad_buckets.h: NCCL on the second stream, each bucket after an event of
 * the compute stream): the gradients after the sums are those of the one all-reduce bit
 * for bit, step by step. */
START_TEST(cuda_nccl_one_rank_matches_plain) {
#ifdef SSM_HAVE_NCCL
    ck_assert_str_eq(ssm_comm_for(SSM_CUDA)->name, "nccl");
#endif
    ssm_h5 *f = golden_open("s4d_layer.h5");
    int64_t H = (int64_t)golden_attr(f, "H"), L = (int64_t)golden_attr(f, "L");
    ssm_layer_config cfg = {.d_model = H, .d_state = (int64_t)golden_attr(f, "N"),
                            .dt_min = 1e-3, .dt_max = 1e-1, .init = SSM_INIT_LIN, .l_max = L};
    const ssm_layer_ops *ops = ssm_layer_ops_for("s4d");
    ssm_tensor *vals[3], *summed[5] = {NULL};
    for (int mode = 0; mode < 3; mode++) { /* plain, one all-reduce, buckets */
        ssm_params *ps = ssm_params_new(SSM_F32, SSM_CUDA);
        void *m = ops->create(&cfg, ps, "");
        ssm_params_finalize(ps);
        golden_load_params(f, ps);
        ssm_grad_sync gs;
        ssm_grad_sync_init(&gs, ps, ssm_comm_for(SSM_CUDA), mode == 2 ? 1e-4 : 0);
#ifdef SSM_HAVE_NCCL
        ck_assert(mode < 2 || (gs.overlap && gs.n >= 3)); /* buckets of 26 floats */
#endif
        ssm_optim *o = ssm_optim_new(SSM_OPT_ADAMW, ps, 1e-2, 0.01);
        ssm_tensor *u = golden_tensor(f, "/inputs/u", SSM_F32, SSM_CUDA);
        ssm_tensor *dy = golden_tensor(f, "/inputs/dy_y", SSM_F32, SSM_CUDA);
        ssm_ctx *c = ssm_ctx_new(0);
        for (int step = 0; step < 5; step++) {
            ssm_tensor *out = ssm_transpose(c, ops->forward(c, m, ssm_transpose(c, u, 1, 2)), 1, 2);
            ssm_params_zero_grad(ps);
            if (mode == 2) ssm_grad_sync_begin(&gs, c, 0.5);
            ssm_backward_with(c, out, dy);
            if (mode == 1) {
                ssm_tensor *g = ssm_tensor_to(NULL, ps->grads, SSM_CPU);
                ssm_grads_allreduce(ps, 0.5);
                summed[step] = ssm_tensor_to(NULL, ps->grads, SSM_CPU);
                for (int64_t i = 0; i < g->numel; i++)
                    ck_assert(((float *)summed[step]->data)[i] == 0.5f * ((float *)g->data)[i]);
                ssm_tensor_free(g);
            }
            if (mode == 2) {
                ssm_grad_sync_end(&gs);
                ssm_tensor *h = ssm_tensor_to(NULL, ps->grads, SSM_CPU);
                ck_assert_msg(!memcmp(h->data, summed[step]->data, (size_t)h->numel * sizeof(float)),
                              "step %d: the gradients summed in buckets differ", step);
                ssm_tensor_free(h);
            }
            if (mode) {
                ssm_kernels_for(SSM_CUDA)->scale(SSM_F32, ps->grads->data, ps->grads->data,
                                                 ps->numel, 2.0, 0);
                if (mode == 1) ssm_grads_allreduce(ps, 1.0);
            }
            ssm_optim_step(o, 1.0, ssm_clip_coef(ssm_grad_norm(ps), 1.0));
            ssm_ctx_reset(c);
        }
        vals[mode] = ssm_tensor_to(NULL, ps->values, SSM_CPU);
        ssm_grad_sync_free(&gs);
        ssm_ctx_free(c);
        ssm_tensor_free(u);
        ssm_tensor_free(dy);
        ssm_optim_free(o);
        ops->destroy(m);
        ssm_params_free(ps);
    }
    for (int mode = 1; mode < 3; mode++) {
        ck_assert_int_eq(vals[0]->numel, vals[mode]->numel);
        ck_assert_msg(!memcmp(vals[0]->data, vals[mode]->data, (size_t)vals[0]->numel * sizeof(float)),
                      "parameters differ after the NCCL all-reduce (%s)",
                      mode == 1 ? "one" : "in buckets");
    }
    for (int i = 0; i < 3; i++) ssm_tensor_free(vals[i]);
    for (int i = 0; i < 5; i++) ssm_tensor_free(summed[i]);
    ssm_h5_close(f);
    ssm_comm_finalize();
}
END_TEST

/* CUDA graphs (tools/train_step.c): training steps replayed from a captured graph give
 * the statistics and parameters of eager steps bit for bit, including dropout (the
 * replay's counter base), BatchNorm running statistics, clipping, two optimizer groups,
 * a batch of another shape in the middle (eager once, then its own graph) and
 * per-position targets; and batches of varying length, whose cuFFT plans evict the
 * captured shape's (its graph is then stale: eager once more, captured again). */
typedef struct {
    int n;
    int64_t B[10], L[10];
    int64_t captured, replayed, eager; /* expected with graphs on */
} graph_plan;

static void graph_run(const ssm_model_config *mc, const graph_plan *gp, int graphs, int64_t V,
                      ssm_step_stats *stats, ssm_tensor **params, uint64_t *rng,
                      ssm_stepper *counts) {
    ssm_model *m = ssm_model_new(mc, SSM_F32, SSM_CUDA);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 9);
    ssm_optim *o = ssm_optim_new(SSM_OPT_ADAMW, m->ps, 1e-2, 0.05);
    o->group[SSM_GROUP_SSM] = (ssm_group_hparams){1e-3, 0};
    ssm_ctx *c = ssm_ctx_new(3);
    ssm_stepper s;
    ssm_stepper_init(&s, m, o, c, graphs);
    int per_pos = mc->pool == SSM_POOL_NONE;
    for (int step = 0; step < gp->n; step++) {
        int64_t B = gp->B[step], L = gp->L[step];
        ssm_ctx_reset(c);
        ssm_tensor *tok = ssm_tensor_arena(c->arena, SSM_I32, SSM_CPU, SSM_DIMS(B, L));
        ssm_tensor *pw = ssm_tensor_arena(c->arena, SSM_F32, SSM_CPU, SSM_DIMS(B, 1, L));
        ssm_tensor *y = per_pos ? ssm_tensor_arena(c->arena, SSM_I32, SSM_CPU, SSM_DIMS(B, L))
                                : ssm_tensor_arena(c->arena, SSM_I32, SSM_CPU, SSM_DIMS(B));
        for (int64_t i = 0; i < B * L; i++) {
            ((int32_t *)tok->data)[i] = (int32_t)(1 + (i * 7 + step * 13) % (V - 1));
            ((float *)pw->data)[i] = 1.0f / (float)L;
            if (per_pos) ((int32_t *)y->data)[i] = i % 5 == 0 ? -100 : (int32_t)((i + step) % V);
        }
        if (!per_pos)
            for (int64_t b = 0; b < B; b++) ((int32_t *)y->data)[b] = (int32_t)((b + step) % 3);
        ssm_dev_batch db = {.tokens = ssm_tensor_to(c->arena, tok, SSM_CUDA),
                            .pool_w = per_pos ? NULL : ssm_tensor_to(c->arena, pw, SSM_CUDA),
                            .target = ssm_tensor_to(c->arena, y, SSM_CUDA)};
        ssm_optim_prepare(o, 1.0 - 0.05 * step, 0.5);
        ssm_stepper_step(&s, &db, NULL, NULL);
        stats[step] = ssm_stepper_read(&s);
    }
    *params = ssm_tensor_to(NULL, m->ps->values, SSM_CPU);
    *rng = c->rng_offset;
    *counts = s;
    ssm_stepper_free(&s);
    ssm_ctx_free(c);
    ssm_optim_free(o);
    ssm_model_free(m);
}

/* The forward's spectrum of u (u_spec) in the backward gives the bits of transforming u
 * again, channels-last and not, one- and two-sided kernels; and the forward's output is
 * the same with or without keeping it. */
START_TEST(cuda_fft_conv_saved_spectrum_exact) {
    const ssm_kernels *kc = ssm_kernels_for(SSM_CUDA);
    const int64_t B = 3, H = 5, L = 301;
    ck_assert_int_eq(kc->fft_conv_spec_floats(B, H, 32), 0); /* direct path: none */
    ck_assert_int_eq(ssm_kernels_for(SSM_CPU)->fft_conv_spec_floats(B, H, L), 0);
    const int64_t sf = kc->fft_conv_spec_floats(B, H, L);
    ck_assert_int_ge(sf, 2 * B * H * (L + 1));
    for (int cl = 0; cl < 2; cl++)
        for (int two = 0; two < 2; two++) {
            const int64_t Lk = two ? 2 * L : L;
            ssm_tensor *h[4] = {tu_rand(SSM_F32, SSM_DIMS(B * H * L), 61, -1, 1),
                                tu_rand(SSM_F32, SSM_DIMS(H * Lk), 62, -0.1, 0.1),
                                tu_rand(SSM_F32, SSM_DIMS(H), 63, -1, 1),
                                tu_rand(SSM_F32, SSM_DIMS(B * H * L), 64, -1, 1)};
            ssm_tensor *d[4], *y[2], *du[2], *dk[2], *dD[2];
            for (int i = 0; i < 4; i++) d[i] = ssm_tensor_to(NULL, h[i], SSM_CUDA);
            ssm_tensor *spec = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(sf));
            for (int r = 0; r < 2; r++) { /* r = 0: kept spectrum; 1: recomputed */
                y[r] = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(B * H * L));
                du[r] = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(B * H * L));
                dk[r] = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(H * Lk));
                dD[r] = ssm_tensor_new(SSM_F32, SSM_CUDA, SSM_DIMS(H));
                if (r) ssm_tensor_fill(du[r], NAN); /* stored (acc_du 0): never read */
                else ssm_tensor_zero(du[r]);
                ssm_tensor_zero(dk[r]);
                ssm_tensor_zero(dD[r]);
                kc->fft_conv_fwd(SSM_F32, d[0]->data, d[1]->data, d[2]->data, y[r]->data, B, H, L,
                                 Lk, cl, r ? NULL : spec->data);
                kc->fft_conv_bwd(SSM_F32, d[0]->data, d[1]->data, d[2]->data, d[3]->data,
                                 du[r]->data, dk[r]->data, dD[r]->data, B, H, L, Lk, cl,
                                 r ? NULL : spec->data, !r);
            }
            ssm_tensor *pairs[4][2] = {{y[0], y[1]}, {du[0], du[1]}, {dk[0], dk[1]}, {dD[0], dD[1]}};
            for (int i = 0; i < 4; i++) {
                ssm_tensor *a = ssm_tensor_to(NULL, pairs[i][0], SSM_CPU);
                ssm_tensor *b = ssm_tensor_to(NULL, pairs[i][1], SSM_CPU);
                ck_assert_msg(!memcmp(a->data, b->data, (size_t)a->numel * 4),
                              "cl %d two-sided %d: output %d differs with the kept spectrum", cl,
                              two, i);
                ssm_tensor_free(a);
                ssm_tensor_free(b);
            }
            for (int r = 0; r < 2; r++) {
                ssm_tensor_free(y[r]);
                ssm_tensor_free(du[r]);
                ssm_tensor_free(dk[r]);
                ssm_tensor_free(dD[r]);
            }
            for (int i = 0; i < 4; i++) {
                ssm_tensor_free(h[i]);
                ssm_tensor_free(d[i]);
            }
            ssm_tensor_free(spec);
        }
}
END_TEST

START_TEST(cuda_graph_steps_match_eager) {
    const int64_t V = 12;
    /* 2 shapes: eager, capture, replay for each */
    static const graph_plan two_shapes = {8, {4, 4, 4, 3, 3, 4, 3, 4},
                                          {64, 64, 64, 64, 64, 64, 64, 64}, 2, 4, 2};
    /* with the plan cache limited to 16 (fft_plan_limit), lengths 64, 40, 48, 56 fill it
     * (4 plans per length); batch 2 at length 40 needs 2 more and evicts length 64's,
     * whose graph is then stale */
    static const graph_plan varying = {9, {4, 4, 4, 4, 4, 2, 4, 4, 4},
                                       {64, 64, 40, 48, 56, 40, 64, 64, 64}, 2, 1, 6};
    for (int which = 0; which < 3; which++) {
        ssm_model_config mc;
        memset(&mc, 0, sizeof mc);
        const graph_plan *gp = which == 2 ? &varying : &two_shapes;
        if (which != 1) { /* classifier: S4D, BatchNorm, dropout, mean pooling */
            snprintf(mc.layer, sizeof mc.layer, "s4d");
            mc.lcfg = (ssm_layer_config){.d_model = 32, .d_state = 16, .dt_min = 1e-3,
                                         .dt_max = 1e-1, .init = SSM_INIT_LIN, .l_max = 64,
                                         .dropout = 0.1, .bidirectional = which == 2};
            mc.norm = SSM_NORM_BATCH;
            mc.dropout = 0.2;
            mc.pool = SSM_POOL_MEAN;
            mc.d_output = 3;
        } else { /* per-position targets: Mamba, LayerNorm, pre-norm */
            snprintf(mc.layer, sizeof mc.layer, "mamba");
            mc.lcfg = (ssm_layer_config){.d_model = 32, .d_state = 16, .dt_min = 1e-3,
                                         .dt_max = 1e-1, .init = SSM_INIT_REAL, .expand = 2,
                                         .d_conv = 4, .dt_rank = 2, .l_max = 64};
            mc.norm = SSM_NORM_LAYER;
            mc.prenorm = 1;
            mc.pool = SSM_POOL_NONE;
            mc.d_output = V;
        }
        mc.embedding = 1;
        mc.d_input = V;
        mc.n_layers = 2;
        mc.residual = 1;
        ssm_step_stats st[2][10];
        ssm_tensor *p[2];
        uint64_t rng[2];
        ssm_stepper k[2];
        const ssm_kernels *kc = ssm_kernels_for(SSM_CUDA);
        int limit = kc->fft_plan_limit(which == 2 ? 16 : 128);
        for (int g = 0; g < 2; g++) graph_run(&mc, gp, g, V, st[g], &p[g], &rng[g], &k[g]);
        kc->fft_plan_limit(limit);
        ck_assert_int_eq(k[0].replayed, 0);
        ck_assert_msg(k[1].captured == gp->captured && k[1].replayed == gp->replayed &&
                          k[1].eager == gp->eager,
                      "%s case %d: captured %lld, replayed %lld, eager %lld", mc.layer, which,
                      (long long)k[1].captured, (long long)k[1].replayed, (long long)k[1].eager);
        for (int i = 0; i < gp->n; i++)
            ck_assert_msg(!memcmp(&st[0][i], &st[1][i], sizeof st[0][i]),
                          "%s step %d: eager loss %.9g norm^2 %.9g correct %g, graph %.9g %.9g %g",
                          mc.layer, i, st[0][i].loss_sum, st[0][i].gnorm_sq, st[0][i].correct,
                          st[1][i].loss_sum, st[1][i].gnorm_sq, st[1][i].correct);
        ck_assert(st[0][gp->n - 1].count > 0 && st[0][gp->n - 1].gnorm_sq > 0);
        ck_assert_uint_eq(rng[0], rng[1]);
        ck_assert_msg(!memcmp(p[0]->data, p[1]->data, (size_t)p[0]->numel * sizeof(float)),
                      "%s: parameters differ between eager and replayed steps", mc.layer);
        ssm_tensor_free(p[0]);
        ssm_tensor_free(p[1]);
    }
}
END_TEST

/* Out of GPU memory through the allocation paths the layers use (persistent tensors and
 * the per-step arena): SSM_ERR naming the device, the op, dtype, shape and size and
 * cudaMalloc's reason (ssm_tensor_new and the ops exit with status 5 and this message:
 * test_tensor's out_of_memory_in_an_op_exits); the device still works afterwards. */
START_TEST(cuda_out_of_memory_is_reported) {
    int64_t shape[2] = {(int64_t)1 << 20, (int64_t)1 << 20}; /* 4 TiB */
    ssm_tensor *t = NULL;
    ssm_alloc_site("probe", 1);
    ck_assert_int_eq(ssm_tensor_try_new(SSM_F32, SSM_CUDA, 2, shape, &t), SSM_ERR);
    ssm_alloc_site(NULL, 0);
    ck_assert_ptr_null(t);
    const char *m = ssm_last_error();
    ck_assert_msg(strstr(m, "out of memory on cuda: the backward of op 'probe' (?) needs a f32 "
                            "[1048576, 1048576] tensor (4.0 TiB): cudaMalloc of 4398046511104 "
                            "bytes failed: ") != NULL, "%s", m);
    ck_assert_msg(strstr(m, "MiB free)") != NULL, "%s", m);
    ssm_arena *a = ssm_arena_new();
    ck_assert_ptr_null(ssm_arena_try_alloc(a, SSM_CUDA, (size_t)1 << 42));
    ck_assert_msg(strstr(ssm_last_error(), "cudaMalloc of") != NULL, "%s", ssm_last_error());
    ssm_arena_free(a);
    /* not sticky: allocations, copies and kernels work on */
    int64_t n = 1000;
    ssm_tensor *x = tu_rand(SSM_F32, 1, &n, 7, -1, 1);
    ssm_tensor *g = ssm_tensor_to(NULL, x, SSM_CUDA);
    ssm_tensor *back = ssm_tensor_to(NULL, g, SSM_CPU);
    ck_assert(!memcmp(x->data, back->data, (size_t)n * sizeof(float)));
    ssm_tensor_free(x);
    ssm_tensor_free(g);
    ssm_tensor_free(back);
}
END_TEST

int main(void) {
    if (!ssm_device_available(SSM_CUDA)) {
#ifdef SSM_HAVE_CUDA
        printf("test_cuda: SKIP: no CUDA device is visible to this process\n");
#else
        printf("test_cuda: SKIP: ssmtrain was built without CUDA (configure --with-cuda)\n");
#endif
        return 77;
    }
    Suite *s = suite_create("cuda");
    TCase *t = tcase_create("cuda vs cpu");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, cuda_matches_cpu, 0, opc_n_cases);
    tcase_add_test(t, cuda_entries_match_cpu);
    tcase_add_test(t, cuda_large_fft_and_gemm);
    tcase_add_test(t, cuda_batchnorm_large);
    tcase_add_test(t, cuda_conv1d_many_rows);
    tcase_add_test(t, cuda_model_eval_matches_cpu);
    tcase_add_test(t, cuda_fft_conv_saved_spectrum_exact);
    tcase_add_test(t, cuda_graph_steps_match_eager);
    tcase_add_test(t, cuda_bf16_layers_near_golden);
    tcase_add_test(t, cuda_bf16_gemm_rounds_operands);
    tcase_add_test(t, cuda_embedding_bwd_deterministic);
    tcase_add_test(t, cuda_diag_step_matches_cpu);
    tcase_add_test(t, cuda_vandermonde_large);
    tcase_add_test(t, cuda_s4d_kernel_golden);
    tcase_add_test(t, cuda_s4d_layer_golden);
    tcase_add_test(t, cuda_layers_match_cpu_large);
    tcase_add_test(t, cuda_matches_cpu_on_golden_layers);
    tcase_add_test(t, cuda_s4_fftconv_golden);
    tcase_add_test(t, cuda_s4_layer_golden);
    tcase_add_test(t, cuda_selective_scan_large);
    tcase_add_test(t, cuda_selective_scan_golden);
    tcase_add_test(t, cuda_mamba_block_golden);
    tcase_add_test(t, cuda_s5_zoh_golden);
    tcase_add_test(t, cuda_s5_bilinear_bidir_golden);
    tcase_add_test(t, cuda_nccl_one_rank_matches_plain);
    tcase_add_test(t, cuda_out_of_memory_is_reported);
    suite_add_tcase(s, t);
    return tu_run(s, 0);
}
