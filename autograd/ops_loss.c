/* Losses: softmax cross-entropy (ignore index, class mask) and MSE. */
#include "log.h"
#include "ops.h"

/* in: logits, target, class_mask; saved[0] lse; i[0] rows, i[1] C, i[2] ignore_index */
static void xent_bw(ssm_ctx *c, ssm_node *n) {
    ssm_tensor *x = n->in[0];
    int acc; /* the logits' gradient: stored when new (the LM's is [tokens, vocabulary]) */
    ssm_tensor *dx = ssm_grad_w(c, x, &acc);
    ssm_kernels_for(x->device)->xent_bwd(x->dtype, x->data, n->in[1]->data,
                                         ssm_data_or_null(n->in[2]), n->saved[0]->data,
                                         n->out->grad->data, dx->data, n->i[0], n->i[1],
                                         (int32_t)n->i[2], acc);
}

ssm_tensor *ssm_cross_entropy(ssm_ctx *c, ssm_tensor *logits, ssm_tensor *target,
                              ssm_tensor *class_mask, int32_t ignore_index) {
    return ssm_cross_entropy_stats(c, logits, target, class_mask, ignore_index, NULL);
}

ssm_tensor *ssm_cross_entropy_stats(ssm_ctx *c, ssm_tensor *logits, ssm_tensor *target,
                                    ssm_tensor *class_mask, int32_t ignore_index,
                                    ssm_step_stats *st) {
    ssm_tensor *in[3] = {logits, target, class_mask};
    const ssm_kernels *k = ssm_kernels_of("cross_entropy", in, 3);
    int64_t C = logits->shape[logits->ndim - 1], rows = logits->numel / C;
    SSM_CHECK(target->dtype == SSM_I32 && target->numel == rows,
              "cross_entropy: %lld rows of logits but %lld %s targets (need i32)",
              (long long)rows, (long long)target->numel, ssm_dtype_name(target->dtype));
    SSM_CHECK(!class_mask || (class_mask->dtype == SSM_I32 && class_mask->numel == C),
              "cross_entropy: class mask must be i32 [%lld]", (long long)C);
    ssm_tensor *loss = ssm_new_like_shape(c, logits, SSM_DIMS(1));
    ssm_tensor *lse = ssm_new_like_shape(c, logits, SSM_DIMS(rows + 1));
    k->xent_fwd(logits->dtype, logits->data, target->data, ssm_data_or_null(class_mask),
                loss->data, lse->data, rows, C, ignore_index);
    if (st)
        k->xent_stats(logits->dtype, logits->data, target->data, loss->data, lse->data, rows, C,
                      ignore_index, st);
    if (ssm_needs_grad(c, &logits, 1)) {
        ssm_node *n = ssm_record(c, "cross_entropy", xent_bw, loss, in, 3);
        n->saved[0] = lse;
        n->i[0] = rows;
        n->i[1] = C;
        n->i[2] = ignore_index;
    }
    return loss;
}

ssm_tensor *ssm_mse(ssm_ctx *c, ssm_tensor *pred, ssm_tensor *target) {
    SSM_CHECK(pred->numel == target->numel, "mse: %lld predictions for %lld targets",
              (long long)pred->numel, (long long)target->numel);
    ssm_tensor *d = ssm_sub(c, pred, target);
    return ssm_scale(c, ssm_sum_all(c, ssm_square(c, d)), 1.0 / (double)pred->numel);
}
