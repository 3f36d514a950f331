/* fuzz_idx.c: libFuzzer target for ntk_io_read_idx (plain and gzip inputs). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_shaped(ntk_io_read_idx, data, size);
}
