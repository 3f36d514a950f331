/* ntk_test.h: a minimal test harness for the C unit tests (one executable per concept).
 * CHECK records a failure and goes on; the process exits non-zero if any check failed. */
#ifndef NTK_TEST_H
#define NTK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
