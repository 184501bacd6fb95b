/* Import (see import.h): locate the files, read config.json (import_config.c), build the
 * model it describes, fill every parameter from the weight files through the layout's
 * name table, refuse what is missing, misshapen or left over, save a checkpoint. */
#include "import.h"
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "checkpoint.h"
#include "import_config.h"
#include "fsutil.h"
#include "log.h"
#include "modelcfg.h"
#include "s4.h"
#include "safetensors.h"

static int is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}
static int is_file(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

/* a/b into buf; SSM_ERR when it does not fit */
static int join(char *buf, size_t n, const char *a, const char *b) {
    if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n) return ssm_error("%s/%s: path too long", a, b);
    return SSM_OK;
}

static cJSON *read_json(const char *path) {
    char *text = ssm_read_text(path);
    if (!text) {
        ssm_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    cJSON *j = cJSON_Parse(text);
    if (!j) ssm_error("%s: not valid JSON (error near byte %ld)", path,
                      (long)(cJSON_GetErrorPtr() - text));
    free(text);
    return j;
}

int ssm_import_read_config(const char *path, const char *const *sets, size_t n_sets,
                           const ssm_layout **layout, ssm_config *cfg) {
    cJSON *j = read_json(path);
    if (!j) return SSM_ERR;
    char *ini = NULL;
    int rc = ssm_import_config(j, path, layout, &ini);
    cJSON_Delete(j);
    char name[4200];
    snprintf(name, sizeof name, "%s (imported)", path);
    if (rc == SSM_OK) rc = ssm_config_load_string(cfg, ini, name, sets, n_sets);
    free(ini);
    return rc;
}

/* ---- the weights: one file, or the shards an index names ---- */
typedef struct {
    ssm_st_file *f;
    int n;
    char **used; /* per file, per tensor: taken by the model */
} weights;

static void weights_free(weights *w) {
    for (int i = 0; i < w->n; i++) {
        ssm_st_free(&w->f[i]);
        free(w->used[i]);
    }
    free(w->f);
    free(w->used);
}

static int add_file(weights *w, const char *path) {
    w->f = realloc(w->f, (size_t)(w->n + 1) * sizeof *w->f);
    w->used = realloc(w->used, (size_t)(w->n + 1) * sizeof *w->used);
    SSM_CHECK(w->f && w->used, "import: out of memory");
    if (ssm_st_read(path, &w->f[w->n]) != SSM_OK) return SSM_ERR;
    w->used[w->n] = calloc((size_t)w->f[w->n].n + 1, 1);
    SSM_CHECK(w->used[w->n], "import: out of memory");
    w->n++;
    return SSM_OK;
}

/* model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard file}};
 * every tensor the map names must be in its shard, and every shard tensor in the map */
static int read_index(weights *w, const char *dir, const char *index) {
    cJSON *j = read_json(index);
    if (!j) return SSM_ERR;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map"), *e;
    int rc = cJSON_IsObject(map) ? SSM_OK : ssm_error("%s: no \"weight_map\" object", index);
    char path[4096];
    cJSON_ArrayForEach(e, map) {
        if (rc != SSM_OK) break;
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/')) {
            rc = ssm_error("%s: weight_map.%s must be a file name in the same folder", index, e->string);
            break;
        }
        if (join(path, sizeof path, dir, e->valuestring) != SSM_OK) {
            rc = SSM_ERR;
            break;
        }
        int k = 0;
        while (k < w->n && strcmp(w->f[k].path, path)) k++;
        if (k == w->n && add_file(w, path) != SSM_OK) rc = SSM_ERR;
        else if (!ssm_st_get(&w->f[k], e->string))
            rc = ssm_error("%s: weight_map puts tensor %s in %s, which does not hold it", index,
                           e->string, e->valuestring);
    }
    for (int k = 0; rc == SSM_OK && k < w->n; k++)
        for (int i = 0; rc == SSM_OK && i < w->f[k].n; i++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(map, w->f[k].t[i].name);
            const char *base = strrchr(w->f[k].path, '/') + 1;
            if (!m || strcmp(m->valuestring, base))
                rc = ssm_error("%s: tensor %s is not in %s's weight_map%s", w->f[k].path,
                               w->f[k].t[i].name, index, m ? " for this file" : "");
        }
    if (rc == SSM_OK && w->n == 0) rc = ssm_error("%s: the weight_map names no tensor", index);
    cJSON_Delete(j);
    return rc;
}

