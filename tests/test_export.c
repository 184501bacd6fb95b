/* ssmexport (tools/export.c, tools/safetensors.c, tools/ssmexport.c):
 *   - the safetensors bytes of a known tensor, written out by hand from the format's
 *     specification (an independent path to the writer);
 *   - S4D sequence model, BatchNorm: every parameter and buffer back bit for bit under
 *     its name, num_batches_tracked = the step, offsets contiguous, config.json;
 *   - Mamba LM: native (mamba_ssm names and MambaConfig, the tied lm_head.weight) and
 *     hf (backbone.embeddings.weight, MambaForCausalLM config);
 *   - errors: --format hf of a non-LM, corrupted and missing checkpoints, an unwritable
 *     output folder (no partial file), bad command lines (exit 2). */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "export.h"
#include "log.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

/* The file for {"x": F32 [2, 2] = 1, 2, 3, 4} with metadata {"a": "b"}, by the spec:
 * u64 LE header length, the JSON padded with spaces to a multiple of 8, the data LE. */
START_TEST(safetensors_bytes_by_hand) {
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    ssm_tensor *x = ssm_tensor_new(SSM_F32, SSM_CPU, SSM_DIMS(2, 2));
    float v[4] = {1, 2, 3, 4};
    memcpy(x->data, v, sizeof v);
    ssm_st_entry e = {.name = "x", .t = x};
    const char *meta[] = {"a", "b"};
    ck_assert_msg(ssm_st_write(path, &e, 1, meta, 1) == SSM_OK, "%s", ssm_last_error());
    const char *json =
        "{\"__metadata__\":{\"a\":\"b\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],"
        "\"data_offsets\":[0,16]}}";
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    unsigned char want[512] = {0};
    for (int i = 0; i < 8; i++) want[i] = (unsigned char)(hl >> (8 * i));
    memcpy(want + 8, json, jl);
    memset(want + 8 + jl, ' ', hl - jl);
    const unsigned char le[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40};
    memcpy(want + 8 + hl, le, 16);
    size_t n;
    char *got = tu_slurp(path, &n);
    ck_assert_uint_eq(n, 8 + hl + 16);
    ck_assert_msg(memcmp(got, want, n) == 0, "bytes differ from the spec's layout");
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert(!tu_exists(tmp));
    free(got);
    ssm_tensor_free(x);
    tu_rm_tree(dir);
}
END_TEST

static ssm_model *s4d_bn_model(void) {
    ssm_model_config mc = {0};
    snprintf(mc.layer, sizeof mc.layer, "s4d");
    mc.lcfg = (ssm_layer_config){.d_model = 6, .d_state = 4, .dt_min = 1e-3, .dt_max = 1e-1,
                                 .init = SSM_INIT_LIN, .l_max = 16};
    mc.embedding = 1;
    mc.d_input = 10;
    mc.d_output = 3;
    mc.n_layers = 2;
    mc.norm = SSM_NORM_BATCH;
    mc.residual = 1;
    mc.pool = SSM_POOL_MEAN;
    ssm_model *m = ssm_model_new(&mc, SSM_F32, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 3);
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        for (int64_t j = 0; j < b->numel; j++) ((float *)b->data)[j] = 0.5f + 0.125f * (float)(i + j);
    }
    return m;
}

static ssm_model *mamba_lm_model(void) {
    ssm_model_config mc = {0};
    snprintf(mc.layer, sizeof mc.layer, "mamba");
    mc.lcfg = (ssm_layer_config){.d_model = 8, .d_state = 4, .dt_min = 1e-3, .dt_max = 1e-1,
                                 .expand = 2, .d_conv = 3, .l_max = 16};
    mc.embedding = 1;
    mc.d_input = 11; /* padded to 16 */
    mc.n_layers = 2;
    mc.pool = SSM_POOL_NONE;
    mc.mamba_lm = 1;
    ssm_model *m = ssm_model_new(&mc, SSM_F32, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 4);
    return m;
}

