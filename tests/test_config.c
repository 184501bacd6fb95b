/* Configuration (tools/ssmconfig.c) and command line (tools/cli.c): every error
 * kind names the file, line and key; defaults; --set; round trip through the
 * serialised INI; docs/CONFIG.md up to date with the key table.
 *
 * `tests/test_config --write-docs` regenerates docs/CONFIG.md from the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "ssmconfig.h"
#include "log.h"
#include "testutil.h"

#define DOCS_PATH SSM_SRCDIR "/docs/CONFIG.md"

/* Load `text` as "t.ini" with optional overrides; returns the status. */
static int load_text(ssm_config *c, const char *text, const char *const *sets, size_t n) {
    return ssm_config_load_string(c, text, "t.ini", sets, n);
}

/* The load must fail with a message containing every one of the NULL-terminated needles. */
#define expect_error(text, sets, n, ...)                                                  \
    do {                                                                                  \
        ssm_config c_;                                                                    \
        ck_assert_int_eq(load_text(&c_, (text), (sets), (n)), SSM_ERR);                   \
        const char *needles_[] = {__VA_ARGS__, NULL};                                     \
        for (int i_ = 0; needles_[i_]; i_++)                                              \
            ck_assert_msg(strstr(ssm_last_error(), needles_[i_]), "'%s' lacks '%s'",       \
                          ssm_last_error(), needles_[i_]);                                \
    } while (0)

static void load_ok(ssm_config *c, const char *text, const char *const *sets, size_t n) {
    ck_assert_msg(load_text(c, text, sets, n) == SSM_OK, "%s", ssm_last_error());
}

/* ------------------------------------------------------------ the table */

START_TEST(table_is_consistent) {
    size_t ns;
    const char *const *sec = ssm_cfg_sections(&ns);
    ck_assert_uint_ge(ns, 6);
    const char *want[] = {"model", "layer", "data", "optim", "train", "checkpoint"};
    for (size_t i = 0; i < 6; i++) ck_assert_str_eq(sec[i], want[i]);
    size_t s = 0;
    for (size_t i = 0; i < ssm_cfg_nkeys; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        /* keys of a section are contiguous and in section order (the writer relies on it) */
        while (s < ns && strcmp(sec[s], k->section)) s++;
        ck_assert_msg(s < ns, "%s.%s out of section order", k->section, k->key);
        ck_assert_ptr_eq(ssm_cfg_find(k->section, k->key), k);
        ck_assert_msg((k->type == SSM_CFG_ENUM) == (k->choices != NULL), "%s.%s", k->section, k->key);
        ck_assert_msg(k->doc && k->doc[0], "%s.%s has no doc", k->section, k->key);
    }
    ck_assert_int_eq(ssm_cfg_find("optim", "betas")->type, SSM_CFG_REAL2);
    ck_assert_int_eq(ssm_cfg_find("data", "path")->type, SSM_CFG_STR);
    ck_assert_int_eq(ssm_cfg_find("model", "prenorm")->type, SSM_CFG_BOOL);
    ck_assert_int_eq(ssm_cfg_find("model", "d_model")->type, SSM_CFG_INT);
    ck_assert_int_eq(ssm_cfg_find("model", "dropout")->type, SSM_CFG_REAL);
    ck_assert_int_eq(ssm_cfg_find("model", "layer")->type, SSM_CFG_ENUM);
    ck_assert_ptr_null(ssm_cfg_find("model", "nope"));
    for (int t = 0; t < SSM_CFG_DATA_NTASKS; t++) {
        const ssm_cfg_data_task_info *ti = ssm_cfg_task_info((ssm_cfg_data_task)t);
        ck_assert(ti->generated || ti->files);
        ck_assert_int_gt(ti->seq_len, 0);
    }
}
END_TEST

START_TEST(defaults) {
    ssm_config d, c;
    ssm_config_defaults(&d);
    ck_assert_int_eq(d.model.task, SSM_CFG_TASK_CLASSIFICATION);
    ck_assert_int_eq(d.model.d_model, 128);
    ck_assert_int_eq(d.model.n_layers, 4);
    ck_assert_int_eq(d.model.layer, SSM_CFG_LAYER_S4D);
    ck_assert(!d.model.prenorm && d.model.residual && d.model.tie_embeddings);
    ck_assert_int_eq(d.layer.d_state, 0); /* auto until resolved */
    ck_assert_double_eq(d.layer.dt_min, 0.001);
    ck_assert_double_eq(d.layer.dt_max, 0.1);
    ck_assert_double_eq(d.layer.lr, 0.001);
    ck_assert_int_eq(d.layer.expand, 2);
    ck_assert_int_eq(d.layer.d_conv, 4);
    ck_assert_int_eq(d.optim.optimizer, SSM_OPT_ADAMW);
    ck_assert_double_eq(d.optim.lr, 0.01);
    ck_assert_double_eq(d.optim.betas[0], 0.9);
    ck_assert_double_eq(d.optim.betas[1], 0.999);
    ck_assert_double_eq(d.optim.eps, 1e-8);
    ck_assert_int_eq(d.optim.schedule, SSM_SCHED_COSINE);
    ck_assert_int_eq(d.train.batch_size, 64);
    ck_assert_int_eq(d.train.log_every, 50);
    ck_assert_int_eq(d.train.device, SSM_CPU);
    ck_assert_str_eq(d.checkpoint.dir, "ckpt");
    ck_assert_str_eq(d.data.path, "");
    ck_assert(d.checkpoint.keep_best);
    ck_assert_int_eq(ssm_config_check(&d), SSM_OK);

    /* An empty file is the defaults, resolved. */
    load_ok(&c, "", NULL, 0);
    ck_assert_int_eq(c.layer.init, SSM_CFG_INIT_LIN); /* s4d */
    ck_assert_int_eq(c.layer.discretization, SSM_CFG_DISC_ZOH);
    ck_assert_int_eq(c.layer.d_state, 64);
    ck_assert_int_eq(c.layer.dt_rank, 8); /* ceil(128 / 16) */
    ck_assert_int_eq(c.data.seq_len, 2000); /* listops */
    ssm_config_resolve(&d);
    ck_assert_ptr_null(ssm_config_diff(&c, &d));
}
END_TEST

