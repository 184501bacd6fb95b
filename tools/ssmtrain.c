/* ssmtrain: train a state-space sequence model from an INI config; under mpirun, data
 * parallel over the ranks (docs/DISTRIBUTED.md).
 *   ssmtrain CONFIG.ini [--set section.key=value]... [--resume CKPT.h5] [--out DIR]
 *            [--overwrite] [--device cpu|cuda] [--profile STEP [--profile-continue]]
 *            [--bench STEPS] [--time-limit DURATION]
 *   ssmtrain [CONFIG.ini] --eval-only CKPT.h5
 * Exit statuses: cli.c's --help (0 done, 1 data/IO, 2 usage/config/folder, 3 NaN/Inf,
 * 4 replicas diverged, 5 out of memory (log.h: ssm_out_of_memory), 128 + signal after an
 * interrupt that saved last.h5, 142 = 128 + SIGALRM after --time-limit). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "comm.h"
#include "dist.h"
#include "fsutil.h"
#include "interrupt.h"
#include "log.h"
#include "npy.h"
#include "rundir.h"
#include "trainer.h"

static int fail(int code) {
    if (ssm_comm_size() > 1)
        fprintf(stderr, "ssmtrain: error: rank %d: %s\n", ssm_comm_rank(), ssm_last_error());
    else
        fprintf(stderr, "ssmtrain: error: %s\n", ssm_last_error());
    return code;
}

/* "ssmtrain 0.1.0 (cuda, mpi, nccl)": what this build can do */
static void print_version(void) {
    const char *parts[3];
    int n = 0;
#ifdef SSM_HAVE_CUDA
    parts[n++] = "cuda";
#endif
    if (ssm_comm_mpi_built()) parts[n++] = ssm_comm_mpi_built();
    if (ssm_comm_nccl_built()) parts[n++] = ssm_comm_nccl_built();
    printf("ssmtrain %s", PACKAGE_VERSION);
    for (int i = 0; i < n; i++) printf("%s%s", i ? ", " : " (", parts[i]);
    printf("%s\n", n ? ")" : "");
}

/* A data-parallel run: rank 0 alone speaks on standard output (errors still come from
 * every rank). */
static void join_world(int *argc, char ***argv) {
    if (ssm_comm_init(argc, argv) == 1) return;
    if (ssm_comm_rank() != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "ssmtrain: warning: rank %d: cannot silence standard output\n",
                ssm_comm_rank());
}

/* The test set on best.h5 (or the final model without one), the summary, and the
 * final line. */
static int final_test(ssm_trainer *t, double t0) {
    char best[700], used[800], wall[32];
    snprintf(best, sizeof best, "%s/best.h5", t->ckpt_dir);
    int64_t step = t->st.step;
    const char *which = "last";
    if (ssm_dist_root_value(ssm_path_exists(best))) { /* rank 0's view, so all ranks agree */
        if (ssm_trainer_resume(t, best, 0) != SSM_OK) return fail(SSM_EXIT_DATA);
        step = t->ckpt_step;
        which = "best";
    }
    const char *metric = t->cfg->checkpoint.metric == SSM_CFG_METRIC_VAL_ACC ? "val_acc" : "val_loss";
    ssm_fmt_duration(ssm_now_s() - t0, wall, sizeof wall);
    snprintf(used, sizeof used, "%s/%s.h5 (step %lld)", t->ckpt_dir, which, (long long)step);
    printf("summary: best %s %.4f; test on %s; %lld steps, wall time %s; outputs in %s/\n", metric,
           t->st.best_metric, used, (long long)t->st.step, wall, t->out_dir);
    if (t->data.test->n == 0) {
        printf("final: no test set (data.n_test = 0); best %s=%.4f\n", metric, t->st.best_metric);
        return 0;
    }
    double loss, acc;
    ssm_trainer_evaluate(t, t->data.test, &loss, &acc, NULL);
    ssm_metrics_write(&t->metrics, &(ssm_metrics_row){.step = t->st.step,
                                                      .epoch = ssm_trainer_epoch(t),
                                                      .split = "test", .loss = loss, .acc = acc,
                                                      .ckpt = which, .ckpt_step = step});
    printf("final: test_loss=%.4f test_acc=%.4f\n", loss, acc);
    return 0;
}

