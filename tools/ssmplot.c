/* ssmplot: learning curves of ssmtrain runs as a PNG or SVG (tools/curves.h).
 *   ssmplot RUN_DIR... [-o FILE.png|FILE.svg] [--metric M] [--x step|epoch|time] [--log-y]
 *           [--smooth N] [--width W] [--height H]
 * Exit statuses: 0 written, 1 a metrics file unreadable or malformed or the picture not
 * written, 2 a bad command line. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "curves.h"
#include "log.h"
#include "plot.h"

enum { EXIT_DATA = 1, EXIT_USAGE = 2 };

static void usage(FILE *f, const char *prog) {
    const char *p = strrchr(prog, '/');
    p = p ? p + 1 : prog;
    fprintf(f,
            "Usage: %s RUN_DIR... [-o FILE.png|FILE.svg] [--metric METRIC]\n"
            "       %*s [--x step|epoch|time] [--log-y] [--smooth N]\n"
            "       %*s [--width W] [--height H]\n"
            "       %s --help | --version\n"
            "Draw the learning curves of ssmtrain runs (RUN_DIR/metrics.jsonl), several runs\n"
            "overlaid: training rows as a faint line, validation rows as a line with dots and\n"
            "the best value ringed (lowest loss, highest accuracy). The legend names each run\n"
            "by its folder and the layer and task of its config.ini.\n\n"
            "Options (VALUE may also follow '=', as in --metric=acc):\n"
            "  -o, --output FILE          PNG or SVG, by the extension (default: METRIC.png)\n"
            "  --metric METRIC            loss (default), acc, lr, grad_norm or tokens_per_s\n"
            "                             (the last three: training rows only)\n"
            "  --x step|epoch|time        the horizontal axis: optimizer steps (default),\n"
            "                             epochs, or wall-clock time (the rows' time_s;\n"
            "                             resumed runs continue where they stopped)\n"
            "  --log-y                    logarithmic vertical axis (values <= 0 left out)\n"
            "  --smooth N                 training lines: mean of the last N rows (default 1)\n"
            "  --width W, --height H      picture size in pixels (default 800x500)\n"
            "  -h, --help                 print this help and exit\n"
            "  -V, --version              print the version and exit\n\n"
            "A run still being written may end in an unfinished line: it is left out with a\n"
            "warning. Exit status: 0 written, 1 a metrics file unreadable or malformed (the\n"
            "message names file:line) or the picture not written, 2 a bad command line.\n",
            p, (int)strlen(p), "", (int)strlen(p), "", p);
}

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "ssmplot: error: %s%s%s\n(run 'ssmplot --help' for usage)\n", msg,
            arg ? " " : "", arg ? arg : "");
    return EXIT_USAGE;
}

/* An integer option value within [lo, hi], or -1. */
static long int_value(const char *v, long lo, long hi) {
    char *end;
    long n = strtol(v, &end, 10);
    return *v && !*end && n >= lo && n <= hi ? n : -1;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
            printf("ssmplot %s\n", PACKAGE_VERSION);
            return 0;
        }
    }
    static const char *takes_value[] = {"-o", "--output", "--metric", "--x", "--smooth",
                                        "--width", "--height"};
    const char *out = NULL, *metric = "loss", *x = "step";
    long smooth = 1, width = 800, height = 500;
    int log_y = 0, n_dirs = 0, only_dirs = 0;
    const char **dirs = malloc(sizeof *dirs * (size_t)argc);
    SSM_CHECK(dirs, "ssmplot: out of memory");
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (only_dirs || a[0] != '-' || !a[1]) {
            dirs[n_dirs++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_dirs = 1;
            continue;
        }
        if (!strcmp(a, "--log-y")) {
            log_y = 1;
            continue;
        }
        size_t len = strcspn(a, "=");
        const char *name = NULL, *val;
        for (size_t k = 0; k < sizeof takes_value / sizeof *takes_value; k++)
            if (strlen(takes_value[k]) == len && !strncmp(a, takes_value[k], len)) name = takes_value[k];
        if (!name) {
            rc = usage_error("unknown option", a);
            break;
        }
        if (a[len] == '=') val = a + len + 1;
        else if (i + 1 < argc) val = argv[++i];
        else {
            rc = usage_error("this option needs a value:", name);
            break;
        }
        if (!strcmp(name, "-o") || !strcmp(name, "--output")) out = val;
        else if (!strcmp(name, "--metric")) metric = val;
        else if (!strcmp(name, "--x")) x = val;
        else if (!strcmp(name, "--smooth") && (smooth = int_value(val, 1, 100000)) < 0)
            rc = usage_error("--smooth takes a number of rows (1, 2, ...), not", val);
        else if (!strcmp(name, "--width") && (width = int_value(val, 200, 10000)) < 0)
            rc = usage_error("--width takes 200 to 10000 pixels, not", val);
        else if (!strcmp(name, "--height") && (height = int_value(val, 120, 10000)) < 0)
            rc = usage_error("--height takes 120 to 10000 pixels, not", val);
    }
    ssm_curves_opts o = {.metrics = {metric}, .n_metrics = 1, .log_y = log_y, .smooth = (int)smooth,
                         .width = (int)width, .height = (int)height};
    char default_out[64];
    if (!rc && !n_dirs) rc = usage_error("missing RUN_DIR (a folder written by ssmtrain --out)", NULL);
    if (!rc && !ssm_curves_metric_known(metric))
        rc = usage_error("--metric: expected loss, acc, lr, grad_norm or tokens_per_s, not", metric);
    if (!rc && strcmp(x, "step") && strcmp(x, "epoch") && strcmp(x, "time"))
        rc = usage_error("--x: expected step, epoch or time, not", x);
    if (!rc && out && !ssm_plot_format(out))
        rc = usage_error("-o: the file name must end in .png or .svg:", out);
    if (rc) {
        free(dirs);
        return rc;
    }
    o.x = !strcmp(x, "step") ? SSM_CURVES_STEP : !strcmp(x, "epoch") ? SSM_CURVES_EPOCH
                                                                     : SSM_CURVES_TIME;
    if (!out) snprintf(default_out, sizeof default_out, "%s.png", metric), out = default_out;
    ssm_curves_run *runs = calloc((size_t)n_dirs, sizeof *runs);
    SSM_CHECK(runs, "ssmplot: out of memory");
    int loaded = 0;
    for (; loaded < n_dirs && !rc; loaded++) {
        if (ssm_curves_load(&runs[loaded], dirs[loaded]) != SSM_OK) rc = EXIT_DATA;
        else if (runs[loaded].t.skipped_line)
            fprintf(stderr, "ssmplot: warning: %s/metrics.jsonl:%d: unfinished last line (no "
                    "newline: the run is still writing it) left out\n", dirs[loaded],
                    runs[loaded].t.skipped_line);
    }
    if (!rc && ssm_curves_write(out, runs, n_dirs, &o) != SSM_OK) rc = EXIT_DATA;
    if (rc) fprintf(stderr, "ssmplot: error: %s\n", ssm_last_error());
    else printf("ssmplot: wrote %s (%s of %d run%s against %s)\n", out, metric, n_dirs,
                n_dirs > 1 ? "s" : "", x);
    for (int i = 0; i < loaded; i++) ssm_curves_run_free(&runs[i]);
    free(runs);
    free(dirs);
    return rc;
}
