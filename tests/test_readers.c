/* data/: the image readers (CIFAR-10 binary batches, Pathfinder / Path-X trees, IDX
 * for MNIST), the pixel permutations, the feature normalisation, and their wiring to
 * [data] in tools/tasks.c. Fixtures: tests/data/{cifar,cifar_bad,mnist,pathfinder32,
 * pathfinder128,pathfinder_bad}, written by tests/data/make_image_fixtures.py (Pillow),
 * and tests/data/listops plus 11 more Path-X images by make_lra_fixtures.py; the pixel
 * formulas below repeat the scripts'. ListOps files through [data], data.append_eos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cifar.h"
#include "dataset.h"
#include "idx.h"
#include "listops.h"
#include "log.h"
#include "pathfinder.h"
#include "permute.h"
#include "ssmconfig.h"
#include "tasks.h"
#include "testutil.h"

/* ---- the fixtures' pixel formulas (make_image_fixtures.py) ---- */

static int cifar_px(int k, int c, int t) { return (k * 31 + c * 85 + t * 3) % 256; }
static int cifar_label(int k) { return (k * 7 + 3) % 10; }
static int mnist_px(int k, int64_t t) { return (int)((7 * t + k) % 256); }
static int pf_px(int b, int i, int y, int x) { return (5 * y + 3 * x + 40 * b + 17 * i) % 256; }

static const int32_t *seq(const ssm_dataset *d, int64_t i) {
    int64_t len;
    return ssm_dataset_seq(d, i, 0, &len);
}

static void expect_msg(const char *want) {
    ck_assert_msg(strstr(ssm_last_error(), want), "message '%s' lacks '%s'", ssm_last_error(), want);
}

static void cifar_train_paths(char buf[5][512], const char *paths[5]) {
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "cifar/data_batch_%d.bin", i + 1);
        int n = snprintf(buf[i], sizeof buf[i], "%s", tu_data(name));
        ck_assert(n > 0 && (size_t)n < sizeof buf[i]);
        paths[i] = buf[i];
    }
}

/* ---- CIFAR-10 ---- */

START_TEST(cifar_luma_is_pillows) {
    /* Image.new("RGB", (1, 1), rgb).convert("L") in Pillow 9.4: 16-bit fixed point,
     * rounded, which differs from rounding 0.299R + 0.587G + 0.114B (150) and from
     * truncating it (53) */
    ck_assert_int_eq(ssm_cifar_luma(231, 131, 31), 149);
    ck_assert_int_eq(ssm_cifar_luma(68, 32, 130), 54);
    ck_assert_int_eq(ssm_cifar_luma(60, 253, 230), 193);
    ck_assert_int_eq(ssm_cifar_luma(255, 255, 255), 255);
    ck_assert_int_eq(ssm_cifar_luma(0, 0, 0), 0);
}
END_TEST

