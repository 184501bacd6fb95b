/* Generation (layers/model.c ssm_model_step, tools/generate.c, tools/sample.c, ssmgen):
 *   - greedy decoding through the step mode equals the parallel forward's argmax path
 *     (the whole forward recomputed for every new token, argmax at the last position),
 *     and the step logits match the parallel ones, for every layer usable as a causal
 *     LM: the Mamba LM, S4D, S4 and S5 (and Mamba blocks) in the sequence model;
 *   - sampling: the kept probabilities of top-k and top-p against hand-computed ones,
 *     draw frequencies against them, a seed fixes the ids, top-k 1 is greedy;
 *   - ssmgen: byte prompts, id files, --print-ids, --dump-logits (.npy), errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckptutil.h"
#include "generate.h"
#include "log.h"
#include "testutil.h"

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in: %s", (needle), (hay))

static const char *const lm_configs[] = {
    "[model]\ntask = lm\nlayer = mamba\nd_model = 8\nn_layers = 2\npooling = none\n"
    "[layer]\nd_state = 4\n[data]\ntask = induction\nseq_len = 32\n",
    "[model]\ntask = lm\nlayer = s4d\nd_model = 8\nn_layers = 2\npooling = none\nprenorm = true\n"
    "dropout = 0.1\n[layer]\nd_state = 4\n[data]\ntask = induction\nseq_len = 32\n",
    "[model]\ntask = lm\nlayer = s4d\nd_model = 8\nn_layers = 2\npooling = none\nnorm = batch\n"
    "[layer]\nd_state = 4\n[data]\ntask = induction\nseq_len = 32\n",
    "[model]\ntask = lm\nlayer = s4\nd_model = 16\nn_layers = 2\npooling = none\nprenorm = true\n"
    "[layer]\nd_state = 4\n[data]\ntask = induction\nseq_len = 32\n",
    "[model]\ntask = lm\nlayer = s5\nd_model = 8\nn_layers = 2\npooling = none\nnorm = rms\n"
    "[layer]\nd_state = 4\n[data]\ntask = induction\nseq_len = 32\n",
    "[model]\ntask = lm\nlayer = mamba\ntie_embeddings = false\nd_model = 8\nn_layers = 2\n"
    "pooling = none\n[layer]\nd_state = 4\n[data]\ntask = induction\nseq_len = 32\n",
};

static int64_t argmax(const float *v, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

START_TEST(greedy_step_equals_parallel) {
    const int64_t P = 4, N = 12;
    const int32_t prompt[4] = {3, 1, 4, 1};
    for (size_t k = 0; k < sizeof lm_configs / sizeof lm_configs[0]; k++) {
        ssm_config cfg;
        ssm_model *m = tu_config_model(lm_configs[k], &cfg);
        int64_t V = m->cfg.d_output, vocab = ssm_model_vocab(m);
        int32_t ids[16], out[12];
        memcpy(ids, prompt, sizeof prompt);
        for (int64_t t = 0; t < N; t++) { /* the reference: the whole forward each time */
            float *lg = ssm_parallel_logits(m, ids, P + t);
            ids[P + t] = (int32_t)argmax(lg + (P + t - 1) * V, vocab);
            free(lg);
        }
        ssm_sample_opts greedy = {.temperature = 0, .top_p = 1};
        ck_assert_msg(ssm_generate(m, prompt, P, N, &greedy, out, NULL) == SSM_OK, "%s", ssm_last_error());
        for (int64_t t = 0; t < N; t++)
            ck_assert_msg(out[t] == ids[P + t], "config %zu: token %lld: step %d, parallel %d", k,
                          (long long)t, out[t], ids[P + t]);
        /* the step logits along the same ids against the parallel ones */
        float *par = ssm_parallel_logits(m, ids, P + N);
        ssm_model_state *st = ssm_model_state_alloc(m, 1);
        ssm_ctx *c = ssm_ctx_new(0);
        ssm_tensor *tok = ssm_tensor_new(SSM_I32, SSM_CPU, SSM_DIMS(1));
        double err = 0, norm = 0;
        int64_t first = -1;
        int varied = 0;
        for (int64_t t = 0; t < P + N; t++) {
            ssm_tensor_from_host(tok, &ids[t]);
            const float *y = ssm_model_step(c, m, st, tok)->data;
            int64_t am = argmax(y, vocab);
            ck_assert_int_eq(am, argmax(par + t * V, vocab));
            varied |= first >= 0 && am != first;
            if (first < 0) first = am;
            for (int64_t v = 0; v < V; v++) {
                double d = y[v] - par[t * V + v];
                err += d * d;
                norm += (double)par[t * V + v] * par[t * V + v];
            }
            ssm_ctx_reset(c);
        }
        ck_assert_msg(sqrt(err / norm) < 1e-5, "config %zu: step vs parallel logits %g", k, sqrt(err / norm));
        ck_assert_msg(varied, "config %zu: the same argmax everywhere tests little", k);
        free(par);
        ssm_tensor_free(tok);
        ssm_ctx_free(c);
        ssm_model_state_free(st);
        ssm_model_free(m);
    }
}
END_TEST

