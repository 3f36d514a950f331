/* ntk_blas.c: gemm, gemv, syrk and ger on tensors of any layout.
 *
 * A 2-D tensor with unit column stride is a row-major matrix with leading dimension
 * stride[0]; one with unit row stride (a transpose, a column range of one) is a column-major
 * matrix with leading dimension stride[1]. The output's layout picks CBLAS's order, and each
 * input is passed with NoTrans when it shares that layout and Trans when it has the other one.
 * No copy is made for either; only tensors with no unit stride are copied first. */
#include "ntk_blas.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "ntk_tensor_ops.h"

typedef enum layout { LAYOUT_NONE = 0, LAYOUT_ROW, LAYOUT_COL } layout;

static size_t at_least_1(size_t n) { return n ? n : 1; }

/* The BLAS view of 2-D t: its layout and leading dimension. An extent-1 dimension's stride
 * never matters, so rows and columns of matrices qualify for both layouts. */
static layout classify(const ntk_tensor *t, int *ld) {
  size_t m = t->shape[0], n = t->shape[1];
  ptrdiff_t s0 = t->stride[0], s1 = t->stride[1];
  if ((n <= 1 || s1 == 1) && (m <= 1 || (s0 >= (ptrdiff_t)at_least_1(n) && s0 <= INT_MAX))) {
    *ld = m <= 1 ? (int)at_least_1(n) : (int)s0;
    return LAYOUT_ROW;
  }
  if ((m <= 1 || s0 == 1) && (n <= 1 || (s1 >= (ptrdiff_t)at_least_1(m) && s1 <= INT_MAX))) {
    *ld = n <= 1 ? (int)at_least_1(m) : (int)s1;
    return LAYOUT_COL;
  }
  return LAYOUT_NONE;
}

/* BLAS increment of a 1-D t, or 0 when t's stride cannot be passed to BLAS. */
static int increment(const ntk_tensor *t) {
  if (t->shape[0] <= 1) return 1;
  return t->stride[0] >= 1 && t->stride[0] <= INT_MAX ? (int)t->stride[0] : 0;
}

/* 1 when a and b touch a common element of the same storage. */
static int shares_memory(const ntk_tensor *a, const ntk_tensor *b) {
  ptrdiff_t alo, ahi, blo, bhi;
  if (a->storage != b->storage || ntk_tensor_numel(a) == 0 || ntk_tensor_numel(b) == 0) return 0;
  /* strides are never negative (views only narrow, select and transpose) */
  alo = (ptrdiff_t)a->offset;
  ahi = alo + (ptrdiff_t)(a->shape[0] - 1) * a->stride[0] +
        (ptrdiff_t)(a->shape[1] - 1) * a->stride[1];
  blo = (ptrdiff_t)b->offset;
  bhi = blo + (ptrdiff_t)(b->shape[0] - 1) * b->stride[0] +
        (ptrdiff_t)(b->shape[1] - 1) * b->stride[1];
  return alo <= bhi && blo <= ahi;
}

#define check_live ntk_tensor_check_live

static int check_ndim(const ntk_tensor *t, int ndim, int arg, ntk_error *err) {
  char buf[64];
  int st = check_live(t, arg, err);
  if (st != NTK_OK) return st;
  if (t->ndim != ndim)
    return ntk_error_set(err, NTK_ESHAPE, arg, "%d-D tensor expected, got %s", ndim,
                         ntk_tensor_shape_str(t, buf, sizeof buf));
  return NTK_OK;
}

static int check_int(size_t n, int arg, ntk_error *err) {
  if (n > INT_MAX)
    return ntk_error_set(err, NTK_EARG, arg, "dimension %zu too large for BLAS (at most %d)", n,
                         INT_MAX);
  return NTK_OK;
}

static int inner_mismatch(ntk_error *err, int arg, const ntk_tensor *A, const ntk_tensor *B,
                          size_t ka, size_t kb) {
  char a[64], b[64];
  return ntk_error_set(err, NTK_ESHAPE, arg, "shape mismatch: %s @ %s, inner sizes %zu ~= %zu",
                       ntk_tensor_shape_str(A, a, sizeof a), ntk_tensor_shape_str(B, b, sizeof b),
                       ka, kb);
}

