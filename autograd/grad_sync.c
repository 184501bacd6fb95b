#include "grad_sync.h"
#include <stdlib.h>
#include "comm.h"
#include "kernels.h"
#include "log.h"

void ssm_grads_allreduce(ssm_params *ps, double weight) {
    void *g = ps->grads->data;
    if (weight != 1.0) ssm_kernels_for(ps->device)->scale(ps->dtype, g, g, ps->numel, weight, 0);
    ssm_comm_for(ps->device)->allreduce(ps->dtype, g, ps->numel, SSM_REDUCE_SUM);
}

uint64_t ssm_params_checksum(const ssm_params *ps) {
    size_t bytes = (size_t)ps->numel * ssm_dtype_size(ps->dtype);
    unsigned char *h = malloc(bytes ? bytes : 1);
    SSM_CHECK(h, "checksum: out of memory");
    ssm_tensor_to_host(ps->values, h);
    uint64_t x = 1469598103934665603ull;
    for (size_t i = 0; i < bytes; i++) x = (x ^ h[i]) * 1099511628211ull;
    free(h);
    return x;
}
