/* libFuzzer target: the config.json importer (entries.c: fz_config_json). README: how to
 * run it. */
#include "entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fz_find("config_json")->run(data, n);
    return 0;
}
