#include "checkpoint.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "h5io.h"
#include "replace_file.h"
#include "log.h"

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

/* ---- the header: format 2 files start with a 512-byte HDF5 user block holding a text
 * header (magic, format version, the length and the zlib CRC-32 of every byte after the
 * user block), NUL-padded. It is checked with plain stdio before HDF5 sees the file, so
 * a corrupted or truncated checkpoint never reaches HDF5's parser (HDF5 1.10.8 over-reads
 * on some corrupted files). Format 1 files (no user block) start with the HDF5 signature. */
#define HEADER_SIZE 512
#define HEADER_MAGIC SSM_CKPT_MAGIC
static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* CRC-32 of f's bytes from `from` to the end (their count in *len); -1 on a read error. */
static int crc_rest(FILE *f, long from, uint64_t *len, unsigned long *crc) {
    static unsigned char buf[1 << 16];
    if (fseek(f, from, SEEK_SET) != 0) return -1;
    *crc = crc32(0L, Z_NULL, 0);
    *len = 0;
    for (size_t k; (k = fread(buf, 1, sizeof buf, f)) > 0;) {
        *crc = crc32(*crc, buf, (uInt)k);
        *len += k;
    }
    return ferror(f) ? -1 : 0;
}

int ssm_ckpt_seal(const char *path) {
    FILE *f = fopen(path, "r+b");
    if (!f) return ssm_error("%s: cannot open to write the checkpoint header: %s", path,
                             strerror(errno));
    unsigned char sig[8];
    uint64_t len = 0;
    unsigned long crc = 0;
    int rc = SSM_OK;
    errno = 0;
    if (fseek(f, HEADER_SIZE, SEEK_SET) != 0 || fread(sig, 1, 8, f) != 8 ||
        memcmp(sig, hdf5_sig, 8))
        rc = ssm_error("%s: no HDF5 superblock at byte %d (not written with the checkpoint's "
                       "user block)", path, HEADER_SIZE);
    else if (crc_rest(f, HEADER_SIZE, &len, &crc) != 0)
        rc = ssm_error("%s: cannot read back: %s", path, errno ? strerror(errno) : "read error");
    char header[HEADER_SIZE] = {0};
    snprintf(header, sizeof header, HEADER_MAGIC "format_version %d\nhdf5_bytes %llu\ncrc32 %08lx\n",
             SSM_CKPT_FORMAT_VERSION, (unsigned long long)len, crc);
    errno = 0;
    if (rc == SSM_OK && (fseek(f, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, f) !=
                         sizeof header || fflush(f) != 0))
        rc = ssm_error("%s: cannot write the checkpoint header: %s", path,
                       errno ? strerror(errno) : "write error");
    if (fclose(f) != 0 && rc == SSM_OK)
        rc = ssm_error("%s: cannot write the checkpoint header: %s", path, strerror(errno));
    return rc;
}

/* "<key> <value>\n" at *p with value all characters of `set`, at most max of them, copied
 * to val: advances *p; 0 when the line is not that. */
static int header_line(const char **p, const char *key, const char *set, size_t max, char *val) {
    size_t k = strlen(key);
    if (strncmp(*p, key, k) || (*p)[k] != ' ') return 0;
    const char *v = *p + k + 1;
    size_t n = strspn(v, set);
    if (n == 0 || n > max || v[n] != '\n') return 0;
    memcpy(val, v, n);
    val[n] = 0;
    *p = v + n + 1;
    return 1;
}

/* The checks before HDF5 opens path: *format gets 2 for a file whose header, length and
 * CRC-32 match, 1 for a format 1 file (an HDF5 superblock version 2 at the start, as
 * ssmtrain wrote, whose end-of-file address is the file's size; not verified further
 * until HDF5 reads it: a warning says so). */
