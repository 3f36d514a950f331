/* ntk_tensor.h: dense float64 tensors (1-D and 2-D, row-major) over refcounted storage.
 *
 * An ntk_tensor is a small struct the caller owns (on the stack, inside a Lua userdata, ...);
 * the element buffer lives in a refcounted ntk_storage that views share. Zero-initialise a
 * tensor before first use ({0} or memset): a zeroed tensor is "released" and every function
 * below may be called on it safely. ntk_tensor_release drops the tensor's reference and
 * zeroes it again; it is idempotent. */
#ifndef NTK_TENSOR_H
#define NTK_TENSOR_H

#include <stddef.h>

#include "ntk_error.h"

/* Largest element count a tensor may have; larger requests fail with NTK_ENOMEM before
 * anything is allocated (protects against absurd sizes from files or overflowing products). */
#define NTK_TENSOR_MAX_NUMEL ((size_t)1 << 40)

/* A refcounted element buffer shared by a tensor and its views. */
typedef struct ntk_storage {
  double *data;     /* owned; freed when refcount drops to 0 */
  size_t size;      /* number of doubles in data */
  size_t refcount;  /* number of tensors sharing this storage */
  /* NULL: data is malloc'd and free()d; else called instead (a mapped kernel unmaps) */
  void (*free_data)(double *data, size_t size);
} ntk_storage;

/* t[i, j] = storage->data[offset + i stride[0] + j stride[1]]; caller-owned, zeroed = released. */
typedef struct ntk_tensor {
  ntk_storage *storage; /* NULL when released; retained reference otherwise */
  size_t offset;        /* first element, in doubles from storage->data */
  int ndim;             /* 1 or 2 (0 only when released) */
  size_t shape[2];      /* shape[1] is 1 for 1-D tensors */
  ptrdiff_t stride[2];  /* in doubles; stride[1] is 1 for 1-D tensors */
} ntk_tensor;

/* t <- zeros(shape[0]) or zeros(shape[0], shape[1]); t must be released. */
int ntk_tensor_init(ntk_tensor *t, int ndim, const size_t *shape, ntk_error *err);
/* t <- zeros(n) */
int ntk_tensor_init_1d(ntk_tensor *t, size_t n, ntk_error *err);
/* t <- zeros(rows, cols) */
int ntk_tensor_init_2d(ntk_tensor *t, size_t rows, size_t cols, ntk_error *err);
/* t <- fresh contiguous tensor with src's shape and values (a deep copy). */
int ntk_tensor_init_copy(ntk_tensor *t, const ntk_tensor *src, ntk_error *err);
/* Drops t's reference to its storage and zeroes t. Idempotent. */
void ntk_tensor_release(ntk_tensor *t);

/* dst <- src (shares storage, retains it). dst must be released and distinct from src. */
void ntk_tensor_view(ntk_tensor *dst, const ntk_tensor *src);
/* dst <- src[start : start+count) along dim (0 = rows, 1 = columns); shares storage. */
int ntk_tensor_narrow(ntk_tensor *dst, const ntk_tensor *src, int dim, size_t start, size_t count,
                      ntk_error *err);
/* dst <- 1-D slice src[index, :] (dim 0) or src[:, index] (dim 1) of a 2-D tensor. */
int ntk_tensor_select(ntk_tensor *dst, const ntk_tensor *src, int dim, size_t index,
                      ntk_error *err);
/* dst <- src^T (2-D; swaps shape and strides, shares storage). */
int ntk_tensor_transpose(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err);
/* dst <- src reinterpreted with a new shape; src must be contiguous. Shares storage. */
int ntk_tensor_reshape(ntk_tensor *dst, const ntk_tensor *src, int ndim, const size_t *shape,
                       ntk_error *err);

/* Number of elements (0 when released). */
size_t ntk_tensor_numel(const ntk_tensor *t);
/* 1 when elements are laid out densely in row-major order, else 0. */
int ntk_tensor_is_contiguous(const ntk_tensor *t);
/* Pointer to element (0[,0]); borrowed, valid while t holds its storage. NULL if released. */
double *ntk_tensor_data(const ntk_tensor *t);

/* t[i] (1-D) or t[i, j] (2-D), 0-based, unchecked: callers check bounds. */
static inline double ntk_tensor_at(const ntk_tensor *t, size_t i, size_t j) {
  return t->storage->data[t->offset + (ptrdiff_t)i * t->stride[0] + (ptrdiff_t)j * t->stride[1]];
}
/* &t[i] or &t[i, j], 0-based, unchecked; borrowed like ntk_tensor_data. */
static inline double *ntk_tensor_ptr(const ntk_tensor *t, size_t i, size_t j) {
  return t->storage->data + t->offset + (ptrdiff_t)i * t->stride[0] + (ptrdiff_t)j * t->stride[1];
}

/* t <- a contiguous [rows x cols] tensor (cols 0: 1-D [rows]) over the caller's buffer data,
 * without copying: s is the storage record, holding one reference that is never dropped, so the
 * core never frees data. For C callers (and the core's own loops) that keep plain row-major
 * arrays; t is valid while data and s are, needs no release, and must not be written through
 * when data is read-only. */
void ntk_tensor_wrap(ntk_tensor *t, ntk_storage *s, const double *data, size_t rows, size_t cols);

/* dst <- src itself (a view, no copy) when src is contiguous, else a contiguous copy; dst must be
 * released on entry and is released by the caller. The one place where a model-level function
 * (ntk_kernel, ntk_regress, ntk_metrics, ntk_mlp, ntk_train) turns any view into row-major
 * data. */
int ntk_tensor_contiguous(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err);
/* x <- ntk_tensor_contiguous(X) and, when Y is not NULL, y <- ntk_tensor_contiguous(Y): the
 * inputs and targets of one call; on failure both stay released. */
int ntk_tensor_contiguous_pair(ntk_tensor *x, const ntk_tensor *X, ntk_tensor *y,
                               const ntk_tensor *Y, ntk_error *err);
/* Checks that src holds rows of `cols` values: [P x cols], or [P] when cols is 1, with
 * P >= min_rows. Otherwise NTK_ESHAPE for argument arg, "[P x cols]<what> expected, got [..]"
 * (what: "" or a noun such as " inputs"). */
int ntk_tensor_check_rows(const ntk_tensor *src, size_t cols, size_t min_rows, const char *what,
                          int arg, ntk_error *err);
/* dst <- ntk_tensor_contiguous(src) after ntk_tensor_check_rows. */
int ntk_tensor_rows(ntk_tensor *dst, const ntk_tensor *src, size_t cols, size_t min_rows,
                    const char *what, int arg, ntk_error *err);

/* NTK_ERELEASED for argument arg when t is NULL or released, else NTK_OK. */
int ntk_tensor_check_live(const ntk_tensor *t, int arg, ntk_error *err);
/* NTK_ESHAPE for argument arg: "shape mismatch: <what> [expected] expected, got [got]". */
int ntk_tensor_shape_error(ntk_error *err, int arg, const char *what, const ntk_tensor *expected,
                           const ntk_tensor *got);

/* 1 when a and b have the same ndim and shape. */
int ntk_tensor_same_shape(const ntk_tensor *a, const ntk_tensor *b);
/* Writes "[3 x 4]" or "[5]" into buf (at least 64 bytes) and returns buf. */
char *ntk_tensor_shape_str(const ntk_tensor *t, char *buf, size_t len);

#endif
