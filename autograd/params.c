#include "params.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "log.h"

int ssm_place_group(ssm_param_place p) {
    static const int groups[] = {SSM_GROUP_SSM, SSM_GROUP_SSM_DECAY, SSM_GROUP_NO_DECAY,
                                 SSM_GROUP_DEFAULT};
    SSM_CHECK((unsigned)p < sizeof groups / sizeof groups[0], "params: placement %d", (int)p);
    return groups[p];
}

ssm_params *ssm_params_new(ssm_dtype dt, ssm_device dev) {
    ssm_params *ps = calloc(1, sizeof *ps);
    SSM_CHECK(ps, "params: out of memory");
    ps->dtype = dt;
    ps->device = dev;
    return ps;
}

void ssm_params_free(ssm_params *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) {
        ssm_tensor *t = ps->p[i];
        free((char *)t->name);
        free(t->grad);
        free(t);
    }
    free(ps->p);
    free(ps->layout);
    ssm_tensor_free(ps->values);
    ssm_tensor_free(ps->grads);
    free(ps);
}

ssm_tensor *ssm_params_add(ssm_params *ps, const char *name, int group, int ndim,
                           const int64_t *shape) {
    SSM_CHECK(!ps->finalized, "params: %s added after finalize", name);
    SSM_CHECK(group >= 0 && group < SSM_MAX_GROUPS, "params: %s: group %d", name, group);
    SSM_CHECK(!ssm_params_find(ps, name), "params: duplicate name %s", name);
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 32;
        ps->p = realloc(ps->p, (size_t)ps->cap * sizeof *ps->p);
        SSM_CHECK(ps->p, "params: out of memory");
    }
    ssm_tensor *t = calloc(1, sizeof *t), *g = calloc(1, sizeof *g);
    char *nm = strdup(name);
    SSM_CHECK(t && g && nm, "params: out of memory");
    t->dtype = ps->dtype;
    t->device = ps->device;
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < SSM_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    for (int d = 0; d < ndim; d++) t->numel *= shape[d];
    t->name = nm;
    t->group = group;
    t->flags = SSM_T_PARAM | SSM_T_REQUIRES_GRAD;
    *g = *t;
    g->flags = 0;
    g->name = NULL;
    t->grad = g;
    ps->p[ps->n++] = t;
    return t;
}

void ssm_params_finalize(ssm_params *ps) {
    SSM_CHECK(!ps->finalized, "params: finalized twice");
    int64_t off = 0;
    int placed = 0;
    ps->layout = malloc((size_t)(ps->n ? ps->n : 1) * sizeof *ps->layout);
    SSM_CHECK(ps->layout, "params: out of memory");
    for (int g = 0; g < SSM_MAX_GROUPS; g++) { /* lay out group by group */
        ps->group_begin[g] = off;
        for (int i = 0; i < ps->n; i++)
            if (ps->p[i]->group == g) {
                ps->p[i]->grad->group = (int)off; /* remember the offset until pointing */
                off += ps->p[i]->numel;
                ps->layout[placed++] = i;
            }
    }
    ps->group_begin[SSM_MAX_GROUPS] = off;
    ps->numel = off;
    ps->values = ssm_tensor_new(ps->dtype, ps->device, SSM_DIMS(off));
    ps->grads = ssm_tensor_new(ps->dtype, ps->device, SSM_DIMS(off));
    ssm_tensor_zero(ps->values);
    ssm_tensor_zero(ps->grads);
    size_t es = ssm_dtype_size(ps->dtype);
    for (int i = 0; i < ps->n; i++) {
        ssm_tensor *t = ps->p[i];
        size_t at = (size_t)t->grad->group * es;
        t->data = (char *)ps->values->data + at;
        t->grad->data = (char *)ps->grads->data + at;
        t->grad->group = t->group;
    }
    ps->finalized = 1;
}

ssm_tensor *ssm_params_find(const ssm_params *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i]->name, name) == 0) return ps->p[i];
    return NULL;
}

int ssm_params_index(const ssm_params *ps, const ssm_tensor *t) {
    if (!(t->flags & SSM_T_PARAM) || !ps->finalized) return -1;
    uintptr_t at = (uintptr_t)t->data; /* t may point anywhere: compare as integers */
    int lo = 0, hi = ps->n; /* the first parameter of the layout at or past t's address */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if ((uintptr_t)ps->p[ps->layout[mid]]->data < at) lo = mid + 1;
        else hi = mid;
    }
    /* a parameter of no elements shares its address with the next one: step over it */
    for (; lo < ps->n && (uintptr_t)ps->p[ps->layout[lo]]->data == at; lo++)
        if (ps->p[ps->layout[lo]] == t) return ps->layout[lo];
    return -1;
}

void ssm_params_zero_grad(ssm_params *ps) { ssm_tensor_zero(ps->grads); }
