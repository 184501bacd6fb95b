/* Timing for the benchmarks: the median of repeated runs after warm-up, CUDA work
 * timed with events on the backend's stream, CPU work with a monotonic clock after
 * a device sync. Shared by bench_ops, bench_s4 and bench_mamba. */
#ifndef SSM_BENCH_TIMING_H
#define SSM_BENCH_TIMING_H
#include "kernels.h"
#include "tensor.h"

typedef void (*bench_fn)(void *arg);

/* Median time of fn(arg) in ms over reps runs, after 3 warm-up runs (plans, handles,
 * arenas and caches are then in place). */
double bench_time_ms(ssm_device dev, bench_fn fn, void *arg, int reps);

/* The same step captured once as a CUDA graph (after the warm-up runs) and timed as
 * graph replays, as ssmtrain's training steps run (train.cuda_graph): the host's launch
 * work is out of the measurement. -1 where the backend has no graphs, or with a message
 * on standard error when fn cannot be captured. */
double bench_time_graph_ms(ssm_device dev, bench_fn fn, void *arg, int reps);

/* --precision NAME: fp32, tf32 or bf16 into *p; 0 when the name is none of them. */
int bench_parse_precision(const char *name, ssm_gemm_precision *p);
const char *bench_precision_name(ssm_gemm_precision p);
/* Peak device memory in MiB held during the last bench_time_ms's timed runs (after its
 * warm-up: kernels.h mem_stats, mem_reset_peak; CPU: 0). */
double bench_peak_mib(ssm_device dev);
/* The most a context's arena held on dev (a step's activations and gradients; on the
 * CPU too, where bench_peak_mib has no allocator to ask). */
struct ssm_ctx;
double bench_arena_mib(struct ssm_ctx *c, ssm_device dev);
/* --profile: one more fn(arg) on context c with autograd/profile.h's per-op clock
 * attached (the device synced at every op, so its totals exceed the plain timings),
 * and its table of time per op, forward and backward, on standard output. */
void bench_profile(struct ssm_ctx *c, ssm_device dev, bench_fn fn, void *arg);

#endif