static int dest_mismatch(ntk_error *err, int arg, size_t ndim, size_t m, size_t n,
                         const ntk_tensor *C) {
  char c[64];
  if (ndim == 1)
    return ntk_error_set(err, NTK_ESHAPE, arg, "shape mismatch: destination [%zu] expected, got %s",
                         m, ntk_tensor_shape_str(C, c, sizeof c));
  return ntk_error_set(err, NTK_ESHAPE, arg,
                       "shape mismatch: destination [%zu x %zu] expected, got %s", m, n,
                       ntk_tensor_shape_str(C, c, sizeof c));
}

/* *use <- in when BLAS can read it as it is, else a contiguous copy held in tmp. */
static int blas_input(const ntk_tensor *in, ntk_tensor *tmp, const ntk_tensor **use,
                      layout *lay, int *ld, ntk_error *err) {
  *use = in;
  *lay = classify(in, ld);
  if (*lay == LAYOUT_NONE) {
    int st = ntk_tensor_init_copy(tmp, in, err);
    if (st != NTK_OK) return st;
    *use = tmp;
    *lay = classify(tmp, ld);
  }
  return NTK_OK;
}

/* *use, *inc <- the 1-D x as BLAS reads it: in place with its own stride, or a contiguous copy in
 * tmp when its stride cannot be passed or copy is set (it overlaps the output). */
static int vector_input(const ntk_tensor *x, int copy, ntk_tensor *tmp, const ntk_tensor **use,
                        int *inc, ntk_error *err) {
  int st;
  *use = x;
  *inc = increment(x);
  if (*inc != 0 && !copy) return NTK_OK;
  if ((st = ntk_tensor_init_copy(tmp, x, err)) != NTK_OK) return st;
  *use = tmp;
  *inc = 1;
  return NTK_OK;
}

/* C <- beta C, where BLAS would not be called (an empty inner dimension). */
static int scale_output(ntk_tensor *C, double beta, ntk_error *err) {
  if (beta == 0.0) return ntk_tensor_fill(C, 0.0, err);
  if (beta == 1.0) return NTK_OK;
  return ntk_tensor_binop_scalar(C, C, NTK_OP_MUL, beta, err);
}

/* Runs op into a contiguous temporary standing in for C (initialised from C when beta ~= 0),
 * then copies the result into C: for outputs BLAS cannot write or that overlap an input. */
typedef int (*into_fn)(ntk_tensor *C, double alpha, const ntk_tensor *A, const ntk_tensor *B,
                       double beta, ntk_error *err);

static int via_temporary(into_fn op, ntk_tensor *C, double alpha, const ntk_tensor *A,
                         const ntk_tensor *B, double beta, ntk_error *err) {
  ntk_tensor tmp = {0};
  int st = beta != 0.0 ? ntk_tensor_init_copy(&tmp, C, err)
                       : ntk_tensor_init(&tmp, C->ndim, C->shape, err);
  if (st == NTK_OK) st = op(&tmp, alpha, A, B, beta, err);
  if (st == NTK_OK) st = ntk_tensor_copy(C, &tmp, err);
  ntk_tensor_release(&tmp);
  return st;
}

