#include "tensor.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "kernels.h"
#include "log.h"

size_t ssm_dtype_size(ssm_dtype dt) { return dt == SSM_F64 ? 8 : 4; }

const char *ssm_dtype_name(ssm_dtype dt) {
    switch (dt) {
    case SSM_F32: return "f32";
    case SSM_F64: return "f64";
    case SSM_I32: return "i32";
    }
    return "?";
}

const char *ssm_device_name(ssm_device d) { return d == SSM_CUDA ? "cuda" : "cpu"; }

static void set_shape(ssm_tensor *t, int ndim, const int64_t *shape) {
    SSM_CHECK(ndim >= 0 && ndim <= SSM_MAX_DIMS, "tensor: %d dimensions (at most %d)", ndim,
              SSM_MAX_DIMS);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        SSM_CHECK(shape[i] >= 0, "tensor: negative size %lld in dimension %d",
                  (long long)shape[i], i);
        t->shape[i] = shape[i];
        SSM_CHECK(!__builtin_mul_overflow(t->numel, shape[i], &t->numel),
                  "tensor: %d dimensions of more than 2^63 elements", ndim);
    }
    for (int i = ndim; i < SSM_MAX_DIMS; i++) t->shape[i] = 1;
}

/* Bytes of t's data; SIZE_MAX when that overflows (no allocation can succeed). */
static size_t nbytes(const ssm_tensor *t) {
    size_t n;
    return __builtin_mul_overflow((size_t)t->numel, ssm_dtype_size(t->dtype), &n) ? SIZE_MAX : n;
}

/* --- out of memory: name the op and the sizes --- */
static _Thread_local const char *site_op;
static _Thread_local int site_backward;

void ssm_alloc_site(const char *op, int backward) {
    site_op = op;
    site_backward = backward;
}

