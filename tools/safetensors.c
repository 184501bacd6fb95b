/* safetensors writer and reader (see safetensors.h). */
#include "safetensors.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

/* --- a growing text buffer for the header --- */
typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        SSM_CHECK(b->s, "safetensors: out of memory");
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_json(sbuf *b, const char *s) {
    size_t n = ssm_json_string(NULL, 0, s);
    char *tmp = malloc(n + 1);
    SSM_CHECK(tmp, "safetensors: out of memory");
    ssm_json_string(tmp, n + 1, s);
    sb_put(b, tmp, n);
    free(tmp);
}

size_t ssm_json_string(char *buf, size_t n, const char *s) {
    size_t k = 0;
#define PUT(c) do { if (buf && k + 1 < n) buf[k] = (c); k++; } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT((char)*p);
        } else if (*p < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            for (char *e = esc; *e; e++) PUT(*e);
        } else {
            PUT((char)*p);
        }
    }
    PUT('"');
#undef PUT
    if (buf && n) buf[k < n ? k : n - 1] = 0;
    return k;
}

static const char *st_dtype(const ssm_st_entry *e) {
    if (!e->t) return "I64";
    return e->t->dtype == SSM_F32 ? "F32" : e->t->dtype == SSM_F64 ? "F64" : "I32";
}
static size_t st_bytes(const ssm_st_entry *e) {
    return e->t ? (size_t)e->t->numel * ssm_dtype_size(e->t->dtype) : 8;
}

/* x86-64 and aarch64 (every supported host) are little-endian: the bytes go as they are. */
static int put_le(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }

int ssm_st_write(const char *path, const ssm_st_entry *e, int n, const char *const *meta,
                 int n_meta) {
    sbuf h = {0};
    sb_str(&h, "{\"__metadata__\":{");
    for (int i = 0; i < n_meta; i++) {
        if (i) sb_str(&h, ",");
        sb_json(&h, meta[2 * i]);
        sb_str(&h, ":");
        sb_json(&h, meta[2 * i + 1]);
    }
    sb_str(&h, "}");
    size_t off = 0;
    char num[64];
    for (int i = 0; i < n; i++) {
        SSM_CHECK(!e[i].t || e[i].t->device == SSM_CPU, "safetensors: %s is not on the CPU",
                  e[i].name);
        sb_str(&h, ",");
        sb_json(&h, e[i].name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, st_dtype(&e[i]));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; e[i].t && d < e[i].t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e[i].t->shape[d]);
            sb_str(&h, num);
        }
        size_t nb = st_bytes(&e[i]);
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        sb_str(&h, num);
        off += nb;
    }
    sb_str(&h, "}");
    while (h.len % 8) sb_str(&h, " "); /* the data starts 8-byte aligned */

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        free(h.s);
        return ssm_error("%s: path too long", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(h.s);
        return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    }
    uint64_t hl = h.len;
    int ok = put_le(f, &hl, 8) && put_le(f, h.s, h.len);
    for (int i = 0; ok && i < n; i++)
        ok = e[i].t ? put_le(f, e[i].t->data, st_bytes(&e[i])) : put_le(f, &e[i].i64_value, 8);
    free(h.s);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return ssm_error("%s: write failed: %s", path, strerror(err));
    }
    return SSM_OK;
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

/* The entry's object text: after "name": up to its closing brace (names are escaped
 * JSON strings; the header holds no nested objects below an entry). */
int ssm_st_find(const ssm_st_file *f, const char *name, char dtype[8], int *ndim,
                int64_t *shape, const uint8_t **bytes, size_t *nbytes) {
    size_t kn = ssm_json_string(NULL, 0, name);
    char *key = malloc(kn + 2);
    SSM_CHECK(key, "safetensors: out of memory");
    ssm_json_string(key, kn + 1, name);
    key[kn] = ':', key[kn + 1] = 0;
    const char *p = strstr(f->header, key);
    free(key);
    if (!p) return ssm_error("safetensors: no tensor %s", name);
    p += kn + 1;
    const char *end = strchr(p, '}');
    const char *dt = strstr(p, "\"dtype\":\""), *sh = strstr(p, "\"shape\":["),
               *of = strstr(p, "\"data_offsets\":[");
    if (!end || !dt || !sh || !of || dt > end || sh > end || of > end)
        return ssm_error("safetensors: malformed entry %s", name);
    if (sscanf(dt + 9, "%7[A-Z0-9]", dtype) != 1) return ssm_error("safetensors: %s: dtype", name);
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
    *bytes = f->data + b0;
    *nbytes = (size_t)(b1 - b0);
    return SSM_OK;
}
