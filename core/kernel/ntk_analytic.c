/* ntk_analytic.c: infinite-width NTK and NNGP kernels (the recursions of ntk_analytic.h).
 *
 * Cost: one Gram X1 X2^T (BLAS), then per hidden layer one pass over the P1 x P2 pairs with a
 * few flops each (ReLU: one acos and two square roots), or NTK_ANALYTIC_GH^2 activation
 * evaluations per pair for the activations without a closed form. For X2 = X1 only the upper
 * triangle is computed, then mirrored. */
#include "ntk_analytic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_blas.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#ifndef M_SQRT2
#define M_SQRT2 1.41421356237309504880
#endif

/* Largest Gauss-Hermite rule ntk_analytic_gauss_hermite builds (the Newton iteration from the
 * asymptotic starting guesses is reliable well past it). */
#define GH_MAX 150

int ntk_analytic_gauss_hermite(double *x, double *w, int n, ntk_error *err) {
  /* Numerical Recipes' gauher: Newton on the orthonormal Hermite recurrence, roots from the
   * largest down, starting guesses from the asymptotic formulas. */
  const double pim4 = 0.7511255444649425; /* pi^(-1/4) */
  int i, j, its, m;
  double z = 0.0, z1, p1, p2, p3, pp = 1.0;
  if (!x) return ntk_error_set(err, NTK_EARG, 1, "gauss_hermite: node buffer is NULL");
  if (!w) return ntk_error_set(err, NTK_EARG, 2, "gauss_hermite: weight buffer is NULL");
  if (n < 1 || n > GH_MAX)
    return ntk_error_set(err, NTK_EARG, 3, "gauss_hermite: n in [1, %d] expected, got %d", GH_MAX,
                         n);
  m = (n + 1) / 2;
  for (i = 0; i < m; i++) {
    if (i == 0)
      z = sqrt(2.0 * n + 1) - 1.85575 * pow(2.0 * n + 1, -0.16667);
    else if (i == 1)
      z -= 1.14 * pow((double)n, 0.426) / z;
    else if (i == 2)
      z = 1.86 * z - 0.86 * x[0];
    else if (i == 3)
      z = 1.91 * z - 0.91 * x[1];
    else
      z = 2.0 * z - x[i - 2];
    for (its = 0; its < 100; its++) {
      p1 = pim4;
      p2 = 0.0;
      for (j = 1; j <= n; j++) {
        p3 = p2;
        p2 = p1;
        p1 = z * sqrt(2.0 / j) * p2 - sqrt((double)(j - 1) / j) * p3;
      }
      pp = sqrt(2.0 * n) * p2;
      z1 = z;
      z = z1 - p1 / pp;
      if (fabs(z - z1) <= 1e-15 * (1.0 + fabs(z))) break;
    }
    if (its == 100)
      return ntk_error_set(err, NTK_ENOCONV, 0, "gauss_hermite: node %d did not converge", i + 1);
    x[i] = z;
    x[n - 1 - i] = -z;
    w[i] = w[n - 1 - i] = 2.0 / (pp * pp);
  }
  if (n % 2) x[m - 1] = 0.0; /* the middle node is exactly 0 */
  ntk_error_clear(err);
  return NTK_OK;
}

void ntk_analytic_expect_quadrature(double *e, double *ed, ntk_activation act, double k11,
                                    double k22, double k12, const double *x, const double *w,
                                    int n) {
  /* u = sqrt(k11) z1, u' = sqrt(k22) (rho z1 + sqrt(1 - rho^2) z2), z = sqrt(2) x for the
   * weight e^{-x^2}, 1/pi normalizing the two-dimensional rule. */
  double a = sqrt(k11), b = sqrt(k22), den = a * b;
  double rho = den > 0 ? k12 / den : 0.0, rc, se = 0.0, sd = 0.0;
  double u[GH_MAX], pu[GH_MAX], du[GH_MAX], v[GH_MAX], pv[GH_MAX], dv[GH_MAX];
  int i, j;
  if (n < 1 || n > GH_MAX) { /* no rule: nothing to sum */
    *e = *ed = NAN;
    return;
  }
  if (rho > 1) rho = 1;
  if (rho < -1) rho = -1;
  rc = sqrt(1 - rho * rho);
  for (i = 0; i < n; i++) u[i] = a * M_SQRT2 * x[i];
  ntk_activation_apply(act, pu, u, (size_t)n);
  ntk_activation_deriv(act, du, u, (size_t)n);
  for (i = 0; i < n; i++) {
    double ri = 0.0, rdi = 0.0;
    for (j = 0; j < n; j++) v[j] = b * M_SQRT2 * (rho * x[i] + rc * x[j]);
    ntk_activation_apply(act, pv, v, (size_t)n);
    ntk_activation_deriv(act, dv, v, (size_t)n);
    for (j = 0; j < n; j++) {
      ri += w[j] * pv[j];
      rdi += w[j] * dv[j];
    }
    se += w[i] * pu[i] * ri;
    sd += w[i] * du[i] * rdi;
  }
  *e = se / M_PI;
  *ed = sd / M_PI;
}

