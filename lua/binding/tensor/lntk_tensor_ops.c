/* lntk_tensor_ops.c: element-wise operations, reductions and constructions as tensor methods,
 * module functions and arithmetic metamethods.
 *
 * Naming follows torch: t:add(x) returns a new tensor, t:add_(x) works in place and returns t.
 * Operators: a + b, a - b, a * b, a / b, a ^ b are ELEMENT-WISE (with numbers on either side and
 * row/column broadcasting, see ntk_tensor_ops.h); -a negates. Matrix products are explicit:
 * ntklab.matmul(a, b) or a:matmul(b) (lntk_blas.c). `*` stays element-wise so that every
 * arithmetic operator means the same kind of thing and a shape slip cannot silently switch
 * between an element-wise and a matrix product.
 *
 * Dimensions at the Lua boundary are 1-based: t:sum(1) sums down the rows (one value per
 * column, shape [1 x n]), t:sum(2) along the columns (one per row, shape [m x 1]). Reduced
 * dimensions are kept, so t - t:mean(2) centres each row. Indices returned by argmin/argmax
 * and taken by gather are 1-based. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lntk.h"

/* A new zero tensor of t's shape, on top of the stack. */
static ntk_tensor *new_like(lua_State *L, const ntk_tensor *t) {
  return lntk_newtensor(L, t->ndim, t->shape[0], t->shape[1]);
}

static ntk_tensor *check_tensor_arg(lua_State *L, int arg, const char *expected) {
  if (!lntk_istensor(L, arg)) luaL_typeerror(L, arg, expected);
  return lntk_checktensor(L, arg);
}

static size_t check_size(lua_State *L, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  if (n < 0) luaL_argerror(L, arg, lua_pushfstring(L, "non-negative size expected, got %I", n));
  return (size_t)n;
}

/* ---- element-wise -------------------------------------------------------------------------- */

/* t:op(x) / t:op_(x), x a tensor (broadcast) or a number. Upvalues: op, in-place flag. */
static int tensor_binop(lua_State *L) {
  ntk_binop op = (ntk_binop)lua_tointeger(L, lua_upvalueindex(1));
  int inplace = lua_toboolean(L, lua_upvalueindex(2));
  ntk_tensor *a = lntk_checktensor(L, 1), *dst;
  ntk_error err;
  int st;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double s = lua_tonumber(L, 2);
    dst = inplace ? a : new_like(L, a);
    st = op == NTK_OP_POW ? ntk_tensor_pow(dst, a, s, &err)
                          : ntk_tensor_binop_scalar(dst, a, op, s, &err);
  } else {
    ntk_tensor *b = check_tensor_arg(L, 2, "tensor or number");
    if (ntk_tensor_check_broadcast(a, b, ntk_binop_symbol(op), &err) != NTK_OK)
      return lntk_fail(L, &err, 2);
    dst = inplace ? a : new_like(L, a);
    st = ntk_tensor_binop(dst, a, op, b, &err);
  }
  if (st != NTK_OK) return lntk_fail(L, &err, 0);
  if (inplace) lua_settop(L, 1);
  return 1;
}

/* __add, __sub, __mul, __div, __pow: either operand may be a number. Upvalue: op. */
static int tensor_arith(lua_State *L) {
  ntk_binop op = (ntk_binop)lua_tointeger(L, lua_upvalueindex(1));
  ntk_tensor *dst;
  ntk_error err;
  int st;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    double s = lua_tonumber(L, 1);
    ntk_tensor *b = check_tensor_arg(L, 2, "tensor or number");
    dst = new_like(L, b);
    st = ntk_tensor_scalar_binop(dst, s, op, b, &err);
  } else {
    ntk_tensor *a = check_tensor_arg(L, 1, "tensor or number");
    if (lua_type(L, 2) == LUA_TNUMBER) {
      dst = new_like(L, a);
      st = ntk_tensor_binop_scalar(dst, a, op, lua_tonumber(L, 2), &err);
    } else {
      ntk_tensor *b = check_tensor_arg(L, 2, "tensor or number");
      if (ntk_tensor_check_broadcast(a, b, ntk_binop_symbol(op), &err) != NTK_OK)
        return lntk_fail(L, &err, 2);
      dst = new_like(L, a);
      st = ntk_tensor_binop(dst, a, op, b, &err);
    }
  }
  if (st != NTK_OK) return lntk_fail(L, &err, 0);
  return 1;
}