static int verify_file(const char *path, int *format) {
    FILE *f = fopen(path, "rb");
    if (!f) return ssm_error("%s: cannot open: %s", path, strerror(errno));
    unsigned char h[HEADER_SIZE + 1] = {0};
    size_t n = fread(h, 1, HEADER_SIZE, f);
    int rc = SSM_OK;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0) {
        rc = ssm_error("%s: cannot read: %s", path, strerror(errno));
    } else if (n >= 8 && !memcmp(h, hdf5_sig, 8)) { /* format 1 */
        /* superblock 2: version, offset size, length size, flags, base address, extension
         * address, end-of-file address (little-endian), root object header, checksum */
        uint64_t eof = 0;
        for (int i = 7; n >= 36 && i >= 0; i--) eof = eof << 8 | h[28 + i];
        if (n < 48 || h[8] != 2 || h[9] != 8 || h[10] != 8)
            rc = ssm_error("%s: not an ssmtrain checkpoint: an HDF5 file without ssmtrain's "
                           "header, and not in the layout of a format 1 checkpoint (HDF5 "
                           "superblock version 2 with 8-byte addresses at the start)", path);
        else if (eof != (uint64_t)size)
            rc = ssm_error("%s: truncated or extended: a format 1 checkpoint of %llu bytes "
                           "(HDF5 superblock), the file has %ld", path,
                           (unsigned long long)eof, size);
        else {
            *format = 1;
            if (ssm_log_level > 0)
                fprintf(stderr, "ssm: warning: %s: checkpoint format 1 (written before the whole-file "
                    "checksum of format 2): HDF5 reads it unverified; saving it again (e.g. "
                    "--resume) writes format 2\n", path);
        }
    } else if (n >= strlen(HEADER_MAGIC) && !memcmp(h, HEADER_MAGIC, strlen(HEADER_MAGIC))) {
        const char *p = (const char *)h + strlen(HEADER_MAGIC);
        char ver[8], bytes[24], want[16];
        uint64_t len = 0;
        unsigned long crc = 0;
        if (n < HEADER_SIZE) {
            rc = ssm_error("%s: truncated: %zu bytes, less than the %d-byte checkpoint header",
                           path, n, HEADER_SIZE);
        } else if (!header_line(&p, "format_version", "0123456789", 6, ver) ||
                   !header_line(&p, "hdf5_bytes", "0123456789", 19, bytes) ||
                   !header_line(&p, "crc32", "0123456789abcdef", 8, want) || strlen(want) != 8) {
            rc = ssm_error("%s: the checkpoint header is corrupted (expected the lines "
                           "format_version, hdf5_bytes, crc32 after \"ssmtrain checkpoint\")", path);
        } else if (atoi(ver) != SSM_CKPT_FORMAT_VERSION) {
            rc = ssm_error("%s: format version %s, this build reads versions 1 and %d", path,
                           ver, SSM_CKPT_FORMAT_VERSION);
        } else {
            for (const char *q = p; rc == SSM_OK && q < (const char *)h + HEADER_SIZE; q++)
                if (*q) rc = ssm_error("%s: the checkpoint header is corrupted (bytes after "
                                       "its last line are not zero)", path);
            errno = 0;
            if (rc == SSM_OK && crc_rest(f, HEADER_SIZE, &len, &crc) != 0)
                rc = ssm_error("%s: cannot read: %s", path,
                               errno ? strerror(errno) : "read error");
            else if (rc == SSM_OK && strtoull(bytes, NULL, 10) != len)
                rc = ssm_error("%s: truncated or extended: the header says %s bytes of HDF5 "
                               "data, the file holds %llu after its header (the file is "
                               "corrupted or truncated)", path, bytes, (unsigned long long)len);
            else if (rc == SSM_OK && strtoul(want, NULL, 16) != crc)
                rc = ssm_error("%s: checksum mismatch (crc32 %08lx, the header says %s): the "
                               "file is corrupted or truncated", path, crc, want);
            else if (rc == SSM_OK)
                *format = SSM_CKPT_FORMAT_VERSION;
        }
    } else {
        rc = ssm_error("%s: not an ssmtrain checkpoint (it starts with neither the "
                       "\"ssmtrain checkpoint\" header nor an HDF5 signature)", path);
    }
    fclose(f);
    return rc;
}

int ssm_ckpt_verify(const char *path, int *format) {
    int fmt = 0;
    int rc = verify_file(path, &fmt);
    if (format) *format = fmt;
    return rc;
}

