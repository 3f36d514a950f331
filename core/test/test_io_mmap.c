/* test_io_mmap.c: paged NPY row blocks written and mapped back as one tensor: the values bit
 * for bit, the header numpy expects, the file untouched by a write through the mapping, a view
 * that outlives the tensor it came from, and the refusals (short file, misaligned block). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ntk.h"
#include "ntk_test.h"

static void fill(ntk_tensor *t, double base) {
  size_t i, j;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++) *ntk_tensor_ptr(t, i, j) = base + (double)(i * 1000 + j) / 7.0;
}

int main(void) {
  char dir[] = "/tmp/ntk_test_mmap_XXXXXX", a[64], b[64];
  const char *paths[2];
  size_t rows[2] = {8, 3}, cols = 128, i, j;
  ntk_tensor A = {0}, B = {0}, M = {0}, V = {0}, R = {0};
  ntk_error err;
  int same = 1;
  CHECK(mkdtemp(dir) != NULL);
  snprintf(a, sizeof a, "%s/a.npy", dir);
  snprintf(b, sizeof b, "%s/b.npy", dir);
  paths[0] = a;
  paths[1] = b;
  CHECK(ntk_io_paged_row_unit(cols) == 4); /* 4096 / gcd(1024, 4096) */
  CHECK(ntk_tensor_init_2d(&A, rows[0], cols, &err) == NTK_OK);
  CHECK(ntk_tensor_init_2d(&B, rows[1], cols, &err) == NTK_OK);
  fill(&A, 1);
  fill(&B, -5);
  CHECK(ntk_io_write_npy_paged(a, &A, NTK_NPY_F8, &err) == NTK_OK);
  CHECK(ntk_io_write_npy_paged(b, &B, NTK_NPY_F8, &err) == NTK_OK);
  /* the ordinary reader reads a paged file */
  CHECK(ntk_io_read_npy(&R, NULL, NULL, b, &err) == NTK_OK);
  CHECK(R.shape[0] == 3 && R.shape[1] == cols && memcmp(ntk_tensor_data(&R), ntk_tensor_data(&B), 3 * cols * 8) == 0);
  ntk_tensor_release(&R);

  CHECK(ntk_io_map_npy_rows(&M, paths, rows, 2, cols, &err) == NTK_OK);
  CHECK(M.shape[0] == 11 && M.shape[1] == cols);
  for (i = 0; i < 11; i++)
    for (j = 0; j < cols; j++) {
      double want = i < 8 ? ntk_tensor_at(&A, i, j) : ntk_tensor_at(&B, i - 8, j);
      if (memcmp(&want, ntk_tensor_ptr(&M, i, j), 8) != 0) same = 0;
    }
  CHECK(same);
  *ntk_tensor_ptr(&M, 0, 0) = 42; /* private: the file keeps its value */
  CHECK(ntk_io_read_npy(&R, NULL, NULL, a, &err) == NTK_OK);
  CHECK(ntk_tensor_at(&R, 0, 0) == ntk_tensor_at(&A, 0, 0));
  ntk_tensor_release(&R);
  CHECK(ntk_tensor_narrow(&V, &M, 0, 9, 2, &err) == NTK_OK);
  ntk_tensor_release(&M); /* the view keeps the mapping */
  CHECK(ntk_tensor_at(&V, 1, 5) == ntk_tensor_at(&B, 2, 5));
  ntk_tensor_release(&V); /* unmaps (ASan/valgrind would see a leak otherwise) */

  /* refusals: a block past a page boundary, a row count the file does not hold */
  rows[0] = 3;
  paths[0] = b;
  paths[1] = a;
  rows[1] = 8;
  CHECK(ntk_io_map_npy_rows(&M, paths, rows, 2, cols, &err) == NTK_EIO);
  CHECK(strstr(err.msg, "not on a page") != NULL);
  rows[0] = 4;
  CHECK(ntk_io_map_npy_rows(&M, paths, rows, 1, cols, &err) == NTK_EFORMAT);
  CHECK(M.storage == NULL);
  CHECK(ntk_io_map_npy_rows(&M, paths, rows, 0, cols, &err) == NTK_EARG);

  ntk_tensor_release(&A);
  ntk_tensor_release(&B);
  unlink(a);
  unlink(b);
  rmdir(dir);
  TEST_MAIN_END();
}