int ntk_blas_gemm(ntk_tensor *C, double alpha, const ntk_tensor *A, const ntk_tensor *B,
                  double beta, ntk_error *err) {
  ntk_tensor ta = {0}, tb = {0};
  const ntk_tensor *ua, *ub;
  layout lc, la, lb;
  int ldc, lda, ldb, st;
  size_t m, n, k;
  if ((st = check_ndim(C, 2, 1, err)) != NTK_OK || (st = check_ndim(A, 2, 3, err)) != NTK_OK ||
      (st = check_ndim(B, 2, 4, err)) != NTK_OK)
    return st;
  m = A->shape[0];
  k = A->shape[1];
  n = B->shape[1];
  if (B->shape[0] != k) return inner_mismatch(err, 4, A, B, k, B->shape[0]);
  if (C->shape[0] != m || C->shape[1] != n) return dest_mismatch(err, 1, 2, m, n, C);
  if ((st = check_int(m, 3, err)) != NTK_OK || (st = check_int(k, 3, err)) != NTK_OK ||
      (st = check_int(n, 4, err)) != NTK_OK)
    return st;
  if (m == 0 || n == 0) return NTK_OK;
  if (k == 0) return scale_output(C, beta, err);
  lc = classify(C, &ldc);
  if (lc == LAYOUT_NONE || shares_memory(C, A) || shares_memory(C, B))
    return via_temporary(ntk_blas_gemm, C, alpha, A, B, beta, err);
  if ((st = blas_input(A, &ta, &ua, &la, &lda, err)) != NTK_OK) return st;
  if ((st = blas_input(B, &tb, &ub, &lb, &ldb, err)) != NTK_OK) {
    ntk_tensor_release(&ta);
    return st;
  }
  cblas_dgemm(lc == LAYOUT_ROW ? CblasRowMajor : CblasColMajor,
              la == lc ? CblasNoTrans : CblasTrans, lb == lc ? CblasNoTrans : CblasTrans, (int)m,
              (int)n, (int)k, alpha, ntk_tensor_data(ua), lda, ntk_tensor_data(ub), ldb, beta,
              ntk_tensor_data(C), ldc);
  ntk_tensor_release(&ta);
  ntk_tensor_release(&tb);
  return NTK_OK;
}

int ntk_blas_gemv(ntk_tensor *y, double alpha, const ntk_tensor *A, const ntk_tensor *x,
                  double beta, ntk_error *err) {
  ntk_tensor ta = {0}, tx = {0};
  const ntk_tensor *ua, *ux = x;
  layout la;
  int lda, incx, incy, st;
  size_t m, n;
  if ((st = check_ndim(y, 1, 1, err)) != NTK_OK || (st = check_ndim(A, 2, 3, err)) != NTK_OK ||
      (st = check_ndim(x, 1, 4, err)) != NTK_OK)
    return st;
  m = A->shape[0];
  n = A->shape[1];
  if (x->shape[0] != n) return inner_mismatch(err, 4, A, x, n, x->shape[0]);
  if (y->shape[0] != m) return dest_mismatch(err, 1, 1, m, 1, y);
  if ((st = check_int(m, 3, err)) != NTK_OK || (st = check_int(n, 3, err)) != NTK_OK) return st;
  if (m == 0) return NTK_OK;
  if (n == 0) return scale_output(y, beta, err);
  incy = increment(y);
  if (incy == 0 || shares_memory(y, A) || shares_memory(y, x))
    return via_temporary(ntk_blas_gemv, y, alpha, A, x, beta, err);
  if ((st = vector_input(x, 0, &tx, &ux, &incx, err)) != NTK_OK) return st;
  if ((st = blas_input(A, &ta, &ua, &la, &lda, err)) != NTK_OK) {
    ntk_tensor_release(&tx);
    return st;
  }
  cblas_dgemv(la == LAYOUT_ROW ? CblasRowMajor : CblasColMajor, CblasNoTrans, (int)m, (int)n,
              alpha, ntk_tensor_data(ua), lda, ntk_tensor_data(ux), incx, beta, ntk_tensor_data(y),
              incy);
  ntk_tensor_release(&ta);
  ntk_tensor_release(&tx);
  return NTK_OK;
}

/* Shape of A B for matmul: *ndim and (m, n); NTK_ESHAPE with both shapes otherwise. */
static int matmul_shape(const ntk_tensor *A, const ntk_tensor *B, int *ndim, size_t *m,
                        size_t *n, ntk_error *err) {
  int st;
  if ((st = check_live(A, 2, err)) != NTK_OK || (st = check_live(B, 3, err)) != NTK_OK) return st;
  if (A->ndim == 1 && B->ndim == 1) {
    char a[64], b[64];
    return ntk_error_set(err, NTK_ESHAPE, 3,
                         "shape mismatch: %s @ %s, a 2-D operand expected (use dot for vectors)",
                         ntk_tensor_shape_str(A, a, sizeof a),
                         ntk_tensor_shape_str(B, b, sizeof b));
  }
  if (A->ndim == 2 && B->ndim == 2) {
    if (A->shape[1] != B->shape[0]) return inner_mismatch(err, 3, A, B, A->shape[1], B->shape[0]);
    *ndim = 2;
    *m = A->shape[0];
    *n = B->shape[1];
  } else if (A->ndim == 2) {
    if (A->shape[1] != B->shape[0]) return inner_mismatch(err, 3, A, B, A->shape[1], B->shape[0]);
    *ndim = 1;
    *m = A->shape[0];
    *n = 1;
  } else {
    if (A->shape[0] != B->shape[0]) return inner_mismatch(err, 3, A, B, A->shape[0], B->shape[0]);
    *ndim = 1;
    *m = B->shape[1];
    *n = 1;
  }
  return NTK_OK;
}

