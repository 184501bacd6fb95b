#include "s4.h"
#include <cblas.h>
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fftconv.h"
#include "hippo.h"
#include "log.h"
#include "ops.h"

/* LAPACK (from OpenBLAS): solve A X = B for general complex A, column-major. */
extern void zgesv_(const int *n, const int *nrhs, double complex *a, const int *lda, int *ipiv,
                   double complex *b, const int *ldb, int *info);

ssm_s4_config ssm_s4_defaults(int64_t d_model, int64_t l_max) {
    return (ssm_s4_config){.d_model = d_model, .d_state = 64, .l_max = l_max, .dt_min = 1e-3,
                           .dt_max = 1e-1, .B_clip = 2.0, .dropout = 0.0};
}

static ssm_tensor *add(ssm_params *ps, const char *prefix, const char *name, int group, int ndim,
                       const int64_t *shape) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return ssm_params_add(ps, full, group, ndim, shape);
}

void ssm_s4_declare(ssm_s4 *m, const ssm_s4_config *cfg, ssm_params *ps, const char *prefix) {
    SSM_CHECK(cfg->d_state >= 2 && cfg->d_state % 2 == 0 && cfg->l_max >= 1,
              "s4: d_state must be even and l_max positive");
    m->cfg = *cfg;
    int64_t H = cfg->d_model, N2 = cfg->d_state / 2;
    int dt_group = ssm_place_group(cfg->dt_place), b_group = ssm_place_group(cfg->b_place);
    m->inv_dt = add(ps, prefix, "layer.kernel.inv_dt", dt_group, SSM_DIMS(H, 1));
    m->A_real = add(ps, prefix, "layer.kernel.A_real", SSM_GROUP_SSM, SSM_DIMS(H, N2));
    m->A_imag = add(ps, prefix, "layer.kernel.A_imag", SSM_GROUP_SSM, SSM_DIMS(H, N2));
    m->B = add(ps, prefix, "layer.kernel.B", b_group, SSM_DIMS(1, H, N2, 2));
    m->C = add(ps, prefix, "layer.kernel.C", SSM_GROUP_DEFAULT,
               SSM_DIMS(cfg->bidirectional ? 2 : 1, H, N2, 2));
    m->P = add(ps, prefix, "layer.kernel.P", SSM_GROUP_SSM, SSM_DIMS(1, H, N2, 2));
    m->D = add(ps, prefix, "layer.D", SSM_GROUP_DEFAULT, SSM_DIMS(1, H));
    m->W = add(ps, prefix, "output_linear.0.weight", SSM_GROUP_DEFAULT, SSM_DIMS(2 * H, H));
    m->b = add(ps, prefix, "output_linear.0.bias", SSM_GROUP_DEFAULT, SSM_DIMS(2 * H));
}

/* Dense bilinear discretisation of channel h in the conjugate-extended M = 2 N2 state:
 * Ahat = diag(w, conj w) - p p^*, p = (P, conj P); dA = (I - dt/2 Ahat)^-1 (I + dt/2 Ahat),
 * dB = (I - dt/2 Ahat)^-1 dt (B, conj B). Column-major M x M. */
typedef struct {
    int64_t H, N2, M;
    double *inv_dt, *Ar, *Ai, *B, *P;
} s4_host;

static s4_host host_params(ssm_s4 *m) {
    s4_host p = {m->cfg.d_model, m->cfg.d_state / 2, m->cfg.d_state, ssm_tensor_to_f64(m->inv_dt),
                 ssm_tensor_to_f64(m->A_real), ssm_tensor_to_f64(m->A_imag), ssm_tensor_to_f64(m->B), ssm_tensor_to_f64(m->P)};
    return p;
}

static void host_free(s4_host *p) {
    free(p->inv_dt);
    free(p->Ar);
    free(p->Ai);
    free(p->B);
    free(p->P);
}

static double complex ext(const double *v, int64_t h, int64_t N2, int64_t i) {
    double complex z = v[2 * (h * N2 + i % N2)] + I * v[2 * (h * N2 + i % N2) + 1];
    return i < N2 ? z : conj(z);
}

