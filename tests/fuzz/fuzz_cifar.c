/* libFuzzer target: the cifar reader (entries.c: fz_cifar). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("cifar")->run(data, n);
    return 0;
}
