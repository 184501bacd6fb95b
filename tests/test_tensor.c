/* Tensors, arena, RNG and CPU kernels checked by independent paths
 * (known-answer vectors, naive loops, direct convolution). */
#include <math.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "kernels.h"
#include "log.h"
#include "ops.h"
#include "optim.h"
#include "philox.h"
#include "testutil.h"

/* ASan would report an impossible allocation instead of returning NULL to the caller */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* Random123's known-answer vectors for philox4x32-10. */
START_TEST(philox_known_answers) {
    ssm_philox4 z = ssm_philox_block((ssm_philox4){{0, 0, 0, 0}}, 0, 0);
    ck_assert_uint_eq(z.v[0], 0x6627e8d5u);
    ck_assert_uint_eq(z.v[3], 0x9b00dbd8u);
    ssm_philox4 f = ssm_philox_block((ssm_philox4){{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u);
    ck_assert_uint_eq(f.v[0], 0x408f276du);
    ck_assert_uint_eq(f.v[1], 0x41c83b0eu);
    ck_assert_uint_eq(f.v[2], 0xa20bc7c6u);
    ck_assert_uint_eq(f.v[3], 0x6d5451fdu);
    ssm_philox4 p = ssm_philox_block(
        (ssm_philox4){{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u,
        0x299f31d0u);
    ck_assert_uint_eq(p.v[0], 0xd16cfe09u);
    ck_assert_uint_eq(p.v[1], 0x94fdccebu);
    ck_assert_uint_eq(p.v[2], 0x5001e420u);
    ck_assert_uint_eq(p.v[3], 0x24126ea1u);
}
END_TEST

/* Moments of 100 000 draws: mean and variance within 5 standard errors. */
START_TEST(random_moments) {
    int64_t n = 100000;
    ssm_tensor *u = tu_rand(SSM_F64, SSM_DIMS(n), 7, -1.0, 3.0);
    ssm_tensor *g = tu_randn(SSM_F64, SSM_DIMS(n), 8, 2.0);
    double su = 0, sg = 0, sg2 = 0, lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < n; i++) {
        double a = ((double *)u->data)[i], b = ((double *)g->data)[i];
        su += a;
        sg += b;
        sg2 += b * b;
        lo = fmin(lo, a);
        hi = fmax(hi, a);
    }
    ck_assert(lo >= -1.0 && hi < 3.0);
    ck_assert_double_eq_tol(su / n, 1.0, 5 * sqrt(16.0 / 12 / n));
    ck_assert_double_eq_tol(sg / n, 0.0, 5 * 2.0 / sqrt(n));
    ck_assert_double_eq_tol(sg2 / n, 4.0, 5 * 4.0 * sqrt(2.0 / n));
    ssm_tensor_free(u);
    ssm_tensor_free(g);
}
END_TEST

START_TEST(tensor_basics) {
    ssm_tensor *t = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(2, 3, 4));
    ck_assert_int_eq(t->numel, 24);
    ck_assert_int_eq(t->ndim, 3);
    ssm_tensor_fill(t, 1.5);
    ssm_tensor *d = ssm_tensor_cast(NULL, t, SSM_F64);
    ck_assert_double_eq(ssm_tensor_get(d, 23), 1.5);
    char buf[64];
    ck_assert_str_eq(ssm_tensor_describe(t, buf, sizeof buf), "[2, 3, 4] f32 cpu");
    ssm_tensor *v = ssm_tensor_alias(NULL, t, SSM_DIMS(6, 4));
    ck_assert_ptr_eq(v->data, t->data);
    ssm_tensor_free(v);
    ssm_tensor_free(d);
    ssm_tensor_free(t);
}
END_TEST

/* A steady-state training step allocates nothing from the system. */
START_TEST(steady_step_no_malloc) {
    ssm_params *ps = ssm_params_new(SSM_F32, SSM_CPU);
    ssm_tensor *W = ssm_params_add(ps, "W", SSM_GROUP_DEFAULT, SSM_DIMS(16, 8));
    ssm_tensor *b = ssm_params_add(ps, "b", SSM_GROUP_NO_DECAY, SSM_DIMS(16));
    ssm_params_finalize(ps);
    ssm_kernels_for(SSM_CPU)->rand_normal(SSM_F32, W->data, W->numel, 1, 0, 0, 0.3);
    ssm_optim *o = ssm_optim_new(SSM_OPT_ADAMW, ps, 1e-2, 0.01);
    ssm_tensor *x = tu_randn(SSM_F32, SSM_DIMS(4, 8), 2, 1.0);
    ssm_tensor *y = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(4));
    ssm_tensor_from_host(y, (int32_t[]){1, 5, 7, 0});
    ssm_ctx *c = ssm_ctx_new(3);
    uint64_t allocs = 0;
    int64_t cap = 0;
    double first = 0, last = 0;
    for (int step = 0; step < 20; step++) {
        if (step == 2) { allocs = ssm_arena_system_allocs(c->arena); cap = c->cap_nodes; }
        ssm_tensor *h = ssm_dropout(c, ssm_gelu(c, ssm_linear(c, x, W, b)), 0.1);
        ssm_tensor *loss = ssm_cross_entropy(c, h, y, NULL, -100);
        last = ssm_tensor_get(loss, 0);
        if (step == 0) first = last;
        ssm_params_zero_grad(ps);
        ssm_backward(c, loss);
        ssm_optim_step(o, 1.0, ssm_clip_coef(ssm_grad_norm(ps), 1.0));
        ssm_ctx_reset(c);
    }
    ck_assert_uint_eq(ssm_arena_system_allocs(c->arena), allocs);
    ck_assert_int_eq(c->cap_nodes, cap);
    ck_assert_double_lt(last, first); /* and it learns */
    ssm_ctx_free(c);
    ssm_optim_free(o);
    ssm_params_free(ps);
    ssm_tensor_free(x);
    ssm_tensor_free(y);
}
END_TEST

/* Arena: alignment, reset, consolidation into one chunk. */
START_TEST(arena_consolidates) {
    ssm_arena *a = ssm_arena_new();
    for (int i = 0; i < 10; i++) {
        void *p = ssm_arena_alloc(a, SSM_CPU, 700000);
        ck_assert_uint_eq((uintptr_t)p % 256, 0);
        memset(p, i, 700000);
    }
    ssm_arena_reset(a);
    uint64_t n = ssm_arena_system_allocs(a);
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 10; i++) ssm_arena_alloc(a, SSM_CPU, 700000);
        ssm_arena_reset(a);
    }
    ck_assert_uint_eq(ssm_arena_system_allocs(a), n);
    ssm_arena_free(a);
}
END_TEST