/* --eval-only: validation and test of a checkpoint; writes nothing but --dump-logits. */
static int eval_only(ssm_trainer *t, const char *ckpt, const char *dump) {
    if (ssm_trainer_resume(t, ckpt, 0) != SSM_OK) return fail(SSM_EXIT_DATA);
    double loss, acc;
    ssm_trainer_evaluate(t, t->data.val, &loss, &acc, NULL);
    printf("%s (step %lld): val_loss=%.4f val_acc=%.4f\n", ckpt, (long long)t->ckpt_step, loss, acc);
    if (t->data.test->n == 0) {
        printf("final: no test set (data.n_test = 0)\n");
        return 0;
    }
    float *logits = NULL;
    const int64_t C = t->data.test->n_classes;
    if (dump) {
        if (t->cfg->model.task != SSM_CFG_TASK_CLASSIFICATION || t->world > 1) {
            fprintf(stderr, "ssmtrain: --dump-logits: %s\n",
                    t->world > 1 ? "needs a single process (no mpirun)"
                                 : "needs a classification checkpoint (language models: ssmgen "
                                   "--dump-logits)");
            return SSM_EXIT_USAGE;
        }
        logits = calloc((size_t)(t->data.test->n * C), sizeof *logits);
        SSM_CHECK(logits, "ssmtrain: out of memory");
    }
    ssm_trainer_evaluate(t, t->data.test, &loss, &acc, logits);
    printf("final: test_loss=%.4f test_acc=%.4f\n", loss, acc);
    int rc = 0;
    if (dump && ssm_npy_write_f32(dump, logits, t->data.test->n, C) != SSM_OK) {
        fprintf(stderr, "ssmtrain: %s\n", ssm_last_error());
        rc = SSM_EXIT_DATA;
    } else if (dump) {
        printf("logits of the %lld test examples written to %s\n", (long long)t->data.test->n, dump);
    }
    free(logits);
    return rc;
}

/* The config of --eval-only without CONFIG.ini: the checkpoint's own, with --set on top. */
static int config_of_checkpoint(const ssm_cli *cli, ssm_config *cfg) {
    ssm_ckpt_contents c;
    if (ssm_ckpt_read_contents(cli->eval_only, &c) != SSM_OK) return SSM_ERR;
    size_t n = cli->n_sets;
    const char **sets = malloc((n + 1) * sizeof *sets);
    SSM_CHECK(sets, "ssmtrain: out of memory");
    for (size_t i = 0; i < n; i++) sets[i] = cli->sets[i];
    char dev[64];
    if (cli->device) snprintf(dev, sizeof dev, "train.device=%s", cli->device), sets[n++] = dev;
    char name[700];
    snprintf(name, sizeof name, "%s (its config)", cli->eval_only);
    int rc = ssm_config_load_string(cfg, c.config, name, sets, n);
    free(sets);
    ssm_ckpt_contents_free(&c);
    return rc;
}

/* After --resume: where the run stands. 1: train on; 0: nothing left (said so); SSM_ERR. */
static int resume_point(const ssm_trainer *t, const char *ckpt) {
    int64_t step = t->st.step, total = t->total_steps;
    if (step > total)
        return ssm_error("%s is at step %lld, past this run's %lld steps (train.max_steps, or "
                         "train.epochs x %lld steps an epoch): raise train.max_steps above %lld "
                         "to train on", ckpt, (long long)step, (long long)total,
                         (long long)t->steps_per_epoch, (long long)step);
    if (step == total) {
        printf("nothing left to train: %s is at step %lld, the run's last (raise train.max_steps "
               "to train on; --eval-only %s evaluates it)\n", ckpt, (long long)step, ckpt);
        return 0;
    }
    printf("resuming from step %lld (epoch %.2f) of %s\n", (long long)step, ssm_trainer_epoch(t),
           ckpt);
    return 1;
}

/* The run folder and its lock: rank 0's (rundir.h); every rank learns the outcome.
 * 0, or the exit status. */
static int open_rundir(ssm_rundir *dir, const ssm_trainer *t, const ssm_cli *cli) {
    int refused = 0, rc = 0;
    if (t->rank == 0 &&
        ssm_rundir_open(dir, t->out_dir, t->ckpt_dir, cli->resume, cli->overwrite, &refused) != SSM_OK)
        rc = fail(refused ? SSM_EXIT_USAGE : SSM_EXIT_DATA);
    return ssm_dist_root_value(rc);
}

