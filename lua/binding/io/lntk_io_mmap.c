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

/* Lua positions */
enum { ARG_PATH = 1, ARG_T = 2, ARG_OPTS = 3 };          /* write_npy_paged(path, K [, opts]) */
enum { ARG_PATHS = 1, ARG_ROWS = 2, ARG_COLS = 3 };      /* map_npy_rows(paths, rows, cols) */

static const char *const dtype_names[] = {"f8", "f4", NULL};
static const int dtype_codes[] = {NTK_NPY_F8, NTK_NPY_F4};
static const lntk_option write_options[] = {
    LNTK_OPT("dtype", LNTK_OPT_CHOICE, .def = 0, .choices = dtype_names),
    LNTK_OPT_END,
};

static int io_write_npy_paged(lua_State *L) {
  const char *path = lntk_checkpath(L, ARG_PATH);
  ntk_tensor *t = lntk_checktensor(L, ARG_T);
  lntk_optval dtype;
  ntk_error err;
  if (t->ndim != 2) return lntk_shapeerror(L, ARG_T, "[rows x cols]", t);
  lntk_options(L, ARG_OPTS, write_options, &dtype);
  /* core (path, t, dtype) */
  if (ntk_io_write_npy_paged(path, t, dtype_codes[dtype.choice], &err) != NTK_OK)
    return lntk_result_at(L, &err, LNTK_ARGS(ARG_PATH, ARG_T, ARG_OPTS), path);
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
  /* core (out, paths, rows, n, cols) */
  if (ntk_io_map_npy_rows(t, paths, rows, n, cols, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, ARG_PATHS, ARG_ROWS, 0, ARG_COLS));
  return 1;
}

static int io_checksum(lua_State *L) {
  ntk_tensor *t = lntk_checktensor(L, 1);
  const ntk_tensor *src = t;
  ntk_error err;
  char hex[17];
  if (!ntk_tensor_is_contiguous(t)) {
    ntk_tensor *c = lntk_pushtensor(L);
    /* core (out, src) */
    if (ntk_tensor_init_copy(c, t, &err) != NTK_OK) return lntk_result(L, &err, LNTK_ARGS(0, 1));
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

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Kernels on disk.
@submodule ntklab.io
*/

/*** Writes a 2-D tensor as an NPY file whose payload starts on a page, so that row blocks can be
mapped side by side (ntklab.tiles).
@function write_npy_paged
@string path
@tparam tensor K [rows x cols]
@tparam[opt] table opts {dtype = "f8" | "f4"}
@treturn bool true
@return nil, "path: what is wrong"
*/

/*** The row unit r: row blocks of a [P x cols] kernel that start at multiples of r can be mapped
side by side (0: this system's pages cannot be mapped).
@function paged_row_unit
@int cols
@treturn int r
*/

/*** Maps paged <f8 NPY row blocks as one [sum rows x cols] tensor, copy on write (the files never
change); unmapped when collected.
@function map_npy_rows
@tparam table paths the block files, in row order
@tparam table rows rows[k]: the rows of paths[k]
@int cols
@treturn tensor
@return nil, msg
*/

/*** A 64-bit hash of t's values in row-major order, as 16 hex digits (any strides).
@function checksum
@tparam tensor t
@treturn string
*/
