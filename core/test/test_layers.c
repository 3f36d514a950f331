/* test_layers.c: every image layer's backward pass (input and parameter gradients, summed and
 * per sample) against central finite differences of its forward pass, with and without stride
 * and padding, and the shape checks. */
#include <string.h>

#include "../ntk.h"
#include "ntk_test.h"

/* central differences with h = 1e-6 on O(1) values: rounding ~1e-10, truncation ~1e-12 */
#define FD_STEP 1e-6
/* |analytic - fd| <= GRAD_REL_TOL max(1, |fd|): the 1e-6 relative */
#define GRAD_REL_TOL 1e-6

/* <dy, layer(x0, x1)> */
static double probe(const ntk_layer *l, const double *params, const double *x0, const double *x1,
                    const double *dy, size_t P, double *y, double *scratch) {
  size_t i, n = P * ntk_shape_numel(l->out_shape);
  double s = 0.0;
  ntk_layer_forward(l, params, y, x0, x1, P, scratch);
  for (i = 0; i < n; i++) s += dy[i] * y[i];
  return s;
}

static double rel(double a, double fd) { return fabs(a - fd) / (fabs(fd) > 1.0 ? fabs(fd) : 1.0); }

/* Largest relative error of the analytic derivative d[i] of <dy, layer> with respect to v[i]
 * (v is x0, x1 or params) against central differences, over the n entries of v. */
static double fd_worst(const ntk_layer *l, double *v, size_t n, const double *d,
                       const double *params, const double *x0, const double *x1, const double *dy,
                       size_t P, double *y, double *scratch) {
  double worst = 0.0;
  size_t i;
  for (i = 0; i < n; i++) {
    double keep = v[i], lp, lm;
    v[i] = keep + FD_STEP;
    lp = probe(l, params, x0, x1, dy, P, y, scratch);
    v[i] = keep - FD_STEP;
    lm = probe(l, params, x0, x1, dy, P, y, scratch);
    v[i] = keep;
    worst = fmax(worst, rel(d[i], (lp - lm) / (2 * FD_STEP)));
  }
  return worst;
}

/* Checks l (hyperparameters set, in0/in1 shapes) against finite differences. */
static void check_layer(ntk_layer l, ntk_shape in0, ntk_shape in1, const char *what) {
  const size_t P = 3;
  ntk_error err;
  size_t nx, ny, np, i, mu, ns;
  double *x0, *x1, *dy, *y, *dx0, *dx1, *grad, *pgrad, *params, *scratch, worst = 0.0;
  CHECK(ntk_layer_check(&l, in0, in1, &err) == NTK_OK);
  l.w_off = 0;
  l.b_off = l.nw;
  nx = P * ntk_shape_numel(in0);
  ny = P * ntk_shape_numel(l.out_shape);
  np = l.nw + l.nb;
  ns = ntk_layer_scratch(&l) + 1;
  x0 = malloc(nx * sizeof *x0);
  x1 = malloc(nx * sizeof *x1);
  dx0 = calloc(nx, sizeof *dx0);
  dx1 = calloc(nx, sizeof *dx1);
  dy = malloc(ny * sizeof *dy);
  y = malloc(ny * sizeof *y);
  params = malloc((np + 1) * sizeof *params);
  grad = malloc((np + 1) * sizeof *grad);
  pgrad = malloc((P * np + 1) * sizeof *pgrad);
  scratch = malloc(ns * sizeof *scratch);
  fill_normal(x0, nx, 1);
  fill_normal(x1, nx, 2);
  fill_normal(dy, ny, 3);
  fill_normal(params, np, 4);
  /* shift away from relu's kink so that h = 1e-6 never crosses it */
  for (i = 0; i < nx; i++)
    if (fabs(x0[i]) < 1e-3) x0[i] = 0.5;
  probe(&l, params, x0, x1, dy, P, y, scratch);
  ntk_layer_backward(&l, params, dx0, l.kind == NTK_LAYER_ADD ? dx1 : NULL, np ? grad : NULL, 0,
                     dy, x0, y, P, scratch);
  worst = fmax(worst, fd_worst(&l, x0, nx, dx0, params, x0, x1, dy, P, y, scratch));
  if (l.kind == NTK_LAYER_ADD)
    worst = fmax(worst, fd_worst(&l, x1, nx, dx1, params, x0, x1, dy, P, y, scratch));
  worst = fmax(worst, fd_worst(&l, params, np, grad, params, x0, x1, dy, P, y, scratch));
  /* per-sample gradients sum to the batch gradient */
  if (np) {
    probe(&l, params, x0, x1, dy, P, y, scratch);
    ntk_layer_backward(&l, params, NULL, NULL, pgrad, np, dy, x0, y, P, scratch);
    for (i = 0; i < np; i++) {
      double s = 0.0;
      for (mu = 0; mu < P; mu++) s += pgrad[mu * np + i];
      if (rel(s, grad[i]) > worst) worst = rel(s, grad[i]);
    }
  }
  if (!(worst <= GRAD_REL_TOL)) fprintf(stderr, "%s: worst relative error %g\n", what, worst);
  CHECK(worst <= GRAD_REL_TOL);
  free(x0);
  free(x1);
  free(dx0);
  free(dx1);
  free(dy);
  free(y);
  free(params);
  free(grad);
  free(pgrad);
  free(scratch);
}