static void human_bytes(size_t n, char *buf, size_t cap) {
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 6) v /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* "cuda: ssm_linear (forward) needs a f32 [8, 1024] tensor (32.0 KiB): <backend's reason>",
 * fn being the function that asked (the op, or its backward with the node's op name). */
static void oom_message(char *msg, size_t cap, const ssm_tensor *t, size_t bytes, const char *fn) {
    char shape[160] = "[", size[32], why[512];
    size_t off = 1;
    for (int i = 0; i < t->ndim && off < sizeof shape; i++)
        off += (size_t)snprintf(shape + off, sizeof shape - off, i ? ", %lld" : "%lld",
                                (long long)t->shape[i]);
    if (off < sizeof shape) snprintf(shape + off, sizeof shape - off, "]");
    human_bytes(bytes, size, sizeof size);
    snprintf(why, sizeof why, "%s", ssm_last_error());
    char op[160];
    if (site_op && site_backward)
        snprintf(op, sizeof op, "the backward of op '%s' (%s)", site_op, fn ? fn : "?");
    else if (site_op)
        snprintf(op, sizeof op, "op '%s' (%s)", site_op, fn ? fn : "?");
    else
        snprintf(op, sizeof op, "%s", fn ? fn : "an allocation");
    snprintf(msg, cap, "%s: %s needs a %s %s tensor (%s): %s", ssm_device_name(t->device), op,
             ssm_dtype_name(t->dtype), shape, size, why);
}

/* The data of t on its device, or NULL with ssm_last_error() set (an impossible size
 * never reaches the backend). */
static void *alloc_data(ssm_tensor *t, size_t bytes) {
    if (bytes == SIZE_MAX || bytes > (size_t)INT64_MAX) {
        ssm_error("the size overflows");
        return NULL;
    }
    return ssm_kernels_for(t->device)->alloc(bytes ? bytes : 1);
}

/* A persistent tensor, or NULL with the out-of-memory message in msg. */
static ssm_tensor *new_tensor(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape,
                              const char *fn, char *msg, size_t cap) {
    ssm_tensor *t = calloc(1, sizeof *t);
    SSM_CHECK(t, "tensor: out of memory");
    t->dtype = dt;
    t->device = dev;
    set_shape(t, ndim, shape);
    t->flags = SSM_T_OWNS_HEADER | SSM_T_OWNS_DATA;
    t->data = alloc_data(t, nbytes(t));
    if (!t->data) {
        oom_message(msg, cap, t, nbytes(t), fn);
        free(t);
        return NULL;
    }
    return t;
}

int ssm_tensor_try_new(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape,
                       ssm_tensor **out) {
    char msg[1024];
    *out = new_tensor(dt, dev, ndim, shape, NULL, msg, sizeof msg);
    return *out ? SSM_OK : ssm_error("out of memory on %s", msg);
}

#undef ssm_tensor_new
#undef ssm_tensor_arena
#undef ssm_tensor_like

ssm_tensor *ssm_tensor_new_at(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape,
                              const char *fn) {
    char msg[1024];
    ssm_tensor *t = new_tensor(dt, dev, ndim, shape, fn, msg, sizeof msg);
    if (!t) ssm_out_of_memory("%s", msg);
    return t;
}

ssm_tensor *ssm_tensor_new(ssm_dtype dt, ssm_device dev, int ndim, const int64_t *shape) {
    return ssm_tensor_new_at(dt, dev, ndim, shape, NULL);
}

ssm_tensor *ssm_tensor_arena_at(ssm_arena *a, ssm_dtype dt, ssm_device dev, int ndim,
                                const int64_t *shape, const char *fn) {
    if (!a) return ssm_tensor_new_at(dt, dev, ndim, shape, fn);
    ssm_tensor *t = ssm_arena_alloc(a, SSM_CPU, sizeof *t);
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->device = dev;
    set_shape(t, ndim, shape);
    size_t bytes = nbytes(t);
    t->data = bytes > (size_t)INT64_MAX ? NULL : ssm_arena_try_alloc(a, dev, bytes);
    if (!t->data) {
        if (bytes > (size_t)INT64_MAX) ssm_error("the size overflows");
        char msg[1024];
        oom_message(msg, sizeof msg, t, bytes, fn);
        ssm_out_of_memory("%s", msg);
    }
    return t;
}

ssm_tensor *ssm_tensor_arena(ssm_arena *a, ssm_dtype dt, ssm_device dev, int ndim,
                             const int64_t *shape) {
    return ssm_tensor_arena_at(a, dt, dev, ndim, shape, NULL);
}

ssm_tensor *ssm_tensor_like_at(ssm_arena *a, const ssm_tensor *t, const char *fn) {
    return ssm_tensor_arena_at(a, t->dtype, t->device, t->ndim, t->shape, fn);
}

ssm_tensor *ssm_tensor_like(ssm_arena *a, const ssm_tensor *t) {
    return ssm_tensor_like_at(a, t, NULL);
}

ssm_tensor *ssm_tensor_alias(ssm_arena *a, ssm_tensor *t, int ndim, const int64_t *shape) {
    ssm_tensor *v;
    if (a) {
        v = ssm_arena_alloc(a, SSM_CPU, sizeof *v);
        memset(v, 0, sizeof *v);
    } else {
        v = calloc(1, sizeof *v);
        SSM_CHECK(v, "tensor: out of memory");
        v->flags = SSM_T_OWNS_HEADER;
    }
    v->dtype = t->dtype;
    v->device = t->device;
    set_shape(v, ndim, shape);
    SSM_CHECK(v->numel == t->numel, "alias: %lld elements viewed as %lld", (long long)t->numel,
              (long long)v->numel);
    v->data = t->data;
    return v;
}

void ssm_tensor_free(ssm_tensor *t) {
    if (!t) return;
    if (t->flags & SSM_T_OWNS_DATA) ssm_kernels_for(t->device)->free(t->data);
    if ((t->flags & SSM_T_OWNS_HEADER) && !(t->flags & SSM_T_PARAM)) {
        if (t->grad && (t->grad->flags & SSM_T_OWNS_HEADER)) ssm_tensor_free(t->grad);
        free(t);
    }
}

void ssm_tensor_zero(ssm_tensor *t) { ssm_kernels_for(t->device)->memset0(t->data, nbytes(t)); }

void ssm_tensor_fill(ssm_tensor *t, double value) {
    if (t->dtype == SSM_I32) {
        SSM_CHECK(t->device == SSM_CPU, "fill: i32 tensors are filled on the CPU");
        for (int64_t i = 0; i < t->numel; i++) ((int32_t *)t->data)[i] = (int32_t)value;
        return;
    }
    ssm_kernels_for(t->device)->fill(t->dtype, t->data, t->numel, value);
}

void ssm_tensor_from_host(ssm_tensor *t, const void *src) {
    ssm_kernels_for(t->device)->from_host(t->data, src, nbytes(t));
}

void ssm_tensor_to_host(const ssm_tensor *t, void *dst) {
    ssm_kernels_for(t->device)->to_host(dst, t->data, nbytes(t));
}

void ssm_tensor_from_f64(ssm_tensor *t, const double *v) {
    SSM_CHECK(t->dtype != SSM_I32, "from_f64: i32 tensor");
    if (t->dtype == SSM_F64) {
        ssm_tensor_from_host(t, v);
        return;
    }
    float *f = malloc((size_t)t->numel * sizeof *f);
    SSM_CHECK(f || !t->numel, "from_f64: out of memory");
    for (int64_t i = 0; i < t->numel; i++) f[i] = (float)v[i];
    ssm_tensor_from_host(t, f);
    free(f);
}

double *ssm_tensor_to_f64(const ssm_tensor *t) {
    ssm_tensor *h = ssm_tensor_to(NULL, t, SSM_CPU), *d = ssm_tensor_cast(NULL, h, SSM_F64);
    double *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *v);
    SSM_CHECK(v, "to_f64: out of memory");
    memcpy(v, d->data, (size_t)t->numel * sizeof *v);
    ssm_tensor_free(h);
    ssm_tensor_free(d);
    return v;
}