/* GEMM (OpenBLAS, transposes, batch, shared operand) against naive loops. */
START_TEST(gemm_vs_naive) {
    int64_t B = 3, M = 5, N = 4, K = 7;
    ssm_tensor *a = tu_randn(SSM_F64, SSM_DIMS(B, K, M), 1, 1.0); /* stored transposed */
    ssm_tensor *b = tu_randn(SSM_F64, SSM_DIMS(N, K), 2, 1.0);    /* shared, transposed */
    ssm_tensor *c = tu_randn(SSM_F64, SSM_DIMS(B, M, N), 3, 1.0);
    double *A = a->data, *Bm = b->data, *C = c->data, *want = malloc(sizeof(double) * B * M * N);
    for (int64_t z = 0; z < B; z++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += A[z * K * M + k * M + i] * Bm[j * K + k];
                want[(z * M + i) * N + j] = 2 * s + 0.5 * C[(z * M + i) * N + j];
            }
    ssm_kernels_for(SSM_CPU)->gemm(SSM_F64, 1, 1, M, N, K, 2.0, A, M, K * M, Bm, K, 0, 0.5, C, N,
                                   M * N, B);
    for (int64_t i = 0; i < B * M * N; i++) ck_assert_double_eq_tol(C[i], want[i], 1e-12);
    free(want);
    ssm_tensor_free(a);
    ssm_tensor_free(b);
    ssm_tensor_free(c);
}
END_TEST

