#include "dist.h"
#include <math.h>
#include "comm.h"
#include "grad_sync.h"
#include "interrupt.h"
#include "log.h"

void ssm_dist_rng_begin(ssm_ctx *c, uint64_t base) {
    c->rng_offset = base + (uint64_t)ssm_comm_rank() * SSM_DIST_RNG_STRIDE;
}

double ssm_dist_weight(ssm_dist_stats *s) {
    s->total = s->count;
    ssm_comm_allreduce_f64(&s->total, 1, SSM_REDUCE_SUM);
    return s->total > 0 ? s->count / s->total : 0;
}

void ssm_dist_step(ssm_dist_stats *s, ssm_ctx *c, uint64_t rng_base) {
    if (ssm_comm_size() == 1) return;
    double own = s->count;
    double draws = (double)(c->rng_offset - rng_base - (uint64_t)ssm_comm_rank() * SSM_DIST_RNG_STRIDE);
    double x[4] = {own ? s->loss * own : 0, s->correct, s->tokens, draws};
    ssm_comm_allreduce_f64(x, 4, SSM_REDUCE_SUM);
    s->count = s->total, s->correct = x[1], s->tokens = x[2];
    s->loss = s->total > 0 ? x[0] / s->total : NAN; /* no counted target at all: as one process */
    c->rng_offset = rng_base + (uint64_t)x[3];
}

void ssm_dist_sync_buffers(ssm_model *m) {
    if (ssm_comm_size() == 1) return;
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        ssm_comm_for(b->device)->broadcast(b->data, (size_t)b->numel * ssm_dtype_size(b->dtype), 0);
    }
}

int ssm_dist_stop_signal(void) {
    if (ssm_comm_size() == 1) return ssm_interrupted();
    double s = ssm_interrupted();
    ssm_comm_allreduce_f64(&s, 1, SSM_REDUCE_MAX);
    return (int)s;
}

void ssm_dist_sum(double *x, int n) { ssm_comm_allreduce_f64(x, n, SSM_REDUCE_SUM); }

int ssm_dist_root_value(int v) {
    ssm_comm_for(SSM_CPU)->broadcast(&v, sizeof v, 0);
    return v;
}

int ssm_dist_check_replicas(ssm_model *m, int64_t step) {
    if (ssm_comm_size() == 1) return SSM_OK;
    uint64_t mine = ssm_params_checksum(m->ps), root;
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) /* BatchNorm's running statistics too */
        mine = ssm_checksum_add(mine, ssm_model_buffer(m, i, name, sizeof name));
    root = mine;
    ssm_comm_for(SSM_CPU)->broadcast(&root, sizeof root, 0);
    /* the lowest rank that differs, or the world size */
    double first = mine != root ? ssm_comm_rank() : ssm_comm_size();
    first = -first;
    ssm_comm_allreduce_f64(&first, 1, SSM_REDUCE_MAX);
    int bad = (int)-first;
    if (bad == ssm_comm_size()) return SSM_OK;
    return ssm_error("step %lld: the parameters (or BatchNorm statistics) of rank %d differ from rank 0's "
                     "(train.check_replicas_every): the replicas diverged; training stopped",
                     (long long)step, bad);
}
