/* Export (see export.h): the tensor list under the layout's names (layouts.h) and the
 * config JSON per format (cJSON). */
#include "export.h"
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsutil.h"
#include "ini_json.h"
#include "layouts.h"
#include "log.h"
#include "replace_file.h"
#include "safetensors.h"

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

static const ssm_tensor *find(const ssm_ckpt_contents *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->names[i], name)) return c->values[i];
    return NULL;
}

int ssm_export_mamba_facts(const ssm_ckpt_contents *c, ssm_mamba_facts *m) {
    const ssm_tensor *emb = find(c, "backbone.embedding.weight");
    const ssm_tensor *A = find(c, "backbone.layers.0.mixer.A_log");
    const ssm_tensor *conv = find(c, "backbone.layers.0.mixer.conv1d.weight");
    const ssm_tensor *dt = find(c, "backbone.layers.0.mixer.dt_proj.weight");
    if (strcmp(c->layer, "mamba") || !emb || !A || !conv || !dt || emb->ndim != 2 ||
        A->ndim != 2 || conv->ndim != 3 || dt->ndim != 2)
        return 0;
    m->vocab = emb->shape[0];
    m->d_model = emb->shape[1];
    m->d_inner = A->shape[0];
    m->d_state = A->shape[1];
    m->d_conv = conv->shape[2];
    m->dt_rank = dt->shape[1];
    m->conv_bias = find(c, "backbone.layers.0.mixer.conv1d.bias") != NULL;
    m->bias = find(c, "backbone.layers.0.mixer.in_proj.bias") != NULL;
    char name[128];
    for (m->n_layer = 0;; m->n_layer++) {
        snprintf(name, sizeof name, "backbone.layers.%lld.mixer.A_log", (long long)m->n_layer);
        if (!find(c, name)) break;
    }
    return 1;
}

static double cfg_num(const cJSON *cfg, const char *sec, const char *key, double dflt) {
    char buf[64];
    return ssm_json_ini_get(cfg, sec, key, buf, sizeof buf) ? strtod(buf, NULL) : dflt;
}

static void num(cJSON *o, const char *k, double v) {
    SSM_CHECK(cJSON_AddNumberToObject(o, k, v), "export: out of memory");
}
/* A float field: always written with a decimal point or exponent (1.0, not 1), since
 * transformers' strict config classes reject an int where a float is declared. */
static void real(cJSON *o, const char *k, double v) {
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) /* the shortest that reads back exactly */
        if (snprintf(buf, sizeof buf, "%.*g", digits, v) > 0 && strtod(buf, NULL) == v) break;
    if (!strpbrk(buf, ".eEni")) strcat(buf, ".0");
    SSM_CHECK(cJSON_AddRawToObject(o, k, buf), "export: out of memory");
}
static void flag(cJSON *o, const char *k, int v) {
    SSM_CHECK(cJSON_AddBoolToObject(o, k, v), "export: out of memory");
}
static void str(cJSON *o, const char *k, const char *v) {
    SSM_CHECK(cJSON_AddStringToObject(o, k, v), "export: out of memory");
}

/* mamba_ssm's MambaConfig (mamba_ssm/models/config_mamba.py) */
static cJSON *mamba_ssm_config(const ssm_mamba_facts *m, const cJSON *cfg) {
    cJSON *j = cJSON_CreateObject(), *s;
    num(j, "d_model", (double)m->d_model);
    num(j, "d_intermediate", 0);
    num(j, "n_layer", (double)m->n_layer);
    num(j, "vocab_size", (double)m->vocab);
    SSM_CHECK(s = cJSON_AddObjectToObject(j, "ssm_cfg"), "export: out of memory");
    str(s, "layer", "Mamba1");
    num(s, "d_state", (double)m->d_state);
    num(s, "d_conv", (double)m->d_conv);
    num(s, "expand", (double)(m->d_inner / m->d_model));
    num(s, "dt_rank", (double)m->dt_rank);
    real(s, "dt_min", cfg_num(cfg, "layer", "dt_min", 1e-3));
    real(s, "dt_max", cfg_num(cfg, "layer", "dt_max", 1e-1));
    flag(s, "conv_bias", m->conv_bias);
    flag(s, "bias", m->bias);
    SSM_CHECK(cJSON_AddArrayToObject(j, "attn_layer_idx") && cJSON_AddObjectToObject(j, "attn_cfg"),
              "export: out of memory");
    flag(j, "rms_norm", 1);
    flag(j, "residual_in_fp32", 1);
    flag(j, "fused_add_norm", 0);
    num(j, "pad_vocab_size_multiple", 8);
    flag(j, "tie_embeddings", 1);
    return j;
}

