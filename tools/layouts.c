#include "layouts.h"
#include <stdio.h>
#include <string.h>
#include "mamba_lm.h"

static const char *const no_renames[][2] = {{NULL, NULL}};
static const char *const hf_renames[][2] = {{"backbone.embedding.", "backbone.embeddings."},
                                            {NULL, NULL}};
static const char *const s4_renames[][2] = {{"layers.", "s4_layers."}, {NULL, NULL}};

static const ssm_layout layouts[SSM_LAYOUT_COUNT] = {
    [SSM_LAYOUT_MAMBA_SSM] = {"mamba_ssm", no_renames, 1, 0},
    [SSM_LAYOUT_TRANSFORMERS] = {"transformers", hf_renames, 1, 0},
    [SSM_LAYOUT_S4_EXAMPLE] = {"s4_example", s4_renames, 0, 1},
    [SSM_LAYOUT_SSMTRAIN] = {"ssmtrain", no_renames, 0, 1},
};

const ssm_layout *ssm_layout_get(ssm_layout_id id) { return &layouts[id]; }

const ssm_layout *ssm_layout_for(int lm, const char *layer, int hf) {
    if (lm) return &layouts[hf ? SSM_LAYOUT_TRANSFORMERS : SSM_LAYOUT_MAMBA_SSM];
    if (hf) return NULL;
    int s4 = !strcmp(layer, "s4") || !strcmp(layer, "s4d");
    return &layouts[s4 ? SSM_LAYOUT_S4_EXAMPLE : SSM_LAYOUT_SSMTRAIN];
}

/* the first rule whose `from` side prefixes name, applied */
static const char *apply(const ssm_layout *l, int from, const char *name, char *buf, size_t n) {
    for (int i = 0; l->rename[i][0]; i++) {
        size_t k = strlen(l->rename[i][from]);
        if (!strncmp(name, l->rename[i][from], k)) {
            snprintf(buf, n, "%s%s", l->rename[i][!from], name + k);
            return buf;
        }
    }
    snprintf(buf, n, "%s", name);
    return buf;
}

const char *ssm_layout_external(const ssm_layout *l, const char *internal, char *buf, size_t n) {
    return apply(l, 0, internal, buf, n);
}

const char *ssm_layout_internal(const ssm_layout *l, const char *external, char *buf, size_t n) {
    return apply(l, 1, external, buf, n);
}

const char *ssm_layout_tied_alias(const ssm_layout *l, const char **source) {
    if (!l->tied_head) return NULL;
    *source = ssm_mamba_lm_tied_names[0][1];
    return ssm_mamba_lm_tied_names[0][0];
}

const char *ssm_layout_s4_l_kernel(const ssm_layout *l, const char *internal, char *buf, size_t n) {
    static const char suffix[] = ".layer.kernel.C";
    size_t k = strlen(internal), s = sizeof suffix - 1;
    if (l != &layouts[SSM_LAYOUT_S4_EXAMPLE] || k < s || strcmp(internal + k - s, suffix))
        return NULL;
    char ext[256];
    snprintf(ext, sizeof ext, "%.*sl_kernel", (int)(k - 1), internal);
    return ssm_layout_external(l, ext, buf, n);
}

const char *ssm_layout_bn_counter(const ssm_layout *l, const char *internal, char *buf, size_t n) {
    const char *rm = strstr(internal, ".running_mean");
    if (!l->bn_counters || !rm || rm[13]) return NULL;
    char ext[256];
    snprintf(ext, sizeof ext, "%.*s.num_batches_tracked", (int)(rm - internal), internal);
    return ssm_layout_external(l, ext, buf, n);
}
