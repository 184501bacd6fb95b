/* ssminfo: what an ssmtrain checkpoint (.h5) or a safetensors file holds: architecture,
 * step, parameter count, every tensor's name, shape and dtype; checksums (checkpoints)
 * and the file structure (safetensors) verified. docs/EXPORT.md. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "ckpt_model.h"
#include "import_config.h"
#include "log.h"
#include "modelcfg.h"
#include "safetensors.h"

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

static void usage(FILE *f) {
    fprintf(f,
            "Usage: ssminfo FILE\n"
            "       ssminfo --help | --version\n"
            "Describe an ssmtrain checkpoint (FILE.h5) or a safetensors file (FILE.safetensors;\n"
            "the architecture from config.json beside it when there is one): architecture,\n"
            "step, parameter count, and every tensor's name, shape and dtype.\n"
            "Checkpoints: every dataset's checksum and the root attributes' are verified.\n"
            "safetensors: the header and the tensors' offsets are validated.\n\n"
            "  -h, --help      print this help and exit\n"
            "  -V, --version   print the version and exit\n\n"
            "Exit status: 0 when the file is whole, 1 when it cannot be read, is corrupted\n"
            "or malformed, 2 for a bad command line.\n");
}

static void print_shape(int nd, const int64_t *s) {
    char buf[128];
    size_t o = (size_t)snprintf(buf, sizeof buf, "[");
    for (int i = 0; i < nd && o < sizeof buf; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, i ? ", %lld" : "%lld", (long long)s[i]);
    if (o < sizeof buf) snprintf(buf + o, sizeof buf - o, "]");
    printf("%-20s", buf);
}

/* the architecture line of a config and the sizes its tensors give */
static void print_arch(const ssm_config *c, const ssm_data_sizes *d, int data) {
    static const char *layers[] = {"s4", "s4d", "s5", "mamba"};
    char v[64];
    const ssm_cfg_layer_section *l = &c->layer;
    int lm = c->model.task == SSM_CFG_TASK_LM;
    if (lm && c->model.layer == SSM_CFG_LAYER_MAMBA && c->model.tie_embeddings) {
        printf("architecture: Mamba language model (mamba_ssm MambaLMHeadModel): d_model %lld, "
               "n_layers %lld, vocabulary %lld (embedding rows), d_state %lld, expand %lld, "
               "d_conv %lld, dt_rank %lld\n", (long long)c->model.d_model,
               (long long)c->model.n_layers, (long long)d->vocab, (long long)l->d_state,
               (long long)l->expand, (long long)l->d_conv, (long long)l->dt_rank);
    } else {
        ssm_config_get(c, "model.norm", v, sizeof v);
        printf("architecture: %s %s model: d_model %lld, n_layers %lld, d_state %lld, %s "
               "encoder (%s %lld), %s %lld, norm %s (%s)\n", layers[c->model.layer],
               lm ? "language" : "sequence", (long long)c->model.d_model,
               (long long)c->model.n_layers, (long long)l->d_state,
               c->model.encoder == SSM_CFG_ENC_EMBEDDING ? "embedding" : "linear",
               c->model.encoder == SSM_CFG_ENC_EMBEDDING ? "vocabulary" : "features",
               (long long)(c->model.encoder == SSM_CFG_ENC_EMBEDDING ? d->vocab : d->channels),
               lm ? "output vocabulary" : "classes", (long long)d->n_classes, v,
               c->model.prenorm ? "prenorm" : "postnorm");
    }
    if (!data) return;
    ssm_config_get(c, "data.task", v, sizeof v);
    printf("data task: %s%s\n", v, c->data.task == SSM_CFG_DATA_LM_BYTES
                                       ? " (byte-level: token id = byte value)" : "");
}

static int info_ckpt(const char *path) {
    ssm_ckpt_contents c;
    if (ssm_ckpt_read_contents(path, &c) != SSM_OK) return SSM_ERR;
    printf("file: %s\nformat: ssmtrain checkpoint, format version %d (%s), written by "
           "ssmtrain %s\n", path, c.format,
           c.format == 1 ? "no whole-file checksum" : "whole-file CRC-32 verified",
           c.library_version);
    ssm_config cfg;
    ssm_data_sizes d;
    if (ssm_config_load_string(&cfg, c.config, path, NULL, 0) == SSM_OK &&
        ssm_sizes_from_tensors(&cfg, ssm_ckpt_contents_shape, &c, path, &d) == SSM_OK)
        print_arch(&cfg, &d, 1);
    else
        printf("architecture: %s model (its config does not load: %s)\n", c.layer, ssm_last_error());
    int64_t np = 0, nb = 0;
    for (int i = 0; i < c.n; i++) *(i < c.n_params ? &np : &nb) += c.values[i]->numel;
    printf("step: %lld\nparameters: %lld in %d tensors", (long long)c.step, (long long)np,
           c.n_params);
    if (c.n > c.n_params) printf(" (+ %lld buffer values in %d tensors)", (long long)nb, c.n - c.n_params);
    printf("\noptimizer moments: %s\n", c.has_moments ? "present" : "absent (resumes with zero moments)");
    printf("tensors:\n");
    for (int i = 0; i < c.n; i++) {
        printf("  %-44s ", c.names[i]);
        print_shape(c.values[i]->ndim, c.values[i]->shape);
        printf(" %s%s\n", c.dtypes[i], i < c.n_params ? "" : "  (buffer)");
    }
    printf("checksums: %d datasets and the root attributes verified\n", c.n_verified);
    ssm_ckpt_contents_free(&c);
    return SSM_OK;
}

