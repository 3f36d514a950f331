/* test_kernel.c: the fast NTK path against the explicit Jacobian J J^T, in every output layout,
 * for every activation, depths 1-5, bias on/off, C = 1 and 3, both parameterizations, cross
 * kernels, tiles, per-layer sums, the Adam kernel, NNGP kernels and the Gram cache. */
#include <stdlib.h>
#include <string.h>

#include "ntk.h"
#include "ntk_kernel.h"
#include "ntk_test.h"

/* P rows of net's inputs in an array (NULL stays NULL), eta of net's size */
static const void *given(const void *p) { return p; } /* an array or NULL, without -Waddress */
#define IN(x, p) (given(x) ? NTK_TEST_T2((x), (p), ntk_mlp_input_dim(net)) : NULL)
#define ETA(e) (given(e) ? NTK_TEST_T1((e), net->nparams) : NULL)

/* Both paths sum the same products in a different order: rounding differences of a few ulps of
 * the largest term, far below 1e-10 of the kernel's scale for these sizes. */
#define REL_TOL 1e-10

static double max_abs(const double *a, size_t n) {
  double m = 0.0;
  size_t i;
  for (i = 0; i < n; i++)
    if (fabs(a[i]) > m) m = fabs(a[i]);
  return m;
}

static double rel_diff(const double *a, const double *b, size_t n) {
  double m = 0.0, s = max_abs(b, n);
  size_t i;
  for (i = 0; i < n; i++)
    if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
  return s > 0 ? m / s : m;
}

static ntk_mlp *make_net(int depth, size_t D, size_t width, size_t C, ntk_activation act, int bias,
                         ntk_param param, uint64_t seed) {
  size_t widths[8];
  int l;
  for (l = 0; l <= depth; l++) widths[l] = l == 0 ? D : (l == depth ? C : width + (size_t)l);
  return ntk_test_mlp(depth, widths, act, bias, param, NTK_INIT_GAUSSIAN, 1.3, 0.4, seed, NULL);
}

/* Fast vs reference for one net, all layouts, symmetric and cross, untiled and tiled. */
static void check_net(ntk_mlp *net, size_t P1, size_t P2, ntk_kernel_ws *ws) {
  size_t D = ntk_mlp_input_dim(net), C = ntk_mlp_output_dim(net), rows, cols;
  double *X1 = malloc(P1 * D * sizeof *X1), *X2 = malloc(P2 * D * sizeof *X2);
  size_t big = P1 * C * P1 * C > P1 * C * P2 * C ? P1 * C * P1 * C : P1 * C * P2 * C;
  double *K = malloc(big * sizeof *K), *R = malloc(big * sizeof *R);
  int out, cross, tiled;
  fill_normal(X1, P1 * D, 11);
  fill_normal(X2, P2 * D, 12);
  for (out = NTK_KERNEL_FULL; out <= NTK_KERNEL_MEAN; out++)
    for (cross = 0; cross < 2; cross++)
      for (tiled = 0; tiled < 2; tiled++) {
        ntk_kernel_opts o = {(ntk_kernel_output)out, NULL, tiled ? 3 : 0, ws};
        const double *Xb = cross ? X2 : NULL;
        size_t Pb = cross ? P2 : P1;
        double d;
        ntk_kernel_shape(&rows, &cols, (ntk_kernel_output)out, C, P1, Pb);
        CHECK(ntk_kernel_ntk(K, NULL, net, IN(X1, P1), IN(Xb, Pb), &o, NULL) == NTK_OK);
        CHECK(ntk_kernel_ntk_ref(R, net, IN(X1, P1), IN(Xb, Pb), (ntk_kernel_output)out, ETA(NULL), 0, NULL) ==
              NTK_OK);
        d = rel_diff(K, R, rows * cols);
        if (!(d <= REL_TOL))
          fprintf(stderr, "depth %d act %s bias %d C %zu out %d cross %d tiled %d: rel %g\n",
                  net->depth, ntk_activation_name(net->act[0]), net->bias, C, out, cross, tiled,
                  d);
        CHECK(d <= REL_TOL);
      }
  NTK_TEST_FREE(X1, X2, K, R);
}

