/* ntk_linalg.c: dense factorizations and solves through LAPACKE's column-major _work routines.
 * (Longer than 600 lines on purpose: it is one adapter, and every routine below uses the shared
 * checks, packing, sign convention and workspace query at its top.)
 *
 * Every function follows the same shape: check the arguments (shapes, release state, finite
 * values, symmetry) before anything is allocated; create the outputs and ONE workspace block
 * sized by LAPACK's own workspace query; pack the inputs into that block in the layout LAPACK
 * wants; call LAPACK; unpack. On any failure the outputs are released again, so the caller
 * never owns a half-made result and nothing leaks.
 *
 * Error positions (err->arg) count the inputs only, as the Lua functions take them:
 * A is argument 1, B (or k, or rcond for pinv) argument 2, rcond of lstsq argument 3. */
#include "ntk_linalg.h"

#include <cblas.h> /* not ntk_blas: one product on LAPACK's column-major work arrays */
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_linalg_topk.h"
#include "ntk_memory.h"

/* Relative asymmetry max|A - A^T| / max|A| tolerated in a "symmetric" input. About sqrt(eps):
 * forming a symmetric matrix in floating point (J J^T by gemm, sums of such) leaves asymmetries
 * of a few eps, while a matrix that is not meant to be symmetric misses this by far. The
 * factorization then uses (A + A^T) / 2, so such rounding never picks a triangle's bias. */
#define NTK_LINALG_SYMMETRY_RTOL 1.4901161193847656e-08

/* A square system whose reciprocal condition number (1-norm estimate of dgecon/dpocon) is below
 * this is singular to working precision: its solution would carry no correct digit. */
#define NTK_LINALG_RCOND_MIN DBL_EPSILON

/* Edge of the tiles used to transpose while copying (two 32x32 tiles of doubles fit in L1). */
#define NTK_LINALG_TILE 32

/* ---------------------------------------------------------------------------------------- */
/* argument checks (nothing allocated yet)                                                  */

static int check_output(ntk_tensor *out, const char *name, ntk_error *err) {
  if (out && out->storage)
    return ntk_error_set(err, NTK_EARG, 0, "output tensor %s must be released on entry", name);
  return NTK_OK;
}

static int check_live(const ntk_tensor *t, int arg, const char *name, ntk_error *err) {
  if (!t || !t->storage)
    return ntk_error_set(err, NTK_ERELEASED, arg, "%s: attempt to use a released tensor", name);
  return NTK_OK;
}

static int check_matrix(const ntk_tensor *A, int arg, const char *name, ntk_error *err) {
  int st = check_live(A, arg, name, err);
  if (st != NTK_OK) return st;
  if (A->ndim != 2)
    return ntk_error_set(err, NTK_ESHAPE, arg, "%s: 2-D matrix expected, got 1-D [%zu]", name,
                         A->shape[0]);
  if (A->shape[0] > INT_MAX || A->shape[1] > INT_MAX)
    return ntk_error_set(err, NTK_ENOMEM, arg, "%s: [%zu x %zu] exceeds LAPACK's int dimensions",
                         name, A->shape[0], A->shape[1]);
  return NTK_OK;
}

static int check_square(const ntk_tensor *A, int arg, const char *name, ntk_error *err) {
  int st = check_matrix(A, arg, name, err);
  if (st != NTK_OK) return st;
  if (A->shape[0] != A->shape[1])
    return ntk_error_set(err, NTK_ESHAPE, arg, "%s: square matrix expected, got [%zu x %zu]", name,
                         A->shape[0], A->shape[1]);
  return NTK_OK;
}

/* B is the right-hand side of a system with `rows` equations: 1-D [rows] or 2-D [rows x p]. */
static int check_rhs(const ntk_tensor *B, const ntk_tensor *A, ntk_error *err) {
  char sa[64], sb[64];
  int st = check_live(B, 2, "B", err);
  if (st != NTK_OK) return st;
  if (B->shape[0] != A->shape[0])
    return ntk_error_set(err, NTK_ESHAPE, 2, "shape mismatch: A is %s, B is %s, rows %zu ~= %zu",
                         ntk_tensor_shape_str(A, sa, sizeof sa),
                         ntk_tensor_shape_str(B, sb, sizeof sb), A->shape[0], B->shape[0]);
  if (B->shape[1] > INT_MAX)
    return ntk_error_set(err, NTK_ENOMEM, 2, "B: %zu columns exceed LAPACK's int dimensions",
                         B->shape[1]);
  return NTK_OK;
}

/* NaN or Inf anywhere in t -> NTK_ENONFINITE naming the row and column (1-based, as a user
 * reads them). */
