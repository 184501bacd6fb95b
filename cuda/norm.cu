/* Normalisation: layer norm and RMS norm per row of [rows, dim] (one warp per
 * row), batch norm per column of [rows, C]. Statistics and the backward
 * formulas run in double, as lib/cpu_norm.c does, so the backends agree.
 * Column sums (dw, db, batch statistics) use col_reduce: no atomics. */
#include "common.cuh"

/* --- layer norm --- */

static __global__ void layernorm_fwd_kernel(const float *x, const float *w, const float *b,
                                            float *y, float *mean, float *rstd, int64_t rows,
                                            int64_t dim, double eps) {
    WARP_STRIDE(r, lane, rows) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        double s = 0, ss = 0;
        for (int64_t i = lane; i < dim; i += 32) s += xr[i];
        double mu = warp_sum(s) / dim;
        for (int64_t i = lane; i < dim; i += 32) {
            double d = xr[i] - mu;
            ss += d * d;
        }
        ss = warp_sum(ss);
        /* y uses the saved (float) statistics so backward sees the same ones */
        float m = (float)mu, q = (float)(1.0 / sqrt(ss / dim + eps));
        if (lane == 0) {
            if (mean) mean[r] = m;
            if (rstd) rstd[r] = q;
        }
        for (int64_t i = lane; i < dim; i += 32) {
            float v = (xr[i] - m) * q;
            if (w) v *= w[i];
            if (b) v += b[i];
            yr[i] = v;
        }
    }
}

/* dx += rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w, xhat = (x - mean) * rstd */
static __global__ void layernorm_dx_kernel(const float *x, const float *w, const float *mean,
                                           const float *rstd, const float *dy, float *dx,
                                           int64_t rows, int64_t dim, int acc) {
    WARP_STRIDE(r, lane, rows) {
        const float *xr = x + r * dim, *gr = dy + r * dim;
        double mu = mean[r], rs = rstd[r], sg = 0, sgx = 0;
        for (int64_t i = lane; i < dim; i += 32) {
            double g = w ? (double)gr[i] * w[i] : gr[i];
            sg += g;
            sgx += g * (xr[i] - mu) * rs;
        }
        sg = warp_sum(sg) / dim;
        sgx = warp_sum(sgx) / dim;
        for (int64_t i = lane; i < dim; i += 32) {
            double g = w ? (double)gr[i] * w[i] : gr[i];
            float v = (float)(rs * (g - sg - (xr[i] - mu) * rs * sgx));
            dx[r * dim + i] = acc ? dx[r * dim + i] + v : v;
        }
    }
}

/* per column j: (sum dy * xhat, sum dy); rstd only (mean NULL) gives RMS norm's xhat */
struct norm_wb_val {
    const float *x, *mean, *rstd, *dy;
    int64_t dim;
    __device__ d2 operator()(int64_t, int64_t r, int64_t j) const {
        double g = dy[r * dim + j], xv = x[r * dim + j];
        double xh = (mean ? xv - mean[r] : xv) * (double)rstd[r];
        return {g * xh, g};
    }
};
struct wb_store {
    float *dw, *db;
    __device__ void operator()(int64_t, int64_t j, d2 s) const {
        if (dw) dw[j] += (float)s.a;
        if (db) db[j] += (float)s.b;
    }
};

void ssm_cuda_layernorm_fwd(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                            void *mean, void *rstd, int64_t rows, int64_t dim, double eps) {
    SSM_CUDA_F32(dt, "layernorm_fwd");
    if (rows <= 0 || dim <= 0) return;
    layernorm_fwd_kernel<<<ssm_grid_warps(rows), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(w), CF32(b), F32(y), F32(mean), F32(rstd), rows, dim, eps);
    LAUNCH_CHECK();
}

void ssm_cuda_layernorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *mean,
                            const void *rstd, const void *dy, void *dx, void *dw, void *db,
                            int64_t rows, int64_t dim, int acc_dx) {
    SSM_CUDA_F32(dt, "layernorm_bwd");
    if (rows <= 0 || dim <= 0) return;
    if (dx) {
        layernorm_dx_kernel<<<ssm_grid_warps(rows), SSM_THREADS, 0, ssm_cuda_stream()>>>(
            CF32(x), CF32(w), CF32(mean), CF32(rstd), CF32(dy), F32(dx), rows, dim, acc_dx);
        LAUNCH_CHECK();
    }
    if (dw || db)
        col_reduce<d2>(1, rows, dim, norm_wb_val{CF32(x), CF32(mean), CF32(rstd), CF32(dy), dim},
                       wb_store{F32(dw), F32(db)});
}

/* --- RMS norm --- */

