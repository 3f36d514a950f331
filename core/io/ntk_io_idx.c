/* ntk_io_idx.c: IDX files (LeCun's MNIST format): magic 00 00 TT NN, NN big-endian 32-bit
 * dimensions, then the elements in row-major order, big-endian. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_io.h"
#include "ntk_io_stream.h"

static size_t idx_type_size(int type) {
  switch (type) {
    case NTK_IDX_UBYTE:
    case NTK_IDX_SBYTE: return 1;
    case NTK_IDX_SHORT: return 2;
    case NTK_IDX_INT:
    case NTK_IDX_FLOAT: return 4;
    case NTK_IDX_DOUBLE: return 8;
    default: return 0;
  }
}

static double idx_decode(const unsigned char *p, int type) {
  uint64_t u;
  switch (type) {
    case NTK_IDX_UBYTE: return (double)p[0];
    case NTK_IDX_SBYTE: return (double)(int8_t)p[0];
    case NTK_IDX_SHORT: return (double)(int16_t)(uint16_t)((p[0] << 8) | p[1]);
    case NTK_IDX_INT: return (double)(int32_t)(uint32_t)ntk_io_be32(p);
    case NTK_IDX_FLOAT: {
      uint32_t w = (uint32_t)ntk_io_be32(p);
      float f;
      memcpy(&f, &w, sizeof f);
      return (double)f;
    }
    default: {
      double d;
      u = ((uint64_t)ntk_io_be32(p) << 32) | (uint64_t)ntk_io_be32(p + 4);
      memcpy(&d, &u, sizeof d);
      return d;
    }
  }
}

/* The tensor for a declared shape: 1-D for one dimension, else [d0 x d1*...*dn]. */
static int init_for_shape(ntk_tensor *t, const ntk_io_shape *s, ntk_error *err) {
  size_t cols = 1;
  int k;
  if (s->ndim <= 1) return ntk_tensor_init_1d(t, s->dims[0], err);
  for (k = 1; k < s->ndim; k++) cols *= s->dims[k];
  return ntk_tensor_init_2d(t, s->dims[0], cols, err);
}

int ntk_io_read_idx(ntk_tensor *t, ntk_io_shape *shape, int *type, const char *path,
                    ntk_error *err) {
  return ntk_io_read_idx_rows(t, shape, type, path, NULL, 0, err);
}

