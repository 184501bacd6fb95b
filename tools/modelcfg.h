/* The model a config describes (ssm_model_config from ssm_config), with the sizes the
 * config leaves to the data (model.d_input = 0, model.n_classes = 0, S4's l_max) given
 * apart: the trainer takes them from its data, the importer and ssmgen from a
 * checkpoint's tensors (ssm_sizes_from_tensors). */
#ifndef SSM_MODELCFG_H
#define SSM_MODELCFG_H
#include "model.h"
#include "ssmconfig.h"

typedef struct {
    int64_t vocab;     /* token ids lie in [0, vocab) */
    int64_t channels;  /* values per position (linear encoder); 0 means 1 */
    int64_t n_classes; /* classes (classification) */
    int64_t l_max;     /* the longest sequence */
    int n_seq;         /* sequences per example (2: retrieval pairs) */
} ssm_data_sizes;

int ssm_model_config_from(const ssm_config *c, const ssm_data_sizes *d, ssm_model_config *m);

/* The sizes of the model whose tensors have the given shapes (shape(name) returns the
 * tensor's ndim and fills dims, or 0 when absent): vocabulary or channels from the
 * encoder (embedding), classes or output vocabulary from the decoder (the tied embedding
 * of a Mamba LM), l_max = data.seq_len. SSM_ERR naming `file` when a tensor that decides
 * a size is missing. */
typedef int (*ssm_shape_fn)(void *arg, const char *name, int64_t *dims);
int ssm_sizes_from_tensors(const ssm_config *c, ssm_shape_fn shape, void *arg, const char *file,
                           ssm_data_sizes *d);

#endif
