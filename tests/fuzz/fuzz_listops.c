/* libFuzzer target: the listops reader (entries.c: fz_listops). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("listops")->run(data, n);
    return 0;
}
