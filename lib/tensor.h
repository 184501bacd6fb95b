/* ssm_tensor: a contiguous, row-major block of f32/f64/i32 on one device.
 * No strides: transposes and slices are ops that copy (see DESIGN.md). */
#ifndef SSM_TENSOR_H
#define SSM_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#define SSM_MAX_DIMS 5

typedef enum { SSM_F32 = 0, SSM_F64 = 1, SSM_I32 = 2 } ssm_dtype;
typedef enum { SSM_CPU = 0, SSM_CUDA = 1 } ssm_device;
#define SSM_N_DEVICES 2

enum {
    SSM_T_OWNS_DATA = 1u << 0,     /* data was malloc'ed for this tensor alone */
    SSM_T_REQUIRES_GRAD = 1u << 1, /* autograd tracks it */
    SSM_T_PARAM = 1u << 2,         /* a leaf parameter: grad is a persistent view */
    SSM_T_OWNS_HEADER = 1u << 3,   /* header was malloc'ed (not from an arena) */
    SSM_T_STEP_GRAD = 1u << 4,     /* a per-step gradient (autograd/tape.c: recycled) */
    SSM_T_SAVED_BY_NODE = 1u << 5, /* during a backward: some node saved it (tape.c) */
};

typedef struct ssm_tensor {
    ssm_dtype dtype;
    ssm_device device;
    int ndim;
    int64_t shape[SSM_MAX_DIMS];
    int64_t numel;
    void *data;
    struct ssm_tensor *grad; /* d loss / d this, same shape, dtype, device */
    const char *name;        /* parameters: the official state_dict name */
    unsigned flags;
    int group;               /* parameters: optimizer group index */
} ssm_tensor;

struct ssm_arena;

/* SSM_DIMS(4, 5) -> "2, (int64_t[]){4, 5}": the (ndim, shape) argument pair. */
#define SSM_DIMS(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

size_t ssm_dtype_size(ssm_dtype dt);
const char *ssm_dtype_name(ssm_dtype dt);
const char *ssm_device_name(ssm_device d);

/* Persistent tensor (malloc/cudaMalloc); release with ssm_tensor_free. Out of memory,
 * this and the arena tensors below exit through ssm_out_of_memory (log.h) with a message
 * naming the device, the op (ssm_alloc_site) and the dtype, shape and bytes. */
ssm_tensor *ssm_tensor_new(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape);
/* Same, returning SSM_ERR with that message instead of exiting (*out NULL). */
int ssm_tensor_try_new(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape,
                       ssm_tensor **out);
/* The op whose backward this thread runs (autograd sets it per node), for out-of-memory
 * messages; NULL: none. */
void ssm_alloc_site(const char *op, int backward);
/* Per-step tensor: header and data from the arena, freed by ssm_arena_reset. */
ssm_tensor *ssm_tensor_arena(struct ssm_arena *a, ssm_dtype dt, ssm_device dev, int ndim,
                             const int64_t *shape);
/* Same dtype/device/shape as t, from the arena (or persistent when a is NULL). */
ssm_tensor *ssm_tensor_like(struct ssm_arena *a, const ssm_tensor *t);
/* The same, naming the calling function in out-of-memory messages; the macros pass it. */
ssm_tensor *ssm_tensor_new_at(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape,
                              const char *fn);
ssm_tensor *ssm_tensor_arena_at(struct ssm_arena *a, ssm_dtype dt, ssm_device dev, int ndim,
                                const int64_t *shape, const char *fn);
ssm_tensor *ssm_tensor_like_at(struct ssm_arena *a, const ssm_tensor *t, const char *fn);
/* (variadic: a compound-literal shape holds commas) */
#define ssm_tensor_new(...) ssm_tensor_new_at(__VA_ARGS__, __func__)
#define ssm_tensor_arena(...) ssm_tensor_arena_at(__VA_ARGS__, __func__)
#define ssm_tensor_like(...) ssm_tensor_like_at(__VA_ARGS__, __func__)
/* Header that shares t's data under another shape (same numel). */
ssm_tensor *ssm_tensor_alias(struct ssm_arena *a, ssm_tensor *t, int ndim, const int64_t *shape);
void ssm_tensor_free(ssm_tensor *t);

void ssm_tensor_zero(ssm_tensor *t);
void ssm_tensor_fill(ssm_tensor *t, double value);
/* Copy between host memory (of t's dtype) and t, whatever t's device. */
void ssm_tensor_from_host(ssm_tensor *t, const void *src);
void ssm_tensor_to_host(const ssm_tensor *t, void *dst);
/* Copy to another device (persistent when a is NULL). */
ssm_tensor *ssm_tensor_to(struct ssm_arena *a, const ssm_tensor *t, ssm_device dev);
/* Set t (any dtype except i32, any device) from n = t->numel host doubles. */
void ssm_tensor_from_f64(ssm_tensor *t, const double *v);
/* t's values (any dtype, any device) as a new malloc'ed host array of doubles. */
double *ssm_tensor_to_f64(const ssm_tensor *t);
/* Copy src into dst: same numel and dtype, any devices. */
void ssm_tensor_copy(ssm_tensor *dst, const ssm_tensor *src);
/* CPU dtype conversion f32 <-> f64 (i32 -> float too); persistent when a is NULL. */
ssm_tensor *ssm_tensor_cast(struct ssm_arena *a, const ssm_tensor *t, ssm_dtype dt);
/* Element i as double (host copy for device tensors: tests and debugging only). */
double ssm_tensor_get(const ssm_tensor *t, int64_t i);

int ssm_same_shape(const ssm_tensor *a, const ssm_tensor *b);
/* "[2, 3, 4] f32 cpu" into buf; returns buf. */
const char *ssm_tensor_describe(const ssm_tensor *t, char *buf, size_t n);

#endif
