/* ntk_tensor_ops.c: element-wise operations, reductions and constructions on tensors.
 *
 * Every element-wise operation runs on "operands": a base pointer and two strides. A scalar is
 * an operand with both strides 0, a broadcast row has row stride 0, a broadcast column has
 * column stride 0, so one strided kernel serves tensors, scalars and broadcasting alike. The
 * kernels collapse dense operands into one flat loop and specialise the unit-stride inner
 * loops so that the compiler can vectorise them. */
#include "ntk_tensor_ops.h"

#include <cblas.h> /* ddot with the operands' own strides (ntk_blas is products on 2-D) */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

typedef struct operand {
  double *p;
  ptrdiff_t s0, s1; /* strides in doubles along rows and columns */
} operand;

static operand operand_of(const ntk_tensor *t) {
  operand o;
  o.p = ntk_tensor_data(t);
  o.s0 = t->stride[0];
  o.s1 = t->stride[1];
  return o;
}

static operand operand_scalar(double *value) {
  operand o;
  o.p = value;
  o.s0 = 0;
  o.s1 = 0;
  return o;
}

static int check_live(const ntk_tensor *t, int arg, ntk_error *err) {
  if (!t || !t->storage)
    return ntk_error_set(err, NTK_ERELEASED, arg, "attempt to use a released tensor");
  return NTK_OK;
}

static int shape_error(ntk_error *err, int arg, const char *what, const ntk_tensor *expected,
                       const ntk_tensor *got) {
  char e[64], g[64];
  return ntk_error_set(err, NTK_ESHAPE, arg, "shape mismatch: %s %s expected, got %s", what,
                       ntk_tensor_shape_str(expected, e, sizeof e),
                       ntk_tensor_shape_str(got, g, sizeof g));
}

