/* libFuzzer target: the aan reader (entries.c: fz_aan). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("aan")->run(data, n);
    return 0;
}
