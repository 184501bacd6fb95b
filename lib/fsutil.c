#include "fsutil.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"

int ssm_mkdirs(const char *path) {
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return ssm_error("%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char save = *p;
        *p = 0;
        struct stat s;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ssm_error("%s: cannot create directory: %s", buf, strerror(errno));
        if (stat(buf, &s) != 0 || !S_ISDIR(s.st_mode))
            return ssm_error("%s: exists and is not a directory", buf);
        if (!save) return SSM_OK;
        *p = save;
    }
}

int ssm_path_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

char *ssm_read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    SSM_CHECK(s, "%s: out of memory", path);
    for (size_t k; (k = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        if ((n += k) + 1 < cap) continue;
        s = realloc(s, cap *= 2);
        SSM_CHECK(s, "%s: out of memory", path);
    }
    int bad = ferror(f), err = errno;
    fclose(f);
    if (bad) {
        free(s);
        errno = err ? err : EIO;
        return NULL;
    }
    s[n] = 0;
    return s;
}