START_TEST(no_step_mode) {
    ssm_config cfg;
    ssm_model *m = tu_config_model("[model]\nlayer = s4d\nd_model = 4\nn_layers = 1\n[layer]\nd_state = 4\n"
                                   "[data]\ntask = recall\nseq_len = 16\n", &cfg);
    ck_assert_ptr_null(ssm_model_state_alloc(m, 1));
    ck_assert_contains(ssm_last_error(), "pooled (classification) model has no step mode");
    ssm_model_free(m);
}
END_TEST

START_TEST(sampling) {
    const float lg[5] = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
    double p[5], w[10 * 2], e[5], s = 0;
    for (int i = 0; i < 5; i++) s += e[i] = exp(lg[i] / 2.0);
    /* temperature 2, all ids */
    ssm_sample_opts o = {.temperature = 2, .top_p = 1, .seed = 3};
    ssm_sample_probs(lg, 5, &o, p, w);
    for (int i = 0; i < 5; i++) ck_assert_double_eq_tol(p[i], e[i] / s, 1e-12);
    /* top-k 3: ids 1 and 3 (tied, both kept) and 2 */
    o.top_k = 3;
    ssm_sample_probs(lg, 5, &o, p, w);
    double s3 = e[1] + e[2] + e[3];
    ck_assert_double_eq_tol(p[1], e[1] / s3, 1e-12);
    ck_assert_double_eq_tol(p[2], e[2] / s3, 1e-12);
    ck_assert_double_eq(p[0], 0);
    ck_assert_double_eq(p[4], 0);
    /* top-p just below the two largest: they reach it, ids 1 and 3 only */
    o.top_k = 0;
    o.top_p = (e[1] + e[3]) / s - 1e-9;
    ssm_sample_probs(lg, 5, &o, p, w);
    ck_assert_double_eq_tol(p[1], 0.5, 1e-12);
    ck_assert_double_eq_tol(p[3], 0.5, 1e-12);
    ck_assert_double_eq(p[2], 0);
    o.top_p = (e[1] + e[3]) / s + 1e-9; /* past them: id 2 joins */
    ssm_sample_probs(lg, 5, &o, p, w);
    ck_assert_double_eq_tol(p[2], e[2] / s3, 1e-12);
    ck_assert_double_eq(p[0], 0);
    /* frequencies of 40000 draws within 4 standard deviations */
    o.top_p = 1;
    ssm_sample_probs(lg, 5, &o, p, w);
    int count[5] = {0};
    const int n = 40000;
    for (int i = 0; i < n; i++) count[ssm_sample(lg, 5, &o, (uint64_t)i, w)]++;
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fabs(count[i] / (double)n - p[i]) < 4 * sqrt(p[i] * (1 - p[i]) / n) + 1e-9,
                      "id %d: %d draws, p %g", i, count[i], p[i]);
    /* greedy: the lowest of the largest */
    o.temperature = 0;
    ck_assert_int_eq(ssm_sample(lg, 5, &o, 0, w), 1);
    o.temperature = 1;
    o.top_p = 0;
    ck_assert_int_eq(ssm_sample_check(&o), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "--top-p 0: must be in (0, 1]");
}
END_TEST

START_TEST(seeds_and_top_k_1) {
    ssm_config cfg;
    ssm_model *m = tu_config_model(lm_configs[1], &cfg);
    const int32_t prompt[2] = {5, 6};
    int32_t a[20], b[20], c[20], g[20], k1[20];
    ssm_sample_opts o = {.temperature = 1, .top_p = 1, .seed = 7};
    ck_assert_int_eq(ssm_generate(m, prompt, 2, 20, &o, a, NULL), SSM_OK);
    ck_assert_int_eq(ssm_generate(m, prompt, 2, 20, &o, b, NULL), SSM_OK);
    ck_assert(!memcmp(a, b, sizeof a));
    o.seed = 8;
    ck_assert_int_eq(ssm_generate(m, prompt, 2, 20, &o, c, NULL), SSM_OK);
    ck_assert(memcmp(a, c, sizeof a));
    o.top_k = 1;
    ck_assert_int_eq(ssm_generate(m, prompt, 2, 20, &o, k1, NULL), SSM_OK);
    ssm_sample_opts greedy = {.temperature = 0, .top_p = 1};
    ck_assert_int_eq(ssm_generate(m, prompt, 2, 20, &greedy, g, NULL), SSM_OK);
    ck_assert(!memcmp(k1, g, sizeof g));
    const int32_t bad[1] = {16};
    ck_assert_int_eq(ssm_generate(m, bad, 1, 2, &greedy, g, NULL), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "prompt id 16 (position 0) is outside the model's vocabulary 0 .. 15");
    ssm_model_free(m);
}
END_TEST

