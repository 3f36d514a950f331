/* bench_common.h: what the C benchmarks share: a monotonic clock. Not a test: no assertions. */
#ifndef NTK_BENCH_COMMON_H
#define NTK_BENCH_COMMON_H

#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ntk.h"

/* Seconds on the monotonic clock. */
static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