static void test_fast_equals_reference(void) {
  ntk_kernel_ws *ws;
  int act, depth, bias, ci, param;
  const size_t Cs[2] = {1, 3};
  CHECK(ntk_kernel_ws_new(&ws, NULL) == NTK_OK);
  for (act = 0; act < NTK_ACT_COUNT; act++)
    for (depth = 1; depth <= 5; depth++)
      for (bias = 0; bias < 2; bias++)
        for (ci = 0; ci < 2; ci++)
          for (param = 0; param < 2; param++) {
            ntk_mlp *net = make_net(depth, 4, 5, Cs[ci], (ntk_activation)act, bias,
                                    (ntk_param)param, (uint64_t)(100 * act + 10 * depth + bias));
            CHECK(net != NULL);
            if (!net) continue;
            check_net(net, 7, 5, ws);
            ntk_mlp_free(net);
          }
  ntk_kernel_ws_free(ws);
}

/* Per-layer contributions sum to the total and each equals the reference restricted to the
 * layer; also with eta. */
static void test_layers(void) {
  size_t P = 6, D = 3, C = 2, n = P * C * P * C;
  int L = 3, l, withEta, out;
  ntk_mlp *net = make_net(L, D, 4, C, NTK_ACT_TANH, 1, NTK_PARAM_NTK, 7);
  double X[18], *K = malloc(n * sizeof *K), *R = malloc(n * sizeof *R), *S = malloc(n * sizeof *S);
  double *lay[3], *eta;
  fill_normal(X, P * D, 3);
  eta = malloc(net->nparams * sizeof *eta);
  fill_normal(eta, net->nparams, 4);
  for (l = 0; l < (int)net->nparams; l++) eta[l] = fabs(eta[l]);
  for (l = 0; l < L; l++) lay[l] = malloc(n * sizeof *K);
  for (out = NTK_KERNEL_FULL; out <= NTK_KERNEL_MEAN; out++)
    for (withEta = 0; withEta < 2; withEta++) {
      ntk_kernel_opts o = {(ntk_kernel_output)out, ETA(withEta ? eta : NULL), 0, NULL};
      size_t rows, cols, i;
      ntk_kernel_shape(&rows, &cols, (ntk_kernel_output)out, C, P, P);
      CHECK(ntk_kernel_ntk(K, lay, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_OK);
      memset(S, 0, n * sizeof *S);
      for (l = 0; l < L; l++) {
        CHECK(ntk_kernel_ntk_ref(R, net, IN(X, P), IN(NULL, 0), (ntk_kernel_output)out, ETA(withEta ? eta : NULL), l + 1, NULL) == NTK_OK);
        CHECK(rel_diff(lay[l], R, rows * cols) <= REL_TOL);
        for (i = 0; i < rows * cols; i++) S[i] += lay[l][i];
      }
      CHECK(rel_diff(S, K, rows * cols) <= REL_TOL);
      CHECK(ntk_kernel_ntk_ref(R, net, IN(X, P), IN(NULL, 0), (ntk_kernel_output)out, ETA(withEta ? eta : NULL), 0, NULL) == NTK_OK);
      CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
    }
  for (l = 0; l < L; l++) free(lay[l]);
  NTK_TEST_FREE(eta, K, R, S);
  ntk_mlp_free(net);
}

/* Constant eta = c gives c times the NTK; a cross kernel with eta matches the reference. */
static void test_eta(void) {
  size_t P = 5, D = 4, C = 3, n = P * C * P * C, i;
  ntk_mlp *net = make_net(2, D, 6, C, NTK_ACT_RELU, 1, NTK_PARAM_STANDARD, 9);
  double X[20], X2[12], *K = malloc(n * sizeof *K), *E = malloc(n * sizeof *E);
  double *eta = malloc(net->nparams * sizeof *eta);
  ntk_kernel_opts o = {NTK_KERNEL_FULL, NULL, 0, NULL};
  fill_normal(X, P * D, 5);
  fill_normal(X2, 3 * D, 6);
  for (i = 0; i < net->nparams; i++) eta[i] = 0.37;
  CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_OK);
  o.eta = ETA(eta);
  CHECK(ntk_kernel_ntk(E, NULL, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_OK);
  for (i = 0; i < n; i++) K[i] *= 0.37;
  CHECK(rel_diff(E, K, n) <= REL_TOL);
  for (i = 0; i < net->nparams; i++) eta[i] = (double)(i % 7) * 0.1;
  o.output = NTK_KERNEL_BLOCKS;
  CHECK(ntk_kernel_ntk(E, NULL, net, IN(X, P), IN(X2, 3), &o, NULL) == NTK_OK);
  CHECK(ntk_kernel_ntk_ref(K, net, IN(X, P), IN(X2, 3), NTK_KERNEL_BLOCKS, ETA(eta), 0, NULL) == NTK_OK);
  CHECK(rel_diff(E, K, P * C * 3 * C) <= REL_TOL);
  eta[3] = -1.0;
  CHECK(ntk_kernel_ntk(E, NULL, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_EARG);
  NTK_TEST_FREE(K, E, eta);
  ntk_mlp_free(net);
}

/* Two-layer linear net f = a^T W x (standard parameterization): K = x^T (W^T W + |a|^2 I) x'. */
static void test_linear_closed_form(void) {
  size_t P = 5, D = 4, N = 7, mu, nu, i, j, k;
  ntk_mlp *net = make_net(2, D, N - 1, 1, NTK_ACT_LINEAR, 0, NTK_PARAM_STANDARD, 21);
  double X[20], K[25], M[16], a2 = 0.0;
  const double *W = net->params + net->w_off[0], *a = net->params + net->w_off[1];
  CHECK(net->widths[1] == N);
  fill_normal(X, P * D, 8);
  CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, P), IN(NULL, 0), NULL, NULL) == NTK_OK);
  for (i = 0; i < N; i++) a2 += a[i] * a[i];
  for (i = 0; i < D; i++)
    for (j = 0; j < D; j++) {
      double s = i == j ? a2 : 0.0;
      for (k = 0; k < N; k++) s += W[k * D + i] * W[k * D + j];
      M[i * D + j] = s;
    }
  for (mu = 0; mu < P; mu++)
    for (nu = 0; nu < P; nu++) {
      double s = 0.0;
      for (i = 0; i < D; i++)
        for (j = 0; j < D; j++) s += X[mu * D + i] * M[i * D + j] * X[nu * D + j];
      CHECK_NEAR(K[mu * P + nu], s, 1e-12 * (1.0 + fabs(s)));
    }
  ntk_mlp_free(net);
}