static int discretise(const s4_host *p, int64_t h, double complex *dA, double complex *dB) {
    int64_t M = p->M, N2 = p->N2;
    double dt = exp(p->inv_dt[h]);
    double complex *X = malloc(sizeof(double complex) * (size_t)(M * M));
    for (int64_t c = 0; c < M; c++)
        for (int64_t r = 0; r < M; r++) {
            double complex a = -ext(p->P, h, N2, r) * conj(ext(p->P, h, N2, c));
            if (r == c) {
                double complex w = -exp(p->Ar[h * N2 + r % N2]) - I * p->Ai[h * N2 + r % N2];
                a += r < N2 ? w : conj(w);
            }
            X[c * M + r] = (r == c) - dt / 2 * a;
            dA[c * M + r] = (r == c) + dt / 2 * a;
        }
    for (int64_t r = 0; r < M; r++) dB[r] = dt * ext(p->B, h, N2, r);
    /* solve X [dA | dB] = [I + dt/2 Ahat | dt B] in one factorisation: dB follows dA */
    int n = (int)M, nrhs = (int)M + 1, info, *ipiv = malloc(sizeof(int) * (size_t)M);
    zgesv_(&n, &nrhs, X, &n, ipiv, dA, &n, &info);
    free(ipiv);
    free(X);
    return info == 0 ? 0 : -1;
}

/* dA^L by repeated squaring (column-major). */
static void mat_power(int64_t M, const double complex *A, int64_t L, double complex *out) {
    double complex *base = malloc(sizeof(double complex) * (size_t)(M * M));
    double complex *tmp = malloc(sizeof(double complex) * (size_t)(M * M));
    const double complex one = 1, zero = 0;
    memcpy(base, A, sizeof(double complex) * (size_t)(M * M));
    for (int64_t i = 0; i < M * M; i++) out[i] = (i % (M + 1)) == 0;
    for (; L > 0; L >>= 1) {
        if (L & 1) {
            cblas_zgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)M, (int)M, &one,
                        out, (int)M, base, (int)M, &zero, tmp, (int)M);
            memcpy(out, tmp, sizeof(double complex) * (size_t)(M * M));
        }
        if (L > 1) {
            cblas_zgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)M, (int)M, &one,
                        base, (int)M, base, (int)M, &zero, tmp, (int)M);
            memcpy(base, tmp, sizeof(double complex) * (size_t)(M * M));
        }
    }
    free(base);
    free(tmp);
}

/* dA and dA^l_max of one channel; dA holds M + 1 columns (the last is dB). */
static int channel_matrices(const s4_host *p, int64_t h, int64_t L, double complex *dA,
                            double complex *dAL) {
    if (discretise(p, h, dA, dA + p->M * p->M) != 0) return -1;
    mat_power(p->M, dA, L, dAL);
    return 0;
}

int ssm_s4_setup_C(ssm_s4 *m, const double *C_plain) {
    s4_host p = host_params(m);
    int64_t M = p.M, N2 = p.N2, ch = m->C->shape[0], per = 2 * p.H * N2;
    double complex *dA = malloc(sizeof(double complex) * (size_t)(M * (M + 1)));
    double complex *dAL = malloc(sizeof(double complex) * (size_t)(M * M));
    double *Ct = malloc(sizeof(double) * (size_t)(ch * per));
    int rc = 0;
    for (int64_t h = 0; h < p.H && rc == 0; h++) {
        rc = channel_matrices(&p, h, m->cfg.l_max, dA, dAL);
        for (int64_t c = 0; c < ch; c++) /* C~ = C (I - dA^L), first N/2 entries */
            for (int64_t j = 0; j < N2; j++) {
                const double *Cc = C_plain + c * per;
                double complex s = ext(Cc, h, N2, j);
                for (int64_t n = 0; n < M; n++) s -= ext(Cc, h, N2, n) * dAL[j * M + n];
                Ct[c * per + 2 * (h * N2 + j)] = creal(s);
                Ct[c * per + 2 * (h * N2 + j) + 1] = cimag(s);
            }
    }
    if (rc == 0) ssm_tensor_from_f64(m->C, Ct);
    free(dA);
    free(dAL);
    free(Ct);
    host_free(&p);
    return rc;
}

