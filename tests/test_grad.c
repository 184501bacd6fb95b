/* Every differentiable op (tests/opcases.c) against central finite differences
 * in f64: relative error < 1e-6, at N = 1, 3 and 70. The tape's account of when each
 * parameter's gradient is final, and the gradient buckets started from it. */
#include <math.h>
#include <string.h>
#include "grad_buckets.h"
#include "opcases.h"
#include "params.h"
#include "profile.h"
#include "ops.h"
#include "testutil.h"

#define TOL 1e-6
#define EPS 1e-6

/* The case's op on intermediate tensors (x scaled by 1): their gradients are new when the
 * op's rule runs, so it stores them (ssm_grad_w, acc 0) into buffers gradcheck poisons
 * with NaN; on the inputs themselves (persistent gradients) the rule adds (acc 1). */
typedef struct {
    const op_case *oc;
    int user;
} through_arg;
static ssm_tensor *through(ssm_ctx *c, ssm_tensor **in, void *u) {
    through_arg *a = u;
    ssm_tensor *mid[5];
    for (int i = 0; i < a->oc->n_in; i++)
        mid[i] = in[i]->flags & SSM_T_REQUIRES_GRAD ? ssm_scale(c, in[i], 1.0) : in[i];
    return a->oc->fn(c, mid, &a->user);
}

static void check_case(const op_case *oc, int64_t n) {
    ssm_tensor *in[5];
    for (int i = 0; i < oc->n_in; i++) in[i] = opc_input_new(oc, i, SSM_F64, n, 100 + (uint64_t)i);
    for (int mid = 0; mid < 2; mid++) {
        int user = oc->user;
        through_arg ta = {oc, oc->user};
        ssm_gradcheck_result r = mid ? ssm_gradcheck(through, in, oc->n_in, &ta, EPS)
                                     : ssm_gradcheck(oc->fn, in, oc->n_in, &user, EPS);
        ck_assert_msg(r.worst_input >= 0, "%s: nothing was checked", oc->name);
        ck_assert_msg(r.max_rel_err < TOL, "%s (N=%lld, %s): relative error %.3g in input %d",
                      oc->name, (long long)n, mid ? "intermediate inputs" : "inputs",
                      r.max_rel_err, r.worst_input);
    }
    for (int i = 0; i < oc->n_in; i++) ssm_tensor_free(in[i]);
}

START_TEST(grad_op) {
    check_case(&opc_cases[_i], 3);
    check_case(&opc_cases[_i], 1);
    check_case(&opc_cases[_i], 70); /* past blocked loops (Vandermonde powers: 64) */
}
END_TEST

/* The check must catch a wrong rule: d(x^2)/dx reported as 2 instead of 2x. */
static void wrong_bw(ssm_ctx *c, ssm_node *n) {
    ssm_kernels_for(SSM_CPU)->scale(SSM_F64, n->out->grad->data, ssm_grad(c, n->in[0])->data,
                                    n->out->numel, 2.0, 1);
}
static ssm_tensor *f_wrong(ssm_ctx *c, ssm_tensor **in, void *u) {
    (void)u;
    ssm_tensor *y = ssm_tensor_like(c->arena, in[0]);
    for (int64_t i = 0; i < y->numel; i++)
        ((double *)y->data)[i] = ((double *)in[0]->data)[i] * ((double *)in[0]->data)[i];
    if (ssm_needs_grad(c, in, 1)) ssm_record(c, "wrong", wrong_bw, y, in, 1);
    return y;
}
START_TEST(gradcheck_catches_wrong_rule) {
    ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(5), 1, 1.0);
    ssm_requires_grad(x);
    ssm_gradcheck_result r = ssm_gradcheck(f_wrong, &x, 1, NULL, EPS);
    ck_assert_double_gt(r.max_rel_err, 0.1);
    ssm_tensor_free(x);
}
END_TEST

/* ReLU's values, and torch's convention at the kink: gradient 0 at x = 0 (the finite
 * differences of grad_op never land there). */
START_TEST(relu_values) {
    double xs[5] = {-2.5, -1e-300, 0.0, 1e-300, 3.25}, want[5] = {0, 0, 0, 1e-300, 3.25};
    double dwant[5] = {0, 0, 0, 1, 1}, got[5], dgot[5];
    ssm_tensor *x = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(5));
    memcpy(x->data, xs, sizeof xs);
    ssm_requires_grad(x);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *y = ssm_relu(c, x);
    ssm_tensor_to_host(y, got);
    ssm_backward(c, ssm_sum_all(c, y));
    ssm_tensor_to_host(x->grad, dgot);
    for (int i = 0; i < 5; i++) {
        ck_assert_double_eq(got[i], want[i]);
        ck_assert_double_eq(dgot[i], dwant[i]);
    }
    ssm_ctx_free(c);
    ssm_tensor_free(x);
}
END_TEST

