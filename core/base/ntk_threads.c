/* ntk_threads.c: OpenBLAS thread control (openblas_set_num_threads is OpenBLAS's own API). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "ntk_threads.h"

#include <sched.h>
#include <unistd.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

int ntk_threads_cores(void) {
  cpu_set_t set;
  long n;
  /* the affinity mask is what taskset and cpusets leave this process */
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int ntk_threads_set(int n) {
  int cores = ntk_threads_cores();
  if (n > cores) n = cores;
  if (n >= 1) openblas_set_num_threads(n);
  return openblas_get_num_threads();
}

int ntk_threads_get(void) { return openblas_get_num_threads(); }
