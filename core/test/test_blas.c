/* test_blas.c: gemm/gemv/syrk/ger on contiguous, narrowed, transposed and strided operands,
 * each against a naive triple loop over ntk_tensor_at. */
#include "../ntk.h"
#include "ntk_test.h"

#include <string.h>

/* Products of O(10) terms of size O(1): a few ulps of the result, 1e-12 leaves room for
 * BLAS's different summation order without hiding a wrong index (errors would be O(1)). */
#define PRODUCT_TOL 1e-12

static ntk_rng rng_state;
static ntk_rng *rng = &rng_state;

static void fill_random(ntk_tensor *t) {
  size_t i, j;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++) *ntk_tensor_ptr(t, i, j) = ntk_rng_uniform(rng) * 2.0 - 1.0;
}

/* Largest |C - (alpha A B + beta C0)| over all elements, computed the obvious way. */
static double gemm_error(const ntk_tensor *C, double alpha, const ntk_tensor *A,
                         const ntk_tensor *B, double beta, const ntk_tensor *C0) {
  size_t i, j, l;
  double worst = 0.0;
  for (i = 0; i < C->shape[0]; i++)
    for (j = 0; j < C->shape[1]; j++) {
      double s = 0.0, d;
      for (l = 0; l < A->shape[1]; l++) s += ntk_tensor_at(A, i, l) * ntk_tensor_at(B, l, j);
      d = fabs(ntk_tensor_at(C, i, j) - (alpha * s + beta * ntk_tensor_at(C0, i, j)));
      if (d > worst) worst = d;
    }
  return worst;
}

/* G = A A^T ([m x m] for A [m x k]), both triangles, against the obvious sums. */
static void check_gram(const ntk_tensor *G, const ntk_tensor *A) {
  size_t i, j, l;
  for (i = 0; i < A->shape[0]; i++)
    for (j = 0; j < A->shape[0]; j++) {
      double s = 0.0;
      for (l = 0; l < A->shape[1]; l++) s += ntk_tensor_at(A, i, l) * ntk_tensor_at(A, j, l);
      CHECK_NEAR(ntk_tensor_at(G, i, j), s, PRODUCT_TOL);
    }
}

/* A view of t's storage with every second column: no unit stride, so BLAS cannot take it. */
static void every_second_column(ntk_tensor *dst, const ntk_tensor *t) {
  ntk_tensor_view(dst, t);
  dst->shape[1] = (t->shape[1] + 1) / 2;
  dst->stride[1] = 2 * t->stride[1];
}

/* The layouts every operand of test_gemm_layouts takes alike, as dst [rows x cols] over a
 * fresh base: 0 plain, 1 transposed, 3 every second column. Returns 0 for layout 2 (narrowed),
 * which each operand builds its own way. */
static int shared_layout(ntk_tensor *dst, ntk_tensor *base, int layout, size_t rows, size_t cols,
                         ntk_error *err) {
  if (layout == 0) {
    ntk_tensor_init_2d(base, rows, cols, err);
    ntk_tensor_view(dst, base);
  } else if (layout == 1) {
    ntk_tensor_init_2d(base, cols, rows, err);
    ntk_tensor_transpose(dst, base, err);
  } else if (layout == 3) {
    ntk_tensor_init_2d(base, rows, 2 * cols, err);
    every_second_column(dst, base);
  }
  return layout != 2;
}

/* gemm with A and B given as (plain | transposed | narrowed | strided) views and C as plain,
 * transposed, narrowed or strided output. */