/* Storage offsets of the first and last element t touches (t non-empty). */
static void extent(const ntk_tensor *t, ptrdiff_t *lo, ptrdiff_t *hi) {
  ptrdiff_t a = (ptrdiff_t)(t->shape[0] - 1) * t->stride[0];
  ptrdiff_t b = (ptrdiff_t)(t->shape[1] - 1) * t->stride[1];
  *lo = (ptrdiff_t)t->offset + (a < 0 ? a : 0) + (b < 0 ? b : 0);
  *hi = (ptrdiff_t)t->offset + (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

/* 1 when writing dst element by element could change what is later read from in: they share
 * memory but not the very same layout. Same layout is safe: each element is read before
 * it is written. */
static int conflicts(const ntk_tensor *dst, const ntk_tensor *in) {
  ptrdiff_t dlo, dhi, ilo, ihi;
  if (dst->storage != in->storage || ntk_tensor_numel(dst) == 0 || ntk_tensor_numel(in) == 0)
    return 0;
  if (dst->offset == in->offset && dst->shape[0] == in->shape[0] &&
      dst->shape[1] == in->shape[1] && dst->stride[0] == in->stride[0] &&
      dst->stride[1] == in->stride[1])
    return 0;
  extent(dst, &dlo, &dhi);
  extent(in, &ilo, &ihi);
  return dlo <= ihi && ilo <= dhi;
}

/* *use <- in, or a private copy of it (in tmp, released by the caller) when in conflicts
 * with dst. */
static int detach_input(const ntk_tensor *dst, const ntk_tensor *in, ntk_tensor *tmp,
                        const ntk_tensor **use, ntk_error *err) {
  *use = in;
  if (in && conflicts(dst, in)) {
    int st = ntk_tensor_init_copy(tmp, in, err);
    if (st != NTK_OK) return st;
    *use = tmp;
  }
  return NTK_OK;
}

/* ---- the element-wise kernels ------------------------------------------------------------ */

/* Reorders and merges the iteration over rows x cols so that the destination is walked along
 * its smallest stride and dense operands become one flat loop. */
static void plan(size_t *rows, size_t *cols, operand *ops, int nops) {
  int k, flat = 1;
  /* walk the destination along its smallest stride; a single column becomes a single row */
  if ((*cols <= 1 && *rows > 1) || (*cols > 1 && *rows > 1 && ops[0].s1 != 1 && ops[0].s0 == 1)) {
    size_t t = *rows;
    *rows = *cols;
    *cols = t;
    for (k = 0; k < nops; k++) {
      ptrdiff_t s = ops[k].s0;
      ops[k].s0 = ops[k].s1;
      ops[k].s1 = s;
    }
  }
  if (*rows <= 1) return;
  for (k = 0; k < nops; k++)
    if (ops[k].s0 != (ptrdiff_t)*cols * ops[k].s1) flat = 0;
  if (flat) {
    *cols *= *rows;
    *rows = 1;
  }
}

#define LOOP2(EXPR)                                                               \
  for (i = 0; i < rows; i++) {                                                    \
    double *dp = d.p + (ptrdiff_t)i * d.s0;                                       \
    const double *ap = a.p + (ptrdiff_t)i * a.s0;                                 \
    if (d.s1 == 1 && a.s1 == 1) {                                                 \
      for (j = 0; j < cols; j++) {                                                \
        double x = ap[j];                                                         \
        dp[j] = (EXPR);                                                           \
      }                                                                           \
    } else {                                                                      \
      for (j = 0; j < cols; j++) {                                                \
        double x = ap[(ptrdiff_t)j * a.s1];                                       \
        dp[(ptrdiff_t)j * d.s1] = (EXPR);                                         \
      }                                                                           \
    }                                                                             \
  }

#define LOOP3(EXPR)                                                               \
  for (i = 0; i < rows; i++) {                                                    \
    double *dp = d.p + (ptrdiff_t)i * d.s0;                                       \
    const double *ap = a.p + (ptrdiff_t)i * a.s0;                                 \
    const double *bp = b.p + (ptrdiff_t)i * b.s0;                                 \
    if (d.s1 == 1 && a.s1 == 1 && b.s1 == 1) {                                    \
      for (j = 0; j < cols; j++) {                                                \
        double x = ap[j], y = bp[j];                                              \
        dp[j] = (EXPR);                                                           \
      }                                                                           \
    } else if (d.s1 == 1 && a.s1 == 1 && b.s1 == 0) {                             \
      const double y = bp[0];                                                     \
      for (j = 0; j < cols; j++) {                                                \
        double x = ap[j];                                                         \
        dp[j] = (EXPR);                                                           \
      }                                                                           \
    } else if (d.s1 == 1 && a.s1 == 0 && b.s1 == 1) {                             \
      const double x = ap[0];                                                     \
      for (j = 0; j < cols; j++) {                                                \
        double y = bp[j];                                                         \
        dp[j] = (EXPR);                                                           \
      }                                                                           \
    } else {                                                                      \
      for (j = 0; j < cols; j++) {                                                \
        double x = ap[(ptrdiff_t)j * a.s1], y = bp[(ptrdiff_t)j * b.s1];          \
        dp[(ptrdiff_t)j * d.s1] = (EXPR);                                         \
      }                                                                           \
    }                                                                             \
  }

static void run_binop(ntk_binop op, size_t rows, size_t cols, operand d, operand a, operand b) {
  size_t i, j;
  operand ops[3];
  ops[0] = d;
  ops[1] = a;
  ops[2] = b;
  plan(&rows, &cols, ops, 3);
  d = ops[0];
  a = ops[1];
  b = ops[2];
  switch (op) {
    case NTK_OP_ADD: LOOP3(x + y); break;
    case NTK_OP_SUB: LOOP3(x - y); break;
    case NTK_OP_MUL: LOOP3(x * y); break;
    case NTK_OP_DIV: LOOP3(x / y); break;
    case NTK_OP_POW: LOOP3(pow(x, y)); break;
    case NTK_OP_MIN: LOOP3((x < y || x != x) ? x : y); break;
    case NTK_OP_MAX: LOOP3((x > y || x != x) ? x : y); break;
    case NTK_OP_LT: LOOP3(x < y ? 1.0 : 0.0); break;
    case NTK_OP_LE: LOOP3(x <= y ? 1.0 : 0.0); break;
    case NTK_OP_GT: LOOP3(x > y ? 1.0 : 0.0); break;
    case NTK_OP_GE: LOOP3(x >= y ? 1.0 : 0.0); break;
    case NTK_OP_EQ: LOOP3(x == y ? 1.0 : 0.0); break;
    case NTK_OP_NE: LOOP3(x != y ? 1.0 : 0.0); break;
    default: break;
  }
}

/* Element-wise map; p and q are the parameters of pow (p) and clamp (p, q). */
enum { MAP_COPY = NTK_MAP_COUNT, MAP_POW, MAP_CLAMP, MAP_FILL };

static void run_map(int f, size_t rows, size_t cols, operand d, operand a, double p, double q) {
  size_t i, j;
  operand ops[2];
  ops[0] = d;
  ops[1] = a;
  plan(&rows, &cols, ops, 2);
  d = ops[0];
  a = ops[1];
  switch (f) {
    case NTK_MAP_EXP: LOOP2(exp(x)); break;
    case NTK_MAP_LOG: LOOP2(log(x)); break;
    case NTK_MAP_LOG1P: LOOP2(log1p(x)); break;
    case NTK_MAP_EXPM1: LOOP2(expm1(x)); break;
    case NTK_MAP_TANH: LOOP2(tanh(x)); break;
    case NTK_MAP_SIGMOID: LOOP2(1.0 / (1.0 + exp(-x))); break;
    case NTK_MAP_RELU: LOOP2(x < 0.0 ? 0.0 : x); break; /* NaN stays NaN */
    case NTK_MAP_ABS: LOOP2(fabs(x)); break;
    case NTK_MAP_SQRT: LOOP2(sqrt(x)); break;
    case NTK_MAP_SQUARE: LOOP2(x * x); break;
    case NTK_MAP_NEG: LOOP2(-x); break;
    case NTK_MAP_RECIPROCAL: LOOP2(1.0 / x); break;
    case NTK_MAP_SIGN: LOOP2(x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : x)); break;
    case NTK_MAP_FLOOR: LOOP2(floor(x)); break;
    case NTK_MAP_CEIL: LOOP2(ceil(x)); break;
    case NTK_MAP_COS: LOOP2(cos(x)); break;
    case NTK_MAP_SIN: LOOP2(sin(x)); break;
    case MAP_COPY: LOOP2(x); break;
    case MAP_POW:
      if (p == 2.0) {
        LOOP2(x * x);
      } else if (p == 0.5) {
        LOOP2(sqrt(x));
      } else {
        LOOP2(pow(x, p));
      }
      break;
    case MAP_CLAMP: LOOP2(x < p ? p : (x > q ? q : x)); break; /* NaN stays NaN */
    case MAP_FILL: LOOP2(((void)x, p)); break;
    default: break;
  }
}

static const char *const binop_names[NTK_OP_COUNT] = {
    "add", "sub", "mul", "div", "pow", "minimum", "maximum", "lt", "le", "gt", "ge", "eq", "ne"};
static const char *const binop_symbols[NTK_OP_COUNT] = {
    "+", "-", "*", "/", "^", "min", "max", "<", "<=", ">", ">=", "==", "~="};
static const char *const map_names[NTK_MAP_COUNT] = {
    "exp", "log", "log1p", "expm1", "tanh", "sigmoid", "relu", "abs", "sqrt",
    "square", "neg", "reciprocal", "sign", "floor", "ceil", "cos", "sin"};
static const char *const reduce_names[NTK_REDUCE_COUNT] = {
    "sum", "mean", "min", "max", "argmin", "argmax", "norm2", "norminf"};

const char *ntk_binop_name(ntk_binop op) {
  return (unsigned)op < NTK_OP_COUNT ? binop_names[op] : NULL;
}

const char *ntk_binop_symbol(ntk_binop op) {
  return (unsigned)op < NTK_OP_COUNT ? binop_symbols[op] : NULL;
}

const char *ntk_map_name(ntk_map f) {
  return (unsigned)f < NTK_MAP_COUNT ? map_names[f] : NULL;
}

const char *ntk_reduce_name(ntk_reduce r) {
  return (unsigned)r < NTK_REDUCE_COUNT ? reduce_names[r] : NULL;
}

int ntk_map_from_name(const char *name, ntk_map *out) {
  int k;
  for (k = 0; k < NTK_MAP_COUNT; k++)
    if (strcmp(name, map_names[k]) == 0) {
      *out = (ntk_map)k;
      return 1;
    }
  return 0;
}

/* ---- element-wise entry points ------------------------------------------------------------ */

/* Shared driver of the unary operations: dst <- f(src) with parameters p, q. */
static int unary(ntk_tensor *dst, const ntk_tensor *src, int f, double p, double q,
                 ntk_error *err) {
  ntk_tensor tmp = {0};
  const ntk_tensor *in;
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_live(src, 2, err)) != NTK_OK)
    return st;
  if (!ntk_tensor_same_shape(dst, src))
    return shape_error(err, 1, "destination", src, dst);
  if ((st = detach_input(dst, src, &tmp, &in, err)) != NTK_OK) return st;
  run_map(f, dst->shape[0], dst->shape[1], operand_of(dst), operand_of(in), p, q);
  ntk_tensor_release(&tmp);
  return NTK_OK;
}

