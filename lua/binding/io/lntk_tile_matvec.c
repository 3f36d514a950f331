/* lntk_tile_matvec.c: products of a kernel on disk with a block of vectors (ntk_tile_matvec.h):
 *   ntklab.tile_matvec(paths, rows, cols [, {dtype = "f8" | "f4", loops = "fused" | "blas"}])
 *       -> op | nil, msg: the paged NPY tiles paths[k] ([rows[k] x cols] each, stacked) mapped
 *       read-only; loops: the AVX-512 fused loops (the default where the CPU has them) or BLAS;
 *   op:apply(V [, out]) -> out        K V for V [cols] or [cols x k], in float64 (out: reused)
 *   op:row(i [, out]) -> [cols]       row i (1-based) of K, widened
 *   op:diagonal() -> [min(rows, cols)]
 *   op:size() -> rows, cols;  op:dtype() -> "f8" | "f4";  op:bytes() -> bytes one product reads
 *   op:loops() -> "fused" | "blas"
 *   op:release() (also __gc, __close): unmaps. */
#include "lntk.h"
#include "lntk_io_mmap.h"

#define LNTK_TILE_MATVEC_MT "ntklab.tile_matvec"

typedef struct ltm {
  ntk_tile_matvec *m; /* NULL once released */
} ltm;

static const char *const dtype_names[] = {"f8", "f4", NULL}; /* indices are NTK_NPY_F8, _F4 */
static const char *const loops_names[] = {"fused", "blas", NULL}; /* NTK_TILE_LOOPS_FUSED, _BLAS */

static ntk_tile_matvec *check_tm(lua_State *L, int idx) {
  ltm *w = luaL_checkudata(L, idx, LNTK_TILE_MATVEC_MT);
  if (!w->m) lntk_released(L, "tile_matvec");
  return w->m;
}

static size_t check_count(lua_State *L, int idx, const char *what) {
  lua_Integer v = luaL_checkinteger(L, idx);
  if (v < 1) luaL_argerror(L, idx, lua_pushfstring(L, "%s >= 1 expected, got %I", what, v));
  return (size_t)v;
}

/* Lua positions: tile_matvec(paths, rows, cols, opts); core (out, paths, rows, n, cols, dtype) */
#define OPEN_ARGS LNTK_ARGS(0, 1, 2, 1, 3, 4)

static int tm_new(lua_State *L) {
  static const lntk_option options[] = {
      LNTK_OPT("dtype", LNTK_OPT_CHOICE, .choices = dtype_names),
      LNTK_OPT("loops", LNTK_OPT_CHOICE, .choices = loops_names), LNTK_OPT_END,
  };
  size_t cols, n;
  const char **paths;
  size_t *rows;
  lntk_optval opt[2]; /* dtype, loops */
  ltm *w;
  ntk_error err;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  cols = check_count(L, 3, "cols");
  lntk_options(L, 4, options, opt);
  n = lntk_io_tile_lists(L, 1, 2, &paths, &rows);
  w = lntk_newobject(L, sizeof *w, LNTK_TILE_MATVEC_MT);
  if (ntk_tile_matvec_open(&w->m, paths, rows, n, cols, opt[0].present ? opt[0].choice : NTK_NPY_F8,
                           &err) != NTK_OK)
    return lntk_result(L, &err, OPEN_ARGS);
  if (opt[1].present && ntk_tile_matvec_set_loops(w->m, opt[1].choice, &err) != NTK_OK)
    luaL_error(L, "bad argument #4 to 'tile_matvec' (option 'loops': %s)", err.msg);
  return 1;
}

LNTK_RELEASE(tm_gc, ltm, LNTK_TILE_MATVEC_MT, m, ntk_tile_matvec_free)

