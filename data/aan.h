/* The ACL Anthology Network pairs of LRA Retrieval: does paper 1 cite paper 2 (label 1)?
 *
 * LRA's tsv_data/new_aan_pairs.{train,eval,test}.tsv: no header, one pair per line, five
 * tab-separated columns `label id1 id2 text1 text2`; the label is written as a float
 * ("1.0") and cast to int. As LRA's reader (use_quote_delim=False) quotes are plain
 * characters; a trailing '\r' is dropped and blank lines are skipped.
 *
 * Each example is two sequences (n_seq 2: text1, then text2), each encoded by text.h:
 * char (S4: <= 3999 characters + <eos>, vocabulary of both texts of the training split,
 * min_freq 1) or byte (LRA). */
#ifndef SSM_AAN_H
#define SSM_AAN_H
#include "dataset.h"
#include "text.h"

/* The S4 defaults for o's zeros: 4000 ids per document, every training character. */
enum { SSM_AAN_MAX_LEN = 4000, SSM_AAN_MIN_FREQ = 1 };

/* The three files under dir (eval is the validation split); o NULL means char with the
 * defaults. Errors name the file and line (column count, label, UTF-8). */
int ssm_aan_read(const char *dir, const ssm_text_opts *o, ssm_dataset **train,
                 ssm_dataset **val, ssm_dataset **test);

#endif
