/* Export (see export.h): the tensor list and the config JSON per format. */
#include "export.h"
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "rundir.h"
#include "json.h"
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

/* --- the config text as (section, key, value) triples --- */
typedef struct {
    char sec[32], key[64], val[256];
} ini_kv;
typedef struct {
    ini_kv *kv;
    int n;
} ini_list;

static int on_kv(void *user, const char *sec, const char *key, const char *val) {
    ini_list *l = user;
    l->kv = realloc(l->kv, (size_t)(l->n + 1) * sizeof *l->kv);
    SSM_CHECK(l->kv, "export: out of memory");
    ini_kv *e = &l->kv[l->n++];
    snprintf(e->sec, sizeof e->sec, "%s", sec);
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->val, sizeof e->val, "%s", val);
    return 1;
}

static const char *cfg_get(const ini_list *l, const char *sec, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].sec, sec) && !strcmp(l->kv[i].key, key)) return l->kv[i].val;
    return NULL;
}

/* an INI value as JSON: true/false, a number when the whole text is one, else a string */
static void jvalue(ssm_jbuf *b, const char *v) {
    char *end;
    if (!strcmp(v, "true") || !strcmp(v, "false")) {
        ssm_jbuf_printf(b, "%s", v);
        return;
    }
    double d = strtod(v, &end);
    if (*v && !*end && d == d && d - d == 0 && strspn(v, "0123456789+-.eE") == strlen(v))
        ssm_jbuf_printf(b, "%s", v);
    else
        ssm_jbuf_string(b, v);
}

/* The resolved config as {"section": {"key": value, ...}, ...}. */
static void config_json(ssm_jbuf *b, const ini_list *l) {
    ssm_jbuf_printf(b, "{");
    for (int i = 0; i < l->n; i++) {
        int new_sec = i == 0 || strcmp(l->kv[i].sec, l->kv[i - 1].sec);
        if (new_sec) {
            if (i) ssm_jbuf_printf(b, "},");
            ssm_jbuf_string(b, l->kv[i].sec);
            ssm_jbuf_printf(b, ":{");
        } else {
            ssm_jbuf_printf(b, ",");
        }
        ssm_jbuf_string(b, l->kv[i].key);
        ssm_jbuf_printf(b, ":");
        jvalue(b, l->kv[i].val);
    }
    ssm_jbuf_printf(b, l->n ? "}}" : "}");
}

/* --- Mamba LM facts from the tensors (shapes decide, not the config) --- */
typedef struct {
    int64_t d_model, n_layer, vocab, d_state, d_conv, d_inner, dt_rank;
    int conv_bias, bias;
} mamba_facts;

