/* lntk_io.c: ntklab.io, array files: read_idx/write_idx, read_cifar10/write_cifar10,
 * read_npy/write_npy, read_csv. Bad arguments raise; files that cannot be read or written
 * return nil, "path: what is wrong". */
#include <string.h>

#include "lntk.h"

static const char *const idx_type_names[] = {"ubyte", "byte", "short", "int", "float", "double",
                                             NULL};
static const int idx_type_codes[] = {NTK_IDX_UBYTE, NTK_IDX_SBYTE, NTK_IDX_SHORT,
                                     NTK_IDX_INT,   NTK_IDX_FLOAT, NTK_IDX_DOUBLE};
static const char *const npy_dtype_names[] = {"f8", "f4", "u1", NULL};

/* Pushes nil, "path: msg" for failures of the world; raises for misuse. */
static int io_fail(lua_State *L, const char *path, const ntk_error *err, int argbase) {
  if (err->status == NTK_EARG && err->arg > 0) return lntk_status(L, err, argbase);
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", path, err->msg);
  return 2;
}

static void push_dims(lua_State *L, const ntk_io_shape *s) {
  int k;
  lua_createtable(L, s->ndim, 0);
  for (k = 0; k < s->ndim; k++) {
    lua_pushinteger(L, (lua_Integer)s->dims[k]);
    lua_rawseti(L, -2, k + 1);
  }
}

/* Reads an optional list of dimensions from field "dims" of the option table at tbl. */
static int opt_dims(lua_State *L, int tbl, ntk_io_shape *s) {
  lua_Integer n, k;
  if (lua_getfield(L, tbl, "dims") == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, -1))
    luaL_argerror(L, tbl, lua_pushfstring(L, "option 'dims': table expected, got %s",
                                          luaL_typename(L, -1)));
  n = (lua_Integer)lua_rawlen(L, -1);
  if (n < 1 || n > NTK_IO_MAX_DIMS)
    luaL_argerror(L, tbl, lua_pushfstring(L, "option 'dims': 1 to %d dimensions expected, got %I",
                                          NTK_IO_MAX_DIMS, n));
  s->ndim = (int)n;
  for (k = 1; k <= n; k++) {
    int isnum;
    lua_Integer d;
    lua_rawgeti(L, -1, k);
    d = lua_tointegerx(L, -1, &isnum);
    if (!isnum || d < 0)
      luaL_argerror(L, tbl, lua_pushfstring(L, "option 'dims': non-negative integer expected at "
                                               "[%I]", k));
    s->dims[k - 1] = (size_t)d;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

/* Checks an option table at idx (absent or nil allowed) against the allowed keys. */
static int opt_table(lua_State *L, int idx, const char *const allowed[]) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lntk_checkoptions(L, idx, allowed);
  return 1;
}

/* Reads option `key` at tbl as one of names (def when absent); returns its index. */
static int opt_choice(lua_State *L, int tbl, const char *key, const char *const names[], int def) {
  int i = def;
  if (tbl && lua_getfield(L, tbl, key) != LUA_TNIL) {
    const char *v;
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s': string expected, got %s", key,
                                            luaL_typename(L, -1)));
    v = lua_tostring(L, -1);
    for (i = 0; names[i]; i++)
      if (strcmp(names[i], v) == 0) break;
    if (!names[i]) {
      luaL_Buffer b;
      int k;
      luaL_buffinit(L, &b);
      for (k = 0; names[k]; k++) {
        if (k) luaL_addstring(&b, ", ");
        luaL_addchar(&b, '\'');
        luaL_addstring(&b, names[k]);
        luaL_addchar(&b, '\'');
      }
      luaL_pushresult(&b);
      luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s': expected one of %s, got '%s'", key,
                                            lua_tostring(L, -1), v));
    }
  }
  if (tbl) lua_pop(L, 1);
  return i;
}

/* read_idx(path) -> tensor, {dims = {...}, type = "ubyte"} | nil, msg */
static int io_read_idx(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  ntk_io_shape s;
  ntk_error err;
  int type, k;
  ntk_tensor *t;
  lua_settop(L, 1);
  t = lntk_pushtensor(L);
  if (ntk_io_read_idx(t, &s, &type, path, &err) != NTK_OK) return io_fail(L, path, &err, 0);
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  lua_createtable(L, 0, 2);
  push_dims(L, &s);
  lua_setfield(L, -2, "dims");
  for (k = 0; idx_type_names[k]; k++)
    if (idx_type_codes[k] == type) lua_pushstring(L, idx_type_names[k]);
  lua_setfield(L, -2, "type");
  return 2;
}

