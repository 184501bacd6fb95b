/* bench_mamba: Mamba's selective scan (the kernel-table entries) and the whole Mamba block
 * (through autograd), forward and forward + backward.
 *   bench_mamba [--device cpu|cuda] [--case scan|block] [--batch n --d_model n --d_inner n
 *                --L n --d_state n] [--chunk n] [--precision fp32|tf32|bf16] [--reps n]
 *               [--profile]
 * Without --case both cases run. One line per case:
 *   case=scan device=cuda batch=8 d_inner=1536 L=2048 d_state=16 fwd_ms=... fwdbwd_ms=...
 *        floor_ms=... fwd_over_floor=... chunk=64
 *   case=block device=cuda batch=8 d_model=768 d_inner=1536 L=2048 d_state=16 fwd_ms=...
 *        fwdbwd_ms=... fwdbwd_graph_ms=... (the step captured once as a CUDA graph and
 *        replayed, as training steps run; -1 on the CPU)
 * scan: selective_scan_fwd as training calls it (D, z, delta_bias, x_chunks every --chunk
 * steps, default SSM_SCAN_CHUNK_DEFAULT; no last_state), then selective_scan_bwd with
 * every gradient wanted. floor_ms is
 * the least memory traffic of the forward (u, delta, z, B, C, A, D read once, y written
 * once; x_chunks not counted) over the device-to-device copy bandwidth measured in the
 * same run (bytes read + written by a copy of 256 MiB, 64 MiB on the CPU).
 * block: ssm_mamba_forward on x [batch, L, d_model] (d_inner = 2 d_model), the backward
 * ssm_backward_with from a random upstream gradient; each iteration resets the context
 * and zeroes the gradients, as a training step does.
 * Median of --reps runs (default 20) after warm-up; CUDA is timed with events on the
 * stream the backend uses. Defaults: CUDA batch 8, d_model 768, d_inner 1536, L 2048,
 * d_state 16; CPU batch 2, d_model 128, d_inner 256, L 1024, d_state 16. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "log.h"
#include "mamba.h"
#include "ops.h"
#include "params.h"
#include "tape.h"
#include "tensor.h"
#include "timing.h"

/* --- device-to-device copy bandwidth (bytes read + written per second) --- */

typedef struct {
    const ssm_kernels *k;
    void *src, *dst;
    size_t bytes;
} copy_arg;

static void run_copy(void *p) {
    copy_arg *a = p;
    a->k->copy(a->dst, a->src, a->bytes);
}

static double copy_bandwidth(ssm_device dev, int reps) {
    const ssm_kernels *k = ssm_kernels_for(dev);
    copy_arg a = {k, NULL, NULL, (size_t)(dev == SSM_CUDA ? 256 : 64) << 20};
    a.src = k->alloc(a.bytes);
    a.dst = k->alloc(a.bytes);
    k->rand_normal(SSM_F32, a.src, (int64_t)(a.bytes / 4), 1, 0, 0.0, 1.0);
    double ms = bench_time_ms(dev, run_copy, &a, reps);
    k->free(a.src);
    k->free(a.dst);
    return 2.0 * (double)a.bytes / (ms * 1e-3);
}

/* --- the scan through the kernel table --- */

typedef struct {
    const ssm_kernels *k;
    int64_t Bn, Di, N, L, chunk;
    void *u, *delta, *A, *B, *C, *D, *z, *bias, *y, *xc, *dy;
    void *du, *ddelta, *dA, *dB, *dC, *dD, *dz, *dbias;
} scan_arg;

static void scan_fwd(void *p) {
    scan_arg *s = p;
    s->k->selective_scan_fwd(SSM_F32, s->u, s->delta, s->A, s->B, s->C, s->D, s->z, s->bias, s->y,
                             NULL, s->xc, s->Bn, s->Di, s->N, s->L, s->chunk);
}

