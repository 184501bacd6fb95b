#include "trainer.h"
#include "profile.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "comm.h"
#include "curves.h"
#include "dist.h"
#include "fsutil.h"
#include "modelcfg.h"
#include "log.h"
#include "interrupt.h"
#include "ops.h"
#include "replace_file.h"
#include "rundir.h"
#include "s5.h"

/* The sizes the model takes from the data. l_max (the length S4's C~ is set up for) is
 * data.seq_len, as the official configs' l_max and as a checkpoint alone gives it
 * (modelcfg.h: exports, imports, ssmgen); the readers cut to it, so nothing is longer. */
static ssm_data_sizes data_sizes(const ssm_task_data *d, int64_t seq_len) {
    int64_t l_max = d->train->longest > d->val->longest ? d->train->longest : d->val->longest;
    if (d->test->longest > l_max) l_max = d->test->longest;
    if (seq_len > l_max) l_max = seq_len;
    return (ssm_data_sizes){.vocab = d->train->vocab_size, .channels = d->train->channels,
                            .n_classes = d->train->n_classes, .l_max = l_max,
                            .n_seq = d->train->n_seq};
}

/* The loaders' options: the batch size, the shuffle seed, data.pad_multiple and this
 * rank's share of every batch (training shuffles, evaluation keeps the data set's order) */
static ssm_loader_opts loader_opts(const ssm_config *cfg, int shuffle, int rank, int world) {
    return (ssm_loader_opts){.batch_size = cfg->train.batch_size,
                             .seed = (uint64_t)cfg->train.seed, .shuffle = shuffle,
                             .pad_multiple = cfg->data.pad_multiple, .rank = rank,
                             .world = world};
}

int ssm_trainer_init(ssm_trainer *t, const ssm_config *cfg, const char *out_dir) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    snprintf(t->out_dir, sizeof t->out_dir, "%s", out_dir);
    if (cfg->checkpoint.dir[0] == '/')
        snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s", cfg->checkpoint.dir);
    else
        snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/%s", out_dir, cfg->checkpoint.dir);
    if (cfg->train.threads > 0) omp_set_num_threads((int)cfg->train.threads);
    if (cfg->train.device == SSM_CUDA && !ssm_device_available(SSM_CUDA))
        return ssm_error("train.device = cuda, but no CUDA device is available"), SSM_EXIT_CONFIG;
    ssm_kernels_for(cfg->train.device)->set_gemm_precision((ssm_gemm_precision)cfg->train.precision);
    if (ssm_task_load(cfg, &t->data) != SSM_OK) return SSM_EXIT_DATA;
    ssm_model_config mc;
    ssm_data_sizes ds = data_sizes(&t->data, cfg->data.seq_len);
    if (ssm_model_config_from(cfg, &ds, &mc) != SSM_OK) return SSM_EXIT_CONFIG;
    t->model = ssm_model_new(&mc, SSM_F32, cfg->train.device);
    if (!t->model) return SSM_EXIT_CONFIG;
    ssm_model_init(t->model, (uint64_t)cfg->train.seed);
    const ssm_cfg_optim_section *o = &cfg->optim;
    t->opt = ssm_optim_new(o->optimizer, t->model->ps, o->lr, o->weight_decay);
    t->opt->beta1 = o->betas[0];
    t->opt->beta2 = o->betas[1];
    t->opt->eps = o->eps;
    t->opt->momentum = o->momentum;
    t->opt->nesterov = o->nesterov;
    /* the SSM parameters' own group, as the official S4 optimizer setup */
    t->opt->group[SSM_GROUP_SSM] = (ssm_group_hparams){cfg->layer.lr, cfg->layer.weight_decay};
    t->opt->group[SSM_GROUP_NO_DECAY].weight_decay = 0;
    t->opt->group[SSM_GROUP_SSM_DECAY] = (ssm_group_hparams){cfg->layer.lr, o->weight_decay};
    ssm_loader_opts lo = loader_opts(cfg, 1, 0, 1); /* batches an epoch: any rank's count */
    ssm_loader *l = ssm_loader_new(t->data.train, &lo);
    int64_t per_epoch = ssm_loader_batches_per_epoch(l);
    ssm_loader_free(l);
    t->steps_per_epoch = per_epoch;
    t->total_steps = cfg->train.max_steps > 0 ? cfg->train.max_steps : cfg->train.epochs * per_epoch;
    if (cfg->train.batch_size > t->data.train->n)
        fprintf(stderr, "ssmtrain: warning: train.batch_size = %lld is larger than the training set "
                "(%lld examples): every step takes the whole set\n", (long long)cfg->train.batch_size,
                (long long)t->data.train->n);
    t->sched = (ssm_lr_schedule){.kind = o->schedule, .warmup_steps = o->warmup_steps,
                                 .total_steps = o->decay_steps ? o->decay_steps : t->total_steps,
                                 .min_factor = o->min_lr_ratio,
                                 .step_size = o->step_size, .gamma = o->gamma};
    t->ctx = ssm_ctx_new((uint64_t)cfg->train.seed);
    t->rank = ssm_comm_rank();
    t->world = ssm_comm_size();
    int graphs = cfg->train.cuda_graph == SSM_CFG_GRAPH_ON ||
                 (cfg->train.cuda_graph == SSM_CFG_GRAPH_AUTO && cfg->train.device == SSM_CUDA &&
                  t->world == 1);
    ssm_stepper_init(&t->step, t->model, t->opt, t->ctx, graphs);
    if (t->world > 1)
        ssm_grad_sync_init(&t->gsync, t->model->ps, ssm_comm_for(t->model->ps->device),
                           cfg->train.allreduce_bucket_mb);
    t->st.seed = (uint64_t)cfg->train.seed;
    t->st.best_metric = cfg->checkpoint.metric == SSM_CFG_METRIC_VAL_ACC ? -1.0 : INFINITY;
    char *ini = ssm_config_to_ini(cfg);
    SSM_CHECK(strlen(ini) < sizeof t->st.config, "config text too long for a checkpoint");
    snprintf(t->st.config, sizeof t->st.config, "%s", ini);
    free(ini);
    t->tty = isatty(STDOUT_FILENO);
    t->write_outputs = 1;
    return SSM_OK;
}

