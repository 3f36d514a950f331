/* fuzz_mlp.c: libFuzzer target for ntk_mlp_load (the "ntklab mlp file", plain or gzip): a file
 * either loads into a net that saves back to the same parameters or fails with a reason. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ntk_mlp *net = NULL;
  ntk_error err;
  int st = ntk_mlp_load(&net, fuzz_file(data, size), &err);
  if (st != NTK_OK && (err.msg[0] == 0 || net != NULL)) abort();
  if (st != NTK_OK && st != NTK_EFORMAT && st != NTK_EIO && st != NTK_ENOMEM) abort();
  if (st == NTK_OK) {
    /* the loaded net is whole: its parameter count matches its widths */
    size_t n = 0;
    int l;
    for (l = 1; l <= net->depth; l++) n += ntk_mlp_layer_nparams(net, l);
    if (n != net->nparams) abort();
  }
  ntk_mlp_free(net);
  return 0;
}
