/* safetensors writer and reader (see safetensors.h). */
#include "safetensors.h"
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "half.h"
#include "log.h"
#include "replace_file.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
              {"I16", 2}, {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},
              {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

size_t ssm_st_dtype_size(const char *dtype) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, dtype)) return dtypes[i].size;
    return 0;
}

static const char *entry_dtype(const ssm_st_entry *e) {
    if (!e->t) return e->raw ? e->dtype : "I64";
    return e->t->dtype == SSM_F32 ? "F32" : e->t->dtype == SSM_F64 ? "F64" : "I32";
}
static size_t entry_bytes(const ssm_st_entry *e) {
    if (e->t) return (size_t)e->t->numel * ssm_dtype_size(e->t->dtype);
    if (!e->raw) return 8;
    size_t n = ssm_st_dtype_size(e->dtype);
    for (int d = 0; d < e->ndim; d++) n *= (size_t)e->shape[d];
    return n;
}
static const void *entry_data(const ssm_st_entry *e) {
    return e->t ? e->t->data : e->raw ? e->raw : (const void *)&e->i64_value;
}

typedef struct {
    const ssm_st_entry *e;
    int n;
    const char *header;
    size_t header_len;
} st_content;

/* x86-64 and aarch64 (every supported host) are little-endian: the bytes go as they are. */
static int write_st(const char *tmp, void *arg) {
    const st_content *c = arg;
    FILE *f = fopen(tmp, "wb");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    uint64_t hl = c->header_len;
    int ok = fwrite(&hl, 1, 8, f) == 8 && fwrite(c->header, 1, hl, f) == hl;
    for (int i = 0; ok && i < c->n; i++)
        ok = fwrite(entry_data(&c->e[i]), 1, entry_bytes(&c->e[i]), f) == entry_bytes(&c->e[i]);
    ok = (fclose(f) == 0) && ok;
    return ok ? SSM_OK : ssm_error("%s: write failed: %s", tmp, strerror(errno));
}

/* integers as raw JSON text: exact for every 64-bit size (a double is not) */
static cJSON *json_int(int64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    cJSON *j = cJSON_CreateRaw(s);
    SSM_CHECK(j, "safetensors: out of memory");
    return j;
}

int ssm_st_write(const char *path, const ssm_st_entry *e, int n, const char *const *meta,
                 int n_meta) {
    cJSON *h = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(h, "__metadata__");
    SSM_CHECK(h && m, "safetensors: out of memory");
    for (int i = 0; i < n_meta; i++) cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        SSM_CHECK(!e[i].t || e[i].t->device == SSM_CPU, "safetensors: %s is not on the CPU",
                  e[i].name);
        cJSON *t = cJSON_AddObjectToObject(h, e[i].name), *shape = cJSON_CreateArray(),
              *offs = cJSON_CreateArray();
        SSM_CHECK(t && shape && offs, "safetensors: out of memory");
        cJSON_AddStringToObject(t, "dtype", entry_dtype(&e[i]));
        int nd = e[i].t ? e[i].t->ndim : e[i].raw ? e[i].ndim : 0;
        for (int d = 0; d < nd; d++)
            cJSON_AddItemToArray(shape, json_int(e[i].t ? e[i].t->shape[d] : e[i].shape[d]));
        cJSON_AddItemToObject(t, "shape", shape);
        size_t nb = entry_bytes(&e[i]);
        cJSON_AddItemToArray(offs, json_int((int64_t)off));
        cJSON_AddItemToArray(offs, json_int((int64_t)(off + nb)));
        cJSON_AddItemToObject(t, "data_offsets", offs);
        off += nb;
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    SSM_CHECK(json, "safetensors: out of memory");
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8; /* the data starts 8-byte aligned */
    char *header = malloc(hl + 1);
    SSM_CHECK(header, "safetensors: out of memory");
    memcpy(header, json, jl);
    memset(header + jl, ' ', hl - jl);
    free(json);
    st_content c = {e, n, header, hl};
    int rc = ssm_replace_file(path, write_st, &c);
    free(header);
    return rc;
}

/* ---- reading ---- */

/* A JSON number that is an integer in [0, 2^53]. */
static int json_size(const cJSON *j, int64_t *v) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return 0;
    *v = (int64_t)d;
    return 1;
}

