/* test_regress.c: kernel regression against a direct solve, recovery of a known function, and
 * rank-deficient (ridgeless) kernels through the pseudo-inverse. */
#include <string.h>

#include "ntk.h"
#include "ntk_test.h"

#define ALPHA ntk_tensor_data(&fit.alpha) /* [P x C], row-major */

/* A solve of a well-conditioned 8 x 8 system differs from Gaussian elimination by a few ulps
 * times the condition number (< 1e3 here). */
#define SOLVE_TOL 1e-11
/* Ridgeless predictions of a rank-D kernel: the cutoff drops eigenvalues ~1e-16 of the top, so
 * interpolation and extrapolation are exact up to rounding amplified by cond(X) ~ 10. */
#define INTERP_TOL 1e-9


/* x <- A^{-1} b by Gaussian elimination with partial pivoting (n <= 16). */
static void gauss_solve(double *x, const double *A0, const double *b, size_t n) {
  double A[16 * 17];
  size_t i, j, k;
  for (i = 0; i < n; i++) {
    for (j = 0; j < n; j++) A[i * (n + 1) + j] = A0[i * n + j];
    A[i * (n + 1) + n] = b[i];
  }
  for (k = 0; k < n; k++) {
    size_t p = k;
    for (i = k + 1; i < n; i++)
      if (fabs(A[i * (n + 1) + k]) > fabs(A[p * (n + 1) + k])) p = i;
    for (j = 0; j <= n; j++) {
      double t = A[k * (n + 1) + j];
      A[k * (n + 1) + j] = A[p * (n + 1) + j];
      A[p * (n + 1) + j] = t;
    }
    for (i = k + 1; i < n; i++) {
      double f = A[i * (n + 1) + k] / A[k * (n + 1) + k];
      for (j = k; j <= n; j++) A[i * (n + 1) + j] -= f * A[k * (n + 1) + j];
    }
  }
  for (i = n; i-- > 0;) {
    double s = A[i * (n + 1) + n];
    for (j = i + 1; j < n; j++) s -= A[i * (n + 1) + j] * x[j];
    x[i] = s / A[i * (n + 1) + i];
  }
}

static void test_direct_solve(void) {
  size_t P = 8, i, k;
  double B[64], K[64], y[16], a[8], pred[16];
  ntk_regress fit = {0};
  fill_normal(B, 64, 1);
  fill_normal(y, 16, 2);
  ntk_test_gram(K, B, P, P);
  /* ridge 0.5, two outputs: each column against its own direct solve */
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 2), 0.5, NTK_REGRESS_RCOND, NULL) == NTK_OK);
  CHECK(fit.method == NTK_REGRESS_CHOLESKY && fit.rank == P);
  for (k = 0; k < 2; k++) {
    double Kr[64], yk[8];
    memcpy(Kr, K, sizeof Kr);
    for (i = 0; i < P; i++) {
      Kr[i * P + i] += 0.5;
      yk[i] = y[i * 2 + k];
    }
    gauss_solve(a, Kr, yk, P);
    for (i = 0; i < P; i++) CHECK_NEAR(ALPHA[i * 2 + k], a[i], SOLVE_TOL * (1 + fabs(a[i])));
  }
  /* predicting on the training kernel with ridge 0 interpolates */
  ntk_regress_release(&fit);
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 2), 0.0, NTK_REGRESS_RCOND, NULL) == NTK_OK);
  CHECK(ntk_regress_predict(NTK_TEST_T2(pred, P, fit.C), &fit, NTK_TEST_T2(K, P, fit.P), NULL) == NTK_OK);
  for (i = 0; i < 16; i++) CHECK_NEAR(pred[i], y[i], 1e-8);
  ntk_regress_release(&fit);
  ntk_regress_release(&fit);
  CHECK(fit.alpha.storage == NULL);
}

/* Linear kernel K = X X^T of rank D < P: ridgeless regression of y = beta . x takes the
 * eigendecomposition path, keeps rank D, and predicts beta . x on new points exactly. */
static void test_rank_deficient(void) {
  size_t P = 20, D = 3, Q = 5, i, j, k;
  double X[60], Xt[15], beta[3] = {0.5, -1.25, 2.0}, y[20], K[400], Kx[100], pred[5];
  ntk_regress fit = {0};
  fill_normal(X, P * D, 3);
  fill_normal(Xt, Q * D, 4);
  ntk_test_cross(y, X, beta, P, 1, D);
  ntk_test_gram(K, X, P, D);
  ntk_test_cross(Kx, Xt, X, Q, P, D);
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 1), 0.0, NTK_REGRESS_RCOND, NULL) == NTK_OK);
  CHECK(fit.method == NTK_REGRESS_EIGH);
  CHECK(fit.rank == D);
  CHECK(ntk_regress_predict(NTK_TEST_T2(pred, Q, fit.C), &fit, NTK_TEST_T2(Kx, Q, fit.P), NULL) == NTK_OK);
  for (i = 0; i < Q; i++) {
    double t = 0;
    for (k = 0; k < D; k++) t += beta[k] * Xt[i * D + k];
    CHECK_NEAR(pred[i], t, INTERP_TOL);
  }
  /* minimum norm: alpha lies in the column space of X, i.e. alpha = X c */
  {
    double c[3], G[9], r[3], res = 0, an = 0;
    for (i = 0; i < D; i++) {
      r[i] = 0;
      for (j = 0; j < P; j++) r[i] += X[j * D + i] * ALPHA[j];
      for (j = 0; j < D; j++) {
        G[i * D + j] = 0;
        for (k = 0; k < P; k++) G[i * D + j] += X[k * D + i] * X[k * D + j];
      }
    }
    gauss_solve(c, G, r, D);
    for (j = 0; j < P; j++) {
      double s = 0;
      for (k = 0; k < D; k++) s += X[j * D + k] * c[k];
      res += (ALPHA[j] - s) * (ALPHA[j] - s);
      an += ALPHA[j] * ALPHA[j];
    }
    CHECK(sqrt(res) <= 1e-10 * sqrt(an));
  }
  ntk_regress_release(&fit);
}

static void test_bad_args(void) {
  double K[4] = {1, 0, 0, 1}, y[2] = {1, 2};
  ntk_regress fit = {0};
  ntk_error err;
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, 2, 2), NTK_TEST_T2(y, 2, 1), -1.0, 1e-10, &err) == NTK_EARG && err.arg == 4); /* ridge */
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, 2, 2), NTK_TEST_T2(y, 2, 1), 0.0, 2.0, &err) == NTK_EARG && err.arg == 5); /* rcond */
  K[1] = NAN;
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, 2, 2), NTK_TEST_T2(y, 2, 1), 0.0, 1e-10, &err) == NTK_ENONFINITE);
  CHECK(fit.alpha.storage == NULL);
  /* an asymmetric "kernel" is refused by ntk_linalg, blamed on K (argument 2) */
  K[1] = 0.5;
  CHECK(ntk_regress_fit(&fit, NTK_TEST_T2(K, 2, 2), NTK_TEST_T2(y, 2, 1), 0.0, 1e-10, &err) == NTK_EARG && err.arg == 2);
  CHECK(fit.alpha.storage == NULL && strstr(err.msg, "symmetric") != NULL);
}

int main(void) {
  test_direct_solve();
  test_rank_deficient();
  test_bad_args();
  TEST_MAIN_END();
}
