/* Helpers shared by the Check suites. */
#ifndef SSM_TESTUTIL_H
#define SSM_TESTUTIL_H
#include <check.h>
#include "layer.h"
#include "params.h"
#include "tensor.h"

/* Persistent CPU tensor of dtype dt with N(0, scale^2) entries (Philox, seeded). */
ssm_tensor *tu_randn(ssm_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double scale);
/* Same with uniform entries in [lo, hi). */
ssm_tensor *tu_rand(ssm_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double lo,
                    double hi);
/* ||a - b|| / ||b|| over all elements (any dtypes, any devices, same numel). */
double tu_rel_err(const ssm_tensor *a, const ssm_tensor *b);
/* Step mode checks: feed x [B, L, H] token by token from t0 through step(c, layer,
 * state, x_t [B, H]) -> [B, H] (a layer interface's step) and copy each output into
 * ys [B, L, H] at its position. Records nothing. */
struct ssm_ctx;
typedef ssm_tensor *(*tu_step_fn)(struct ssm_ctx *c, void *layer, void *state, ssm_tensor *x_t);
void tu_run_steps(struct ssm_ctx *c, tu_step_fn step, void *layer, void *state, ssm_tensor *x,
                  int64_t t0, ssm_tensor *ys);
/* One registry layer run forward and backward: built on (dt, dev), initialised from
 * seed, or with the values of `from`'s parameters when from is not NULL (same layer and
 * config); input xc and upstream gradient dyc are f64 CPU [B, L, H]. Afterwards x (on
 * dev, with .grad), y (the output, on the CPU) and the parameters' .grad are set. */
typedef struct {
    const ssm_layer_ops *ops;
    ssm_params *ps;
    void *m;
    ssm_tensor *x, *y;
} tu_layer_run;
void tu_layer_run_fwdbwd(tu_layer_run *r, const char *layer, const ssm_layer_config *cfg,
                         ssm_dtype dt, ssm_device dev, uint64_t seed, const ssm_params *from,
                         const ssm_tensor *xc, const ssm_tensor *dyc);
void tu_layer_run_free(tu_layer_run *r);
/* --- files and processes --- */
#include <stdarg.h>
/* A fresh temporary directory under $TMPDIR (or /tmp) into buf. */
void tu_tmpdir(char *buf, size_t n);
/* Remove path and everything below it. */
void tu_rm_tree(const char *path);
int tu_exists(const char *path);
/* Whole file as a NUL-terminated malloc'd buffer (*len: its size); NULL if unreadable. */
char *tu_slurp(const char *path, size_t *len);
void tu_spit(const char *path, const void *data, size_t n);
/* Run tools/<tool> (from $SSM_TOOLS_DIR, else the SSM_TOOLS_DIR compiled in) with the
 * NULL-terminated arguments; stdout and stderr together go to *out (malloc'd; also left
 * in dir/<tool>.log). Returns the exit status (-1: killed). */
int tu_run_tool(const char *tool, const char *dir, char **out, ...);
int tu_run_toolv(const char *tool, const char *dir, char **out, va_list ap);
/* The same in two halves: start it (output to dir/<tool>.log), later wait for it. */
#include <sys/types.h>
pid_t tu_spawn_tool(const char *tool, const char *dir, ...);
pid_t tu_spawn_toolv(const char *tool, const char *dir, va_list ap);
int tu_wait_tool(pid_t pid, const char *tool, const char *dir, char **out);
/* The tiny run of test_runs and test_faults: one S4D layer (d_model 8, d_state 4, dropout
 * 0.1) on 64 recall examples of 16 tokens, 8 a batch (8 steps an epoch), constant LR
 * after 3 warm-up steps, a train row every step. tu_tiny_run_setup writes the config
 * dir/tiny.ini (dir a fresh temporary folder) with train.max_steps = steps,
 * train.eval_every = eval_every and checkpoint.save_every = save_every (0: at each
 * evaluation); run is dir/run, last its ckpt/last.h5, tmp that checkpoint's .tmp name. */
typedef struct {
    char dir[512], cfg[600], run[600], last[700], tmp[720];
} tu_tiny_run;
void tu_tiny_run_setup(tu_tiny_run *f, int steps, int eval_every, int save_every);
/* Path of a file under tests/data (static buffer); $SSM_TEST_DATA, when set, replaces
 * the tests/data path compiled in. */
const char *tu_data(const char *name);
/* Run one suite, print its results; returns the process exit status. fork = 0 runs
 * the tests in this process (CUDA suites: a CUDA context does not survive fork). */
int tu_run(Suite *s, int fork);

#endif
