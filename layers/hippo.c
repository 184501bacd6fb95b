#include "hippo.h"
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

/* LAPACK's Hermitian eigensolver (OpenBLAS ships LAPACK; Debian has no lapacke.h for it). */
extern void zheev_(const char *jobz, const char *uplo, const int *n, double complex *a,
                   const int *lda, double *w, double complex *work, const int *lwork,
                   double *rwork, int *info, size_t jobz_len, size_t uplo_len);

void ssm_hippo_legs(int64_t N, double *A, double *B) {
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < N; k++)
            A[n * N + k] = n > k ? -sqrt(2.0 * n + 1) * sqrt(2.0 * k + 1) : n == k ? -(double)(n + 1) : 0;
        B[n] = sqrt(2.0 * n + 1);
    }
}

void ssm_hippo_legs_P(int64_t N, double *P) {
    for (int64_t n = 0; n < N; n++) P[n] = sqrt(n + 0.5);
}

typedef struct { double im; int64_t idx; } mode;
static int by_im(const void *a, const void *b) {
    double x = ((const mode *)a)->im, y = ((const mode *)b)->im;
    return (x > y) - (x < y);
}

int ssm_nplr_legs(int64_t N, double B_clip, double *w, double *P, double *B, double *V) {
    double *A = malloc(sizeof(double) * (size_t)(N * N + 2 * N)), *Bl = A + N * N, *Pl = Bl + N;
    double complex *M = malloc(sizeof(double complex) * (size_t)(N * N));
    double *ev = malloc(sizeof(double) * (size_t)N), *rwork = malloc(sizeof(double) * (size_t)(3 * N));
    SSM_CHECK(A && M && ev && rwork, "nplr: out of memory");
    ssm_hippo_legs(N, A, Bl);
    ssm_hippo_legs_P(N, Pl);
    /* AP = A + P P^T; real part of the eigenvalues = mean of its diagonal (-1/2) */
    double w_re = 0;
    for (int64_t n = 0; n < N; n++) w_re += A[n * N + n] + Pl[n] * Pl[n];
    w_re /= (double)N;
    /* -i AP as torch.linalg.eigh sees it: Hermitian from its lower triangle, diagonal's
     * imaginary part ignored. LAPACK is column-major: element (r, c) at M[c * N + r]. */
    for (int64_t r = 0; r < N; r++)
        for (int64_t c = 0; c < N; c++) {
            double ap = A[r * N + c] + Pl[r] * Pl[c];
            M[c * N + r] = r == c ? 0 : -I * ap;
        }
    int n = (int)N, lwork = -1, info = 0;
    double complex q;
    zheev_("V", "L", &n, M, &n, ev, &q, &lwork, rwork, &info, 1, 1);
    lwork = (int)creal(q);
    double complex *work = malloc(sizeof(double complex) * (size_t)lwork);
    zheev_("V", "L", &n, M, &n, ev, work, &lwork, rwork, &info, 1, 1);
    free(work);
    if (info == 0) {
        mode *md = malloc(sizeof(mode) * (size_t)N);
        for (int64_t i = 0; i < N; i++) md[i] = (mode){ev[i], i};
        qsort(md, (size_t)N, sizeof *md, by_im);
        for (int64_t j = 0; j < N / 2; j++) {
            int64_t col = md[j].idx;
            w[2 * j] = w_re;
            w[2 * j + 1] = md[j].im;
            double complex pb = 0, pp = 0;
            for (int64_t r = 0; r < N; r++) {
                double complex v = M[col * N + r];
                V[2 * (r * (N / 2) + j)] = creal(v);
                V[2 * (r * (N / 2) + j) + 1] = cimag(v);
                pb += conj(v) * Bl[r];
                pp += conj(v) * Pl[r];
            }
            double im = cimag(pb);
            if (B_clip > 0) im = im < -B_clip ? -B_clip : im > B_clip ? B_clip : im;
            B[2 * j] = creal(pb);
            B[2 * j + 1] = im;
            P[2 * j] = creal(pp);
            P[2 * j + 1] = cimag(pp);
        }
        free(md);
    }
    free(A);
    free(M);
    free(ev);
    free(rwork);
    return info == 0 ? 0 : -1;
}
