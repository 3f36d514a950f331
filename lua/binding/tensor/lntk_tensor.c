/* lntk_tensor.c: the tensor userdata: constructors, element access, views, printing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lntk.h"

/* Converts a 1-based Lua index into a 0-based one, checking it against [1, n]. */
static size_t check_index(lua_State *L, int arg, size_t n) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if (i < 1 || (lua_Unsigned)i > n)
    luaL_argerror(L, arg, lua_pushfstring(L, "index %I out of range [1, %I]", i, (lua_Integer)n));
  return (size_t)(i - 1);
}

static size_t check_size(lua_State *L, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  if (n < 0) luaL_argerror(L, arg, lua_pushfstring(L, "non-negative size expected, got %I", n));
  return (size_t)n;
}

/* zeros(rows [, cols]) */
static int tensor_zeros(lua_State *L) {
  size_t r = check_size(L, 1);
  if (lua_isnoneornil(L, 2))
    lntk_newtensor(L, 1, r, 1);
  else
    lntk_newtensor(L, 2, r, check_size(L, 2));
  return 1;
}

/* tensor{1, 2, 3} (1-D) or tensor{{1, 2}, {3, 4}} (2-D, rows of equal length) */
static int tensor_new(lua_State *L) {
  size_t rows, cols = 0, i, j;
  int ndim;
  ntk_tensor *t;
  double *d;
  luaL_checktype(L, 1, LUA_TTABLE);
  rows = (size_t)lua_rawlen(L, 1);
  ndim = 1;
  if (rows > 0 && lua_rawgeti(L, 1, 1) == LUA_TTABLE) {
    ndim = 2;
    cols = (size_t)lua_rawlen(L, -1);
  }
  if (rows > 0) lua_pop(L, 1);
  /* validate everything before allocating */
  for (i = 0; i < rows; i++) {
    int ty = lua_rawgeti(L, 1, (lua_Integer)i + 1);
    if (ndim == 1) {
      if (!lua_isnumber(L, -1))
        luaL_argerror(L, 1, lua_pushfstring(L, "number expected at [%I], got %s", (lua_Integer)i + 1,
                                            luaL_typename(L, -1)));
    } else {
      if (ty != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "table expected for row %I, got %s",
                                            (lua_Integer)i + 1, luaL_typename(L, -1)));
      if ((size_t)lua_rawlen(L, -1) != cols)
        luaL_argerror(L, 1, lua_pushfstring(L, "row %I has %I elements, row 1 has %I",
                                            (lua_Integer)i + 1, (lua_Integer)lua_rawlen(L, -1),
                                            (lua_Integer)cols));
      for (j = 0; j < cols; j++) {
        lua_rawgeti(L, -1, (lua_Integer)j + 1);
        if (!lua_isnumber(L, -1))
          luaL_argerror(L, 1, lua_pushfstring(L, "number expected at [%I][%I], got %s",
                                              (lua_Integer)i + 1, (lua_Integer)j + 1,
                                              luaL_typename(L, -1)));
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  t = lntk_newtensor(L, ndim, rows, cols);
  d = ntk_tensor_data(t);
  for (i = 0; i < rows; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    if (ndim == 1) {
      d[i] = lua_tonumber(L, -1);
    } else {
      for (j = 0; j < cols; j++) {
        lua_rawgeti(L, -1, (lua_Integer)j + 1);
        d[i * cols + j] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  return 1;
}

static int tensor_gc(lua_State *L) {
  ntk_tensor *t = luaL_checkudata(L, 1, LNTK_TENSOR_MT);
  ntk_tensor_release(t); /* idempotent: __gc after __close is harmless */
  return 0;
}

/* t:get(i) or t:get(i, j), 1-based */
static int tensor_get(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  size_t i = check_index(L, 2, t->shape[0]);
  size_t j = 0;
  if (t->ndim == 2) j = check_index(L, 3, t->shape[1]);
  lua_pushnumber(L, ntk_tensor_at(t, i, j));
  return 1;
}

/* t:set(i, v) or t:set(i, j, v), 1-based; returns t */
static int tensor_set(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  size_t i = check_index(L, 2, t->shape[0]);
  size_t j = 0;
  int varg = 3;
  if (t->ndim == 2) {
    j = check_index(L, 3, t->shape[1]);
    varg = 4;
  }
  *ntk_tensor_ptr(t, i, j) = luaL_checknumber(L, varg);
  lua_settop(L, 1);
  return 1;
}

/* t:shape() -> {rows} or {rows, cols} */
static int tensor_shape(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  int k;
  lua_createtable(L, t->ndim, 0);
  for (k = 0; k < t->ndim; k++) {
    lua_pushinteger(L, (lua_Integer)t->shape[k]);
    lua_rawseti(L, -2, k + 1);
  }
  return 1;
}

/* t:size() -> rows[, cols]; t:size(d) -> extent of dimension d */
static int tensor_size(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, (lua_Integer)t->shape[0]);
    if (t->ndim == 1) return 1;
    lua_pushinteger(L, (lua_Integer)t->shape[1]);
    return 2;
  } else {
    lua_Integer d = luaL_checkinteger(L, 2);
    luaL_argcheck(L, d >= 1 && d <= t->ndim, 2,
                  lua_pushfstring(L, "dimension %I out of range [1, %d]", d, t->ndim));
    lua_pushinteger(L, (lua_Integer)t->shape[d - 1]);
    return 1;
  }
}

static int tensor_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_tensor_numel(lntk_checktensor(L, 1)));
  return 1;
}

static int tensor_dim(lua_State *L) {
  lua_pushinteger(L, lntk_checktensor(L, 1)->ndim);
  return 1;
}

static int tensor_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lntk_checktensor(L, 1)->shape[0]);
  return 1;
}

