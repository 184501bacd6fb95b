/* Command-line parsing for ssmtrain (see cli.h). */
#include "cli.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

/* The options; arg NULL with flag set: takes no value. --set is the only repeatable one. */
static const struct {
    const char *name, *arg, *help;
    bool flag;
} options[] = {
    {"--set", "SECTION.KEY=VALUE",
     "override one key of CONFIG.ini, checked like the file; repeatable, the last one wins "
     "(keys: docs/CONFIG.md)", false},
    {"--resume", "CKPT.h5",
     "continue training from a checkpoint (its step, data position, optimizer and RNG state)", false},
    {"--out", "DIR",
     "output folder: DIR/config.ini (the resolved config), metrics.jsonl, curves.png (loss "
     "and accuracy, redrawn at each evaluation), ckpt/ (default: "
     "runs/NAME for CONFIG .../NAME.ini; for .../NAME/config.ini, runs/NAME)", false},
    {"--overwrite", NULL,
     "start afresh in an --out folder that holds another run's files (they are removed)", true},
    {"--device", NULL, "same as --set train.device=...", false},
    {"--eval-only", "CKPT.h5",
     "evaluate a checkpoint on the validation and test sets; no training, nothing written. "
     "CONFIG.ini may be left out: the checkpoint's own config is used", false},
    {"--dump-logits", "FILE.npy",
     "with --eval-only, classification: write the test set's logits, float32 [examples, "
     "classes] in the data set's order, as a NumPy .npy file (for comparisons with other "
     "runtimes)", false},
    {"--profile", "STEP",
     "time every op of this run's training step STEP (from 1; 3 skips the warm-up), print the "
     "table on standard error and stop there, writing nothing", false},
    {"--profile-continue", NULL, "with --profile: train on to the end after the profiled step",
     true},
    {"--bench", "STEPS",
     "time STEPS training steps after 5 warm-up steps (CUDA graphs captured, arena sized) and "
     "print ms/step, tokens/s and peak device memory; no validation, nothing written", false},
    {"--time-limit", "DURATION",
     "stop once this much wall time has passed since the start (90s, 45m, 2h, 1h30m; a "
     "number alone is seconds): the step in progress is finished, DIR/ckpt/last.h5 written, "
     "exit status 142; continue with --resume (a batch job's time slot, one GPU session)",
     false},
};
#define NOPT (sizeof options / sizeof options[0])

/* "90s", "45m", "2h", "1h30m", "1d", or a number of seconds alone, > 0 and at most a
 * year, into *s */
static int parse_duration(const char *v, double *s) {
    double total = 0;
    for (const char *p = v; *p;) {
        if (*p < '0' || *p > '9') return SSM_ERR;
        char *end;
        double x = strtod(p, &end);
        if (!*end && p == v) { /* a number alone: seconds */
            total = x;
            break;
        }
        double unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
        if (unit == 0) return SSM_ERR;
        total += x * unit;
        p = end + 1;
    }
    if (!(total > 0 && total <= 366 * 86400.0)) return SSM_ERR;
    *s = total;
    return SSM_OK;
}

/* "cpu|cuda", from the config table so the two never disagree. */
static void device_choices(char *buf, size_t n) {
    const ssm_cfg_key *k = ssm_cfg_find("train", "device");
    buf[0] = 0;
    for (int i = 0; k->choices[i].name; i++) {
        if (i) strncat(buf, "|", n - strlen(buf) - 1);
        strncat(buf, k->choices[i].name, n - strlen(buf) - 1);
    }
}

/* "  HEAD   help text" with the text wrapped at 80 columns under its first word. */
static void help_line(FILE *f, const char *head, const char *help) {
    enum { INDENT = 29, WIDTH = 80 };
    int col = fprintf(f, "  %-26s", head), first = 1;
    for (const char *w = help; *w;) {
        size_t n = strcspn(w, " ");
        if (!first && col + 1 + (int)n > WIDTH) col = fprintf(f, "\n%*s", INDENT - 1, "") - 1;
        col += fprintf(f, " %.*s", (int)n, w);
        first = 0;
        w += n;
        while (*w == ' ') w++;
    }
    fputc('\n', f);
}