static __global__ void rmsnorm_fwd_kernel(const float *x, const float *w, float *y, float *rstd,
                                          int64_t rows, int64_t dim, double eps) {
    WARP_STRIDE(r, lane, rows) {
        const float *xr = x + r * dim;
        double ss = 0;
        for (int64_t i = lane; i < dim; i += 32) ss += (double)xr[i] * xr[i];
        ss = warp_sum(ss);
        float q = (float)(1.0 / sqrt(ss / dim + eps));
        if (lane == 0 && rstd) rstd[r] = q;
        for (int64_t i = lane; i < dim; i += 32)
            y[r * dim + i] = w ? xr[i] * q * w[i] : xr[i] * q;
    }
}

/* dx += rstd * (g - xhat * mean(g * xhat)), g = dy * w, xhat = x * rstd */
static __global__ void rmsnorm_dx_kernel(const float *x, const float *w, const float *rstd,
                                         const float *dy, float *dx, int64_t rows, int64_t dim,
                                         int acc) {
    WARP_STRIDE(r, lane, rows) {
        const float *xr = x + r * dim, *gr = dy + r * dim;
        double rs = rstd[r], sgx = 0;
        for (int64_t i = lane; i < dim; i += 32)
            sgx += (w ? (double)gr[i] * w[i] : gr[i]) * xr[i] * rs;
        sgx = warp_sum(sgx) / dim;
        for (int64_t i = lane; i < dim; i += 32) {
            double g = w ? (double)gr[i] * w[i] : gr[i];
            float v = (float)(rs * (g - xr[i] * rs * sgx));
            dx[r * dim + i] = acc ? dx[r * dim + i] + v : v;
        }
    }
}

void ssm_cuda_rmsnorm_fwd(ssm_dtype dt, const void *x, const void *w, void *y, void *rstd,
                          int64_t rows, int64_t dim, double eps) {
    SSM_CUDA_F32(dt, "rmsnorm_fwd");
    if (rows <= 0 || dim <= 0) return;
    rmsnorm_fwd_kernel<<<ssm_grid_warps(rows), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(w), F32(y), F32(rstd), rows, dim, eps);
    LAUNCH_CHECK();
}

void ssm_cuda_rmsnorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *rstd,
                          const void *dy, void *dx, void *dw, int64_t rows, int64_t dim,
                          int acc_dx) {
    SSM_CUDA_F32(dt, "rmsnorm_bwd");
    if (rows <= 0 || dim <= 0) return;
    if (dx) {
        rmsnorm_dx_kernel<<<ssm_grid_warps(rows), SSM_THREADS, 0, ssm_cuda_stream()>>>(
            CF32(x), CF32(w), CF32(rstd), CF32(dy), F32(dx), rows, dim, acc_dx);
        LAUNCH_CHECK();
    }
    if (dw)
        col_reduce<d2>(1, rows, dim, norm_wb_val{CF32(x), NULL, CF32(rstd), CF32(dy), dim},
                       wb_store{F32(dw), NULL});
}

/* --- batch norm over [rows, C], per channel c --- */

struct bn_val { /* x, or (x - mu)^2 when mu is given */
    const float *x;
    const double *mu;
    int64_t C;
    __device__ double operator()(int64_t, int64_t r, int64_t c) const {
        double v = x[r * C + c];
        if (!mu) return v;
        v -= mu[c];
        return v * v;
    }
};
/* mean pass: keep the double mean for the variance pass; update running_mean */
struct bn_mean_store {
    double *mu;
    float *mean, *rmean;
    int64_t rows;
    double momentum;
    __device__ void operator()(int64_t, int64_t c, double s) const {
        double m = s / rows;
        mu[c] = m;
        mean[c] = (float)m;
        if (rmean) rmean[c] = (float)((1 - momentum) * rmean[c] + momentum * m);
    }
};
/* variance pass: biased for invstd, unbiased for running_var (PyTorch) */
struct bn_var_store {
    float *invstd, *rvar;
    int64_t rows;
    double eps, momentum;
    __device__ void operator()(int64_t, int64_t c, double ss) const {
        invstd[c] = (float)(1.0 / sqrt(ss / rows + eps));
        if (rvar) rvar[c] = (float)((1 - momentum) * rvar[c] + momentum * ss / (rows - 1));
    }
};

static __global__ void bn_eval_stats_kernel(const float *rmean, const float *rvar, float *mean,
                                            float *invstd, int64_t C, double eps) {
    GRID_STRIDE(c, C) {
        mean[c] = rmean[c];
        invstd[c] = (float)(1.0 / sqrt((double)rvar[c] + eps));
    }
}

