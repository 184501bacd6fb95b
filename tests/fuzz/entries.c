/* Fuzz entry points (see entries.h): one per input format, each calling the reader the
 * tools call. Files go to one private temporary folder (on /dev/shm when there is one),
 * removed at exit. */
#include "entries.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aan.h"
#include "checkpoint.h"
#include "cifar.h"
#include "idx.h"
#include "imdb.h"
#include "import.h"
#include "listops.h"
#include "log.h"
#include "pathfinder.h"
#include "safetensors.h"
#include "ssmconfig.h"
#include "trainer.h"

/* ---- files ---- */

static char dir[256];

static void rm_dir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", dir);
}

static const char *work_dir(void) {
    if (dir[0]) return dir;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                       : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/ssmfuzz.XXXXXX", base);
    SSM_CHECK(mkdtemp(dir), "fuzz: cannot create a folder under %s", base);
    atexit(rm_dir);
    ssm_log_level = 0; /* readers' warnings would flood the fuzzer's output */
    return dir;
}

/* dir/rel (its folders created), holding data[0..n). */
static const char *put(const char *rel, const void *data, size_t n) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", work_dir(), rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "wb");
    SSM_CHECK(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "fuzz: cannot write %s", path);
    return path;
}

/* Split data at FZ_SEP into at most max parts; returns the count (>= 1). */
typedef struct {
    const uint8_t *p;
    size_t n;
} part;

static int split(const uint8_t *d, size_t n, part *parts, int max) {
    const size_t sl = strlen(FZ_SEP);
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; k < max - 1 && i + sl <= n; i++)
        if (!memcmp(d + i, FZ_SEP, sl)) {
            parts[k++] = (part){d + start, i - start};
            start = i + sl;
            i += sl - 1;
        }
    parts[k++] = (part){d + start, n - start};
    return k;
}

/* A NUL-terminated copy of d[0..n) (malloc'd). */
static char *text(const uint8_t *d, size_t n) {
    char *s = malloc(n + 1);
    SSM_CHECK(s, "fuzz: out of memory");
    memcpy(s, d, n);
    s[n] = 0;
    return s;
}

/* ---- the INI config: the file part, then one --set override a line ---- */

static int fz_config(const uint8_t *d, size_t n) {
    part p[2];
    int np = split(d, n, p, 2);
    char path[300];
    snprintf(path, sizeof path, "%s", put("config.ini", p[0].p, p[0].n));
    char *sets_text = np > 1 ? text(p[1].p, p[1].n) : NULL;
    const char *sets[16];
    size_t ns = 0;
    for (char *save = NULL, *l = sets_text ? strtok_r(sets_text, "\n", &save) : NULL; l && ns < 16;
         l = strtok_r(NULL, "\n", &save))
        sets[ns++] = l;
    ssm_config c;
    int rc = ssm_config_load_ex(&c, path, NULL, sets, NULL, ns);
    if (rc == SSM_OK) { /* config.h: the INI text of a loaded config loads back equal */
        char *ini = ssm_config_to_ini(&c);
        ssm_config back;
        SSM_CHECK(ssm_config_load_string(&back, ini, "<written>", NULL, 0) == SSM_OK,
                  "fuzz: the written config does not load: %s\n%s", ssm_last_error(), ini);
        const ssm_cfg_key *k = ssm_config_diff(&c, &back);
        SSM_CHECK(!k, "fuzz: %s.%s differs after writing and loading", k->section, k->key);
        free(ini);
    }
    free(sets_text);
    return rc;
}

/* ---- checkpoints: as --resume and --eval-only/ssmexport read them ---- */

static const char *TINY = "[model]\nd_model = 8\nn_layers = 1\nlayer = s4d\npooling = last\n"
                          "[layer]\nd_state = 4\n[data]\ntask = recall\nseq_len = 16\n"
                          "n_train = 8\nn_val = 8\nn_test = 8\n[train]\nbatch_size = 8\n"
                          "max_steps = 1\nthreads = 1\n";

