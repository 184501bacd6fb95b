/* Optimizers against PyTorch (golden adam.h5: Adam, AdamW, clip_grad_norm_),
 * SGD against its formula, parameter groups, LR schedules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "h5io.h"
#include "log.h"
#include "kernels.h"
#include "optim.h"
#include "testutil.h"

static ssm_tensor *read_or_fail(ssm_h5 *f, const char *name, ssm_dtype dt) {
    ssm_tensor *t;
    ck_assert_msg(ssm_h5_read(f, name, dt, &t) == SSM_OK, "%s", ssm_last_error());
    return t;
}

static double attr(ssm_h5 *f, const char *name) {
    double v;
    ck_assert_msg(ssm_h5_attr_double(f, "/", name, &v) == SSM_OK, "%s", ssm_last_error());
    return v;
}

/* Run `steps` updates of Adam or AdamW from the golden p0 with the golden gradients. */
static void golden_adam(ssm_dtype dt, int decoupled, double tol) {
    ssm_h5 *f = ssm_h5_open(tu_data("adam.h5"));
    ck_assert_msg(f, "%s", ssm_last_error());
    ssm_tensor *p0 = read_or_fail(f, "/inputs/p0", SSM_F64);
    ssm_tensor *grads = read_or_fail(f, "/inputs/grads", SSM_F64);
    const char *pre = decoupled ? "/outputs/adamw" : "/outputs/adam";
    char name[128];
    snprintf(name, sizeof name, "%s_params", pre);
    ssm_tensor *want = read_or_fail(f, name, SSM_F64);
    snprintf(name, sizeof name, "%s_exp_avg", pre);
    ssm_tensor *want_m = read_or_fail(f, name, SSM_F64);
    snprintf(name, sizeof name, "%s_exp_avg_sq", pre);
    ssm_tensor *want_v = read_or_fail(f, name, SSM_F64);
    int64_t n = p0->numel, steps = grads->shape[0];
    ck_assert_int_eq(grads->shape[1], n);

    ssm_params *ps = ssm_params_new(dt, SSM_CPU);
    ssm_tensor *p = ssm_params_add(ps, "p", SSM_GROUP_DEFAULT, SSM_DIMS(n));
    ssm_params_finalize(ps);
    ssm_tensor *p0c = ssm_tensor_cast(NULL, p0, dt);
    ssm_tensor_copy(p, p0c);
    ssm_optim *o = ssm_optim_new(decoupled ? SSM_OPT_ADAMW : SSM_OPT_ADAM, ps, attr(f, "lr"),
                                 attr(f, "weight_decay"));
    o->beta1 = attr(f, "beta1");
    o->beta2 = attr(f, "beta2");
    o->eps = attr(f, "eps");
    ssm_tensor *row = ssm_tensor_new(SSM_F64, SSM_CPU, SSM_DIMS(n));
    for (int64_t s = 0; s < steps; s++) {
        memcpy(row->data, (double *)grads->data + s * n, (size_t)n * sizeof(double));
        ssm_tensor *g = ssm_tensor_cast(NULL, row, dt);
        ssm_tensor_copy(p->grad, g);
        ssm_tensor_free(g);
        ssm_optim_step(o, 1.0, 1.0);
        memcpy(row->data, (double *)want->data + s * n, (size_t)n * sizeof(double));
        double e = tu_rel_err(p, row);
        ck_assert_msg(e < tol, "%s step %lld: parameter relative error %.3g", pre,
                      (long long)s + 1, e);
    }
    ck_assert_double_lt(tu_rel_err(o->m, want_m), tol);
    ck_assert_double_lt(tu_rel_err(o->v, want_v), tol);
    ck_assert_int_eq(o->step, (int64_t)attr(f, decoupled ? "adamw_state_step" : "adam_state_step"));
    ssm_tensor *all[] = {p0, grads, want, want_m, want_v, p0c, row};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ssm_tensor_free(all[i]);
    ssm_optim_free(o);
    ssm_params_free(ps);
    ssm_h5_close(f);
}

START_TEST(adam_matches_pytorch) { golden_adam(SSM_F64, 0, 1e-12); }
END_TEST
START_TEST(adamw_matches_pytorch) { golden_adam(SSM_F64, 1, 1e-12); }
END_TEST
START_TEST(adam_f32_matches_pytorch) {
    golden_adam(SSM_F32, 0, 1e-5);
    golden_adam(SSM_F32, 1, 1e-5);
}
END_TEST

