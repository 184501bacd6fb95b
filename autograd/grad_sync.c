#include "grad_sync.h"
#include <stdlib.h>
#include "comm.h"
#include "kernels.h"
#include "log.h"

void ssm_grads_weigh(ssm_params *ps, double weight, int64_t begin, int64_t end) {
    if (weight == 1.0) return;
    void *g = (char *)ps->grads->data + (size_t)begin * ssm_dtype_size(ps->dtype);
    ssm_kernels_for(ps->device)->scale(ps->dtype, g, g, end - begin, weight, 0);
}

void ssm_grads_allreduce(ssm_params *ps, double weight) {
    ssm_grads_weigh(ps, weight, 0, ps->numel);
    ssm_comm_for(ps->device)->allreduce(ps->dtype, ps->grads->data, ps->numel, SSM_REDUCE_SUM);
}

uint64_t ssm_checksum_add(uint64_t x, const ssm_tensor *t) {
    size_t bytes = (size_t)t->numel * ssm_dtype_size(t->dtype);
    unsigned char *h = malloc(bytes ? bytes : 1);
    SSM_CHECK(h, "checksum: out of memory");
    ssm_tensor_to_host(t, h);
    for (size_t i = 0; i < bytes; i++) x = (x ^ h[i]) * 1099511628211ull;
    free(h);
    return x;
}

uint64_t ssm_params_checksum(const ssm_params *ps) {
    return ssm_checksum_add(SSM_CHECKSUM_INIT, ps->values);
}