void ssm_trainer_free(ssm_trainer *t) {
    ssm_grad_sync_free(&t->gsync);
    ssm_stepper_free(&t->step);
    ssm_ctx_free(t->ctx);
    ssm_optim_free(t->opt);
    ssm_model_free(t->model);
    ssm_task_free(&t->data);
    ssm_metrics_close(&t->metrics);
}

/* After a failed load: append the model keys (sections model and layer) in which the
 * checkpoint's stored config differs from this run's, so a checkpoint of another model
 * size names the setting, not only the first tensor that does not fit. */
static int explain_mismatch(const ssm_trainer *t, const char *ckpt) {
    char msg[1024], diff[768] = "", a[SSM_CFG_STR_MAX + 8], b[SSM_CFG_STR_MAX + 8], name[128];
    snprintf(msg, sizeof msg, "%s", ssm_last_error());
    size_t used = 0;
    ssm_config *old = malloc(sizeof *old);
    SSM_CHECK(old, "trainer: out of memory");
    /* a file that fails the whole-file check is not opened (by HDF5) again */
    char *text = ssm_ckpt_read_config(ckpt);
    if (text && ssm_config_load_string(old, text, ckpt, NULL, 0) == SSM_OK) {
        for (size_t i = 0; i < ssm_cfg_nkeys && used < sizeof diff; i++) {
            const ssm_cfg_key *k = &ssm_cfg_keys[i];
            if (strcmp(k->section, "model") && strcmp(k->section, "layer")) continue;
            snprintf(name, sizeof name, "%s.%s", k->section, k->key);
            ssm_config_get(old, name, a, sizeof a);
            ssm_config_get(t->cfg, name, b, sizeof b);
            if (strcmp(a, b))
                used += (size_t)snprintf(diff + used, sizeof diff - used,
                                         "%s%s = %s in the checkpoint, %s in the config",
                                         used ? "; " : "", name, a, b);
        }
    }
    free(text);
    free(old);
    return diff[0] ? ssm_error("%s (the checkpoint is of another model: %s)", msg, diff)
                   : ssm_error("%s", msg);
}

