/* ntk_io_cifar.c: CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html):
 * records of one label byte (0..9) and 3072 pixel bytes (R, G, B planes of 32 x 32), no header. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_io.h"
#include "ntk_io_stream.h"

/* A batch holds 10000 records; the whole dataset, 60000. A file claiming more is not CIFAR-10. */
#define CIFAR_MAX_RECORDS 1000000

int ntk_io_read_cifar10(ntk_tensor *images, ntk_tensor *labels, const char *path,
                        ntk_error *err) {
  ntk_io_in in;
  unsigned char *data = NULL;
  size_t len, n, i, j;
  int st;
  if (!path) return ntk_error_set(err, NTK_EARG, 3, "path expected");
  st = ntk_io_in_open(&in, path, err);
  if (st != NTK_OK) return st;
  /* no header: a plain file's length must already be a whole number of records */
  if (in.remaining >= 0 && (in.remaining == 0 || in.remaining % NTK_CIFAR10_RECORD != 0)) {
    st = ntk_error_set(err, NTK_EFORMAT, 0,
                       "%lld bytes is not a positive multiple of the %d-byte CIFAR-10 record",
                       in.remaining, NTK_CIFAR10_RECORD);
    goto done;
  }
  st = ntk_io_in_read_rest(&in, (size_t)CIFAR_MAX_RECORDS * NTK_CIFAR10_RECORD, &data, &len, err);
  if (st != NTK_OK) goto done;
  if (len == 0 || len % NTK_CIFAR10_RECORD != 0) {
    st = ntk_error_set(err, NTK_EFORMAT, 0,
                       "%zu bytes is not a positive multiple of the %d-byte CIFAR-10 record", len,
                       NTK_CIFAR10_RECORD);
    goto done;
  }
  n = len / NTK_CIFAR10_RECORD;
  for (i = 0; i < n; i++)
    if (data[i * NTK_CIFAR10_RECORD] > 9) {
      st = ntk_error_set(err, NTK_EFORMAT, 0, "record %zu has label %d (expected 0 to 9)", i + 1,
                         data[i * NTK_CIFAR10_RECORD]);
      goto done;
    }
  st = ntk_tensor_init_2d(images, n, NTK_CIFAR10_PIXELS, err);
  if (st != NTK_OK) goto done;
  st = ntk_tensor_init_1d(labels, n, err);
  if (st != NTK_OK) {
    ntk_tensor_release(images);
    goto done;
  }
  {
    double *x = ntk_tensor_data(images), *y = ntk_tensor_data(labels);
    for (i = 0; i < n; i++) {
      const unsigned char *rec = data + i * NTK_CIFAR10_RECORD;
      y[i] = rec[0];
      for (j = 0; j < NTK_CIFAR10_PIXELS; j++) x[i * NTK_CIFAR10_PIXELS + j] = rec[1 + j];
    }
  }
done:
  free(data);
  ntk_io_in_close(&in);
  return st;
}

static int is_byte(double v, double hi) { return v >= 0 && v <= hi && v == floor(v); }

int ntk_io_write_cifar10(const char *path, const ntk_tensor *images, const ntk_tensor *labels,
                         ntk_error *err) {
  ntk_io_out out;
  unsigned char rec[NTK_CIFAR10_RECORD];
  size_t n, i, j;
  int st = NTK_OK;
  if (!path) return ntk_error_set(err, NTK_EARG, 1, "path expected");
  if (!images || !images->storage || images->ndim != 2 || images->shape[1] != NTK_CIFAR10_PIXELS)
    return ntk_error_set(err, NTK_EARG, 2, "[N x %d] tensor of images expected",
                         NTK_CIFAR10_PIXELS);
  n = images->shape[0];
  if (!labels || !labels->storage || labels->ndim != 1 || labels->shape[0] != n)
    return ntk_error_set(err, NTK_EARG, 3, "[%zu] tensor of labels expected", n);
  if (n == 0) return ntk_error_set(err, NTK_EARG, 2, "at least one image expected");
  for (i = 0; i < n; i++) {
    if (!is_byte(ntk_tensor_at(labels, i, 0), 9))
      return ntk_error_set(err, NTK_EARG, 3, "label %.17g at [%zu] is not an integer 0 to 9",
                           ntk_tensor_at(labels, i, 0), i + 1);
    for (j = 0; j < NTK_CIFAR10_PIXELS; j++)
      if (!is_byte(ntk_tensor_at(images, i, j), 255))
        return ntk_error_set(err, NTK_EARG, 2,
                             "pixel %.17g at [%zu, %zu] is not an integer 0 to 255",
                             ntk_tensor_at(images, i, j), i + 1, j + 1);
  }
  st = ntk_io_out_open(&out, path, err);
  if (st != NTK_OK) return st;
  for (i = 0; i < n && st == NTK_OK; i++) {
    rec[0] = (unsigned char)ntk_tensor_at(labels, i, 0);
    for (j = 0; j < NTK_CIFAR10_PIXELS; j++)
      rec[1 + j] = (unsigned char)ntk_tensor_at(images, i, j);
    st = ntk_io_out_write(&out, rec, sizeof rec, err);
  }
  return ntk_io_out_finish(&out, st, err);
}
