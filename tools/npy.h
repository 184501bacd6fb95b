/* NumPy .npy files of float32 matrices (what the interop scripts read back). */
#ifndef SSM_NPY_H
#define SSM_NPY_H
#include <stdint.h>

/* Writes v [rows, cols] to path as .npy (format 1.0, little-endian float32), through a
 * temporary file renamed into place (tools/replace_file.h). SSM_OK or SSM_ERR. */
int ssm_npy_write_f32(const char *path, const float *v, int64_t rows, int64_t cols);

#endif