START_TEST(resolve_auto_values) {
    ssm_config c;
    load_ok(&c, "[model]\nlayer = s4\n", NULL, 0);
    ck_assert_int_eq(c.layer.init, SSM_CFG_INIT_LEGS);
    ck_assert_int_eq(c.layer.discretization, SSM_CFG_DISC_BILINEAR);
    load_ok(&c, "[model]\nlayer = mamba\nd_model = 40\n", NULL, 0);
    ck_assert_int_eq(c.layer.init, SSM_CFG_INIT_REAL);
    ck_assert_int_eq(c.layer.d_state, 16);
    ck_assert_int_eq(c.layer.dt_rank, 3);
    load_ok(&c, "[model]\ntask = lm\npooling = none\n[data]\ntask = induction\n", NULL, 0);
    ck_assert_int_eq(c.data.seq_len, 256);
    ck_assert_int_eq(c.data.vocab, 16);
    /* explicit values are kept */
    load_ok(&c, "[layer]\nd_state = 32\ninit = inv\n[data]\nseq_len = 600\n", NULL, 0);
    ck_assert_int_eq(c.layer.d_state, 32);
    ck_assert_int_eq(c.layer.init, SSM_CFG_INIT_INV);
    ck_assert_int_eq(c.data.seq_len, 600);
    /* the text tasks: S4's min_freq, and the retrieval head for document pairs */
    load_ok(&c, "[data]\ntask = text\npath = x\n", NULL, 0);
    ck_assert_int_eq(c.data.min_freq, 15);
    ck_assert_int_eq(c.data.seq_len, 4096);
    ck_assert_int_eq(c.model.decoder, SSM_CFG_DEC_LINEAR);
    load_ok(&c, "[data]\ntask = retrieval\npath = x\n", NULL, 0);
    ck_assert_int_eq(c.data.min_freq, 1);
    ck_assert_int_eq(c.data.seq_len, 4000);
    ck_assert_int_eq(c.model.decoder, SSM_CFG_DEC_RETRIEVAL);
    load_ok(&c, "[data]\ntask = retrieval\npath = x\nmin_freq = 4\ntokenizer = byte\n", NULL, 0);
    ck_assert_int_eq(c.data.min_freq, 4);
    ck_assert_int_eq(c.data.tokenizer, SSM_CFG_TOK_BYTE);
    load_ok(&c, "", NULL, 0);
    ck_assert_int_eq(c.data.min_freq, 0); /* listops: unused */
    ck_assert_int_eq(c.model.decoder, SSM_CFG_DEC_LINEAR);
}
END_TEST

START_TEST(syntax_accepted) {
    ssm_config c;
    load_ok(&c,
            "; comment\n# comment\n\n[model]\r\n  d_model = 256   ; inline comment\r\n"
            "\td_input=7\nprenorm = YES\n[optim]\nbetas = 0.8,0.95\n[model]\nn_layers=6\n"
            "[data]\npath = \ntask = listops",
            NULL, 0);
    ck_assert_int_eq(c.model.d_model, 256);
    ck_assert_int_eq(c.model.d_input, 7);
    ck_assert(c.model.prenorm);
    ck_assert_int_eq(c.model.n_layers, 6);
    ck_assert_double_eq(c.optim.betas[0], 0.8);
    ck_assert_double_eq(c.optim.betas[1], 0.95);
    load_ok(&c, "\xEF\xBB\xBF[train]\nseed = 5\n", NULL, 0); /* UTF-8 BOM */
    ck_assert_int_eq(c.train.seed, 5);
    expect_error("\xEF\xBB\xBF[trian]\n", NULL, 0, "t.ini:1:", "did you mean [train]?");
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(error_unknown_section) {
    expect_error("[model]\nd_model = 8\n[modle]\nd_model = 3\n", NULL, 0, "t.ini:3:",
                 "unknown section [modle]", "did you mean [model]?");
    /* caught even with no key under it */
    expect_error("[model]\n\n[trainer]\n", NULL, 0, "t.ini:3:", "[trainer]", "did you mean [train]?");
    expect_error("[zzz]\n", NULL, 0, "t.ini:1:", "[zzz]", "sections: [model]");
}
END_TEST

START_TEST(error_unknown_key) {
    expect_error("[model]\nd_model = 8\nd_modle = 3\n", NULL, 0, "t.ini:3:",
                 "unknown key model.d_modle", "did you mean model.d_model?");
    expect_error("[model]\nD_MODEL = 8\n", NULL, 0, "t.ini:2:", "did you mean model.d_model?");
    /* the same key in another section */
    expect_error("[train]\nlr = 0.1\n", NULL, 0, "t.ini:2:", "unknown key train.lr",
                 "did you mean layer.lr or optim.lr?");
    expect_error("[checkpoint]\nbatch_size = 3\n", NULL, 0, "did you mean train.batch_size?");
    /* nothing near: no suggestion */
    ssm_config c;
    ck_assert_int_eq(load_text(&c, "[optim]\nfrobnicate = 1\n", NULL, 0), SSM_ERR);
    ck_assert_ptr_null(strstr(ssm_last_error(), "did you mean"));
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "t.ini:2: unknown key optim.frobnicate"));
}
END_TEST

