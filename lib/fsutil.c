#include "fsutil.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
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
