/* test_linalg.c: factorizations and solves checked against their defining identities
 * (reconstruction, orthonormality, residuals, normal equations, Penrose conditions), on
 * contiguous and on view/transposed inputs, plus every failure path. Products are plain loops:
 * the BLAS wrappers are a different concept with their own tests. */
#include <string.h>

#include "../ntk.h"
#include "ntk_test.h"

/* The test matrices are small (n <= 12) with entries O(1) and condition numbers below ~1e3, so
 * backward-stable LAPACK results satisfy their identities to a few n * eps * cond ~ 1e-12;
 * 1e-9 leaves room for that and still fails on any real error, which is O(1). */
#define TOL 1e-9

/* C (fresh, rows x cols) <- op(A) op(B) with op = transpose when the flag is set. */
static void matmul(ntk_tensor *C, const ntk_tensor *A, int ta, const ntk_tensor *B, int tb) {
  size_t m = ta ? A->shape[1] : A->shape[0], k = ta ? A->shape[0] : A->shape[1];
  size_t n = tb ? B->shape[0] : B->shape[1], i, j, l;
  ntk_error err;
  CHECK(ntk_tensor_init_2d(C, m, n, &err) == NTK_OK);
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++) {
      double s = 0.0;
      for (l = 0; l < k; l++)
        s += (ta ? ntk_tensor_at(A, l, i) : ntk_tensor_at(A, i, l)) *
             (tb ? ntk_tensor_at(B, j, l) : ntk_tensor_at(B, l, j));
      *ntk_tensor_ptr(C, i, j) = s;
    }
}

static double max_abs_diff(const ntk_tensor *A, const ntk_tensor *B) {
  size_t i, j;
  double d = 0.0;
  CHECK(A->shape[0] == B->shape[0] && A->shape[1] == B->shape[1]);
  for (i = 0; i < A->shape[0]; i++)
    for (j = 0; j < A->shape[1]; j++) {
      double e = fabs(ntk_tensor_at(A, i, j) - ntk_tensor_at(B, i, j));
      if (e > d) d = e;
    }
  return d;
}

/* max |A - I| */
static double dist_identity(const ntk_tensor *A) {
  size_t i, j;
  double d = 0.0;
  for (i = 0; i < A->shape[0]; i++)
    for (j = 0; j < A->shape[1]; j++) {
      double e = fabs(ntk_tensor_at(A, i, j) - (i == j ? 1.0 : 0.0));
      if (e > d) d = e;
    }
  return d;
}

static void random_matrix(ntk_tensor *A, size_t m, size_t n, ntk_rng *rng) {
  ntk_error err;
  CHECK(ntk_tensor_init_2d(A, m, n, &err) == NTK_OK);
  ntk_rng_fill_normal(rng, A, 0.0, 1.0);
}

/* S <- M + M^T (symmetric, n x n) */
static void random_symmetric(ntk_tensor *S, size_t n, ntk_rng *rng) {
  ntk_tensor M = {0};
  size_t i, j;
  ntk_error err;
  random_matrix(&M, n, n, rng);
  CHECK(ntk_tensor_init_2d(S, n, n, &err) == NTK_OK);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      *ntk_tensor_ptr(S, i, j) = ntk_tensor_at(&M, i, j) + ntk_tensor_at(&M, j, i);
  ntk_tensor_release(&M);
}

/* S <- M M^T + n I (symmetric positive definite, well conditioned) */
static void random_spd(ntk_tensor *S, size_t n, ntk_rng *rng) {
  ntk_tensor M = {0};
  size_t i;
  random_matrix(&M, n, n, rng);
  matmul(S, &M, 0, &M, 1);
  for (i = 0; i < n; i++) *ntk_tensor_ptr(S, i, i) += (double)n;
  ntk_tensor_release(&M);
}

/* V (released) <- a non-contiguous view with A's values: A^T stored in a bigger buffer and
 * transposed back, so both strides differ from A's. */
static void strided_copy(ntk_tensor *V, const ntk_tensor *A) {
  ntk_tensor big = {0}, block = {0};
  size_t i, j;
  ntk_error err;
  CHECK(ntk_tensor_init_2d(&big, A->shape[1] + 2, A->shape[0] + 3, &err) == NTK_OK);
  for (i = 0; i < big.shape[0]; i++)
    for (j = 0; j < big.shape[1]; j++) *ntk_tensor_ptr(&big, i, j) = NAN; /* must stay unread */
  CHECK(ntk_tensor_narrow(&block, &big, 0, 1, A->shape[1], &err) == NTK_OK);
  ntk_tensor_release(&big);
  CHECK(ntk_tensor_narrow(&big, &block, 1, 2, A->shape[0], &err) == NTK_OK);
  ntk_tensor_release(&block);
  CHECK(ntk_tensor_transpose(V, &big, &err) == NTK_OK);
  ntk_tensor_release(&big);
  for (i = 0; i < A->shape[0]; i++)
    for (j = 0; j < A->shape[1]; j++) *ntk_tensor_ptr(V, i, j) = ntk_tensor_at(A, i, j);
  CHECK(!ntk_tensor_is_contiguous(V));
}