START_TEST(error_wrong_type) {
    expect_error("[model]\n\nd_model = abc\n", NULL, 0, "t.ini:3:", "model.d_model",
                 "expected an integer, got 'abc'");
    expect_error("[model]\nd_model = 12.5\n", NULL, 0, "t.ini:2:", "expected an integer");
    expect_error("[model]\nd_model = 99999999999999999999999\n", NULL, 0, "expected an integer");
    expect_error("[model]\nprenorm = maybe\n", NULL, 0, "t.ini:2:", "model.prenorm",
                 "expected true or false, got 'maybe'");
    expect_error("[model]\ndropout = lots\n", NULL, 0, "t.ini:2:", "model.dropout",
                 "expected a number, got 'lots'");
    expect_error("[optim]\nlr = nan\n", NULL, 0, "optim.lr", "expected a number");
    expect_error("[optim]\nbetas = 0.9\n", NULL, 0, "t.ini:2:", "optim.betas",
                 "expected two numbers 'a, b', got '0.9'");
    expect_error("[optim]\nbetas = 0.9, 0.99, 0.999\n", NULL, 0, "expected two numbers");
    expect_error("[model]\nd_model = 64 # wide\n", NULL, 0, "t.ini:2:",
                 "inline comments start with ';'");
    expect_error("[data]\npath = a;b\n", NULL, 0, "t.ini:2:", "data.path", "';'");
}
END_TEST

START_TEST(error_out_of_range) {
    expect_error("[model]\nd_model = 0\n", NULL, 0, "t.ini:2:", "model.d_model",
                 "0 is out of range: expected an integer in [1, 1048576]");
    expect_error("[model]\ndropout = 1\n", NULL, 0, "t.ini:2:", "model.dropout",
                 "expected a number in [0, 1)");
    expect_error("[layer]\ndt_min = 0\n", NULL, 0, "layer.dt_min", "(0, 1000]");
    expect_error("[optim]\nbetas = 0.9, 1.5\n", NULL, 0, "optim.betas", "1.5 is out of range");
    expect_error("[optim]\nwarmup_steps = -1\n", NULL, 0, "optim.warmup_steps",
                 "expected an integer >= 0");
    char longpath[300];
    memset(longpath, 'a', 190);
    longpath[190] = 0;
    char text[400];
    snprintf(text, sizeof text, "[data]\npath = %.180s\n", longpath);
    expect_error(text, NULL, 0, "t.ini:2:", "data.path", "longer than 175 characters");
}
END_TEST

START_TEST(error_bad_enum) {
    expect_error("[model]\nlayer = mamb\n", NULL, 0, "t.ini:2:", "model.layer",
                 "unknown value 'mamb'; expected one of s4, s4d, s5, mamba",
                 "did you mean mamba?");
    expect_error("[optim]\nschedule = linear\n", NULL, 0, "optim.schedule",
                 "expected one of constant, cosine, step");
    expect_error("[data]\ntask = imdb\n", NULL, 0, "data.task", "listops", "selective_copy",
                 "induction");
    /* the nearest value wins, whatever its case (not s4, the first near one) */
    expect_error("[model]\nlayer = S4D\n", NULL, 0, "did you mean s4d? values are lower case");
    expect_error("[model]\nlayer = MAMBA\n", NULL, 0, "did you mean mamba?");
}
END_TEST

START_TEST(error_duplicate_and_syntax) {
    expect_error("[model]\nd_model = 8\n[optim]\nlr = 0.1\n[model]\nd_model = 16\n", NULL, 0,
                 "t.ini:6:", "duplicate key model.d_model (first set at line 2)");
    expect_error("[model]\nd_model\n", NULL, 0, "t.ini:2:",
                 "expected [section] or key = value, got 'd_model'");
    expect_error("[model\nd_model = 3\n", NULL, 0, "t.ini:1:", "expected [section]");
    /* libinih takes ':' as a separator too; our format does not */
    expect_error("[train]\nseed = 1\nmax_steps: 5\n", NULL, 0, "t.ini:3:",
                 "expected key = value, got 'max_steps: 5'");
    ssm_config c;
    load_ok(&c, "[data]\ntask = mnist\npath = /data/a:b\n", NULL, 0); /* ':' in a value */
    ck_assert_str_eq(c.data.path, "/data/a:b");
    expect_error("d_model = 3\n", NULL, 0, "t.ini:1:", "d_model", "outside any [section]");
    expect_error("[model]\n = 3\n", NULL, 0, "t.ini:2:", "missing key name");
    /* the first error wins, in line order */
    expect_error("[model]\nbogus line\nd_modle = 3\n", NULL, 0, "t.ini:2:");
    expect_error("[model]\nd_modle = 3\nbogus line\n", NULL, 0, "t.ini:2:", "d_modle");
    char text[400] = "[data]\npath = ";
    memset(text + strlen(text), 'x', 250);
    expect_error(text, NULL, 0, "t.ini:2:", "longer than 198 characters");
}
END_TEST