void ssm_cli_usage(FILE *f, const char *prog) {
    char dev[64];
    device_choices(dev, sizeof dev);
    const char *p = prog ? strrchr(prog, '/') : NULL;
    p = p ? p + 1 : prog ? prog : "ssmtrain";
    fprintf(f,
            "Usage: %s CONFIG.ini [--set SECTION.KEY=VALUE]... [--resume CKPT.h5] [--out DIR]\n"
            "       %*s [--overwrite] [--device %s] [--profile STEP [--profile-continue]]\n"
            "       %*s [--bench STEPS] [--time-limit DURATION]\n"
            "       %s [CONFIG.ini] --eval-only CKPT.h5 [--set ...] [--device ...]\n"
            "       %s --help | --version\n"
            "Train a state-space sequence model (S4, S4D, S5, Mamba) as CONFIG.ini says.\n\n"
            "Options (VALUE may also follow '=', as in --out=DIR):\n",
            p, (int)strlen(p), "", dev, (int)strlen(p), "", p, p);
    for (size_t i = 0; i < NOPT; i++) {
        char head[128];
        snprintf(head, sizeof head, "%s%s%s", options[i].name, options[i].flag ? "" : " ",
                 options[i].flag ? "" : options[i].arg ? options[i].arg : dev);
        help_line(f, head, options[i].help);
    }
    help_line(f, "-h, --help", "print this help and exit");
    help_line(f, "-V, --version", "print the version and exit");
    fputs("\nExit status:\n"
          "  0    training finished (or nothing was left to train)\n"
          "  1    a data, checkpoint or output file could not be read or written\n"
          "  2    bad command line or configuration, or the --out folder holds another run\n"
          "       or is in use (nothing is written)\n"
          "  3    stopped on a NaN/Inf loss or gradient (the last checkpoint is kept)\n"
          "  4    data parallel: a rank's parameters differ from rank 0's\n"
          "       (train.check_replicas_every)\n"
          "  5    out of host or GPU memory: the message names the op and the tensor's shape\n"
          "       and size (the last checkpoint is kept)\n"
          "  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the current step was finished\n"
          "       and DIR/ckpt/last.h5 written; continue with --resume (a second signal exits\n"
          "       at once, leaving the checkpoints of before)\n"
          "  142  the --time-limit was reached (128 + SIGALRM): as for a signal, the step was\n"
          "       finished and DIR/ckpt/last.h5 written; continue with --resume\n",
          f);
}

void ssm_cli_free(ssm_cli *cli) {
    if (!cli) return;
    free(cli->sets);
    free(cli->out_owned);
    memset(cli, 0, sizeof *cli);
}

