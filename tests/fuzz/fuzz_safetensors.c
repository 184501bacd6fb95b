/* libFuzzer target: the safetensors reader (entries.c: fz_safetensors). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("safetensors")->run(data, n);
    return 0;
}