START_TEST(error_cross_keys) {
    expect_error("[layer]\ndt_max = 0.01\ndt_min = 0.05\n", NULL, 0, "t.ini:3:",
                 "layer.dt_min (0.05) is greater than layer.dt_max (0.01)");
    expect_error("[data]\ntask = induction\n", NULL, 0, "t.ini:2:",
                 "data.task = induction needs model.task = lm");
    /* the Mamba LM: what it does not use is an error naming the key and the place ... */
    const char *lm = "[model]\ntask = lm\nlayer = mamba\npooling = none\n%s\n[data]\ntask = induction\n";
    char text[300];
    snprintf(text, sizeof text, lm, "dropout = 0.1");
    expect_error(text, NULL, 0, "t.ini:5:", "model.dropout = 0.1 is not used", "MambaLMHeadModel");
    snprintf(text, sizeof text, lm, "prenorm = false");
    expect_error(text, NULL, 0, "t.ini:5:", "model.prenorm = false is not used");
    snprintf(text, sizeof text, lm, "norm = layer");
    expect_error(text, NULL, 0, "t.ini:5:", "model.norm = layer is not used");
    snprintf(text, sizeof text, lm, "");
    const char *set[] = {"layer.d_state=300"};
    expect_error(text, set, 1, "--set", "layer.d_state (300) must be at most 256");
    /* ... and what it leaves out takes the values used, so config.ini tells the truth */
    ssm_config c;
    load_ok(&c, text, NULL, 0);
    ck_assert_int_eq(c.model.norm, SSM_CFG_NORM_RMS);
    ck_assert(c.model.prenorm);
    ck_assert_double_eq(c.model.dropout, 0);
    const char *untied[] = {"model.tie_embeddings=false", "model.dropout=0.25"};
    load_ok(&c, text, untied, 2); /* a sequence model of Mamba layers honours them */
    ck_assert_double_eq(c.model.dropout, 0.25);
    ck_assert_int_eq(c.model.norm, SSM_CFG_NORM_LAYER);
    expect_error("[model]\ntask = lm\nencoder = linear\npooling = none\n[data]\ntask = induction\n",
                 NULL, 0, "t.ini:3:", "model.encoder = embedding");
    expect_error("[data]\ntask = text\n", NULL, 0, "t.ini:2:", "set data.path");
    expect_error("[model]\ntask = lm\npooling = none\n[data]\ntask = selective_copy\npath = x\n",
                 NULL, 0, "t.ini:6:", "data.path must be empty");
    expect_error("[model]\nlayer = s5\n[layer]\nd_state = 64\nblocks = 3\n", NULL, 0, "t.ini:4:",
                 "layer.d_state (64) must be a multiple of 6");
    expect_error("[model]\nlayer = mamba\n[layer]\nbidirectional = true\n", NULL, 0, "t.ini:4:",
                 "not supported by model.layer = mamba");
    expect_error("[model]\nlayer = s4\n[layer]\ndiscretization = zoh\n", NULL, 0, "t.ini:4:",
                 "layer.discretization = zoh");
    expect_error("[train]\nepochs = 0\n", NULL, 0, "t.ini:2:", "nothing to train");
    expect_error("[model]\ndecoder = retrieval\n", NULL, 0, "t.ini:2:",
                 "model.decoder = retrieval needs data.task = retrieval (document pairs)");
    expect_error("[model]\ndecoder = linear\n[data]\ntask = retrieval\npath = x\n", NULL, 0,
                 "t.ini:2:", "data.task = retrieval needs model.decoder = retrieval (or auto)");
    /* the generators' limits */
    expect_error("[model]\ntask = lm\npooling = none\n[data]\ntask = selective_copy\n"
                 "seq_len = 20\nn_copy = 11\n",
                 NULL, 0, "t.ini:7:", "data.seq_len (20) must be at least 2 * data.n_copy (22)");
    expect_error("[model]\ntask = lm\npooling = none\n[data]\nvocab = 2\ntask = induction\n",
                 NULL, 0, "t.ini:5:", "data.vocab (2) must be at least 3");
    expect_error("[data]\nseq_len = 400\n", NULL, 0, "t.ini:2:",
                 "data.seq_len (400) must exceed data.min_len + 1 (501)");
    /* a rule broken only by defaults + an override names the override */
    const char *sets[] = {"layer.dt_min=0.5"};
    expect_error("", sets, 1, "--set:", "layer.dt_min (0.5)");
    /* ssm_config_check on a struct filled by hand */
    ssm_config_defaults(&c);
    c.layer.dt_min = 1.0;
    ck_assert_int_eq(ssm_config_check(&c), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "layer.dt_min"));
    ssm_config_defaults(&c);
    c.model.layer = (ssm_cfg_layer)17;
    ck_assert_int_eq(ssm_config_check(&c), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "model.layer holds 17"));
}
END_TEST

START_TEST(error_leaves_struct_alone) {
    ssm_config c, before;
    load_ok(&c, "[model]\nd_model = 32\n", NULL, 0);
    before = c;
    ck_assert_int_eq(load_text(&c, "[model]\nd_model = 64\nn_layers = x\n", NULL, 0), SSM_ERR);
    ck_assert_ptr_null(ssm_config_diff(&c, &before));
}
END_TEST

