/* ssmtrain as a user runs it: documented special values, interrupts (SIGINT,
 * SIGTERM, kill -9, --time-limit) and resuming, run folders and their lock, resume bookkeeping in
 * metrics.jsonl, --eval-only, --profile, and the messages. Each test runs the real
 * binary on a tiny recall task. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "h5io.h"
#include "log.h"
#include "tasks.h"
#include "testutil.h"


static int ssmtrain(const tu_tiny_run *f, char **out, ...) {
    va_list ap;
    va_start(ap, out);
    int rc = tu_run_toolv("ssmtrain", f->dir, out, ap);
    va_end(ap);
    return rc;
}

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

/* metrics.jsonl of a run folder, every line parsed (a line that does not parse fails). */
typedef struct {
    int n;
    cJSON *row[4096];
} metrics;

static void read_metrics(const char *run, metrics *m) {
    char path[700];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    char *text = tu_slurp(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    m->n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        ck_assert_int_lt(m->n, 4096);
        m->row[m->n] = cJSON_Parse(l);
        ck_assert_msg(m->row[m->n] != NULL, "%s: a line does not parse: %s", path, l);
        m->n++;
    }
    free(text);
}

static void free_metrics(metrics *m) {
    for (int i = 0; i < m->n; i++) cJSON_Delete(m->row[i]);
    m->n = 0;
}

static double num(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number %s", key);
    return v->valuedouble;
}

static int is_split(const cJSON *row, const char *split) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, "split");
    return cJSON_IsString(v) && !strcmp(v->valuestring, split);
}

static int count_split(const metrics *m, const char *split) {
    int n = 0;
    for (int i = 0; i < m->n; i++) n += is_split(m->row[i], split);
    return n;
}

/* Every train step 1..steps logged exactly once (log_every = 1). */
static void assert_each_step_once(const metrics *m, int steps) {
    int seen[4096] = {0};
    for (int i = 0; i < m->n; i++)
        if (is_split(m->row[i], "train")) {
            int s = (int)num(m->row[i], "step");
            ck_assert_msg(s >= 1 && s <= steps, "step %d out of range", s);
            seen[s]++;
        }
    for (int s = 1; s <= steps; s++) ck_assert_msg(seen[s] == 1, "step %d logged %d times", s, seen[s]);
}

