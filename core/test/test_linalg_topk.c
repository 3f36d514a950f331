/* test_linalg_topk.c: the block Lanczos top-k eigenvalues (ntk_linalg_topk.h) against the full
 * solver (dsyevd), on both product paths (the AVX-512 loops where the CPU has them, cblas_dgemm),
 * on an NTK-like spectrum (fast decay), a clustered top (the k-th eigenvalue inside a cluster of
 * relative gaps 1e-3), and a low-rank matrix (the Krylov space stops growing: 0, so the caller
 * falls back to dsyevr). */
#include <cblas.h>
#include <string.h>

#include "../ntk.h"
#include "ntk_linalg_topk.h"
#include "ntk_test.h"

/* The bar (issue 17): the solver aims at 1e-12 (NTK_LINALG_TOPK_RTOL), and dsyevd's own
 * error is a few eps |A| (1e-14 relative for these spectra). */
#define REL_TOL 1e-10

/* A (n x n) <- V diag(lambda) V^T, exactly symmetric, for V the eigenvectors of a random
 * symmetric matrix (seeded). */
static void with_spectrum(ntk_tensor *A, size_t n, const double *lambda, uint64_t seed) {
  ntk_tensor S = {0}, w = {0}, V = {0};
  ntk_error err;
  double *s, *v, *a, *vl = malloc(n * n * sizeof *vl);
  size_t i, j;
  CHECK(ntk_tensor_init_2d(&S, n, n, &err) == NTK_OK && ntk_tensor_init_2d(A, n, n, &err) == NTK_OK);
  s = ntk_tensor_data(&S);
  fill_normal(s, n * n, seed);
  for (i = 0; i < n; i++)
    for (j = 0; j < i; j++) s[j * n + i] = s[i * n + j];
  CHECK(ntk_linalg_eigh(&w, &V, &S, &err) == NTK_OK);
  v = ntk_tensor_data(&V);
  a = ntk_tensor_data(A);
  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++) vl[i * n + j] = v[i * n + j] * lambda[j];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, vl, (int)n, v,
              (int)n, 0.0, a, (int)n);
  for (i = 0; i < n; i++)
    for (j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = 0.5 * (a[i * n + j] + a[j * n + i]);
  free(vl);
  NTK_TEST_RELEASE(&S, &w, &V);
}

/* Max over the k largest of |top - ref| / |ref|, ref A's eigenvalues from dsyevd (ascending). */
static double worst(const double *top, const ntk_tensor *all, size_t k) {
  const double *e = ntk_tensor_data(all);
  size_t n = all->shape[0], t;
  double w = 0.0;
  for (t = 0; t < k; t++) w = fmax(w, fabs(top[t] - e[n - 1 - t]) / fabs(e[n - 1 - t]));
  return w;
}

/* Both product paths converge on A, match the full solver and each other, and repeat their bits. */
static void check_spectrum(const char *name, const double *lambda, size_t n, size_t k) {
  ntk_tensor A = {0}, all = {0};
  ntk_error err;
  double top[2][16], again[16];
  size_t steps[2], t;
  int p;
  with_spectrum(&A, n, lambda, 7);
  CHECK(ntk_linalg_eigh(&all, NULL, &A, &err) == NTK_OK);
  for (p = 0; p < 2; p++) {
    ntk_linalg_topk_products which = p ? NTK_LINALG_TOPK_BLAS : NTK_LINALG_TOPK_AUTO;
    CHECK(ntk_linalg_topk_krylov(top[p], ntk_tensor_data(&A), n, n, k, which, &steps[p], &err) == 1);
    CHECK(worst(top[p], &all, k) <= REL_TOL);
    CHECK(ntk_linalg_topk_krylov(again, ntk_tensor_data(&A), n, n, k, which, NULL, &err) == 1);
    CHECK(memcmp(again, top[p], k * sizeof *again) == 0);
  }
  for (t = 0; t < k; t++) CHECK(fabs(top[0][t] - top[1][t]) <= REL_TOL * fabs(top[1][t]));
  printf("%s: n = %zu, k = %zu, %zu / %zu block steps, worst %.1e\n", name, n, k, steps[0], steps[1],
         worst(top[0], &all, k));
  NTK_TEST_RELEASE(&A, &all);
}

/* n not a multiple of 8: the products' last rows take the short loop */
static void test_ntk_like(void) {
  size_t n = 601, i;
  double *lambda = malloc(n * sizeof *lambda);
  /* an NTK's spectrum: a dominant eigenvalue, then fast decay to a floor */
  for (i = 0; i < n; i++) lambda[i] = 1e-3 + (i == n - 1 ? 100.0 : 30.0 * pow(0.8, (double)(n - 2 - i)));
  check_spectrum("ntk-like", lambda, n, 5);
  check_spectrum("ntk-like", lambda, n, 1);
  check_spectrum("ntk-like", lambda, n, 12);
  free(lambda);
}

static void test_clustered(void) {
  size_t n = 603, i;
  double *lambda = malloc(n * sizeof *lambda);
  /* ten eigenvalues 1e-3 apart (relative) at the top, the 5th and 6th among them, above a slowly
   * decaying bulk */
  for (i = 0; i < n; i++) {
    size_t r = n - 1 - i; /* rank from the top */
    lambda[i] = r < 10 ? 10.0 * (1.0 - 1e-3 * (double)r) : 5.0 * pow(0.99, (double)r);
  }
  check_spectrum("clustered", lambda, n, 5);
  free(lambda);
}

static void test_low_rank(void) {
  size_t n = 400, i;
  double *lambda = calloc(n, sizeof *lambda), top[5];
  ntk_tensor A = {0};
  ntk_error err;
  for (i = n - 6; i < n; i++) lambda[i] = (double)(i - n + 7); /* rank 6 < the block of 8 */
  with_spectrum(&A, n, lambda, 3);
  CHECK(ntk_linalg_topk_krylov(top, ntk_tensor_data(&A), n, n, 5, NTK_LINALG_TOPK_AUTO, NULL,
                               &err) == 0);
  free(lambda);
  NTK_TEST_RELEASE(&A);
}

/* A workspace past what the process may use is -1 with NTK_ENOMEM in err (NTK_ENOMEM itself is
 * positive, and ntk_linalg_eigh_top read it as "converged": a result never written). A at
 * n = 10^8 is never read: the workspace (262 GB) is refused first. */
static void test_no_memory(void) {
  double a = 0.0, top[5];
  ntk_error err;
  err.status = NTK_OK;
  CHECK(ntk_linalg_topk_krylov(top, &a, 1, (size_t)100000000, 5, NTK_LINALG_TOPK_AUTO, NULL,
                               &err) == -1);
  CHECK(err.status == NTK_ENOMEM);
}

int main(void) {
  test_ntk_like();
  test_clustered();
  test_low_rank();
  test_no_memory();
  TEST_MAIN_END();
}