int ssm_trainer_resume(ssm_trainer *t, const char *ckpt, int with_optim) {
    ssm_train_state st = t->st;
    if (ssm_ckpt_load(ckpt, t->model, with_optim ? t->opt : NULL, &st) != SSM_OK)
        return explain_mismatch(t, ckpt);
    t->ckpt_step = st.step;
    if (with_optim) {
        memcpy(st.config, t->st.config, sizeof st.config); /* the run's config, not the old one */
        t->st = st;
        t->ctx->rng_offset = st.rng_offset;
    }
    return SSM_OK;
}

/* A batch moved to the model's device, with pooling weights and the target tensor. */
static ssm_dev_batch to_device(ssm_trainer *t, const ssm_batch *b) {
    ssm_arena *a = t->ctx->arena;
    ssm_device dev = t->model->ps->device;
    ssm_dev_batch d = {0};
    int64_t B = b->tokens->shape[0], L = b->tokens->shape[1];
    const int32_t *len = b->lengths->data;
    if (t->model->cfg.embedding) {
        d.tokens = ssm_tensor_to(a, b->tokens, dev);
    } else { /* features as the data set defines them (dataset.h: feat_scale) */
        int64_t C = b->tokens->ndim == 3 ? b->tokens->shape[2] : 1;
        ssm_tensor *f = ssm_tensor_arena(a, SSM_F32, SSM_CPU, SSM_DIMS(B, L, C));
        ssm_dataset_features(t->data.train, b->tokens->data, B * L * C, f->data);
        d.tokens = ssm_tensor_to(a, f, dev);
    }
    for (int64_t i = 0; i < B; i++) d.n_tokens += len[i];
    if (t->model->cfg.pool != SSM_POOL_NONE) {
        ssm_tensor *w = ssm_tensor_arena(a, SSM_F32, SSM_CPU, SSM_DIMS(B, 1, L));
        float *p = w->data;
        memset(p, 0, sizeof(float) * (size_t)(B * L));
        for (int64_t i = 0; i < B; i++) {
            if (t->model->cfg.pool == SSM_POOL_MEAN)
                for (int64_t j = 0; j < len[i]; j++) p[i * L + j] = 1.0f / (float)len[i];
            else
                p[i * L + len[i] - 1] = 1.0f;
        }
        d.pool_w = ssm_tensor_to(a, w, dev);
        d.target = ssm_tensor_to(a, b->labels, dev);
    } else {
        d.target = ssm_tensor_to(a, b->targets, dev);
    }
    return d;
}

/* A batch's logits [B, C] into rows b->index[.] of out ([n, C], C the data's classes). */
static void keep_logits(const ssm_tensor *lg, const ssm_batch *b, int64_t C, float *out) {
    SSM_CHECK(lg->ndim == 2 && lg->shape[0] == b->size && lg->shape[1] == C &&
                  lg->dtype == SSM_F32,
              "evaluate: logits [batch, %lld classes] expected", (long long)C);
    float *h = malloc(sizeof *h * (size_t)(b->size * C));
    SSM_CHECK(h, "evaluate: out of memory");
    ssm_tensor_to_host(lg, h);
    for (int64_t k = 0; k < b->size; k++)
        memcpy(out + b->index[k] * C, h + k * C, sizeof *h * (size_t)C);
    free(h);
}

void ssm_trainer_evaluate(ssm_trainer *t, const ssm_dataset *d, double *loss, double *acc,
                          float *logits) {
    ssm_loader_opts lo = loader_opts(t->cfg, 0, t->rank, t->world);
    ssm_loader *l = ssm_loader_new(d, &lo);
    ssm_ctx *c = t->ctx;
    int saved = ssm_no_grad_begin(c), training = c->training;
    uint64_t offset = c->rng_offset;
    c->training = 0;
    ssm_stepper_zero_stats(&t->step); /* sums over the batches, read once at the end */
    ssm_batch b;
    while (ssm_loader_next(l, c->arena, &b)) {
        if (b.size) { /* this rank's slice of a short batch may be empty */
            ssm_dev_batch db = to_device(t, &b);
            ssm_tensor *lg = ssm_stepper_eval(&t->step, &db);
            if (logits) keep_logits(lg, &b, d->n_classes, logits);
        }
        ssm_batch_free(&b);
        ssm_ctx_reset(c);
    }
    ssm_loader_free(l);
    c->training = training;
    c->rng_offset = offset; /* evaluation draws nothing, but keep the stream exact anyway */
    ssm_no_grad_end(c, saved);
    ssm_step_stats st = ssm_stepper_read(&t->step);
    double sums[3] = {st.loss_sum, st.correct, st.count};
    ssm_dist_sum(sums, 3); /* over the ranks' slices */
    *loss = sums[2] > 0 ? sums[0] / sums[2] : 0;
    *acc = sums[2] > 0 ? sums[1] / sums[2] : 0;
}