/* The checkpoint at path opened by HDF5 once verify_file has passed; NULL on error. */
static ssm_h5 *open_verified(const char *path, int *format) {
    if (verify_file(path, format) != SSM_OK) return NULL;
    return ssm_h5_open(path);
}

/* ---- checksums: HDF5 checksums metadata (in the 1.8 file format that
 * ssm_h5_create writes) but never raw data, so flipped bytes in a tensor would
 * load silently. Every dataset carries a "checksum" attribute (FNV-1a 64 of its
 * elements as binary64), and the root one covers the root attributes
 * (docs/CHECKPOINT.md). Stored as doubles holding the low 53 bits (exact). */
#define FNV_INIT 0xcbf29ce484222325ull
#define CHECKSUM(h) ((double)((h) & ((1ull << 53) - 1)))

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* FNV-1a 64 over the elements of t (any dtype, any device) as doubles. */
static uint64_t tensor_checksum(const ssm_tensor *t) {
    ssm_tensor *host = t->device == SSM_CPU ? NULL : ssm_tensor_to(NULL, t, SSM_CPU);
    const ssm_tensor *h = host ? host : t;
    uint64_t sum = FNV_INIT;
    for (int64_t i = 0; i < h->numel; i++) {
        double v = h->dtype == SSM_F32   ? (double)((const float *)h->data)[i]
                   : h->dtype == SSM_F64 ? ((const double *)h->data)[i]
                                         : (double)((const int32_t *)h->data)[i];
        sum = fnv1a(sum, &v, sizeof v);
    }
    ssm_tensor_free(host);
    return sum;
}

static int write_tensor(ssm_h5 *f, const char *path, const ssm_tensor *t) {
    if (ssm_h5_write(f, path, t) != SSM_OK) return SSM_ERR;
    return ssm_h5_set_attr_double(f, path, "checksum", CHECKSUM(tensor_checksum(t)));
}

/* The root attributes, in the order the root checksum covers them. */
typedef struct {
    double num[6]; /* format_version, step, epoch, data_index, best_metric, optim_step */
    const char *str[6]; /* seed, rng_offset, layer, params, config, library_version */
} root_attrs;
static const char *const num_names[6] = {"format_version", "step", "epoch",
                                         "data_index", "best_metric", "optim_step"};
static const char *const str_names[6] = {"seed", "rng_offset", "layer",
                                         "params", "config", "library_version"};

static uint64_t root_checksum(const root_attrs *r) {
    uint64_t h = FNV_INIT;
    for (int i = 0; i < 6; i++) h = fnv1a(h, &r->num[i], sizeof r->num[i]);
    for (int i = 0; i < 6; i++) h = fnv1a(h, r->str[i], strlen(r->str[i]) + 1);
    return h;
}

/* The parameter names, one a line, in registration order (malloc'd). */
static char *param_list(const ssm_params *ps) {
    size_t n = 1;
    for (int i = 0; i < ps->n; i++) n += strlen(ps->p[i]->name) + 1;
    char *s = malloc(n), *q = s;
    SSM_CHECK(s, "checkpoint: out of memory");
    *q = 0;
    for (int i = 0; i < ps->n; i++) q += sprintf(q, "%s\n", ps->p[i]->name);
    return s;
}

