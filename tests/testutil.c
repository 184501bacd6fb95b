#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"
#include "layer.h"
#include "ops.h"
#include "params.h"

ssm_tensor *tu_randn(ssm_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double scale) {
    ssm_tensor *t = ssm_tensor_new(dt, SSM_CPU, ndim, shape);
    ssm_kernels_for(SSM_CPU)->rand_normal(dt, t->data, t->numel, seed, 0, 0.0, scale);
    return t;
}

ssm_tensor *tu_rand(ssm_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double lo,
                    double hi) {
    ssm_tensor *t = ssm_tensor_new(dt, SSM_CPU, ndim, shape);
    ssm_kernels_for(SSM_CPU)->rand_uniform(dt, t->data, t->numel, seed, 0, lo, hi);
    return t;
}

double tu_rel_err(const ssm_tensor *a, const ssm_tensor *b) {
    ck_assert_int_eq(a->numel, b->numel);
    double *x = ssm_tensor_to_f64(a), *y = ssm_tensor_to_f64(b), dn = 0, bn = 0;
    for (int64_t i = 0; i < a->numel; i++) {
        dn += (x[i] - y[i]) * (x[i] - y[i]);
        bn += y[i] * y[i];
    }
    free(x);
    free(y);
    if (bn == 0) return sqrt(dn);
    return sqrt(dn / bn);
}

static const char *TINY_RUN =
    "[model]\ntask = classification\nd_model = 8\nn_layers = 1\nlayer = s4d\ndropout = 0.1\n"
    "pooling = last\n[layer]\nd_state = 4\n[data]\ntask = recall\nseq_len = 16\nn_train = 64\n"
    "n_val = 32\nn_test = 32\n[optim]\nlr = 0.01\nschedule = constant\nwarmup_steps = 3\n"
    "[train]\nseed = 3\nbatch_size = 8\nmax_steps = %d\nlog_every = 1\neval_every = %d\n"
    "threads = 1\n[checkpoint]\nsave_every = %d\n";

void tu_tiny_run_setup(tu_tiny_run *f, int steps, int eval_every, int save_every) {
    tu_tmpdir(f->dir, sizeof f->dir);
    char text[1024];
    snprintf(text, sizeof text, TINY_RUN, steps, eval_every, save_every);
    snprintf(f->cfg, sizeof f->cfg, "%s/tiny.ini", f->dir);
    tu_spit(f->cfg, text, strlen(text));
    snprintf(f->run, sizeof f->run, "%s/run", f->dir);
    snprintf(f->last, sizeof f->last, "%s/ckpt/last.h5", f->run);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", f->last);
}

const char *tu_data(const char *name) {
    static char buf[1024];
    /* the environment overrides the build's path (a test binary run from another tree) */
    const char *dir = getenv("SSM_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : SSM_TEST_DATA, name);
    return buf;
}

int tu_run(Suite *s, int fork) {
    SRunner *sr = srunner_create(s);
    if (!fork) srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void tu_run_steps(ssm_ctx *c, tu_step_fn step, void *layer, void *state, ssm_tensor *x,
                  int64_t t0, ssm_tensor *ys) {
    int64_t B = x->shape[0], L = x->shape[1], H = x->shape[2];
    const ssm_kernels *k = ssm_kernels_for(x->device);
    int saved = ssm_no_grad_begin(c);
    for (int64_t t = t0; t < L; t++) {
        ssm_tensor *xt = ssm_reshape(c, ssm_slice(c, x, 1, t, 1), SSM_DIMS(B, H));
        ssm_tensor *yt = step(c, layer, state, xt);
        k->slice_copy(x->dtype, yt->data, ys->data, B, 1, L, H, 0, t, 1, 0);
    }
    ssm_no_grad_end(c, saved);
}

void tu_layer_run_fwdbwd(tu_layer_run *r, const char *layer, const ssm_layer_config *cfg,
                         ssm_dtype dt, ssm_device dev, uint64_t seed, const ssm_params *from,
                         const ssm_tensor *xc, const ssm_tensor *dyc) {
    r->ops = ssm_layer_ops_for(layer);
    ck_assert_ptr_nonnull(r->ops);
    r->ps = ssm_params_new(dt, dev);
    r->m = r->ops->create(cfg, r->ps, "");
    ck_assert_ptr_nonnull(r->m);
    ssm_params_finalize(r->ps);
    ssm_rng rng = {seed, 0};
    r->ops->init(r->m, &rng);
    for (int i = 0; from && i < r->ps->n; i++) {
        double *v = ssm_tensor_to_f64(from->p[i]);
        ssm_tensor_from_f64(r->ps->p[i], v);
        free(v);
    }
    ssm_tensor *xh = ssm_tensor_cast(NULL, xc, dt), *dyh = ssm_tensor_cast(NULL, dyc, dt);
    r->x = ssm_tensor_to(NULL, xh, dev);
    ssm_requires_grad(r->x);
    ssm_ctx *c = ssm_ctx_new(1);
    ssm_tensor *out = r->ops->forward(c, r->m, r->x);
    ssm_backward_with(c, out, ssm_tensor_to(c->arena, dyh, dev));
    r->y = ssm_tensor_to(NULL, out, SSM_CPU);
    ssm_ctx_free(c);
    ssm_tensor_free(xh);
    ssm_tensor_free(dyh);
}

void tu_layer_run_free(tu_layer_run *r) {
    r->ops->destroy(r->m);
    ssm_params_free(r->ps);
    ssm_tensor_free(r->x);
    ssm_tensor_free(r->y);
}

/* --- files and processes --- */

void tu_tmpdir(char *buf, size_t n) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/ssm_test.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

void tu_rm_tree(const char *path) {
    struct stat s;
    if (lstat(path, &s) != 0) return;
    if (S_ISDIR(s.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            char sub[1024];
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                tu_rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

int tu_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

char *tu_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

void tu_spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *tools_dir(void) {
    const char *d = getenv("SSM_TOOLS_DIR");
#ifdef SSM_TOOLS_DIR
    if (!d || !*d) d = SSM_TOOLS_DIR;
#endif
    ck_assert_msg(d && *d, "SSM_TOOLS_DIR is not set");
    return d;
}

pid_t tu_spawn_toolv(const char *tool, const char *dir, va_list ap) {
    const char *argv[64];
    char prog[1024], log[1024];
    snprintf(prog, sizeof prog, "%s/%s", tools_dir(), tool);
    snprintf(log, sizeof log, "%s/%s.log", dir, tool);
    int n = 0;
    argv[n++] = prog;
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 63) argv[n++] = a;
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv(prog, (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    return pid;
}

pid_t tu_spawn_tool(const char *tool, const char *dir, ...) {
    va_list ap;
    va_start(ap, dir);
    pid_t pid = tu_spawn_toolv(tool, dir, ap);
    va_end(ap);
    return pid;
}

int tu_wait_tool(pid_t pid, const char *tool, const char *dir, char **out) {
    char log[1024];
    snprintf(log, sizeof log, "%s/%s.log", dir, tool);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *out = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(*out);
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127), "%s", *out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int tu_run_toolv(const char *tool, const char *dir, char **out, va_list ap) {
    return tu_wait_tool(tu_spawn_toolv(tool, dir, ap), tool, dir, out);
}

int tu_run_tool(const char *tool, const char *dir, char **out, ...) {
    va_list ap;
    va_start(ap, out);
    int rc = tu_run_toolv(tool, dir, out, ap);
    va_end(ap);
    return rc;
}
