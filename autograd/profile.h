/* Per-op time of a training step, for the benchmarks and --profile: with a profile
 * attached to a context, every recorded op syncs the device and is charged the time
 * since the previous record (its forward, plus any unrecorded work before it), and
 * every backward rule is timed on its own. Syncing serialises host and device, so
 * totals exceed an unprofiled step's; the shares are what it is for. */
#ifndef SSM_PROFILE_H
#define SSM_PROFILE_H
#include <stdio.h>
#include "tensor.h"

#define SSM_PROFILE_MAX_OPS 64

typedef struct ssm_profile {
    ssm_device device;
    int n;
    struct {
        const char *op;
        int64_t fwd_calls, bwd_calls;
        double fwd_ms, bwd_ms;
    } e[SSM_PROFILE_MAX_OPS];
} ssm_profile;

struct ssm_ctx;
/* Attach p (zeroed, for ops on dev) to c and start its clock; NULL detaches. */
void ssm_profile_attach(struct ssm_ctx *c, ssm_profile *p, ssm_device dev);
/* Called by the tape. */
void ssm_profile_fwd(ssm_profile *p, const char *op);
void ssm_profile_bwd_begin(ssm_profile *p);
void ssm_profile_bwd_end(ssm_profile *p, const char *op);
/* One line per op, most expensive first, with totals. */
void ssm_profile_print(const ssm_profile *p, FILE *f);

#endif
