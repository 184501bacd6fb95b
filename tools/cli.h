/* ssmtrain's command line:
 *   ssmtrain CONFIG.ini [--set section.key=value]... [--resume CKPT.h5] [--out DIR]
 *            [--overwrite] [--device cpu|cuda] [--profile STEP [--profile-continue]]
 *            [--bench STEPS] [--time-limit DURATION]
 *   ssmtrain [CONFIG.ini] --eval-only CKPT.h5 [--set ...] [--device ...]
 *   ssmtrain --help | --version
 * Options take their value as the next argument or after '=' (--out=DIR).
 * The caller prints help/version (ssm_cli_parse only says which was asked)
 * and exits with SSM_EXIT_USAGE on a bad command line or configuration. */
#ifndef SSM_CLI_H
#define SSM_CLI_H
#include <stddef.h>
#include <stdio.h>
#include "ssmconfig.h"

enum { SSM_CLI_RUN = 0, SSM_CLI_HELP = 1, SSM_CLI_VERSION = 2 };
#define SSM_EXIT_USAGE 2

typedef struct {
    const char *config;      /* CONFIG.ini; NULL only with --eval-only (the checkpoint's) */
    const char **sets;       /* the --set values in order, "section.key=value" */
    size_t n_sets;
    const char *resume;      /* --resume CKPT.h5, or NULL */
    const char *eval_only;   /* --eval-only CKPT.h5, or NULL */
    const char *dump_logits; /* --dump-logits FILE.npy (with --eval-only), or NULL */
    const char *device;      /* --device, or NULL: train.device of the config */
    const char *out;         /* --out DIR, default "runs/NAME" for CONFIG .../NAME.ini */
    long profile_step;       /* --profile STEP (this run's steps, from 1), or 0 */
    int profile_continue;    /* --profile-continue */
    long bench_steps;        /* --bench STEPS, or 0 */
    double time_limit_s;     /* --time-limit DURATION in seconds, or 0 */
    int overwrite;           /* --overwrite */
    char *out_owned;         /* storage of the default out */
} ssm_cli;

/* Parse argv (argv[0] is the program). Returns SSM_CLI_RUN with *cli filled,
 * SSM_CLI_HELP or SSM_CLI_VERSION when asked anywhere on the line (before
 * "--"), or SSM_ERR with the message in ssm_last_error(). Strings point into
 * argv. Call ssm_cli_free() in every case. */
int ssm_cli_parse(ssm_cli *cli, int argc, char *const *argv);
void ssm_cli_free(ssm_cli *cli);
/* The --help text, listing every option. */
void ssm_cli_usage(FILE *f, const char *prog);
/* ssm_config_load() of cli->config with the --set overrides, then --device
 * (reported as "--device" in messages). */
int ssm_cli_load_config(const ssm_cli *cli, ssm_config *c);

#endif
