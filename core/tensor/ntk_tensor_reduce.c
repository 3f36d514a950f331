/* ntk_tensor_reduce.c: reductions (sum, mean, min, max, arg-min/max, norm; whole tensor or along
 * a dimension), dot products and the count of non-finite entries, on tensors of any strides
 * (declared in ntk_tensor_ops.h). */
#include <cblas.h> /* ddot with the operands' own strides (ntk_blas is products on 2-D) */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ntk_tensor_ops.h"

#define check_live ntk_tensor_check_live
#define shape_error ntk_tensor_shape_error

/* ---- reductions ------------------------------------------------------------------------- */

/* sqrt(sum x^2) over a strided line, rescaling by max |x| only when the plain sum of squares
 * overflows or underflows (the common case stays a single fast pass). */
static double norm2_line(const double *p, size_t n, ptrdiff_t s) {
  double ssq = 0.0, amax = 0.0, scaled = 0.0;
  size_t k;
  if (s == 1) {
    /* four partial sums, as in reduce_line's SUM */
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (k = 0; k + 4 <= n; k += 4) {
      s0 += p[k] * p[k];
      s1 += p[k + 1] * p[k + 1];
      s2 += p[k + 2] * p[k + 2];
      s3 += p[k + 3] * p[k + 3];
    }
    for (; k < n; k++) s0 += p[k] * p[k];
    ssq = (s0 + s1) + (s2 + s3);
  } else {
    for (k = 0; k < n; k++) {
      double x = p[(ptrdiff_t)k * s];
      ssq += x * x;
    }
  }
  if (ssq != ssq) return ssq;
  if (ssq >= DBL_MIN && ssq <= DBL_MAX) return sqrt(ssq);
  for (k = 0; k < n; k++) {
    double x = fabs(p[(ptrdiff_t)k * s]);
    if (x > amax) amax = x;
  }
  if (amax == 0.0 || isinf(amax)) return amax;
  for (k = 0; k < n; k++) {
    double x = p[(ptrdiff_t)k * s] / amax;
    scaled += x * x;
  }
  return amax * sqrt(scaled);
}

double ntk_sum_contiguous(const double *a, size_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t k;
  /* four partial sums: breaks the add latency chain and lets the loop vectorise */
  for (k = 0; k + 4 <= n; k += 4) {
    s0 += a[k];
    s1 += a[k + 1];
    s2 += a[k + 2];
    s3 += a[k + 3];
  }
  for (; k < n; k++) s0 += a[k];
  return (s0 + s1) + (s2 + s3);
}

/* r over the strided line p[0], p[s], ..., p[(n-1)s] (n >= 1 except for SUM and NORM*);
 * *pos <- position for ARGMIN/ARGMAX. MEAN gives the sum: callers divide. */
static double reduce_line(const double *p, size_t n, ptrdiff_t s, ntk_reduce r, size_t *pos) {
  size_t k, best = 0;
  double acc = 0.0;
  switch (r) {
    case NTK_REDUCE_SUM:
    case NTK_REDUCE_MEAN:
      if (s == 1) return ntk_sum_contiguous(p, n);
      for (k = 0; k < n; k++) acc += p[(ptrdiff_t)k * s];
      return acc;
    case NTK_REDUCE_NORM2: return norm2_line(p, n, s);
    case NTK_REDUCE_NORMINF:
      for (k = 0; k < n; k++) {
        double x = fabs(p[(ptrdiff_t)k * s]);
        if (x != x) return x;
        if (x > acc) acc = x;
      }
      return acc;
    case NTK_REDUCE_MIN:
    case NTK_REDUCE_ARGMIN:
      acc = p[0];
      for (k = 0; k < n && acc == acc; k++) {
        double x = p[(ptrdiff_t)k * s];
        if (x < acc || x != x) {
          acc = x;
          best = k;
        }
      }
      break;
    case NTK_REDUCE_MAX:
    case NTK_REDUCE_ARGMAX:
      acc = p[0];
      for (k = 0; k < n && acc == acc; k++) {
        double x = p[(ptrdiff_t)k * s];
        if (x > acc || x != x) {
          acc = x;
          best = k;
        }
      }
      break;
    default: break;
  }
  if (pos) *pos = best;
  return acc;
}

static int check_reduce(ntk_reduce r, const ntk_tensor *t, int arg, ntk_error *err) {
  if ((unsigned)r >= NTK_REDUCE_COUNT)
    return ntk_error_set(err, NTK_EARG, arg, "unknown reduction %d", (int)r);
  return NTK_OK;
}

