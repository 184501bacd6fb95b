/* ssmexport: an ssmtrain checkpoint to safetensors + config.json (tools/export.h), and
 * back (--import, tools/import.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "export.h"
#include "import.h"
#include "log.h"

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

static void usage(FILE *f, const char *prog) {
    const char *p = strrchr(prog, '/');
    p = p ? p + 1 : prog;
    fprintf(f,
            "Usage: %s CKPT.h5 OUT_DIR [--format native|hf]\n"
            "       %s --import DIR|FILE OUT.h5 [--set section.key=value]...\n"
            "       %s --help | --version\n"
            "Write OUT_DIR/model.safetensors and OUT_DIR/config.json from an ssmtrain checkpoint,\n"
            "or (--import) an ssmtrain checkpoint from such files.\n\n"
            "  --format native   (default) the official PyTorch names: state-spaces/s4 for S4,\n"
            "                    S4D and S5 sequence models, state-spaces/mamba (MambaLMHeadModel,\n"
            "                    config.json as its MambaConfig) for Mamba language models\n"
            "  --format hf       Mamba language models for transformers' MambaForCausalLM\n"
            "  --import SRC      read SRC (a folder with config.json and model.safetensors or\n"
            "                    model.safetensors.index.json, or one of those files) in the\n"
            "                    layout of transformers' MambaForCausalLM, mamba_ssm's\n"
            "                    MambaLMHeadModel or ssmexport's own; write OUT.h5 without\n"
            "                    optimizer moments (F32, F16, BF16 and F64 become f32)\n"
            "  --set S.K=V       (with --import) override a key of the imported config, e.g.\n"
            "                    data.path for ssmtrain --eval-only or --resume\n"
            "  -h, --help        print this help and exit\n"
            "  -V, --version     print the version and exit\n\n"
            "Exit status: 0 on success, 1 for an unreadable, corrupted or unsupported input or\n"
            "a failed write, 2 for a bad command line. Files are written through temporary files\n"
            "and renamed, so a failure leaves no partial file.\n",
            p, p, p);
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: 1 (value set), 0 (another argument),
 * 2 (no value: said so) */
static int option(int argc, char **argv, int *i, const char *name, const char *what,
                  const char **v) {
    size_t k = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, k) || (a[k] != '=' && a[k])) return 0;
    if (a[k] == '=') *v = a + k + 1;
    else if (*i + 1 < argc) *v = argv[++*i];
    else {
        fprintf(stderr, "ssmexport: option %s needs a value (%s)\n", name, what);
        return 2;
    }
    return 1;
}

static int import_main(const char *src, const char *out, const char *extra,
                       const char *const *sets, size_t n_sets) {
    if (!src) {
        fprintf(stderr, "ssmexport: --set applies to --import only\n");
        return 2;
    }
    if (!out || extra) {
        fprintf(stderr, "ssmexport: --import needs SRC and one OUT.h5 (see --help)\n");
        return 2;
    }
    ssm_import_info info;
    if (ssm_import(src, out, sets, n_sets, &info) != SSM_OK) {
        fprintf(stderr, "ssmexport: %s\n", ssm_last_error());
        return 1;
    }
    printf("ssmexport: %s (%s layout, %d tensor(s) in %d file(s)) -> %s (%s model, %lld "
           "parameters, step %lld, no optimizer moments)\n", info.src, info.layout,
           info.n_tensors, info.n_files, out, info.layer, (long long)info.n_params,
           (long long)info.step);
    return 0;
}

int main(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL, *format = "native", *import = NULL;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    size_t n_sets = 0;
    SSM_CHECK(sets, "ssmexport: out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            free(sets);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("ssmexport %s\n", PACKAGE_VERSION);
            free(sets);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int rc = option(argc, argv, &i, "--format", "native|hf", &v);
        if (rc == 1) format = v;
        if (!rc && (rc = option(argc, argv, &i, "--import", "DIR or FILE", &v)) == 1) import = v;
        if (!rc && (rc = option(argc, argv, &i, "--set", "section.key=value", &v)) == 1) sets[n_sets++] = v;
        if (rc == 2) {
            free(sets);
            return 2;
        }
        if (rc) continue;
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ssmexport: unknown option '%s' (see --help)\n", a);
            free(sets);
            return 2;
        } else if (!ckpt) {
            ckpt = a;
        } else if (!out) {
            out = a;
        } else {
            fprintf(stderr, "ssmexport: unexpected argument '%s'\n", a);
            free(sets);
            return 2;
        }
    }
    if (import || n_sets) {
        int rc = import_main(import, ckpt, out, sets, n_sets);
        free(sets);
        return rc;
    }
    free(sets);
    ssm_export_format fmt;
    if (!strcmp(format, "native")) fmt = SSM_EXPORT_NATIVE;
    else if (!strcmp(format, "hf")) fmt = SSM_EXPORT_HF;
    else {
        fprintf(stderr, "ssmexport: --format: unknown format '%s'; expected native|hf\n", format);
        return 2;
    }
    if (!ckpt || !out) {
        fprintf(stderr, "ssmexport: need CKPT.h5 and OUT_DIR (see --help)\n");
        return 2;
    }
    ssm_ckpt_contents c;
    if (ssm_ckpt_read_contents(ckpt, &c) != SSM_OK) {
        fprintf(stderr, "ssmexport: %s\n", ssm_last_error());
        return 1;
    }
    if (ssm_export_check(&c, fmt) != SSM_OK) { /* a format the model has none of: usage */
        fprintf(stderr, "ssmexport: %s\n", ssm_last_error());
        ssm_ckpt_contents_free(&c);
        return 2;
    }
    if (ssm_export(&c, fmt, out) != SSM_OK) {
        fprintf(stderr, "ssmexport: %s\n", ssm_last_error());
        ssm_ckpt_contents_free(&c);
        return 1;
    }
    printf("ssmexport: %s (%s model, step %lld, %d tensors) -> %s/model.safetensors, "
           "%s/config.json\n", ckpt, c.layer, (long long)c.step, c.n, out, out);
    ssm_ckpt_contents_free(&c);
    return 0;
}
