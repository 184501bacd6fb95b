/* The CUDA kernel table: device memory, shared resources (SM count, cuBLAS
 * handle, scratch) and the assembly of the <area>.cu entries. The host side
 * is single-threaded: the lazy statics below are not guarded by locks. */
#include "common.cuh"

/* --- shared resources --- */

int ssm_cuda_sm_count(void) {
    static int sms = 0;
    if (!sms) {
        int dev = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
        if (sms < 1) sms = 1;
    }
    return sms;
}

cudaStream_t ssm_cuda_stream(void) {
    static cudaStream_t s = NULL;
    if (!s) CUDA_CHECK(cudaStreamCreate(&s));
    return s;
}

static ssm_gemm_precision gemm_precision = SSM_GEMM_FP32;

ssm_gemm_precision ssm_cuda_gemm_precision(void) { return gemm_precision; }

static void set_math_mode(cublasHandle_t h) {
    /* FP32 by default (TF32 tensor cores off): results agree with the CPU to 1e-5; BF16
     * converts the operands and calls cublasGemmEx (gemm.cu), whatever the mode */
    CUBLAS_CHECK(cublasSetMathMode(h, gemm_precision == SSM_GEMM_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                     : CUBLAS_DEFAULT_MATH));
}

/* --- device memory, counted: every cudaMalloc of the backend goes through dev_malloc, so
 * kernels.h's mem_stats reports exactly what we hold (tensors, arena chunks, scratch, the
 * cuBLAS workspace; cuFFT plans take their work areas from scratch), as PyTorch's
 * max_memory_allocated counts its allocator's blocks. --- */
static size_t mem_now, mem_peak;
static struct live_block { void *p; size_t n; } *live;
static size_t n_live, cap_live;

static cudaError_t dev_malloc(void **p, size_t bytes) {
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) return e;
    if (n_live == cap_live) {
        cap_live = cap_live ? 2 * cap_live : 256;
        live = (live_block *)realloc(live, cap_live * sizeof *live);
        if (!live) ssm_panic("cuda: out of host memory for the allocation table");
    }
    live[n_live++] = {*p, bytes};
    mem_now += bytes;
    if (mem_now > mem_peak) mem_peak = mem_now;
    return e;
}

static void dev_free(void *p) {
    if (!p) return;
    for (size_t i = n_live; i-- > 0;)
        if (live[i].p == p) {
            mem_now -= live[i].n;
            live[i] = live[--n_live];
            break;
        }
    CUDA_CHECK(cudaFree(p));
}

static void cuda_mem_stats(size_t *now, size_t *peak) {
    *now = mem_now;
    *peak = mem_peak;
}

static void cuda_mem_reset_peak(void) { mem_peak = mem_now; }

cublasHandle_t ssm_cuda_cublas(void) {
    static cublasHandle_t h = NULL;
    if (!h) {
        CUBLAS_CHECK(cublasCreate(&h));
        set_math_mode(h);
        CUBLAS_CHECK(cublasSetStream(h, ssm_cuda_stream()));
        /* a workspace of our own: cuBLAS would otherwise allocate one lazily, which a
         * captured step must not do (32 MiB: NVIDIA's recommendation for Hopper) */
        size_t ws = (size_t)32 << 20;
        void *p = NULL;
        CUDA_CHECK(dev_malloc(&p, ws));
        CUBLAS_CHECK(cublasSetWorkspace(h, p, ws));
    }
    return h;
}

/* kernels.h: set_gemm_precision (train.precision) */
static void cuda_set_gemm_precision(ssm_gemm_precision p) {
    gemm_precision = p;
    set_math_mode(ssm_cuda_cublas());
}

static uint64_t resource_epoch;
void ssm_cuda_resources_freed(void) { resource_epoch++; }
uint64_t ssm_cuda_resource_epoch(void) { return resource_epoch; }

