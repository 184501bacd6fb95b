/* The data of a run, from the [data] section: train/val/test datasets read
 * from files or generated from the run's seed. */
#ifndef SSM_TASKS_H
#define SSM_TASKS_H
#include "dataset.h"
#include "ssmconfig.h"

typedef struct {
    ssm_dataset *train, *val, *test; /* val may be test itself (text) */
} ssm_task_data;

/* SSM_ERR with a message naming the file or key when the data cannot be had. */
int ssm_task_load(const ssm_config *c, ssm_task_data *out);
void ssm_task_free(ssm_task_data *d);

#endif