static int same_bits(const ntk_tensor *A, const ntk_tensor *B) {
  return ntk_tensor_same_shape(A, B) &&
         memcmp(ntk_tensor_data(A), ntk_tensor_data(B), ntk_tensor_numel(A) * sizeof(double)) == 0;
}

static void test_eigh(void) {
  ntk_rng rng;
  ntk_tensor A = {0}, Av = {0}, w = {0}, V = {0}, w2 = {0}, V2 = {0}, AV = {0}, VtV = {0};
  ntk_tensor wt = {0}, Vt = {0}, wn = {0};
  ntk_error err;
  size_t n = 7, i, j, k = 3;
  ntk_rng_seed(&rng, 1);
  random_symmetric(&A, n, &rng);
  CHECK(ntk_linalg_eigh(&w, &V, &A, &err) == NTK_OK);
  CHECK(w.ndim == 1 && w.shape[0] == n && V.shape[0] == n && V.shape[1] == n);
  for (i = 1; i < n; i++) CHECK(ntk_tensor_at(&w, i - 1, 0) <= ntk_tensor_at(&w, i, 0));
  /* A V = V diag(w) */
  matmul(&AV, &A, 0, &V, 0);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      CHECK_NEAR(ntk_tensor_at(&AV, i, j), ntk_tensor_at(&V, i, j) * ntk_tensor_at(&w, j, 0), TOL);
  matmul(&VtV, &V, 1, &V, 0);
  CHECK(dist_identity(&VtV) < TOL);
  /* values only: the same values */
  CHECK(ntk_linalg_eigh(&wn, NULL, &A, &err) == NTK_OK);
  CHECK(max_abs_diff(&w, &wn) < TOL);
  /* a strided view packs to the same buffer, so the answer is bit-identical */
  strided_copy(&Av, &A);
  CHECK(ntk_linalg_eigh(&w2, &V2, &Av, &err) == NTK_OK);
  CHECK(same_bits(&w, &w2) && same_bits(&V, &V2));
  /* top-k equals the top of the full decomposition, descending, same (sign-fixed) vectors */
  CHECK(ntk_linalg_eigh_top(&wt, &Vt, &Av, k, &err) == NTK_OK);
  CHECK(wt.shape[0] == k && Vt.shape[0] == n && Vt.shape[1] == k);
  for (j = 0; j < k; j++) {
    CHECK_NEAR(ntk_tensor_at(&wt, j, 0), ntk_tensor_at(&w, n - 1 - j, 0), TOL);
    for (i = 0; i < n; i++)
      CHECK_NEAR(ntk_tensor_at(&Vt, i, j), ntk_tensor_at(&V, i, n - 1 - j), TOL);
  }
  ntk_tensor_release(&wt);
  ntk_tensor_release(&Vt);
  /* k = n gives everything; k = 0 gives empty results */
  CHECK(ntk_linalg_eigh_top(&wt, NULL, &A, n, &err) == NTK_OK);
  for (j = 0; j < n; j++)
    CHECK_NEAR(ntk_tensor_at(&wt, j, 0), ntk_tensor_at(&w, n - 1 - j, 0), TOL);
  ntk_tensor_release(&wt);
  CHECK(ntk_linalg_eigh_top(&wt, &Vt, &A, 0, &err) == NTK_OK);
  CHECK(wt.shape[0] == 0 && Vt.shape[0] == n && Vt.shape[1] == 0);
  ntk_tensor_release(&wt);
  ntk_tensor_release(&Vt);
  CHECK(ntk_linalg_eigh_top(&wt, &Vt, &A, n + 1, &err) == NTK_ERANGE && err.arg == 2);
  CHECK(wt.storage == NULL && Vt.storage == NULL);
  NTK_TEST_RELEASE(&A, &Av, &w, &V, &w2, &V2, &wn, &AV, &VtV);
}