static void scan_fwdbwd(void *p) {
    scan_arg *s = p;
    scan_fwd(p);
    s->k->selective_scan_bwd(SSM_F32, s->u, s->delta, s->A, s->B, s->C, s->D, s->z, s->bias,
                             s->xc, s->dy, NULL, s->du, s->ddelta, s->dA, s->dB, s->dC, s->dD,
                             s->dz, s->dbias, s->Bn, s->Di, s->N, s->L, s->chunk,
                             /* accumulating, as the earlier figures (a block stores them) */
                             SSM_SCAN_ACC_DU | SSM_SCAN_ACC_DDELTA | SSM_SCAN_ACC_DZ);
}

/* A device buffer of n floats: N(0, std) + mean, or (values != NULL) a copy of values. */
static void *buffer(const ssm_kernels *k, int64_t n, uint64_t seed, double mean, double std,
                    const float *values) {
    void *p = k->alloc((size_t)n * sizeof(float));
    if (values) k->from_host(p, values, (size_t)n * sizeof(float));
    else k->rand_normal(SSM_F32, p, n, seed, 0, mean, std);
    return p;
}

static void bench_scan(ssm_device dev, int64_t Bn, int64_t Di, int64_t N, int64_t L,
                       int64_t chunk, int reps, double bw) {
    const ssm_kernels *k = ssm_kernels_for(dev);
    const int64_t BDL = Bn * Di * L, BNL = Bn * N * L;
    float *hA = malloc((size_t)(Di * N) * sizeof *hA), *hD = malloc((size_t)Di * sizeof *hD);
    float *hb = malloc((size_t)Di * sizeof *hb);
    SSM_CHECK(hA && hD && hb, "bench_mamba: out of memory");
    for (int64_t d = 0; d < Di; d++) {
        for (int64_t n = 0; n < N; n++) hA[d * N + n] = -(float)(n + 1); /* S4D-Real */
        hD[d] = 1.0f;
        /* softplus^-1 of a step log-uniform in [1e-3, 1e-1] (spread over the channels) */
        double dt = exp(log(1e-3) + (log(1e-1) - log(1e-3)) * (double)d / (double)Di);
        hb[d] = (float)log(expm1(dt));
    }
    scan_arg s = {.k = k, .Bn = Bn, .Di = Di, .N = N, .L = L,
                  .chunk = chunk > 0 ? chunk : SSM_SCAN_CHUNK_DEFAULT};
    if (s.chunk > L) s.chunk = L;
    const int64_t nc = (L + s.chunk - 1) / s.chunk;
    s.u = buffer(k, BDL, 1, 0.0, 1.0, NULL);
    s.delta = buffer(k, BDL, 2, 0.0, 0.5, NULL);
    s.A = buffer(k, Di * N, 0, 0, 0, hA);
    s.B = buffer(k, BNL, 3, 0.0, 1.0, NULL);
    s.C = buffer(k, BNL, 4, 0.0, 1.0, NULL);
    s.D = buffer(k, Di, 0, 0, 0, hD);
    s.z = buffer(k, BDL, 5, 0.0, 1.0, NULL);
    s.bias = buffer(k, Di, 0, 0, 0, hb);
    s.y = buffer(k, BDL, 6, 0.0, 1.0, NULL);
    s.xc = buffer(k, Bn * Di * nc * N, 7, 0.0, 1.0, NULL);
    s.dy = buffer(k, BDL, 8, 0.0, 1.0, NULL);
    s.du = buffer(k, BDL, 9, 0.0, 1.0, NULL);
    s.ddelta = buffer(k, BDL, 10, 0.0, 1.0, NULL);
    s.dz = buffer(k, BDL, 11, 0.0, 1.0, NULL);
    s.dA = buffer(k, Di * N, 12, 0.0, 1.0, NULL);
    s.dB = buffer(k, BNL, 13, 0.0, 1.0, NULL);
    s.dC = buffer(k, BNL, 14, 0.0, 1.0, NULL);
    s.dD = buffer(k, Di, 15, 0.0, 1.0, NULL);
    s.dbias = buffer(k, Di, 16, 0.0, 1.0, NULL);
    double fwd = bench_time_ms(dev, scan_fwd, &s, reps), fwdbwd = bench_time_ms(dev, scan_fwdbwd, &s, reps);
    const double bytes = 4.0 * (4.0 * (double)BDL + 2.0 * (double)BNL + (double)(Di * N + Di));
    const double floor_ms = bytes / bw * 1e3;
    printf("case=scan device=%s batch=%lld d_inner=%lld L=%lld d_state=%lld fwd_ms=%.3f "
           "fwdbwd_ms=%.3f floor_ms=%.3f fwd_over_floor=%.2f chunk=%lld\n",
           ssm_device_name(dev), (long long)Bn, (long long)Di, (long long)L, (long long)N, fwd,
           fwdbwd, floor_ms, fwd / floor_ms, (long long)s.chunk);
    void *bufs[] = {s.u,  s.delta, s.A,      s.B,  s.C,  s.D,  s.z,  s.bias, s.y, s.xc,
                    s.dy, s.du,    s.ddelta, s.dz, s.dA, s.dB, s.dC, s.dD,   s.dbias};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) k->free(bufs[i]);
    free(hA);
    free(hD);
    free(hb);
}