/* permute against explicit index arithmetic */
START_TEST(permute_vs_index) {
    ssm_tensor *x = tu_randn(SSM_F32, SSM_DIMS(2, 3, 4, 5), 4, 1.0);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *y = ssm_permute(c, x, (int[]){3, 1, 0, 2}); /* [5, 3, 2, 4] */
    ck_assert_int_eq(y->shape[0], 5);
    const float *X = x->data, *Y = y->data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 5; l++)
                    ck_assert_float_eq(Y[((l * 3 + j) * 2 + i) * 4 + k],
                                       X[((i * 3 + j) * 4 + k) * 5 + l]);
    ssm_ctx_free(c);
    ssm_tensor_free(x);
}
END_TEST

/* The f32 FFT convolution (KissFFT, length >= 2L) against the definition in f64,
 * causal and two-sided (k[:, L + j] multiplies u[t + 1 + j], the official bidirectional
 * FFTConv's anti-causal kernel), incl. the backward against the f64 kernel (gradient-checked in
 * test_grad), for lengths that are odd, prime, powers of two and 1. */
START_TEST(fft_conv_vs_direct) {
    static const int64_t lengths[] = {1, 2, 7, 64, 97, 500};
    const ssm_kernels *k = ssm_kernels_for(SSM_CPU);
    for (size_t t = 0; t < 2 * sizeof lengths / sizeof lengths[0]; t++) {
        int two = (int)(t % 2);
        int64_t B = 2, H = 3, L = lengths[t / 2], Lk = two ? 2 * L : L;
        ssm_tensor *u = tu_randn(SSM_F64, SSM_DIMS(B, H, L), 10 + t, 1.0);
        ssm_tensor *kk = tu_randn(SSM_F64, SSM_DIMS(H, Lk), 20 + t, 1.0);
        ssm_tensor *dy = tu_randn(SSM_F64, SSM_DIMS(B, H, L), 30 + t, 1.0);
        ssm_tensor *u32 = ssm_tensor_cast(NULL, u, SSM_F32), *k32 = ssm_tensor_cast(NULL, kk, SSM_F32);
        ssm_tensor *dy32 = ssm_tensor_cast(NULL, dy, SSM_F32);
        ssm_tensor *y = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, H, L));
        ssm_tensor *y32 = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(B, H, L));
        const double *K = kk->data, *U = u->data;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = 0; i < L; i++) {
                    double s = 0;
                    for (int64_t j = 0; j <= i; j++) s += K[h * Lk + j] * U[(b * H + h) * L + i - j];
                    for (int64_t j = 0; two && i + 1 + j < L; j++)
                        s += K[h * Lk + L + j] * U[(b * H + h) * L + i + 1 + j];
                    ((double *)y->data)[(b * H + h) * L + i] = s;
                }
        k->fft_conv_fwd(SSM_F32, u32->data, k32->data, NULL, y32->data, B, H, L, Lk, 0, NULL);
        ck_assert_msg(tu_rel_err(y32, y) < 1e-5, "L %lld two-sided %d: forward", (long long)L, two);
        ssm_tensor *f64y = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, H, L));
        k->fft_conv_fwd(SSM_F64, u->data, kk->data, NULL, f64y->data, B, H, L, Lk, 0, NULL);
        ck_assert_double_lt(tu_rel_err(f64y, y), 1e-12);
        ssm_tensor *du = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(B, H, L));
        ssm_tensor *dk = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(H, Lk));
        ssm_tensor *du32 = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(B, H, L));
        ssm_tensor *dk32 = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(H, Lk));
        ssm_tensor *all[] = {du, dk, du32, dk32};
        for (int i = 0; i < 4; i++) ssm_tensor_zero(all[i]);
        k->fft_conv_bwd(SSM_F64, u->data, kk->data, NULL, dy->data, du->data, dk->data, NULL, B, H,
                        L, Lk, 0, NULL, 1);
        ssm_tensor_fill(du32, NAN); /* acc_du 0: stored, the old contents never read */
        k->fft_conv_bwd(SSM_F32, u32->data, k32->data, NULL, dy32->data, du32->data, dk32->data,
                        NULL, B, H, L, Lk, 0, NULL, 0);
        ck_assert_msg(tu_rel_err(du32, du) < 1e-5, "L %lld two-sided %d: du", (long long)L, two);
        ck_assert_msg(tu_rel_err(dk32, dk) < 1e-5, "L %lld two-sided %d: dk", (long long)L, two);
        ssm_tensor *fr[] = {u, kk, dy, u32, k32, dy32, y, y32, f64y, du, dk, du32, dk32};
        for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++) ssm_tensor_free(fr[i]);
    }
}
END_TEST

