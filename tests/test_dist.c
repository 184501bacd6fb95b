/* Data-parallel training under mpirun (CPU, 2 ranks): the same steps as one process
 * with the same global batch (loss and parameters to 1e-5), the gradient all-reduce in
 * buckets overlapped with backward bit-identical to one after it, bit-identical reruns,
 * exact resume with the same number of ranks and a continued curve with another,
 * an interrupt of one rank stopping all. Skips (77) in builds without MPI. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "log.h"
#include "testutil.h"

#ifndef SSM_HAVE_MPI
int main(void) {
    printf("test_dist: built without MPI (configure --with-mpi): skipped\n");
    return 77;
}
#else

/* 64 training examples of 16 tokens, 7 a batch: ranks of 3 and 4 examples, and each
 * epoch ends with a batch of one example (rank 0's slice empty). */
static const char *TINY = "[model]\ntask = classification\nd_model = 8\nn_layers = 1\n"
                          "layer = s4d\ndropout = %s\npooling = last\n[layer]\nd_state = 4\n"
                          "[data]\ntask = recall\nseq_len = 16\nn_train = 64\nn_val = 30\n"
                          "n_test = 30\n[optim]\nlr = 0.01\nschedule = constant\n"
                          "warmup_steps = 3\ngrad_clip = 0.5\n[train]\nseed = 3\nbatch_size = 7\n"
                          "max_steps = 20\nlog_every = 1\neval_every = 10\nthreads = 1\n"
                          "check_replicas_every = 5\n";

typedef struct {
    char dir[512], cfg[600], cfg_drop[600];
} fixture;

static void setup(fixture *f) {
    tu_tmpdir(f->dir, sizeof f->dir);
    char text[1024];
    snprintf(f->cfg, sizeof f->cfg, "%s/tiny.ini", f->dir);
    snprintf(text, sizeof text, TINY, "0");
    tu_spit(f->cfg, text, strlen(text));
    snprintf(f->cfg_drop, sizeof f->cfg_drop, "%s/drop.ini", f->dir);
    snprintf(text, sizeof text, TINY, "0.1");
    tu_spit(f->cfg_drop, text, strlen(text));
}

/* mpirun as CI runs it (root in a container, 2 cores): the flags it needs there. */
static const char *MPI_FLAGS[] = {"--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                                  "--mca", "btl", "self,vader", "--mca",
                                  "btl_vader_single_copy_mechanism", "none", NULL};

