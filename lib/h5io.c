#include "h5io.h"
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

struct ssm_h5 {
    hid_t id;
    char *path;
};

/* Errors are ours to report. HDF5 1.10 crashes in its exit handler (H5F__close_cb)
 * after an H5Fclose that failed (a full disk while writing a checkpoint): the library is
 * not torn down at exit (H5dont_atexit only works before its first call). */
static void quiet(void) {
    static int first = 1;
    if (first) H5dont_atexit();
    first = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static ssm_h5 *wrap(hid_t id, const char *path) {
    ssm_h5 *f = calloc(1, sizeof *f);
    SSM_CHECK(f, "h5: out of memory");
    f->id = id;
    f->path = strdup(path);
    return f;
}

ssm_h5 *ssm_h5_open(const char *path) {
    quiet();
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) {
        ssm_error("%s: cannot open as HDF5 (missing, truncated or not an HDF5 file)", path);
        return NULL;
    }
    return wrap(id, path);
}

ssm_h5 *ssm_h5_create(const char *path) { return ssm_h5_create_ub(path, 0); }

ssm_h5 *ssm_h5_create_ub(const char *path, size_t userblock) {
    quiet();
    /* The HDF5 1.8 file format (readable by HDF5 >= 1.8, h5py, h5dump): its object
     * headers, B-trees and heaps carry checksums, so a corrupted file is an error
     * when opened or read instead of undefined behaviour inside the library. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    H5Pset_obj_track_times(fcpl, 0); /* the root group: see untimed() */
    if (userblock && H5Pset_userblock(fcpl, (hsize_t)userblock) < 0) {
        H5Pclose(fcpl);
        H5Pclose(fapl);
        ssm_error("%s: cannot create HDF5 file: a user block of %zu bytes is not possible "
                  "(a power of two >= 512)", path, userblock);
        return NULL;
    }
    hid_t id = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (id < 0) {
        ssm_error("%s: cannot create HDF5 file", path);
        return NULL;
    }
    return wrap(id, path);
}

/* The system's reason for a failed HDF5 call (errno cleared before it), e.g. a full disk. */
static const char *why(void) { return errno ? strerror(errno) : "HDF5 error"; }

int ssm_h5_close(ssm_h5 *f) {
    if (!f) return SSM_OK;
    int rc = SSM_OK;
    errno = 0;
    /* both, even when the flush fails: the file is closed either way */
    herr_t flushed = H5Fflush(f->id, H5F_SCOPE_GLOBAL);
    int flush_errno = errno;
    herr_t closed = H5Fclose(f->id);
    if (flushed < 0 || closed < 0) {
        if (flush_errno) errno = flush_errno;
        rc = ssm_error("%s: flushing or closing failed: %s", f->path, why());
    }
    free(f->path);
    free(f);
    return rc;
}

const char *ssm_h5_path(const ssm_h5 *f) { return f->path; }

