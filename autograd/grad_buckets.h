/* The gradient all-reduce overlapped with the backward pass (docs/DISTRIBUTED.md,
 * "Overlap"): the flat gradient buffer is cut into buckets, and each bucket's sum over
 * the ranks starts (comm.h's start_sum) as soon as the tape says that the gradients of
 * all its parameters are final (ssm_tape_grad_final), while backward goes on with the
 * earlier layers.
 *
 * Buckets are contiguous ranges of the flat buffer: whole parameters, one optimizer group
 * each (the buffer is laid out group by group, and the layers' parameters of one group
 * follow each other in registration order), cut from the group's end so that the last
 * layers' bucket is a full one. They start in a fixed order, the same on every rank
 * whatever its tape (a rank with nothing in a step has none): by their
 * earliest-registered parameter, latest first, as the layers' gradients become final in
 * reverse order. A bucket final before the ones ahead of it waits for them.
 *
 * Use per step: ssm_grad_sync_begin before the backward, ssm_grad_sync_end after it.
 * The result is ssm_grads_allreduce's: each bucket is weighted by the same elementwise
 * scaling before its sum, and the sum of an element over the ranks is the same
 * (bit for bit with two ranks; with more, MPI or NCCL may add in another order for
 * messages of other sizes). */
#ifndef SSM_GRAD_BUCKETS_H
#define SSM_GRAD_BUCKETS_H
#include <stdint.h>
#include "comm.h"
#include "params.h"
#include "tape.h"

typedef struct {
    int64_t begin, end; /* elements of the flat gradient buffer */
    int lo, hi;         /* its parameters: ps->layout[lo .. hi) */
    int first;          /* its earliest-registered parameter (the start order) */
    int64_t ready;      /* in this step's tape: the node after which it is final */
} ssm_grad_bucket;

typedef struct {
    ssm_params *ps;
    const ssm_comm_table *comm;
    int overlap;          /* buckets started during backward; 0: one all-reduce at the end */
    int n;                /* buckets, in start order */
    ssm_grad_bucket *b;
    int *bucket_of;       /* per parameter (ps->p's index): its bucket */
    int64_t *final;       /* per parameter: ssm_tape_grad_final's answer (scratch) */
    int next;             /* buckets started so far in this step */
    double weight;        /* this step's weight_r */
    ssm_ctx *ctx;         /* whose backward is watched, between begin and end */
    ssm_backward_hook hook;
} ssm_grad_sync;

/* Buckets of about bucket_mb MiB (a parameter larger than that is a bucket of its own)
 * for the gradients of ps, summed with comm (ssm_comm_for(ps->device)). bucket_mb 0, or a
 * table without overlapped sums (a world of one, CUDA buffers without NCCL): no overlap,
 * one ssm_grads_allreduce after backward. */
void ssm_grad_sync_init(ssm_grad_sync *s, ssm_params *ps, const ssm_comm_table *comm,
                        double bucket_mb);
void ssm_grad_sync_free(ssm_grad_sync *s);
/* Before the step's backward on c: watch it, and start each bucket, weighted by weight
 * (weight_r of ssm_grads_allreduce), when its gradients are final. */
void ssm_grad_sync_begin(ssm_grad_sync *s, ssm_ctx *c, double weight);
/* After the backward (or instead of it: a rank with nothing in the step): start the
 * buckets left and wait for all; the gradients are then ssm_grads_allreduce's. */
void ssm_grad_sync_end(ssm_grad_sync *s);

#endif
