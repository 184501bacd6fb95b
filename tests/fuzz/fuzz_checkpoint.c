/* libFuzzer target: the checkpoint reader (entries.c: fz_checkpoint). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("checkpoint")->run(data, n);
    return 0;
}