int ssm_h5_exists(ssm_h5 *f, const char *obj) {
    /* H5Lexists needs every parent to exist: check the path one link at a time. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", obj);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char save = *p;
            *p = 0;
            if (H5Lexists(f->id, buf, H5P_DEFAULT) <= 0) return 0;
            *p = save;
            if (!save) return 1;
        }
    }
}

static hid_t native(ssm_dtype dt) {
    return dt == SSM_F64 ? H5T_NATIVE_DOUBLE : dt == SSM_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32;
}

int ssm_h5_dims(ssm_h5 *f, const char *dset, int *ndim, int64_t *shape) {
    if (!ssm_h5_exists(f, dset)) return ssm_error("%s: no dataset %s", f->path, dset);
    hid_t d = H5Dopen2(f->id, dset, H5P_DEFAULT);
    if (d < 0) return ssm_error("%s: %s is not a dataset", f->path, dset);
    hid_t s = H5Dget_space(d);
    int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    hsize_t dims[SSM_MAX_DIMS];
    int rc = SSM_OK;
    if (nd < 0 || nd > SSM_MAX_DIMS || H5Sget_simple_extent_dims(s, dims, NULL) < 0) {
        rc = ssm_error("%s: %s has an unreadable or unsupported shape", f->path, dset);
    } else {
        *ndim = nd;
        for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
    }
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return rc;
}

int ssm_h5_dtype_name(ssm_h5 *f, const char *dset, char *buf, size_t n) {
    if (!ssm_h5_exists(f, dset)) return ssm_error("%s: no dataset %s", f->path, dset);
    hid_t d = H5Dopen2(f->id, dset, H5P_DEFAULT);
    if (d < 0) return ssm_error("%s: %s is not a dataset", f->path, dset);
    hid_t t = H5Dget_type(d);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    int sgn = cls == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_2;
    if (t >= 0) H5Tclose(t);
    H5Dclose(d);
    if (cls == H5T_FLOAT) snprintf(buf, n, "F%zu", 8 * size);
    else if (cls == H5T_INTEGER) snprintf(buf, n, "%s%zu", sgn ? "I" : "U", 8 * size);
    else return ssm_error("%s: %s does not hold numbers", f->path, dset);
    return SSM_OK;
}

/* A dataspace whose size fits the data stored for it: a corrupted header could claim any
 * shape, and the allocation for it must not be attempted. (Fill-value datasets store
 * nothing: at most 2^28 elements of those.) */
static int plausible(hid_t d, hid_t s, int nd, hsize_t *dims) {
    if (H5Sget_simple_extent_dims(s, dims, NULL) < 0) return 0;
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++)
        if (__builtin_mul_overflow(numel, (uint64_t)dims[i], &numel) || numel > ((uint64_t)1 << 40))
            return 0;
    hid_t ft = H5Dget_type(d);
    size_t esize = ft < 0 ? 0 : H5Tget_size(ft);
    if (ft >= 0) H5Tclose(ft);
    hsize_t stored = H5Dget_storage_size(d);
    return esize > 0 && (numel * esize <= stored || numel <= ((uint64_t)1 << 28));
}

