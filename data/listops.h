/* ListOps (Nangia & Bowman 2018, as in the Long Range Arena): nested MIN, MAX,
 * MED (median) and SM (sum mod 10) over digits, e.g.
 *     [MAX 4 3 [MIN 2 3 ] 1 0 ]  ->  4
 * The LRA files are TSV: a header `Source\tTarget`, then per line the expression
 * (with the generator's parentheses) and its value 0-9. */
#ifndef SSM_LISTOPS_H
#define SSM_LISTOPS_H
#include <stdint.h>
#include "dataset.h"

/* Fixed vocabulary, so ids never depend on which file was read first. The
 * official pipeline replaces ']' by 'X', deletes '(' and ')' and splits on
 * whitespace; these are the tokens that leaves. UNK is reserved for S4
 * compatibility (its vocab has <pad>, <unk>) but the reader rejects unknown
 * tokens. EOS is used only when the options ask for it (S4's append_eos). */
enum {
    SSM_LO_PAD = 0,
    SSM_LO_UNK = 1,
    SSM_LO_DIGIT0 = 2, /* digits 0-9: ids 2-11 */
    SSM_LO_MIN = 12,
    SSM_LO_MAX = 13,
    SSM_LO_MED = 14,
    SSM_LO_SM = 15,
    SSM_LO_END = 16, /* 'X', from ']' */
    SSM_LO_EOS = 17,
    SSM_LO_VOCAB = 18 /* vocab_size with EOS; 17 without */
};

typedef struct ssm_listops_opts {
    int64_t max_len; /* longest token sequence accepted (EOS included); 0: 2048 as S4 */
    int append_eos;  /* append EOS to every sequence */
} ssm_listops_opts;

/* The token string of id (e.g. "[MIN", "X", "7"). */
const char *ssm_listops_token(int32_t id);
/* Tokenise one expression as the LRA pipeline does. Writes at most cap ids,
 * returns the number of tokens (which may exceed cap), or -1 when a token is
 * not in the vocabulary (*bad points at it, its length in *bad_len). */
int64_t ssm_listops_tokenize(const char *expr, int32_t *ids, int64_t cap, const char **bad,
                             int *bad_len);
/* The ids the official S4 loader gives (src/dataloaders/lra.py: torchtext's
 * build_vocab_from_iterator over the training split): <pad> 0, <unk> 1 (<eos> 2 when
 * append_eos), then every token present in `train` by decreasing count, ties by
 * token string; tokens absent from train map to <unk>. Fills map[internal id] =
 * official id for every id < SSM_LO_VOCAB and returns the vocabulary size. Apply with
 * ssm_dataset_remap to every split, so models trained here use the official rows. */
int64_t ssm_listops_official_ids(const ssm_dataset *train, int append_eos,
                                 int32_t map[SSM_LO_VOCAB]);

/* Read an LRA ListOps TSV into a classification dataset (10 classes).
 * Errors name the file and line: missing tab, label not 0-9, unknown token,
 * a sequence over max_len. */
int ssm_listops_read(const char *path, const ssm_listops_opts *o, ssm_dataset **out);
/* Value of a tokenised expression by a stack machine (independent of the
 * generator's tree evaluation); -1 when it is not a well-formed expression.
 * EOS and PAD ids at the end are ignored. */
int ssm_listops_eval(const int32_t *ids, int64_t len);

/* The LRA generator (lra_benchmarks/data/listops.py), Philox-seeded. Each
 * attempt grows a tree from depth 1: a node at depth < max_depth is an operator
 * with probability 0.25, else (and always at max_depth) a digit uniform in 0-9;
 * an operator gets uniform 2..max_args arguments, each a subtree one deeper,
 * and a uniform operator of the four. Its length is the token count without
 * parentheses (operator and ']' count one each); LRA keeps a tree when
 * min_len < length < max_len (strict) and drops duplicates. Operators thus nest
 * at most max_depth - 1 deep. LRA defaults: depth 10, args 10, 500 < len < 2000. */
typedef struct ssm_listops_gen {
    int max_depth, max_args;
    int64_t min_len, max_len;
    int unique;              /* drop repeated expressions, as LRA's set() does */
    int64_t max_attempts;    /* give up after this many trees; 0: 1000 per example + 10^6 */
} ssm_listops_gen;

/* LRA's settings: depth 10, 10 args, 500 < length < 2000, unique. */
ssm_listops_gen ssm_listops_gen_lra(void);

/* n expressions in LRA's string form, "( ( [MIN 3 ) 4 ) ] )", with their values. */
typedef struct ssm_listops_set {
    int64_t n;
    char **expr;
    int32_t *value;
} ssm_listops_set;

/* Bad parameters (or none fitting within max_attempts) return SSM_ERR. */
int ssm_listops_generate(const ssm_listops_gen *g, uint64_t seed, int64_t n,
                         ssm_listops_set **out);
void ssm_listops_set_free(ssm_listops_set *s);
/* Write examples [begin, end) as an LRA TSV (header, CRLF line ends as Python's
 * csv.writer wrote them): to path.tmp, then renamed. */
int ssm_listops_write_tsv(const char *path, const ssm_listops_set *s, int64_t begin, int64_t end);

#endif
