/* Normalisation kernels: layer norm and RMS norm per row of [rows, dim], batch
 * norm per column of [rows, C]. Statistics are accumulated in double.
 *
 * Column reductions (dw, db, batch statistics) run over chunks of columns, each
 * chunk summing its rows in order: race-free, no scratch allocation, and the
 * result does not depend on the thread count (bit-reproducible resumes).
 *
 * The file is a template: the part under `#else` is compiled once for
 * T = float and once for T = double by including this file into itself. */
#ifndef T
#include <tgmath.h>
#include "cpu_kernels.h"
#include "log.h"
#ifdef _OPENMP
#include <omp.h>
#endif

enum { CW_MAX = 64 };          /* widest column chunk (stack accumulators) */
#define PAR_MIN ((int64_t)1 << 15) /* elements below which threads cost more than they save */

/* Column chunk width: about two chunks per thread, within [8, CW_MAX]. */
static int64_t col_chunk(int64_t cols) {
    int64_t nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    int64_t w = (cols + 2 * nt - 1) / (2 * nt);
    return w < 8 ? 8 : w > CW_MAX ? CW_MAX : w;
}

#define SSM_CPU_TEMPLATE "cpu_norm.c"
#include "cpu_template.h"

void ssm_cpu_layernorm_fwd(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                           void *mean, void *rstd, int64_t rows, int64_t dim, double eps) {
    DISPATCH(layernorm_fwd, dt, x, w, b, y, mean, rstd, rows, dim, eps);
}

void ssm_cpu_layernorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *mean,
                           const void *rstd, const void *dy, void *dx, void *dw, void *db,
                           int64_t rows, int64_t dim, int acc_dx) {
    ssm_cpu_clear_unless(acc_dx, dx, rows * dim, dt);
    DISPATCH(layernorm_bwd, dt, x, w, mean, rstd, dy, dx, dw, db, rows, dim);
}

void ssm_cpu_rmsnorm_fwd(ssm_dtype dt, const void *x, const void *w, void *y, void *rstd,
                         int64_t rows, int64_t dim, double eps) {
    DISPATCH(rmsnorm_fwd, dt, x, w, y, rstd, rows, dim, eps);
}

void ssm_cpu_rmsnorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *rstd,
                         const void *dy, void *dx, void *dw, int64_t rows, int64_t dim,
                         int acc_dx) {
    ssm_cpu_clear_unless(acc_dx, dx, rows * dim, dt);
    DISPATCH(rmsnorm_bwd, dt, x, w, rstd, dy, dx, dw, rows, dim);
}

void ssm_cpu_batchnorm_fwd(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                           void *mean, void *invstd, void *running_mean, void *running_var,
                           int64_t rows, int64_t C, double eps, double momentum, int training) {
    SSM_CHECK(mean && invstd, "batchnorm_fwd: mean and invstd must not be NULL");
    /* PyTorch refuses this too: the unbiased variance would divide by zero */
    SSM_CHECK(!training || rows > 1,
              "batchnorm_fwd: training needs more than 1 value per channel (rows = %lld)",
              (long long)rows);
    SSM_CHECK(training || (running_mean && running_var),
              "batchnorm_fwd: eval mode needs running_mean and running_var");
    DISPATCH(batchnorm_fwd, dt, x, w, b, y, mean, invstd, running_mean, running_var, rows, C,
             eps, momentum, training);
}

void ssm_cpu_batchnorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *mean,
                           const void *invstd, const void *dy, void *dx, void *dw, void *db,
                           int64_t rows, int64_t C, int training, int acc_dx) {
    ssm_cpu_clear_unless(acc_dx, dx, rows * C, dt);
    DISPATCH(batchnorm_bwd, dt, x, w, mean, invstd, dy, dx, dw, db, rows, C, training);
}

#else /* ---------------- template body, T = float or double ---------------- */

/* mean and rstd may be NULL (inference: nothing saved for backward). y is computed
 * from the saved (T-rounded) statistics so that backward sees the same ones. */