static int needs_elements(ntk_reduce r) {
  return r != NTK_REDUCE_SUM && r != NTK_REDUCE_NORM2 && r != NTK_REDUCE_NORMINF;
}

/* Whole-tensor reduction: *value and the (i, j) position for ARG*. */
static int reduce_all(double *value, size_t *pi, size_t *pj, const ntk_tensor *t, int targ,
                      ntk_reduce r, ntk_error *err) {
  size_t i, rows, cols, pos = 0, bi = 0, bj = 0;
  double acc = 0.0;
  int st;
  if ((st = check_live(t, targ, err)) != NTK_OK ||
      (st = check_reduce(r, t, targ + 1, err)) != NTK_OK)
    return st;
  if (ntk_tensor_numel(t) == 0 && needs_elements(r)) {
    char buf[64];
    return ntk_error_set(err, NTK_ESHAPE, targ, "%s of an empty tensor %s", ntk_reduce_name(r),
                         ntk_tensor_shape_str(t, buf, sizeof buf));
  }
  rows = t->shape[0];
  cols = t->shape[1];
  if (ntk_tensor_is_contiguous(t) || cols == 1) {
    /* one line: the whole dense buffer, or a (possibly strided) column */
    acc = reduce_line(ntk_tensor_data(t), rows * cols, cols == 1 ? t->stride[0] : 1, r, &pos);
    bi = cols ? pos / cols : 0;
    bj = cols ? pos % cols : 0;
  } else {
    for (i = 0; i < rows; i++) {
      double v = reduce_line(ntk_tensor_ptr(t, i, 0), cols, t->stride[1], r, &pos);
      if (i == 0) {
        acc = v;
        bj = pos;
        continue;
      }
      switch (r) {
        case NTK_REDUCE_SUM:
        case NTK_REDUCE_MEAN: acc += v; break;
        case NTK_REDUCE_NORM2: acc = hypot(acc, v); break;
        case NTK_REDUCE_NORMINF:
        case NTK_REDUCE_MAX:
        case NTK_REDUCE_ARGMAX:
          if (acc == acc && (v > acc || v != v)) {
            acc = v;
            bi = i;
            bj = pos;
          }
          break;
        default: /* MIN, ARGMIN */
          if (acc == acc && (v < acc || v != v)) {
            acc = v;
            bi = i;
            bj = pos;
          }
          break;
      }
    }
  }
  if (r == NTK_REDUCE_MEAN) acc /= (double)(rows * cols);
  *value = acc;
  if (pi) *pi = bi;
  if (pj) *pj = bj;
  return NTK_OK;
}

int ntk_tensor_reduce(double *out, const ntk_tensor *t, ntk_reduce r, ntk_error *err) {
  size_t i = 0, j = 0;
  int st = reduce_all(out, &i, &j, t, 2, r, err);
  if (st == NTK_OK && (r == NTK_REDUCE_ARGMIN || r == NTK_REDUCE_ARGMAX))
    *out = (double)(i * t->shape[1] + j);
  return st;
}

int ntk_tensor_argreduce(size_t *i, size_t *j, const ntk_tensor *t, ntk_reduce r,
                         ntk_error *err) {
  double v;
  if (r != NTK_REDUCE_ARGMIN && r != NTK_REDUCE_ARGMAX)
    return ntk_error_set(err, NTK_EARG, 4, "argmin or argmax expected, got %s",
                         ntk_reduce_name(r) ? ntk_reduce_name(r) : "an unknown reduction");
  return reduce_all(&v, i, j, t, 3, r, err);
}

/* 1 when t's elements form one strided line (1-D, a row or a column); *stride <- its step. */
static int line_stride(const ntk_tensor *t, ptrdiff_t *stride) {
  if (t->ndim == 1 || t->shape[1] == 1) {
    *stride = t->stride[0];
    return 1;
  }
  if (t->shape[0] == 1) {
    *stride = t->stride[1];
    return 1;
  }
  return 0;
}

