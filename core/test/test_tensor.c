/* test_tensor.c: storage refcounting, views and their lifetime, shape checks. */
#include "../ntk.h"
#include "ntk_test.h"

static void test_views_share_storage(void) {
  ntk_tensor a = {0}, row = {0}, col = {0}, tr = {0}, nar = {0};
  ntk_error err;
  size_t i, j;
  CHECK(ntk_tensor_init_2d(&a, 3, 4, &err) == NTK_OK);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 4; j++) *ntk_tensor_ptr(&a, i, j) = (double)(10 * i + j);
  CHECK(ntk_tensor_select(&row, &a, 0, 1, &err) == NTK_OK);
  CHECK(row.ndim == 1 && row.shape[0] == 4);
  CHECK(ntk_tensor_at(&row, 2, 0) == 12.0);
  CHECK(ntk_tensor_select(&col, &a, 1, 3, &err) == NTK_OK);
  CHECK(col.shape[0] == 3 && ntk_tensor_at(&col, 2, 0) == 23.0);
  CHECK(ntk_tensor_transpose(&tr, &a, &err) == NTK_OK);
  CHECK(tr.shape[0] == 4 && tr.shape[1] == 3 && ntk_tensor_at(&tr, 3, 2) == 23.0);
  CHECK(!ntk_tensor_is_contiguous(&tr));
  CHECK(ntk_tensor_narrow(&nar, &tr, 1, 1, 2, &err) == NTK_OK);
  CHECK(ntk_tensor_at(&nar, 0, 0) == 10.0 && ntk_tensor_at(&nar, 3, 1) == 23.0);
  CHECK(a.storage->refcount == 5);
  /* the parent goes first; the views keep the storage alive */
  ntk_tensor_release(&a);
  CHECK(a.storage == NULL);
  CHECK(ntk_tensor_at(&nar, 2, 1) == 22.0);
  ntk_tensor_release(&row);
  ntk_tensor_release(&col);
  ntk_tensor_release(&tr);
  ntk_tensor_release(&nar);
  ntk_tensor_release(&nar); /* idempotent */
}

static void test_bad_arguments(void) {
  ntk_tensor a = {0}, v = {0};
  ntk_error err;
  size_t shape[2] = {(size_t)1 << 32, (size_t)1 << 32};
  CHECK(ntk_tensor_init(&a, 2, shape, &err) == NTK_ENOMEM);
  CHECK(a.storage == NULL);
  CHECK(ntk_tensor_init(&a, 3, shape, &err) == NTK_EARG && err.arg == 2);
  CHECK(ntk_tensor_init_2d(&a, 2, 3, &err) == NTK_OK);
  CHECK(ntk_tensor_narrow(&v, &a, 0, 1, 2, &err) == NTK_ERANGE);
  CHECK(v.storage == NULL);
  CHECK(ntk_tensor_select(&v, &a, 1, 3, &err) == NTK_ERANGE);
  shape[0] = 4;
  shape[1] = 2;
  CHECK(ntk_tensor_reshape(&v, &a, 2, shape, &err) == NTK_ESHAPE);
  shape[0] = 3;
  CHECK(ntk_tensor_reshape(&v, &a, 2, shape, &err) == NTK_OK);
  CHECK(v.shape[0] == 3 && v.shape[1] == 2);
  ntk_tensor_release(&v);
  ntk_tensor_release(&a);
}

static void test_rng_determinism(void) {
  ntk_rng r1, r2;
  size_t perm[10], i, seen = 0;
  double sum = 0, sq = 0;
  const int n = 200000;
  int k;
  ntk_rng_seed(&r1, 42);
  ntk_rng_seed(&r2, 42);
  for (k = 0; k < 1000; k++) CHECK(ntk_rng_u64(&r1) == ntk_rng_u64(&r2));
  /* xoshiro256** reference: first output for state from splitmix64(0) is fixed forever */
  ntk_rng_seed(&r1, 0);
  CHECK(ntk_rng_u64(&r1) == 0x99ec5f36cb75f2b4ULL);
  for (k = 0; k < n; k++) {
    double z = ntk_rng_normal(&r1);
    sum += z;
    sq += z * z;
  }
  /* mean within 5 standard errors (1/sqrt(n)), variance within 5 * sqrt(2/n) */
  CHECK_NEAR(sum / n, 0.0, 5.0 / sqrt((double)n));
  CHECK_NEAR(sq / n, 1.0, 5.0 * sqrt(2.0 / n));
  ntk_rng_permutation(&r1, perm, 10);
  for (i = 0; i < 10; i++) seen |= (size_t)1 << perm[i];
  CHECK(seen == 0x3ff);
}

int main(void) {
  test_views_share_storage();
  test_bad_arguments();
  test_rng_determinism();
  TEST_MAIN_END();
}
