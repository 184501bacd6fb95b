/* The external layouts ssmtrain's models are exchanged in: ONE table per layout, used by
 * the exporter (internal -> external names) and the importer (external -> internal), so
 * the two directions cannot drift apart (docs/EXPORT.md).
 *
 *   mamba_ssm     state-spaces/mamba MambaLMHeadModel: the parameter names as they are,
 *                 plus lm_head.weight, tied to backbone.embedding.weight
 *   transformers  MambaForCausalLM: backbone.embedding.* is backbone.embeddings.*, plus the
 *                 tied lm_head.weight
 *   s4_example    state-spaces/s4 example.py S4Model (S4 and S4D sequence models): the
 *                 blocks layers.* are s4_layers.*; BatchNorm keeps num_batches_tracked
 *   ssmtrain      other sequence models (S5, Mamba blocks): the names as they are;
 *                 BatchNorm keeps num_batches_tracked */
#ifndef SSM_LAYOUTS_H
#define SSM_LAYOUTS_H
#include <stddef.h>

typedef enum {
    SSM_LAYOUT_MAMBA_SSM = 0,
    SSM_LAYOUT_TRANSFORMERS,
    SSM_LAYOUT_S4_EXAMPLE,
    SSM_LAYOUT_SSMTRAIN,
    SSM_LAYOUT_COUNT
} ssm_layout_id;

typedef struct {
    const char *name;
    const char *const (*rename)[2]; /* {internal prefix, external prefix}, up to {NULL} */
    int tied_head;                  /* lm_head.weight holds the embedding again */
    int bn_counters;                /* <norm>.num_batches_tracked (I64, 0-dim) per BatchNorm */
} ssm_layout;

const ssm_layout *ssm_layout_get(ssm_layout_id id);
/* The layout of a model: an LM (Mamba LM) or a sequence model of layer type `layer`;
 * hf asks for transformers' (LMs only: NULL for a sequence model). */
const ssm_layout *ssm_layout_for(int lm, const char *layer, int hf);
/* internal -> external name; returns buf */
const char *ssm_layout_external(const ssm_layout *l, const char *internal, char *buf, size_t n);
/* external -> internal name; returns buf */
const char *ssm_layout_internal(const ssm_layout *l, const char *external, char *buf, size_t n);
/* The names written in addition to the parameters: the tied head's alias and source
 * (internal name); NULL when the layout has none. */
const char *ssm_layout_tied_alias(const ssm_layout *l, const char **source);
/* BatchNorm counter of the buffer `internal` ("norms.0.running_mean" ->
 * "norms.0.num_batches_tracked", external) into buf; NULL when it has none. */
const char *ssm_layout_bn_counter(const ssm_layout *l, const char *internal, char *buf, size_t n);
/* example.py's S4Block keeps the length its C~ is set up for in a buffer (I64, 0-dim;
 * 0 = C is still the plain C): for the C of an S4 layer ("layers.0.layer.kernel.C";
 * S4D's is "layers.0.kernel.C") its external name "s4_layers.0.layer.kernel.l_kernel"
 * into buf; NULL for every other tensor and layout. */
const char *ssm_layout_s4_l_kernel(const ssm_layout *l, const char *internal, char *buf, size_t n);

#endif