/* The per-op profile charges each recorded op once forward and once backward, by name,
 * and leaves the results of the step unchanged. */
/* The fused dropout + residual add gives ssm_add(ssm_dropout(x), r)'s output and
 * gradients bit for bit (f32, the training dtype), and is a plain add in evaluation. */
/* linear_glu is glu(linear(x, W, b)) bit for bit, values and every gradient (f32) */
START_TEST(linear_glu_is_glu_of_linear) {
    ssm_tensor *out[2], *g[2][3];
    for (int fused = 0; fused < 2; fused++) {
        ssm_tensor *x = tu_rand(SSM_F32, SSM_DIMS(3, 50, 16), 7, -1, 1);
        ssm_tensor *W = tu_rand(SSM_F32, SSM_DIMS(24, 16), 8, -0.5, 0.5);
        ssm_tensor *b = tu_rand(SSM_F32, SSM_DIMS(24), 9, -0.5, 0.5);
        ssm_tensor *dy = tu_rand(SSM_F32, SSM_DIMS(3, 50, 12), 10, -1, 1);
        ssm_tensor *p[3] = {x, W, b};
        for (int i = 0; i < 3; i++) ssm_requires_grad(p[i]);
        ssm_ctx *c = ssm_ctx_new(1);
        ssm_tensor *y = fused ? ssm_linear_glu(c, x, W, b) : ssm_glu(c, ssm_linear(c, x, W, b));
        out[fused] = ssm_tensor_to(NULL, y, SSM_CPU);
        ssm_backward_with(c, y, dy);
        for (int i = 0; i < 3; i++) g[fused][i] = ssm_tensor_to(NULL, p[i]->grad, SSM_CPU);
        ssm_ctx_free(c);
        for (int i = 0; i < 3; i++) ssm_tensor_free(p[i]);
        ssm_tensor_free(dy);
    }
    ck_assert(!memcmp(out[0]->data, out[1]->data, (size_t)out[0]->numel * 4));
    for (int i = 0; i < 3; i++)
        ck_assert_msg(!memcmp(g[0][i]->data, g[1][i]->data, (size_t)g[0][i]->numel * 4),
                      "gradient %d differs", i);
    for (int f = 0; f < 2; f++) {
        ssm_tensor_free(out[f]);
        for (int i = 0; i < 3; i++) ssm_tensor_free(g[f][i]);
    }
}
END_TEST

/* The gradients of intermediate tensors are recycled once their producer's backward ran:
 * a chain of 24 ops needs a few gradient buffers in the arena, not 24, and the gradient
 * is still the chain's (24 scalings by 1.01: 1.01^24). */
START_TEST(step_grads_are_recycled) {
    const int64_t n = 100000;
    ssm_tensor *x = tu_rand(SSM_F32, 1, &n, 12, -1, 1);
    ssm_requires_grad(x);
    ssm_ctx *c = ssm_ctx_new(1);
    ssm_tensor *y = x;
    for (int i = 0; i < 24; i++) y = ssm_scale(c, y, 1.01);
    ssm_tensor *loss = ssm_sum_all(c, y);
    size_t before = ssm_arena_peak(c->arena, SSM_CPU);
    ssm_backward(c, loss);
    size_t grew = ssm_arena_peak(c->arena, SSM_CPU) - before, buf = (size_t)n * sizeof(float);
    ck_assert_msg(grew <= 3 * buf + 65536, "backward took %zu bytes of arena for buffers of %zu",
                  grew, buf);
    const double g = pow(1.01, 24);
    for (int64_t i = 0; i < n; i++) ck_assert_double_eq_tol(((float *)x->grad->data)[i], g, 1e-5);
    ssm_ctx_free(c);
    ssm_tensor_free(x);
}
END_TEST

