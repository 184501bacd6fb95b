/* libFuzzer target: the imdb reader (entries.c: fz_imdb). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("imdb")->run(data, n);
    return 0;
}
