/* ntk_analytic.h: infinite-width NTK and NNGP kernels of dense networks (ntk_mlp.h).
 *
 * For h^l = c_l W^l a^{l-1} + b^l with Var(c_l W^l_ij) = sigma_l^2 / n_{l-1} in both
 * parameterizations, the pre-activations become Gaussian processes as the hidden widths grow:
 *   Sigma^1(x, x') = sigma_1^2 x.x'/n_0 + sb^2,
 *   Sigma^l(x, x') = sigma_l^2 E[phi(u) phi(u')] + sb^2,           (u, u') ~ N(0, Sigma^{l-1}),
 * (sb = bias_sigma with biases, 0 without) and the NTK of one output follows
 *   Theta^1 = w_1 x.x'/n_0 + b,
 *   Theta^l = w_l E[phi(u) phi(u')] + b + sigma_l^2 E[phi'(u) phi'(u')] Theta^{l-1},
 * with b = 1 when the layers have biases (d h / d b = 1) and w_l = 1 in the ntk
 * parameterization, w_l = n_{l-1} in the standard one. In the standard parameterization the
 * NTK grows with the hidden widths (the weights of layer l contribute a^{l-1}.a'^{l-1}, a sum of
 * n_{l-1} terms); Theta^L is then the leading-order expectation at the given widths: each
 * layer's sums over units replaced by n times their infinite-width mean. The NNGP kernel does
 * not depend on the widths in either parameterization.
 *
 * The expectations: linear (E = k12), ReLU (the arc-cosine kernels of Cho and Saul 2009),
 * erf (Williams 1997) and quadratic in closed form; tanh, GELU and softplus by two-dimensional
 * Gauss-Hermite quadrature with NTK_ANALYTIC_GH nodes per dimension. The kernel returned is
 * per output (outputs are independent and identically distributed at infinite width): it is
 * the "mean" layout of ntk_kernel_ntk (its "trace" layout is C times it). */
#ifndef NTK_ANALYTIC_H
#define NTK_ANALYTIC_H

#include "ntk_error.h"
#include "ntk_mlp.h"
#include "ntk_tensor.h"

/* Gauss-Hermite nodes per dimension for activations without a closed form. Saturating
 * activations converge slowly at large variance (tanh nears a step): against 150 nodes the
 * relative error of E[tanh tanh] is ~3e-9 at variance 2 and ~5e-5 at variance 10, of
 * E[tanh' tanh'] ~5e-8 and ~3e-3 (core/test/test_analytic.c). Cost: 2 * 100^2 activation
 * evaluations per pair and layer. */
#define NTK_ANALYTIC_GH 100

/* ntk (may be NULL) <- Theta^L(X1_i, X2_j), nngp (may be NULL) <- Sigma^L(X1_i, X2_j), both
 * fresh [P1 x P2] (released on entry). cfg as for ntk_mlp_new (init is ignored); X1 [P1 x n_0],
 * X2 [P2 x n_0] or NULL for X1 (then only one triangle is computed). Any strides. */
int ntk_analytic_kernels(ntk_tensor *ntk, ntk_tensor *nngp, const ntk_mlp_config *cfg,
                         const ntk_tensor *X1, const ntk_tensor *X2, ntk_error *err);

/* (x, w) <- the n Gauss-Hermite nodes and weights for the weight e^{-x^2}
 * (sum_i w_i g(x_i) ~ int g(x) e^{-x^2} dx); n in [1, 150] (beyond it the recurrence underflows). */
int ntk_analytic_gauss_hermite(double *x, double *w, int n, ntk_error *err);

/* (*e, *ed) <- (E[phi(u) phi(u')], E[phi'(u) phi'(u')]) for (u, u') ~ N(0, [[k11, k12],
 * [k12, k22]]), by quadrature with the nodes of ntk_analytic_gauss_hermite (x, w, n), whatever
 * the activation: the slow, obvious twin of the closed forms (specs compare them). */
void ntk_analytic_expect_quadrature(double *e, double *ed, ntk_activation act, double k11,
                                    double k22, double k12, const double *x, const double *w,
                                    int n);

#endif
