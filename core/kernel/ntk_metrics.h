/* ntk_metrics.h: scalar summaries of kernels, on ntk_tensors and views of any strides (read in
 * place where the metric allows, else copied once).
 *
 * Kernel-target alignment, for a kernel K (n x n) and targets Y (P x C):
 *   the target kernel is T = Y Y^T when n = P (a single-output or output-traced kernel) and
 *   T = vec(Y) vec(Y)^T when n = P C (the full kernel in sample-major layout, row mu*C + k, as
 *   ntk_kernel.h's NTK_KERNEL_FULL; NOT the output-major BLOCKS layout);
 *   uncentered (the paper's, Cortes et al. 2012 without centering):
 *     A(K, T) = <K, T>_F / (|K|_F |T|_F), which is y^T K y / (|K|_F |y|^2) for one output;
 *   centered (Cortes, Mohri, Rostamizadeh 2012): the same of H K H and H T H, with
 *     H = (I_P - 11^T/P) (x) I_{n/P}: each output is centered over the samples.
 *   Both lie in [-1, 1]; a kernel proportional to T has alignment 1.
 * Effective rank: the participation ratio r_eff = (tr K)^2 / |K|_F^2 = (sum l_i)^2 / sum l_i^2
 * for symmetric PSD K: 1 for rank one, n for a multiple of I. */
#ifndef NTK_METRICS_H
#define NTK_METRICS_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Default PSD tolerance: eigenvalues of a float64 Gram are accurate to about n eps |K|_2, so a
 * PSD kernel with n <= 1e4 never shows lambda_min below -1e-12 lambda_max; 1e-10 leaves margin. */
#define NTK_METRICS_PSD_TOL 1e-10

/* Several summaries of one kernel from one pass over it (ntk_metrics_kernel_stats). */
typedef struct ntk_kernel_stats {
  double norm;               /* |K|_F */
  double trace;              /* tr K */
  double alignment;          /* uncentered kernel-target alignment (NAN unless requested) */
  double alignment_centered; /* centered kernel-target alignment (NAN unless requested) */
  double distance;           /* 1 - <K, K0>_F / (|K|_F |K0|_F) (NAN unless K0 given) */
} ntk_kernel_stats;

/* What ntk_metrics_kernel_stats computes besides the norm and the trace. */
enum {
  NTK_STATS_ALIGNMENT = 1,
  NTK_STATS_CENTERED = 2,
  NTK_STATS_DISTANCE = 4
};

/* One pass over the square kernel K (n x n, any strides: the caller's tensor or view, read in
 * place; only a row of O(n) scratch when its rows are not contiguous) computes its norm and
 * trace and, as `what` asks, the alignments with Y (P x C or P, n = P or P C as for
 * ntk_metrics_alignment; any strides) and the distance to K0 (same shape as K, any strides).
 * Centered alignment without a centered copy: with E = 1_P (x) I_{n/P} and H = I - E E^T / P,
 *   <H K H, Zc Zc^T> = sum_r zc_r^T K zc_r        (H zc_r = zc_r for the centered targets) and
 *   |H K H|_F^2 = <K, H K H> = |K|_F^2 - (|K E|_F^2 + |E^T K|_F^2) / P + |E^T K E|_F^2 / P^2,
 * so the pass accumulates K Z, K Zc, the per-output row sums K E and column sums E^T K. When
 * the subtraction cancels more than 4 digits a second pass sums (H K H)_ij^2 directly.
 * Entries so large or small that their squares overflow or underflow are handled by a rescaled
 * second pass. Errors as ntk_metrics_alignment (K is argument 2, Y 3, K0 4): zero kernel or
 * targets, constant targets for the centered alignment, a size mismatch. */
int ntk_metrics_kernel_stats(ntk_kernel_stats *out, const ntk_tensor *K, const ntk_tensor *Y,
                             const ntk_tensor *K0, unsigned what, ntk_error *err);
/* |A|_F of a tensor or view of any strides, read in place. */
double ntk_metrics_tensor_norm(const ntk_tensor *A);
/* *out <- 1 - <A, B>_F / (|A|_F |B|_F) of two same-shape tensors or views (0 for proportional
 * kernels), read in place in one pass. A zero kernel gives NTK_EARG (undefined). */
int ntk_metrics_tensor_distance(double *out, const ntk_tensor *A, const ntk_tensor *B,
                                ntk_error *err);

/* *out <- (tr K)^2 / |K|_F^2 for square K (any view); NTK_EARG when K = 0. */
int ntk_metrics_effective_rank(double *out, const ntk_tensor *K, ntk_error *err);
/* *out <- kernel-target alignment (see above) of K (n x n) with Y (P x C or P), n = P or P C;
 * centered or not. The one-value form of ntk_metrics_kernel_stats (K is argument 2, Y 3). */
int ntk_metrics_alignment(double *out, const ntk_tensor *K, const ntk_tensor *Y, int centered,
                          ntk_error *err);
/* w (k) <- the k largest eigenvalues of symmetric K (n x n, any view), descending; 1 <= k <= n
 * (argument 3). Through ntk_linalg_eigh_top: K not symmetric to its tolerance is NTK_EARG
 * (argument 2). */
int ntk_metrics_top_eigs(double *w, const ntk_tensor *K, size_t k, ntk_error *err);
/* *lmin, *lmax <- the extreme eigenvalues of symmetric K (any view); *psd <- lmin >= -tol
 * max(lmax, 0). Any output pointer may be NULL. Through ntk_linalg_eigh: K not symmetric is
 * NTK_EARG (argument 4). */
int ntk_metrics_psd(int *psd, double *lmin, double *lmax, const ntk_tensor *K, double tol,
                    ntk_error *err);
/* *out <- cos(W^T W, B^T B) = |W B^T|_F^2 / (|W^T W|_F |B B^T|_F) for W [N x D], B [r x D] or
 * [D] (a teacher vector beta: beta beta^T); any views. */
int ntk_metrics_weight_alignment(double *out, const ntk_tensor *W, const ntk_tensor *B,
                                 ntk_error *err);

#endif
