#include "metrics.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fsutil.h"
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
    m->t0 = ssm_now_s();
    if (step > 0) {
        char *text = ssm_read_text(m->path);
        if (text) {
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
    fprintf(m->f, "{\"step\": %lld, \"epoch\": %.4f, \"time_s\": %.3f, \"split\": \"%s\", "
            "\"loss\": %.9g, \"acc\": %.6f", (long long)r->step, r->epoch, ssm_now_s() - m->t0,
            r->split, r->loss, r->acc);
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

static double number(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One line (NUL-terminated) into e; SSM_ERR with the reason when it is not a row. */
static int parse_row(const char *line, ssm_metrics_entry *e, const char **why) {
    cJSON *j = cJSON_ParseWithOpts(line, NULL, 1);
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(j, "split");
    *why = !cJSON_IsObject(j) ? "not a JSON object"
           : !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "step")) ? "no numeric \"step\""
           : !cJSON_IsString(split) ? "no string \"split\""
                                    : NULL;
    if (!*why) {
        *e = (ssm_metrics_entry){.step = (int64_t)number(j, "step"), .epoch = number(j, "epoch"),
                                 .time_s = number(j, "time_s"), .loss = number(j, "loss"),
                                 .acc = number(j, "acc"), .lr = number(j, "lr"),
                                 .grad_norm = number(j, "grad_norm"),
                                 .tokens_per_s = number(j, "tokens_per_s")};
        if (strlen(split->valuestring) < sizeof e->split) strcpy(e->split, split->valuestring);
    }
    cJSON_Delete(j);
    return *why ? SSM_ERR : SSM_OK;
}

static int blank(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return !*s;
}

int ssm_metrics_read(const char *path, ssm_metrics_table *t) {
    memset(t, 0, sizeof *t);
    char *text = ssm_read_text(path);
    if (!text) return ssm_error("%s: cannot read: %s", path, strerror(errno));
    int cap = 0, line_no = 0, rc = SSM_OK;
    for (char *line = text; *line; line++) {
        char *nl = strchr(line, '\n');
        line_no++;
        if (!nl) { /* being written: the writer ends every row with its newline */
            if (!blank(line)) t->skipped_line = line_no;
            break;
        }
        *nl = 0;
        if (!blank(line)) {
            if (t->n == cap) {
                cap = cap ? 2 * cap : 256;
                t->rows = realloc(t->rows, (size_t)cap * sizeof *t->rows);
                SSM_CHECK(t->rows, "metrics: out of memory");
            }
            const char *why;
            if (parse_row(line, &t->rows[t->n], &why) != SSM_OK) {
                rc = ssm_error("%s:%d: %s: %.60s%s", path, line_no, why, line,
                               strlen(line) > 60 ? "..." : "");
                break;
            }
            t->n++;
        }
        line = nl;
    }
    free(text);
    if (rc != SSM_OK) ssm_metrics_table_free(t);
    return rc;
}

void ssm_metrics_table_free(ssm_metrics_table *t) {
    free(t->rows);
    memset(t, 0, sizeof *t);
}
