/* bench_linalg.c: the cost of ntk_linalg's checks, packing and condition estimates against the
 * bare LAPACKE call a C programmer would write (which still has to copy its input, since LAPACK
 * overwrites it). Prints best-of-R times and the ratio ntk / raw. Not a test: no assertions.
 *
 * Built by CMake into build/bench/bench_linalg (scripts/setup builds ./build); run it from there.
 */
#include "bench_common.h"
#include <lapacke.h>

#define REPEATS 5

typedef struct bench_case {
  const ntk_tensor *A, *B;
  double *buf, *buf2, *buf3, *work;
  lapack_int *iwork;
} bench_case;

static void ntk_solve(bench_case *c) {
  ntk_tensor X = {0};
  ntk_error err;
  if (ntk_linalg_solve(&X, c->A, c->B, &err)) fprintf(stderr, "solve: %s\n", err.msg);
  ntk_tensor_release(&X);
}

static void raw_solve(bench_case *c) {
  size_t n = c->A->shape[0];
  /* LAPACKE's own row-major path transposes too; a careful caller copies once, col-major */
  size_t i, j;
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) c->buf[i + j * n] = ntk_tensor_at(c->A, i, j);
  memcpy(c->buf2, ntk_tensor_data(c->B), n * sizeof(double));
  LAPACKE_dgesv_work(LAPACK_COL_MAJOR, (lapack_int)n, 1, c->buf, (lapack_int)n, c->iwork, c->buf2,
                     (lapack_int)n);
}

static void ntk_eigh(bench_case *c) {
  ntk_tensor w = {0}, V = {0};
  ntk_error err;
  if (ntk_linalg_eigh(&w, &V, c->A, &err)) fprintf(stderr, "eigh: %s\n", err.msg);
  ntk_tensor_release(&w);
  ntk_tensor_release(&V);
}

static void raw_eigh(bench_case *c) {
  size_t n = c->A->shape[0];
  double wk;
  lapack_int iwk, info;
  /* symmetric: the row-major buffer is its own column-major copy */
  memcpy(c->buf, ntk_tensor_data(c->A), n * n * sizeof(double));
  LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)n, c->buf, (lapack_int)n, c->buf2,
                      &wk, -1, &iwk, -1);
  {
    double *work = malloc((size_t)wk * sizeof(double));
    lapack_int *iwork = malloc((size_t)iwk * sizeof(lapack_int));
    info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)n, c->buf, (lapack_int)n,
                               c->buf2, work, (lapack_int)wk, iwork, iwk);
    if (info) fprintf(stderr, "raw dsyevd info %d\n", (int)info);
    free(work);
    free(iwork);
  }
}

static void ntk_svd(bench_case *c) {
  ntk_tensor U = {0}, s = {0}, Vt = {0};
  ntk_error err;
  if (ntk_linalg_svd(&U, &s, &Vt, c->A, &err)) fprintf(stderr, "svd: %s\n", err.msg);
  ntk_tensor_release(&U);
  ntk_tensor_release(&s);
  ntk_tensor_release(&Vt);
}

static void raw_svd(bench_case *c) {
  size_t m = c->A->shape[0], n = c->A->shape[1], r = m < n ? m : n;
  double wk;
  lapack_int info;
  memcpy(c->buf, ntk_tensor_data(c->A), m * n * sizeof(double));
  /* the row-major buffer is A^T column-major: the same transposition trick as the library */
  LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)n, (lapack_int)m, c->buf, (lapack_int)n,
                      c->buf2, c->buf3, (lapack_int)n, c->buf3 + n * r, (lapack_int)r, &wk, -1,
                      c->iwork);
  {
    double *work = malloc((size_t)wk * sizeof(double));
    info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)n, (lapack_int)m, c->buf,
                               (lapack_int)n, c->buf2, c->buf3, (lapack_int)n, c->buf3 + n * r,
                               (lapack_int)r, work, (lapack_int)wk, c->iwork);
    if (info) fprintf(stderr, "raw dgesdd info %d\n", (int)info);
    free(work);
  }
}

static double best_of(void (*f)(bench_case *), bench_case *c) {
  double best = 1e300;
  int k;
  for (k = 0; k < REPEATS; k++) {
    double t0 = now(), t;
    f(c);
    t = now() - t0;
    if (t < best) best = t;
  }
  return best;
}

static void compare(const char *name, size_t n, void (*mine)(bench_case *),
                    void (*raw)(bench_case *), bench_case *c) {
  /* alternate the order so neither side always runs on a warm cache */
  double t_raw = best_of(raw, c), t_ntk = best_of(mine, c);
  double t_raw2 = best_of(raw, c);
  if (t_raw2 < t_raw) t_raw = t_raw2;
  printf("%-6s n=%-5zu raw %8.2f ms   ntk %8.2f ms   ntk/raw %.3f\n", name, n, 1e3 * t_raw,
         1e3 * t_ntk, t_ntk / t_raw);
}

int main(int argc, char **argv) {
  size_t sizes[] = {200, 500, 1000}, k;
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  ntk_rng rng;
  ntk_error err;
  ntk_threads_set(threads);
  printf("OpenBLAS threads: %d, best of %d\n", ntk_threads_get(), REPEATS);
  ntk_rng_seed(&rng, 1);
  for (k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    size_t n = sizes[k], i, j;
    ntk_tensor A = {0}, S = {0}, b = {0};
    bench_case c;
    ntk_tensor_init_2d(&A, n, n, &err);
    ntk_tensor_init_2d(&S, n, n, &err);
    ntk_tensor_init_1d(&b, n, &err);
    ntk_rng_fill_normal(&rng, &A, 0.0, 1.0);
    ntk_rng_fill_normal(&rng, &b, 0.0, 1.0);
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++)
        *ntk_tensor_ptr(&S, i, j) = ntk_tensor_at(&A, i, j) + ntk_tensor_at(&A, j, i);
    c.buf = malloc(n * n * sizeof(double));
    c.buf2 = malloc(n * sizeof(double));
    c.buf3 = malloc(2 * n * n * sizeof(double));
    c.iwork = malloc(8 * n * sizeof(lapack_int));
    c.A = &A;
    c.B = &b;
    compare("solve", n, ntk_solve, raw_solve, &c);
    c.A = &S;
    compare("eigh", n, ntk_eigh, raw_eigh, &c);
    c.A = &A;
    compare("svd", n, ntk_svd, raw_svd, &c);
    free(c.buf);
    free(c.buf2);
    free(c.buf3);
    free(c.iwork);
    ntk_tensor_release(&A);
    ntk_tensor_release(&S);
    ntk_tensor_release(&b);
  }
  return 0;
}
