/* ListOps: vocabulary, the LRA tokeniser, the TSV reader and a stack evaluator. */
#include "listops.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

static const char *const TOKENS[SSM_LO_VOCAB] = {
    "<pad>", "<unk>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    "[MIN", "[MAX", "[MED", "[SM", "X", "<eos>"};

const char *ssm_listops_token(int32_t id) {
    return id >= 0 && id < SSM_LO_VOCAB ? TOKENS[id] : "?";
}

/* Id of a translated token (after ']'->'X', parentheses removed), or -1. */
static int32_t lookup(const char *t, size_t n) {
    for (int32_t id = SSM_LO_DIGIT0; id <= SSM_LO_END; id++)
        if (strlen(TOKENS[id]) == n && memcmp(TOKENS[id], t, n) == 0) return id;
    return -1;
}

int64_t ssm_listops_tokenize(const char *s, int32_t *ids, int64_t cap, const char **bad,
                             int *bad_len) {
    int64_t n = 0;
    while (*s) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s) break;
        const char *start = s;
        char t[8];
        size_t tn = 0;
        int too_long = 0;
        for (; *s && !isspace((unsigned char)*s); s++) {
            if (*s == '(' || *s == ')') continue; /* the LRA tokeniser drops them */
            if (tn == sizeof t) too_long = 1; else t[tn++] = *s == ']' ? 'X' : *s;
        }
        if (tn == 0) continue; /* a chunk of parentheses only */
        int32_t id = too_long ? -1 : lookup(t, tn);
        if (id < 0) {
            if (bad) *bad = start;
            if (bad_len) *bad_len = (int)(s - start);
            return -1;
        }
        if (n < cap) ids[n] = id;
        n++;
    }
    return n;
}

static void chomp(char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
}

int ssm_listops_read(const char *path, const ssm_listops_opts *o, ssm_dataset **out) {
    *out = NULL;
    int64_t max_len = o && o->max_len > 0 ? o->max_len : 2048;
    int eos = o ? o->append_eos : 0;
    FILE *f = fopen(path, "r");
    if (!f) return ssm_error("%s: cannot open: %s", path, strerror(errno));
    ssm_dataset_spec spec = {.name = "listops", .has_labels = 1, .n_classes = 10,
                             .vocab_size = eos ? SSM_LO_VOCAB : SSM_LO_VOCAB - 1,
                             .max_len = max_len, .pad_id = SSM_LO_PAD};
    ssm_dataset *d = ssm_dataset_new(&spec);
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    char *line = NULL;
    size_t cap = 0;
    long long lineno = 0;
    int rc = SSM_OK;
    SSM_CHECK(ids, "listops_read: out of memory");
    while (getline(&line, &cap, f) >= 0) {
        chomp(line);
        if (++lineno == 1) {
            if (strcmp(line, "Source\tTarget") != 0) {
                rc = ssm_error("%s:1: expected the header 'Source<TAB>Target'", path);
                break;
            }
            continue;
        }
        if (!line[0]) continue; /* blank lines carry nothing (csv readers skip them too) */
        char *tab = strchr(line, '\t');
        if (!tab) {
            rc = ssm_error("%s:%lld: no tab between expression and label", path, lineno);
            break;
        }
        *tab = 0;
        const char *lab = tab + 1;
        if (!(lab[0] >= '0' && lab[0] <= '9' && lab[1] == 0)) {
            rc = ssm_error("%s:%lld: label '%s' is not an integer 0-9", path, lineno, lab);
            break;
        }
        const char *bad = NULL;
        int bad_len = 0;
        int64_t n = ssm_listops_tokenize(line, ids, max_len - eos, &bad, &bad_len);
        if (n < 0) {
            rc = ssm_error("%s:%lld: unknown token '%.*s'", path, lineno, bad_len, bad);
            break;
        }
        if (n == 0) {
            rc = ssm_error("%s:%lld: empty expression", path, lineno);
            break;
        }
        if (n + eos > max_len) {
            rc = ssm_error("%s:%lld: %lld tokens, more than max_len %lld", path, lineno,
                           (long long)(n + eos), (long long)max_len);
            break;
        }
        if (eos) ids[n++] = SSM_LO_EOS;
        ssm_dataset_add(d, ids, n, NULL, lab[0] - '0');
    }
    if (rc == SSM_OK && ferror(f)) rc = ssm_error("%s: read error: %s", path, strerror(errno));
    if (rc == SSM_OK && lineno == 0) rc = ssm_error("%s: empty file, expected a header", path);
    free(line);
    free(ids);
    fclose(f);
    if (rc != SSM_OK) {
        ssm_dataset_free(d);
        return rc;
    }
    *out = d;
    return SSM_OK;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Apply op to args[0..n): sorts args in place. */
static int32_t apply(int32_t op, int32_t *args, int64_t n) {
    qsort(args, (size_t)n, sizeof *args, cmp_i32);
    switch (op) {
    case SSM_LO_MIN: return args[0];
    case SSM_LO_MAX: return args[n - 1];
    case SSM_LO_MED: /* int(np.median): the mean of the middle pair, truncated */
        return n % 2 ? args[n / 2] : (args[n / 2 - 1] + args[n / 2]) / 2;
    default: {
        int64_t s = 0;
        for (int64_t i = 0; i < n; i++) s += args[i];
        return (int32_t)(s % 10);
    }
    }
}

int ssm_listops_eval(const int32_t *ids, int64_t len) {
    while (len > 0 && (ids[len - 1] == SSM_LO_EOS || ids[len - 1] == SSM_LO_PAD)) len--;
    if (len <= 0) return -1;
    /* vals: a stack of digits; frames: open operators with where their args start. */
    int32_t *vals = malloc((size_t)len * sizeof *vals);
    int64_t *frames = malloc((size_t)len * sizeof *frames);
    int32_t *ops = malloc((size_t)len * sizeof *ops);
    SSM_CHECK(vals && frames && ops, "listops_eval: out of memory");
    int64_t nv = 0, nf = 0;
    int result = -1;
    for (int64_t i = 0; i < len; i++) {
        int32_t t = ids[i], v;
        if (t >= SSM_LO_MIN && t <= SSM_LO_SM) {
            if (nf == 0 && nv > 0) goto done; /* a second top-level term */
            ops[nf] = t;
            frames[nf++] = nv;
            continue;
        }
        if (t >= SSM_LO_DIGIT0 && t < SSM_LO_DIGIT0 + 10) {
            v = t - SSM_LO_DIGIT0;
        } else if (t == SSM_LO_END) {
            if (nf == 0 || nv == frames[nf - 1]) goto done; /* no operator, or no args */
            nf--;
            v = apply(ops[nf], vals + frames[nf], nv - frames[nf]);
            nv = frames[nf];
        } else {
            goto done;
        }
        if (nf == 0 && nv > 0) goto done;
        vals[nv++] = v;
    }
    if (nf == 0 && nv == 1) result = vals[0];
done:
    free(vals);
    free(frames);
    free(ops);
    return result;
}

typedef struct {
    int32_t id;
    int64_t count;
} token_count;

static int by_count_then_string(const void *a, const void *b) {
    const token_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(ssm_listops_token(x->id), ssm_listops_token(y->id));
}

int64_t ssm_listops_official_ids(const ssm_dataset *train, int append_eos,
                                 int32_t map[SSM_LO_VOCAB]) {
    token_count c[SSM_LO_VOCAB];
    for (int32_t id = 0; id < SSM_LO_VOCAB; id++) c[id] = (token_count){id, 0};
    for (int64_t i = 0; i < train->n; i++) {
        int64_t len;
        const int32_t *ids = ssm_dataset_seq(train, i, 0, &len);
        for (int64_t t = 0; t < len; t++) c[ids[t]].count++;
    }
    int32_t next = append_eos ? 3 : 2;
    map[SSM_LO_PAD] = 0;
    map[SSM_LO_UNK] = 1;
    map[SSM_LO_EOS] = append_eos ? 2 : 1;
    token_count tok[SSM_LO_VOCAB];
    int n = 0;
    for (int32_t id = SSM_LO_DIGIT0; id <= SSM_LO_END; id++) tok[n++] = c[id];
    qsort(tok, (size_t)n, sizeof *tok, by_count_then_string);
    for (int i = 0; i < n; i++) map[tok[i].id] = tok[i].count > 0 ? next++ : SSM_LO_UNK;
    return next;
}
