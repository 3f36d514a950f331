/* ntk_io_npy.c: NumPy .npy files (format versions 1.0, 2.0, 3.0): the magic "\x93NUMPY",
 * version bytes, a little-endian header length, a Python dict literal
 * {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } and the raw data. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_io.h"
#include "ntk_io_stream.h"

/* numpy itself refuses headers over 10000 bytes unless told otherwise (max_header_size);
 * a larger header is not a real array file. */
#define NPY_MAX_HEADER 65536

typedef struct npy_parser {
  const char *p, *end;
} npy_parser;

static void skip_space(npy_parser *q) {
  while (q->p < q->end && isspace((unsigned char)*q->p)) q->p++;
}

static int accept(npy_parser *q, char c) {
  skip_space(q);
  if (q->p < q->end && *q->p == c) {
    q->p++;
    return 1;
  }
  return 0;
}

/* A quoted Python string without escapes into buf (at most len - 1 characters). */
static int parse_string(npy_parser *q, char *buf, size_t len) {
  char quote;
  size_t n = 0;
  skip_space(q);
  if (q->p >= q->end || (*q->p != '\'' && *q->p != '"')) return 0;
  quote = *q->p++;
  while (q->p < q->end && *q->p != quote) {
    if (*q->p == '\\' || n + 1 >= len) return 0;
    buf[n++] = *q->p++;
  }
  if (q->p >= q->end) return 0;
  q->p++;
  buf[n] = 0;
  return 1;
}

static int accept_word(npy_parser *q, const char *w) {
  size_t n = strlen(w);
  skip_space(q);
  if ((size_t)(q->end - q->p) >= n && memcmp(q->p, w, n) == 0) {
    q->p += n;
    return 1;
  }
  return 0;
}

/* shape tuple: () or (n,) or (n, m, ...) with an optional trailing comma. */
static int parse_shape(npy_parser *q, ntk_io_shape *s, ntk_error *err) {
  s->ndim = 0;
  if (!accept(q, '(')) return ntk_error_set(err, NTK_EFORMAT, 0, "header: shape is not a tuple");
  for (;;) {
    size_t v = 0;
    int digits = 0;
    if (accept(q, ')')) return NTK_OK;
    skip_space(q);
    if (q->p < q->end && *q->p == '-')
      return ntk_error_set(err, NTK_EFORMAT, 0, "header: negative dimension in shape");
    while (q->p < q->end && isdigit((unsigned char)*q->p)) {
      unsigned d = (unsigned)(*q->p++ - '0');
      if (v > (NTK_IO_MAX_NUMEL - d) / 10)
        return ntk_error_set(err, NTK_ENOMEM, 0, "header: dimension exceeds the limit of %zu",
                             (size_t)NTK_IO_MAX_NUMEL);
      v = 10 * v + d;
      digits++;
    }
    if (!digits) return ntk_error_set(err, NTK_EFORMAT, 0, "header: malformed shape tuple");
    if (s->ndim == NTK_IO_MAX_DIMS)
      return ntk_error_set(err, NTK_EFORMAT, 0, "header: more than %d dimensions",
                           NTK_IO_MAX_DIMS);
    s->dims[s->ndim++] = v;
    if (accept(q, ',')) continue;
    if (accept(q, ')')) return NTK_OK;
    return ntk_error_set(err, NTK_EFORMAT, 0, "header: malformed shape tuple");
  }
}

