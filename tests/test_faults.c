/* Faults (docs/RELIABILITY.md): kill -9 at random moments of a run that checkpoints
 * every step, a full disk or failing device while a checkpoint is written (the
 * LD_PRELOAD shim tests/fault/enospc.so), and checkpoints of another model or format.
 * Each test runs the real tools/ssmtrain on a tiny recall task. */
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "log.h"
#include "testutil.h"


#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

/* A checkpoint that loads and verifies; returns its step. */
static int64_t ckpt_step(const char *path) {
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(path, &c) == SSM_OK, "%s", ssm_last_error());
    int64_t s = c.step;
    ssm_ckpt_contents_free(&c);
    return s;
}

static void assert_same_params(const char *a, const char *b) {
    ssm_ckpt_contents x, y;
    ck_assert_msg(ssm_ckpt_read_contents(a, &x) == SSM_OK, "%s", ssm_last_error());
    ck_assert_msg(ssm_ckpt_read_contents(b, &y) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(x.step, y.step);
    ck_assert_int_eq(x.n, y.n);
    for (int i = 0; i < x.n; i++)
        ck_assert_msg(!memcmp(x.values[i]->data, y.values[i]->data, (size_t)x.values[i]->numel * 4),
                      "%s differs between %s and %s", x.names[i], a, b);
    ssm_ckpt_contents_free(&x);
    ssm_ckpt_contents_free(&y);
}

/* ------------------------------------------------------------ kill -9 */

static ino_t inode(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* 20 kills at random moments: anywhere, 0-3 ms after last.h5.tmp appears (inside a
 * checkpoint write) or 0-3 ms after a new last.h5 is renamed into place; after each, last.h5 (when there is one yet) loads and
 * verifies and the next run resumes from it. The run that finishes has the parameters
 * of an uninterrupted one, bit for bit. */
START_TEST(kill9_at_random_moments) {
    enum { STEPS = 60, KILLS = 20 };
    tu_tiny_run f;
    tu_tiny_run_setup(&f, STEPS, 0, 1);
    unsigned seed = (unsigned)time(NULL);
    char *out, whole[600], whole_last[700];
    snprintf(whole, sizeof whole, "%s/whole", f.dir);
    snprintf(whole_last, sizeof whole_last, "%s/ckpt/last.h5", whole);
    int rc = tu_run_tool("ssmtrain", f.dir, &out, f.cfg, "--out", whole, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);

    int in_write = 0, last_step = 0;
    for (int k = 0; k < KILLS; k++) {
        int have = tu_exists(f.last);
        pid_t pid = have ? tu_spawn_tool("ssmtrain", f.dir, f.cfg, "--out", f.run, "--resume",
                                         f.last, NULL)
                         : tu_spawn_tool("ssmtrain", f.dir, f.cfg, "--out", f.run, "--overwrite",
                                         NULL);
        int how = (int)(rand_r(&seed) % 3);
        if (how == 0) { /* anywhere: start-up, a step, a write */
            sleep_us(rand_r(&seed) % 40000);
        } else if (how == 1) { /* inside a checkpoint write */
            for (int i = 0; i < 200000 && !tu_exists(f.tmp); i++) sleep_us(50);
            sleep_us(rand_r(&seed) % 3000);
        } else { /* just after a checkpoint was renamed into place (progress) */
            ino_t old = inode(f.last);
            for (int i = 0; i < 200000 && inode(f.last) == old; i++) sleep_us(50);
            sleep_us(rand_r(&seed) % 3000);
        }
        in_write += tu_exists(f.tmp);
        kill(pid, SIGKILL);
        rc = tu_wait_tool(pid, "ssmtrain", f.dir, &out);
        free(out);
        if (rc != -1) break; /* it finished before the kill: nothing left to interrupt */
        if (tu_exists(f.last)) {
            int64_t s = ckpt_step(f.last); /* fails the test if it does not load */
            ck_assert_msg(s >= last_step, "kill %d (seed %u): step went back from %d to %lld", k,
                          seed, last_step, (long long)s);
            last_step = (int)s;
        }
    }
    ck_assert_msg(last_step < STEPS, "seed %u: the run finished before the kills were done", seed);
    ck_assert_msg(in_write > 0, "seed %u: no kill landed inside a checkpoint write", seed);
    ck_assert_msg(last_step > 0, "seed %u: no checkpoint was ever completed", seed);
    rc = tu_run_tool("ssmtrain", f.dir, &out, f.cfg, "--out", f.run, "--resume", f.last, NULL);
    ck_assert_msg(rc == 0, "seed %u: exit %d:\n%s", seed, rc, out);
    free(out);
    assert_same_params(f.last, whole_last);
    tu_rm_tree(f.dir);
}
END_TEST

/* ------------------------------------------------------------ full disk, failing device */

static const char *shim(void) {
    static char path[700];
    const char *d = getenv("SSM_FAULT_SHIM");
    snprintf(path, sizeof path, "%s", d && *d ? d : SSM_FAULT_SHIM);
    return path;
}

static const struct {
    const char *op, *err, *says;
} faults[] = {
    {"write", "ENOSPC", "No space left on device"},
    {"write", "EIO", "Input/output error"},
    {"fsync", "EIO", "Input/output error"},
};

/* The third checkpoint write fails: ssmtrain exits 1 naming the file and the cause,
 * the second checkpoint (step 4) is intact, no temporary file is left behind. */
START_TEST(checkpoint_write_fails) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 12, 0, 2);
    char *out, ref[600], ref_last[700], after[32];
    snprintf(ref, sizeof ref, "%s/ref", f.dir);
    snprintf(ref_last, sizeof ref_last, "%s/ckpt/last.h5", ref);
    int rc = tu_run_tool("ssmtrain", f.dir, &out, f.cfg, "--out", ref, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    struct stat st;
    ck_assert_int_eq(stat(ref_last, &st), 0);
    /* checkpoints at steps 2 and 4 go through; the one at step 6 runs out */
    snprintf(after, sizeof after, "%lld", (long long)(st.st_size * 5 / 2));
    ck_assert_msg(access(shim(), R_OK) == 0, "no %s (built by make check)", shim());
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[512];
    snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", asan_opts, 1); /* the shim comes before the ASan runtime */
    setenv("SSM_FAULT_PATTERN", "last.h5.tmp", 1);
    setenv("SSM_FAULT_AFTER", after, 1);
    setenv("SSM_FAULT_ERRNO", faults[_i].err, 1);
    setenv("SSM_FAULT_OP", faults[_i].op, 1);
    setenv("LD_PRELOAD", shim(), 1);
    rc = tu_run_tool("ssmtrain", f.dir, &out, f.cfg, "--out", f.run, NULL);
    unsetenv("LD_PRELOAD");
    ck_assert_msg(rc == 1, "%s %s: exit %d, want 1:\n%s", faults[_i].op, faults[_i].err, rc, out);
    ck_assert_contains(out, "ssmtrain: error: ");
    ck_assert_contains(out, f.last);
    ck_assert_contains(out, faults[_i].says);
    ck_assert_contains(out, "the previous one, if any, is kept");
    ck_assert_int_eq(ckpt_step(f.last), 4);
    ck_assert_msg(!tu_exists(f.tmp), "%s left behind", f.tmp);
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

/* ------------------------------------------------------------ another model or format */

/* Rewrite the root attribute format_version of a checkpoint (through HDF5: the whole-file
 * CRC-32 of the header no longer matches unless resealed). */
static void set_format_version(const char *path, double v, int reseal) {
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hid_t a = H5Aopen(file, "format_version", H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_DOUBLE, &v), 0);
    H5Aclose(a);
    H5Fclose(file);
    if (reseal) ck_assert_msg(ssm_ckpt_seal(path) == SSM_OK, "%s", ssm_last_error());
}

/* Rewrite the format version in a checkpoint's header (a file of a later format). */
static void set_header_version(const char *path, char v) {
    size_t n;
    char *b = tu_slurp(path, &n);
    char *at = strstr(b, "format_version 2\n");
    ck_assert_msg(at && at < b + 512, "%s: no format_version line in the header", path);
    at[15] = v;
    tu_spit(path, b, n);
    free(b);
}

enum { HEADER_V3 = 1, ATTR_V3, ATTR_V3_RESEALED };
static const struct {
    const char *set, *says, *says2;
    int edit;
} mismatches[] = {
    {"model.layer=s4", "layer type mismatch: the checkpoint holds a s4d model, the config builds a s4 model", NULL, 0},
    {"model.d_model=16", "model.d_model = 8 in the checkpoint, 16 in the config", "/params/", 0},
    {"model.n_layers=2", "model.n_layers = 1 in the checkpoint, 2 in the config", "missing /params/", 0},
    {"layer.d_state=8", "layer.d_state = 4 in the checkpoint, 8 in the config", "/params/", 0},
    {NULL, "format version 3, this build reads versions 1 and 2", NULL, HEADER_V3},
    {NULL, "checksum mismatch", "the file is corrupted or truncated", ATTR_V3},
    {NULL, "format version 3 in the root attributes, but the file is laid out as format 2",
     NULL, ATTR_V3_RESEALED},
};

START_TEST(checkpoint_of_another_model) {
    tu_tiny_run f;
    tu_tiny_run_setup(&f, 2, 0, 0);
    char *out;
    int rc = tu_run_tool("ssmtrain", f.dir, &out, f.cfg, "--out", f.run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    const char *set = mismatches[_i].set ? mismatches[_i].set : "train.max_steps=4";
    if (mismatches[_i].edit == HEADER_V3) set_header_version(f.last, '3');
    if (mismatches[_i].edit >= ATTR_V3) set_format_version(f.last, 3, mismatches[_i].edit == ATTR_V3_RESEALED);
    rc = tu_run_tool("ssmtrain", f.dir, &out, f.cfg, "--out", f.run, "--resume", f.last, "--set",
                     set, "--set", "train.max_steps=4", NULL);
    ck_assert_msg(rc == 1, "%s: exit %d, want 1:\n%s", set, rc, out);
    ck_assert_contains(out, f.last);
    ck_assert_contains(out, mismatches[_i].says);
    if (mismatches[_i].says2) ck_assert_contains(out, mismatches[_i].says2);
    free(out);
    tu_rm_tree(f.dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("faults");
    TCase *k = tcase_create("kill9");
    tcase_set_timeout(k, 120);
    tcase_add_test(k, kill9_at_random_moments);
    suite_add_tcase(s, k);
    TCase *t = tcase_create("faults");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, checkpoint_write_fails, 0, (int)(sizeof faults / sizeof faults[0]));
    tcase_add_loop_test(t, checkpoint_of_another_model, 0,
                        (int)(sizeof mismatches / sizeof mismatches[0]));
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