START_TEST(file_errors_name_the_file) {
    char dir[] = "/tmp/ssm_test_config.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/run.ini", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[model]\nd_model = 64\n\n[layer]\nd_stat = 3\n", f);
    fclose(f);
    ssm_config c;
    ck_assert_int_eq(ssm_config_load(&c, path, NULL, 0), SSM_ERR);
    char want[400];
    snprintf(want, sizeof want, "%s:5: unknown key layer.d_stat; did you mean layer.d_state?", path);
    ck_assert_str_eq(ssm_last_error(), want);
    f = fopen(path, "w");
    fputs("[model]\nd_model = 64\n", f);
    fclose(f);
    ck_assert_msg(ssm_config_load(&c, path, NULL, 0) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(c.model.d_model, 64);
    unlink(path);
    ck_assert_int_eq(ssm_config_load(&c, path, NULL, 0), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), path));
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "cannot open"));
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------ --set */

START_TEST(set_overrides) {
    ssm_config c;
    const char *sets[] = {"model.d_model=256", " optim.lr = 0.003 ", "model.d_model=512",
                          "optim.betas=0.9, 0.98", "data.path=", "layer.init=inv"};
    load_ok(&c, "[model]\nd_model = 64\n[optim]\nlr = 0.1\n", sets, 6);
    ck_assert_int_eq(c.model.d_model, 512); /* later wins */
    ck_assert_double_eq(c.optim.lr, 0.003);
    ck_assert_double_eq(c.optim.betas[1], 0.98);
    ck_assert_int_eq(c.layer.init, SSM_CFG_INIT_INV);
    /* a duplicate of a file key is fine from --set */
    const char *one[] = {"model.n_layers=2"};
    load_ok(&c, "[model]\nn_layers = 8\n", one, 1);
    ck_assert_int_eq(c.model.n_layers, 2);
}
END_TEST

START_TEST(set_errors) {
    const char *a[] = {"model.d_model=abc"};
    expect_error("", a, 1, "--set: model.d_model: expected an integer, got 'abc'");
    const char *b[] = {"model.d_modle=3"};
    expect_error("", b, 1, "--set: unknown key model.d_modle; did you mean model.d_model?");
    const char *c[] = {"modle.d_model=3"};
    expect_error("", c, 1, "--set: unknown section [modle]; did you mean [model]?");
    const char *d[] = {"d_model=3"};
    expect_error("", d, 1, "--set: expected section.key=value, got 'd_model=3'");
    const char *e[] = {"model.d_model"};
    expect_error("", e, 1, "--set: expected section.key=value");
    const char *f[] = {"model.dropout=2"};
    expect_error("", f, 1, "--set: model.dropout: 2 is out of range");
    const char *g[] = {"model.layer=lstm"};
    expect_error("", g, 1, "--set: model.layer: unknown value 'lstm'; expected one of s4, s4d");
    /* the file is checked before the overrides: its error comes first */
    const char *ok[] = {"model.d_model=3"};
    expect_error("[model]\nd_model = x\n", ok, 1, "t.ini:2:");
}
END_TEST

/* ------------------------------------------------------------ round trip */

static void round_trip(const ssm_config *c) {
    char *text = ssm_config_to_ini(c);
    ssm_config back;
    ck_assert_msg(ssm_config_load_string(&back, text, "config.ini", NULL, 0) == SSM_OK, "%s\n%s",
                  ssm_last_error(), text);
    const ssm_cfg_key *d = ssm_config_diff(c, &back);
    ck_assert_msg(!d, "%s.%s differs after the round trip", d ? d->section : "", d ? d->key : "");
    char *again = ssm_config_to_ini(&back);
    ck_assert_str_eq(again, text); /* a fixed point */
    free(again);
    free(text);
}

START_TEST(round_trip_defaults) {
    ssm_config c;
    load_ok(&c, "", NULL, 0);
    round_trip(&c);
    char *text = ssm_config_to_ini(&c);
    ck_assert_ptr_nonnull(strstr(text, "[model]\ntask = classification\n"));
    ck_assert_ptr_nonnull(strstr(text, "betas = 0.9, 0.999\n"));
    ck_assert_ptr_nonnull(strstr(text, "eps = 1e-08\n"));
    ck_assert_ptr_nonnull(strstr(text, "path = \n"));
    /* every key is written */
    for (size_t i = 0; i < ssm_cfg_nkeys; i++) {
        char line[128];
        snprintf(line, sizeof line, "\n%s = ", ssm_cfg_keys[i].key);
        ck_assert_msg(strstr(text, line), "%s missing", ssm_cfg_keys[i].key);
    }
    free(text);
}
END_TEST