int ssm_s4_init(ssm_s4 *m, ssm_rng *r) {
    int64_t H = m->cfg.d_model, N = m->cfg.d_state, N2 = N / 2;
    double *w = malloc(sizeof(double) * (size_t)(2 * N2 * 3 + 2 * N * N2));
    double *P = w + 2 * N2, *B = P + 2 * N2, *V = B + 2 * N2;
    if (ssm_nplr_legs(N, m->cfg.B_clip, w, P, B, V) != 0) {
        free(w);
        return ssm_error("s4: HiPPO-LegS eigendecomposition failed (N = %lld)", (long long)N);
    }
    double *buf = malloc(sizeof(double) * (size_t)(2 * H * N2 * 2 + 2 * H * H + 2 * H + 4 * H * N2));
    double *re = buf, *im = buf + H * N2, *Bf = buf + 2 * H * N2, *Pf = Bf + 2 * H * N2;
    for (int64_t h = 0; h < H; h++)
        for (int64_t n = 0; n < N2; n++) {
            re[h * N2 + n] = log(-w[2 * n]);
            im[h * N2 + n] = -w[2 * n + 1];
            for (int k = 0; k < 2; k++) {
                Bf[2 * (h * N2 + n) + k] = B[2 * n + k];
                Pf[2 * (h * N2 + n) + k] = P[2 * n + k];
            }
        }
    ssm_tensor_from_f64(m->A_real, re);
    ssm_tensor_from_f64(m->A_imag, im);
    ssm_tensor_from_f64(m->B, Bf);
    ssm_tensor_from_f64(m->P, Pf);
    ssm_init_log_dt(r, buf, H, m->cfg.dt_min, m->cfg.dt_max); /* inv_dt = log dt ('exp') */
    ssm_tensor_from_f64(m->inv_dt, buf);
    ssm_param_normal(m->D, r, 0.0, 1.0);
    ssm_init_torch_default(r, buf, 2 * H * H, H);
    ssm_tensor_from_f64(m->W, buf);
    ssm_init_torch_default(r, buf, 2 * H, H);
    ssm_tensor_from_f64(m->b, buf);
    ssm_rng_normal(r, buf, m->C->numel, 0.0, sqrt(0.5)); /* complex standard normal C */
    int rc = ssm_s4_setup_C(m, buf);
    free(buf);
    free(w);
    return rc == 0 ? SSM_OK : ssm_error("s4: LAPACK failed while setting up C~");
}

/* The kernel's constants for a length, dtype and device: nodes z_k = 2 (1 - w_k)/(1 + w_k),
 * w_k = exp(-2 pi i k / L), the bilinear correction 2 / (1 + w_k) (as the official _omega(),
 * finite at the Nyquist bin), conj = (1, -1) and one = (1, 0). Built once and kept for the
 * process (like the FFT plans): rebuilding them meant host exponentials and four
 * synchronous uploads in every forward. */
typedef struct {
    int64_t L;
    ssm_dtype dt;
    ssm_device dev;
    ssm_tensor *z, *g, *cj, *c1;
} s4_consts;

static s4_consts *consts_for(int64_t L, const ssm_tensor *like) {
    enum { SLOTS = 8 }; /* lengths in use at once: few (train, and maybe a longer eval) */
    static s4_consts cache[SLOTS];
    static int n;
    for (int i = 0; i < n; i++)
        if (cache[i].L == L && cache[i].dt == like->dtype && cache[i].dev == like->device)
            return &cache[i];
    SSM_CHECK(n < SLOTS, "s4: more than %d kernel lengths in one process", SLOTS);
    int64_t K = L / 2 + 1;
    double *zc = malloc(sizeof(double) * (size_t)(4 * K)), *corr = zc + 2 * K;
    SSM_CHECK(zc, "s4: out of memory");
    for (int64_t k = 0; k < K; k++) {
        double complex om = cexp(-2 * M_PI * I * (double)k / (double)L);
        double complex z = 2 * (1 - om) / (1 + om), g = 2 / (1 + om);
        zc[2 * k] = creal(z);
        zc[2 * k + 1] = cimag(z);
        corr[2 * k] = creal(g);
        corr[2 * k + 1] = cimag(g);
    }
    static const double conj_pair[2] = {1, -1}, one[2] = {1, 0};
    s4_consts *e = &cache[n++];
    *e = (s4_consts){L, like->dtype, like->device,
                     ssm_tensor_new(like->dtype, like->device, SSM_DIMS(K, 2)),
                     ssm_tensor_new(like->dtype, like->device, SSM_DIMS(K, 2)),
                     ssm_tensor_new(like->dtype, like->device, SSM_DIMS(2)),
                     ssm_tensor_new(like->dtype, like->device, SSM_DIMS(2))};
    ssm_tensor_from_f64(e->z, zc);
    ssm_tensor_from_f64(e->g, corr);
    ssm_tensor_from_f64(e->cj, conj_pair);
    ssm_tensor_from_f64(e->c1, one);
    free(zc);
    return e;
}

