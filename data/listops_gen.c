/* The LRA ListOps generator (see listops.h for the sampling procedure) and the
 * TSV writer. Values come from the tree as it grows, by running aggregates;
 * ssm_listops_eval re-derives them from tokens with a stack, for cross-checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "listops.h"
#include "log.h"

#define VALUE_P 0.25 /* LRA: a node below max_depth is an operator when r <= VALUE_P */

typedef struct {
    const ssm_listops_gen *g;
    ssm_stream rng;
    int32_t *tok; /* prefix form: op args... END */
    int64_t n;
    int over;     /* reached max_len: the tree is rejected, stop growing it */
} grower;

static void emit(grower *s, int32_t t) {
    if (s->n + 1 >= s->g->max_len) s->over = 1; /* length would not be < max_len */
    else s->tok[s->n++] = t;
}

/* The k-th smallest (0-based) of a histogram of digits. */
static int kth(const int *cnt, int k) {
    int v = 0;
    for (int seen = cnt[0]; seen <= k; seen += cnt[++v]) {}
    return v;
}

static int32_t grow(grower *s, int depth) {
    double r = depth < s->g->max_depth ? ssm_stream_uniform(&s->rng) : 1.0;
    if (r > VALUE_P) {
        int32_t v = (int32_t)ssm_stream_below(&s->rng, 10);
        emit(s, SSM_LO_DIGIT0 + v);
        return v;
    }
    /* LRA draws the operator after the arguments; independent draws, same law. */
    int nargs = 2 + (int)ssm_stream_below(&s->rng, (uint64_t)s->g->max_args - 1);
    int32_t op = SSM_LO_MIN + (int32_t)ssm_stream_below(&s->rng, 4);
    emit(s, op);
    int cnt[10] = {0}, sum = 0;
    for (int k = 0; k < nargs && !s->over; k++) {
        int32_t v = grow(s, depth + 1);
        cnt[v]++;
        sum += v;
    }
    emit(s, SSM_LO_END);
    if (s->over) return 0;
    switch (op) {
    case SSM_LO_MIN: return kth(cnt, 0);
    case SSM_LO_MAX: return kth(cnt, nargs - 1);
    case SSM_LO_MED: return nargs % 2 ? kth(cnt, nargs / 2)
                                      : (kth(cnt, nargs / 2 - 1) + kth(cnt, nargs / 2)) / 2;
    default: return sum % 10;
    }
}

typedef struct {
    char *s;
    size_t n, cap;
} strbuf;

