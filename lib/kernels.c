#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "kernels.h"
#include "log.h"

const ssm_kernels *ssm_kernels_for(ssm_device dev) {
    if (dev == SSM_CPU) return ssm_cpu_kernels();
    const ssm_kernels *k = ssm_cuda_kernels();
    SSM_CHECK(k, "no CUDA backend: %s",
#ifdef SSM_HAVE_CUDA
              "no GPU is visible to this process"
#else
              "ssmtrain was built without CUDA (configure --with-cuda)"
#endif
    );
    return k;
}

int ssm_device_available(ssm_device dev) {
    return dev == SSM_CPU || ssm_cuda_kernels() != NULL;
}