int ntk_tensor_fill(ntk_tensor *t, double value, ntk_error *err) {
  int st = check_live(t, 1, err);
  if (st != NTK_OK) return st;
  run_map(MAP_FILL, t->shape[0], t->shape[1], operand_of(t), operand_of(t), value, 0.0);
  return NTK_OK;
}

int ntk_tensor_copy(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err) {
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_live(src, 2, err)) != NTK_OK)
    return st;
  if (!ntk_tensor_same_shape(dst, src)) return shape_error(err, 2, "source", dst, src);
  if (ntk_tensor_is_contiguous(dst) && ntk_tensor_is_contiguous(src)) {
    /* memmove: overlapping dense copies are fine too */
    memmove(ntk_tensor_data(dst), ntk_tensor_data(src), ntk_tensor_numel(src) * sizeof(double));
    return NTK_OK;
  }
  return unary(dst, src, MAP_COPY, 0.0, 0.0, err);
}

int ntk_tensor_map(ntk_tensor *dst, const ntk_tensor *src, ntk_map f, ntk_error *err) {
  if ((unsigned)f >= NTK_MAP_COUNT)
    return ntk_error_set(err, NTK_EARG, 3, "unknown map %d", (int)f);
  return unary(dst, src, (int)f, 0.0, 0.0, err);
}

