/* The sequence model of the official S4 repository (example.py's S4Model and
 * SequenceModel): encoder -> n_layers x [norm -> layer -> dropout -> +residual]
 * (prenorm, or postnorm with the norm after the residual) -> pooling -> decoder.
 * Works with every layer type of layer.h.
 *
 * Parameter names: encoder.weight/bias, layers.<i>.<layer params>,
 * norms.<i>.weight/bias (BatchNorm: + buffers norms.<i>.running_mean/var),
 * decoder.weight/bias.
 *
 * With retrieval set (LRA Retrieval: two documents per example, rows 2b and 2b + 1 of
 * the input) the decoder is S4's RetrievalDecoder (src/tasks/decoders.py, nli=True,
 * activation relu, or gelu with retrieval_gelu): both documents go through the same
 * encoder and blocks and are pooled, then features [x1, x2, x1 - x2, x1 * x2] ->
 * Linear(4H, H) -> ReLU (GELU) -> Linear(H, d_output), named
 * decoder.retrieval.classifier.{0,2}.weight/bias.
 *
 * With mamba_lm set (a language-model task on Mamba layers) the model is instead the
 * official MambaLMHeadModel (layers/mamba_lm.h: RMSNorm pre-norm residual blocks, final
 * RMSNorm, LM head tied to the embedding, backbone.* names); norm, prenorm, dropout and
 * pooling do not apply then. */
#ifndef SSM_MODEL_H
#define SSM_MODEL_H
#include "layer.h"
#include "mamba_lm.h"

typedef enum { SSM_NORM_LAYER, SSM_NORM_RMS, SSM_NORM_BATCH } ssm_norm_kind;
typedef enum { SSM_POOL_MEAN, SSM_POOL_LAST, SSM_POOL_NONE } ssm_pool_kind;

typedef struct {
    char layer[16];        /* "s4d", ... */
    ssm_layer_config lcfg; /* lcfg.d_model is the model width */
    int embedding;         /* 1: token embedding encoder, 0: linear on features */
    int64_t d_input;       /* vocabulary size or feature dimension */
    int64_t d_output;      /* classes (or vocabulary for per-token outputs) */
    int64_t n_layers;
    ssm_norm_kind norm;
    double bn_momentum;    /* BatchNorm running statistics, PyTorch's convention; 0 = 0.1 */
    int prenorm, residual;
    double dropout;
    int tie_dropout;       /* one mask per (sequence, channel), shared along L */
    ssm_pool_kind pool;
    int mamba_lm;          /* the official Mamba LM instead (embedding, no pooling) */
    int retrieval;         /* two-tower head over document pairs (needs pooling) */
    int retrieval_gelu;    /* its activation: GELU (S4's aan pipeline, S5) instead of ReLU */
} ssm_model_config;

typedef struct {
    ssm_model_config cfg;
    const ssm_layer_ops *ops;
    ssm_params *ps;
    ssm_tensor *enc_W, *enc_b, *dec_W, *dec_b;
    ssm_tensor *head_W, *head_b;    /* retrieval: the first layer of the head (dec_*: the last) */
    void **layers;
    ssm_tensor **norm_w, **norm_b;
    ssm_tensor **bn_mean, **bn_var; /* BatchNorm running statistics (buffers) */
    ssm_mamba_lm *lm;               /* mamba_lm: the whole network (ps is lm->ps) */
} ssm_model;

/* Declares and allocates the parameters; NULL (and ssm_error) for a bad config. */
ssm_model *ssm_model_new(const ssm_model_config *cfg, ssm_dtype dt, ssm_device dev);
void ssm_model_init(ssm_model *m, uint64_t seed);
void ssm_model_free(ssm_model *m);

/* x: i32 tokens [B, L] (embedding) or features [B, L, d_input]; pool_w [B, 1, L] pooling
 * weights (mean: 1/len on valid positions; last: one-hot at len-1), NULL for no pooling.
 * Returns logits [B, d_output] (pooled) or [B, L, d_output]; retrieval: B = 2 x pairs rows
 * in, logits [B / 2, d_output] out. */
ssm_tensor *ssm_model_forward(ssm_ctx *c, ssm_model *m, ssm_tensor *x, ssm_tensor *pool_w);

/* Recurrent inference (generation): the model one position at a time, O(1) memory per
 * token, through each layer's step mode (the Mamba LM: ssm_mamba_lm_step). Only models
 * without pooling (per-position outputs, model.task = lm) and with causal layers
 * (not bidirectional) have a step mode; ssm_model_state_alloc says why not otherwise. */
typedef struct ssm_model_state ssm_model_state;
/* NULL (and ssm_error) when the model has no step mode. */
ssm_model_state *ssm_model_state_alloc(ssm_model *m, int64_t batch);
void ssm_model_state_free(ssm_model_state *st);
/* x_t: i32 tokens [B] (embedding) or features [B, d_input] -> logits [B, d_output] (the
 * Mamba LM: [B, vocab (padded)]), advancing st; records nothing. Evaluation mode:
 * dropout is off and BatchNorm uses its running statistics. */
ssm_tensor *ssm_model_step(ssm_ctx *c, ssm_model *m, ssm_model_state *st, ssm_tensor *x_t);

/* Buffers (non-trainable state saved in checkpoints): count, and name/tensor by index. */
int ssm_model_n_buffers(const ssm_model *m);
ssm_tensor *ssm_model_buffer(const ssm_model *m, int i, char *name, size_t n);

#endif
