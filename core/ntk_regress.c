/* ntk_regress.c: kernel ridge regression with a Cholesky fast path and a pseudo-inverse
 * fallback. LAPACKE is called directly on row-major buffers: the tensor-level ntk_linalg API
 * would add copies around every call of what is a single-buffer operation here. */
#include "ntk_regress.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ntk_regress_release(ntk_regress *fit) {
  if (!fit) return;
  free(fit->alpha);
  memset(fit, 0, sizeof *fit);
}

/* alpha <- V diag(1/w, |w| > cut) V^T Y; returns the rank kept. A and w are overwritten. */
static int solve_eigh(ntk_regress *fit, double *A, const double *Y, size_t P, size_t C,
                      ntk_error *err) {
  double *w = malloc(P * sizeof *w), *T = malloc(P * C * sizeof *T), wmax = 0.0, cut, wmin;
  size_t i, c, rank = 0;
  lapack_int info;
  if (!w || !T) {
    free(w);
    free(T);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', (lapack_int)P, A, (lapack_int)P, w);
  if (info != 0) {
    free(w);
    free(T);
    return ntk_error_set(err, NTK_ENOCONV, 0, "eigendecomposition failed (dsyevd info %d)",
                         (int)info);
  }
  for (i = 0; i < P; i++)
    if (fabs(w[i]) > wmax) wmax = fabs(w[i]);
  cut = fit->rcond * wmax;
  wmin = wmax;
  /* T = V^T Y, scaled by 1/w_i on the kept directions and zeroed on the others */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)C, (int)P, 1.0, A, (int)P, Y,
              (int)C, 0.0, T, (int)C);
  for (i = 0; i < P; i++) {
    int keep = fabs(w[i]) > cut && wmax > 0.0;
    double s = keep ? 1.0 / w[i] : 0.0;
    if (keep) {
      rank++;
      if (fabs(w[i]) < wmin) wmin = fabs(w[i]);
    }
    for (c = 0; c < C; c++) T[i * C + c] *= s;
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)C, (int)P, 1.0, A, (int)P, T,
              (int)C, 0.0, fit->alpha, (int)C);
  fit->method = NTK_REGRESS_EIGH;
  fit->rank = rank;
  fit->cond_est = wmax > 0.0 && rank > 0 ? wmin / wmax : 0.0;
  free(w);
  free(T);
  return NTK_OK;
}

int ntk_regress_fit(ntk_regress *fit, const double *K, size_t P, const double *Y, size_t C,
                    double ridge, double rcond, ntk_error *err) {
  double *A, anorm, rc = 0.0;
  size_t i;
  lapack_int info;
  int st;
  memset(fit, 0, sizeof *fit);
  if (!K || P == 0) return ntk_error_set(err, NTK_EARG, 2, "non-empty kernel expected");
  if (P > (size_t)1 << 30) return ntk_error_set(err, NTK_ENOMEM, 3, "kernel too large");
  if (!Y || C == 0) return ntk_error_set(err, NTK_EARG, 4, "non-empty targets expected");
  if (!(ridge >= 0.0) || !isfinite(ridge))
    return ntk_error_set(err, NTK_EARG, 6, "ridge: finite value >= 0 expected, got %g", ridge);
  if (!(rcond >= 0.0) || !(rcond < 1.0))
    return ntk_error_set(err, NTK_EARG, 7, "rcond in [0, 1) expected, got %g", rcond);
  for (i = 0; i < P * P; i++)
    if (!isfinite(K[i]))
      return ntk_error_set(err, NTK_ENONFINITE, 2, "kernel has a non-finite entry at [%zu, %zu]",
                           i / P + 1, i % P + 1);
  for (i = 0; i < P * C; i++)
    if (!isfinite(Y[i]))
      return ntk_error_set(err, NTK_ENONFINITE, 4, "targets have a non-finite entry");
  A = malloc(P * P * sizeof *A);
  fit->alpha = malloc(P * C * sizeof *fit->alpha);
  if (!A || !fit->alpha) {
    free(A);
    ntk_regress_release(fit);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu x %zu kernel", P, P);
  }
  fit->P = P;
  fit->C = C;
  fit->ridge = ridge;
  fit->rcond = rcond;
  memcpy(A, K, P * P * sizeof *A);
  for (i = 0; i < P; i++) A[i * P + i] += ridge;
  anorm = LAPACKE_dlansy(LAPACK_ROW_MAJOR, '1', 'L', (lapack_int)P, A, (lapack_int)P);
  info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)P, A, (lapack_int)P);
  if (info == 0)
    info = LAPACKE_dpocon(LAPACK_ROW_MAJOR, 'L', (lapack_int)P, A, (lapack_int)P, anorm, &rc);
  if (info == 0 && rc >= rcond && rc > 0.0) {
    memcpy(fit->alpha, Y, P * C * sizeof *Y);
    info = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', (lapack_int)P, (lapack_int)C, A, (lapack_int)P,
                          fit->alpha, (lapack_int)C);
    if (info == 0) {
      fit->method = NTK_REGRESS_CHOLESKY;
      fit->rank = P;
      fit->cond_est = rc;
      free(A);
      return NTK_OK;
    }
  }
  /* not positive definite, or too ill-conditioned for the factor to mean anything */
  memcpy(A, K, P * P * sizeof *A);
  for (i = 0; i < P; i++) A[i * P + i] += ridge;
  st = solve_eigh(fit, A, Y, P, C, err);
  free(A);
  if (st != NTK_OK) ntk_regress_release(fit);
  return st;
}

int ntk_regress_predict(double *out, const ntk_regress *fit, const double *Kx, size_t Q,
                        ntk_error *err) {
  if (!fit || !fit->alpha) return ntk_error_set(err, NTK_EARG, 2, "fitted regression expected");
  if (!Kx || Q == 0) return ntk_error_set(err, NTK_EARG, 3, "non-empty test kernel expected");
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Q, (int)fit->C, (int)fit->P, 1.0,
              Kx, (int)fit->P, fit->alpha, (int)fit->C, 0.0, out, (int)fit->C);
  return NTK_OK;
}