static int check_finite(const ntk_tensor *t, int arg, const char *name, ntk_error *err) {
  size_t i, j;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++) {
      double x = ntk_tensor_at(t, i, j);
      if (!isfinite(x)) {
        if (t->ndim == 2)
          return ntk_error_set(err, NTK_ENONFINITE, arg, "%s contains %s at [%zu, %zu]", name,
                               isnan(x) ? "NaN" : "Inf", i + 1, j + 1);
        return ntk_error_set(err, NTK_ENONFINITE, arg, "%s contains %s at [%zu]", name,
                             isnan(x) ? "NaN" : "Inf", i + 1);
      }
    }
  return NTK_OK;
}

/* NTK_EARG unless A is symmetric to NTK_LINALG_SYMMETRY_RTOL. */
static int check_symmetric(const ntk_tensor *A, int arg, const char *name, ntk_error *err) {
  size_t n = A->shape[0], i0, j0, i, j;
  double amax = 0.0, dmax = 0.0;
  /* tile pairs (i0, j0 <= i0) so that reading A[j, i] against A[i, j] stays in cache */
  for (i0 = 0; i0 < n; i0 += NTK_LINALG_TILE)
    for (j0 = 0; j0 <= i0; j0 += NTK_LINALG_TILE) {
      size_t i1 = i0 + NTK_LINALG_TILE < n ? i0 + NTK_LINALG_TILE : n;
      size_t j1 = j0 + NTK_LINALG_TILE < n ? j0 + NTK_LINALG_TILE : n;
      for (i = i0; i < i1; i++)
        for (j = j0; j < j1 && j <= i; j++) {
          double a = ntk_tensor_at(A, i, j), b = ntk_tensor_at(A, j, i);
          double d = fabs(a - b);
          if (fabs(a) > amax) amax = fabs(a);
          if (fabs(b) > amax) amax = fabs(b);
          if (d > dmax) dmax = d;
        }
    }
  if (dmax > NTK_LINALG_SYMMETRY_RTOL * amax)
    return ntk_error_set(err, NTK_EARG, arg,
                         "%s: symmetric matrix expected, max |A - A^T| = %.3g is more than %.1g "
                         "times max |A| = %.3g",
                         name, dmax, NTK_LINALG_SYMMETRY_RTOL, amax);
  return NTK_OK;
}

/* rcond <= 0 means machine precision; rcond >= 1 would call every singular value zero (and
 * dgelsd silently replaces it by eps), so it is refused rather than reinterpreted. */
static int check_rcond(double rcond, int arg, ntk_error *err) {
  if (isnan(rcond) || rcond >= 1.0)
    return ntk_error_set(err, NTK_EARG, arg,
                         "rcond < 1 expected (<= 0 for machine precision), got %g", rcond);
  return NTK_OK;
}

static double effective_rcond(double rcond) {
  /* the same eps dgelsd uses (LAPACK's dlamch('E'), half of DBL_EPSILON), so lstsq and pinv
   * agree on the rank */
  return rcond > 0.0 ? rcond : LAPACKE_dlamch('E');
}

/* ---------------------------------------------------------------------------------------- */
/* copies and the workspace                                                                 */

/* dst[i*drs + j*dcs] <- src[i*srs + j*scs] for a rows x cols block, in tiles so that a
 * transposing copy reads and writes whole cache lines. */
static void copy_strided(double *dst, ptrdiff_t drs, ptrdiff_t dcs, const double *src,
                         ptrdiff_t srs, ptrdiff_t scs, size_t rows, size_t cols) {
  size_t i0, j0, i, j;
  for (i0 = 0; i0 < rows; i0 += NTK_LINALG_TILE)
    for (j0 = 0; j0 < cols; j0 += NTK_LINALG_TILE) {
      size_t i1 = i0 + NTK_LINALG_TILE < rows ? i0 + NTK_LINALG_TILE : rows;
      size_t j1 = j0 + NTK_LINALG_TILE < cols ? j0 + NTK_LINALG_TILE : cols;
      for (i = i0; i < i1; i++)
        for (j = j0; j < j1; j++)
          dst[(ptrdiff_t)i * drs + (ptrdiff_t)j * dcs] =
              src[(ptrdiff_t)i * srs + (ptrdiff_t)j * scs];
    }
}

/* buf (column-major, leading dimension ld) <- t, any layout; 1-D t is one column. */
static void pack_colmajor(double *buf, size_t ld, const ntk_tensor *t) {
  copy_strided(buf, 1, (ptrdiff_t)ld, ntk_tensor_data(t), t->stride[0], t->stride[1], t->shape[0],
               t->shape[1]);
}

/* out (fresh, contiguous) <- the leading out-shaped block of buf (column-major, ld). */
static void unpack_colmajor(ntk_tensor *out, const double *buf, size_t ld) {
  copy_strided(ntk_tensor_data(out), (ptrdiff_t)out->shape[1], 1, buf, 1, (ptrdiff_t)ld,
               out->shape[0], out->shape[1]);
}

