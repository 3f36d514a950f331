/* lntk_core.c: luaopen_ntklab_core and the helpers every binding file shares. */
#include <stdio.h>
#include <string.h>

#include "lntk.h"

ntk_tensor *lntk_checktensor(lua_State *L, int idx) {
  ntk_tensor *t = luaL_checkudata(L, idx, LNTK_TENSOR_MT);
  if (!t->storage) luaL_error(L, "attempt to use a released tensor");
  return t;
}

ntk_tensor *lntk_opttensor(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : lntk_checktensor(L, idx);
}

int lntk_istensor(lua_State *L, int idx) {
  return luaL_testudata(L, idx, LNTK_TENSOR_MT) != NULL;
}

ntk_tensor *lntk_pushtensor(lua_State *L) {
  ntk_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, LNTK_TENSOR_MT);
  return t;
}

ntk_tensor *lntk_newtensor(lua_State *L, int ndim, size_t rows, size_t cols) {
  ntk_error err;
  size_t shape[2];
  ntk_tensor *t = lntk_pushtensor(L);
  shape[0] = rows;
  shape[1] = cols;
  if (ntk_tensor_init(t, ndim, shape, &err) != NTK_OK) luaL_error(L, "%s", err.msg);
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  return t;
}

void lntk_gcstep(lua_State *L, size_t bytes) {
  /* Small tensors are not worth a collector step; big ones are invisible to Lua's heap
   * accounting, so without this a loop creating them can grow memory without bound. */
  if (bytes >= ((size_t)1 << 20)) lua_gc(L, LUA_GCSTEP, (int)(bytes >> 10 > 1 << 20 ? 1 << 20 : bytes >> 10));
}

int lntk_status(lua_State *L, const ntk_error *err, int argbase) {
  if (err->status < 0) {
    if (err->arg > 0) return luaL_argerror(L, argbase + err->arg, err->msg);
    return luaL_error(L, "%s", err->msg);
  }
  luaL_pushfail(L);
  lua_pushstring(L, err->msg);
  return 2;
}

int lntk_fail(lua_State *L, const ntk_error *err, int arg) {
  if (err->status < 0) {
    if (arg > 0) return luaL_argerror(L, arg, err->msg);
    return luaL_error(L, "%s", err->msg);
  }
  luaL_pushfail(L);
  lua_pushstring(L, err->msg);
  return 2;
}

int lntk_shapeerror(lua_State *L, int arg, const char *expected, const ntk_tensor *got) {
  char buf[64];
  ntk_tensor_shape_str(got, buf, sizeof buf);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", expected, buf));
}

lua_Integer lntk_optfield_integer(lua_State *L, int tbl, const char *key, lua_Integer def) {
  lua_Integer v = def;
  int isnum;
  if (lua_getfield(L, tbl, key) != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
      luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s': integer expected, got %s", key,
                                            luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  return v;
}

lua_Number lntk_optfield_number(lua_State *L, int tbl, const char *key, lua_Number def) {
  lua_Number v = def;
  int isnum;
  if (lua_getfield(L, tbl, key) != LUA_TNIL) {
    v = lua_tonumberx(L, -1, &isnum);
    if (!isnum)
      luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s': number expected, got %s", key,
                                            luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  return v;
}

void lntk_checkoptions(lua_State *L, int tbl, const char *const allowed[]) {
  luaL_checktype(L, tbl, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, tbl)) {
    int ok = 0, i;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      for (i = 0; allowed[i]; i++)
        if (strcmp(allowed[i], k) == 0) ok = 1;
      if (!ok) luaL_argerror(L, tbl, lua_pushfstring(L, "invalid option '%s'", k));
    } else {
      luaL_argerror(L, tbl, "option keys must be strings");
    }
    lua_pop(L, 1);
  }
}

/* threads([n]) -> the BLAS thread count in force, after setting it to min(n, cores) | nil, msg
 * when the OpenBLAS buffers of that many threads do not fit under the address-space limit. */
const char *lntk_checkpath(lua_State *L, int idx) {
  size_t len;
  const char *path = luaL_checklstring(L, idx, &len);
  if (strlen(path) != len) luaL_argerror(L, idx, "path without NUL bytes expected");
  return path;
}

static int core_threads(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    int cores = ntk_threads_cores();
    ntk_error err;
    luaL_argcheck(L, n >= 1 && n <= 4096, 1, "thread count in [1, 4096] expected");
    if (n > cores) n = cores;
    if (ntk_memory_check_threads((int)n, &err) != NTK_OK) {
      /* the world's limit, not the caller's mistake: nil, msg, the old count stays */
      luaL_pushfail(L);
      lua_pushstring(L, err.msg);
      return 2;
    }
    ntk_threads_set((int)n);
  }
  lua_pushinteger(L, ntk_threads_get());
  return 1;
}

static int core_metatable(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (luaL_getmetatable(L, lua_pushfstring(L, "ntklab.%s", name)) != LUA_TTABLE)
    return luaL_argerror(L, 1, lua_pushfstring(L, "unknown type '%s'", name));
  return 1;
}

typedef void (*lntk_opener)(lua_State *L);

/* Every concept's registration; metatables exist before any object is created. */
static const lntk_opener openers[] = {
    lntk_open_tensor,
    lntk_open_rng,
    lntk_open_io,
    lntk_open_io_mmap,
    lntk_open_linalg,
    lntk_open_regress,
    lntk_open_metrics,
    lntk_open_kernel,
    lntk_open_tensor_ops,
    lntk_open_blas,
    lntk_open_clock,
    lntk_open_mlp,
    lntk_open_model,
    lntk_open_train,
    lntk_open_analytic,
    NULL,
};

int luaopen_ntklab_core(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"threads", core_threads},
      {"metatable", core_metatable},
      {NULL, NULL},
  };
  int i;
  luaL_checkversion(L);
  /* OPENBLAS_NUM_THREADS may ask for more threads than cores: each one only adds a buffer */
  if (ntk_threads_get() > ntk_threads_cores()) ntk_threads_set(ntk_threads_cores());
  luaL_newlib(L, funcs);
  lua_pushstring(L, NTK_VERSION);
  lua_setfield(L, -2, "version");
  for (i = 0; openers[i]; i++) openers[i](L);
  return 1;
}
