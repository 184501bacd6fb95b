/* DIR/metrics.jsonl: one JSON object a line, for plots and scripts.
 *   {"step": 200, "epoch": 1.6, "time_s": 12.5, "split": "train", "loss": ..., "acc": ...,
 *    "lr": ..., "grad_norm": ..., "tokens_per_s": ...}
 *   {"step": 200, "epoch": 1.6, "time_s": 13.1, "split": "val", "loss": ..., "acc": ...}
 *   {"step": 800, "epoch": 6.4, "time_s": 60.2, "split": "test", "loss": ..., "acc": ...,
 *    "ckpt": "best", "ckpt_step": 600}
 * "step" counts optimizer updates; "epoch" is passes over the training set completed
 * (the checkpoint's epoch + data position / training examples); "time_s" is wall-clock
 * seconds since this process opened the file (training started): a resumed run starts
 * again from 0 (not accumulated over resumes). Train rows are means over the steps since
 * the previous train row. A resumed run first drops the rows past its checkpoint's step,
 * so every step appears once. */
#ifndef SSM_METRICS_H
#define SSM_METRICS_H
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char path[600];
    double t0; /* CLOCK_MONOTONIC seconds at open: rows' time_s counts from here */
} ssm_metrics;

typedef struct {
    int64_t step;
    double epoch;
    const char *split; /* "train", "val", "test" */
    double loss, acc;
    double lr, grad_norm, tokens_per_s; /* train rows */
    const char *ckpt;                   /* test rows: "best" or "last" */
    int64_t ckpt_step;
} ssm_metrics_row;

/* Open DIR/metrics.jsonl for a run that starts after `step` updates: a new file when
 * step is 0, else the rows with a step <= `step` are kept (the file is replaced
 * atomically) and *dropped says how many were removed (a line that does not parse,
 * e.g. cut by a crash, counts as dropped). */
int ssm_metrics_open(ssm_metrics *m, const char *dir, int64_t step, int64_t *dropped);
void ssm_metrics_write(ssm_metrics *m, const ssm_metrics_row *r);
void ssm_metrics_close(ssm_metrics *m);

/* A row read back; a number the row lacks is NaN (time_s in files of before it existed,
 * lr, grad_norm and tokens_per_s outside train rows). */
typedef struct {
    int64_t step;
    double epoch, time_s, loss, acc, lr, grad_norm, tokens_per_s;
    char split[8]; /* "train", "val", "test", or "" for another value */
} ssm_metrics_entry;

typedef struct {
    ssm_metrics_entry *rows;
    int n;
    int skipped_line; /* the line number of an unfinished last line (no newline: the run
                       * is writing it), which was left out; 0 when none */
} ssm_metrics_table;

/* Read a metrics.jsonl. Blank lines are skipped; a line that is not a JSON object with a
 * numeric "step" and a string "split" is an error naming path:line. */
int ssm_metrics_read(const char *path, ssm_metrics_table *t);
void ssm_metrics_table_free(ssm_metrics_table *t);

#endif
