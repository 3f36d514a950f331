/* ntk_metrics.c: alignments, norms, spectra and distances of kernels. */
#include "ntk_metrics.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_linalg.h"
#include "ntk_tensor.h"

double ntk_metrics_frobenius(const double *A, size_t n) {
  /* scaled sum of squares: kernels of deep nets at large sigma overflow a naive sum */
  double scale = 0.0, ssq = 1.0;
  size_t i;
  for (i = 0; i < n; i++)
    if (A[i] != 0.0) {
      double a = fabs(A[i]);
      if (scale < a) {
        ssq = 1.0 + ssq * (scale / a) * (scale / a);
        scale = a;
      } else {
        ssq += (a / scale) * (a / scale);
      }
    }
  return scale * sqrt(ssq);
}

double ntk_metrics_trace(const double *K, size_t n) {
  double s = 0.0;
  size_t i;
  for (i = 0; i < n; i++) s += K[i * n + i];
  return s;
}

double ntk_metrics_inner(const double *A, const double *B, size_t n) {
  double s = 0.0;
  size_t i;
  for (i = 0; i < n; i++) s += A[i] * B[i];
  return s;
}

int ntk_metrics_distance(double *out, const double *K1, const double *K2, size_t n,
                         ntk_error *err) {
  double n1 = ntk_metrics_frobenius(K1, n), n2 = ntk_metrics_frobenius(K2, n);
  if (n1 == 0.0) return ntk_error_set(err, NTK_EARG, 2, "zero kernel: distance undefined");
  if (n2 == 0.0) return ntk_error_set(err, NTK_EARG, 3, "zero kernel: distance undefined");
  /* normalise first so the inner product cannot overflow */
  {
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += (K1[i] / n1) * (K2[i] / n2);
    *out = 1.0 - s;
  }
  return NTK_OK;
}

int ntk_metrics_effective_rank(double *out, const double *K, size_t n, ntk_error *err) {
  double f = ntk_metrics_frobenius(K, n * n), t;
  if (f == 0.0) return ntk_error_set(err, NTK_EARG, 1, "zero kernel: effective rank undefined");
  t = ntk_metrics_trace(K, n) / f;
  *out = t * t;
  return NTK_OK;
}

/* M <- H M H for H = (I_P - 11^T/P) (x) I_m on the sample-major index (mu, a), n = P m. */
static void center(double *M, size_t P, size_t m) {
  size_t n = P * m, r, mu, a;
  double *mean = calloc(n > m ? n : m, sizeof *mean);
  if (!mean) return;
  /* columns: subtract, in each row, the mean over samples of each output a */
  for (r = 0; r < n; r++) {
    double *row = M + r * n;
    for (a = 0; a < m; a++) mean[a] = 0.0;
    for (mu = 0; mu < P; mu++)
      for (a = 0; a < m; a++) mean[a] += row[mu * m + a];
    for (a = 0; a < m; a++) mean[a] /= (double)P;
    for (mu = 0; mu < P; mu++)
      for (a = 0; a < m; a++) row[mu * m + a] -= mean[a];
  }
  /* rows: subtract the mean over samples of rows (nu, a), column by column */
  for (a = 0; a < m; a++) {
    memset(mean, 0, n * sizeof *mean);
    for (mu = 0; mu < P; mu++) {
      const double *row = M + (mu * m + a) * n;
      for (r = 0; r < n; r++) mean[r] += row[r];
    }
    for (mu = 0; mu < P; mu++) {
      double *row = M + (mu * m + a) * n;
      for (r = 0; r < n; r++) row[r] -= mean[r] / (double)P;
    }
  }
  free(mean);
}

