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
  if (st == NTK_OK) {
    size_t n = 1;
    int k;
    for (k = 0; k < shape.ndim; k++) n *= shape.dims[k];
    if (n != ntk_tensor_numel(&t)) abort();
  }
  ntk_tensor_release(&t);
  return 0;
}
