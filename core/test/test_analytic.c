/* test_analytic.c: the closed-form expectations of the infinite-width kernels (linear, ReLU,
 * erf, quadratic) against their slow twin, two-dimensional Gauss-Hermite quadrature, and the
 * Gauss-Hermite rule itself. */
#include "ntk.h"
#include "ntk_test.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static void test_rule(void) {
  double x[40], w[40], s0 = 0, s2 = 0, s4 = 0;
  int i;
  CHECK(ntk_analytic_gauss_hermite(x, w, 40, NULL) == NTK_OK);
  for (i = 0; i < 40; i++) {
    s0 += w[i];
    s2 += w[i] * x[i] * x[i];
    s4 += w[i] * x[i] * x[i] * x[i] * x[i];
  }
  /* int e^{-x^2} = sqrt(pi), int x^2 e^{-x^2} = sqrt(pi)/2, int x^4 e^{-x^2} = 3 sqrt(pi)/4 */
  CHECK_NEAR(s0, sqrt(M_PI), 1e-13);
  CHECK_NEAR(s2, sqrt(M_PI) / 2, 1e-13);
  CHECK_NEAR(s4, 3 * sqrt(M_PI) / 4, 1e-12);
  CHECK(ntk_analytic_gauss_hermite(x, w, 0, NULL) == NTK_EARG);
  CHECK(ntk_analytic_gauss_hermite(x, w, 151, NULL) == NTK_EARG);
}

/* Two inputs x, x' in R^2; a depth-2 net in the ntk parameterization, sigma = (s1, 1), no
 * biases: nngp = E[phi(u) phi(u')], ntk = E + Ed x.x'/2 with (u, u') ~ N(0, s1^2 X X^T / 2). */
static void check_activation(ntk_activation act, int nodes, double tol) {
  static const double pts[3][4] = {{1.0, 0.5, -0.3, 2.0}, {2.0, -1.0, 1.5, 0.7}, {0.3, 0.1, 0.2, -0.4}};
  size_t widths[3] = {2, 1, 1};
  double sigma[2] = {1.7, 1.0}, x[150], w[150];
  ntk_activation acts[1];
  ntk_mlp_config cfg = {2, widths, acts, 0, NTK_PARAM_NTK, sigma, 0.0, NTK_INIT_GAUSSIAN};
  int c;
  acts[0] = act;
  CHECK(ntk_analytic_gauss_hermite(x, w, nodes, NULL) == NTK_OK);
  for (c = 0; c < 3; c++) {
    ntk_tensor X = {0}, K = {0}, G = {0};
    double k11, k22, k12, xx, e, ed;
    CHECK(ntk_tensor_init_2d(&X, 2, 2, NULL) == NTK_OK);
    ntk_tensor_data(&X)[0] = pts[c][0];
    ntk_tensor_data(&X)[1] = pts[c][1];
    ntk_tensor_data(&X)[2] = pts[c][2];
    ntk_tensor_data(&X)[3] = pts[c][3];
    CHECK(ntk_analytic_kernels(&K, NULL, &cfg, &X, NULL, NULL) == NTK_OK);
    CHECK(ntk_analytic_kernels(NULL, &G, &cfg, &X, NULL, NULL) == NTK_OK);
    xx = (pts[c][0] * pts[c][2] + pts[c][1] * pts[c][3]) / 2;
    k11 = sigma[0] * sigma[0] * (pts[c][0] * pts[c][0] + pts[c][1] * pts[c][1]) / 2;
    k22 = sigma[0] * sigma[0] * (pts[c][2] * pts[c][2] + pts[c][3] * pts[c][3]) / 2;
    k12 = sigma[0] * sigma[0] * xx;
    ntk_analytic_expect_quadrature(&e, &ed, act, k11, k22, k12, x, w, nodes);
    CHECK_NEAR(ntk_tensor_at(&G, 0, 1), e, tol * (1 + fabs(e)));
    CHECK_NEAR(ntk_tensor_at(&K, 0, 1), e + ed * xx, tol * (1 + fabs(e + ed * xx)));
    /* the diagonal: E[phi(u)^2] */
    ntk_analytic_expect_quadrature(&e, &ed, act, k11, k11, k11, x, w, nodes);
    CHECK_NEAR(ntk_tensor_at(&G, 0, 0), e, tol * (1 + fabs(e)));
    ntk_tensor_release(&X);
    ntk_tensor_release(&K);
    ntk_tensor_release(&G);
  }
}

int main(void) {
  test_rule();
  /* polynomials: exact for 40 nodes up to rounding. erf saturates: at the variances here (up
   * to 7) 100 nodes are off by up to 6e-5, and the closed form agrees to that */
  check_activation(NTK_ACT_LINEAR, 40, 1e-12);
  check_activation(NTK_ACT_QUADRATIC, 40, 1e-12);
  check_activation(NTK_ACT_ERF, 100, 1e-4);
  /* ReLU's kink: Gauss-Hermite converges only algebraically; 150 nodes: ~1e-3 */
  check_activation(NTK_ACT_RELU, 150, 5e-3);
  {
    /* tanh: the kernels' rule (NTK_ANALYTIC_GH nodes) against 150 nodes, at variance 2 */
    double xa[NTK_ANALYTIC_GH], wa[NTK_ANALYTIC_GH], xb[150], wb[150], e1, d1, e2, d2;
    CHECK(ntk_analytic_gauss_hermite(xa, wa, NTK_ANALYTIC_GH, NULL) == NTK_OK);
    CHECK(ntk_analytic_gauss_hermite(xb, wb, 150, NULL) == NTK_OK);
    ntk_analytic_expect_quadrature(&e1, &d1, NTK_ACT_TANH, 2.0, 1.5, 1.0, xa, wa, NTK_ANALYTIC_GH);
    ntk_analytic_expect_quadrature(&e2, &d2, NTK_ACT_TANH, 2.0, 1.5, 1.0, xb, wb, 150);
    CHECK_NEAR(e1, e2, 1e-8 * e2);
    CHECK_NEAR(d1, d2, 2e-7 * d2);
  }
  TEST_MAIN_END();
}