/* irfft: the f32 KissFFT path against the f64 direct sums, forward and adjoint. */
START_TEST(irfft_fft_vs_direct) {
    const ssm_kernels *k = ssm_kernels_for(SSM_CPU);
    static const int64_t ns[] = {2, 8, 30, 1024};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int64_t n = ns[t], R = 3, nf = n / 2 + 1;
        ssm_tensor *X = tu_randn(SSM_F64, SSM_DIMS(R, nf, 2), 5 + t, 1.0);
        ssm_tensor *dy = tu_randn(SSM_F64, SSM_DIMS(R, n), 9 + t, 1.0);
        ssm_tensor *X32 = ssm_tensor_cast(NULL, X, SSM_F32), *dy32 = ssm_tensor_cast(NULL, dy, SSM_F32);
        ssm_tensor *y = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(R, n));
        ssm_tensor *y32 = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(R, n));
        ssm_tensor *dX = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(R, nf, 2));
        ssm_tensor *dX32 = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(R, nf, 2));
        ssm_tensor_zero(dX);
        ssm_tensor_zero(dX32);
        k->irfft_fwd(SSM_F64, X->data, y->data, R, n);
        k->irfft_fwd(SSM_F32, X32->data, y32->data, R, n);
        ck_assert_double_lt(tu_rel_err(y32, y), 1e-6);
        k->irfft_bwd(SSM_F64, dy->data, dX->data, R, n);
        k->irfft_bwd(SSM_F32, dy32->data, dX32->data, R, n);
        ck_assert_double_lt(tu_rel_err(dX32, dX), 1e-6);
        ssm_tensor *fr[] = {X, dy, X32, dy32, y, y32, dX, dX32};
        for (size_t i = 0; i < 8; i++) ssm_tensor_free(fr[i]);
    }
}
END_TEST

/* Out of memory: SSM_ERR (or, in an op, exit status 5) with a message naming the device,
 * the op and the dtype, shape and size; nothing aborts. */
START_TEST(out_of_memory_names_op_and_sizes) {
    int64_t shape[2] = {(int64_t)1 << 40, (int64_t)1 << 20};
    ssm_tensor *t = NULL;
    ssm_tensor *x = ssm_tensor_new(SSM_F32, SSM_CPU, 1, shape + 1);
    ssm_alloc_site("probe", 1); /* as autograd's backward pass sets it */
    ck_assert_int_eq(ssm_tensor_try_new(SSM_F32, SSM_CPU, 2, shape, &t), SSM_ERR);
    ck_assert_ptr_null(t);
    const char *m = ssm_last_error();
    ck_assert_msg(strstr(m, "out of memory on cpu: the backward of op 'probe' (?) needs a f32 "
                            "[1099511627776, 1048576] tensor (4.0 EiB): aligned_alloc of") != NULL,
                  "%s", m);
    int64_t big[1] = {(int64_t)1 << 62}; /* 2^65 bytes: the size itself overflows */
    ck_assert_int_eq(ssm_tensor_try_new(SSM_F64, SSM_CPU, 1, big, &t), SSM_ERR);
    ck_assert_msg(strstr(ssm_last_error(), "the size overflows") != NULL, "%s", ssm_last_error());
    ssm_alloc_site(NULL, 0);
    ssm_tensor_free(x);
}
END_TEST

