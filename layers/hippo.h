/* HiPPO-LegS and its normal-plus-low-rank (NPLR) form, as state-spaces/s4
 * models/s4/s4.py: transition('legs'), rank_correction('legs'), nplr().
 * Computed in double on the host (initialisation only). Complex arrays are
 * interleaved (re, im). */
#ifndef SSM_HIPPO_H
#define SSM_HIPPO_H
#include <stdint.h>

/* A (N x N, row-major), B (N): dx/dt = A x + B u, A already negated. */
void ssm_hippo_legs(int64_t N, double *A, double *B);
/* P (N) with A + P P^T = -1/2 I + skew-symmetric. */
void ssm_hippo_legs_P(int64_t N, double *P);

/* NPLR: A + P P^T = V diag(w) V^*, conjugate pairs implicit: w, P, B (N/2 complex) and
 * V (N x N/2 complex, row-major), modes sorted by Im w ascending (negative imaginary
 * parts kept); P = V^* P_legs, B = V^* B_legs with Im B clipped to [-B_clip, B_clip]
 * when B_clip > 0. Eigenvectors come from LAPACK zheev (phases are LAPACK's). Returns
 * 0, or -1 if the eigensolver fails. */
int ssm_nplr_legs(int64_t N, double B_clip, double *w, double *P, double *B, double *V);

#endif
