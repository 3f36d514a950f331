/* ntk_regress.c: kernel ridge regression with a Cholesky fast path and a pseudo-inverse
 * fallback, both through ntk_linalg (its NaN, symmetry and conditioning checks included). The
 * copies into and out of tensors are O(P^2) around O(P^3) factorizations, once per fit. */
#include "ntk_regress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_blas.h"
#include "ntk_linalg.h"
#include "ntk_tensor.h"

void ntk_regress_release(ntk_regress *fit) {
  if (!fit) return;
  ntk_tensor_release(&fit->alpha);
  memset(fit, 0, sizeof *fit);
}

/* alpha <- V diag(1/w, |w| > cut) V^T Y for A = V diag(w) V^T; returns the rank kept. */
static int solve_eigh(ntk_regress *fit, const ntk_tensor *A, const ntk_tensor *Y, ntk_error *err) {
  ntk_tensor wt = {0}, Vt = {0}, VtT = {0}, T = {0};
  size_t P = fit->P, C = fit->C, i, c, rank = 0;
  double *w, *t, wmax = 0.0, cut, wmin;
  int st;
  if ((st = ntk_linalg_eigh(&wt, &Vt, A, err)) != NTK_OK) return st;
  if ((st = ntk_tensor_init_2d(&T, P, C, err)) != NTK_OK) goto done;
  w = ntk_tensor_data(&wt);
  for (i = 0; i < P; i++)
    if (fabs(w[i]) > wmax) wmax = fabs(w[i]);
  cut = fit->rcond * wmax;
  wmin = wmax;
  /* T = V^T Y, scaled by 1/w_i on the kept directions and zeroed on the others */
  ntk_tensor_transpose(&VtT, &Vt, NULL);
  if ((st = ntk_blas_gemm(&T, 1.0, &VtT, Y, 0.0, err)) != NTK_OK) goto done;
  t = ntk_tensor_data(&T);
  for (i = 0; i < P; i++) {
    int keep = fabs(w[i]) > cut && wmax > 0.0;
    double s = keep ? 1.0 / w[i] : 0.0;
    if (keep) {
      rank++;
      if (fabs(w[i]) < wmin) wmin = fabs(w[i]);
    }
    for (c = 0; c < C; c++) t[i * C + c] *= s;
  }
  if ((st = ntk_blas_gemm(&fit->alpha, 1.0, &Vt, &T, 0.0, err)) != NTK_OK) goto done;
  fit->method = NTK_REGRESS_EIGH;
  fit->rank = rank;
  fit->cond_est = wmax > 0.0 && rank > 0 ? wmin / wmax : 0.0;
done:
  ntk_tensor_release(&T);
  ntk_tensor_release(&VtT);
  ntk_tensor_release(&wt);
  ntk_tensor_release(&Vt);
  return st;
}

/* A [P x C] contiguous copy of targets Y ([P x C] or [P], any view). */
static int targets_matrix(ntk_tensor *B, const ntk_tensor *Y, size_t P, size_t C,
                          ntk_error *err) {
  size_t i, c;
  double *b;
  int st = ntk_tensor_init_2d(B, P, C, err);
  if (st != NTK_OK) return st;
  b = ntk_tensor_data(B);
  for (i = 0; i < P; i++)
    for (c = 0; c < C; c++) b[i * C + c] = Y->ndim == 1 ? ntk_tensor_at(Y, i, 0) : ntk_tensor_at(Y, i, c);
  return NTK_OK;
}

