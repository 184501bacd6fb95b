/* The world (comm.h): rank, size, and the collectives table of each device. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "comm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "log.h"

static int world_rank = 0, world_size = 1, world_local = 0, with_mpi = 0;

int ssm_comm_init(int *argc, char ***argv) {
    with_mpi = ssm_mpi_init(argc, argv, &world_rank, &world_size, &world_local);
    return world_size;
}

void ssm_comm_finalize(void) {
    ssm_nccl_finalize();
    if (with_mpi) ssm_mpi_finalize();
    with_mpi = 0;
}

int ssm_comm_rank(void) { return world_rank; }
int ssm_comm_size(void) { return world_size; }
int ssm_comm_local_rank(void) { return world_local; }

/* A world of one: every collective leaves the buffer as it is. */
static void single_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    (void)dt, (void)x, (void)n, (void)op;
}
static void single_broadcast(void *buf, size_t bytes, int root) { (void)buf, (void)bytes, (void)root; }
static const ssm_comm_table single_table = {
    .name = "single", .allreduce = single_allreduce, .broadcast = single_broadcast};

/* CUDA buffers without NCCL: through host memory and MPI. */
static void host_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    const ssm_kernels *k = ssm_kernels_for(SSM_CUDA);
    size_t bytes = (size_t)n * ssm_dtype_size(dt);
    void *h = malloc(bytes ? bytes : 1);
    SSM_CHECK(h, "comm: out of memory");
    k->to_host(h, x, bytes);
    ssm_mpi_table.allreduce(dt, h, n, op);
    k->from_host(x, h, bytes);
    free(h);
}
static void host_broadcast(void *buf, size_t bytes, int root) {
    const ssm_kernels *k = ssm_kernels_for(SSM_CUDA);
    void *h = malloc(bytes ? bytes : 1);
    SSM_CHECK(h, "comm: out of memory");
    k->to_host(h, buf, bytes);
    ssm_mpi_table.broadcast(h, bytes, root);
    k->from_host(buf, h, bytes);
    free(h);
}
static const ssm_comm_table host_table = {
    .name = "mpi-host", .allreduce = host_allreduce, .broadcast = host_broadcast};

const ssm_comm_table *ssm_comm_for(ssm_device dev) {
    if (!with_mpi && world_size == 1 && dev == SSM_CPU) return &single_table;
    if (dev == SSM_CPU) return &ssm_mpi_table;
    static const ssm_comm_table *nccl;
    static int tried;
    if (!tried) { /* every rank comes here at the same point: the first GPU collective */
        tried = 1;
        unsigned char id[128] = {0};
        int have = ssm_comm_nccl_built() != NULL;
        if (have && world_rank == 0 && ssm_nccl_unique_id(id) != SSM_OK)
            ssm_panic("comm: %s", ssm_last_error());
        if (have) {
            if (with_mpi) ssm_mpi_table.broadcast(id, sizeof id, 0);
            nccl = ssm_nccl_table(id, world_rank, world_size);
        }
    }
    if (nccl) return nccl;
    return with_mpi ? &host_table : &single_table;
}

void ssm_comm_allreduce_f64(double *x, int n, ssm_reduce_op op) {
    if (with_mpi) ssm_mpi_table.allreduce(SSM_F64, x, n, op);
}

void ssm_comm_barrier(void) {
    if (with_mpi) ssm_mpi_barrier();
}

SSM_NORETURN void ssm_comm_abort(int status) {
    fflush(stdout);
    if (with_mpi) ssm_mpi_abort(status);
    exit(status);
}
