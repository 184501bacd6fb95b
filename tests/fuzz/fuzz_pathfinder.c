/* libFuzzer target: the pathfinder reader (entries.c: fz_pathfinder). README: how to run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("pathfinder")->run(data, n);
    return 0;
}
