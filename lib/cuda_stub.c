/* Linked into builds without the CUDA backend: there is no CUDA table. */
#include "comm.h"
#include "kernels.h"

const ssm_kernels *ssm_cuda_kernels(void) { return 0; }
int ssm_cuda_select_device(int local_rank) { (void)local_rank; return -1; }
