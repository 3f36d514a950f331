/* ntk_activation.c: activation functions, as tight loops the compiler can vectorise. */
#include "ntk_activation.h"

#include <math.h>
#include <string.h>

/* spelled out: strict C11 has no M_* constants */
#define SQRT1_2 0.70710678118654752440   /* 1/sqrt(2) */
#define TWO_OVER_SQRT_PI 1.12837916709551257390 /* 2/sqrt(pi) */
#define INV_SQRT_2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */

static const char *const names[NTK_ACT_COUNT] = {"linear", "relu", "tanh", "erf",
                                                  "gelu", "softplus", "quadratic"};

const char *ntk_activation_name(ntk_activation a) {
  return (a >= 0 && a < NTK_ACT_COUNT) ? names[a] : NULL;
}

int ntk_activation_from_name(const char *name, ntk_activation *out) {
  int i;
  for (i = 0; i < NTK_ACT_COUNT; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (ntk_activation)i;
      return 1;
    }
  if (strcmp(name, "identity") == 0) {
    *out = NTK_ACT_LINEAR;
    return 1;
  }
  return 0;
}

static double softplus(double x) {
  /* log1p(e^x) overflows for large x; there it equals x to double precision */
  return x > 30.0 ? x : log1p(exp(x));
}

void ntk_activation_apply(ntk_activation a, double *y, const double *x, size_t n) {
  size_t i;
  switch (a) {
    case NTK_ACT_LINEAR:
      if (y != x) memmove(y, x, n * sizeof *y);
      break;
    case NTK_ACT_RELU:
      for (i = 0; i < n; i++) y[i] = x[i] > 0.0 ? x[i] : 0.0;
      break;
    case NTK_ACT_TANH:
      for (i = 0; i < n; i++) y[i] = tanh(x[i]);
      break;
    case NTK_ACT_ERF:
      for (i = 0; i < n; i++) y[i] = erf(x[i]);
      break;
    case NTK_ACT_GELU:
      for (i = 0; i < n; i++) y[i] = 0.5 * x[i] * erfc(-x[i] * SQRT1_2);
      break;
    case NTK_ACT_SOFTPLUS:
      for (i = 0; i < n; i++) y[i] = softplus(x[i]);
      break;
    case NTK_ACT_QUADRATIC:
      for (i = 0; i < n; i++) y[i] = x[i] * x[i];
      break;
    default:
      break;
  }
}

void ntk_activation_deriv(ntk_activation a, double *d, const double *x, size_t n) {
  size_t i;
  switch (a) {
    case NTK_ACT_LINEAR:
      for (i = 0; i < n; i++) d[i] = 1.0;
      break;
    case NTK_ACT_RELU:
      for (i = 0; i < n; i++) d[i] = x[i] > 0.0 ? 1.0 : 0.0;
      break;
    case NTK_ACT_TANH:
      for (i = 0; i < n; i++) {
        double t = tanh(x[i]);
        d[i] = 1.0 - t * t;
      }
      break;
    case NTK_ACT_ERF:
      for (i = 0; i < n; i++) d[i] = TWO_OVER_SQRT_PI * exp(-x[i] * x[i]);
      break;
    case NTK_ACT_GELU:
      for (i = 0; i < n; i++) {
        double v = x[i];
        d[i] = 0.5 * erfc(-v * SQRT1_2) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
      }
      break;
    case NTK_ACT_SOFTPLUS:
      for (i = 0; i < n; i++) d[i] = 1.0 / (1.0 + exp(-x[i]));
      break;
    case NTK_ACT_QUADRATIC:
      for (i = 0; i < n; i++) d[i] = 2.0 * x[i];
      break;
    default:
      break;
  }
}

int ntk_activation_is_homogeneous(ntk_activation a) {
  return a == NTK_ACT_LINEAR || a == NTK_ACT_RELU;
}