int ntk_tensor_pow(ntk_tensor *dst, const ntk_tensor *src, double p, ntk_error *err) {
  return unary(dst, src, MAP_POW, p, 0.0, err);
}

int ntk_tensor_clamp(ntk_tensor *dst, const ntk_tensor *src, double lo, double hi,
                     ntk_error *err) {
  if (!(lo <= hi))
    return ntk_error_set(err, NTK_EARG, 3, "lower bound %g above upper bound %g", lo, hi);
  return unary(dst, src, MAP_CLAMP, lo, hi, err);
}

/* Operand for b broadcast against a's [rows x cols] shape, or NTK_ESHAPE. */
static int broadcast(operand *o, const ntk_tensor *a, const ntk_tensor *b, int arg,
                     const char *opname, ntk_error *err) {
  char as[64], bs[64];
  *o = operand_of(b);
  if (ntk_tensor_same_shape(a, b)) return NTK_OK;
  if (a->ndim == 2) {
    size_t n = a->shape[1];
    if ((b->ndim == 1 && b->shape[0] == n) ||
        (b->ndim == 2 && b->shape[0] == 1 && b->shape[1] == n)) {
      o->s1 = b->ndim == 1 ? b->stride[0] : b->stride[1];
      o->s0 = 0;
      return NTK_OK;
    }
    if (b->ndim == 2 && b->shape[1] == 1 && b->shape[0] == a->shape[0]) {
      o->s1 = 0;
      return NTK_OK;
    }
  }
  return ntk_error_set(err, NTK_ESHAPE, arg,
                       "shape mismatch: %s %s %s (same shape, a row [1 x n] or [n], or a "
                       "column [m x 1] expected)",
                       ntk_tensor_shape_str(a, as, sizeof as), opname,
                       ntk_tensor_shape_str(b, bs, sizeof bs));
}

int ntk_tensor_check_broadcast(const ntk_tensor *a, const ntk_tensor *b, const char *opname,
                               ntk_error *err) {
  operand o;
  int st;
  if ((st = check_live(a, 1, err)) != NTK_OK || (st = check_live(b, 2, err)) != NTK_OK) return st;
  return broadcast(&o, a, b, 2, opname ? opname : "", err);
}

static int check_binop(ntk_binop op, int arg, ntk_error *err) {
  if ((unsigned)op >= NTK_OP_COUNT)
    return ntk_error_set(err, NTK_EARG, arg, "unknown operation %d", (int)op);
  return NTK_OK;
}

