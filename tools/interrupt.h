/* SIGINT / SIGTERM for long runs: the first signal only sets a flag, so the trainer
 * finishes the step it is in, writes last.h5 and exits with 128 + the signal
 * (130 for Ctrl-C, 143 for SIGTERM, as a shell reports a killed job); batch
 * schedulers send SIGTERM before they kill, so a preempted run can be resumed.
 * A second signal exits at once (the checkpoints on disk stay whole: they are
 * only ever replaced by rename). */
#ifndef SSM_INTERRUPT_H
#define SSM_INTERRUPT_H

void ssm_interrupt_install(void);
/* --time-limit: SIGALRM after `seconds` (a timer, to the millisecond) counts as an
 * interrupt too, with its own message; the trainer then stops as for SIGTERM and exits
 * with 128 + SIGALRM. Call after ssm_interrupt_install. */
void ssm_interrupt_after(double seconds);
/* The signal received since install (SIGINT, SIGTERM), or 0. */
int ssm_interrupted(void);
/* The process exit status for an interrupt by sig: 128 + sig. */
int ssm_interrupt_status(int sig);

#endif
