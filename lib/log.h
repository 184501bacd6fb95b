/* Errors and logging. Programmer errors abort with a message naming the op;
 * bad input from outside returns SSM_ERR with the message in ssm_last_error(). */
#ifndef SSM_LOG_H
#define SSM_LOG_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum { SSM_OK = 0, SSM_ERR = -1 };

#if defined(__GNUC__)
#define SSM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SSM_NORETURN __attribute__((noreturn))
#else
#define SSM_PRINTF(a, b)
#define SSM_NORETURN
#endif

/* Abort: a bug in the caller (shape mismatch, wrong device). */
SSM_NORETURN void ssm_panic(const char *fmt, ...) SSM_PRINTF(1, 2);
#define SSM_CHECK(cond, ...) do { if (!(cond)) ssm_panic(__VA_ARGS__); } while (0)

/* Out of host or GPU memory: print the message (what was being allocated, for which op)
 * and exit with SSM_EXIT_OOM, a documented status, instead of crashing. Checkpoints on
 * disk are untouched (they are replaced atomically). */
enum { SSM_EXIT_OOM = 5 };
SSM_NORETURN void ssm_out_of_memory(const char *fmt, ...) SSM_PRINTF(1, 2);

/* Record an error about external input; returns SSM_ERR. */
int ssm_error(const char *fmt, ...) SSM_PRINTF(1, 2);
const char *ssm_last_error(void);

/* Log lines go to stderr; level 0 = quiet, 1 = info (default), 2 = debug. */
extern int ssm_log_level;
void ssm_info(const char *fmt, ...) SSM_PRINTF(1, 2);
void ssm_debug(const char *fmt, ...) SSM_PRINTF(1, 2);

/* Seconds on the monotonic clock (for durations, rates and ETAs). */
double ssm_now_s(void);
/* A duration of s seconds as MM:SS, or H:MM:SS from an hour on (ETAs, wall times). */
void ssm_fmt_duration(double s, char *buf, size_t n);
/* The median of v[0..n) (n > 0), timings: sorts v in place, so v[n - 1] is then the max. */
double ssm_median(double *v, int64_t n);

#endif
