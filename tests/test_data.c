/* data/: the ListOps reader, generator and evaluator, the synthetic tasks,
 * batching, padding and the seeded, resumable shuffle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <unistd.h>
#include "arena.h"
#include "dataset.h"
#include "idx.h"
#include "listops.h"
#include "log.h"
#include "synthetic.h"
#include "testutil.h"

static const int32_t *seq(const ssm_dataset *d, int64_t i, int64_t *len) {
    return ssm_dataset_seq(d, i, 0, len);
}

static void assert_ids(const ssm_dataset *d, int64_t i, const int32_t *want, int64_t n) {
    int64_t len;
    const int32_t *got = seq(d, i, &len);
    ck_assert_int_eq(len, n);
    for (int64_t k = 0; k < n; k++)
        ck_assert_msg(got[k] == want[k], "example %lld token %lld: %d, want %d", (long long)i,
                      (long long)k, got[k], want[k]);
}

START_TEST(listops_reads_fixture) {
    ssm_dataset *d;
    ck_assert_msg(ssm_listops_read(tu_data("listops_small.tsv"), NULL, &d) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_int_eq(d->n, 4);
    ck_assert_int_eq(d->vocab_size, 17);
    ck_assert_int_eq(d->n_classes, 10);
    ck_assert_int_eq(d->pad_id, 0);
    ck_assert_int_eq(d->max_len, 2048);
    ck_assert_int_eq(d->longest, 8);
    /* ( ( ( [MAX 2 ) 9 ) ] ): [MAX=13, digit d = d + 2, X=16 */
    assert_ids(d, 0, (int32_t[]){13, 4, 11, 16}, 4);
    /* [MIN 4 [SM 3 8 ] 7 ] */
    assert_ids(d, 1, (int32_t[]){12, 6, 15, 5, 10, 16, 9, 16}, 8);
    assert_ids(d, 2, (int32_t[]){14, 3, 7, 4, 10, 16}, 6);
    assert_ids(d, 3, (int32_t[]){15, 11, 11, 16}, 4); /* the CRLF line */
    int32_t want_labels[] = {9, 1, 3, 8};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(d->labels[i], want_labels[i]);
        int64_t len;
        const int32_t *ids = seq(d, i, &len);
        ck_assert_int_eq(ssm_listops_eval(ids, len), want_labels[i]);
    }
    ssm_dataset_free(d);

    ssm_listops_opts o = {.max_len = 9, .append_eos = 1};
    ck_assert_msg(ssm_listops_read(tu_data("listops_small.tsv"), &o, &d) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_int_eq(d->vocab_size, 18);
    assert_ids(d, 1, (int32_t[]){12, 6, 15, 5, 10, 16, 9, 16, SSM_LO_EOS}, 9);
    int64_t len;
    const int32_t *ids = seq(d, 1, &len);
    ck_assert_int_eq(ssm_listops_eval(ids, len), 1);
    ssm_dataset_free(d);
}
END_TEST

/* Write text to a temporary file; returns its path (static buffer). */
static const char *temp_file(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ssm_test_data_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void expect_error(const char *text, int64_t max_len, const char *want) {
    const char *path = temp_file(text);
    ssm_listops_opts o = {.max_len = max_len};
    ssm_dataset *d = (ssm_dataset *)1;
    ck_assert_int_eq(ssm_listops_read(path, &o, &d), SSM_ERR);
    ck_assert_ptr_null(d);
    char full[256];
    snprintf(full, sizeof full, "%s:%s", path, want);
    ck_assert_msg(strstr(ssm_last_error(), full), "message '%s' lacks '%s'", ssm_last_error(),
                  full);
    unlink(path);
}

START_TEST(listops_malformed_lines) {
    ssm_dataset *d;
    ck_assert_int_eq(ssm_listops_read(tu_data("listops_bad.tsv"), NULL, &d), SSM_ERR);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(ssm_last_error(), "listops_bad.tsv:4: unknown token '[FOO'"), "%s",
                  ssm_last_error());
    const char *H = "Source\tTarget\n", *ok = "( ( ( [MAX 2 ) 9 ) ] )\t9\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s( ( ( [MAX 2 ) 9 ) ] ) 9\n", H, ok);
    expect_error(buf, 0, "3: no tab");
    snprintf(buf, sizeof buf, "%s%s%s( ( ( [MAX 2 ) 9 ) ] )\t12\n", H, ok, ok);
    expect_error(buf, 0, "4: label '12' is not an integer 0-9");
    snprintf(buf, sizeof buf, "%s( ( ( [MAX 2 ) 9 ) ] )\tx\n", H);
    expect_error(buf, 0, "2: label 'x'");
    snprintf(buf, sizeof buf, "%s%s( ( ( ( [MIN 4 ) 5 ) 6 ) ] )\t4\n", H, ok);
    expect_error(buf, 4, "3: 5 tokens, more than max_len 4");
    snprintf(buf, sizeof buf, "%s%s( ( ( [MAX 2 ) 9 ) ] )\t9\textra\n", H, ok);
    expect_error(buf, 0, "3: label '9\textra'");
    snprintf(buf, sizeof buf, "%s", ok);
    expect_error(buf, 0, "1: expected the header");
    ck_assert_int_eq(ssm_listops_read("/nonexistent/x.tsv", NULL, &d), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "/nonexistent/x.tsv"));
}
END_TEST