/* Levenshtein distance, for "did you mean --set?". */
static int dist(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

static int unknown_option(const char *arg) {
    const char *all[NOPT + 2];
    for (size_t i = 0; i < NOPT; i++) all[i] = options[i].name;
    all[NOPT] = "--help", all[NOPT + 1] = "--version";
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    for (size_t i = 0; i < NOPT + 2; i++)
        if (dist(name, all[i]) <= 2)
            return ssm_error("unknown option '%s'; did you mean %s? (see --help)", name, all[i]);
    return ssm_error("unknown option '%s' (see --help)", name);
}

int ssm_cli_parse(ssm_cli *cli, int argc, char *const *argv) {
    memset(cli, 0, sizeof *cli);
    /* --help and --version win over everything else on the line. */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return SSM_CLI_HELP;
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) return SSM_CLI_VERSION;
    }
    cli->sets = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *cli->sets);
    SSM_CHECK(cli->sets, "ssm_cli_parse: out of memory");
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || !a[1]) {
            if (cli->config)
                return ssm_error("unexpected argument '%s': CONFIG.ini is already '%s'", a,
                                 cli->config);
            cli->config = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = true;
            continue;
        }
        size_t len = strcspn(a, "=");
        size_t o = 0;
        while (o < NOPT && (strlen(options[o].name) != len || strncmp(a, options[o].name, len)))
            o++;
        if (o == NOPT) return unknown_option(a);
        const char *name = options[o].name, *val;
        if (options[o].flag) {
            if (a[len] == '=') return ssm_error("option %s takes no value", name);
            *(!strcmp(name, "--overwrite") ? &cli->overwrite : &cli->profile_continue) = 1;
            continue;
        }
        if (a[len] == '=')
            val = a + len + 1;
        else if (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] == '-'))
            val = argv[++i];
        else {
            char dev[64];
            device_choices(dev, sizeof dev);
            return ssm_error("option %s needs a value (%s %s)", name, name,
                             options[o].arg ? options[o].arg : dev);
        }
        if (!*val) return ssm_error("option %s: empty value", name);
        if (!strcmp(name, "--set")) {
            cli->sets[cli->n_sets++] = val;
            continue;
        }
        if (!strcmp(name, "--time-limit")) {
            if (cli->time_limit_s > 0)
                return ssm_error("option --time-limit given twice");
            if (parse_duration(val, &cli->time_limit_s) != SSM_OK)
                return ssm_error("option --time-limit: '%s' is not a duration (90s, 45m, 2h, "
                                 "1h30m, or seconds)", val);
            continue;
        }
        if (!strcmp(name, "--profile") || !strcmp(name, "--bench")) {
            char *end;
            long v = strtol(val, &end, 10);
            if (*end || v < 1 || v > 1000000000L)
                return ssm_error("option %s: '%s' is not a step count (1, 2, ...)", name, val);
            *(!strcmp(name, "--bench") ? &cli->bench_steps : &cli->profile_step) = v;
            continue;
        }
        const char **slot = !strcmp(name, "--resume")    ? &cli->resume
                            : !strcmp(name, "--out")       ? &cli->out
                            : !strcmp(name, "--device")    ? &cli->device
                            : !strcmp(name, "--dump-logits") ? &cli->dump_logits
                                                           : &cli->eval_only;
        if (*slot) return ssm_error("option %s given twice ('%s' and '%s')", name, *slot, val);
        *slot = val;
    }
    if (cli->device) {
        const ssm_cfg_key *k = ssm_cfg_find("train", "device");
        int j = 0;
        while (k->choices[j].name && strcmp(k->choices[j].name, cli->device)) j++;
        if (!k->choices[j].name) {
            char dev[64];
            device_choices(dev, sizeof dev);
            return ssm_error("option --device: unknown device '%s'; expected %s", cli->device, dev);
        }
    }
    if (cli->dump_logits && !cli->eval_only)
        return ssm_error("option --dump-logits needs --eval-only CKPT.h5");
    if (cli->resume && cli->eval_only)
        return ssm_error("options --resume and --eval-only exclude each other");
    if (cli->eval_only) {
        const char *extra = cli->out ? "--out" : cli->overwrite ? "--overwrite"
                            : cli->profile_step ? "--profile" : cli->bench_steps ? "--bench"
                            : cli->time_limit_s > 0 ? "--time-limit" : NULL;
        if (extra)
            return ssm_error("option %s does nothing with --eval-only (it trains nothing and "
                             "writes nothing)", extra);
        return SSM_CLI_RUN;
    }
    if (cli->profile_continue && !cli->profile_step)
        return ssm_error("option --profile-continue needs --profile STEP");
    if (cli->bench_steps && (cli->profile_step || cli->resume))
        return ssm_error("option --bench times fresh steps alone: not with %s",
                         cli->profile_step ? "--profile" : "--resume");
    if (!cli->config) return ssm_error("missing CONFIG.ini (see --help)");
    if (!cli->out) {
        /* runs/NAME: runs of different configs do not overwrite each other. A saved
         * runs/NAME/config.ini is named by its folder, so it does not write to runs/config. */
        const char *base = strrchr(cli->config, '/');
        base = base ? base + 1 : cli->config;
        size_t n = strlen(base);
        if (n > 4 && !strcmp(base + n - 4, ".ini")) n -= 4;
        if (n == 6 && !strncmp(base, "config", 6) && base != cli->config) {
            const char *end = base - 1, *start = end;
            while (start > cli->config && start[-1] != '/') start--;
            size_t pn = (size_t)(end - start);
            bool dots = (pn == 1 && start[0] == '.') || (pn == 2 && !strncmp(start, "..", 2));
            if (pn && !dots) base = start, n = pn;
        }
        cli->out_owned = malloc(n + 6);
        SSM_CHECK(cli->out_owned, "ssm_cli_parse: out of memory");
        snprintf(cli->out_owned, n + 6, "runs/%.*s", (int)n, base);
        cli->out = cli->out_owned;
    }
    return SSM_CLI_RUN;
}

int ssm_cli_load_config(const ssm_cli *cli, ssm_config *c) {
    size_t n = cli->n_sets;
    const char **sets = malloc((n + 1) * sizeof *sets), **origins = malloc((n + 1) * sizeof *origins);
    char dev[64];
    SSM_CHECK(sets && origins, "ssm_cli_load_config: out of memory");
    for (size_t i = 0; i < n; i++) sets[i] = cli->sets[i], origins[i] = "--set";
    if (cli->device) {
        snprintf(dev, sizeof dev, "train.device=%s", cli->device);
        sets[n] = dev, origins[n++] = "--device";
    }
    int rc = ssm_config_load_ex(c, cli->config, NULL, sets, origins, n);
    free(sets);
    free(origins);
    return rc;
}