ssm_tensor *ssm_s4_kernel(ssm_ctx *c, ssm_s4 *m, int64_t L) {
    int64_t H = m->cfg.d_model, N2 = m->cfg.d_state / 2, Lk = m->cfg.l_max, K_ = Lk / 2 + 1;
    SSM_CHECK(L >= 1 && L <= Lk, "s4: sequence length %lld exceeds l_max = %lld", (long long)L,
              (long long)Lk);
    const s4_consts *k = consts_for(Lk, m->C);
    ssm_tensor *z = k->z, *g = k->g, *cj = k->cj, *c1 = k->c1;

    ssm_tensor *dt = ssm_exp(c, ssm_reshape(c, m->inv_dt, SSM_DIMS(H)));
    ssm_tensor *dte = ssm_expand(c, ssm_expand(c, dt, 1, N2), 2, 2); /* [H, N2, 2] */
    ssm_tensor *re = ssm_scale(c, ssm_exp(c, ssm_reshape(c, m->A_real, SSM_DIMS(H, N2, 1))), -1);
    ssm_tensor *im = ssm_scale(c, ssm_reshape(c, m->A_imag, SSM_DIMS(H, N2, 1)), -1);
    ssm_tensor *w = ssm_mul(c, dte, ssm_concat(c, (ssm_tensor *[]){re, im}, 2, 2)); /* dt A */
    ssm_tensor *B = ssm_reshape(c, m->B, SSM_DIMS(H, N2, 2));
    ssm_tensor *P = ssm_reshape(c, m->P, SSM_DIMS(H, N2, 2));
    ssm_tensor *Q = ssm_mul(c, P, cj);
    /* numerators (B, P) x (C_0 .. C_{ch-1}, Q), each scaled by dt */
    int64_t ch = m->C->shape[0], S = 2 * (ch + 1);
    ssm_tensor *rows[2] = {B, P}, *v[SSM_CAUCHY_MAX_S];
    for (int64_t bi = 0; bi < 2; bi++)
        for (int64_t ci = 0; ci <= ch; ci++) {
            ssm_tensor *col = ci == ch ? Q : ssm_reshape(c, ssm_slice(c, m->C, 0, ci, 1),
                                                         SSM_DIMS(H, N2, 2));
            v[bi * (ch + 1) + ci] = ssm_reshape(c, ssm_mul(c, ssm_cmul(c, rows[bi], col), dte),
                                                SSM_DIMS(1, H, N2, 2));
        }
    ssm_tensor *vv = v[0];
    for (int64_t i = 1; i < S; i++) vv = ssm_concat(c, (ssm_tensor *[]){vv, v[i]}, 2, 0);
    ssm_tensor *r[SSM_CAUCHY_MAX_S];
    int64_t ones[SSM_CAUCHY_MAX_S] = {1, 1, 1, 1, 1, 1};
    ssm_split(c, ssm_cauchy(c, vv, w, z), 0, (int)S, ones, r);
    /* Woodbury per channel: k_c = r_{B C_c} - r_{B Q} r_{P C_c} / (1 + r_{P Q}), then the
     * bilinear correction and the inverse FFT */
    ssm_tensor *den = ssm_add(c, r[S - 1], c1), *K[2];
    for (int64_t ci = 0; ci < ch; ci++) {
        ssm_tensor *kf = ssm_sub(c, r[ci], ssm_cmul(c, r[ch], ssm_cdiv(c, r[ch + 1 + ci], den)));
        kf = ssm_reshape(c, ssm_cmul(c, kf, g), SSM_DIMS(H, K_, 2));
        ssm_tensor *Kc = ssm_irfft(c, kf, Lk);
        K[ci] = L == Lk ? Kc : ssm_slice(c, Kc, 1, 0, L);
    }
    return ch == 1 ? K[0] : ssm_concat(c, K, 2, 1);
}

ssm_tensor *ssm_s4_fftconv(ssm_ctx *c, ssm_s4 *m, ssm_tensor *x) {
    SSM_CHECK(x->ndim == 3 && x->shape[2] == m->cfg.d_model, "s4: input must be [B, L, %lld]",
              (long long)m->cfg.d_model);
    return ssm_fftconv_gelu(c, x, ssm_s4_kernel(c, m, x->shape[1]), m->D);
}

