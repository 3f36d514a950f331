/* ntk_activation.h: pointwise activation functions and their derivatives. */
#ifndef NTK_ACTIVATION_H
#define NTK_ACTIVATION_H

#include <stddef.h>

/* The elementwise nonlinearities phi of ntk_mlp layers (formulas per value). */
typedef enum ntk_activation {
  NTK_ACT_LINEAR = 0, /* phi(x) = x */
  NTK_ACT_RELU,       /* phi(x) = max(x, 0); phi'(0) taken as 0 */
  NTK_ACT_TANH,       /* phi(x) = tanh(x) */
  NTK_ACT_ERF,        /* phi(x) = erf(x) */
  NTK_ACT_GELU,       /* phi(x) = x Phi(x), Phi the standard normal CDF (exact, not the tanh fit) */
  NTK_ACT_SOFTPLUS,   /* phi(x) = log(1 + e^x) */
  NTK_ACT_QUADRATIC,  /* phi(x) = x^2 */
  NTK_ACT_COUNT
} ntk_activation;

/* Static lower-case name ("relu"), or NULL for an invalid value. */
const char *ntk_activation_name(ntk_activation a);
/* *out <- the activation called name; returns 1 if found, 0 otherwise. */
int ntk_activation_from_name(const char *name, ntk_activation *out);
/* y[i] <- phi(x[i]), i < n (y may equal x). */
void ntk_activation_apply(ntk_activation a, double *y, const double *x, size_t n);
/* d[i] <- phi'(x[i]), i < n (d may equal x). */
void ntk_activation_deriv(ntk_activation a, double *d, const double *x, size_t n);
/* 1 when phi is positively homogeneous of degree 1 (linear, relu). */
int ntk_activation_is_homogeneous(ntk_activation a);

#endif
