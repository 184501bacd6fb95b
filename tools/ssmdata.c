/* ssmdata: write a generated data set in the layout of LRA's release.
 *   ssmdata pathfinder --resolution 32|128 --n N --out DIR [--threads T] [--seed S]
 *   ssmdata pathx --n N --out DIR ...           (pathfinder --resolution 128)
 *   ssmdata listops --out DIR [--n-train N] [--n-val N] [--n-test N] [--seed S]
 * Exit codes: 0 done, 1 I/O or generation error, 2 bad command line. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "fsutil.h"
#include "listops.h"
#include "log.h"
#include "pathfinder_write.h"

enum { EXIT_IO = 1, EXIT_USAGE = 2 };

/* Every option takes a value; `tasks` says which subcommands accept it. */
static const struct {
    const char *name, *arg, *tasks, *help;
} options[] = {
    {"--out", "DIR", "pathfinder pathx listops", "output folder (created as needed)"},
    {"--resolution", "32|128", "pathfinder",
     "image side: 32 (pathfinder32) or 128 (pathfinder128, Path-X); required"},
    {"--n", "N", "pathfinder pathx", "number of images; required"},
    {"--batch-size", "B", "pathfinder pathx",
     "images per imgs/<b> folder and metadata/<b>.npy (default 1000)"},
    {"--threads", "T", "pathfinder pathx", "generator threads (default: OpenMP's, all cores)"},
    {"--seed", "S", "pathfinder pathx listops", "random seed (default 0); same seed, same bytes"},
    {"--n-train", "N", "listops", "training expressions (default 96000, as LRA)"},
    {"--n-val", "N", "listops", "validation expressions (default 2000)"},
    {"--n-test", "N", "listops", "test expressions (default 2000)"},
};
#define NOPT (sizeof options / sizeof options[0])

static void usage(FILE *f) {
    fputs("Usage: ssmdata pathfinder --resolution 32|128 --n N --out DIR [--batch-size B]\n"
          "                [--threads T] [--seed S]\n"
          "       ssmdata pathx --n N --out DIR [--batch-size B] [--threads T] [--seed S]\n"
          "       ssmdata listops --out DIR [--n-train N] [--n-val N] [--n-test N] [--seed S]\n"
          "       ssmdata --help | --version\n"
          "Write a generated data set in the layout of the Long Range Arena release.\n\n"
          "  pathfinder   DIR/curv_contour_length_14/imgs/<b>/sample_<i>.png and\n"
          "               metadata/<b>.npy (text), the snakes generator with LRA's settings\n"
          "  pathx        the same as pathfinder --resolution 128 (Path-X)\n"
          "  listops      DIR/basic_{train,val,test}.tsv, LRA's ListOps generator\n\n"
          "Options (VALUE may also follow '=', as in --out=DIR):\n",
          f);
    for (size_t i = 0; i < NOPT; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", options[i].name, options[i].arg);
        fprintf(f, "  %-22s %s [%s]\n", head, options[i].help, options[i].tasks);
    }
    fprintf(f, "  %-22s %s\n", "-h, --help", "print this help and exit");
    fprintf(f, "  %-22s %s\n", "-V, --version", "print the version and exit");
    fputs("\nImages depend only on (seed, index): the thread count does not change a byte.\n"
          "Rerunning an interrupted pathfinder command completes it: batches whose metadata\n"
          "file exists are kept, the others are written again (files go to .tmp first).\n"
          "Progress (images/s) goes to stderr. See docs/DATA.md.\n\n"
          "Exit status: 0 on success, 1 when writing fails (the message names the path),\n"
          "2 for a bad command line (then nothing is written).\n",
          f);
}

SSM_PRINTF(1, 2) static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ssmdata: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(run 'ssmdata --help' for usage)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* An integer in [lo, hi], all of s. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    if (!*s || *s == '-' || *s == '+') return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

typedef struct {
    const char *name;
    double start, last;
    int tty;
} progress;

static void show(int64_t written, int64_t skipped, int64_t total, void *arg) {
    progress *pr = arg;
    double t = ssm_now_s();
    int done = written + skipped == total;
    if (!done && t - pr->last < (pr->tty ? 0.25 : 10.0)) return;
    pr->last = t;
    double rate = written / (t - pr->start > 1e-9 ? t - pr->start : 1e-9);
    double eta = rate > 0 ? (double)(total - written - skipped) / rate : 0;
    fprintf(stderr, "%s%s: %" PRId64 "/%" PRId64 " images", pr->tty ? "\r" : "", pr->name,
            written + skipped, total);
    if (skipped) fprintf(stderr, " (%" PRId64 " kept)", skipped);
    fprintf(stderr, ", %.1f images/s, ETA %.0f s   %s", rate, eta, pr->tty && !done ? "" : "\n");
}

typedef struct {
    const char *task, *out;
    uint64_t resolution, n, batch_size, threads, seed, n_train, n_val, n_test;
    int has_n;
} args;

static int run_pathfinder(const args *a) {
    ssm_pathfinder_params p;
    ssm_pathfinder_preset((int)a->resolution, &p);
    char name[32];
    snprintf(name, sizeof name, "pathfinder%d", (int)a->resolution);
    progress pr = {name, ssm_now_s(), 0, isatty(2)};
    ssm_pathfinder_set_opts o = {.n = (int64_t)a->n, .batch_size = (int64_t)a->batch_size,
                                 .seed = a->seed, .threads = (int)a->threads,
                                 .progress = show, .progress_arg = &pr};
    if (ssm_pathfinder_write_set(&p, a->out, &o) != SSM_OK) {
        if (pr.tty) fputc('\n', stderr);
        fprintf(stderr, "ssmdata: error: %s\n", ssm_last_error());
        return EXIT_IO;
    }
    char sub[64];
    ssm_pathfinder_dirname(&p, sub, sizeof sub);
    printf("ssmdata: %s, %" PRIu64 " images (seed %" PRIu64 ") in %s/%s, %.1f s\n", name, a->n,
           a->seed, a->out, sub, ssm_now_s() - pr.start);
    return 0;
}

