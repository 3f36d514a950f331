/* ntk_io_csv.c: numeric CSV: one sample per line, numbers separated by a delimiter.
 * Two passes over the text: the first validates every field and counts rows and columns, so
 * the tensor is allocated only for a file known to be good; the second fills it. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_io.h"
#include "ntk_io_stream.h"

/* CSV text larger than this (1 GiB) is rejected; numbers take about as many bytes as floats. */
#define CSV_MAX_BYTES ((size_t)1 << 30)

/* Parses the field [p, end) as a number into *v; 1 on success. */
static int parse_field(const char *p, const char *end, double *v) {
  char tmp[64];
  char *stop;
  size_t n;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
  n = (size_t)(end - p);
  if (n == 0 || n >= sizeof tmp) return 0;
  memcpy(tmp, p, n);
  tmp[n] = 0;
  /* strtod also takes hex floats and words like "nan"; a data file means decimal numbers */
  if (!(isdigit((unsigned char)tmp[0]) || tmp[0] == '-' || tmp[0] == '+' || tmp[0] == '.'))
    return 0;
  if (strchr(tmp, 'x') || strchr(tmp, 'X')) return 0;
  *v = strtod(tmp, &stop);
  /* overflowing literals (1e999) would come back as infinities */
  return *stop == 0 && stop != tmp && isfinite(*v);
}

/* Walks the text; with out == NULL only validates and counts. */
static int walk(const char *text, size_t len, char delim, int skip_header, double *out,
                size_t *rows_out, size_t *cols_out, ntk_error *err) {
  const char *p = text, *end = text + len;
  size_t rows = 0, cols = 0, line = 0;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *stop = eol ? eol : end, *q, *f;
    size_t fields = 0;
    line++;
    if (stop > p && stop[-1] == '\r') stop--;
    if (skip_header && line == 1) goto next;
    for (q = p; q < stop && (*q == ' ' || *q == '\t'); q++) {}
    if (q == stop) goto next; /* blank line */
    for (f = p;;) {
      const char *fe = memchr(f, delim, (size_t)(stop - f));
      double v;
      if (!fe) fe = stop;
      if (!parse_field(f, fe, &v)) {
        char shown[24];
        size_t n = (size_t)(fe - f) < sizeof shown - 1 ? (size_t)(fe - f) : sizeof shown - 1;
        size_t k;
        memcpy(shown, f, n);
        shown[n] = 0;
        for (k = 0; k < n; k++)
          if (!isprint((unsigned char)shown[k])) shown[k] = '?';
        return ntk_error_set(err, NTK_EFORMAT, 0, "line %zu, field %zu: not a number: '%s'", line,
                             fields + 1, shown);
      }
      if (out) out[rows * *cols_out + fields] = v; /* columns known from the first pass */
      fields++;
      if (fe == stop) break;
      f = fe + 1;
    }
    if (rows == 0) {
      cols = fields;
    } else if (fields != cols) {
      return ntk_error_set(err, NTK_EFORMAT, 0, "line %zu has %zu fields, the first row has %zu",
                           line, fields, cols);
    }
    rows++;
  next:
    if (!eol) break;
    p = eol + 1;
  }
  if (rows == 0) return ntk_error_set(err, NTK_EFORMAT, 0, "no data rows");
  *rows_out = rows;
  *cols_out = cols;
  return NTK_OK;
}

int ntk_io_read_csv(ntk_tensor *t, const char *path, char delimiter, int skip_header,
                    ntk_error *err) {
  ntk_io_in in;
  unsigned char *text = NULL;
  size_t len, rows, cols;
  int st;
  if (!path) return ntk_error_set(err, NTK_EARG, 2, "path expected");
  if (delimiter == '\n' || delimiter == '\r' || delimiter == 0 || delimiter == '.' ||
      delimiter == '-' || delimiter == '+' || isdigit((unsigned char)delimiter))
    return ntk_error_set(err, NTK_EARG, 3, "delimiter '%c' cannot separate numbers", delimiter);
  st = ntk_io_in_open(&in, path, err);
  if (st != NTK_OK) return st;
  st = ntk_io_in_read_rest(&in, CSV_MAX_BYTES, &text, &len, err);
  ntk_io_in_close(&in);
  if (st != NTK_OK) return st;
  if (memchr(text, 0, len)) {
    free(text);
    return ntk_error_set(err, NTK_EFORMAT, 0, "binary data (a NUL byte) in a CSV file");
  }
  st = walk((const char *)text, len, delimiter, skip_header, NULL, &rows, &cols, err);
  if (st == NTK_OK) st = ntk_tensor_init_2d(t, rows, cols, err);
  if (st == NTK_OK)
    walk((const char *)text, len, delimiter, skip_header, ntk_tensor_data(t), &rows, &cols, err);
  free(text);
  return st;
}