/* t:f() / t:f_(). Upvalues: map, in-place flag. */
static int tensor_map(lua_State *L) {
  ntk_map f = (ntk_map)lua_tointeger(L, lua_upvalueindex(1));
  int inplace = lua_toboolean(L, lua_upvalueindex(2));
  ntk_tensor *a = lntk_checktensor(L, 1);
  ntk_tensor *dst = inplace ? a : new_like(L, a);
  ntk_error err;
  if (ntk_tensor_map(dst, a, f, &err) != NTK_OK) return lntk_fail(L, &err, 0);
  if (inplace) lua_settop(L, 1);
  return 1;
}

/* -t */
static int tensor_unm(lua_State *L) {
  ntk_tensor *a = lntk_checktensor(L, 1);
  ntk_tensor *dst = new_like(L, a);
  ntk_error err;
  if (ntk_tensor_map(dst, a, NTK_MAP_NEG, &err) != NTK_OK) return lntk_fail(L, &err, 0);
  return 1;
}

/* t:clamp(lo [, hi]) / t:clamp_(lo [, hi]); a nil bound is open. Upvalue: in-place flag. */
static int tensor_clamp(lua_State *L) {
  int inplace = lua_toboolean(L, lua_upvalueindex(1));
  ntk_tensor *a = lntk_checktensor(L, 1), *dst;
  double lo = luaL_optnumber(L, 2, -HUGE_VAL);
  double hi = luaL_optnumber(L, 3, HUGE_VAL);
  ntk_error err;
  if (!(lo <= hi))
    return luaL_argerror(L, 3, lua_pushfstring(L, "upper bound %f below lower bound %f", hi, lo));
  dst = inplace ? a : new_like(L, a);
  if (ntk_tensor_clamp(dst, a, lo, hi, &err) != NTK_OK) return lntk_fail(L, &err, 0);
  if (inplace) lua_settop(L, 1);
  return 1;
}

/* t:fill_(v) */
static int tensor_fill_(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  double v = luaL_checknumber(L, 2);
  ntk_error err;
  if (ntk_tensor_fill(t, v, &err) != NTK_OK) return lntk_fail(L, &err, 0);
  lua_settop(L, 1);
  return 1;
}

/* t:zero_() */
static int tensor_zero_(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  ntk_error err;
  if (ntk_tensor_fill(t, 0.0, &err) != NTK_OK) return lntk_fail(L, &err, 0);
  lua_settop(L, 1);
  return 1;
}

/* t:copy_(src): t <- src, same shape */
static int tensor_copy_(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  ntk_tensor *src = check_tensor_arg(L, 2, "tensor");
  ntk_error err;
  if (ntk_tensor_copy(t, src, &err) != NTK_OK) return lntk_fail(L, &err, 2);
  lua_settop(L, 1);
  return 1;
}

/* y:axpy_(alpha, x): y <- y + alpha x */
static int tensor_axpy_(lua_State *L) {
  ntk_tensor *y = lntk_checktensor(L, 1);
  double alpha = luaL_checknumber(L, 2);
  ntk_tensor *x = check_tensor_arg(L, 3, "tensor");
  ntk_error err;
  if (ntk_tensor_axpy(y, alpha, x, &err) != NTK_OK) return lntk_fail(L, &err, 3);
  lua_settop(L, 1);
  return 1;
}

/* ---- reductions ---------------------------------------------------------------------------- */

static int needs_elements(ntk_reduce r) {
  return r != NTK_REDUCE_SUM && r != NTK_REDUCE_NORM2 && r != NTK_REDUCE_NORMINF;
}

/* Reduction r of t (argument 1) over all elements, or over the 1-based dimension at Lua
 * argument dimarg when it is given. */
