/* fuzz_common.h: libFuzzer harness shared by the loader targets. The loaders read files (the
 * gzip path goes through zlib's file interface), so each input is written to a private file
 * on tmpfs and loaded from there: the fuzzer exercises exactly the code users run. */
#ifndef NTK_FUZZ_COMMON_H
#define NTK_FUZZ_COMMON_H

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ntk.h"

/* Writes data to this process's scratch file and returns its path. */
static const char *fuzz_file(const uint8_t *data, size_t size) {
  static char path[64];
  FILE *f;
  if (!path[0]) snprintf(path, sizeof path, "/dev/shm/ntk-fuzz-%ld", (long)getpid());
  f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return path;
}

/* A loader may succeed or fail, but a failure must say why and leave nothing allocated. */
static void fuzz_check(int st, const ntk_error *err, const ntk_tensor *t) {
  if (st != NTK_OK && (err->msg[0] == 0 || t->storage != NULL)) abort();
  if (st != NTK_OK && st != NTK_EFORMAT && st != NTK_EIO && st != NTK_ENOMEM) abort();
}

/* A loader that succeeds must return as many elements as the shape it reports. */
static inline void fuzz_check_shape(int st, const ntk_io_shape *shape, const ntk_tensor *t) {
  size_t n = 1;
  int k;
  if (st != NTK_OK) return;
  for (k = 0; k < shape->ndim; k++) n *= shape->dims[k];
  if (n != ntk_tensor_numel(t)) abort();
}

/* The whole target for a loader that reports dimensions and a type code (IDX, NPY). */
typedef int (*fuzz_shaped_reader)(ntk_tensor *t, ntk_io_shape *shape, int *code, const char *path,
                                  ntk_error *err);
static inline int fuzz_shaped(fuzz_shaped_reader read, const uint8_t *data, size_t size) {
  ntk_tensor t = {0};
  ntk_io_shape shape;
  ntk_error err;
  int code;
  int st = read(&t, &shape, &code, fuzz_file(data, size), &err);
  fuzz_check(st, &err, &t);
  fuzz_check_shape(st, &shape, &t);
  ntk_tensor_release(&t);
  return 0;
}

#endif