static int eval_str(const char *s) {
    int32_t ids[64];
    int64_t n = ssm_listops_tokenize(s, ids, 64, NULL, NULL);
    ck_assert_int_ge(n, 0);
    return ssm_listops_eval(ids, n);
}

START_TEST(listops_evaluator) {
    ck_assert_int_eq(eval_str("[MAX 4 3 [MIN 2 3 ] 1 0 ]"), 4);
    ck_assert_int_eq(eval_str("[MED 1 9 ]"), 5);
    ck_assert_int_eq(eval_str("[MED 2 9 ]"), 5);    /* 5.5 truncated */
    ck_assert_int_eq(eval_str("[MED 7 1 4 ]"), 4);
    ck_assert_int_eq(eval_str("[SM 9 8 7 [MAX 1 6 ] ]"), 0); /* 30 mod 10 */
    ck_assert_int_eq(eval_str("[MIN [SM 5 6 ] [MED 9 9 8 ] ]"), 1);
    ck_assert_int_eq(eval_str("( 7 )"), 7);
    ck_assert_int_eq(eval_str("[MIN ]"), -1);
    ck_assert_int_eq(eval_str("3 4"), -1);
    ck_assert_int_eq(eval_str("[MIN 3"), -1);
    ck_assert_int_eq(eval_str("3 ]"), -1);
    ck_assert_int_eq(eval_str("[MAX 1 ] 2"), -1);
    ck_assert_int_eq(eval_str(""), -1);
    const char *bad;
    int bad_len;
    int32_t ids[8];
    ck_assert_int_eq(ssm_listops_tokenize("[MIN 3 [LAST 4 ] ]", ids, 8, &bad, &bad_len), -1);
    ck_assert_int_eq(bad_len, 5);
    ck_assert_int_eq(strncmp(bad, "[LAST", 5), 0);
    ck_assert_int_eq(ssm_listops_tokenize("[MIN 10 ]", ids, 8, NULL, NULL), -1);
}
END_TEST

/* Grammar of one generated expression, from its string: parentheses balanced,
 * every operator closed with 2..max_args arguments, operators nested at most
 * max_depth - 1 deep (digits sit at depth <= max_depth), one top-level term.
 * Returns the token count without parentheses. */
static int64_t check_grammar(const char *s, const ssm_listops_gen *g) {
    int args[64] = {0}, depth = 0, parens = 0, top = 0;
    int64_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ') p++;
        const char *t = p;
        while (*p && *p != ' ') p++;
        size_t len = (size_t)(p - t);
        if (!len) break;
        if (len == 1 && *t == '(') { parens++; continue; }
        if (len == 1 && *t == ')') { ck_assert_int_gt(parens--, 0); continue; }
        n++;
        if (depth == 0) top++;
        else if (*t != ']') args[depth]++;
        if (*t == '[') {
            ck_assert_msg(len >= 3, "bad operator in %s", s);
            ck_assert_int_lt(++depth, g->max_depth);
            args[depth] = 0;
        } else if (*t == ']') {
            ck_assert_int_gt(depth, 0);
            ck_assert_int_ge(args[depth], 2);
            ck_assert_int_le(args[depth], g->max_args);
            depth--;
        } else {
            ck_assert_msg(len == 1 && *t >= '0' && *t <= '9', "bad token in %s", s);
        }
    }
    ck_assert_int_eq(parens, 0);
    ck_assert_int_eq(depth, 0);
    ck_assert_int_eq(top, 1);
    return n;
}

