/* ntk_test.h: a minimal test harness for the C unit tests (one executable per concept).
 * CHECK records a failure and goes on; the process exits non-zero if any check failed. */
#ifndef NTK_TEST_H
#define NTK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntk_tensor.h"

/* Tensors over a test's plain arrays (the API takes tensors; most tests keep their data in
 * arrays): the storage record is a compound literal holding one reference that is never
 * dropped, so the core never frees the array. Valid in the enclosing block. */
#define NTK_TEST_T2(d, r, c)                                                        \
  (&(ntk_tensor){&(ntk_storage){(double *)(d), (size_t)(r) * (size_t)(c), 1}, 0, 2, \
                 {(size_t)(r), (size_t)(c)}, {(ptrdiff_t)(c), 1}})
#define NTK_TEST_T1(d, n) \
  (&(ntk_tensor){&(ntk_storage){(double *)(d), (size_t)(n), 1}, 0, 1, {(size_t)(n), 1}, {1, 1}})

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
