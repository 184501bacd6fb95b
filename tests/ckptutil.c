#include "ckptutil.h"
#include <stdio.h>
#include <stdlib.h>
#include "checkpoint.h"
#include "log.h"
#include "modelcfg.h"
#include "testutil.h"

ssm_model *tu_config_model(const char *ini, ssm_config *cfg) {
    ck_assert_msg(ssm_config_load_string(cfg, ini, "test", NULL, 0) == SSM_OK, "%s", ssm_last_error());
    int lm = cfg->model.task == SSM_CFG_TASK_LM;
    ssm_data_sizes d = {.vocab = lm ? 16 : 17, .n_classes = 8, .l_max = cfg->data.seq_len, .n_seq = 1};
    ssm_model_config mc;
    ck_assert_msg(ssm_model_config_from(cfg, &d, &mc) == SSM_OK, "%s", ssm_last_error());
    ssm_model *m = ssm_model_new(&mc, SSM_F32, SSM_CPU);
    ck_assert_msg(m != NULL, "%s", ssm_last_error());
    ssm_model_init(m, 9);
    return m;
}

/* The model the config describes (vocabulary 17 and 8 classes for the sequence models),
 * initialised, saved at step 42 with the resolved config. */
ssm_model *tu_saved_model(const char *ini, const char *path) {
    ssm_config cfg;
    ssm_model *m = tu_config_model(ini, &cfg);
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        for (int64_t j = 0; j < b->numel; j++) ((float *)b->data)[j] = 0.5f + 0.125f * (float)(i + j);
    }
    ssm_train_state *st = calloc(1, sizeof *st);
    st->step = 42;
    char *text = ssm_config_to_ini(&cfg);
    snprintf(st->config, sizeof st->config, "%s", text);
    free(text);
    ck_assert_int_eq(ssm_ckpt_save(path, m, NULL, st), SSM_OK);
    free(st);
    return m;
}

