/* Per-step memory: a bump allocator per device. Every tensor of one training
 * step (activations, saved tensors, gradients of non-leaves) comes from here;
 * ssm_arena_reset() after the optimizer step frees them all at once. When a
 * step outgrows the arena, extra chunks are allocated; the next reset folds
 * them into one chunk of the high-water size, so a steady-state step performs
 * no malloc/cudaMalloc at all. */
#ifndef SSM_ARENA_H
#define SSM_ARENA_H
#include <stddef.h>
#include <stdint.h>
#include "tensor.h"

typedef struct ssm_arena ssm_arena;

ssm_arena *ssm_arena_new(void);
void ssm_arena_free(ssm_arena *a);
/* 256-byte aligned block of `bytes` on `dev`, valid until the next reset. Out of memory:
 * exits through ssm_out_of_memory (log.h); ssm_arena_try_alloc returns NULL instead, with
 * the reason in ssm_last_error(). */
void *ssm_arena_alloc(ssm_arena *a, ssm_device dev, size_t bytes);
void *ssm_arena_try_alloc(ssm_arena *a, ssm_device dev, size_t bytes);
void ssm_arena_reset(ssm_arena *a);
/* Underlying malloc/cudaMalloc calls so far (tests check a steady step adds none). */
uint64_t ssm_arena_system_allocs(const ssm_arena *a);
/* Bytes in use now and the high-water mark, per device. */
size_t ssm_arena_used(const ssm_arena *a, ssm_device dev);
size_t ssm_arena_peak(const ssm_arena *a, ssm_device dev);

#endif
