/* Linked into builds without NCCL: GPU buffers go through host memory and MPI. */
#include "comm.h"
#include "log.h"

const char *ssm_comm_nccl_built(void) { return NULL; }
int ssm_nccl_unique_id(void *id) { (void)id; return ssm_error("built without NCCL"); }
const ssm_comm_table *ssm_nccl_table(const void *id, int rank, int size) {
    (void)id, (void)rank, (void)size;
    return NULL;
}
void ssm_nccl_finalize(void) {}