int ntk_io_read_idx_rows(ntk_tensor *t, ntk_io_shape *shape, int *type, const char *path,
                         const size_t *rows, size_t nrows, ntk_error *err) {
  ntk_io_in in;
  ntk_io_shape s;
  unsigned char head[4], dims[4 * NTK_IO_MAX_DIMS];
  unsigned char *payload = NULL;
  size_t size, numel = 1, nonzero = 1, i;
  int st, ty;
  if (!path) return ntk_error_set(err, NTK_EARG, 3, "path expected");
  st = ntk_io_in_open(&in, path, err);
  if (st != NTK_OK) return st;
  st = ntk_io_in_read(&in, head, 4, "the IDX magic", err);
  if (st != NTK_OK) goto done;
  ty = head[2];
  size = idx_type_size(ty);
  if (head[0] != 0 || head[1] != 0) {
    st = ntk_error_set(err, NTK_EFORMAT, 0,
                       "bad magic 0x%02x%02x%02x%02x (an IDX file starts with 00 00, type, ndims)",
                       head[0], head[1], head[2], head[3]);
    goto done;
  }
  if (!size) {
    st = ntk_error_set(err, NTK_EFORMAT, 0,
                       "unknown IDX element type 0x%02x (expected 08 ubyte, 09 byte, 0B short, "
                       "0C int, 0D float or 0E double)", ty);
    goto done;
  }
  s.ndim = head[3];
  if (s.ndim < 1 || s.ndim > NTK_IO_MAX_DIMS) {
    st = ntk_error_set(err, NTK_EFORMAT, 0, "bad number of dimensions %d (expected 1 to %d)",
                       s.ndim, NTK_IO_MAX_DIMS);
    goto done;
  }
  st = ntk_io_in_read(&in, dims, 4 * (size_t)s.ndim, "the IDX dimensions", err);
  if (st != NTK_OK) goto done;
  for (i = 0; i < (size_t)s.ndim; i++) {
    unsigned long d = ntk_io_be32(dims + 4 * i);
    /* the format's dimensions are signed 32-bit integers */
    if (d & 0x80000000ul) {
      st = ntk_error_set(err, NTK_EFORMAT, 0, "negative dimension %zu: %ld", i + 1,
                         (long)(int32_t)(uint32_t)d);
      goto done;
    }
    s.dims[i] = (size_t)d;
    /* the product of the nonzero dimensions bounds every partial product (rows, columns) */
    if (d != 0 && nonzero > NTK_IO_MAX_NUMEL / d) {
      st = ntk_error_set(err, NTK_ENOMEM, 0,
                         "dimensions multiply to more than the limit of %zu elements",
                         (size_t)NTK_IO_MAX_NUMEL);
      goto done;
    }
    if (d != 0) nonzero *= d;
    numel *= d;
  }
  if (rows) {
    /* check the rows before reading the payload: a bad row costs no decompression */
    for (i = 0; i < nrows; i++)
      if (rows[i] >= s.dims[0]) {
        st = ntk_error_set(err, NTK_EARG, 5, "row %zu is not among the file's %zu rows (1..%zu)",
                           rows[i] + 1, s.dims[0], s.dims[0]);
        goto done;
      }
  }
  if (rows && nrows == 0) {
    /* no rows wanted: the header answers (shape and type) without reading the data */
    ntk_io_shape none = s;
    none.dims[0] = 0;
    st = init_for_shape(t, &none, err);
    if (st != NTK_OK) goto done;
    if (shape) *shape = s;
    if (type) *type = ty;
    goto done;
  }
  st = ntk_io_in_read_payload(&in, numel * size, &payload, "the IDX data", err);
  if (st != NTK_OK) goto done;
  if (rows) {
    /* only the chosen rows become doubles: a 2-class pick of MNIST's 60,000 images costs their
     * share of the 8-byte tensor, not the whole file's (the payload stays 1 byte a pixel) */
    ntk_io_shape picked = s;
    size_t cols = s.dims[0] ? numel / s.dims[0] : 0, r, j;
    double *d;
    picked.dims[0] = nrows;
    st = init_for_shape(t, &picked, err);
    if (st != NTK_OK) goto done;
    d = ntk_tensor_data(t);
    for (r = 0; r < nrows; r++) {
      const unsigned char *src = payload + rows[r] * cols * size;
      for (j = 0; j < cols; j++) d[r * cols + j] = idx_decode(src + j * size, ty);
    }
  } else {
    double *d;
    st = init_for_shape(t, &s, err);
    if (st != NTK_OK) goto done;
    d = ntk_tensor_data(t);
    for (i = 0; i < numel; i++) d[i] = idx_decode(payload + i * size, ty);
  }
  if (shape) *shape = s;
  if (type) *type = ty;
done:
  free(payload);
  ntk_io_in_close(&in);
  return st;
}

/* Checks that every value of t fits the integer type [lo, hi] exactly. */
static int check_integral(const ntk_tensor *t, double lo, double hi, const char *tname,
                          int arg, ntk_error *err) {
  size_t i, j, rows = t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 1;
  for (i = 0; i < rows; i++)
    for (j = 0; j < cols; j++) {
      double v = ntk_tensor_at(t, i, j);
      if (!(v >= lo && v <= hi && v == floor(v))) {
        if (t->ndim == 2)
          return ntk_error_set(err, NTK_EARG, arg, "value %.17g at [%zu, %zu] is not a %s", v,
                               i + 1, j + 1, tname);
        return ntk_error_set(err, NTK_EARG, arg, "value %.17g at [%zu] is not a %s", v, i + 1,
                             tname);
      }
    }
  return NTK_OK;
}