/* |a|_1 = max_j sum_i |a_ij| of a column-major n x n block (the norm the condition estimators
 * take). */
static double norm1_colmajor(const double *a, size_t n) {
  size_t i, j;
  double norm1 = 0.0;
  for (j = 0; j < n; j++) {
    double colsum = 0.0;
    for (i = 0; i < n; i++) colsum += fabs(a[i + j * n]);
    if (colsum > norm1) norm1 = colsum;
  }
  return norm1;
}

/* buf (column-major n x n) <- (A + A^T) / 2; also returns its 1-norm (for dpocon). */
static double pack_symmetric(double *buf, const ntk_tensor *A) {
  size_t n = A->shape[0], i0, j0, i, j;
  pack_colmajor(buf, n, A);
  for (j0 = 0; j0 < n; j0 += NTK_LINALG_TILE)
    for (i0 = 0; i0 <= j0; i0 += NTK_LINALG_TILE) {
      size_t i1 = i0 + NTK_LINALG_TILE < n ? i0 + NTK_LINALG_TILE : n;
      size_t j1 = j0 + NTK_LINALG_TILE < n ? j0 + NTK_LINALG_TILE : n;
      for (j = j0; j < j1; j++)
        for (i = i0; i < i1 && i < j; i++) {
          double avg = 0.5 * (buf[i + j * n] + buf[j + i * n]);
          buf[i + j * n] = avg;
          buf[j + i * n] = avg;
        }
    }
  return norm1_colmajor(buf, n);
}

/* One block holding `ndoubles` doubles followed by `nints` lapack_ints (doubles first, so both
 * are aligned). */
typedef struct workspace {
  double *d;
  lapack_int *i;
} workspace;

static int workspace_alloc(workspace *ws, size_t ndoubles, size_t nints, ntk_error *err) {
  size_t bytes;
  ws->d = NULL;
  ws->i = NULL;
  if (ndoubles > NTK_TENSOR_MAX_NUMEL || nints > NTK_TENSOR_MAX_NUMEL)
    return ntk_error_set(err, NTK_ENOMEM, 0, "workspace of %zu doubles and %zu ints is too large",
                         ndoubles, nints);
  bytes = ndoubles * sizeof(double) + nints * sizeof(lapack_int);
  if (ntk_memory_check(bytes, "a LAPACK workspace", err) != NTK_OK) return NTK_ENOMEM;
  ws->d = malloc(bytes ? bytes : 1);
  if (!ws->d)
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory allocating a %zu-byte workspace",
                         bytes);
  ws->i = (lapack_int *)(ws->d + ndoubles);
  return NTK_OK;
}

/* *lwork <- the optimal workspace LAPACK reported (as a double) from a query; refuses sizes
 * that LAPACK's 32-bit lwork argument cannot carry. */
static int query_size(size_t *lwork, double w, const char *routine, ntk_error *err) {
  if (!(w <= (double)INT_MAX))
    return ntk_error_set(err, NTK_ENOMEM, 0, "%s: workspace of %.0f doubles exceeds LAPACK's int",
                         routine, w);
  *lwork = w >= 1.0 ? (size_t)w : 1;
  return NTK_OK;
}

/* The sign of an eigen- or singular vector is arbitrary; fixing it (largest-magnitude entry
 * positive, the first such on ties) makes results independent of the routine and of the input's
 * layout. Negates the n contiguous entries of x when that entry is negative; returns the sign
 * applied (+1 or -1). */
static double fix_sign(double *x, size_t n) {
  size_t i, imax = 0;
  double amax = -1.0;
  for (i = 0; i < n; i++)
    if (fabs(x[i]) > amax) {
      amax = fabs(x[i]);
      imax = i;
    }
  if (n == 0 || x[imax] >= 0.0) return 1.0;
  for (i = 0; i < n; i++) x[i] = -x[i];
  return -1.0;
}

static int fail_lapack(const char *routine, lapack_int info, ntk_error *err) {
  /* a negative info from LAPACK means this file passed a bad argument: a bug here, not the
   * caller's fault, but reported rather than aborting */
  return ntk_error_set(err, NTK_EARG, 0, "%s: internal error, argument %d rejected", routine,
                       (int)-info);
}

/* ---------------------------------------------------------------------------------------- */
/* The one exit of every routine with a workspace: frees it and, on failure, the results (b may
 * be NULL). */
static int finish(workspace *ws, ntk_tensor *w, ntk_tensor *V, int st) {
  free(ws->d);
  if (st != NTK_OK) {
    ntk_tensor_release(w);
    if (V) ntk_tensor_release(V);
  }
  return st;
}