static void test_gemm_layouts(void) {
  const size_t m = 5, k = 7, n = 4;
  int ka, kb, kc;
  ntk_error err;
  for (ka = 0; ka < 4; ka++)
    for (kb = 0; kb < 4; kb++)
      for (kc = 0; kc < 4; kc++) {
        ntk_tensor abase = {0}, bbase = {0}, cbase = {0}, A = {0}, B = {0}, C = {0}, C0 = {0};
        /* A [m x k]; narrowed: rows and columns of a larger matrix */
        if (!shared_layout(&A, &abase, ka, m, k, &err)) {
          ntk_tensor tmp = {0};
          ntk_tensor_init_2d(&abase, m + 2, k + 3, &err);
          ntk_tensor_narrow(&tmp, &abase, 0, 1, m, &err);
          ntk_tensor_narrow(&A, &tmp, 1, 2, k, &err);
          ntk_tensor_release(&tmp);
        }
        /* B [k x n]; narrowed: out of a transposed, column-major matrix */
        if (!shared_layout(&B, &bbase, kb, k, n, &err)) {
          ntk_tensor tr = {0}, rows = {0};
          ntk_tensor_init_2d(&bbase, n + 1, k + 2, &err);
          ntk_tensor_transpose(&tr, &bbase, &err); /* [k+2 x n+1], column-major */
          ntk_tensor_narrow(&rows, &tr, 0, 1, k, &err);
          ntk_tensor_narrow(&B, &rows, 1, 0, n, &err);
          ntk_tensor_release(&tr);
          ntk_tensor_release(&rows);
        }
        /* C [m x n]; narrowed: rows only. Strided C has no unit stride: via a temporary */
        if (!shared_layout(&C, &cbase, kc, m, n, &err)) {
          ntk_tensor_init_2d(&cbase, m + 3, n, &err);
          ntk_tensor_narrow(&C, &cbase, 0, 2, m, &err);
        }
        CHECK(A.shape[0] == m && A.shape[1] == k && B.shape[0] == k && B.shape[1] == n);
        fill_random(&abase);
        fill_random(&bbase);
        fill_random(&cbase);
        ntk_tensor_init_copy(&C0, &C, &err);
        CHECK(ntk_blas_gemm(&C, 0.5, &A, &B, -2.0, &err) == NTK_OK);
        CHECK_NEAR(gemm_error(&C, 0.5, &A, &B, -2.0, &C0), 0.0, PRODUCT_TOL);
        /* beta = 0 must ignore C's old contents, NaN included */
        ntk_tensor_fill(&C, NAN, &err);
        CHECK(ntk_blas_gemm(&C, 1.0, &A, &B, 0.0, &err) == NTK_OK);
        CHECK_NEAR(gemm_error(&C, 1.0, &A, &B, 0.0, &C0), 0.0, PRODUCT_TOL);
        NTK_TEST_RELEASE(&abase, &bbase, &cbase, &A, &B, &C, &C0);
      }
}

/* The transposed view goes to BLAS without a copy: the storage refcount shows no temporary
 * was ever attached, and the result matches. Also C overlapping A is computed correctly. */
static void test_gemm_in_place_and_shapes(void) {
  ntk_tensor A = {0}, At = {0}, C = {0}, C0 = {0}, X = {0};
  ntk_error err;
  ntk_tensor_init_2d(&A, 3, 3, &err);
  fill_random(&A);
  ntk_tensor_transpose(&At, &A, &err);
  ntk_tensor_init_copy(&C0, &A, &err);
  /* A <- A A^T: output is an input; BLAS may not see that, the core uses a temporary */
  CHECK(ntk_blas_gemm(&A, 1.0, &C0, &At, 0.0, &err) == NTK_OK);
  {
    ntk_tensor C0t = {0};
    ntk_tensor_transpose(&C0t, &C0, &err);
    CHECK_NEAR(gemm_error(&A, 1.0, &C0, &C0t, 0.0, &C0), 0.0, PRODUCT_TOL);
    ntk_tensor_release(&C0t);
  }
  /* shape errors name the argument and both shapes */
  ntk_tensor_init_2d(&X, 4, 2, &err);
  ntk_tensor_init_2d(&C, 3, 2, &err);
  CHECK(ntk_blas_gemm(&C, 1.0, &A, &X, 0.0, &err) == NTK_ESHAPE);
  CHECK(err.arg == 4);
  CHECK(strstr(err.msg, "[3 x 3] @ [4 x 2]") != NULL);
  CHECK(ntk_blas_matmul(&C0, &A, &X, &err) == NTK_ESHAPE);
  NTK_TEST_RELEASE(&A, &At, &C, &C0, &X);
}