/* The flat parameters of a checkpoint, for bit-for-bit comparison. */
static void assert_same_params(const char *a, const char *b) {
    ssm_ckpt_contents x, y;
    ck_assert_msg(ssm_ckpt_read_contents(a, &x) == SSM_OK, "%s", ssm_last_error());
    ck_assert_msg(ssm_ckpt_read_contents(b, &y) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(x.step, y.step);
    ck_assert_int_eq(x.n, y.n);
    for (int i = 0; i < x.n; i++) {
        ck_assert_str_eq(x.names[i], y.names[i]);
        ck_assert_int_eq(x.values[i]->numel, y.values[i]->numel);
        ck_assert_msg(!memcmp(x.values[i]->data, y.values[i]->data, (size_t)x.values[i]->numel * 4),
                      "%s differs between %s and %s", x.names[i], a, b);
    }
    ssm_ckpt_contents_free(&x);
    ssm_ckpt_contents_free(&y);
}

static int64_t ckpt_step(const char *path) {
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(path, &c) == SSM_OK, "%s", ssm_last_error());
    int64_t s = c.step;
    ssm_ckpt_contents_free(&c);
    return s;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Lines in run/metrics.jsonl so far (0 while it does not exist). */
static int lines_now(const char *run) {
    char path[700];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    char *t = tu_slurp(path, NULL);
    int n = 0;
    for (char *p = t; p && *p; p++) n += *p == '\n';
    free(t);
    return n;
}

/* Start a run and signal it once `rows` train rows are written; returns its exit status. */
static int run_and_signal(const tu_tiny_run *f, int sig, int rows, char **out) {
    pid_t pid = tu_spawn_tool("ssmtrain", f->dir, f->cfg, "--out", f->run, NULL);
    for (int i = 0; i < 20000 && lines_now(f->run) < rows; i++) sleep_ms(1);
    kill(pid, sig);
    return tu_wait_tool(pid, "ssmtrain", f->dir, out);
}

/* ------------------------------------------------------------ special values */

/* Every documented "0 means ..." (and the other special values) runs to the end. */
static const struct {
    const char *set, *also;
} specials[] = {
    {"train.log_every=0", NULL},      {"train.eval_every=0", NULL},
    {"checkpoint.save_every=0", "train.eval_every=4"},
    {"train.threads=0", NULL},        {"train.max_steps=0", "train.epochs=2"},
    {"optim.decay_steps=0", "optim.schedule=cosine"},
    {"optim.warmup_steps=0", NULL},   {"optim.grad_clip=0", NULL},
    {"optim.min_lr_ratio=0", "optim.schedule=cosine"},
    {"data.n_test=0", NULL},          {"layer.d_state=0", NULL},
    {"data.seq_len=0", "data.n_train=16"}, {"data.vocab=0", NULL},
    {"model.d_input=0", NULL},        {"model.n_classes=0", NULL},
    {"model.dropout=0", NULL},        {"checkpoint.keep_best=false", NULL},
};

START_TEST(special_values) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 12, 0, 0);
    char *out;
    const char *also = specials[_i].also ? specials[_i].also : "train.seed=3";
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--set", specials[_i].set, "--set", also, NULL);
    ck_assert_msg(rc == 0, "%s: exit %d:\n%s", specials[_i].set, rc, out);
    ck_assert_contains(out, "final: ");
    metrics m;
    read_metrics(f.run, &m);
    const char *s = specials[_i].set;
    if (!strcmp(s, "train.log_every=0")) {
        ck_assert_int_eq(count_split(&m, "train"), 0); /* never */
        ck_assert_int_ge(count_split(&m, "val"), 1);
    } else if (!strcmp(s, "train.eval_every=0")) {
        /* after each epoch (8 steps) and at the end, at epochs 1 and 1.5 */
        ck_assert_int_eq(count_split(&m, "val"), 2);
    } else if (!strcmp(s, "train.max_steps=0")) {
        ck_assert_int_eq(count_split(&m, "train"), 16); /* 2 epochs of 8 */
    } else if (!strcmp(s, "data.n_test=0")) {
        ck_assert_int_eq(count_split(&m, "test"), 0);
        ck_assert_contains(out, "final: no test set (data.n_test = 0)");
    } else if (!strcmp(s, "checkpoint.keep_best=false")) {
        char best[700];
        snprintf(best, sizeof best, "%s/ckpt/best.h5", f.run);
        ck_assert(!tu_exists(best));
        ck_assert_contains(out, "last.h5 (step 12)");
    }
    if (strcmp(s, "data.n_test=0")) ck_assert_int_eq(count_split(&m, "test"), 1);
    free_metrics(&m);
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* "epoch" counts completed passes everywhere: a 3-epoch run validates at 1, 2, 3 and its
 * last checkpoint says epoch 3. */
START_TEST(epoch_means_one_thing) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 0, 0, 0);
    char *out;
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--set", "train.epochs=3", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    metrics m;
    read_metrics(f.run, &m);
    double want = 1;
    for (int i = 0; i < m.n; i++)
        if (is_split(m.row[i], "val")) {
            ck_assert_double_eq_tol(num(m.row[i], "epoch"), want, 1e-9);
            want += 1;
        } else if (is_split(m.row[i], "train")) {
            ck_assert_double_eq_tol(num(m.row[i], "epoch"), num(m.row[i], "step") / 8, 1e-9);
        }
    ck_assert_double_eq(want, 4);
    for (int i = 0; i < m.n; i++)
        if (is_split(m.row[i], "test")) ck_assert_double_eq_tol(num(m.row[i], "epoch"), 3, 1e-9);
    free_metrics(&m);
    ssm_h5 *h = ssm_h5_open(f.last); /* the loop state: 3 epochs done, position 0 */
    ck_assert_ptr_nonnull(h);
    double epoch, index;
    ck_assert_int_eq(ssm_h5_attr_double(h, "/", "epoch", &epoch), SSM_OK);
    ck_assert_int_eq(ssm_h5_attr_double(h, "/", "data_index", &index), SSM_OK);
    ck_assert_double_eq(epoch, 3);
    ck_assert_double_eq(index, 0);
    ssm_h5_close(h);
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* ------------------------------------------------------------ interrupts */

/* SIGINT / SIGTERM mid-run: the step finishes, last.h5 is written, the message says how
 * to resume, the exit status is 128 + signal; resuming ends with the parameters of an
 * uninterrupted run, bit for bit, and every step once in metrics.jsonl. */