/* op:apply(V [, out]); core (m, out, V) */
static int tm_apply(lua_State *L) {
  ntk_tile_matvec *m = check_tm(L, 1);
  ntk_tensor *V = lntk_checktensor(L, 2);
  ntk_tensor *out = lntk_opttensor(L, 3);
  ntk_error err;
  if (!out) {
    if (V->shape[0] != ntk_tile_matvec_cols(m))
      return lntk_shapeerror(L, 2, V->ndim == 1 ? "[cols]" : "[cols x k]", V);
    out = lntk_newtensor(L, V->ndim, ntk_tile_matvec_rows(m), V->ndim == 1 ? 1 : V->shape[1]);
  } else {
    lua_settop(L, 3);
  }
  if (ntk_tile_matvec_apply(m, out, V, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(1, 3, 2));
  return 1;
}

/* op:row(i [, out]); core (m, out, i - 1) */
static int tm_row(lua_State *L) {
  ntk_tile_matvec *m = check_tm(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  ntk_tensor *out = lntk_opttensor(L, 3);
  ntk_error err;
  if (i < 1 || (size_t)i > ntk_tile_matvec_rows(m))
    return luaL_argerror(L, 2, lua_pushfstring(L, "row %I out of range [1, %I]", i,
                                               (lua_Integer)ntk_tile_matvec_rows(m)));
  if (!out)
    out = lntk_newtensor(L, 1, ntk_tile_matvec_cols(m), 1);
  else
    lua_settop(L, 3);
  if (ntk_tile_matvec_row(m, out, (size_t)(i - 1), &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(1, 3, 2));
  return 1;
}

static int tm_diagonal(lua_State *L) {
  ntk_tile_matvec *m = check_tm(L, 1);
  size_t r = ntk_tile_matvec_rows(m), c = ntk_tile_matvec_cols(m);
  ntk_tensor *out;
  ntk_error err;
  luaL_argcheck(L, lua_isnone(L, 2), 2, "no arguments expected");
  out = lntk_newtensor(L, 1, r < c ? r : c, 1);
  if (ntk_tile_matvec_diagonal(m, out, &err) != NTK_OK) return lntk_result(L, &err, LNTK_ARGS(1, 0));
  return 1;
}

static int tm_size(lua_State *L) {
  ntk_tile_matvec *m = check_tm(L, 1);
  lua_pushinteger(L, (lua_Integer)ntk_tile_matvec_rows(m));
  lua_pushinteger(L, (lua_Integer)ntk_tile_matvec_cols(m));
  return 2;
}

static int tm_loops(lua_State *L) {
  lua_pushstring(L, loops_names[ntk_tile_matvec_loops(check_tm(L, 1))]);
  return 1;
}

static int tm_dtype(lua_State *L) {
  lua_pushstring(L, dtype_names[ntk_tile_matvec_dtype(check_tm(L, 1))]);
  return 1;
}

static int tm_bytes(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_tile_matvec_bytes(check_tm(L, 1)));
  return 1;
}

static int tm_tostring(lua_State *L) {
  ltm *w = luaL_checkudata(L, 1, LNTK_TILE_MATVEC_MT);
  if (!w->m)
    lua_pushstring(L, "ntklab.tile_matvec (released)");
  else
    lua_pushfstring(L, "ntklab.tile_matvec ([%I x %I] %s)", (lua_Integer)ntk_tile_matvec_rows(w->m),
                    (lua_Integer)ntk_tile_matvec_cols(w->m),
                    dtype_names[ntk_tile_matvec_dtype(w->m)]);
  return 1;
}

void lntk_open_tile_matvec(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"apply", tm_apply}, {"row", tm_row},     {"diagonal", tm_diagonal}, {"size", tm_size},
      {"dtype", tm_dtype}, {"bytes", tm_bytes}, {"loops", tm_loops}, {NULL, NULL},
  };
  static const luaL_Reg meta[] = {{"__tostring", tm_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"tile_matvec", tm_new}, {NULL, NULL}};
  static const lntk_class cls = {LNTK_TILE_MATVEC_MT, tm_gc, meta, methods, NULL, funcs};
  lntk_newclass(L, &cls);
}

/*** Products of a kernel on disk with a block of vectors.
@submodule ntklab
*/

/*** The paged NPY tiles of a kernel (ntklab.tiles) mapped read-only as one operator; products
stream the tiles and accumulate in float64. Failures of the world (missing, short or foreign
files) return nil and a message naming the file.
@function tile_matvec
@tparam table paths the tiles' files, in row order
@tparam table rows the rows of each tile
@tparam int cols the kernel's columns
@tparam[opt] table opts {dtype = "f8" | "f4", loops = "fused" | "blas"}: loops "fused" widen
each entry in a register and multiply it into float64 accumulators on ntklab.threads() threads
(AVX-512; the default where the CPU has it, an error where it does not), "blas" widen panels
for dgemm; the two agree to summation order
@treturn tile_matvec
*/

/*** A kernel on disk as mapped tiles.
@type tile_matvec
*/

/*** K V for V [cols] or [cols x k], in float64, one pass over the tiles.
@function tile_matvec:apply
@tparam tensor V
@tparam[opt] tensor out [rows] or [rows x k] with contiguous rows, reused
@treturn tensor out
*/

/*** Row i (1-based) of K, widened to float64.
@function tile_matvec:row
@tparam int i
@tparam[opt] tensor out [cols]
@treturn tensor
*/

/*** The diagonal of K, [min(rows, cols)].
@function tile_matvec:diagonal
@treturn tensor
*/

/*** The kernel's shape.
@function tile_matvec:size
@treturn int rows
@treturn int cols
*/

/*** "f8" or "f4".
@function tile_matvec:dtype
@treturn string
*/

/*** Bytes of tiles one product reads.
@function tile_matvec:bytes
@treturn int
*/

/*** The loops computing the products.
@function tile_matvec:loops
@treturn string "fused" or "blas"
*/

/*** Unmaps the tiles now (also __gc and __close).
@function tile_matvec:release
*/
