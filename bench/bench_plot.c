/* bench_plot: what ssmtrain's curves.png costs at each evaluation.
 *   bench_plot [--rows N] [--reps N]
 * Writes a run folder with an N-row metrics.jsonl (default 10000: train rows every step,
 * a val row every 100) and times ssm_curves_write_run (read + draw + PNG + fsync'd
 * rename) and, apart, the reading alone. Median of the timed runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "curves.h"
#include "log.h"
#include "metrics.h"
#include "timing.h"

static char dir[256];

static void write_run(int rows) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    FILE *f = fopen(path, "w");
    SSM_CHECK(f, "bench_plot: cannot write %s", path);
    fputs("[model]\nlayer = s4d\n[data]\ntask = listops\n", f);
    fclose(f);
    ssm_metrics m;
    int64_t dropped;
    SSM_CHECK(ssm_metrics_open(&m, dir, 0, &dropped) == SSM_OK, "%s", ssm_last_error());
    for (int i = 0, step = 1; i < rows; step++) {
        double loss = 2.3 * exp(-step / 3000.0) + 0.3 + 0.05 * sin(step * 0.7);
        ssm_metrics_write(&m, &(ssm_metrics_row){.step = step, .epoch = step / 400.0,
                                                 .split = "train", .loss = loss,
                                                 .acc = 1 - loss / 2.6, .lr = 1e-3,
                                                 .grad_norm = 1, .tokens_per_s = 5e4});
        if (++i < rows && step % 100 == 0) {
            ssm_metrics_write(&m, &(ssm_metrics_row){.step = step, .epoch = step / 400.0,
                                                     .split = "val", .loss = loss + 0.1,
                                                     .acc = 1 - loss / 2.4});
            i++;
        }
    }
    ssm_metrics_close(&m);
}

static void run_write(void *arg) {
    (void)arg;
    SSM_CHECK(ssm_curves_write_run(dir) == SSM_OK, "%s", ssm_last_error());
}

static void run_read(void *arg) {
    (void)arg;
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    ssm_metrics_table t;
    SSM_CHECK(ssm_metrics_read(path, &t) == SSM_OK, "%s", ssm_last_error());
    ssm_metrics_table_free(&t);
}

int main(int argc, char **argv) {
    int rows = 10000, reps = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) rows = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bench_plot.XXXXXX", tmp ? tmp : "/tmp");
    SSM_CHECK(mkdtemp(dir), "bench_plot: cannot create a folder under %s", tmp ? tmp : "/tmp");
    write_run(rows);
    double all = bench_time_ms(SSM_CPU, run_write, NULL, reps);
    double read = bench_time_ms(SSM_CPU, run_read, NULL, reps);
    printf("curves.png of a %d-row metrics.jsonl: %.1f ms (reading it: %.1f ms)\n", rows, all,
           read);
    char path[512];
    const char *files[] = {"config.ini", "metrics.jsonl", "curves.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
    return 0;
}
