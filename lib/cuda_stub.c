/* Linked into builds without the CUDA backend: there is no CUDA table. */
#include "kernels.h"

const ssm_kernels *ssm_cuda_kernels(void) { return 0; }
