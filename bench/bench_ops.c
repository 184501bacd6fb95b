/* bench_ops: GEMM GFLOP/s, elementwise GB/s and the Vandermonde S4D kernel through the
 * kernel table, and the embedding backward at LRA batch shapes.
 *   bench_ops [--device cpu|cuda|all] [--reps N]
 * Median over N timed runs after warm-up, on random (never zero) data. CUDA is
 * timed with events; the copy row is the measured memory-bandwidth ceiling. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "log.h"
#include "tensor.h"
#include "timing.h"

typedef void (*op_fn)(const ssm_kernels *k, void **buf, int64_t n);

typedef struct {
    const ssm_kernels *k;
    op_fn fn;
    void **buf;
    int64_t n;
} op_arg;

static void run_op(void *p) {
    op_arg *a = p;
    a->fn(a->k, a->buf, a->n);
}

/* Median time of one call in ms. */
static double time_it(ssm_device dev, const ssm_kernels *k, op_fn fn, void **buf, int64_t n,
                      int reps) {
    op_arg a = {k, fn, buf, n};
    return bench_time_ms(dev, run_op, &a, reps);
}

static void b_gemm(const ssm_kernels *k, void **buf, int64_t n) {
    k->gemm(SSM_F32, 0, 0, n, n, n, 1.0, buf[0], n, 0, buf[1], n, 0, 0.0, buf[2], n, 0, 1);
}
static void b_copy(const ssm_kernels *k, void **buf, int64_t n) {
    k->copy(buf[2], buf[0], (size_t)n * sizeof(float));
}
static void b_add(const ssm_kernels *k, void **buf, int64_t n) {
    k->binary(SSM_BIN_ADD, SSM_F32, buf[0], n, buf[1], n, buf[2], n);
}
static void b_gelu(const ssm_kernels *k, void **buf, int64_t n) {
    k->unary(SSM_UN_GELU_ERF, SSM_F32, buf[0], buf[2], n);
}
static void b_sum_rows(const ssm_kernels *k, void **buf, int64_t n) {
    k->sum_axis(SSM_F32, buf[0], buf[2], n / 1024, 1024, 1, 1.0, 0);
}

/* Embedding backward at an LRA batch's shape: emb_dim columns, emb_vocab ids, the padding
 * id 0 at the positions past each row's length (pad_frac of a batch); buf[0] is dy,
 * buf[2] dW (accumulating), emb_idx the ids. Rate: dy's bytes, the floor's traffic. */
static int64_t emb_dim, emb_vocab;
static int32_t *emb_idx;
static void b_emb_bwd(const ssm_kernels *k, void **buf, int64_t n) {
    k->embedding_bwd(SSM_F32, buf[0], emb_idx, buf[2], n, emb_dim, emb_vocab);
}

/* Vandermonde S4D kernel (ZOH) at H = n, N2 = 32, L = vd_L; buf[0] holds dt, A, C, buf[1] K/dK,
 * buf[2] the gradients. Rate: the floor's FLOPs, 4 (fwd) or 8 (bwd) per (h, n, l). */
static int64_t vd_L;
static void b_vd_fwd(const ssm_kernels *k, void **buf, int64_t n) {
    float *p = buf[0];
    k->vandermonde_fwd(SSM_F32, 0, p, p + n, p + n + 64 * n, buf[1], n, 32, vd_L);
}
static void b_vd_bwd(const ssm_kernels *k, void **buf, int64_t n) {
    float *p = buf[0], *g = buf[2];
    k->vandermonde_bwd(SSM_F32, 0, p, p + n, p + n + 64 * n, buf[1], g, g + n, g + n + 64 * n, n,
                       32, vd_L);
}
/* S4D-like modes: dt in [1e-3, 1e-1], A = -1/2 + i pi n, C ~ N(0, 1/2) (host-made) */
static void vd_params(const ssm_kernels *k, void *dst, int64_t H) {
    int64_t N2 = 32, m = H + 4 * H * N2;
    float *h = malloc((size_t)m * sizeof *h);
    for (int64_t i = 0; i < H; i++) h[i] = 1e-3f * powf(100.0f, (float)i / (float)H);
    for (int64_t i = 0; i < H * N2; i++) {
        h[H + 2 * i] = -0.5f;
        h[H + 2 * i + 1] = 3.14159265f * (float)(i % N2);
        h[H + 2 * H * N2 + 2 * i] = 0.7f * sinf((float)i);
        h[H + 2 * H * N2 + 2 * i + 1] = 0.7f * cosf(3.0f * (float)i);
    }
    k->from_host(dst, h, (size_t)m * sizeof *h);
    free(h);
}

