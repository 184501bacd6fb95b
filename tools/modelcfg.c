#include "modelcfg.h"
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "params.h"
#include "s5.h"

_Static_assert((int)SSM_CFG_GROUP_SSM == (int)SSM_PLACE_SSM &&
                   (int)SSM_CFG_GROUP_SSM_DECAY == (int)SSM_PLACE_SSM_DECAY &&
                   (int)SSM_CFG_GROUP_NO_DECAY == (int)SSM_PLACE_NO_DECAY &&
                   (int)SSM_CFG_GROUP_DEFAULT == (int)SSM_PLACE_DEFAULT,
               "layer.dt_group / b_group choices in the order of ssm_param_place");
_Static_assert((int)SSM_CFG_C_TRUNC_STANDARD == (int)SSM_S5_C_TRUNC_STANDARD &&
                   (int)SSM_CFG_C_LECUN == (int)SSM_S5_C_LECUN &&
                   (int)SSM_CFG_C_COMPLEX == (int)SSM_S5_C_COMPLEX,
               "layer.c_init choices in the order of ssm_s5_c_init");

int ssm_model_config_from(const ssm_config *c, const ssm_data_sizes *d, ssm_model_config *m) {
    memset(m, 0, sizeof *m);
    static const char *layers[] = {"s4", "s4d", "s5", "mamba"};
    snprintf(m->layer, sizeof m->layer, "%s", layers[c->model.layer]);
    if (c->layer.activation != SSM_CFG_ACT_GELU)
        return ssm_error("layer.activation = gelu is the only setting implemented so far");
    int s5 = c->model.layer == SSM_CFG_LAYER_S5;
    static const char *s5_acts[] = {"full_glu", "", "gelu", "half_glu1", "half_glu2"};
    if (s5 ? c->layer.final_act == SSM_CFG_FINAL_LINEAR
           : c->layer.final_act != SSM_CFG_FINAL_GLU && c->model.layer != SSM_CFG_LAYER_MAMBA)
        return ssm_error("layer.final_act: s4 and s4d use glu; s5 takes glu (full_glu), "
                         "half_glu1, half_glu2 or none (gelu only)");
    m->lcfg = (ssm_layer_config){
        .d_model = c->model.d_model, .d_state = c->layer.d_state, .dt_min = c->layer.dt_min,
        .dt_max = c->layer.dt_max, .disc = c->layer.discretization == SSM_CFG_DISC_BILINEAR,
        .bidirectional = c->layer.bidirectional, .expand = c->layer.expand,
        .d_conv = c->layer.d_conv, .dt_rank = c->layer.dt_rank, .dropout = c->model.dropout,
        .tie_dropout = c->model.tie_dropout,
        .dt_place = (ssm_param_place)c->layer.dt_group,
        .b_place = (ssm_param_place)c->layer.b_group, .c_init = (int)c->layer.c_init,
        .clip_eigs = c->layer.clip_eigs,
        .l_max = d->l_max,
        .blocks = c->layer.blocks};
    if (s5) snprintf(m->lcfg.activation, sizeof m->lcfg.activation, "%s", s5_acts[c->layer.final_act]);
    static const ssm_init_kind inits[] = {SSM_INIT_LIN, SSM_INIT_LEGS, SSM_INIT_LIN, SSM_INIT_INV,
                                          SSM_INIT_REAL};
    m->lcfg.init = inits[c->layer.init];
    /* embedding: a row per token; linear: the position's values (pixels) as features */
    m->embedding = c->model.encoder == SSM_CFG_ENC_EMBEDDING;
    int64_t channels = d->channels > 0 ? d->channels : 1;
    m->d_input = c->model.d_input ? c->model.d_input
                                  : m->embedding ? d->vocab : channels;
    int lm = c->model.task == SSM_CFG_TASK_LM;
    m->d_output = c->model.n_classes ? c->model.n_classes
                                     : (lm ? d->vocab : d->n_classes);
    m->n_layers = c->model.n_layers;
    static const ssm_norm_kind norms[] = {SSM_NORM_LAYER, SSM_NORM_RMS, SSM_NORM_BATCH};
    m->norm = norms[c->model.norm];
    m->bn_momentum = c->model.bn_momentum;
    m->prenorm = c->model.prenorm;
    m->residual = c->model.residual;
    m->dropout = c->model.dropout;
    m->tie_dropout = c->model.tie_dropout;
    static const ssm_pool_kind pools[] = {SSM_POOL_MEAN, SSM_POOL_LAST, SSM_POOL_NONE};
    m->pool = pools[c->model.pooling];
    m->retrieval = c->model.decoder == SSM_CFG_DEC_RETRIEVAL;
    m->retrieval_gelu = c->model.retrieval_act == SSM_CFG_RACT_GELU;
    if (m->retrieval != (d->n_seq == 2))
        return ssm_error("model.decoder = %s, but the data has %d sequence(s) per example",
                         m->retrieval ? "retrieval" : "linear", d->n_seq);
    /* language modelling on Mamba layers with tied embeddings: the official Mamba LM */
    m->mamba_lm = lm && c->model.layer == SSM_CFG_LAYER_MAMBA && c->model.tie_embeddings;
    if (m->embedding && d->vocab > m->d_input)
        return ssm_error("model.d_input = %lld is smaller than the data's vocabulary (%lld)",
                         (long long)m->d_input, (long long)d->vocab);
    if (!m->embedding && m->d_input != channels)
        return ssm_error("model.d_input = %lld, but the data has %lld value(s) per position "
                         "for the linear encoder", (long long)m->d_input, (long long)channels);
    return SSM_OK;
}


int ssm_sizes_from_tensors(const ssm_config *c, ssm_shape_fn shape, void *arg, const char *file,
                           ssm_data_sizes *d) {
    memset(d, 0, sizeof *d);
    int64_t e[SSM_MAX_DIMS], o[SSM_MAX_DIMS];
    int lm = c->model.task == SSM_CFG_TASK_LM && c->model.layer == SSM_CFG_LAYER_MAMBA &&
             c->model.tie_embeddings;
    const char *enc = lm ? "backbone.embedding.weight" : "encoder.weight";
    const char *dec = lm ? enc
                      : c->model.decoder == SSM_CFG_DEC_RETRIEVAL ? "decoder.retrieval.classifier.2.weight"
                                                                  : "decoder.weight";
    if (shape(arg, enc, e) != 2) return ssm_error("%s: no 2-dimensional tensor %s", file, enc);
    if (shape(arg, dec, o) != 2) return ssm_error("%s: no 2-dimensional tensor %s", file, dec);
    int emb = c->model.encoder == SSM_CFG_ENC_EMBEDDING;
    d->vocab = emb ? e[0] : 0;
    d->channels = emb ? 1 : e[1];
    d->n_classes = o[0];
    d->l_max = c->data.seq_len;
    d->n_seq = c->model.decoder == SSM_CFG_DEC_RETRIEVAL ? 2 : 1;
    return SSM_OK;
}
