/* Differentiable ops. Each takes the context, returns a new per-step tensor,
 * and records its backward rule when a gradient is needed. Inputs must share
 * a device; shapes are checked (a mismatch aborts naming the op and shapes).
 * Layout is row-major; "last axis" is the fastest-varying one. */
#ifndef SSM_OPS_H
#define SSM_OPS_H
#include "tape.h"

/* Give a persistent leaf tensor a persistent, zeroed gradient buffer. */
void ssm_requires_grad(ssm_tensor *t);

/* --- elementwise --- */
ssm_tensor *ssm_exp(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_log(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_softplus(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_sigmoid(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_tanh(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_silu(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_gelu(ssm_ctx *c, ssm_tensor *x);      /* exact (erf) form */
ssm_tensor *ssm_gelu_tanh(ssm_ctx *c, ssm_tensor *x); /* tanh approximation */
ssm_tensor *ssm_square(ssm_ctx *c, ssm_tensor *x);
ssm_tensor *ssm_relu(ssm_ctx *c, ssm_tensor *x);      /* max(x, 0) */
ssm_tensor *ssm_scale(ssm_ctx *c, ssm_tensor *x, double alpha);
/* a op b; the smaller operand's shape must be a suffix of the larger's
 * (broadcast over leading dimensions); the output has the larger shape. */
ssm_tensor *ssm_add(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
ssm_tensor *ssm_sub(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
ssm_tensor *ssm_mul(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
ssm_tensor *ssm_div(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
/* Complex helpers on interleaved pairs (trailing dimension 2). */
ssm_tensor *ssm_cmul(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
ssm_tensor *ssm_cdiv(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
ssm_tensor *ssm_cexp(ssm_ctx *c, ssm_tensor *z);
/* Repeat x n times along a new axis inserted at position `axis` (0 <= axis <= ndim):
 * broadcasting of any kind, e.g. dt [H] -> [H, N] -> [H, N, 2]. */
ssm_tensor *ssm_expand(ssm_ctx *c, ssm_tensor *x, int axis, int64_t n);

/* --- shape --- */
ssm_tensor *ssm_reshape(ssm_ctx *c, ssm_tensor *x, int ndim, const int64_t *shape);
ssm_tensor *ssm_permute(ssm_ctx *c, ssm_tensor *x, const int *perm); /* copies */
ssm_tensor *ssm_transpose(ssm_ctx *c, ssm_tensor *x, int d0, int d1);  /* copies */
ssm_tensor *ssm_concat(ssm_ctx *c, ssm_tensor *const *xs, int n, int axis);
/* x[..., start:start+len, ...] along axis (copies) */
ssm_tensor *ssm_slice(ssm_ctx *c, ssm_tensor *x, int axis, int64_t start, int64_t len);
/* Split x along axis into n pieces of the given sizes (out[i] set). */
void ssm_split(ssm_ctx *c, ssm_tensor *x, int axis, int n, const int64_t *sizes,
               ssm_tensor **out);

/* --- reductions (the axis is removed; keepdim = 1 keeps it with size 1) --- */
ssm_tensor *ssm_sum(ssm_ctx *c, ssm_tensor *x, int axis, int keepdim);
ssm_tensor *ssm_mean(ssm_ctx *c, ssm_tensor *x, int axis, int keepdim);
ssm_tensor *ssm_sum_all(ssm_ctx *c, ssm_tensor *x); /* one element */

/* --- linear algebra --- */
/* a [..., m, k] @ b [..., k, n]; b may be 2-D (shared by every batch) */
ssm_tensor *ssm_matmul(ssm_ctx *c, ssm_tensor *a, ssm_tensor *b);
/* x [..., in] W[out, in]^T + bias[out] (bias may be NULL), as torch.nn.Linear */
ssm_tensor *ssm_linear(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias);
/* The same for 3-D x with channel-major operands, read and written through the GEMM's
 * transpose flags (no copies): x is [B, L, in] or, in_cm, [B, in, L]; y is [B, L, out]
 * or, out_cm, [B, out, L]. bias only with a [B, L, out] output. */
ssm_tensor *ssm_linear_cm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias, int in_cm,
                          int out_cm);

/* --- layers' building blocks --- */
/* idx (i32, any shape) -> [..., dim] rows of W [vocab, dim] */
ssm_tensor *ssm_embedding(ssm_ctx *c, ssm_tensor *W, ssm_tensor *idx);
/* over the last axis; w, b may be NULL */
ssm_tensor *ssm_layernorm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, ssm_tensor *b, double eps);
ssm_tensor *ssm_rmsnorm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, double eps);
/* x [..., C] normalised per channel (last axis) over all other axes; c->training picks batch
 * statistics (and updates running_mean/var) or the running ones. */
ssm_tensor *ssm_batchnorm(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, ssm_tensor *b,
                          ssm_tensor *running_mean, ssm_tensor *running_var, double eps,
                          double momentum);
/* identity when p == 0 or not training */
ssm_tensor *ssm_dropout(ssm_ctx *c, ssm_tensor *x, double p);
/* x [B, L, H]: one mask per (batch, channel), the same at every position (S4's tie_dropout,
 * DropoutNd; S5's Dropout with broadcast_dims=[0]); identity when p == 0 or not training */
ssm_tensor *ssm_dropout_tied(ssm_ctx *c, ssm_tensor *x, double p);
/* dropout(x, p) + r in one pass each way (the residual connection after a layer); the
 * same numbers as ssm_add(ssm_dropout(x, p), r), bit for bit. */
ssm_tensor *ssm_dropout_add(ssm_ctx *c, ssm_tensor *x, double p, ssm_tensor *r);
/* GLU over the last axis: [..., 2h] -> [..., h] */
ssm_tensor *ssm_glu(ssm_ctx *c, ssm_tensor *x);
/* GLU(x W^T + b) over the last axis (W [2H, I], b [2H] or NULL): the same values as
 * ssm_glu(ssm_linear(...)) with one pass less over the [.., 2H] product. */
ssm_tensor *ssm_linear_glu(ssm_ctx *c, ssm_tensor *x, ssm_tensor *W, ssm_tensor *bias);
/* causal depthwise conv, channels first (torch.nn.Conv1d's layout): x [B, C, L], w [C, K],
 * bias [C] or NULL; silu fuses SiLU on the output (Mamba's conv) */
ssm_tensor *ssm_conv1d_causal(ssm_ctx *c, ssm_tensor *x, ssm_tensor *w, ssm_tensor *bias,
                              int silu);
/* convolution along the last axis: u [B, H, L] * k [H, L] (causal) or k [H, 2L] = [k0 | k1]
 * (two-sided: k1[j] multiplies u[t + 1 + j], as the official bidirectional FFTConv) */
ssm_tensor *ssm_fft_conv(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k);
/* The same plus the skip D[h] u (D [H] in any shape), fused into the convolution. */
ssm_tensor *ssm_fft_conv_skip(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k, ssm_tensor *D);
/* The same on channels-last u [B, L, H] (y [B, L, H]): the layout of the linear layers
 * around it, so the layer needs no transposes (fused into the transforms' passes). */
ssm_tensor *ssm_fft_conv_skip_cl(ssm_ctx *c, ssm_tensor *u, ssm_tensor *k, ssm_tensor *D);

/* --- SSM kernels --- */
/* Diagonal SSM kernel K [H, L] = 2 Re sum_n Ct z^l from step sizes dt [H] and complex
 * A, C [H, N2, 2]; disc 0 = ZOH, 1 = bilinear (see kernels.h: vandermonde_fwd). */
ssm_tensor *ssm_vandermonde(ssm_ctx *c, ssm_tensor *dt, ssm_tensor *A, ssm_tensor *C, int64_t L,
                            int disc);

/* Cauchy sums r [S, H, K, 2] of v [S, H, N2, 2] over poles w [H, N2, 2] at constant
 * nodes z [K, 2], conjugate pairs explicit (kernels.h: cauchy_fwd). */
ssm_tensor *ssm_cauchy(ssm_ctx *c, ssm_tensor *v, ssm_tensor *w, ssm_tensor *z);
/* Inverse real FFT over the second-to-last axis: X [..., n/2 + 1, 2] -> [..., n]. */
ssm_tensor *ssm_irfft(ssm_ctx *c, ssm_tensor *X, int64_t n);

/* S5's diagonal linear recurrence: Lambda_bar [P2, 2], Bu [B, L, P2, 2] (complex) ->
 * x [B, L, P2, 2], x[l] = Lambda_bar x[l - 1] + Bu[l] (reverse = 1: x[l + 1], the
 * sequence read backwards); kernels.h: s5_scan_fwd. */
ssm_tensor *ssm_s5_scan(ssm_ctx *c, ssm_tensor *Lambda_bar, ssm_tensor *Bu, int reverse);

/* Mamba's selective scan (kernels.h: selective_scan_fwd), selective_scan_ref with
 * delta_softplus = True: u, delta, z [batch, d_inner, L]; A [d_inner, d_state];
 * B, C [batch, d_state, L]; D, delta_bias [d_inner]; D, z, delta_bias may be NULL.
 * Returns y [batch, d_inner, L]; when last_state is not NULL, *last_state is set to the
 * final state [batch, d_inner, d_state], a second differentiable output. The forward
 * keeps the states at chunk boundaries only (chunk <= 0: SSM_SCAN_CHUNK_DEFAULT) and the
 * backward recomputes the rest. 16 is the CUDA backward's sub-tile: no boundary pass
 * re-walking each chunk, for 4x the saved states of 64 (docs/BENCHMARKS.md, session 7). */
#define SSM_SCAN_CHUNK_DEFAULT 16
ssm_tensor *ssm_selective_scan(ssm_ctx *c, ssm_tensor *u, ssm_tensor *delta, ssm_tensor *A,
                               ssm_tensor *B, ssm_tensor *C, ssm_tensor *D, ssm_tensor *z,
                               ssm_tensor *delta_bias, ssm_tensor **last_state, int64_t chunk);

/* --- losses (one-element outputs) --- */
/* logits [..., C], target i32 [...]; mean over targets != ignore_index; class_mask i32 [C]
 * or NULL (0 = class excluded from the softmax) */
ssm_tensor *ssm_cross_entropy(ssm_ctx *c, ssm_tensor *logits, ssm_tensor *target,
                              ssm_tensor *class_mask, int32_t ignore_index);
/* The same, also adding the batch's loss, counted targets and correct argmax predictions
 * to st (device memory: kernels.h xent_stats), so a step's statistics stay on the device. */
ssm_tensor *ssm_cross_entropy_stats(ssm_ctx *c, ssm_tensor *logits, ssm_tensor *target,
                                    ssm_tensor *class_mask, int32_t ignore_index,
                                    ssm_step_stats *st);
ssm_tensor *ssm_mse(ssm_ctx *c, ssm_tensor *pred, ssm_tensor *target); /* mean of squares */

#endif
