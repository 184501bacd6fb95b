/* Data-parallel ranks kept in step: gradients combined over the ranks (lib/comm.h),
 * and a checksum of the parameters to check that every rank holds the same ones. */
#ifndef SSM_GRAD_SYNC_H
#define SSM_GRAD_SYNC_H
#include <stdint.h>
#include "params.h"

/* grads = sum over ranks of (weight_r * grads_r), on every rank: weight_r = n_r / N for
 * a mean over N counted targets of which rank r holds n_r. With weight 1 the local
 * gradient is not touched before the sum. */
void ssm_grads_allreduce(ssm_params *ps, double weight);
/* Its weighting of the elements [begin, end) of the flat gradient buffer (grad_buckets.h
 * weighs bucket by bucket): grads *= weight, elementwise; nothing when weight is 1. */
void ssm_grads_weigh(ssm_params *ps, double weight, int64_t begin, int64_t end);
/* 64-bit FNV-1a of the parameters' bytes (identical parameters, identical sums). */
uint64_t ssm_params_checksum(const ssm_params *ps);
/* The same running over more tensors: x = ssm_checksum_add(x, t), from SSM_CHECKSUM_INIT. */
#define SSM_CHECKSUM_INIT 1469598103934665603ull
uint64_t ssm_checksum_add(uint64_t x, const ssm_tensor *t);

#endif
