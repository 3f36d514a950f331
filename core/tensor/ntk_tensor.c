/* ntk_tensor.c: refcounted storage, tensor creation and views. */
#include "ntk_tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_memory.h"
#include "ntk_pages.h"

static int storage_new(ntk_storage **out, size_t n, ntk_error *err) {
  ntk_storage *s;
  if (n > NTK_TENSOR_MAX_NUMEL)
    return ntk_error_set(err, NTK_ENOMEM, 0, "tensor of %zu elements exceeds the limit of %zu", n,
                         (size_t)NTK_TENSOR_MAX_NUMEL);
  if (n >= NTK_MEMORY_CHECK_MIN / sizeof(double)) {
    char what[64];
    snprintf(what, sizeof what, "a tensor of %zu doubles", n);
    if (ntk_memory_check(n * sizeof(double), what, err) != NTK_OK) return NTK_ENOMEM;
  }
  s = malloc(sizeof *s);
  if (!s) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  /* zeros: calloc, or for big tensors a huge-page mapping (ntk_pages.h: first touch 4-8x
   * cheaper); either way the kernel hands out zero pages lazily */
  s->data = ntk_pages_alloc(n ? n : 1);
  if (!s->data) {
    free(s);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory allocating %zu doubles", n);
  }
  s->size = n;
  s->refcount = 1;
  s->free_data = NULL;
  *out = s;
  return NTK_OK;
}

static void storage_release(ntk_storage *s) {
  if (s && --s->refcount == 0) {
    if (s->free_data)
      s->free_data(s->data, s->size);
    else
      ntk_pages_free(s->data, s->size ? s->size : 1);
    free(s);
  }
}


/* t's shape <- rows (x cols), row-major contiguous strides (offset and storage untouched). */
static void set_contiguous(ntk_tensor *t, int ndim, size_t rows, size_t cols) {
  t->ndim = ndim;
  t->shape[0] = rows;
  t->shape[1] = cols;
  t->stride[0] = (ptrdiff_t)(ndim == 2 ? cols : 1);
  t->stride[1] = 1;
}
int ntk_tensor_init(ntk_tensor *t, int ndim, const size_t *shape, ntk_error *err) {
  size_t rows, cols, n;
  int st;
  if (ndim != 1 && ndim != 2)
    return ntk_error_set(err, NTK_EARG, 2, "1 or 2 dimensions expected, got %d", ndim);
  rows = shape[0];
  cols = ndim == 2 ? shape[1] : 1;
  if (cols != 0 && rows > NTK_TENSOR_MAX_NUMEL / cols)
    return ntk_error_set(err, NTK_ENOMEM, 0, "tensor of %zu x %zu elements exceeds the limit", rows,
                         cols);
  n = rows * cols;
  st = storage_new(&t->storage, n, err);
  if (st != NTK_OK) {
    memset(t, 0, sizeof *t);
    return st;
  }
  t->offset = 0;
  set_contiguous(t, ndim, rows, cols);
  return NTK_OK;
}

int ntk_tensor_init_1d(ntk_tensor *t, size_t n, ntk_error *err) {
  return ntk_tensor_init(t, 1, &n, err);
}

int ntk_tensor_init_2d(ntk_tensor *t, size_t rows, size_t cols, ntk_error *err) {
  size_t shape[2];
  shape[0] = rows;
  shape[1] = cols;
  return ntk_tensor_init(t, 2, shape, err);
}

int ntk_tensor_init_copy(ntk_tensor *t, const ntk_tensor *src, ntk_error *err) {
  int st = ntk_tensor_init(t, src->ndim, src->shape, err);
  size_t i, j;
  double *d;
  if (st != NTK_OK) return st;
  d = t->storage->data;
  if (ntk_tensor_is_contiguous(src)) {
    memcpy(d, ntk_tensor_data(src), ntk_tensor_numel(src) * sizeof(double));
  } else {
    for (i = 0; i < src->shape[0]; i++)
      for (j = 0; j < src->shape[1]; j++) *d++ = ntk_tensor_at(src, i, j);
  }
  return NTK_OK;
}

