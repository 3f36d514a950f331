/* ntk_tensor_ops.h: element-wise operations, reductions and constructions on tensors.
 *
 * Every function accepts tensors of any layout (contiguous, narrowed, selected, transposed):
 * contiguous operands take a tight flat loop, others a strided one. A destination `dst` is an
 * existing tensor of the right shape (it may be the same tensor as an input, for in-place
 * work) unless the comment says "fresh": then dst must be released (zeroed) on entry and
 * receives a new contiguous tensor the caller owns. When dst shares memory with an input in a
 * different layout (t <- t^T + t), the input is first copied, so results never depend on the
 * order of the loops.
 *
 * Broadcasting (binary ops and where): b may have a's shape, or, for a 2-D a of [m x n], be a
 * row [1 x n] or a 1-D [n] (applied to every row, as numpy does) or a column [m x 1] (applied
 * to every column). A 1-D [m] is never taken as a column: reshape it to [m x 1].
 *
 * Dimensions are 0-based: dim 0 runs down the rows, dim 1 along the columns. Reducing over
 * dim 0 gives one value per column, over dim 1 one value per row. */
#ifndef NTK_TENSOR_OPS_H
#define NTK_TENSOR_OPS_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Binary element-wise operations; the comparisons give 1.0 for true and 0.0 for false. */
typedef enum ntk_binop {
  NTK_OP_ADD = 0, /* a + b */
  NTK_OP_SUB,     /* a - b */
  NTK_OP_MUL,     /* a * b */
  NTK_OP_DIV,     /* a / b (IEEE: x/0 is +-Inf or NaN) */
  NTK_OP_POW,     /* pow(a, b) */
  NTK_OP_MIN,     /* min(a, b), NaN if either is NaN */
  NTK_OP_MAX,     /* max(a, b), NaN if either is NaN */
  NTK_OP_LT,      /* a < b */
  NTK_OP_LE,      /* a <= b */
  NTK_OP_GT,      /* a > b */
  NTK_OP_GE,      /* a >= b */
  NTK_OP_EQ,      /* a == b */
  NTK_OP_NE,      /* a ~= b */
  NTK_OP_COUNT
} ntk_binop;

/* Unary maps y = f(x). */
typedef enum ntk_map {
  NTK_MAP_EXP = 0,   /* e^x */
  NTK_MAP_LOG,       /* ln x */
  NTK_MAP_LOG1P,     /* ln(1 + x) */
  NTK_MAP_EXPM1,     /* e^x - 1 */
  NTK_MAP_TANH,      /* tanh x */
  NTK_MAP_SIGMOID,   /* 1 / (1 + e^-x) */
  NTK_MAP_RELU,      /* max(x, 0) */
  NTK_MAP_ABS,       /* |x| */
  NTK_MAP_SQRT,      /* sqrt x */
  NTK_MAP_SQUARE,    /* x^2 */
  NTK_MAP_NEG,       /* -x */
  NTK_MAP_RECIPROCAL,/* 1 / x */
  NTK_MAP_SIGN,      /* -1, 0 or 1 (NaN stays NaN) */
  NTK_MAP_FLOOR,     /* floor x */
  NTK_MAP_CEIL,      /* ceil x */
  NTK_MAP_COS,       /* cos x */
  NTK_MAP_SIN,       /* sin x */
  NTK_MAP_COUNT
} ntk_map;

/* Reductions. MIN/MAX/ARGMIN/ARGMAX propagate NaN (the first NaN wins); NORM2 is the
 * Euclidean (Frobenius) norm, NORMINF the largest absolute value. */
typedef enum ntk_reduce {
  NTK_REDUCE_SUM = 0, /* sum x */
  NTK_REDUCE_MEAN,    /* sum x / count */
  NTK_REDUCE_MIN,     /* min x */
  NTK_REDUCE_MAX,     /* max x */
  NTK_REDUCE_ARGMIN,  /* 0-based position of the first minimum */
  NTK_REDUCE_ARGMAX,  /* 0-based position of the first maximum */
  NTK_REDUCE_NORM2,   /* sqrt(sum x^2), without overflow for large x */
  NTK_REDUCE_NORMINF, /* max |x| */
  NTK_REDUCE_COUNT
} ntk_reduce;

/* Static lower-case name of a binary op ("add", "lt"), NULL for invalid values. */
const char *ntk_binop_name(ntk_binop op);
/* Static name of an elementwise map ("exp", "relu"), NULL for invalid values. */
const char *ntk_map_name(ntk_map f);
/* Static name of a reduction ("sum", "max"), NULL for invalid values. */
const char *ntk_reduce_name(ntk_reduce r);
/* Static operator symbol for messages ("+", "<=", "max"), NULL for invalid values. */
const char *ntk_binop_symbol(ntk_binop op);
/* *out <- the map called name ("tanh"); returns 1 if found, 0 otherwise. */
int ntk_map_from_name(const char *name, ntk_map *out);

/* t[i, j] <- value */
int ntk_tensor_fill(ntk_tensor *t, double value, ntk_error *err);
/* dst <- src (same shape; any layouts; overlapping memory handled). */
int ntk_tensor_copy(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err);

