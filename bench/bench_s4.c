/* bench_s4: one S4-family layer, forward and forward + backward, through autograd.
 *   bench_s4 [--device cpu|cuda] [--layer s4|s4d] [--B n --H n --N n --L n] [--reps n]
 *            [--precision fp32|tf32|bf16] [--profile]
 * S4D: kernel generation (Vandermonde), FFT convolution, D skip, GELU, GLU output
 * linear (ssm_s4d_forward); S4: the DPLR kernel (Cauchy, Woodbury, irfft) and the
 * same block (ssm_s4_forward); both through the layer interface. The backward is ssm_backward_with on the output with a
 * random upstream gradient. Each timed iteration also resets the context and zeroes
 * the gradients, as a training step does; parameter init stays outside. Median of
 * --reps runs after warm-up; CUDA is timed with events on the stream the backend
 * uses. fwdbwd_graph_ms: the same forward + backward captured once as a CUDA graph and
 * replayed, as training steps run (-1 on the CPU). Defaults: CUDA B=16 H=256 N=64
 * L=4096, CPU B=4 H=128 N=64 L=1024. Prints
 *   layer=s4d device=cpu B=4 H=128 N=64 L=1024 fwd_ms=... fwdbwd_ms=... */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "log.h"
#include "ops.h"
#include "params.h"
#include "layer.h"
#include "tape.h"
#include "tensor.h"
#include "timing.h"

typedef struct {
    ssm_device dev;
    ssm_ctx *c;
    ssm_params *ps;
    const ssm_layer_ops *ops;
    void *m;
    ssm_tensor *x, *dy;
} bench;

/* One training-style iteration: fresh tape, zero gradients, forward, optionally backward. */
static void step(bench *b, int backward) {
    ssm_ctx_reset(b->c);
    ssm_tensor_zero(b->x->grad);
    ssm_params_zero_grad(b->ps);
    ssm_tensor *y = b->ops->forward(b->c, b->m, b->x);
    if (backward) ssm_backward_with(b->c, y, b->dy);
}

typedef struct {
    bench *b;
    int backward;
} step_arg;

static void run_step(void *p) {
    step_arg *a = p;
    step(a->b, a->backward);
}

static double time_it(bench *b, int backward, int reps, int graph) {
    step_arg a = {b, backward};
    return (graph ? bench_time_graph_ms : bench_time_ms)(b->dev, run_step, &a, reps);
}

static int usage(const char *prog, int status) {
    fprintf(stderr,
            "usage: %s [--device cpu|cuda] [--layer s4|s4d] [--B n --H n --N n --L n] [--reps n]\n"
            "          [--precision fp32|tf32|bf16] [--profile]\n"
            "  --profile  after the timings, the layer's time per op (forward and backward)\n",
            prog);
    return status;
}

int main(int argc, char **argv) {
    const char *device = "cuda", *layer = "s4d";
    int64_t B = 0, H = 0, N = 0, L = 0;
    int reps = 10, profile = 0;
    ssm_gemm_precision prec = SSM_GEMM_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--device") && has) device = argv[++i];
        else if (!strcmp(a, "--layer") && has) layer = argv[++i];
        else if (!strcmp(a, "--B") && has) B = atoll(argv[++i]);
        else if (!strcmp(a, "--H") && has) H = atoll(argv[++i]);
        else if (!strcmp(a, "--N") && has) N = atoll(argv[++i]);
        else if (!strcmp(a, "--L") && has) L = atoll(argv[++i]);
        else if (!strcmp(a, "--reps") && has) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--precision") && has) {
            if (!bench_parse_precision(argv[++i], &prec)) return usage(argv[0], 2);
        }
        else return usage(argv[0], strcmp(a, "--help") ? 2 : 0);
    }
    ssm_device dev;
    if (!strcmp(device, "cpu")) dev = SSM_CPU;
    else if (!strcmp(device, "cuda")) dev = SSM_CUDA;
    else return usage(argv[0], 2);
    if (strcmp(layer, "s4") && strcmp(layer, "s4d")) return usage(argv[0], 2);
    if (dev == SSM_CUDA && !ssm_device_available(SSM_CUDA)) {
        fprintf(stderr, "bench_s4: no CUDA device is visible (or built without CUDA)\n");
        return 1;
    }
    int cuda = dev == SSM_CUDA;
    if (!B) B = cuda ? 16 : 4;
    if (!H) H = cuda ? 256 : 128;
    if (!N) N = 64;
    if (!L) L = cuda ? 4096 : 1024;
    if (reps < 1) reps = 1;
    if (B < 1 || H < 1 || L < 1 || N < 2 || N % 2) {
        fprintf(stderr, "bench_s4: need B, H, L >= 1 and an even N >= 2\n");
        return 2;
    }

    bench b = {.dev = dev, .ops = ssm_layer_ops_for(layer)};
    int s4 = !strcmp(layer, "s4");
    ssm_layer_config cfg = {.d_model = H, .d_state = N, .dt_min = 1e-3, .dt_max = 1e-1,
                            .init = s4 ? SSM_INIT_LEGS : SSM_INIT_LIN, .disc = s4, .l_max = L};
    b.ps = ssm_params_new(SSM_F32, dev);
    b.m = b.ops->create(&cfg, b.ps, "");
    SSM_CHECK(b.m, "%s", ssm_last_error());
    ssm_params_finalize(b.ps);
    ssm_rng r = {1234, 0};
    b.ops->init(b.m, &r);
    const ssm_kernels *k = ssm_kernels_for(dev);
    k->set_gemm_precision(prec);
    b.x = ssm_tensor_new(SSM_F32, dev, SSM_DIMS(B, L, H));
    b.dy = ssm_tensor_new(SSM_F32, dev, SSM_DIMS(B, L, H));
    k->rand_normal(SSM_F32, b.x->data, b.x->numel, 11, 0, 0.0, 1.0);
    k->rand_normal(SSM_F32, b.dy->data, b.dy->numel, 12, 0, 0.0, 1.0);
    ssm_requires_grad(b.x); /* a layer inside a model back-propagates into its input */
    b.c = ssm_ctx_new(1);

    double fwd = time_it(&b, 0, reps, 0), fwdbwd = time_it(&b, 1, reps, 0);
    double peak = bench_peak_mib(dev), graph = time_it(&b, 1, reps, 1);
    printf("layer=%s device=%s precision=%s B=%lld H=%lld N=%lld L=%lld fwd_ms=%.3f "
           "fwdbwd_ms=%.3f fwdbwd_graph_ms=%.3f peak_mib=%.0f arena_mib=%.0f\n", layer,
           ssm_device_name(dev), bench_precision_name(prec), (long long)B, (long long)H,
           (long long)N, (long long)L, fwd, fwdbwd, graph, peak, bench_arena_mib(b.c, dev));
    if (profile) {
        step_arg a = {&b, 1};
        bench_profile(b.c, dev, run_step, &a);
    }

    ssm_ctx_free(b.c);
    b.ops->destroy(b.m);
    ssm_tensor_free(b.x);
    ssm_tensor_free(b.dy);
    ssm_params_free(b.ps);
    return 0;
}
