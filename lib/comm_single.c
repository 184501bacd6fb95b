/* Linked into builds without MPI: every process is a world of one. */
#include <stdlib.h>
#include "comm.h"

const char *ssm_comm_mpi_built(void) { return NULL; }

int ssm_mpi_init(int *argc, char ***argv, int *rank, int *size, int *local_rank) {
    (void)argc, (void)argv;
    *rank = 0, *size = 1, *local_rank = 0;
    return 0;
}

void ssm_mpi_finalize(void) {}

static void none_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    (void)dt, (void)x, (void)n, (void)op;
}
static void none_broadcast(void *buf, size_t bytes, int root) { (void)buf, (void)bytes, (void)root; }
const ssm_comm_table ssm_mpi_table = {
    .name = "single", .allreduce = none_allreduce, .broadcast = none_broadcast};

void ssm_mpi_barrier(void) {}

SSM_NORETURN void ssm_mpi_abort(int status) { exit(status); }
