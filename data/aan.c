/* LRA Retrieval (AAN) TSV reader (see aan.h). */
#include "aan.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

static const char *const COLUMNS[5] = {"label", "id1", "id2", "text1", "text2"};

/* The label column: a number equal to 0 or 1 ("0", "1.0", "1e0"), else -1. */
static int parse_label(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) return -1;
    return v == 0 ? 0 : v == 1 ? 1 : -1;
}

static int read_split(const char *path, const ssm_text_opts *o, ssm_dataset **out) {
    FILE *f = fopen(path, "r");
    if (!f)
        return ssm_error("%s: cannot open (expected LRA's tsv_data folder with "
                         "new_aan_pairs.{train,eval,test}.tsv): %s", path, strerror(errno));
    ssm_dataset *d = ssm_text_stage_new("aan", 2, o);
    char *line = NULL;
    size_t cap = 0;
    long long lineno = 0;
    int rc = SSM_OK;
    ssize_t got;
    while (rc == SSM_OK && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (strlen(line) != n) {
            rc = ssm_error("%s:%lld: NUL byte in the line", path, lineno);
            break;
        }
        int n_cols = 1;
        for (const char *p = line; *p; p++) n_cols += *p == '\t';
        if (n_cols != 5) {
            rc = ssm_error("%s:%lld: %d tab-separated columns, expected 5 (label id1 id2 text1 "
                           "text2)", path, lineno, n_cols);
            break;
        }
        char *col[5] = {line};
        for (int k = 1; k < 5; k++) {
            col[k] = strchr(col[k - 1], '\t') + 1;
            col[k][-1] = 0;
        }
        int label = parse_label(col[0]);
        if (label < 0) {
            rc = ssm_error("%s:%lld: label '%s' is not 0 or 1", path, lineno, col[0]);
            break;
        }
        for (int t = 3; t < 5 && rc == SSM_OK; t++) {
            size_t bad;
            if (ssm_text_add(d, o, col[t], strlen(col[t]), &bad) != SSM_OK)
                rc = ssm_error("%s:%lld: column %d (%s): invalid UTF-8 at byte %zu", path, lineno,
                               t + 1, COLUMNS[t], bad);
        }
        if (rc == SSM_OK) ssm_dataset_end_example(d, label);
    }
    if (rc == SSM_OK && ferror(f)) rc = ssm_error("%s: read error: %s", path, strerror(errno));
    if (rc == SSM_OK && d->n == 0) rc = ssm_error("%s: no pairs", path);
    free(line);
    fclose(f);
    if (rc != SSM_OK) {
        ssm_dataset_free(d);
        return rc;
    }
    *out = d;
    return SSM_OK;
}

int ssm_aan_read(const char *dir, const ssm_text_opts *opts, ssm_dataset **train,
                 ssm_dataset **val, ssm_dataset **test) {
    static const char *const names[3] = {"train", "eval", "test"};
    ssm_text_opts o = opts ? *opts : (ssm_text_opts){SSM_TEXT_CHAR, 0, 0};
    if (o.max_len <= 0) o.max_len = SSM_AAN_MAX_LEN;
    if (o.min_freq <= 0) o.min_freq = SSM_AAN_MIN_FREQ;
    ssm_dataset *parts[3] = {NULL, NULL, NULL};
    char path[4200];
    for (int p = 0; p < 3; p++) {
        snprintf(path, sizeof path, "%s/new_aan_pairs.%s.tsv", dir, names[p]);
        if (read_split(path, &o, &parts[p]) != SSM_OK) {
            for (int q = 0; q < p; q++) ssm_dataset_free(parts[q]);
            *train = *val = *test = NULL;
            return SSM_ERR;
        }
    }
    ssm_text_finish(parts, 3, &o);
    *train = parts[0];
    *val = parts[1];
    *test = parts[2];
    return SSM_OK;
}
