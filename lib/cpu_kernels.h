/* CPU implementations of the kernel table (internal to lib/). Each file
 * cpu_<area>.c defines its entries; cpu_backend.c assembles the table.
 * Semantics: see kernels.h. f32 and f64 are supported everywhere. */
#ifndef SSM_CPU_KERNELS_H
#define SSM_CPU_KERNELS_H
#include <string.h>
#include "kernels.h"
#include "log.h"

/* A backward entry's acc 0 (kernels.h: the gradient stored, not added to) on the CPU: the
 * accumulating loops run on a zeroed gradient, 0 + g being g bit for bit, so one loop
 * serves both; d NULL (not wanted) or acc 1: nothing. */
static inline void ssm_cpu_clear_unless(int acc, void *d, int64_t n, ssm_dtype dt) {
    if (d && !acc) memset(d, 0, (size_t)n * ssm_dtype_size(dt));
}
/* Run f32call or f64call by dtype; other dtypes are a programmer error. */
#define SSM_CPU_DISPATCH(entry, dt, f32call, f64call)                                      \
    do {                                                                                   \
        if ((dt) == SSM_F32) f32call;                                                      \
        else if ((dt) == SSM_F64) f64call;                                                 \
        else ssm_panic("%s: unsupported dtype %s", entry, ssm_dtype_name(dt));            \
    } while (0)

/* cpu_elementwise.c */
void ssm_cpu_fill(ssm_dtype dt, void *y, int64_t n, double value);
void ssm_cpu_scale(ssm_dtype dt, const void *x, void *y, int64_t n, double alpha, int acc);
void ssm_cpu_unary(ssm_unary_op op, ssm_dtype dt, const void *x, void *y, int64_t n);
void ssm_cpu_unary_bwd(ssm_unary_op op, ssm_dtype dt, const void *x, const void *y,
                       const void *dy, void *dx, int64_t n, int acc);
void ssm_cpu_binary(ssm_binary_op op, ssm_dtype dt, const void *a, int64_t na, const void *b,
                    int64_t nb, void *y, int64_t n);
void ssm_cpu_binary_bwd(ssm_binary_op op, ssm_dtype dt, const void *a, int64_t na,
                        const void *b, int64_t nb, const void *dy, int64_t n, void *da,
                        void *db, int acc);
/* cpu_reduce.c */
void ssm_cpu_sum_axis(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                      int64_t inner, double scale, int acc);
void ssm_cpu_expand_axis(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t n,
                         int64_t inner, double scale);
void ssm_cpu_permute(ssm_dtype dt, const void *x, void *y, int ndim, const int64_t *shape,
                     const int *perm, int acc);
void ssm_cpu_slice_copy(ssm_dtype dt, const void *x, void *y, int64_t outer, int64_t nx,
                        int64_t ny, int64_t inner, int64_t x_off, int64_t y_off, int64_t len,
                        int acc);
void ssm_cpu_sumsq(ssm_dtype dt, const void *x, int64_t n, double *out);
/* cpu_gemm.c */
void ssm_cpu_gemm(ssm_dtype dt, int transa, int transb, int64_t m, int64_t n, int64_t k,
                  double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                  int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                  int64_t stride_c, int64_t batch);
/* cpu_norm.c */
void ssm_cpu_layernorm_fwd(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                           void *mean, void *rstd, int64_t rows, int64_t dim, double eps);
void ssm_cpu_layernorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *mean,
                           const void *rstd, const void *dy, void *dx, void *dw, void *db,
                           int64_t rows, int64_t dim, int acc_dx);
void ssm_cpu_rmsnorm_fwd(ssm_dtype dt, const void *x, const void *w, void *y, void *rstd,
                         int64_t rows, int64_t dim, double eps);
void ssm_cpu_rmsnorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *rstd,
                         const void *dy, void *dx, void *dw, int64_t rows, int64_t dim, int acc_dx);
void ssm_cpu_batchnorm_fwd(ssm_dtype dt, const void *x, const void *w, const void *b, void *y,
                           void *mean, void *invstd, void *running_mean, void *running_var,
                           int64_t rows, int64_t C, double eps, double momentum, int training);
void ssm_cpu_batchnorm_bwd(ssm_dtype dt, const void *x, const void *w, const void *mean,
                           const void *invstd, const void *dy, void *dx, void *dw, void *db,
                           int64_t rows, int64_t C, int training, int acc_dx);
/* cpu_loss.c */
void ssm_cpu_xent_fwd(ssm_dtype dt, const void *logits, const int32_t *target,
                      const int32_t *class_mask, void *loss, void *lse, int64_t rows, int64_t C,
                      int32_t ignore_index);
void ssm_cpu_xent_bwd(ssm_dtype dt, const void *logits, const int32_t *target,
                      const int32_t *class_mask, const void *lse, const void *dloss,
                      void *dlogits, int64_t rows, int64_t C, int32_t ignore_index, int acc);
void ssm_cpu_xent_stats(ssm_dtype dt, const void *logits, const int32_t *target, const void *loss,
                        const void *lse, int64_t rows, int64_t C, int32_t ignore_index,
                        ssm_step_stats *st);
/* cpu_nn.c */
void ssm_cpu_embedding_fwd(ssm_dtype dt, const void *W, const int32_t *idx, void *y, int64_t n,
                           int64_t dim, int64_t vocab);
