/* Collectives for data-parallel training: one process per rank, the world being
 * every process that mpirun started (or this process alone).
 *
 * ssm_comm_init() joins the world: with MPI built and the process started by mpirun
 * (or any MPI launcher), MPI; otherwise a world of one, where every collective is a
 * no-op. Buffer collectives go through a table per device, as the kernel table:
 * ssm_comm_for(SSM_CPU) is MPI on host memory, ssm_comm_for(SSM_CUDA) NCCL on device
 * memory (built with --with-nccl), or MPI through a host copy without NCCL.
 *
 * A failure inside a collective (a rank died, a timeout) aborts every rank: nothing
 * returns an error, as a run cannot go on without one of its ranks. */
#ifndef SSM_COMM_H
#define SSM_COMM_H
#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "tensor.h"

typedef enum { SSM_REDUCE_SUM = 0, SSM_REDUCE_MAX = 1 } ssm_reduce_op;

typedef struct ssm_comm_table {
    const char *name; /* "single", "mpi", "nccl", "mpi-host" */
    /* x[i] = op over ranks of x[i], in place; x lives on the table's device */
    void (*allreduce)(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op);
    /* every rank's buf = root's buf; buf on the table's device */
    void (*broadcast)(void *buf, size_t bytes, int root);
    /* Sums overlapped with compute (NULL in tables without them: "single", "mpi-host").
     * start_sum begins x[i] = sum over ranks of x[i] in place and returns at once (x is
     * not to be touched until wait_all); progress lets the started sums advance (NULL:
     * they advance by themselves); wait_all returns when every started sum is done.
     * Every rank starts the same sums in the same order. CUDA: a sum starts after the
     * work queued on the backend's stream so far (an event, a second stream), and the
     * backend's stream waits for all of them at wait_all. The watchdog (SSM_COMM_TIMEOUT)
     * times wait_all, not the compute between start_sum and wait_all. */
    void (*start_sum)(ssm_dtype dt, void *x, int64_t n);
    void (*progress)(void);
    void (*wait_all)(void);
} ssm_comm_table;

/* Join the world (once, first thing in main; argc/argv may be NULL). Returns the
 * world size. */
int ssm_comm_init(int *argc, char ***argv);
/* Leave it (after the last collective); a no-op without MPI. */
void ssm_comm_finalize(void);
int ssm_comm_rank(void);
int ssm_comm_size(void);
/* The rank among the processes of this machine: its GPU. */
int ssm_comm_local_rank(void);
/* The collectives for buffers on dev (CUDA: the NCCL communicator is made on first use,
 * on the current GPU). */
const ssm_comm_table *ssm_comm_for(ssm_device dev);
/* Host doubles, the common case of small statistics. */
void ssm_comm_allreduce_f64(double *x, int n, ssm_reduce_op op);
void ssm_comm_barrier(void);
/* End every rank now with this exit status (MPI_Abort); exit() in a world of one. */
SSM_NORETURN void ssm_comm_abort(int status);
/* What this build can do: "mpi", "nccl" (NULL when not built). */
const char *ssm_comm_mpi_built(void);
const char *ssm_comm_nccl_built(void);

/* --- implementation hooks (comm_mpi.c or comm_single.c; cuda/comm_nccl.cu or none) --- */
int ssm_mpi_init(int *argc, char ***argv, int *rank, int *size, int *local_rank);
void ssm_mpi_finalize(void);
extern const ssm_comm_table ssm_mpi_table;
void ssm_mpi_barrier(void);
SSM_NORETURN void ssm_mpi_abort(int status);
/* NCCL on the world: NULL when NCCL is not built. unique_id: 128 bytes, the same on
 * every rank (rank 0 makes it, MPI broadcasts it). */
int ssm_nccl_unique_id(void *id);
const ssm_comm_table *ssm_nccl_table(const void *id, int rank, int size);
void ssm_nccl_finalize(void);
/* cuda/device.cu (lib/cuda_stub.c: -1): use GPU local_rank % count; -1 without one. */
int ssm_cuda_select_device(int local_rank);

#endif
