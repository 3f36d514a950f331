/* ntk_regress.h: kernel (ridge) regression, alpha = (K + ridge I)^+ Y, f(x) = k(x)^T alpha.
 *
 * Solver: Cholesky of K + ridge I when it is positive definite and well conditioned (LAPACK's
 * reciprocal 1-norm condition estimate >= max(rcond, DBL_EPSILON)); otherwise, and for
 * rank-deficient kernels such as those of whitened image data (rank <= D < P for a linear
 * net), the pseudo-inverse through
 * the eigendecomposition K + ridge I = V diag(w) V^T, keeping the eigenvalues with
 * |w_i| > rcond * max|w|. ridge = 0 is the ridgeless (minimum-norm interpolating) limit.
 * Default rcond NTK_REGRESS_RCOND = 1e-10: Grams summed over D ~ 1e3 terms carry rounding of
 * about 1e-13 of their largest eigenvalue, so an exactly singular kernel shows eigenvalues up to
 * there; the cutoff leaves a 1000x margin above that noise.
 * Kernels and targets are tensors of any layout. */
#ifndef NTK_REGRESS_H
#define NTK_REGRESS_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Default rcond: the relative eigenvalue cutoff and the Cholesky bar (why 1e-10: above). */
#define NTK_REGRESS_RCOND 1e-10

/* The solver a fit used: Cholesky of K + ridge I, or its eigendecomposition (pseudo-inverse). */
typedef enum ntk_regress_method {
  NTK_REGRESS_CHOLESKY = 1,
  NTK_REGRESS_EIGH = 2
} ntk_regress_method;

/* A fitted regression: alpha = (K + ridge I)^+ Y and how it was obtained. */
typedef struct ntk_regress {
  size_t P, C;                /* training points, outputs */
  ntk_tensor alpha;           /* [P x C], owned: the fitted coefficients */
  double ridge, rcond;        /* as fitted */
  ntk_regress_method method;  /* the solver that produced alpha */
  size_t rank;                /* eigenvalues kept (P with Cholesky) */
  double cond_est;            /* Cholesky: LAPACK's reciprocal condition estimate; eigh:
                                 min kept |w| / max |w| */
} ntk_regress;

/* fit <- the regression of Y ([P x C] or [P]) on the kernel K ([P x P], symmetric), ridge >= 0,
 * rcond in [0, 1) (NTK_REGRESS_RCOND is the usual choice); K and Y may be any views. fit must
 * be zeroed or released; on failure it stays released. Non-finite K or Y: NTK_ENONFINITE; K not
 * symmetric to ntk_linalg's tolerance: NTK_EARG (argument 2). */
int ntk_regress_fit(ntk_regress *fit, const ntk_tensor *K, const ntk_tensor *Y, double ridge,
                    double rcond, ntk_error *err);
/* out <- Kx alpha for the [Q x P] test-by-train kernel Kx (any view); out is a contiguous
 * [Q x C] tensor, or [Q] when C = 1. */
int ntk_regress_predict(ntk_tensor *out, const ntk_regress *fit, const ntk_tensor *Kx,
                        ntk_error *err);
/* Frees alpha and zeroes fit. Idempotent. */
void ntk_regress_release(ntk_regress *fit);

#endif