START_TEST(ssmgen_cli) {
    char dir[512], ck[600], cls[600], ids[600], npy[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/bytes.h5", dir);
    snprintf(cls, sizeof cls, "%s/cls.h5", dir);
    snprintf(ids, sizeof ids, "%s/ids.txt", dir);
    snprintf(npy, sizeof npy, "%s/logits.npy", dir);
    char ini[512];
    snprintf(ini, sizeof ini, "[model]\ntask = lm\nlayer = mamba\nd_model = 8\nn_layers = 2\n"
             "pooling = none\nd_input = 256\n[layer]\nd_state = 4\n[data]\ntask = lm_bytes\n"
             "path = %s\nseq_len = 32\n", tu_data("lm_bytes"));
    ssm_model *m = tu_saved_model(ini, ck);
    /* in-process reference: greedy ids after "ab" */
    const int32_t ab[2] = {'a', 'b'};
    int32_t want[6];
    ssm_sample_opts greedy = {.temperature = 0, .top_p = 1};
    ck_assert_int_eq(ssm_generate(m, ab, 2, 6, &greedy, want, NULL), SSM_OK);
    char line[256] = "";
    for (int i = 0; i < 6; i++) sprintf(line + strlen(line), i ? " %d" : "%d", want[i]);
    char *o;
    ck_assert_int_eq(tu_run_tool("ssmgen", dir, &o, ck, "--prompt", "ab", "--tokens", "6",
                                 "--temperature", "0", "--print-ids", NULL), 0);
    const char *last = strrchr(o, '\n');
    ck_assert_ptr_nonnull(last);
    ck_assert_contains(o, line);
    ck_assert_contains(o, "2 prompt + 6 new tokens, 7 steps");
    ck_assert_contains(o, "tokens/s (step mode, cpu)");
    free(o);
    /* the same through an id file (top-k 1: greedy) */
    tu_spit(ids, "97\n 98 ", 7);
    ck_assert_int_eq(tu_run_tool("ssmgen", dir, &o, ck, "--prompt-ids", ids, "--tokens=6",
                                 "--top-k", "1", "--print-ids", NULL), 0);
    ck_assert_contains(o, line);
    free(o);
    /* --dump-logits: the parallel forward's logits over the prompt */
    ck_assert_int_eq(tu_run_tool("ssmgen", dir, &o, ck, "--prompt-ids", ids, "--dump-logits", npy, NULL), 0);
    free(o);
    size_t n;
    char *raw = tu_slurp(npy, &n);
    ck_assert(!memcmp(raw, "\x93NUMPY\x01\x00", 8));
    size_t hl = (unsigned char)raw[8] | (unsigned char)raw[9] << 8;
    ck_assert_uint_eq((10 + hl) % 64, 0);
    ck_assert_contains(raw + 10, "'shape': (2, 256)");
    ck_assert_uint_eq(n, 10 + hl + 2 * 256 * 4);
    float *ref = ssm_parallel_logits(m, ab, 2);
    /* (bit for bit in a normal run; valgrind's emulation may round differently) */
    const float *got = (const float *)(raw + 10 + hl);
    for (int i = 0; i < 2 * 256; i++) ck_assert_float_eq_tol(got[i], ref[i], 1e-6f * (1 + fabsf(ref[i])));
    free(ref);
    free(raw);
    /* errors */
    ssm_model_free(tu_saved_model("[model]\nlayer = s4d\nd_model = 4\nn_layers = 1\n[layer]\n"
                                  "d_state = 4\n[data]\ntask = recall\nseq_len = 16\n", cls));
    tu_spit(ids, "97 x", 4);
    struct {
        const char *a[6];
        int rc;
        const char *msg;
    } cases[] = {
        {{ck, "--prompt-ids", ids, NULL}, 1, "ids.txt: token 2, 'x', is not a non-negative integer id"},
        {{cls, "--prompt-ids", ids, NULL}, 1, "holds a classification model"},
        {{ck, NULL}, 2, "give one of --prompt TEXT and --prompt-ids FILE"},
        {{ck, "--prompt", "a", "--top-p", "2", NULL}, 2, "--top-p 2: must be in (0, 1]"},
        {{ck, "--prompt", "a", "--device", "tpu", NULL}, 2, "--device 'tpu'"},
        {{ck, "--prompt", "a", "--tokens", "-1", NULL}, 2, "--tokens '-1'"},
        {{"/nonexistent.h5", "--prompt", "a", NULL}, 1, "/nonexistent.h5: cannot open"},
        {{ck, "--bogus", NULL}, 2, "unknown option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tu_run_tool("ssmgen", dir, &o, cases[i].a[0], cases[i].a[1], cases[i].a[2],
                             cases[i].a[3], cases[i].a[4], cases[i].a[5], NULL);
        ck_assert_msg(rc == cases[i].rc && strstr(o, cases[i].msg), "case %zu: rc %d: %s", i, rc, o);
        free(o);
    }
    ck_assert_int_eq(tu_run_tool("ssmgen", dir, &o, "--help", NULL), 0);
    ck_assert_contains(o, "--dump-logits FILE");
    free(o);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gen");
    TCase *t = tcase_create("gen");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, greedy_step_equals_parallel);
    tcase_add_test(t, no_step_mode);
    tcase_add_test(t, sampling);
    tcase_add_test(t, seeds_and_top_k_1);
    tcase_add_test(t, ssmgen_cli);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}
