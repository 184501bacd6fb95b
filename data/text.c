/* Character and byte encodings of the LRA text tasks (see text.h). */
#include "text.h"
#include <stdlib.h>
#include <string.h>
#include "log.h"

int64_t ssm_utf8_decode(const char *s, size_t n, int32_t *cp, int64_t cap, size_t *bad) {
    const unsigned char *u = (const unsigned char *)s;
    int64_t count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        int len;
        uint32_t v, min;
        if (c < 0x80) len = 1, v = c, min = 0;
        else if (c >= 0xC2 && c < 0xE0) len = 2, v = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c < 0xF0) len = 3, v = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c < 0xF5) len = 4, v = c & 0x07, min = 0x10000;
        else goto invalid; /* continuation byte, C0/C1 (overlong) or F5-FF */
        if (n - i < (size_t)len) goto invalid;
        for (int k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80) goto invalid;
            v = v << 6 | (u[i + k] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto invalid;
        if (count < cap) cp[count] = (int32_t)v;
        count++;
        i += (size_t)len;
    }
    return count;
invalid:
    if (bad) *bad = i;
    return -1;
}

ssm_dataset *ssm_text_stage_new(const char *name, int n_seq, const ssm_text_opts *o) {
    SSM_CHECK(o->max_len >= 1 && o->min_freq >= 1,
              "text_stage_new: unresolved options (max_len %lld, min_freq %lld)",
              (long long)o->max_len, (long long)o->min_freq);
    ssm_dataset_spec spec = {
        .name = name, .n_seq = n_seq, .has_labels = 1, .n_classes = 2,
        .vocab_size = o->tokenizer == SSM_TEXT_BYTE ? SSM_TEXT_BYTE_VOCAB : SSM_TEXT_STAGE_EOS + 1,
        .max_len = o->max_len, .pad_id = SSM_TEXT_PAD};
    return ssm_dataset_new(&spec);
}

int ssm_text_add(ssm_dataset *d, const ssm_text_opts *o, const char *text, size_t n,
                 size_t *bad) {
    int32_t *ids = malloc((size_t)o->max_len * sizeof *ids);
    SSM_CHECK(ids, "text_add: out of memory");
    int64_t len;
    if (o->tokenizer == SSM_TEXT_BYTE) {
        /* the whole text must still be UTF-8, as the reference readers decode it first */
        if (ssm_utf8_decode(text, n, NULL, 0, bad) < 0) {
            free(ids);
            return SSM_ERR;
        }
        len = (int64_t)n < o->max_len ? (int64_t)n : o->max_len;
        for (int64_t i = 0; i < len; i++) ids[i] = (unsigned char)text[i] + 1;
    } else {
        len = ssm_utf8_decode(text, n, ids, o->max_len - 1, bad);
        if (len < 0) {
            free(ids);
            return SSM_ERR;
        }
        if (len > o->max_len - 1) len = o->max_len - 1;
        ids[len++] = SSM_TEXT_STAGE_EOS;
    }
    ssm_dataset_add_seq(d, ids, len, NULL);
    free(ids);
    return SSM_OK;
}

typedef struct {
    int32_t cp;
    int64_t count;
} cp_count;

static int by_count_then_cp(const void *a, const void *b) {
    const cp_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->cp > y->cp) - (x->cp < y->cp);
}

int64_t ssm_text_char_vocab(const ssm_dataset *train, int64_t min_freq, int32_t **map_out) {
    const int64_t n_stage = SSM_TEXT_STAGE_EOS + 1;
    int64_t *count = calloc((size_t)n_stage, sizeof *count);
    int32_t *map = malloc((size_t)n_stage * sizeof *map);
    SSM_CHECK(count && map, "text_char_vocab: out of memory");
    int64_t total = train->off[train->n_seqs];
    for (int64_t i = 0; i < total; i++) count[train->tokens[i]]++;
    int64_t n_kept = 0;
    for (int32_t cp = 0; cp < SSM_TEXT_STAGE_EOS; cp++) n_kept += count[cp] >= min_freq;
    cp_count *kept = malloc((size_t)(n_kept ? n_kept : 1) * sizeof *kept);
    SSM_CHECK(kept, "text_char_vocab: out of memory");
    int64_t k = 0;
    for (int32_t cp = 0; cp < SSM_TEXT_STAGE_EOS; cp++)
        if (count[cp] >= min_freq) kept[k++] = (cp_count){cp, count[cp]};
    qsort(kept, (size_t)n_kept, sizeof *kept, by_count_then_cp);
    for (int64_t i = 0; i < n_stage; i++) map[i] = SSM_TEXT_UNK;
    map[SSM_TEXT_STAGE_EOS] = SSM_TEXT_EOS;
    for (int64_t i = 0; i < n_kept; i++) map[kept[i].cp] = (int32_t)(SSM_TEXT_EOS + 1 + i);
    free(kept);
    free(count);
    *map_out = map;
    return SSM_TEXT_EOS + 1 + n_kept;
}

int64_t ssm_text_finish(ssm_dataset *const *splits, int n, const ssm_text_opts *o) {
    if (o->tokenizer == SSM_TEXT_BYTE) return SSM_TEXT_BYTE_VOCAB; /* staged as final ids */
    int32_t *map;
    int64_t V = ssm_text_char_vocab(splits[0], o->min_freq, &map);
    for (int i = 0; i < n; i++) ssm_dataset_remap(splits[i], map, SSM_TEXT_STAGE_EOS + 1, V);
    free(map);
    return V;
}
