/* The model a checkpoint holds, built without its data: the architecture from the stored
 * config, the sizes the config leaves to the data from the tensors' shapes
 * (modelcfg.h), the values loaded and checked by ssm_ckpt_load. For ssmgen and tests. */
#ifndef SSM_CKPT_MODEL_H
#define SSM_CKPT_MODEL_H
#include "checkpoint.h"
#include "ssmconfig.h"

/* A checkpoint's tensor shape by name (an ssm_shape_fn of modelcfg.h over
 * ssm_ckpt_contents): its ndim, 0 when absent. */
int ssm_ckpt_contents_shape(void *contents, const char *name, int64_t *dims);
/* NULL and ssm_error naming the file when it cannot be read or built. cfg (may be NULL)
 * gets the checkpoint's config. */
ssm_model *ssm_ckpt_model(const char *path, ssm_device dev, ssm_config *cfg);

#endif