static int reduce(lua_State *L, ntk_reduce r, int dimarg) {
  ntk_tensor *t = lntk_checktensor(L, 1), *dst;
  ntk_error err;
  lua_Integer d;
  if (lua_isnoneornil(L, dimarg)) {
    if (r == NTK_REDUCE_ARGMIN || r == NTK_REDUCE_ARGMAX) {
      size_t i, j;
      if (ntk_tensor_argreduce(&i, &j, t, r, &err) != NTK_OK) return lntk_fail(L, &err, 1);
      lua_pushinteger(L, (lua_Integer)i + 1);
      if (t->ndim == 1) return 1;
      lua_pushinteger(L, (lua_Integer)j + 1);
      return 2;
    } else {
      double v;
      if (ntk_tensor_reduce(&v, t, r, &err) != NTK_OK) return lntk_fail(L, &err, 1);
      lua_pushnumber(L, v);
      return 1;
    }
  }
  d = luaL_checkinteger(L, dimarg);
  luaL_argcheck(L, d >= 1 && d <= t->ndim, dimarg,
                lua_pushfstring(L, "dimension %I out of range [1, %d]", d, t->ndim));
  if (t->shape[d - 1] == 0 && t->shape[2 - d] > 0 && needs_elements(r)) {
    char buf[64];
    return luaL_argerror(L, 1, lua_pushfstring(L, "%s over an empty dimension of %s",
                                               ntk_reduce_name(r),
                                               ntk_tensor_shape_str(t, buf, sizeof buf)));
  }
  if (t->ndim == 1)
    dst = lntk_newtensor(L, 1, 1, 1);
  else if (d == 1)
    dst = lntk_newtensor(L, 2, 1, t->shape[1]);
  else
    dst = lntk_newtensor(L, 2, t->shape[0], 1);
  if (ntk_tensor_reduce_dim(dst, t, (int)d - 1, r, &err) != NTK_OK) return lntk_fail(L, &err, 1);
  if (r == NTK_REDUCE_ARGMIN || r == NTK_REDUCE_ARGMAX)
    ntk_tensor_binop_scalar(dst, dst, NTK_OP_ADD, 1.0, &err); /* to 1-based positions */
  return 1;
}

/* t:sum([dim]), mean, min, max, argmin, argmax. Upvalue: reduction. */
static int tensor_reduce(lua_State *L) {
  return reduce(L, (ntk_reduce)lua_tointeger(L, lua_upvalueindex(1)), 2);
}

#define NORM_EXPECTED "norm 'fro', 'inf', 2 or math.huge expected"

/* t:norm([p [, dim]]): p = 2 or "fro" (Euclidean/Frobenius, the default), math.huge or "inf"
 * (largest absolute value). */
static int tensor_norm(lua_State *L) {
  ntk_reduce r = NTK_REDUCE_NORM2;
  lntk_checktensor(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *p = lua_tostring(L, 2);
    if (strcmp(p, "inf") == 0)
      r = NTK_REDUCE_NORMINF;
    else if (strcmp(p, "fro") != 0)
      return luaL_argerror(L, 2, lua_pushfstring(L, NORM_EXPECTED ", got '%s'", p));
  } else if (!lua_isnoneornil(L, 2)) {
    double p = luaL_checknumber(L, 2);
    if (p == HUGE_VAL)
      r = NTK_REDUCE_NORMINF;
    else if (p != 2.0)
      return luaL_argerror(L, 2, lua_pushfstring(L, NORM_EXPECTED ", got %f", p));
  }
  return reduce(L, r, 3);
}

/* a:dot(b) for 1-D a and b of equal length */
static int tensor_dot(lua_State *L) {
  ntk_tensor *a = lntk_checktensor(L, 1);
  ntk_tensor *b = check_tensor_arg(L, 2, "tensor");
  ntk_error err;
  double v;
  if (ntk_tensor_dot(&v, a, b, &err) != NTK_OK) return lntk_fail(L, &err, err.arg - 1);
  lua_pushnumber(L, v);
  return 1;
}