static void FN(layernorm_fwd)(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd,
                              int64_t rows, int64_t dim, double eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * dim;
        T *yr = y + r * dim;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < dim; i++) s += xr[i];
        double mu = s / dim;
        for (int64_t i = 0; i < dim; i++) ss += (xr[i] - mu) * (xr[i] - mu);
        T m = (T)mu, q = (T)(1.0 / sqrt(ss / dim + eps));
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = q;
        for (int64_t i = 0; i < dim; i++) {
            T v = (xr[i] - m) * q;
            if (w) v *= w[i];
            if (b) v += b[i];
            yr[i] = v;
        }
    }
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w, xhat = (x - mean) * rstd */
static void FN(layernorm_bwd)(const T *x, const T *w, const T *mean, const T *rstd,
                              const T *dy, T *dx, T *dw, T *db, int64_t rows, int64_t dim) {
    if (dx) {
#pragma omp parallel for schedule(static) if (rows * dim >= PAR_MIN)
        for (int64_t r = 0; r < rows; r++) {
            const T *xr = x + r * dim, *gr = dy + r * dim;
            double mu = mean[r], rs = rstd[r], sg = 0, sgx = 0;
            for (int64_t i = 0; i < dim; i++) {
                double g = w ? (double)gr[i] * w[i] : gr[i];
                sg += g;
                sgx += g * (xr[i] - mu) * rs;
            }
            sg /= dim;
            sgx /= dim;
            for (int64_t i = 0; i < dim; i++) {
                double g = w ? (double)gr[i] * w[i] : gr[i];
                dx[r * dim + i] += (T)(rs * (g - sg - (xr[i] - mu) * rs * sgx));
            }
        }
    }
    if (!dw && !db) return;
    int64_t cw = col_chunk(dim);
#pragma omp parallel for schedule(static) if (rows * dim >= PAR_MIN)
    for (int64_t c0 = 0; c0 < dim; c0 += cw) {
        int64_t n = dim - c0 < cw ? dim - c0 : cw;
        double aw[CW_MAX] = {0}, ab[CW_MAX] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const T *xr = x + r * dim + c0, *gr = dy + r * dim + c0;
            double mu = mean[r], rs = rstd[r];
            for (int64_t j = 0; j < n; j++) {
                aw[j] += (double)gr[j] * (xr[j] - mu) * rs;
                ab[j] += gr[j];
            }
        }
        for (int64_t j = 0; j < n; j++) {
            if (dw) dw[c0 + j] += (T)aw[j];
            if (db) db[c0 + j] += (T)ab[j];
        }
    }
}

/* w may be NULL (no affine weight); rstd may be NULL (inference) */
static void FN(rmsnorm_fwd)(const T *x, const T *w, T *y, T *rstd, int64_t rows, int64_t dim,
                            double eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * dim;
        double ss = 0;
        for (int64_t i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        T q = (T)(1.0 / sqrt(ss / dim + eps));
        if (rstd) rstd[r] = q;
        for (int64_t i = 0; i < dim; i++) y[r * dim + i] = w ? xr[i] * q * w[i] : xr[i] * q;
    }
}

/* dx = rstd * (g - xhat * mean(g * xhat)), g = dy * w, xhat = x * rstd */
static void FN(rmsnorm_bwd)(const T *x, const T *w, const T *rstd, const T *dy, T *dx, T *dw,
                            int64_t rows, int64_t dim) {
    if (dx) {
#pragma omp parallel for schedule(static) if (rows * dim >= PAR_MIN)
        for (int64_t r = 0; r < rows; r++) {
            const T *xr = x + r * dim, *gr = dy + r * dim;
            double rs = rstd[r], sgx = 0;
            for (int64_t i = 0; i < dim; i++)
                sgx += (w ? (double)gr[i] * w[i] : gr[i]) * xr[i] * rs;
            sgx /= dim;
            for (int64_t i = 0; i < dim; i++) {
                double g = w ? (double)gr[i] * w[i] : gr[i];
                dx[r * dim + i] += (T)(rs * (g - xr[i] * rs * sgx));
            }
        }
    }
    if (!dw) return;
    int64_t cw = col_chunk(dim);
#pragma omp parallel for schedule(static) if (rows * dim >= PAR_MIN)
    for (int64_t c0 = 0; c0 < dim; c0 += cw) {
        int64_t n = dim - c0 < cw ? dim - c0 : cw;
        double aw[CW_MAX] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const T *xr = x + r * dim + c0, *gr = dy + r * dim + c0;
            double rs = rstd[r];
            for (int64_t j = 0; j < n; j++) aw[j] += (double)gr[j] * xr[j] * rs;
        }
        for (int64_t j = 0; j < n; j++) dw[c0 + j] += (T)aw[j];
    }
}

