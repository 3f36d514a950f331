/* matmul_raw.c: the baseline of bench/matmul.lua, a bare cblas_dgemm on n x n row-major
 * matrices, timed the same way the Lua side times ntklab.matmul(a, b, out).
 *
 *   bench_matmul_raw N REPS THREADS  ->  prints "best_seconds <s>" (the fastest of REPS calls,
 *                                        after one untimed warm-up call) */
#include "bench_common.h" /* now(): monotonic seconds, what ntklab.clock returns in Lua */
#include <cblas.h>

int main(int argc, char **argv) {
  size_t n;
  int reps, threads, r;
  double *a, *b, *c, best = 1e300;
  ntk_rng rng;
  if (argc != 4) {
    fprintf(stderr, "usage: %s N REPS THREADS\n", argv[0]);
    return 2;
  }
  n = (size_t)strtoul(argv[1], NULL, 10);
  reps = atoi(argv[2]);
  threads = atoi(argv[3]);
  if (n == 0 || reps < 1 || threads < 1) {
    fprintf(stderr, "%s: N, REPS and THREADS must be positive\n", argv[0]);
    return 2;
  }
  ntk_threads_set(threads);
  a = malloc(n * n * sizeof *a);
  b = malloc(n * n * sizeof *b);
  c = calloc(n * n, sizeof *c);
  if (!a || !b || !c) {
    fprintf(stderr, "%s: out of memory\n", argv[0]);
    return 1;
  }
  ntk_rng_seed(&rng, 1);
  ntk_rng_fill_normal_buf(&rng, a, n * n, 0.0, 1.0);
  ntk_rng_fill_normal_buf(&rng, b, n * n, 0.0, 1.0);
  for (r = -1; r < reps; r++) {
    double t0 = now(), dt;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, a, (int)n,
                b, (int)n, 0.0, c, (int)n);
    dt = now() - t0;
    if (r >= 0 && dt < best) best = dt; /* r = -1 is the warm-up */
  }
  printf("best_seconds %.9f\n", best);
  free(a);
  free(b);
  free(c);
  return 0;
}
