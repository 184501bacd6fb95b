/* The Mamba language model of the official state-spaces/mamba
 * (mamba_ssm/models/mixer_seq_simple.py: MambaLMHeadModel with rms_norm = True):
 *
 *   tokens [B, L] -> embedding -> n_layer x (h = h + Mamba(RMSNorm(h)))
 *     -> RMSNorm (norm_f) -> LM head tied to the embedding -> logits [B, L, vocab]
 *
 * The official Block computes the same thing as "add, then norm, then mixer" with the
 * residual carried separately. The vocabulary is padded up to a multiple of
 * pad_vocab_multiple (8); the padding rows are never indexed by real tokens.
 *
 * Parameter names (the official state_dict's): backbone.embedding.weight (vocab, d_model),
 * backbone.layers.<i>.mixer.<Mamba parameters>, backbone.layers.<i>.norm.weight,
 * backbone.norm_f.weight. lm_head.weight is the SAME tensor as the embedding (tied): it
 * is not a second parameter here; an exporter writes it under both names
 * (ssm_mamba_lm_tied_names). */
#ifndef SSM_MAMBA_LM_H
#define SSM_MAMBA_LM_H
#include "mamba.h"

typedef struct {
    int64_t vocab_size;         /* before padding */
    int64_t pad_vocab_multiple; /* 8 */
    int64_t n_layer;
    double norm_eps;            /* RMSNorm epsilon (1e-5) */
    ssm_mamba_config mixer;     /* mixer.d_model is the model width */
} ssm_mamba_lm_config;

ssm_mamba_lm_config ssm_mamba_lm_defaults(int64_t d_model, int64_t n_layer, int64_t vocab_size);

/* { alias, parameter }: names under which a parameter is exported a second time */
extern const char *const ssm_mamba_lm_tied_names[1][2];

typedef struct {
    ssm_mamba_lm_config cfg;
    int64_t vocab; /* padded */
    ssm_params *ps;
    ssm_tensor *embedding, *norm_f;
    ssm_mamba *layers;
    ssm_tensor **norm;
} ssm_mamba_lm;

/* Declares and allocates the parameters; NULL (and ssm_error) for a bad config. */
ssm_mamba_lm *ssm_mamba_lm_new(const ssm_mamba_lm_config *cfg, ssm_dtype dt, ssm_device dev);
/* The official init (_init_weights): embedding N(0, 0.02²); each mixer's own init (layer i
 * draws from its own counter range) with out_proj.weight scaled by 1/sqrt(n_layer);
 * norm weights 1. */
void ssm_mamba_lm_init(ssm_mamba_lm *m, uint64_t seed);
void ssm_mamba_lm_free(ssm_mamba_lm *m);

/* tokens i32 [B, L] -> logits [B, L, vocab (padded)] */
ssm_tensor *ssm_mamba_lm_forward(ssm_ctx *c, ssm_mamba_lm *m, ssm_tensor *tokens);

/* Generation: one state per layer. */
typedef struct {
    int64_t n_layer;
    ssm_mamba_state **layer;
} ssm_mamba_lm_state;
ssm_mamba_lm_state *ssm_mamba_lm_state_alloc(ssm_mamba_lm *m, int64_t batch);
void ssm_mamba_lm_state_free(ssm_mamba_lm_state *st);
/* tokens i32 [B] -> logits [B, vocab] (records nothing) */
ssm_tensor *ssm_mamba_lm_step(ssm_ctx *c, ssm_mamba_lm *m, ssm_mamba_lm_state *st,
                              ssm_tensor *tokens);

#endif
