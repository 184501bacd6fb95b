/* Checkpoint -> safetensors + config.json, under the names the official runtimes load
 * unchanged (docs/EXPORT.md; the name tables are layouts.h's, shared with the importer):
 *   native: the checkpoint's names, which are the official PyTorch state_dict names
 *           (state-spaces/s4 S4Model/SequenceModel, state-spaces/mamba MambaLMHeadModel);
 *           config.json: mamba_ssm's MambaConfig for a Mamba LM, else the ssmtrain config.
 *   hf:     Mamba LMs only, for transformers' MambaForCausalLM (backbone.embeddings.*,
 *           its MambaConfig in config.json). */
#ifndef SSM_EXPORT_H
#define SSM_EXPORT_H
#include "checkpoint.h"

typedef enum { SSM_EXPORT_NATIVE, SSM_EXPORT_HF } ssm_export_format;

/* Whether fmt applies to this checkpoint (hf: Mamba language models only); SSM_ERR with
 * the reason otherwise. */
int ssm_export_check(const ssm_ckpt_contents *c, ssm_export_format fmt);
/* Writes dir/model.safetensors and dir/config.json (each through a temporary file and a
 * rename; dir is created if missing). SSM_ERR with a message otherwise. */
int ssm_export(const ssm_ckpt_contents *c, ssm_export_format fmt, const char *dir);

/* A Mamba LM's sizes, read off its tensors' shapes; 0 when c holds no Mamba LM. */
typedef struct {
    int64_t d_model, n_layer, vocab, d_state, d_conv, d_inner, dt_rank;
    int conv_bias, bias;
} ssm_mamba_facts;
int ssm_export_mamba_facts(const ssm_ckpt_contents *c, ssm_mamba_facts *m);

#endif