static __global__ void bn_apply_kernel(const float *x, const float *w, const float *b,
                                       const float *mean, const float *invstd, float *y,
                                       int64_t rows, int64_t C) {
    GRID_STRIDE(i, rows * C) {
        int64_t c = i % C;
        float v = (x[i] - mean[c]) * invstd[c];
        if (w) v *= w[c];
        if (b) v += b[c];
        y[i] = v;
    }
}

void ssm_cuda_batchnorm_fwd(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                            void *mean, void *invstd, void *running_mean, void *running_var,
                            int64_t rows, int64_t C, double eps, double momentum, int training) {
    SSM_CUDA_F32(dt, "batchnorm_fwd");
    /* the same programmer-error checks as the CPU entry */
    if (!mean || !invstd) ssm_panic("cuda: batchnorm_fwd: mean and invstd must not be NULL");
    if (training && rows <= 1)
        ssm_panic("cuda: batchnorm_fwd: training needs more than 1 value per channel "
                  "(rows = %lld)", (long long)rows);
    if (!training && (!running_mean || !running_var))
        ssm_panic("cuda: batchnorm_fwd: eval mode needs running_mean and running_var");
    if (C <= 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (training) {
        double *mu = (double *)ssm_cuda_scratch(SSM_SCR_OP, (size_t)C * sizeof(double));
        col_reduce<double>(1, rows, C, bn_val{CF32(x), NULL, C},
                           bn_mean_store{mu, F32(mean), F32(running_mean), rows, momentum});
        col_reduce<double>(1, rows, C, bn_val{CF32(x), mu, C},
                           bn_var_store{F32(invstd), F32(running_var), rows, eps, momentum});
    } else {
        bn_eval_stats_kernel<<<ssm_grid(C), SSM_THREADS, 0, st>>>(
            CF32(running_mean), CF32(running_var), F32(mean), F32(invstd), C, eps);
        LAUNCH_CHECK();
    }
    if (rows <= 0) return;
    bn_apply_kernel<<<ssm_grid(rows * C), SSM_THREADS, 0, st>>>(
        CF32(x), CF32(w), CF32(b), CF32(mean), CF32(invstd), F32(y), rows, C);
    LAUNCH_CHECK();
}

/* per channel: (sum dy, sum dy * xhat) */
struct bn_grad_val {
    const float *x, *mean, *invstd, *dy;
    int64_t C;
    __device__ d2 operator()(int64_t, int64_t r, int64_t c) const {
        double g = dy[r * C + c];
        return {g, g * ((double)x[r * C + c] - mean[c]) * invstd[c]};
    }
};
struct bn_grad_store {
    double *sums; /* [C][2] for the dx pass, may be NULL */
    float *dw, *db;
    __device__ void operator()(int64_t, int64_t c, d2 s) const {
        if (sums) { sums[2 * c] = s.a; sums[2 * c + 1] = s.b; }
        if (dw) dw[c] += (float)s.b;
        if (db) db[c] += (float)s.a;
    }
};

/* training: dx += w * invstd * (dy - (sum dy + xhat * sum dy xhat) / rows);
 * eval: dx += dy * w * invstd */
static __global__ void bn_dx_kernel(const float *x, const float *w, const float *mean,
                                    const float *invstd, const float *dy, const double *sums,
                                    float *dx, int64_t rows, int64_t C, int acc) {
    GRID_STRIDE(i, rows * C) {
        int64_t c = i % C;
        double is = invstd[c], ws = (w ? (double)w[c] : 1.0) * is;
        double g = dy[i];
        if (sums) g -= (sums[2 * c] + ((double)x[i] - mean[c]) * is * sums[2 * c + 1]) / rows;
        dx[i] = acc ? dx[i] + (float)(ws * g) : (float)(ws * g);
    }
}

void ssm_cuda_batchnorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *mean,
                            const void *invstd, const void *dy, void *dx, void *dw, void *db,
                            int64_t rows, int64_t C, int training, int acc_dx) {
    SSM_CUDA_F32(dt, "batchnorm_bwd");
    if (rows <= 0 || C <= 0) return;
    double *sums = NULL;
    if (dx && training)
        sums = (double *)ssm_cuda_scratch(SSM_SCR_OP, (size_t)C * 2 * sizeof(double));
    if (sums || dw || db)
        col_reduce<d2>(1, rows, C, bn_grad_val{CF32(x), CF32(mean), CF32(invstd), CF32(dy), C},
                       bn_grad_store{sums, F32(dw), F32(db)});
    if (!dx) return;
    bn_dx_kernel<<<ssm_grid(rows * C), SSM_THREADS, 0, ssm_cuda_stream()>>>(
        CF32(x), CF32(w), CF32(mean), CF32(invstd), CF32(dy), sums, F32(dx), rows, C, acc_dx);
    LAUNCH_CHECK();
}
