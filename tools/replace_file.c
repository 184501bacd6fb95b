#include "replace_file.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

static int fsync_path(const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ssm_replace_file(const char *path, ssm_file_writer write, void *arg) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return ssm_error("%s: path too long", path);
    int rc = write(tmp, arg);
    if (rc == SSM_OK && fsync_path(tmp, O_RDONLY) != 0) rc = ssm_error("%s: fsync failed: %s", tmp, strerror(errno));
    if (rc == SSM_OK && rename(tmp, path) != 0)
        rc = ssm_error("%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc != SSM_OK) {
        remove(tmp);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY);
    return SSM_OK;
}