int ntk_tensor_binop(ntk_tensor *dst, const ntk_tensor *a, ntk_binop op, const ntk_tensor *b,
                     ntk_error *err) {
  ntk_tensor ta = {0}, tb = {0};
  const ntk_tensor *ua, *ub;
  operand bo;
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_live(a, 2, err)) != NTK_OK ||
      (st = check_binop(op, 3, err)) != NTK_OK || (st = check_live(b, 4, err)) != NTK_OK ||
      (st = broadcast(&bo, a, b, 4, ntk_binop_symbol(op), err)) != NTK_OK)
    return st;
  if (!ntk_tensor_same_shape(dst, a)) return shape_error(err, 1, "destination", a, dst);
  if ((st = detach_input(dst, a, &ta, &ua, err)) != NTK_OK) return st;
  if ((st = detach_input(dst, b, &tb, &ub, err)) != NTK_OK) {
    ntk_tensor_release(&ta);
    return st;
  }
  if (ub != b) broadcast(&bo, a, ub, 4, "", NULL);
  run_binop(op, a->shape[0], a->shape[1], operand_of(dst), operand_of(ua), bo);
  ntk_tensor_release(&ta);
  ntk_tensor_release(&tb);
  return NTK_OK;
}

int ntk_tensor_binop_scalar(ntk_tensor *dst, const ntk_tensor *a, ntk_binop op, double s,
                            ntk_error *err) {
  ntk_tensor ta = {0};
  const ntk_tensor *ua;
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_live(a, 2, err)) != NTK_OK ||
      (st = check_binop(op, 3, err)) != NTK_OK)
    return st;
  if (!ntk_tensor_same_shape(dst, a)) return shape_error(err, 1, "destination", a, dst);
  if ((st = detach_input(dst, a, &ta, &ua, err)) != NTK_OK) return st;
  run_binop(op, a->shape[0], a->shape[1], operand_of(dst), operand_of(ua), operand_scalar(&s));
  ntk_tensor_release(&ta);
  return NTK_OK;
}

int ntk_tensor_scalar_binop(ntk_tensor *dst, double s, ntk_binop op, const ntk_tensor *b,
                            ntk_error *err) {
  ntk_tensor tb = {0};
  const ntk_tensor *ub;
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_binop(op, 3, err)) != NTK_OK ||
      (st = check_live(b, 4, err)) != NTK_OK)
    return st;
  if (!ntk_tensor_same_shape(dst, b)) return shape_error(err, 1, "destination", b, dst);
  if ((st = detach_input(dst, b, &tb, &ub, err)) != NTK_OK) return st;
  run_binop(op, b->shape[0], b->shape[1], operand_of(dst), operand_scalar(&s), operand_of(ub));
  ntk_tensor_release(&tb);
  return NTK_OK;
}

int ntk_tensor_axpy(ntk_tensor *y, double alpha, const ntk_tensor *x, ntk_error *err) {
  ntk_tensor tx = {0};
  const ntk_tensor *ux;
  size_t i, j, rows, cols;
  operand d, a, ops[2];
  int st;
  if ((st = check_live(y, 1, err)) != NTK_OK || (st = check_live(x, 3, err)) != NTK_OK) return st;
  if (!ntk_tensor_same_shape(y, x)) return shape_error(err, 3, "x", y, x);
  if ((st = detach_input(y, x, &tx, &ux, err)) != NTK_OK) return st;
  rows = y->shape[0];
  cols = y->shape[1];
  ops[0] = operand_of(y);
  ops[1] = operand_of(ux);
  plan(&rows, &cols, ops, 2);
  d = ops[0];
  a = ops[1];
  for (i = 0; i < rows; i++) {
    double *dp = d.p + (ptrdiff_t)i * d.s0;
    const double *ap = a.p + (ptrdiff_t)i * a.s0;
    if (d.s1 == 1 && a.s1 == 1) {
      for (j = 0; j < cols; j++) dp[j] += alpha * ap[j];
    } else {
      for (j = 0; j < cols; j++) dp[(ptrdiff_t)j * d.s1] += alpha * ap[(ptrdiff_t)j * a.s1];
    }
  }
  ntk_tensor_release(&tx);
  return NTK_OK;
}