static int write_all(ssm_h5 *f, const ssm_model *m, const ssm_optim *o, const ssm_train_state *st) {
    const ssm_params *ps = m->ps;
    char path[512];
    for (int i = 0; i < ps->n; i++) {
        const ssm_tensor *p = ps->p[i];
        snprintf(path, sizeof path, "/params/%s", p->name);
        if (write_tensor(f, path, p) != SSM_OK) return SSM_ERR;
        if (!o) continue;
        /* moments are flat buffers with the parameters' layout: view this parameter's part */
        size_t off = (size_t)((const char *)p->data - (const char *)ps->values->data);
        const ssm_tensor *mom[2] = {o->m, o->v};
        const char *mn[2] = {"m", "v"};
        for (int k = 0; k < 2 && mom[k]; k++) {
            ssm_tensor view = *p;
            view.data = (char *)mom[k]->data + off;
            snprintf(path, sizeof path, "/optim/%s/%s", p->name, mn[k]);
            if (write_tensor(f, path, &view) != SSM_OK) return SSM_ERR;
        }
    }
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        snprintf(path, sizeof path, "/buffers/%s", name);
        if (write_tensor(f, path, b) != SSM_OK) return SSM_ERR;
    }
    /* 64-bit counters do not fit a double exactly: store them as decimal text */
    char seed[32], offset[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)st->seed);
    snprintf(offset, sizeof offset, "%llu", (unsigned long long)st->rng_offset);
    char *params = param_list(ps);
    root_attrs r = {{SSM_CKPT_FORMAT_VERSION, (double)st->step, (double)st->epoch,
                     (double)st->data_index, st->best_metric, o ? (double)o->step : 0},
                    {seed, offset, m->cfg.layer, params, st->config, PACKAGE_VERSION}};
    int rc = SSM_OK;
    for (int i = 0; rc == SSM_OK && i < 6; i++)
        rc = ssm_h5_set_attr_double(f, "/", num_names[i], r.num[i]);
    for (int i = 0; rc == SSM_OK && i < 6; i++)
        rc = ssm_h5_set_attr_string(f, "/", str_names[i], r.str[i]);
    if (rc == SSM_OK) rc = ssm_h5_set_attr_double(f, "/", "checksum", CHECKSUM(root_checksum(&r)));
    free(params);
    return rc;
}

typedef struct {
    const ssm_model *m;
    const ssm_optim *o;
    const ssm_train_state *st;
} ckpt_content;

static int write_ckpt(const char *tmp, void *arg) {
    const ckpt_content *c = arg;
    ssm_h5 *f = ssm_h5_create_ub(tmp, HEADER_SIZE);
    if (!f) return SSM_ERR;
    int rc = write_all(f, c->m, c->o, c->st);
    if (ssm_h5_close(f) != SSM_OK) rc = SSM_ERR;
    /* the header last, over the closed file: its length and CRC-32 */
    return rc == SSM_OK ? ssm_ckpt_seal(tmp) : rc;
}

int ssm_ckpt_save(const char *path, const ssm_model *m, const ssm_optim *o,
                  const ssm_train_state *st) {
    ckpt_content c = {m, o, st};
    if (ssm_replace_file(path, write_ckpt, &c) == SSM_OK) return SSM_OK;
    char why[1024];
    snprintf(why, sizeof why, "%s", ssm_last_error());
    return ssm_error("cannot write checkpoint %s (the previous one, if any, is kept): %s", path,
                     why);
}

