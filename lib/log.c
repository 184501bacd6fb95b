#include "log.h"
#include <time.h>
#include <stdio.h>
#include <stdlib.h>

int ssm_log_level = 1;
static _Thread_local char last_error[1024];

void ssm_panic(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ssm: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void ssm_out_of_memory(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ssm: error: out of memory: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(SSM_EXIT_OOM);
}

int ssm_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return SSM_ERR;
}

const char *ssm_last_error(void) { return last_error; }

static void vlog(int level, const char *fmt, va_list ap) {
    if (ssm_log_level < level) return;
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void ssm_info(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(1, fmt, ap);
    va_end(ap);
}

void ssm_debug(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(2, fmt, ap);
    va_end(ap);
}

double ssm_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ssm_median(double *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

void ssm_fmt_duration(double s, char *buf, size_t n) {
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
    else snprintf(buf, n, "%02ld:%02ld", v / 60, v % 60);
}