START_TEST(interrupt_and_resume) {
    int sig = _i ? SIGTERM : SIGINT;
    enum { STEPS = 3000 };
    tu_tiny_run f;
    tu_tiny_run_setup(&f, STEPS, 1000, 0);
    char *out, want[64];
    int rc = run_and_signal(&f, sig, 30, &out);
    ck_assert_msg(rc == 128 + sig, "exit %d, want %d:\n%s", rc, 128 + sig, out);
    int64_t at = ckpt_step(f.last);
    ck_assert_int_ge(at, 29);
    ck_assert_int_lt(at, STEPS);
    snprintf(want, sizeof want, "interrupted at step %lld; resume with: ", (long long)at);
    ck_assert_contains(out, want);
    ck_assert_contains(out, "--resume ");
    ck_assert_ptr_null(strstr(out, "final: "));
    metrics m;
    read_metrics(f.run, &m);
    assert_each_step_once(&m, (int)at); /* the steps since the last row are logged too */
    free_metrics(&m);
    free(out);

    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--resume", f.last, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    snprintf(want, sizeof want, "resuming from step %lld (epoch ", (long long)at);
    ck_assert_contains(out, want);
    free(out);
    read_metrics(f.run, &m);
    assert_each_step_once(&m, STEPS);
    free_metrics(&m);

    char whole[600], whole_last[700];
    snprintf(whole, sizeof whole, "%s/whole", f.dir);
    snprintf(whole_last, sizeof whole_last, "%s/ckpt/last.h5", whole);
    rc = ssmtrain(&f, &out, f.cfg, "--out", whole, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    assert_same_params(f.last, whole_last);
    tu_rm_tree(f.dir);
}
END_TEST

/* --time-limit: the run stops by itself once the time is up, as for SIGTERM (the step
 * finished, last.h5 written, the message, exit 142 = 128 + SIGALRM), not before; a run
 * resumed from there goes on under its own limit. A malformed duration is refused. */
START_TEST(time_limit_stops_and_resumes) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 100000000, 100000000, 0); /* far more steps than a second holds */
    char *out, want[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--time-limit", "1.5", "--set",
                      "train.log_every=1000", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(rc == 142, "exit %d, want 142:\n%s", rc, out);
    ck_assert_msg((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 >= 1.5,
                  "stopped before its time limit");
    int64_t at = ckpt_step(f.last);
    ck_assert_int_gt(at, 0);
    snprintf(want, sizeof want, "time limit reached at step %lld; resume with: ", (long long)at);
    ck_assert_contains(out, want);
    ck_assert_ptr_null(strstr(out, "final: "));
    free(out);

    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--resume", f.last, "--time-limit", "1s",
                  "--set", "train.log_every=1000", NULL);
    ck_assert_msg(rc == 142, "exit %d, want 142:\n%s", rc, out);
    snprintf(want, sizeof want, "resuming from step %lld (epoch ", (long long)at);
    ck_assert_contains(out, want);
    ck_assert_int_gt(ckpt_step(f.last), at);
    free(out);

    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--time-limit", "1h30", NULL);
    ck_assert_int_eq(rc, 2);
    ck_assert_contains(out, "option --time-limit: '1h30' is not a duration");
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* kill -9 after a checkpoint: metrics.jsonl holds rows past it; resuming drops them, so
 * every step appears once, with the losses of an uninterrupted run. */
START_TEST(killed_run_resumes_cleanly) {
    enum { STEPS = 3000 };
    tu_tiny_run f;
    tu_tiny_run_setup(&f, STEPS, 1000, 0);
    char *out;
    pid_t pid = tu_spawn_tool("ssmtrain", f.dir, f.cfg, "--out", f.run, "--set",
                              "checkpoint.save_every=20", NULL);
    for (int i = 0; i < 20000 && !(lines_now(f.run) >= 50 && tu_exists(f.last)); i++) sleep_ms(1);
    kill(pid, SIGKILL);
    ck_assert_int_eq(tu_wait_tool(pid, "ssmtrain", f.dir, &out), -1);
    free(out);
    int64_t at = ckpt_step(f.last);
    metrics m;
    read_metrics(f.run, &m);
    int past = 0;
    for (int i = 0; i < m.n; i++) past += num(m.row[i], "step") > (double)at;
    ck_assert_msg(past > 0, "no rows past the checkpoint's step %lld to drop", (long long)at);
    free_metrics(&m);
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--resume", f.last, "--set",
                      "checkpoint.save_every=20", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "dropped");
    free(out);
    read_metrics(f.run, &m);
    assert_each_step_once(&m, STEPS);
    ck_assert_int_eq(count_split(&m, "test"), 1);
    free_metrics(&m);
    tu_rm_tree(f.dir);
}
END_TEST

/* Resuming a finished run, or with fewer steps than the checkpoint's: said clearly,
 * nothing written. */
START_TEST(resume_nothing_left) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 16, 8, 0);
    char *out, *before, *after;
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    char mpath[700];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", f.run);
    before = tu_slurp(mpath, NULL);
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--resume", f.last, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "nothing left to train");
    ck_assert_contains(out, "step 16");
    ck_assert_ptr_null(strstr(out, "final: "));
    free(out);
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--resume", f.last, "--set",
                  "train.max_steps=10", NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "is at step 16, past this run's 10 steps");
    free(out);
    after = tu_slurp(mpath, NULL);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    tu_rm_tree(f.dir);
}
END_TEST