/* A = U diag(s) Vt, U^T U = I, Vt Vt^T = I, s descending and non-negative. */
static void check_svd(const ntk_tensor *A) {
  ntk_tensor U = {0}, s = {0}, Vt = {0}, US = {0}, R = {0}, G = {0}, s2 = {0}, Av = {0};
  ntk_tensor U2 = {0}, s3 = {0}, Vt2 = {0};
  ntk_error err;
  size_t m = A->shape[0], n = A->shape[1], r = m < n ? m : n, i, j;
  CHECK(ntk_linalg_svd(&U, &s, &Vt, A, &err) == NTK_OK);
  CHECK(U.shape[0] == m && U.shape[1] == r && s.shape[0] == r && Vt.shape[0] == r &&
        Vt.shape[1] == n);
  for (i = 0; i < r; i++) {
    CHECK(ntk_tensor_at(&s, i, 0) >= 0.0);
    if (i > 0) CHECK(ntk_tensor_at(&s, i - 1, 0) >= ntk_tensor_at(&s, i, 0));
  }
  CHECK(ntk_tensor_init_copy(&US, &U, &err) == NTK_OK);
  for (i = 0; i < m; i++)
    for (j = 0; j < r; j++) *ntk_tensor_ptr(&US, i, j) *= ntk_tensor_at(&s, j, 0);
  matmul(&R, &US, 0, &Vt, 0);
  CHECK(max_abs_diff(&R, A) < TOL);
  ntk_tensor_release(&R);
  matmul(&G, &U, 1, &U, 0);
  CHECK(dist_identity(&G) < TOL);
  ntk_tensor_release(&G);
  matmul(&G, &Vt, 0, &Vt, 1);
  CHECK(dist_identity(&G) < TOL);
  ntk_tensor_release(&G);
  /* values only */
  CHECK(ntk_linalg_svd(NULL, &s2, NULL, A, &err) == NTK_OK);
  CHECK(max_abs_diff(&s, &s2) < TOL);
  /* a strided view of the same values: bit-identical results */
  strided_copy(&Av, A);
  CHECK(ntk_linalg_svd(&U2, &s3, &Vt2, &Av, &err) == NTK_OK);
  CHECK(same_bits(&U, &U2) && same_bits(&s, &s3) && same_bits(&Vt, &Vt2));
  NTK_TEST_RELEASE(&U2, &s3, &Vt2);
  /* only one side wanted */
  CHECK(ntk_linalg_svd(NULL, &s3, &Vt2, A, &err) == NTK_OK);
  CHECK(same_bits(&Vt, &Vt2));
  NTK_TEST_RELEASE(&U, &s, &Vt, &US, &s2, &s3, &Vt2, &Av);
}

static void test_svd(void) {
  ntk_rng rng;
  ntk_tensor A = {0}, At = {0}, E = {0}, U = {0}, s = {0}, Vt = {0};
  ntk_error err;
  ntk_rng_seed(&rng, 2);
  random_matrix(&A, 6, 4, &rng);
  check_svd(&A);
  CHECK(ntk_tensor_transpose(&At, &A, &err) == NTK_OK);
  check_svd(&At);
  ntk_tensor_release(&A);
  ntk_tensor_release(&At);
  random_matrix(&A, 5, 5, &rng);
  check_svd(&A);
  ntk_tensor_release(&A);
  /* empty: r = 0 */
  CHECK(ntk_tensor_init_2d(&E, 3, 0, &err) == NTK_OK);
  CHECK(ntk_linalg_svd(&U, &s, &Vt, &E, &err) == NTK_OK);
  CHECK(U.shape[0] == 3 && U.shape[1] == 0 && s.shape[0] == 0 && Vt.shape[0] == 0);
  NTK_TEST_RELEASE(&U, &s, &Vt, &E);
}

static double residual(const ntk_tensor *A, const ntk_tensor *X, const ntk_tensor *B) {
  ntk_tensor X2 = {0}, B2 = {0}, AX = {0};
  ntk_error err;
  size_t shape[2];
  double d;
  /* 1-D right-hand sides as one column */
  shape[0] = X->shape[0];
  shape[1] = X->shape[1];
  CHECK(ntk_tensor_reshape(&X2, X, 2, shape, &err) == NTK_OK);
  shape[0] = B->shape[0];
  shape[1] = B->shape[1];
  if (ntk_tensor_is_contiguous(B)) {
    CHECK(ntk_tensor_reshape(&B2, B, 2, shape, &err) == NTK_OK);
  } else {
    ntk_tensor tmp = {0};
    CHECK(ntk_tensor_init_copy(&tmp, B, &err) == NTK_OK);
    CHECK(ntk_tensor_reshape(&B2, &tmp, 2, shape, &err) == NTK_OK);
    ntk_tensor_release(&tmp);
  }
  matmul(&AX, A, 0, &X2, 0);
  d = max_abs_diff(&AX, &B2);
  NTK_TEST_RELEASE(&X2, &B2, &AX);
  return d;
}