START_TEST(listops_generator_roundtrip) {
    ssm_listops_gen g = {.max_depth = 6, .max_args = 5, .min_len = 5, .max_len = 60, .unique = 1};
    ssm_listops_set *s, *s2, *s3;
    ck_assert_msg(ssm_listops_generate(&g, 1234, 200, &s) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(ssm_listops_generate(&g, 1234, 200, &s2), SSM_OK);
    ck_assert_int_eq(ssm_listops_generate(&g, 1235, 200, &s3), SSM_OK);
    int differs = 0, hist[10] = {0};
    for (int64_t i = 0; i < 200; i++) {
        ck_assert_str_eq(s->expr[i], s2->expr[i]);
        differs += strcmp(s->expr[i], s3->expr[i]) != 0;
        int64_t n = check_grammar(s->expr[i], &g);
        ck_assert_int_gt(n, g.min_len);
        ck_assert_int_lt(n, g.max_len);
        for (int64_t j = 0; j < i; j++) ck_assert_str_ne(s->expr[i], s->expr[j]);
        hist[s->value[i]]++;
    }
    ck_assert_int_gt(differs, 190);
    for (int v = 0; v < 10; v++) ck_assert_int_gt(hist[v], 0); /* every class occurs */

    const char *path = temp_file("");
    ck_assert_msg(ssm_listops_write_tsv(path, s, 0, 200) == SSM_OK, "%s", ssm_last_error());
    ssm_dataset *d;
    ck_assert_msg(ssm_listops_read(path, NULL, &d) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(d->n, 200);
    for (int64_t i = 0; i < 200; i++) {
        int64_t len;
        const int32_t *ids = seq(d, i, &len);
        ck_assert_int_eq(d->labels[i], s->value[i]);
        ck_assert_msg(ssm_listops_eval(ids, len) == s->value[i], "%s: evaluator %d, generator %d",
                      s->expr[i], ssm_listops_eval(ids, len), s->value[i]);
    }
    unlink(path);
    ssm_dataset_free(d);
    ssm_listops_set_free(s);
    ssm_listops_set_free(s2);
    ssm_listops_set_free(s3);

    /* The LRA defaults: depth 10, 10 args, 500 < length < 2000. */
    ssm_listops_gen lra = ssm_listops_gen_lra();
    ck_assert_msg(ssm_listops_generate(&lra, 7, 5, &s) == SSM_OK, "%s", ssm_last_error());
    for (int64_t i = 0; i < 5; i++) {
        int64_t n = check_grammar(s->expr[i], &lra);
        ck_assert(n > 500 && n < 2000);
        int32_t *ids = malloc(2048 * sizeof *ids);
        ck_assert_int_eq(ssm_listops_tokenize(s->expr[i], ids, 2048, NULL, NULL), n);
        ck_assert_int_eq(ssm_listops_eval(ids, n), s->value[i]);
        free(ids);
    }
    ssm_listops_set_free(s);

    ssm_listops_gen bad = {.max_depth = 10, .max_args = 1, .min_len = 5, .max_len = 60};
    ck_assert_int_eq(ssm_listops_generate(&bad, 1, 10, &s), SSM_ERR);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "max_args"));
    /* Operators need >= 4 tokens, so 1 < length < 4 never happens. */
    ssm_listops_gen never = {.max_depth = 10, .max_args = 5, .min_len = 1, .max_len = 4,
                             .max_attempts = 1000};
    ck_assert_int_eq(ssm_listops_generate(&never, 1, 10, &s), SSM_ERR);
}
END_TEST

START_TEST(selective_copy_targets) {
    ssm_synth_params p = {SSM_SYNTH_SELECTIVE_COPY, 10, 64, 5};
    ssm_dataset *d, *d2;
    ck_assert_int_eq(ssm_synth_dataset(&p, 99, 0, 50, &d), SSM_OK);
    ck_assert_int_eq(ssm_synth_dataset(&p, 99, 7, 3, &d2), SSM_OK);
    ck_assert_int_eq(d->vocab_size, 10);
    ck_assert(d->has_targets && !d->has_labels);
    int64_t L = 64, k = 5, used[10] = {0};
    for (int64_t i = 0; i < 50; i++) {
        int64_t len;
        const int32_t *x = seq(d, i, &len), *y = ssm_dataset_seq_targets(d, i, 0);
        ck_assert_int_eq(len, L);
        int32_t data[64];
        int nd = 0;
        for (int64_t t = 0; t < L - k; t++) {
            ck_assert_int_eq(y[t], SSM_IGNORE_INDEX);
            if (x[t] == SSM_SC_BLANK) continue;
            ck_assert(x[t] >= SSM_SC_DATA0 && x[t] < 10);
            data[nd++] = x[t];
            used[x[t]]++;
        }
        ck_assert_int_eq(nd, k);
        for (int64_t j = 0; j < k; j++) {
            ck_assert_int_eq(x[L - k + j], SSM_SC_MARKER);
            ck_assert_int_eq(y[L - k + j], data[j]);
        }
    }
    for (int v = SSM_SC_DATA0; v < 10; v++) ck_assert_int_gt(used[v], 0);
    /* Example i depends on (seed, i) alone. */
    for (int64_t i = 0; i < 3; i++) {
        int64_t l1, l2;
        ck_assert_int_eq(memcmp(seq(d, 7 + i, &l1), seq(d2, i, &l2), (size_t)L * 4), 0);
    }
    ssm_dataset_free(d);
    ssm_dataset_free(d2);
    ssm_synth_params bad = {SSM_SYNTH_SELECTIVE_COPY, 10, 9, 5};
    ck_assert_int_eq(ssm_synth_dataset(&bad, 1, 0, 1, &d), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "seq_len"));
    ssm_synth_params def = ssm_synth_defaults(SSM_SYNTH_SELECTIVE_COPY);
    ck_assert(def.vocab_size == 16 && def.seq_len == 4096 && def.n_copy == 16);
}
END_TEST

