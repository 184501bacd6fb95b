/* The kernel table: one struct of function pointers per backend. lib/ fills
 * the CPU table (cpu_*.c), cuda/ the CUDA one (f32 only). An op picks the
 * table from its inputs' device with ssm_kernels_for().
 *
 * Conventions for every entry:
 *  - pointers are device pointers of the table's backend, contiguous row-major;
 *  - `dt` is the element type of the floating-point arguments (SSM_F32, or
 *    SSM_F64 on the CPU); index arguments are int32_t;
 *  - backward entries ACCUMULATE into gradient outputs (dx += ...), so the
 *    autograd engine never needs a temporary for gradient accumulation; a NULL
 *    gradient output means "not needed" and is skipped;
 *  - `acc` flags: 0 = overwrite the output, 1 = add into it.
 * Shapes are given as plain sizes; the comment above each entry is the spec
 * (tests compare the CUDA table against the CPU table entry by entry). */
#ifndef SSM_KERNELS_H
#define SSM_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "tensor.h"

typedef enum {
    SSM_UN_EXP,        /* e^x */
    SSM_UN_LOG,        /* ln x */
    SSM_UN_SOFTPLUS,   /* ln(1 + e^x); x above 20 returns x (torch, beta 1) */
    SSM_UN_SIGMOID,    /* 1 / (1 + e^-x) */
    SSM_UN_TANH,
    SSM_UN_SILU,       /* x * sigmoid(x) */
    SSM_UN_GELU_ERF,   /* x/2 * (1 + erf(x/sqrt 2)) */
    SSM_UN_GELU_TANH,  /* x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    SSM_UN_SQUARE,     /* x^2 */
    SSM_UN_RELU,       /* max(x, 0); derivative 0 at x = 0 (torch) */
    SSM_UN_CEXP,       /* complex e^z on interleaved (re, im) pairs; n counts reals */
    SSM_UN_COUNT
} ssm_unary_op;

typedef enum {
    SSM_BIN_ADD,
    SSM_BIN_SUB,
    SSM_BIN_MUL,
    SSM_BIN_DIV,
    SSM_BIN_CMUL, /* complex product of interleaved pairs; n, na, nb count reals */
    SSM_BIN_CDIV, /* complex quotient a / b of interleaved pairs */
    SSM_BIN_COUNT
} ssm_binary_op;

/* GEMM precision for f32 operands and results:
 *  FP32: full single precision (the default; CPU and CUDA agree to 1e-5);
 *  TF32: tensor cores with inputs rounded to 10-bit mantissas (about 1e-3 relative);
 *  BF16: inputs rounded to bfloat16 (8-bit mantissas, about 4e-3 relative), products
 *        and sums in f32 on the tensor cores (autocast's matmul). */
typedef enum { SSM_GEMM_FP32 = 0, SSM_GEMM_TF32 = 1, SSM_GEMM_BF16 = 2 } ssm_gemm_precision;

/* A training step's statistics, kept in device memory (xent_stats, sumsq) and read back
 * once the step is over. */
typedef struct ssm_step_stats {
    double loss_sum; /* sum of the per-target losses */
    double correct;  /* counted targets predicted right */
    double count;    /* counted targets (target != ignore_index) */
    double gnorm_sq; /* squared global gradient norm */
} ssm_step_stats;

/* An optimizer's per-update hyper-parameters for a flat buffer of up to SSM_OPT_GROUPS
 * groups (kernels.h: adamw, sgd). */
#define SSM_OPT_GROUPS 4
typedef struct ssm_optim_hp {
    int64_t end[SSM_OPT_GROUPS]; /* group g holds elements [end[g - 1], end[g]), end[-1] = 0 */
    double lr[SSM_OPT_GROUPS], weight_decay[SSM_OPT_GROUPS];
    double beta1, beta2, eps; /* Adam */
    double momentum;          /* SGD */
    int64_t step;             /* 1-based count of updates, this one included */
    int32_t decoupled, nesterov;
    double max_norm;          /* global-norm clipping (with stats); <= 0: none */
    double grad_scale;        /* the gradient multiplier when no stats are given */
} ssm_optim_hp;

