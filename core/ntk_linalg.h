/* ntk_linalg.h: dense factorizations and solves on tensors through LAPACKE.
 *
 * Inputs may be any 2-D tensor (views and transposes included); results are fresh contiguous
 * tensors that the caller owns (release with ntk_tensor_release). Output tensors must be
 * released (zeroed) on entry. Numerical failures return a positive status (NTK_ESINGULAR,
 * NTK_ENOTPD, NTK_ENOCONV) with a message; misuse returns a negative one. */
#ifndef NTK_LINALG_H
#define NTK_LINALG_H

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Symmetric eigendecomposition A = V diag(w) V^T (dsyevd), w ascending; V may be NULL. */
int ntk_linalg_eigh(ntk_tensor *w, ntk_tensor *V, const ntk_tensor *A, ntk_error *err);
/* The k largest eigenpairs of symmetric A (dsyevr), w descending; V (n x k) may be NULL. */
int ntk_linalg_eigh_top(ntk_tensor *w, ntk_tensor *V, const ntk_tensor *A, size_t k,
                        ntk_error *err);
/* Thin SVD A = U diag(s) V^T (dgesdd), s descending; U is m x r, Vt is r x n, r = min(m, n).
 * U and Vt may be NULL (values only). */
int ntk_linalg_svd(ntk_tensor *U, ntk_tensor *s, ntk_tensor *Vt, const ntk_tensor *A,
                   ntk_error *err);
/* X <- A^{-1} B for symmetric positive definite A (dposv); NTK_ENOTPD otherwise. */
int ntk_linalg_cholesky_solve(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B,
                              ntk_error *err);
/* X <- A^{-1} B for square A (dgesv, LU with pivoting); NTK_ESINGULAR when singular. */
int ntk_linalg_solve(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B, ntk_error *err);
/* X <- argmin |A X - B|_2, minimum norm (dgelsd); singular values below rcond * s_max are
 * treated as zero (rcond < 0: machine precision). *rank (may be NULL) <- effective rank. */
int ntk_linalg_lstsq(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B, double rcond,
                     size_t *rank, ntk_error *err);
/* P <- A^+ (Moore-Penrose, via SVD), cutting singular values below rcond * s_max. */
int ntk_linalg_pinv(ntk_tensor *P, const ntk_tensor *A, double rcond, size_t *rank,
                    ntk_error *err);

#endif
