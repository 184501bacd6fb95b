#include "curves.h"
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "plot.h"

static const struct {
    const char *name, *y_label;
    int best; /* of the validation line: +1 max, -1 min; 0: train rows only */
} metrics[] = {
    {"loss", "loss", -1},           {"acc", "accuracy", +1},
    {"lr", "learning rate", 0},     {"grad_norm", "gradient norm", 0},
    {"tokens_per_s", "tokens/s", 0},
};
#define N_METRICS (int)(sizeof metrics / sizeof metrics[0])

static int metric_index(const char *name) {
    for (int i = 0; i < N_METRICS; i++)
        if (!strcmp(metrics[i].name, name)) return i;
    return -1;
}

int ssm_curves_metric_known(const char *name) { return metric_index(name) >= 0; }

static double metric_of(const ssm_metrics_entry *e, int m) {
    const double v[N_METRICS] = {e->loss, e->acc, e->lr, e->grad_norm, e->tokens_per_s};
    return v[m];
}

/* ------------------------------------------------------------ loading */

typedef struct {
    char layer[64], task[64];
} run_config;

static int config_key(void *user, const char *section, const char *name, const char *value) {
    run_config *c = user;
    if (!strcmp(section, "model") && !strcmp(name, "layer"))
        snprintf(c->layer, sizeof c->layer, "%s", value);
    if (!strcmp(section, "data") && !strcmp(name, "task"))
        snprintf(c->task, sizeof c->task, "%s", value);
    return 1; /* go on past anything else, bad lines included: the label is a courtesy */
}

int ssm_curves_load(ssm_curves_run *r, const char *dir) {
    memset(r, 0, sizeof *r);
    r->dir = dir;
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (ssm_metrics_read(path, &r->t) != SSM_OK) return SSM_ERR;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *base = dir + n;
    while (base > dir && base[-1] != '/') base--;
    run_config c = {"", ""};
    snprintf(path, sizeof path, "%s/config.ini", dir);
    ini_parse(path, config_key, &c);
    int len = snprintf(r->label, sizeof r->label, "%.*s", (int)(dir + n - base), base);
    if ((size_t)len >= sizeof r->label) len = sizeof r->label - 1;
    r->about = r->label + len;
    if (c.layer[0] || c.task[0])
        snprintf(r->label + len, sizeof r->label - (size_t)len, " (%s%s%s)", c.layer,
                 c.layer[0] && c.task[0] ? ", " : "", c.task);
    return SSM_OK;
}

void ssm_curves_run_free(ssm_curves_run *r) { ssm_metrics_table_free(&r->t); }

/* ------------------------------------------------------------ series */

/* x of every row of a run, time divided by unit and continued across resumes; NaN where
 * the row lacks it. */
static double *x_values(const ssm_metrics_table *t, ssm_curves_x x, double unit) {
    double *v = malloc(sizeof(double) * (size_t)(t->n ? t->n : 1));
    SSM_CHECK(v, "curves: out of memory");
    double offset = 0, last = NAN;
    for (int i = 0; i < t->n; i++) {
        const ssm_metrics_entry *e = &t->rows[i];
        if (x == SSM_CURVES_TIME && isfinite(e->time_s)) {
            if (e->time_s < last) offset += last;
            last = e->time_s;
        }
        v[i] = x == SSM_CURVES_STEP ? (double)e->step : x == SSM_CURVES_EPOCH ? e->epoch
                                                                             : (e->time_s + offset) / unit;
    }
    return v;
}

/* The rows of one split as (x, metric) points into xs, ys; returns how many. */
static int points(const ssm_metrics_table *t, const double *xv, const char *split, int m,
                  int smooth, double *xs, double *ys) {
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].split, split)) xs[n] = xv[i], ys[n++] = metric_of(&t->rows[i], m);
    if (smooth > 1) { /* trailing mean over a sliding window of the raw values */
        double *raw = malloc(sizeof(double) * (size_t)(n ? n : 1)), sum = 0;
        SSM_CHECK(raw, "curves: out of memory");
        memcpy(raw, ys, sizeof(double) * (size_t)n);
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (isfinite(raw[i])) sum += raw[i], k++;
            if (i >= smooth && isfinite(raw[i - smooth])) sum -= raw[i - smooth], k--;
            ys[i] = k ? sum / k : NAN;
        }
        free(raw);
    }
    return n;
}

/* "LABEL " of run r in a legend of several ("" with one): the folder's name, or its whole
 * path when another run's folder has the same name. */