/* Start `ssmtrain ARGS...` on np ranks (np 0: without mpirun); output to DIR/log-TAG. */
static pid_t spawn(const fixture *f, int np, const char *tag, const char *const *args) {
    const char *argv[64];
    char prog[1024], nps[16], log[700];
    snprintf(prog, sizeof prog, "%s/ssmtrain", SSM_TOOLS_DIR);
    snprintf(nps, sizeof nps, "%d", np);
    snprintf(log, sizeof log, "%s/log-%s", f->dir, tag);
    int n = 0;
    if (np) {
        argv[n++] = SSM_MPIRUN;
        for (int i = 0; MPI_FLAGS[i]; i++) argv[n++] = MPI_FLAGS[i];
        argv[n++] = "-np", argv[n++] = nps;
    }
    argv[n++] = prog;
    for (int i = 0; args[i]; i++) argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1), dup2(fd, 2), close(fd);
        setpgid(0, 0);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int wait_for(const fixture *f, pid_t pid, const char *tag, char **out) {
    char log[700];
    snprintf(log, sizeof log, "%s/log-%s", f->dir, tag);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *out = tu_slurp(log, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Train: np ranks (0: one plain process), config cfg, into DIR/run; extra arguments. */
static void train(const fixture *f, int np, const char *cfg, const char *run, const char *a1,
                  const char *a2) {
    char out_dir[700];
    snprintf(out_dir, sizeof out_dir, "%s/%s", f->dir, run);
    const char *args[] = {cfg, "--out", out_dir, a1, a2, NULL};
    char *out;
    int rc = wait_for(f, spawn(f, np, run, args), run, &out);
    ck_assert_msg(rc == 0, "%s (%d ranks): exit %d:\n%s", run, np, rc, out);
    free(out);
}

/* The train rows' losses of DIR/run/metrics.jsonl, by step (1..20). */
static void losses(const fixture *f, const char *run, double *loss) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s/metrics.jsonl", f->dir, run);
    char *text = tu_slurp(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    for (int s = 0; s <= 20; s++) loss[s] = NAN;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *row = cJSON_Parse(l);
        ck_assert_ptr_nonnull(row);
        const cJSON *split = cJSON_GetObjectItemCaseSensitive(row, "split");
        int step = (int)cJSON_GetObjectItemCaseSensitive(row, "step")->valuedouble;
        if (!strcmp(split->valuestring, "train") && step >= 1 && step <= 20)
            loss[step] = cJSON_GetObjectItemCaseSensitive(row, "loss")->valuedouble;
        cJSON_Delete(row);
    }
    free(text);
}

/* Train losses of steps from..20 agree within tol (relative; 0: bit for bit). */
static void same_losses(const fixture *f, const char *a, const char *b, int from, double tol) {
    double x[21], y[21];
    losses(f, a, x);
    losses(f, b, y);
    for (int s = from; s <= 20; s++) {
        ck_assert_msg(isfinite(x[s]) && isfinite(y[s]), "step %d not logged", s);
        ck_assert_msg(tol ? fabs(x[s] - y[s]) <= tol * fabs(x[s]) : x[s] == y[s],
                      "step %d: loss %.9g in %s, %.9g in %s", s, x[s], a, y[s], b);
    }
}

/* The checkpoints' parameters agree within tol (relative to the largest; 0: bit for bit). */
static void same_params(const fixture *f, const char *a, const char *b, double tol) {
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/%s/ckpt/last.h5", f->dir, a);
    snprintf(pb, sizeof pb, "%s/%s/ckpt/last.h5", f->dir, b);
    ssm_ckpt_contents x, y;
    ck_assert_msg(ssm_ckpt_read_contents(pa, &x) == SSM_OK, "%s", ssm_last_error());
    ck_assert_msg(ssm_ckpt_read_contents(pb, &y) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(x.step, y.step);
    ck_assert_int_eq(x.n, y.n);
    for (int i = 0; i < x.n; i++) {
        const float *u = x.values[i]->data, *v = y.values[i]->data;
        double big = 0;
        for (int64_t j = 0; j < x.values[i]->numel; j++) big = fmax(big, fabs(u[j]));
        for (int64_t j = 0; j < x.values[i]->numel; j++)
            ck_assert_msg(tol ? fabs(u[j] - v[j]) <= tol * big : u[j] == v[j],
                          "%s[%lld]: %.9g in %s, %.9g in %s", x.names[i], (long long)j, u[j], a,
                          v[j], b);
    }
    ssm_ckpt_contents_free(&x);
    ssm_ckpt_contents_free(&y);
}

START_TEST(two_ranks_match_one_process) {
    fixture f;
    setup(&f);
    train(&f, 0, f.cfg, "one", NULL, NULL);
    train(&f, 2, f.cfg, "two", NULL, NULL);
    same_losses(&f, "one", "two", 1, 1e-5);
    same_params(&f, "one", "two", 1e-5);
    tu_rm_tree(f.dir);
}
END_TEST

/* The gradient all-reduce in buckets started during backward (small enough for 4
 * buckets; each epoch's last batch leaves rank 0 without a backward, which starts them
 * all at the end) gives the run of one all-reduce after backward bit for bit, as each
 * element's sum over two ranks is the same, and so one process's run to 1e-5. */
START_TEST(bucketed_overlap_matches_one_allreduce) {
    fixture f;
    setup(&f);
    train(&f, 0, f.cfg, "one", NULL, NULL);
    train(&f, 2, f.cfg, "after", "--set", "train.allreduce_bucket_mb=0");
    train(&f, 2, f.cfg, "buckets", "--set", "train.allreduce_bucket_mb=0.0002");
    char log[700];
    snprintf(log, sizeof log, "%s/log-buckets", f.dir);
    char *out = tu_slurp(log, NULL);
    ck_assert_msg(strstr(out, "x 2 ranks (gradients summed in 4 buckets overlapped with backward)"),
                  "%s", out);
    free(out);
    snprintf(log, sizeof log, "%s/log-after", f.dir);
    out = tu_slurp(log, NULL);
    ck_assert_msg(strstr(out, "x 2 ranks (gradients summed after backward)"), "%s", out);
    free(out);
    same_losses(&f, "after", "buckets", 1, 0);
    same_params(&f, "after", "buckets", 0);
    same_losses(&f, "one", "buckets", 1, 1e-5);
    same_params(&f, "one", "buckets", 1e-5);
    tu_rm_tree(f.dir);
}
END_TEST

/* With dropout (each rank its own counters): two runs agree bit for bit, and so does a
 * run stopped at step 10 and resumed on 2 ranks. */
START_TEST(two_ranks_rerun_and_resume_exactly) {
    fixture f;
    setup(&f);
    train(&f, 2, f.cfg_drop, "a", NULL, NULL);
    train(&f, 2, f.cfg_drop, "b", NULL, NULL);
    same_losses(&f, "a", "b", 1, 0);
    same_params(&f, "a", "b", 0);
    char ckpt[700];
    train(&f, 2, f.cfg_drop, "half", "--set", "train.max_steps=10");
    snprintf(ckpt, sizeof ckpt, "%s/half/ckpt/last.h5", f.dir);
    train(&f, 2, f.cfg_drop, "half", "--resume", ckpt);
    same_losses(&f, "a", "half", 1, 0);
    same_params(&f, "a", "half", 0);
    tu_rm_tree(f.dir);
}
END_TEST

/* BatchNorm: every rank takes rank 0's running statistics before each step (DDP's
 * broadcast_buffers), so the replica check, which hashes them with the parameters,
 * passes (train.check_replicas_every = 5); without the broadcast each rank's statistics follow its own
 * slice and the check stops the run (exit 4). */
START_TEST(two_ranks_share_batchnorm_statistics) {
    fixture f;
    setup(&f);
    train(&f, 2, f.cfg, "bn", "--set", "model.norm=batch"); /* checked every 5 steps */
    tu_rm_tree(f.dir);
}
END_TEST

/* A checkpoint of 2 ranks resumed by one process continues the same curve. */
START_TEST(two_rank_checkpoint_resumes_on_one) {
    fixture f;
    setup(&f);
    train(&f, 2, f.cfg, "two", NULL, NULL);
    train(&f, 2, f.cfg, "half", "--set", "train.max_steps=10");
    char ckpt[700];
    snprintf(ckpt, sizeof ckpt, "%s/half/ckpt/last.h5", f.dir);
    train(&f, 0, f.cfg, "half", "--resume", ckpt);
    same_losses(&f, "two", "half", 11, 1e-5);
    same_params(&f, "two", "half", 1e-5);
    tu_rm_tree(f.dir);
}
END_TEST

/* A /proc file (its size reads as 0: read to the end); NULL when it cannot be opened. */
static char *read_proc(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            buf = realloc(buf, (cap *= 2) + 1);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* The pid of rank `rank` among mpirun's children (of any of its threads; their
 * environment names the rank). */
static pid_t rank_pid(pid_t mpirun, int rank) {
    char path[300], want[48];
    snprintf(path, sizeof path, "/proc/%d/task", (int)mpirun);
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *tasks = opendir(path);
    pid_t found = 0;
    for (struct dirent *e; tasks && !found && (e = readdir(tasks));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/children", (int)mpirun, e->d_name);
        char *kids = read_proc(path, NULL);
        for (char *save = NULL, *w = strtok_r(kids, " \n", &save); w && !found;
             w = strtok_r(NULL, " \n", &save)) {
            char env_path[64];
            snprintf(env_path, sizeof env_path, "/proc/%s/environ", w);
            size_t n;
            char *env = read_proc(env_path, &n);
            for (size_t at = 0; env && at < n; at += strlen(env + at) + 1)
                if (!strcmp(env + at, want)) found = (pid_t)atoi(w);
            free(env);
        }
        free(kids);
    }
    if (tasks) closedir(tasks);
    return found;
}

static int metrics_lines(const fixture *f, const char *run) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s/metrics.jsonl", f->dir, run);
    FILE *m = fopen(path, "r");
    int n = 0, ch;
    while (m && (ch = fgetc(m)) != EOF) n += ch == '\n';
    if (m) fclose(m);
    return n;
}

/* SIGTERM to rank 1 alone: both ranks stop after the same step, rank 0 saves last.h5
 * (exit 143), and resuming on 2 ranks gives the uninterrupted run bit for bit. */
START_TEST(interrupt_of_one_rank_stops_all) {
    fixture f;
    setup(&f);
    char out_dir[600], ckpt[700], *out;
    snprintf(out_dir, sizeof out_dir, "%s/cut", f.dir);
    const char *args[] = {f.cfg_drop, "--out", out_dir, "--set", "train.max_steps=100000", NULL};
    pid_t pid = spawn(&f, 2, "cut", args), victim = 0;
    for (int i = 0; i < 60000 && metrics_lines(&f, "cut") < 5; i++) usleep(1000);
    for (int i = 0; i < 1000 && !(victim = rank_pid(pid, 1)); i++) usleep(1000);
    ck_assert_msg(victim > 0, "rank 1 not found among mpirun's children");
    kill(victim, SIGTERM);
    int rc = wait_for(&f, pid, "cut", &out);
    ck_assert_msg(rc == 143, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.h5", out_dir);
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(ckpt, &c) == SSM_OK, "%s", ssm_last_error());
    int64_t step = c.step;
    ssm_ckpt_contents_free(&c);
    ck_assert_int_ge(step, 5);
    ck_assert_int_eq(metrics_lines(&f, "cut") - step / 10, step); /* train rows + val rows */
    char steps[64], whole[700];
    snprintf(steps, sizeof steps, "train.max_steps=%lld", (long long)step + 3);
    const char *resume[] = {f.cfg_drop, "--out", out_dir, "--resume", ckpt, "--set", steps, NULL};
    rc = wait_for(&f, spawn(&f, 2, "resume", resume), "resume", &out);
    ck_assert_msg(rc == 0, "resume: exit %d:\n%s", rc, out);
    free(out);
    snprintf(whole, sizeof whole, "%s/whole", f.dir);
    const char *again[] = {f.cfg_drop, "--out", whole, "--set", steps, NULL};
    rc = wait_for(&f, spawn(&f, 2, "whole", again), "whole", &out);
    ck_assert_msg(rc == 0, "uninterrupted: exit %d:\n%s", rc, out);
    free(out);
    same_params(&f, "cut", "whole", 0);
    tu_rm_tree(f.dir);
}
END_TEST

int main(void) {
    if (access(SSM_MPIRUN, X_OK) != 0) {
        printf("test_dist: no mpirun at %s: skipped\n", SSM_MPIRUN);
        return 77;
    }
    Suite *s = suite_create("dist");
    TCase *t = tcase_create("dist");
    tcase_set_timeout(t, 240);
    tcase_add_test(t, two_ranks_match_one_process);
    tcase_add_test(t, bucketed_overlap_matches_one_allreduce);
    tcase_add_test(t, two_ranks_share_batchnorm_statistics);
    tcase_add_test(t, two_ranks_rerun_and_resume_exactly);
    tcase_add_test(t, two_rank_checkpoint_resumes_on_one);
    tcase_add_test(t, interrupt_of_one_rank_stops_all);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
#endif