/* t:count_nonfinite() -> number of NaN and +-Inf elements */
static int tensor_count_nonfinite(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_tensor_count_nonfinite(lntk_checktensor(L, 1)));
  return 1;
}

/* t:all_finite() -> true when no element is NaN or +-Inf */
static int tensor_all_finite(lua_State *L) {
  lua_pushboolean(L, ntk_tensor_count_nonfinite(lntk_checktensor(L, 1)) == 0);
  return 1;
}

/* ---- constructions ------------------------------------------------------------------------- */

/* t:diagonal(): 1-D view of the main diagonal (writes go to t) */
static int tensor_diagonal(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1), *v;
  ntk_error err;
  if (t->ndim != 2) return lntk_shapeerror(L, 1, "2-D tensor", t);
  v = lntk_pushtensor(L);
  if (ntk_tensor_diagonal(v, t, &err) != NTK_OK) return lntk_fail(L, &err, 1);
  return 1;
}

/* t:gather(indices): rows (2-D) or elements (1-D) at the 1-based indices, given as a table of
 * integers or a 1-D tensor of integral values; a fresh tensor. */
static int tensor_gather(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1), *dst;
  size_t n, k, *index, rows = t->shape[0];
  ntk_error err;
  ntk_tensor *it = NULL;
  if (lntk_istensor(L, 2)) {
    it = lntk_checktensor(L, 2);
    if (it->ndim != 1) return lntk_shapeerror(L, 2, "1-D index tensor", it);
    n = it->shape[0];
  } else {
    luaL_argexpected(L, lua_type(L, 2) == LUA_TTABLE, 2, "table or tensor of indices");
    n = (size_t)lua_rawlen(L, 2);
  }
  /* the index buffer is a userdata, so raising while it is filled leaks nothing */
  index = lua_newuserdatauv(L, (n ? n : 1) * sizeof *index, 0);
  for (k = 0; k < n; k++) {
    lua_Integer i;
    if (it) {
      double v = ntk_tensor_at(it, k, 0);
      /* range first (the cast is undefined outside it), then integrality; NaN fails both */
      if (!(v >= -9.0e15 && v <= 9.0e15) || (double)(lua_Integer)v != v)
        return luaL_argerror(L, 2, lua_pushfstring(L, "integer index expected at [%I], got %f",
                                                   (lua_Integer)k + 1, v));
      i = (lua_Integer)v;
    } else {
      int isint;
      lua_rawgeti(L, 2, (lua_Integer)k + 1);
      i = lua_tointegerx(L, -1, &isint);
      if (!isint)
        return luaL_argerror(L, 2, lua_pushfstring(L, "integer index expected at [%I], got %s",
                                                   (lua_Integer)k + 1, luaL_typename(L, -1)));
      lua_pop(L, 1);
    }
    if (i < 1 || (lua_Unsigned)i > rows)
      return luaL_argerror(L, 2, lua_pushfstring(L, "index %I at [%I] out of range [1, %I]", i,
                                                 (lua_Integer)k + 1, (lua_Integer)rows));
    index[k] = (size_t)(i - 1);
  }
  dst = lntk_pushtensor(L);
  if (ntk_tensor_gather_rows(dst, t, index, n, &err) != NTK_OK) return lntk_fail(L, &err, 2);
  lntk_gcstep(L, ntk_tensor_numel(dst) * sizeof(double));
  return 1;
}

/* ones(rows [, cols]) */
static int tensor_ones(lua_State *L) {
  size_t r = check_size(L, 1);
  ntk_tensor *t = lua_isnoneornil(L, 2) ? lntk_newtensor(L, 1, r, 1)
                                        : lntk_newtensor(L, 2, r, check_size(L, 2));
  ntk_tensor_fill(t, 1.0, NULL);
  return 1;
}

/* full(rows, value) (1-D) or full(rows, cols, value) (2-D) */
static int tensor_full(lua_State *L) {
  int top = lua_gettop(L);
  size_t r = check_size(L, 1), c = 1;
  double v;
  ntk_tensor *t;
  if (top >= 3) c = check_size(L, 2);
  v = luaL_checknumber(L, top >= 3 ? 3 : 2);
  t = lntk_newtensor(L, top >= 3 ? 2 : 1, r, c);
  ntk_tensor_fill(t, v, NULL);
  return 1;
}