/* the tensor `name` in any file, and where */
static const ssm_st_tensor *lookup(const weights *w, const char *name, int *file, int *idx) {
    for (int k = 0; k < w->n; k++) {
        const ssm_st_tensor *t = ssm_st_get(&w->f[k], name);
        if (t) {
            if (file) *file = k, *idx = (int)(t - w->f[k].t);
            return t;
        }
    }
    return NULL;
}

typedef struct {
    const weights *w;
    const ssm_layout *lay;
} shape_arg;

static int shape_of(void *arg, const char *internal, int64_t *dims) {
    const shape_arg *a = arg;
    char ext[256];
    const ssm_st_tensor *t = lookup(a->w, ssm_layout_external(a->lay, internal, ext, sizeof ext), NULL, NULL);
    if (!t) return 0;
    memcpy(dims, t->shape, sizeof t->shape);
    return t->ndim;
}

static const char *shape_str(int nd, const int64_t *s, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && o < n; i++) o += (size_t)snprintf(buf + o, n - o, i ? ", %lld" : "%lld", (long long)s[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

/* dst (a model tensor) from the external tensor `ext`: present, same shape, floating */
static int fill(weights *w, const char *ext, ssm_tensor *dst) {
    int k, i;
    const ssm_st_tensor *t = lookup(w, ext, &k, &i);
    if (!t)
        return ssm_error("%s: missing tensor %s (the architecture of config.json has it)",
                         w->f[0].path, ext);
    int same = t->ndim == dst->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == dst->shape[d];
    char a[128], b[128];
    if (!same)
        return ssm_error("%s: tensor %s has shape %s, but the architecture of config.json needs %s",
                         w->f[k].path, ext, shape_str(t->ndim, t->shape, a, sizeof a),
                         shape_str(dst->ndim, dst->shape, b, sizeof b));
    ssm_tensor *v;
    if (ssm_st_to_f32(&w->f[k], t, &v) != SSM_OK) return SSM_ERR;
    ssm_tensor_copy(dst, v);
    ssm_tensor_free(v);
    w->used[k][i] = 1;
    return SSM_OK;
}

/* Tensor ext (file k, entry i) as a 0-dimensional I64 (the layouts' counters and lengths,
 * `what` naming it in the error), marked used; its value into *v (NULL: not needed). */
static int take_i64_scalar(weights *w, int k, int i, const char *ext, const char *what,
                           int64_t *v) {
    const ssm_st_tensor *t = &w->f[k].t[i];
    if (strcmp(t->dtype, "I64") || t->ndim != 0)
        return ssm_error("%s: tensor %s must be a 0-dimensional I64 (%s)", w->f[k].path, ext, what);
    if (v) {
        *v = 0;
        for (int b = 7; b >= 0; b--) *v = (int64_t)((uint64_t)*v << 8 | t->bytes[b]); /* LE */
    }
    w->used[k][i] = 1;
    return SSM_OK;
}

/* The extras of a layout: the tied head equals its source; BatchNorm counters are I64
 * scalars. Then nothing may be left over. */
static int check_rest(weights *w, const ssm_layout *lay, ssm_model *m) {
    const char *src, *alias = ssm_layout_tied_alias(lay, &src);
    int k, i;
    const ssm_st_tensor *t;
    if (alias && (t = lookup(w, alias, &k, &i))) {
        const ssm_tensor *e = ssm_params_find(m->ps, src);
        ssm_tensor *v = NULL;
        int same = e && t->ndim == 2 && t->shape[0] == e->shape[0] && t->shape[1] == e->shape[1];
        if (same && ssm_st_to_f32(&w->f[k], t, &v) != SSM_OK) return SSM_ERR;
        same = same && !memcmp(v->data, e->data, (size_t)e->numel * 4);
        ssm_tensor_free(v);
        if (!same)
            return ssm_error("%s: tensor %s differs from the embedding: an untied LM head is not "
                             "supported (ssmtrain's Mamba LM ties it)", w->f[k].path, alias);
        w->used[k][i] = 1;
    }
    char name[128], ext[256];
    for (int b = 0; b < ssm_model_n_buffers(m); b++) {
        ssm_model_buffer(m, b, name, sizeof name);
        if (!ssm_layout_bn_counter(lay, name, ext, sizeof ext) || !(t = lookup(w, ext, &k, &i))) continue;
        if (take_i64_scalar(w, k, i, ext, "BatchNorm's counter", NULL) != SSM_OK) return SSM_ERR;
    }
    for (k = 0; k < w->n; k++)
        for (i = 0; i < w->f[k].n; i++)
            if (!w->used[k][i])
                return ssm_error("%s: unexpected tensor %s (the model config.json describes has "
                                 "no such parameter; layout %s)", w->f[k].path, w->f[k].t[i].name,
                                 lay->name);
    return SSM_OK;
}

/* example.py's S4Block l_kernel: the length the file's C~ is set up for. 0: C is the plain
 * C (a module never run forward), turned into C~ for l_max here as the official module
 * does at its first forward; l_max: nothing to do; absent: ssmtrain's exports before it
 * wrote l_kernel, whose C~ is for l_max. */
static int s4_l_kernels(weights *w, const ssm_layout *lay, ssm_model *m) {
    if (strcmp(m->cfg.layer, "s4")) return SSM_OK;
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        ssm_s4 *s = m->layers[l];
        char ext[256];
        int k, i;
        const ssm_st_tensor *t;
        if (!ssm_layout_s4_l_kernel(lay, s->C->name, ext, sizeof ext) || !(t = lookup(w, ext, &k, &i)))
            continue;
        int64_t v;
        if (take_i64_scalar(w, k, i, ext, "S4Block's l_kernel", &v) != SSM_OK) return SSM_ERR;
        if (v == s->cfg.l_max) continue;
        if (v != 0)
            return ssm_error("%s: tensor %s = %lld: C~ is set up for sequences of %lld, but the "
                             "config's data.seq_len is %lld (set it to %lld)", w->f[k].path, ext,
                             (long long)v, (long long)v, (long long)s->cfg.l_max, (long long)v);
        double *plain = ssm_tensor_to_f64(s->C);
        int rc = ssm_s4_setup_C(s, plain);
        free(plain);
        if (rc != 0) return ssm_error("%s: setting up S4's C~ from %s failed (LAPACK)", w->f[k].path, ext);
    }
    return SSM_OK;
}

/* config.json and the weight file(s) of src */
static int locate(const char *src, char *dir, char *config, char *weights_path, int *sharded) {
    size_t n = 4096;
    if (is_dir(src)) {
        snprintf(dir, n, "%s", src);
        if (join(weights_path, n, src, "model.safetensors") != SSM_OK) return SSM_ERR;
        if (!is_file(weights_path) &&
            join(weights_path, n, src, "model.safetensors.index.json") != SSM_OK)
            return SSM_ERR;
        if (!is_file(weights_path))
            return ssm_error("%s: holds neither model.safetensors nor model.safetensors.index.json", src);
    } else if (is_file(src)) {
        const char *slash = strrchr(src, '/');
        snprintf(dir, n, "%.*s", slash ? (int)(slash - src) : 1, slash ? src : ".");
        snprintf(weights_path, n, "%s", src);
    } else {
        return ssm_error("%s: no such file or folder", src);
    }
    size_t k = strlen(weights_path);
    *sharded = k > 5 && !strcmp(weights_path + k - 5, ".json");
    if (join(config, n, dir, "config.json") != SSM_OK) return SSM_ERR;
    if (!is_file(config)) return ssm_error("%s: missing (the architecture is read from it)", config);
    return SSM_OK;
}

/* the step an ssmtrain export records; 0 for files from elsewhere */
static int64_t source_step(const ssm_st_file *f) {
    const char *prod = ssm_st_meta(f, "producer"), *step = ssm_st_meta(f, "step");
    if (!prod || strncmp(prod, "ssmtrain ", 9) || !step) return 0;
    char *end;
    long long v = strtoll(step, &end, 10);
    return *step && !*end && v >= 0 ? v : 0;
}

int ssm_import(const char *src, const char *out_h5, const char *const *sets, size_t n_sets,
               ssm_import_info *info) {
    memset(info, 0, sizeof *info);
    char dir[4096], config[4096], wpath[4096];
    int sharded = 0;
    if (locate(src, dir, config, wpath, &sharded) != SSM_OK) return SSM_ERR;
    const ssm_layout *lay = NULL;
    weights w = {0};
    ssm_model *m = NULL;
    ssm_config cfg;
    int rc = ssm_import_read_config(config, sets, n_sets, &lay, &cfg);
    if (rc == SSM_OK) rc = sharded ? read_index(&w, dir, wpath) : add_file(&w, wpath);
    ssm_data_sizes ds;
    ssm_model_config mc;
    shape_arg sa = {&w, lay};
    if (rc == SSM_OK) rc = ssm_sizes_from_tensors(&cfg, shape_of, &sa, wpath, &ds);
    if (rc == SSM_OK) rc = ssm_model_config_from(&cfg, &ds, &mc);
    if (rc == SSM_OK && !(m = ssm_model_new(&mc, SSM_F32, SSM_CPU))) rc = SSM_ERR;
    char ext[256], bname[128];
    for (int i = 0; rc == SSM_OK && i < m->ps->n; i++)
        rc = fill(&w, ssm_layout_external(lay, m->ps->p[i]->name, ext, sizeof ext), m->ps->p[i]);
    for (int i = 0; rc == SSM_OK && i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, bname, sizeof bname);
        rc = fill(&w, ssm_layout_external(lay, bname, ext, sizeof ext), b);
    }
    if (rc == SSM_OK) rc = s4_l_kernels(&w, lay, m);
    if (rc == SSM_OK) rc = check_rest(&w, lay, m);
    if (rc == SSM_OK) {
        ssm_train_state *st = calloc(1, sizeof *st);
        SSM_CHECK(st, "import: out of memory");
        st->step = source_step(&w.f[0]);
        st->seed = (uint64_t)cfg.train.seed;
        st->best_metric = cfg.checkpoint.metric == SSM_CFG_METRIC_VAL_ACC ? -1.0 : INFINITY;
        char *text = ssm_config_to_ini(&cfg);
        if (strlen(text) >= sizeof st->config) rc = ssm_error("%s: config text too long", config);
        snprintf(st->config, sizeof st->config, "%s", text);
        free(text);
        if (rc == SSM_OK) rc = ssm_ckpt_save(out_h5, m, NULL, st);
        snprintf(info->layout, sizeof info->layout, "%s", lay->name);
        snprintf(info->layer, sizeof info->layer, "%s", mc.layer);
        snprintf(info->src, sizeof info->src, "%s", wpath);
        for (int k = 0; k < w.n; k++) info->n_tensors += w.f[k].n;
        info->n_files = w.n;
        info->n_params = m->ps->numel;
        info->step = st->step;
        free(st);
    }
    ssm_model_free(m);
    weights_free(&w);
    return rc;
}
