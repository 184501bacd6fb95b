#include "idx.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "log.h"

/* Big-endian 32-bit header words. */
static int read_u32(gzFile f, uint32_t *v) {
    unsigned char b[4];
    if (gzread(f, b, 4) != 4) return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Header of an unsigned-byte IDX file of `ndim` dimensions into dims. */
static int read_header(gzFile f, const char *path, int ndim, uint32_t *dims) {
    uint32_t magic;
    if (read_u32(f, &magic) != 0) return ssm_error("%s: empty or not an IDX file", path);
    if (magic != (uint32_t)(0x0800 | ndim))
        return ssm_error("%s: magic number 0x%08x, expected 0x%08x (unsigned bytes, %d "
                         "dimensions)", path, magic, 0x0800 | ndim, ndim);
    for (int i = 0; i < ndim; i++)
        if (read_u32(f, &dims[i]) != 0) return ssm_error("%s: truncated header", path);
    return SSM_OK;
}

int ssm_idx_read(const char *images, const char *labels, ssm_dataset **out) {
    *out = NULL;
    gzFile fi = gzopen(images, "rb"), fl = gzopen(labels, "rb");
    int rc = SSM_OK;
    uint32_t di[3] = {0, 0, 0}, dl[1] = {0};
    if (!fi) rc = ssm_error("%s: cannot open", images);
    else if (!fl) rc = ssm_error("%s: cannot open", labels);
    else if (read_header(fi, images, 3, di) != SSM_OK || read_header(fl, labels, 1, dl) != SSM_OK)
        rc = SSM_ERR;
    else if (di[0] != dl[0])
        rc = ssm_error("%s: %u images but %s has %u labels", images, di[0], labels, dl[0]);
    else if (di[1] == 0 || di[2] == 0 || (uint64_t)di[1] * di[2] > (1u << 24))
        rc = ssm_error("%s: image size %ux%u", images, di[1], di[2]);
    if (rc == SSM_OK) {
        int64_t n = di[0], len = (int64_t)di[1] * di[2];
        ssm_dataset_spec spec = {.name = "mnist", .has_labels = 1, .vocab_size = 256,
                                 .n_classes = 10, .max_len = len, .pad_id = 0};
        ssm_dataset *d = ssm_dataset_new(&spec);
        unsigned char *px = malloc((size_t)len);
        int32_t *tok = malloc(sizeof(int32_t) * (size_t)len);
        SSM_CHECK(px && tok, "idx: out of memory");
        for (int64_t i = 0; i < n && rc == SSM_OK; i++) {
            unsigned char y;
            if (gzread(fi, px, (unsigned)len) != (int)len)
                rc = ssm_error("%s: truncated at image %lld of %lld", images, (long long)i,
                               (long long)n);
            else if (gzread(fl, &y, 1) != 1)
                rc = ssm_error("%s: truncated at label %lld of %lld", labels, (long long)i,
                               (long long)n);
            else if (y > 9)
                rc = ssm_error("%s: label %u of image %lld is not 0-9", labels, y, (long long)i);
            else {
                for (int64_t t = 0; t < len; t++) tok[t] = px[t];
                ssm_dataset_add(d, tok, len, NULL, y);
            }
        }
        free(px);
        free(tok);
        if (rc == SSM_OK) *out = d;
        else ssm_dataset_free(d);
    }
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    return rc;
}

ssm_dataset *ssm_dataset_subset(const ssm_dataset *d, const int64_t *idx, int64_t n) {
    ssm_dataset_spec spec = {.name = d->name, .n_seq = d->n_seq, .channels = d->channels,
                             .has_labels = d->has_labels, .has_targets = d->has_targets,
                             .vocab_size = d->vocab_size, .n_classes = d->n_classes,
                             .max_len = d->max_len, .pad_id = d->pad_id};
    ssm_dataset *s = ssm_dataset_new(&spec);
    if (d->feat_scale > 0) ssm_dataset_set_features(s, d->feat_scale, d->feat_mean, d->feat_std);
    for (int64_t i = 0; i < n; i++) {
        for (int p = 0; p < (d->n_seq ? d->n_seq : 1); p++) {
            int64_t len;
            const int32_t *tok = ssm_dataset_seq(d, idx[i], p, &len);
            ssm_dataset_add_seq(s, tok, len, d->has_targets ? ssm_dataset_seq_targets(d, idx[i], p)
                                                            : NULL);
        }
        ssm_dataset_end_example(s, d->has_labels ? d->labels[idx[i]] : 0);
    }
    return s;
}