static void test_gemv_gram_ger(void) {
  ntk_tensor base = {0}, A = {0}, x = {0}, xv = {0}, y = {0}, G = {0}, O = {0};
  ntk_error err;
  size_t i, j;
  /* A is the transpose of a 6 x 4 buffer: [4 x 6] column-major; x a strided column view */
  ntk_tensor_init_2d(&base, 6, 4, &err);
  fill_random(&base);
  ntk_tensor_transpose(&A, &base, &err);
  ntk_tensor_init_2d(&xv, 6, 3, &err);
  fill_random(&xv);
  ntk_tensor_select(&x, &xv, 1, 2, &err); /* stride 3 */
  CHECK(ntk_blas_matmul(&y, &A, &x, &err) == NTK_OK);
  CHECK(y.ndim == 1 && y.shape[0] == 4);
  for (i = 0; i < 4; i++) {
    double s = 0.0;
    for (j = 0; j < 6; j++) s += ntk_tensor_at(&A, i, j) * ntk_tensor_at(&x, j, 0);
    CHECK_NEAR(ntk_tensor_at(&y, i, 0), s, PRODUCT_TOL);
  }
  ntk_tensor_release(&y);
  /* 1-D @ 2-D: x^T A^T with x of length 6 */
  CHECK(ntk_blas_matmul(&y, &x, &base, &err) == NTK_OK);
  CHECK(y.ndim == 1 && y.shape[0] == 4);
  for (i = 0; i < 4; i++) {
    double s = 0.0;
    for (j = 0; j < 6; j++) s += ntk_tensor_at(&x, j, 0) * ntk_tensor_at(&base, j, i);
    CHECK_NEAR(ntk_tensor_at(&y, i, 0), s, PRODUCT_TOL);
  }
  /* gram of the transposed view: [4 x 4], symmetric, both triangles */
  CHECK(ntk_blas_gram(&G, &A, &err) == NTK_OK);
  check_gram(&G, &A);
  /* outer product of strided vectors */
  CHECK(ntk_blas_outer(&O, &x, &y, &err) == NTK_OK);
  CHECK(O.shape[0] == 6 && O.shape[1] == 4);
  for (i = 0; i < 6; i++)
    for (j = 0; j < 4; j++)
      CHECK_NEAR(ntk_tensor_at(&O, i, j), ntk_tensor_at(&x, i, 0) * ntk_tensor_at(&y, j, 0),
                 PRODUCT_TOL);
  NTK_TEST_RELEASE(&base, &A, &x, &xv, &y, &G, &O);
}

/* gemv, syrk and ger on a matrix with no unit stride (copied behind the scenes). */
static void test_strided_fallbacks(void) {
  ntk_tensor base = {0}, base0 = {0}, A = {0}, x = {0}, y = {0}, G = {0}, A0 = {0};
  ntk_tensor u = {0}, v = {0};
  ntk_error err;
  size_t i, j;
  ntk_tensor_init_2d(&base, 4, 10, &err);
  fill_random(&base);
  every_second_column(&A, &base); /* [4 x 5], strides (10, 2) */
  ntk_tensor_init_1d(&x, 5, &err);
  fill_random(&x);
  ntk_tensor_init_1d(&y, 4, &err);
  CHECK(ntk_blas_gemv(&y, 1.0, &A, &x, 0.0, &err) == NTK_OK);
  for (i = 0; i < 4; i++) {
    double s = 0.0;
    for (j = 0; j < 5; j++) s += ntk_tensor_at(&A, i, j) * ntk_tensor_at(&x, j, 0);
    CHECK_NEAR(ntk_tensor_at(&y, i, 0), s, PRODUCT_TOL);
  }
  CHECK(ntk_blas_gram(&G, &A, &err) == NTK_OK);
  check_gram(&G, &A);
  ntk_tensor_init_copy(&A0, &A, &err);
  ntk_tensor_init_copy(&base0, &base, &err);
  ntk_tensor_init_1d(&u, 4, &err);
  ntk_tensor_init_1d(&v, 5, &err);
  fill_random(&u);
  fill_random(&v);
  CHECK(ntk_blas_ger(&A, 2.0, &u, &v, &err) == NTK_OK);
  for (i = 0; i < 4; i++)
    for (j = 0; j < 5; j++)
      CHECK_NEAR(ntk_tensor_at(&A, i, j),
                 ntk_tensor_at(&A0, i, j) + 2.0 * ntk_tensor_at(&u, i, 0) * ntk_tensor_at(&v, j, 0),
                 PRODUCT_TOL);
  /* the columns between the view's columns are untouched */
  for (i = 0; i < 4; i++)
    for (j = 0; j < 5; j++)
      CHECK(ntk_tensor_at(&base, i, 2 * j + 1) == ntk_tensor_at(&base0, i, 2 * j + 1));
  NTK_TEST_RELEASE(&base0, &base, &A, &x, &y, &G, &A0, &u, &v);
}

int main(void) {
  ntk_rng_seed(rng, 20261129);
  test_gemm_layouts();
  test_gemm_in_place_and_shapes();
  test_gemv_gram_ger();
  test_strided_fallbacks();
  TEST_MAIN_END();
}