static void test_solves(void) {
  ntk_rng rng;
  ntk_tensor A = {0}, S = {0}, B = {0}, b = {0}, X = {0}, X2 = {0}, Av = {0}, Bv = {0};
  ntk_tensor Sing = {0}, NotPD = {0};
  ntk_error err;
  size_t n = 6, i, j;
  ntk_rng_seed(&rng, 3);
  random_matrix(&A, n, n, &rng);
  for (i = 0; i < n; i++) *ntk_tensor_ptr(&A, i, i) += 4.0; /* keep it well conditioned */
  random_spd(&S, n, &rng);
  random_matrix(&B, n, 3, &rng);
  CHECK(ntk_tensor_init_1d(&b, n, &err) == NTK_OK);
  ntk_rng_fill_normal(&rng, &b, 0.0, 1.0);

  CHECK(ntk_linalg_solve(&X, &A, &B, &err) == NTK_OK);
  CHECK(X.ndim == 2 && X.shape[0] == n && X.shape[1] == 3);
  CHECK(residual(&A, &X, &B) < TOL);
  strided_copy(&Av, &A);
  strided_copy(&Bv, &B);
  CHECK(ntk_linalg_solve(&X2, &Av, &Bv, &err) == NTK_OK);
  CHECK(same_bits(&X, &X2));
  ntk_tensor_release(&X);
  ntk_tensor_release(&X2);
  CHECK(ntk_linalg_solve(&X, &A, &b, &err) == NTK_OK);
  CHECK(X.ndim == 1 && X.shape[0] == n);
  CHECK(residual(&A, &X, &b) < TOL);
  ntk_tensor_release(&X);

  CHECK(ntk_linalg_cholesky_solve(&X, &S, &B, &err) == NTK_OK);
  CHECK(residual(&S, &X, &B) < TOL);
  ntk_tensor_release(&X);
  CHECK(ntk_linalg_cholesky_solve(&X, &S, &b, &err) == NTK_OK);
  CHECK(X.ndim == 1 && residual(&S, &X, &b) < TOL);
  ntk_tensor_release(&X);

  /* exactly singular: a repeated row; rank-1 outer product (singular only to rounding) */
  CHECK(ntk_tensor_init_copy(&Sing, &A, &err) == NTK_OK);
  for (j = 0; j < n; j++) *ntk_tensor_ptr(&Sing, 2, j) = ntk_tensor_at(&Sing, 4, j);
  CHECK(ntk_linalg_solve(&X, &Sing, &B, &err) == NTK_ESINGULAR);
  CHECK(X.storage == NULL && strstr(err.msg, "singular") != NULL);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) *ntk_tensor_ptr(&Sing, i, j) = (i + 1.0) / 3.0 * (j + 0.1) / 7.0;
  CHECK(ntk_linalg_solve(&X, &Sing, &B, &err) == NTK_ESINGULAR);
  CHECK(X.storage == NULL);
  /* positive semi-definite (rank 1) and indefinite matrices are not PD */
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) *ntk_tensor_ptr(&Sing, i, j) = (i + 1.0) * (j + 1.0) / 10.0;
  CHECK(ntk_linalg_cholesky_solve(&X, &Sing, &B, &err) == NTK_ENOTPD);
  CHECK(X.storage == NULL && strstr(err.msg, "positive definite") != NULL);
  CHECK(ntk_tensor_init_copy(&NotPD, &S, &err) == NTK_OK);
  *ntk_tensor_ptr(&NotPD, 3, 3) = -1.0;
  CHECK(ntk_linalg_cholesky_solve(&X, &NotPD, &B, &err) == NTK_ENOTPD);
  CHECK(X.storage == NULL);

  NTK_TEST_RELEASE(&A, &S, &B, &b, &Av, &Bv, &Sing, &NotPD);
}

/* ntk_linalg_cholesky_solve_cond: the caller's conditioning bar and the estimate it returns.
 * For a diagonal matrix dpocon's estimate is exact: |A|_1 |A^-1|_1 = max d / min d. */