/* transformers' MambaConfig (models/mamba/configuration_mamba.py) */
static cJSON *hf_config(const ssm_mamba_facts *m, const cJSON *cfg) {
    cJSON *j = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(j, "architectures");
    SSM_CHECK(a, "export: out of memory");
    cJSON_AddItemToArray(a, cJSON_CreateString("MambaForCausalLM"));
    str(j, "model_type", "mamba");
    num(j, "vocab_size", (double)m->vocab);
    num(j, "hidden_size", (double)m->d_model);
    num(j, "state_size", (double)m->d_state);
    num(j, "num_hidden_layers", (double)m->n_layer);
    real(j, "layer_norm_epsilon", 1e-5);
    num(j, "expand", (double)(m->d_inner / m->d_model));
    num(j, "conv_kernel", (double)m->d_conv);
    flag(j, "use_bias", m->bias);
    flag(j, "use_conv_bias", m->conv_bias);
    str(j, "hidden_act", "silu");
    num(j, "intermediate_size", (double)m->d_inner);
    num(j, "time_step_rank", (double)m->dt_rank);
    real(j, "time_step_scale", 1.0);
    real(j, "time_step_min", cfg_num(cfg, "layer", "dt_min", 1e-3));
    real(j, "time_step_max", cfg_num(cfg, "layer", "dt_max", 1e-1));
    str(j, "time_step_init_scheme", "random");
    real(j, "time_step_floor", 1e-4);
    flag(j, "residual_in_fp32", 1);
    flag(j, "rescale_prenorm_residual", 0);
    real(j, "initializer_range", 0.1);
    flag(j, "use_cache", 1);
    flag(j, "tie_word_embeddings", 1);
    num(j, "pad_token_id", 0);
    num(j, "bos_token_id", 0);
    num(j, "eos_token_id", 0);
    return j;
}

/* {"ssmtrain": {version, layer, d_input, d_output, d_model, step, config}}: the sizes the
 * config leaves to the data (d_input 0, n_classes 0) from the tensors, as example.py's
 * S4Model(d_input, d_output, d_model, n_layers, dropout, prenorm) takes them */
static cJSON *ssmtrain_config(const ssm_ckpt_contents *c, cJSON *cfg) {
    cJSON *j = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(j, "ssmtrain");
    SSM_CHECK(s, "export: out of memory");
    str(s, "version", PACKAGE_VERSION);
    str(s, "layer", c->layer);
    const ssm_tensor *enc = find(c, "encoder.weight"), *dec = find(c, "decoder.weight");
    char et[32];
    int emb = ssm_json_ini_get(cfg, "model", "encoder", et, sizeof et) && !strcmp(et, "embedding");
    if (enc && dec && enc->ndim == 2 && dec->ndim == 2) {
        num(s, "d_input", (double)enc->shape[emb ? 0 : 1]);
        num(s, "d_output", (double)dec->shape[0]);
        num(s, "d_model", (double)dec->shape[1]);
    }
    num(s, "step", (double)c->step);
    cJSON_AddItemToObject(s, "config", cfg);
    return j;
}

int ssm_export_check(const ssm_ckpt_contents *c, ssm_export_format fmt) {
    ssm_mamba_facts mf;
    if (fmt == SSM_EXPORT_HF && !ssm_export_mamba_facts(c, &mf))
        return ssm_error("--format hf: transformers has a class for Mamba language models "
                         "(MambaForCausalLM) only; this checkpoint holds a %s %s", c->layer,
                         strcmp(c->layer, "mamba") ? "sequence model" : "model without an LM head");
    return SSM_OK;
}

