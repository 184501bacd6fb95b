/* ssmexport: an ssmtrain checkpoint to safetensors + config.json (tools/export.h). */
#include <stdio.h>
#include <string.h>
#include "checkpoint.h"
#include "export.h"
#include "log.h"

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

static void usage(FILE *f, const char *prog) {
    const char *p = strrchr(prog, '/');
    p = p ? p + 1 : prog;
    fprintf(f,
            "Usage: %s CKPT.h5 OUT_DIR [--format native|hf]\n"
            "       %s --help | --version\n"
            "Write OUT_DIR/model.safetensors and OUT_DIR/config.json from an ssmtrain checkpoint.\n\n"
            "  --format native   (default) the official PyTorch names: state-spaces/s4 for S4,\n"
            "                    S4D and S5 sequence models, state-spaces/mamba (MambaLMHeadModel,\n"
            "                    config.json as its MambaConfig) for Mamba language models\n"
            "  --format hf       Mamba language models for transformers' MambaForCausalLM\n"
            "  -h, --help        print this help and exit\n"
            "  -V, --version     print the version and exit\n\n"
            "Exit status: 0 on success, 1 for an unreadable or corrupted checkpoint or a failed\n"
            "write, 2 for a bad command line. Files are written through temporary files and\n"
            "renamed, so a failure leaves no partial file.\n",
            p, p);
}

int main(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL, *format = "native";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("ssmexport %s\n", PACKAGE_VERSION);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--format", 8) && (a[8] == '=' || !a[8])) {
            if (a[8] == '=') format = a + 9;
            else if (i + 1 < argc) format = argv[++i];
            else {
                fprintf(stderr, "ssmexport: option --format needs a value (native|hf)\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ssmexport: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!ckpt) {
            ckpt = a;
        } else if (!out) {
            out = a;
        } else {
            fprintf(stderr, "ssmexport: unexpected argument '%s'\n", a);
            return 2;
        }
    }
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