static void save(ssm_model *m, const char *path, const char *config) {
    ssm_train_state st;
    memset(&st, 0, sizeof st);
    st.step = 42;
    snprintf(st.config, sizeof st.config, "%s", config);
    ck_assert_msg(ssm_ckpt_save(path, m, NULL, &st) == SSM_OK, "%s", ssm_last_error());
}

/* tensor `name` of the file equals t bit for bit (F32, same shape) */
static void expect_tensor(const ssm_st_file *f, const char *name, const ssm_tensor *t) {
    char dt[8];
    int nd;
    int64_t shape[SSM_MAX_DIMS];
    const uint8_t *bytes;
    size_t nb;
    ck_assert_msg(ssm_st_find(f, name, dt, &nd, shape, &bytes, &nb) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_str_eq(dt, "F32");
    ck_assert_int_eq(nd, t->ndim);
    for (int d = 0; d < nd; d++) ck_assert_int_eq(shape[d], t->shape[d]);
    ck_assert_uint_eq(nb, (size_t)t->numel * 4);
    ck_assert_msg(memcmp(bytes, t->data, nb) == 0, "%s: values differ", name);
}

/* data_offsets tile the data exactly (sorted by start: no gap, no overlap) */
static void expect_contiguous(const ssm_st_file *f) {
    size_t starts[256], ends[256], n = 0;
    for (const char *p = f->header; (p = strstr(p, "\"data_offsets\":[")); p++) {
        unsigned long long a, b;
        ck_assert_int_eq(sscanf(p + 16, "%llu,%llu", &a, &b), 2);
        ck_assert_uint_lt(n, 256);
        starts[n] = a, ends[n++] = b;
    }
    size_t pos = 0;
    for (size_t k = 0; k < n; k++) {
        size_t j = 0;
        while (j < n && starts[j] != pos) j++;
        ck_assert_msg(j < n, "no tensor starts at byte %zu", pos);
        pos = ends[j];
    }
    ck_assert_uint_eq(pos, f->data_size);
}

static char *export_dir(const char *path, const char *dir, ssm_export_format fmt) {
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(path, &c) == SSM_OK, "%s", ssm_last_error());
    ck_assert_msg(ssm_export(&c, fmt, dir) == SSM_OK, "%s", ssm_last_error());
    ssm_ckpt_contents_free(&c);
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    char *text = tu_slurp(cfg, NULL);
    ck_assert_ptr_nonnull(text);
    return text;
}

