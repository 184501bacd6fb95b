/* safetensors files (https://github.com/huggingface/safetensors, format section):
 * an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the tensors' bytes, little-endian, C order,
 * back to back (offsets relative to the end of the header). The JSON is written and read
 * with cJSON. */
#ifndef SSM_SAFETENSORS_H
#define SSM_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "tensor.h"

/* One tensor to write: a CPU tensor t (F32, F64 or I32, stored as such); or, with t NULL,
 * raw little-endian bytes of `dtype` and shape (tests write F16/BF16 this way); or, with
 * both NULL, a 0-dim I64 of i64_value (BatchNorm's num_batches_tracked). */
typedef struct {
    const char *name;
    const ssm_tensor *t;
    const char *dtype;
    int ndim;
    int64_t shape[SSM_MAX_DIMS];
    const void *raw;
    int64_t i64_value;
} ssm_st_entry;

/* Write the entries (in this order) and the metadata pairs (meta[2k] = key, meta[2k+1] =
 * value; n_meta pairs) to path (replace_file.h: a failed write leaves no file behind and
 * an old one untouched). SSM_ERR with a message naming the file. */
int ssm_st_write(const char *path, const ssm_st_entry *e, int n, const char *const *meta,
                 int n_meta);

/* A file read back and validated: header length within the file, the header a JSON
 * object, __metadata__ a map of strings, every tensor with a known dtype, a shape of
 * non-negative sizes, offsets within the data whose length is numel x the dtype's size,
 * the tensors tiling the data without overlap or gap. */
typedef struct {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[SSM_MAX_DIMS];
    int64_t numel;
    const uint8_t *bytes; /* into the file's data */
    size_t nbytes;
} ssm_st_tensor;

typedef struct {
    char *path;
    char *header;  /* the JSON text, NUL-terminated */
    uint8_t *data; /* the bytes after the header */
    size_t data_size;
    int n, n_meta;
    ssm_st_tensor *t; /* in header order */
    char **meta;      /* n_meta key/value pairs */
} ssm_st_file;

int ssm_st_read(const char *path, ssm_st_file *f);
void ssm_st_free(ssm_st_file *f);
/* The tensor called name, or NULL. */
const ssm_st_tensor *ssm_st_get(const ssm_st_file *f, const char *name);
/* A metadata value, or NULL. */
const char *ssm_st_meta(const ssm_st_file *f, const char *key);
/* The entry `name`: dtype string (e.g. "F32"), shape, and its bytes. SSM_ERR if absent. */
int ssm_st_find(const ssm_st_file *f, const char *name, char dtype[8], int *ndim,
                int64_t *shape, const uint8_t **bytes, size_t *nbytes);
/* Bytes per element of a safetensors dtype name; 0 when unknown. */
size_t ssm_st_dtype_size(const char *dtype);
/* The tensor's values as a new f32 CPU tensor: F32 as is, F16 and BF16 widened exactly,
 * F64 rounded. SSM_ERR (naming file and tensor) for any other dtype. */
int ssm_st_to_f32(const ssm_st_file *f, const ssm_st_tensor *t, ssm_tensor **out);

#endif
