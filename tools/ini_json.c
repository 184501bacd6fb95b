#include "ini_json.h"
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

/* a whole INI value that is a finite JSON-compatible number */
static int is_number(const char *v) {
    char *end;
    double d = strtod(v, &end);
    return *v && !*end && d == d && d - d == 0 && strspn(v, "0123456789+-.eE") == strlen(v) &&
           v[0] != '+' && v[0] != '.' && strncmp(v, "-.", 2);
}

static int on_kv(void *user, const char *sec, const char *key, const char *val) {
    cJSON *root = user, *s = cJSON_GetObjectItemCaseSensitive(root, sec);
    if (!s) s = cJSON_AddObjectToObject(root, sec);
    cJSON *v = !strcmp(val, "true")    ? cJSON_CreateTrue()
               : !strcmp(val, "false") ? cJSON_CreateFalse()
               : is_number(val)        ? cJSON_CreateRaw(val)
                                       : cJSON_CreateString(val);
    SSM_CHECK(s && v, "ini_json: out of memory");
    cJSON_AddItemToObject(s, key, v);
    return 1;
}

cJSON *ssm_ini_to_json(const char *ini) {
    cJSON *root = cJSON_CreateObject();
    SSM_CHECK(root, "ini_json: out of memory");
    if (ini_parse_string(ini, on_kv, root) != 0) {
        cJSON_Delete(root);
        ssm_error("the config text does not parse as INI");
        return NULL;
    }
    return root;
}

static const char *value_text(const cJSON *v, char *buf, size_t n) {
    if (cJSON_IsTrue(v)) return "true";
    if (cJSON_IsFalse(v)) return "false";
    if (cJSON_IsString(v) || cJSON_IsRaw(v)) return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(buf, n, "%.17g", v->valuedouble);
        return buf;
    }
    return NULL;
}

typedef struct {
    char *s;
    size_t len, cap;
} text;

static void append(text *t, const char *a, const char *b, const char *c) {
    size_t k = strlen(a) + strlen(b) + strlen(c);
    if (t->len + k + 1 > t->cap) {
        t->cap = (t->len + k + 1) * 2;
        t->s = realloc(t->s, t->cap);
        SSM_CHECK(t->s, "ini_json: out of memory");
    }
    t->len += (size_t)sprintf(t->s + t->len, "%s%s%s", a, b, c);
}

char *ssm_json_to_ini(const cJSON *obj, const char *file) {
    text t = {0};
    append(&t, "", "", "");
    char num[40];
    const cJSON *sec, *kv;
    cJSON_ArrayForEach(sec, obj) {
        if (!cJSON_IsObject(sec)) {
            free(t.s);
            ssm_error("%s: config.%s is not an object of keys", file, sec->string);
            return NULL;
        }
        append(&t, "[", sec->string, "]\n");
        cJSON_ArrayForEach(kv, sec) {
            const char *v = value_text(kv, num, sizeof num);
            if (!v || strchr(v, '\n')) {
                free(t.s);
                ssm_error("%s: config.%s.%s must be a string, number or boolean", file,
                          sec->string, kv->string);
                return NULL;
            }
            append(&t, kv->string, " = ", v);
            append(&t, "\n", "", "");
        }
    }
    return t.s;
}

const char *ssm_json_ini_get(const cJSON *obj, const char *section, const char *key, char *buf,
                             size_t n) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, section);
    const cJSON *v = s ? cJSON_GetObjectItemCaseSensitive(s, key) : NULL;
    const char *t = v ? value_text(v, buf, n) : NULL;
    if (t && t != buf) snprintf(buf, n, "%s", t);
    return t ? buf : NULL;
}
