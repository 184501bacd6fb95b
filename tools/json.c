#include "json.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void ssm_jbuf_printf(ssm_jbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        b->cap = (b->len + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        SSM_CHECK(b->s, "json: out of memory");
    }
}

void ssm_jbuf_string(ssm_jbuf *b, const char *s) {
    ssm_jbuf_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            ssm_jbuf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            ssm_jbuf_printf(b, "\\u%04x", *p);
        else
            ssm_jbuf_printf(b, "%c", *p);
    }
    ssm_jbuf_printf(b, "\"");
}