int ntk_tensor_where(ntk_tensor *dst, const ntk_tensor *cond, const ntk_tensor *a,
                     double a_value, const ntk_tensor *b, double b_value, ntk_error *err) {
  ntk_tensor tc = {0}, ta = {0}, tb = {0};
  const ntk_tensor *uc = cond, *ua = a, *ub = b;
  operand co, ao = operand_scalar(&a_value), bo = operand_scalar(&b_value), d;
  size_t i, j;
  int st;
  if ((st = check_live(dst, 1, err)) != NTK_OK || (st = check_live(cond, 2, err)) != NTK_OK)
    return st;
  if (a && ((st = check_live(a, 3, err)) != NTK_OK ||
            (st = broadcast(&ao, cond, a, 3, "where", err)) != NTK_OK))
    return st;
  if (b && ((st = check_live(b, 5, err)) != NTK_OK ||
            (st = broadcast(&bo, cond, b, 5, "where", err)) != NTK_OK))
    return st;
  if (!ntk_tensor_same_shape(dst, cond)) return shape_error(err, 1, "destination", cond, dst);
  st = detach_input(dst, cond, &tc, &uc, err);
  if (st == NTK_OK && a) st = detach_input(dst, a, &ta, &ua, err);
  if (st == NTK_OK && b) st = detach_input(dst, b, &tb, &ub, err);
  if (st == NTK_OK) {
    /* re-derive the operands: a detached input lives in a private copy */
    if (a) broadcast(&ao, cond, ua, 3, "where", NULL);
    if (b) broadcast(&bo, cond, ub, 5, "where", NULL);
    co = operand_of(uc);
    d = operand_of(dst);
    /* three inputs: a plain strided loop (where is not a hot path) */
    for (i = 0; i < cond->shape[0]; i++)
      for (j = 0; j < cond->shape[1]; j++) {
        ptrdiff_t ii = (ptrdiff_t)i, jj = (ptrdiff_t)j;
        double c = co.p[ii * co.s0 + jj * co.s1];
        d.p[ii * d.s0 + jj * d.s1] =
            c != 0.0 ? ao.p[ii * ao.s0 + jj * ao.s1] : bo.p[ii * bo.s0 + jj * bo.s1];
      }
  }
  ntk_tensor_release(&tc);
  ntk_tensor_release(&ta);
  ntk_tensor_release(&tb);
  return st;
}

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

/* r over the strided line p[0], p[s], ..., p[(n-1)s] (n >= 1 except for SUM and NORM*);
 * *pos <- position for ARGMIN/ARGMAX. MEAN gives the sum: callers divide. */