static void golden_clip(const char *group) {
    ssm_h5 *f = ssm_h5_open(tu_data("adam.h5"));
    ck_assert_msg(f, "%s", ssm_last_error());
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_tensor *g[3];
    char name[128];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "/inputs/%s/grad%d", group, i);
        g[i] = read_or_fail(f, name, SSM_F64);
        snprintf(name, sizeof name, "t%d", i);
        ssm_params_add(ps, name, i % 2 ? SSM_GROUP_SSM : SSM_GROUP_DEFAULT, g[i]->ndim, g[i]->shape);
    }
    ssm_params_finalize(ps);
    for (int i = 0; i < 3; i++) ssm_tensor_copy(ps->p[i]->grad, g[i]);
    double max_norm;
    ck_assert(ssm_h5_attr_double(f, "/", "clip_max_norm", &max_norm) == SSM_OK);
    snprintf(name, sizeof name, "/outputs/%s/total_norm", group);
    ssm_tensor *want_norm = read_or_fail(f, name, SSM_F64);
    double norm = ssm_clip_grad_norm(ps, max_norm);
    ck_assert_double_eq_tol(norm, ((double *)want_norm->data)[0], 1e-12 * norm);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "/outputs/%s/clipped%d", group, i);
        ssm_tensor *want = read_or_fail(f, name, SSM_F64);
        ck_assert_double_lt(tu_rel_err(ps->p[i]->grad, want), 1e-12);
        ssm_tensor_free(want);
        ssm_tensor_free(g[i]);
    }
    ssm_tensor_free(want_norm);
    ssm_params_free(ps);
    ssm_h5_close(f);
}

START_TEST(clip_matches_pytorch) {
    golden_clip("clip");
    golden_clip("clip_small");
}
END_TEST

/* Two groups with their own lr and weight decay; SGD with momentum against its formula. */
START_TEST(sgd_momentum_groups) {
    ssm_params *ps = ssm_params_new(SSM_F64, SSM_CPU);
    ssm_tensor *a = ssm_params_add(ps, "a", SSM_GROUP_SSM, SSM_DIMS(3));
    ssm_tensor *b = ssm_params_add(ps, "b", SSM_GROUP_DEFAULT, SSM_DIMS(2));
    ssm_params_finalize(ps);
    ck_assert_int_eq(ps->group_begin[SSM_GROUP_SSM] - ps->group_begin[SSM_GROUP_DEFAULT], 2);
    double pa[3] = {1, -2, 3}, pb[2] = {0.5, 4}, buf_a[3] = {0}, buf_b[2] = {0};
    ssm_tensor_from_host(a, pa);
    ssm_tensor_from_host(b, pb);
    ssm_optim *o = ssm_optim_new(SSM_OPT_SGD, ps, 0.1, 0.01);
    o->group[SSM_GROUP_SSM] = (ssm_group_hparams){0.05, 0.0};
    o->momentum = 0.9;
    for (int s = 0; s < 3; s++) {
        double ga[3] = {0.3 * s, -1, 2}, gb[2] = {1, s - 1.0};
        ssm_tensor_from_host(a->grad, ga);
        ssm_tensor_from_host(b->grad, gb);
        ssm_optim_step(o, 0.5, 1.0); /* lr factor 0.5 */
        for (int i = 0; i < 3; i++) {
            buf_a[i] = s == 0 ? ga[i] : 0.9 * buf_a[i] + ga[i];
            pa[i] -= 0.05 * 0.5 * buf_a[i];
        }
        for (int i = 0; i < 2; i++) {
            double g = gb[i] + 0.01 * pb[i];
            buf_b[i] = s == 0 ? g : 0.9 * buf_b[i] + g;
            pb[i] -= 0.1 * 0.5 * buf_b[i];
        }
    }
    for (int i = 0; i < 3; i++) ck_assert_double_eq_tol(ssm_tensor_get(a, i), pa[i], 1e-14);
    for (int i = 0; i < 2; i++) ck_assert_double_eq_tol(ssm_tensor_get(b, i), pb[i], 1e-14);
    ssm_optim_free(o);
    ssm_params_free(ps);
}
END_TEST

/* The update that reads the step's statistics (ssm_optim_prepare/apply: the trainer's
 * path) against the one given its multiplier (ssm_optim_step): clipping from the stored
 * squared norm is PyTorch's coefficient, and a non-finite loss or norm changes nothing. */