static int mamba_lm_facts(const ssm_ckpt_contents *c, mamba_facts *m) {
    const ssm_tensor *emb = find(c, "backbone.embedding.weight");
    const ssm_tensor *A = find(c, "backbone.layers.0.mixer.A_log");
    const ssm_tensor *conv = find(c, "backbone.layers.0.mixer.conv1d.weight");
    const ssm_tensor *dt = find(c, "backbone.layers.0.mixer.dt_proj.weight");
    if (!emb || !A || !conv || !dt || emb->ndim != 2 || A->ndim != 2 || conv->ndim != 3 ||
        dt->ndim != 2)
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

static double cfg_num(const ini_list *l, const char *sec, const char *key, double dflt) {
    const char *v = cfg_get(l, sec, key);
    return v ? strtod(v, NULL) : dflt;
}

/* mamba_ssm's MambaConfig (mamba_ssm/models/config_mamba.py) */
static void mamba_ssm_config(ssm_jbuf *b, const mamba_facts *m, const ini_list *l) {
    ssm_jbuf_printf(b, "{\"d_model\":%lld,\"d_intermediate\":0,\"n_layer\":%lld,\"vocab_size\":%lld,",
         (long long)m->d_model, (long long)m->n_layer, (long long)m->vocab);
    ssm_jbuf_printf(b, "\"ssm_cfg\":{\"layer\":\"Mamba1\",\"d_state\":%lld,\"d_conv\":%lld,\"expand\":%lld,"
            "\"dt_rank\":%lld,\"dt_min\":%.17g,\"dt_max\":%.17g,\"conv_bias\":%s,\"bias\":%s},",
         (long long)m->d_state, (long long)m->d_conv, (long long)(m->d_inner / m->d_model),
         (long long)m->dt_rank, cfg_num(l, "layer", "dt_min", 1e-3),
         cfg_num(l, "layer", "dt_max", 1e-1), m->conv_bias ? "true" : "false",
         m->bias ? "true" : "false");
    ssm_jbuf_printf(b, "\"attn_layer_idx\":[],\"attn_cfg\":{},\"rms_norm\":true,\"residual_in_fp32\":true,"
            "\"fused_add_norm\":false,\"pad_vocab_size_multiple\":8,\"tie_embeddings\":true}\n");
}

/* transformers' MambaConfig (models/mamba/configuration_mamba.py) */
static void hf_config(ssm_jbuf *b, const mamba_facts *m, const ini_list *l) {
    ssm_jbuf_printf(b, "{\"architectures\":[\"MambaForCausalLM\"],\"model_type\":\"mamba\","
            "\"vocab_size\":%lld,\"hidden_size\":%lld,\"state_size\":%lld,"
            "\"num_hidden_layers\":%lld,\"layer_norm_epsilon\":1e-05,\"expand\":%lld,"
            "\"conv_kernel\":%lld,\"use_bias\":%s,\"use_conv_bias\":%s,\"hidden_act\":\"silu\","
            "\"intermediate_size\":%lld,\"time_step_rank\":%lld,\"time_step_scale\":1.0,"
            "\"time_step_min\":%.17g,\"time_step_max\":%.17g,\"time_step_init_scheme\":\"random\","
            "\"time_step_floor\":0.0001,\"residual_in_fp32\":true,\"rescale_prenorm_residual\":false,"
            "\"initializer_range\":0.1,\"use_cache\":true,\"tie_word_embeddings\":true,"
            "\"pad_token_id\":0,\"bos_token_id\":0,\"eos_token_id\":0}\n",
         (long long)m->vocab, (long long)m->d_model, (long long)m->d_state,
         (long long)m->n_layer, (long long)(m->d_inner / m->d_model), (long long)m->d_conv,
         m->bias ? "true" : "false", m->conv_bias ? "true" : "false", (long long)m->d_inner,
         (long long)m->dt_rank, cfg_num(l, "layer", "dt_min", 1e-3),
         cfg_num(l, "layer", "dt_max", 1e-1));
}

int ssm_export_check(const ssm_ckpt_contents *c, ssm_export_format fmt) {
    mamba_facts mf;
    if (fmt == SSM_EXPORT_HF && !(!strcmp(c->layer, "mamba") && mamba_lm_facts(c, &mf)))
        return ssm_error("--format hf: transformers has a class for Mamba language models "
                         "(MambaForCausalLM) only; this checkpoint holds a %s %s", c->layer,
                         strcmp(c->layer, "mamba") ? "sequence model" : "model without an LM head");
    return SSM_OK;
}

static int write_text(const char *tmp, void *text) {
    FILE *f = fopen(tmp, "w");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    int ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok ? SSM_OK : ssm_error("%s: write failed: %s", tmp, strerror(errno));
}

int ssm_export(const ssm_ckpt_contents *c, ssm_export_format fmt, const char *dir) {
    ini_list l = {0};
    if (ini_parse_string(c->config, on_kv, &l) != 0) {
        free(l.kv);
        return ssm_error("the checkpoint's config text does not parse");
    }
    mamba_facts mf = {0};
    int lm = !strcmp(c->layer, "mamba") && mamba_lm_facts(c, &mf);
    if (ssm_export_check(c, fmt) != SSM_OK) {
        free(l.kv);
        return SSM_ERR;
    }
    if (ssm_mkdirs(dir) != SSM_OK) { /* parents too, as ssmtrain --out */
        free(l.kv);
        return SSM_ERR;
    }
    /* tensors: every one under its name; a Mamba LM also gets its tied head
     * (mamba_ssm's state_dict has lm_head.weight), BatchNorm its counter */
    int cap = c->n * 2 + 1, n = 0;
    ssm_st_entry *e = calloc((size_t)cap, sizeof *e);
    char **owned = calloc((size_t)cap, sizeof *owned);
    SSM_CHECK(e && owned, "export: out of memory");
    /* example.py's S4Model keeps its S4/S4D blocks in `s4_layers` */
    int s4_model = !lm && (!strcmp(c->layer, "s4") || !strcmp(c->layer, "s4d"));
    for (int i = 0; i < c->n; i++) {
        const char *name = c->names[i];
        if (fmt == SSM_EXPORT_HF && !strcmp(name, "backbone.embedding.weight"))
            name = "backbone.embeddings.weight";
        if (s4_model && !strncmp(name, "layers.", 7)) {
            owned[n] = malloc(strlen(name) + 4);
            SSM_CHECK(owned[n], "export: out of memory");
            sprintf(owned[n], "s4_%s", name);
            name = owned[n];
        }
        e[n++] = (ssm_st_entry){.name = name, .t = c->values[i]};
        const char *rm = strstr(c->names[i], ".running_mean");
        if (rm && !rm[13]) { /* PyTorch's BatchNorm1d also keeps num_batches_tracked */
            size_t k = (size_t)(rm - c->names[i]);
            owned[n] = malloc(k + 32);
            SSM_CHECK(owned[n], "export: out of memory");
            snprintf(owned[n], k + 32, "%.*s.num_batches_tracked", (int)k, c->names[i]);
            e[n] = (ssm_st_entry){.name = owned[n], .t = NULL, .i64_value = c->step};
            n++;
        }
    }
    if (lm) e[n++] = (ssm_st_entry){.name = "lm_head.weight", .t = find(c, "backbone.embedding.weight")};
    char step[32], path[4096];
    snprintf(step, sizeof step, "%lld", (long long)c->step);
    const char *meta[] = {"format", "pt", "producer", "ssmtrain " PACKAGE_VERSION, "layer",
                          c->layer, "step", step};
    int rc = SSM_OK;
    if ((size_t)snprintf(path, sizeof path, "%s/model.safetensors", dir) >= sizeof path)
        rc = ssm_error("%s: path too long", dir);
    if (rc == SSM_OK) rc = ssm_st_write(path, e, n, meta, 4);
    if (rc == SSM_OK) {
        ssm_jbuf b = {0};
        if (lm && fmt == SSM_EXPORT_HF) {
            hf_config(&b, &mf, &l);
        } else if (lm) {
            mamba_ssm_config(&b, &mf, &l);
        } else {
            ssm_jbuf_printf(&b, "{\"ssmtrain\":{\"version\":\"%s\",\"layer\":", PACKAGE_VERSION);
            ssm_jbuf_string(&b, c->layer);
            /* the sizes the config leaves to the data (d_input 0, n_classes 0), from the
             * tensors: S4Model(d_input, d_output, d_model, n_layers, dropout, prenorm) */
            const ssm_tensor *enc = find(c, "encoder.weight"), *dec = find(c, "decoder.weight");
            const char *et = cfg_get(&l, "model", "encoder");
            int emb = et && !strcmp(et, "embedding");
            if (enc && dec && enc->ndim == 2 && dec->ndim == 2)
                ssm_jbuf_printf(&b, ",\"d_input\":%lld,\"d_output\":%lld,\"d_model\":%lld",
                     (long long)enc->shape[emb ? 0 : 1], (long long)dec->shape[0],
                     (long long)dec->shape[1]);
            ssm_jbuf_printf(&b, ",\"step\":%lld,\"config\":", (long long)c->step);
            config_json(&b, &l);
            ssm_jbuf_printf(&b, "}}\n");
        }
        snprintf(path, sizeof path, "%s/config.json", dir);
        rc = ssm_replace_file(path, write_text, b.s);
        free(b.s);
    }
    for (int i = 0; i < cap; i++) free(owned[i]);
    free(owned);
    free(e);
    free(l.kv);
    return rc;
}
