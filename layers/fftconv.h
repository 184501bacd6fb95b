/* The convolutional block shared by S4 and S4D (the official FFTConv + the
 * S4Block output): x [B, L, H] and a kernel K [H, L] give
 *   y = GELU(causal_conv(x, K) + D x)            (ssm_fftconv_gelu)
 *   out = GLU(linear(dropout(y), W, b))          (ssm_glu_output, W: 2H x H) */
#ifndef SSM_FFTCONV_H
#define SSM_FFTCONV_H
#include "tape.h"

/* K [H, L], or [H, 2L] = [causal | anti-causal] for bidirectional layers; D may have any
 * shape with H elements. */
ssm_tensor *ssm_fftconv_gelu(ssm_ctx *c, ssm_tensor *x, ssm_tensor *K, ssm_tensor *D);
/* W may have any shape with 2H x H elements (Conv1d's (2H, H, 1) or Linear's (2H, H));
 * tie: the dropout mask is shared along L (ssm_dropout_tied). */
ssm_tensor *ssm_glu_output(ssm_ctx *c, ssm_tensor *y, ssm_tensor *W, ssm_tensor *b,
                           double dropout, int tie);

#endif