ssm_tensor *ssm_s4_forward(ssm_ctx *c, ssm_s4 *m, ssm_tensor *x) {
    return ssm_glu_output(c, ssm_s4_fftconv(c, m, x), m->W, m->b, m->cfg.dropout,
                          m->cfg.tie_dropout);
}

struct ssm_s4_state {
    int64_t B, H, M;
    double complex *dA, *dB, *C, *x; /* per channel: M x M, M, M; state [B, H, M] */
};

ssm_s4_state *ssm_s4_state_alloc(ssm_s4 *m, int64_t batch) {
    SSM_CHECK(!m->cfg.bidirectional, "s4: a bidirectional layer has no recurrent step mode");
    s4_host p = host_params(m);
    int64_t H = p.H, M = p.M, N2 = p.N2;
    ssm_s4_state *st = calloc(1, sizeof *st);
    st->B = batch;
    st->H = H;
    st->M = M;
    st->dA = malloc(sizeof(double complex) * (size_t)(H * M * (M + 1)));
    st->dB = malloc(sizeof(double complex) * (size_t)(H * M));
    st->C = malloc(sizeof(double complex) * (size_t)(H * M));
    st->x = calloc((size_t)(batch * H * M), sizeof(double complex));
    double *Ct = ssm_tensor_to_f64(m->C);
    double complex *dAL = malloc(sizeof(double complex) * (size_t)(M * M));
    double complex *sys = malloc(sizeof(double complex) * (size_t)(M * M));
    int *ipiv = malloc(sizeof(int) * (size_t)M), n = (int)M, one = 1, info = 0;
    for (int64_t h = 0; h < H; h++) {
        double complex *dA = st->dA + h * M * (M + 1);
        SSM_CHECK(channel_matrices(&p, h, m->cfg.l_max, dA, dAL) == 0, "s4 step: LAPACK failed");
        memcpy(st->dB + h * M, dA + M * M, sizeof(double complex) * (size_t)M);
        /* C from C~: (I - dA^L)^T C^T = C~^T */
        for (int64_t r = 0; r < M; r++) {
            for (int64_t col = 0; col < M; col++) sys[col * M + r] = (r == col) - dAL[r * M + col];
            st->C[h * M + r] = ext(Ct, h, N2, r);
        }
        zgesv_(&n, &one, sys, &n, ipiv, st->C + h * M, &n, &info);
        SSM_CHECK(info == 0, "s4 step: I - dA^L is singular in channel %lld", (long long)h);
    }
    free(ipiv);
    free(sys);
    free(dAL);
    free(Ct);
    host_free(&p);
    return st;
}

void ssm_s4_state_free(ssm_s4_state *st) {
    if (!st) return;
    free(st->dA);
    free(st->dB);
    free(st->C);
    free(st->x);
    free(st);
}

ssm_tensor *ssm_s4_step(ssm_ctx *c, ssm_s4 *m, ssm_s4_state *st, ssm_tensor *x_t,
                        int with_output) {
    int64_t B = st->B, H = st->H, M = st->M;
    SSM_CHECK(x_t->ndim == 2 && x_t->shape[0] == B && x_t->shape[1] == H,
              "s4 step: input must be [%lld, %lld]", (long long)B, (long long)H);
    double *u = ssm_tensor_to_f64(x_t), *y = malloc(sizeof(double) * (size_t)(B * H));
    double complex *nx = malloc(sizeof(double complex) * (size_t)M);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const double complex *dA = st->dA + h * M * (M + 1), *dB = st->dB + h * M;
            double complex *x = st->x + (b * H + h) * M, acc = 0;
            for (int64_t r = 0; r < M; r++) {
                double complex s = dB[r] * u[b * H + h];
                for (int64_t k = 0; k < M; k++) s += dA[k * M + r] * x[k];
                nx[r] = s;
            }
            for (int64_t r = 0; r < M; r++) {
                x[r] = nx[r];
                acc += st->C[h * M + r] * nx[r];
            }
            y[b * H + h] = creal(acc);
        }
    int saved = ssm_no_grad_begin(c);
    ssm_tensor *yt = ssm_tensor_like(c->arena, x_t);
    ssm_tensor_from_f64(yt, y);
    yt = ssm_gelu(c, ssm_add(c, yt, ssm_mul(c, x_t, ssm_reshape(c, m->D, SSM_DIMS(H)))));
    if (with_output) yt = ssm_glu_output(c, yt, m->W, m->b, 0.0, 0);
    ssm_no_grad_end(c, saved);
    free(u);
    free(y);
    free(nx);
    return yt;
}
