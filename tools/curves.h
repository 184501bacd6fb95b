/* The plot module's learning curves: runs' metrics.jsonl turned into plot series (one
 * panel per metric; per run a train line and, for loss and acc, a validation line with
 * its best value marked: min loss, max acc), drawn by plot.c. Used by ssmplot and by the
 * trainer, which redraws DIR/curves.png after each evaluation. */
#ifndef SSM_CURVES_H
#define SSM_CURVES_H
#include "metrics.h"

typedef enum { SSM_CURVES_STEP, SSM_CURVES_EPOCH, SSM_CURVES_TIME } ssm_curves_x;

typedef struct {
    const char *dir;
    char label[256]; /* the folder's name, then "(layer, task)" from its config.ini */
    const char *about; /* in label: " (layer, task)", or "" */
    ssm_metrics_table t;
} ssm_curves_run;

/* Read DIR/metrics.jsonl (errors name file:line; t.skipped_line tells of an unfinished
 * last line) and, when there, DIR/config.ini's [model] layer and [data] task. */
int ssm_curves_load(ssm_curves_run *r, const char *dir);
void ssm_curves_run_free(ssm_curves_run *r);

typedef struct {
    const char *metrics[5]; /* a panel each, top to bottom: loss acc lr grad_norm tokens_per_s */
    int n_metrics;
    ssm_curves_x x; /* time: time_s, continued across resumes (a row whose time_s is below
                     * the row before it starts a resumed process: it is shifted to follow) */
    int log_y;
    int smooth; /* > 1: train lines are the mean of their last `smooth` rows */
    int width, height;
} ssm_curves_opts;

/* 1 when name is one of the metrics above. */
int ssm_curves_metric_known(const char *name);

/* The runs overlaid (a colour each) into path (.png or .svg). With one run its label is
 * the title and the legend says train / val; with several the legend names the runs (by
 * their whole path where two folder names are alike). */
int ssm_curves_write(const char *path, const ssm_curves_run *runs, int n_runs,
                     const ssm_curves_opts *o);

/* The trainer's picture: DIR/curves.png, loss above accuracy against the step, 800x600. */
int ssm_curves_write_run(const char *dir);

#endif
