#include "ckpt_model.h"
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "modelcfg.h"

int ssm_ckpt_contents_shape(void *arg, const char *name, int64_t *dims) {
    const ssm_ckpt_contents *c = arg;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->names[i], name)) {
            memcpy(dims, c->values[i]->shape, sizeof c->values[i]->shape);
            return c->values[i]->ndim;
        }
    return 0;
}

ssm_model *ssm_ckpt_model(const char *path, ssm_device dev, ssm_config *cfg_out) {
    ssm_ckpt_contents c;
    if (ssm_ckpt_read_contents(path, &c) != SSM_OK) return NULL;
    ssm_config cfg;
    ssm_data_sizes d;
    ssm_model_config mc;
    ssm_model *m = NULL;
    char name[4200];
    snprintf(name, sizeof name, "%s (its config)", path);
    if (ssm_config_load_string(&cfg, c.config, name, NULL, 0) == SSM_OK &&
        ssm_sizes_from_tensors(&cfg, ssm_ckpt_contents_shape, &c, path, &d) == SSM_OK &&
        ssm_model_config_from(&cfg, &d, &mc) == SSM_OK)
        m = ssm_model_new(&mc, SSM_F32, dev);
    ssm_ckpt_contents_free(&c);
    ssm_train_state *st = calloc(1, sizeof *st);
    SSM_CHECK(st, "ckpt_model: out of memory");
    if (m && ssm_ckpt_load(path, m, NULL, st) != SSM_OK) {
        ssm_model_free(m);
        m = NULL;
    }
    free(st);
    if (m && cfg_out) *cfg_out = cfg;
    return m;
}