void *ssm_cuda_scratch(int slot, size_t bytes) {
    static void *buf[SSM_SCR_COUNT];
    static size_t cap[SSM_SCR_COUNT];
    if (slot < 0 || slot >= SSM_SCR_COUNT) ssm_panic("cuda: scratch: bad slot %d", slot);
    if (bytes > cap[slot]) {
        /* earlier kernels may still use the old buffer: wait before freeing */
        CUDA_CHECK(cudaDeviceSynchronize());
        if (buf[slot]) {
            dev_free(buf[slot]);
            ssm_cuda_resources_freed();
        }
        size_t sz = bytes + bytes / 4; /* grow with headroom: fewer reallocations */
        sz = (sz + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
        cudaError_t e = dev_malloc(&buf[slot], sz);
        if (e != cudaSuccess) {
            buf[slot] = NULL;
            cap[slot] = 0;
            (void)cudaGetLastError();
            ssm_out_of_memory("cuda: scratch buffer %d needs %zu bytes: cudaMalloc: %s", slot, sz,
                              cudaGetErrorString(e));
        }
        cap[slot] = sz;
    }
    return buf[slot];
}

const char *ssm_cufft_error_string(cufftResult r) {
    switch (r) {
    case CUFFT_SUCCESS: return "success";
    case CUFFT_INVALID_PLAN: return "invalid plan";
    case CUFFT_ALLOC_FAILED: return "allocation failed";
    case CUFFT_INVALID_VALUE: return "invalid value";
    case CUFFT_INTERNAL_ERROR: return "internal error";
    case CUFFT_EXEC_FAILED: return "execution failed";
    case CUFFT_SETUP_FAILED: return "setup failed";
    case CUFFT_INVALID_SIZE: return "invalid size";
    case CUFFT_NO_WORKSPACE: return "no workspace";
    case CUFFT_NOT_SUPPORTED: return "not supported";
    default: return "unknown cuFFT error";
    }
}

/* --- memory entries --- */

void *ssm_cuda_alloc(size_t bytes) {
    void *p = NULL;
    /* a zero-byte request still gets a distinct non-NULL pointer, as malloc may */
    cudaError_t e = dev_malloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) { /* kernels.h: NULL and the reason; the caller names op and sizes */
        (void)cudaGetLastError(); /* not sticky: clear it for the next error check */
        size_t free_b = 0, total_b = 0;
        if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
        ssm_error("cudaMalloc of %zu bytes failed: %s (%.1f MiB of %.1f MiB free)", bytes,
                  cudaGetErrorString(e), free_b / 1048576.0, total_b / 1048576.0);
        return NULL;
    }
    return p;
}

void ssm_cuda_free(void *p) {
    dev_free(p);
}

void ssm_cuda_memset0(void *p, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ssm_cuda_stream()));
}

void ssm_cuda_copy(void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src)
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ssm_cuda_stream()));
}

/* Host transfers are synchronous: the host buffer is usable on return. */
void ssm_cuda_to_host(void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ssm_cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(ssm_cuda_stream()));
}

void ssm_cuda_from_host(void *dst, const void *host_src, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ssm_cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(ssm_cuda_stream()));
}

void ssm_cuda_sync(void) { CUDA_CHECK(cudaDeviceSynchronize()); }

static cudaEvent_t timer_ev[2]; /* created on first use, kept for the process */

static void cuda_timer_start(void) {
    if (!timer_ev[0]) {
        CUDA_CHECK(cudaEventCreate(&timer_ev[0]));
        CUDA_CHECK(cudaEventCreate(&timer_ev[1]));
    }
    CUDA_CHECK(cudaEventRecord(timer_ev[0], ssm_cuda_stream()));
}

static double cuda_timer_stop_ms(void) {
    float ms = 0.0f;
    CUDA_CHECK(cudaEventRecord(timer_ev[1], ssm_cuda_stream()));
    CUDA_CHECK(cudaEventSynchronize(timer_ev[1]));
    CUDA_CHECK(cudaEventElapsedTime(&ms, timer_ev[0], timer_ev[1]));
    return ms;
}

/* --- the table --- */

static ssm_kernels cuda_table;