void ssm_tensor_copy(ssm_tensor *dst, const ssm_tensor *src) {
    SSM_CHECK(dst->numel == src->numel && dst->dtype == src->dtype,
              "copy: %lld %s elements into %lld %s", (long long)src->numel,
              ssm_dtype_name(src->dtype), (long long)dst->numel, ssm_dtype_name(dst->dtype));
    size_t n = nbytes(src);
    if (src->device == dst->device)
        ssm_kernels_for(src->device)->copy(dst->data, src->data, n);
    else if (src->device == SSM_CPU)
        ssm_kernels_for(dst->device)->from_host(dst->data, src->data, n);
    else if (dst->device == SSM_CPU)
        ssm_kernels_for(src->device)->to_host(dst->data, src->data, n);
    else
        ssm_panic("copy: between two accelerators is not supported");
}

ssm_tensor *ssm_tensor_to(ssm_arena *a, const ssm_tensor *t, ssm_device dev) {
    ssm_tensor *o = ssm_tensor_arena(a, t->dtype, dev, t->ndim, t->shape);
    ssm_tensor_copy(o, t);
    return o;
}

ssm_tensor *ssm_tensor_cast(ssm_arena *a, const ssm_tensor *t, ssm_dtype dt) {
    SSM_CHECK(t->device == SSM_CPU, "cast: CPU tensors only (got %s)", ssm_device_name(t->device));
    ssm_tensor *o = ssm_tensor_arena(a, dt, SSM_CPU, t->ndim, t->shape);
    for (int64_t i = 0; i < t->numel; i++) {
        double v = ssm_tensor_get(t, i);
        switch (dt) {
        case SSM_F32: ((float *)o->data)[i] = (float)v; break;
        case SSM_F64: ((double *)o->data)[i] = v; break;
        case SSM_I32: ((int32_t *)o->data)[i] = (int32_t)v; break;
        }
    }
    return o;
}

double ssm_tensor_get(const ssm_tensor *t, int64_t i) {
    SSM_CHECK(i >= 0 && i < t->numel, "get: index %lld of %lld", (long long)i,
              (long long)t->numel);
    union { float f; double d; int32_t i; } v;
    size_t es = ssm_dtype_size(t->dtype);
    const char *p = (const char *)t->data + (size_t)i * es;
    if (t->device == SSM_CPU) memcpy(&v, p, es);
    else ssm_kernels_for(t->device)->to_host(&v, p, es);
    switch (t->dtype) {
    case SSM_F32: return v.f;
    case SSM_F64: return v.d;
    case SSM_I32: return v.i;
    }
    return 0;
}

int ssm_same_shape(const ssm_tensor *a, const ssm_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *ssm_tensor_describe(const ssm_tensor *t, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (off < n)
        snprintf(buf + off, n - off, "] %s %s", ssm_dtype_name(t->dtype),
                 ssm_device_name(t->device));
    return buf;
}