static const char *shape_str(int nd, const int64_t *shape, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

/* Read dataset path as dt and verify its checksum (over the values widened to binary64,
 * so reading f32 data as f64 checks the same sum). */
static int read_checked(ssm_h5 *f, const char *file, const char *path, ssm_dtype dt,
                        ssm_tensor **out) {
    if (ssm_h5_read(f, path, dt, out) != SSM_OK) return SSM_ERR;
    double want, got = CHECKSUM(tensor_checksum(*out));
    int rc = SSM_OK;
    if (ssm_h5_attr_double(f, path, "checksum", &want) != SSM_OK)
        rc = ssm_error("%s: %s has no checksum attribute (corrupted, or not written by ssmtrain)",
                       file, path);
    else if (want != got)
        rc = ssm_error("%s: %s is corrupted (checksum %.0f, expected %.0f)", file, path, got, want);
    if (rc != SSM_OK) {
        ssm_tensor_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Read path into a tensor shaped like `like`, or fail naming what differs. */
static int read_like(ssm_h5 *f, const char *file, const char *path, const ssm_tensor *like,
                     ssm_tensor **out) {
    if (!ssm_h5_exists(f, path))
        return ssm_error("%s: missing %s (checkpoint of another model?)", file, path);
    /* the shape first: a wrong (or corrupted) one must not size an allocation */
    int nd;
    int64_t shape[SSM_MAX_DIMS];
    if (ssm_h5_dims(f, path, &nd, shape) != SSM_OK) return SSM_ERR;
    int same = nd == like->ndim;
    for (int i = 0; same && i < nd; i++) same = shape[i] == like->shape[i];
    if (!same) {
        char a[160], b[160];
        return ssm_error("%s: %s has shape %s but the model expects %s", file, path,
                         shape_str(nd, shape, a, sizeof a),
                         shape_str(like->ndim, like->shape, b, sizeof b));
    }
    return read_checked(f, file, path, like->dtype, out);
}

static int parse_u64(const char *file, const char *name, const char *text, uint64_t *v) {
    char *end;
    errno = 0;
    *v = strtoull(text, &end, 10);
    return (!*text || *end || errno) ? ssm_error("%s: attribute %s is not a number", file, name)
                                     : SSM_OK;
}

/* Is `name` a line of the newline-separated `list`? */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *l = list; (l = strstr(l, name)); l += n)
        if ((l == list || l[-1] == '\n') && l[n] == '\n') return 1;
    return 0;
}

/* The checkpoint's parameter list against the model's: name the first extra or missing one. */
static int check_names(const char *file, const char *list, const ssm_params *ps) {
    for (const char *l = list; *l;) {
        size_t k = strcspn(l, "\n");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(k < 255 ? k : 255), l);
        if (!ssm_params_find(ps, name))
            return ssm_error("%s: the checkpoint has parameter %s, which the model does not have "
                             "(checkpoint of another model?)", file, name);
        l += k + (l[k] == '\n');
    }
    for (int i = 0; i < ps->n; i++)
        if (!listed(list, ps->p[i]->name))
            return ssm_error("%s: missing /params/%s (checkpoint of another model?)", file,
                             ps->p[i]->name);
    return SSM_OK;
}

/* Every root attribute, checked against the root checksum; SSM_ERR naming what is wrong. */
static int read_root(ssm_h5 *f, const char *path, int format, root_attrs *r, char **bufs) {
    static const size_t size[6] = {64, 64, 64, (size_t)1 << 20, sizeof(((ssm_train_state *)0)->config) + 1, 256};
    if (ssm_h5_attr_double(f, "/", "format_version", &r->num[0]) != SSM_OK)
        return ssm_error("%s: not an ssmtrain checkpoint (no format_version)", path);
    for (int i = 0; i < 6; i++) {
        if (ssm_h5_attr_double(f, "/", num_names[i], &r->num[i]) != SSM_OK) return SSM_ERR;
        if (i == 0 && r->num[0] != format)
            return ssm_error("%s: format version %g in the root attributes, but the file is "
                             "laid out as format %d%s", path, r->num[0], format,
                             format == 1 ? " (no header)" : " (its header says so)");
    }
    for (int i = 0; i < 6; i++) {
        bufs[i] = calloc(1, size[i]);
        SSM_CHECK(bufs[i], "checkpoint: out of memory");
        if (ssm_h5_attr_string(f, "/", str_names[i], bufs[i], size[i]) != SSM_OK) return SSM_ERR;
        if (strlen(bufs[i]) == size[i] - 1)
            return ssm_error("%s: attribute %s is too long (at most %zu characters)", path,
                             str_names[i], size[i] - 2);
        r->str[i] = bufs[i];
    }
    double want, got = CHECKSUM(root_checksum(r));
    if (ssm_h5_attr_double(f, "/", "checksum", &want) != SSM_OK)
        return ssm_error("%s: no checksum attribute on / (corrupted, or not written by ssmtrain)",
                         path);
    if (want != got)
        return ssm_error("%s: the root attributes are corrupted (checksum %.0f, expected %.0f)",
                         path, got, want);
    return SSM_OK;
}

