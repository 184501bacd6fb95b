/* ssmgen: generate with a language-model checkpoint through the step mode (constant
 * memory per token): tools/generate.h, tools/sample.h. docs/EXPORT.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt_model.h"
#include "generate.h"
#include "log.h"
#include "npy.h"

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

static void usage(FILE *f) {
    fprintf(f,
            "Usage: ssmgen CKPT.h5 (--prompt TEXT | --prompt-ids FILE) [--tokens N]\n"
            "              [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
            "              [--device cpu|cuda] [--print-ids] [--dump-logits FILE.npy]\n"
            "       ssmgen --help | --version\n"
            "Continue a prompt with a language-model checkpoint (model.task = lm), one token at\n"
            "a time through the model's step mode. The continuation goes to stdout (bytes for\n"
            "byte-level checkpoints, else ids), tokens/s to stderr.\n\n"
            "  --prompt TEXT        byte-level checkpoints (data.task = lm_bytes): id = byte\n"
            "  --prompt-ids FILE    whitespace-separated token ids\n"
            "  --tokens N           new tokens to generate (default 100; 0 with --dump-logits)\n"
            "  --temperature T      0: greedy (the largest logit); default 1\n"
            "  --top-k K            sample among the K most likely ids (default 0: all)\n"
            "  --top-p P            nucleus: the fewest most likely ids reaching P (default 1)\n"
            "  --seed S             Philox seed of the draws (default 1): same seed, same ids\n"
            "  --device cpu|cuda    where the model runs (default cpu)\n"
            "  --print-ids          end stdout with a line of the generated ids\n"
            "  --dump-logits FILE   write the parallel forward's logits over the prompt ids as\n"
            "                       a NumPy .npy file, float32 [prompt length, vocabulary]\n"
            "  -h, --help           print this help and exit\n"
            "  -V, --version        print the version and exit\n\n"
            "Exit status: 0 on success, 1 for an unreadable checkpoint or prompt, a model\n"
            "without a step mode, or a failed write, 2 for a bad command line.\n");
}

static int read_ids(const char *path, int32_t **ids, int64_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) return ssm_error("%s: cannot open: %s", path, strerror(errno));
    int64_t cap = 64;
    *n = 0;
    *ids = malloc(sizeof **ids * (size_t)cap);
    SSM_CHECK(*ids, "ssmgen: out of memory");
    char word[64];
    int rc = SSM_OK;
    while (rc == SSM_OK && fscanf(f, "%63s", word) == 1) {
        char *end;
        errno = 0;
        long v = strtol(word, &end, 10);
        if (*end || errno || v < 0 || v > INT32_MAX) {
            rc = ssm_error("%s: token %lld, '%s', is not a non-negative integer id", path,
                           (long long)(*n + 1), word);
            break;
        }
        if (*n == cap) *ids = realloc(*ids, sizeof **ids * (size_t)(cap *= 2));
        SSM_CHECK(*ids, "ssmgen: out of memory");
        (*ids)[(*n)++] = (int32_t)v;
    }
    fclose(f);
    if (rc == SSM_OK && *n == 0) rc = ssm_error("%s: no token ids", path);
    return rc;
}

/* the value of option `name` at argv[*i] ("--name V" or "--name=V"): 1, 0 (not it), 2 (no value) */
static int option(int argc, char **argv, int *i, const char *name, const char **v) {
    size_t k = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, k) || (a[k] != '=' && a[k])) return 0;
    if (a[k] == '=') *v = a + k + 1;
    else if (*i + 1 < argc) *v = argv[++*i];
    else return fprintf(stderr, "ssmgen: option %s needs a value\n", name), 2;
    return 1;
}

static int number(const char *opt, const char *v, double lo, double *out) {
    char *end;
    *out = strtod(v, &end);
    if (!*v || *end || !(*out >= lo))
        return fprintf(stderr, "ssmgen: %s '%s': expected a number >= %g\n", opt, v, lo), 0;
    return 1;
}