/* The Gram cache: hits when X is unchanged (even in another buffer), misses after an in-place
 * edit, and cached results equal fresh ones bit for bit. */
static void test_cache(void) {
  size_t P = 9, D = 5, n = P * P, i;
  ntk_mlp *net = make_net(2, D, 6, 1, NTK_ACT_RELU, 1, NTK_PARAM_STANDARD, 31);
  double X[45], Y[45], K1[81], K2[81], K3[81];
  ntk_kernel_ws *ws;
  ntk_kernel_opts o = {NTK_KERNEL_FULL, NULL, 0, NULL};
  fill_normal(X, P * D, 9);
  memcpy(Y, X, sizeof X);
  CHECK(ntk_kernel_ws_new(&ws, NULL) == NTK_OK);
  o.ws = ws;
  CHECK(ntk_kernel_ntk(K1, NULL, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_OK);
  CHECK(ntk_kernel_ws_hits(ws) == 0);
  CHECK(ntk_kernel_ntk(K2, NULL, net, IN(Y, P), IN(NULL, 0), &o, NULL) == NTK_OK);
  CHECK(ntk_kernel_ws_hits(ws) == 1);
  CHECK(memcmp(K1, K2, sizeof K1) == 0);
  Y[7] = nextafter(Y[7], 1e300); /* the smallest possible edit */
  CHECK(ntk_kernel_hash(X, 45) != ntk_kernel_hash(Y, 45));
  Y[7] = X[7] * 2.0;
  CHECK(ntk_kernel_ntk(K2, NULL, net, IN(Y, P), IN(NULL, 0), &o, NULL) == NTK_OK);
  CHECK(ntk_kernel_ws_hits(ws) == 1);
  CHECK(ntk_kernel_ntk(K3, NULL, net, IN(Y, P), IN(NULL, 0), NULL, NULL) == NTK_OK);
  CHECK(memcmp(K2, K3, sizeof K2) == 0);
  CHECK(ntk_kernel_ws_bytes(ws) > 0);
  ntk_kernel_ws_clear(ws);
  CHECK(ntk_kernel_ws_bytes(ws) == 0);
  for (i = 0; i < n; i++) CHECK(K1[i] == K1[(i % P) * P + i / P]); /* symmetric exactly */
  ntk_kernel_ws_free(ws);
  ntk_mlp_free(net);
}

/* K (m x n) against A B^T (A m x d, B n x d) summed by plain loops, to 1e-12 absolute or, with
 * relative set, 1e-12 (1 + |entry|). */
static void check_against_cross(const double *K, const double *A, const double *B, size_t m,
                                size_t n, size_t d, int relative) {
  double *R = malloc(m * n * sizeof *R);
  size_t i;
  ntk_test_cross(R, A, B, m, n, d);
  for (i = 0; i < m * n; i++) CHECK_NEAR(K[i], R[i], 1e-12 * (relative ? 1 + fabs(R[i]) : 1));
  free(R);
}

/* NNGP kernels are the Grams of the representations: layer 0 is X X^T, layer L is f f^T. */
static void test_nngp(void) {
  size_t P = 4, D = 3, Q = 2;
  ntk_mlp *net = make_net(3, D, 5, 2, NTK_ACT_ERF, 1, NTK_PARAM_STANDARD, 41);
  double X[12], X2[6], f1[8], f2[4], G0[16], GL[16], C0[8], CL[8];
  double *ks[4] = {G0, NULL, NULL, GL}, *kc[4] = {C0, NULL, NULL, CL};
  fill_normal(X, P * D, 10);
  fill_normal(X2, Q * D, 11);
  CHECK(ntk_kernel_nngp(ks, net, IN(X, P), IN(NULL, 0), NULL) == NTK_OK);
  CHECK(ntk_kernel_nngp(kc, net, IN(X, P), IN(X2, Q), NULL) == NTK_OK);
  CHECK(ntk_mlp_forward(net, f1, IN(X, P), NULL) == NTK_OK);
  CHECK(ntk_mlp_forward(net, f2, IN(X2, Q), NULL) == NTK_OK);
  /* input Grams to 1e-12 absolute, output Grams to 1e-12 relative */
  check_against_cross(G0, X, X, P, P, D, 0);
  check_against_cross(GL, f1, f1, P, P, 2, 1);
  check_against_cross(C0, X, X2, P, Q, D, 0);
  check_against_cross(CL, f1, f2, P, Q, 2, 1);
  ntk_mlp_free(net);
}

/* More samples than NTK_KERNEL_AUTO_TILE: the workspace path (cached Gram, tiled passes) and
 * the one-off path (auto tiles, no cache) against the reference, symmetric and cross. */
static void test_large_p(void) {
  size_t P = NTK_KERNEL_AUTO_TILE + 77, Q = NTK_KERNEL_AUTO_TILE + 5, D = 2, C = 2;
  ntk_mlp *net = make_net(3, D, 3, C, NTK_ACT_TANH, 1, NTK_PARAM_STANDARD, 51);
  double *X = malloc(P * D * sizeof *X), *X2 = malloc(Q * D * sizeof *X2);
  double *K = malloc(P * C * P * C * sizeof *K), *R = malloc(P * C * P * C * sizeof *R);
  double *lay[3];
  ntk_kernel_ws *ws;
  int out, l, with_ws, cross;
  fill_normal(X, P * D, 13);
  fill_normal(X2, Q * D, 14);
  for (l = 0; l < 3; l++) lay[l] = malloc(P * C * P * C * sizeof *K);
  CHECK(ntk_kernel_ws_new(&ws, NULL) == NTK_OK);
  for (out = NTK_KERNEL_FULL; out <= NTK_KERNEL_MEAN; out += 2)
    for (cross = 0; cross < 2; cross++)
      for (with_ws = 0; with_ws < 2; with_ws++) {
        ntk_kernel_opts o = {(ntk_kernel_output)out, NULL, 0, with_ws ? ws : NULL};
        size_t rows, cols, i, Pb = cross ? Q : P;
        const double *Xb = cross ? X2 : NULL;
        ntk_kernel_shape(&rows, &cols, (ntk_kernel_output)out, C, P, Pb);
        CHECK(ntk_kernel_ntk_ref(R, net, IN(X, P), IN(Xb, Pb), (ntk_kernel_output)out, ETA(NULL), 0, NULL) ==
              NTK_OK);
        CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, P), IN(Xb, Pb), &o, NULL) == NTK_OK);
        CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
        CHECK(ntk_kernel_ntk(K, lay, net, IN(X, P), IN(Xb, Pb), &o, NULL) == NTK_OK);
        CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
        o.tile = (size_t)-1; /* a tile larger than the kernel means untiled */
        CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, P), IN(Xb, Pb), &o, NULL) == NTK_OK);
        CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
        o.tile = 0;
        for (i = 0; i < rows * cols; i += 997) CHECK_NEAR(K[i], lay[0][i] + lay[1][i] + lay[2][i],
                                                         1e-12 * (1 + fabs(K[i])));
      }
  CHECK(ntk_kernel_ws_hits(ws) > 0);
  for (l = 0; l < 3; l++) free(lay[l]);
  ntk_kernel_ws_free(ws);
  NTK_TEST_FREE(X, X2, K, R);
  ntk_mlp_free(net);
}