/* eye(n [, m]): n x m identity (m = n by default) */
static int tensor_eye(lua_State *L) {
  size_t n = check_size(L, 1);
  size_t m = lua_isnoneornil(L, 2) ? n : check_size(L, 2);
  ntk_tensor *t = lntk_pushtensor(L);
  ntk_error err;
  if (ntk_tensor_eye(t, n, m, &err) != NTK_OK) return lntk_raise(L, &err, NULL); /* a size the caller chose */
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  return 1;
}

/* diag(v): [n x n] with the 1-D v on its diagonal; diag(M): copy of M's diagonal (1-D) */
static int tensor_diag(lua_State *L) {
  ntk_tensor *t = check_tensor_arg(L, 1, "tensor");
  ntk_tensor *dst;
  ntk_error err;
  if (t->ndim == 1) {
    dst = lntk_pushtensor(L);
    if (ntk_tensor_diag_matrix(dst, t, &err) != NTK_OK) return lntk_fail(L, &err, 1);
    lntk_gcstep(L, ntk_tensor_numel(dst) * sizeof(double));
  } else {
    /* push the result first: nothing below may raise while the view holds a reference */
    ntk_tensor view = {0};
    int st;
    dst = lntk_pushtensor(L);
    if (ntk_tensor_diagonal(&view, t, &err) != NTK_OK) return lntk_fail(L, &err, 1);
    st = ntk_tensor_init_copy(dst, &view, &err);
    ntk_tensor_release(&view);
    if (st != NTK_OK) return lntk_fail(L, &err, 0);
  }
  return 1;
}

/* cat({t1, t2, ...} [, dim]): concatenation along dim (1 = stack rows, 2 = side by side);
 * 1-D tensors join end to end. */
static int tensor_cat(lua_State *L) {
  size_t n, k;
  const ntk_tensor **parts;
  lua_Integer d;
  ntk_tensor *dst;
  ntk_error err;
  luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1, "table of tensors");
  d = luaL_optinteger(L, 2, 1);
  n = (size_t)lua_rawlen(L, 1);
  if (n == 0) return luaL_argerror(L, 1, "at least one tensor expected");
  parts = lua_newuserdatauv(L, n * sizeof *parts, 0);
  for (k = 0; k < n; k++) {
    ntk_tensor *p;
    lua_rawgeti(L, 1, (lua_Integer)k + 1);
    p = luaL_testudata(L, -1, LNTK_TENSOR_MT);
    if (!p)
      return luaL_argerror(L, 1, lua_pushfstring(L, "tensor expected at [%I], got %s",
                                                 (lua_Integer)k + 1, luaL_typename(L, -1)));
    if (!p->storage)
      return luaL_argerror(L, 1, lua_pushfstring(L, "released tensor at [%I]", (lua_Integer)k + 1));
    parts[k] = p;
    lua_pop(L, 1); /* the table keeps the tensor alive */
  }
  luaL_argcheck(L, d >= 1 && d <= parts[0]->ndim, 2,
                lua_pushfstring(L, "dimension %I out of range [1, %d]", d, parts[0]->ndim));
  dst = lntk_pushtensor(L);
  if (ntk_tensor_cat(dst, (const ntk_tensor *const *)parts, n, (int)d - 1, &err) != NTK_OK)
    return lntk_fail(L, &err, err.arg == 4 ? 2 : 1);
  lntk_gcstep(L, ntk_tensor_numel(dst) * sizeof(double));
  return 1;
}

/* where(cond, a, b): cond ~= 0 ? a : b element-wise; a and b are tensors (broadcast against
 * cond) or numbers. */
