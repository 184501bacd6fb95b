/* SSM_HD: a function defined once in a header for both the C compiler (static inline)
 * and nvcc (__host__ __device__), so the CPU and CUDA backends share its arithmetic. */
#ifndef SSM_HOSTDEV_H
#define SSM_HOSTDEV_H

#ifdef __CUDACC__
#define SSM_HD __host__ __device__ __forceinline__
#else
#define SSM_HD static inline
#endif

#endif