START_TEST(cifar_grayscale) {
    char buf[5][512];
    const char *paths[5];
    cifar_train_paths(buf, paths);
    ssm_dataset *d;
    ck_assert_msg(ssm_cifar_read(paths, 5, 1, &d) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(d->n, 10);
    ck_assert_int_eq(d->channels, 1);
    ck_assert_int_eq(d->vocab_size, 256);
    ck_assert_int_eq(d->n_classes, 10);
    ck_assert_int_eq(d->longest, 1024);
    for (int k = 0; k < 10; k++) ck_assert_int_eq(d->labels[k], cifar_label(k));
    /* Pillow's convert("L") of the fixture (printed by make_image_fixtures.py) */
    const int32_t want0[6] = {149, 54, 255, 0, 81, 84}, want9[4] = {92, 95, 98, 101};
    for (int t = 0; t < 6; t++) ck_assert_int_eq(seq(d, 0)[t], want0[t]);
    ck_assert_int_eq(seq(d, 0)[1023], 143);
    for (int t = 0; t < 4; t++) ck_assert_int_eq(seq(d, 9)[t], want9[t]);
    /* S4: ToTensor then Normalize(mean=122.6/255, std=61.0/255) */
    float f[6];
    ssm_dataset_features(d, seq(d, 0), 6, f);
    for (int t = 0; t < 6; t++)
        ck_assert_double_eq_tol(f[t], (want0[t] / 255.0 - 122.6 / 255.0) / (61.0 / 255.0), 1e-5);
    ck_assert_double_eq_tol(f[2], (255 - 122.6) / 61.0, 1e-5);
    ssm_dataset_free(d);
}
END_TEST

START_TEST(cifar_colour) {
    char buf[5][512];
    const char *paths[5];
    cifar_train_paths(buf, paths);
    ssm_dataset *d;
    ck_assert_msg(ssm_cifar_read(paths + 4, 1, 0, &d) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(d->n, 2); /* records 8 and 9 */
    ck_assert_int_eq(d->channels, 3);
    ck_assert_int_eq(d->labels[1], cifar_label(9));
    const int32_t *x = seq(d, 1);
    for (int t = 0; t < 1024; t += 97)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(x[3 * t + c], cifar_px(9, c, t));
    const double mean[3] = {0.4914, 0.4822, 0.4465}, std[3] = {0.247, 0.243, 0.261};
    float f[6];
    ssm_dataset_features(d, x + 3 * 10, 6, f); /* positions 10 and 11 */
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(f[i], (cifar_px(9, i % 3, 10 + i / 3) / 255.0 - mean[i % 3]) / std[i % 3],
                                1e-5);
    ssm_dataset_free(d);

    /* record 0's special pixels, in colour */
    ck_assert_int_eq(ssm_cifar_read(paths, 1, 0, &d), SSM_OK);
    const int32_t want[6] = {231, 131, 31, 68, 32, 130};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(seq(d, 0)[i], want[i]);
    ssm_dataset_free(d);
}
END_TEST

static void expect_cifar_error(const char *path, const char *want1, const char *want2) {
    ssm_dataset *d = (ssm_dataset *)1;
    ck_assert_int_eq(ssm_cifar_read(&path, 1, 1, &d), SSM_ERR);
    ck_assert_ptr_null(d);
    expect_msg(want1);
    expect_msg(want2);
}

START_TEST(cifar_errors_name_file_and_record) {
    char bad[512];
    snprintf(bad, sizeof bad, "%s", tu_data("cifar_bad/label.bin"));
    expect_cifar_error(bad, "cifar_bad/label.bin: record 1 (byte offset 3073)",
                       "label 10, expected 0-9");
    snprintf(bad, sizeof bad, "%s", tu_data("cifar_bad/truncated.bin"));
    expect_cifar_error(bad, "cifar_bad/truncated.bin: record 1 is truncated",
                       "100 of 3073 bytes");
    expect_cifar_error("/nonexistent/data_batch_1.bin", "/nonexistent/data_batch_1.bin: cannot open",
                       "data_batch_1.bin .. data_batch_5.bin, test_batch.bin");
    char dir[256], empty[300];
    tu_tmpdir(dir, sizeof dir);
    snprintf(empty, sizeof empty, "%s/test_batch.bin", dir);
    tu_spit(empty, "", 0);
    expect_cifar_error(empty, "test_batch.bin: empty", "3073-byte");
    tu_rm_tree(dir);
}
END_TEST

/* ---- permutations ---- */

static void assert_is_permutation(const int64_t *p, int64_t n) {
    char *seen = calloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) {
        ck_assert(p[i] >= 0 && p[i] < n && !seen[p[i]]);
        seen[p[i]] = 1;
    }
    free(seen);
}

START_TEST(bitreversal_matches_s4) {
    /* state-spaces/s4 src/utils/permutations.py bitreversal_permutation(n), run with numpy */
    int64_t p[1024];
    ssm_perm_bitreversal(784, p);
    const int64_t head[16] = {0, 512, 256, 768, 128, 640, 384, 64, 576, 320, 192, 704, 448, 32, 544, 288};
    const int64_t tail[8] = {703, 447, 127, 639, 383, 255, 767, 511};
    for (int i = 0; i < 16; i++) ck_assert_int_eq(p[i], head[i]);
    for (int i = 0; i < 8; i++) ck_assert_int_eq(p[776 + i], tail[i]);
    assert_is_permutation(p, 784);
    ssm_perm_bitreversal(10, p);
    const int64_t ten[10] = {0, 8, 4, 2, 6, 1, 9, 5, 3, 7};
    for (int i = 0; i < 10; i++) ck_assert_int_eq(p[i], ten[i]);
    ssm_perm_bitreversal(1024, p);
    const int64_t full[8] = {0, 512, 256, 768, 128, 640, 384, 896};
    for (int i = 0; i < 8; i++) ck_assert_int_eq(p[i], full[i]);
    assert_is_permutation(p, 1024);
    ssm_perm_bitreversal(1, p);
    ck_assert_int_eq(p[0], 0);
}
END_TEST

START_TEST(random_permutation_matches_numpy) {
    /* numpy 1.24 np.random.RandomState(seed).permutation(n) */
    int64_t p[784];
    ssm_perm_numpy(92916, 784, p);
    const int64_t want[12] = {319, 576, 323, 107, 355, 716, 197, 20, 625, 60, 443, 620};
    for (int i = 0; i < 12; i++) ck_assert_int_eq(p[i], want[i]);
    assert_is_permutation(p, 784);
    ssm_perm_numpy(0, 10, p);
    const int64_t ten[10] = {2, 8, 4, 9, 1, 6, 7, 3, 0, 5};
    for (int i = 0; i < 10; i++) ck_assert_int_eq(p[i], ten[i]);
}
END_TEST

START_TEST(permute_moves_whole_positions) {
    ssm_dataset_spec spec = {.name = "t", .channels = 3, .has_labels = 1, .vocab_size = 100,
                             .n_classes = 2};
    ssm_dataset *d = ssm_dataset_new(&spec);
    int32_t x[12];
    for (int i = 0; i < 12; i++) x[i] = i; /* position t holds 3t, 3t+1, 3t+2 */
    ssm_dataset_add(d, x, 4, NULL, 1);
    ssm_dataset_permute(d, (const int64_t[]){2, 0, 3, 1}, 4);
    const int32_t want[12] = {6, 7, 8, 0, 1, 2, 9, 10, 11, 3, 4, 5};
    for (int i = 0; i < 12; i++) ck_assert_int_eq(seq(d, 0)[i], want[i]);
    ck_assert_int_eq(d->labels[0], 1);
    ssm_dataset_free(d);
}
END_TEST

/* ---- Pathfinder / Path-X ---- */

static void assert_pf_image(const ssm_dataset *d, int64_t i, int b, int s, int side) {
    const int32_t *x = seq(d, i);
    ck_assert_int_eq(d->labels[i], (b + s) % 2);
    const int at[4][2] = {{0, 0}, {5, 7}, {side - 1, side - 1}, {side / 2, 1}};
    for (int k = 0; k < 4; k++)
        ck_assert_msg(x[at[k][0] * side + at[k][1]] == pf_px(b, s, at[k][0], at[k][1]),
                      "example %lld (imgs/%d/sample_%d.png) pixel (%d, %d): %d", (long long)i, b,
                      s, at[k][0], at[k][1], x[at[k][0] * side + at[k][1]]);
}

START_TEST(pathfinder_reads_tree) {
    ssm_dataset *d;
    int64_t skipped = -1;
    ck_assert_msg(ssm_pathfinder_read(tu_data("pathfinder32"), "curv_contour_length_14", 32, &d,
                                      &skipped) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(skipped, 1); /* imgs/2/sample_1.png is empty */
    ck_assert_int_eq(d->n, 12);
    ck_assert_int_eq(d->vocab_size, 256);
    ck_assert_int_eq(d->n_classes, 2);
    ck_assert_int_eq(d->longest, 1024);
    /* metadata 0.npy, 2.npy, 10.npy in numeric order (a string sort puts 10 before 2) */
    const int order[12][2] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {2, 0},
                              {2, 2}, {2, 3}, {10, 0}, {10, 1}, {10, 2}, {10, 3}};
    for (int i = 0; i < 12; i++) assert_pf_image(d, i, order[i][0], order[i][1], 32);
    /* features in [0, 1] (S4 pathfinder: center False) */
    float f[2];
    ssm_dataset_features(d, seq(d, 11) + 5 * 32 + 7, 2, f);
    ck_assert_double_eq_tol(f[0], pf_px(10, 3, 5, 7) / 255.0, 1e-7);
    ck_assert_double_eq_tol(f[1], pf_px(10, 3, 5, 8) / 255.0, 1e-7);
    ssm_dataset_free(d);

    ck_assert_int_eq(ssm_pathfinder_read(tu_data("pathfinder32"), "curv_contour_length_9", 32, &d,
                                         NULL), SSM_OK);
    ck_assert_int_eq(d->n, 1);
    assert_pf_image(d, 0, 3, 0, 32);
    ssm_dataset_free(d);

    ck_assert_msg(ssm_pathfinder_read(tu_data("pathfinder128"), "curv_contour_length_14", 128, &d,
                                      NULL) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(d->n, 12); /* 0.npy's image, then make_lra_fixtures.py's 11 of 1.npy */
    ck_assert_int_eq(d->longest, 16384);
    assert_pf_image(d, 0, 0, 0, 128);
    for (int i = 1; i < 12; i++) { /* bright when labelled 1, dark when 0 */
        int label = i % 2; /* sample i - 1 of batch 1: (1 + i - 1) % 2 */
        ck_assert_int_eq(d->labels[i], label);
        ck_assert_int_eq(seq(d, i)[0], 128 * label + 17 * (i - 1) % 128);
    }
    ssm_dataset_free(d);
}
END_TEST

static void expect_pf_error(const char *dir, const char *diff, int side, const char *want1,
                            const char *want2) {
    ssm_dataset *d = (ssm_dataset *)1;
    ck_assert_int_eq(ssm_pathfinder_read(dir, diff, side, &d, NULL), SSM_ERR);
    ck_assert_ptr_null(d);
    expect_msg(want1);
    expect_msg(want2);
}

START_TEST(pathfinder_errors_name_file_and_line) {
    char bad[512];
    snprintf(bad, sizeof bad, "%s", tu_data("pathfinder_bad"));
    expect_pf_error(bad, "fields", 32, "fields/metadata/0.npy:2: 3 field(s)",
                    "'imgs/<n> sample_<i>.png <i> <label> ...'");
    expect_pf_error(bad, "label", 32, "label/metadata/0.npy:2: label '2'", "expected 0 or 1");
    expect_pf_error(bad, "missing", 32, "missing/imgs/0/sample_7.png (", "0.npy:2): cannot open");
    expect_pf_error(bad, "truncated", 32, "truncated/imgs/0/sample_1.png (", "malformed or truncated PNG");
    expect_pf_error(bad, "notpng", 32, "notpng/imgs/0/sample_2.png (", "cannot read as PNG");
    expect_pf_error(bad, "rgb", 32, "rgb/imgs/0/sample_3.png (", "a colour PNG, expected 8-bit grayscale");
    expect_pf_error(bad, "size", 32, "size/imgs/0/sample_4.png (", "16x16 pixels, expected 32x32");
    expect_pf_error(bad, "name", 32, "name/metadata/first.npy: metadata file name is not "
                    "<integer>.npy", "order");
    expect_pf_error(bad, "nometa", 32, "nometa/metadata: cannot open",
                    "expected the LRA release layout");
    /* a Pathfinder-32 tree read as Path-X */
    snprintf(bad, sizeof bad, "%s", tu_data("pathfinder32"));
    expect_pf_error(bad, "curv_contour_length_14", 128, "sample_0.png (",
                    "32x32 pixels, expected 128x128");
}
END_TEST

/* ---- the tasks of [data] ---- */

static void load_task(const char *ini, ssm_task_data *td) {
    ssm_config c;
    ck_assert_msg(ssm_config_load_string(&c, ini, "t.ini", NULL, 0) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_msg(ssm_task_load(&c, td) == SSM_OK, "%s", ssm_last_error());
}

static char *task_ini(const char *fmt, const char *dir) {
    static char text[1024];
    snprintf(text, sizeof text, fmt, tu_data(dir));
    return text;
}

START_TEST(image_task_splits_and_permutes) {
    ssm_task_data td;
    load_task(task_ini("[data]\ntask = image\npath = %s\n", "cifar"), &td);
    ck_assert_int_eq(td.train->n, 9);
    ck_assert_int_eq(td.val->n, 1);
    ck_assert_int_eq(td.test->n, 2);
    /* validation: the last training record (9); test: records 10, 11 */
    ck_assert_int_eq(td.val->labels[0], cifar_label(9));
    ck_assert_int_eq(seq(td.val, 0)[3], 101);
    ck_assert_int_eq(td.train->labels[8], cifar_label(8));
    ck_assert_int_eq(td.test->labels[1], cifar_label(11));
    ck_assert_int_eq(seq(td.test, 1)[500], 118); /* Pillow's luma */
    ck_assert_double_eq_tol(td.val->feat_std[0], 61.0 / 255.0, 1e-15);
    ssm_task_free(&td);

    load_task(task_ini("[data]\ntask = image\npath = %s\ngrayscale = false\n"
                       "permute = bitreversal\n", "cifar"), &td);
    ck_assert_int_eq(td.train->channels, 3);
    /* bit-reversal of 1024: position 1 shows pixel 512, position 3 pixel 768 */
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(seq(td.train, 2)[3 * 1 + c], cifar_px(2, c, 512));
        ck_assert_int_eq(seq(td.val, 0)[3 * 3 + c], cifar_px(9, c, 768));
        ck_assert_int_eq(seq(td.test, 0)[3 * 1023 + c], cifar_px(10, c, 1023));
    }
    ck_assert_double_eq_tol(td.test->feat_mean[2], 0.4465, 1e-15);
    ssm_task_free(&td);

    ssm_config c;
    ck_assert_int_eq(ssm_config_load_string(&c, "[data]\ntask = image\npath = /nonexistent\n",
                                            "t.ini", NULL, 0), SSM_OK);
    ck_assert_int_eq(ssm_task_load(&c, &td), SSM_ERR);
    expect_msg("/nonexistent/data_batch_1.bin: cannot open");
}
END_TEST

/* Every example of d (labels k = 0..9 in train/val, 10..12 in test: label k % 10) shows
 * pixel perm[t] of its image at position t. */
static void assert_mnist_order(const ssm_dataset *d, const int64_t *perm, int test) {
    for (int64_t i = 0; i < d->n; i++) {
        int k = d->labels[i] + (test ? 10 : 0);
        for (int64_t t = 0; t < 784; t++)
            ck_assert_msg(seq(d, i)[t] == mnist_px(k, perm[t]), "image %d position %lld", k,
                          (long long)t);
    }
}

START_TEST(mnist_task_permutations) {
    int64_t ident[784], perm[784];
    for (int t = 0; t < 784; t++) ident[t] = t;
    ssm_task_data td;
    load_task(task_ini("[data]\ntask = mnist\npath = %s\n", "mnist"), &td);
    ck_assert_int_eq(td.train->n, 9);
    ck_assert_int_eq(td.val->n, 1);
    ck_assert_int_eq(td.test->n, 3);
    ck_assert_double_eq(td.train->feat_scale, 0); /* ToTensor only: v / 255 */
    float f;
    ssm_dataset_features(td.train, (const int32_t[]){51}, 1, &f);
    ck_assert_double_eq_tol(f, 51 / 255.0, 1e-7);
    assert_mnist_order(td.train, ident, 0);
    assert_mnist_order(td.test, ident, 1);
    ssm_task_free(&td);

    load_task(task_ini("[data]\ntask = mnist\npath = %s\npermute = bitreversal\n", "mnist"), &td);
    ssm_perm_bitreversal(784, perm);
    ck_assert_int_eq(perm[1], 512);
    assert_mnist_order(td.train, perm, 0);
    assert_mnist_order(td.val, perm, 0);
    assert_mnist_order(td.test, perm, 1);
    ssm_task_free(&td);

    load_task(task_ini("[data]\ntask = mnist\npath = %s\npermute = random\n", "mnist"), &td);
    ssm_perm_numpy(92916, 784, perm);
    ck_assert_int_eq(perm[0], 319);
    assert_mnist_order(td.train, perm, 0);
    assert_mnist_order(td.test, perm, 1);
    ssm_task_free(&td);

    load_task(task_ini("[data]\ntask = mnist\npath = %s\npermute = random\npermute_seed = 0\n",
                       "mnist"), &td);
    ssm_perm_numpy(0, 784, perm);
    assert_mnist_order(td.val, perm, 0);
    ssm_task_free(&td);
}
END_TEST

START_TEST(pathfinder_task_split) {
    ssm_task_data a, b;
    load_task(task_ini("[data]\ntask = pathfinder\npath = %s\n", "pathfinder32"), &a);
    ck_assert_int_eq(a.train->n, 10);
    ck_assert_int_eq(a.val->n, 1);
    ck_assert_int_eq(a.test->n, 1);
    /* the 12 images, each once: their first pixels (40b + 17i) % 256 are distinct */
    int seen[256] = {0}, n = 0;
    const ssm_dataset *parts[3] = {a.train, a.val, a.test};
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < parts[p]->n; i++) {
            int v = seq(parts[p], i)[0];
            ck_assert_int_eq(seen[v]++, 0);
            n++;
        }
    ck_assert_int_eq(n, 12);
    /* the split does not follow train.seed */
    load_task(task_ini("[data]\ntask = pathfinder\npath = %s\n[train]\nseed = 7\n",
                       "pathfinder32"), &b);
    ck_assert_int_eq(seq(a.val, 0)[0], seq(b.val, 0)[0]);
    ck_assert_int_eq(seq(a.test, 0)[0], seq(b.test, 0)[0]);
    ssm_task_free(&b);
    ssm_task_free(&a);

    /* data.difficulty picks the folder: curv_contour_length_9 holds one image */
    ssm_config c;
    ck_assert_int_eq(ssm_config_load_string(&c, task_ini("[data]\ntask = pathfinder\npath = %s\n"
                                                         "difficulty = curv_contour_length_9\n",
                                                         "pathfinder32"), "t.ini", NULL, 0),
                     SSM_OK);
    ck_assert_int_eq(ssm_task_load(&c, &a), SSM_ERR);
    expect_msg("curv_contour_length_9: 1 images, too few for a 80/10/10 split");
}
END_TEST

/* tests/data/listops (make_lra_fixtures.py): labels are the expressions' values; with
 * data.append_eos every sequence, read or generated, ends with <eos> = id 2 (the official
 * vocabulary) and has it nowhere else; without it id 2 is an ordinary token. */
START_TEST(listops_task_eos) {
    int64_t vocab_eos = 0;
    for (int p = 0; p < 3; p++) {
        static const char *names[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
        char file[600];
        snprintf(file, sizeof file, "%s/%s", tu_data("listops"), names[p]);
        ssm_dataset *d;
        ck_assert_msg(ssm_listops_read(file, NULL, &d) == SSM_OK, "%s", ssm_last_error());
        ck_assert_int_eq(d->n, p ? 16 : 64);
        for (int64_t i = 0; i < d->n; i++) {
            int64_t len;
            const int32_t *ids = ssm_dataset_seq(d, i, 0, &len);
            ck_assert_int_eq(ssm_listops_eval(ids, len), d->labels[i]);
        }
        ssm_dataset_free(d);
    }
    for (int k = 0; k < 3; k++) { /* files, generated, files without append_eos */
        ssm_task_data td;
        if (k == 1)
            load_task("[data]\ntask = listops\nseq_len = 40\nmin_len = 5\nmax_depth = 3\n"
                      "n_train = 20\nn_val = 5\nn_test = 5\nappend_eos = true\n", &td);
        else
            load_task(task_ini(k ? "[data]\ntask = listops\npath = %s\nseq_len = 100\n"
                                 : "[data]\ntask = listops\npath = %s\nseq_len = 100\n"
                                   "append_eos = true\n", "listops"), &td);
        int ends = 0, inside = 0;
        for (int64_t i = 0; i < td.train->n; i++) {
            int64_t len;
            const int32_t *ids = ssm_dataset_seq(td.train, i, 0, &len);
            ends += ids[len - 1] == 2;
            for (int64_t t = 0; t + 1 < len; t++) inside += ids[t] == 2;
        }
        if (k < 2) {
            ck_assert_int_eq(ends, td.train->n);
            ck_assert_int_eq(inside, 0);
        } else { /* id 2 is then the commonest token, X (every expression ends with one) */
            ck_assert_int_gt(inside, 0);
            ck_assert_int_eq(td.train->vocab_size, vocab_eos - 1);
        }
        if (k == 0) vocab_eos = td.train->vocab_size;
        ssm_task_free(&td);
    }
}
END_TEST

int main(void) {
    ssm_log_level = 0;
    Suite *s = suite_create("readers");
    TCase *t = tcase_create("readers");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, cifar_luma_is_pillows);
    tcase_add_test(t, cifar_grayscale);
    tcase_add_test(t, cifar_colour);
    tcase_add_test(t, cifar_errors_name_file_and_record);
    tcase_add_test(t, bitreversal_matches_s4);
    tcase_add_test(t, random_permutation_matches_numpy);
    tcase_add_test(t, permute_moves_whole_positions);
    tcase_add_test(t, pathfinder_reads_tree);
    tcase_add_test(t, pathfinder_errors_name_file_and_line);
    tcase_add_test(t, image_task_splits_and_permutes);
    tcase_add_test(t, mnist_task_permutations);
    tcase_add_test(t, pathfinder_task_split);
    tcase_add_test(t, listops_task_eos);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