double ssm_trainer_epoch(const ssm_trainer *t) {
    int64_t n = t->data.train->n;
    return (double)t->st.epoch + (n ? (double)t->st.data_index / (double)n : 0);
}

/* --profile: the table goes to stderr, with the progress lines */
static void print_profile(ssm_trainer *t, const ssm_profile *p) {
    if (t->tty) fputc('\n', stderr); /* off the progress line */
    fprintf(stderr, "profile of step %lld (forward and backward, ms per op; syncs after "
                    "every op, so totals exceed a plain step):\n", (long long)t->st.step + 1);
    ssm_profile_print(p, stderr);
}

static void progress(ssm_trainer *t, double loss, double acc, double lr, double tps, double eta) {
    char e[32];
    ssm_fmt_duration(eta, e, sizeof e);
    if (t->tty) {
        int width = 24, done = (int)(width * t->st.step / (t->total_steps ? t->total_steps : 1));
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : i == done ? '>' : ' ';
        bar[width] = 0;
        printf("\r[%s] step %lld/%lld  loss %.4f  acc %.3f  lr %.2e  %.0f tok/s  ETA %s ", bar,
               (long long)t->st.step, (long long)t->total_steps, loss, acc, lr, tps, e);
    } else {
        printf("step %lld/%lld epoch %.2f loss %.4f acc %.4f lr %.3e tok/s %.0f eta %s\n",
               (long long)t->st.step, (long long)t->total_steps, ssm_trainer_epoch(t), loss, acc,
               lr, tps, e);
    }
    fflush(stdout);
}

static int save(ssm_trainer *t, const char *name) {
    if (t->rank != 0) return SSM_OK; /* rank 0 writes for all: the replicas are identical */
    char path[700];
    snprintf(path, sizeof path, "%s/%s", t->ckpt_dir, name);
    t->st.rng_offset = t->ctx->rng_offset;
    return ssm_ckpt_save(path, t->model, t->opt, &t->st);
}

/* Validation, best/last checkpoints. */
static int validate(ssm_trainer *t) {
    double loss, acc, t0 = ssm_now_s();
    ssm_trainer_evaluate(t, t->data.val, &loss, &acc, NULL);
    t->eval_s += ssm_now_s() - t0;
    t->n_evals++;
    ssm_metrics_write(&t->metrics, &(ssm_metrics_row){.step = t->st.step,
                                                      .epoch = ssm_trainer_epoch(t), .split = "val",
                                                      .loss = loss, .acc = acc});
    if (t->rank == 0 && ssm_curves_write_run(t->out_dir) != SSM_OK) /* a picture is no reason to stop */
        fprintf(stderr, "ssmtrain: warning: %s\n", ssm_last_error());
    if (t->tty) printf("\n");
    printf("eval step %lld: val_loss %.4f val_acc %.4f", (long long)t->st.step, loss, acc);
    if (t->cfg->data.task == SSM_CFG_DATA_LM_BYTES) /* nats per byte -> bits per byte */
        printf(" val_bpb %.4f", loss / log(2.0));
    printf("\n");
    int by_acc = t->cfg->checkpoint.metric == SSM_CFG_METRIC_VAL_ACC;
    if (by_acc ? acc > t->st.best_metric : loss < t->st.best_metric) {
        t->st.best_metric = by_acc ? acc : loss;
        if (t->cfg->checkpoint.keep_best && save(t, "best.h5") != SSM_OK) return SSM_ERR;
    }
    return save(t, "last.h5");
}