static int write_text(const char *tmp, void *text) {
    FILE *f = fopen(tmp, "w");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = fclose(f) == 0 && ok;
    return ok ? SSM_OK : ssm_error("%s: write failed: %s", tmp, strerror(errno));
}

int ssm_export(const ssm_ckpt_contents *c, ssm_export_format fmt, const char *dir) {
    if (ssm_export_check(c, fmt) != SSM_OK) return SSM_ERR;
    cJSON *cfg = ssm_ini_to_json(c->config);
    if (!cfg) return ssm_error("the checkpoint's config text does not parse");
    ssm_mamba_facts mf = {0};
    int lm = ssm_export_mamba_facts(c, &mf);
    const ssm_layout *lay = ssm_layout_for(lm, c->layer, fmt == SSM_EXPORT_HF);
    if (ssm_mkdirs(dir) != SSM_OK) { /* parents too, as ssmtrain --out */
        cJSON_Delete(cfg);
        return SSM_ERR;
    }
    /* every tensor under its external name, then the tied head, BatchNorm counters, S4's
     * l_kernel (its C~ is set up for data.seq_len: trainer.c) */
    char seq[32];
    const int64_t l_max = ssm_json_ini_get(cfg, "data", "seq_len", seq, sizeof seq) ? atoll(seq) : 0;
    int cap = c->n * 2 + 1, n = 0;
    ssm_st_entry *e = calloc((size_t)cap, sizeof *e);
    char (*names)[256] = calloc((size_t)cap, sizeof *names);
    SSM_CHECK(e && names, "export: out of memory");
    for (int i = 0; i < c->n; i++) {
        e[n] = (ssm_st_entry){.name = ssm_layout_external(lay, c->names[i], names[n], 256),
                              .t = c->values[i]};
        n++;
        if (ssm_layout_bn_counter(lay, c->names[i], names[n], 256)) {
            e[n] = (ssm_st_entry){.name = names[n], .i64_value = c->step};
            n++;
        }
        if (ssm_layout_s4_l_kernel(lay, c->names[i], names[n], 256)) {
            if (l_max < 1) {
                free(e), free(names), cJSON_Delete(cfg);
                return ssm_error("the checkpoint's config has no data.seq_len: the length S4's "
                                 "C~ is set up for is unknown");
            }
            e[n] = (ssm_st_entry){.name = names[n], .i64_value = l_max};
            n++;
        }
    }
    const char *src, *alias = ssm_layout_tied_alias(lay, &src);
    if (alias) e[n++] = (ssm_st_entry){.name = alias, .t = find(c, src)};
    char step[32], path[4096];
    snprintf(step, sizeof step, "%lld", (long long)c->step);
    const char *meta[] = {"format", "pt", "producer", "ssmtrain " PACKAGE_VERSION, "layer",
                          c->layer, "step", step};
    int rc = SSM_OK;
    if ((size_t)snprintf(path, sizeof path, "%s/model.safetensors", dir) >= sizeof path)
        rc = ssm_error("%s: path too long", dir);
    if (rc == SSM_OK) rc = ssm_st_write(path, e, n, meta, 4);
    if (rc == SSM_OK) {
        cJSON *j = !lm ? ssmtrain_config(c, cfg)
                   : fmt == SSM_EXPORT_HF ? hf_config(&mf, cfg) : mamba_ssm_config(&mf, cfg);
        if (!lm) cfg = NULL; /* owned by j now */
        char *text = cJSON_PrintUnformatted(j);
        SSM_CHECK(text, "export: out of memory");
        cJSON_Delete(j);
        snprintf(path, sizeof path, "%s/config.json", dir);
        rc = ssm_replace_file(path, write_text, text);
        free(text);
    }
    cJSON_Delete(cfg);
    free(names);
    free(e);
    return rc;
}
