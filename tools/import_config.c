#include "import_config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ini_json.h"
#include "log.h"

/* ---- typed fields: missing ones take the runtime's default, or are an error when
 * required (dflt NULL); a wrong type is always an error naming file and field ---- */
typedef struct {
    const cJSON *obj;
    const char *file, *prefix; /* prefix: "" or "ssm_cfg." */
} fields;

static const char *type_name(const cJSON *v) {
    return cJSON_IsBool(v) ? "a boolean" : cJSON_IsNumber(v) ? "a number" : cJSON_IsString(v) ? "a string"
           : cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "an array" : "an object";
}

static const cJSON *field(const fields *f, const char *key, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->obj, key);
    if (!v && required) ssm_error("%s: missing field %s%s", f->file, f->prefix, key);
    return v;
}

static int wrong(const fields *f, const char *key, const char *want, const cJSON *v) {
    return ssm_error("%s: field %s%s must be %s, not %s", f->file, f->prefix, key, want,
                     type_name(v));
}

/* an integer >= 1; *auto_ok: "auto" allowed (then *v = 0) */
static int f_int(const fields *f, const char *key, const int64_t *dflt, int auto_ok, int64_t *v) {
    const cJSON *j = field(f, key, !dflt);
    if (!j) return dflt ? (*v = *dflt, SSM_OK) : SSM_ERR;
    if (auto_ok && cJSON_IsString(j) && !strcmp(j->valuestring, "auto")) return *v = 0, SSM_OK;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
        j->valuedouble > 1e12)
        return cJSON_IsNumber(j) ? ssm_error("%s: field %s%s must be a non-negative integer, not "
                                             "%g", f->file, f->prefix, key, j->valuedouble)
                                 : wrong(f, key, auto_ok ? "an integer or \"auto\"" : "an integer", j);
    *v = (int64_t)j->valuedouble;
    return SSM_OK;
}

static int f_num(const fields *f, const char *key, double dflt, double *v) {
    const cJSON *j = field(f, key, 0);
    if (!j) return *v = dflt, SSM_OK;
    if (!cJSON_IsNumber(j)) return wrong(f, key, "a number", j);
    *v = j->valuedouble;
    return SSM_OK;
}

static int f_bool(const fields *f, const char *key, int dflt, int *v) {
    const cJSON *j = field(f, key, 0);
    if (!j) return *v = dflt, SSM_OK;
    if (!cJSON_IsBool(j)) return wrong(f, key, "a boolean", j);
    *v = cJSON_IsTrue(j);
    return SSM_OK;
}

static int f_str(const fields *f, const char *key, const char *dflt, const char **v) {
    const cJSON *j = field(f, key, 0);
    if (!j) return *v = dflt, SSM_OK;
    if (!cJSON_IsString(j)) return wrong(f, key, "a string", j);
    *v = j->valuestring;
    return SSM_OK;
}

static int unsupported(const char *file, const char *what, const char *why) {
    return ssm_error("%s: %s is not supported: %s", file, what, why);
}

/* The Mamba LM's INI text (what both Mamba layouts describe). */
typedef struct {
    int64_t d_model, n_layer, rows, d_state, d_conv, expand, dt_rank;
    double dt_min, dt_max;
} lm_arch;

static int lm_ini(const char *file, const lm_arch *a, char **ini) {
    if (a->rows % 8)
        return ssm_error("%s: a vocabulary of %lld embedding rows is not supported: ssmtrain "
                         "pads the vocabulary to a multiple of 8", file, (long long)a->rows);
    int64_t dt_rank = a->dt_rank ? a->dt_rank : (a->d_model + 15) / 16;
    char buf[1024];
    snprintf(buf, sizeof buf,
             "[model]\ntask = lm\nencoder = embedding\nlayer = mamba\ntie_embeddings = true\npooling = none\n"
             "d_model = %lld\nn_layers = %lld\nd_input = %lld\n"
             "[layer]\nd_state = %lld\nd_conv = %lld\nexpand = %lld\ndt_rank = %lld\n"
             "dt_min = %.17g\ndt_max = %.17g\n" SSM_IMPORT_LM_DATA "[checkpoint]\nmetric = val_loss\n",
             (long long)a->d_model, (long long)a->n_layer, (long long)a->rows,
             (long long)a->d_state, (long long)a->d_conv, (long long)a->expand,
             (long long)dt_rank, a->dt_min, a->dt_max);
    *ini = strdup(buf);
    SSM_CHECK(*ini, "import: out of memory");
    return SSM_OK;
}

