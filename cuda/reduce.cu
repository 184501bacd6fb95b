/* Reductions and data movement: sum over an axis and its adjoint, permute,
 * slice copy (concat/split), sum of squares. Sums accumulate in double, as the
 * CPU does, through the deterministic col_reduce of common.cuh. */
#include "common.cuh"

/* y[o, i] (+)= scale * (float)sum, rounded as the CPU rounds it */
struct sum_store {
    float *y;
    float scale;
    int acc;
    int64_t inner;
    __device__ void operator()(int64_t o, int64_t i, double s) const {
        float *q = y + o * inner + i;
        *q = (acc ? *q : 0.0f) + scale * (float)s;
    }
};
struct axis_val {
    const float *x;
    int64_t n, inner;
    __device__ double operator()(int64_t o, int64_t k, int64_t i) const {
        return (double)x[(o * n + k) * inner + i];
    }
};

void ssm_cuda_sum_axis(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                       int64_t inner, double scale, int acc) {
    SSM_CUDA_F32(dt, "sum_axis");
    col_reduce<double>(outer, n, inner, axis_val{CF32(x), n, inner},
                       sum_store{F32(y), (float)scale, acc, inner});
}

static __global__ void expand_kernel(const float *x, float *y, int64_t outer, int64_t n,
                                     int64_t inner, float scale) {
    GRID_STRIDE(idx, outer * n * inner) {
        int64_t i = idx % inner, o = idx / (n * inner);
        y[idx] += scale * x[o * inner + i];
    }
}

void ssm_cuda_expand_axis(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                          int64_t inner, double scale) {
    SSM_CUDA_F32(dt, "expand_axis");
    int64_t total = outer * n * inner;
    if (total <= 0) return;
    expand_kernel<<<ssm_grid(total), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), F32(y), outer, n, inner, (float)scale);
    LAUNCH_CHECK();
}

/* Shape and strides by value: no device copy of the host arrays. */
struct perm_args {
    int ndim;
    int64_t yshape[SSM_MAX_DIMS];   /* y's dimension d ... */
    int64_t xstride[SSM_MAX_DIMS];  /* ... walks x with the stride of x's dimension perm[d] */
};

/* One thread per y element: writes are coalesced, reads gather. */
static __global__ void permute_kernel(const float *x, float *y, int64_t total, perm_args a,
                                      int acc) {
    GRID_STRIDE(i, total) {
        int64_t rem = i, xi = 0;
        for (int d = a.ndim - 1; d >= 0; d--) {
            int64_t c = rem % a.yshape[d];
            rem /= a.yshape[d];
            xi += c * a.xstride[d];
        }
        y[i] = (acc ? y[i] : 0.0f) + x[xi];
    }
}

void ssm_cuda_permute(ssm_dtype dt, const void *x, void *y, int ndim, const int64_t *shape,
                      const int *perm, int acc) {
    SSM_CUDA_F32(dt, "permute");
    if (ndim < 0 || ndim > SSM_MAX_DIMS) ssm_panic("cuda: permute: ndim %d", ndim);
    perm_args a;
    a.ndim = ndim;
    int64_t xs[SSM_MAX_DIMS], total = 1;
    unsigned seen = 0;
    for (int d = ndim - 1; d >= 0; d--) { xs[d] = total; total *= shape[d]; }
    for (int d = 0; d < ndim; d++) {
        int p = perm[d];
        if (p < 0 || p >= ndim || (seen & (1u << p)))
            ssm_panic("cuda: permute: perm is not a permutation of 0..%d", ndim - 1);
        seen |= 1u << p;
        a.yshape[d] = shape[p];
        a.xstride[d] = xs[p];
    }
    if (total <= 0) return;
    permute_kernel<<<ssm_grid(total), SSM_THREADS, 0, ssm_cuda_stream()>>>(CF32(x), F32(y),
                                                                           total, a, acc);
    LAUNCH_CHECK();
}

static __global__ void slice_kernel(const float *x, float *y, int64_t outer, int64_t nx,
                                    int64_t ny, int64_t inner, int64_t x_off, int64_t y_off,
                                    int64_t len, int acc) {
    GRID_STRIDE(idx, outer * len * inner) {
        int64_t i = idx % inner, t = idx / inner, k = t % len, o = t / len;
        float v = x[(o * nx + x_off + k) * inner + i];
        float *q = y + (o * ny + y_off + k) * inner + i;
        *q = acc ? *q + v : v;
    }
}

void ssm_cuda_slice_copy(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t nx,
                         int64_t ny, int64_t inner, int64_t x_off, int64_t y_off, int64_t len,
                         int acc) {
    SSM_CUDA_F32(dt, "slice_copy");
    int64_t total = outer * len * inner;
    if (total <= 0) return;
    slice_kernel<<<ssm_grid(total), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), F32(y), outer, nx, ny, inner, x_off, y_off, len, acc);
    LAUNCH_CHECK();
}

struct sq_val {
    const float *x;
    __device__ double operator()(int64_t, int64_t k, int64_t) const {
        double v = x[k];
        return v * v;
    }
};
struct dstore {
    double *out;
    __device__ void operator()(int64_t, int64_t, double s) const { *out = s; }
};

void ssm_cuda_sumsq(ssm_dtype dt, const void *x, int64_t n, double *out) {
    SSM_CUDA_F32(dt, "sumsq");
    if (n <= 0) {
        CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof *out, ssm_cuda_stream()));
        return;
    }
    col_reduce<double>(1, n, 1, sq_val{CF32(x)}, dstore{out});
}
