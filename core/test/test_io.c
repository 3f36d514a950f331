/* test_io.c: the loaders through the C API: round trips, status codes and messages, and the
 * guarantee that a failed read leaves the output tensors released. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ntk.h"
#include "ntk_test.h"

static char dir[] = "/tmp/ntk-test-io-XXXXXX";

static const char *file(const char *name) {
  static char buf[256];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

static void put(const char *name, const void *bytes, size_t n) {
  FILE *f = fopen(file(name), "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK(fwrite(bytes, 1, n, f) == n);
  fclose(f);
}

static void test_idx_round_trip(void) {
  ntk_tensor t = {0}, back = {0}, tr = {0};
  ntk_io_shape dims = {3, {2, 3, 2}}, got;
  ntk_error err;
  int type = 0;
  size_t i, j;
  CHECK(ntk_tensor_init_2d(&t, 2, 6, &err) == NTK_OK);
  for (i = 0; i < 2; i++)
    for (j = 0; j < 6; j++) *ntk_tensor_ptr(&t, i, j) = (double)(40 * i + j);
  CHECK(ntk_io_write_idx(file("a.idx"), &t, &dims, NTK_IDX_UBYTE, &err) == NTK_OK);
  CHECK(ntk_io_read_idx(&back, &got, &type, file("a.idx"), &err) == NTK_OK);
  CHECK(type == NTK_IDX_UBYTE && got.ndim == 3 && got.dims[2] == 2);
  CHECK(back.shape[0] == 2 && back.shape[1] == 6);
  CHECK(ntk_tensor_at(&back, 1, 5) == 45.0);
  ntk_tensor_release(&back);
  {
    /* chosen rows, in order; none: the header alone; a row past the file's is misuse */
    const size_t rows[] = {1, 0, 1}, past[] = {2};
    CHECK(ntk_io_read_idx_rows(&back, &got, NULL, file("a.idx"), rows, 3, &err) == NTK_OK);
    CHECK(back.shape[0] == 3 && back.shape[1] == 6 && got.dims[0] == 2);
    CHECK(ntk_tensor_at(&back, 0, 5) == 45.0 && ntk_tensor_at(&back, 1, 5) == 5.0);
    ntk_tensor_release(&back);
    CHECK(ntk_io_read_idx_rows(&back, &got, NULL, file("a.idx"), rows, 0, &err) == NTK_OK);
    CHECK(back.shape[0] == 0 && back.shape[1] == 6 && got.dims[0] == 2);
    ntk_tensor_release(&back);
    CHECK(ntk_io_read_idx_rows(&back, NULL, NULL, file("a.idx"), past, 1, &err) == NTK_EARG);
    CHECK(err.arg == 5 && back.storage == NULL);
  }
  /* a transposed view is written in its logical order */
  CHECK(ntk_tensor_transpose(&tr, &t, &err) == NTK_OK);
  CHECK(ntk_io_write_npy(file("t.npy"), &tr, NTK_NPY_F8, &err) == NTK_OK);
  CHECK(ntk_io_read_npy(&back, NULL, NULL, file("t.npy"), &err) == NTK_OK);
  CHECK(back.shape[0] == 6 && back.shape[1] == 2 && ntk_tensor_at(&back, 5, 1) == 45.0);
  ntk_tensor_release(&back);
  ntk_tensor_release(&tr);
  ntk_tensor_release(&t);
}

static void test_failures(void) {
  ntk_tensor t = {0}, x = {0}, y = {0};
  ntk_error err;
  static const unsigned char bad_magic[] = {1, 0, 8, 1, 0, 0, 0, 1, 7};
  static const unsigned char short_data[] = {0, 0, 8, 1, 0, 0, 0, 9, 1, 2};
  CHECK(ntk_io_read_idx(&t, NULL, NULL, file("absent"), &err) == NTK_EIO);
  CHECK(strstr(err.msg, "cannot open") != NULL && t.storage == NULL);
  put("m.idx", bad_magic, sizeof bad_magic);
  CHECK(ntk_io_read_idx(&t, NULL, NULL, file("m.idx"), &err) == NTK_EFORMAT);
  CHECK(strstr(err.msg, "bad magic") != NULL && t.storage == NULL);
  put("s.idx", short_data, sizeof short_data);
  CHECK(ntk_io_read_idx(&t, NULL, NULL, file("s.idx"), &err) == NTK_EFORMAT);
  CHECK(strstr(err.msg, "truncated") != NULL && t.storage == NULL);
  put("c.bin", short_data, sizeof short_data);
  CHECK(ntk_io_read_cifar10(&x, &y, file("c.bin"), &err) == NTK_EFORMAT);
  CHECK(x.storage == NULL && y.storage == NULL);
  CHECK(ntk_io_read_csv(&t, file("c.bin"), '1', 0, &err) == NTK_EARG && err.arg == 3);
  CHECK(ntk_io_read_idx(&t, NULL, NULL, NULL, &err) == NTK_EARG);
  CHECK(ntk_io_write_idx(file("x.idx"), &t, NULL, NTK_IDX_UBYTE, &err) == NTK_EARG && err.arg == 2);
  CHECK(ntk_tensor_init_1d(&t, 2, &err) == NTK_OK);
  CHECK(ntk_io_write_idx(file("x.idx"), &t, NULL, 0x42, &err) == NTK_EARG && err.arg == 4);
  CHECK(ntk_io_write_npy("/nonexistent-dir/x.npy", &t, NTK_NPY_F8, &err) == NTK_EIO);
  ntk_tensor_release(&t);
}

int main(void) {
  char cmd[64];
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return EXIT_FAILURE;
  }
  test_idx_round_trip();
  test_failures();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