static int by_offset(const void *a, const void *b) {
    const ssm_st_tensor *x = *(const ssm_st_tensor *const *)a, *y = *(const ssm_st_tensor *const *)b;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes ? 1 : (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* One header entry into t; SSM_ERR naming the file and tensor. */
static int parse_entry(const char *path, const cJSON *j, const ssm_st_file *f, ssm_st_tensor *t) {
    const char *name = j->string;
    if (!cJSON_IsObject(j))
        return ssm_error("%s: header entry \"%s\" is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype"),
                *sh = cJSON_GetObjectItemCaseSensitive(j, "shape"),
                *of = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt)) return ssm_error("%s: tensor %s: no \"dtype\" string", path, name);
    if (!ssm_st_dtype_size(dt->valuestring))
        return ssm_error("%s: tensor %s: unknown dtype \"%.16s\"", path, name, dt->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    if (!cJSON_IsArray(sh)) return ssm_error("%s: tensor %s: no \"shape\" array", path, name);
    if (cJSON_GetArraySize(sh) > SSM_MAX_DIMS)
        return ssm_error("%s: tensor %s: %d dimensions, at most %d are supported", path, name,
                         cJSON_GetArraySize(sh), SSM_MAX_DIMS);
    t->ndim = 0;
    t->numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        int64_t v;
        if (!json_size(d, &v) || v > ((int64_t)1 << 40))
            return ssm_error("%s: tensor %s: shape entries must be non-negative integers", path,
                             name);
        t->shape[t->ndim++] = v;
        t->numel = v && t->numel > ((int64_t)1 << 50) / v ? ((int64_t)1 << 50) : t->numel * v;
    }
    int64_t b0, b1;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
        !json_size(cJSON_GetArrayItem(of, 0), &b0) || !json_size(cJSON_GetArrayItem(of, 1), &b1))
        return ssm_error("%s: tensor %s: \"data_offsets\" must be [begin, end]", path, name);
    if (b1 < b0 || (uint64_t)b1 > f->data_size)
        return ssm_error("%s: tensor %s: data_offsets [%lld, %lld] out of range (the data has "
                         "%zu bytes)", path, name, (long long)b0, (long long)b1, f->data_size);
    size_t want = (size_t)t->numel * ssm_st_dtype_size(t->dtype);
    if ((size_t)(b1 - b0) != want)
        return ssm_error("%s: tensor %s: data_offsets span %lld bytes, but %s %s of %lld "
                         "elements needs %zu", path, name, (long long)(b1 - b0), t->dtype,
                         "data", (long long)t->numel, want);
    for (const cJSON *k = j->child; k; k = k->next)
        if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") &&
            strcmp(k->string, "data_offsets"))
            return ssm_error("%s: tensor %s: unexpected field \"%s\"", path, name, k->string);
    t->bytes = f->data + b0;
    t->nbytes = want;
    t->name = strdup(name);
    SSM_CHECK(t->name, "safetensors: out of memory");
    return SSM_OK;
}

static int parse_header(const char *path, ssm_st_file *f) {
    const char *end = NULL;
    cJSON *h = cJSON_ParseWithOpts(f->header, &end, 0);
    int rc = SSM_OK;
    if (!h || !cJSON_IsObject(h) || end[strspn(end, " \t\r\n")] != 0) {
        rc = ssm_error("%s: the header is not a JSON object (error near byte %ld)", path,
                       (long)((h ? end : cJSON_GetErrorPtr()) - f->header) + 8);
        cJSON_Delete(h);
        return rc;
    }
    int n = cJSON_GetArraySize(h);
    f->t = calloc((size_t)n + 1, sizeof *f->t);
    f->meta = calloc(2 * (size_t)n + 2, sizeof *f->meta);
    SSM_CHECK(f->t && f->meta, "safetensors: out of memory");
    for (const cJSON *j = h->child; rc == SSM_OK && j; j = j->next) {
        if (strcmp(j->string, "__metadata__")) {
            for (int i = 0; rc == SSM_OK && i < f->n; i++)
                if (!strcmp(f->t[i].name, j->string))
                    rc = ssm_error("%s: tensor %s appears twice in the header", path, j->string);
            if (rc == SSM_OK && (rc = parse_entry(path, j, f, &f->t[f->n])) == SSM_OK) f->n++;
            continue;
        }
        if (!cJSON_IsObject(j)) rc = ssm_error("%s: __metadata__ is not an object", path);
        for (const cJSON *m = j->child; rc == SSM_OK && m; m = m->next) {
            if (!cJSON_IsString(m)) {
                rc = ssm_error("%s: __metadata__ value of \"%s\" is not a string", path, m->string);
                break;
            }
            f->meta = realloc(f->meta, (2 * (size_t)f->n_meta + 2) * sizeof *f->meta);
            SSM_CHECK(f->meta, "safetensors: out of memory");
            f->meta[2 * f->n_meta] = strdup(m->string);
            f->meta[2 * f->n_meta + 1] = strdup(m->valuestring);
            SSM_CHECK(f->meta[2 * f->n_meta] && f->meta[2 * f->n_meta + 1], "safetensors: out of memory");
            f->n_meta++;
        }
    }
    cJSON_Delete(h);
    /* the spec: the tensors index the whole buffer, without holes or overlaps */
    const ssm_st_tensor **order = malloc(((size_t)f->n + 1) * sizeof *order);
    SSM_CHECK(order, "safetensors: out of memory");
    for (int i = 0; i < f->n; i++) order[i] = &f->t[i];
    qsort(order, (size_t)f->n, sizeof *order, by_offset);
    size_t pos = 0;
    for (int i = 0; rc == SSM_OK && i < f->n; i++) {
        size_t b = (size_t)(order[i]->bytes - f->data);
        if (b < pos)
            rc = ssm_error("%s: tensors %s and %s overlap (bytes %zu .. %zu)", path,
                           order[i - 1]->name, order[i]->name, b, pos);
        else if (b > pos)
            rc = ssm_error("%s: bytes %zu .. %zu of the data belong to no tensor (before %s)",
                           path, pos, b, order[i]->name);
        pos = b + order[i]->nbytes;
    }
    if (rc == SSM_OK && pos != f->data_size)
        rc = ssm_error("%s: the last %zu bytes of the data belong to no tensor", path,
                       f->data_size - pos);
    free(order);
    return rc;
}