static double reduce_line(const double *p, size_t n, ptrdiff_t s, ntk_reduce r, size_t *pos) {
  size_t k, best = 0;
  double acc = 0.0;
  switch (r) {
    case NTK_REDUCE_SUM:
    case NTK_REDUCE_MEAN:
      if (s == 1) {
        /* four partial sums: breaks the add latency chain and lets the loop vectorise */
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (k = 0; k + 4 <= n; k += 4) {
          s0 += p[k];
          s1 += p[k + 1];
          s2 += p[k + 2];
          s3 += p[k + 3];
        }
        for (; k < n; k++) s0 += p[k];
        return (s0 + s1) + (s2 + s3);
      }
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

/* ---- constructions ---------------------------------------------------------------------- */

int ntk_tensor_eye(ntk_tensor *dst, size_t n, size_t m, ntk_error *err) {
  size_t k;
  int st = ntk_tensor_init_2d(dst, n, m, err);
  if (st != NTK_OK) return st;
  for (k = 0; k < n && k < m; k++) *ntk_tensor_ptr(dst, k, k) = 1.0;
  return NTK_OK;
}

int ntk_tensor_diag_matrix(ntk_tensor *dst, const ntk_tensor *v, ntk_error *err) {
  size_t k, n;
  int st;
  if ((st = check_live(v, 2, err)) != NTK_OK) return st;
  if (v->ndim != 1) {
    char buf[64];
    return ntk_error_set(err, NTK_ESHAPE, 2, "1-D tensor expected, got %s",
                         ntk_tensor_shape_str(v, buf, sizeof buf));
  }
  n = v->shape[0];
  if ((st = ntk_tensor_init_2d(dst, n, n, err)) != NTK_OK) return st;
  for (k = 0; k < n; k++) *ntk_tensor_ptr(dst, k, k) = ntk_tensor_at(v, k, 0);
  return NTK_OK;
}

int ntk_tensor_diagonal(ntk_tensor *dst, const ntk_tensor *src, ntk_error *err) {
  int st;
  if ((st = check_live(src, 2, err)) != NTK_OK) return st;
  if (src->ndim != 2) {
    char buf[64];
    return ntk_error_set(err, NTK_ESHAPE, 2, "2-D tensor expected, got %s",
                         ntk_tensor_shape_str(src, buf, sizeof buf));
  }
  ntk_tensor_view(dst, src);
  dst->ndim = 1;
  dst->shape[0] = src->shape[0] < src->shape[1] ? src->shape[0] : src->shape[1];
  dst->stride[0] = src->stride[0] + src->stride[1];
  dst->shape[1] = 1;
  dst->stride[1] = 1;
  return NTK_OK;
}

int ntk_tensor_cat(ntk_tensor *dst, const ntk_tensor *const *parts, size_t n, int dim,
                   ntk_error *err) {
  size_t k, total = 0, at = 0, shape[2];
  const ntk_tensor *first;
  int st;
  if (n == 0) return ntk_error_set(err, NTK_EARG, 2, "at least one tensor expected");
  for (k = 0; k < n; k++)
    if (!parts[k] || !parts[k]->storage)
      return ntk_error_set(err, NTK_ERELEASED, 2, "tensor %zu: attempt to use a released tensor",
                           k + 1);
  first = parts[0];
  if (dim < 0 || dim >= first->ndim)
    return ntk_error_set(err, NTK_EARG, 4, "dimension %d out of range for %d-D tensors", dim + 1,
                         first->ndim);
  for (k = 0; k < n; k++) {
    const ntk_tensor *p = parts[k];
    if (p->ndim != first->ndim || p->shape[1 - dim] != first->shape[1 - dim] ||
        (first->ndim == 1 && dim != 0)) {
      char a[64], b[64];
      return ntk_error_set(err, NTK_ESHAPE, 2,
                           "shape mismatch: tensor %zu is %s, tensor 1 is %s (must agree except "
                           "along dimension %d)",
                           k + 1, ntk_tensor_shape_str(p, a, sizeof a),
                           ntk_tensor_shape_str(first, b, sizeof b), dim + 1);
    }
    if (p->shape[dim] > NTK_TENSOR_MAX_NUMEL - total)
      return ntk_error_set(err, NTK_ENOMEM, 2, "concatenation too large");
    total += p->shape[dim];
  }
  shape[0] = first->shape[0];
  shape[1] = first->shape[1];
  shape[dim] = total;
  if ((st = ntk_tensor_init(dst, first->ndim, shape, err)) != NTK_OK) return st;
  for (k = 0; k < n; k++) {
    ntk_tensor slot = {0};
    st = ntk_tensor_narrow(&slot, dst, dim, at, parts[k]->shape[dim], err);
    if (st == NTK_OK) st = ntk_tensor_copy(&slot, parts[k], err);
    ntk_tensor_release(&slot);
    if (st != NTK_OK) {
      ntk_tensor_release(dst);
      return st;
    }
    at += parts[k]->shape[dim];
  }
  return NTK_OK;
}

int ntk_tensor_gather_rows(ntk_tensor *dst, const ntk_tensor *src, const size_t *index,
                           size_t n, ntk_error *err) {
  size_t k, j, rows, cols, shape[2];
  int st;
  if ((st = check_live(src, 2, err)) != NTK_OK) return st;
  rows = src->shape[0];
  cols = src->shape[1];
  for (k = 0; k < n; k++)
    if (index[k] >= rows)
      return ntk_error_set(err, NTK_ERANGE, 3, "index %zu (position %zu) out of range [0, %zu)",
                           index[k], k, rows);
  shape[0] = n;
  shape[1] = cols;
  if ((st = ntk_tensor_init(dst, src->ndim, shape, err)) != NTK_OK) return st;
  for (k = 0; k < n; k++) {
    double *d = ntk_tensor_data(dst) + k * cols;
    if (src->stride[1] == 1 || cols == 1) {
      memcpy(d, ntk_tensor_ptr(src, index[k], 0), cols * sizeof(double));
    } else {
      for (j = 0; j < cols; j++) d[j] = ntk_tensor_at(src, index[k], j);
    }
  }
  return NTK_OK;
}
