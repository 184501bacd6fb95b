#include "rundir.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "fsutil.h"
#include "log.h"

/* Is file inside folder dir (after resolving links and "..")? */
static int inside(const char *file, const char *dir) {
    char f[PATH_MAX], d[PATH_MAX];
    if (!realpath(file, f) || !realpath(dir, d)) return 0;
    size_t n = strlen(d);
    return !strncmp(f, d, n) && f[n] == '/';
}

static int take_lock(ssm_rundir *r, int *refused) {
    snprintf(r->lock_path, sizeof r->lock_path, "%s/ssmtrain.lock", r->dir);
    int fd = open(r->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ssm_error("%s: cannot create the lock file: %s", r->lock_path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t k = read(fd, pid, sizeof pid - 1);
        pid[k > 0 ? k : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        *refused = 1;
        return ssm_error("%s is in use by another ssmtrain run (pid %s; lock file %s): wait for "
                         "it to finish or choose another --out", r->dir, pid[0] ? pid : "?",
                         r->lock_path);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        close(fd);
        return ssm_error("%s: cannot write the lock file: %s", r->lock_path, strerror(errno));
    }
    r->lock_fd = fd;
    return SSM_OK;
}

int ssm_rundir_open(ssm_rundir *r, const char *dir, const char *ckpt_dir, const char *resume,
                    int overwrite, int *refused) {
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
    *refused = 0;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    if (ssm_mkdirs(dir) != SSM_OK || take_lock(r, refused) != SSM_OK) return SSM_ERR;
    enum { N_FILES = 5 };
    char files[N_FILES][700];
    snprintf(files[0], sizeof files[0], "%s/config.ini", dir);
    snprintf(files[1], sizeof files[1], "%s/metrics.jsonl", dir);
    snprintf(files[2], sizeof files[2], "%s/last.h5", ckpt_dir);
    snprintf(files[3], sizeof files[3], "%s/best.h5", ckpt_dir);
    snprintf(files[4], sizeof files[4], "%s/curves.png", dir);
    char found[3700] = "";
    for (int i = 0; i < N_FILES; i++)
        if (ssm_path_exists(files[i]))
            snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s",
                     found[0] ? ", " : "", files[i]);
    if (!found[0] || (resume && (inside(resume, dir) || inside(resume, ckpt_dir)))) return SSM_OK;
    if (overwrite) {
        for (int i = 0; i < N_FILES; i++)
            if (remove(files[i]) != 0 && errno != ENOENT) {
                ssm_error("--overwrite: cannot remove %s: %s", files[i], strerror(errno));
                ssm_rundir_close(r);
                return SSM_ERR;
            }
        fprintf(stderr, "ssmtrain: --overwrite: removed the previous run's files (%s)\n", found);
        return SSM_OK;
    }
    *refused = 1;
    ssm_error("%s holds another run's files (%s). Resume that run with --resume "
              "%s/last.h5, replace it with --overwrite, or choose another --out",
              dir, found, ckpt_dir);
    ssm_rundir_close(r);
    return SSM_ERR;
}

void ssm_rundir_close(ssm_rundir *r) {
    if (r->lock_fd < 0) return;
    unlink(r->lock_path); /* before the unlock: a waiting run then creates a fresh file */
    close(r->lock_fd);
    r->lock_fd = -1;
}