START_TEST(round_trip_everything_changed) {
    ssm_config c;
    const char *text =
        "[model]\ntask = lm\nencoder = embedding\nd_input = 50257\nn_classes = 50257\n"
        "d_model = 768\nn_layers = 24\nlayer = mamba\nnorm = rms\nbn_momentum = 0.05\n"
        "prenorm = true\ndropout = 0.3\ntie_dropout = true\npooling = none\ndecoder = linear\n"
        "retrieval_act = gelu\nresidual = false\ntie_embeddings = false\n"
        "[layer]\nd_state = 24\ndt_min = 0.0001234\ndt_max = 0.3333333333333333\n"
        "init = real\ndiscretization = zoh\nexpand = 3\nd_conv = 3\ndt_rank = 5\nblocks = 2\n"
        "lr = 0.0007\nweight_decay = 1e-5\ndt_group = default\nb_group = ssm_decay\n"
        "c_init = complex_normal\nclip_eigs = true\n"
        "activation = silu\nfinal_act = linear\n"
        "[data]\ntask = selective_copy\nseq_len = 333\npad_multiple = 64\nn_train = 12\nn_val = 3\nn_test = 0\n"
        "val_fraction = 0.25\nvocab = 9\nn_copy = 7\nmax_depth = 4\nmax_args = 3\n"
        "min_len = 20\nappend_eos = true\ngrayscale = false\npermute = random\n"
        "permute_seed = 4294967295\n"
        "difficulty = curv_baseline\ntokenizer = byte\nmin_freq = 3\n"
        "[optim]\noptimizer = sgd\nlr = 0.1\nbetas = 0.85, 0.9999\neps = 1e-6\n"
        "weight_decay = 0.05\nmomentum = 0.95\nnesterov = true\nschedule = step\n"
        "warmup_steps = 100\ndecay_steps = 4000\nmin_lr_ratio = 0.01\nstep_size = 77\ngamma = 0.5\ngrad_clip = 1.5\n"
        "[train]\nseed = 1234567890123\nbatch_size = 8\nepochs = 0\nmax_steps = 5000\n"
        "eval_every = 250\nlog_every = 10\nthreads = 3\ncheck_replicas_every = 9\nallreduce_bucket_mb = 0.5\ndevice = cuda\ntf32 = true\nprecision = tf32\ncuda_graph = off\n"
        "[checkpoint]\ndir = /tmp/some dir/ck#1\nsave_every = 500\nkeep_best = false\n"
        "metric = val_loss\n";
    load_ok(&c, text, NULL, 0);
    ssm_config d;
    ssm_config_defaults(&d);
    /* every key differs from its default, so the round trip covers each */
    for (size_t i = 0; i < ssm_cfg_nkeys; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        char a[256], b[256], name[64];
        snprintf(name, sizeof name, "%s.%s", k->section, k->key);
        ck_assert_int_eq(ssm_config_get(&c, name, a, sizeof a), SSM_OK);
        ck_assert_int_eq(ssm_config_get(&d, name, b, sizeof b), SSM_OK);
        /* lm needs the embedding encoder and no bidirectional layer; selective_copy no path */
        if (strcmp(name, "data.path") && strcmp(name, "model.encoder") &&
            strcmp(name, "layer.bidirectional"))
            ck_assert_msg(strcmp(a, b), "%s still at its default", name);
    }
    ck_assert_str_eq(c.checkpoint.dir, "/tmp/some dir/ck#1");
    ck_assert_int_eq(c.train.seed, 1234567890123LL);
    round_trip(&c);

    /* longest path; awkward doubles */
    load_ok(&c, "[optim]\nlr = 0.1\neps = 3e-300\n[layer]\ndt_min = 0.000123456789012345678\n",
            NULL, 0);
    memset(c.data.path, 'p', SSM_CFG_STR_MAX - 1);
    c.data.path[SSM_CFG_STR_MAX - 1] = 0;
    c.layer.dt_max = 0.1 + 0.2;
    round_trip(&c);
}
END_TEST

START_TEST(get_and_diff) {
    ssm_config a, b;
    load_ok(&a, "", NULL, 0);
    b = a;
    char buf[64];
    ck_assert_int_eq(ssm_config_get(&a, "model.layer", buf, sizeof buf), SSM_OK);
    ck_assert_str_eq(buf, "s4d");
    ck_assert_int_eq(ssm_config_get(&a, "optim.betas", buf, sizeof buf), SSM_OK);
    ck_assert_str_eq(buf, "0.9, 0.999");
    ck_assert_int_eq(ssm_config_get(&a, "model.nope", buf, sizeof buf), SSM_ERR);
    ck_assert_int_eq(ssm_config_get(&a, "nodot", buf, sizeof buf), SSM_ERR);
    ck_assert_ptr_null(ssm_config_diff(&a, &b));
    b.optim.betas[1] = 0.99;
    ck_assert_str_eq(ssm_config_diff(&a, &b)->key, "betas");
}
END_TEST

/* ------------------------------------------------------------ docs */

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *p = NULL;
    size_t cap = 0, len = 0, got;
    do {
        if (len == cap) p = realloc(p, (cap = cap ? 2 * cap : 1 << 16) + 1);
        got = fread(p + len, 1, cap - len, f);
        len += got;
    } while (got);
    fclose(f);
    p[len] = 0;
    *n = len;
    return p;
}

/* docs/CONFIG.md: the key table, then ssmtrain --help (options, run folders, exit statuses). */
static void docs_text(FILE *f) {
    ssm_config_markdown(f);
    fputs("\n## The command line: `ssmtrain --help`\n\n```\n", f);
    ssm_cli_usage(f, "ssmtrain");
    fputs("```\n", f);
}

