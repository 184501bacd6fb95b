/* safetensors writer and reader (see safetensors.h). */
#include "safetensors.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "replace_file.h"

static const char *st_dtype(const ssm_st_entry *e) {
    if (!e->t) return "I64";
    return e->t->dtype == SSM_F32 ? "F32" : e->t->dtype == SSM_F64 ? "F64" : "I32";
}
static size_t st_bytes(const ssm_st_entry *e) {
    return e->t ? (size_t)e->t->numel * ssm_dtype_size(e->t->dtype) : 8;
}

typedef struct {
    const ssm_st_entry *e;
    int n;
    const ssm_jbuf *header;
} st_content;

/* x86-64 and aarch64 (every supported host) are little-endian: the bytes go as they are. */
static int write_st(const char *tmp, void *arg) {
    const st_content *c = arg;
    FILE *f = fopen(tmp, "wb");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    uint64_t hl = c->header->len;
    int ok = fwrite(&hl, 1, 8, f) == 8 && fwrite(c->header->s, 1, hl, f) == hl;
    for (int i = 0; ok && i < c->n; i++) {
        const ssm_st_entry *e = &c->e[i];
        ok = e->t ? fwrite(e->t->data, 1, st_bytes(e), f) == st_bytes(e)
                  : fwrite(&e->i64_value, 1, 8, f) == 8;
    }
    ok = (fclose(f) == 0) && ok;
    return ok ? SSM_OK : ssm_error("%s: write failed: %s", tmp, strerror(errno));
}

int ssm_st_write(const char *path, const ssm_st_entry *e, int n, const char *const *meta,
                 int n_meta) {
    ssm_jbuf h = {0};
    ssm_jbuf_printf(&h, "{\"__metadata__\":{");
    for (int i = 0; i < n_meta; i++) {
        if (i) ssm_jbuf_printf(&h, ",");
        ssm_jbuf_string(&h, meta[2 * i]);
        ssm_jbuf_printf(&h, ":");
        ssm_jbuf_string(&h, meta[2 * i + 1]);
    }
    ssm_jbuf_printf(&h, "}");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        SSM_CHECK(!e[i].t || e[i].t->device == SSM_CPU, "safetensors: %s is not on the CPU",
                  e[i].name);
        ssm_jbuf_printf(&h, ",");
        ssm_jbuf_string(&h, e[i].name);
        ssm_jbuf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype(&e[i]));
        for (int d = 0; e[i].t && d < e[i].t->ndim; d++)
            ssm_jbuf_printf(&h, d ? ",%lld" : "%lld", (long long)e[i].t->shape[d]);
        size_t nb = st_bytes(&e[i]);
        ssm_jbuf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    ssm_jbuf_printf(&h, "}");
    while (h.len % 8) ssm_jbuf_printf(&h, " "); /* the data starts 8-byte aligned */
    st_content c = {e, n, &h};
    int rc = ssm_replace_file(path, write_st, &c);
    free(h.s);
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
    if (size < 8 || fread(&hl, 1, 8, f) != 8 || hl > (uint64_t)size - 8 || hl > (1u << 30)) {
        rc = ssm_error("%s: not a safetensors file (header length)", path);
    } else {
        out->header = malloc(hl + 1);
        out->data_size = (size_t)size - 8 - hl;
        out->data = malloc(out->data_size ? out->data_size : 1);
        SSM_CHECK(out->header && out->data, "safetensors: out of memory");
        if (fread(out->header, 1, hl, f) != hl ||
            fread(out->data, 1, out->data_size, f) != out->data_size)
            rc = ssm_error("%s: truncated", path);
        out->header[hl] = 0;
    }
    fclose(f);
    if (rc != SSM_OK) ssm_st_free(out);
    return rc;
}

void ssm_st_free(ssm_st_file *f) {
    free(f->header);
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* Bytes of an element of a safetensors dtype; 0 for an unknown one. */
static size_t dtype_size(const char *dt) {
    static const struct {
        const char *name;
        size_t size;
    } t[] = {{"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4}, {"U32", 4},
             {"F16", 2}, {"BF16", 2}, {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1},
             {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(dt, t[i].name)) return t[i].size;
    return 0;
}

/* The entry's object text: after "name": up to its closing brace (names are escaped
 * JSON strings; the header holds no nested objects below an entry). */
int ssm_st_find(const ssm_st_file *f, const char *name, char dtype[8], int *ndim,
                int64_t *shape, const uint8_t **bytes, size_t *nbytes) {
    ssm_jbuf key = {0};
    ssm_jbuf_string(&key, name);
    ssm_jbuf_printf(&key, ":");
    const char *p = strstr(f->header, key.s);
    size_t kn = key.len;
    free(key.s);
    if (!p) return ssm_error("safetensors: no tensor %s", name);
    p += kn;
    const char *end = strchr(p, '}');
    const char *dt = strstr(p, "\"dtype\":\""), *sh = strstr(p, "\"shape\":["),
               *of = strstr(p, "\"data_offsets\":[");
    if (!end || !dt || !sh || !of || dt > end || sh > end || of > end)
        return ssm_error("safetensors: malformed entry %s", name);
    if (sscanf(dt + 9, "%7[A-Z0-9_]", dtype) != 1) return ssm_error("safetensors: %s: dtype", name);
    *ndim = 0;
    for (const char *s = sh + 9; *s != ']';) {
        char *e;
        long long v = strtoll(s, &e, 10);
        if (e == s || *ndim >= SSM_MAX_DIMS) return ssm_error("safetensors: %s: shape", name);
        shape[(*ndim)++] = v;
        s = *e == ',' ? e + 1 : e;
    }
    unsigned long long b0, b1;
    if (sscanf(of + 16, "%llu,%llu", &b0, &b1) != 2 || b1 < b0 || b1 > f->data_size)
        return ssm_error("safetensors: %s: data_offsets", name);
    /* the shape and dtype must account for exactly the bytes given */
    size_t esize = dtype_size(dtype);
    unsigned long long want = esize;
    for (int d = 0; d < *ndim; d++)
        if (shape[d] < 0 || __builtin_mul_overflow(want, (unsigned long long)shape[d], &want))
            return ssm_error("safetensors: %s: shape dimension %d is %lld", name, d,
                             (long long)shape[d]);
    if (!esize) return ssm_error("safetensors: %s: unknown dtype %s", name, dtype);
    if (want != b1 - b0)
        return ssm_error("safetensors: %s: %s shape holds %llu bytes, data_offsets give %llu",
                         name, dtype, want, b1 - b0);
    *bytes = f->data + b0;
    *nbytes = (size_t)(b1 - b0);
    return SSM_OK;
}
