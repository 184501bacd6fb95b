/* Finite-difference gradient check in f64: the contract every op must meet.
 * fn builds an output from the inputs with ops; the check compares the tape's
 * gradient of L = sum(out * w) (w random) with central differences of L in
 * every element of every input that requires a gradient. */
#ifndef SSM_GRADCHECK_H
#define SSM_GRADCHECK_H
#include "tape.h"

typedef ssm_tensor *(*ssm_gradcheck_fn)(ssm_ctx *c, ssm_tensor **inputs, void *user);

typedef struct {
    double max_rel_err; /* worst over inputs of |num - ana| / max(|num|, |ana|) (L2 norms) */
    int worst_input;
} ssm_gradcheck_result;

/* inputs: persistent CPU f64 tensors; those with SSM_T_REQUIRES_GRAD (ssm_requires_grad)
 * are checked. Dropout draws repeat exactly between evaluations (same seed and offset). */
ssm_gradcheck_result ssm_gradcheck(ssm_gradcheck_fn fn, ssm_tensor **inputs, int n, void *user,
                                   double eps);

#endif