/* The first parameter whose gradient holds a NaN or Inf. */
static const char *first_nonfinite(const ssm_params *ps) {
    for (int i = 0; i < ps->n; i++) {
        ssm_tensor *g = ssm_tensor_to(NULL, ps->p[i]->grad, SSM_CPU);
        int bad = 0;
        for (int64_t j = 0; j < g->numel && !bad; j++) bad = !isfinite(((float *)g->data)[j]);
        ssm_tensor_free(g);
        if (bad) return ps->p[i]->name;
    }
    return NULL;
}

/* What a stopped run leaves: "DIR/last.h5 (step N) is kept", or that none exists. */
static void saved_state(const ssm_trainer *t, char *buf, size_t n) {
    char path[700];
    snprintf(path, sizeof path, "%s/last.h5", t->ckpt_dir);
    ssm_ckpt_contents c;
    if (t->write_outputs && ssm_ckpt_read_contents(path, &c) == SSM_OK) {
        snprintf(buf, n, "%s (step %lld) is kept", path, (long long)c.step);
        ssm_ckpt_contents_free(&c);
    } else {
        snprintf(buf, n, "no checkpoint has been written yet");
    }
}

static int write_config(const char *tmp, void *arg) {
    FILE *f = fopen(tmp, "w");
    if (!f) return ssm_error("%s: cannot write: %s", tmp, strerror(errno));
    int ok = fputs(arg, f) >= 0;
    if (fclose(f) != 0 || !ok) return ssm_error("%s: write failed", tmp);
    return SSM_OK;
}

/* Seconds left: the remaining steps at this run's pace, plus the validations still due
 * and the final test, at the pace of the validations so far (before the first one: an
 * evaluation batch costs about a third of a training step, forward only). */
static double eta_s(const ssm_trainer *t, double train_s, int64_t steps_done) {
    const ssm_config *cfg = t->cfg;
    int64_t left = t->total_steps - t->st.step;
    double step_s = steps_done ? train_s / (double)steps_done : 0;
    int64_t val_batches = (t->data.val->n + cfg->train.batch_size - 1) / cfg->train.batch_size;
    double val_s = t->n_evals ? t->eval_s / (double)t->n_evals : step_s / 3 * (double)val_batches;
    int64_t evals;
    if (cfg->train.eval_every > 0)
        evals = t->total_steps / cfg->train.eval_every - t->st.step / cfg->train.eval_every +
                (t->total_steps % cfg->train.eval_every != 0);
    else
        evals = (t->st.step + left + t->steps_per_epoch - 1) / t->steps_per_epoch -
                t->st.step / t->steps_per_epoch + 1;
    double test_s = t->data.val->n ? val_s * (double)t->data.test->n / (double)t->data.val->n : 0;
    return (double)left * step_s + (double)evals * val_s + test_s;
}

/* Targets of a batch the loss counts (labels, or per-position targets). */
static int64_t counted(const ssm_batch *b) {
    const ssm_tensor *y = b->labels ? b->labels : b->targets;
    int64_t n = 0;
    if (!b->size) return 0;
    for (int64_t i = 0; i < y->numel; i++) n += ((const int32_t *)y->data)[i] != SSM_IGNORE_INDEX;
    return n;
}

/* --bench: the timed steps' figures (each step already waited for its statistics, so
 * the clock covers the device's work). step_s: each timed step's seconds (sorted here):
 * with batches of varying length the median shows the steady state, while the mean
 * also counts the steps that met a length first (cuFFT plans, arena growth). Each step
 * is also split into its host phases, BENCH_PHASES arrays of n after step_s: reading
 * and uploading the batch, enqueueing the step (building the tape, launching), and
 * waiting for the device; an enqueue as long as the step means the host, not the
 * device, sets the pace. */
enum { BENCH_LOAD, BENCH_ENQUEUE, BENCH_WAIT, BENCH_PHASES };

