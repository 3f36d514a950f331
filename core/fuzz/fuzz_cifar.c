/* fuzz_cifar.c: libFuzzer target for ntk_io_read_cifar10. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ntk_tensor x = {0}, y = {0};
  ntk_error err;
  int st = ntk_io_read_cifar10(&x, &y, fuzz_file(data, size), &err);
  fuzz_check(st, &err, &x);
  fuzz_check(st, &err, &y);
  if (st == NTK_OK && x.shape[0] != y.shape[0]) abort();
  ntk_tensor_release(&x);
  ntk_tensor_release(&y);
  return 0;
}