static const int64_t d16 = 16, d4 = 4, d2 = 2, d8 = 8, d0 = 0;

/* transformers' MambaConfig (configuration_mamba.py; its defaults for absent fields) */
static int hf_config(const cJSON *j, const char *file, char **ini) {
    fields f = {j, file, ""};
    lm_arch a = {0};
    int bias, conv_bias, tied;
    double eps;
    const char *act = NULL;
    if (f_int(&f, "hidden_size", NULL, 0, &a.d_model) || f_int(&f, "num_hidden_layers", NULL, 0, &a.n_layer) ||
        f_int(&f, "vocab_size", NULL, 0, &a.rows) || f_int(&f, "state_size", &d16, 0, &a.d_state) ||
        f_int(&f, "conv_kernel", &d4, 0, &a.d_conv) || f_int(&f, "expand", &d2, 0, &a.expand) ||
        f_int(&f, "time_step_rank", &d0, 1, &a.dt_rank) ||
        f_num(&f, "time_step_min", 1e-3, &a.dt_min) || f_num(&f, "time_step_max", 1e-1, &a.dt_max) ||
        f_bool(&f, "use_bias", 1, &bias) || f_bool(&f, "use_conv_bias", 1, &conv_bias) ||
        f_bool(&f, "tie_word_embeddings", 1, &tied) || f_num(&f, "layer_norm_epsilon", 1e-5, &eps) ||
        f_str(&f, "hidden_act", "silu", &act))
        return SSM_ERR;
    if (bias) return unsupported(file, "use_bias = true", "ssmtrain's Mamba has no in_proj/out_proj biases");
    if (!conv_bias) return unsupported(file, "use_conv_bias = false", "ssmtrain's Mamba always has conv1d.bias");
    if (!tied) return unsupported(file, "tie_word_embeddings = false", "ssmtrain's Mamba LM ties lm_head to the embedding");
    if (eps != 1e-5) return unsupported(file, "layer_norm_epsilon other than 1e-05", "ssmtrain's RMSNorm uses 1e-5");
    if (strcmp(act, "silu")) return unsupported(file, "hidden_act other than \"silu\"", "the Mamba mixer uses SiLU");
    return lm_ini(file, &a, ini);
}