/* --- the Mamba block through autograd --- */

typedef struct {
    ssm_ctx *c;
    ssm_params *ps;
    ssm_mamba m;
    ssm_tensor *x, *dy;
    int backward;
} block_arg;

static void block_step(void *p) {
    block_arg *b = p;
    ssm_ctx_reset(b->c);
    ssm_tensor_zero(b->x->grad);
    ssm_params_zero_grad(b->ps);
    ssm_tensor *y = ssm_mamba_forward(b->c, &b->m, b->x);
    if (b->backward) ssm_backward_with(b->c, y, b->dy);
}

static void bench_block(ssm_device dev, int64_t Bn, int64_t H, int64_t N, int64_t L, int reps,
                        int profile) {
    const ssm_kernels *k = ssm_kernels_for(dev);
    block_arg b = {0};
    ssm_mamba_config cfg = ssm_mamba_defaults(H);
    cfg.d_state = N;
    b.ps = ssm_params_new(SSM_F32, dev);
    ssm_mamba_declare(&b.m, &cfg, b.ps, "");
    ssm_params_finalize(b.ps);
    ssm_rng r = {1234, 0};
    ssm_mamba_init(&b.m, &r);
    b.x = ssm_tensor_new(SSM_F32, dev, SSM_DIMS(Bn, L, H));
    b.dy = ssm_tensor_new(SSM_F32, dev, SSM_DIMS(Bn, L, H));
    k->rand_normal(SSM_F32, b.x->data, b.x->numel, 21, 0, 0.0, 1.0);
    k->rand_normal(SSM_F32, b.dy->data, b.dy->numel, 22, 0, 0.0, 1.0);
    ssm_requires_grad(b.x); /* a block inside a model back-propagates into its input */
    b.c = ssm_ctx_new(1);
    b.backward = 0;
    double fwd = bench_time_ms(dev, block_step, &b, reps);
    b.backward = 1;
    double fwdbwd = bench_time_ms(dev, block_step, &b, reps), peak = bench_peak_mib(dev);
    double graph = bench_time_graph_ms(dev, block_step, &b, reps);
    printf("case=block device=%s batch=%lld d_model=%lld d_inner=%lld L=%lld d_state=%lld "
           "fwd_ms=%.3f fwdbwd_ms=%.3f fwdbwd_graph_ms=%.3f peak_mib=%.0f arena_mib=%.0f\n",
           ssm_device_name(dev), (long long)Bn, (long long)H, (long long)b.m.d_inner, (long long)L,
           (long long)N, fwd, fwdbwd, graph, peak, bench_arena_mib(b.c, dev));
    if (profile) bench_profile(b.c, dev, block_step, &b);
    ssm_ctx_free(b.c);
    ssm_tensor_free(b.x);
    ssm_tensor_free(b.dy);
    ssm_params_free(b.ps);
}

