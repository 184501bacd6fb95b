/* Import (ssmexport --import): model.safetensors (or the shards of
 * model.safetensors.index.json) and config.json in one of layouts.h's layouts ->
 * an ssmtrain checkpoint without optimizer moments, that ssmtrain --eval-only,
 * --resume and ssmgen load (docs/EXPORT.md):
 *   transformers  config.json = transformers' MambaConfig (model_type "mamba")
 *   mamba_ssm     config.json = mamba_ssm's MambaConfig (d_model, n_layer, ssm_cfg, ...)
 *   ssmtrain      config.json = {"ssmtrain": {"layer", "config": {...}}} as ssmexport
 *                 writes for sequence models (s4_example names for S4/S4D)
 * The architecture comes from config.json, the sizes it leaves open from the tensors;
 * every tensor must be there with the model's shape and a floating-point dtype (F32,
 * F16, BF16, F64: converted to f32), and nothing else may be. */
#ifndef SSM_IMPORT_H
#define SSM_IMPORT_H
#include <stddef.h>
#include <stdint.h>
#include "layouts.h"
#include "ssmconfig.h"

typedef struct {
    char layout[16];   /* layouts.h name */
    char layer[16];
    char src[4096];    /* the weights file (or index) read */
    int n_tensors, n_files;
    int64_t n_params, step;
} ssm_import_info;

/* src: a folder holding config.json and model.safetensors or
 * model.safetensors.index.json, or one of those weight files (config.json beside it).
 * sets: "section.key=value" overrides applied to the imported config (e.g. the data
 * section). Writes out_h5 (atomically). SSM_ERR with a message naming the file and the
 * tensor or field. */
int ssm_import(const char *src, const char *out_h5, const char *const *sets, size_t n_sets,
               ssm_import_info *info);

/* The first step of ssm_import: config.json at path -> the layout it is in and the
 * ssmtrain config it describes, sets applied (what ssm_import builds the model from).
 * SSM_ERR naming the file and the field (import_config.h). */
int ssm_import_read_config(const char *path, const char *const *sets, size_t n_sets,
                           const ssm_layout **layout, ssm_config *cfg);

#endif
