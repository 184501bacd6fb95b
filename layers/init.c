#include "init.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "philox.h"

void ssm_rng_uniform(ssm_rng *r, double *out, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++)
        out[i] = lo + (hi - lo) * ssm_philox_uniform(r->seed, r->offset + (uint64_t)i);
    r->offset += (uint64_t)n;
}

void ssm_rng_normal(ssm_rng *r, double *out, int64_t n, double mean, double std) {
    for (int64_t i = 0; i < n; i++)
        out[i] = mean + std * ssm_philox_normal(r->seed, r->offset + (uint64_t)i);
    r->offset += (uint64_t)n;
}

void ssm_init_log_dt(ssm_rng *r, double *log_dt, int64_t n, double dt_min, double dt_max) {
    SSM_CHECK(dt_min > 0 && dt_max >= dt_min, "init: need 0 < dt_min <= dt_max");
    ssm_rng_uniform(r, log_dt, n, log(dt_min), log(dt_max));
}

int ssm_init_kind_parse(const char *s) {
    static const char *names[] = {"legs", "lin", "inv", "real"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

int ssm_init_s4d_A(ssm_init_kind kind, int64_t N, double *re, double *im) {
    for (int64_t n = 0; n < N / 2; n++) {
        switch (kind) {
        case SSM_INIT_LIN: re[n] = -0.5; im[n] = M_PI * (double)n; break;
        case SSM_INIT_INV:
            re[n] = -0.5;
            im[n] = (double)N / M_PI * ((double)N / (double)(2 * n + 1) - 1);
            break;
        case SSM_INIT_REAL: re[n] = -(double)(n + 1); im[n] = 0; break;
        default: return -1;
        }
    }
    return 0;
}

void ssm_init_torch_default(ssm_rng *r, double *out, int64_t n, int64_t fan_in) {
    double b = 1.0 / sqrt((double)fan_in);
    ssm_rng_uniform(r, out, n, -b, b);
}

static void fill(ssm_tensor *p, ssm_rng *r, int normal, double a, double b) {
    double *v = malloc((size_t)p->numel * sizeof *v);
    SSM_CHECK(v || !p->numel, "init: out of memory");
    if (normal) ssm_rng_normal(r, v, p->numel, a, b);
    else ssm_rng_uniform(r, v, p->numel, a, b);
    ssm_tensor_from_f64(p, v);
    free(v);
}

void ssm_param_normal(ssm_tensor *p, ssm_rng *r, double mean, double std) { fill(p, r, 1, mean, std); }
void ssm_param_uniform(ssm_tensor *p, ssm_rng *r, double lo, double hi) { fill(p, r, 0, lo, hi); }