int ntk_blas_matmul_into(ntk_tensor *C, const ntk_tensor *A, const ntk_tensor *B,
                         ntk_error *err) {
  int ndim = 0, st;
  size_t m = 0, n = 0;
  ntk_tensor bt = {0};
  if ((st = check_live(C, 1, err)) != NTK_OK) return st;
  if ((st = matmul_shape(A, B, &ndim, &m, &n, err)) != NTK_OK) return st;
  if (C->ndim != ndim || C->shape[0] != m || (ndim == 2 && C->shape[1] != n))
    return dest_mismatch(err, 1, (size_t)ndim, m, n, C);
  if (ndim == 2) {
    st = ntk_blas_gemm(C, 1.0, A, B, 0.0, err);
  } else if (A->ndim == 2) {
    st = ntk_blas_gemv(C, 1.0, A, B, 0.0, err);
  } else {
    /* x^T B = (B^T x)^T: gemv on B's transposed view, no copy */
    if ((st = ntk_tensor_transpose(&bt, B, err)) != NTK_OK) return st;
    st = ntk_blas_gemv(C, 1.0, &bt, A, 0.0, err);
    ntk_tensor_release(&bt);
  }
  /* gemm and gemv number their arguments (C, alpha, first, second): map them to (C, A, B) */
  if (st != NTK_OK && err && err->arg >= 3) {
    int first_is_a = A->ndim == 2;
    err->arg = (err->arg == 3) == first_is_a ? 2 : 3;
  }
  return st;
}

int ntk_blas_matmul(ntk_tensor *C, const ntk_tensor *A, const ntk_tensor *B, ntk_error *err) {
  int ndim = 0, st;
  size_t m = 0, n = 0, shape[2];
  if ((st = matmul_shape(A, B, &ndim, &m, &n, err)) != NTK_OK) return st;
  shape[0] = m;
  shape[1] = n;
  if ((st = ntk_tensor_init(C, ndim, shape, err)) != NTK_OK) return st;
  if ((st = ntk_blas_matmul_into(C, A, B, err)) != NTK_OK) ntk_tensor_release(C);
  return st;
}

static int gram_op(ntk_tensor *C, double alpha, const ntk_tensor *A, const ntk_tensor *unused,
                   double beta, ntk_error *err) {
  return ntk_blas_gram_into(C, A, err);
}

int ntk_blas_gram_into(ntk_tensor *C, const ntk_tensor *A, ntk_error *err) {
  ntk_tensor ta = {0};
  const ntk_tensor *ua;
  layout lc, la;
  int ldc, lda, st;
  size_t m, k, i, j;
  if ((st = check_ndim(C, 2, 1, err)) != NTK_OK || (st = check_ndim(A, 2, 2, err)) != NTK_OK)
    return st;
  m = A->shape[0];
  k = A->shape[1];
  if (C->shape[0] != m || C->shape[1] != m) return dest_mismatch(err, 1, 2, m, m, C);
  if ((st = check_int(m, 2, err)) != NTK_OK || (st = check_int(k, 2, err)) != NTK_OK) return st;
  if (m == 0) return NTK_OK;
  if (k == 0) return ntk_tensor_fill(C, 0.0, err);
  lc = classify(C, &ldc);
  if (lc == LAYOUT_NONE || shares_memory(C, A))
    return via_temporary(gram_op, C, 1.0, A, NULL, 0.0, err);
  if ((st = blas_input(A, &ta, &ua, &la, &lda, err)) != NTK_OK) return st;
  cblas_dsyrk(lc == LAYOUT_ROW ? CblasRowMajor : CblasColMajor, CblasUpper,
              la == lc ? CblasNoTrans : CblasTrans, (int)m, (int)k, 1.0, ntk_tensor_data(ua), lda,
              0.0, ntk_tensor_data(C), ldc);
  ntk_tensor_release(&ta);
  /* syrk writes the upper triangle only; mirror it so the result is a plain matrix */
  for (i = 1; i < m; i++)
    for (j = 0; j < i; j++) *ntk_tensor_ptr(C, i, j) = ntk_tensor_at(C, j, i);
  return NTK_OK;
}