/* numerators per Cauchy call: (B, P) x (C, Q) for rank 1, (B, P) x (C0, C1, Q) bidirectional */
#define SSM_CAUCHY_MAX_S 6
#define SSM_CONV_MAX_K 8 /* conv1d_causal: the widest kernel (Mamba's d_conv is 4) */
#define SSM_EMB_CHUNK 256 /* embedding_bwd: positions per chunk of its summation order */
#define SSM_SCAN_MAX_STATE 256 /* selective scan: the largest d_state (a state in registers) */
#define SSM_BIN_ACC_A 1 /* binary_bwd's acc */
#define SSM_BIN_ACC_B 2
/* selective_scan_bwd's acc: the per-position gradients added to (bit set) rather than
 * stored (old contents unread); the sums (dA, dB, dC, dD, ddelta_bias) always add */
#define SSM_SCAN_ACC_DU 1
#define SSM_SCAN_ACC_DDELTA 2
#define SSM_SCAN_ACC_DZ 4

typedef struct ssm_kernels {
    const char *name;

    /* --- memory --- */
    /* NULL on failure, with the reason in ssm_last_error() (callers report the op and
     * sizes: tensor.h) */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*memset0)(void *p, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes); /* within this device */
    void (*to_host)(void *host_dst, const void *src, size_t bytes);
    void (*from_host)(void *dst, const void *host_src, size_t bytes);
    void (*sync)(void);
    /* One timer for the benchmarks: the time of the work queued on this device between
     * timer_start() and timer_stop_ms() (CUDA: events on the backend's stream; CPU: a
     * monotonic clock). */
    void (*timer_start)(void);
    double (*timer_stop_ms)(void);

    /* --- elementwise, n elements --- */
    /* y[i] = value */
    void (*fill)(ssm_dtype dt, void *y, int64_t n, double value);
    /* y[i] (+)= alpha * x[i] */
    void (*scale)(ssm_dtype dt, const void *x, void *y, int64_t n, double alpha, int acc);
    /* y[i] = f(x[i]) */
    void (*unary)(ssm_unary_op op, ssm_dtype dt, const void *x, void *y, int64_t n);
    /* dx[i] += f'(x[i]) * dy[i] (acc 0: dx[i] = ..., dx's old contents unread); y = f(x)
     * is given for ops that use it (exp, sigmoid, tanh, cexp: dx += dy * conj(y)) */
    void (*unary_bwd)(ssm_unary_op op, ssm_dtype dt, const void *x, const void *y,
                      const void *dy, void *dx, int64_t n, int acc);
    /* y[i] = a[i % na] op b[i % nb], i < n; na and nb divide n (broadcast over
     * leading dimensions: the smaller operand's shape is a suffix of y's). For
     * CMUL and CDIV the indices are of pairs (na, nb, n even). */
    void (*binary)(ssm_binary_op op, ssm_dtype dt, const void *a, int64_t na, const void *b,
                   int64_t nb, void *y, int64_t n);
    /* da[j] += sum over i with i % na == j of d(a op b)/da * dy[i]; same for db.
     * CMUL: da += dy * conj(b), db += dy * conj(a) (gradients w.r.t. re and im);
     * CDIV: da += dy * conj(1/b), db += dy * conj(-a/b^2). acc: SSM_BIN_ACC_A and
     * SSM_BIN_ACC_B, the gradients added to; one without its bit is stored (old contents
     * unread). */
    void (*binary_bwd)(ssm_binary_op op, ssm_dtype dt, const void *a, int64_t na, const void *b,
                       int64_t nb, const void *dy, int64_t n, void *da, void *db, int acc);

    /* --- reductions and data movement --- */
    /* x viewed as [outer, n, inner]: y[o, i] (+)= scale * sum_k x[o, k, i] */
    void (*sum_axis)(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                     int64_t inner, double scale, int acc);
    /* y viewed as [outer, n, inner]: y[o, k, i] += scale * x[o, i] (the adjoint of sum_axis) */
    void (*expand_axis)(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                        int64_t inner, double scale);
    /* y = x.permute(perm) for x of `shape` (ndim <= SSM_MAX_DIMS); y (+)= ... */
    void (*permute)(ssm_dtype dt, const void *x, void *y, int ndim, const int64_t *shape,
                    const int *perm, int acc);
    /* x: [outer, nx, inner], y: [outer, ny, inner]:
     * y[o, y_off + k, i] (+)= x[o, x_off + k, i] for k < len (concat, split, slice) */
    void (*slice_copy)(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t nx,
                       int64_t ny, int64_t inner, int64_t x_off, int64_t y_off, int64_t len,
                       int acc);
    /* *out = sum of squares in double, out in this device's memory (the global gradient
     * norm stays on the device: a step needs no host round trip) */
    void (*sumsq)(ssm_dtype dt, const void *x, int64_t n, double *out);

    /* --- GEMM, row-major: C_b = alpha * op(A_b) @ op(B_b) + beta * C_b for b < batch;
     * op(A) is m x k, op(B) is k x n; trans = 1 transposes; lda/ldb/ldc are the row
     * lengths of the stored matrices; a stride of 0 reuses one matrix for every b. */
    /* GEMM precision for f32 operands (ssm_gemm_precision); the CPU ignores it. */
    void (*set_gemm_precision)(ssm_gemm_precision p);
    void (*gemm)(ssm_dtype dt, int transa, int transb, int64_t m, int64_t n, int64_t k,
                 double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                 int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                 int64_t stride_c, int64_t batch);

    /* --- normalisation over the last axis of [rows, dim] --- */
    /* y = (x - mean) * rstd * w + b; saves mean[rows], rstd[rows] (rstd = 1/sqrt(var + eps),
     * biased variance); w, b may be NULL (no affine) */
    void (*layernorm_fwd)(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                          void *mean, void *rstd, int64_t rows, int64_t dim, double eps);
    /* (the norms' backward: acc_dx 0 stores dx, its old contents unread; dw, db add) */
    void (*layernorm_bwd)(ssm_dtype dt, const void *x, const void *w, const void *mean,
                          const void *rstd, const void *dy, void *dx, void *dw, void *db,
                          int64_t rows, int64_t dim, int acc_dx);
    /* y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) */
    void (*rmsnorm_fwd)(ssm_dtype dt, const void *x, const void *w, void *y, void *rstd,
                        int64_t rows, int64_t dim, double eps);
    void (*rmsnorm_bwd)(ssm_dtype dt, const void *x, const void *w, const void *rstd,
                        const void *dy, void *dx, void *dw, int64_t rows, int64_t dim,
                        int acc_dx);
    /* BatchNorm1d over [rows, C] (rows = batch * length), per channel c.
     * training: mean/invstd from the batch (biased variance), saved in mean[C], invstd[C];
     * running_mean/var updated as PyTorch (momentum, unbiased variance) when not NULL.
     * eval: mean = running_mean, invstd = 1/sqrt(running_var + eps), also written to
     * mean/invstd. y = (x - mean) * invstd * w + b. */
    void (*batchnorm_fwd)(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                          void *mean, void *invstd, void *running_mean, void *running_var,
                          int64_t rows, int64_t C, double eps, double momentum, int training);
    /* training: full batch-statistics backward; eval: dx += dy * w * invstd */
    void (*batchnorm_bwd)(ssm_dtype dt, const void *x, const void *w, const void *mean,
                          const void *invstd, const void *dy, void *dx, void *dw, void *db,
                          int64_t rows, int64_t C, int training, int acc_dx);

    /* --- losses --- */
    /* Softmax cross-entropy, mean over rows whose target != ignore_index.
     * logits [rows, C]; target[rows]; class_mask[C] (int32, may be NULL): classes with 0
     * are excluded from the softmax. Writes loss[0] (0 when no row counts) and
     * lse[rows + 1]: per-row log-sum-exp, lse[rows] = number of counted rows. */
    void (*xent_fwd)(ssm_dtype dt, const void *logits, const int32_t *target,
                     const int32_t *class_mask, void *loss, void *lse, int64_t rows, int64_t C,
                     int32_t ignore_index);
    /* dlogits += dloss[0] * (softmax - onehot) / count (zero rows for ignored targets,
     * zero columns for masked classes); dloss is a device pointer to one element; acc 0:
     * stored (zeros included), dlogits' old contents unread */
    void (*xent_bwd)(ssm_dtype dt, const void *logits, const int32_t *target,
                     const int32_t *class_mask, const void *lse, const void *dloss,
                     void *dlogits, int64_t rows, int64_t C, int32_t ignore_index, int acc);
    /* Step statistics from a finished xent_fwd (st in this device's memory):
     * st->correct += rows whose counted target is the argmax of its logits (ties to the
     * lowest class, NaN logits never win, all NaN: class 0), st->count += lse[rows],
     * st->loss_sum += loss[0] * lse[rows] (loss may be NULL: the loss is not added). */
    void (*xent_stats)(ssm_dtype dt, const void *logits, const int32_t *target, const void *loss,
                       const void *lse, int64_t rows, int64_t C, int32_t ignore_index,
                       ssm_step_stats *st);

    /* --- layers' building blocks --- */
    /* y[r, :] = W[idx[r], :], W [vocab, dim]; idx out of range is a programmer error */
    void (*embedding_fwd)(ssm_dtype dt, const void *W, const int32_t *idx, void *y, int64_t n,
                          int64_t dim, int64_t vocab);
    /* dW[v, :] += the dy rows of v's positions, in one order on every device: for each
     * chunk of SSM_EMB_CHUNK consecutive positions in turn, the chunk's rows of v summed
     * from 0 in position order, then added to dW (a chunk without v adds nothing). A
     * frequent id (padding, a space) is then summed in parallel chunks on a GPU. */
    void (*embedding_bwd)(ssm_dtype dt, const void *dy, const int32_t *idx, void *dW, int64_t n,
                          int64_t dim, int64_t vocab);
    /* Inverted dropout: keep with probability 1 - p, scale kept by 1/(1 - p). The mask is
     * element i's Philox draw u(seed, offset + i) >= p (ssm_philox_uniform, lib/philox.h),
     * so backward regenerates it and CPU and CUDA agree.
     * r (may be NULL) is added after the mask: y = dropout(x) + r, the residual connection
     * in the same pass. */
    void (*dropout_fwd)(ssm_dtype dt, const void *x, const void *r, void *y, int64_t n, double p,
                        uint64_t seed, uint64_t offset);
    void (*dropout_bwd)(ssm_dtype dt, const void *dy, void *dx, int64_t n, double p,
                        uint64_t seed, uint64_t offset, int acc); /* acc 0: dx stored */
    /* GLU over the last axis: x [rows, 2*half] (+ b [2*half], may be NULL: the bias of the
     * linear layer before it, added here instead of by a pass of its own) -> y [rows,
     * half] = x1 * sigmoid(x2); the backward adds the gradient of x (+ b) into dx (acc 0:
     * stores it, dx's old contents unread). */
    void (*glu_fwd)(ssm_dtype dt, const void *x, const void *b, void *y, int64_t rows,
                    int64_t half);
    void (*glu_bwd)(ssm_dtype dt, const void *x, const void *b, const void *dy, void *dx,
                    int64_t rows, int64_t half, int acc);
    /* Causal depthwise conv1d, channels first as torch.nn.Conv1d(C, C, K, groups=C,
     * padding=K-1) cut to L: x [B, C, L], w [C, K], bias [C] (may be NULL), act 1 = SiLU:
     * y[b, c, t] = act(bias[c] + sum_k w[c, k] x[b, c, t - (K - 1) + k]) (zeros before
     * t = 0). The backward recomputes the pre-activation. K <= SSM_CONV_MAX_K. */
    void (*conv1d_causal_fwd)(ssm_dtype dt, const void *x, const void *w, const void *bias,
                              void *y, int64_t B, int64_t C, int64_t L, int64_t K, int act);
    /* acc_dx 0: dx is stored (its old contents unread) instead of added to */
    void (*conv1d_causal_bwd)(ssm_dtype dt, const void *x, const void *w, const void *bias,
                              const void *dy, void *dx, void *dw, void *dbias, int64_t B,
                              int64_t C, int64_t L, int64_t K, int act, int acc_dx);
    /* Convolution along the last axis: u [B, H, L], k [H, Lk] ->
     *   y[b, h, t] = sum_{s <= t} k[h, s] u[b, h, t - s]                       (Lk = L)
     *              + sum_{j < L} k[h, L + j] u[b, h, t + 1 + j]      (Lk = 2L: two-sided)
     * The two-sided form is the official bidirectional FFTConv (its kernel is
     * [k0, flip(k1)] over a circular length 2L; here k1 is stored in natural order):
     * FFT of length >= 2L with k1 reversed at the end of the buffer; f64 may be direct.
     * D [H] (may be NULL) adds the skip D[h] u[b, h, t] (the S4 family's D term, fused:
     * one pass less each way); the backward then also accumulates du += D dy and
     * dD[h] += sum_{b,t} dy u (dD NULL = not needed).
     * cl = 1: u, y, dy and du are channels-last [B, L, H] instead (the layout of the
     * linear layers around the convolution: no transposes; k stays [H, Lk]). */
    /* u_spec (NULL, or fft_conv_spec_floats(B, H, L) floats): the forward keeps the
     * input's spectrum there and the backward's dk reads it instead of transforming u
     * again. fft_conv_spec_floats returns 0 where the backend does not (CPU). */
    int64_t (*fft_conv_spec_floats)(int64_t B, int64_t H, int64_t L);
    void (*fft_conv_fwd)(ssm_dtype dt, const void *u, const void *k, const void *D, void *y,
                         int64_t B, int64_t H, int64_t L, int64_t Lk, int cl, void *u_spec);
    /* acc_du 0: du is stored (its old contents unread) instead of added to */
    void (*fft_conv_bwd)(ssm_dtype dt, const void *u, const void *k, const void *D,
                         const void *dy, void *du, void *dk, void *dD, int64_t B, int64_t H,
                         int64_t L, int64_t Lk, int cl, const void *u_spec, int acc_du);
    /* Most FFT plans cached at once (CUDA: cuFFT plans, 4 a sequence length, default
     * 128; smaller holds less device memory, and lets tests force evictions); returns the
     * previous limit. The CPU caches per length and ignores it (returns 0). */
    int (*fft_plan_limit)(int n);

    /* --- SSM kernel generation --- */
    /* Diagonal-SSM convolution kernel by a Vandermonde product (S4D, s4.py's 'diag').
     * dt [H] step sizes, A [H, N2, 2] and C [H, N2, 2] complex; disc 0 = ZOH, 1 = bilinear:
     *   ZOH:      w = dt A,  z = e^w,                  Ct = C (e^w - 1) / A
     *   bilinear: w = dt A,  z = (1 + w/2) / (1 - w/2), Ct = C dt / (1 - w/2)
     *   K[h, l] = 2 Re sum_n Ct[h, n] z[h, n]^l,  l < L.
     * The backward accumulates d dt, dA, dC (gradients w.r.t. real and imaginary parts)
     * from dK [H, L]; powers z^l must stay accurate for long L (no running product). */
    void (*vandermonde_fwd)(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                            void *K, int64_t H, int64_t N2, int64_t L);
    void (*vandermonde_bwd)(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                            const void *dK, void *ddt, void *dA, void *dC, int64_t H, int64_t N2,
                            int64_t L);

    /* Cauchy kernel (S4's DPLR generating function), conjugate pairs explicit:
     *   r[s, h, k] = sum_n v[s,h,n] / (z_k - w[h,n]) + conj(v[s,h,n]) / (z_k - conj(w[h,n]))
     * v [S, H, N2, 2] (S <= SSM_CAUCHY_MAX_S numerators), w [H, N2, 2], z [K, 2] nodes,
     * r [S, H, K, 2]. The backward accumulates dv and dw from dr (z is constant). */
    void (*cauchy_fwd)(ssm_dtype dt, const void *v, const void *w, const void *z, void *r,
                       int64_t S, int64_t H, int64_t N2, int64_t K);
    void (*cauchy_bwd)(ssm_dtype dt, const void *v, const void *w, const void *z, const void *dr,
                       void *dv, void *dw, int64_t S, int64_t H, int64_t N2, int64_t K);
    /* The discretised modes of vandermonde_fwd for step mode: z [H, N2, 2], Ct [H, N2, 2]. */
    void (*diag_discretise)(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                            void *z, void *Ct, int64_t H, int64_t N2);
    /* One recurrent step of a diagonal complex SSM (S4D step mode): for b < B, h < H,
     * n < N2:  s[b,h,n] = z[h,n] s[b,h,n] + u[b,h];  y[b,h] = 2 Re sum_n Ct[h,n] s[b,h,n].
     * z, Ct [H, N2, 2], s [B, H, N2, 2] complex (updated in place), u, y [B, H] real. */
    void (*diag_ssm_step)(ssm_dtype dt_, const void *z, const void *Ct, void *s, const void *u,
                          void *y, int64_t B, int64_t H, int64_t N2);

    /* Inverse real FFT of half spectra: X [R, n/2 + 1, 2] -> y [R, n] (numpy.fft.irfft with
     * norm "backward"; the imaginary parts of bin 0 and, for even n, bin n/2 are ignored).
     * The backward accumulates the adjoint into dX. */
    void (*irfft_fwd)(ssm_dtype dt, const void *X, void *y, int64_t R, int64_t n);
    void (*irfft_bwd)(ssm_dtype dt, const void *dy, void *dX, int64_t R, int64_t n);

    /* --- S5: linear recurrence with a diagonal complex transition --- */
    /* For every batch b < B and mode p < P2 (complex, interleaved): Lambda_bar [P2, 2],
     * Bu and x [B, L, P2, 2],
     *   reverse 0:  x[b, l, p] = Lambda_bar[p] x[b, l - 1, p] + Bu[b, l, p]   (x[b, -1] = 0)
     *   reverse 1:  x[b, l, p] = Lambda_bar[p] x[b, l + 1, p] + Bu[b, l, p]   (x[b, L] = 0)
     * (the official S5's associative scan; sequential, chunked or tree order is the
     * backend's choice). x is overwritten. */
    void (*s5_scan_fwd)(ssm_dtype dt, const void *Lambda_bar, const void *Bu, void *x, int64_t B,
                        int64_t L, int64_t P2, int reverse);
    /* Backward from dx [B, L, P2, 2], given the forward's x. With g the adjoint of x, run
     * against the scan's direction (reverse 0: g[l] = dx[l] + conj(Lambda_bar) g[l + 1]):
     *   dBu += g,   dLambda_bar[p] += sum over b and l of g[b, l, p] conj(x_prev[b, l, p]),
     * x_prev being the state the step at l started from (x[l - 1], or x[l + 1] when reversed;
     * 0 at the first step). Gradients w.r.t. real and imaginary parts. */
    void (*s5_scan_bwd)(ssm_dtype dt, const void *Lambda_bar, const void *x, const void *dx,
                        void *dLambda_bar, void *dBu, int64_t B, int64_t L, int64_t P2,
                        int reverse);

    /* --- Mamba's selective scan (selective_scan_ref with delta_softplus = True) ---
     * Layouts: u, delta, z, y [batch, d_inner, L] (L fastest); B, C [batch, d_state, L]
     * (input-dependent, shared by every channel of a sequence); A [d_inner, d_state] (real,
     * the layer passes -exp(A_log)); D, delta_bias [d_inner]; last_state
     * [batch, d_inner, d_state]; x_chunks [batch, d_inner, n_chunks, d_state] with
     * n_chunks = ceil(L / chunk), chunk >= 1; d_state <= SSM_SCAN_MAX_STATE.
     * For each sequence b and channel d, with x_{-1} = 0 and t = 0 .. L-1:
     *   r_t   = delta[b,d,t] + delta_bias[d]
     *   δ_t   = softplus(r_t) = r_t > 20 ? r_t : log1p(exp(r_t))        (torch, β 1)
     *   x_t[n] = exp(δ_t A[d,n]) x_{t-1}[n] + δ_t B[b,n,t] u[b,d,t]
     *   y'_t  = sum_n C[b,n,t] x_t[n] + D[d] u[b,d,t]
     *   y[b,d,t] = y'_t * silu(z[b,d,t])        (silu(z) = z sigmoid(z))
     *   last_state[b,d,:] = x_{L-1}
     * D, z, delta_bias may be NULL: no skip, no gating, no bias.
     * Forward: y always; last_state and x_chunks when not NULL. x_chunks saves the state
     * ENTERING each chunk: x_chunks[b,d,c,:] = x_{c*chunk - 1} (zeros for c = 0). Nothing
     * else is saved (no [.., L, d_state] tensor): memory O(batch d_inner L).
     * Backward: recomputes each chunk's states from x_chunks (walking the chunks from the
     * last to the first, carrying the state adjoint across chunk boundaries) and
     * ACCUMULATES du, ddelta, dA, dB, dC, dD, dz, ddelta_bias (same shapes as their
     * inputs; NULL = not needed) from dy [batch, d_inner, L] and d_last_state
     * [batch, d_inner, d_state] (either may be NULL = zero). With h_t the adjoint of x_t:
     *   g_t = dy_t silu(z_t) (dy_t without z);  h_{L-1} = d_last + g_{L-1} C_{L-1};
     *   h_t = exp(δ_{t+1} A) h_{t+1} + g_t C_t;  dδ_t = sum_n h_t (A e^{δ_t A} x_{t-1} + B_t u_t);
     *   dr_t = dδ_t sigmoid(r_t) (1 above 20): ddelta_t += dr_t, ddelta_bias[d] += sum dr_t;
     *   du_t += g_t D + δ_t sum_n h_t B_t;  dD[d] += sum g_t u_t;  dz_t += dy_t y'_t silu'(z_t);
     *   dA[d,n] += sum_{b,t} h_t δ_t e^{δ_t A} x_{t-1};  dB[b,n,t] += sum_d h_t δ_t u_t;
     *   dC[b,n,t] += sum_d g_t x_t  (silu'(z) = sigmoid(z) (1 + z (1 - sigmoid(z)))).
     * dA sums over the batch and dB, dC over the channels: the CPU reduces them in a fixed
     * order (results independent of the thread count); so does CUDA (no atomics). */
    void (*selective_scan_fwd)(ssm_dtype dt, const void *u, const void *delta, const void *A,
                               const void *B, const void *C, const void *D, const void *z,
                               const void *delta_bias, void *y, void *last_state,
                               void *x_chunks, int64_t batch, int64_t d_inner, int64_t d_state,
                               int64_t L, int64_t chunk);
    void (*selective_scan_bwd)(ssm_dtype dt, const void *u, const void *delta, const void *A,
                               const void *B, const void *C, const void *D, const void *z,
                               const void *delta_bias, const void *x_chunks, const void *dy,
                               const void *d_last_state, void *du, void *ddelta, void *dA,
                               void *dB, void *dC, void *dD, void *dz, void *ddelta_bias,
                               int64_t batch, int64_t d_inner, int64_t d_state, int64_t L,
                               int64_t chunk, int acc);

    /* --- random numbers (Philox4x32-10, lib/philox.h): element i gets counter offset + i --- */
    void (*rand_uniform)(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                         double lo, double hi);
    void (*rand_normal)(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                        double mean, double std);

    /* --- optimizers over flat buffers, one pass over every group --- */
    /* hp and st are in this device's memory (uploaded before the update: a captured step
     * replays with the values of the step it runs). Gradients are multiplied by
     * min(1, hp->max_norm / (sqrt(st->gnorm_sq) + 1e-6)) (PyTorch clip_grad_norm_; 1 when
     * max_norm <= 0) or, when st is NULL, by hp->grad_scale. When st holds a non-finite
     * loss_sum or gnorm_sq nothing is updated (the trainer then stops on it). */
    /* Adam (decoupled = 0: g += wd * p) or AdamW (decoupled = 1: p *= 1 - lr * wd), PyTorch
     * semantics, n elements. */
    void (*adamw)(ssm_dtype dt, void *p, const void *g, void *m, void *v, int64_t n,
                  const ssm_optim_hp *hp, const ssm_step_stats *st);
    /* SGD with momentum (PyTorch: buf = momentum * buf + g, or buf = g on step 1;
     * g += wd * p first; nesterov: g + momentum * buf) */
    void (*sgd)(ssm_dtype dt, void *p, const void *g, void *buf, int64_t n,
                const ssm_optim_hp *hp, const ssm_step_stats *st);

    /* --- CUDA graphs (graph_* NULL where the backend has none): the trainer captures a step
     * once and replays it. graph_begin starts capturing this backend's stream, graph_end
     * stops and returns an executable graph (NULL with ssm_last_error() when the capture
     * failed: something in the step cannot be captured); graph_launch launches it, or
     * returns SSM_ERR without launching when a resource it uses was freed since the
     * capture (a scratch buffer grew, a cuFFT plan was evicted: capture again);
     * set_rng_base sets the value added
     * to every dropout counter offset from now on (0 outside replays), so a replay draws
     * the counters of the step it runs. */
    void (*graph_begin)(void);
    void *(*graph_end)(void);
    int (*graph_launch)(void *graph);
    void (*graph_free)(void *graph);
    /* A counter that changes whenever the backend frees something a graph could use: a
     * step is captured only if it has not changed since an eager run of the same shape
     * (which created every plan and buffer the capture will use). */
    uint64_t (*graph_epoch)(void);
    void (*set_rng_base)(uint64_t base);
    /* Device memory the backend holds now, and the most it has held (CUDA: the bytes of
     * its live cudaMalloc blocks: tensors, arena chunks, scratch, the cuBLAS workspace;
     * CPU: 0). */
    void (*mem_stats)(size_t *now, size_t *peak);
    /* Start the peak over from what is held now (torch.cuda.reset_peak_memory_stats): the
     * benchmarks report the steady state after their warm-up. */
    void (*mem_reset_peak)(void);
} ssm_kernels;

/* The table for a device; aborts with a clear message if that backend is absent. */
const ssm_kernels *ssm_kernels_for(ssm_device dev);
/* 1 when the backend is built and a device is present (CUDA: a GPU is visible). */
int ssm_device_available(ssm_device dev);

/* Tables: the CPU one from lib/, the CUDA one from cuda/ (NULL when CUDA is not
 * built or no GPU is present; the stub in lib/cuda_stub.c returns NULL). */
const ssm_kernels *ssm_cpu_kernels(void);
const ssm_kernels *ssm_cuda_kernels(void);

#endif