/* write_idx(path, tensor [, {type = "double", dims = {...}}]) -> true | nil, msg */
static int io_write_idx(lua_State *L) {
  static const char *const allowed[] = {"type", "dims", NULL};
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *t = lntk_checktensor(L, 2);
  int has_opts = opt_table(L, 3, allowed);
  ntk_io_shape s;
  int have_dims = has_opts && opt_dims(L, 3, &s);
  int type = idx_type_codes[opt_choice(L, has_opts ? 3 : 0, "type", idx_type_names, 5)];
  ntk_error err;
  if (ntk_io_write_idx(path, t, have_dims ? &s : NULL, type, &err) != NTK_OK)
    return io_fail(L, path, &err, 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* read_cifar10(path) -> images [N x 3072], labels [N] | nil, msg */
static int io_read_cifar10(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *x, *y;
  ntk_error err;
  lua_settop(L, 1);
  x = lntk_pushtensor(L);
  y = lntk_pushtensor(L);
  if (ntk_io_read_cifar10(x, y, path, &err) != NTK_OK) return io_fail(L, path, &err, 0);
  lntk_gcstep(L, ntk_tensor_numel(x) * sizeof(double));
  return 2;
}

/* write_cifar10(path, images, labels) -> true | nil, msg */
static int io_write_cifar10(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *x = lntk_checktensor(L, 2), *y = lntk_checktensor(L, 3);
  ntk_error err;
  if (ntk_io_write_cifar10(path, x, y, &err) != NTK_OK) return io_fail(L, path, &err, 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* read_npy(path) -> tensor, {shape = {...}, dtype = "f8"} | nil, msg */
static int io_read_npy(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  ntk_io_shape s;
  ntk_error err;
  int dtype;
  ntk_tensor *t;
  lua_settop(L, 1);
  t = lntk_pushtensor(L);
  if (ntk_io_read_npy(t, &s, &dtype, path, &err) != NTK_OK) return io_fail(L, path, &err, 0);
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  lua_createtable(L, 0, 2);
  push_dims(L, &s);
  lua_setfield(L, -2, "shape");
  lua_pushstring(L, npy_dtype_names[dtype]);
  lua_setfield(L, -2, "dtype");
  return 2;
}

/* write_npy(path, tensor [, {dtype = "f8"}]) -> true | nil, msg */
static int io_write_npy(lua_State *L) {
  static const char *const allowed[] = {"dtype", NULL};
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *t = lntk_checktensor(L, 2);
  int has_opts = opt_table(L, 3, allowed);
  int dtype = opt_choice(L, has_opts ? 3 : 0, "dtype", npy_dtype_names, 0);
  ntk_error err;
  if (ntk_io_write_npy(path, t, dtype, &err) != NTK_OK) return io_fail(L, path, &err, 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* read_csv(path [, {delimiter = ",", header = false}]) -> tensor [rows x cols] | nil, msg */
static int io_read_csv(lua_State *L) {
  static const char *const allowed[] = {"delimiter", "header", NULL};
  const char *path = lntk_checkpath(L, 1);
  int has_opts = opt_table(L, 2, allowed);
  char delim = ',';
  int header = 0;
  ntk_error err;
  ntk_tensor *t;
  if (has_opts) {
    if (lua_getfield(L, 2, "delimiter") != LUA_TNIL) {
      size_t n;
      const char *d = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
      if (!d || n != 1)
        luaL_argerror(L, 2, "option 'delimiter': one-character string expected");
      delim = d[0];
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "header") != LUA_TNIL) {
      if (!lua_isboolean(L, -1))
        luaL_argerror(L, 2, lua_pushfstring(L, "option 'header': boolean expected, got %s",
                                            luaL_typename(L, -1)));
      header = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
  }
  lua_settop(L, 2);
  t = lntk_pushtensor(L);
  /* the core numbers the delimiter argument 3; at the Lua level it lives in the options */
  if (ntk_io_read_csv(t, path, delim, header, &err) != NTK_OK)
    return io_fail(L, path, &err, err.arg == 3 ? -1 : 0);
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  return 1;
}

void lntk_open_io(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"read_idx", io_read_idx},         {"write_idx", io_write_idx},
      {"read_cifar10", io_read_cifar10}, {"write_cifar10", io_write_cifar10},
      {"read_npy", io_read_npy},         {"write_npy", io_write_npy},
      {"read_csv", io_read_csv},         {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "io");
}
