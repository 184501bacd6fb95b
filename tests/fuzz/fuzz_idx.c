/* libFuzzer target: the idx reader (entries.c: fz_idx). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("idx")->run(data, n);
    return 0;
}