static int run_listops(const args *a) {
    if (ssm_mkdirs(a->out) != SSM_OK) {
        fprintf(stderr, "ssmdata: error: %s\n", ssm_last_error());
        return EXIT_IO;
    }
    double t0 = ssm_now_s();
    int64_t n[3] = {(int64_t)a->n_train, (int64_t)a->n_val, (int64_t)a->n_test};
    ssm_listops_gen g = ssm_listops_gen_lra();
    ssm_listops_set *s;
    fprintf(stderr, "listops: generating %" PRId64 " expressions\n", n[0] + n[1] + n[2]);
    if (ssm_listops_generate(&g, a->seed, n[0] + n[1] + n[2], &s) != SSM_OK) {
        fprintf(stderr, "ssmdata: error: %s\n", ssm_last_error());
        return EXIT_IO;
    }
    /* LRA's order: train, val, test from one deduplicated stream */
    static const char *split[3] = {"train", "val", "test"};
    int64_t begin = 0;
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/basic_%s.tsv", a->out, split[k]);
        if (ssm_listops_write_tsv(path, s, begin, begin + n[k]) != SSM_OK) {
            fprintf(stderr, "ssmdata: error: %s\n", ssm_last_error());
            ssm_listops_set_free(s);
            return EXIT_IO;
        }
        begin += n[k];
    }
    ssm_listops_set_free(s);
    double t = ssm_now_s() - t0;
    printf("ssmdata: listops, %" PRId64 "/%" PRId64 "/%" PRId64 " expressions (seed %" PRIu64
           ") in %s/basic_{train,val,test}.tsv, %.1f s (%.0f expressions/s)\n",
           n[0], n[1], n[2], a->seed, a->out, t, (double)(n[0] + n[1] + n[2]) / (t > 0 ? t : 1));
    return 0;
}

static int parse(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    a->batch_size = 1000;
    a->n_train = 96000, a->n_val = 2000, a->n_test = 2000;
    if (argc < 2 || argv[1][0] == '-')
        return usage_error("missing the data set: pathfinder, pathx or listops");
    a->task = argv[1];
    if (strcmp(a->task, "pathfinder") && strcmp(a->task, "pathx") && strcmp(a->task, "listops"))
        return usage_error("unknown data set '%s'; expected pathfinder, pathx or listops",
                           a->task);
    if (!strcmp(a->task, "pathx")) a->resolution = 128;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        size_t len = strcspn(arg, "=");
        size_t o = 0;
        while (o < NOPT && (strlen(options[o].name) != len || strncmp(arg, options[o].name, len)))
            o++;
        if (o == NOPT) {
            if (arg[0] != '-') return usage_error("unexpected argument '%s'", arg);
            return usage_error("unknown option '%s'", arg);
        }
        const char *name = options[o].name, *val;
        char tasks[64];
        snprintf(tasks, sizeof tasks, " %s ", options[o].tasks);
        char me[32];
        snprintf(me, sizeof me, " %s ", a->task);
        if (!strstr(tasks, me)) return usage_error("option %s does not apply to %s", name, a->task);
        if (arg[len] == '=') val = arg + len + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return usage_error("option %s needs a value (%s)", name, options[o].arg);
        if (!strcmp(name, "--out")) {
            if (!*val) return usage_error("option --out: empty folder name");
            a->out = val;
            continue;
        }
        uint64_t v;
        int ok;
        if (!strcmp(name, "--resolution")) {
            ok = parse_u64(val, 32, 128, &v) && (v == 32 || v == 128);
            if (ok && a->resolution && a->resolution != v)
                return usage_error("pathx is --resolution 128, not %s", val);
            a->resolution = v;
        } else if (!strcmp(name, "--n")) {
            ok = parse_u64(val, 1, UINT32_MAX, &a->n);
            a->has_n = 1;
        } else if (!strcmp(name, "--batch-size")) {
            ok = parse_u64(val, 1, 100000000, &a->batch_size);
        } else if (!strcmp(name, "--threads")) {
            ok = parse_u64(val, 1, 1024, &a->threads);
        } else if (!strcmp(name, "--seed")) {
            ok = parse_u64(val, 0, UINT64_MAX, &a->seed);
        } else {
            uint64_t *slot = !strcmp(name, "--n-train") ? &a->n_train
                             : !strcmp(name, "--n-val") ? &a->n_val : &a->n_test;
            ok = parse_u64(val, 0, 100000000, slot);
        }
        if (!ok) return usage_error("option %s: bad value '%s'", name, val);
    }
    if (!a->out) return usage_error("missing --out DIR");
    if (strcmp(a->task, "listops")) {
        if (!a->resolution) return usage_error("missing --resolution 32|128");
        if (!a->has_n) return usage_error("missing --n N");
    } else if (a->n_train + a->n_val + a->n_test == 0) {
        return usage_error("nothing to write: --n-train, --n-val and --n-test are all 0");
    }
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
            printf("ssmdata %s\n", PACKAGE_VERSION);
            return 0;
        }
    }
    args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    return strcmp(a.task, "listops") ? run_pathfinder(&a) : run_listops(&a);
}