int ssm_st_read(const char *path, ssm_st_file *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return ssm_error("%s: cannot open: %s", path, strerror(errno));
    uint64_t hl = 0;
    long size = -1;
    int rc = SSM_OK;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    rewind(f);
    if (size < 8 || fread(&hl, 1, 8, f) != 8) {
        rc = ssm_error("%s: not a safetensors file (%ld bytes, shorter than the 8-byte header "
                       "length)", path, size);
    } else if (hl < 2 || hl > (uint64_t)size - 8 || hl > ((uint64_t)100 << 20)) {
        rc = ssm_error("%s: bad header length %llu (the file has %ld bytes after the length; "
                       "at most 100 MB of header)", path, (unsigned long long)hl, size - 8);
    } else {
        out->header = malloc(hl + 1);
        out->data_size = (size_t)size - 8 - hl;
        out->data = malloc(out->data_size ? out->data_size : 1);
        SSM_CHECK(out->header && out->data, "safetensors: out of memory");
        if (fread(out->header, 1, hl, f) != hl ||
            fread(out->data, 1, out->data_size, f) != out->data_size)
            rc = ssm_error("%s: truncated", path);
        out->header[hl] = 0;
        if (rc == SSM_OK && strlen(out->header) != hl)
            rc = ssm_error("%s: the header holds a NUL byte", path);
    }
    fclose(f);
    out->path = strdup(path);
    SSM_CHECK(out->path, "safetensors: out of memory");
    if (rc == SSM_OK) rc = parse_header(path, out);
    if (rc != SSM_OK) ssm_st_free(out);
    return rc;
}

void ssm_st_free(ssm_st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    for (int i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->t);
    free(f->meta);
    free(f->path);
    free(f->header);
    free(f->data);
    memset(f, 0, sizeof *f);
}

const ssm_st_tensor *ssm_st_get(const ssm_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

const char *ssm_st_meta(const ssm_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

int ssm_st_find(const ssm_st_file *f, const char *name, char dtype[8], int *ndim,
                int64_t *shape, const uint8_t **bytes, size_t *nbytes) {
    const ssm_st_tensor *t = ssm_st_get(f, name);
    if (!t) return ssm_error("%s: no tensor %s", f->path, name);
    memcpy(dtype, t->dtype, 8);
    *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof t->shape);
    *bytes = t->bytes;
    *nbytes = t->nbytes;
    return SSM_OK;
}

int ssm_st_to_f32(const ssm_st_file *f, const ssm_st_tensor *t, ssm_tensor **out) {
    *out = NULL;
    int is32 = !strcmp(t->dtype, "F32"), is16 = !strcmp(t->dtype, "F16"),
        isb16 = !strcmp(t->dtype, "BF16"), is64 = !strcmp(t->dtype, "F64");
    if (!is32 && !is16 && !isb16 && !is64)
        return ssm_error("%s: tensor %s has dtype %s; floating-point F32, F16, BF16 or F64 "
                         "expected", f->path, t->name, t->dtype);
    int64_t shape[SSM_MAX_DIMS] = {0};
    memcpy(shape, t->shape, sizeof shape);
    ssm_tensor *r = ssm_tensor_new(SSM_F32, SSM_CPU, t->ndim, shape);
    float *dst = r->data;
    size_t n = (size_t)t->numel;
    if (is32) {
        memcpy(dst, t->bytes, n * 4);
    } else if (is16) {
        ssm_f16_decode(t->bytes, dst, n);
    } else if (isb16) {
        ssm_bf16_decode(t->bytes, dst, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, t->bytes + 8 * i, 8);
            dst[i] = (float)d;
        }
    }
    *out = r;
    return SSM_OK;
}