START_TEST(export_s4d_batchnorm) {
    char dir[512], ck[600], out[600], st[700];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/m.h5", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    ssm_model *m = s4d_bn_model();
    save(m, ck, "[model]\nencoder = embedding\nd_model = 6\nprenorm = false\n[layer]\ndt_min = 0.001\n");
    char *cfg = export_dir(ck, out, SSM_EXPORT_NATIVE);
    snprintf(st, sizeof st, "%s/model.safetensors", out);
    ssm_st_file f;
    ck_assert_msg(ssm_st_read(st, &f) == SSM_OK, "%s", ssm_last_error());
    char name[128];
    for (int i = 0; i < m->ps->n; i++) { /* example.py's names: layers.* -> s4_layers.* */
        const char *pn = m->ps->p[i]->name;
        snprintf(name, sizeof name, "%s%s", strncmp(pn, "layers.", 7) ? "" : "s4_", pn);
        expect_tensor(&f, name, m->ps->p[i]);
    }
    ck_assert_ptr_nonnull(strstr(f.header, "\"s4_layers.1.kernel.log_A_real\""));
    ck_assert_ptr_null(strstr(f.header, "\"layers."));
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        expect_tensor(&f, name, b);
    }
    char dt[8];
    int nd;
    int64_t shape[SSM_MAX_DIMS];
    const uint8_t *bytes;
    size_t nb;
    ck_assert_int_eq(ssm_st_find(&f, "norms.1.num_batches_tracked", dt, &nd, shape, &bytes, &nb),
                     SSM_OK);
    ck_assert_str_eq(dt, "I64");
    ck_assert_int_eq(nd, 0);
    int64_t steps;
    memcpy(&steps, bytes, 8);
    ck_assert_int_eq(steps, 42);
    expect_contiguous(&f);
    ck_assert_ptr_nonnull(strstr(f.header, "\"__metadata__\":{\"format\":\"pt\""));
    ck_assert_msg(strstr(cfg, "\"layer\":\"s4d\"") && strstr(cfg, "\"d_input\":10") &&
                      strstr(cfg, "\"d_output\":3") && strstr(cfg, "\"step\":42") &&
                      strstr(cfg, "\"model\":{\"encoder\":\"embedding\",\"d_model\":6,\"prenorm\":false}") &&
                      strstr(cfg, "\"dt_min\":0.001"),
                  "config.json: %s", cfg);
    /* no HF class for a sequence classifier: an error, and nothing written */
    char hf[600];
    snprintf(hf, sizeof hf, "%s/hf", dir);
    ssm_ckpt_contents c;
    ck_assert_int_eq(ssm_ckpt_read_contents(ck, &c), SSM_OK);
    ck_assert_int_eq(ssm_export(&c, SSM_EXPORT_HF, hf), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "MambaForCausalLM"));
    ck_assert(!tu_exists(hf));
    ssm_ckpt_contents_free(&c);
    ssm_st_free(&f);
    free(cfg);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(export_mamba_lm) {
    char dir[512], ck[600], out[600], st[700];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/lm.h5", dir);
    ssm_model *m = mamba_lm_model();
    save(m, ck, "[model]\ntask = lm\n[layer]\ndt_min = 0.002\ndt_max = 0.05\n");
    const ssm_tensor *emb = ssm_params_find(m->ps, "backbone.embedding.weight");
    ck_assert_ptr_nonnull(emb);
    for (int fmt = 0; fmt < 2; fmt++) {
        snprintf(out, sizeof out, "%s/%s", dir, fmt ? "hf" : "native");
        char *cfg = export_dir(ck, out, fmt ? SSM_EXPORT_HF : SSM_EXPORT_NATIVE);
        snprintf(st, sizeof st, "%s/model.safetensors", out);
        ssm_st_file f;
        ck_assert_msg(ssm_st_read(st, &f) == SSM_OK, "%s", ssm_last_error());
        for (int i = 0; i < m->ps->n; i++) {
            const char *name = m->ps->p[i]->name;
            if (fmt && !strcmp(name, "backbone.embedding.weight")) name = "backbone.embeddings.weight";
            expect_tensor(&f, name, m->ps->p[i]);
        }
        expect_tensor(&f, "lm_head.weight", emb); /* tied: the embedding's values */
        ck_assert_int_eq(strstr(f.header, "\"backbone.embedding.weight\"") != NULL, !fmt);
        expect_contiguous(&f);
        if (!fmt)
            ck_assert_msg(strstr(cfg, "\"d_model\":8") && strstr(cfg, "\"n_layer\":2") &&
                              strstr(cfg, "\"vocab_size\":16") && strstr(cfg, "\"d_state\":4") &&
                              strstr(cfg, "\"d_conv\":3") && strstr(cfg, "\"expand\":2") &&
                              strstr(cfg, "\"dt_rank\":1") && strstr(cfg, "\"dt_min\":0.002") &&
                              strstr(cfg, "\"tie_embeddings\":true"),
                          "mamba_ssm config.json: %s", cfg);
        else
            ck_assert_msg(strstr(cfg, "\"architectures\":[\"MambaForCausalLM\"]") &&
                              strstr(cfg, "\"hidden_size\":8") && strstr(cfg, "\"state_size\":4") &&
                              strstr(cfg, "\"num_hidden_layers\":2") &&
                              strstr(cfg, "\"intermediate_size\":16") &&
                              strstr(cfg, "\"conv_kernel\":3") &&
                              strstr(cfg, "\"time_step_rank\":1") &&
                              strstr(cfg, "\"time_step_max\":0.05") &&
                              /* floats keep a decimal point: transformers' strict
                               * MambaConfig rejects an int for a float field */
                              strstr(cfg, "\"time_step_scale\":1.0,") &&
                              strstr(cfg, "\"initializer_range\":0.1,"),
                          "hf config.json: %s", cfg);
        ssm_st_free(&f);
        free(cfg);
    }
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

/* The binary: success line, and every kind of error with its exit status. */
START_TEST(ssmexport_cli_and_errors) {
    char dir[512], ck[600], bad[600], out[600], deny[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/m.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    ssm_model *m = s4d_bn_model();
    save(m, ck, "[model]\nd_model = 6\n");
    char *o;
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, ck, out, NULL), 0);
    ck_assert_msg(strstr(o, "s4d model, step 42"), "%s", o);
    free(o);
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, "--help", NULL), 0);
    ck_assert_msg(strstr(o, "--format native|hf") && strstr(o, "Exit status"), "%s", o);
    free(o);
    struct {
        const char *a[4], *msg;
        int rc;
    } cases[] = {
        {{ck, NULL}, "need CKPT.h5 and OUT_DIR", 2},
        {{ck, out, "--format", "onnx"}, "unknown format 'onnx'; expected native|hf", 2},
        {{ck, out, "--fromat=hf", NULL}, "unknown option '--fromat=hf'", 2},
        {{ck, out, "--format", "hf"}, "MambaForCausalLM", 2},
        {{"/nonexistent/m.h5", out, NULL}, "/nonexistent/m.h5: cannot open", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tu_run_tool("ssmexport", dir, &o, cases[i].a[0], cases[i].a[1], cases[i].a[2],
                             cases[i].a[3], NULL);
        ck_assert_msg(rc == cases[i].rc && strstr(o, cases[i].msg), "case %zu: rc %d: %s", i, rc, o);
        free(o);
    }
    /* a corrupted parameter: named, nothing written */
    size_t n;
    char *bytes = tu_slurp(ck, &n);
    ssm_tensor *C = ssm_params_find(m->ps, "layers.0.kernel.C");
    char *at = memmem(bytes, n, C->data, (size_t)C->numel * 4);
    ck_assert_ptr_nonnull(at);
    at[5] ^= 0x10;
    tu_spit(bad, bytes, n);
    free(bytes);
    char out2[700];
    snprintf(out2, sizeof out2, "%s/out2", dir);
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, bad, out2, NULL), 1);
    ck_assert_msg(strstr(o, "bad.h5: checksum mismatch"), "%s", o); /* the whole file's CRC-32 */
    ck_assert(!tu_exists(out2));
    free(o);
    ck_assert_msg(ssm_ckpt_seal(bad) == SSM_OK, "%s", ssm_last_error()); /* then the dataset's */
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, bad, out2, NULL), 1);
    ck_assert_msg(strstr(o, "/params/layers.0.kernel.C is corrupted"), "%s", o);
    ck_assert(!tu_exists(out2));
    free(o);
    /* an output folder that cannot be created */
    snprintf(deny, sizeof deny, "%s/m.h5/sub", dir);
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, ck, deny, NULL), 1);
    ck_assert_msg(strstr(o, "m.h5: exists and is not a directory"), "%s", o);
    free(o);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("export");
    TCase *t = tcase_create("export");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, safetensors_bytes_by_hand);
    tcase_add_test(t, export_s4d_batchnorm);
    tcase_add_test(t, export_mamba_lm);
    tcase_add_test(t, ssmexport_cli_and_errors);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