int main(int argc, char **argv) {
    const char *ckpt = NULL, *text = NULL, *ids_file = NULL, *device = "cpu", *dump = NULL;
    double tokens = 100, temp = 1, top_k = 0, top_p = 1, seed = 1;
    int print_ids = 0, tokens_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout), 0;
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) return printf("ssmgen %s\n", PACKAGE_VERSION), 0;
        if (!strcmp(a, "--print-ids")) {
            print_ids = 1;
            continue;
        }
        struct {
            const char *name;
            const char **s;
            double *d, lo;
        } opts[] = {{"--prompt-ids", &ids_file, NULL, 0}, {"--prompt", &text, NULL, 0},
                    {"--tokens", NULL, &tokens, 0},       {"--temperature", NULL, &temp, 0},
                    {"--top-k", NULL, &top_k, 0},         {"--top-p", NULL, &top_p, 0},
                    {"--seed", NULL, &seed, 0},           {"--device", &device, NULL, 0},
                    {"--dump-logits", &dump, NULL, 0}};
        int rc = 0;
        for (size_t k = 0; !rc && k < sizeof opts / sizeof opts[0]; k++) {
            rc = option(argc, argv, &i, opts[k].name, &v);
            if (rc == 1 && opts[k].s) *opts[k].s = v;
            if (rc == 1 && opts[k].d && !number(opts[k].name, v, opts[k].lo, opts[k].d)) return 2;
            if (rc == 1 && opts[k].d == &tokens) tokens_set = 1;
        }
        if (rc == 2) return 2;
        if (rc) continue;
        if (a[0] == '-' && a[1]) return fprintf(stderr, "ssmgen: unknown option '%s' (see --help)\n", a), 2;
        if (ckpt) return fprintf(stderr, "ssmgen: unexpected argument '%s'\n", a), 2;
        ckpt = a;
    }
    if (!ckpt) return fprintf(stderr, "ssmgen: need CKPT.h5 (see --help)\n"), 2;
    if (!text == !ids_file)
        return fprintf(stderr, "ssmgen: give one of --prompt TEXT and --prompt-ids FILE\n"), 2;
    if (strcmp(device, "cpu") && strcmp(device, "cuda"))
        return fprintf(stderr, "ssmgen: --device '%s': expected cpu or cuda\n", device), 2;
    if (dump && !tokens_set) tokens = 0;
    ssm_sample_opts so = {.temperature = temp, .top_k = (int64_t)top_k, .top_p = top_p,
                          .seed = (uint64_t)seed};
    if (ssm_sample_check(&so) != SSM_OK) return fprintf(stderr, "ssmgen: %s\n", ssm_last_error()), 2;
    ssm_device dev = strcmp(device, "cuda") ? SSM_CPU : SSM_CUDA;
    if (dev == SSM_CUDA && !ssm_device_available(SSM_CUDA))
        return fprintf(stderr, "ssmgen: --device cuda: no CUDA device is available\n"), 1;
    ssm_config cfg;
    ssm_model *m = ssm_ckpt_model(ckpt, dev, &cfg);
    if (!m) return fprintf(stderr, "ssmgen: %s\n", ssm_last_error()), 1;
    int bytes = cfg.data.task == SSM_CFG_DATA_LM_BYTES, rc = 0;
    int32_t *prompt = NULL, *out = NULL;
    int64_t n = 0, n_new = (int64_t)tokens;
    if (cfg.model.task != SSM_CFG_TASK_LM) {
        rc = ssm_error("%s holds a classification model (model.task = classification): nothing "
                       "to generate", ckpt);
    } else if (text && !bytes) {
        rc = ssm_error("--prompt TEXT needs a byte-level checkpoint (data.task = lm_bytes: id = "
                       "byte); this one's vocabulary is not text: use --prompt-ids FILE");
    } else if (text) {
        n = (int64_t)strlen(text);
        prompt = malloc(sizeof *prompt * (size_t)(n + 1));
        SSM_CHECK(prompt, "ssmgen: out of memory");
        for (int64_t i = 0; i < n; i++) prompt[i] = (unsigned char)text[i];
    } else {
        rc = read_ids(ids_file, &prompt, &n);
    }
    ssm_gen_stats gs = {0};
    out = malloc(sizeof *out * (size_t)(n_new + 1));
    SSM_CHECK(out, "ssmgen: out of memory");
    if (rc == SSM_OK && dump) {
        rc = ssm_generate(m, prompt, n, 0, &so, out, NULL); /* checks the ids */
        if (rc == SSM_OK) {
            float *lg = ssm_parallel_logits(m, prompt, n);
            rc = ssm_npy_write_f32(dump, lg, n, m->cfg.d_output);
            free(lg);
        }
    }
    if (rc == SSM_OK && n_new > 0) rc = ssm_generate(m, prompt, n, n_new, &so, out, &gs);
    if (rc != SSM_OK) {
        fprintf(stderr, "ssmgen: %s\n", ssm_last_error());
        rc = 1;
    } else if (n_new > 0) {
        for (int64_t i = 0; i < n_new; i++) {
            if (bytes) putchar(out[i]);
            else printf(i ? " %d" : "%d", out[i]);
        }
        putchar('\n');
        for (int64_t i = 0; bytes && print_ids && i < n_new; i++) printf(i ? " %d" : "%d", out[i]);
        if (bytes && print_ids) putchar('\n');
        fprintf(stderr, "ssmgen: %lld prompt + %lld new tokens, %lld steps in %.3f s: %.1f tokens/s "
                "(step mode, %s)\n", (long long)n, (long long)n_new, (long long)gs.steps, gs.seconds,
                gs.seconds > 0 ? (double)gs.steps / gs.seconds : 0.0, device);
    }
    free(prompt);
    free(out);
    ssm_model_free(m);
    return rc;
}