/* Each chunk of channels: statistics (two passes, double), running stats, then y. */
static void FN(batchnorm_fwd)(const T *x, const T *w, const T *b, T *y, T *mean, T *invstd,
                              T *rmean, T *rvar, int64_t rows, int64_t C, double eps,
                              double momentum, int training) {
    int64_t cw = col_chunk(C);
#pragma omp parallel for schedule(static) if (rows * C >= PAR_MIN)
    for (int64_t c0 = 0; c0 < C; c0 += cw) {
        int64_t n = C - c0 < cw ? C - c0 : cw;
        if (training) {
            double s[CW_MAX] = {0}, ss[CW_MAX] = {0};
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < n; j++) s[j] += x[r * C + c0 + j];
            for (int64_t j = 0; j < n; j++) s[j] /= rows;
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < n; j++) {
                    double d = x[r * C + c0 + j] - s[j];
                    ss[j] += d * d;
                }
            for (int64_t j = 0; j < n; j++) {
                int64_t c = c0 + j;
                mean[c] = (T)s[j];
                invstd[c] = (T)(1.0 / sqrt(ss[j] / rows + eps));
                if (rmean) rmean[c] = (T)((1 - momentum) * rmean[c] + momentum * s[j]);
                if (rvar)
                    rvar[c] = (T)((1 - momentum) * rvar[c] + momentum * ss[j] / (rows - 1));
            }
        } else {
            for (int64_t j = 0; j < n; j++) {
                int64_t c = c0 + j;
                mean[c] = rmean[c];
                invstd[c] = (T)(1.0 / sqrt((double)rvar[c] + eps));
            }
        }
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < n; j++) {
                int64_t c = c0 + j;
                T v = (x[r * C + c] - mean[c]) * invstd[c];
                if (w) v *= w[c];
                if (b) v += b[c];
                y[r * C + c] = v;
            }
    }
}

/* training: dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) (batch statistics
 * depend on x); eval: dx = dy * w * invstd. dw += sum dy * xhat, db += sum dy either way. */
static void FN(batchnorm_bwd)(const T *x, const T *w, const T *mean, const T *invstd,
                              const T *dy, T *dx, T *dw, T *db, int64_t rows, int64_t C,
                              int training) {
    int64_t cw = col_chunk(C);
#pragma omp parallel for schedule(static) if (rows * C >= PAR_MIN)
    for (int64_t c0 = 0; c0 < C; c0 += cw) {
        int64_t n = C - c0 < cw ? C - c0 : cw;
        double sg[CW_MAX] = {0}, sgx[CW_MAX] = {0};
        if (dw || db || (dx && training))
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < n; j++) {
                    int64_t c = c0 + j;
                    double g = dy[r * C + c];
                    sg[j] += g;
                    sgx[j] += g * ((double)x[r * C + c] - mean[c]) * invstd[c];
                }
        for (int64_t j = 0; j < n; j++) {
            if (dw) dw[c0 + j] += (T)sgx[j];
            if (db) db[c0 + j] += (T)sg[j];
        }
        if (!dx) continue;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < n; j++) {
                int64_t c = c0 + j;
                double is = invstd[c], ws = (w ? (double)w[c] : 1.0) * is;
                double g = dy[r * C + c];
                if (training)
                    g -= (sg[j] + ((double)x[r * C + c] - mean[c]) * is * sgx[j]) / rows;
                dx[r * C + c] += (T)(ws * g);
            }
    }
}

#endif
