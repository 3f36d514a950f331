/* ntk_clock.c: the monotonic clock (wall time: BLAS runs several threads, so CPU time would
 * overstate the cost of parallel work). */
#define _POSIX_C_SOURCE 199309L
#include "ntk_clock.h"

#include <time.h>

double ntk_clock_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
