/* Parameters: named tensors living in one flat buffer per model (llm.c's
 * malloc_and_point_parameters). Gradients and optimizer moments are flat
 * buffers of the same layout, so AdamW, the global gradient norm and
 * clipping are single passes over the whole model, and a checkpoint is a
 * walk over the named views. Parameters are laid out group by group, so
 * each optimizer group is one contiguous range.
 *
 * Use: ssm_params_add() every parameter (its data is not there yet), then
 * ssm_params_finalize() allocates and points, then initialise the values. */
#ifndef SSM_PARAMS_H
#define SSM_PARAMS_H
#include "tensor.h"

#define SSM_MAX_GROUPS 4
/* Optimizer groups: DEFAULT (the global lr and weight decay), SSM (the SSM lr and weight
 * decay), NO_DECAY (the global lr, no weight decay), SSM_DECAY (the SSM lr, the global
 * weight decay). The trainer sets each group's hyper-parameters. */
enum { SSM_GROUP_DEFAULT = 0, SSM_GROUP_SSM = 1, SSM_GROUP_NO_DECAY = 2, SSM_GROUP_SSM_DECAY = 3 };

/* Where a layer puts a parameter whose group is configurable (S4's dt, S5's B): 0 is the
 * SSM group, so a zeroed layer config keeps the usual placement. */
typedef enum {
    SSM_PLACE_SSM = 0, SSM_PLACE_SSM_DECAY, SSM_PLACE_NO_DECAY, SSM_PLACE_DEFAULT
} ssm_param_place;
/* The SSM_GROUP_* of a placement. */
int ssm_place_group(ssm_param_place p);

typedef struct ssm_params {
    ssm_dtype dtype;
    ssm_device device;
    int n, cap;
    ssm_tensor **p;  /* in registration order */
    int64_t numel;
    int64_t group_begin[SSM_MAX_GROUPS + 1]; /* group g is [begin[g], begin[g+1]) */
    ssm_tensor *values, *grads;              /* flat [numel] */
    int *layout;                             /* indices into p, in flat-buffer order */
    int finalized;
} ssm_params;

ssm_params *ssm_params_new(ssm_dtype dt, ssm_device dev);
void ssm_params_free(ssm_params *ps);
/* Register a parameter (name is copied). Its data exists after finalize. */
ssm_tensor *ssm_params_add(ssm_params *ps, const char *name, int group, int ndim,
                           const int64_t *shape);
void ssm_params_finalize(ssm_params *ps);
ssm_tensor *ssm_params_find(const ssm_params *ps, const char *name);
/* t's index in ps->p when t is one of ps's parameters (not a view of one), else -1;
 * O(log n): a binary search of the layout by address. */
int ssm_params_index(const ssm_params *ps, const ssm_tensor *t);
void ssm_params_zero_grad(ssm_params *ps);

#endif
