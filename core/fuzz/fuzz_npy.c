/* fuzz_npy.c: libFuzzer target for ntk_io_read_npy. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ntk_tensor t = {0};
  ntk_io_shape shape;
  ntk_error err;
  int dtype;
  int st = ntk_io_read_npy(&t, &shape, &dtype, fuzz_file(data, size), &err);
  fuzz_check(st, &err, &t);
  fuzz_check_shape(st, &shape, &t);
  ntk_tensor_release(&t);
  return 0;
}
