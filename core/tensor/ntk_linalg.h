/* ntk_linalg.h: dense factorizations and solves on tensors through LAPACKE.
 *
 * Inputs may be any 2-D tensor (views and transposes included); results are fresh contiguous
 * tensors that the caller owns (release with ntk_tensor_release). Output tensors must be
 * released (zeroed) on entry; on failure they are left released. Numerical failures return a
 * positive status (NTK_ESINGULAR, NTK_ENOTPD, NTK_ENOCONV, and NTK_ENONFINITE for NaN or Inf
 * input) with a message; misuse returns a negative one, err->arg counting the inputs only
 * (A = 1, then B or k or rcond = 2, rcond of lstsq = 3), as the Lua functions take them.
 *
 * "Symmetric" inputs must be symmetric to about sqrt(eps) relative to max |A| (NTK_EARG
 * otherwise); (A + A^T) / 2 is factorized. Eigen- and singular vectors have their sign fixed:
 * the largest-magnitude entry (the first on ties) of each eigenvector and of each right
 * singular vector (row of Vt) is positive, so results do not depend on the routine or the
 * input's layout. Square solves whose reciprocal condition
 * number is below DBL_EPSILON fail as singular (not positive definite for Cholesky) instead
 * of returning digits that mean nothing. */
#ifndef NTK_LINALG_H
#define NTK_LINALG_H

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Symmetric eigendecomposition A = V diag(w) V^T (dsyevd), w ascending; V may be NULL. */
int ntk_linalg_eigh(ntk_tensor *w, ntk_tensor *V, const ntk_tensor *A, ntk_error *err);
/* The k largest eigenpairs of symmetric A (dsyevr), w descending; V (n x k) may be NULL.
 * 0 <= k <= n (NTK_ERANGE otherwise). */
int ntk_linalg_eigh_top(ntk_tensor *w, ntk_tensor *V, const ntk_tensor *A, size_t k,
                        ntk_error *err);
/* Thin SVD A = U diag(s) V^T (dgesdd), s descending; U is m x r, Vt is r x n, r = min(m, n).
 * U and Vt may be NULL (values only). */
int ntk_linalg_svd(ntk_tensor *U, ntk_tensor *s, ntk_tensor *Vt, const ntk_tensor *A,
                   ntk_error *err);
/* X <- A^{-1} B for symmetric positive definite A (dposv); NTK_ENOTPD otherwise. B is 1-D or
 * 2-D with A's row count; X has B's shape. */
int ntk_linalg_cholesky_solve(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B,
                              ntk_error *err);
/* The same with a chosen conditioning bar: X <- A^{-1} B when dpocon's reciprocal 1-norm
 * condition estimate of A is >= max(rcond_min, DBL_EPSILON) (rcond_min <= 0: DBL_EPSILON;
 * >= 1 or NaN: NTK_EARG, argument 3), else NTK_ENOTPD. *rcond (may be NULL) <- that estimate,
 * also on NTK_ENOTPD (0 when the factorization itself failed), so a caller can fall back. */
int ntk_linalg_cholesky_solve_cond(ntk_tensor *X, double *rcond, const ntk_tensor *A,
                                   const ntk_tensor *B, double rcond_min, ntk_error *err);
/* X <- A^{-1} B for square A (dgesv, LU with pivoting); NTK_ESINGULAR when singular. */
int ntk_linalg_solve(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B, ntk_error *err);
/* X <- argmin |A X - B|_2, minimum norm (dgelsd); singular values <= rcond * s_max are
 * treated as zero (rcond <= 0: machine precision; rcond >= 1 or NaN is NTK_EARG). B is 1-D [m]
 * or 2-D [m x p]; X is [n] or [n x p]. *rank (may be NULL) <- effective rank (0 on failure). */
int ntk_linalg_lstsq(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B, double rcond,
                     size_t *rank, ntk_error *err);
/* P <- A^+ (Moore-Penrose, n x m, via SVD), cutting singular values <= rcond * s_max, with
 * the same rcond convention (and so the same rank) as ntk_linalg_lstsq. */
int ntk_linalg_pinv(ntk_tensor *P, const ntk_tensor *A, double rcond, size_t *rank,
                    ntk_error *err);

/* Default relative tolerance of ntk_linalg_check_psd: eigenvalues of a computed Gram matrix
 * that are exactly 0 come out as +-O(n eps) max|lambda| (~1e-12 for n = 1e4); a negative
 * eigenvalue beyond 1e-10 max|lambda| is a real property of the matrix, not rounding. */
#define NTK_LINALG_PSD_RTOL 1e-10

/* *lambda_min <- the smallest eigenvalue of symmetric A (+Inf when A is 0 x 0). NTK_OK when
 * lambda_min >= -rtol * max|lambda| (rtol < 0: NTK_LINALG_PSD_RTOL), else NTK_ENOTPD with
 * both numbers in the message; *lambda_min is set in either case (NaN on other failures). */
int ntk_linalg_check_psd(double *lambda_min, const ntk_tensor *A, double rtol, ntk_error *err);

#endif