static int st_shape(void *arg, const char *name, int64_t *dims) {
    const void **a = arg; /* {file, layout} */
    char ext[256];
    const ssm_st_tensor *t = ssm_st_get(a[0], ssm_layout_external(a[1], name, ext, sizeof ext));
    if (!t) return 0;
    memcpy(dims, t->shape, sizeof t->shape);
    return t->ndim;
}

/* the architecture from config.json beside the file, when it is there and known */
static void st_arch(const char *path, const ssm_st_file *f) {
    char cfgpath[4200];
    const char *slash = strrchr(path, '/');
    snprintf(cfgpath, sizeof cfgpath, "%.*s/config.json", slash ? (int)(slash - path) : 1,
             slash ? path : ".");
    FILE *fp = fopen(cfgpath, "rb");
    if (!fp) {
        printf("architecture: unknown (no config.json beside the file)\n");
        return;
    }
    char *text = calloc(1, 1 << 20);
    SSM_CHECK(text, "ssminfo: out of memory");
    size_t n = fread(text, 1, (1 << 20) - 1, fp);
    fclose(fp);
    text[n] = 0;
    cJSON *j = cJSON_Parse(text);
    const ssm_layout *lay;
    char *ini = NULL;
    ssm_config cfg;
    ssm_data_sizes d;
    const void *arg[2] = {f, NULL};
    if (!j) {
        printf("architecture: unknown (%s is not valid JSON)\n", cfgpath);
    } else if (ssm_import_config(j, cfgpath, &lay, &ini) != SSM_OK ||
               ssm_config_load_string(&cfg, ini, cfgpath, NULL, 0) != SSM_OK ||
               (arg[1] = lay, ssm_sizes_from_tensors(&cfg, st_shape, arg, path, &d)) != SSM_OK) {
        printf("architecture: not importable: %s\n", ssm_last_error());
    } else {
        printf("layout: %s (config.json)\n", lay->name);
        print_arch(&cfg, &d, 0);
    }
    free(ini);
    cJSON_Delete(j);
    free(text);
}

static int info_st(const char *path) {
    ssm_st_file f;
    if (ssm_st_read(path, &f) != SSM_OK) return SSM_ERR;
    printf("file: %s\nformat: safetensors, %zu header bytes, %zu data bytes\n", path,
           strlen(f.header), f.data_size);
    for (int i = 0; i < f.n_meta; i++) printf("metadata: %s = %s\n", f.meta[2 * i], f.meta[2 * i + 1]);
    st_arch(path, &f);
    const char *step = ssm_st_meta(&f, "step");
    if (step) printf("step: %s\n", step);
    int64_t n = 0;
    for (int i = 0; i < f.n; i++) n += f.t[i].numel;
    printf("parameters: %lld values in %d tensors (a tied head counts twice)\ntensors:\n",
           (long long)n, f.n);
    for (int i = 0; i < f.n; i++) {
        printf("  %-44s ", f.t[i].name);
        print_shape(f.t[i].ndim, f.t[i].shape);
        printf(" %s\n", f.t[i].dtype);
    }
    printf("structure: header, dtypes and offsets valid; the tensors tile the data (safetensors "
           "carries no checksums)\n");
    ssm_st_free(&f);
    return SSM_OK;
}

int main(int argc, char **argv) {
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("ssminfo %s\n", PACKAGE_VERSION);
            return 0;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ssminfo: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (file) {
            fprintf(stderr, "ssminfo: one FILE only (see --help)\n");
            return 2;
        }
        file = a;
    }
    if (!file) {
        fprintf(stderr, "ssminfo: need a FILE (see --help)\n");
        return 2;
    }
    FILE *f = fopen(file, "rb");
    unsigned char magic[32] = {0};
    size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    /* a checkpoint: format 2's header, or format 1's HDF5 signature */
    int hdf5 = (got >= 8 && !memcmp(magic, "\x89HDF\r\n\x1a\n", 8)) ||
               (got >= strlen(SSM_CKPT_MAGIC) && !memcmp(magic, SSM_CKPT_MAGIC, strlen(SSM_CKPT_MAGIC)));
    if (f && !hdf5 && got < 8) {
        fprintf(stderr, "ssminfo: %s: neither HDF5 nor safetensors (%zu bytes)\n", file, got);
        return 1;
    }
    int rc = hdf5 || !f ? info_ckpt(file) : info_st(file);
    if (rc != SSM_OK) {
        fprintf(stderr, "ssminfo: %s\n", ssm_last_error());
        return 1;
    }
    return 0;
}