/* eigendecompositions                                                                      */

int ntk_linalg_eigh(ntk_tensor *w, ntk_tensor *V, const ntk_tensor *A, ntk_error *err) {
  const char jobz = V ? 'V' : 'N';
  size_t n, i;
  lapack_int ln, info, liwork, iwkopt = 0;
  double wkopt = 0.0, dummy = 0.0;
  size_t lwork = 0;
  workspace ws = {NULL, NULL};
  int st;
  if ((st = check_output(w, "w", err)) || (st = check_output(V, "V", err))) return st;
  if (!w) return ntk_error_set(err, NTK_EARG, 0, "output tensor w is required");
  if ((st = check_square(A, 1, "A", err))) return st;
  if ((st = check_finite(A, 1, "A", err))) return st;
  if ((st = check_symmetric(A, 1, "A", err))) return st;
  n = A->shape[0];
  ln = (lapack_int)n;
  if ((st = ntk_tensor_init_1d(w, n, err))) return st;
  if (V && (st = ntk_tensor_init_2d(V, n, n, err))) goto fail;
  if (n == 0) return NTK_OK;
  info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, 'L', ln, &dummy, ln, &dummy, &wkopt, -1,
                             &iwkopt, -1);
  if (info != 0) {
    st = fail_lapack("dsyevd", info, err);
    goto fail;
  }
  if ((st = query_size(&lwork, wkopt, "dsyevd", err))) goto fail;
  liwork = iwkopt > 0 ? iwkopt : 1;
  if ((st = workspace_alloc(&ws, n * n + lwork, (size_t)liwork, err))) goto fail;
  pack_symmetric(ws.d, A);
  info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, 'L', ln, ws.d, ln, ntk_tensor_data(w),
                             ws.d + n * n, (lapack_int)lwork, ws.i, liwork);
  if (info < 0) {
    st = fail_lapack("dsyevd", info, err);
    goto fail;
  }
  if (info > 0) {
    st = ntk_error_set(err, NTK_ENOCONV, 1, "eigh: dsyevd did not converge (info %d)", (int)info);
    goto fail;
  }
  if (V) {
    /* eigenvectors are the contiguous columns of the column-major result */
    for (i = 0; i < n; i++) fix_sign(ws.d + i * n, n);
    unpack_colmajor(V, ws.d, n);
  }
  st = NTK_OK;
fail:
  return finish(&ws, w, V, st);
}

/* Smallest n worth the Krylov path of ntk_linalg_eigh_top (below, dsyevr takes well under a
 * millisecond). */
#define NTK_LINALG_TOPK_MIN_N 200