START_TEST(induction_targets) {
    ssm_synth_params p = {SSM_SYNTH_INDUCTION, 8, 32, 0};
    ssm_dataset *d;
    ck_assert_int_eq(ssm_synth_dataset(&p, 5, 0, 200, &d), SSM_OK);
    int first_seen[32] = {0};
    for (int64_t i = 0; i < 200; i++) {
        int64_t len;
        const int32_t *x = seq(d, i, &len), *y = ssm_dataset_seq_targets(d, i, 0);
        ck_assert_int_eq(len, 32);
        int64_t trig[3], nt = 0;
        for (int64_t t = 0; t < 32; t++) {
            if (x[t] == SSM_IH_TRIGGER) {
                ck_assert_int_lt(nt, 2);
                trig[nt++] = t;
            } else {
                ck_assert(x[t] >= SSM_IH_DATA0 && x[t] < 8);
            }
            if (t < 31) ck_assert_int_eq(y[t], SSM_IGNORE_INDEX);
        }
        ck_assert_int_eq(nt, 2);
        ck_assert_int_eq(trig[1], 31);
        ck_assert_int_le(trig[0], 29);
        ck_assert_int_eq(y[31], x[trig[0] + 1]);
        first_seen[trig[0]]++;
    }
    ck_assert(first_seen[0] > 0 && first_seen[29] + first_seen[28] > 0);
    ssm_dataset_free(d);
}
END_TEST

