/* The CPU kernel table: host memory plus the cpu_*.c kernels. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cpu_kernels.h"

static void *cpu_alloc(size_t bytes) {
    /* 256 bytes, as cudaMalloc: arena offsets keep that alignment on both devices */
    size_t sz = (bytes + 255) / 256 * 256; /* aligned_alloc wants a multiple */
    void *p = bytes > SIZE_MAX - 255 ? NULL : aligned_alloc(256, sz ? sz : 256);
    if (!p) ssm_error("aligned_alloc of %zu bytes failed", bytes);
    return p;
}
static void cpu_free(void *p) { free(p); }
static void cpu_memset0(void *p, size_t n) { memset(p, 0, n); }
static void cpu_copy(void *d, const void *s, size_t n) { memmove(d, s, n); }
static void cpu_sync(void) {}
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static double timer_t0;
static void cpu_timer_start(void) { timer_t0 = now_ms(); }
static double cpu_timer_stop_ms(void) { return now_ms() - timer_t0; }
static void cpu_set_gemm_precision(ssm_gemm_precision p) { (void)p; } /* always FP32 */
static int cpu_fft_plan_limit(int n) { (void)n; return 0; }
static int64_t cpu_fft_conv_spec_floats(int64_t B, int64_t H, int64_t L) {
    (void)B, (void)H, (void)L;
    return 0;
}
static void cpu_mem_stats(size_t *now, size_t *peak) { *now = *peak = 0; }
static void cpu_mem_reset_peak(void) {}
/* no graphs on the CPU, so no replays: the base stays 0 */
static void cpu_set_rng_base(uint64_t base) {
    SSM_CHECK(base == 0, "cpu: set_rng_base(%llu): the CPU replays no graphs",
              (unsigned long long)base);
}

static const ssm_kernels cpu_table = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .memset0 = cpu_memset0,
    .copy = cpu_copy,
    .to_host = cpu_copy,
    .from_host = cpu_copy,
    .sync = cpu_sync,
    .timer_start = cpu_timer_start,
    .timer_stop_ms = cpu_timer_stop_ms,
    .fill = ssm_cpu_fill,
    .scale = ssm_cpu_scale,
    .unary = ssm_cpu_unary,
    .unary_bwd = ssm_cpu_unary_bwd,
    .binary = ssm_cpu_binary,
    .binary_bwd = ssm_cpu_binary_bwd,
    .sum_axis = ssm_cpu_sum_axis,
    .expand_axis = ssm_cpu_expand_axis,
    .permute = ssm_cpu_permute,
    .slice_copy = ssm_cpu_slice_copy,
    .sumsq = ssm_cpu_sumsq,
    .set_gemm_precision = cpu_set_gemm_precision,
    .gemm = ssm_cpu_gemm,
    .layernorm_fwd = ssm_cpu_layernorm_fwd,
    .layernorm_bwd = ssm_cpu_layernorm_bwd,
    .rmsnorm_fwd = ssm_cpu_rmsnorm_fwd,
    .rmsnorm_bwd = ssm_cpu_rmsnorm_bwd,
    .batchnorm_fwd = ssm_cpu_batchnorm_fwd,
    .batchnorm_bwd = ssm_cpu_batchnorm_bwd,
    .xent_fwd = ssm_cpu_xent_fwd,
    .xent_bwd = ssm_cpu_xent_bwd,
    .xent_stats = ssm_cpu_xent_stats,
    .embedding_fwd = ssm_cpu_embedding_fwd,
    .embedding_bwd = ssm_cpu_embedding_bwd,
    .dropout_fwd = ssm_cpu_dropout_fwd,
    .dropout_bwd = ssm_cpu_dropout_bwd,
    .glu_fwd = ssm_cpu_glu_fwd,
    .glu_bwd = ssm_cpu_glu_bwd,
    .conv1d_causal_fwd = ssm_cpu_conv1d_causal_fwd,
    .conv1d_causal_bwd = ssm_cpu_conv1d_causal_bwd,
    .fft_conv_fwd = ssm_cpu_fft_conv_fwd,
    .fft_conv_bwd = ssm_cpu_fft_conv_bwd,
    .fft_conv_spec_floats = cpu_fft_conv_spec_floats,
    .fft_plan_limit = cpu_fft_plan_limit,
    .vandermonde_fwd = ssm_cpu_vandermonde_fwd,
    .vandermonde_bwd = ssm_cpu_vandermonde_bwd,
    .diag_discretise = ssm_cpu_diag_discretise,
    .diag_ssm_step = ssm_cpu_diag_ssm_step,
    .irfft_fwd = ssm_cpu_irfft_fwd,
    .irfft_bwd = ssm_cpu_irfft_bwd,
    .cauchy_fwd = ssm_cpu_cauchy_fwd,
    .cauchy_bwd = ssm_cpu_cauchy_bwd,
    .s5_scan_fwd = ssm_cpu_s5_scan_fwd,
    .s5_scan_bwd = ssm_cpu_s5_scan_bwd,
    .selective_scan_fwd = ssm_cpu_selective_scan_fwd,
    .selective_scan_bwd = ssm_cpu_selective_scan_bwd,
    .rand_uniform = ssm_cpu_rand_uniform,
    .rand_normal = ssm_cpu_rand_normal,
    .adamw = ssm_cpu_adamw,
    .sgd = ssm_cpu_sgd,
    .mem_stats = cpu_mem_stats,
    .mem_reset_peak = cpu_mem_reset_peak,
    .set_rng_base = cpu_set_rng_base,
};

const ssm_kernels *ssm_cpu_kernels(void) { return &cpu_table; }
