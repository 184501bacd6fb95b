/* Reading the golden files (../shared/golden, copied to tests/data): every
 * shape and hyper-parameter comes from the file, nothing is hard-coded. */
#ifndef SSM_GOLDEN_H
#define SSM_GOLDEN_H
#include "h5io.h"
#include "params.h"
#include "tape.h"

ssm_h5 *golden_open(const char *name); /* tests/data/<name>; fails the test if absent */
double golden_attr(ssm_h5 *f, const char *name);
/* Dataset as a persistent tensor of dtype dt on dev. */
ssm_tensor *golden_tensor(ssm_h5 *f, const char *path, ssm_dtype dt, ssm_device dev);
/* Set every parameter of ps from /params/<name> (shapes must match). */
void golden_load_params(ssm_h5 *f, ssm_params *ps);
/* ||t - file[path]|| / ||file[path]|| < tol, else fail naming path. */
void golden_expect(ssm_h5 *f, const char *path, const ssm_tensor *t, double tol);
/* Every parameter gradient against /grads/params/<name>. */
void golden_expect_param_grads(ssm_h5 *f, const ssm_params *ps, double tol);

/* The usual check of a layer file: y against /outputs/y, then backward with
 * /inputs/dy_y and the gradient of the input `in` against /grads/inputs/<in_name>, and of
 * every parameter of ps (NULL: the caller maps parameter names itself). */
void golden_expect_layer(ssm_h5 *f, ssm_ctx *c, ssm_tensor *y, ssm_tensor *in,
                         const char *in_name, const ssm_params *ps, double tol);

#endif