int ntk_linalg_eigh_top(ntk_tensor *w, ntk_tensor *V, const ntk_tensor *A, size_t k,
                        ntk_error *err) {
  const char jobz = V ? 'V' : 'N';
  size_t n, t, i, lwork = 0;
  lapack_int ln, info, liwork, iwkopt = 0, found = 0;
  lapack_int idummy = 0;
  double dummy = 0.0, wkopt = 0.0, *a, *wall, *z, *work, *wo, *vo;
  lapack_int *isuppz, *iwork;
  workspace ws = {NULL, NULL};
  size_t lda = 0;
  int st, exact;
  if ((st = check_output(w, "w", err)) || (st = check_output(V, "V", err))) return st;
  if (!w) return ntk_error_set(err, NTK_EARG, 0, "output tensor w is required");
  if ((st = check_square(A, 1, "A", err))) return st;
  n = A->shape[0];
  if (k > n)
    return ntk_error_set(err, NTK_ERANGE, 2, "k = %zu out of range [0, %zu] for A [%zu x %zu]", k,
                         n, n, n);
  /* values only, k small: block Krylov on A in place when its rows (or, A being symmetric, its
   * columns) are contiguous and A is exactly symmetric (the (A + A^T) / 2 the full solver
   * factors is then A itself) */
  if (!V && k >= 1 && n >= NTK_LINALG_TOPK_MIN_N && k <= n / 16) {
    if (A->stride[1] == 1 && A->stride[0] >= (ptrdiff_t)n) lda = (size_t)A->stride[0];
    else if (A->stride[0] == 1 && A->stride[1] >= (ptrdiff_t)n) lda = (size_t)A->stride[1];
  }
  exact = lda && ntk_linalg_topk_exact_symmetric(ntk_tensor_data(A), n, lda);
  if (!exact) {
    if ((st = check_finite(A, 1, "A", err))) return st;
    if ((st = check_symmetric(A, 1, "A", err))) return st;
  }
  ln = (lapack_int)n;
  if ((st = ntk_tensor_init_1d(w, k, err))) return st;
  if (V && (st = ntk_tensor_init_2d(V, n, k, err))) goto fail;
  if (k == 0) return NTK_OK;
  if (exact) {
    int got = ntk_linalg_topk_krylov(ntk_tensor_data(w), ntk_tensor_data(A), lda, n, k,
                                     NTK_LINALG_TOPK_AUTO, NULL, err);
    if (got < 0) {
      st = NTK_ENOMEM;
      goto fail;
    }
    if (got) return NTK_OK;
  }
  info = LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, jobz, 'I', 'L', ln, &dummy, ln, 0.0, 0.0,
                             (lapack_int)(n - k + 1), ln, 0.0, &found, &dummy, &dummy, ln, &idummy,
                             &wkopt, -1, &iwkopt, -1);
  if (info != 0) {
    st = fail_lapack("dsyevr", info, err);
    goto fail;
  }
  if ((st = query_size(&lwork, wkopt, "dsyevr", err))) goto fail;
  liwork = iwkopt > 0 ? iwkopt : 1;
  /* a: n*n, all eigenvalues slot: n (dsyevr may write up to n), z: n*k, work */
  if ((st = workspace_alloc(&ws, n * n + n + n * k + lwork, 2 * k + (size_t)liwork, err)))
    goto fail;
  a = ws.d;
  wall = a + n * n;
  z = wall + n;
  work = z + n * k;
  isuppz = ws.i;
  iwork = isuppz + 2 * k;
  pack_symmetric(a, A);
  /* abstol 0: for a partial index range dsyevr bisects (dstebz) to eps * |T|, the absolute
   * accuracy dsyevd gives for the full spectrum, so top-k and eigh agree to rounding */
  info = LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, jobz, 'I', 'L', ln, a, ln, 0.0, 0.0,
                             (lapack_int)(n - k + 1), ln, 0.0, &found, wall, z, ln, isuppz, work,
                             (lapack_int)lwork, iwork, liwork);
  if (info < 0) {
    st = fail_lapack("dsyevr", info, err);
    goto fail;
  }
  if (info > 0 || (size_t)found != k) {
    st = ntk_error_set(err, NTK_ENOCONV, 1,
                       "eigh_top: dsyevr did not converge (info %d, %d of %zu eigenvalues)",
                       (int)info, (int)found, k);
    goto fail;
  }
  /* dsyevr returns the selected eigenpairs ascending; the contract is descending */
  wo = ntk_tensor_data(w);
  for (t = 0; t < k; t++) wo[t] = wall[k - 1 - t];
  if (V) {
    vo = ntk_tensor_data(V);
    for (t = 0; t < k; t++) fix_sign(z + t * n, n);
    for (i = 0; i < n; i++)
      for (t = 0; t < k; t++) vo[i * k + t] = z[i + (k - 1 - t) * n];
  }
  st = NTK_OK;
fail:
  return finish(&ws, w, V, st);
}

/* ---------------------------------------------------------------------------------------- */
/* singular value decomposition                                                             */

/* The thin SVD of A (m x n, r = min(m, n)) written straight into row-major outputs: a row-major
 * copy of A is A^T in column-major order, and A^T = U' S V'^T gives A = V' S U'^T. dgesdd's U'
 * (n x r, column-major, ld n) read row-major is exactly Vt (r x n), and its V'^T (r x m,
 * column-major, ld r) read row-major is exactly U (m x r): no transposing copies. U and Vt may
 * be NULL when only the values are wanted. Returns a LAPACK-level status in err. */
static int svd_rowmajor(double *u, double *s, double *vt, const ntk_tensor *A, ntk_error *err) {
  size_t m = A->shape[0], n = A->shape[1], r = m < n ? m : n, lwork = 0;
  const char jobz = u ? 'S' : 'N';
  lapack_int info, idummy = 0;
  double wkopt = 0.0, dummy = 0.0, *a;
  workspace ws = {NULL, NULL};
  int st;
  /* ldu and ldvt must be >= 1 even when not referenced */
  info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, (lapack_int)n, (lapack_int)m, &dummy,
                             (lapack_int)n, &dummy, &dummy, (lapack_int)n, &dummy, (lapack_int)r,
                             &wkopt, -1, &idummy);
  if (info != 0) return fail_lapack("dgesdd", info, err);
  if ((st = query_size(&lwork, wkopt, "dgesdd", err))) return st;
  if ((st = workspace_alloc(&ws, m * n + lwork, 8 * r, err))) return st;
  a = ws.d;
  copy_strided(a, (ptrdiff_t)n, 1, ntk_tensor_data(A), A->stride[0], A->stride[1], m, n);
  info =
      LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, (lapack_int)n, (lapack_int)m, a, (lapack_int)n, s,
                          vt, (lapack_int)n, u, (lapack_int)r, a + m * n, (lapack_int)lwork, ws.i);
  if (info != 0) {
    free(ws.d);
    if (info < 0) return fail_lapack("dgesdd", info, err);
    return ntk_error_set(err, NTK_ENOCONV, 1, "svd: dgesdd did not converge (info %d)", (int)info);
  }
  if (u) {
    /* signs fixed on the right singular vectors, the contiguous rows of Vt; U's columns follow
     * in one row-wise pass (a, no longer needed, holds the r signs) */
    double *sign = a;
    size_t i, q;
    for (q = 0; q < r; q++) sign[q] = fix_sign(vt + q * n, n);
    for (i = 0; i < m; i++)
      for (q = 0; q < r; q++) u[i * r + q] *= sign[q];
  }
  free(ws.d);
  return NTK_OK;
}