/* Gauss-Hermite rule for the quadrature path (built once per call of ntk_analytic_kernels). */
typedef struct gh_rule {
  double x[NTK_ANALYTIC_GH], w[NTK_ANALYTIC_GH];
} gh_rule;

static int closed_form(ntk_activation act) {
  return act == NTK_ACT_LINEAR || act == NTK_ACT_RELU || act == NTK_ACT_ERF ||
         act == NTK_ACT_QUADRATIC;
}

/* (E[phi(u) phi(u')], E[phi'(u) phi'(u')]) for the pair covariance (k11, k22, k12), with
 * s1 = sqrt(k11), s2 = sqrt(k22) precomputed. */
static void expect_pair(ntk_activation act, double k11, double k22, double k12, double s1,
                        double s2, const gh_rule *g, double *e, double *ed) {
  switch (act) {
    case NTK_ACT_LINEAR:
      *e = k12;
      *ed = 1.0;
      return;
    case NTK_ACT_RELU: {
      double n = s1 * s2, rho, th;
      if (!(n > 0)) { /* a point with zero variance: u = 0, relu(0) = relu'(0) = 0 */
        *e = *ed = 0.0;
        return;
      }
      rho = k12 / n;
      if (rho > 1) rho = 1;
      if (rho < -1) rho = -1;
      th = acos(rho);
      *e = n * (sqrt(1 - rho * rho) + (M_PI - th) * rho) / (2 * M_PI);
      *ed = (M_PI - th) / (2 * M_PI);
      return;
    }
    case NTK_ACT_ERF: {
      double a = 1 + 2 * k11, b = 1 + 2 * k22;
      *e = (2 / M_PI) * asin(2 * k12 / sqrt(a * b));
      *ed = (4 / M_PI) / sqrt(a * b - 4 * k12 * k12);
      return;
    }
    case NTK_ACT_QUADRATIC:
      *e = k11 * k22 + 2 * k12 * k12;
      *ed = 4 * k12;
      return;
    default:
      ntk_analytic_expect_quadrature(e, ed, act, k11, k22, k12, g->x, g->w, NTK_ANALYTIC_GH);
  }
}

/* E[phi(u)^2] for u ~ N(0, k). */
static double expect_self(ntk_activation act, double k, const gh_rule *g) {
  switch (act) {
    case NTK_ACT_LINEAR:
      return k;
    case NTK_ACT_RELU:
      return k / 2;
    case NTK_ACT_ERF:
      return (2 / M_PI) * asin(2 * k / (1 + 2 * k));
    case NTK_ACT_QUADRATIC:
      return 3 * k * k;
    default: {
      double u[NTK_ANALYTIC_GH], p[NTK_ANALYTIC_GH], s = 0.0, a = sqrt(k);
      int i;
      for (i = 0; i < NTK_ANALYTIC_GH; i++) u[i] = a * M_SQRT2 * g->x[i];
      ntk_activation_apply(act, p, u, NTK_ANALYTIC_GH);
      for (i = 0; i < NTK_ANALYTIC_GH; i++) s += g->w[i] * p[i] * p[i];
      return s / sqrt(M_PI);
    }
  }
}