START_TEST(shuffle_is_seeded_permutation) {
    enum { N = 1000 };
    int64_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    char seen[N];
    ssm_shuffle_order(42, 3, N, a);
    ssm_shuffle_order(42, 3, N, b);
    ck_assert_int_eq(memcmp(a, b, N * sizeof *a), 0);
    memset(seen, 0, N);
    for (int i = 0; i < N; i++) {
        ck_assert(a[i] >= 0 && a[i] < N && !seen[a[i]]);
        seen[a[i]] = 1;
    }
    ssm_shuffle_order(42, 4, N, c);
    int same = 0, fixed = 0;
    for (int i = 0; i < N; i++) same += a[i] == c[i], fixed += a[i] == i;
    ck_assert_int_lt(same, 20); /* about 1 expected for independent permutations */
    ck_assert_int_lt(fixed, 20);
    ssm_shuffle_order(43, 3, N, c);
    same = 0;
    for (int i = 0; i < N; i++) same += a[i] == c[i];
    ck_assert_int_lt(same, 20);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(batches_pad_and_label) {
    ssm_dataset *d;
    ck_assert_int_eq(ssm_listops_read(tu_data("listops_small.tsv"), NULL, &d), SSM_OK);
    ssm_loader_opts o = {.batch_size = 3};
    ssm_loader *l = ssm_loader_new(d, &o);
    ck_assert_int_eq(ssm_loader_batches_per_epoch(l), 2);
    ssm_batch b;
    ck_assert_int_eq(ssm_loader_next(l, NULL, &b), 1);
    ck_assert_int_eq(b.size, 3);
    ck_assert_int_eq(b.tokens->ndim, 2);
    ck_assert_int_eq(b.tokens->shape[0], 3);
    ck_assert_int_eq(b.tokens->shape[1], 8); /* longest in the batch */
    ck_assert_ptr_null(b.targets);
    const int32_t *tok = b.tokens->data, *len = b.lengths->data, *lab = b.labels->data;
    int32_t want0[8] = {13, 4, 11, 16, 0, 0, 0, 0}, want2[8] = {14, 3, 7, 4, 10, 16, 0, 0};
    ck_assert_int_eq(memcmp(tok, want0, sizeof want0), 0);
    ck_assert_int_eq(memcmp(tok + 16, want2, sizeof want2), 0);
    ck_assert(len[0] == 4 && len[1] == 8 && len[2] == 6);
    ck_assert(lab[0] == 9 && lab[1] == 1 && lab[2] == 3);
    ssm_batch_free(&b);
    ck_assert_int_eq(ssm_loader_next(l, NULL, &b), 1); /* the partial batch */
    ck_assert_int_eq(b.size, 1);
    ck_assert_int_eq(b.tokens->shape[1], 4);
    ck_assert_int_eq(((int32_t *)b.labels->data)[0], 8);
    ck_assert_int_eq(b.index[0], 3);
    ssm_batch_free(&b);
    ck_assert_int_eq(ssm_loader_next(l, NULL, &b), 0);
    ck_assert(l->epoch == 1 && l->index == 0);
    ssm_loader_free(l);

    o = (ssm_loader_opts){.batch_size = 3, .drop_last = 1, .fixed_len = 16, .shuffle = 1};
    l = ssm_loader_new(d, &o);
    ck_assert_int_eq(ssm_loader_batches_per_epoch(l), 1);
    ssm_arena *a = ssm_arena_new();
    uint64_t allocs = 0;
    for (int e = 0; e < 2; e++) {
        ck_assert_int_eq(ssm_loader_next(l, a, &b), 1);
        if (e == 1) ck_assert_int_eq(ssm_arena_system_allocs(a), allocs); /* steady state */
        ck_assert_int_eq(b.tokens->shape[1], 16);
        for (int r = 0; r < 3; r++) {
            int64_t n;
            const int32_t *src = seq(d, b.index[r], &n);
            ck_assert_int_eq(((int32_t *)b.lengths->data)[r], n);
            ck_assert_int_eq(((int32_t *)b.labels->data)[r], d->labels[b.index[r]]);
            for (int64_t t = 0; t < 16; t++)
                ck_assert_int_eq(((int32_t *)b.tokens->data)[r * 16 + t], t < n ? src[t] : 0);
        }
        ssm_batch_free(&b);
        ssm_arena_reset(a);
        allocs = ssm_arena_system_allocs(a);
        ck_assert_int_eq(ssm_loader_next(l, a, &b), 0); /* the last example is dropped */
    }
    ssm_arena_free(a);
    ssm_loader_free(l);
    ssm_dataset_free(d);
}
END_TEST

/* data.pad_multiple: a batch's length rounded up to a multiple, never past the data
 * set's longest sequence; tokens past each length are padding and targets ignored. */
START_TEST(batches_pad_to_multiple) {
    ssm_dataset_spec spec = {.name = "t", .has_targets = 1, .vocab_size = 50, .pad_id = 1};
    ssm_dataset *d = ssm_dataset_new(&spec);
    int32_t x[11] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    ssm_dataset_add(d, x, 3, x + 1, 0);  /* lengths 3, 5 and 11 (the longest) */
    ssm_dataset_add(d, x, 5, x + 1, 0);
    ssm_dataset_add(d, x, 11, x, 0);
    struct { int64_t idx, multiple, L; } cases[] = {
        {0, 1, 3}, {0, 4, 4}, {1, 4, 8}, {1, 5, 5}, {1, 8, 8}, {0, 16, 11}, {2, 4, 11}, {2, 16, 11}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssm_batch b;
        ssm_batch_make(d, &cases[i].idx, 1, 0, cases[i].multiple, NULL, &b);
        ck_assert_msg(b.tokens->shape[1] == cases[i].L, "example %lld, multiple %lld: length %lld",
                      (long long)cases[i].idx, (long long)cases[i].multiple,
                      (long long)b.tokens->shape[1]);
        int64_t len = ((int32_t *)b.lengths->data)[0];
        const int32_t *t = b.tokens->data, *y = b.targets->data;
        for (int64_t k = 0; k < b.tokens->shape[1]; k++) {
            ck_assert_int_eq(t[k], k < len ? x[k] : 1);
            if (k >= len) ck_assert_int_eq(y[k], SSM_IGNORE_INDEX);
        }
        ssm_batch_free(&b);
    }
    ssm_dataset_free(d);
}
END_TEST

/* Targets padded with the ignore index; pairs (n_seq 2) of RGB-like positions. */
START_TEST(batches_targets_pairs_channels) {
    ssm_dataset_spec spec = {.name = "t", .has_targets = 1, .vocab_size = 50, .pad_id = 1};
    ssm_dataset *d = ssm_dataset_new(&spec);
    ssm_dataset_add(d, (int32_t[]){5, 6, 7}, 3, (int32_t[]){6, 7, SSM_IGNORE_INDEX}, 0);
    ssm_dataset_add(d, (int32_t[]){8}, 1, (int32_t[]){9}, 0);
    ssm_batch b;
    ssm_batch_make(d, (int64_t[]){1, 0}, 2, 0, 1, NULL, &b);
    int32_t wt[] = {8, 1, 1, 5, 6, 7}, wy[] = {9, -100, -100, 6, 7, -100};
    ck_assert_int_eq(memcmp(b.tokens->data, wt, sizeof wt), 0);
    ck_assert_int_eq(memcmp(b.targets->data, wy, sizeof wy), 0);
    ck_assert_int_eq(b.targets->shape[1], 3);
    ssm_batch_free(&b);
    ssm_dataset_free(d);

    ssm_dataset_spec ps = {.name = "pairs", .n_seq = 2, .channels = 3, .has_labels = 1,
                           .n_classes = 2, .vocab_size = 256};
    d = ssm_dataset_new(&ps);
    ssm_dataset_add_seq(d, (int32_t[]){1, 2, 3}, 1, NULL);
    ssm_dataset_add_seq(d, (int32_t[]){4, 5, 6, 7, 8, 9}, 2, NULL);
    ssm_dataset_end_example(d, 1);
    ssm_dataset_add_seq(d, (int32_t[]){10, 11, 12}, 1, NULL);
    ssm_dataset_add_seq(d, (int32_t[]){13, 14, 15}, 1, NULL);
    ssm_dataset_end_example(d, 0);
    ck_assert_int_eq(d->n, 2);
    ssm_batch_make(d, (int64_t[]){0, 1}, 2, 0, 1, NULL, &b);
    ck_assert(b.tokens->ndim == 3 && b.tokens->shape[0] == 4 && b.tokens->shape[1] == 2 &&
              b.tokens->shape[2] == 3);
    int32_t w[] = {1, 2, 3, 0, 0, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 13, 14, 15, 0, 0, 0};
    ck_assert_int_eq(memcmp(b.tokens->data, w, sizeof w), 0);
    int32_t wl[] = {1, 2, 1, 1};
    ck_assert_int_eq(memcmp(b.lengths->data, wl, sizeof wl), 0);
    ck_assert_int_eq(b.labels->numel, 2);
    ck_assert(((int32_t *)b.labels->data)[0] == 1 && ((int32_t *)b.labels->data)[1] == 0);
    ssm_batch_free(&b);
    ssm_dataset_free(d);
}
END_TEST

/* Every batch's first dataset index and size, for comparing runs. */
static int run_batches(ssm_loader *l, int64_t nb, int64_t *out) {
    int64_t k = 0;
    ssm_batch b;
    while (k < nb) {
        if (!ssm_loader_next(l, NULL, &b)) {
            out[k++] = -1; /* epoch boundary */
            continue;
        }
        for (int64_t i = 0; i < b.size && k < nb; i++) out[k++] = b.index[i];
        ssm_batch_free(&b);
    }
    return 0;
}

START_TEST(loader_resumes_exactly) {
    ssm_synth_params p = {SSM_SYNTH_INDUCTION, 8, 6, 0};
    ssm_dataset *d;
    ck_assert_int_eq(ssm_synth_dataset(&p, 1, 0, 103, &d), SSM_OK);
    ssm_loader_opts o = {.batch_size = 8, .seed = 77, .shuffle = 1};
    ssm_loader *l = ssm_loader_new(d, &o);
    enum { NB = 400 };
    int64_t full[NB], resumed[NB];
    run_batches(l, NB, full);
    /* Epoch 0 covers every example once; epoch 1 is a different order. */
    char seen[103] = {0};
    for (int i = 0; i < 103; i++) {
        ck_assert(full[i] >= 0 && !seen[full[i]]);
        seen[full[i]] = 1;
    }
    ck_assert_int_eq(full[103], -1);
    int same = 0;
    for (int i = 0; i < 103; i++) same += full[i] == full[104 + i];
    ck_assert_int_lt(same, 10);
    ssm_loader_free(l);
    /* Stop after 5 batches of epoch 1, restore (epoch, index) into a new loader. */
    l = ssm_loader_new(d, &o);
    run_batches(l, 104 + 40, resumed);
    ck_assert(l->epoch == 1 && l->index == 40);
    int64_t e = l->epoch, i = l->index;
    ssm_loader_free(l);
    l = ssm_loader_new(d, &o);
    ssm_loader_seek(l, e, i);
    run_batches(l, NB - 144, resumed + 144);
    ck_assert_int_eq(memcmp(full, resumed, sizeof full), 0);
    ssm_loader_free(l);
    ssm_dataset_free(d);
}
END_TEST

/* Data parallel: the slices of ranks 0..K-1 are, in order, the whole batch of one
 * process (K = 3 over batches of 8 and the last of 103 % 8 = 7; K = 8 over a last
 * batch of 7, where rank 0's slice is empty), and every rank keeps the same position. */
START_TEST(loader_shards_by_rank) {
    ssm_synth_params p = {SSM_SYNTH_INDUCTION, 8, 6, 0};
    ssm_dataset *d;
    ck_assert_int_eq(ssm_synth_dataset(&p, 1, 0, 103, &d), SSM_OK);
    ssm_loader_opts o = {.batch_size = 8, .seed = 77, .shuffle = 1};
    for (int K = 3; K <= 8; K += 5) {
        ssm_loader *one = ssm_loader_new(d, &o), *r[8];
        for (int k = 0; k < K; k++) {
            ssm_loader_opts ok = o;
            ok.rank = k, ok.world = K;
            r[k] = ssm_loader_new(d, &ok);
        }
        ssm_batch b, s;
        int empty = 0;
        while (ssm_loader_next(one, NULL, &b)) {
            int64_t at = 0;
            for (int k = 0; k < K; k++) {
                ck_assert_int_eq(ssm_loader_next(r[k], NULL, &s), 1);
                ck_assert_int_eq(s.size, b.size * (k + 1) / K - b.size * k / K);
                for (int64_t j = 0; j < s.size; j++) ck_assert_int_eq(s.index[j], b.index[at++]);
                empty += s.size == 0;
                ck_assert_int_eq(r[k]->index, one->index);
                ssm_batch_free(&s);
            }
            ck_assert_int_eq(at, b.size);
            ssm_batch_free(&b);
        }
        ck_assert_int_eq(empty, K == 8 ? 1 : 0);
        for (int k = 0; k < K; k++) {
            ck_assert_int_eq(ssm_loader_next(r[k], NULL, &s), 0);
            ssm_loader_free(r[k]);
        }
        ssm_loader_free(one);
    }
    ssm_dataset_free(d);
}
END_TEST

/* The official S4 loader's vocabulary order, computed by hand for the fixture: counts
 * X 5, 9 3, then 2, 8, [SM (2 each, by string), then 1, 3, 4, 5, 7, [MAX, [MED, [MIN (1
 * each); 0 and 6 are absent and map to <unk>. */
START_TEST(listops_official_vocabulary) {
    ssm_dataset *d;
    ck_assert_int_eq(ssm_listops_read(tu_data("listops_small.tsv"), NULL, &d), SSM_OK);
    int32_t map[SSM_LO_VOCAB];
    int64_t V = ssm_listops_official_ids(d, 0, map);
    ck_assert_int_eq(V, 15);
    ck_assert_int_eq(map[SSM_LO_PAD], 0);
    ck_assert_int_eq(map[SSM_LO_UNK], 1);
    ck_assert_int_eq(map[SSM_LO_END], 2);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 9], 3);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 2], 4);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 8], 5);
    ck_assert_int_eq(map[SSM_LO_SM], 6);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 1], 7);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 7], 11);
    ck_assert_int_eq(map[SSM_LO_MAX], 12);
    ck_assert_int_eq(map[SSM_LO_MED], 13);
    ck_assert_int_eq(map[SSM_LO_MIN], 14);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 0], 1);
    ck_assert_int_eq(map[SSM_LO_DIGIT0 + 6], 1);
    int32_t map_eos[SSM_LO_VOCAB]; /* with <eos>: one more special, the rest shift by one */
    ck_assert_int_eq(ssm_listops_official_ids(d, 1, map_eos), 16);
    ck_assert_int_eq(map_eos[SSM_LO_EOS], 2);
    ck_assert_int_eq(map_eos[SSM_LO_END], 3);
    ssm_dataset_remap(d, map, SSM_LO_VOCAB, V);
    ck_assert_int_eq(d->vocab_size, 15);
    /* ( ( ( [MAX 2 ) 9 ) ] ) -> [MAX 2 9 X */
    assert_ids(d, 0, (int32_t[]){12, 4, 3, 2}, 4);
    ssm_dataset_free(d);
}
END_TEST

