/* lntk_io_mmap.c: ntklab.io's kernels on disk, added to the io table:
 *   io.write_npy_paged(path, K [, {dtype = "f8" | "f4"}]) -> true | nil, msg
 *       a 2-D tensor as an NPY file whose payload starts on a page (NTK_IO_PAGED_HEADER);
 *   io.paged_row_unit(cols) -> r: row blocks of a [P x cols] kernel starting at multiples of r
 *       can be mapped side by side (0: this system's pages cannot be mapped);
 *   io.map_npy_rows(paths, rows, cols) -> tensor | nil, msg
 *       the paged <f8 blocks paths[k] (rows[k] x cols) mapped as one [sum rows x cols] tensor
 *       over the files (copy on write: the files never change); unmapped when collected;
 *   io.checksum(t) -> 16 hex digits, a 64-bit hash of t's values in row-major order. */
#include <stdio.h>
#include <string.h>

#include "lntk.h"
#include "lntk_io_mmap.h"

static int io_fail(lua_State *L, const char *path, const ntk_error *err) {
  if (err->status == NTK_EARG && err->arg > 0) return lntk_status(L, err, 0);
  luaL_pushfail(L);
  if (path)
    lua_pushfstring(L, "%s: %s", path, err->msg);
  else
    lua_pushstring(L, err->msg);
  return 2;
}

static int io_write_npy_paged(lua_State *L) {
  static const char *const allowed[] = {"dtype", NULL};
  static const char *const dtypes[] = {"f8", "f4", NULL};
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *t = lntk_checktensor(L, 2);
  int dtype = NTK_NPY_F8;
  ntk_error err;
  if (t->ndim != 2) return lntk_shapeerror(L, 2, "[rows x cols]", t);
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lntk_checkoptions(L, 3, allowed);
    if (lua_getfield(L, 3, "dtype") != LUA_TNIL) {
      const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (!v || (strcmp(v, dtypes[0]) != 0 && strcmp(v, dtypes[1]) != 0))
        return luaL_argerror(
            L, 3, lua_pushfstring(L, "option 'dtype': 'f8' or 'f4' expected, got %s",
                                  v ? lua_pushfstring(L, "'%s'", v) : luaL_typename(L, -1)));
      dtype = strcmp(v, "f8") == 0 ? NTK_NPY_F8 : NTK_NPY_F4;
    }
    lua_pop(L, 1);
  }
  if (ntk_io_write_npy_paged(path, t, dtype, &err) != NTK_OK) return io_fail(L, path, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static size_t check_count(lua_State *L, int idx, const char *what) {
  lua_Integer v = luaL_checkinteger(L, idx);
  if (v < 1) luaL_argerror(L, idx, lua_pushfstring(L, "%s >= 1 expected, got %I", what, v));
  return (size_t)v;
}

static int io_paged_row_unit(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_io_paged_row_unit(check_count(L, 1, "cols")));
  return 1;
}

size_t lntk_io_tile_lists(lua_State *L, int paths_idx, int rows_idx, const char ***paths,
                          size_t **rows) {
  size_t n, k;
  luaL_checktype(L, paths_idx, LUA_TTABLE);
  luaL_checktype(L, rows_idx, LUA_TTABLE);
  n = lua_rawlen(L, paths_idx);
  if (n == 0) luaL_argerror(L, paths_idx, "non-empty list of paths expected");
  if (lua_rawlen(L, rows_idx) != n)
    luaL_argerror(L, rows_idx, lua_pushfstring(L, "%d row counts expected (one per path), got %d",
                                               (int)n, (int)lua_rawlen(L, rows_idx)));
  /* userdata buffers: collected with the frame, so a raise below leaks nothing */
  *paths = lua_newuserdatauv(L, n * sizeof **paths, 0);
  *rows = lua_newuserdatauv(L, n * sizeof **rows, 0);
  for (k = 0; k < n; k++) {
    int isnum;
    lua_Integer r;
    lua_rawgeti(L, paths_idx, (lua_Integer)k + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, paths_idx, lua_pushfstring(L, "string expected at [%d], got %s", (int)k + 1,
                                                  luaL_typename(L, -1)));
    (*paths)[k] = lua_tostring(L, -1); /* anchored by the table */
    if (strlen((*paths)[k]) != lua_rawlen(L, -1))
      luaL_argerror(L, paths_idx,
                    lua_pushfstring(L, "path at [%d] contains a NUL byte", (int)k + 1));
    lua_pop(L, 1);
    lua_rawgeti(L, rows_idx, (lua_Integer)k + 1);
    r = lua_tointegerx(L, -1, &isnum);
    if (!isnum || r < 1)
      luaL_argerror(L, rows_idx, lua_pushfstring(L, "positive integer expected at [%d]", (int)k + 1));
    (*rows)[k] = (size_t)r;
    lua_pop(L, 1);
  }
  return n;
}

static int io_map_npy_rows(lua_State *L) {
  size_t cols, n;
  const char **paths;
  size_t *rows;
  ntk_tensor *t;
  ntk_error err;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  cols = check_count(L, 3, "cols");
  n = lntk_io_tile_lists(L, 1, 2, &paths, &rows);
  t = lntk_pushtensor(L);
  if (ntk_io_map_npy_rows(t, paths, rows, n, cols, &err) != NTK_OK) return io_fail(L, NULL, &err);
  return 1;
}

static int io_checksum(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  const ntk_tensor *src = t;
  ntk_error err;
  char hex[17];
  if (!ntk_tensor_is_contiguous(t)) {
    ntk_tensor *c = lntk_pushtensor(L);
    if (ntk_tensor_init_copy(c, t, &err) != NTK_OK) return lntk_fail(L, &err, 1);
    src = c;
  }
  snprintf(hex, sizeof hex, "%016llx",
           (unsigned long long)ntk_kernel_hash(ntk_tensor_data(src), ntk_tensor_numel(src)));
  lua_pushstring(L, hex);
  return 1;
}

void lntk_open_io_mmap(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"write_npy_paged", io_write_npy_paged},
      {"paged_row_unit", io_paged_row_unit},
      {"map_npy_rows", io_map_npy_rows},
      {"checksum", io_checksum},
      {NULL, NULL},
  };
  if (lua_getfield(L, -1, "io") != LUA_TTABLE) luaL_error(L, "ntklab.core.io must open first");
  luaL_setfuncs(L, funcs, 0);
  lua_pop(L, 1);
}