static void bench_report(const ssm_trainer *t, double s, int64_t tokens, double *step_s, int64_t n) {
    const ssm_config *cfg = t->cfg;
    size_t now, peak;
    ssm_kernels_for(cfg->train.device)->mem_stats(&now, &peak);
    const ssm_stepper *k = &t->step;
    printf("bench: %lld steps of batch %lld after %d warm-up steps: %.3f ms/step, %.0f tokens/s; "
           "device %s, precision %s, cuda graphs %s (captured %lld, replayed %lld, eager %lld)",
           (long long)t->bench_steps, (long long)cfg->train.batch_size, SSM_BENCH_WARMUP,
           1e3 * s / (double)t->bench_steps, (double)tokens / (s > 0 ? s : 1e-9),
           ssm_device_name(cfg->train.device),
           ssm_cfg_find("train", "precision")->choices[cfg->train.precision].name,
           k->graphs ? "on" : "off", (long long)k->captured, (long long)k->replayed,
           (long long)k->eager);
    if (n > 0) {
        double med = ssm_median(step_s, n); /* sorts: the last is the max */
        printf("; step median %.3f ms, max %.3f ms", 1e3 * med, 1e3 * step_s[n - 1]);
        double *ph = step_s + t->bench_steps;
        printf(" (medians: batch load + upload %.3f ms, enqueue %.3f ms, device wait %.3f ms)",
               1e3 * ssm_median(ph + BENCH_LOAD * t->bench_steps, n),
               1e3 * ssm_median(ph + BENCH_ENQUEUE * t->bench_steps, n),
               1e3 * ssm_median(ph + BENCH_WAIT * t->bench_steps, n));
    }
    if (cfg->train.device == SSM_CUDA) printf("; peak device memory %.0f MiB", (double)peak / 1048576.0);
    printf("; step arena peak %.0f MiB\n", /* activations and gradients, either device */
           (double)ssm_arena_peak(t->ctx->arena, cfg->train.device) / 1048576.0);
}

/* Data parallel: between the backward and the gradient norm, the whole batch's
 * gradient (the buckets not started during backward, then waiting for all of them) and
 * statistics (dist.h). */
typedef struct {
    ssm_trainer *t;
    uint64_t rng_base;
    ssm_dist_stats s; /* this rank's count and tokens in; the sums over the ranks out */
} dist_sync;

static void sync_grads(void *arg) {
    dist_sync *d = arg;
    ssm_grad_sync_end(&d->t->gsync);
    ssm_step_stats st = ssm_stepper_read(&d->t->step);
    d->s.loss = st.count > 0 ? st.loss_sum / st.count : 0;
    d->s.correct = st.correct;
    ssm_dist_step(&d->s, d->t->ctx, d->rng_base);
}