static void put(strbuf *b, const char *s) {
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        while (b->n + k + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 256;
        b->s = realloc(b->s, b->cap);
        SSM_CHECK(b->s, "listops_generate: out of memory");
    }
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

static int64_t skip(const int32_t *t, int64_t i) {
    if (t[i] != SSM_LO_MIN && t[i] != SSM_LO_MAX && t[i] != SSM_LO_MED && t[i] != SSM_LO_SM)
        return i + 1;
    for (i++; t[i] != SSM_LO_END; i = skip(t, i)) {}
    return i + 1;
}

/* LRA's to_string: the operator node (((op a1) a2) ... ]) as nested pairs,
 * "( ( ( [MIN a1 ) a2 ) ] )". Returns the index after the subtree at i. */
static int64_t print(const int32_t *t, int64_t i, strbuf *b) {
    if (t[i] < SSM_LO_MIN || t[i] > SSM_LO_SM) {
        put(b, ssm_listops_token(t[i]));
        return i + 1;
    }
    int nargs = 0;
    for (int64_t j = i + 1; t[j] != SSM_LO_END; j = skip(t, j)) nargs++;
    for (int k = 0; k <= nargs; k++) put(b, "( ");
    put(b, ssm_listops_token(t[i]));
    int64_t j = i + 1;
    while (t[j] != SSM_LO_END) {
        put(b, " ");
        j = print(t, j, b);
        put(b, " )");
    }
    put(b, " ] )");
    return j + 1;
}

/* Open-addressing set of 64-bit hashes of token strings (0 marks a free slot). */
typedef struct {
    uint64_t *slot;
    size_t cap, n;
} hashset;

static uint64_t fnv1a(const int32_t *t, int64_t n) {
    uint64_t h = 14695981039346656037ull;
    for (int64_t i = 0; i < n; i++) {
        h ^= (uint64_t)(uint32_t)t[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* Inserts h; returns 0 when it was already there. */
static int hs_insert(hashset *s, uint64_t h) {
    if (2 * (s->n + 1) > s->cap) {
        hashset g = {calloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)),
                     s->cap ? 2 * s->cap : 1024, 0};
        SSM_CHECK(g.slot, "listops_generate: out of memory");
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) hs_insert(&g, s->slot[i]);
        free(s->slot);
        *s = g;
    }
    size_t i = (size_t)h & (s->cap - 1);
    for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
        if (s->slot[i] == h) return 0;
    s->slot[i] = h;
    s->n++;
    return 1;
}

ssm_listops_gen ssm_listops_gen_lra(void) {
    ssm_listops_gen g = {.max_depth = 10, .max_args = 10, .min_len = 500, .max_len = 2000,
                         .unique = 1};
    return g;
}

int ssm_listops_generate(const ssm_listops_gen *g, uint64_t seed, int64_t n,
                         ssm_listops_set **out) {
    *out = NULL;
    if (g->max_depth < 1 || g->max_depth > 1000 || g->max_args < 2 || g->min_len < 0 ||
        g->max_len <= g->min_len + 1 || n < 0)
        return ssm_error("listops generator: need 1 <= max_depth <= 1000 (got %d), max_args >= 2 "
                         "(got %d), 0 <= min_len < max_len - 1 (got %lld, %lld), n >= 0 (got %lld)",
                         g->max_depth, g->max_args, (long long)g->min_len,
                         (long long)g->max_len, (long long)n);
    int64_t max_attempts = g->max_attempts > 0 ? g->max_attempts : 1000 * n + 1000000;
    ssm_listops_set *set = calloc(1, sizeof *set);
    grower s = {g, ssm_stream_make(seed, SSM_DOMAIN_LISTOPS, 0), NULL, 0, 0};
    s.tok = malloc((size_t)g->max_len * sizeof *s.tok);
    set->expr = calloc((size_t)(n ? n : 1), sizeof *set->expr);
    set->value = calloc((size_t)(n ? n : 1), sizeof *set->value);
    SSM_CHECK(set && s.tok && set->expr && set->value, "listops_generate: out of memory");
    hashset seen = {0};
    int64_t attempts = 0;
    while (set->n < n && attempts++ < max_attempts) {
        s.n = 0;
        s.over = 0;
        int32_t v = grow(&s, 1);
        if (s.over || s.n <= g->min_len) continue;
        if (g->unique && !hs_insert(&seen, fnv1a(s.tok, s.n))) continue;
        strbuf b = {0};
        print(s.tok, 0, &b);
        set->expr[set->n] = b.s;
        set->value[set->n++] = v;
    }
    free(seen.slot);
    free(s.tok);
    if (set->n < n) {
        long long got = (long long)set->n;
        ssm_listops_set_free(set);
        return ssm_error("listops generator: only %lld of %lld expressions with %lld < length < "
                         "%lld after %lld attempts",
                         got, (long long)n, (long long)g->min_len, (long long)g->max_len,
                         (long long)max_attempts);
    }
    *out = set;
    return SSM_OK;
}

void ssm_listops_set_free(ssm_listops_set *s) {
    if (!s) return;
    for (int64_t i = 0; i < s->n; i++) free(s->expr[i]);
    free(s->expr);
    free(s->value);
    free(s);
}

int ssm_listops_write_tsv(const char *path, const ssm_listops_set *s, int64_t begin,
                          int64_t end) {
    SSM_CHECK(begin >= 0 && begin <= end && end <= s->n, "listops_write_tsv: [%lld, %lld) of %lld",
              (long long)begin, (long long)end, (long long)s->n);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return ssm_error("%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return ssm_error("%s: cannot create: %s", tmp, strerror(errno));
    /* CRLF line ends: LRA's files come from Python's csv.writer */
    int ok = fputs("Source\tTarget\r\n", f) >= 0;
    for (int64_t i = begin; ok && i < end; i++)
        ok = fprintf(f, "%s\t%d\r\n", s->expr[i], (int)s->value[i]) > 0;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0; /* on disk before it replaces path */
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return ssm_error("%s: write failed: %s", path, strerror(e));
    }
    return SSM_OK;
}