int ntk_blas_gram(ntk_tensor *C, const ntk_tensor *A, ntk_error *err) {
  int st;
  if ((st = check_ndim(A, 2, 2, err)) != NTK_OK) return st;
  if ((st = ntk_tensor_init_2d(C, A->shape[0], A->shape[0], err)) != NTK_OK) return st;
  if ((st = ntk_blas_gram_into(C, A, err)) != NTK_OK) ntk_tensor_release(C);
  return st;
}

int ntk_blas_ger(ntk_tensor *A, double alpha, const ntk_tensor *x, const ntk_tensor *y,
                 ntk_error *err) {
  ntk_tensor ta = {0}, tx = {0}, ty = {0};
  const ntk_tensor *ux = x, *uy = y;
  layout la;
  int lda, incx, incy, st;
  size_t m, n;
  if ((st = check_ndim(A, 2, 1, err)) != NTK_OK || (st = check_ndim(x, 1, 3, err)) != NTK_OK ||
      (st = check_ndim(y, 1, 4, err)) != NTK_OK)
    return st;
  m = A->shape[0];
  n = A->shape[1];
  if (x->shape[0] != m || y->shape[0] != n) {
    char a[64], xs[64], ys[64];
    return ntk_error_set(err, NTK_ESHAPE, x->shape[0] != m ? 3 : 4,
                         "shape mismatch: %s += %s %s^T, [%zu] and [%zu] expected",
                         ntk_tensor_shape_str(A, a, sizeof a),
                         ntk_tensor_shape_str(x, xs, sizeof xs),
                         ntk_tensor_shape_str(y, ys, sizeof ys), m, n);
  }
  if ((st = check_int(m, 1, err)) != NTK_OK || (st = check_int(n, 1, err)) != NTK_OK) return st;
  if (m == 0 || n == 0) return NTK_OK;
  la = classify(A, &lda);
  if (la == LAYOUT_NONE) {
    /* update a contiguous copy, then write it back */
    if ((st = ntk_tensor_init_copy(&ta, A, err)) != NTK_OK) return st;
    st = ntk_blas_ger(&ta, alpha, x, y, err);
    if (st == NTK_OK) st = ntk_tensor_copy(A, &ta, err);
    ntk_tensor_release(&ta);
    return st;
  }
  if ((st = vector_input(x, shares_memory(A, x), &tx, &ux, &incx, err)) != NTK_OK) return st;
  if ((st = vector_input(y, shares_memory(A, y), &ty, &uy, &incy, err)) != NTK_OK) {
    ntk_tensor_release(&tx);
    return st;
  }
  cblas_dger(la == LAYOUT_ROW ? CblasRowMajor : CblasColMajor, (int)m, (int)n, alpha,
             ntk_tensor_data(ux), incx, ntk_tensor_data(uy), incy, ntk_tensor_data(A), lda);
  ntk_tensor_release(&tx);
  ntk_tensor_release(&ty);
  return NTK_OK;
}

int ntk_blas_outer(ntk_tensor *C, const ntk_tensor *x, const ntk_tensor *y, ntk_error *err) {
  int st;
  if ((st = check_ndim(x, 1, 2, err)) != NTK_OK || (st = check_ndim(y, 1, 3, err)) != NTK_OK)
    return st;
  if ((st = ntk_tensor_init_2d(C, x->shape[0], y->shape[0], err)) != NTK_OK) return st;
  if ((st = ntk_blas_ger(C, 1.0, x, y, err)) != NTK_OK) {
    /* ger numbers x and y 3 and 4; here they are 2 and 3 */
    if (err && err->arg >= 3) err->arg--;
    ntk_tensor_release(C);
  }
  return st;
}