int ntk_metrics_alignment(double *out, const double *K, size_t n, const double *Y, size_t P,
                          size_t C, int centered, ntk_error *err) {
  size_t m, r, zc, i, j, a;
  double *Z, *Kc = NULL, *G, num = 0.0, kn, tn;
  const double *Kuse = K;
  if (P == 0 || C == 0) return ntk_error_set(err, NTK_EARG, 4, "non-empty targets expected");
  if (n == P) {
    m = 1;
    zc = C; /* T = Y Y^T: Z = Y, C columns */
  } else if (n == P * C) {
    m = C;
    zc = 1; /* T = vec(Y) vec(Y)^T */
  } else {
    return ntk_error_set(err, NTK_ESHAPE, 2,
                         "kernel of size %zu matches neither P = %zu nor P C = %zu", n, P, P * C);
  }
  Z = malloc(n * zc * sizeof *Z);
  G = malloc(zc * zc * sizeof *G);
  if (centered) Kc = malloc(n * n * sizeof *Kc);
  if (!Z || !G || (centered && !Kc)) {
    free(Z);
    free(G);
    free(Kc);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  memcpy(Z, Y, n * zc * sizeof *Z); /* Y (P x C) is vec(Y) (P C x 1) in the same order */
  if (centered) {
    /* center Z over samples within each output (H Z), and K to H K H */
    for (a = 0; a < m * zc; a++) {
      double s = 0.0;
      size_t stride = m * zc, off = a;
      for (i = 0; i < P; i++) s += Z[i * stride + off];
      s /= (double)P;
      for (i = 0; i < P; i++) Z[i * stride + off] -= s;
    }
    memcpy(Kc, K, n * n * sizeof *Kc);
    center(Kc, P, m);
    Kuse = Kc;
  }
  /* <K, Z Z^T> = sum_r z_r^T K z_r; |Z Z^T|_F = |Z^T Z|_F */
  for (r = 0; r < zc; r++)
    for (i = 0; i < n; i++) {
      double s = 0.0;
      for (j = 0; j < n; j++) s += Kuse[i * n + j] * Z[j * zc + r];
      num += Z[i * zc + r] * s;
    }
  for (i = 0; i < zc; i++)
    for (j = 0; j < zc; j++) {
      double s = 0.0;
      for (r = 0; r < n; r++) s += Z[r * zc + i] * Z[r * zc + j];
      G[i * zc + j] = s;
    }
  kn = ntk_metrics_frobenius(Kuse, n * n);
  tn = ntk_metrics_frobenius(G, zc * zc);
  free(Z);
  free(G);
  free(Kc);
  if (kn == 0.0) return ntk_error_set(err, NTK_EARG, 1, "zero kernel: alignment undefined");
  if (tn == 0.0)
    return ntk_error_set(err, NTK_EARG, 4,
                         centered ? "constant targets: centered alignment undefined"
                                  : "zero targets: alignment undefined");
  *out = num / (kn * tn);
  return NTK_OK;
}

/* A (fresh tensor) <- the n x n kernel K, for ntk_linalg: one O(n^2) copy before an O(n^3)
 * eigensolver, once per record. */
static int kernel_tensor(ntk_tensor *A, const double *K, size_t n, ntk_error *err) {
  int st = ntk_tensor_init_2d(A, n, n, err);
  if (st == NTK_OK) memcpy(ntk_tensor_data(A), K, n * n * sizeof *K);
  return st;
}

int ntk_metrics_top_eigs(double *w, const double *K, size_t n, size_t k, ntk_error *err) {
  ntk_tensor A = {0}, top = {0};
  size_t i;
  int st;
  if (n == 0 || n > (size_t)1 << 30) return ntk_error_set(err, NTK_EARG, 2, "bad kernel size");
  if (k < 1 || k > n)
    return ntk_error_set(err, NTK_EARG, 4, "k in [1, %zu] expected, got %zu", n, k);
  for (i = 0; i < n * n; i++)
    if (!isfinite(K[i])) return ntk_error_set(err, NTK_ENONFINITE, 2, "kernel is not finite");
  if ((st = kernel_tensor(&A, K, n, err))) return st;
  /* dsyevr inside computes only the requested index range after the tridiagonal reduction */
  st = ntk_linalg_eigh_top(&top, NULL, &A, k, err);
  if (st == NTK_OK) memcpy(w, ntk_tensor_data(&top), k * sizeof *w);
  else if (err && err->arg == 1)
    err->arg = 2; /* ntk_linalg's A is this function's K */
  ntk_tensor_release(&A);
  ntk_tensor_release(&top);
  return st;
}

int ntk_metrics_psd(int *psd, double *lmin, double *lmax, const double *K, size_t n, double tol,
                    ntk_error *err) {
  ntk_tensor A = {0}, w = {0};
  size_t i;
  int st;
  if (n == 0 || n > (size_t)1 << 30) return ntk_error_set(err, NTK_EARG, 1, "bad kernel size");
  if (!(tol >= 0.0)) return ntk_error_set(err, NTK_EARG, 5, "tolerance >= 0 expected");
  for (i = 0; i < n * n; i++)
    if (!isfinite(K[i])) return ntk_error_set(err, NTK_ENONFINITE, 1, "kernel is not finite");
  if ((st = kernel_tensor(&A, K, n, err))) return st;
  /* all eigenvalues, ascending (values only); ntk_linalg's A is argument 1 here too */
  st = ntk_linalg_eigh(&w, NULL, &A, err);
  if (st == NTK_OK) {
    const double *wv = ntk_tensor_data(&w);
    double top = wv[n - 1] > 0.0 ? wv[n - 1] : 0.0;
    if (lmin) *lmin = wv[0];
    if (lmax) *lmax = wv[n - 1];
    if (psd) *psd = wv[0] >= -tol * top;
  }
  ntk_tensor_release(&A);
  ntk_tensor_release(&w);
  return st;
}

int ntk_metrics_weight_alignment(double *out, const double *W, size_t N, size_t D,
                                 const double *B, size_t r, ntk_error *err) {
  double *WB, *G, num, wn, bn;
  size_t gn = N <= D ? N : D;
  if (N == 0 || D == 0) return ntk_error_set(err, NTK_EARG, 1, "non-empty weights expected");
  if (r == 0) return ntk_error_set(err, NTK_EARG, 4, "non-empty teacher expected");
  WB = malloc(N * r * sizeof *WB);
  G = malloc((gn * gn > r * r ? gn * gn : r * r) * sizeof *G);
  if (!WB || !G) {
    free(WB);
    free(G);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  /* <W^T W, B^T B> = |W B^T|_F^2; |W^T W|_F = |W W^T|_F: Gram of the smaller side */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)r, (int)D, 1.0, W, (int)D, B,
              (int)D, 0.0, WB, (int)r);
  num = ntk_metrics_frobenius(WB, N * r);
  num *= num;
  if (N <= D)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)D, 1.0, W, (int)D, W,
                (int)D, 0.0, G, (int)N);
  else
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)N, 1.0, W, (int)D, W,
                (int)D, 0.0, G, (int)D);
  wn = ntk_metrics_frobenius(G, gn * gn);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)r, (int)D, 1.0, B, (int)D, B,
              (int)D, 0.0, G, (int)r);
  bn = ntk_metrics_frobenius(G, r * r);
  free(WB);
  free(G);
  if (wn == 0.0) return ntk_error_set(err, NTK_EARG, 1, "zero weights: cosine undefined");
  if (bn == 0.0) return ntk_error_set(err, NTK_EARG, 4, "zero teacher: cosine undefined");
  *out = num / (wn * bn);
  return NTK_OK;
}
