/* lntk_rng.c: the rng userdata, ntklab.rng(seed). */
#include <stdlib.h>
#include <string.h>

#include "lntk.h"


ntk_rng *lntk_checkrng(lua_State *L, int idx) { return luaL_checkudata(L, idx, LNTK_RNG_MT); }

static int rng_new(lua_State *L) {
  lua_Integer seed = luaL_checkinteger(L, 1);
  ntk_rng *r = lntk_newobject(L, sizeof *r, LNTK_RNG_MT);
  ntk_rng_seed(r, (uint64_t)seed);
  return 1;
}

static int rng_seed(lua_State *L) {
  ntk_rng *r = lntk_checkrng(L, 1);
  ntk_rng_seed(r, (uint64_t)luaL_checkinteger(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int rng_clone(lua_State *L) {
  ntk_rng *r = lntk_checkrng(L, 1);
  ntk_rng *c = lntk_newobject(L, sizeof *c, LNTK_RNG_MT);
  *c = *r;
  return 1;
}

/* Shared by uniform and normal: (a, b) -> number, (a, b, rows) or (a, b, rows, cols) -> tensor.
 * The shape arguments come first at the Lua level: rng:uniform([rows [, cols]]). */
static ntk_tensor *shaped_result(lua_State *L, int arg) {
  lua_Integer r = luaL_checkinteger(L, arg);
  luaL_argcheck(L, r >= 0, arg, "non-negative size expected");
  if (lua_isnoneornil(L, arg + 1)) return lntk_newtensor(L, 1, (size_t)r, 1);
  {
    lua_Integer c = luaL_checkinteger(L, arg + 1);
    luaL_argcheck(L, c >= 0, arg + 1, "non-negative size expected");
    return lntk_newtensor(L, 2, (size_t)r, (size_t)c);
  }
}

/* rng:uniform(nil, c) would silently draw one number instead of a [? x c] tensor. */
static void check_no_cols(lua_State *L) {
  if (!lua_isnoneornil(L, 3)) luaL_checkinteger(L, 2);
}

/* The two distributions a draw can come from: one number, or a tensor filled from it. */
typedef struct distribution {
  double (*draw)(ntk_rng *rng);
  void (*fill)(ntk_rng *rng, ntk_tensor *t, double a, double b);
} distribution;

static int draw_from(lua_State *L, const distribution *d) {
  ntk_rng *r = lntk_checkrng(L, 1);
  if (lua_isnoneornil(L, 2)) {
    check_no_cols(L);
    lua_pushnumber(L, d->draw(r));
  } else {
    d->fill(r, shaped_result(L, 2), 0.0, 1.0);
  }
  return 1;
}

/* rng:uniform() -> U[0,1); rng:uniform(n) / rng:uniform(rows, cols) -> tensor of U[0,1) */
static int rng_uniform(lua_State *L) {
  static const distribution uniform = {ntk_rng_uniform, ntk_rng_fill_uniform};
  return draw_from(L, &uniform);
}

/* rng:normal() -> N(0,1); rng:normal(n) / rng:normal(rows, cols) -> tensor of N(0,1) */
static int rng_normal(lua_State *L) {
  static const distribution normal = {ntk_rng_normal, ntk_rng_fill_normal};
  return draw_from(L, &normal);
}

/* rng:integer(n) -> uniform integer in [1, n] */
static int rng_integer(lua_State *L) {
  ntk_rng *r = lntk_checkrng(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1, 2, lua_pushfstring(L, "positive bound expected, got %I", n));
  lua_pushinteger(L, (lua_Integer)ntk_rng_below(r, (uint64_t)n) + 1);
  return 1;
}

/* rng:permutation(n) -> Lua table holding a random permutation of 1..n */
static int rng_permutation(lua_State *L) {
  ntk_rng *r = lntk_checkrng(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  size_t *perm, i;
  luaL_argcheck(L, n >= 0 && n <= (1 << 28), 2,
                lua_pushfstring(L, "size in [0, 2^28] expected, got %I", n));
  lua_createtable(L, (int)n, 0);
  perm = lua_newuserdatauv(L, (size_t)n * sizeof *perm + 1, 0); /* collected with the stack */
  ntk_rng_permutation(r, perm, (size_t)n);
  for (i = 0; i < (size_t)n; i++) {
    lua_pushinteger(L, (lua_Integer)perm[i] + 1);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
  }
  lua_pop(L, 1);
  return 1;
}

static int rng_tostring(lua_State *L) {
  lntk_checkrng(L, 1);
  lua_pushfstring(L, "ntklab.rng (xoshiro256**) %p", lua_topointer(L, 1));
  return 1;
}

void lntk_open_rng(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"seed", rng_seed},         {"clone", rng_clone},     {"uniform", rng_uniform},
      {"normal", rng_normal},     {"integer", rng_integer}, {"permutation", rng_permutation},
      {NULL, NULL},
  };
  static const luaL_Reg meta[] = {{"__tostring", rng_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"rng", rng_new}, {NULL, NULL}};
  static const lntk_class rng = {LNTK_RNG_MT, NULL, meta, methods, NULL, funcs};
  lntk_newclass(L, &rng);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Random numbers.
@submodule ntklab
*/

/*** A seeded generator (xoshiro256**): same seed, same numbers, on every machine.
@function rng
@int seed
@treturn rng
*/

/*** An explicit, seeded random number generator.
@type rng
*/

/*** Reseeds the generator.
@function rng:seed
@int seed
@treturn rng itself
*/

/*** An independent copy in the same state.
@function rng:clone
@treturn rng
*/

/*** Uniform draws in [0, 1): one number, or a tensor [n] or [rows x cols].
@function rng:uniform
@int[opt] rows
@int[opt] cols
@treturn number|tensor
*/

/*** Standard normal draws N(0, 1): one number, or a tensor [n] or [rows x cols].
@function rng:normal
@int[opt] rows
@int[opt] cols
@treturn number|tensor
*/

/*** A uniform integer in [1, n].
@function rng:integer
@int n n >= 1
@treturn int
*/

/*** A random permutation of 1..n (n <= 2^28), as a Lua table.
@function rng:permutation
@int n
@treturn table
*/