START_TEST(dropout_add_is_dropout_then_add) {
    int64_t n = 5000;
    ssm_tensor *out[2], *gx[2], *gr[2];
    for (int fused = 0; fused < 2; fused++) {
        ssm_tensor *x = tu_rand(SSM_F32, 1, &n, 3, -1, 1), *r = tu_rand(SSM_F32, 1, &n, 4, -1, 1);
        ssm_tensor *dy = tu_rand(SSM_F32, 1, &n, 5, -1, 1);
        ssm_requires_grad(x);
        ssm_requires_grad(r);
        ssm_ctx *c = ssm_ctx_new(11);
        ssm_tensor *y = fused ? ssm_dropout_add(c, x, 0.25, r)
                              : ssm_add(c, ssm_dropout(c, x, 0.25), r);
        out[fused] = ssm_tensor_to(NULL, y, SSM_CPU);
        ssm_backward_with(c, y, dy);
        gx[fused] = ssm_tensor_to(NULL, x->grad, SSM_CPU);
        gr[fused] = ssm_tensor_to(NULL, r->grad, SSM_CPU);
        c->training = 0;
        ssm_tensor *e = ssm_dropout_add(c, x, 0.25, r);
        for (int64_t i = 0; i < n; i++)
            ck_assert(((float *)e->data)[i] == ((float *)x->data)[i] + ((float *)r->data)[i]);
        ssm_ctx_free(c);
        ssm_tensor_free(dy);
        ssm_tensor_free(x);
        ssm_tensor_free(r);
    }
    size_t bytes = (size_t)n * sizeof(float);
    ck_assert(!memcmp(out[0]->data, out[1]->data, bytes));
    ck_assert(!memcmp(gx[0]->data, gx[1]->data, bytes));
    ck_assert(!memcmp(gr[0]->data, gr[1]->data, bytes));
    int dropped = 0;
    for (int64_t i = 0; i < n; i++) dropped += ((float *)gx[1]->data)[i] == 0.0f;
    ck_assert_msg(dropped > n / 5 && dropped < n / 3, "%d of %lld dropped at p = 0.25", dropped,
                  (long long)n);
    for (int i = 0; i < 2; i++) {
        ssm_tensor_free(out[i]);
        ssm_tensor_free(gx[i]);
        ssm_tensor_free(gr[i]);
    }
}
END_TEST

START_TEST(profile_counts_ops) {
    ssm_tensor *a = tu_randn(SSM_F64, SSM_DIMS(3, 4), 2, 1.0), *b = tu_randn(SSM_F64, SSM_DIMS(4, 5), 3, 1.0);
    ssm_requires_grad(a);
    double grads[2][12];
    for (int run = 0; run < 2; run++) {
        ssm_ctx *c = ssm_ctx_new(0);
        ssm_profile p;
        if (run) ssm_profile_attach(c, &p, SSM_CPU);
        ssm_tensor *y = ssm_sum_all(c, ssm_exp(c, ssm_exp(c, ssm_matmul(c, a, b))));
        ssm_tensor_zero(a->grad);
        ssm_backward(c, y);
        ssm_tensor_to_host(a->grad, grads[run]);
        if (run) {
            ssm_profile_attach(c, NULL, SSM_CPU);
            ck_assert_int_eq(p.n, 4); /* sum_all is a reshape and a sum */
            const char *ops[4] = {"matmul", "exp", "reshape", "sum"};
            const int64_t calls[4] = {1, 2, 1, 1};
            for (int i = 0; i < 4; i++) {
                int j = 0;
                while (j < p.n && strcmp(p.e[j].op, ops[i])) j++;
                ck_assert_msg(j < p.n, "no entry for %s", ops[i]);
                ck_assert_int_eq(p.e[j].fwd_calls, calls[i]);
                ck_assert_int_eq(p.e[j].bwd_calls, calls[i]);
                ck_assert(p.e[j].fwd_ms >= 0 && p.e[j].bwd_ms >= 0);
            }
            ck_assert_ptr_null(c->profile);
        }
        ssm_ctx_free(c);
    }
    for (int i = 0; i < 12; i++) ck_assert_double_eq(grads[0][i], grads[1][i]);
    ssm_tensor_free(a);
    ssm_tensor_free(b);
}
END_TEST

/* Parameters of ps set to random values (the flat buffer at once). */
static void randomize(ssm_params *ps, uint64_t seed) {
    ssm_tensor *r = tu_randn(ps->dtype, SSM_DIMS(ps->numel), seed, 1.0);
    ssm_tensor_copy(ps->values, r);
    ssm_tensor_free(r);
}

