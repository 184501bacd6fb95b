/* JSON text for the export's headers and configs: a growing buffer with printf-style
 * appends and escaped strings. */
#ifndef SSM_JSON_H
#define SSM_JSON_H
#include <stddef.h>
#include "log.h"

typedef struct {
    char *s; /* NUL-terminated; free() it */
    size_t len, cap;
} ssm_jbuf;

void ssm_jbuf_printf(ssm_jbuf *b, const char *fmt, ...) SSM_PRINTF(2, 3);
/* s as a JSON string literal, quotes included */
void ssm_jbuf_string(ssm_jbuf *b, const char *s);

#endif
