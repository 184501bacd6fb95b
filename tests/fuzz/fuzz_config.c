/* libFuzzer target: the config reader (entries.c: fz_config). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("config")->run(data, n);
    return 0;
}
