#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "timing.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "tape.h"
#include "log.h"
#include "profile.h"

/* The median of reps timed runs of fn(arg) (a graph's launch when graph is set) */
static double median_ms(const ssm_kernels *k, bench_fn fn, void *arg, void *graph, int reps) {
    double *t = malloc((size_t)reps * sizeof *t);
    SSM_CHECK(t, "bench: out of memory");
    for (int r = 0; r < reps; r++) {
        k->timer_start();
        if (!graph) fn(arg);
        else if (k->graph_launch(graph) != SSM_OK) ssm_panic("bench: the captured graph went stale");
        t[r] = k->timer_stop_ms();
    }
    double med = ssm_median(t, reps);
    free(t);
    return med;
}

static void warm_up(const ssm_kernels *k, bench_fn fn, void *arg) {
    for (int i = 0; i < 3; i++) fn(arg);
    k->sync();
    k->mem_reset_peak(); /* bench_peak_mib: the timed runs' peak, not the warm-up's growth */
}

double bench_time_ms(ssm_device dev, bench_fn fn, void *arg, int reps) {
    const ssm_kernels *k = ssm_kernels_for(dev);
    warm_up(k, fn, arg);
    return median_ms(k, fn, arg, NULL, reps);
}

double bench_time_graph_ms(ssm_device dev, bench_fn fn, void *arg, int reps) {
    const ssm_kernels *k = ssm_kernels_for(dev);
    if (!k->graph_begin) return -1;
    warm_up(k, fn, arg); /* every plan, scratch buffer and arena chunk made before capture */
    k->graph_begin();
    fn(arg);
    void *g = k->graph_end();
    if (!g) {
        fprintf(stderr, "bench: the step cannot be captured as a CUDA graph: %s\n",
                ssm_last_error());
        return -1;
    }
    double ms = median_ms(k, fn, arg, g, reps);
    k->sync();
    k->graph_free(g);
    return ms;
}

static const char *const prec_names[] = {"fp32", "tf32", "bf16"};

int bench_parse_precision(const char *name, ssm_gemm_precision *p) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, prec_names[i])) {
            *p = (ssm_gemm_precision)i;
            return 1;
        }
    return 0;
}

const char *bench_precision_name(ssm_gemm_precision p) { return prec_names[p]; }

double bench_arena_mib(struct ssm_ctx *c, ssm_device dev) {
    return (double)ssm_arena_peak(c->arena, dev) / 1048576.0;
}

double bench_peak_mib(ssm_device dev) {
    size_t now, peak;
    ssm_kernels_for(dev)->mem_stats(&now, &peak);
    return (double)peak / 1048576.0;
}

void bench_profile(struct ssm_ctx *c, ssm_device dev, bench_fn fn, void *arg) {
    ssm_profile prof;
    ssm_profile_attach(c, &prof, dev);
    fn(arg);
    ssm_profile_attach(c, NULL, dev);
    ssm_profile_print(&prof, stdout);
}