/* ------------------------------------------------------------ run folders */

START_TEST(run_folder_refused_and_overwritten) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 8, 8, 0);
    char *out;
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    char cpath[700], *before;
    snprintf(cpath, sizeof cpath, "%s/config.ini", f.run);
    before = tu_slurp(f.last, NULL);
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--set", "model.d_model=12", NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "holds another run's files");
    ck_assert_contains(out, "--overwrite");
    free(out);
    char *now = tu_slurp(f.last, NULL);
    ck_assert_msg(now && !memcmp(now, before, 64), "last.h5 changed");
    free(now);
    char *cfg = tu_slurp(cpath, NULL);
    ck_assert_contains(cfg, "d_model = 8");
    free(cfg);
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--set", "model.d_model=12", "--overwrite", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    cfg = tu_slurp(cpath, NULL);
    ck_assert_contains(cfg, "d_model = 12");
    free(cfg);
    free(before);
    char lock[700];
    snprintf(lock, sizeof lock, "%s/ssmtrain.lock", f.run);
    ck_assert_msg(!tu_exists(lock), "the lock was not released");
    tu_rm_tree(f.dir);
}
END_TEST

START_TEST(run_folder_lock) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 8, 8, 0);
    char lock[700], *out;
    ck_assert_int_eq(mkdir(f.run, 0755), 0);
    snprintf(lock, sizeof lock, "%s/ssmtrain.lock", f.run);
    /* a live holder (this process) */
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    ck_assert_int_eq(write(fd, pid, strlen(pid)), (ssize_t)strlen(pid));
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    pid[strlen(pid) - 1] = 0;
    ck_assert_contains(out, "in use by another ssmtrain run (pid ");
    ck_assert_contains(out, pid);
    ck_assert(tu_exists(lock)); /* not ours to remove */
    free(out);
    close(fd); /* the holder dies: its lock file is stale, and taken over */
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert(!tu_exists(lock));
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* ------------------------------------------------------------ other commands and messages */