static int tensor_where(lua_State *L) {
  ntk_tensor *cond = check_tensor_arg(L, 1, "tensor");
  ntk_tensor *a = NULL, *b = NULL, *dst;
  double av = 0.0, bv = 0.0;
  ntk_error err;
  int arg;
  for (arg = 2; arg <= 3; arg++) {
    ntk_tensor **t = arg == 2 ? &a : &b;
    if (lua_type(L, arg) == LUA_TNUMBER) {
      *(arg == 2 ? &av : &bv) = lua_tonumber(L, arg);
    } else {
      *t = check_tensor_arg(L, arg, "tensor or number");
      if (ntk_tensor_check_broadcast(cond, *t, "where", &err) != NTK_OK)
        return lntk_fail(L, &err, arg);
    }
  }
  dst = new_like(L, cond);
  if (ntk_tensor_where(dst, cond, a, av, b, bv, &err) != NTK_OK) return lntk_fail(L, &err, 0);
  return 1;
}

/* ---- registration -------------------------------------------------------------------------- */

static void set_closure(lua_State *L, const char *name, lua_CFunction f, int code, int flag,
                        int nup) {
  if (nup >= 1) lua_pushinteger(L, code);
  if (nup >= 2) lua_pushboolean(L, flag);
  lua_pushcclosure(L, f, nup);
  lua_setfield(L, -2, name);
}

