/* ntk_linalg_topk.h: the k largest eigenvalues of a large symmetric matrix by block Lanczos, the
 * values-only fast path of ntk_linalg_eigh_top (which checks the input and falls back to dsyevr).
 *
 * Why not dsyevr: with an index range it still reduces all of A to tridiagonal form (4/3 n^3
 * flops through memory-bound rank-2 updates, 55-65 ms at n = 1000 unloaded), while a kernel's
 * leading eigenvalues converge in a few block steps, each one pass over A.
 *
 * Method: block Lanczos with blocks of b = 8 columns (k + 3 rounded up to a multiple of 8), full
 * reorthogonalization (block classical Gram-Schmidt, twice), CholQR2 for the new block (MGS when
 * its Gram matrix is not numerically definite), Rayleigh-Ritz on the projected H = Q^T A Q.
 * Where the time goes at n = 1000, k = 5 on the demo's NTK (perf, one thread): 9 block steps;
 * the 9 passes over A 57%, the input check (ntk_linalg_topk_exact_symmetric) 8%,
 * reorthogonalization and CholQR2 14%, the Ritz solves (dsyevr's bisection) 8%; nothing is
 * allocated after the one workspace.
 * All products with n rows (A Q_j, Q^T W, W - Q C, W^T W) are thin: b columns. OpenBLAS packs both
 * operands of every GEMM, which for A Q_j (8 MB of A, 8 columns) costs as long as the product;
 * on a CPU with AVX-512 they run instead in register-blocked loops that stream A's rows once
 * (8 rows x 8 columns of accumulators, A Q_j at ~40 GFLOP/s against dgemm's ~10 here), and
 * through cblas_dgemm elsewhere.
 *
 * Stop (per wanted pair t, theta_t its Ritz value, r_t = |A y_t - theta_t y_t| its residual, from
 * the last block's coefficients: r_t = |R_j s_t[last block]|, no product with A):
 *     r_t <= max(RTOL s_t, min(RES s_t, sqrt(RTOL s_t g_t)))
 * with s_t = max(|theta_t|, FLOOR |theta_1|) and g_t the distance from theta_t to the nearest
 * other of the top k + 1 Ritz values. For symmetric A an eigenvalue lies within r_t of theta_t
 * (Weyl), and within r_t^2 / delta_t of it when delta_t separates theta_t from the rest of the
 * spectrum (Kato-Temple); g_t stands for delta_t once r_t <= RES s_t (Ritz values converge from
 * below, so the proxy is the one quantity a Krylov method cannot certify: an eigenvalue the start
 * block misses entirely stays unseen, as in every Krylov method). The bound is then
 * |lambda_t - theta_t| <= RTOL s_t = 1e-12 s_t: a 100x margin on the 1e-10 relative agreement
 * with the full solver. FLOOR stops chasing relative digits of eigenvalues below 1e-4 |theta_1|,
 * where dsyevr's own error, a few eps |A|, is the limit anyway.
 *
 * The Rayleigh-Ritz solve (dsyevr on the m x m H, m = 8, 16, ...) is checked only when the
 * residuals' geometric decay predicts convergence is near (half the predicted distance at a
 * time), so long runs pay O(log) solves at the largest m instead of one per step.
 *
 * Memory: the basis Q (n x MAXBLOCKS b at most, capped at n / 2 columns; stored block after
 * block, so a run touches only the blocks it makes: 0.6 MB in 9 steps at n = 1000), one more
 * n x b block and O(m^2) for H: 2.7 MB reserved at n = 1000, k = 5. Same input, same bits (a
 * fixed start block; the AVX-512 and BLAS paths agree to rounding, not in every bit). */
#ifndef NTK_LINALG_TOPK_H
#define NTK_LINALG_TOPK_H

#include <stddef.h>

#include "ntk_error.h"

/* Relative eigenvalue accuracy aimed at (see above). */
#define NTK_LINALG_TOPK_RTOL 1e-12
/* Relative residual below which Ritz gaps stand for the true ones. */
#define NTK_LINALG_TOPK_RES 1e-6
/* Eigenvalues below FLOOR |theta_1| are converged to FLOOR RTOL |theta_1| absolutely. */
#define NTK_LINALG_TOPK_FLOOR 1e-4
/* Most block steps before giving up (the caller then runs dsyevr). */
#define NTK_LINALG_TOPK_MAXBLOCKS 40
/* Block width and the products' register block: one AVX-512 vector of doubles. */
#define NTK_LINALG_TOPK_BLOCK 8

/* How the thin products run: on the AVX-512 loops when the CPU has them (AUTO), or always
 * through cblas_dgemm (BLAS; the path of every other CPU, for tests). */
typedef enum ntk_linalg_topk_products {
  NTK_LINALG_TOPK_AUTO = 0,
  NTK_LINALG_TOPK_BLAS
} ntk_linalg_topk_products;

/* 1 when the n x n matrix at a (row i at a + i lda) is finite and equals its transpose in every
 * entry (0.0 == -0.0): the precondition of ntk_linalg_topk_krylov, in one pass over the lower
 * triangle's tile pairs, without messages (ntk_linalg names what is wrong when this is 0). */
int ntk_linalg_topk_exact_symmetric(const double *a, size_t n, size_t lda);

/* w (k) <- the k largest eigenvalues of A, descending. A: n x n at a, row i at a + i lda,
 * exactly symmetric and finite (the caller checks; only then is the product A Q the one with
 * (A + A^T) / 2 that the full solver factors). 1 <= k, 2 b <= n / 2 for b the block width.
 * Returns 1 when converged; 0 when not within NTK_LINALG_TOPK_MAXBLOCKS steps or when the
 * Krylov space stops growing (A of low rank): the caller falls back to dsyevr; -1 when the
 * workspace does not fit (err set, NTK_ENOMEM: a status of its own, since NTK_ENOMEM is positive
 * and would read as "converged"). *steps (may be NULL) <- block steps taken. */
int ntk_linalg_topk_krylov(double *w, const double *a, size_t lda, size_t n, size_t k,
                           ntk_linalg_topk_products products, size_t *steps, ntk_error *err);

#endif
