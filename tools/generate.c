#include "generate.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"

int64_t ssm_model_vocab(const ssm_model *m) {
    return m->lm ? m->lm->cfg.vocab_size : m->cfg.d_output;
}

static int check_ids(const ssm_model *m, const int32_t *ids, int64_t n) {
    int64_t V = m->cfg.d_input;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return ssm_error("prompt id %d (position %lld) is outside the model's vocabulary 0 .. %lld",
                             ids[i], (long long)i, (long long)(V - 1));
    return SSM_OK;
}

int ssm_generate(ssm_model *m, const int32_t *prompt, int64_t n_prompt, int64_t n_new,
                 const ssm_sample_opts *o, int32_t *out, ssm_gen_stats *stats) {
    if (n_prompt < 1) return ssm_error("the prompt is empty: generation needs at least one token");
    if (!m->cfg.embedding && !m->lm) return ssm_error("the model reads features, not tokens");
    if (check_ids(m, prompt, n_prompt) != SSM_OK || ssm_sample_check(o) != SSM_OK) return SSM_ERR;
    ssm_model_state *st = ssm_model_state_alloc(m, 1);
    if (!st) return SSM_ERR;
    ssm_device dev = m->ps->values->device;
    ssm_ctx *c = ssm_ctx_new(0);
    ssm_tensor *tok = ssm_tensor_new(SSM_I32, dev, SSM_DIMS(1));
    int64_t V = m->cfg.d_output, vocab = ssm_model_vocab(m);
    float *logits = malloc(sizeof(float) * (size_t)V);
    void *work = malloc(2 * sizeof(double) * (size_t)V);
    SSM_CHECK(logits && work, "generate: out of memory");
    double t0 = ssm_now_s();
    for (int64_t i = 0; i < n_prompt + n_new - 1; i++) {
        int32_t id = i < n_prompt ? prompt[i] : out[i - n_prompt];
        ssm_tensor_from_host(tok, &id);
        ssm_tensor *y = ssm_model_step(c, m, st, tok);
        if (i >= n_prompt - 1) { /* the logits that choose the next token */
            ssm_tensor_to_host(y, logits);
            out[i - n_prompt + 1] = ssm_sample(logits, vocab, o, (uint64_t)(i - n_prompt + 1), work);
        }
        ssm_ctx_reset(c); /* the step's activations: the arena, reused every token */
    }
    if (stats) {
        stats->steps = n_prompt + n_new - 1;
        stats->seconds = ssm_now_s() - t0;
    }
    free(logits);
    free(work);
    ssm_tensor_free(tok);
    ssm_ctx_free(c);
    ssm_model_state_free(st);
    return SSM_OK;
}

float *ssm_parallel_logits(ssm_model *m, const int32_t *ids, int64_t n) {
    ssm_device dev = m->ps->values->device;
    ssm_ctx *c = ssm_ctx_new(0);
    c->training = 0;
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *x = ssm_tensor_new(SSM_I32, dev, SSM_DIMS(1, n));
    ssm_tensor_from_host(x, ids);
    ssm_tensor *y = ssm_model_forward(c, m, x, NULL);
    float *out = malloc(sizeof(float) * (size_t)(n * m->cfg.d_output));
    SSM_CHECK(out, "generate: out of memory");
    ssm_tensor_to_host(y, out);
    ssm_no_grad_end(c, saved);
    ssm_tensor_free(x);
    ssm_ctx_free(c);
    return out;
}