/* A backward hook keeping the flat gradient buffer after each node. */
typedef struct {
    const ssm_params *ps;
    double snap[16][16]; /* [node][element] */
} grad_snaps;
static void snaps_begin(void *arg, const ssm_ctx *c) {
    (void)arg;
    ck_assert_int_le(c->n_nodes, 16);
}
static void snaps_node(void *arg, int64_t i) {
    grad_snaps *g = arg;
    ssm_tensor_to_host(g->ps->grads, g->snap[i]);
}

/* w is taken twice (nodes 0 and 4): its gradient is final after node 0, the earliest
 * consumer, as the walk is in reverse; q only through a view (the reshape, node 2); v by
 * no node (final before the first). Each gradient stays as it is after its node, and w's
 * is not final after node 1 yet. */
START_TEST(tape_grad_final_is_earliest_consumer) {
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_tensor *w = ssm_params_add(ps, "w", SSM_GROUP_DEFAULT, SSM_DIMS(4));
    ssm_tensor *v = ssm_params_add(ps, "v", SSM_GROUP_SSM, SSM_DIMS(3));
    ssm_tensor *b = ssm_params_add(ps, "b", SSM_GROUP_DEFAULT, SSM_DIMS(4));
    ssm_tensor *q = ssm_params_add(ps, "q", SSM_GROUP_NO_DECAY, SSM_DIMS(2, 2));
    ssm_params_finalize(ps);
    ck_assert_int_eq(ps->numel, 15);
    randomize(ps, 5);
    ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(4), 6, 1.0);
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *z = ssm_add(c, ssm_mul(c, x, w), b);          /* nodes 0, 1 */
    ssm_tensor *qr = ssm_reshape(c, q, SSM_DIMS(4));          /* node 2 */
    ssm_tensor *u = ssm_mul(c, ssm_mul(c, z, qr), w);         /* nodes 3, 4 */
    ssm_tensor *loss = ssm_sum_all(c, u);                     /* nodes 5, 6 */
    ck_assert_int_eq(c->n_nodes, 7);
    ck_assert_int_eq(ssm_params_index(ps, q), 3);
    ck_assert_int_eq(ssm_params_index(ps, qr), -1); /* a view of q is not q */
    ck_assert_int_eq(ssm_params_index(ps, x), -1);
    int64_t final[4];
    ssm_tape_grad_final(c, ps, final);
    ck_assert_int_eq(final[0], 0); /* w */
    ck_assert_int_eq(final[1], 7); /* v */
    ck_assert_int_eq(final[2], 1); /* b */
    ck_assert_int_eq(final[3], 2); /* q */
    grad_snaps g = {.ps = ps};
    ssm_backward_hook h = {snaps_begin, snaps_node, &g};
    c->hook = &h;
    ssm_params_zero_grad(ps);
    ssm_backward(c, loss);
    double end[15];
    ssm_tensor_to_host(ps->grads, end);
    ssm_tensor *p[4] = {w, v, b, q};
    for (int k = 0; k < 4; k++) {
        int64_t off = ((double *)p[k]->grad->data - (double *)ps->grads->data);
        for (int64_t i = final[k] < 7 ? final[k] : 6; i >= 0; i--)
            ck_assert_msg(!memcmp(g.snap[i] + off, end + off, (size_t)p[k]->numel * sizeof(double)),
                          "%s: gradient changed after node %lld", p[k]->name, (long long)i);
    }
    ck_assert_msg(memcmp(g.snap[1], end, 4 * sizeof(double)) != 0, "w final before node 0");
    ssm_ctx_free(c);
    ssm_tensor_free(x);
    ssm_params_free(ps);
}
END_TEST

/* A comm table that records the sums started: their place, their values then (in a world
 * of one a sum leaves them as they are), and whether the first layer's weight gradient
 * was still zero (the backward had not reached it: overlap). */
static struct {
    const ssm_params *ps;
    int n, waits;
    int64_t begin[8], n_el[8];
    double val[8][64];
    int w1_zero[8];
} rec;
static void rec_start(ssm_dtype dt, void *x, int64_t n) {
    ck_assert_int_eq(dt, SSM_F64);
    ck_assert_int_lt(rec.n, 8);
    rec.begin[rec.n] = (double *)x - (double *)rec.ps->grads->data;
    rec.n_el[rec.n] = n;
    memcpy(rec.val[rec.n], x, (size_t)n * sizeof(double));
    const double *w1 = rec.ps->p[0]->grad->data;
    rec.w1_zero[rec.n] = 1;
    for (int64_t i = 0; i < rec.ps->p[0]->numel; i++) rec.w1_zero[rec.n] &= w1[i] == 0;
    rec.n++;
}
static void rec_wait(void) { rec.waits++; }
static void rec_allreduce(ssm_dtype dt, void *x, int64_t n, ssm_reduce_op op) {
    (void)dt, (void)x, (void)n, (void)op;
}
static const ssm_comm_table rec_table = {.name = "recorder", .allreduce = rec_allreduce,
                                         .start_sum = rec_start, .wait_all = rec_wait};

