/* One table of op cases shared by the f64 gradient checks (test_grad) and the
 * CPU-vs-CUDA comparison (test_cuda): every differentiable op with inputs whose
 * shapes depend on a size N, so each suite can run small and odd sizes. */
#ifndef SSM_OPCASES_H
#define SSM_OPCASES_H
#include "gradcheck.h"

#define OPC_N (-1)  /* a dimension of size N */
#define OPC_2N (-2) /* a dimension of size 2N */

typedef enum {
    OPC_NORMAL,   /* N(0, 1), requires grad */
    OPC_POSITIVE, /* U[0.5, 2), requires grad */
    OPC_CONST,    /* N(0, 1), no grad */
    OPC_CONST_POS,/* U[0.5, 2), no grad */
    OPC_INDEX,    /* i32 in [0, bound) */
    OPC_TARGET,   /* i32 in [0, bound), every 5th = -100 (ignored) */
    OPC_MASK,     /* i32 0/1 of length bound, even entries 1 */
} opc_kind;

typedef struct {
    opc_kind kind;
    int ndim;
    int64_t shape[SSM_MAX_DIMS];
    int64_t bound;
} opc_input;

typedef struct {
    const char *name;
    ssm_gradcheck_fn fn;
    int user; /* passed to fn as &user */
    int n_in;
    opc_input in[5];
} op_case;

extern const op_case opc_cases[];
extern const int opc_n_cases;

/* 1 when the case's op has no CUDA kernel yet (its table entry aborts): test_cuda skips it. */
int opc_cuda_missing(const op_case *c);

/* Input i of case c with N substituted: a persistent CPU tensor of dtype dt (floats)
 * or i32, given a gradient buffer when its kind requires one. */
ssm_tensor *opc_input_new(const op_case *c, int i, ssm_dtype dt, int64_t N, uint64_t seed);

#endif