int ntk_regress_fit(ntk_regress *fit, const ntk_tensor *K, const ntk_tensor *Y, double ridge,
                    double rcond, ntk_error *err) {
  ntk_tensor A = {0}, B = {0}, X = {0};
  double *a, *b, rc = 0.0;
  size_t i, P, C;
  char got[64];
  int st;
  memset(fit, 0, sizeof *fit);
  if (!K || !K->storage) return ntk_error_set(err, NTK_EARG, 2, "kernel expected");
  if (K->ndim != 2 || K->shape[0] != K->shape[1] || K->shape[0] == 0)
    return ntk_error_set(err, NTK_ESHAPE, 2, "non-empty square kernel expected, got %s",
                         ntk_tensor_shape_str(K, got, sizeof got));
  P = K->shape[0];
  if (P > (size_t)1 << 30) return ntk_error_set(err, NTK_ENOMEM, 2, "kernel too large");
  if (!Y || !Y->storage) return ntk_error_set(err, NTK_EARG, 3, "targets expected");
  C = Y->ndim == 2 ? Y->shape[1] : 1;
  if (Y->shape[0] != P || C == 0)
    return ntk_error_set(err, NTK_ESHAPE, 3, "[%zu] or [%zu x C] targets expected, got %s", P, P,
                         ntk_tensor_shape_str(Y, got, sizeof got));
  if (!(ridge >= 0.0) || !isfinite(ridge))
    return ntk_error_set(err, NTK_EARG, 4, "ridge: finite value >= 0 expected, got %g", ridge);
  if (!(rcond >= 0.0) || !(rcond < 1.0))
    return ntk_error_set(err, NTK_EARG, 5, "rcond in [0, 1) expected, got %g", rcond);
  /* the factorizations overwrite their input: K + ridge I and Y are copied once (any views) */
  if ((st = ntk_tensor_init_copy(&A, K, err)) != NTK_OK ||
      (st = targets_matrix(&B, Y, P, C, err)) != NTK_OK ||
      (st = ntk_tensor_init_2d(&fit->alpha, P, C, err)) != NTK_OK) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu x %zu kernel", P, P);
    goto done;
  }
  a = ntk_tensor_data(&A);
  b = ntk_tensor_data(&B);
  for (i = 0; i < P * P; i++)
    if (!isfinite(a[i])) {
      st = ntk_error_set(err, NTK_ENONFINITE, 2, "kernel has a non-finite entry at [%zu, %zu]",
                         i / P + 1, i % P + 1);
      goto done;
    }
  for (i = 0; i < P * C; i++)
    if (!isfinite(b[i])) {
      st = ntk_error_set(err, NTK_ENONFINITE, 3, "targets have a non-finite entry");
      goto done;
    }
  fit->P = P;
  fit->C = C;
  fit->ridge = ridge;
  fit->rcond = rcond;
  for (i = 0; i < P; i++) a[i * P + i] += ridge;
  st = ntk_linalg_cholesky_solve_cond(&X, &rc, &A, &B, rcond, err);
  if (st == NTK_OK) {
    memcpy(ntk_tensor_data(&fit->alpha), ntk_tensor_data(&X), P * C * sizeof(double));
    fit->method = NTK_REGRESS_CHOLESKY;
    fit->rank = P;
    fit->cond_est = rc;
  } else if (st == NTK_ENOTPD) {
    /* not positive definite, or too ill-conditioned for the factor to mean anything */
    st = solve_eigh(fit, &A, &B, err);
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

int ntk_regress_predict(ntk_tensor *out, const ntk_regress *fit, const ntk_tensor *Kx,
                        ntk_error *err) {
  ntk_tensor kx = {0}, o2 = {0};
  size_t shape[2];
  char got[64];
  int st;
  if (!fit || !fit->alpha.storage)
    return ntk_error_set(err, NTK_EARG, 2, "fitted regression expected");
  if (!Kx || !Kx->storage) return ntk_error_set(err, NTK_EARG, 3, "test kernel expected");
  if (Kx->ndim != 2 || Kx->shape[1] != fit->P || Kx->shape[0] == 0)
    return ntk_error_set(err, NTK_ESHAPE, 3, "[Q x %zu] test-by-train kernel expected, got %s",
                         fit->P, ntk_tensor_shape_str(Kx, got, sizeof got));
  shape[0] = Kx->shape[0];
  shape[1] = fit->C;
  if (!out || !out->storage || !ntk_tensor_is_contiguous(out) ||
      ntk_tensor_numel(out) != shape[0] * shape[1] || out->shape[0] != shape[0])
    return ntk_error_set(err, NTK_ESHAPE, 1, "contiguous [%zu x %zu] output expected", shape[0],
                         shape[1]);
  /* contiguous first: the same BLAS call, so the same bits, for every view of Kx */
  if ((st = ntk_tensor_contiguous(&kx, Kx, err)) == NTK_OK &&
      (st = ntk_tensor_reshape(&o2, out, 2, shape, err)) == NTK_OK)
    st = ntk_blas_gemm(&o2, 1.0, &kx, &fit->alpha, 0.0, err);
  ntk_tensor_release(&kx);
  ntk_tensor_release(&o2);
  return st;
}
