/* Reductions and copies on the CPU: sum over an axis and its adjoint,
 * permute, slice copy (concat/split), sum of squares. */
#include <string.h>
#include "cpu_kernels.h"
#include "log.h"

#define PAR_MIN 16384

#define T float
#define F(name) name##_f32
#include "cpu_reduce.inc"
#undef T
#undef F
#define T double
#define F(name) name##_f64
#include "cpu_reduce.inc"
#undef T
#undef F

void ssm_cpu_sum_axis(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                      int64_t inner, double scale, int acc) {
    SSM_CPU_DISPATCH("sum_axis", dt, sum_axis_f32(x, y, outer, n, inner, (float)scale, acc),
                     sum_axis_f64(x, y, outer, n, inner, scale, acc));
}

void ssm_cpu_expand_axis(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                         int64_t inner, double scale) {
    SSM_CPU_DISPATCH("expand_axis", dt, expand_axis_f32(x, y, outer, n, inner, (float)scale),
                     expand_axis_f64(x, y, outer, n, inner, scale));
}

void ssm_cpu_permute(ssm_dtype dt, const void *x, void *y, int ndim, const int64_t *shape,
                     const int *perm, int acc) {
    if (dt == SSM_I32 && !acc) { /* tokens and labels are permuted too; same bit width */
        permute_f32(x, y, ndim, shape, perm, 0);
        return;
    }
    SSM_CPU_DISPATCH("permute", dt, permute_f32(x, y, ndim, shape, perm, acc),
                     permute_f64(x, y, ndim, shape, perm, acc));
}

void ssm_cpu_slice_copy(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t nx,
                        int64_t ny, int64_t inner, int64_t x_off, int64_t y_off, int64_t len,
                        int acc) {
    if (dt == SSM_I32 && !acc) {
        slice_copy_f32(x, y, outer, nx, ny, inner, x_off, y_off, len, 0);
        return;
    }
    SSM_CPU_DISPATCH("slice_copy", dt,
                     slice_copy_f32(x, y, outer, nx, ny, inner, x_off, y_off, len, acc),
                     slice_copy_f64(x, y, outer, nx, ny, inner, x_off, y_off, len, acc));
}

void ssm_cpu_sumsq(ssm_dtype dt, const void *x, int64_t n, double *out) {
    SSM_CPU_DISPATCH("sumsq", dt, *out = sumsq_f32(x, n), *out = sumsq_f64(x, n));
}
