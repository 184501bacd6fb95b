/* Elementwise entries: fill, scale, unary and binary ops with their backward
 * rules. Formulas mirror lib/cpu_elementwise.inc in float (expf, log1pf, erff,
 * tanhf: the accurate functions, no fast math) so both backends agree. */
#include "common.cuh"

/* a*b + c*d and a*b - c*d rounded term by term, as the CPU (no FMA on baseline
 * x86-64) rounds them: complex products cancel, and a fused multiply-add there
 * would differ from the CPU far beyond 1e-5 relative */
__device__ __forceinline__ float dot2(float a, float b, float c, float d) {
    return __fadd_rn(__fmul_rn(a, b), __fmul_rn(c, d));
}
__device__ __forceinline__ float det2(float a, float b, float c, float d) {
    return __fsub_rn(__fmul_rn(a, b), __fmul_rn(c, d));
}

__device__ __forceinline__ float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

#define K0 0.7978845608028654f  /* sqrt(2/pi) */
#define K1 0.044715f
#define R2 0.7071067811865476f  /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.3989422804014327f

__device__ __forceinline__ float unary_f(int op, float v) {
    switch (op) {
    /* in double, rounded once, as the CPU: expf differs from the CPU's by an ulp at
     * times, and one ulp of S4D's dt moves the gradient of log dt by 2e-5 */
    case SSM_UN_EXP: return (float)exp((double)v);
    case SSM_UN_LOG: return (float)log((double)v);
    case SSM_UN_SOFTPLUS: return v > 20.0f ? v : log1pf(expf(v));
    case SSM_UN_SIGMOID: return sigm(v);
    case SSM_UN_TANH: return tanhf(v);
    case SSM_UN_SILU: return v * sigm(v);
    case SSM_UN_GELU_ERF: return 0.5f * v * (1.0f + erff(v * R2));
    case SSM_UN_GELU_TANH: return 0.5f * v * (1.0f + tanhf(K0 * (v + K1 * v * v * v)));
    case SSM_UN_RELU: return v > 0.0f ? v : 0.0f;
    default: return v * v; /* SSM_UN_SQUARE (op validated on the host) */
    }
}

/* f'(x); y = f(x) when the caller saved it (NULL: recomputed) */
__device__ __forceinline__ float unary_d(int op, float v, const float *y, int64_t i) {
    switch (op) {
    case SSM_UN_EXP: return y ? y[i] : (float)exp((double)v);
    case SSM_UN_LOG: return 1.0f / v;
    case SSM_UN_SOFTPLUS: return v > 20.0f ? 1.0f : sigm(v);
    case SSM_UN_SIGMOID: { float s = y ? y[i] : sigm(v); return s * (1.0f - s); }
    case SSM_UN_TANH: { float t = y ? y[i] : tanhf(v); return 1.0f - t * t; }
    case SSM_UN_SILU: { float s = sigm(v); return s * (1.0f + v * (1.0f - s)); }
    case SSM_UN_GELU_ERF:
        return 0.5f * (1.0f + erff(v * R2)) + v * INV_SQRT_2PI * expf(-0.5f * v * v);
    case SSM_UN_GELU_TANH: {
        float t = tanhf(K0 * (v + K1 * v * v * v));
        return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * K0 * (1.0f + 3.0f * K1 * v * v);
    }
    case SSM_UN_RELU: return v > 0.0f ? 1.0f : 0.0f;
    default: return 2.0f * v; /* SSM_UN_SQUARE */
    }
}

static __global__ void fill_kernel(float *y, int64_t n, float v) {
    GRID_STRIDE(i, n) y[i] = v;
}

static __global__ void scale_kernel(const float *x, float *y, int64_t n, float alpha, int acc) {
    GRID_STRIDE(i, n) y[i] = (acc ? y[i] : 0.0f) + alpha * x[i];
}

static __global__ void unary_kernel(int op, const float *x, float *y, int64_t n) {
    GRID_STRIDE(i, n) y[i] = unary_f(op, x[i]);
}

/* one thread per complex pair; n2 = number of pairs */
static __global__ void cexp_kernel(const float *x, float *y, int64_t n2) {
    GRID_STRIDE(p, n2) {
        float m = expf(x[2 * p]), s, c;
        sincosf(x[2 * p + 1], &s, &c);
        y[2 * p] = m * c;
        y[2 * p + 1] = m * s;
    }
}