static void run_device(ssm_device dev, int reps) {
    const ssm_kernels *k = ssm_kernels_for(dev);
    int cuda = dev == SSM_CUDA;
    int64_t gemm_sizes[3] = {256, 1024, cuda ? 4096 : 2048};
    int64_t ew_sizes[3] = {1 << 16, 1 << 22, cuda ? 1 << 26 : 1 << 24};
    struct { const char *name; op_fn fn; double bytes_per_elem; } ew[] = {
        {"copy", b_copy, 8}, {"add", b_add, 12}, {"gelu", b_gelu, 8}, {"sum_rows1024", b_sum_rows, 4}};
    int64_t maxn = gemm_sizes[2] * gemm_sizes[2];
    if (ew_sizes[2] > maxn) maxn = ew_sizes[2];
    void *buf[3];
    for (int i = 0; i < 3; i++) {
        buf[i] = k->alloc((size_t)maxn * sizeof(float));
        k->rand_normal(SSM_F32, buf[i], maxn, 42 + (uint64_t)i, 0, 0.0, 1.0);
    }
    printf("%-6s %-14s %12s %10s %12s\n", "device", "op", "size", "ms", "rate");
    for (int i = 0; i < 3; i++) {
        int64_t n = gemm_sizes[i];
        double ms = time_it(dev, k, b_gemm, buf, n, reps);
        printf("%-6s %-14s %5lldx%-6lld %10.3f %7.1f GFLOP/s\n", ssm_device_name(dev), "sgemm",
               (long long)n, (long long)n, ms, 2.0 * n * n * n / ms / 1e6);
    }
    for (size_t o = 0; o < sizeof ew / sizeof ew[0]; o++)
        for (int i = 0; i < 3; i++) {
            int64_t n = ew_sizes[i];
            double ms = time_it(dev, k, ew[o].fn, buf, n, reps);
            printf("%-6s %-14s %12lld %10.4f %9.1f GB/s\n", ssm_device_name(dev), ew[o].name,
                   (long long)n, ms, ew[o].bytes_per_elem * n / ms / 1e6);
        }
    int64_t vd_sizes[2][2] = {{cuda ? 256 : 64, 4096}, {cuda ? 1024 : 256, cuda ? 16384 : 4096}};
    for (int i = 0; i < 2; i++) {
        int64_t H = vd_sizes[i][0];
        vd_L = vd_sizes[i][1];
        vd_params(k, buf[0], H);
        double em = (double)H * 32 * (double)vd_L; /* (h, n, l) triples */
        double ms = time_it(dev, k, b_vd_fwd, buf, H, reps);
        printf("%-6s %-14s %5lldx%-6lld %10.4f %7.1f GFLOP/s\n", ssm_device_name(dev), "vandermonde_fwd",
               (long long)H, (long long)vd_L, ms, 4 * em / ms / 1e6);
        ms = time_it(dev, k, b_vd_bwd, buf, H, reps);
        printf("%-6s %-14s %5lldx%-6lld %10.4f %7.1f GFLOP/s\n", ssm_device_name(dev), "vandermonde_bwd",
               (long long)H, (long long)vd_L, ms, 8 * em / ms / 1e6);
    }
    /* ListOps (B 50, L 2,000, 18 ids, 45% padding) and Text (B 16, L 4,096, 100 ids, 60%) */
    struct { const char *name; int64_t B, L, dim, vocab; double pad; } eb[] = {
        {"emb_bwd_listops", 50, 2000, 128, 18, 0.45}, {"emb_bwd_text", 16, 4096, 256, 100, 0.60}};
    for (size_t e = 0; e < sizeof eb / sizeof eb[0]; e++) {
        int64_t n = eb[e].B * eb[e].L;
        int32_t *h = malloc(sizeof *h * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            int64_t t = i % eb[e].L;
            h[i] = t >= (int64_t)((1 - eb[e].pad) * (double)eb[e].L) ? 0
                                                                     : (int32_t)(1 + (i * 7919) % (eb[e].vocab - 1));
        }
        emb_idx = k->alloc(sizeof *h * (size_t)n);
        k->from_host(emb_idx, h, sizeof *h * (size_t)n);
        emb_dim = eb[e].dim, emb_vocab = eb[e].vocab;
        double ms = time_it(dev, k, b_emb_bwd, buf, n, reps);
        printf("%-6s %-14s %5lldx%-6lld %10.4f %9.1f GB/s\n", ssm_device_name(dev), eb[e].name,
               (long long)n, (long long)emb_dim, ms, 4.0 * (double)(n * emb_dim) / ms / 1e6);
        k->free(emb_idx);
        free(h);
    }
    for (int i = 0; i < 3; i++) k->free(buf[i]);
}

int main(int argc, char **argv) {
    const char *device = "all";
    int reps = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--device cpu|cuda|all] [--reps N]\n", argv[0]);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (reps < 1) reps = 1;
    if (strcmp(device, "cuda")) run_device(SSM_CPU, reps);
    if (strcmp(device, "cpu")) {
        if (ssm_device_available(SSM_CUDA)) run_device(SSM_CUDA, reps);
        else fprintf(stderr, "bench_ops: no CUDA device; CUDA rows skipped\n");
    }
    return 0;
}
