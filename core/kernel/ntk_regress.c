/* ntk_regress.c: kernel ridge regression with a Cholesky fast path and a pseudo-inverse
 * fallback, both through ntk_linalg (its NaN, symmetry and conditioning checks included). The
 * copies into and out of tensors are O(P^2) around O(P^3) factorizations, once per fit. */
#include "ntk_regress.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_linalg.h"
#include "ntk_tensor.h"

void ntk_regress_release(ntk_regress *fit) {
  if (!fit) return;
  free(fit->alpha);
  memset(fit, 0, sizeof *fit);
}

/* alpha <- V diag(1/w, |w| > cut) V^T Y for A = V diag(w) V^T; returns the rank kept. */
static int solve_eigh(ntk_regress *fit, const ntk_tensor *A, const double *Y, ntk_error *err) {
  ntk_tensor wt = {0}, Vt = {0};
  size_t P = fit->P, C = fit->C, i, c, rank = 0;
  double *T, *w, *V, wmax = 0.0, cut, wmin;
  int st;
  if ((st = ntk_linalg_eigh(&wt, &Vt, A, err))) return st;
  T = malloc(P * C * sizeof *T);
  if (!T) {
    ntk_tensor_release(&wt);
    ntk_tensor_release(&Vt);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  w = ntk_tensor_data(&wt);
  V = ntk_tensor_data(&Vt);
  for (i = 0; i < P; i++)
    if (fabs(w[i]) > wmax) wmax = fabs(w[i]);
  cut = fit->rcond * wmax;
  wmin = wmax;
  /* T = V^T Y, scaled by 1/w_i on the kept directions and zeroed on the others */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)P, (int)C, (int)P, 1.0, V, (int)P, Y,
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
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)C, (int)P, 1.0, V, (int)P, T,
              (int)C, 0.0, fit->alpha, (int)C);
  fit->method = NTK_REGRESS_EIGH;
  fit->rank = rank;
  fit->cond_est = wmax > 0.0 && rank > 0 ? wmin / wmax : 0.0;
  free(T);
  ntk_tensor_release(&wt);
  ntk_tensor_release(&Vt);
  return NTK_OK;
}

int ntk_regress_fit(ntk_regress *fit, const double *K, size_t P, const double *Y, size_t C,
                    double ridge, double rcond, ntk_error *err) {
  ntk_tensor A = {0}, B = {0}, X = {0};
  double *a, rc = 0.0;
  size_t i;
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
  fit->alpha = malloc(P * C * sizeof *fit->alpha);
  if (!fit->alpha || (st = ntk_tensor_init_2d(&A, P, P, err)) ||
      (st = ntk_tensor_init_2d(&B, P, C, err))) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu x %zu kernel", P, P);
    goto done;
  }
  fit->P = P;
  fit->C = C;
  fit->ridge = ridge;
  fit->rcond = rcond;
  a = ntk_tensor_data(&A);
  memcpy(a, K, P * P * sizeof *a);
  for (i = 0; i < P; i++) a[i * P + i] += ridge;
  memcpy(ntk_tensor_data(&B), Y, P * C * sizeof *Y);
  st = ntk_linalg_cholesky_solve_cond(&X, &rc, &A, &B, rcond, err);
  if (st == NTK_OK) {
    memcpy(fit->alpha, ntk_tensor_data(&X), P * C * sizeof *fit->alpha);
    fit->method = NTK_REGRESS_CHOLESKY;
    fit->rank = P;
    fit->cond_est = rc;
  } else if (st == NTK_ENOTPD) {
    /* not positive definite, or too ill-conditioned for the factor to mean anything */
    st = solve_eigh(fit, &A, Y, err);
  }
  /* ntk_linalg numbers its A as argument 1; here the kernel is argument 2 */
  if (st != NTK_OK && err && err->arg == 1) err->arg = 2;
done:
  ntk_tensor_release(&A);
  ntk_tensor_release(&B);
  ntk_tensor_release(&X);
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