void ntk_tensor_release(ntk_tensor *t) {
  if (!t) return;
  storage_release(t->storage);
  memset(t, 0, sizeof *t);
}

void ntk_tensor_view(ntk_tensor *dst, const ntk_tensor *src) {
  *dst = *src;
  if (dst->storage) dst->storage->refcount++;
}

int ntk_tensor_narrow(ntk_tensor *dst, const ntk_tensor *src, int dim, size_t start, size_t count,
                      ntk_error *err) {
  if (dim < 0 || dim >= src->ndim)
    return ntk_error_set(err, NTK_EARG, 2, "dimension %d out of range for a %d-D tensor", dim + 1,
                         src->ndim);
  if (start > src->shape[dim] || count > src->shape[dim] - start)
    return ntk_error_set(err, NTK_ERANGE, 3, "range [%zu, %zu) out of bounds [0, %zu)", start,
                         start + count, src->shape[dim]);
  ntk_tensor_view(dst, src);
  dst->offset += (ptrdiff_t)start * src->stride[dim];
  dst->shape[dim] = count;
  return NTK_OK;
}

int ntk_tensor_select(ntk_tensor *dst, const ntk_tensor *src, int dim, size_t index,
                      ntk_error *err) {
  if (src->ndim != 2)
    return ntk_error_set(err, NTK_ESHAPE, 1, "2-D tensor expected, got %d-D", src->ndim);
  if (dim != 0 && dim != 1)
    return ntk_error_set(err, NTK_EARG, 2, "dimension %d out of range for a 2-D tensor", dim + 1);
  if (index >= src->shape[dim])
    return ntk_error_set(err, NTK_ERANGE, 3, "index %zu out of bounds [0, %zu)", index,
                         src->shape[dim]);
  ntk_tensor_view(dst, src);
  dst->offset += (ptrdiff_t)index * src->stride[dim];
  dst->ndim = 1;
  dst->shape[0] = src->shape[1 - dim];
  dst->stride[0] = src->stride[1 - dim];
  dst->shape[1] = 1;
  dst->stride[1] = 1;
  return NTK_OK;
}

int ntk_tensor_transpose(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err) {
  if (src->ndim != 2)
    return ntk_error_set(err, NTK_ESHAPE, 1, "2-D tensor expected, got %d-D", src->ndim);
  ntk_tensor_view(dst, src);
  dst->shape[0] = src->shape[1];
  dst->shape[1] = src->shape[0];
  dst->stride[0] = src->stride[1];
  dst->stride[1] = src->stride[0];
  return NTK_OK;
}

int ntk_tensor_reshape(ntk_tensor *dst, const ntk_tensor *src, int ndim, const size_t *shape,
                       ntk_error *err) {
  size_t rows, cols;
  if (ndim != 1 && ndim != 2)
    return ntk_error_set(err, NTK_EARG, 2, "1 or 2 dimensions expected, got %d", ndim);
  if (!ntk_tensor_is_contiguous(src))
    return ntk_error_set(err, NTK_EARG, 1, "contiguous tensor expected (use copy first)");
  rows = shape[0];
  cols = ndim == 2 ? shape[1] : 1;
  if ((cols != 0 && rows > SIZE_MAX / cols) || rows * cols != ntk_tensor_numel(src))
    return ntk_error_set(err, NTK_ESHAPE, 2, "cannot reshape %zu elements to %zu x %zu",
                         ntk_tensor_numel(src), rows, cols);
  ntk_tensor_view(dst, src);
  set_contiguous(dst, ndim, rows, cols);
  return NTK_OK;
}

size_t ntk_tensor_numel(const ntk_tensor *t) {
  return t->storage ? t->shape[0] * t->shape[1] : 0;
}

int ntk_tensor_is_contiguous(const ntk_tensor *t) {
  if (!t->storage) return 0;
  if (t->ndim == 1) return t->stride[0] == 1 || t->shape[0] <= 1;
  if (t->shape[0] <= 1 || t->shape[1] == 0) return t->stride[1] == 1 || t->shape[1] <= 1;
  return t->stride[1] == 1 && t->stride[0] == (ptrdiff_t)t->shape[1];
}

