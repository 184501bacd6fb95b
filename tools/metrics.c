#include "metrics.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "replace_file.h"

typedef struct {
    const char *text; /* the kept lines */
    size_t len;
} kept_lines;

static int write_kept(const char *tmp, void *arg) {
    const kept_lines *k = arg;
    FILE *f = fopen(tmp, "w");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    int ok = fwrite(k->text, 1, k->len, f) == k->len;
    if (fclose(f) != 0 || !ok) return ssm_error("%s: write failed", tmp);
    return SSM_OK;
}

/* Keep the lines of `text` whose "step" is <= step; returns how many were dropped. */
static int64_t filter(char *text, int64_t step, size_t *kept_len) {
    int64_t dropped = 0;
    size_t out = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        char save = line[len - (nl ? 1 : 0)];
        line[len - (nl ? 1 : 0)] = 0;
        cJSON *j = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
        int keep = nl && cJSON_IsNumber(s) && s->valuedouble <= (double)step;
        cJSON_Delete(j);
        line[len - (nl ? 1 : 0)] = save;
        if (keep) {
            memmove(text + out, line, len);
            out += len;
        } else if (len > 1 || !nl) {
            dropped++;
        }
        line += len;
    }
    *kept_len = out;
    return dropped;
}

int ssm_metrics_open(ssm_metrics *m, const char *dir, int64_t step, int64_t *dropped) {
    memset(m, 0, sizeof *m);
    *dropped = 0;
    snprintf(m->path, sizeof m->path, "%s/metrics.jsonl", dir);
    if (step > 0) {
        FILE *f = fopen(m->path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            rewind(f);
            char *text = malloc((size_t)(n > 0 ? n : 0) + 1);
            SSM_CHECK(text, "metrics: out of memory");
            size_t got = fread(text, 1, (size_t)(n > 0 ? n : 0), f);
            fclose(f);
            text[got] = 0;
            kept_lines k = {text, 0};
            *dropped = filter(text, step, &k.len);
            int rc = *dropped ? ssm_replace_file(m->path, write_kept, &k) : SSM_OK;
            free(text);
            if (rc != SSM_OK) return SSM_ERR;
        }
    }
    m->f = fopen(m->path, step > 0 ? "a" : "w");
    if (!m->f) return ssm_error("%s: cannot write: %s", m->path, strerror(errno));
    return SSM_OK;
}

void ssm_metrics_write(ssm_metrics *m, const ssm_metrics_row *r) {
    if (!m->f) return;
    fprintf(m->f, "{\"step\": %lld, \"epoch\": %.4f, \"split\": \"%s\", \"loss\": %.9g, \"acc\": %.6f",
            (long long)r->step, r->epoch, r->split, r->loss, r->acc);
    if (!strcmp(r->split, "train"))
        fprintf(m->f, ", \"lr\": %.9g, \"grad_norm\": %.9g, \"tokens_per_s\": %.1f", r->lr,
                r->grad_norm, r->tokens_per_s);
    if (r->ckpt)
        fprintf(m->f, ", \"ckpt\": \"%s\", \"ckpt_step\": %lld", r->ckpt, (long long)r->ckpt_step);
    fprintf(m->f, "}\n");
    fflush(m->f);
}

void ssm_metrics_close(ssm_metrics *m) {
    if (m->f) fclose(m->f);
    m->f = NULL;
}