static void fill_table(ssm_kernels *t) {
    t->name = "cuda";
    t->alloc = ssm_cuda_alloc;
    t->free = ssm_cuda_free;
    t->memset0 = ssm_cuda_memset0;
    t->copy = ssm_cuda_copy;
    t->to_host = ssm_cuda_to_host;
    t->from_host = ssm_cuda_from_host;
    t->sync = ssm_cuda_sync;
    t->timer_start = cuda_timer_start;
    t->timer_stop_ms = cuda_timer_stop_ms;
    t->fill = ssm_cuda_fill;
    t->scale = ssm_cuda_scale;
    t->unary = ssm_cuda_unary;
    t->unary_bwd = ssm_cuda_unary_bwd;
    t->binary = ssm_cuda_binary;
    t->binary_bwd = ssm_cuda_binary_bwd;
    t->sum_axis = ssm_cuda_sum_axis;
    t->expand_axis = ssm_cuda_expand_axis;
    t->permute = ssm_cuda_permute;
    t->slice_copy = ssm_cuda_slice_copy;
    t->sumsq = ssm_cuda_sumsq;
    t->set_gemm_precision = cuda_set_gemm_precision;
    t->gemm = ssm_cuda_gemm;
    t->layernorm_fwd = ssm_cuda_layernorm_fwd;
    t->layernorm_bwd = ssm_cuda_layernorm_bwd;
    t->rmsnorm_fwd = ssm_cuda_rmsnorm_fwd;
    t->rmsnorm_bwd = ssm_cuda_rmsnorm_bwd;
    t->batchnorm_fwd = ssm_cuda_batchnorm_fwd;
    t->batchnorm_bwd = ssm_cuda_batchnorm_bwd;
    t->xent_fwd = ssm_cuda_xent_fwd;
    t->xent_bwd = ssm_cuda_xent_bwd;
    t->xent_stats = ssm_cuda_xent_stats;
    t->embedding_fwd = ssm_cuda_embedding_fwd;
    t->embedding_bwd = ssm_cuda_embedding_bwd;
    t->dropout_fwd = ssm_cuda_dropout_fwd;
    t->dropout_bwd = ssm_cuda_dropout_bwd;
    t->glu_fwd = ssm_cuda_glu_fwd;
    t->glu_bwd = ssm_cuda_glu_bwd;
    t->conv1d_causal_fwd = ssm_cuda_conv1d_causal_fwd;
    t->conv1d_causal_bwd = ssm_cuda_conv1d_causal_bwd;
    t->fft_conv_fwd = ssm_cuda_fft_conv_fwd;
    t->fft_conv_bwd = ssm_cuda_fft_conv_bwd;
    t->fft_conv_spec_floats = ssm_cuda_fft_conv_spec_floats;
    t->fft_plan_limit = ssm_cuda_fft_plan_limit;
    t->vandermonde_fwd = ssm_cuda_vandermonde_fwd;
    t->vandermonde_bwd = ssm_cuda_vandermonde_bwd;
    t->diag_discretise = ssm_cuda_diag_discretise;
    t->diag_ssm_step = ssm_cuda_diag_ssm_step;
    t->cauchy_fwd = ssm_cuda_cauchy_fwd;
    t->cauchy_bwd = ssm_cuda_cauchy_bwd;
    t->irfft_fwd = ssm_cuda_irfft_fwd;
    t->irfft_bwd = ssm_cuda_irfft_bwd;
    t->s5_scan_fwd = ssm_cuda_s5_scan_fwd;
    t->s5_scan_bwd = ssm_cuda_s5_scan_bwd;
    t->selective_scan_fwd = ssm_cuda_selective_scan_fwd;
    t->selective_scan_bwd = ssm_cuda_selective_scan_bwd;
    t->rand_uniform = ssm_cuda_rand_uniform;
    t->rand_normal = ssm_cuda_rand_normal;
    t->adamw = ssm_cuda_adamw;
    t->sgd = ssm_cuda_sgd;
    t->graph_begin = ssm_cuda_graph_begin;
    t->graph_end = ssm_cuda_graph_end;
    t->graph_launch = ssm_cuda_graph_launch;
    t->graph_free = ssm_cuda_graph_free;
    t->graph_epoch = ssm_cuda_resource_epoch;
    t->set_rng_base = ssm_cuda_set_rng_base;
    t->mem_stats = cuda_mem_stats;
    t->mem_reset_peak = cuda_mem_reset_peak;
}

/* NULL when no GPU is usable (no driver, no device): callers and tests probe
 * this, so it must not abort. The answer is computed once. */
extern "C" const ssm_kernels *ssm_cuda_kernels(void) {
    static int state = 0; /* 0 unknown, 1 ready, -1 absent */
    if (state == 0) {
        int n = 0;
        cudaError_t e = cudaGetDeviceCount(&n);
        if (e != cudaSuccess || n <= 0) {
            (void)cudaGetLastError(); /* reset the error state for later calls */
            state = -1;
        } else {
            fill_table(&cuda_table);
            state = 1;
        }
    }
    return state == 1 ? &cuda_table : NULL;
}