/* Sizes past the 32 x 32 blocks of the symmetrizing pass (full off-diagonal blocks go through
 * 4 x 4 register tiles, the ragged edge and the diagonal blocks element by element), for C = 1
 * and 3, bias on and off, depths 2 and 3, untiled and tiled: the fast path matches the reference
 * and the symmetric kernel and its per-layer parts are exactly symmetric. Symmetric and cross
 * calls alternate on one workspace and one net, so the layer inputs read in place from the
 * forward cache (all but the first of two input sets) always belong to the right input set. */
static void test_mid_p(void) {
  const size_t sizes[2] = {70, 97}, Cs[2] = {1, 3};
  size_t D = 3, Q = 41;
  ntk_kernel_ws *ws;
  int si, ci, bias, depth;
  CHECK(ntk_kernel_ws_new(&ws, NULL) == NTK_OK);
  for (si = 0; si < 2; si++)
    for (ci = 0; ci < 2; ci++)
      for (bias = 0; bias < 2; bias++)
        for (depth = 2; depth <= 3; depth++) {
          size_t P = sizes[si], C = Cs[ci], n = P * C * P * C, rows, cols, i, j;
          ntk_mlp *net = make_net(depth, D, 6, C, NTK_ACT_RELU, bias, NTK_PARAM_STANDARD,
                                  (uint64_t)(300 + 10 * si + 4 * ci + 2 * bias + depth));
          double *X = malloc(P * D * sizeof *X), *X2 = malloc(Q * D * sizeof *X2);
          double *K = malloc(n * sizeof *K), *R = malloc(n * sizeof *R), *lay[3];
          int out, tiled, l;
          CHECK(net != NULL);
          fill_normal(X, P * D, 31);
          fill_normal(X2, Q * D, 32);
          for (l = 0; l < depth; l++) lay[l] = malloc(n * sizeof *K);
          for (out = NTK_KERNEL_FULL; out <= NTK_KERNEL_MEAN; out++)
            for (tiled = 0; tiled < 2; tiled++) {
              ntk_kernel_opts o = {(ntk_kernel_output)out, NULL, tiled ? 33 : 0, ws};
              ntk_kernel_shape(&rows, &cols, (ntk_kernel_output)out, C, P, P);
              CHECK(ntk_kernel_ntk_ref(R, net, IN(X, P), IN(NULL, 0), (ntk_kernel_output)out, ETA(NULL), 0,
                                       NULL) == NTK_OK);
              CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_OK);
              CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
              for (i = 0; i < rows; i++)
                for (j = 0; j < i; j++) CHECK(K[i * cols + j] == K[j * cols + i]);
              CHECK(ntk_kernel_ntk(K, lay, net, IN(X, P), IN(NULL, 0), &o, NULL) == NTK_OK);
              CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
              for (l = 0; l < depth; l++)
                for (i = 0; i < rows; i++)
                  for (j = 0; j < i; j++) CHECK(lay[l][i * cols + j] == lay[l][j * cols + i]);
              /* cross kernel next, then the symmetric one again, on the same workspace */
              ntk_kernel_shape(&rows, &cols, (ntk_kernel_output)out, C, P, Q);
              CHECK(ntk_kernel_ntk_ref(R, net, IN(X, P), IN(X2, Q), (ntk_kernel_output)out, ETA(NULL), 0,
                                       NULL) == NTK_OK);
              CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, P), IN(X2, Q), &o, NULL) == NTK_OK);
              CHECK(rel_diff(K, R, rows * cols) <= REL_TOL);
            }
          for (l = 0; l < depth; l++) free(lay[l]);
          NTK_TEST_FREE(X, X2, K, R);
          ntk_mlp_free(net);
        }
  ntk_kernel_ws_free(ws);
}