int ssm_h5_read(ssm_h5 *f, const char *dset, ssm_dtype dt, ssm_tensor **out) {
    *out = NULL;
    if (!ssm_h5_exists(f, dset)) return ssm_error("%s: no dataset %s", f->path, dset);
    hid_t d = H5Dopen2(f->id, dset, H5P_DEFAULT);
    if (d < 0) return ssm_error("%s: %s is not a dataset", f->path, dset);
    hid_t s = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(s);
    hsize_t dims[SSM_MAX_DIMS];
    int rc = SSM_OK;
    if (nd < 0 || nd > SSM_MAX_DIMS) {
        rc = ssm_error("%s: %s has %d dimensions (at most %d)", f->path, dset, nd, SSM_MAX_DIMS);
    } else if (!plausible(d, s, nd, dims)) {
        rc = ssm_error("%s: %s claims a shape its stored data cannot hold (corrupted file)",
                       f->path, dset);
    } else {
        int64_t shape[SSM_MAX_DIMS];
        for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
        ssm_tensor *t;
        if (ssm_tensor_try_new(dt, SSM_CPU, nd, shape, &t) != SSM_OK) {
            rc = SSM_ERR;
        } else if (H5Dread(d, native(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
            rc = ssm_error("%s: reading %s failed (corrupted file or not numeric)", f->path, dset);
            ssm_tensor_free(t);
        } else {
            *out = t;
        }
    }
    H5Sclose(s);
    H5Dclose(d);
    return rc;
}

/* A creation property list without modification times: the same contents then
 * always give the same bytes (file checksums and byte comparisons mean something). */
static hid_t untimed(hid_t cls) {
    hid_t p = H5Pcreate(cls);
    H5Pset_obj_track_times(p, 0);
    return p;
}

/* Create every group on the way to the last component of path. */
static int make_parents(ssm_h5 *f, const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (H5Lexists(f->id, buf, H5P_DEFAULT) <= 0) {
            hid_t gcpl = untimed(H5P_GROUP_CREATE);
            hid_t g = H5Gcreate2(f->id, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            H5Pclose(gcpl);
            if (g < 0) return ssm_error("%s: cannot create group %s", f->path, buf);
            H5Gclose(g);
        }
        *p = '/';
    }
    return SSM_OK;
}

int ssm_h5_write(ssm_h5 *f, const char *dset, const ssm_tensor *t) {
    if (make_parents(f, dset) != SSM_OK) return SSM_ERR;
    hsize_t dims[SSM_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) dims[i] = (hsize_t)t->shape[i];
    const ssm_tensor *host = t;
    ssm_tensor *tmp = NULL;
    if (t->device != SSM_CPU) host = tmp = ssm_tensor_to(NULL, t, SSM_CPU);
    hid_t s = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = untimed(H5P_DATASET_CREATE);
    hid_t d = H5Dcreate2(f->id, dset, native(t->dtype), s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    int rc = SSM_OK;
    errno = 0;
    if (d < 0 || H5Dwrite(d, native(t->dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, host->data) < 0)
        rc = ssm_error("%s: writing %s failed: %s", f->path, dset, why());
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    ssm_tensor_free(tmp);
    return rc;
}

static hid_t open_attr(ssm_h5 *f, const char *obj, const char *name) {
    if (!H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT)) return -1;
    return H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
}

int ssm_h5_attr_double(ssm_h5 *f, const char *obj, const char *name, double *v) {
    hid_t a = open_attr(f, obj, name);
    if (a < 0) return ssm_error("%s: no attribute %s on %s", f->path, name, obj);
    herr_t e = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    return e < 0 ? ssm_error("%s: attribute %s on %s is not a number", f->path, name, obj) : SSM_OK;
}

int ssm_h5_attr_string(ssm_h5 *f, const char *obj, const char *name, char *buf, size_t n) {
    hid_t a = open_attr(f, obj, name);
    if (a < 0) return ssm_error("%s: no attribute %s on %s", f->path, name, obj);
    hid_t ft = H5Aget_type(a);
    int rc = SSM_OK;
    if (H5Tget_class(ft) != H5T_STRING) {
        rc = ssm_error("%s: attribute %s on %s is not a string", f->path, name, obj);
    } else if (H5Tis_variable_str(ft)) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* h5py writes UTF-8: HDF5 converts no charsets */
        if (H5Aread(a, mt, &s) < 0) rc = ssm_error("%s: reading %s failed", f->path, name);
        else snprintf(buf, n, "%s", s ? s : "");
        H5free_memory(s);
        H5Tclose(mt);
    } else if (H5Tget_size(ft) == 0 || H5Tget_size(ft) > ((size_t)1 << 24)) {
        /* a corrupted header can claim any size: do not allocate it */
        rc = ssm_error("%s: attribute %s on %s has an implausible size (corrupted file?)",
                       f->path, name, obj);
    } else {
        size_t sz = H5Tget_size(ft);
        char *s = calloc(1, sz + 1);
        SSM_CHECK(s, "h5: out of memory");
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz + 1);
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (H5Aread(a, mt, s) < 0) rc = ssm_error("%s: reading %s failed", f->path, name);
        else snprintf(buf, n, "%s", s);
        free(s);
        H5Tclose(mt);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int set_attr(ssm_h5 *f, const char *obj, const char *name, hid_t type, const void *v) {
    if (H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT) > 0)
        H5Adelete_by_name(f->id, obj, name, H5P_DEFAULT);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f->id, obj, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, type, v) < 0)
                 ? ssm_error("%s: cannot write attribute %s on %s", f->path, name, obj)
                 : SSM_OK;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

int ssm_h5_set_attr_double(ssm_h5 *f, const char *obj, const char *name, double v) {
    return set_attr(f, obj, name, H5T_NATIVE_DOUBLE, &v);
}

int ssm_h5_set_attr_string(ssm_h5 *f, const char *obj, const char *name, const char *v) {
    /* fixed length, stored in the object header: a variable-length string lives in
     * the global heap, and HDF5 1.10 can crash reading one from a corrupted file */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = set_attr(f, obj, name, t, v);
    H5Tclose(t);
    return rc;
}

/* --- the links of a group, in name order --- */
typedef struct {
    char **names;
    int n, cap;
} name_list;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *op) {
    (void)g, (void)info;
    name_list *l = op;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->names = realloc(l->names, (size_t)l->cap * sizeof *l->names);
        SSM_CHECK(l->names, "h5: out of memory");
    }
    l->names[l->n] = strdup(name);
    SSM_CHECK(l->names[l->n], "h5: out of memory");
    l->n++;
    return 0;
}

int ssm_h5_list(ssm_h5 *f, const char *group, char ***names, int *n) {
    name_list l = {0};
    *names = NULL;
    *n = 0;
    if (!ssm_h5_exists(f, group)) return SSM_OK;
    if (H5Literate_by_name(f->id, group, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &l,
                            H5P_DEFAULT) < 0) {
        for (int i = 0; i < l.n; i++) free(l.names[i]);
        free(l.names);
        return ssm_error("%s: cannot list group %s", f->path, group);
    }
    *names = l.names;
    *n = l.n;
    return SSM_OK;
}