int main(int argc, char **argv) {
    double t0 = ssm_now_s();
    join_world(&argc, &argv);
    setvbuf(stdout, NULL, _IOLBF, 0); /* a log file or pipe sees each line when it is said */
    ssm_cli cli;
    int r = ssm_cli_parse(&cli, argc, argv);
    if (r == SSM_CLI_HELP || r == SSM_CLI_VERSION) {
        if (r == SSM_CLI_HELP) ssm_cli_usage(stdout, argv[0]);
        else print_version();
        ssm_cli_free(&cli);
        ssm_comm_finalize();
        return 0;
    }
    if (r != SSM_CLI_RUN) {
        fprintf(stderr, "ssmtrain: error: %s\n(run 'ssmtrain --help' for usage)\n", ssm_last_error());
        ssm_cli_free(&cli);
        ssm_comm_finalize();
        return SSM_EXIT_USAGE;
    }
    ssm_config cfg;
    int cfg_rc = cli.config ? ssm_cli_load_config(&cli, &cfg) : config_of_checkpoint(&cli, &cfg);
    if (cfg_rc != SSM_OK) {
        int code = cli.config ? SSM_EXIT_USAGE : SSM_EXIT_DATA;
        ssm_cli_free(&cli);
        ssm_comm_finalize();
        return fail(code);
    }
    if (cfg.train.device == SSM_CUDA && ssm_comm_size() > 1)
        ssm_cuda_select_device(ssm_comm_local_rank()); /* one GPU a rank, by node-local rank */
    ssm_trainer t;
    ssm_rundir dir = {.lock_fd = -1};
    int rc = 0, init = ssm_trainer_init(&t, &cfg, cli.out ? cli.out : ".");
    if (init != SSM_OK) {
        rc = fail(init);
    } else if (cli.eval_only) {
        rc = eval_only(&t, cli.eval_only, cli.dump_logits);
    } else if (cli.resume && ssm_trainer_resume(&t, cli.resume, 1) != SSM_OK) {
        rc = fail(SSM_EXIT_DATA);
    } else {
        t.config_path = cli.config;
        t.profile_step = cli.profile_step;
        t.profile_continue = cli.profile_continue;
        t.write_outputs = (!cli.profile_step || cli.profile_continue) && !cli.bench_steps;
        t.bench_steps = cli.bench_steps;
        if (cli.bench_steps) t.total_steps = t.st.step + SSM_BENCH_WARMUP + cli.bench_steps;
        int go = cli.resume ? resume_point(&t, cli.resume) : 1;
        if (go == SSM_ERR) {
            rc = fail(SSM_EXIT_USAGE);
        } else if (go && cli.profile_step > t.total_steps - t.st.step) {
            ssm_error("--profile %ld: this run has %lld step(s) to go (1 .. %lld)", cli.profile_step,
                      (long long)(t.total_steps - t.st.step), (long long)(t.total_steps - t.st.step));
            rc = fail(SSM_EXIT_USAGE);
        } else if (go && t.write_outputs && (rc = open_rundir(&dir, &t, &cli)) != 0) {
            /* said by rank 0; the others stop with it */
        } else if (go) {
            char ranks[128] = "";
            if (t.world > 1 && t.gsync.overlap)
                snprintf(ranks, sizeof ranks, " x %d ranks (gradients summed in %d buckets "
                         "overlapped with backward)", t.world, t.gsync.n);
            else if (t.world > 1)
                snprintf(ranks, sizeof ranks, " x %d ranks (gradients summed after backward)",
                         t.world);
            printf("ssmtrain %s: %s model, %lld parameters, %lld steps on %s%s; %s%s\n",
                   PACKAGE_VERSION, t.model->cfg.layer, (long long)t.model->ps->numel,
                   (long long)t.total_steps, ssm_device_name(cfg.train.device), ranks,
                   t.write_outputs ? "writing " : cli.bench_steps ? "benchmarking, writing nothing"
                                                : "profiling, writing nothing",
                   t.write_outputs ? t.out_dir : "");
            ssm_interrupt_install();
            if (cli.time_limit_s > 0) ssm_interrupt_after(cli.time_limit_s - (ssm_now_s() - t0));
            rc = ssm_trainer_run(&t);
            if (rc > 0 && rc < 128) fail(rc);
            else if (rc == 0 && t.write_outputs) rc = final_test(&t, t0);
        }
    }
    ssm_rundir_close(&dir);
    ssm_trainer_free(&t);
    ssm_cli_free(&cli);
    /* a failure on one rank may leave the others inside a collective: end them all */
    if (ssm_comm_size() > 1 && rc > 0 && rc < 128) ssm_comm_abort(rc);
    ssm_comm_finalize();
    return rc;
}