static ssm_config tiny_cfg;
static ssm_trainer tiny;

static void free_tiny(void) { ssm_trainer_free(&tiny); }

static int fz_checkpoint(const uint8_t *d, size_t n) {
    char path[300];
    snprintf(path, sizeof path, "%s", put("ckpt.h5", d, n));
    if (!tiny.model) {
        SSM_CHECK(ssm_config_load_string(&tiny_cfg, TINY, "tiny", NULL, 0) == SSM_OK &&
                      ssm_trainer_init(&tiny, &tiny_cfg, work_dir()) == SSM_OK,
                  "fuzz: tiny model: %s", ssm_last_error());
        atexit(free_tiny);
    }
    ssm_ckpt_contents c;
    int rc = ssm_ckpt_read_contents(path, &c);
    if (rc == SSM_OK) ssm_ckpt_contents_free(&c);
    int rc2 = ssm_trainer_resume(&tiny, path, 1);
    return rc == SSM_OK && rc2 == SSM_OK ? SSM_OK : SSM_ERR;
}

/* ---- safetensors: the header, then every tensor it names ---- */

static int fz_safetensors(const uint8_t *d, size_t n) {
    ssm_st_file f;
    if (ssm_st_read(put("model.safetensors", d, n), &f) != SSM_OK) return SSM_ERR;
    int rc = SSM_OK;
    /* every quoted string of the header taken as a name (keys and values alike) */
    for (const char *q = strchr(f.header, '"'); q; q = strchr(q, '"')) {
        const char *e = strchr(q + 1, '"');
        if (!e) break;
        char name[256], dtype[8];
        snprintf(name, sizeof name, "%.*s", (int)(e - q - 1 < 255 ? e - q - 1 : 255), q + 1);
        int nd;
        int64_t shape[SSM_MAX_DIMS];
        const uint8_t *bytes;
        size_t nb;
        if (ssm_st_find(&f, name, dtype, &nd, shape, &bytes, &nb) == SSM_OK) {
            unsigned sum = 0;
            for (size_t i = 0; i < nb; i++) sum += bytes[i]; /* in bounds (ASan) */
            (void)sum;
        } else {
            rc = SSM_ERR;
        }
        q = e + 1;
    }
    ssm_st_free(&f);
    return rc;
}

/* ---- config.json of a model to import (ssmexport --import): the layout and config ---- */

static int fz_config_json(const uint8_t *d, size_t n) {
    const ssm_layout *lay = NULL;
    ssm_config c;
    int rc = ssm_import_read_config(put("config.json", d, n), NULL, 0, &lay, &c);
    if (rc == SSM_OK) { /* what ssm_import goes on with */
        SSM_CHECK(lay, "fuzz: config.json loaded without a layout");
        char ext[256];
        ssm_layout_external(lay, "encoder.weight", ext, sizeof ext);
    }
    return rc;
}

/* ---- data readers ---- */

static int fz_listops(const uint8_t *d, size_t n) {
    const char *path = put("listops.tsv", d, n);
    ssm_dataset *ds;
    int rc = SSM_ERR;
    for (int eos = 0; eos < 2; eos++) {
        ssm_listops_opts o = {.max_len = eos ? 64 : 0, .append_eos = eos};
        if ((rc = ssm_listops_read(path, &o, &ds)) != SSM_OK) continue;
        int32_t map[SSM_LO_VOCAB];
        ssm_listops_official_ids(ds, eos, map);
        for (int64_t i = 0; i < ds->n; i++) {
            int64_t len;
            const int32_t *ids = ssm_dataset_seq(ds, i, 0, &len);
            ssm_listops_eval(ids, len);
        }
        ssm_dataset_free(ds);
    }
    return rc;
}