/* dst <- a op b, b broadcast as described above; dst has a's shape. */
int ntk_tensor_binop(ntk_tensor *dst, const ntk_tensor *a, ntk_binop op, const ntk_tensor *b,
                     ntk_error *err);
/* dst <- a op s (dst has a's shape). */
int ntk_tensor_binop_scalar(ntk_tensor *dst, const ntk_tensor *a, ntk_binop op, double s,
                            ntk_error *err);
/* dst <- s op b (dst has b's shape), for s - b, s / b, ... */
int ntk_tensor_scalar_binop(ntk_tensor *dst, double s, ntk_binop op, const ntk_tensor *b,
                            ntk_error *err);
/* NTK_OK when b broadcasts against a as described above, else NTK_ESHAPE (arg 2) naming both
 * shapes and opname (may be ""). Lets callers check before they allocate a result. */
int ntk_tensor_check_broadcast(const ntk_tensor *a, const ntk_tensor *b, const char *opname,
                               ntk_error *err);
/* y <- y + alpha x (same shape). */
int ntk_tensor_axpy(ntk_tensor *y, double alpha, const ntk_tensor *x, ntk_error *err);

/* dst <- f(src) element-wise (same shape). */
int ntk_tensor_map(ntk_tensor *dst, const ntk_tensor *src, ntk_map f, ntk_error *err);
/* dst <- src^p element-wise. */
int ntk_tensor_pow(ntk_tensor *dst, const ntk_tensor *src, double p, ntk_error *err);
/* dst <- min(max(src, lo), hi) element-wise; lo <= hi (NaN stays NaN). */
int ntk_tensor_clamp(ntk_tensor *dst, const ntk_tensor *src, double lo, double hi,
                     ntk_error *err);
/* dst <- cond ~= 0 ? a : b, element-wise; a or b NULL means the scalar a_value / b_value.
 * dst has cond's shape; a and b broadcast against cond. */
int ntk_tensor_where(ntk_tensor *dst, const ntk_tensor *cond, const ntk_tensor *a,
                     double a_value, const ntk_tensor *b, double b_value, ntk_error *err);

/* *out <- r(t) over all elements. ARGMIN/ARGMAX give the flat row-major position (use
 * ntk_tensor_argreduce for (i, j)). MEAN/MIN/MAX/ARG* of an empty tensor: NTK_ESHAPE. */
int ntk_tensor_reduce(double *out, const ntk_tensor *t, ntk_reduce r, ntk_error *err);
/* (*i, *j) <- 0-based position of the first min (ARGMIN) or max (ARGMAX) of t; j is 0 for 1-D. */
int ntk_tensor_argreduce(size_t *i, size_t *j, const ntk_tensor *t, ntk_reduce r,
                         ntk_error *err);
/* dst[k] <- r over dim of t: dim 0 gives one value per column (numel(dst) = cols), dim 1 one
 * per row (numel(dst) = rows); dst may be 1-D or 2-D of that many elements, in any layout.
 * ARGMIN/ARGMAX store 0-based positions as doubles. A 1-D t is a column: only dim 0. */
int ntk_tensor_reduce_dim(ntk_tensor *dst, const ntk_tensor *t, int dim, ntk_reduce r,
                          ntk_error *err);
/* *out <- sum a[i] b[i] (1-D, same length). */
int ntk_tensor_dot(double *out, const ntk_tensor *a, const ntk_tensor *b, ntk_error *err);
/* Number of NaN and +-Inf elements of t (0 for a released tensor). */
size_t ntk_tensor_count_nonfinite(const ntk_tensor *t);

/* dst <- fresh n x m identity (ones on the main diagonal). */
int ntk_tensor_eye(ntk_tensor *dst, size_t n, size_t m, ntk_error *err);
/* dst <- fresh diag(v): [n x n] with v (1-D, length n) on the diagonal, zeros elsewhere. */
int ntk_tensor_diag_matrix(ntk_tensor *dst, const ntk_tensor *v, ntk_error *err);
/* dst <- view of the main diagonal of 2-D src, 1-D of length min(rows, cols); shares storage,
 * so writing it writes src (A:diagonal() += lambda regularises A in place). */
int ntk_tensor_diagonal(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err);
/* dst <- fresh concatenation of parts[0..n) along dim: 1-D parts end to end (dim 0); 2-D parts
 * stacked by rows (dim 0, equal column counts) or placed side by side (dim 1, equal rows). */
int ntk_tensor_cat(ntk_tensor *dst, const ntk_tensor *const *parts, size_t n, int dim,
                   ntk_error *err);
/* dst <- fresh src[index[k], :] for k < n (2-D: rows; 1-D: elements); indices 0-based and may
 * repeat. An index out of range fails with NTK_ERANGE, arg 3. */
int ntk_tensor_gather_rows(ntk_tensor *dst, const ntk_tensor *src, const size_t *index,
                           size_t n, ntk_error *err);

/* a[0] + ... + a[n-1] in four interleaved partial sums, ((s0 + s1) + (s2 + s3)): the summation
 * order of every contiguous sum in the library (ntk_tensor_reduce, the kernel metrics). */
double ntk_sum_contiguous(const double *a, size_t n);

#endif
