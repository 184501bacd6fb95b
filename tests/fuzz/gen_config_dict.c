/* Prints a libFuzzer dictionary of the config format: every section, key, enum choice
 * and a few values, from the key table (make fuzz writes tests/fuzz/config.dict). */
#include <stdio.h>
#include "ssmconfig.h"

int main(void) {
    size_t ns;
    const char *const *sec = ssm_cfg_sections(&ns);
    for (size_t i = 0; i < ns; i++) printf("\"[%s]\"\n", sec[i]);
    for (size_t i = 0; i < ssm_cfg_nkeys; i++) {
        const ssm_cfg_key *k = &ssm_cfg_keys[i];
        printf("\"%s = \"\n\"%s.%s=\"\n", k->key, k->section, k->key);
        for (const ssm_cfg_choice *c = k->choices; c && c->name; c++) printf("\"%s\"\n", c->name);
    }
    const char *extra[] = {"true", "false", "1e308", "-1", "0", "nan", "inf", "0x10", ", ",
                           "; ", "\\x0a----8<----\\x0a", "\\xef\\xbb\\xbf"};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) printf("\"%s\"\n", extra[i]);
    return 0;
}
