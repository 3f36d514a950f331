/* ntk_test.h: a minimal test harness for the C unit tests (one executable per concept).
 * CHECK records a failure and goes on; the process exits non-zero if any check failed. */
#ifndef NTK_TEST_H
#define NTK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntk_mlp.h"
#include "ntk_rng.h"
#include "ntk_tensor.h"

/* Releases every tensor listed (addresses), and frees every buffer listed: the end of a test. */
#define NTK_TEST_RELEASE(...)                                                     \
  do {                                                                            \
    ntk_tensor *ntk_r_[] = {__VA_ARGS__};                                         \
    size_t ntk_i_;                                                                \
    for (ntk_i_ = 0; ntk_i_ < sizeof ntk_r_ / sizeof *ntk_r_; ntk_i_++)           \
      ntk_tensor_release(ntk_r_[ntk_i_]);                                         \
  } while (0)
#define NTK_TEST_FREE(...)                                                        \
  do {                                                                            \
    void *ntk_f_[] = {__VA_ARGS__};                                               \
    size_t ntk_i_;                                                                \
    for (ntk_i_ = 0; ntk_i_ < sizeof ntk_f_ / sizeof *ntk_f_; ntk_i_++) free(ntk_f_[ntk_i_]); \
  } while (0)

/* x[0..n) <- N(0, 1) draws of the generator seeded with seed. */
static inline void fill_normal(double *x, size_t n, uint64_t seed) {
  ntk_rng rng;
  ntk_rng_seed(&rng, seed);
  ntk_rng_fill_normal_buf(&rng, x, n, 0.0, 1.0);
}

/* C (m x n) <- A (m x k) times B (k x n), or times B^T for B (n x k) when bt is set; row-major,
 * by plain loops: the reference products of the tests. */
static inline void ntk_test_product(double *C, const double *A, const double *B, size_t m,
                                    size_t k, size_t n, int bt) {
  size_t i, j, a;
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++) {
      double s = 0;
      for (a = 0; a < k; a++) s += A[i * k + a] * (bt ? B[j * k + a] : B[a * n + j]);
      C[i * n + j] = s;
    }
}
#define ntk_test_matmul(C, A, B, m, k, n) ntk_test_product((C), (A), (B), (m), (k), (n), 0)
/* G (m x n) <- A B^T for A (m x d), B (n x d); ntk_test_gram: A A^T. */
#define ntk_test_cross(G, A, B, m, n, d) ntk_test_product((G), (A), (B), (m), (d), (n), 1)
#define ntk_test_gram(G, A, m, d) ntk_test_cross((G), (A), (A), (m), (m), (d))

/* A net with one activation and one sigma for every layer, from a seeded generator; NULL when
 * ntk_mlp_new refuses the configuration (err, may be NULL, says why). */
static inline ntk_mlp *ntk_test_mlp(int depth, const size_t *widths, ntk_activation act, int bias,
                                    ntk_param param, ntk_init init, double sigma,
                                    double bias_sigma, uint64_t seed, ntk_error *err) {
  ntk_activation acts[NTK_MLP_MAX_DEPTH];
  double sigmas[NTK_MLP_MAX_DEPTH];
  ntk_mlp_config cfg = {.depth = depth, .widths = widths, .act = acts, .bias = bias,
                        .param = param, .sigma = sigmas, .bias_sigma = bias_sigma, .init = init};
  ntk_rng rng;
  ntk_mlp *net = NULL;
  int l;
  for (l = 0; l < depth && l < NTK_MLP_MAX_DEPTH; l++) {
    acts[l] = act;
    sigmas[l] = sigma;
  }
  ntk_rng_seed(&rng, seed);
  return ntk_mlp_new(&net, &cfg, &rng, err) == NTK_OK ? net : NULL;
}

/* Tensors over a test's plain arrays (the API takes tensors; most tests keep their data in
 * arrays): the storage record is a compound literal holding one reference that is never
 * dropped, so the core never frees the array. Valid in the enclosing block. */
#define NTK_TEST_T2(d, r, c)                                                        \
  (&(ntk_tensor){&(ntk_storage){(double *)(d), (size_t)(r) * (size_t)(c), 1, NULL}, 0, 2, \
                 {(size_t)(r), (size_t)(c)}, {(ptrdiff_t)(c), 1}})
#define NTK_TEST_T1(d, n) \
  (&(ntk_tensor){&(ntk_storage){(double *)(d), (size_t)(n), 1, NULL}, 0, 1, {(size_t)(n), 1}, {1, 1}})

static int ntk_test_failures = 0;
static int ntk_test_checks = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    ntk_test_checks++;                                                       \
    if (!(cond)) {                                                           \
      ntk_test_failures++;                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
  do {                                                                                 \
    double ntk_a_ = (a), ntk_b_ = (b);                                                 \
    ntk_test_checks++;                                                                 \
    if (!(fabs(ntk_a_ - ntk_b_) <= (tol))) {                                           \
      ntk_test_failures++;                                                             \
      fprintf(stderr, "%s:%d: %s = %.17g, %s = %.17g, |diff| > %g\n", __FILE__, __LINE__, \
              #a, ntk_a_, #b, ntk_b_, (double)(tol));                                  \
    }                                                                                  \
  } while (0)

#define TEST_MAIN_END()                                                               \
  do {                                                                                \
    printf("%d checks, %d failed\n", ntk_test_checks, ntk_test_failures);             \
    return ntk_test_failures ? EXIT_FAILURE : EXIT_SUCCESS;                           \
  } while (0)

#endif
