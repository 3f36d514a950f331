/* test_tensor_ops.c: the C API of the tensor operations as a C host sees it: status codes and
 * argument positions, overlap handling, broadcasting operands, reductions into strided
 * destinations, where with scalars. (The Lua specs check every op against plain Lua.) */
#include <string.h>

#include "../ntk.h"
#include "ntk_test.h"

static void set_ramp(ntk_tensor *t) {
  size_t i, j;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++) *ntk_tensor_ptr(t, i, j) = (double)(10 * i + j);
}

static void test_errors_name_arguments(void) {
  ntk_tensor a = {0}, b = {0}, released = {0}, out = {0};
  ntk_error err;
  size_t idx[2] = {0, 5};
  double v;
  ntk_tensor_init_2d(&a, 2, 3, &err);
  ntk_tensor_init_2d(&b, 3, 2, &err);
  CHECK(ntk_tensor_binop(&a, &a, NTK_OP_ADD, &b, &err) == NTK_ESHAPE);
  CHECK(err.arg == 4 && strstr(err.msg, "[2 x 3] + [3 x 2]") != NULL);
  CHECK(ntk_tensor_binop(&a, &a, NTK_OP_COUNT, &a, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_tensor_map(&a, &released, NTK_MAP_EXP, &err) == NTK_ERELEASED && err.arg == 2);
  CHECK(ntk_tensor_map(&b, &a, NTK_MAP_EXP, &err) == NTK_ESHAPE && err.arg == 1);
  CHECK(ntk_tensor_clamp(&a, &a, 2.0, 1.0, &err) == NTK_EARG);
  CHECK(ntk_tensor_copy(&a, &b, &err) == NTK_ESHAPE && err.arg == 2);
  CHECK(ntk_tensor_reduce(&v, &released, NTK_REDUCE_SUM, &err) == NTK_ERELEASED && err.arg == 2);
  CHECK(ntk_tensor_reduce_dim(&b, &a, 2, NTK_REDUCE_SUM, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_tensor_dot(&v, &a, &a, &err) == NTK_ESHAPE && err.arg == 2);
  CHECK(ntk_tensor_gather_rows(&out, &a, idx, 2, &err) == NTK_ERANGE && err.arg == 3);
  CHECK(out.storage == NULL); /* nothing allocated on failure */
  CHECK(ntk_tensor_count_nonfinite(&released) == 0);
  ntk_tensor_release(&a);
  ntk_tensor_release(&b);
}

/* Writing into memory an input still has to be read: results as if the input were copied. */
static void test_overlap(void) {
  ntk_tensor a = {0}, t = {0}, row = {0}, sums = {0};
  ntk_error err;
  size_t i, j;
  ntk_tensor_init_2d(&a, 3, 3, &err);
  set_ramp(&a);
  ntk_tensor_transpose(&t, &a, &err);
  CHECK(ntk_tensor_binop(&a, &a, NTK_OP_SUB, &t, &err) == NTK_OK); /* a <- a - a^T */
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) CHECK(ntk_tensor_at(&a, i, j) == 9.0 * ((double)i - (double)j));
  /* a <- a + a[0, :] broadcast, where row 0 itself is overwritten first */
  set_ramp(&a);
  ntk_tensor_select(&row, &a, 0, 0, &err);
  CHECK(ntk_tensor_binop(&a, &a, NTK_OP_ADD, &row, &err) == NTK_OK);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) CHECK(ntk_tensor_at(&a, i, j) == (double)(10 * i + 2 * j));
  /* per-row sums written into a's own first column */
  set_ramp(&a);
  ntk_tensor_release(&row);
  ntk_tensor_select(&sums, &a, 1, 0, &err);
  CHECK(ntk_tensor_reduce_dim(&sums, &a, 1, NTK_REDUCE_SUM, &err) == NTK_OK);
  for (i = 0; i < 3; i++) CHECK(ntk_tensor_at(&a, i, 0) == (double)(30 * i + 3));
  NTK_TEST_RELEASE(&a, &t, &sums);
}

static void test_scalars_where_and_reductions(void) {
  ntk_tensor a = {0}, d = {0}, cond = {0}, col = {0}, dst = {0};
  ntk_error err;
  size_t i, j;
  double v;
  ntk_tensor_init_2d(&a, 2, 3, &err);
  ntk_tensor_init_2d(&d, 2, 3, &err);
  set_ramp(&a); /* 0 1 2 / 10 11 12 */
  CHECK(ntk_tensor_scalar_binop(&d, 1.0, NTK_OP_SUB, &a, &err) == NTK_OK);
  CHECK(ntk_tensor_at(&d, 1, 2) == -11.0);
  CHECK(ntk_tensor_binop_scalar(&d, &a, NTK_OP_GE, 10.0, &err) == NTK_OK);
  CHECK(ntk_tensor_at(&d, 0, 2) == 0.0 && ntk_tensor_at(&d, 1, 0) == 1.0);
  ntk_tensor_init_2d(&cond, 2, 3, &err);
  ntk_tensor_copy(&cond, &d, &err);
  CHECK(ntk_tensor_where(&d, &cond, &a, 0.0, NULL, -1.0, &err) == NTK_OK);
  for (i = 0; i < 2; i++)
    for (j = 0; j < 3; j++) CHECK(ntk_tensor_at(&d, i, j) == (i ? ntk_tensor_at(&a, i, j) : -1.0));
  /* a column [2 x 1] broadcasts over the columns */
  ntk_tensor_init_2d(&col, 2, 1, &err);
  *ntk_tensor_ptr(&col, 1, 0) = 100.0;
  CHECK(ntk_tensor_binop(&d, &a, NTK_OP_ADD, &col, &err) == NTK_OK);
  CHECK(ntk_tensor_at(&d, 0, 2) == 2.0 && ntk_tensor_at(&d, 1, 2) == 112.0);
  /* column maxima into a strided destination: every second element of a 1-D buffer */
  ntk_tensor_init_1d(&dst, 6, &err);
  {
    ntk_tensor strided = {0};
    ntk_tensor_view(&strided, &dst);
    strided.shape[0] = 3;
    strided.stride[0] = 2;
    CHECK(ntk_tensor_reduce_dim(&strided, &a, 0, NTK_REDUCE_ARGMIN, &err) == NTK_OK);
    CHECK(ntk_tensor_reduce_dim(&strided, &a, 0, NTK_REDUCE_MAX, &err) == NTK_OK);
    ntk_tensor_release(&strided);
  }
  CHECK(ntk_tensor_at(&dst, 0, 0) == 10.0 && ntk_tensor_at(&dst, 2, 0) == 11.0 &&
        ntk_tensor_at(&dst, 4, 0) == 12.0 && ntk_tensor_at(&dst, 1, 0) == 0.0);
  CHECK(ntk_tensor_reduce(&v, &a, NTK_REDUCE_ARGMAX, &err) == NTK_OK && v == 5.0);
  CHECK(ntk_tensor_reduce(&v, &a, NTK_REDUCE_MEAN, &err) == NTK_OK && v == 6.0);
  NTK_TEST_RELEASE(&a, &d, &cond, &col, &dst);
}

int main(void) {
  test_errors_name_arguments();
  test_overlap();
  test_scalars_where_and_reductions();
  TEST_MAIN_END();
}
