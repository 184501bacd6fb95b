/* Every configs/lra/<task>_<layer>.ini trains: 20 steps of tools/ssmtrain on the small
 * fixture of its task, shrunk with --set (one block of width 8, state size 4, a constant
 * learning rate of 0.01 without warm-up, one CPU thread), and the training loss falls:
 * the mean of the last 5 losses in metrics.jsonl is below the mean of the first 5. The
 * rest of each config (layer type and options, norm, pooling, decoder, dropout, optimizer
 * groups, data settings) runs as written. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"

static const char *layers[] = {"s4", "s4d", "s5", "mamba"};

/* The fixture of each task, its batch size (at most the training split) and what else
 * it needs. Pathfinder-32's curv_baseline images can be told apart in a few steps. */
static const struct {
    const char *task, *path, *batch, *extra;
} fixtures[] = {
    {"listops", "listops", "8", NULL},
    {"text", "imdb/reviews.json", "4", NULL},
    {"retrieval", "aan", "2", NULL},
    {"image", "cifar", "8", NULL},
    {"pathfinder", "pathfinder32", "8", "data.difficulty=curv_baseline"},
    {"pathx", "pathfinder128", "2", NULL},
};

#define N_LAYERS (int)(sizeof layers / sizeof layers[0])
#define N_CONFIGS (int)(sizeof fixtures / sizeof fixtures[0]) * N_LAYERS

/* The "loss" of every train row of run/metrics.jsonl, in order; returns the count. */
static int train_losses(const char *run, double *loss, int cap) {
    char path[800];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    char *text = tu_slurp(path, NULL);
    ck_assert_msg(text != NULL, "no %s", path);
    int n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *row = cJSON_Parse(l);
        ck_assert_msg(row != NULL, "%s: a line does not parse: %s", path, l);
        const cJSON *split = cJSON_GetObjectItemCaseSensitive(row, "split");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, "loss");
        if (cJSON_IsString(split) && !strcmp(split->valuestring, "train")) {
            ck_assert_msg(cJSON_IsNumber(v), "%s: a train row without a loss", path);
            ck_assert_int_lt(n, cap);
            loss[n++] = v->valuedouble;
        }
        cJSON_Delete(row);
    }
    free(text);
    return n;
}

START_TEST(lra_config_trains) {
    const char *task = fixtures[_i / N_LAYERS].task, *layer = layers[_i % N_LAYERS];
    char dir[512], rel[96], cfg[700], run[700], data[700];
    tu_tmpdir(dir, sizeof dir);
    snprintf(rel, sizeof rel, "../../configs/lra/%s_%s.ini", task, layer);
    snprintf(cfg, sizeof cfg, "%s", tu_data(rel)); /* $SSM_TEST_DATA moves it with the data */
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(data, sizeof data, "data.path=%s", tu_data(fixtures[_i / N_LAYERS].path));
    char batch[64];
    snprintf(batch, sizeof batch, "train.batch_size=%s", fixtures[_i / N_LAYERS].batch);
    const char *extra = fixtures[_i / N_LAYERS].extra; /* the arguments end early without */
    char *out;
    int rc = tu_run_tool("ssmtrain", dir, &out, cfg, "--out", run, "--set", data,
                         "--set", "model.d_model=8", "--set", "model.n_layers=1",
                         "--set", "layer.d_state=4", "--set", "layer.blocks=1",
                         "--set", "optim.lr=0.01", "--set", "layer.lr=0.01",
                         "--set", "optim.schedule=constant", "--set", "optim.warmup_steps=0",
                         "--set", "train.max_steps=20", "--set", "train.log_every=1",
                         "--set", "train.eval_every=20", "--set", "train.threads=1",
                         "--set", batch, extra ? "--set" : NULL, extra, NULL);
    ck_assert_msg(rc == 0, "%s_%s: exit %d:\n%s", task, layer, rc, out);
    double loss[64];
    int n = train_losses(run, loss, 64);
    ck_assert_int_eq(n, 20);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) first += loss[i] / 5, last += loss[n - 5 + i] / 5;
    ck_assert_msg(last < first, "%s_%s: the loss did not fall: mean of the first 5 steps %.4f, "
                  "of the last 5 %.4f", task, layer, first, last);
    free(out);
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("lra_configs");
    TCase *t = tcase_create("lra_configs");
    tcase_set_timeout(t, 120); /* Path-X: 16384 steps a sequence; sanitizer builds */
    tcase_add_loop_test(t, lra_config_trains, 0, N_CONFIGS);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