int ntk_linalg_svd(ntk_tensor *U, ntk_tensor *s, ntk_tensor *Vt, const ntk_tensor *A,
                   ntk_error *err) {
  ntk_tensor tmpU = {0}, tmpVt = {0};
  ntk_tensor *u, *vt;
  size_t m, n, r;
  int vectors = U || Vt, st;
  if ((st = check_output(U, "U", err)) || (st = check_output(s, "s", err)) ||
      (st = check_output(Vt, "Vt", err)))
    return st;
  if (!s) return ntk_error_set(err, NTK_EARG, 0, "output tensor s is required");
  if ((st = check_matrix(A, 1, "A", err))) return st;
  if ((st = check_finite(A, 1, "A", err))) return st;
  m = A->shape[0];
  n = A->shape[1];
  r = m < n ? m : n;
  /* a caller wanting only one side still needs both from dgesdd: the other goes to a temporary */
  u = U ? U : &tmpU;
  vt = Vt ? Vt : &tmpVt;
  if ((st = ntk_tensor_init_1d(s, r, err))) return st;
  if (vectors &&
      ((st = ntk_tensor_init_2d(u, m, r, err)) || (st = ntk_tensor_init_2d(vt, r, n, err))))
    goto fail;
  if (r > 0) {
    st = svd_rowmajor(vectors ? ntk_tensor_data(u) : NULL, ntk_tensor_data(s),
                      vectors ? ntk_tensor_data(vt) : NULL, A, err);
    if (st) goto fail;
  }
  ntk_tensor_release(&tmpU);
  ntk_tensor_release(&tmpVt);
  return NTK_OK;
fail:
  ntk_tensor_release(&tmpU);
  ntk_tensor_release(&tmpVt);
  ntk_tensor_release(U);
  ntk_tensor_release(s);
  ntk_tensor_release(Vt);
  return st;
}

/* ---------------------------------------------------------------------------------------- */
/* square solves                                                                            */

/* The checks of a linear system A X = B before anything is allocated: X released on entry, A
 * square (or any matrix for least squares), B's rows matching, rcond (argument 3) valid, A and B
 * finite. */
static int check_system(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B,
                        double rcond, int square, ntk_error *err) {
  int st;
  if ((st = check_output(X, "X", err))) return st;
  if (!X) return ntk_error_set(err, NTK_EARG, 0, "output tensor X is required");
  if ((st = square ? check_square(A, 1, "A", err) : check_matrix(A, 1, "A", err)) ||
      (st = check_rhs(B, A, err)))
    return st;
  if ((st = check_rcond(rcond, 3, err))) return st;
  if ((st = check_finite(A, 1, "A", err)) || (st = check_finite(B, 2, "B", err))) return st;
  return NTK_OK;
}

/* X <- A^{-1} B for square A, by Cholesky (dposv, dpocon) when spd, else by LU with pivoting
 * (dgesv, dgecon). A reciprocal condition estimate below max(rcond_min, DBL_EPSILON) is refused
 * as not positive definite (spd) or singular; *rcond (may be NULL) <- that estimate, also when
 * refused (0 when the factorization itself failed). */
