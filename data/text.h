/* Character-level text for the LRA Text (IMDB) and Retrieval (AAN) tasks, in the two
 * encodings the reference code uses:
 *
 *  - char, as the S4 repository (src/dataloaders/lra.py, classes IMDB and AAN):
 *    Python's list(text), i.e. Unicode code points, cut to max_len - 1, then <eos>.
 *    Ids are torchtext's build_vocab_from_iterator over the (cut) training texts with
 *    specials [<pad>, <unk>, <eos>]: <pad> 0, <unk> 1, <eos> 2, then every code point
 *    seen at least min_freq times, by decreasing count, ties by code point (torchtext
 *    sorts by (-count, token)); every other code point is <unk>.
 *  - byte, as LRA (tfds' ByteTextEncoder in lra_benchmarks/text_classification and
 *    matching/input_pipeline.py): the UTF-8 bytes b of the text as ids b + 1, 0 being
 *    padding (vocabulary 257), cut to max_len, no end token.
 *
 * A reader stores every split in staging ids first (byte: the final ids; char: code
 * points and SSM_TEXT_STAGE_EOS), then ssm_text_finish numbers the characters from the
 * training split, so the vocabulary never depends on the order files are read in. */
#ifndef SSM_TEXT_H
#define SSM_TEXT_H
#include <stddef.h>
#include <stdint.h>
#include "dataset.h"

typedef enum { SSM_TEXT_CHAR = 0, SSM_TEXT_BYTE } ssm_text_tokenizer;

typedef struct ssm_text_opts {
    ssm_text_tokenizer tokenizer;
    int64_t max_len;  /* ids per sequence, <eos> included; 0: the task's default */
    int64_t min_freq; /* char: training-split count a character needs for an id of its own;
                         0: the task's default */
} ssm_text_opts;

enum { SSM_TEXT_PAD = 0, SSM_TEXT_UNK = 1, SSM_TEXT_EOS = 2, SSM_TEXT_BYTE_VOCAB = 257 };
/* Staging id of <eos> (char): one past the last code point. */
#define SSM_TEXT_STAGE_EOS 0x110000

/* Strict UTF-8 (as Python's decoder: no overlong forms, surrogates or values past
 * U+10FFFF): writes the first `cap` code points of s[0..n) to cp and returns how many s
 * holds, or -1 with *bad the offset of the first byte of the invalid sequence. */
int64_t ssm_utf8_decode(const char *s, size_t n, int32_t *cp, int64_t cap, size_t *bad);

/* A staging dataset of 2-class examples of n_seq texts each; o resolved (no zeros). */
ssm_dataset *ssm_text_stage_new(const char *name, int n_seq, const ssm_text_opts *o);
/* Append text[0..n) as the next sequence of the example being built. Invalid UTF-8
 * returns SSM_ERR with *bad set and no message: the caller knows the file and line. */
int ssm_text_add(ssm_dataset *d, const ssm_text_opts *o, const char *text, size_t n,
                 size_t *bad);
/* Final ids in every split; splits[0] is the training split (char: its vocabulary).
 * Returns the vocabulary size. */
int64_t ssm_text_finish(ssm_dataset *const *splits, int n, const ssm_text_opts *o);
/* The char vocabulary of a staged training split: map[staging id] = final id for every
 * id <= SSM_TEXT_STAGE_EOS (malloc'd into *map); returns its size. */
int64_t ssm_text_char_vocab(const ssm_dataset *train, int64_t min_freq, int32_t **map);

#endif