static __global__ void unary_bwd_kernel(int op, const float *x, const float *y, const float *dy,
                                        float *dx, int64_t n, int acc) {
    GRID_STRIDE(i, n) {
        float g = unary_d(op, x[i], y, i) * dy[i];
        dx[i] = acc ? dx[i] + g : g;
    }
}

/* dz += dy * conj(e^z) */
static __global__ void cexp_bwd_kernel(const float *x, const float *y, const float *dy,
                                       float *dx, int64_t n2, int acc) {
    GRID_STRIDE(p, n2) {
        float yr, yi;
        if (y) { yr = y[2 * p]; yi = y[2 * p + 1]; }
        else {
            float m = expf(x[2 * p]), s, c;
            sincosf(x[2 * p + 1], &s, &c);
            yr = m * c;
            yi = m * s;
        }
        float gr = dy[2 * p], gi = dy[2 * p + 1];
        float a = dot2(gr, yr, gi, yi), b = det2(gi, yr, gr, yi);
        dx[2 * p] = acc ? dx[2 * p] + a : a;
        dx[2 * p + 1] = acc ? dx[2 * p + 1] + b : b;
    }
}

static __global__ void binary_kernel(int op, const float *a, int64_t na, const float *b,
                                     int64_t nb, float *y, int64_t n) {
    GRID_STRIDE(i, n) {
        float p = a[na == n ? i : i % na], q = b[nb == n ? i : i % nb];
        float r;
        switch (op) {
        case SSM_BIN_ADD: r = p + q; break;
        case SSM_BIN_SUB: r = p - q; break;
        case SSM_BIN_MUL: r = p * q; break;
        default: r = p / q; break; /* SSM_BIN_DIV */
        }
        y[i] = r;
    }
}

/* pairs: na, nb, n count reals and are even */
static __global__ void cmul_kernel(const float *a, int64_t na, const float *b, int64_t nb,
                                   float *y, int64_t n) {
    GRID_STRIDE(p, n / 2) {
        int64_t i = 2 * p;
        const float *u = a + i % na, *v = b + i % nb;
        y[i] = det2(u[0], v[0], u[1], v[1]);
        y[i + 1] = dot2(u[0], v[1], u[1], v[0]);
    }
}

/* CDIV as the CPU: a / b = a conj(b) / |b|^2 */
static __global__ void cdiv_kernel(const float *a, int64_t na, const float *b, int64_t nb,
                                   float *y, int64_t n) {
    GRID_STRIDE(p, n / 2) {
        int64_t i = 2 * p;
        const float *u = a + i % na, *v = b + i % nb;
        float vi = -v[1], s = __frcp_rn(dot2(v[0], v[0], v[1], v[1]));
        y[i] = __fmul_rn(det2(u[0], v[0], u[1], vi), s);
        y[i + 1] = __fmul_rn(dot2(u[0], vi, u[1], v[0]), s);
    }
}