/* Three linear layers, weights in the default group and biases in the no-decay group (the
 * flat buffer: W1 W2 W3 | b1 b2 b3), buckets of 6 elements: [W3], [b2 b3], [W2], [b1],
 * [W1], started latest layer first, each once its gradients are final: the values summed
 * are the final gradients, times the weight, and the last layer's bucket starts while
 * the first layer's gradient is still to come. Without a backward (a rank with nothing
 * in the step) the same buckets start in the same order. */
START_TEST(grad_buckets_start_when_final) {
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_tensor *W[3], *bias[3];
    char name[16];
    for (int l = 0; l < 3; l++) {
        snprintf(name, sizeof name, "W%d", l + 1);
        W[l] = ssm_params_add(ps, name, SSM_GROUP_DEFAULT, SSM_DIMS(3, 3));
        snprintf(name, sizeof name, "b%d", l + 1);
        bias[l] = ssm_params_add(ps, name, SSM_GROUP_NO_DECAY, SSM_DIMS(3));
    }
    ssm_params_finalize(ps);
    randomize(ps, 7);
    ssm_tensor *x = tu_randn(SSM_F64, SSM_DIMS(2, 3), 8, 1.0);
    double plain[36];
    ssm_grad_sync gs;
    ssm_grad_sync_init(&gs, ps, &rec_table, 6 * sizeof(double) / 1048576.0);
    ck_assert(gs.overlap);
    ck_assert_int_eq(gs.n, 5);
    const int64_t begin[5] = {18, 30, 9, 27, 0}, n_el[5] = {9, 6, 9, 3, 9};
    for (int run = 0; run < 3; run++) { /* plain, buckets, buckets without a backward */
        ssm_ctx *c = ssm_ctx_new(0);
        memset(&rec, 0, sizeof rec);
        rec.ps = ps;
        ssm_params_zero_grad(ps);
        if (run) ssm_grad_sync_begin(&gs, c, 0.5);
        if (run < 2) {
            ssm_tensor *h = x;
            for (int l = 0; l < 3; l++) h = ssm_tanh(c, ssm_linear(c, h, W[l], bias[l]));
            ssm_backward(c, ssm_sum_all(c, ssm_mul(c, h, h)));
        }
        if (run) ssm_grad_sync_end(&gs);
        ck_assert_ptr_null(c->hook);
        double g[36];
        ssm_tensor_to_host(ps->grads, g);
        if (run == 0) memcpy(plain, g, sizeof g);
        ck_assert_int_eq(rec.n, run ? 5 : 0);
        ck_assert_int_eq(rec.waits, run ? 1 : 0);
        for (int j = 0; j < rec.n; j++) {
            ck_assert_int_eq(rec.begin[j], begin[j]);
            ck_assert_int_eq(rec.n_el[j], n_el[j]);
            for (int64_t i = 0; i < n_el[j]; i++) {
                double want = run == 1 ? 0.5 * plain[begin[j] + i] : 0;
                ck_assert_msg(rec.val[j][i] == want && g[begin[j] + i] == want,
                              "bucket %d, element %lld: %.17g started, %.17g at the end, want %.17g",
                              j, (long long)i, rec.val[j][i], g[begin[j] + i], want);
            }
        }
        if (run == 1) ck_assert(rec.w1_zero[0] && !rec.w1_zero[4]);
        ssm_ctx_free(c);
    }
    ssm_grad_sync_free(&gs);
    ssm_tensor_free(x);
    ssm_params_free(ps);
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad");
    TCase *t = tcase_create("f64 finite differences");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, grad_op, 0, opc_n_cases);
    tcase_add_test(t, gradcheck_catches_wrong_rule);
    tcase_add_test(t, relu_values);
    tcase_add_test(t, profile_counts_ops);
    tcase_add_test(t, dropout_add_is_dropout_then_add);
    tcase_add_test(t, linear_glu_is_glu_of_linear);
    tcase_add_test(t, step_grads_are_recycled);
    tcase_add_test(t, tape_grad_final_is_earliest_consumer);
    tcase_add_test(t, grad_buckets_start_when_final);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