static int check_config(const ntk_mlp_config *cfg, const ntk_tensor *X1, const ntk_tensor *X2,
                        ntk_error *err) {
  int l;
  char buf[64];
  if (!cfg) return ntk_error_set(err, NTK_EARG, 3, "analytic kernels: config is NULL");
  if (cfg->depth < 1 || cfg->depth > NTK_MLP_MAX_DEPTH)
    return ntk_error_set(err, NTK_EARG, 3, "depth in [1, %d] expected, got %d", NTK_MLP_MAX_DEPTH,
                         cfg->depth);
  if (!cfg->widths || !cfg->sigma)
    return ntk_error_set(err, NTK_EARG, 3, "widths and sigma expected");
  for (l = 0; l <= cfg->depth; l++)
    if (cfg->widths[l] < 1)
      return ntk_error_set(err, NTK_EARG, 3, "width %d: positive integer expected", l + 1);
  for (l = 0; l < cfg->depth; l++)
    if (!(cfg->sigma[l] >= 0 && isfinite(cfg->sigma[l])))
      return ntk_error_set(err, NTK_EARG, 3, "sigma %d: non-negative finite number expected, got %g",
                           l + 1, cfg->sigma[l]);
  if (cfg->act)
    for (l = 0; l < cfg->depth - 1; l++)
      if ((int)cfg->act[l] < 0 || cfg->act[l] >= NTK_ACT_COUNT)
        return ntk_error_set(err, NTK_EARG, 3, "activation %d: invalid value %d", l + 1,
                             (int)cfg->act[l]);
  if (cfg->param != NTK_PARAM_STANDARD && cfg->param != NTK_PARAM_NTK)
    return ntk_error_set(err, NTK_EARG, 3, "invalid parameterization %d", (int)cfg->param);
  if (cfg->bias && !(cfg->bias_sigma >= 0 && isfinite(cfg->bias_sigma)))
    return ntk_error_set(err, NTK_EARG, 3, "bias_sigma: non-negative finite number expected, got %g",
                         cfg->bias_sigma);
  if (!X1 || !X1->storage) return ntk_error_set(err, NTK_EARG, 4, "inputs X expected");
  if (X1->ndim != 2 || X1->shape[1] != cfg->widths[0] || X1->shape[0] == 0)
    return ntk_error_set(err, NTK_ESHAPE, 4, "[P x %zu] inputs expected (widths[1] = %zu), got %s",
                         cfg->widths[0], cfg->widths[0], ntk_tensor_shape_str(X1, buf, sizeof buf));
  if (X2 && (!X2->storage || X2->ndim != 2 || X2->shape[1] != cfg->widths[0] || X2->shape[0] == 0))
    return ntk_error_set(err, NTK_ESHAPE, 5, "[P2 x %zu] inputs expected (widths[1] = %zu), got %s",
                         cfg->widths[0], cfg->widths[0], ntk_tensor_shape_str(X2, buf, sizeof buf));
  return NTK_OK;
}

static int all_finite(const ntk_tensor *X) {
  size_t i, j;
  for (i = 0; i < X->shape[0]; i++)
    for (j = 0; j < X->shape[1]; j++)
      if (!isfinite(ntk_tensor_at(X, i, j))) return 0;
  return 1;
}

/* d[i] <- |X_i|^2 / n0 */
static void row_norms(double *d, const ntk_tensor *X, double n0) {
  size_t i, j;
  for (i = 0; i < X->shape[0]; i++) {
    double s = 0.0;
    for (j = 0; j < X->shape[1]; j++) {
      double v = ntk_tensor_at(X, i, j);
      s += v * v;
    }
    d[i] = s / n0;
  }
}

/* Lower triangle of the n x n row-major a <- its upper triangle, by tiles (a column walk
 * through a large matrix would miss the cache at every element). */
static void mirror(double *a, size_t n) {
  enum { TILE = 64 };
  size_t bi, bj, i, j;
  for (bi = 0; bi < n; bi += TILE)
    for (bj = 0; bj <= bi; bj += TILE)
      for (i = bi; i < n && i < bi + TILE; i++)
        for (j = bj; j < i && j < bj + TILE; j++) a[i * n + j] = a[j * n + i];
}

