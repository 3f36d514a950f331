/* ntk_threads.c: OpenBLAS thread control (openblas_set_num_threads is OpenBLAS's own API). */
#include "ntk_threads.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

int ntk_threads_set(int n) {
  if (n >= 1) openblas_set_num_threads(n);
  return openblas_get_num_threads();
}

int ntk_threads_get(void) { return openblas_get_num_threads(); }
