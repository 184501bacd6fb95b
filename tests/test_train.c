/* The trainer (tools/trainer.c), checkpoints (tools/checkpoint.c) and the
 * ssmtrain binary end to end:
 *   - checkpoint round trip, bit for bit (parameters, BatchNorm buffers, Adam
 *     moments, loop state);
 *   - bad checkpoints (truncated, corrupted, missing or extra parameter, wrong
 *     shape, other layer type) are clear errors that leave the model alone;
 *     a failed save leaves the existing file alone;
 *   - tools/ssmtrain on a tiny generated task: output files, resolved
 *     config.ini, metrics.jsonl, the final line, exact resume, --eval-only,
 *     config errors (exit 2), NaN/Inf (exit 3, last.h5 kept);
 *   - tools/ssmtrain on the LRA Text and Retrieval fixtures (tests/data/imdb, aan);
 *   - every file in configs/ and configs/lra/ loads.
 * The binary is found in SSM_TOOLS_DIR (compiled in, or from the environment). */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "checkpoint.h"
#include "ckpt_model.h"
#include "log.h"
#include "model.h"
#include "optim.h"
#include "ssmconfig.h"
#include "testutil.h"
#include "trainer.h"

/* ------------------------------------------------------------ helpers */

static void spit_text(const char *path, const char *text) { tu_spit(path, text, strlen(text)); }

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = tu_slurp(a, &na), *y = tu_slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Run tools/ssmtrain (testutil.h: tu_run_tool). */
static int ssmtrain(const char *dir, char **out, ...) {
    va_list ap;
    va_start(ap, out);
    int rc = tu_run_toolv("ssmtrain", dir, out, ap);
    va_end(ap);
    return rc;
}

/* The text of "key": VALUE in a JSON line (quotes of strings dropped); 0 if absent. */
static int json_field(const char *line, const char *key, char *buf, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    p += strlen(pat);
    if (*p == '"') p++;
    size_t k = 0;
    while (p[k] && p[k] != ',' && p[k] != '}' && p[k] != '"' && p[k] != '\n') k++;
    ck_assert_uint_lt(k, n);
    memcpy(buf, p, k);
    buf[k] = 0;
    return 1;
}

/* The metrics.jsonl lines of a run directory (NULL-terminated, malloc'd; free with free_lines). */
static char **metrics_lines(const char *dir, int *count) {
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *text = tu_slurp(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    int n = 0;
    for (char *p = text; *p; p++) n += *p == '\n';
    char **lines = calloc((size_t)n + 1, sizeof *lines);
    int i = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        lines[i++] = strdup(l);
    free(text);
    *count = i;
    return lines;
}

static void free_lines(char **lines) {
    for (int i = 0; lines[i]; i++) free(lines[i]);
    free(lines);
}

/* The "loss" text of the train line of `step` (NULL if none). */
static const char *train_loss(char **lines, long step, char *buf, size_t n) {
    char v[64];
    for (int i = 0; lines[i]; i++) {
        if (!json_field(lines[i], "split", v, sizeof v) || strcmp(v, "train")) continue;
        ck_assert(json_field(lines[i], "step", v, sizeof v));
        if (atol(v) != step) continue;
        ck_assert(json_field(lines[i], "loss", buf, n));
        return buf;
    }
    return NULL;
}

/* The line starting with "final: " in a tool's output (copied to buf). */
static const char *final_line(const char *out, char *buf, size_t n) {
    const char *p = strstr(out, "final: ");
    ck_assert_msg(p != NULL, "no final line in:\n%s", out);
    size_t k = strcspn(p, "\n");
    ck_assert_uint_lt(k, n);
    memcpy(buf, p, k);
    buf[k] = 0;
    return buf;
}

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

/* ------------------------------------------------------------ checkpoints */

/* A small S4D model (embedding 10 -> d_model, 3 classes) with BatchNorm so
 * there are buffers too; parameters from `seed`, buffers set to non-trivial values. */
static ssm_model *small_model(int64_t d_model, int64_t n_layers, uint64_t seed) {
    ssm_model_config mc;
    memset(&mc, 0, sizeof mc);
    snprintf(mc.layer, sizeof mc.layer, "s4d");
    mc.lcfg = (ssm_layer_config){.d_model = d_model, .d_state = 4, .dt_min = 1e-3,
                                 .dt_max = 1e-1, .init = SSM_INIT_LIN, .disc = 0, .l_max = 16};
    mc.embedding = 1;
    mc.d_input = 10;
    mc.d_output = 3;
    mc.n_layers = n_layers;
    mc.norm = SSM_NORM_BATCH;
    mc.residual = 1;
    mc.pool = SSM_POOL_MEAN;
    ssm_model *m = ssm_model_new(&mc, SSM_F32, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, seed);
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        for (int64_t j = 0; j < b->numel; j++)
            ((float *)b->data)[j] = (float)(0.5 + 0.25 * sin((double)(seed + 7 * i + j)));
    }
    return m;
}

/* AdamW over m with `steps` updates from made-up gradients: non-zero moments. */
static ssm_optim *stepped_optim(ssm_model *m, int steps, uint64_t seed) {
    ssm_optim *o = ssm_optim_new(SSM_OPT_ADAMW, m->ps, 1e-2, 0.01);
    o->group[SSM_GROUP_SSM].lr = 1e-3;
    for (int s = 0; s < steps; s++) {
        float *g = m->ps->grads->data;
        for (int64_t j = 0; j < m->ps->numel; j++)
            g[j] = (float)sin(0.37 * (double)j + 1.3 * s + (double)seed);
        ssm_optim_step(o, 1.0, 1.0);
    }
    return o;
}

static void fill_state(ssm_train_state *st) {
    memset(st, 0, sizeof *st);
    st->step = 12345;
    st->epoch = 7;
    st->data_index = 96;
    st->seed = 0xfedcba9876543210ull;       /* above 2^53: must not pass through a double */
    st->rng_offset = 0x123456789abcdef1ull;
    st->best_metric = 0.8125;
    snprintf(st->config, sizeof st->config, "[model]\nd_model = 8\n; resolved text\n");
}

/* Copies of the flat buffers, to check that a failed load touched nothing. */
typedef struct {
    void *values, *m, *v, *buffers;
    size_t nbytes, nbuf;
    int64_t ostep;
} snapshot;

static size_t flat_bytes(const ssm_model *m) { return (size_t)m->ps->numel * sizeof(float); }