int ntk_analytic_kernels(ntk_tensor *ntk, ntk_tensor *nngp, const ntk_mlp_config *cfg,
                         const ntk_tensor *X1, const ntk_tensor *X2, ntk_error *err) {
  ntk_tensor S = {0}, T = {0}, X2t = {0};
  gh_rule gh;
  double *d1 = NULL, *d2, *s1, *s2, sb2, bterm, n0;
  size_t P1, P2, i, j;
  int l, sym = X2 == NULL || X2 == X1, need_gh = 0, st;
  if (!ntk && !nngp) return ntk_error_set(err, NTK_EARG, 1, "no kernel asked for (ntk and nngp NULL)");
  if ((st = check_config(cfg, X1, X2, err)) != NTK_OK) return st;
  if (!all_finite(X1)) return ntk_error_set(err, NTK_EARG, 4, "inputs X: finite entries expected");
  if (!sym && !all_finite(X2)) return ntk_error_set(err, NTK_EARG, 5, "inputs X2: finite entries expected");
  if (sym) X2 = X1;
  P1 = X1->shape[0];
  P2 = X2->shape[0];
  n0 = (double)cfg->widths[0];
  sb2 = cfg->bias ? cfg->bias_sigma * cfg->bias_sigma : 0.0;
  bterm = cfg->bias ? 1.0 : 0.0;
  for (l = 0; l < cfg->depth - 1; l++)
    if (cfg->act && !closed_form(cfg->act[l])) need_gh = 1;
  if (need_gh && (st = ntk_analytic_gauss_hermite(gh.x, gh.w, NTK_ANALYTIC_GH, err)) != NTK_OK)
    return st;

  d1 = malloc(2 * (P1 + P2) * sizeof *d1);
  if (!d1) return ntk_error_set(err, NTK_ENOMEM, 0, "analytic kernels: out of memory (%zu points)", P1 + P2);
  d2 = d1 + P1;
  s1 = d2 + P2;
  s2 = s1 + P1;
  if ((st = ntk_tensor_init_2d(&S, P1, P2, err)) != NTK_OK) goto fail;
  if (ntk && (st = ntk_tensor_init_2d(&T, P1, P2, err)) != NTK_OK) goto fail;
  /* S <- X1 X2^T / n0 */
  if (sym)
    st = ntk_blas_gram_into(&S, X1, err);
  else if ((st = ntk_tensor_transpose(&X2t, X2, err)) == NTK_OK)
    st = ntk_blas_gemm(&S, 1.0 / n0, X1, &X2t, 0.0, err);
  ntk_tensor_release(&X2t);
  if (st != NTK_OK) goto fail;
  row_norms(d1, X1, n0);
  if (!sym) row_norms(d2, X2, n0);

  for (l = 1; l <= cfg->depth; l++) {
    double sig2 = cfg->sigma[l - 1] * cfg->sigma[l - 1];
    double wl = cfg->param == NTK_PARAM_NTK ? 1.0 : (double)cfg->widths[l - 1];
    double *s = ntk_tensor_data(&S), *t = ntk ? ntk_tensor_data(&T) : NULL;
    if (l == 1) {
      double scale = sym ? 1.0 / n0 : 1.0; /* the Gram of the symmetric path is unscaled */
      for (i = 0; i < P1; i++)
        for (j = sym ? i : 0; j < P2; j++) {
          double e = scale * s[i * P2 + j];
          if (t) t[i * P2 + j] = wl * e + bterm;
          s[i * P2 + j] = sig2 * e + sb2;
        }
      for (i = 0; i < P1; i++) d1[i] = sig2 * d1[i] + sb2;
      if (!sym)
        for (j = 0; j < P2; j++) d2[j] = sig2 * d2[j] + sb2;
    } else {
      ntk_activation act = cfg->act ? cfg->act[l - 2] : NTK_ACT_LINEAR;
      const double *e2 = sym ? d1 : d2, *r2 = sym ? s1 : s2;
      for (i = 0; i < P1; i++) s1[i] = sqrt(d1[i]);
      if (!sym)
        for (j = 0; j < P2; j++) s2[j] = sqrt(d2[j]);
      for (i = 0; i < P1; i++)
        for (j = sym ? i : 0; j < P2; j++) {
          double e, ed;
          expect_pair(act, d1[i], e2[j], s[i * P2 + j], s1[i], r2[j], &gh, &e, &ed);
          if (t) t[i * P2 + j] = wl * e + bterm + sig2 * ed * t[i * P2 + j];
          s[i * P2 + j] = sig2 * e + sb2;
        }
      for (i = 0; i < P1; i++) d1[i] = sig2 * expect_self(act, d1[i], &gh) + sb2;
      if (!sym)
        for (j = 0; j < P2; j++) d2[j] = sig2 * expect_self(act, d2[j], &gh) + sb2;
    }
  }
  if (sym) {
    mirror(ntk_tensor_data(&S), P1);
    if (ntk) mirror(ntk_tensor_data(&T), P1);
  }
  free(d1);
  if (ntk) *ntk = T;
  if (nngp)
    *nngp = S;
  else
    ntk_tensor_release(&S);
  ntk_error_clear(err);
  return NTK_OK;
fail:
  free(d1);
  ntk_tensor_release(&S);
  ntk_tensor_release(&T);
  return st;
}
