/* Per-op timing through the device's timer (kernels.h: timer_start, timer_stop_ms). */
#include "profile.h"
#include <string.h>
#include "kernels.h"
#include "log.h"
#include "tape.h"

static int slot(ssm_profile *p, const char *op) {
    for (int i = 0; i < p->n; i++)
        if (p->e[i].op == op || strcmp(p->e[i].op, op) == 0) return i;
    SSM_CHECK(p->n < SSM_PROFILE_MAX_OPS, "profile: more than %d distinct ops",
              SSM_PROFILE_MAX_OPS);
    p->e[p->n].op = op;
    return p->n++;
}

void ssm_profile_attach(ssm_ctx *c, ssm_profile *p, ssm_device dev) {
    c->profile = p;
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->device = dev;
    ssm_kernels_for(dev)->sync();
    ssm_kernels_for(dev)->timer_start();
}

void ssm_profile_fwd(ssm_profile *p, const char *op) {
    const ssm_kernels *k = ssm_kernels_for(p->device);
    double ms = k->timer_stop_ms();
    int i = slot(p, op);
    p->e[i].fwd_calls++;
    p->e[i].fwd_ms += ms;
    k->timer_start();
}

void ssm_profile_bwd_begin(ssm_profile *p) { ssm_kernels_for(p->device)->timer_start(); }

void ssm_profile_bwd_end(ssm_profile *p, const char *op) {
    double ms = ssm_kernels_for(p->device)->timer_stop_ms();
    int i = slot(p, op);
    p->e[i].bwd_calls++;
    p->e[i].bwd_ms += ms;
}

static double total_ms(const ssm_profile *p, int i) { return p->e[i].fwd_ms + p->e[i].bwd_ms; }

void ssm_profile_print(const ssm_profile *p, FILE *f) {
    int idx[SSM_PROFILE_MAX_OPS];
    double fwd = 0, bwd = 0;
    for (int i = 0; i < p->n; i++) { /* insertion by total time, largest first */
        int j = i;
        for (; j > 0 && total_ms(p, idx[j - 1]) < total_ms(p, i); j--) idx[j] = idx[j - 1];
        idx[j] = i;
        fwd += p->e[i].fwd_ms;
        bwd += p->e[i].bwd_ms;
    }
    fprintf(f, "%-22s %6s %10s %6s %10s %7s\n", "op", "calls", "fwd_ms", "calls", "bwd_ms", "share");
    for (int r = 0; r < p->n; r++) {
        int i = idx[r];
        double t = total_ms(p, i);
        fprintf(f, "%-22s %6lld %10.3f %6lld %10.3f %6.1f%%\n", p->e[i].op,
                (long long)p->e[i].fwd_calls, p->e[i].fwd_ms, (long long)p->e[i].bwd_calls,
                p->e[i].bwd_ms, fwd + bwd > 0 ? 100 * t / (fwd + bwd) : 0.0);
    }
    fprintf(f, "%-22s %6s %10.3f %6s %10.3f\n", "total", "", fwd, "", bwd);
}