START_TEST(update_from_step_stats) {
    ssm_params *ps[2];
    ssm_optim *o[2];
    double g[5] = {3, -4, 1, 0.5, 2}, norm = sqrt(9 + 16 + 1 + 0.25 + 4);
    for (int i = 0; i < 2; i++) {
        ps[i] = ssm_params_new(SSM_F64, SSM_CPU);
        ssm_tensor *a = ssm_params_add(ps[i], "a", SSM_GROUP_SSM, SSM_DIMS(3));
        ssm_tensor *b = ssm_params_add(ps[i], "b", SSM_GROUP_DEFAULT, SSM_DIMS(2));
        ssm_params_finalize(ps[i]);
        ssm_tensor_fill(a, 0.5);
        ssm_tensor_fill(b, -1.0);
        o[i] = ssm_optim_new(SSM_OPT_ADAMW, ps[i], 0.1, 0.01);
        o[i]->group[SSM_GROUP_SSM] = (ssm_group_hparams){0.05, 0.0};
        ssm_tensor_from_host(ps[i]->grads, g);
    }
    for (int step = 0; step < 3; step++) {
        ssm_step_stats st = {.loss_sum = 2.0, .count = 1};
        ssm_grad_norm_sq_into(ps[1], &st);
        ck_assert_double_eq_tol(sqrt(st.gnorm_sq), norm, 1e-12);
        ssm_optim_step(o[0], 0.5, ssm_clip_coef(norm, 1.0));
        ssm_optim_prepare(o[1], 0.5, 1.0);
        ssm_optim_apply(o[1], &st);
        for (int64_t j = 0; j < 5; j++)
            ck_assert_double_eq(ssm_tensor_get(ps[1]->values, j), ssm_tensor_get(ps[0]->values, j));
    }
    double before[5];
    for (int j = 0; j < 5; j++) before[j] = ssm_tensor_get(ps[1]->values, j);
    ssm_step_stats bad[2] = {{.loss_sum = NAN, .gnorm_sq = 1}, {.loss_sum = 1, .gnorm_sq = INFINITY}};
    for (int i = 0; i < 2; i++) {
        ssm_optim_prepare(o[1], 1.0, 0);
        ssm_optim_apply(o[1], &bad[i]);
        for (int j = 0; j < 5; j++) ck_assert_double_eq(ssm_tensor_get(ps[1]->values, j), before[j]);
    }
    for (int i = 0; i < 2; i++) {
        ssm_optim_free(o[i]);
        ssm_params_free(ps[i]);
    }
}
END_TEST

/* xent_stats: argmax hits over counted rows (ties to the lowest class, NaN never wins),
 * the count, and loss * count, accumulated. */
START_TEST(xent_stats_counts) {
    const ssm_kernels *k = ssm_kernels_for(SSM_CPU);
    float z[6 * 3] = {1, 2, 2,   /* tie: class 1 */
                      NAN, 0, -1, /* NaN skipped: class 1 */
                      5, NAN, 5,  /* class 0 */
                      NAN, NAN, NAN, /* all NaN: class 0 */
                      0, 0, 9,    /* ignored row */
                      -1, -2, -3};
    int32_t y[6] = {1, 2, 0, 0, -100, 1};
    float loss = 0.75f, lse[7] = {0, 0, 0, 0, 0, 0, 5};
    ssm_step_stats st = {.loss_sum = 1, .correct = 10, .count = 20};
    k->xent_stats(SSM_F32, z, y, &loss, lse, 6, 3, -100, &st);
    ck_assert_double_eq(st.correct, 10 + 3); /* rows 0, 2, 3 */
    ck_assert_double_eq(st.count, 25);
    ck_assert_double_eq(st.loss_sum, 1 + 0.75 * 5);
    k->xent_stats(SSM_F32, z, y, NULL, lse, 6, 3, -100, &st);
    ck_assert_double_eq(st.loss_sum, 1 + 0.75 * 5);
    ck_assert_double_eq(st.count, 30);
}
END_TEST

START_TEST(lr_schedules) {
    ssm_lr_schedule s = {.kind = SSM_SCHED_COSINE, .warmup_steps = 10, .total_steps = 110,
                         .min_factor = 0.1};
    ck_assert_double_eq_tol(ssm_lr_factor(&s, 0), 0.1, 1e-15);
    ck_assert_double_eq_tol(ssm_lr_factor(&s, 9), 1.0, 1e-15);
    ck_assert_double_eq_tol(ssm_lr_factor(&s, 10), 1.0, 1e-15);
    ck_assert_double_eq_tol(ssm_lr_factor(&s, 60), 0.55, 1e-12); /* halfway: min + (1-min)/2 */
    ck_assert_double_eq_tol(ssm_lr_factor(&s, 110), 0.1, 1e-15);
    ck_assert_double_eq_tol(ssm_lr_factor(&s, 500), 0.1, 1e-15);
    ssm_lr_schedule st = {.kind = SSM_SCHED_STEP, .step_size = 5, .gamma = 0.5};
    ck_assert_double_eq(ssm_lr_factor(&st, 4), 1.0);
    ck_assert_double_eq(ssm_lr_factor(&st, 5), 0.5);
    ck_assert_double_eq(ssm_lr_factor(&st, 12), 0.25);
    ssm_lr_schedule c = {.kind = SSM_SCHED_CONSTANT};
    ck_assert_double_eq(ssm_lr_factor(&c, 1000), 1.0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *t = tcase_create("optimizers");
    tcase_add_test(t, adam_matches_pytorch);
    tcase_add_test(t, adamw_matches_pytorch);
    tcase_add_test(t, adam_f32_matches_pytorch);
    tcase_add_test(t, clip_matches_pytorch);
    tcase_add_test(t, sgd_momentum_groups);
    tcase_add_test(t, lr_schedules);
    tcase_add_test(t, update_from_step_stats);
    tcase_add_test(t, xent_stats_counts);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