/* d(a op b)/d(self) * dy at element i = k * ns + j (the k-th broadcast copy of j) */
struct bin_grad {
    int op, self_is_a;
    const float *a, *b, *dy;
    int64_t na, nb, ns;
    __device__ double operator()(int64_t, int64_t k, int64_t j) const {
        int64_t i = k * ns + j;
        float g;
        switch (op) { /* the operands are read only where the derivative needs them */
        case SSM_BIN_ADD: g = 1.0f; break;
        case SSM_BIN_SUB: g = self_is_a ? 1.0f : -1.0f; break;
        case SSM_BIN_MUL: g = self_is_a ? b[i % nb] : a[i % na]; break;
        default: { /* SSM_BIN_DIV */
            float p = a[i % na], q = b[i % nb];
            g = self_is_a ? 1.0f / q : -p / (q * q);
        }
        }
        return (double)(g * dy[i]);
    }
};
/* CMUL: d(self) += dy * conj(other) for pair j of self, copy k */
struct cmul_grad {
    const float *other, *dy;
    int64_t no, ns;
    __device__ d2 operator()(int64_t, int64_t k, int64_t j) const {
        int64_t i = k * ns + 2 * j;
        const float *o = other + i % no;
        float gr = dy[i], gi = dy[i + 1];
        return {(double)dot2(gr, o[0], gi, o[1]), (double)det2(gi, o[0], gr, o[1])};
    }
};
/* CDIV: d(self) += dy * conj(d(a/b)/d(self)), d/da = 1/b, d/db = -a/b^2 (in double) */
struct cdiv_grad {
    int self_is_a;
    const float *a, *b, *dy;
    int64_t na, nb, ns;
    __device__ d2 operator()(int64_t, int64_t k, int64_t j) const {
        int64_t i = k * ns + 2 * j;
        const float *p = a + i % na, *q = b + i % nb;
        double m = (double)q[0] * q[0] + (double)q[1] * q[1];
        double r0 = q[0] / m, r1 = -q[1] / m, o0 = r0, o1 = r1; /* 1/b */
        if (!self_is_a) {
            double s0 = r0 * r0 - r1 * r1, s1 = 2 * r0 * r1;
            o0 = -(p[0] * s0 - p[1] * s1);
            o1 = -(p[0] * s1 + p[1] * s0);
        }
        double gr = dy[i], gi = dy[i + 1];
        return {gr * o0 + gi * o1, gi * o0 - gr * o1};
    }
};
struct acc_store { /* d[j] (+)= s */
    float *d;
    int acc;
    __device__ void operator()(int64_t, int64_t j, double s) const {
        d[j] = acc ? d[j] + (float)s : (float)s;
    }
};
struct acc_store2 {
    float *d;
    int acc;
    __device__ void operator()(int64_t, int64_t j, d2 s) const {
        d[2 * j] = acc ? d[2 * j] + (float)s.a : (float)s.a;
        d[2 * j + 1] = acc ? d[2 * j + 1] + (float)s.b : (float)s.b;
    }
};

/* --- entries --- */

void ssm_cuda_fill(ssm_dtype dt, void *y, int64_t n, double value) {
    SSM_CUDA_F32(dt, "fill");
    if (n <= 0) return;
    fill_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(F32(y), n, (float)value);
    LAUNCH_CHECK();
}

void ssm_cuda_scale(ssm_dtype dt, const void *x, void *y, int64_t n, double alpha, int acc) {
    SSM_CUDA_F32(dt, "scale");
    if (n <= 0) return;
    scale_kernel<<<ssm_grid(n), SSM_THREADS, 0, ssm_cuda_stream()>>>(CF32(x), F32(y), n,
                                                                     (float)alpha, acc);
    LAUNCH_CHECK();
}

