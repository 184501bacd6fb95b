#include "fftconv.h"
#include "log.h"
#include "ops.h"

ssm_tensor *ssm_fftconv_gelu(ssm_ctx *c, ssm_tensor *x, ssm_tensor *K, ssm_tensor *D) {
    int64_t H = x->shape[2];
    SSM_CHECK(x->ndim == 3 && K->ndim == 2 && K->shape[0] == H &&
                  (K->shape[1] == x->shape[1] || K->shape[1] == 2 * x->shape[1]) && D->numel == H,
              "fftconv: needs x [B, L, H], K [H, L] (or [H, 2L] two-sided), D with H elements");
    /* channels-last: the convolution reads and writes x's layout; the D skip is fused in */
    return ssm_gelu(c, ssm_fft_conv_skip_cl(c, x, K, ssm_reshape(c, D, SSM_DIMS(H))));
}

ssm_tensor *ssm_glu_output(ssm_ctx *c, ssm_tensor *y, ssm_tensor *W, ssm_tensor *b,
                           double dropout, int tie) {
    int64_t H = y->shape[y->ndim - 1];
    SSM_CHECK(W->numel == 2 * H * H && b->numel == 2 * H,
              "glu_output: weight must have 2H x H elements and bias 2H (H = %lld)", (long long)H);
    y = tie ? ssm_dropout_tied(c, y, dropout) : ssm_dropout(c, y, dropout);
    return ssm_linear_glu(c, y, ssm_reshape(c, W, SSM_DIMS(2 * H, H)), b);
}