static snapshot take_snapshot(const ssm_model *m, const ssm_optim *o) {
    snapshot s = {0};
    s.nbytes = flat_bytes(m);
    s.values = malloc(s.nbytes);
    memcpy(s.values, m->ps->values->data, s.nbytes);
    if (o) {
        s.m = malloc(s.nbytes);
        s.v = malloc(s.nbytes);
        memcpy(s.m, o->m->data, s.nbytes);
        memcpy(s.v, o->v->data, s.nbytes);
        s.ostep = o->step;
    }
    char name[128];
    int nb = ssm_model_n_buffers(m);
    int64_t total = 0;
    for (int i = 0; i < nb; i++) total += ssm_model_buffer(m, i, name, sizeof name)->numel;
    s.nbuf = (size_t)total * sizeof(float);
    s.buffers = malloc(s.nbuf + 1);
    char *p = s.buffers;
    for (int i = 0; i < nb; i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        memcpy(p, b->data, (size_t)b->numel * sizeof(float));
        p += b->numel * (int64_t)sizeof(float);
    }
    return s;
}

static void assert_snapshot(const snapshot *s, const ssm_model *m, const ssm_optim *o) {
    ck_assert_msg(memcmp(s->values, m->ps->values->data, s->nbytes) == 0, "parameters changed");
    if (o) {
        ck_assert_msg(memcmp(s->m, o->m->data, s->nbytes) == 0, "first moments changed");
        ck_assert_msg(memcmp(s->v, o->v->data, s->nbytes) == 0, "second moments changed");
        ck_assert_int_eq(o->step, s->ostep);
    }
    snapshot now = take_snapshot(m, NULL);
    ck_assert_uint_eq(now.nbuf, s->nbuf);
    ck_assert_msg(memcmp(now.buffers, s->buffers, s->nbuf) == 0, "buffers changed");
    free(now.values);
    free(now.buffers);
}

static void free_snapshot(snapshot *s) {
    free(s->values);
    free(s->m);
    free(s->v);
    free(s->buffers);
}

START_TEST(ckpt_round_trip) {
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.h5", dir);
    ssm_model *m = small_model(8, 2, 1);
    ssm_optim *o = stepped_optim(m, 3, 1);
    ck_assert_int_eq(o->step, 3);
    ssm_train_state st;
    fill_state(&st);
    ck_assert_msg(ssm_ckpt_save(path, m, o, &st) == SSM_OK, "%s", ssm_last_error());
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_msg(!tu_exists(tmp), "the temporary file is left behind");

    /* a fresh model from another seed, a fresh optimizer: everything differs before the load */
    ssm_model *m2 = small_model(8, 2, 99);
    ssm_optim *o2 = ssm_optim_new(SSM_OPT_ADAMW, m2->ps, 1e-2, 0.01);
    ck_assert(memcmp(m->ps->values->data, m2->ps->values->data, flat_bytes(m)) != 0);
    ssm_train_state st2;
    memset(&st2, 0, sizeof st2);
    ck_assert_msg(ssm_ckpt_load(path, m2, o2, &st2) == SSM_OK, "%s", ssm_last_error());

    /* every parameter, moment and buffer bit for bit */
    ck_assert_int_eq(m->ps->n, m2->ps->n);
    for (int i = 0; i < m->ps->n; i++) {
        const ssm_tensor *p = m->ps->p[i], *q = m2->ps->p[i];
        ck_assert_str_eq(p->name, q->name);
        size_t off = (size_t)((char *)p->data - (char *)m->ps->values->data);
        size_t nb = (size_t)p->numel * sizeof(float);
        ck_assert_msg(memcmp(p->data, q->data, nb) == 0, "parameter %s differs", p->name);
        ck_assert_msg(memcmp((char *)o->m->data + off, (char *)o2->m->data + off, nb) == 0,
                      "m of %s differs", p->name);
        ck_assert_msg(memcmp((char *)o->v->data + off, (char *)o2->v->data + off, nb) == 0,
                      "v of %s differs", p->name);
    }
    ck_assert(memcmp(o->m->data, o2->m->data, flat_bytes(m)) == 0);
    ck_assert(memcmp(o->v->data, o2->v->data, flat_bytes(m)) == 0);
    snapshot s = take_snapshot(m, o);
    assert_snapshot(&s, m2, o2); /* buffers too */
    free_snapshot(&s);
    ck_assert_int_eq(o2->step, 3);
    ck_assert_int_eq(st2.step, st.step);
    ck_assert_int_eq(st2.epoch, st.epoch);
    ck_assert_int_eq(st2.data_index, st.data_index);
    ck_assert_uint_eq(st2.seed, st.seed);
    ck_assert_uint_eq(st2.rng_offset, st.rng_offset);
    ck_assert_double_eq(st2.best_metric, st.best_metric);
    ck_assert_str_eq(st2.config, st.config);

    /* evaluation-only load (no optimizer): parameters only, moments of o2 untouched */
    ssm_model *m3 = small_model(8, 2, 5);
    ck_assert_int_eq(ssm_ckpt_load(path, m3, NULL, &st2), SSM_OK);
    ck_assert(memcmp(m->ps->values->data, m3->ps->values->data, flat_bytes(m)) == 0);

    ssm_optim_free(o);
    ssm_optim_free(o2);
    ssm_model_free(m);
    ssm_model_free(m2);
    ssm_model_free(m3);
    tu_rm_tree(dir);
}
END_TEST

/* Load `path` into m/o: must fail with every needle in the message, touching nothing. */
static void expect_bad(const char *path, ssm_model *m, ssm_optim *o, const char *const *needles) {
    snapshot s = take_snapshot(m, o);
    ssm_train_state st;
    fill_state(&st);
    ssm_train_state before = st;
    ck_assert_msg(ssm_ckpt_load(path, m, o, &st) == SSM_ERR, "%s loaded (expected: %s)", path,
                  needles[0]);
    for (int i = 0; needles[i]; i++) ck_assert_contains(ssm_last_error(), needles[i]);
    assert_snapshot(&s, m, o);
    ck_assert_msg(memcmp(&st, &before, sizeof st) == 0, "the train state changed");
    free_snapshot(&s);
}
#define EXPECT_BAD(path, m, o, ...) expect_bad((path), (m), (o), (const char *const[]){__VA_ARGS__, NULL})