static int parse_header(const char *text, size_t len, ntk_io_shape *s, int *dtype,
                        ntk_error *err) {
  npy_parser q;
  int have_descr = 0, have_order = 0, have_shape = 0, st;
  char key[32], descr[32];
  q.p = text;
  q.end = text + len;
  if (!accept(&q, '{')) return ntk_error_set(err, NTK_EFORMAT, 0, "header is not a dict");
  for (;;) {
    if (accept(&q, '}')) break;
    if (!parse_string(&q, key, sizeof key) || !accept(&q, ':'))
      return ntk_error_set(err, NTK_EFORMAT, 0, "header: malformed dict");
    if (strcmp(key, "descr") == 0) {
      if (!parse_string(&q, descr, sizeof descr))
        return ntk_error_set(err, NTK_EFORMAT, 0, "header: descr is not a simple dtype string");
      if (strcmp(descr, "<f8") == 0) *dtype = NTK_NPY_F8;
      else if (strcmp(descr, "<f4") == 0) *dtype = NTK_NPY_F4;
      else if (strcmp(descr, "|u1") == 0 || strcmp(descr, "<u1") == 0) *dtype = NTK_NPY_U1;
      else
        return ntk_error_set(err, NTK_EFORMAT, 0,
                             "unsupported dtype '%s' (supported: '<f8', '<f4', '|u1')", descr);
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (accept_word(&q, "True"))
        return ntk_error_set(err, NTK_EFORMAT, 0,
                             "fortran_order arrays are not supported (save a C-ordered array: "
                             "numpy.ascontiguousarray)");
      if (!accept_word(&q, "False"))
        return ntk_error_set(err, NTK_EFORMAT, 0, "header: fortran_order is not True or False");
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      st = parse_shape(&q, s, err);
      if (st != NTK_OK) return st;
      have_shape = 1;
    } else {
      return ntk_error_set(err, NTK_EFORMAT, 0, "header: unexpected key '%s'", key);
    }
    if (accept(&q, ',')) continue;
    if (accept(&q, '}')) break;
    return ntk_error_set(err, NTK_EFORMAT, 0, "header: malformed dict");
  }
  skip_space(&q);
  if (q.p != q.end) return ntk_error_set(err, NTK_EFORMAT, 0, "header: junk after the dict");
  if (!have_descr || !have_order || !have_shape)
    return ntk_error_set(err, NTK_EFORMAT, 0, "header lacks '%s'",
                         !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  return NTK_OK;
}

static size_t npy_item_size(int dtype) {
  return dtype == NTK_NPY_F8 ? 8 : dtype == NTK_NPY_F4 ? 4 : dtype == NTK_NPY_U1 ? 1 : 0;
}

int ntk_io_read_npy(ntk_tensor *t, ntk_io_shape *shape, int *dtype, const char *path,
                    ntk_error *err) {
  ntk_io_in in;
  ntk_io_shape s;
  unsigned char pre[12];
  char *header = NULL;
  unsigned char *payload = NULL;
  size_t hlen, lenbytes, numel = 1, nonzero = 1, cols = 1, size, i;
  int st, dt = -1, k;
  if (!path) return ntk_error_set(err, NTK_EARG, 4, "path expected");
  st = ntk_io_in_open(&in, path, err);
  if (st != NTK_OK) return st;
  st = ntk_io_in_read(&in, pre, 8, "the NPY magic", err);
  if (st != NTK_OK) goto done;
  if (memcmp(pre, "\x93NUMPY", 6) != 0) {
    st = ntk_error_set(err, NTK_EFORMAT, 0, "bad magic (an NPY file starts with \\x93NUMPY)");
    goto done;
  }
  if (pre[6] < 1 || pre[6] > 3) {
    st = ntk_error_set(err, NTK_EFORMAT, 0, "unsupported NPY version %d.%d (expected 1 to 3)",
                       pre[6], pre[7]);
    goto done;
  }
  lenbytes = pre[6] == 1 ? 2 : 4;
  st = ntk_io_in_read(&in, pre + 8, lenbytes, "the NPY header length", err);
  if (st != NTK_OK) goto done;
  hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (lenbytes == 4) hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  if (hlen > NPY_MAX_HEADER) {
    st = ntk_error_set(err, NTK_EFORMAT, 0, "header length %zu exceeds the limit of %d", hlen,
                       NPY_MAX_HEADER);
    goto done;
  }
  header = malloc(hlen + 1);
  if (!header) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
    goto done;
  }
  st = ntk_io_in_read(&in, header, hlen, "the NPY header", err);
  if (st != NTK_OK) goto done;
  for (i = 0; i < hlen; i++)
    if (header[i] == 0 || (unsigned char)header[i] >= 0x80) {
      st = ntk_error_set(err, NTK_EFORMAT, 0, "header is not ASCII text");
      goto done;
    }
  st = parse_header(header, hlen, &s, &dt, err);
  if (st != NTK_OK) goto done;
  for (k = 0; k < s.ndim; k++) {
    if (s.dims[k] != 0 && nonzero > NTK_IO_MAX_NUMEL / s.dims[k]) {
      st = ntk_error_set(err, NTK_ENOMEM, 0,
                         "shape multiplies to more than the limit of %zu elements",
                         (size_t)NTK_IO_MAX_NUMEL);
      goto done;
    }
    if (s.dims[k] != 0) nonzero *= s.dims[k];
    numel *= s.dims[k];
    if (k > 0) cols *= s.dims[k];
  }
  size = npy_item_size(dt);
  st = ntk_io_in_read_payload(&in, numel * size, &payload, "the NPY data", err);
  if (st != NTK_OK) goto done;
  if (s.ndim <= 1)
    st = ntk_tensor_init_1d(t, numel, err);
  else
    st = ntk_tensor_init_2d(t, s.dims[0], cols, err);
  if (st != NTK_OK) goto done;
  {
    double *d = ntk_tensor_data(t);
    for (i = 0; i < numel; i++) {
      const unsigned char *p = payload + i * size;
      if (dt == NTK_NPY_U1) {
        d[i] = p[0];
      } else if (dt == NTK_NPY_F4) {
        uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        float f;
        memcpy(&f, &w, sizeof f);
        d[i] = f;
      } else {
        uint64_t w = 0;
        int b;
        for (b = 7; b >= 0; b--) w = w << 8 | p[b];
        memcpy(&d[i], &w, sizeof w);
      }
    }
  }
  if (shape) *shape = s;
  if (dtype) *dtype = dt;
done:
  free(header);
  free(payload);
  ntk_io_in_close(&in);
  return st;
}

