#include "interrupt.h"
#include <signal.h>
#include <string.h>
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

static void on_signal(int sig) {
    if (received && repeat()) return;
    if (received) { /* the second one: leave now, without the step's end */
        static const char msg[] = "\nssmtrain: second interrupt: exiting at once\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    received = sig;
    clock_gettime(CLOCK_MONOTONIC, &first);
    static const char msg[] = "\nssmtrain: interrupt: finishing this step and saving last.h5 "
                              "(interrupt again to exit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

void ssm_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes in progress go on */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int ssm_interrupted(void) { return received; }

int ssm_interrupt_status(int sig) { return 128 + sig; }