double *ntk_tensor_data(const ntk_tensor *t) {
  return t->storage ? t->storage->data + t->offset : NULL;
}

int ntk_tensor_same_shape(const ntk_tensor *a, const ntk_tensor *b) {
  return a->ndim == b->ndim && a->shape[0] == b->shape[0] && a->shape[1] == b->shape[1];
}

char *ntk_tensor_shape_str(const ntk_tensor *t, char *buf, size_t len) {
  if (t->ndim == 2)
    snprintf(buf, len, "[%zu x %zu]", t->shape[0], t->shape[1]);
  else if (t->ndim == 1)
    snprintf(buf, len, "[%zu]", t->shape[0]);
  else
    snprintf(buf, len, "[released]");
  return buf;
}

int ntk_tensor_contiguous(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err) {
  if (!src || !src->storage)
    return ntk_error_set(err, NTK_ERELEASED, 0, "attempt to use a released tensor");
  if (ntk_tensor_is_contiguous(src)) {
    ntk_tensor_view(dst, src);
    return NTK_OK;
  }
  return ntk_tensor_init_copy(dst, src, err);
}

int ntk_tensor_check_rows(const ntk_tensor *src, size_t cols, size_t min_rows, const char *what,
                          int arg, ntk_error *err) {
  char got[64];
  if (!src || !src->storage)
    return ntk_error_set(err, NTK_ERELEASED, arg, "attempt to use a released tensor");
  if (((src->ndim == 2 && src->shape[1] == cols) || (src->ndim == 1 && cols == 1)) &&
      src->shape[0] >= min_rows)
    return NTK_OK;
  ntk_tensor_shape_str(src, got, sizeof got);
  if (cols == 1)
    return ntk_error_set(err, NTK_ESHAPE, arg, "[P x 1] or [P]%s expected, got %s", what, got);
  return ntk_error_set(err, NTK_ESHAPE, arg, "[P x %zu]%s expected, got %s", cols, what, got);
}

int ntk_tensor_rows(ntk_tensor *dst, const ntk_tensor *src, size_t cols, size_t min_rows,
                    const char *what, int arg, ntk_error *err) {
  int st = ntk_tensor_check_rows(src, cols, min_rows, what, arg, err);
  return st != NTK_OK ? st : ntk_tensor_contiguous(dst, src, err);
}

int ntk_tensor_check_live(const ntk_tensor *t, int arg, ntk_error *err) {
  if (!t || !t->storage)
    return ntk_error_set(err, NTK_ERELEASED, arg, "attempt to use a released tensor");
  return NTK_OK;
}

int ntk_tensor_shape_error(ntk_error *err, int arg, const char *what, const ntk_tensor *expected,
                           const ntk_tensor *got) {
  char e[64], g[64];
  return ntk_error_set(err, NTK_ESHAPE, arg, "shape mismatch: %s %s expected, got %s", what,
                       ntk_tensor_shape_str(expected, e, sizeof e),
                       ntk_tensor_shape_str(got, g, sizeof g));
}

void ntk_tensor_wrap(ntk_tensor *t, ntk_storage *s, const double *data, size_t rows, size_t cols) {
  s->data = (double *)data; /* never freed: refcount stays >= 1 */
  s->size = cols ? rows * cols : rows;
  s->refcount = 1;
  s->free_data = NULL; /* the caller's buffer is never freed here */
  t->storage = s;
  t->offset = 0;
  set_contiguous(t, cols ? 2 : 1, rows, cols ? cols : 1);
}

int ntk_tensor_contiguous_pair(ntk_tensor *x, const ntk_tensor *X, ntk_tensor *y,
                               const ntk_tensor *Y, ntk_error *err) {
  int st = ntk_tensor_contiguous(x, X, err);
  if (st == NTK_OK && Y && (st = ntk_tensor_contiguous(y, Y, err)) != NTK_OK)
    ntk_tensor_release(x);
  return st;
}