START_TEST(eval_only_without_config) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 16, 8, 0);
    char *out, *a, *b, best[700];
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(best, sizeof best, "%s/ckpt/best.h5", f.run);
    rc = ssmtrain(&f, &a, f.cfg, "--eval-only", best, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, a);
    rc = ssmtrain(&f, &b, "--eval-only", best, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, b);
    ck_assert_contains(b, "val_acc=");
    ck_assert_str_eq(strstr(a, "): val_loss="), strstr(b, "): val_loss="));
    free(a);
    free(b);
    rc = ssmtrain(&f, &out, "--eval-only", best, "--out", f.run, NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "--out does nothing with --eval-only");
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* --dump-logits: the test set's logits as .npy; the loss and accuracy recomputed from them
 * (log-softmax against the labels in the data set's order) equal what --eval-only prints. */
START_TEST(eval_only_dumps_logits) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 16, 8, 0);
    char *out, best[700], npy[700];
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(best, sizeof best, "%s/ckpt/best.h5", f.run);
    snprintf(npy, sizeof npy, "%s/logits.npy", f.dir);
    rc = ssmtrain(&f, &out, "--eval-only", best, "--dump-logits", npy, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    double loss, acc;
    const char *fin = strstr(out, "final: test_loss=");
    ck_assert_ptr_nonnull(fin);
    ck_assert_int_eq(sscanf(fin, "final: test_loss=%lf test_acc=%lf", &loss, &acc), 2);
    free(out);
    size_t n;
    char *raw = tu_slurp(npy, &n);
    ck_assert_ptr_nonnull(raw);
    ck_assert(n > 10 && !memcmp(raw, "\x93NUMPY\x01\x00", 8));
    size_t hl = (size_t)(unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
    long long rows, cols;
    const char *shape = strstr(raw + 10, "'shape': (");
    ck_assert_ptr_nonnull(shape);
    ck_assert_int_eq(sscanf(shape, "'shape': (%lld, %lld)", &rows, &cols), 2);
    ck_assert_uint_eq(n, 10 + hl + (size_t)(rows * cols) * 4);
    /* the tiny run's test labels: its data set, rebuilt from the config */
    ssm_config cfg;
    ck_assert_int_eq(ssm_config_load(&cfg, f.cfg, NULL, 0), SSM_OK);
    ssm_task_data td;
    ck_assert_int_eq(ssm_task_load(&cfg, &td), SSM_OK);
    ck_assert_int_eq(rows, td.test->n);
    ck_assert_int_eq(cols, td.test->n_classes);
    const float *lg = (const float *)(raw + 10 + hl);
    double l = 0, right = 0;
    for (long long i = 0; i < rows; i++) {
        const float *r = lg + i * cols;
        int y = td.test->labels[i], best_c = 0;
        double mx = r[0], s = 0;
        for (int c = 1; c < cols; c++) {
            if (r[c] > mx) mx = r[c];
            if (r[c] > r[best_c]) best_c = c;
        }
        for (int c = 0; c < cols; c++) s += exp(r[c] - mx);
        l += log(s) + mx - r[y];
        right += best_c == y;
    }
    ck_assert_double_eq_tol(l / (double)rows, loss, 1e-4);
    ck_assert_double_eq_tol(right / (double)rows, acc, 1e-4); /* printed with 4 decimals */
    ssm_task_free(&td);
    free(raw);
    rc = ssmtrain(&f, &out, f.cfg, "--dump-logits", npy, NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "--dump-logits needs --eval-only");
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* --bench N: N steps timed after the warm-up; the report's numbers hang together (the
 * median and max of the steps, the mean from the total, tokens/s from the mean); nothing
 * is written. */
/* data.pad_multiple against 1 (an independent path: other lengths, FFT sizes and batch
 * shapes) on a model that padding cannot reach: varying-length ListOps, causal S4D, mean
 * pooling over the lengths, LayerNorm, no dropout. The test loss after training is the
 * same to float rounding; with padding that leaked in it would not be. */
START_TEST(pad_multiple_leaves_a_causal_model_unchanged) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 12, 0, 0);
    double loss[2], acc[2];
    const char *mult[2] = {"data.pad_multiple=1", "data.pad_multiple=64"};
    for (int i = 0; i < 2; i++) {
        char *out;
        int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--overwrite", "--set", mult[i],
                          "--set", "data.task=listops", "--set", "data.seq_len=120", "--set",
                          "data.min_len=10", "--set", "model.pooling=mean", "--set",
                          "model.dropout=0", "--set", "model.n_classes=0", NULL);
        ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
        free(out);
        metrics m; /* the test row at full precision (the console prints 4 decimals) */
        read_metrics(f.run, &m);
        ck_assert_int_eq(count_split(&m, "test"), 1);
        for (int r = 0; r < m.n; r++)
            if (is_split(m.row[r], "test")) loss[i] = num(m.row[r], "loss"), acc[i] = num(m.row[r], "acc");
        free_metrics(&m);
    }
    ck_assert_msg(fabs(loss[0] - loss[1]) <= 1e-5 * fabs(loss[0]), "test loss %.9g vs %.9g",
                  loss[0], loss[1]);
    ck_assert_double_eq(acc[0], acc[1]);
    tu_rm_tree(f.dir);
}
END_TEST