START_TEST(docs_up_to_date) {
    char *gen = NULL;
    size_t gen_n = 0, file_n = 0;
    FILE *m = open_memstream(&gen, &gen_n);
    docs_text(m);
    fclose(m);
    char *file = slurp(DOCS_PATH, &file_n);
    ck_assert_msg(file, "cannot read %s", DOCS_PATH);
    size_t i = 0;
    while (i < gen_n && i < file_n && gen[i] == file[i]) i++;
    ck_assert_msg(gen_n == file_n && i == gen_n,
                  "%s is out of date with the key table (first difference at byte %zu); "
                  "regenerate it with: tests/test_config --write-docs",
                  DOCS_PATH, i);
    /* every key is documented with its default */
    for (size_t k = 0; k < ssm_cfg_nkeys; k++) {
        char row[128];
        snprintf(row, sizeof row, "| `%s` |", ssm_cfg_keys[k].key);
        ck_assert_msg(strstr(gen, row), "%s", row);
    }
    free(gen);
    free(file);
}
END_TEST

/* ------------------------------------------------------------ command line */

static int parse(ssm_cli *cli, const char *line) {
    char *copy = strdup(line), *argv[32];
    static char store[32][256]; /* argv must outlive the parse: cli points into it */
    int argc = 0;
    for (char *t = strtok(copy, " "); t && argc < 32; t = strtok(NULL, " ")) {
        snprintf(store[argc], sizeof store[argc], "%s", t);
        argv[argc] = store[argc];
        argc++;
    }
    free(copy);
    return ssm_cli_parse(cli, argc, argv);
}

#define expect_cli_error(line, needle)                                                      \
    do {                                                                                    \
        ssm_cli cli_;                                                                       \
        ck_assert_int_eq(parse(&cli_, line), SSM_ERR);                                      \
        ck_assert_msg(strstr(ssm_last_error(), needle), "'%s' lacks '%s'", ssm_last_error(), \
                      needle);                                                              \
        ssm_cli_free(&cli_);                                                                \
    } while (0)

START_TEST(cli_every_option) {
    ssm_cli cli;
    ck_assert_int_eq(parse(&cli, "ssmtrain cfg/run.ini --set model.d_model=8 --set=optim.lr=0.1 "
                                 "--resume last.h5 --out=outdir --device cuda --set train.seed=3"),
                     SSM_CLI_RUN);
    ck_assert_str_eq(cli.config, "cfg/run.ini");
    ck_assert_uint_eq(cli.n_sets, 3);
    ck_assert_str_eq(cli.sets[0], "model.d_model=8");
    ck_assert_str_eq(cli.sets[1], "optim.lr=0.1");
    ck_assert_str_eq(cli.sets[2], "train.seed=3");
    ck_assert_str_eq(cli.resume, "last.h5");
    ck_assert_str_eq(cli.out, "outdir");
    ck_assert_str_eq(cli.device, "cuda");
    ck_assert_ptr_null(cli.eval_only);
    ssm_cli_free(&cli);

    ck_assert_int_eq(parse(&cli, "ssmtrain --eval-only best.h5 --device=cpu configs/listops.ini"),
                     SSM_CLI_RUN);
    ck_assert_str_eq(cli.eval_only, "best.h5");
    ck_assert_str_eq(cli.config, "configs/listops.ini");
    ck_assert_ptr_null(cli.out); /* --eval-only writes nothing */
    ck_assert_ptr_null(cli.resume);
    ck_assert_uint_eq(cli.n_sets, 0);
    ck_assert_int_eq(cli.profile_step, 0);
    ssm_cli_free(&cli);

    /* a run's saved config.ini is named by its folder (not runs/config) */
    ck_assert_int_eq(parse(&cli, "ssmtrain runs/exp1/config.ini"), SSM_CLI_RUN);
    ck_assert_str_eq(cli.out, "runs/exp1");
    ssm_cli_free(&cli);
    ck_assert_int_eq(parse(&cli, "ssmtrain ./config.ini --overwrite"), SSM_CLI_RUN);
    ck_assert_str_eq(cli.out, "runs/config");
    ck_assert_int_eq(cli.overwrite, 1);
    ssm_cli_free(&cli);
    ck_assert_int_eq(parse(&cli, "ssmtrain x.ini --profile 3"), SSM_CLI_RUN);
    ck_assert_int_eq(cli.profile_step, 3);
    ssm_cli_free(&cli);

    ck_assert_int_eq(parse(&cli, "ssmtrain -- -odd-name.ini"), SSM_CLI_RUN);
    ck_assert_str_eq(cli.config, "-odd-name.ini");
    ck_assert_str_eq(cli.out, "runs/-odd-name");
    ssm_cli_free(&cli);

    ck_assert_int_eq(parse(&cli, "ssmtrain --help"), SSM_CLI_HELP);
    ssm_cli_free(&cli);
    ck_assert_int_eq(parse(&cli, "ssmtrain x.ini --bogus -h"), SSM_CLI_HELP);
    ssm_cli_free(&cli);
    ck_assert_int_eq(parse(&cli, "ssmtrain --version"), SSM_CLI_VERSION);
    ssm_cli_free(&cli);
    ck_assert_int_eq(parse(&cli, "ssmtrain -V x.ini"), SSM_CLI_VERSION);
    ssm_cli_free(&cli);
}
END_TEST