static void test_bad_args(void) {
  double X[4] = {1, 2, 3, 4}, K[4];
  ntk_error err;
  ntk_kernel_opts o = {(ntk_kernel_output)9, NULL, 0, NULL};
  ntk_mlp *net = make_net(1, 2, 1, 1, NTK_ACT_LINEAR, 0, NTK_PARAM_STANDARD, 1);
  /* argument positions count the parameters: K, layers, net, X1, X2, opts */
  CHECK(ntk_kernel_ntk(K, NULL, NULL, IN(X, 2), NULL, NULL, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, 0), IN(NULL, 0), NULL, &err) == NTK_ESHAPE &&
        err.arg == 4);
  CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, 2), IN(X, 2), NULL, &err) == NTK_OK);
  CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, 2), NTK_TEST_T2(X, 1, 4), NULL, &err) == NTK_ESHAPE &&
        err.arg == 5);
  CHECK(ntk_kernel_ntk(K, NULL, net, IN(X, 2), IN(NULL, 0), &o, &err) == NTK_EARG && err.arg == 6);
  CHECK(ntk_kernel_ntk_ref(K, net, IN(X, 2), IN(NULL, 0), NTK_KERNEL_FULL, ETA(NULL), 5, &err) == NTK_EARG);
  ntk_mlp_free(net);
}

int main(void) {
  ntk_threads_set(1);
  test_fast_equals_reference();
  test_layers();
  test_eta();
  test_linear_closed_form();
  test_cache();
  test_nngp();
  test_large_p();
  test_mid_p();
  test_bad_args();
  TEST_MAIN_END();
}