START_TEST(bench_times_steps_and_writes_nothing) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 16, 8, 0);
    char *out;
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--bench", "7", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    const char *b = strstr(out, "bench: 7 steps of batch 8 after 5 warm-up steps: ");
    ck_assert_msg(b != NULL, "%s", out);
    double mean, tps, med, mx;
    ck_assert_int_eq(sscanf(b, "bench: 7 steps of batch 8 after 5 warm-up steps: %lf ms/step, %lf "
                               "tokens/s", &mean, &tps), 2);
    const char *m = strstr(b, "; step median ");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(sscanf(m, "; step median %lf ms, max %lf ms", &med, &mx), 2);
    ck_assert(med > 0 && med <= mx && mean <= mx * 1.05 + 0.01 && tps > 0);
    /* the host phases: each a median of parts of the steps, so none above the longest */
    double load, enq, wait;
    const char *p = strstr(m, "(medians: batch load + upload ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "(medians: batch load + upload %lf ms, enqueue %lf ms, device wait "
                               "%lf ms)", &load, &enq, &wait), 3);
    ck_assert(load >= 0 && enq > 0 && wait >= 0 && load <= mx && enq <= mx && wait <= mx);
    ck_assert_msg(!tu_exists(f.run), "a benchmark wrote %s", f.run);
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

START_TEST(profile_stops_and_writes_nothing) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 16, 8, 0);
    char *out;
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--profile", "17", NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "--profile 17: this run has 16 step(s) to go");
    free(out);
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--profile", "2", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "profile of step 2");
    ck_assert_contains(out, "profiled step 2 of this run: the table is above, on standard error");
    ck_assert_ptr_null(strstr(out, "final: "));
    ck_assert_msg(!tu_exists(f.run), "a profile run wrote %s", f.run);
    free(out);
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--profile", "2", "--profile-continue", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "final: ");
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

START_TEST(messages) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 30, 1000, 0);
    char *out;
    /* a batch larger than the training set */
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--set", "train.batch_size=100", "--set",
                      "train.max_steps=2", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "warning: train.batch_size = 100 is larger than the training set (64");
    ck_assert_contains(out, "summary: best val_acc");
    ck_assert_contains(out, "test on ");
    ck_assert_contains(out, "wall time");
    free(out);
    /* a loss that blows up before any checkpoint: says none exists */
    rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, "--overwrite", "--set", "optim.lr=10",
                  "--set", "optim.weight_decay=10", "--set", "optim.warmup_steps=0", "--set",
                  "train.max_steps=200", NULL);
    ck_assert_msg(rc == 3, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "not finite");
    ck_assert_contains(out, "no checkpoint has been written yet");
    free(out);
    /* --help lists the exit statuses */
    rc = ssmtrain(&f, &out, "--help", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_contains(out, "130  interrupted by SIGINT");
    ck_assert_contains(out, "142  the --time-limit was reached");
    ck_assert_contains(out, "3    stopped on a NaN/Inf");
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* The same state saved a second apart gives the same bytes (HDF5 keeps no times). */
START_TEST(checkpoint_bytes_do_not_depend_on_time) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 4, 4, 0);
    char *out, other[600], other_last[700];
    int rc = ssmtrain(&f, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    sleep_ms(1100);
    snprintf(other, sizeof other, "%s/other", f.dir);
    snprintf(other_last, sizeof other_last, "%s/ckpt/last.h5", other);
    rc = ssmtrain(&f, &out, f.cfg, "--out", other, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    size_t na, nb;
    char *a = tu_slurp(f.last, &na), *b = tu_slurp(other_last, &nb);
    ck_assert_msg(a && b && na == nb && !memcmp(a, b, na), "last.h5 bytes differ");
    free(a);
    free(b);
    tu_rm_tree(f.dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("runs");
    TCase *t = tcase_create("runs");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, special_values, 0, (int)(sizeof specials / sizeof specials[0]));
    tcase_add_test(t, epoch_means_one_thing);
    tcase_add_loop_test(t, interrupt_and_resume, 0, 2);
    tcase_add_test(t, time_limit_stops_and_resumes);
    tcase_add_test(t, killed_run_resumes_cleanly);
    tcase_add_test(t, resume_nothing_left);
    tcase_add_test(t, run_folder_refused_and_overwritten);
    tcase_add_test(t, run_folder_lock);
    tcase_add_test(t, eval_only_without_config);
    tcase_add_test(t, eval_only_dumps_logits);
    tcase_add_test(t, bench_times_steps_and_writes_nothing);
    tcase_add_test(t, pad_multiple_leaves_a_causal_model_unchanged);
    tcase_add_test(t, profile_stops_and_writes_nothing);
    tcase_add_test(t, messages);
    tcase_add_test(t, checkpoint_bytes_do_not_depend_on_time);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