int ntk_io_write_npy(const char *path, const ntk_tensor *t, int dtype, ntk_error *err) {
  ntk_io_out out;
  char header[160];
  unsigned char pre[10], buf[8 * 512];
  size_t size = npy_item_size(dtype), rows, cols, i, j, fill = 0;
  int n, st;
  if (!path) return ntk_error_set(err, NTK_EARG, 1, "path expected");
  if (!t || !t->storage) return ntk_error_set(err, NTK_EARG, 2, "tensor expected");
  if (!size) return ntk_error_set(err, NTK_EARG, 3, "unknown NPY dtype %d", dtype);
  rows = t->shape[0];
  cols = t->ndim == 2 ? t->shape[1] : 1;
  if (dtype == NTK_NPY_U1)
    for (i = 0; i < rows; i++)
      for (j = 0; j < cols; j++) {
        double v = ntk_tensor_at(t, i, j);
        if (!(v >= 0 && v <= 255 && v == (double)(int)v))
          return ntk_error_set(err, NTK_EARG, 2, "value %.17g at element %zu is not a uint8", v,
                               i * cols + j + 1);
      }
  {
    const char *descr = dtype == NTK_NPY_F8 ? "<f8" : dtype == NTK_NPY_F4 ? "<f4" : "|u1";
    if (t->ndim == 2)
      n = snprintf(header, sizeof header,
                   "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, rows,
                   cols);
    else
      n = snprintf(header, sizeof header,
                   "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
  }
  /* pad with spaces and a final newline so that the data start on a 64-byte boundary */
  while ((10 + n + 1) % 64 != 0) header[n++] = ' ';
  header[n++] = '\n';
  memcpy(pre, "\x93NUMPY\x01\x00", 8);
  pre[8] = (unsigned char)(n & 0xff);
  pre[9] = (unsigned char)(n >> 8);
  st = ntk_io_out_open(&out, path, err);
  if (st != NTK_OK) return st;
  st = ntk_io_out_write(&out, pre, 10, err);
  if (st == NTK_OK) st = ntk_io_out_write(&out, header, (size_t)n, err);
  for (i = 0; i < rows && st == NTK_OK; i++)
    for (j = 0; j < cols && st == NTK_OK; j++) {
      double v = ntk_tensor_at(t, i, j);
      unsigned char *p = buf + fill;
      if (dtype == NTK_NPY_U1) {
        p[0] = (unsigned char)v;
      } else if (dtype == NTK_NPY_F4) {
        float f = (float)v;
        uint32_t w;
        int b;
        memcpy(&w, &f, sizeof w);
        for (b = 0; b < 4; b++) p[b] = (unsigned char)(w >> (8 * b));
      } else {
        uint64_t w;
        int b;
        memcpy(&w, &v, sizeof w);
        for (b = 0; b < 8; b++) p[b] = (unsigned char)(w >> (8 * b));
      }
      fill += size;
      if (fill == sizeof buf) {
        st = ntk_io_out_write(&out, buf, fill, err);
        fill = 0;
      }
    }
  if (st == NTK_OK) st = ntk_io_out_write(&out, buf, fill, err);
  return ntk_io_out_finish(&out, st, err);
}