int ssm_ckpt_load(const char *path, ssm_model *m, ssm_optim *o, ssm_train_state *st) {
    int format;
    ssm_h5 *f = open_verified(path, &format);
    if (!f) return SSM_ERR;
    const ssm_params *ps = m->ps;
    /* no /optim group: saved without an optimizer (ssmexport --import); the moments
     * start from zero, as a fresh optimizer's */
    int moments = o && ssm_h5_exists(f, "/optim");
    int nb = ssm_model_n_buffers(m), per = moments ? 3 : 1;
    int total = ps->n * per + nb;
    ssm_tensor **staged = calloc((size_t)total, sizeof *staged);
    root_attrs r;
    char *bufs[6] = {0}, name[128], p[512];
    uint64_t seed = 0, offset = 0;
    int rc = SSM_OK;
    if (read_root(f, path, format, &r, bufs) != SSM_OK)
        rc = SSM_ERR;
    else if (strcmp(r.str[2], m->cfg.layer))
        rc = ssm_error("%s: layer type mismatch: the checkpoint holds a %s model, the config "
                       "builds a %s model", path, r.str[2], m->cfg.layer);
    else if (check_names(path, r.str[3], ps) != SSM_OK ||
             parse_u64(path, "seed", r.str[0], &seed) != SSM_OK ||
             parse_u64(path, "rng_offset", r.str[1], &offset) != SSM_OK)
        rc = SSM_ERR;
    /* stage everything first: a bad checkpoint leaves the model untouched */
    for (int i = 0; rc == SSM_OK && i < ps->n; i++) {
        snprintf(p, sizeof p, "/params/%s", ps->p[i]->name);
        rc = read_like(f, path, p, ps->p[i], &staged[i * per]);
        for (int k = 1; rc == SSM_OK && k < per; k++) {
            snprintf(p, sizeof p, "/optim/%s/%s", ps->p[i]->name, k == 1 ? "m" : "v");
            if (k == 2 && !o->v) break;
            rc = read_like(f, path, p, ps->p[i], &staged[i * per + k]);
        }
    }
    for (int i = 0; rc == SSM_OK && i < nb; i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        snprintf(p, sizeof p, "/buffers/%s", name);
        rc = read_like(f, path, p, b, &staged[ps->n * per + i]);
    }
    if (rc == SSM_OK) { /* commit */
        for (int i = 0; i < ps->n; i++) {
            ssm_tensor_copy(ps->p[i], staged[i * per]);
            if (!o) continue;
            size_t off = (size_t)((char *)ps->p[i]->data - (char *)ps->values->data);
            for (int k = 1; k < per && staged[i * per + k]; k++) {
                ssm_tensor view = *ps->p[i];
                view.data = (char *)(k == 1 ? o->m : o->v)->data + off;
                ssm_tensor_copy(&view, staged[i * per + k]);
            }
        }
        for (int i = 0; i < nb; i++)
            ssm_tensor_copy(ssm_model_buffer(m, i, name, sizeof name), staged[ps->n * per + i]);
        if (o && !moments) {
            if (o->m) ssm_tensor_zero(o->m);
            if (o->v) ssm_tensor_zero(o->v);
        }
        if (o) o->step = moments ? (int64_t)r.num[5] : 0;
        st->step = (int64_t)r.num[1];
        st->epoch = (int64_t)r.num[2];
        st->data_index = (int64_t)r.num[3];
        st->best_metric = r.num[4];
        st->seed = seed;
        st->rng_offset = offset;
        snprintf(st->config, sizeof st->config, "%s", r.str[4]);
    }
    for (int i = 0; i < total; i++) ssm_tensor_free(staged[i]);
    for (int i = 0; i < 6; i++) free(bufs[i]);
    free(staged);
    ssm_h5_close(f);
    return rc;
}

/* --- contents without a model (export) --- */

static void add_tensor(ssm_ckpt_contents *c, const char *name, ssm_tensor *t, const char *dtype) {
    c->names = realloc(c->names, (size_t)(c->n + 1) * sizeof *c->names);
    c->values = realloc(c->values, (size_t)(c->n + 1) * sizeof *c->values);
    c->dtypes = realloc(c->dtypes, (size_t)(c->n + 1) * sizeof *c->dtypes);
    SSM_CHECK(c->names && c->values && c->dtypes, "checkpoint: out of memory");
    c->names[c->n] = strdup(name);
    SSM_CHECK(c->names[c->n], "checkpoint: out of memory");
    snprintf(c->dtypes[c->n], sizeof c->dtypes[c->n], "%s", dtype);
    c->values[c->n++] = t;
}