/* mamba_ssm's MambaConfig (models/config_mamba.py) and Mamba1's defaults for ssm_cfg */
static int mamba_ssm_config(const cJSON *j, const char *file, char **ini) {
    fields f = {j, file, ""};
    lm_arch a = {0};
    int64_t vocab, pad, d_inter;
    int rms, tied, bias, conv_bias;
    if (f_int(&f, "d_model", NULL, 0, &a.d_model) || f_int(&f, "n_layer", NULL, 0, &a.n_layer) ||
        f_int(&f, "vocab_size", NULL, 0, &vocab) || f_int(&f, "pad_vocab_size_multiple", &d8, 0, &pad) ||
        f_int(&f, "d_intermediate", &d0, 0, &d_inter) || f_bool(&f, "rms_norm", 1, &rms) ||
        f_bool(&f, "tie_embeddings", 1, &tied))
        return SSM_ERR;
    const cJSON *attn = field(&f, "attn_layer_idx", 0), *sc = field(&f, "ssm_cfg", 0);
    if (attn && (!cJSON_IsArray(attn) || cJSON_GetArraySize(attn)))
        return cJSON_IsArray(attn) ? unsupported(file, "attn_layer_idx (attention layers)", "ssmtrain's Mamba LM has Mamba blocks only")
                                   : wrong(&f, "attn_layer_idx", "an array", attn);
    if (sc && !cJSON_IsObject(sc)) return wrong(&f, "ssm_cfg", "an object", sc);
    fields s = {sc, file, "ssm_cfg."}; /* absent: every field at its default */
    const char *layer = NULL;
    if (f_str(&s, "layer", "Mamba1", &layer) || f_int(&s, "d_state", &d16, 0, &a.d_state) ||
        f_int(&s, "d_conv", &d4, 0, &a.d_conv) || f_int(&s, "expand", &d2, 0, &a.expand) ||
        f_int(&s, "dt_rank", &d0, 1, &a.dt_rank) || f_num(&s, "dt_min", 1e-3, &a.dt_min) ||
        f_num(&s, "dt_max", 1e-1, &a.dt_max) || f_bool(&s, "bias", 0, &bias) ||
        f_bool(&s, "conv_bias", 1, &conv_bias))
        return SSM_ERR;
    if (strcmp(layer, "Mamba1")) return unsupported(file, "ssm_cfg.layer other than \"Mamba1\"", "ssmtrain has Mamba (1) blocks only");
    if (!rms) return unsupported(file, "rms_norm = false", "ssmtrain's Mamba LM normalises with RMSNorm only");
    if (!tied) return unsupported(file, "tie_embeddings = false", "ssmtrain's Mamba LM ties lm_head to the embedding");
    if (d_inter) return unsupported(file, "d_intermediate > 0 (MLP blocks)", "ssmtrain's Mamba LM has Mamba blocks only");
    if (bias) return unsupported(file, "ssm_cfg.bias = true", "ssmtrain's Mamba has no in_proj/out_proj biases");
    if (!conv_bias) return unsupported(file, "ssm_cfg.conv_bias = false", "ssmtrain's Mamba always has conv1d.bias");
    if (pad < 1) return ssm_error("%s: field pad_vocab_size_multiple must be at least 1", file);
    a.rows = (vocab + pad - 1) / pad * pad;
    return lm_ini(file, &a, ini);
}

/* ssmexport's own {"ssmtrain": {"layer": ..., "config": {section: {key: value}}}} */
static int ssmtrain_config(const cJSON *j, const char *file, char **ini) {
    fields f = {j, file, "ssmtrain."};
    const cJSON *cfg = field(&f, "config", 1);
    if (!cfg) return SSM_ERR;
    if (!cJSON_IsObject(cfg)) return wrong(&f, "config", "an object", cfg);
    *ini = ssm_json_to_ini(cfg, file);
    return *ini ? SSM_OK : SSM_ERR;
}

int ssm_import_config(const cJSON *j, const char *file, const ssm_layout **layout, char **ini) {
    *ini = NULL;
    if (!cJSON_IsObject(j)) return ssm_error("%s: not a JSON object", file);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "ssmtrain");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    if (st) {
        if (!cJSON_IsObject(st)) return ssm_error("%s: field ssmtrain must be an object", file);
        const cJSON *layer = cJSON_GetObjectItemCaseSensitive(st, "layer");
        if (!cJSON_IsString(layer))
            return ssm_error("%s: field ssmtrain.layer must be a string (s4, s4d, s5, mamba)", file);
        *layout = ssm_layout_for(0, layer->valuestring, 0);
        return ssmtrain_config(st, file, ini);
    }
    if (mt) {
        if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "mamba"))
            return ssm_error("%s: model_type %s%s%s is not supported (transformers' \"mamba\" is)",
                             file, cJSON_IsString(mt) ? "\"" : "", cJSON_IsString(mt) ? mt->valuestring : type_name(mt),
                             cJSON_IsString(mt) ? "\"" : "");
        *layout = ssm_layout_get(SSM_LAYOUT_TRANSFORMERS);
        return hf_config(j, file, ini);
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "d_model") && cJSON_GetObjectItemCaseSensitive(j, "n_layer")) {
        *layout = ssm_layout_get(SSM_LAYOUT_MAMBA_SSM);
        return mamba_ssm_config(j, file, ini);
    }
    return ssm_error("%s: unknown layout: expected transformers' MambaConfig (model_type "
                     "\"mamba\"), mamba_ssm's MambaConfig (d_model, n_layer, ssm_cfg) or "
                     "ssmexport's {\"ssmtrain\": {...}} (docs/EXPORT.md)", file);
}