/* --- IDX (MNIST / Fashion-MNIST) --- */

/* Write bytes to path, gzipped when gz. */
static void write_bytes(const char *path, const unsigned char *b, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(b, 1, n, f), n);
        fclose(f);
    }
}

/* Three 2x3 images (pixels 10*i + t) with labels 7, 0, 9; plain and gzipped. */
START_TEST(idx_reads_images_and_labels) {
    unsigned char img[16 + 18] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3};
    unsigned char lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 6; t++) img[16 + 6 * i + t] = (unsigned char)(10 * i + t);
    for (int gz = 0; gz < 2; gz++) {
        char ip[64], lp[64];
        snprintf(ip, sizeof ip, "/tmp/ssm_test_idx_img%d", gz);
        snprintf(lp, sizeof lp, "/tmp/ssm_test_idx_lab%d", gz);
        write_bytes(ip, img, sizeof img, gz);
        write_bytes(lp, lab, sizeof lab, gz);
        ssm_dataset *d;
        ck_assert_msg(ssm_idx_read(ip, lp, &d) == SSM_OK, "%s", ssm_last_error());
        ck_assert_int_eq(d->n, 3);
        ck_assert_int_eq(d->vocab_size, 256);
        ck_assert_int_eq(d->n_classes, 10);
        assert_ids(d, 1, (int32_t[]){10, 11, 12, 13, 14, 15}, 6);
        ck_assert_int_eq(d->labels[0], 7);
        ck_assert_int_eq(d->labels[2], 9);
        /* a subset keeps sequences and labels in the given order */
        ssm_dataset *sub = ssm_dataset_subset(d, (int64_t[]){2, 0}, 2);
        ck_assert_int_eq(sub->n, 2);
        assert_ids(sub, 0, (int32_t[]){20, 21, 22, 23, 24, 25}, 6);
        ck_assert_int_eq(sub->labels[1], 7);
        ssm_dataset_free(sub);
        ssm_dataset_free(d);
        remove(ip);
        remove(lp);
    }
}
END_TEST

