/* ntk_tensor_ops.c: element-wise operations and constructions on tensors (reductions and dot
 * products: ntk_tensor_reduce.c; both declared in ntk_tensor_ops.h).
 *
 * Every element-wise operation runs on "operands": a base pointer and two strides. A scalar is
 * an operand with both strides 0, a broadcast row has row stride 0, a broadcast column has
 * column stride 0, so one strided kernel serves tensors, scalars and broadcasting alike. The
 * kernels collapse dense operands into one flat loop and specialise the unit-stride inner
 * loops so that the compiler can vectorise them. */
#include "ntk_tensor_ops.h"

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

#define check_live ntk_tensor_check_live
#define shape_error ntk_tensor_shape_error

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

/* dst <- t op s (scalar_first = 0, t is argument 2) or s op t (scalar_first = 1, t is argument
 * 4); the checks run in argument order. */
static int with_scalar(ntk_tensor *dst, const ntk_tensor *t, ntk_binop op, double s,
                       int scalar_first, ntk_error *err) {
  ntk_tensor tt = {0};
  const ntk_tensor *ut;
  operand so = operand_scalar(&s);
  int targ = scalar_first ? 4 : 2, st;
  if ((st = check_live(dst, 1, err)) != NTK_OK) return st;
  if (scalar_first ? (st = check_binop(op, 3, err)) != NTK_OK || (st = check_live(t, targ, err))
                   : (st = check_live(t, targ, err)) != NTK_OK || (st = check_binop(op, 3, err)))
    return st;
  if (!ntk_tensor_same_shape(dst, t)) return shape_error(err, 1, "destination", t, dst);
  if ((st = detach_input(dst, t, &tt, &ut, err)) != NTK_OK) return st;
  run_binop(op, t->shape[0], t->shape[1], operand_of(dst), scalar_first ? so : operand_of(ut),
            scalar_first ? operand_of(ut) : so);
  ntk_tensor_release(&tt);
  return NTK_OK;
}

int ntk_tensor_binop_scalar(ntk_tensor *dst, const ntk_tensor *a, ntk_binop op, double s,
                            ntk_error *err) {
  return with_scalar(dst, a, op, s, 0, err);
}

int ntk_tensor_scalar_binop(ntk_tensor *dst, double s, ntk_binop op, const ntk_tensor *b,
                            ntk_error *err) {
  return with_scalar(dst, b, op, s, 1, err);
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
