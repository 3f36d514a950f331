/* fuzz_csv.c: libFuzzer target for ntk_io_read_csv (comma-separated, with and without header). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ntk_tensor t = {0};
  ntk_error err;
  /* the first byte picks the header option, so both paths get explored */
  int header = size > 0 && (data[0] & 1);
  int st = ntk_io_read_csv(&t, fuzz_file(data, size), ',', header, &err);
  fuzz_check(st, &err, &t);
  ntk_tensor_release(&t);
  return 0;
}