static void run_label(const ssm_curves_run *runs, int n, int r, char *buf, size_t size) {
    buf[0] = 0;
    if (n == 1) return;
    int alike = 0;
    for (int i = 0; i < n; i++)
        alike |= i != r && runs[i].about - runs[i].label == runs[r].about - runs[r].label &&
                 !strncmp(runs[i].label, runs[r].label, (size_t)(runs[r].about - runs[r].label));
    if (alike) snprintf(buf, size, "%s%s ", runs[r].dir, runs[r].about);
    else snprintf(buf, size, "%s ", runs[r].label);
}

int ssm_curves_write(const char *path, const ssm_curves_run *runs, int n_runs,
                     const ssm_curves_opts *o) {
    double t_max = 0; /* time in seconds, minutes or hours, whichever reads best */
    for (int r = 0; o->x == SSM_CURVES_TIME && r < n_runs; r++) {
        double *xv = x_values(&runs[r].t, o->x, 1);
        int has_time = 0;
        for (int i = 0; i < runs[r].t.n; i++)
            if (isfinite(xv[i])) t_max = fmax(t_max, xv[i]), has_time = 1;
        free(xv);
        if (runs[r].t.n && !has_time)
            return ssm_error("%s/metrics.jsonl has no time_s (written by an ssmtrain of before "
                             "it was added): plot it against step or epoch", runs[r].dir);
    }
    double unit = t_max > 7200 ? 3600 : t_max > 300 ? 60 : 1;
    size_t rows = 0;
    for (int r = 0; r < n_runs; r++) rows += (size_t)runs[r].t.n;
    int n_series = n_runs * o->n_metrics * 2;
    ssm_plot_series *series = calloc((size_t)n_series, sizeof *series);
    ssm_plot_panel *panels = calloc((size_t)o->n_metrics, sizeof *panels);
    /* x and y of every row, for the train and the val series of each panel */
    double *buf = malloc(sizeof(double) * (4 * rows * (size_t)o->n_metrics + 1));
    char(*labels)[300] = calloc((size_t)n_series, sizeof *labels);
    SSM_CHECK(series && panels && buf && labels, "curves: out of memory");
    double *next = buf;
    int k = 0;
    for (int p = 0; p < o->n_metrics; p++) {
        int m = metric_index(o->metrics[p]);
        SSM_CHECK(m >= 0, "curves: unknown metric %s", o->metrics[p]);
        panels[p] = (ssm_plot_panel){.y_label = metrics[m].y_label, .log_y = o->log_y,
                                     .series = series + k};
        for (int r = 0; r < n_runs; r++) {
            const ssm_metrics_table *t = &runs[r].t;
            double *xv = x_values(t, o->x, unit);
            for (int val = 0; val <= (metrics[m].best != 0); val++) {
                ssm_plot_series *s = &series[k];
                s->x = next;
                s->y = next + t->n;
                s->n = points(t, xv, val ? "val" : "train", m, val ? 1 : o->smooth, next,
                              next + t->n);
                next += 2 * t->n;
                s->color = r;
                s->style = val ? SSM_PLOT_MARKED : metrics[m].best ? SSM_PLOT_FAINT : SSM_PLOT_LINE;
                s->best = val ? metrics[m].best : 0;
                run_label(runs, n_runs, r, labels[k], sizeof labels[k]);
                snprintf(labels[k] + strlen(labels[k]), sizeof labels[k] - strlen(labels[k]), "%s",
                         val ? "val" : "train");
                s->label = labels[k++];
                panels[p].n_series++;
            }
            free(xv);
        }
    }
    static const char *x_labels[] = {"step", "epoch", "time (s)", "time (min)", "time (h)"};
    panels[o->n_metrics - 1].x_label = x_labels[o->x + (unit == 60) + 2 * (unit == 3600)];
    if (n_runs == 1) panels[0].title = runs[0].label;
    ssm_plot_figure fig = {o->width, o->height, panels, o->n_metrics};
    int rc = ssm_plot_write(path, &fig);
    free(labels);
    free(buf);
    free(panels);
    free(series);
    return rc;
}

int ssm_curves_write_run(const char *dir) {
    ssm_curves_run run;
    if (ssm_curves_load(&run, dir) != SSM_OK) return SSM_ERR;
    ssm_curves_opts o = {.metrics = {"loss", "acc"}, .n_metrics = 2, .x = SSM_CURVES_STEP,
                         .width = 800, .height = 600};
    char path[4096];
    snprintf(path, sizeof path, "%s/curves.png", dir);
    int rc = ssm_curves_write(path, &run, 1, &o);
    ssm_curves_run_free(&run);
    return rc;
}