START_TEST(ckpt_bad_files) {
    char dir[512], good[600], bad[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(good, sizeof good, "%s/good.h5", dir);
    ssm_model *m = small_model(8, 2, 1);
    ssm_optim *o = stepped_optim(m, 2, 1);
    ssm_train_state st;
    fill_state(&st);
    ck_assert_int_eq(ssm_ckpt_save(good, m, o, &st), SSM_OK);
    size_t n;
    char *bytes = tu_slurp(good, &n);
    ck_assert_uint_gt(n, 4096);

    /* the target: another model of the same architecture */
    ssm_model *t = small_model(8, 2, 42);
    ssm_optim *to = stepped_optim(t, 1, 42);

    /* missing file */
    snprintf(bad, sizeof bad, "%s/nope.h5", dir);
    EXPECT_BAD(bad, t, to, "nope.h5", "cannot open");

    /* truncated: the first half of a valid checkpoint */
    snprintf(bad, sizeof bad, "%s/truncated.h5", dir);
    tu_spit(bad, bytes, n / 2);
    EXPECT_BAD(bad, t, to, "truncated.h5");

    /* not HDF5 at all */
    snprintf(bad, sizeof bad, "%s/text.h5", dir);
    spit_text(bad, "[model]\nd_model = 8\n");
    EXPECT_BAD(bad, t, to, "text.h5");

    /* truncated at other lengths too */
    snprintf(bad, sizeof bad, "%s/truncated.h5", dir);
    for (int k = 1; k < 8; k++) {
        tu_spit(bad, bytes, n * (size_t)k / 8);
        EXPECT_BAD(bad, t, to, "truncated.h5");
    }

    /* corrupted raw data: one bit of decoder.weight's values (HDF5 checksums no raw data) */
    snprintf(bad, sizeof bad, "%s/corrupted.h5", dir);
    const ssm_tensor *dw = ssm_params_find(m->ps, "decoder.weight");
    size_t dwn = (size_t)dw->numel * sizeof(float);
    char *at = memmem(bytes, n, dw->data, dwn);
    ck_assert_msg(at != NULL, "decoder.weight not found in the file");
    char *c = malloc(n);
    memcpy(c, bytes, n);
    c[(at - bytes) + dwn / 2] ^= 0x10;
    tu_spit(bad, c, n);
    /* the whole-file CRC-32 first, before HDF5 reads the file */
    EXPECT_BAD(bad, t, to, "corrupted.h5", "checksum mismatch", "corrupted or truncated");
    /* behind it (the header rewritten for the damaged bytes), the dataset's own checksum */
    ck_assert_msg(ssm_ckpt_seal(bad) == SSM_OK, "%s", ssm_last_error());
    EXPECT_BAD(bad, t, to, "corrupted.h5", "/params/decoder.weight", "corrupted");

    /* the header: damaged, cut short, another length */
    memcpy(c, bytes, n);
    ck_assert(!memcmp(c, "ssmtrain checkpoint\nformat_version 2\nhdf5_bytes ", 48));
    c[20] = 'F';
    tu_spit(bad, c, n);
    EXPECT_BAD(bad, t, to, "corrupted.h5", "header is corrupted");
    memcpy(c, bytes, n);
    c[300] = 1; /* the padding */
    tu_spit(bad, c, n);
    EXPECT_BAD(bad, t, to, "corrupted.h5", "header is corrupted", "not zero");
    tu_spit(bad, bytes, 100);
    EXPECT_BAD(bad, t, to, "corrupted.h5", "truncated", "512-byte");
    memcpy(c, bytes, n);
    tu_spit(bad, c, n - 1);
    EXPECT_BAD(bad, t, to, "corrupted.h5", "truncated or extended");
    c[0] = 'S';
    tu_spit(bad, c, n);
    EXPECT_BAD(bad, t, to, "corrupted.h5", "not an ssmtrain checkpoint");

    /* corrupted anywhere: bytes flipped in the middle, then 8 bytes at 63 places
     * across the file. Each load fails (naming the file, the model untouched) or,
     * where the bytes were unused, loads exactly what was saved: never other values. */
    memcpy(c, bytes, n);
    for (size_t k = n / 2 - 16; k < n / 2 + 16; k++) c[k] ^= 0x5a;
    tu_spit(bad, c, n);
    EXPECT_BAD(bad, t, to, "corrupted.h5");
    int detected = 0;
    for (int i = 1; i < 64; i++) {
        size_t pos = n * (size_t)i / 64;
        memcpy(c, bytes, n);
        for (size_t k = pos - 4; k < pos + 4; k++) c[k] ^= 0x5a;
        tu_spit(bad, c, n);
        snapshot s = take_snapshot(t, to);
        ssm_train_state st2;
        fill_state(&st2);
        if (ssm_ckpt_load(bad, t, to, &st2) == SSM_ERR) {
            ck_assert_contains(ssm_last_error(), "corrupted.h5");
            assert_snapshot(&s, t, to);
            detected++;
        } else {
            snapshot saved = take_snapshot(m, o);
            assert_snapshot(&saved, t, to); /* exactly the saved values */
            free_snapshot(&saved);
            memcpy(t->ps->values->data, s.values, s.nbytes); /* back to the target's own */
            memcpy(to->m->data, s.m, s.nbytes);
            memcpy(to->v->data, s.v, s.nbytes);
            to->step = s.ostep;
            char name[128];
            char *q = s.buffers;
            for (int j = 0; j < ssm_model_n_buffers(t); j++) {
                ssm_tensor *b = ssm_model_buffer(t, j, name, sizeof name);
                memcpy(b->data, q, (size_t)b->numel * sizeof(float));
                q += b->numel * (int64_t)sizeof(float);
            }
        }
        free_snapshot(&s);
    }
    ck_assert_int_ge(detected, 48); /* most bytes of a checkpoint matter */
    free(c);

    /* missing parameter: a checkpoint of a model with fewer layers */
    ssm_model *one = small_model(8, 1, 3);
    snprintf(bad, sizeof bad, "%s/one_layer.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(bad, one, NULL, &st), SSM_OK);
    EXPECT_BAD(bad, t, NULL, "one_layer.h5", "missing", "/params/layers.1.");
    /* and the other way: a parameter the model does not have */
    EXPECT_BAD(good, one, NULL, "good.h5", "layers.1.");

    /* optimizer moments absent (saved without the optimizer, as ssmexport --import does):
     * the parameters load, the moments and the optimizer's step restart from zero */
    ssm_model *noopt = small_model(8, 2, 4);
    snprintf(bad, sizeof bad, "%s/no_optim.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(bad, noopt, NULL, &st), SSM_OK);
    {
        ssm_model *t2 = small_model(8, 2, 3);
        ssm_optim *o2 = ssm_optim_new(SSM_OPT_ADAMW, t2->ps, 1e-3, 0.0);
        ssm_tensor_fill(o2->m, 0.5);
        ssm_tensor_fill(o2->v, 0.25);
        o2->step = 7;
        ssm_train_state st2;
        ck_assert_msg(ssm_ckpt_load(bad, t2, o2, &st2) == SSM_OK, "%s", ssm_last_error());
        ck_assert(memcmp(noopt->ps->values->data, t2->ps->values->data, flat_bytes(t2)) == 0);
        for (int64_t i = 0; i < o2->m->numel; i++) {
            ck_assert_float_eq(((float *)o2->m->data)[i], 0.0f);
            ck_assert_float_eq(((float *)o2->v->data)[i], 0.0f);
        }
        ck_assert_int_eq(o2->step, 0);
        ck_assert_int_eq(st2.step, st.step);
        ssm_optim_free(o2);
        ssm_model_free(t2);
    }

    /* wrong shapes: another d_model */
    ssm_model *wide = small_model(6, 2, 3);
    snprintf(bad, sizeof bad, "%s/d_model6.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(bad, wide, NULL, &st), SSM_OK);
    EXPECT_BAD(bad, t, to, "d_model6.h5", "shape", "encoder.weight");

    /* other layer type: a file that says layer = s4 */
    ssm_model *fake = small_model(8, 2, 3);
    snprintf(fake->cfg.layer, sizeof fake->cfg.layer, "s4");
    snprintf(bad, sizeof bad, "%s/s4.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(bad, fake, NULL, &st), SSM_OK);
    EXPECT_BAD(bad, t, to, "s4.h5", "layer", "s4 model");

    /* after all that, the good file still loads */
    ck_assert_msg(ssm_ckpt_load(good, t, to, &st) == SSM_OK, "%s", ssm_last_error());
    ck_assert(memcmp(m->ps->values->data, t->ps->values->data, flat_bytes(m)) == 0);

    free(bytes);
    ssm_optim_free(o);
    ssm_optim_free(to);
    ssm_model_free(m);
    ssm_model_free(t);
    ssm_model_free(one);
    ssm_model_free(noopt);
    ssm_model_free(wide);
    ssm_model_free(fake);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(ckpt_failed_save_keeps_file) {
    char dir[512], path[600], tmp[700], other[600];
    tu_tmpdir(dir, sizeof dir);
    ssm_model *m = small_model(8, 1, 1);
    ssm_optim *o = stepped_optim(m, 1, 1);
    ssm_train_state st;
    fill_state(&st);

    /* a directory that does not exist / a path through a regular file */
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(path, m, o, &st), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "x.h5");
    snprintf(path, sizeof path, "%s/plain", dir);
    spit_text(path, "a file, not a folder\n");
    snprintf(path, sizeof path, "%s/plain/x.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(path, m, o, &st), SSM_ERR);

    /* an existing checkpoint survives a save that cannot complete */
    snprintf(path, sizeof path, "%s/last.h5", dir);
    snprintf(other, sizeof other, "%s/copy.h5", dir);
    ck_assert_int_eq(ssm_ckpt_save(path, m, o, &st), SSM_OK);
    ck_assert_int_eq(ssm_ckpt_save(other, m, o, &st), SSM_OK);
    ssm_optim_step(o, 1.0, 1.0); /* the next save would write other values */
    st.step++;
    /* the temporary name is taken by a folder (works even as root) */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    char keep[800];
    snprintf(keep, sizeof keep, "%s/keep", tmp);
    spit_text(keep, "x"); /* non-empty: remove() cannot take it away */
    ck_assert_int_eq(ssm_ckpt_save(path, m, o, &st), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "last.h5.tmp");
    ck_assert_msg(same_file(path, other), "last.h5 changed by a failed save");
    tu_rm_tree(tmp);
    /* a read-only folder (not enforced for root) */
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(dir, 0555), 0);
        int rc = ssm_ckpt_save(path, m, o, &st);
        chmod(dir, 0755);
        ck_assert_int_eq(rc, SSM_ERR);
        ck_assert_msg(same_file(path, other), "last.h5 changed by a failed save");
    }
    ssm_optim_free(o);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ the binary */

/* Tiny recall task: 64 training examples of 16 tokens, 8 per batch (8 steps an
 * epoch), d_model 8, one S4D layer; constant LR after warm-up (a cosine
 * schedule depends on train.max_steps, so runs of different lengths differ). */
static const char *TINY =
    "; tests/test_train: tiny recall run\n"
    "[model]\n"
    "task = classification\n"
    "d_model = 8\n"
    "n_layers = 1\n"
    "layer = s4d\n"
    "dropout = %s\n"
    "pooling = last\n"
    "[layer]\n"
    "d_state = 4\n"
    "[data]\n"
    "task = recall\n"
    "seq_len = 16\n"
    "n_train = 64\n"
    "n_val = 32\n"
    "n_test = 32\n"
    "[optim]\n"
    "lr = 0.01\n"
    "schedule = constant\n"
    "warmup_steps = 3\n"
    "[train]\n"
    "seed = 3\n"
    "batch_size = 8\n"
    "max_steps = %d\n"
    "log_every = 1\n"
    "threads = 1\n";

/* Writes DIR/tiny.ini and returns its path in buf. */
static const char *tiny_config(const char *dir, const char *dropout, int steps, char *buf,
                               size_t n) {
    char text[2048];
    snprintf(text, sizeof text, TINY, dropout, steps);
    snprintf(buf, n, "%s/tiny.ini", dir);
    spit_text(buf, text);
    return buf;
}

START_TEST(train_end_to_end) {
    char dir[512], cfg_path[600], run[600], path[700];
    tu_tmpdir(dir, sizeof dir);
    tiny_config(dir, "0.0", 60, cfg_path, sizeof cfg_path);
    snprintf(run, sizeof run, "%s/run", dir);
    char *out;
    int rc = ssmtrain(dir, &out, cfg_path, "--out", run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);

    const char *files[] = {"config.ini", "metrics.jsonl", "ckpt/last.h5", "ckpt/best.h5"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", run, files[i]);
        ck_assert_msg(tu_exists(path), "%s missing", path);
    }
    snprintf(path, sizeof path, "%s/ckpt/last.h5.tmp", run);
    ck_assert(!tu_exists(path));

    /* config.ini: the resolved config, equal to the original's */
    ssm_config a, b;
    ck_assert_msg(ssm_config_load(&a, cfg_path, NULL, 0) == SSM_OK, "%s", ssm_last_error());
    snprintf(path, sizeof path, "%s/config.ini", run);
    ck_assert_msg(ssm_config_load(&b, path, NULL, 0) == SSM_OK, "%s", ssm_last_error());
    const ssm_cfg_key *k = ssm_config_diff(&a, &b);
    ck_assert_msg(k == NULL, "config.ini differs at %s.%s", k ? k->section : "", k ? k->key : "");
    ck_assert_int_eq(b.layer.d_state, 4);
    ck_assert_int_eq(b.layer.init, SSM_CFG_INIT_LIN); /* auto resolved */

    /* metrics.jsonl: one JSON object a line with the required keys */
    int nl;
    char **lines = metrics_lines(run, &nl);
    const char *common[] = {"step", "epoch", "split", "loss", "acc"};
    const char *train_keys[] = {"lr", "grad_norm", "tokens_per_s"};
    char v[64];
    int n_train = 0, n_val = 0, n_test = 0;
    double losses[60];
    for (int i = 0; i < nl; i++) {
        const char *l = lines[i];
        ck_assert_msg(l[0] == '{' && l[strlen(l) - 1] == '}', "not an object: %s", l);
        for (int j = 0; j < 5; j++)
            ck_assert_msg(json_field(l, common[j], v, sizeof v), "%s lacks %s", l, common[j]);
        json_field(l, "split", v, sizeof v);
        if (!strcmp(v, "train")) {
            for (int j = 0; j < 3; j++)
                ck_assert_msg(json_field(l, train_keys[j], v, sizeof v), "%s lacks %s", l,
                              train_keys[j]);
            json_field(l, "step", v, sizeof v);
            ck_assert_int_eq(atol(v), n_train + 1); /* log_every = 1 */
            json_field(l, "lr", v, sizeof v);
            /* warm-up: update k (1-based) uses lr * min(1, k / 3) */
            ck_assert_double_eq_tol(atof(v), (n_train < 2 ? (n_train + 1) / 3.0 : 1.0) * 0.01,
                                    1e-10); /* printed with %.9g */
            json_field(l, "grad_norm", v, sizeof v);
            ck_assert(isfinite(atof(v)) && atof(v) > 0);
            json_field(l, "loss", v, sizeof v);
            ck_assert_int_lt(n_train, 60);
            losses[n_train++] = atof(v);
        } else if (!strcmp(v, "val")) {
            n_val++;
        } else {
            ck_assert_str_eq(v, "test");
            n_test++;
        }
    }
    ck_assert_int_eq(n_train, 60);
    ck_assert_int_ge(n_val, 7); /* after each of the 7 full epochs, and at the end */
    ck_assert_int_eq(n_test, 1);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) first += losses[i] / 5, last += losses[55 + i] / 5;
    ck_assert_msg(last < first, "loss did not fall: first 5 mean %g, last 5 mean %g", first, last);
    free_lines(lines);

    /* the final line */
    char fl[256];
    final_line(out, fl, sizeof fl);
    double tl, ta;
    ck_assert_int_eq(sscanf(fl, "final: test_loss=%lf test_acc=%lf", &tl, &ta), 2);
    ck_assert(isfinite(tl) && tl > 0 && ta >= 0 && ta <= 1);

    /* the checkpoints load into a trainer built from the written config */
    ssm_trainer t;
    ck_assert_int_eq(ssm_trainer_init(&t, &b, run), SSM_OK);
    snprintf(path, sizeof path, "%s/ckpt/last.h5", run);
    ck_assert_msg(ssm_trainer_resume(&t, path, 1) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(t.st.step, 60);
    ck_assert_int_eq(t.opt->step, 60);
    ck_assert_int_eq(t.st.epoch, 7);
    ssm_trainer_free(&t);
    free(out);
    tu_rm_tree(dir);
}
END_TEST

/* --eval-only of best.h5 prints the training run's final line. */
START_TEST(eval_only_matches) {
    char dir[512], cfg_path[600], run[600], best[700];
    tu_tmpdir(dir, sizeof dir);
    tiny_config(dir, "0.1", 24, cfg_path, sizeof cfg_path);
    snprintf(run, sizeof run, "%s/run", dir);
    char *out, *out2, f1[256], f2[256];
    int rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--set", "train.eval_every=8", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    snprintf(best, sizeof best, "%s/ckpt/best.h5", run);
    rc = ssmtrain(dir, &out2, cfg_path, "--eval-only", best, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out2);
    ck_assert_str_eq(final_line(out2, f2, sizeof f2), final_line(out, f1, sizeof f1));
    free(out);
    free(out2);
    tu_rm_tree(dir);
}
END_TEST

/* max_steps = N, then --resume last.h5 --set train.max_steps=N+M, logs the same
 * train losses for steps N+1..N+M as one run of N+M, bit for bit. Dropout > 0
 * (RNG state) and an epoch boundary inside the resumed part (data order). Run with a
 * constant schedule and with a cosine one whose length is pinned by optim.decay_steps
 * (by default the cosine follows train.max_steps, which the resume changes). */
START_TEST(resume_is_exact) {
    enum { N = 11, M = 14 }; /* 8 steps an epoch: boundaries after steps 16 and 24 */
    char dir[512], cfg_path[600], one[600], two[600], ckpt[700], set[64], t1[64], t2[64];
    tu_tmpdir(dir, sizeof dir);
    tiny_config(dir, "0.2", N, cfg_path, sizeof cfg_path);
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    snprintf(set, sizeof set, "train.max_steps=%d", N + M);
    char *out, sched[64], decay[64];
    snprintf(sched, sizeof sched, "optim.schedule=%s", _i ? "cosine" : "constant");
    snprintf(decay, sizeof decay, "optim.decay_steps=%d", N + M);
    int rc = ssmtrain(dir, &out, cfg_path, "--out", one, "--set", set, "--set", sched, "--set",
                      decay, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    rc = ssmtrain(dir, &out, cfg_path, "--out", two, "--set", sched, "--set", decay, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.h5", two);
    rc = ssmtrain(dir, &out, cfg_path, "--resume", ckpt, "--set", set, "--set", sched, "--set",
                  decay, "--out", two, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);

    int n1, n2;
    char **a = metrics_lines(one, &n1), **b = metrics_lines(two, &n2);
    for (long s = 1; s <= N + M; s++) {
        ck_assert_msg(train_loss(a, s, t1, sizeof t1), "no step %ld in the single run", s);
        ck_assert_msg(train_loss(b, s, t2, sizeof t2), "no step %ld in the resumed run", s);
        ck_assert_msg(!strcmp(t1, t2), "step %ld: loss %s uninterrupted, %s resumed", s, t1, t2);
    }
    /* the resumed run (steps 12..25) appended to metrics.jsonl and crossed epochs 1 -> 2 -> 3 */
    char v[32];
    for (int i = 0; b[i]; i++)
        if (json_field(b[i], "step", v, sizeof v) && atol(v) == N + M &&
            json_field(b[i], "split", v, sizeof v) && !strcmp(v, "train")) {
            json_field(b[i], "epoch", v, sizeof v);
            ck_assert_int_eq(atol(v), 3);
        }
    free_lines(a);
    free_lines(b);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(config_error_exit_2) {
    char dir[512], cfg_path[600], run[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/bad.ini", dir);
    spit_text(cfg_path, "[model]\nd_model = 8\n\nd_modle = 3\n");
    snprintf(run, sizeof run, "%s/run", dir);
    char *out;
    int rc = ssmtrain(dir, &out, cfg_path, "--out", run, NULL);
    ck_assert_int_eq(rc, 2);
    ck_assert_contains(out, "bad.ini:4:");
    ck_assert_contains(out, "d_modle");
    ck_assert_contains(out, "did you mean model.d_model?");
    ck_assert_msg(!tu_exists(run), "%s was created", run);
    free(out);
    /* a bad --set too */
    tiny_config(dir, "0.0", 5, cfg_path, sizeof cfg_path);
    rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--set", "optim.lr=-1", NULL);
    ck_assert_int_eq(rc, 2);
    ck_assert_contains(out, "optim.lr");
    ck_assert_msg(!tu_exists(run), "%s was created", run);
    free(out);
    tu_rm_tree(dir);
}
END_TEST

/* --resume with a checkpoint of another model, or a damaged one: exit 1 with the
 * file and the problem named, and nothing in the run directory changes. */
START_TEST(resume_bad_checkpoint) {
    char dir[512], cfg_path[600], run[600], ckpt[700], trunc[700];
    tu_tmpdir(dir, sizeof dir);
    tiny_config(dir, "0.0", 8, cfg_path, sizeof cfg_path);
    snprintf(run, sizeof run, "%s/run", dir);
    char *out;
    int rc = ssmtrain(dir, &out, cfg_path, "--out", run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    const char *names[] = {"config.ini", "metrics.jsonl", "ckpt/last.h5", "ckpt/best.h5"};
    char *before[4], path[800];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", run, names[i]);
        before[i] = tu_slurp(path, &len[i]);
        ck_assert_ptr_nonnull(before[i]);
    }
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.h5", run);
    /* another d_model */
    rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--resume", ckpt, "--set",
                  "model.d_model=12", "--set", "train.max_steps=16", NULL);
    ck_assert_msg(rc == 1, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "last.h5");
    ck_assert_contains(out, "shape");
    free(out);
    /* a truncated copy; and --eval-only of it */
    snprintf(trunc, sizeof trunc, "%s/trunc.h5", dir);
    tu_spit(trunc, before[2], len[2] / 2);
    rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--resume", trunc, "--set",
                  "train.max_steps=16", NULL);
    ck_assert_msg(rc == 1, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "trunc.h5");
    free(out);
    rc = ssmtrain(dir, &out, cfg_path, "--eval-only", trunc, NULL);
    ck_assert_msg(rc == 1, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "trunc.h5");
    ck_assert_ptr_null(strstr(out, "final:"));
    free(out);
    for (int i = 0; i < 4; i++) {
        size_t n;
        snprintf(path, sizeof path, "%s/%s", run, names[i]);
        char *now = tu_slurp(path, &n);
        ck_assert_msg(now && n == len[i] && !memcmp(now, before[i], n), "%s changed", names[i]);
        free(now);
        free(before[i]);
    }
    tu_rm_tree(dir);
}
END_TEST

/* A non-finite loss or gradient: exit 3, a parameter named, last.h5 unchanged. */
START_TEST(nonfinite_stops) {
    char dir[512], cfg_path[600], run[600], ckpt[700], copy[700];
    tu_tmpdir(dir, sizeof dir);
    tiny_config(dir, "0.0", 8, cfg_path, sizeof cfg_path);
    snprintf(run, sizeof run, "%s/run", dir);
    char *out;
    int rc = ssmtrain(dir, &out, cfg_path, "--out", run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/last.h5", run);
    snprintf(copy, sizeof copy, "%s/last.copy", dir);
    size_t n;
    char *bytes = tu_slurp(ckpt, &n);
    tu_spit(copy, bytes, n);
    free(bytes);
    /* lr 10 with weight decay 10: AdamW multiplies every weight by 1 - 100 a step,
     * so the activations overflow within a few steps; no save before that */
    rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--resume", ckpt, "--set",
                  "train.max_steps=200", "--set", "optim.lr=10", "--set", "optim.weight_decay=10",
                  "--set", "optim.warmup_steps=0", "--set", "train.eval_every=1000", NULL);
    ck_assert_msg(rc == 3, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "not finite");
    ck_assert_contains(out, "parameter ");
    ck_assert_contains(out, "last.h5");
    /* the named parameter is one of the model's */
    const char *p = strstr(out, "parameter ") + strlen("parameter ");
    ck_assert_msg(!strncmp(p, "encoder.", 8) || !strncmp(p, "layers.", 7) ||
                      !strncmp(p, "norms.", 6) || !strncmp(p, "decoder.", 8),
                  "no parameter name in: %s", out);
    ck_assert_msg(same_file(ckpt, copy), "last.h5 changed");
    free(out);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ text tasks */

/* A few steps of ssmtrain on the LRA Text fixtures (aclImdb tree and reviews.json.gz)
 * and the Retrieval one (pairs through the retrieval decoder), and a missing data.path. */
START_TEST(text_tasks_train) {
    char dir[512], cfg_path[600], run[600], path[700], set_path[700];
    tu_tmpdir(dir, sizeof dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/text.ini", dir);
    spit_text(cfg_path, "[model]\nd_model = 8\nn_layers = 1\ndropout = 0\n[layer]\nd_state = 4\n"
                        "[data]\ntask = text\n[train]\nbatch_size = 2\nmax_steps = 3\n"
                        "log_every = 1\n");
    static const struct { const char *data, *task, *tokenizer; } runs[] = {
        {"imdb/aclImdb", "text", "char"}, {"imdb/reviews.json.gz", "text", "byte"},
        {"aan", "retrieval", "char"}};
    for (int i = 0; i < 3; i++) {
        char task[64], tok[64];
        snprintf(run, sizeof run, "%s/run%d", dir, i);
        snprintf(set_path, sizeof set_path, "data.path=%s", tu_data(runs[i].data));
        snprintf(task, sizeof task, "data.task=%s", runs[i].task);
        snprintf(tok, sizeof tok, "data.tokenizer=%s", runs[i].tokenizer);
        char *out;
        int rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--set", set_path, "--set", task,
                          "--set", tok, NULL);
        ck_assert_msg(rc == 0, "%s: exit %d:\n%s", runs[i].data, rc, out);
        char fl[256];
        double tl, ta;
        ck_assert_int_eq(sscanf(final_line(out, fl, sizeof fl), "final: test_loss=%lf test_acc=%lf",
                                &tl, &ta), 2);
        ck_assert(isfinite(tl) && tl > 0);
        free(out);
        ssm_config c;
        snprintf(path, sizeof path, "%s/config.ini", run);
        ck_assert_msg(ssm_config_load(&c, path, NULL, 0) == SSM_OK, "%s", ssm_last_error());
        int retrieval = !strcmp(runs[i].task, "retrieval");
        ck_assert_int_eq(c.data.min_freq, retrieval ? 1 : 15); /* resolved */
        ck_assert_int_eq(c.model.decoder, retrieval ? SSM_CFG_DEC_RETRIEVAL : SSM_CFG_DEC_LINEAR);
        /* the embedding has a row per id: 3 specials (everything rarer than 15 is <unk>),
         * 257 bytes, or the AAN fixture's 8 */
        ssm_ckpt_contents cc;
        snprintf(path, sizeof path, "%s/ckpt/last.h5", run);
        ck_assert_msg(ssm_ckpt_read_contents(path, &cc) == SSM_OK, "%s", ssm_last_error());
        int64_t want_vocab[3] = {3, 257, 8};
        int found = 0;
        for (int k = 0; k < cc.n; k++) {
            if (!strcmp(cc.names[k], "encoder.weight")) {
                ck_assert_int_eq(cc.values[k]->shape[0], want_vocab[i]);
                found |= 1;
            }
            if (!strcmp(cc.names[k], "decoder.retrieval.classifier.0.weight")) {
                ck_assert_int_eq(cc.values[k]->shape[0], 8);
                ck_assert_int_eq(cc.values[k]->shape[1], 32);
                found |= 2;
            }
        }
        ck_assert_int_eq(found, retrieval ? 3 : 1);
        ssm_ckpt_contents_free(&cc);
    }
    snprintf(run, sizeof run, "%s/missing", dir);
    char *out;
    int rc = ssmtrain(dir, &out, cfg_path, "--out", run, "--set", "data.path=/nonexistent/imdb",
                      NULL);
    ck_assert_int_eq(rc, 1); /* data that cannot be read; read before anything is written */
    ck_assert_contains(out, "/nonexistent/imdb: no such file or folder (expected the aclImdb "
                            "layout");
    ck_assert_msg(!tu_exists(run), "%s was created", run);
    free(out);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ optimizer groups */

/* The optimizer group whose range holds parameter `name`. */
static int group_of(const ssm_params *ps, const char *name) {
    ssm_tensor *t = ssm_params_find(ps, name);
    ck_assert_msg(t != NULL, "no parameter %s", name);
    int64_t off = ((const float *)t->data - (const float *)ps->values->data);
    for (int g = 0; g < SSM_MAX_GROUPS; g++)
        if (off >= ps->group_begin[g] && off < ps->group_begin[g + 1]) return g;
    ck_abort_msg("%s is in no group", name);
    return -1;
}

/* layer.dt_group and layer.b_group move dt and B between the optimizer groups, each with
 * the learning rate and weight decay it names. */
START_TEST(param_groups_from_config) {
    static const struct {
        const char *layer, *dt_set, *b_set, *dt_name, *b_name;
        int dt_group, b_group;
    } v[] = {
        {"s5", "default", "ssm_decay", "layers.0.seq.log_step", "layers.0.seq.B", SSM_GROUP_DEFAULT,
         SSM_GROUP_SSM_DECAY},
        {"s5", "ssm", "default", "layers.0.seq.log_step", "layers.0.seq.B", SSM_GROUP_SSM,
         SSM_GROUP_DEFAULT},
        {"s4", "no_decay", "ssm", "layers.0.layer.kernel.inv_dt", "layers.0.layer.kernel.B",
         SSM_GROUP_NO_DECAY, SSM_GROUP_SSM},
        {"s4d", "no_decay", "ssm", "layers.0.kernel.log_dt", NULL, SSM_GROUP_NO_DECAY, 0},
    };
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char text[1024], dt[64], b[64];
        snprintf(text, sizeof text,
                 "[model]\nd_model = 8\nn_layers = 1\nlayer = %s\npooling = last\n"
                 "[layer]\nd_state = 4\nlr = 0.002\nweight_decay = 0.001\n"
                 "[data]\ntask = recall\nseq_len = 16\nn_train = 16\nn_val = 8\nn_test = 8\n"
                 "[optim]\nlr = 0.03\nweight_decay = 0.07\n"
                 "[train]\nthreads = 1\nbatch_size = 8\n",
                 v[i].layer);
        snprintf(dt, sizeof dt, "layer.dt_group=%s", v[i].dt_set);
        snprintf(b, sizeof b, "layer.b_group=%s", v[i].b_set);
        const char *sets[] = {dt, b};
        ssm_config c;
        ck_assert_msg(ssm_config_load_string(&c, text, "t.ini", sets, 2) == SSM_OK, "%s",
                      ssm_last_error());
        ssm_trainer t;
        ck_assert_int_eq(ssm_trainer_init(&t, &c, dir), SSM_OK);
        ck_assert_int_eq(group_of(t.model->ps, v[i].dt_name), v[i].dt_group);
        if (v[i].b_name) ck_assert_int_eq(group_of(t.model->ps, v[i].b_name), v[i].b_group);
        const ssm_group_hparams *g = t.opt->group;
        ck_assert(g[SSM_GROUP_DEFAULT].lr == 0.03 && g[SSM_GROUP_DEFAULT].weight_decay == 0.07);
        ck_assert(g[SSM_GROUP_SSM].lr == 0.002 && g[SSM_GROUP_SSM].weight_decay == 0.001);
        ck_assert(g[SSM_GROUP_NO_DECAY].lr == 0.03 && g[SSM_GROUP_NO_DECAY].weight_decay == 0);
        ck_assert(g[SSM_GROUP_SSM_DECAY].lr == 0.002);
        ck_assert(g[SSM_GROUP_SSM_DECAY].weight_decay == 0.07);
        ssm_trainer_free(&t);
    }
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ configs/ */

/* One config file: loads, and its written form loads back equal (what the trainer stores). */
static void config_loads(const char *path, const char *name, ssm_config *c) {
    ck_assert_msg(ssm_config_load(c, path, NULL, 0) == SSM_OK, "%s", ssm_last_error());
    char *ini = ssm_config_to_ini(c);
    ssm_config c2;
    ck_assert_int_eq(ssm_config_load_string(&c2, ini, name, NULL, 0), SSM_OK);
    ck_assert_ptr_null(ssm_config_diff(c, &c2));
    free(ini);
}

/* Every .ini of SSM_SRCDIR/sub; `need` (NULL-terminated) must be among them. Returns the count. */
static int configs_in(const char *sub, const char *const *need) {
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/%s", SSM_SRCDIR, sub);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int count = 0, found[64] = {0}, n_need = 0;
    while (need[n_need]) n_need++;
    ck_assert_int_le(n_need, 64);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssm_config c;
        config_loads(path, e->d_name, &c);
        for (int i = 0; i < n_need; i++) found[i] |= !strcmp(e->d_name, need[i]);
        if (strstr(sub, "lra")) { /* <data.task>_<model.layer>.ini */
            char task[32], layer[32], want[80];
            ck_assert_int_eq(ssm_config_get(&c, "data.task", task, sizeof task), SSM_OK);
            ck_assert_int_eq(ssm_config_get(&c, "model.layer", layer, sizeof layer), SSM_OK);
            snprintf(want, sizeof want, "%s_%s.ini", task, layer);
            ck_assert_str_eq(e->d_name, want);
        }
        if (!strncmp(e->d_name, "listops_", 8)) {
            ck_assert_int_eq(c.data.task, SSM_CFG_DATA_LISTOPS);
            ck_assert_str_eq(c.data.path, "data/lra/listops");
            ck_assert_int_eq(c.data.seq_len, 2000);
        }
        count++;
    }
    closedir(d);
    for (int i = 0; i < n_need; i++) ck_assert_msg(found[i], "%s/%s missing", sub, need[i]);
    return count;
}

/* configs/lra holds <task>_<layer>.ini for every LRA task and layer type. */
START_TEST(every_config_loads) {
    const char *top[] = {"quickstart.ini", "selective_copy_mamba.ini", "induction_mamba.ini", NULL};
    static const char *tasks[] = {"listops", "text", "retrieval", "image", "pathfinder", "pathx"};
    static const char *layers[] = {"s4", "s4d", "s5", "mamba"};
    static char names[24][32];
    const char *lra[25];
    for (int i = 0; i < 24; i++) {
        snprintf(names[i], sizeof names[i], "%s_%s.ini", tasks[i / 4], layers[i % 4]);
        lra[i] = names[i];
    }
    lra[24] = NULL;
    ck_assert_int_ge(configs_in("configs", top), 3);
    ck_assert_int_eq(configs_in("configs/lra", lra), 24);
}
END_TEST

/* A format 1 checkpoint (tests/data/ckpt_format1.h5, written before the header of format
 * 2: a tiny S4D recall run, 2 steps) loads, with a warning that it was not verified as a
 * whole; one that is cut short or is not laid out as ssmtrain wrote format 1 is refused
 * before HDF5 opens it; --resume from it writes format 2. */
START_TEST(ckpt_format1_still_loads) {
    char old[1024];
    snprintf(old, sizeof old, "%s", tu_data("ckpt_format1.h5"));
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(old, &c) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(c.format, 1);
    ck_assert_int_eq(c.step, 2);
    ck_assert_str_eq(c.layer, "s4d");
    ck_assert(c.has_moments);
    ck_assert_int_gt(c.n_verified, 12);
    ssm_ckpt_contents_free(&c);
    ssm_config cfg;
    ssm_model *m = ssm_ckpt_model(old, SSM_CPU, &cfg); /* through ssm_ckpt_load */
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_free(m);

    char dir[512], bad[600], ini[600], run[600], last[700];
    tu_tmpdir(dir, sizeof dir);
    size_t n;
    char *bytes = tu_slurp(old, &n);
    snprintf(bad, sizeof bad, "%s/old.h5", dir);
    tu_spit(bad, bytes, n - 8);
    ck_assert_int_eq(ssm_ckpt_verify(bad, NULL), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "old.h5");
    ck_assert_contains(ssm_last_error(), "truncated or extended");
    /* an HDF5 file in another layout (superblock version 0) */
    ck_assert_int_eq(ssm_ckpt_verify(tu_data("adam.h5"), NULL), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "adam.h5");
    ck_assert_contains(ssm_last_error(), "not in the layout of a format 1 checkpoint");
    int format = 0;
    ck_assert_int_eq(ssm_ckpt_verify(old, &format), SSM_OK);
    ck_assert_int_eq(format, 1);

    /* --resume: the run continues and writes format 2 */
    snprintf(ini, sizeof ini, "%s/tiny.ini", dir);
    spit_text(ini, "[model]\nd_model = 8\nn_layers = 1\nlayer = s4d\npooling = last\n[layer]\n"
                   "d_state = 4\n[data]\ntask = recall\nseq_len = 16\nn_train = 8\nn_val = 8\n"
                   "n_test = 8\n[train]\nbatch_size = 8\nmax_steps = 4\nthreads = 1\n");
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(last, sizeof last, "%s/ckpt/last.h5", run);
    char *out;
    int rc = ssmtrain(dir, &out, ini, "--out", run, "--resume", old, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "checkpoint format 1");
    free(out);
    ck_assert_msg(ssm_ckpt_verify(last, &format) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(format, 2);
    ck_assert_msg(ssm_ckpt_read_contents(last, &c) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(c.step, 4);
    ck_assert_int_eq(c.format, 2);
    ssm_ckpt_contents_free(&c);
    free(bytes);
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("train");
    TCase *ck = tcase_create("checkpoint");
    tcase_add_test(ck, ckpt_round_trip);
    tcase_add_test(ck, ckpt_bad_files);
    tcase_add_test(ck, ckpt_failed_save_keeps_file);
    tcase_add_test(ck, ckpt_format1_still_loads);
    suite_add_tcase(s, ck);
    TCase *tool = tcase_create("ssmtrain");
    tcase_set_timeout(tool, 60);
    tcase_add_test(tool, train_end_to_end);
    tcase_add_test(tool, eval_only_matches);
    tcase_add_loop_test(tool, resume_is_exact, 0, 2);
    tcase_add_test(tool, config_error_exit_2);
    tcase_add_test(tool, resume_bad_checkpoint);
    tcase_add_test(tool, nonfinite_stops);
    tcase_add_test(tool, text_tasks_train);
    suite_add_tcase(s, tool);
    TCase *groups = tcase_create("groups");
    tcase_add_test(groups, param_groups_from_config);
    suite_add_tcase(s, groups);
    TCase *cf = tcase_create("configs");
    tcase_add_test(cf, every_config_loads);
    suite_add_tcase(s, cf);
    return tu_run(s, 1);
}
