/* comm.h's table for GPU buffers: NCCL on the backend's stream, and the overlapped sums
 * on a second stream of high priority (`side`), each ordered after the backend's stream by
 * an event. Each collective is waited for by polling, so a rank that died or hangs (the collective never completes)
 * or an NCCL error (ncclCommGetAsyncError) ends the run after SSM_COMM_TIMEOUT seconds
 * (default 600) with ncclCommAbort and MPI_Abort, instead of waiting forever. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nccl.h>
#include "common.cuh"
extern "C" {
#include "comm.h"
}

static ncclComm_t comm;
static double timeout_s = 600;
static cudaStream_t side;             /* the overlapped sums (start_sum) */
static cudaEvent_t side_after, side_done; /* side waits for the compute; the compute for side */

#define NCCL_CHECK(call)                                                              \
    do {                                                                              \
        ncclResult_t r_ = (call);                                                     \
        if (r_ != ncclSuccess) fail(#call, ncclGetErrorString(r_));                  \
    } while (0)

static void fail(const char *what, const char *why) {
    fprintf(stderr, "ssmtrain: error: rank %d: nccl: %s: %s\n", ssm_comm_rank(), what, why);
    if (comm) ncclCommAbort(comm);
    comm = NULL;
    ssm_comm_abort(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wait for stream s, watching NCCL's asynchronous errors and the clock. */
static void wait_done(cudaStream_t s, const char *what) {
    double t0 = now_s();
    for (long spins = 0;; spins++) {
        cudaError_t e = cudaStreamQuery(s);
        if (e == cudaSuccess) return;
        if (e != cudaErrorNotReady) CUDA_CHECK(e);
        ncclResult_t async;
        NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
        if (async != ncclSuccess) fail(what, ncclGetErrorString(async));
        if (timeout_s > 0 && now_s() - t0 > timeout_s)
            fail(what, "timed out (SSM_COMM_TIMEOUT): another rank hangs or died");
        if (spins > 1000) {
            struct timespec ts = {0, 100000}; /* 0.1 ms once the collective takes long */
            nanosleep(&ts, NULL);
        }
    }
}

static ncclDataType_t nccl_type(ssm_dtype dt) {
    return dt == SSM_F32 ? ncclFloat32 : dt == SSM_F64 ? ncclFloat64 : ncclInt32;
}

static void nccl_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    NCCL_CHECK(ncclAllReduce(x, x, (size_t)n, nccl_type(dt), op == SSM_REDUCE_MAX ? ncclMax : ncclSum,
                             comm, ssm_cuda_stream()));
    wait_done(ssm_cuda_stream(), "all-reduce");
}

static void nccl_broadcast(void *buf, size_t bytes, int root) {
    NCCL_CHECK(ncclBroadcast(buf, buf, bytes, ncclUint8, root, comm, ssm_cuda_stream()));
    wait_done(ssm_cuda_stream(), "broadcast");
}

/* One event serves every sum: cudaStreamWaitEvent waits for the record made before it. */
static void nccl_start_sum(ssm_dtype dt, void *x, int64_t n) {
    if (!side) {
        int least, greatest; /* NCCL's kernels first when they compete with the backward's */
        CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
        CUDA_CHECK(cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, greatest));
        CUDA_CHECK(cudaEventCreateWithFlags(&side_after, cudaEventDisableTiming));
        CUDA_CHECK(cudaEventCreateWithFlags(&side_done, cudaEventDisableTiming));
    }
    CUDA_CHECK(cudaEventRecord(side_after, ssm_cuda_stream()));
    CUDA_CHECK(cudaStreamWaitEvent(side, side_after, 0));
    NCCL_CHECK(ncclAllReduce(x, x, (size_t)n, nccl_type(dt), ncclSum, comm, side));
}

/* The host waits (watchdog and NCCL's errors as for the other collectives), and the
 * backend's stream is ordered after the sums for what it runs next (the gradient norm). */
static void nccl_wait_all(void) {
    if (!side) return;
    wait_done(side, "all-reduce (overlapped)");
    CUDA_CHECK(cudaEventRecord(side_done, side));
    CUDA_CHECK(cudaStreamWaitEvent(ssm_cuda_stream(), side_done, 0));
}

static const ssm_comm_table table = {"nccl", nccl_allreduce, nccl_broadcast, nccl_start_sum, NULL,
                                     nccl_wait_all};

extern "C" const char *ssm_comm_nccl_built(void) { return "nccl"; }

extern "C" int ssm_nccl_unique_id(void *id) {
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return ssm_error("nccl: ncclGetUniqueId: %s", ncclGetErrorString(r));
    static_assert(sizeof u == 128, "ncclUniqueId is 128 bytes");
    memcpy(id, &u, sizeof u);
    return SSM_OK;
}

extern "C" const ssm_comm_table *ssm_nccl_table(const void *id, int rank, int size) {
    const char *t = getenv("SSM_COMM_TIMEOUT");
    if (t && *t) timeout_s = atof(t);
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    NCCL_CHECK(ncclCommInitRank(&comm, size, u, rank));
    return &table;
}

extern "C" void ssm_nccl_finalize(void) {
    if (!comm) return;
    ncclCommDestroy(comm);
    comm = NULL;
    if (side) {
        cudaStreamDestroy(side);
        cudaEventDestroy(side_after);
        cudaEventDestroy(side_done);
        side = NULL;
    }
}
