/* The output folder of a training run (--out): one run per folder.
 *
 * A folder that holds another run's files (config.ini, metrics.jsonl, curves.png, the
 * checkpoints) is refused unless the run resumes from a checkpoint inside it or
 * --overwrite is given (then those files are removed first), so a second run
 * never silently replaces the first one's results or mixes its config with the
 * old checkpoints. While a run uses the folder it holds DIR/ssmtrain.lock: an
 * flock(2) lock (the kernel drops it when the process dies, so a lock file left
 * by a killed run is stale and taken over) with the owner's pid for the message. */
#ifndef SSM_RUNDIR_H
#define SSM_RUNDIR_H

typedef struct {
    char dir[512];
    char lock_path[600];
    int lock_fd; /* -1: not held */
} ssm_rundir;

/* Create dir (and parents), lock it, check it for another run's files (ckpt_dir is
 * where the checkpoints go; resume is the --resume checkpoint or NULL). SSM_ERR with a
 * message saying what to do; *refused is set when the folder is refused (another live
 * run holds it, or it holds another run's files), else the error is I/O. */
int ssm_rundir_open(ssm_rundir *r, const char *dir, const char *ckpt_dir, const char *resume,
                    int overwrite, int *refused);
/* Release the lock (idempotent). */
void ssm_rundir_close(ssm_rundir *r);

#endif