/* dataset path, checked, as a new f32 CPU tensor */
static int read_f32(ssm_h5 *f, const char *file, const char *path, ssm_tensor **out) {
    ssm_tensor *d;
    if (!ssm_h5_exists(f, path)) return ssm_error("%s: missing %s", file, path);
    if (read_checked(f, file, path, SSM_F64, &d) != SSM_OK) return SSM_ERR;
    *out = ssm_tensor_cast(NULL, d, SSM_F32);
    ssm_tensor_free(d);
    return SSM_OK;
}

int ssm_ckpt_read_contents(const char *path, ssm_ckpt_contents *c) {
    memset(c, 0, sizeof *c);
    ssm_h5 *f = open_verified(path, &c->format);
    if (!f) return SSM_ERR;
    root_attrs r = {0};
    char *bufs[6] = {0}, p[512];
    int rc = SSM_OK;
    if (read_root(f, path, c->format, &r, bufs) != SSM_OK) rc = SSM_ERR;
    if (rc == SSM_OK) {
        snprintf(c->layer, sizeof c->layer, "%s", r.str[2]);
        c->config = strdup(r.str[4]);
        SSM_CHECK(c->config, "checkpoint: out of memory");
        c->step = (int64_t)r.num[1];
        snprintf(c->library_version, sizeof c->library_version, "%s", r.str[5]);
    }
    for (const char *l = r.str[3]; rc == SSM_OK && l && *l;) {
        size_t k = strcspn(l, "\n");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(k < 255 ? k : 255), l);
        snprintf(p, sizeof p, "/params/%s", name);
        ssm_tensor *t;
        char dt[8];
        if ((rc = read_f32(f, path, p, &t)) == SSM_OK) {
            ssm_h5_dtype_name(f, p, dt, sizeof dt);
            add_tensor(c, name, t, dt);
            c->n_verified++;
        }
        /* the moments are not returned, but verified like everything else */
        for (int m = 0; rc == SSM_OK && m < 2; m++) {
            snprintf(p, sizeof p, "/optim/%s/%s", name, m ? "v" : "m");
            if (!ssm_h5_exists(f, p)) continue;
            if ((rc = read_f32(f, path, p, &t)) == SSM_OK) ssm_tensor_free(t), c->n_verified++;
            c->has_moments = 1;
        }
        l += k + (l[k] == '\n');
    }
    c->n_params = c->n;
    char **bn = NULL;
    int nb = 0;
    if (rc == SSM_OK) rc = ssm_h5_list(f, "/buffers", &bn, &nb);
    for (int i = 0; i < nb; i++) {
        ssm_tensor *t;
        snprintf(p, sizeof p, "/buffers/%s", bn[i]);
        char dt[8];
        if (rc == SSM_OK && (rc = read_f32(f, path, p, &t)) == SSM_OK) {
            ssm_h5_dtype_name(f, p, dt, sizeof dt);
            add_tensor(c, bn[i], t, dt);
            c->n_verified++;
        }
        free(bn[i]);
    }
    free(bn);
    for (int i = 0; i < 6; i++) free(bufs[i]);
    ssm_h5_close(f);
    if (rc != SSM_OK) ssm_ckpt_contents_free(c);
    return rc;
}

void ssm_ckpt_contents_free(ssm_ckpt_contents *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->names[i]);
        ssm_tensor_free(c->values[i]);
    }
    free(c->names);
    free(c->values);
    free(c->dtypes);
    free(c->config);
    memset(c, 0, sizeof *c);
}

char *ssm_ckpt_read_config(const char *path) {
    int format;
    ssm_h5 *f = open_verified(path, &format);
    if (!f) return NULL;
    size_t cap = sizeof(((ssm_train_state *)0)->config) + 1;
    char *text = malloc(cap);
    SSM_CHECK(text, "checkpoint: out of memory");
    if (ssm_h5_attr_string(f, "/", "config", text, cap) != SSM_OK) {
        free(text);
        text = NULL;
    }
    ssm_h5_close(f);
    return text;
}
