/* Which GPU this process uses: a rank of a data-parallel run takes the one of its
 * node-local rank (comm.h), before anything else touches the device. */
#include "common.cuh"

extern "C" int ssm_cuda_select_device(int local_rank) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
        (void)cudaGetLastError();
        return -1;
    }
    CUDA_CHECK(cudaSetDevice(local_rank % n));
    return local_rank % n;
}