static void expect_idx_error(const unsigned char *img, size_t ni, const unsigned char *lab,
                             size_t nl, const char *want) {
    write_bytes("/tmp/ssm_test_idx_bad_img", img, ni, 0);
    write_bytes("/tmp/ssm_test_idx_bad_lab", lab, nl, 0);
    ssm_dataset *d;
    ck_assert_int_eq(ssm_idx_read("/tmp/ssm_test_idx_bad_img", "/tmp/ssm_test_idx_bad_lab", &d),
                     SSM_ERR);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(ssm_last_error(), want), "message '%s' lacks '%s'", ssm_last_error(), want);
    remove("/tmp/ssm_test_idx_bad_img");
    remove("/tmp/ssm_test_idx_bad_lab");
}

START_TEST(idx_errors_name_the_problem) {
    unsigned char img[16 + 4] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4};
    unsigned char lab[9] = {0, 0, 8, 1, 0, 0, 0, 1, 5};
    unsigned char bad_magic[9] = {0, 0, 9, 1, 0, 0, 0, 1, 5};
    expect_idx_error(img, sizeof img, bad_magic, sizeof bad_magic, "magic number");
    unsigned char two_labels[10] = {0, 0, 8, 1, 0, 0, 0, 2, 5, 6};
    expect_idx_error(img, sizeof img, two_labels, sizeof two_labels, "1 images but");
    expect_idx_error(img, sizeof img - 1, lab, sizeof lab, "truncated at image 0");
    unsigned char label12[9] = {0, 0, 8, 1, 0, 0, 0, 1, 12};
    expect_idx_error(img, sizeof img, label12, sizeof label12, "is not 0-9");
    ssm_dataset *d;
    ck_assert_int_eq(ssm_idx_read("/nonexistent/img", "/nonexistent/lab", &d), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "/nonexistent/img: cannot open"));
}
END_TEST

int main(void) {
    ssm_log_level = 0;
    Suite *s = suite_create("data");
    TCase *t = tcase_create("data");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, listops_reads_fixture);
    tcase_add_test(t, listops_official_vocabulary);
    tcase_add_test(t, idx_reads_images_and_labels);
    tcase_add_test(t, idx_errors_name_the_problem);
    tcase_add_test(t, listops_malformed_lines);
    tcase_add_test(t, listops_evaluator);
    tcase_add_test(t, listops_generator_roundtrip);
    tcase_add_test(t, selective_copy_targets);
    tcase_add_test(t, induction_targets);
    tcase_add_test(t, shuffle_is_seeded_permutation);
    tcase_add_test(t, batches_pad_and_label);
    tcase_add_test(t, batches_targets_pairs_channels);
    tcase_add_test(t, batches_pad_to_multiple);
    tcase_add_test(t, loader_resumes_exactly);
    tcase_add_test(t, loader_shards_by_rank);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
