#include "cifar.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "log.h"

/* S4's normalisations (src/dataloaders/basic.py, CIFAR10.setup). */
static const double gray_mean[1] = {122.6 / 255.0}, gray_std[1] = {61.0 / 255.0};
static const double rgb_mean[3] = {0.4914, 0.4822, 0.4465}, rgb_std[3] = {0.247, 0.243, 0.261};

static int read_file(const char *path, int grayscale, ssm_dataset *d) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssm_error("%s: cannot open (%s); expected a CIFAR-10 binary batch of 3073-byte "
                         "records (data_batch_1.bin .. data_batch_5.bin, test_batch.bin)",
                         path, strerror(errno));
    unsigned char rec[SSM_CIFAR_RECORD];
    int32_t px[3 * SSM_CIFAR_PIXELS];
    int rc = SSM_OK;
    int64_t i = 0;
    for (;; i++) {
        size_t got = fread(rec, 1, sizeof rec, f);
        if (got == 0) break;
        if (got < sizeof rec) {
            rc = ssm_error("%s: record %lld is truncated: %zu of %d bytes (a record is a label "
                           "byte and 3072 pixel bytes)", path, (long long)i, got, SSM_CIFAR_RECORD);
            break;
        }
        if (rec[0] > 9) {
            rc = ssm_error("%s: record %lld (byte offset %lld): label %u, expected 0-9", path,
                           (long long)i, (long long)i * SSM_CIFAR_RECORD, rec[0]);
            break;
        }
        const unsigned char *r = rec + 1, *g = r + SSM_CIFAR_PIXELS, *b = g + SSM_CIFAR_PIXELS;
        for (int t = 0; t < SSM_CIFAR_PIXELS; t++) {
            if (grayscale) {
                px[t] = ssm_cifar_luma(r[t], g[t], b[t]);
            } else {
                px[3 * t] = r[t];
                px[3 * t + 1] = g[t];
                px[3 * t + 2] = b[t];
            }
        }
        ssm_dataset_add(d, px, SSM_CIFAR_PIXELS, NULL, rec[0]);
    }
    if (rc == SSM_OK && ferror(f)) rc = ssm_error("%s: read error at record %lld", path, (long long)i);
    if (rc == SSM_OK && i == 0) rc = ssm_error("%s: empty; expected 3073-byte CIFAR-10 records", path);
    fclose(f);
    return rc;
}

int ssm_cifar_read(const char *const *paths, int n_paths, int grayscale, ssm_dataset **out) {
    *out = NULL;
    ssm_dataset_spec spec = {.name = grayscale ? "cifar10_gray" : "cifar10", .has_labels = 1,
                             .channels = grayscale ? 1 : 3, .vocab_size = 256, .n_classes = 10,
                             .max_len = SSM_CIFAR_PIXELS, .pad_id = 0};
    ssm_dataset *d = ssm_dataset_new(&spec);
    ssm_dataset_set_features(d, 1.0 / 255.0, grayscale ? gray_mean : rgb_mean,
                             grayscale ? gray_std : rgb_std);
    for (int p = 0; p < n_paths; p++)
        if (read_file(paths[p], grayscale, d) != SSM_OK) {
            ssm_dataset_free(d);
            return SSM_ERR;
        }
    *out = d;
    return SSM_OK;
}
