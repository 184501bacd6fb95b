/* LD_PRELOAD shim for fault tests: a full disk or a failing device for some files.
 *   SSM_FAULT_PATTERN  files whose path contains this text are affected
 *   SSM_FAULT_AFTER    bytes written to them (all together) before writes fail (default 0)
 *   SSM_FAULT_ERRNO    "ENOSPC" (default) or "EIO"
 *   SSM_FAULT_OP       "write" (default: write/pwrite fail once the budget is spent; a
 *                      write crossing it is cut short first, as a filling disk does) or
 *                      "fsync" (fsync/fdatasync of those files fail once the budget is spent)
 * Descriptors come from open/open64/openat/creat (HDF5's sec2 driver and replace_file's
 * fsync); stdio's internal writes are not seen. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { MAX_FD = 4096 };
static unsigned char tracked[MAX_FD];
static long long written;

static int matches(const char *path) {
    const char *pat = getenv("SSM_FAULT_PATTERN");
    return pat && *pat && path && strstr(path, pat);
}

static long long budget(void) {
    const char *s = getenv("SSM_FAULT_AFTER");
    return s ? atoll(s) : 0;
}

static int fault_errno(void) {
    const char *s = getenv("SSM_FAULT_ERRNO");
    return s && !strcmp(s, "EIO") ? EIO : ENOSPC;
}

static int op_is(const char *op) {
    const char *s = getenv("SSM_FAULT_OP");
    return !strcmp(s && *s ? s : "write", op);
}

static int track(int fd, const char *path) {
    if (fd >= 0 && fd < MAX_FD) tracked[fd] = (unsigned char)matches(path);
    return fd;
}

#define REAL(name, ret, ...)                                                   \
    static ret (*real_##name)(__VA_ARGS__);                                    \
    if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
    REAL(open, int, const char *, int, ...);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return track(real_open(path, flags, m), path);
}

int open64(const char *path, int flags, ...) {
    REAL(open64, int, const char *, int, ...);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return track(real_open64(path, flags, m), path);
}

int openat(int dirfd, const char *path, int flags, ...) {
    REAL(openat, int, int, const char *, int, ...);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return track(real_openat(dirfd, path, flags, m), path);
}

int creat(const char *path, mode_t m) {
    REAL(creat, int, const char *, mode_t);
    return track(real_creat(path, m), path);
}

int close(int fd) {
    REAL(close, int, int);
    if (fd >= 0 && fd < MAX_FD) tracked[fd] = 0;
    return real_close(fd);
}

/* How much of a write of n bytes to fd may go through; -1 with errno when none. */
static ssize_t allowed(int fd, size_t n) {
    if (fd < 0 || fd >= MAX_FD || !tracked[fd] || !op_is("write")) return (ssize_t)n;
    long long left = budget() - written;
    if (left <= 0) {
        errno = fault_errno();
        return -1;
    }
    return (ssize_t)((long long)n < left ? (long long)n : left);
}

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(write, ssize_t, int, const void *, size_t);
    ssize_t k = allowed(fd, n);
    if (k < 0) return -1;
    ssize_t r = real_write(fd, buf, (size_t)k);
    if (r > 0 && fd < MAX_FD && tracked[fd]) written += r;
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite, ssize_t, int, const void *, size_t, off_t);
    ssize_t k = allowed(fd, n);
    if (k < 0) return -1;
    ssize_t r = real_pwrite(fd, buf, (size_t)k, off);
    if (r > 0 && fd < MAX_FD && tracked[fd]) written += r;
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite64, ssize_t, int, const void *, size_t, off_t);
    ssize_t k = allowed(fd, n);
    if (k < 0) return -1;
    ssize_t r = real_pwrite64(fd, buf, (size_t)k, off);
    if (r > 0 && fd < MAX_FD && tracked[fd]) written += r;
    return r;
}

/* fsync fails once as many bytes as the budget were written to affected files (with
 * SSM_FAULT_OP=fsync, writes themselves always succeed). */
static int sync_fails(int fd) {
    if (fd < 0 || fd >= MAX_FD || !tracked[fd] || !op_is("fsync")) return 0;
    return written >= budget();
}

int fsync(int fd) {
    REAL(fsync, int, int);
    if (sync_fails(fd)) {
        errno = fault_errno();
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync, int, int);
    if (sync_fails(fd)) {
        errno = fault_errno();
        return -1;
    }
    return real_fdatasync(fd);
}