static int square_solve(ntk_tensor *X, double *rcond, const ntk_tensor *A, const ntk_tensor *B,
                        double rcond_min, int spd, ntk_error *err) {
  size_t n, p;
  lapack_int info;
  double anorm, rc = 0.0, *a, *b;
  workspace ws = {NULL, NULL};
  int st;
  if (rcond) *rcond = 0.0;
  if ((st = check_system(X, A, B, rcond_min, 1, err))) return st;
  if (spd && (st = check_symmetric(A, 1, "A", err))) return st;
  if (rcond_min < NTK_LINALG_RCOND_MIN) rcond_min = NTK_LINALG_RCOND_MIN;
  n = A->shape[0];
  p = B->shape[1];
  if ((st = ntk_tensor_init(X, B->ndim, B->shape, err))) return st;
  if (n == 0 || p == 0) {
    if (rcond) *rcond = 1.0; /* an empty system is perfectly conditioned */
    return NTK_OK;
  }
  /* a: n*n, b: n*p, condition-estimate work: 4n (dgecon; dpocon uses 3n);
   * ints: LU's pivots n, then the estimator's n */
  if ((st = workspace_alloc(&ws, n * n + n * p + 4 * n, 2 * n, err))) goto fail;
  a = ws.d;
  b = a + n * n;
  if (spd) {
    anorm = pack_symmetric(a, A);
  } else {
    pack_colmajor(a, n, A);
    anorm = norm1_colmajor(a, n);
  }
  pack_colmajor(b, n, B);
  if (spd)
    info = LAPACKE_dposv_work(LAPACK_COL_MAJOR, 'L', (lapack_int)n, (lapack_int)p, a,
                              (lapack_int)n, b, (lapack_int)n);
  else
    info = LAPACKE_dgesv_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)p, a, (lapack_int)n,
                              ws.i, b, (lapack_int)n);
  if (info < 0) {
    st = fail_lapack(spd ? "dposv" : "dgesv", info, err);
    goto fail;
  }
  if (info > 0) {
    st = spd ? ntk_error_set(err, NTK_ENOTPD, 1,
                             "cholesky_solve: matrix is not positive definite (leading minor of "
                             "order %d is not)",
                             (int)info)
             : ntk_error_set(err, NTK_ESINGULAR, 1,
                             "solve: matrix is singular (U[%d, %d] is exactly 0)", (int)info,
                             (int)info);
    goto fail;
  }
  if (spd)
    info = LAPACKE_dpocon_work(LAPACK_COL_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n, anorm, &rc,
                               b + n * p, ws.i + n);
  else
    info = LAPACKE_dgecon_work(LAPACK_COL_MAJOR, '1', (lapack_int)n, a, (lapack_int)n, anorm, &rc,
                               b + n * p, ws.i + n);
  if (info != 0) {
    st = fail_lapack(spd ? "dpocon" : "dgecon", info, err);
    goto fail;
  }
  if (rcond) *rcond = rc;
  if (!(rc >= rcond_min)) {
    st = spd ? ntk_error_set(err, NTK_ENOTPD, 1,
                             "cholesky_solve: matrix is not positive definite to working "
                             "precision (reciprocal condition %.3g < %.3g)",
                             rc, rcond_min)
             : ntk_error_set(err, NTK_ESINGULAR, 1,
                             "solve: matrix is singular to working precision (reciprocal "
                             "condition %.3g)",
                             rc);
    goto fail;
  }
  unpack_colmajor(X, b, n);
  st = NTK_OK;
fail:
  return finish(&ws, X, NULL, st);
}

int ntk_linalg_cholesky_solve_cond(ntk_tensor *X, double *rcond, const ntk_tensor *A,
                                   const ntk_tensor *B, double rcond_min, ntk_error *err) {
  return square_solve(X, rcond, A, B, rcond_min, 1, err);
}

int ntk_linalg_cholesky_solve(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B,
                              ntk_error *err) {
  return square_solve(X, NULL, A, B, 0.0, 1, err);
}

int ntk_linalg_solve(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B, ntk_error *err) {
  return square_solve(X, NULL, A, B, 0.0, 0, err);
}

/* ---------------------------------------------------------------------------------------- */
/* least squares and pseudo-inverse                                                         */

int ntk_linalg_lstsq(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B, double rcond,
                     size_t *rank, ntk_error *err) {
  size_t m, n, p, ldb, r, lwork = 0;
  size_t xshape[2];
  lapack_int info, lrank = 0, iwkopt = 0, liwork;
  double wkopt = 0.0, dummy = 0.0, *a, *b, *s;
  workspace ws = {NULL, NULL};
  int st;
  if (rank) *rank = 0;
  if ((st = check_system(X, A, B, rcond, 0, err))) return st;
  m = A->shape[0];
  n = A->shape[1];
  p = B->shape[1];
  r = m < n ? m : n;
  ldb = m > n ? m : n;
  xshape[0] = n;
  xshape[1] = p;
  if ((st = ntk_tensor_init(X, B->ndim, xshape, err))) return st;
  /* an empty A has rank 0 and the minimum-norm solution is 0, which X already is */
  if (r == 0 || p == 0) return NTK_OK;
  info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)p, &dummy,
                             (lapack_int)m, &dummy, (lapack_int)ldb, &dummy, effective_rcond(rcond),
                             &lrank, &wkopt, -1, &iwkopt);
  if (info != 0) {
    st = fail_lapack("dgelsd", info, err);
    goto fail;
  }
  if ((st = query_size(&lwork, wkopt, "dgelsd", err))) goto fail;
  liwork = iwkopt > 0 ? iwkopt : 1;
  /* a: m*n, b: ldb*p, s: r, work */
  if ((st = workspace_alloc(&ws, m * n + ldb * p + r + lwork, (size_t)liwork, err))) goto fail;
  a = ws.d;
  b = a + m * n;
  s = b + ldb * p;
  pack_colmajor(a, m, A);
  /* rows m..ldb-1 of b are only output space, but zero them so nothing uninitialised is read */
  memset(b, 0, ldb * p * sizeof *b);
  pack_colmajor(b, ldb, B);
  info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)p, a,
                             (lapack_int)m, b, (lapack_int)ldb, s, effective_rcond(rcond), &lrank,
                             s + r, (lapack_int)lwork, ws.i);
  if (info < 0) {
    st = fail_lapack("dgelsd", info, err);
    goto fail;
  }
  if (info > 0) {
    st = ntk_error_set(err, NTK_ENOCONV, 1, "lstsq: dgelsd's SVD did not converge (info %d)",
                       (int)info);
    goto fail;
  }
  unpack_colmajor(X, b, ldb);
  if (rank) *rank = (size_t)lrank;
  free(ws.d);
  return NTK_OK;