static int fz_idx(const uint8_t *d, size_t n) {
    part p[2];
    if (split(d, n, p, 2) < 2) p[1] = (part){d, 0};
    char images[300];
    snprintf(images, sizeof images, "%s", put("images-idx3-ubyte", p[0].p, p[0].n));
    ssm_dataset *ds;
    int rc = ssm_idx_read(images, put("labels-idx1-ubyte", p[1].p, p[1].n), &ds);
    if (rc == SSM_OK) ssm_dataset_free(ds);
    return rc;
}

static int fz_aan(const uint8_t *d, size_t n) {
    static const char *const names[3] = {"aan/new_aan_pairs.train.tsv",
                                         "aan/new_aan_pairs.eval.tsv", "aan/new_aan_pairs.test.tsv"};
    part p[3];
    int np = split(d, n, p, 3);
    for (int k = 0; k < 3; k++) put(names[k], p[k < np ? k : 0].p, p[k < np ? k : 0].n);
    char path[300];
    snprintf(path, sizeof path, "%s/aan", work_dir());
    ssm_dataset *s[3];
    ssm_text_opts o = {SSM_TEXT_CHAR, 64, 1};
    int rc = ssm_aan_read(path, n % 2 ? &o : NULL, &s[0], &s[1], &s[2]);
    for (int k = 0; rc == SSM_OK && k < 3; k++) ssm_dataset_free(s[k]);
    return rc;
}

static int fz_cifar(const uint8_t *d, size_t n) {
    const char *paths[1] = {put("data_batch_1.bin", d, n)};
    int rc = SSM_ERR;
    for (int gray = 0; gray < 2; gray++) {
        ssm_dataset *ds;
        if ((rc = ssm_cifar_read(paths, 1, gray, &ds)) == SSM_OK) ssm_dataset_free(ds);
    }
    return rc;
}

/* metadata text, then the PNG from its signature on (imgs/0/sample_0.png) */
static int fz_pathfinder(const uint8_t *d, size_t n) {
    size_t m = 0;
    while (m + 4 <= n && memcmp(d + m, "\x89PNG", 4)) m++;
    if (m + 4 > n) m = n;
    char *meta = text(d, m);
    int escapes = strstr(meta, "..") != NULL; /* stay in our folder (no /dev/stdin) */
    free(meta);
    if (escapes) return SSM_ERR;
    put("pf/baseline/metadata/0.npy", d, m); /* both files overwritten each time */
    put("pf/baseline/imgs/0/sample_0.png", d + m, n - m);
    char path[300];
    snprintf(path, sizeof path, "%s/pf", work_dir());
    ssm_dataset *ds;
    int64_t skipped;
    int rc = ssm_pathfinder_read(path, "baseline", 32, &ds, &skipped);
    if (rc == SSM_OK) ssm_dataset_free(ds);
    return rc;
}

static int fz_imdb(const uint8_t *d, size_t n) {
    ssm_dataset *train, *test;
    ssm_text_opts o = {n % 2 ? SSM_TEXT_BYTE : SSM_TEXT_CHAR, 64, 1};
    int rc = ssm_imdb_read(put("reviews.json", d, n), &o, &train, &test);
    if (rc == SSM_OK) {
        ssm_dataset_free(train);
        ssm_dataset_free(test);
    }
    return rc;
}

const fz_target fz_targets[] = {
    {"config", fz_config},   {"checkpoint", fz_checkpoint}, {"safetensors", fz_safetensors},
    {"listops", fz_listops}, {"idx", fz_idx},               {"aan", fz_aan},
    {"cifar", fz_cifar},     {"pathfinder", fz_pathfinder}, {"imdb", fz_imdb},
    {"config_json", fz_config_json},
};
const int fz_n_targets = (int)(sizeof fz_targets / sizeof fz_targets[0]);

const fz_target *fz_find(const char *name) {
    for (int i = 0; i < fz_n_targets; i++)
        if (!strcmp(fz_targets[i].name, name)) return &fz_targets[i];
    return NULL;
}
