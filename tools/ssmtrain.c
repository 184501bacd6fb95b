/* ssmtrain: train a state-space sequence model from an INI config.
 *   ssmtrain CONFIG.ini [--set section.key=value]... [--resume CKPT.h5] [--out DIR]
 *            [--device cpu|cuda] [--eval-only CKPT.h5]
 * Exit codes: 0 done, 1 data/IO error, 2 bad command line or config, 3 NaN/Inf. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "cli.h"
#include "log.h"
#include "trainer.h"

static int fail(int code) {
    fprintf(stderr, "ssmtrain: error: %s\n", ssm_last_error());
    return code;
}

static int file_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

/* Test metrics with best.h5 (or the current model), printed as the final line. */
static int final_test(ssm_trainer *t) {
    char best[700];
    snprintf(best, sizeof best, "%s/best.h5", t->ckpt_dir);
    if (file_exists(best) && ssm_trainer_resume(t, best, 0) != SSM_OK) return fail(SSM_EXIT_DATA);
    double loss, acc;
    ssm_trainer_evaluate(t, t->data.test, &loss, &acc);
    if (t->metrics) {
        fprintf(t->metrics, "{\"step\": %lld, \"epoch\": %lld, \"split\": \"test\", \"loss\": "
                "%.9g, \"acc\": %.6f}\n", (long long)t->st.step, (long long)t->st.epoch, loss, acc);
        fflush(t->metrics);
    }
    printf("final: test_loss=%.4f test_acc=%.4f\n", loss, acc);
    return 0;
}

int main(int argc, char **argv) {
    ssm_cli cli;
    int r = ssm_cli_parse(&cli, argc, argv);
    if (r == SSM_CLI_HELP) {
        ssm_cli_usage(stdout, argv[0]);
        ssm_cli_free(&cli);
        return 0;
    }
    if (r == SSM_CLI_VERSION) {
        printf("ssmtrain %s\n", PACKAGE_VERSION);
        ssm_cli_free(&cli);
        return 0;
    }
    if (r != SSM_CLI_RUN) {
        fprintf(stderr, "ssmtrain: error: %s\n(run 'ssmtrain --help' for usage)\n", ssm_last_error());
        ssm_cli_free(&cli);
        return SSM_EXIT_USAGE;
    }
    ssm_config cfg;
    if (ssm_cli_load_config(&cli, &cfg) != SSM_OK) {
        ssm_cli_free(&cli);
        return fail(SSM_EXIT_USAGE);
    }
    ssm_trainer t;
    int rc = 0;
    if (ssm_trainer_init(&t, &cfg, cli.out) != SSM_OK) {
        rc = fail(SSM_EXIT_USAGE);
    } else if (cli.eval_only) {
        if (ssm_trainer_resume(&t, cli.eval_only, 0) != SSM_OK) {
            rc = fail(SSM_EXIT_DATA);
        } else {
            double loss, acc;
            ssm_trainer_evaluate(&t, t.data.test, &loss, &acc);
            printf("final: test_loss=%.4f test_acc=%.4f\n", loss, acc);
        }
    } else if (cli.resume && ssm_trainer_resume(&t, cli.resume, 1) != SSM_OK) {
        rc = fail(SSM_EXIT_DATA);
    } else {
        printf("ssmtrain %s: %s model, %lld parameters, %lld steps on %s; writing %s\n",
               PACKAGE_VERSION, t.model->cfg.layer, (long long)t.model->ps->numel,
               (long long)t.total_steps, ssm_device_name(cfg.train.device), t.out_dir);
        t.profile_step = cli.profile_step;
        rc = ssm_trainer_run(&t);
        if (rc) fail(rc);
        else rc = final_test(&t);
    }
    ssm_trainer_free(&t);
    ssm_cli_free(&cli);
    return rc;
}