fail:
  free(ws.d);
  ntk_tensor_release(X);
  if (rank) *rank = 0;
  return st;
}

int ntk_linalg_pinv(ntk_tensor *P, const ntk_tensor *A, double rcond, size_t *rank,
                    ntk_error *err) {
  size_t m, n, r, q, j, kept = 0;
  double *u, *s, *vt, cutoff;
  workspace ws = {NULL, NULL};
  int st;
  if (rank) *rank = 0;
  if ((st = check_output(P, "P", err))) return st;
  if (!P) return ntk_error_set(err, NTK_EARG, 0, "output tensor P is required");
  if ((st = check_matrix(A, 1, "A", err))) return st;
  if ((st = check_rcond(rcond, 2, err))) return st;
  if ((st = check_finite(A, 1, "A", err))) return st;
  m = A->shape[0];
  n = A->shape[1];
  r = m < n ? m : n;
  if ((st = ntk_tensor_init_2d(P, n, m, err))) return st;
  if (r == 0) return NTK_OK;
  /* u: m*r, s: r, vt: r*n (row-major, from svd_rowmajor) */
  if ((st = workspace_alloc(&ws, m * r + r + r * n, 0, err))) goto fail;
  u = ws.d;
  s = u + m * r;
  vt = s + r;
  if ((st = svd_rowmajor(u, s, vt, A, err))) goto fail;
  /* A^+ = V diag(1/s) U^T over the singular values above the cutoff (s is descending) */
  cutoff = effective_rcond(rcond) * s[0];
  while (kept < r && s[kept] > cutoff) kept++;
  for (q = 0; q < kept; q++)
    for (j = 0; j < n; j++) vt[q * n + j] /= s[q];
  if (kept > 0)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)n, (int)m, (int)kept, 1.0, vt, (int)n,
                u, (int)r, 0.0, ntk_tensor_data(P), (int)m);
  if (rank) *rank = kept;
  st = NTK_OK;
fail:
  return finish(&ws, P, NULL, st);
}

/* ---------------------------------------------------------------------------------------- */
/* positive semi-definiteness                                                               */

int ntk_linalg_check_psd(double *lambda_min, const ntk_tensor *A, double rtol, ntk_error *err) {
  ntk_tensor w = {0};
  const double *wv;
  double lmin, scale, tol;
  size_t n;
  int st;
  *lambda_min = NAN;
  if (isnan(rtol))
    return ntk_error_set(err, NTK_EARG, 2, "rtol must be a number >= 0 (< 0 for the default)");
  /* eigh checks A (square, finite, symmetric); values only: no vectors, O(n^2) after the
   * tridiagonal reduction */
  if ((st = ntk_linalg_eigh(&w, NULL, A, err))) return st;
  n = w.shape[0];
  if (n == 0) {
    ntk_tensor_release(&w);
    *lambda_min = INFINITY;
    return NTK_OK;
  }
  wv = ntk_tensor_data(&w);
  lmin = wv[0];
  scale = fabs(wv[0]) > fabs(wv[n - 1]) ? fabs(wv[0]) : fabs(wv[n - 1]);
  ntk_tensor_release(&w);
  *lambda_min = lmin;
  tol = (rtol < 0.0 ? NTK_LINALG_PSD_RTOL : rtol) * scale;
  if (lmin < -tol)
    return ntk_error_set(err, NTK_ENOTPD, 1,
                         "matrix is not positive semi-definite: minimum eigenvalue %.6g, below "
                         "-%.3g = -rtol * max |eigenvalue| (%.6g)",
                         lmin, tol, scale);
  return NTK_OK;
}