/* An op whose output cannot be allocated: exit status 5, the op and sizes on stderr. */
START_TEST(out_of_memory_in_an_op_exits) {
    char dir[512], log[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/stderr", dir);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(100);
        ssm_ctx *c = ssm_ctx_new(1);
        ssm_tensor *x = ssm_tensor_new(SSM_F32, SSM_CPU, 1, (int64_t[]){1 << 20});
        ssm_expand(c, x, 0, (int64_t)1 << 40); /* 4 EiB */
        _exit(101);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char *err = tu_slurp(log, NULL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == SSM_EXIT_OOM, "status %d: %s",
                  status, err);
    ck_assert_msg(strstr(err, "ssm: error: out of memory: cpu: ssm_expand needs a f32 "
                              "[1099511627776, 1048576] tensor (4.0 EiB): ") != NULL, "%s", err);
    free(err);
    tu_rm_tree(dir);
}
END_TEST

/* The embedding backward's summation order (kernels.h: chunks of SSM_EMB_CHUNK positions,
 * each id's rows of a chunk summed from 0, then added) against that order written as a
 * plain loop, bit for bit on several threads; and against an f64 sum. One id holds most
 * positions, as padding does; the last chunk is partial. */
START_TEST(embedding_bwd_order) {
    const int64_t n = 20000 + 77, dim = 16, vocab = 9;
    int32_t *idx = malloc(sizeof *idx * (size_t)n);
    for (int64_t r = 0; r < n; r++) idx[r] = (r * 7919) % 10 < 6 ? 0 : (int32_t)(1 + r * 31 % 7);
    ssm_tensor *dy = tu_randn(SSM_F32, SSM_DIMS(n, dim), 41, 1.0);
    ssm_tensor *dW = tu_randn(SSM_F32, SSM_DIMS(vocab, dim), 42, 1.0);
    const float *g = dy->data;
    float *want = malloc(sizeof *want * (size_t)(vocab * dim));
    double *exact = malloc(sizeof *exact * (size_t)(vocab * dim));
    memcpy(want, dW->data, sizeof *want * (size_t)(vocab * dim));
    for (int64_t i = 0; i < vocab * dim; i++) exact[i] = want[i];
    for (int64_t c0 = 0; c0 < n; c0 += SSM_EMB_CHUNK)
        for (int64_t v = 0; v < vocab; v++)
            for (int64_t d = 0; d < dim; d++) {
                float p = 0.0f;
                int met = 0;
                for (int64_t r = c0; r < n && r < c0 + SSM_EMB_CHUNK; r++)
                    if (idx[r] == v) p += g[r * dim + d], met = 1, exact[v * dim + d] += g[r * dim + d];
                if (met) want[v * dim + d] += p;
            }
    ssm_kernels_for(SSM_CPU)->embedding_bwd(SSM_F32, dy->data, idx, dW->data, n, dim, vocab);
    const float *got = dW->data;
    for (int64_t i = 0; i < vocab * dim; i++) {
        ck_assert_msg(got[i] == want[i], "element %lld: %.9g, the documented order gives %.9g",
                      (long long)i, got[i], want[i]);
        ck_assert_double_eq_tol(got[i], exact[i], 1e-3 * (1 + fabs(exact[i])));
    }
    free(idx);
    free(want);
    free(exact);
    ssm_tensor_free(dy);
    ssm_tensor_free(dW);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tensor");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, philox_known_answers);
    tcase_add_test(t, random_moments);
    tcase_add_test(t, tensor_basics);
    tcase_add_test(t, arena_consolidates);
    tcase_add_test(t, steady_step_no_malloc);
    tcase_add_test(t, gemm_vs_naive);
    tcase_add_test(t, permute_vs_index);
    tcase_add_test(t, fft_conv_vs_direct);
    tcase_add_test(t, embedding_bwd_order);
    tcase_add_test(t, irfft_fft_vs_direct);
    tcase_add_test(t, out_of_memory_names_op_and_sizes);
    tcase_add_test(t, out_of_memory_in_an_op_exits);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