void lntk_open_tensor_ops(lua_State *L) {
  static const struct {
    const char *name;
    ntk_binop op;
    int inplace; /* also register name_ */
  } binops[] = {
      {"add", NTK_OP_ADD, 1},     {"sub", NTK_OP_SUB, 1},     {"mul", NTK_OP_MUL, 1},
      {"div", NTK_OP_DIV, 1},     {"pow", NTK_OP_POW, 1},     {"minimum", NTK_OP_MIN, 1},
      {"maximum", NTK_OP_MAX, 1}, {"lt", NTK_OP_LT, 0},       {"le", NTK_OP_LE, 0},
      {"gt", NTK_OP_GT, 0},       {"ge", NTK_OP_GE, 0},       {"eq", NTK_OP_EQ, 0},
      {"ne", NTK_OP_NE, 0},
  };
  static const struct {
    const char *name;
    ntk_binop op;
  } arith[] = {{"__add", NTK_OP_ADD}, {"__sub", NTK_OP_SUB}, {"__mul", NTK_OP_MUL},
               {"__div", NTK_OP_DIV}, {"__pow", NTK_OP_POW}};
  static const struct {
    const char *name;
    ntk_reduce r;
  } reductions[] = {{"sum", NTK_REDUCE_SUM},       {"mean", NTK_REDUCE_MEAN},
                    {"min", NTK_REDUCE_MIN},       {"max", NTK_REDUCE_MAX},
                    {"argmin", NTK_REDUCE_ARGMIN}, {"argmax", NTK_REDUCE_ARGMAX}};
  static const luaL_Reg methods[] = {
      {"fill_", tensor_fill_},
      {"zero_", tensor_zero_},
      {"copy_", tensor_copy_},
      {"axpy_", tensor_axpy_},
      {"norm", tensor_norm},
      {"dot", tensor_dot},
      {"count_nonfinite", tensor_count_nonfinite},
      {"all_finite", tensor_all_finite},
      {"diagonal", tensor_diagonal},
      {"gather", tensor_gather},
      {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
      {"ones", tensor_ones}, {"full", tensor_full}, {"eye", tensor_eye},     {"diag", tensor_diag},
      {"cat", tensor_cat},   {"where", tensor_where}, {NULL, NULL},
  };
  char name[64];
  size_t k;
  int f;

  luaL_getmetatable(L, LNTK_TENSOR_MT);
  for (k = 0; k < sizeof arith / sizeof arith[0]; k++)
    set_closure(L, arith[k].name, tensor_arith, arith[k].op, 0, 1);
  lua_pushcfunction(L, tensor_unm);
  lua_setfield(L, -2, "__unm");

  lua_getfield(L, -1, "__index"); /* the method table lntk_open_tensor made */
  luaL_setfuncs(L, methods, 0);
  for (k = 0; k < sizeof binops / sizeof binops[0]; k++) {
    set_closure(L, binops[k].name, tensor_binop, binops[k].op, 0, 2);
    if (binops[k].inplace) {
      snprintf(name, sizeof name, "%s_", binops[k].name);
      set_closure(L, name, tensor_binop, binops[k].op, 1, 2);
    }
  }
  for (f = 0; f < NTK_MAP_COUNT; f++) {
    set_closure(L, ntk_map_name((ntk_map)f), tensor_map, f, 0, 2);
    snprintf(name, sizeof name, "%s_", ntk_map_name((ntk_map)f));
    set_closure(L, name, tensor_map, f, 1, 2);
  }
  for (k = 0; k < sizeof reductions / sizeof reductions[0]; k++)
    set_closure(L, reductions[k].name, tensor_reduce, reductions[k].r, 0, 1);
  lua_pushboolean(L, 0);
  lua_pushcclosure(L, tensor_clamp, 1);
  lua_setfield(L, -2, "clamp");
  lua_pushboolean(L, 1);
  lua_pushcclosure(L, tensor_clamp, 1);
  lua_setfield(L, -2, "clamp_");
  lua_pop(L, 2); /* method table, metatable */

  luaL_setfuncs(L, funcs, 0);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Tensor constructors.
@submodule ntklab
*/

/*** A tensor of ones, [rows] or [rows x cols].
@function ones
@int rows
@int[opt] cols
@treturn tensor
*/

/*** A tensor filled with value: full(rows, value) (1-D) or full(rows, cols, value) (2-D).
@function full
@int rows
@int[opt] cols
@number value
@treturn tensor
*/

/*** The n x m identity (m = n by default).
@function eye
@int n
@int[opt] m
@treturn tensor
*/

/*** diag(v): the [n x n] matrix with the 1-D v on its diagonal; diag(M): a copy of M's diagonal.
@function diag
@tparam tensor v
@treturn tensor
*/

/*** Concatenation along dim (1 stacks rows, 2 puts side by side); 1-D tensors join end to end.
@function cat
@tparam table tensors {t1, t2, ...}
@int[opt=1] dim
@treturn tensor
@raise sizes that disagree off dim
*/

/*** Element-wise choice: a where cond ~= 0, else b; a and b are numbers or tensors broadcast
against cond.
@function where
@tparam tensor cond
@tparam tensor|number a
@tparam tensor|number b
@treturn tensor
*/

/*** The tensor's methods and operators (continued).
@type tensor
*/

/*** Element-wise arithmetic: a new tensor, t $text x, where x is a number or a tensor of t's shape,
a row ([1 x n] or [n]) or a column ([m x 1]), broadcast over t. Products are element by element: matrix products are ntklab.matmul.
@each tensor:add +
@each tensor:sub -
@each tensor:mul *
@each tensor:div /
@each tensor:pow ^
@tparam tensor|number x
@treturn tensor
@raise shapes that do not broadcast, naming both shapes
*/

/*** In place: t <- t $text x, with x broadcast as for the version without the underscore.
@each tensor:add_ +
@each tensor:sub_ -
@each tensor:mul_ *
@each tensor:div_ /
@each tensor:pow_ ^
@each tensor:minimum_ min(t, x)
@each tensor:maximum_ max(t, x)
@tparam tensor|number x
@treturn tensor t itself
*/

/*** Element-wise $text with x (a number or a broadcast tensor): a new tensor.
@each tensor:minimum minimum
@each tensor:maximum maximum
@tparam tensor|number x
@treturn tensor
*/

/*** Comparison $text x, element-wise (x a number or a broadcast tensor): 1 where it holds, else 0.
@each tensor:lt <
@each tensor:le <=
@each tensor:gt >
@each tensor:ge >=
@each tensor:eq ==
@each tensor:ne ~=
@tparam tensor|number x
@treturn tensor of 0 and 1
*/

/*** The operator a $text b, element-wise; either side may be a number, tensors broadcast as for
tensor:add. `a * b` multiplies element by element, never as matrices.
@each tensor.__add +
@each tensor.__sub -
@each tensor.__mul *
@each tensor.__div /
@each tensor.__pow ^
@tparam tensor|number a
@tparam tensor|number b
@treturn tensor
@raise a non-numeric operand; shapes that do not broadcast
*/

/*** Element-wise map $text: a new tensor of t's shape (tensor:$name_ works in place).
@each tensor:exp e^x
@each tensor:log log x
@each tensor:log1p log(1 + x), accurate near 0
@each tensor:expm1 e^x - 1, accurate near 0
@each tensor:tanh tanh x
@each tensor:sigmoid 1 / (1 + e^-x)
@each tensor:relu max(x, 0)
@each tensor:abs |x|
@each tensor:sqrt sqrt x
@each tensor:square x^2
@each tensor:neg -x
@each tensor:reciprocal 1 / x
@each tensor:sign -1, 0 or 1
@each tensor:floor floor x
@each tensor:ceil ceil x
@each tensor:cos cos x
@each tensor:sin sin x
@treturn tensor
*/

/*** In place: t <- $text, element-wise.
@each tensor:exp_ e^t
@each tensor:log_ log t
@each tensor:log1p_ log(1 + t)
@each tensor:expm1_ e^t - 1
@each tensor:tanh_ tanh t
@each tensor:sigmoid_ 1 / (1 + e^-t)
@each tensor:relu_ max(t, 0)
@each tensor:abs_ |t|
@each tensor:sqrt_ sqrt t
@each tensor:square_ t^2
@each tensor:neg_ -t
@each tensor:reciprocal_ 1 / t
@each tensor:sign_ sign t
@each tensor:floor_ floor t
@each tensor:ceil_ ceil t
@each tensor:cos_ cos t
@each tensor:sin_ sin t
@treturn tensor t itself
*/

/*** Reduction: the $text of all elements (a number), or along dimension dim, kept: dim 1 gives
[1 x n], dim 2 gives [m x 1], so the result broadcasts back over t.
@each tensor:sum sum
@each tensor:mean mean
@each tensor:min minimum
@each tensor:max maximum
@each tensor:argmin 1-based position of the minimum
@each tensor:argmax 1-based position of the maximum
@int[opt] dim 1 or 2
@treturn number|tensor
@raise a dimension out of range; min, max, argmin, argmax over an empty dimension
*/

/*** Clamps every element into [lo, hi]; a nil bound is open.
@function tensor:clamp
@tparam number|nil lo
@tparam[opt] number hi
@treturn tensor a new tensor
*/

/*** In place: t <- min(max(t, lo), hi); a nil bound is open.
@function tensor:clamp_
@tparam number|nil lo
@tparam[opt] number hi
@treturn tensor t itself
*/

/*** Sets every element to v.
@function tensor:fill_
@number v
@treturn tensor t itself
*/

/*** Sets every element to 0.
@function tensor:zero_
@treturn tensor t itself
*/

/*** Copies src into t (same shape, any strides).
@function tensor:copy_
@tparam tensor src
@treturn tensor t itself
*/

/*** y <- y + alpha x (BLAS axpy).
@function tensor:axpy_
@number alpha
@tparam tensor x y's shape
@treturn tensor y itself
*/

/*** A norm of all elements, or along dim (kept, as for sum).
@function tensor:norm
@tparam[opt="fro"] number|string p 2 or "fro" (Euclidean/Frobenius), math.huge or "inf" (largest |x|)
@int[opt] dim 1 or 2
@treturn number|tensor
*/

/*** The inner product of two 1-D tensors of equal length.
@function tensor:dot
@tparam tensor b
@treturn number
*/

/*** The number of NaN and infinite elements.
@function tensor:count_nonfinite
@treturn int
*/

/*** Whether no element is NaN or infinite.
@function tensor:all_finite
@treturn bool
*/

/*** A 1-D view of the main diagonal: writes go to t (`K:diagonal():add_(1e-3)` adds a ridge).
@function tensor:diagonal
@treturn tensor
*/

/*** The rows (2-D) or elements (1-D) at 1-based indices, as a new tensor.
@function tensor:gather
@tparam table|tensor indices a table of integers or a 1-D tensor of integral values
@treturn tensor
@raise an index out of range
*/
