#include "npy.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "replace_file.h"

typedef struct {
    const float *v;
    int64_t rows, cols;
} npy;

/* NumPy's .npy format 1.0: magic, version, header dict padded to 64 bytes, data */
static int write_npy(const char *tmp, void *arg) {
    const npy *a = arg;
    char h[128];
    int k = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)a->rows, (long long)a->cols);
    while ((10 + k + 1) % 64) h[k++] = ' ';
    h[k++] = '\n';
    FILE *f = fopen(tmp, "wb");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)k, (unsigned char)(k >> 8)};
    size_t n = (size_t)(a->rows * a->cols);
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)k, f) == (size_t)k &&
             fwrite(a->v, sizeof(float), n, f) == n;
    ok = fclose(f) == 0 && ok;
    return ok ? SSM_OK : ssm_error("%s: write failed", tmp);
}

int ssm_npy_write_f32(const char *path, const float *v, int64_t rows, int64_t cols) {
    npy a = {v, rows, cols};
    return ssm_replace_file(path, write_npy, &a);
}
