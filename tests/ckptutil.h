/* Test models from config text, built as the importer and ssmgen build them
 * (tools/modelcfg.h), and saved as checkpoints. */
#ifndef SSM_CKPTUTIL_H
#define SSM_CKPTUTIL_H
#include "model.h"
#include "ssmconfig.h"

/* The model ini describes (sequence models: vocabulary 17, 8 classes; LMs: vocabulary 16
 * unless model.d_input says more), initialised from seed 9; cfg gets the config. */
ssm_model *tu_config_model(const char *ini, ssm_config *cfg);
/* The same, its BatchNorm buffers set to distinct values, saved to path at step 42 with
 * the resolved config. */
ssm_model *tu_saved_model(const char *ini, const char *path);

#endif
