/* An ssmtrain config (INI text) as a JSON object {"section": {"key": value}} and back,
 * for the config.json of exported sequence models (docs/EXPORT.md). Values: true/false
 * as booleans, numbers as numbers (their INI text kept verbatim), the rest as strings. */
#ifndef SSM_INI_JSON_H
#define SSM_INI_JSON_H
#include <cJSON.h>

/* NULL (and ssm_error) when the text does not parse as INI. */
cJSON *ssm_ini_to_json(const char *ini);
/* The INI text of such an object (malloc'd), or NULL and ssm_error naming `file` and the
 * entry that is neither a section object nor a boolean, number or string value. */
char *ssm_json_to_ini(const cJSON *obj, const char *file);
/* The value of section.key in such an object as text (a raw or printed number, a string,
 * true/false) into buf; NULL when absent. */
const char *ssm_json_ini_get(const cJSON *obj, const char *section, const char *key, char *buf,
                             size_t n);

#endif