int ntk_tensor_reduce_dim(ntk_tensor *dst, const ntk_tensor *t, int dim, ntk_reduce r,
                          ntk_error *err) {
  size_t k, n, len, pos = 0;
  ptrdiff_t along, across, dstride;
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_live(t, 2, err)) != NTK_OK ||
      (st = check_reduce(r, t, 4, err)) != NTK_OK)
    return st;
  if (dim < 0 || dim >= t->ndim)
    return ntk_error_set(err, NTK_EARG, 3, "dimension %d out of range for a %d-D tensor",
                         dim + 1, t->ndim);
  n = t->shape[1 - dim];   /* number of results */
  len = t->shape[dim];     /* elements per result */
  along = t->stride[dim];
  across = t->stride[1 - dim];
  if (ntk_tensor_numel(dst) != n) {
    char buf[64];
    return ntk_error_set(err, NTK_ESHAPE, 1, "destination of %zu elements expected, got %s", n,
                         ntk_tensor_shape_str(dst, buf, sizeof buf));
  }
  if (len == 0 && n > 0 && needs_elements(r)) {
    char buf[64];
    return ntk_error_set(err, NTK_ESHAPE, 2, "%s over an empty dimension of %s",
                         ntk_reduce_name(r), ntk_tensor_shape_str(t, buf, sizeof buf));
  }
  if (dst->storage == t->storage) {
    /* writing results into t's own memory while reading it: compute into a private copy */
    ntk_tensor tmp = {0};
    if ((st = ntk_tensor_init_copy(&tmp, t, err)) != NTK_OK) return st;
    st = ntk_tensor_reduce_dim(dst, &tmp, dim, r, err);
    ntk_tensor_release(&tmp);
    return st;
  }
  if ((r == NTK_REDUCE_SUM || r == NTK_REDUCE_MEAN) && across == 1 && along != 1 && n > 1 &&
      line_stride(dst, &dstride)) {
    /* sums down the columns of a row-major tensor: add whole rows, in memory order */
    double *d = ntk_tensor_data(dst);
    const double *p = ntk_tensor_data(t);
    size_t l;
    for (k = 0; k < n; k++) d[(ptrdiff_t)k * dstride] = 0.0;
    for (l = 0; l < len; l++)
      for (k = 0; k < n; k++) d[(ptrdiff_t)k * dstride] += p[(ptrdiff_t)l * along + (ptrdiff_t)k];
    if (r == NTK_REDUCE_MEAN)
      for (k = 0; k < n; k++) d[(ptrdiff_t)k * dstride] /= (double)len;
    return NTK_OK;
  }
  for (k = 0; k < n; k++) {
    const double *p = ntk_tensor_data(t) + (ptrdiff_t)k * across;
    double v = len ? reduce_line(p, len, along, r, &pos) : 0.0;
    if (r == NTK_REDUCE_MEAN) v /= (double)len;
    if (r == NTK_REDUCE_ARGMIN || r == NTK_REDUCE_ARGMAX) v = (double)pos;
    /* dst is 1-D or 2-D with n elements; walk it in row-major order */
    if (dst->ndim == 2 && dst->shape[1] != 1)
      *ntk_tensor_ptr(dst, k / dst->shape[1], k % dst->shape[1]) = v;
    else
      *ntk_tensor_ptr(dst, k, 0) = v;
  }
  return NTK_OK;
}

int ntk_tensor_dot(double *out, const ntk_tensor *a, const ntk_tensor *b, ntk_error *err) {
  size_t n, k;
  ptrdiff_t sa, sb;
  double acc = 0.0;
  const double *pa, *pb;
  int st;
  if ((st = check_live(a, 2, err)) != NTK_OK || (st = check_live(b, 3, err)) != NTK_OK) return st;
  if (a->ndim != 1) {
    char buf[64];
    return ntk_error_set(err, NTK_ESHAPE, 2, "1-D tensor expected, got %s",
                         ntk_tensor_shape_str(a, buf, sizeof buf));
  }
  if (!ntk_tensor_same_shape(a, b)) return shape_error(err, 3, "second vector", a, b);
  n = a->shape[0];
  sa = a->stride[0];
  sb = b->stride[0];
  pa = ntk_tensor_data(a);
  pb = ntk_tensor_data(b);
  if (n <= INT_MAX && sa >= 1 && sb >= 1 && sa <= INT_MAX && sb <= INT_MAX) {
    *out = cblas_ddot((int)n, pa, (int)sa, pb, (int)sb);
    return NTK_OK;
  }
  for (k = 0; k < n; k++) acc += pa[(ptrdiff_t)k * sa] * pb[(ptrdiff_t)k * sb];
  *out = acc;
  return NTK_OK;
}

size_t ntk_tensor_count_nonfinite(const ntk_tensor *t) {
  size_t i, j, count = 0;
  if (!t || !t->storage) return 0;
  if (ntk_tensor_is_contiguous(t)) {
    const double *p = ntk_tensor_data(t);
    size_t n = ntk_tensor_numel(t);
    for (i = 0; i < n; i++) count += !isfinite(p[i]);
    return count;
  }
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++) count += !isfinite(ntk_tensor_at(t, i, j));
  return count;
}

