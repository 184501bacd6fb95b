/* The trainer's data-parallel steps (lib/comm.h underneath): each rank trains on its
 * slice of every global batch (data/dataset.h: ssm_loader_opts.rank), the gradients
 * are combined into the whole batch's gradient, and every rank applies the same
 * update. In a world of one each function is what the single-process trainer did. */
#ifndef SSM_DIST_H
#define SSM_DIST_H
#include <stdint.h>
#include "model.h"
#include "params.h"
#include "tape.h"

/* What one rank saw in a step; after ssm_dist_step, the sums over the ranks. */
typedef struct {
    double count;    /* counted targets (the loss is their mean) */
    double total;    /* ssm_dist_weight: the counted targets of all ranks */
    double loss;     /* mean loss of this rank's targets; after: of the whole batch */
    double correct;  /* correct predictions */
    double tokens;   /* input tokens */
} ssm_dist_stats;

/* Dropout counters: rank r draws from base + r * SSM_DIST_RNG_STRIDE in a step, so ranks
 * never share random numbers; ssm_dist_step then moves every rank to base + all draws. */
#define SSM_DIST_RNG_STRIDE (UINT64_C(1) << 44)
/* Before the step's forward: where this rank's draws start (base = c->rng_offset). */
void ssm_dist_rng_begin(ssm_ctx *c, uint64_t base);
/* Before the step (the host knows s->count from the batch): the counted targets of the
 * whole batch, N (into s->total), and the weight n_r / N of this rank's gradient, its
 * share of the counted targets (0 when N is 0), for ssm_grad_sync_begin: then the summed
 * gradients are the whole batch's, and its weighted buckets can start during backward. */
double ssm_dist_weight(ssm_dist_stats *s);
/* After backward: sums the statistics and moves the RNG past every rank's draws. */
void ssm_dist_step(ssm_dist_stats *s, ssm_ctx *c, uint64_t rng_base);
/* Rank 0's model buffers (BatchNorm running statistics) on every rank, after each step:
 * rank 0's statistics evolve as under PyTorch DDP's broadcast_buffers (which copies them
 * before each forward), and between steps every rank holds them, so the ranks evaluate,
 * checkpoint and pass the replica check alike. */
void ssm_dist_sync_buffers(ssm_model *m);
/* The signal that stops the run, the same on every rank: the largest received on any. */
int ssm_dist_stop_signal(void);
/* Evaluation sums over the ranks, in place. */
void ssm_dist_sum(double *x, int n);
/* Rank 0's value of v, on every rank. */
int ssm_dist_root_value(int v);
/* SSM_OK, or an error naming the step when some rank's parameters differ from rank 0's. */
int ssm_dist_check_replicas(ssm_model *m, int64_t step);

#endif