static int usage(const char *prog, int status) {
    fprintf(stderr,
            "usage: %s [--device cpu|cuda] [--case scan|block] [--batch n --d_model n "
            "--d_inner n --L n --d_state n] [--chunk n] [--precision fp32|tf32|bf16] [--reps n] [--profile]\n"
            "  --tf32     the same as --precision tf32\n"
            "  --profile  after the block's timings, its time per op (forward and backward)\n",
            prog);
    return status;
}

int main(int argc, char **argv) {
    const char *device = "cuda", *which = NULL;
    int64_t Bn = 0, H = 0, Di = 0, L = 0, N = 0, chunk = 0;
    int reps = 20, profile = 0;
    ssm_gemm_precision prec = SSM_GEMM_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--device") && has) device = argv[++i];
        else if (!strcmp(a, "--case") && has) which = argv[++i];
        else if (!strcmp(a, "--batch") && has) Bn = atoll(argv[++i]);
        else if (!strcmp(a, "--d_model") && has) H = atoll(argv[++i]);
        else if (!strcmp(a, "--d_inner") && has) Di = atoll(argv[++i]);
        else if (!strcmp(a, "--L") && has) L = atoll(argv[++i]);
        else if (!strcmp(a, "--d_state") && has) N = atoll(argv[++i]);
        else if (!strcmp(a, "--chunk") && has) chunk = atoll(argv[++i]);
        else if (!strcmp(a, "--tf32")) prec = SSM_GEMM_TF32;
        else if (!strcmp(a, "--precision") && has) {
            if (!bench_parse_precision(argv[++i], &prec)) return usage(argv[0], 2);
        }
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--reps") && has) reps = atoi(argv[++i]);
        else return usage(argv[0], strcmp(a, "--help") ? 2 : 0);
    }
    ssm_device dev;
    if (!strcmp(device, "cpu")) dev = SSM_CPU;
    else if (!strcmp(device, "cuda")) dev = SSM_CUDA;
    else return usage(argv[0], 2);
    if (which && strcmp(which, "scan") && strcmp(which, "block")) return usage(argv[0], 2);
    if (dev == SSM_CUDA && !ssm_device_available(SSM_CUDA)) {
        fprintf(stderr, "bench_mamba: no CUDA device is visible (or built without CUDA)\n");
        return 1;
    }
    const int cuda = dev == SSM_CUDA;
    if (!Bn) Bn = cuda ? 8 : 2;
    if (!H) H = cuda ? 768 : 128;
    if (!Di) Di = 2 * H;
    if (!L) L = cuda ? 2048 : 1024;
    if (!N) N = 16;
    if (reps < 1) reps = 1;
    ssm_kernels_for(dev)->set_gemm_precision(prec); /* the block's GEMMs; the scan has none */
    printf("gemm=%s\n", bench_precision_name(prec));
    if (Bn < 1 || H < 1 || Di < 1 || L < 1 || N < 1 || N > SSM_SCAN_MAX_STATE) {
        fprintf(stderr, "bench_mamba: need batch, d_model, d_inner, L >= 1 and d_state in "
                        "1 .. %d\n", SSM_SCAN_MAX_STATE);
        return 2;
    }
    if (!which || !strcmp(which, "scan")) {
        double bw = copy_bandwidth(dev, reps);
        printf("copy device=%s bandwidth_GBps=%.1f\n", ssm_device_name(dev), bw / 1e9);
        bench_scan(dev, Bn, Di, N, L, chunk, reps, bw);
    }
    if (!which || !strcmp(which, "block")) bench_block(dev, Bn, H, N, L, reps, profile);
    return 0;
}