static void idx_encode(unsigned char *p, double v, int type) {
  uint64_t u = 0;
  size_t n = idx_type_size(type), k;
  switch (type) {
    case NTK_IDX_UBYTE: u = (uint8_t)v; break;
    case NTK_IDX_SBYTE: u = (uint8_t)(int8_t)v; break;
    case NTK_IDX_SHORT: u = (uint16_t)(int16_t)v; break;
    case NTK_IDX_INT: u = (uint32_t)(int32_t)v; break;
    case NTK_IDX_FLOAT: {
      float f = (float)v;
      uint32_t w;
      memcpy(&w, &f, sizeof w);
      u = w;
      break;
    }
    default: memcpy(&u, &v, sizeof u); break;
  }
  for (k = 0; k < n; k++) p[k] = (unsigned char)(u >> (8 * (n - 1 - k)));
}

int ntk_io_write_idx(const char *path, const ntk_tensor *t, const ntk_io_shape *dims, int type,
                     ntk_error *err) {
  ntk_io_out out;
  ntk_io_shape s;
  unsigned char head[4 + 4 * NTK_IO_MAX_DIMS], buf[8 * 512];
  size_t size = idx_type_size(type), numel, prod = 1, i, j, k, rows, cols, fill = 0;
  int st;
  if (!path) return ntk_error_set(err, NTK_EARG, 1, "path expected");
  if (!t || !t->storage) return ntk_error_set(err, NTK_EARG, 2, "tensor expected");
  if (!size) return ntk_error_set(err, NTK_EARG, 4, "unknown IDX element type 0x%02x", type);
  numel = ntk_tensor_numel(t);
  if (dims) {
    s = *dims;
  } else {
    s.ndim = t->ndim;
    s.dims[0] = t->shape[0];
    s.dims[1] = t->shape[1];
  }
  if (s.ndim < 1 || s.ndim > NTK_IO_MAX_DIMS)
    return ntk_error_set(err, NTK_EARG, 3, "1 to %d dimensions expected, got %d", NTK_IO_MAX_DIMS,
                         s.ndim);
  for (i = 0; i < (size_t)s.ndim; i++) {
    if (s.dims[i] > 0x7fffffffu)
      return ntk_error_set(err, NTK_EARG, 3, "dimension %zu is %zu, more than IDX allows", i + 1,
                           s.dims[i]);
    if (s.dims[i] != 0 && prod > numel / s.dims[i] + 1) prod = numel + 1;
    else prod *= s.dims[i];
  }
  if (prod != numel)
    return ntk_error_set(err, NTK_EARG, 3, "dimensions do not multiply to the %zu elements",
                         numel);
  switch (type) {
    case NTK_IDX_UBYTE: st = check_integral(t, 0, 255, "ubyte", 2, err); break;
    case NTK_IDX_SBYTE: st = check_integral(t, -128, 127, "byte", 2, err); break;
    case NTK_IDX_SHORT: st = check_integral(t, -32768, 32767, "short", 2, err); break;
    case NTK_IDX_INT: st = check_integral(t, -2147483648.0, 2147483647.0, "int", 2, err); break;
    default: st = NTK_OK;
  }
  if (st != NTK_OK) return st;
  head[0] = head[1] = 0;
  head[2] = (unsigned char)type;
  head[3] = (unsigned char)s.ndim;
  for (i = 0; i < (size_t)s.ndim; i++)
    for (k = 0; k < 4; k++) head[4 + 4 * i + k] = (unsigned char)(s.dims[i] >> (8 * (3 - k)));
  st = ntk_io_out_open(&out, path, err);
  if (st != NTK_OK) return st;
  st = ntk_io_out_write(&out, head, 4 + 4 * (size_t)s.ndim, err);
  rows = t->shape[0];
  cols = t->ndim == 2 ? t->shape[1] : 1;
  for (i = 0; i < rows && st == NTK_OK; i++)
    for (j = 0; j < cols && st == NTK_OK; j++) {
      idx_encode(buf + fill, ntk_tensor_at(t, i, j), type);
      fill += size;
      if (fill == sizeof buf) {
        st = ntk_io_out_write(&out, buf, fill, err);
        fill = 0;
      }
    }
  if (st == NTK_OK) st = ntk_io_out_write(&out, buf, fill, err);
  return ntk_io_out_finish(&out, st, err);
}