START_TEST(cli_errors) {
    expect_cli_error("ssmtrain", "missing CONFIG.ini");
    expect_cli_error("ssmtrain --out dir", "missing CONFIG.ini");
    expect_cli_error("ssmtrain a.ini b.ini", "unexpected argument 'b.ini'");
    expect_cli_error("ssmtrain a.ini --sett x.y=1", "unknown option '--sett'; did you mean --set?");
    expect_cli_error("ssmtrain a.ini --outdir=x", "unknown option '--outdir'");
    expect_cli_error("ssmtrain a.ini -x", "unknown option '-x'");
    expect_cli_error("ssmtrain a.ini --set", "option --set needs a value (--set SECTION.KEY=VALUE)");
    expect_cli_error("ssmtrain a.ini --out --set x.y=1", "option --out needs a value");
    expect_cli_error("ssmtrain a.ini --out=", "option --out: empty value");
    expect_cli_error("ssmtrain a.ini --out a --out b", "option --out given twice ('a' and 'b')");
    expect_cli_error("ssmtrain a.ini --resume a.h5 --eval-only b.h5",
                     "--resume and --eval-only exclude each other");
    expect_cli_error("ssmtrain a.ini --device tpu", "unknown device 'tpu'; expected cpu|cuda");
    expect_cli_error("ssmtrain a.ini --device", "option --device needs a value (--device cpu|cuda)");
    expect_cli_error("ssmtrain a.ini --profile 0", "option --profile: '0' is not a step count");
    expect_cli_error("ssmtrain a.ini --profile=2x", "option --profile: '2x' is not a step count");
    expect_cli_error("ssmtrain a.ini --profile", "option --profile needs a value (--profile STEP)");
    expect_cli_error("ssmtrain a.ini --profile-continue", "--profile-continue needs --profile STEP");
    expect_cli_error("ssmtrain a.ini --overwrite=yes", "option --overwrite takes no value");
    expect_cli_error("ssmtrain --eval-only b.h5 --out d", "--out does nothing with --eval-only");
    expect_cli_error("ssmtrain a.ini --eval-only b.h5 --overwrite",
                     "--overwrite does nothing with --eval-only");
}
END_TEST

START_TEST(cli_load_config) {
    char dir[] = "/tmp/ssm_test_cli.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/exp.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[model]\nd_model = 64\n[train]\ndevice = cpu\n", f);
    fclose(f);
    ssm_cli cli;
    ssm_config c;
    snprintf(line, sizeof line, "ssmtrain %s --set model.n_layers=2 --device cuda", path);
    ck_assert_int_eq(parse(&cli, line), SSM_CLI_RUN);
    ck_assert_msg(ssm_cli_load_config(&cli, &c) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(c.model.d_model, 64);
    ck_assert_int_eq(c.model.n_layers, 2);
    ck_assert_int_eq(c.train.device, SSM_CUDA);
    ssm_cli_free(&cli);

    snprintf(line, sizeof line, "ssmtrain %s --set model.n_layer=2", path);
    ck_assert_int_eq(parse(&cli, line), SSM_CLI_RUN);
    ck_assert_int_eq(ssm_cli_load_config(&cli, &c), SSM_ERR);
    ck_assert_str_eq(ssm_last_error(),
                     "--set: unknown key model.n_layer; did you mean model.n_layers?");
    ssm_cli_free(&cli);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(cli_usage_lists_every_option) {
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ssm_cli_usage(f, "/usr/bin/ssmtrain");
    fclose(f);
    const char *want[] = {"Usage: ssmtrain CONFIG.ini", "--set SECTION.KEY=VALUE", "--resume CKPT.h5",
                          "--out DIR", "--device cpu|cuda", "--eval-only CKPT.h5", "--profile STEP", "--help",
                          "--version", "Exit status"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(text, want[i]), "usage lacks '%s'", want[i]);
    free(text);
}
END_TEST

static int write_docs(void) {
    FILE *f = fopen(DOCS_PATH, "w");
    if (!f) {
        perror(DOCS_PATH);
        return 1;
    }
    docs_text(f);
    if (fclose(f)) return 1;
    printf("wrote %s\n", DOCS_PATH);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--write-docs")) return write_docs();
    Suite *s = suite_create("config");
    TCase *t = tcase_create("config");
    tcase_add_test(t, table_is_consistent);
    tcase_add_test(t, defaults);
    tcase_add_test(t, resolve_auto_values);
    tcase_add_test(t, syntax_accepted);
    tcase_add_test(t, error_unknown_section);
    tcase_add_test(t, error_unknown_key);
    tcase_add_test(t, error_wrong_type);
    tcase_add_test(t, error_out_of_range);
    tcase_add_test(t, error_bad_enum);
    tcase_add_test(t, error_duplicate_and_syntax);
    tcase_add_test(t, error_cross_keys);
    tcase_add_test(t, error_leaves_struct_alone);
    tcase_add_test(t, file_errors_name_the_file);
    tcase_add_test(t, set_overrides);
    tcase_add_test(t, set_errors);
    tcase_add_test(t, round_trip_defaults);
    tcase_add_test(t, round_trip_everything_changed);
    tcase_add_test(t, get_and_diff);
    tcase_add_test(t, docs_up_to_date);
    suite_add_tcase(s, t);
    TCase *cl = tcase_create("cli");
    tcase_add_test(cl, cli_every_option);
    tcase_add_test(cl, cli_errors);
    tcase_add_test(cl, cli_load_config);
    tcase_add_test(cl, cli_usage_lists_every_option);
    suite_add_tcase(s, cl);
    return tu_run(s, 1);
}
