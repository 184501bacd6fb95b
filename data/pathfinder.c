#include "pathfinder.h"
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"

typedef struct {
    long long num;
    char *name;
} meta_file;

static int by_num(const void *a, const void *b) {
    long long x = ((const meta_file *)a)->num, y = ((const meta_file *)b)->num;
    return (x > y) - (x < y);
}

static void free_files(meta_file *f, size_t n) {
    for (size_t i = 0; i < n; i++) free(f[i].name);
    free(f);
}

/* The <n>.npy files of dir, sorted by n. */
static int list_metadata(const char *dir, const char *layout, meta_file **out, size_t *count) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return ssm_error("%s: cannot open (%s); %s", dir, strerror(errno), layout);
    meta_file *f = NULL;
    size_t n = 0, cap = 0;
    int rc = SSM_OK;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".npy")) continue;
        char *end;
        errno = 0;
        long long num = strtoll(e->d_name, &end, 10);
        if (end == e->d_name || end != e->d_name + len - 4 || errno) {
            rc = ssm_error("%s/%s: metadata file name is not <integer>.npy (the files are read "
                           "in the order of that integer)", dir, e->d_name);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            f = realloc(f, cap * sizeof *f);
            SSM_CHECK(f, "pathfinder: out of memory");
        }
        f[n].num = num;
        f[n].name = strdup(e->d_name);
        SSM_CHECK(f[n].name, "pathfinder: out of memory");
        n++;
    }
    closedir(d);
    if (rc == SSM_OK && n == 0) rc = ssm_error("%s: no <n>.npy metadata files; %s", dir, layout);
    if (rc != SSM_OK) {
        free_files(f, n);
        return rc;
    }
    qsort(f, n, sizeof *f, by_num);
    *out = f;
    *count = n;
    return SSM_OK;
}

/* An 8-bit grayscale side x side PNG into px, through libpng's simplified API. */
static int read_png(const char *path, const char *where, int side, unsigned char *px) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return ssm_error("%s (%s): cannot read as PNG: %s", path, where, im.message);
    int rc = SSM_OK;
    if (im.format != PNG_FORMAT_GRAY)
        rc = ssm_error("%s (%s): a%s%s%s%s PNG, expected 8-bit grayscale without alpha", path, where,
                       im.format & PNG_FORMAT_FLAG_LINEAR ? " 16-bit" : "",
                       im.format & PNG_FORMAT_FLAG_COLORMAP ? " palette" : "",
                       im.format & PNG_FORMAT_FLAG_COLOR ? " colour" : " grayscale",
                       im.format & PNG_FORMAT_FLAG_ALPHA ? " with alpha" : "");
    else if (im.width != (png_uint_32)side || im.height != (png_uint_32)side)
        rc = ssm_error("%s (%s): %ux%u pixels, expected %dx%d", path, where, im.width, im.height,
                       side, side);
    if (rc != SSM_OK) {
        png_image_free(&im);
        return rc;
    }
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) /* frees im */
        return ssm_error("%s (%s): malformed or truncated PNG: %s", path, where, im.message);
    return SSM_OK;
}

/* Up to max whitespace-separated fields of line, in place. */
static int split_fields(char *line, char **field, int max) {
    int n = 0;
    char *save;
    for (char *s = strtok_r(line, " \t\r\n", &save); s && n < max; s = strtok_r(NULL, " \t\r\n", &save))
        field[n++] = s;
    return n;
}

static int read_metadata(const char *meta_path, const char *base, int side, ssm_dataset *d,
                         unsigned char *px, int32_t *tok, int64_t *skipped) {
    FILE *f = fopen(meta_path, "r");
    if (!f) return ssm_error("%s: cannot open (%s)", meta_path, strerror(errno));
    char *line = NULL, where[1100], img[1400];
    size_t cap = 0;
    int rc = SSM_OK;
    int64_t npx = (int64_t)side * side;
    for (long ln = 1; rc == SSM_OK && getline(&line, &cap, f) >= 0; ln++) {
        char *field[4];
        snprintf(where, sizeof where, "%s:%ld", meta_path, ln);
        int nf = split_fields(line, field, 4);
        if (nf == 0) continue; /* a blank line */
        if (nf < 4) {
            rc = ssm_error("%s: %d field(s), expected 'imgs/<n> sample_<i>.png <i> <label> ...'",
                           where, nf);
            break;
        }
        if (strcmp(field[3], "0") && strcmp(field[3], "1")) {
            rc = ssm_error("%s: label '%s' (field 4), expected 0 or 1", where, field[3]);
            break;
        }
        snprintf(img, sizeof img, "%s/%s/%s", base, field[0], field[1]);
        struct stat st;
        if (stat(img, &st) != 0) {
            rc = ssm_error("%s (%s): cannot open (%s)", img, where, strerror(errno));
            break;
        }
        if (st.st_size == 0) {
            ssm_info("warning: %s (%s): empty image file, skipped", img, where);
            (*skipped)++;
            continue;
        }
        if (read_png(img, where, side, px) != SSM_OK) {
            rc = SSM_ERR;
            break;
        }
        for (int64_t t = 0; t < npx; t++) tok[t] = px[t];
        ssm_dataset_add(d, tok, npx, NULL, field[3][0] - '0');
    }
    if (rc == SSM_OK && ferror(f)) rc = ssm_error("%s: read error", meta_path);
    free(line);
    fclose(f);
    return rc;
}

int ssm_pathfinder_read(const char *dir, const char *difficulty, int side, ssm_dataset **out,
                        int64_t *skipped) {
    *out = NULL;
    int64_t skip = 0;
    char base[600], meta[700], layout[900], path[1000];
    snprintf(base, sizeof base, "%s/%s", dir, difficulty);
    snprintf(meta, sizeof meta, "%s/metadata", base);
    snprintf(layout, sizeof layout, "expected the LRA release layout: %s/<difficulty>/metadata/"
             "<n>.npy and %s/<difficulty>/imgs/<n>/sample_<i>.png, DIR being pathfinder32 or "
             "pathfinder128", dir, dir);
    meta_file *files;
    size_t nf;
    if (list_metadata(meta, layout, &files, &nf) != SSM_OK) return SSM_ERR;
    ssm_dataset_spec spec = {.name = side > 32 ? "pathx" : "pathfinder", .has_labels = 1,
                             .vocab_size = 256, .n_classes = 2, .max_len = (int64_t)side * side,
                             .pad_id = 0};
    ssm_dataset *d = ssm_dataset_new(&spec);
    unsigned char *px = malloc((size_t)side * side);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)side * side);
    SSM_CHECK(px && tok, "pathfinder: out of memory");
    int rc = SSM_OK;
    for (size_t i = 0; i < nf && rc == SSM_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", meta, files[i].name);
        rc = read_metadata(path, base, side, d, px, tok, &skip);
    }
    free(px);
    free(tok);
    free_files(files, nf);
    if (rc == SSM_OK && d->n == 0) rc = ssm_error("%s: the metadata lists no images", meta);
    if (rc != SSM_OK) {
        ssm_dataset_free(d);
        return SSM_ERR;
    }
    if (skipped) *skipped = skip;
    *out = d;
    return SSM_OK;
}