void ssm_cpu_embedding_bwd(ssm_dtype dt, const void *dy, const int32_t *idx, void *dW,
                           int64_t n, int64_t dim, int64_t vocab);
void ssm_cpu_dropout_fwd(ssm_dtype dt, const void *x, const void *r, void *y, int64_t n, double p,
                         uint64_t seed, uint64_t offset);
void ssm_cpu_dropout_bwd(ssm_dtype dt, const void *dy, void *dx, int64_t n, double p,
                         uint64_t seed, uint64_t offset, int acc);
void ssm_cpu_glu_fwd(ssm_dtype dt, const void *x, const void *b, void *y, int64_t rows,
                      int64_t half);
void ssm_cpu_glu_bwd(ssm_dtype dt, const void *x, const void *b, const void *dy, void *dx,
                      int64_t rows, int64_t half, int acc);
void ssm_cpu_conv1d_causal_fwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                               void *y, int64_t B, int64_t C, int64_t L, int64_t K, int act);
void ssm_cpu_conv1d_causal_bwd(ssm_dtype dt, const void *x, const void *w, const void *bias,
                               const void *dy, void *dx, void *dw, void *dbias, int64_t B,
                               int64_t C, int64_t L, int64_t K, int act, int acc_dx);
/* cpu_fft.c */
void ssm_cpu_fft_conv_fwd(ssm_dtype dt, const void *u, const void *k, const void *D, void *y,
                          int64_t B, int64_t H, int64_t L, int64_t Lk, int cl, void *u_spec);
void ssm_cpu_fft_conv_bwd(ssm_dtype dt, const void *u, const void *k, const void *D,
                          const void *dy, void *du, void *dk, void *dD, int64_t B, int64_t H,
                          int64_t L, int64_t Lk, int cl, const void *u_spec, int acc_du);
/* cpu_vandermonde.c */
void ssm_cpu_vandermonde_fwd(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                             void *K, int64_t H, int64_t N2, int64_t L);
void ssm_cpu_vandermonde_bwd(ssm_dtype dt_, int disc, const void *dt, const void *A, const void *C,
                             const void *dK, void *ddt, void *dA, void *dC, int64_t H, int64_t N2,
                             int64_t L);
void ssm_cpu_diag_discretise(ssm_dtype dt_, int disc, const void *dt, const void *A,
                             const void *C, void *z, void *Ct, int64_t H, int64_t N2);
void ssm_cpu_diag_ssm_step(ssm_dtype dt_, const void *z, const void *Ct, void *s, const void *u,
                           void *y, int64_t B, int64_t H, int64_t N2);
void ssm_cpu_irfft_fwd(ssm_dtype dt, const void *X, void *y, int64_t R, int64_t n);
void ssm_cpu_irfft_bwd(ssm_dtype dt, const void *dy, void *dX, int64_t R, int64_t n);
/* cpu_cauchy.c */
void ssm_cpu_cauchy_fwd(ssm_dtype dt, const void *v, const void *w, const void *z, void *r,
                        int64_t S, int64_t H, int64_t N2, int64_t K);
void ssm_cpu_cauchy_bwd(ssm_dtype dt, const void *v, const void *w, const void *z, const void *dr,
                        void *dv, void *dw, int64_t S, int64_t H, int64_t N2, int64_t K);
/* cpu_s5.c */
void ssm_cpu_s5_scan_fwd(ssm_dtype dt, const void *Lambda_bar, const void *Bu, void *x, int64_t B,
                         int64_t L, int64_t P2, int reverse);
void ssm_cpu_s5_scan_bwd(ssm_dtype dt, const void *Lambda_bar, const void *x, const void *dx,
                         void *dLambda_bar, void *dBu, int64_t B, int64_t L, int64_t P2,
                         int reverse);
/* cpu_selective_scan.c */
void ssm_cpu_selective_scan_fwd(ssm_dtype dt, const void *u, const void *delta, const void *A,
                                const void *B, const void *C, const void *D, const void *z,
                                const void *delta_bias, void *y, void *last_state,
                                void *x_chunks, int64_t batch, int64_t d_inner, int64_t d_state,
                                int64_t L, int64_t chunk);
void ssm_cpu_selective_scan_bwd(ssm_dtype dt, const void *u, const void *delta, const void *A,
                                const void *B, const void *C, const void *D, const void *z,
                                const void *delta_bias, const void *x_chunks, const void *dy,
                                const void *d_last_state, void *du, void *ddelta, void *dA,
                                void *dB, void *dC, void *dD, void *dz, void *ddelta_bias,
                                int64_t batch, int64_t d_inner, int64_t d_state, int64_t L,
                                int64_t chunk, int acc);
/* cpu_random.c */
void ssm_cpu_rand_uniform(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                          double lo, double hi);
void ssm_cpu_rand_normal(ssm_dtype dt, void *y, int64_t n, uint64_t seed, uint64_t offset,
                         double mean, double std);
/* cpu_optim.c */
void ssm_cpu_adamw(ssm_dtype dt, void *p, const void *g, void *m, void *v, int64_t n,
                   const ssm_optim_hp *hp, const ssm_step_stats *st);
void ssm_cpu_sgd(ssm_dtype dt, void *p, const void *g, void *buf, int64_t n,
                 const ssm_optim_hp *hp, const ssm_step_stats *st);

#endif