int ssm_trainer_run(ssm_trainer *t) {
    const ssm_config *cfg = t->cfg;
    char path[700];
    if (t->write_outputs && t->rank == 0) {
        int64_t dropped;
        snprintf(path, sizeof path, "%s/config.ini", t->out_dir);
        if (ssm_mkdirs(t->ckpt_dir) != SSM_OK ||
            ssm_replace_file(path, write_config, t->st.config) != SSM_OK ||
            ssm_metrics_open(&t->metrics, t->out_dir, t->st.step, &dropped) != SSM_OK)
            return SSM_EXIT_DATA;
        if (dropped)
            printf("%s: dropped %lld row(s) past step %lld (logged after the checkpoint was "
                   "written)\n", t->metrics.path, (long long)dropped, (long long)t->st.step);
    }
    ssm_loader_opts lo = loader_opts(cfg, 1, t->rank, t->world);
    ssm_loader *l = ssm_loader_new(t->data.train, &lo);
    ssm_loader_seek(l, t->st.epoch, t->st.data_index);
    ssm_ctx *c = t->ctx;
    ssm_params *ps = t->model->ps;
    /* since the last train row: summed loss, correct/counted targets, steps, tokens, and
     * the seconds spent on validation and checkpoints (not counted in tok/s) */
    double sum_loss = 0, busy_s = 0, train_s = 0, t_log = ssm_now_s(), last_lr = 0, last_gnorm = 0;
    int64_t correct = 0, count = 0, n_logged = 0, tokens = 0, start_step = t->st.step;
    int64_t validated = -1, bench_tokens = 0, n_timed = 0;
    int rc = 0, log_every = cfg->train.log_every, sig = 0;
    double bench_t0 = 0, *bench_step_s = NULL;
    if (t->bench_steps) {
        bench_step_s = malloc(sizeof *bench_step_s * (size_t)t->bench_steps * (1 + BENCH_PHASES));
        SSM_CHECK(bench_step_s, "trainer: out of memory");
    }
    while (t->st.step < t->total_steps && !(sig = ssm_dist_stop_signal())) {
        double t_step = ssm_now_s();
        ssm_batch b;
        if (!ssm_loader_next(l, c->arena, &b)) { /* a checkpoint written at an epoch's end */
            t->st.epoch = l->epoch;
            t->st.data_index = l->index;
            ssm_ctx_reset(c);
            continue;
        }
        /* data parallel: this rank's slice; a slice without a counted target adds nothing */
        int64_t own = counted(&b);
        int skip = t->world > 1 && own == 0;
        uint64_t rng_base = c->rng_offset;
        if (t->world > 1) ssm_dist_rng_begin(c, rng_base);
        ssm_dev_batch db = skip ? (ssm_dev_batch){0} : to_device(t, &b);
        double t_loaded = ssm_now_s();
        ssm_profile prof;
        int profiling = t->profile_step && t->st.step - start_step + 1 == t->profile_step;
        if (profiling) ssm_profile_attach(c, &prof, t->model->ps->device);
        double factor = ssm_lr_factor(&t->sched, t->st.step);
        ssm_optim_prepare(t->opt, factor, cfg->optim.grad_clip);
        dist_sync ds = {.t = t, .rng_base = rng_base,
                        .s = {.count = (double)own, .tokens = (double)db.n_tokens}};
        if (t->world > 1) ssm_grad_sync_begin(&t->gsync, c, ssm_dist_weight(&ds.s));
        ssm_stepper_step(&t->step, skip ? NULL : &db, t->world > 1 ? sync_grads : NULL, &ds);
        double t_enqueued = ssm_now_s();
        if (profiling) {
            ssm_profile_attach(c, NULL, t->model->ps->device);
            print_profile(t, &prof);
        }
        ssm_step_stats st = ssm_stepper_read(&t->step); /* waits for the step */
        double t_done = ssm_now_s();
        if (t->world == 1)
            ds.s = (ssm_dist_stats){.count = st.count, .correct = st.correct,
                                    .loss = st.count > 0 ? st.loss_sum / st.count : 0,
                                    .tokens = (double)db.n_tokens};
        double lv = ds.s.loss, gnorm = sqrt(st.gnorm_sq);
        if (!isfinite(lv) || !isfinite(gnorm) || !isfinite(st.loss_sum)) {
            /* the update was skipped on the device: the parameters are the last step's */
            const char *p = first_nonfinite(ps);
            char kept[800];
            saved_state(t, kept, sizeof kept);
            ssm_error("step %lld: the %s is not finite%s%s%s; training stopped; %s",
                      (long long)t->st.step + 1, isfinite(lv) && isfinite(st.loss_sum) ? "gradient" : "loss",
                      p ? " (first non-finite gradient: parameter " : "", p ? p : "", p ? ")" : "",
                      kept);
            ssm_batch_free(&b);
            rc = SSM_EXIT_NONFINITE;
            break;
        }
        correct += (int64_t)ds.s.correct, count += (int64_t)ds.s.count;
        tokens += (int64_t)ds.s.tokens;
        if (t->bench_steps && t->st.step - start_step >= SSM_BENCH_WARMUP) /* a timed step */
            bench_tokens += (int64_t)ds.s.tokens;
        sum_loss += lv;
        n_logged++;
        last_lr = cfg->optim.lr * factor;
        last_gnorm = gnorm;
        ssm_batch_free(&b);
        ssm_ctx_reset(c);
        t->st.step++;
        /* the epoch ends with its last batch, not at the next draw: epoch counts completed
         * passes in the metrics, the progress line and the checkpoint alike */
        ssm_dist_sync_buffers(t->model); /* rank 0's BatchNorm statistics on every rank */
        int every = (int)cfg->train.check_replicas_every;
        if (every > 0 && t->st.step % every == 0 &&
            ssm_dist_check_replicas(t->model, t->st.step) != SSM_OK) {
            rc = SSM_EXIT_DIVERGED;
            break;
        }
        int epoch_end = l->index >= t->data.train->n;
        if (epoch_end) ssm_loader_seek(l, l->epoch + 1, 0);
        t->st.epoch = l->epoch;
        t->st.data_index = l->index;
        double now = ssm_now_s();
        train_s += now - t_step;
        if (t->bench_steps && t->st.step - start_step > SSM_BENCH_WARMUP && n_timed < t->bench_steps) {
            double *ph = bench_step_s + t->bench_steps;
            ph[BENCH_LOAD * t->bench_steps + n_timed] = t_loaded - t_step;
            ph[BENCH_ENQUEUE * t->bench_steps + n_timed] = t_enqueued - t_loaded;
            ph[BENCH_WAIT * t->bench_steps + n_timed] = t_done - t_enqueued;
            bench_step_s[n_timed++] = now - t_step;
        }
        if (t->bench_steps && t->st.step - start_step == SSM_BENCH_WARMUP) {
            bench_t0 = now;
            ssm_kernels_for(cfg->train.device)->mem_reset_peak(); /* the steady state's peak */
        }
        if (profiling && !t->profile_continue) {
            if (t->tty) printf("\n");
            printf("profiled step %lld of this run: the table is above, on standard error; "
                   "stopped there without writing anything (--profile-continue trains on)\n",
                   (long long)t->profile_step);
            break;
        }
        if (log_every > 0 && (t->st.step % log_every == 0 || t->st.step == t->total_steps)) {
            double tps = tokens / (now - t_log - busy_s > 1e-9 ? now - t_log - busy_s : 1e-9);
            double mean = sum_loss / (double)n_logged, acc = count ? (double)correct / count : 0;
            ssm_metrics_write(&t->metrics, &(ssm_metrics_row){
                .step = t->st.step, .epoch = ssm_trainer_epoch(t), .split = "train", .loss = mean,
                .acc = acc, .lr = last_lr, .grad_norm = gnorm, .tokens_per_s = tps});
            progress(t, mean, acc, last_lr, tps, eta_s(t, train_s, t->st.step - start_step));
            sum_loss = 0, correct = count = n_logged = tokens = 0, busy_s = 0;
            t_log = now;
        }
        int val = cfg->train.eval_every > 0 ? t->st.step % cfg->train.eval_every == 0 : epoch_end;
        int ckpt = cfg->checkpoint.save_every > 0 && t->st.step % cfg->checkpoint.save_every == 0;
        if (val || ckpt) {
            if (!t->write_outputs) continue;
            if ((val ? validate(t) : save(t, "last.h5")) != SSM_OK) { rc = SSM_EXIT_DATA; break; }
            if (val) validated = t->st.step;
            busy_s += ssm_now_s() - now;
        }
    }
    ssm_loader_free(l);
    if (t->tty && log_every > 0) printf("\n");
    if (t->bench_steps && rc == 0 && !sig)
        bench_report(t, ssm_now_s() - bench_t0, bench_tokens, bench_step_s, n_timed);
    free(bench_step_s);
    if (rc == 0 && !sig && t->st.step == t->total_steps) sig = ssm_dist_stop_signal();
    if (rc == 0 && sig && t->write_outputs) {
        if (log_every > 0 && n_logged) { /* the steps since the last train row */
            double now = ssm_now_s(), tps = tokens / (now - t_log - busy_s > 1e-9 ? now - t_log - busy_s : 1e-9);
            ssm_metrics_write(&t->metrics, &(ssm_metrics_row){
                .step = t->st.step, .epoch = ssm_trainer_epoch(t), .split = "train",
                .loss = sum_loss / (double)n_logged, .acc = count ? (double)correct / count : 0,
                .lr = last_lr, .grad_norm = last_gnorm, .tokens_per_s = tps});
        }
        if (save(t, "last.h5") != SSM_OK) return SSM_EXIT_DATA;
        printf("%s at step %lld; resume with: tools/ssmtrain %s --resume %s/last.h5\n",
               sig == SIGALRM ? "time limit reached" : "interrupted", (long long)t->st.step,
               t->config_path ? t->config_path : "CONFIG", t->ckpt_dir);
        return ssm_interrupt_status(sig);
    }
    if (rc != 0 || !t->write_outputs || t->st.step < t->total_steps) return rc;
    /* the end: a last validation (for best.h5) unless this step just had one */
    if ((validated == t->st.step ? save(t, "last.h5") : validate(t)) != SSM_OK) rc = SSM_EXIT_DATA;
    return rc;
}