static ntk_layer conv(size_t cout, size_t k, size_t stride, size_t pad, int bias, ntk_layer_param p) {
  ntk_layer l;
  memset(&l, 0, sizeof l);
  l.kind = NTK_LAYER_CONV;
  l.out = cout;
  l.kh = l.kw = k;
  l.stride = stride;
  l.pad = pad;
  l.bias = bias;
  l.sigma = 1.0;
  l.param = p;
  return l;
}

static void test_conv(void) {
  ntk_shape in = {6, 5, 3}, none = {0, 0, 0};
  ntk_layer l = conv(4, 3, 1, 1, 1, NTK_LAYER_STANDARD);
  check_layer(l, in, none, "conv 3x3 s1 p1");
  check_layer(conv(4, 3, 2, 1, 1, NTK_LAYER_NTK), in, none, "conv 3x3 s2 p1 ntk");
  check_layer(conv(2, 3, 2, 0, 0, NTK_LAYER_STANDARD), in, none, "conv 3x3 s2 p0");
  check_layer(conv(5, 1, 1, 0, 1, NTK_LAYER_STANDARD), in, none, "conv 1x1 pointwise");
  check_layer(conv(5, 1, 2, 0, 0, NTK_LAYER_NTK), in, none, "conv 1x1 s2");
  check_layer(conv(3, 5, 3, 2, 1, NTK_LAYER_STANDARD), in, none, "conv 5x5 s3 p2");
  l = conv(2, 3, 1, 1, 1, NTK_LAYER_STANDARD);
  l.kw = 2;
  check_layer(l, in, none, "conv 3x2 s1 p1");
  l = conv(2, 3, 1, 3, 1, NTK_LAYER_STANDARD); /* padding past the kernel: border windows empty */
  check_layer(l, in, none, "conv 3x3 p3");
}