void ssm_cuda_unary(ssm_unary_op op, ssm_dtype dt, const void *x, void *y, int64_t n) {
    SSM_CUDA_F32(dt, "unary");
    if ((int)op < 0 || op >= SSM_UN_COUNT) ssm_panic("cuda: unary: bad op %d", (int)op);
    if (n <= 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (op == SSM_UN_CEXP)
        cexp_kernel<<<ssm_grid(n / 2), SSM_THREADS, 0, st>>>(CF32(x), F32(y), n / 2);
    else
        unary_kernel<<<ssm_grid(n), SSM_THREADS, 0, st>>>((int)op, CF32(x), F32(y), n);
    LAUNCH_CHECK();
}

void ssm_cuda_unary_bwd(ssm_unary_op op, ssm_dtype dt, const void *x, const void *y,
                        const void *dy, void *dx, int64_t n, int acc) {
    SSM_CUDA_F32(dt, "unary_bwd");
    if ((int)op < 0 || op >= SSM_UN_COUNT) ssm_panic("cuda: unary_bwd: bad op %d", (int)op);
    if (!dx || n <= 0) return;
    cudaStream_t st = ssm_cuda_stream();
    if (op == SSM_UN_CEXP)
        cexp_bwd_kernel<<<ssm_grid(n / 2), SSM_THREADS, 0, st>>>(CF32(x), CF32(y), CF32(dy),
                                                                 F32(dx), n / 2, acc);
    else
        unary_bwd_kernel<<<ssm_grid(n), SSM_THREADS, 0, st>>>((int)op, CF32(x), CF32(y),
                                                              CF32(dy), F32(dx), n, acc);
    LAUNCH_CHECK();
}

static void check_broadcast(const char *entry, ssm_binary_op op, int64_t na, int64_t nb,
                            int64_t n) {
    if ((int)op < 0 || op >= SSM_BIN_COUNT) ssm_panic("cuda: %s: bad op %d", entry, (int)op);
    if (na <= 0 || nb <= 0 || n % na || n % nb)
        ssm_panic("cuda: %s: sizes na=%lld nb=%lld must divide n=%lld", entry, (long long)na,
                  (long long)nb, (long long)n);
    if ((op == SSM_BIN_CMUL || op == SSM_BIN_CDIV) && (na % 2 || nb % 2 || n % 2))
        ssm_panic("cuda: %s: complex sizes must be even (na=%lld nb=%lld n=%lld)", entry,
                  (long long)na, (long long)nb, (long long)n);
}

void ssm_cuda_binary(ssm_binary_op op, ssm_dtype dt, const void *a, int64_t na, const void *b,
                     int64_t nb, void *y, int64_t n) {
    SSM_CUDA_F32(dt, "binary");
    if (n <= 0) return;
    check_broadcast("binary", op, na, nb, n);
    cudaStream_t st = ssm_cuda_stream();
    if (op == SSM_BIN_CMUL)
        cmul_kernel<<<ssm_grid(n / 2), SSM_THREADS, 0, st>>>(CF32(a), na, CF32(b), nb, F32(y), n);
    else if (op == SSM_BIN_CDIV)
        cdiv_kernel<<<ssm_grid(n / 2), SSM_THREADS, 0, st>>>(CF32(a), na, CF32(b), nb, F32(y), n);
    else
        binary_kernel<<<ssm_grid(n), SSM_THREADS, 0, st>>>((int)op, CF32(a), na, CF32(b), nb,
                                                           F32(y), n);
    LAUNCH_CHECK();
}

/* Each operand's gradient is a column reduction over its n / ns broadcast copies
 * (K = 1 for a full-size operand: one thread per element), summed in double. */
static void binary_bwd_one(ssm_binary_op op, int self_is_a, const float *a, int64_t na,
                           const float *b, int64_t nb, const float *dy, int64_t n, float *d,
                           int acc) {
    int64_t ns = self_is_a ? na : nb;
    if (op == SSM_BIN_CMUL) {
        cmul_grad f = {self_is_a ? b : a, dy, self_is_a ? nb : na, ns};
        col_reduce<d2>(1, n / ns, ns / 2, f, acc_store2{d, acc});
    } else if (op == SSM_BIN_CDIV) {
        cdiv_grad f = {self_is_a, a, b, dy, na, nb, ns};
        col_reduce<d2>(1, n / ns, ns / 2, f, acc_store2{d, acc});
    } else if (ns == n && (op == SSM_BIN_ADD || op == SSM_BIN_SUB)) {
        /* a full-size operand of a sum (the residual adds): d += +-dy, the same bits as
         * the reduction of one term */
        ssm_cuda_scale(SSM_F32, dy, d, n, op == SSM_BIN_SUB && !self_is_a ? -1.0 : 1.0, acc);
    } else {
        bin_grad f = {(int)op, self_is_a, a, b, dy, na, nb, ns};
        col_reduce<double>(1, n / ns, ns, f, acc_store{d, acc});
    }
}

void ssm_cuda_binary_bwd(ssm_binary_op op, ssm_dtype dt, const void *a, int64_t na,
                         const void *b, int64_t nb, const void *dy, int64_t n, void *da,
                         void *db, int acc) {
    SSM_CUDA_F32(dt, "binary_bwd");
    if (n <= 0 || (!da && !db)) return;
    check_broadcast("binary_bwd", op, na, nb, n);
    if (da) binary_bwd_one(op, 1, CF32(a), na, CF32(b), nb, CF32(dy), n, F32(da),
                           (acc & SSM_BIN_ACC_A) != 0);
    if (db) binary_bwd_one(op, 0, CF32(a), na, CF32(b), nb, CF32(dy), n, F32(db),
                           (acc & SSM_BIN_ACC_B) != 0);
}