static int tensor_is_contiguous(lua_State *L) {
  lua_pushboolean(L, ntk_tensor_is_contiguous(lntk_checktensor(L, 1)));
  return 1;
}

/* Most entries (numbers plus row tables) a tensor converts into: 2^28 entries are 4 GiB of Lua
 * values, past any use of a table; a larger tensor stays a tensor. */
#define TABLE_MAX_ENTRIES ((size_t)1 << 28)

/* t:totable() -> nested Lua table (copy); at most TABLE_MAX_ENTRIES entries */
static int tensor_totable(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  size_t i, j, rows = t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 0;
  /* rows + rows * cols entries, compared without overflow */
  if (rows > TABLE_MAX_ENTRIES || (cols > 0 && rows > (TABLE_MAX_ENTRIES - rows) / cols)) {
    char buf[64];
    return luaL_argerror(L, 1, lua_pushfstring(L, "%s too large for a table (limit 2^28 entries)",
                                               ntk_tensor_shape_str(t, buf, sizeof buf)));
  }
  lua_createtable(L, (int)rows, 0);
  for (i = 0; i < t->shape[0]; i++) {
    if (t->ndim == 1) {
      lua_pushnumber(L, ntk_tensor_at(t, i, 0));
    } else {
      lua_createtable(L, (int)cols, 0);
      for (j = 0; j < t->shape[1]; j++) {
        lua_pushnumber(L, ntk_tensor_at(t, i, j));
        lua_rawseti(L, -2, (lua_Integer)j + 1);
      }
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* t:narrow(dim, first, count): view of `count` rows (dim 1) or columns (dim 2) from `first` */
static int tensor_narrow(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  lua_Integer d = luaL_checkinteger(L, 2);
  lua_Integer first = luaL_checkinteger(L, 3);
  lua_Integer count = luaL_checkinteger(L, 4);
  ntk_tensor *v;
  ntk_error err;
  luaL_argcheck(L, d >= 1 && d <= t->ndim, 2,
                lua_pushfstring(L, "dimension %I out of range [1, %d]", d, t->ndim));
  if (first < 1 || (lua_Unsigned)first > t->shape[d - 1] + 1)
    return luaL_argerror(L, 3, lua_pushfstring(L, "index %I out of range [1, %I]", first,
                                               (lua_Integer)t->shape[d - 1] + 1));
  /* first - 1 <= shape (checked above), so the room left cannot wrap; first - 1 + count could */
  if (count < 0 || (size_t)count > t->shape[d - 1] - (size_t)(first - 1))
    return luaL_argerror(L, 4, lua_pushfstring(L, "count %I out of range [0, %I]", count,
                                               (lua_Integer)t->shape[d - 1] - first + 1));
  v = lntk_pushtensor(L);
  if (ntk_tensor_narrow(v, t, (int)d - 1, (size_t)first - 1, (size_t)count, &err) != NTK_OK)
    return lntk_result(L, &err, NULL);
  return 1;
}

/* (The view functions of ntk_tensor.c count their arguments as these methods do: the source
 * tensor 1, then dim, index or count; so their results need no argument map.) */

/* t:select(dim, index): 1-D view of row `index` (dim 1) or column `index` (dim 2) */
static int tensor_select(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  lua_Integer d = luaL_checkinteger(L, 2);
  size_t i;
  ntk_tensor *v;
  ntk_error err;
  if (t->ndim != 2) return lntk_shapeerror(L, 1, "2-D tensor", t);
  luaL_argcheck(L, d == 1 || d == 2, 2, lua_pushfstring(L, "dimension %I out of range [1, 2]", d));
  i = check_index(L, 3, t->shape[d - 1]);
  v = lntk_pushtensor(L);
  if (ntk_tensor_select(v, t, (int)d - 1, i, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  return 1;
}

/* t:t(): transposed view */
static int tensor_transpose(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  ntk_tensor *v;
  ntk_error err;
  if (t->ndim != 2) return lntk_shapeerror(L, 1, "2-D tensor", t);
  v = lntk_pushtensor(L);
  if (ntk_tensor_transpose(v, t, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  return 1;
}

/* t:clone(): contiguous deep copy */
static int tensor_clone(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  ntk_tensor *c = lntk_pushtensor(L);
  ntk_error err;
  if (ntk_tensor_init_copy(c, t, &err) != NTK_OK) return luaL_error(L, "%s", err.msg);
  lntk_gcstep(L, ntk_tensor_numel(c) * sizeof(double));
  return 1;
}

/* t:contiguous(): t itself when contiguous, else a contiguous copy */
static int tensor_contiguous(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  if (ntk_tensor_is_contiguous(t)) {
    lua_settop(L, 1);
    return 1;
  }
  return tensor_clone(L);
}

/* t:reshape(rows [, cols]): view with a new shape (t must be contiguous) */
static int tensor_reshape(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  size_t shape[2];
  int ndim = lua_isnoneornil(L, 3) ? 1 : 2;
  ntk_tensor *v;
  ntk_error err;
  shape[0] = check_size(L, 2);
  shape[1] = ndim == 2 ? check_size(L, 3) : 1;
  if (!ntk_tensor_is_contiguous(t) && ntk_tensor_numel(t) > 1)
    return luaL_argerror(L, 1, "contiguous tensor expected (call :contiguous() first)");
  if ((shape[1] != 0 && shape[0] > ((size_t)-1) / shape[1]) ||
      shape[0] * shape[1] != ntk_tensor_numel(t)) {
    char buf[64];
    return luaL_argerror(L, 2, lua_pushfstring(L, "cannot view %s (%I elements) as %I x %I",
                                               ntk_tensor_shape_str(t, buf, sizeof buf),
                                               (lua_Integer)ntk_tensor_numel(t),
                                               (lua_Integer)shape[0], (lua_Integer)shape[1]));
  }
  v = lntk_pushtensor(L);
  if (ntk_tensor_reshape(v, t, ndim, shape, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  return 1;
}

/* Pretty printing: a header line with the shape, then rows with a shared %g width.
 * Large tensors show their corners only, as numpy does. */
#define PRINT_EDGE 3
#define PRINT_MAX 8

static void print_row(luaL_Buffer *b, const ntk_tensor *t, size_t i) {
  size_t j, n = t->ndim == 2 ? t->shape[1] : 1;
  char num[40];
  luaL_addstring(b, " ");
  for (j = 0; j < n; j++) {
    if (n > PRINT_MAX && j == PRINT_EDGE) {
      luaL_addstring(b, "        ...");
      j = n - PRINT_EDGE - 1;
      continue;
    }
    snprintf(num, sizeof num, " %11.5g", ntk_tensor_at(t, i, j));
    luaL_addstring(b, num);
  }
  luaL_addstring(b, "\n");
}

static int tensor_tostring(lua_State *L) {
  ntk_tensor *t = luaL_checkudata(L, 1, LNTK_TENSOR_MT);
  luaL_Buffer b;
  char buf[64];
  size_t i;
  if (!t->storage) {
    lua_pushstring(L, "ntklab.tensor (released)");
    return 1;
  }
  luaL_buffinit(L, &b);
  if (t->ndim == 1) {
    /* 1-D tensors print as one row */
    ntk_tensor row = *t;
    row.ndim = 2;
    row.shape[0] = 1;
    row.shape[1] = t->shape[0];
    row.stride[1] = t->stride[0];
    row.stride[0] = 0;
    print_row(&b, &row, 0);
  } else {
    for (i = 0; i < t->shape[0]; i++) {
      if (t->shape[0] > PRINT_MAX && i == PRINT_EDGE) {
        luaL_addstring(&b, "  ...\n");
        i = t->shape[0] - PRINT_EDGE - 1;
        continue;
      }
      print_row(&b, t, i);
    }
  }
  luaL_addstring(&b, "ntklab.tensor ");
  luaL_addstring(&b, ntk_tensor_shape_str(t, buf, sizeof buf));
  luaL_pushresult(&b);
  return 1;
}

void lntk_open_tensor(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"get", tensor_get},
      {"set", tensor_set},
      {"shape", tensor_shape},
      {"size", tensor_size},
      {"numel", tensor_numel},
      {"dim", tensor_dim},
      {"totable", tensor_totable},
      {"narrow", tensor_narrow},
      {"select", tensor_select},
      {"t", tensor_transpose},
      {"clone", tensor_clone},
      {"contiguous", tensor_contiguous},
      {"reshape", tensor_reshape},
      {"is_contiguous", tensor_is_contiguous},
      {NULL, NULL},
  };
  static const luaL_Reg meta[] = {
      {"__len", tensor_len},
      {"__tostring", tensor_tostring},
      {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
      {"tensor", tensor_new},
      {"zeros", tensor_zeros},
      {NULL, NULL},
  };
  static const lntk_class tensor = {LNTK_TENSOR_MT, tensor_gc, meta, methods, NULL, funcs};
  lntk_newclass(L, &tensor);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Tensors: constructors, shape, views.
@submodule ntklab
*/

/*** A new tensor from a Lua array (1-D) or an array of equal-length rows (2-D), copied.
@function tensor
@tparam table values {1, 2, 3} or {{1, 2}, {3, 4}}
@treturn tensor
@raise ragged rows, non-numbers, more than 2^40 elements
@usage local t = ntklab.tensor{{1, 2}, {3, 4}}
*/

/*** A new tensor of zeros.
@function zeros
@int rows
@int[opt] cols a 2-D [rows x cols] tensor when given, else 1-D [rows]
@treturn tensor
@raise negative sizes; more bytes than the process may still use (the bytes are named)
*/

/*** A dense row-major array of doubles, 1-D or 2-D, possibly a strided view of another's storage.
Views (narrow, select, t, diagonal, reshape) share the refcounted storage and outlive their parent.
Operators + - * / ^ are element-wise and broadcast a row or a column; `#t` is the number of rows.
@type tensor
*/

/*** Element i (1-D) or (i, j) (2-D), 1-based.
@function tensor:get
@int i
@int[opt] j
@treturn number
@raise "index 7 out of range [1, 5]"
*/

/*** Sets element i (1-D) or (i, j) (2-D) to v.
@function tensor:set
@int i
@int[opt] j
@number v
@treturn tensor t itself
*/

/*** The shape as a table.
@function tensor:shape
@treturn table {rows} or {rows, cols}
*/

/*** Sizes: all of them, or that of dimension d.
@function tensor:size
@int[opt] d 1 or 2
@treturn int rows (and cols for 2-D), or the extent of dimension d
*/

/*** The number of elements.
@function tensor:numel
@treturn int
*/

/*** The number of dimensions.
@function tensor:dim
@treturn int 1 or 2
*/

/*** A nested Lua table copy of the elements (at most 2^28 of them).
@function tensor:totable
@treturn table
*/

/*** A view of `count` rows (dim 1) or columns (dim 2) starting at `first`.
@function tensor:narrow
@int dim
@int first
@int count
@treturn tensor a view sharing t's storage
*/

/*** A 1-D view of row `index` (dim 1) or column `index` (dim 2).
@function tensor:select
@int dim
@int index
@treturn tensor
*/

/*** The transposed view (no copy; BLAS reads it as transposed).
@function tensor:t
@treturn tensor
*/

/*** A contiguous deep copy.
@function tensor:clone
@treturn tensor
*/

/*** t itself when contiguous, else a contiguous copy.
@function tensor:contiguous
@treturn tensor
*/

/*** A view with a new shape, [rows] or [rows x cols], of a contiguous tensor.
@function tensor:reshape
@int rows
@int[opt] cols
@treturn tensor
@raise t not contiguous; element counts differ
*/

/*** Whether the elements are stored row-major without gaps.
@function tensor:is_contiguous
@treturn bool
*/

/*** Frees the storage now (also __gc and __close); using t afterwards raises "attempt to use a
released tensor". Views keep their share of the storage.
@function tensor:release
*/
