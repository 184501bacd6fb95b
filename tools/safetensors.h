/* safetensors files (https://github.com/huggingface/safetensors, format section):
 * an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the tensors' bytes, little-endian, C order,
 * back to back (offsets relative to the end of the header). */
#ifndef SSM_SAFETENSORS_H
#define SSM_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "json.h"
#include "tensor.h"

typedef struct {
    const char *name;
    const ssm_tensor *t; /* CPU; F32, F64 or I32 (stored as F32, F64, I32) */
    int64_t i64_value;   /* with t == NULL: a scalar I64 of this value (num_batches_tracked) */
} ssm_st_entry;

/* Write the entries (in this order) and the metadata pairs (meta[2k] = key, meta[2k+1] =
 * value; n_meta pairs) to path (replace_file.h: a failed write leaves no file behind and
 * an old one untouched). SSM_ERR with a message naming the file. */
int ssm_st_write(const char *path, const ssm_st_entry *e, int n, const char *const *meta,
                 int n_meta);

/* A file read back (for tests and tools): the header text and the data. */
typedef struct {
    char *header;     /* the JSON, NUL-terminated */
    uint8_t *data;    /* the bytes after the header */
    size_t data_size;
} ssm_st_file;
int ssm_st_read(const char *path, ssm_st_file *f);
void ssm_st_free(ssm_st_file *f);
/* The entry `name`: dtype string (e.g. "F32"), shape, and its bytes. SSM_ERR if absent
 * or malformed (a known dtype, dimensions >= 0 and data_offsets spanning exactly the
 * shape's bytes inside the data are required). */
int ssm_st_find(const ssm_st_file *f, const char *name, char dtype[8], int *ndim,
                int64_t *shape, const uint8_t **bytes, size_t *nbytes);

#endif