static void test_cholesky_cond(void) {
  ntk_rng rng;
  ntk_tensor D = {0}, b = {0}, X = {0}, X2 = {0}, S = {0}, B = {0}, NotPD = {0};
  ntk_error err;
  double rc = -1.0;
  size_t i;
  ntk_rng_seed(&rng, 11);
  CHECK(ntk_tensor_init_2d(&D, 3, 3, &err) == NTK_OK);
  *ntk_tensor_ptr(&D, 0, 0) = 2.0;
  *ntk_tensor_ptr(&D, 1, 1) = 1.0;
  *ntk_tensor_ptr(&D, 2, 2) = 2e-6; /* reciprocal condition 1e-6 */
  CHECK(ntk_tensor_init_1d(&b, 3, &err) == NTK_OK);
  for (i = 0; i < 3; i++) *ntk_tensor_ptr(&b, i, 0) = i + 1.0;
  CHECK(ntk_linalg_cholesky_solve_cond(&X, &rc, &D, &b, 1e-8, &err) == NTK_OK);
  CHECK_NEAR(rc, 1e-6, 1e-6 * TOL);
  CHECK_NEAR(ntk_tensor_at(&X, 0, 0), 0.5, TOL);
  CHECK_NEAR(ntk_tensor_at(&X, 1, 0), 2.0, TOL);
  CHECK_NEAR(ntk_tensor_at(&X, 2, 0), 1.5e6, 1.5e6 * TOL);
  ntk_tensor_release(&X);
  /* above the bar: refused as not positive definite, the estimate still reported */
  rc = -1.0;
  CHECK(ntk_linalg_cholesky_solve_cond(&X, &rc, &D, &b, 1e-4, &err) == NTK_ENOTPD);
  CHECK(X.storage == NULL && err.arg == 1 && strstr(err.msg, "working precision") != NULL);
  CHECK_NEAR(rc, 1e-6, 1e-6 * TOL);
  /* a failed factorization reports 0 */
  random_spd(&S, 5, &rng);
  CHECK(ntk_tensor_init_copy(&NotPD, &S, &err) == NTK_OK);
  *ntk_tensor_ptr(&NotPD, 2, 2) = -1.0;
  random_matrix(&B, 5, 2, &rng);
  rc = -1.0;
  CHECK(ntk_linalg_cholesky_solve_cond(&X, &rc, &NotPD, &B, 0.0, &err) == NTK_ENOTPD);
  CHECK(X.storage == NULL && rc == 0.0);
  /* rcond_min <= 0 is cholesky_solve's own bar: the same bits */
  CHECK(ntk_linalg_cholesky_solve_cond(&X, NULL, &S, &B, 0.0, &err) == NTK_OK);
  CHECK(ntk_linalg_cholesky_solve(&X2, &S, &B, &err) == NTK_OK);
  CHECK(same_bits(&X, &X2));
  ntk_tensor_release(&X);
  ntk_tensor_release(&X2);
  /* a bar of 1 or more, or NaN, is misuse of argument 3; nothing is allocated */
  CHECK(ntk_linalg_cholesky_solve_cond(&X, &rc, &S, &B, 1.0, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_linalg_cholesky_solve_cond(&X, &rc, &S, &B, NAN, &err) == NTK_EARG && err.arg == 3);
  CHECK(X.storage == NULL);
  NTK_TEST_RELEASE(&D, &b, &S, &B, &NotPD);
}

/* the four Penrose conditions: A P A = A, P A P = P, (A P)^T = A P, (P A)^T = P A */
static void check_penrose(const ntk_tensor *A, const ntk_tensor *P) {
  ntk_tensor AP = {0}, PA = {0}, APA = {0}, PAP = {0}, T = {0};
  ntk_error err;
  matmul(&AP, A, 0, P, 0);
  matmul(&PA, P, 0, A, 0);
  matmul(&APA, &AP, 0, A, 0);
  matmul(&PAP, &PA, 0, P, 0);
  CHECK(max_abs_diff(&APA, A) < TOL);
  CHECK(max_abs_diff(&PAP, P) < TOL);
  CHECK(ntk_tensor_transpose(&T, &AP, &err) == NTK_OK);
  CHECK(max_abs_diff(&T, &AP) < TOL);
  ntk_tensor_release(&T);
  CHECK(ntk_tensor_transpose(&T, &PA, &err) == NTK_OK);
  CHECK(max_abs_diff(&T, &PA) < TOL);
  NTK_TEST_RELEASE(&T, &AP, &PA, &APA, &PAP);
}

/* M of rank 2: pinv finds rank 2 and a P = M^+ that meets the Penrose conditions, and lstsq
 * on a random B [rows of M x cols] finds rank 2 and the minimum-norm solution P B. */
static void check_rank2(const ntk_tensor *M, size_t cols, ntk_rng *rng) {
  ntk_tensor P = {0}, B = {0}, X = {0}, PB = {0};
  ntk_error err;
  size_t rank = 99, rank2 = 99;
  CHECK(ntk_linalg_pinv(&P, M, 1e-10, &rank2, &err) == NTK_OK);
  CHECK(rank2 == 2);
  check_penrose(M, &P);
  random_matrix(&B, M->shape[0], cols, rng);
  CHECK(ntk_linalg_lstsq(&X, M, &B, 1e-10, &rank, &err) == NTK_OK);
  CHECK(rank == 2 && X.shape[0] == M->shape[1]);
  matmul(&PB, &P, 0, &B, 0);
  CHECK(max_abs_diff(&X, &PB) < TOL);
  NTK_TEST_RELEASE(&P, &B, &X, &PB);
}

static void test_least_squares(void) {
  ntk_rng rng;
  ntk_tensor A = {0}, B = {0}, X = {0}, AtA = {0}, AtB = {0}, Xn = {0}, P = {0};
  ntk_tensor L = {0}, R = {0}, D = {0}, Dt = {0}, X2 = {0}, Av = {0};
  ntk_error err;
  size_t rank = 99, rank2 = 99, m = 9, n = 4;
  ntk_rng_seed(&rng, 4);
  /* full rank, tall: X equals the normal-equations solution (A^T A) X = A^T B */
  random_matrix(&A, m, n, &rng);
  random_matrix(&B, m, 2, &rng);
  CHECK(ntk_linalg_lstsq(&X, &A, &B, -1.0, &rank, &err) == NTK_OK);
  CHECK(rank == n && X.shape[0] == n && X.shape[1] == 2);
  matmul(&AtA, &A, 1, &A, 0);
  matmul(&AtB, &A, 1, &B, 0);
  CHECK(ntk_linalg_solve(&Xn, &AtA, &AtB, &err) == NTK_OK);
  CHECK(max_abs_diff(&X, &Xn) < TOL);
  strided_copy(&Av, &A);
  CHECK(ntk_linalg_lstsq(&X2, &Av, &B, -1.0, NULL, &err) == NTK_OK);
  CHECK(max_abs_diff(&X, &X2) < TOL);
  ntk_tensor_release(&X2);
  CHECK(ntk_linalg_pinv(&P, &A, -1.0, &rank2, &err) == NTK_OK);
  CHECK(rank2 == n && P.shape[0] == n && P.shape[1] == m);
  check_penrose(&A, &P);
  ntk_tensor_release(&P);
  CHECK(ntk_linalg_pinv(&P, &Av, -1.0, &rank2, &err) == NTK_OK);
  check_penrose(&Av, &P);
  ntk_tensor_release(&P);

  /* rank 2, 6 x 5 (wide enough to be deficient both ways): D = L R */
  random_matrix(&L, 6, 2, &rng);
  random_matrix(&R, 2, 5, &rng);
  matmul(&D, &L, 0, &R, 0);
  check_rank2(&D, 3, &rng);
  /* and the same for D^T (5 x 6, a transposed view) */
  CHECK(ntk_tensor_transpose(&Dt, &D, &err) == NTK_OK);
  check_rank2(&Dt, 1, &rng);
  /* zero matrix: rank 0, pseudo-inverse 0 */
  memset(ntk_tensor_data(&D), 0, ntk_tensor_numel(&D) * sizeof(double));
  CHECK(ntk_linalg_pinv(&P, &D, -1.0, &rank2, &err) == NTK_OK);
  CHECK(rank2 == 0 && P.shape[0] == 5 && P.shape[1] == 6);
  check_penrose(&D, &P);

  NTK_TEST_RELEASE(&A, &Av, &B, &X, &AtA, &AtB, &Xn, &P, &L, &R, &D, &Dt);
}

static void test_bad_input(void) {
  ntk_tensor A = {0}, R = {0}, v = {0}, B = {0}, out = {0}, out2 = {0}, dead = {0};
  ntk_error err;
  size_t rank = 7;
  CHECK(ntk_tensor_init_2d(&A, 3, 3, &err) == NTK_OK);
  CHECK(ntk_tensor_init_2d(&R, 3, 4, &err) == NTK_OK);
  CHECK(ntk_tensor_init_1d(&v, 3, &err) == NTK_OK);
  CHECK(ntk_tensor_init_2d(&B, 4, 2, &err) == NTK_OK);
  *ntk_tensor_ptr(&A, 0, 0) = *ntk_tensor_ptr(&A, 1, 1) = *ntk_tensor_ptr(&A, 2, 2) = 1.0;

  CHECK(ntk_linalg_eigh(&out, NULL, &R, &err) == NTK_ESHAPE && err.arg == 1);
  CHECK(strstr(err.msg, "square matrix expected, got [3 x 4]") != NULL);
  CHECK(ntk_linalg_eigh(&out, NULL, &v, &err) == NTK_ESHAPE && err.arg == 1);
  CHECK(strstr(err.msg, "2-D") != NULL);
  CHECK(ntk_linalg_eigh(&out, NULL, &dead, &err) == NTK_ERELEASED);
  CHECK(ntk_linalg_eigh(&A, NULL, &A, &err) == NTK_EARG); /* output not released */
  CHECK(ntk_linalg_svd(NULL, &out, NULL, &v, &err) == NTK_ESHAPE);
  CHECK(ntk_linalg_solve(&out, &R, &v, &err) == NTK_ESHAPE && err.arg == 1);
  CHECK(ntk_linalg_solve(&out, &A, &B, &err) == NTK_ESHAPE && err.arg == 2);
  CHECK(strstr(err.msg, "[3 x 3]") != NULL && strstr(err.msg, "[4 x 2]") != NULL);
  CHECK(ntk_linalg_cholesky_solve(&out, &A, &B, &err) == NTK_ESHAPE && err.arg == 2);
  CHECK(ntk_linalg_lstsq(&out, &R, &B, -1.0, &rank, &err) == NTK_ESHAPE && err.arg == 2);
  CHECK(ntk_linalg_lstsq(&out, &A, &v, 1.0, &rank, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_linalg_lstsq(&out, &A, &v, NAN, &rank, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_linalg_pinv(&out, &A, 2.0, &rank, &err) == NTK_EARG && err.arg == 2);
  CHECK(ntk_linalg_pinv(&out, &v, -1.0, &rank, &err) == NTK_ESHAPE && err.arg == 1);

  /* not symmetric */
  *ntk_tensor_ptr(&A, 0, 2) = 0.5;
  CHECK(ntk_linalg_eigh(&out, &out2, &A, &err) == NTK_EARG && err.arg == 1);
  CHECK(strstr(err.msg, "symmetric") != NULL);
  CHECK(ntk_linalg_eigh_top(&out, NULL, &A, 1, &err) == NTK_EARG);
  CHECK(ntk_linalg_cholesky_solve(&out, &A, &v, &err) == NTK_EARG);
  /* asymmetry at rounding level is accepted */
  *ntk_tensor_ptr(&A, 2, 0) = 0.5 * (1.0 + 1e-15);
  CHECK(ntk_linalg_eigh(&out, &out2, &A, &err) == NTK_OK);
  ntk_tensor_release(&out);
  ntk_tensor_release(&out2);

  /* NaN and Inf are numerical failures with a message, never garbage */
  *ntk_tensor_ptr(&A, 1, 2) = NAN;
  CHECK(ntk_linalg_eigh(&out, &out2, &A, &err) == NTK_ENONFINITE && err.arg == 1);
  CHECK(strstr(err.msg, "NaN at [2, 3]") != NULL);
  CHECK(ntk_linalg_svd(&out, &out2, NULL, &A, &err) == NTK_ENONFINITE);
  CHECK(ntk_linalg_solve(&out, &A, &v, &err) == NTK_ENONFINITE);
  CHECK(ntk_linalg_pinv(&out, &A, -1.0, &rank, &err) == NTK_ENONFINITE);
  *ntk_tensor_ptr(&A, 1, 2) = 0.0;
  *ntk_tensor_ptr(&v, 1, 0) = INFINITY;
  CHECK(ntk_linalg_solve(&out, &A, &v, &err) == NTK_ENONFINITE && err.arg == 2);
  CHECK(strstr(err.msg, "B contains Inf at [2]") != NULL);
  CHECK(ntk_linalg_lstsq(&out, &A, &v, -1.0, &rank, &err) == NTK_ENONFINITE && err.arg == 2);
  CHECK(rank == 0);
  /* no failure left an output behind */
  CHECK(out.storage == NULL && out2.storage == NULL);

  NTK_TEST_RELEASE(&A, &R, &v, &B);
}

static void test_check_psd(void) {
  ntk_rng rng;
  ntk_tensor S = {0}, M = {0}, G = {0}, E = {0};
  ntk_error err;
  double lmin = 0.0;
  size_t i;
  ntk_rng_seed(&rng, 5);
  random_spd(&S, 5, &rng);
  CHECK(ntk_linalg_check_psd(&lmin, &S, -1.0, &err) == NTK_OK);
  CHECK(lmin >= 5.0 - TOL); /* M M^T + 5 I has every eigenvalue >= 5 */
  /* a rank-2 Gram matrix: zero eigenvalues up to rounding pass the default tolerance */
  random_matrix(&M, 6, 2, &rng);
  matmul(&G, &M, 0, &M, 1);
  CHECK(ntk_linalg_check_psd(&lmin, &G, -1.0, &err) == NTK_OK);
  CHECK(fabs(lmin) < TOL);
  /* shifting by -1e-3 makes it indefinite; the message carries the minimum */
  for (i = 0; i < 6; i++) *ntk_tensor_ptr(&G, i, i) -= 1e-3;
  CHECK(ntk_linalg_check_psd(&lmin, &G, -1.0, &err) == NTK_ENOTPD && err.arg == 1);
  CHECK_NEAR(lmin, -1e-3, TOL);
  CHECK(strstr(err.msg, "minimum eigenvalue -0.001") != NULL);
  /* ...unless the caller's tolerance covers it */
  CHECK(ntk_linalg_check_psd(&lmin, &G, 1.0, &err) == NTK_OK);
  CHECK(ntk_linalg_check_psd(&lmin, &G, NAN, &err) == NTK_EARG && err.arg == 2);
  CHECK(isnan(lmin));
  CHECK(ntk_tensor_init_2d(&E, 0, 0, &err) == NTK_OK);
  CHECK(ntk_linalg_check_psd(&lmin, &E, -1.0, &err) == NTK_OK && isinf(lmin) && lmin > 0);
  *ntk_tensor_ptr(&S, 0, 1) = NAN;
  CHECK(ntk_linalg_check_psd(&lmin, &S, -1.0, &err) == NTK_ENONFINITE);
  NTK_TEST_RELEASE(&S, &M, &G, &E);
}

/* Sizes beyond the 32-wide copy tiles, not multiples of them: the tiled packing, symmetry
 * check and symmetrization must cover partial tiles on every edge. */
static void test_beyond_one_tile(void) {
  ntk_rng rng;
  ntk_tensor A = {0}, Av = {0}, w = {0}, V = {0}, w2 = {0}, V2 = {0}, AV = {0}, M = {0}, Mv = {0};
  ntk_tensor B = {0}, X = {0}, X2 = {0};
  ntk_error err;
  size_t n = 70, i, j;
  ntk_rng_seed(&rng, 6);
  random_symmetric(&A, n, &rng);
  strided_copy(&Av, &A);
  CHECK(ntk_linalg_eigh(&w, &V, &A, &err) == NTK_OK);
  CHECK(ntk_linalg_eigh(&w2, &V2, &Av, &err) == NTK_OK);
  CHECK(same_bits(&w, &w2) && same_bits(&V, &V2));
  matmul(&AV, &A, 0, &V, 0);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      CHECK_NEAR(ntk_tensor_at(&AV, i, j), ntk_tensor_at(&V, i, j) * ntk_tensor_at(&w, j, 0), TOL);
  /* one entry off symmetry in the last partial tile is still found */
  *ntk_tensor_ptr(&Av, n - 1, n - 3) += 1.0;
  CHECK(ntk_linalg_eigh(&w2, NULL, &Av, &err) == NTK_EARG);
  random_matrix(&M, 75, 40, &rng);
  check_svd(&M);
  CHECK(ntk_tensor_transpose(&Mv, &M, &err) == NTK_OK);
  check_svd(&Mv);
  for (i = 0; i < n; i++) *ntk_tensor_ptr(&A, i, i) += 30.0; /* well conditioned */
  random_matrix(&B, n, 3, &rng);
  CHECK(ntk_linalg_solve(&X, &A, &B, &err) == NTK_OK);
  CHECK(residual(&A, &X, &B) < TOL);
  ntk_tensor_release(&Av);
  strided_copy(&Av, &A);
  CHECK(ntk_linalg_solve(&X2, &Av, &B, &err) == NTK_OK);
  CHECK(same_bits(&X, &X2));
  NTK_TEST_RELEASE(&A, &Av, &X, &X2);
  random_spd(&A, n, &rng);
  strided_copy(&Av, &A);
  CHECK(ntk_linalg_cholesky_solve(&X, &A, &B, &err) == NTK_OK);
  CHECK(residual(&A, &X, &B) < TOL);
  CHECK(ntk_linalg_cholesky_solve(&X2, &Av, &B, &err) == NTK_OK);
  CHECK(same_bits(&X, &X2));
  NTK_TEST_RELEASE(&A, &Av, &w, &V, &w2, &V2, &AV, &M, &Mv, &B, &X, &X2);
}

int main(void) {
  test_eigh();
  test_svd();
  test_solves();
  test_cholesky_cond();
  test_least_squares();
  test_bad_input();
  test_check_psd();
  test_beyond_one_tile();
  TEST_MAIN_END();
}
