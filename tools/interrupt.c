#include "interrupt.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t received;
static struct timespec first; /* when the first signal came */

/* `timeout -s INT` signals its child and then its whole process group, so one
 * interrupt can arrive twice within microseconds: a repeat inside half a second is
 * the same interrupt, not a second one (a person's second Ctrl-C takes longer). */
static int repeat(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
    return (now.tv_sec - first.tv_sec) + (now.tv_nsec - first.tv_nsec) * 1e-9 < 0.5;
}

static void say(const char *msg, size_t n) { /* async-signal-safe */
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
}
#define SAY(lit) say(lit, sizeof lit - 1)

/* The first interrupt: remember it and when it came */
static void note(int sig) {
    received = sig;
    clock_gettime(CLOCK_MONOTONIC, &first);
}

static void on_signal(int sig) {
    if (received && repeat()) return;
    if (received) { /* the second one: leave now, without the step's end */
        SAY("\nssmtrain: second interrupt: exiting at once\n");
        _exit(128 + sig);
    }
    note(sig);
    SAY("\nssmtrain: interrupt: finishing this step and saving last.h5 (interrupt again to "
        "exit at once)\n");
}

/* The time limit: an interrupt unless a signal came first (then that one stands) */
static void on_alarm(int sig) {
    if (received) return;
    note(sig);
    SAY("\nssmtrain: time limit reached: finishing this step and saving last.h5\n");
}

static void handle(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes in progress go on */
    sigaction(sig, &sa, NULL);
}

void ssm_interrupt_install(void) {
    handle(SIGINT, on_signal);
    handle(SIGTERM, on_signal);
}

void ssm_interrupt_after(double seconds) {
    handle(SIGALRM, on_alarm);
    if (seconds < 0.001) seconds = 0.001; /* already over: stop after the first step */
    struct itimerval it = {{0, 0}, {(time_t)seconds, (suseconds_t)((seconds - floor(seconds)) * 1e6)}};
    setitimer(ITIMER_REAL, &it, NULL); /* SIGALRM once */
}

int ssm_interrupted(void) { return received; }

int ssm_interrupt_status(int sig) { return 128 + sig; }