static void test_conv_chunks(void) {
  /* more samples than one im2col chunk holds: the chunked paths against one chunk */
  ntk_layer a = conv(3, 3, 1, 1, 1, NTK_LAYER_STANDARD), b;
  ntk_shape in = {24, 24, 16}, none = {0, 0, 0}; /* 6 samples per chunk */
  ntk_error err;
  const size_t P = 70;
  size_t nx, ny, np, i;
  double *x, *dy, *ya, *yb, *ga, *gb, *dxa, *dxb, *params, *sa, *sb, worst = 0;
  CHECK(ntk_layer_check(&a, in, none, &err) == NTK_OK);
  b = a;
  b.cols_rows = P; /* one chunk */
  CHECK(a.cols_rows < P);
  a.w_off = b.w_off = 0;
  a.b_off = b.b_off = a.nw;
  nx = P * ntk_shape_numel(in);
  ny = P * ntk_shape_numel(a.out_shape);
  np = a.nw + a.nb;
  x = malloc(nx * sizeof *x);
  dy = malloc(ny * sizeof *dy);
  ya = malloc(ny * sizeof *ya);
  yb = malloc(ny * sizeof *yb);
  dxa = calloc(nx, sizeof *dxa);
  dxb = calloc(nx, sizeof *dxb);
  ga = malloc(np * sizeof *ga);
  gb = malloc(np * sizeof *gb);
  params = malloc(np * sizeof *params);
  sa = malloc(ntk_layer_scratch(&a) * sizeof *sa);
  sb = malloc(ntk_layer_scratch(&b) * sizeof *sb);
  fill_normal(x, nx, 5);
  fill_normal(dy, ny, 6);
  fill_normal(params, np, 7);
  ntk_layer_forward(&a, params, ya, x, NULL, P, sa);
  ntk_layer_forward(&b, params, yb, x, NULL, P, sb);
  ntk_layer_backward(&a, params, dxa, NULL, ga, 0, dy, x, ya, P, sa);
  ntk_layer_backward(&b, params, dxb, NULL, gb, 0, dy, x, yb, P, sb);
  for (i = 0; i < ny; i++) worst = fmax(worst, fabs(ya[i] - yb[i]));
  for (i = 0; i < nx; i++) worst = fmax(worst, fabs(dxa[i] - dxb[i]));
  for (i = 0; i < np; i++) worst = fmax(worst, rel(ga[i], gb[i]));
  CHECK(worst <= 1e-12);
  free(x);
  free(dy);
  free(ya);
  free(yb);
  free(dxa);
  free(dxb);
  free(ga);
  free(gb);
  free(params);
  free(sa);
  free(sb);
}

static void test_others(void) {
  ntk_shape in = {4, 3, 5}, none = {0, 0, 0};
  ntk_layer l;
  ntk_activation acts[] = {NTK_ACT_RELU, NTK_ACT_TANH, NTK_ACT_GELU, NTK_ACT_LINEAR};
  size_t a;
  memset(&l, 0, sizeof l);
  for (a = 0; a < sizeof acts / sizeof *acts; a++) {
    l.kind = NTK_LAYER_ACT;
    l.act = acts[a];
    check_layer(l, in, none, ntk_activation_name(acts[a]));
  }
  memset(&l, 0, sizeof l);
  l.kind = NTK_LAYER_ADD;
  check_layer(l, in, in, "add");
  l.kind = NTK_LAYER_POOL;
  check_layer(l, in, none, "pool");
  l.kind = NTK_LAYER_DENSE;
  l.out = 3;
  l.bias = 1;
  l.sigma = 1.0;
  check_layer(l, in, none, "dense");
  l.param = NTK_LAYER_NTK;
  l.bias = 0;
  check_layer(l, in, none, "dense ntk");
}

static void test_shape_checks(void) {
  ntk_shape in = {4, 4, 2}, other = {4, 4, 3}, none = {0, 0, 0};
  ntk_layer l = conv(2, 5, 1, 0, 0, NTK_LAYER_STANDARD);
  ntk_error err;
  CHECK(ntk_layer_check(&l, in, none, &err) == NTK_ESHAPE);
  CHECK(strstr(err.msg, "conv: 5 x 5 kernel larger than the padded 4 x 4 input") != NULL);
  l = conv(2, 3, 0, 1, 0, NTK_LAYER_STANDARD);
  CHECK(ntk_layer_check(&l, in, none, &err) == NTK_EARG);
  CHECK(strstr(err.msg, "stride >= 1") != NULL);
  l = conv(0, 3, 1, 1, 0, NTK_LAYER_STANDARD);
  CHECK(ntk_layer_check(&l, in, none, &err) == NTK_EARG);
  memset(&l, 0, sizeof l);
  l.kind = NTK_LAYER_ADD;
  CHECK(ntk_layer_check(&l, in, other, &err) == NTK_ESHAPE);
  CHECK(strstr(err.msg, "add: inputs of equal shape expected") != NULL);
  l = conv(2, 3, 2, 1, 0, NTK_LAYER_STANDARD);
  CHECK(ntk_layer_check(&l, in, none, &err) == NTK_OK);
  CHECK(l.out_shape.h == 2 && l.out_shape.w == 2 && l.out_shape.c == 2);
  CHECK(l.fan_in == 18 && l.nw == 36 && l.nb == 0);
}

int main(void) {
  test_conv();
  test_conv_chunks();
  test_others();
  test_shape_checks();
  TEST_MAIN_END();
}
