/* CUDA graphs of a training step (kernels.h: graph_*, set_rng_base). The trainer
 * captures one step's launches on the backend's stream and replays them: one launch
 * for the whole step instead of hundreds. What varies between replays lives in device
 * memory the captured kernels read: the batch (uploaded to the same arena addresses),
 * the optimizer's hyper-parameters, and the dropout counter base below. */
#include "common.cuh"

static uint64_t *rng_base_dev; /* one uint64_t: see ssm_cuda_rng_base */

const uint64_t *ssm_cuda_rng_base(void) {
    if (!rng_base_dev) { /* through the backend's counted allocator (mem_stats) */
        rng_base_dev = (uint64_t *)ssm_cuda_alloc(sizeof *rng_base_dev);
        if (!rng_base_dev) ssm_panic("cuda: the dropout counter base: %s", ssm_last_error());
        CUDA_CHECK(cudaMemsetAsync(rng_base_dev, 0, sizeof *rng_base_dev, ssm_cuda_stream()));
    }
    return rng_base_dev;
}

static __global__ void store_u64(uint64_t *dst, uint64_t v) { *dst = v; }

void ssm_cuda_set_rng_base(uint64_t base) {
    static uint64_t current = 0;
    uint64_t *dst = (uint64_t *)ssm_cuda_rng_base();
    if (base == current) return;
    /* a one-thread kernel: the value travels as an argument, stream-ordered, no sync */
    store_u64<<<1, 1, 0, ssm_cuda_stream()>>>(dst, base);
    LAUNCH_CHECK();
    current = base;
}

void ssm_cuda_graph_begin(void) {
    (void)ssm_cuda_rng_base(); /* allocated before the capture, not inside it */
    /* thread-local: an unsafe call (a sync, a cudaMalloc) from this thread during the
     * capture fails the capture instead of running */
    CUDA_CHECK(cudaStreamBeginCapture(ssm_cuda_stream(), cudaStreamCaptureModeThreadLocal));
}

/* An executable graph and the resource epoch it was captured in. */
struct step_graph {
    cudaGraphExec_t exec;
    uint64_t epoch;
};

void *ssm_cuda_graph_end(void) {
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(ssm_cuda_stream(), &g);
    if (e != cudaSuccess || !g) {
        (void)cudaGetLastError();
        if (g) cudaGraphDestroy(g);
        ssm_error("CUDA graph capture failed: %s", cudaGetErrorString(e));
        return NULL;
    }
    cudaGraphExec_t x = NULL;
    e = cudaGraphInstantiate(&x, g, 0);
    CUDA_CHECK(cudaGraphDestroy(g));
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        ssm_error("CUDA graph instantiation failed: %s", cudaGetErrorString(e));
        return NULL;
    }
    step_graph *sg = new step_graph{x, ssm_cuda_resource_epoch()};
    return (void *)sg;
}

int ssm_cuda_graph_launch(void *graph) {
    step_graph *sg = (step_graph *)graph;
    /* a scratch buffer grew or a cuFFT plan was evicted since the capture: the graph
     * points into freed memory (batches of varying length do this) */
    if (sg->epoch != ssm_cuda_resource_epoch()) return SSM_ERR;
    CUDA_CHECK(cudaGraphLaunch(sg->exec, ssm_cuda_stream()));
    return SSM_OK;
}

void ssm_cuda_graph_free(void *graph) {
    step_graph *sg = (step_graph *)graph;
    if (!sg) return;
    CUDA_CHECK(cudaGraphExecDestroy(sg->exec));
    delete sg;
}
