/* HDF5 helpers for golden files and checkpoints. Failures return SSM_ERR with
 * a message (ssm_last_error) naming the file and the object. */
#ifndef SSM_H5IO_H
#define SSM_H5IO_H
#include "tensor.h"

typedef struct ssm_h5 ssm_h5;

ssm_h5 *ssm_h5_open(const char *path);   /* read-only; NULL on error */
ssm_h5 *ssm_h5_create(const char *path); /* truncates; NULL on error */
/* With an HDF5 user block of `userblock` bytes at the start of the file (0, or a power of
 * two >= 512): bytes HDF5 leaves alone, for the caller to fill after closing the file. */
ssm_h5 *ssm_h5_create_ub(const char *path, size_t userblock);
int ssm_h5_close(ssm_h5 *f);             /* flushes; SSM_ERR if that fails */
const char *ssm_h5_path(const ssm_h5 *f);

int ssm_h5_exists(ssm_h5 *f, const char *obj); /* 1 if the link exists */
/* Rank and sizes of dataset `dset` without reading it (shape has SSM_MAX_DIMS
 * entries): check a shape before allocating for it. */
int ssm_h5_dims(ssm_h5 *f, const char *dset, int *ndim, int64_t *shape);
/* Dataset `dset` converted to dt, as a new persistent CPU tensor of its shape. */
/* The stored element type of dset as a safetensors-style name ("F32", "F64", "I32", ...);
 * SSM_ERR when it is not a dataset of numbers. */
int ssm_h5_dtype_name(ssm_h5 *f, const char *dset, char *buf, size_t n);
int ssm_h5_read(ssm_h5 *f, const char *dset, ssm_dtype dt, ssm_tensor **out);
/* Write t (any device) as `dset`, creating the groups on its path. */
int ssm_h5_write(ssm_h5 *f, const char *dset, const ssm_tensor *t);
/* The link names of `group` in name order, malloc'd (free each and the array); an absent
 * group has none. */
int ssm_h5_list(ssm_h5 *f, const char *group, char ***names, int *n);
/* Attributes of object `obj` ("/" for the root). */
int ssm_h5_attr_double(ssm_h5 *f, const char *obj, const char *name, double *v);
int ssm_h5_attr_string(ssm_h5 *f, const char *obj, const char *name, char *buf, size_t n);
int ssm_h5_set_attr_double(ssm_h5 *f, const char *obj, const char *name, double v);
int ssm_h5_set_attr_string(ssm_h5 *f, const char *obj, const char *name, const char *v);

#endif
