/* embed_host.c: ntklab as another C host would use it. First the C API alone (tensors, views,
 * the RNG, an error record for a bad argument), then a Lua state of our own that gets the
 * engine through package.preload, finds the Lua modules through package.path (the source
 * tree's lua/ directory, argv[1]) and runs chunks through `require "ntklab"`; their results
 * are checked against the C side. Built against the static core, the binding library and
 * liblua5.4; run by ctest as c/embed_host. */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lntk.h"
#include "ntk_test.h"

static void test_c_api(void) {
  ntk_tensor a = {0}, row = {0}, t = {0};
  ntk_rng r1, r2;
  ntk_error err;
  size_t bad_shape[2] = {2, 2};
  size_t i, j;
  CHECK(ntk_tensor_init_2d(&a, 2, 3, &err) == NTK_OK);
  for (i = 0; i < 2; i++)
    for (j = 0; j < 3; j++) *ntk_tensor_ptr(&a, i, j) = (double)(i * 3 + j + 1);
  CHECK(ntk_tensor_select(&row, &a, 0, 1, &err) == NTK_OK);
  CHECK(row.ndim == 1 && row.shape[0] == 3 && ntk_tensor_at(&row, 2, 0) == 6.0);
  CHECK(ntk_tensor_transpose(&t, &a, &err) == NTK_OK);
  CHECK(t.shape[0] == 3 && t.shape[1] == 2 && ntk_tensor_at(&t, 2, 1) == 6.0);
  ntk_tensor_release(&a);
  CHECK(ntk_tensor_at(&t, 0, 1) == 4.0); /* the view keeps the storage alive */

  /* a bad argument fills the record: negative status, position, message */
  ntk_tensor_release(&row);
  CHECK(ntk_tensor_select(&row, &t, 1, 5, &err) == NTK_ERANGE);
  CHECK(err.status == NTK_ERANGE && err.arg == 3 && strlen(err.msg) > 0);
  CHECK(row.storage == NULL); /* nothing was allocated for the failed view */
  CHECK(ntk_tensor_init(&row, 3, bad_shape, &err) == NTK_EARG && err.arg == 2);
  CHECK(strcmp(ntk_status_name(NTK_EARG), "NTK_EARG") == 0);
  ntk_tensor_release(&t);

  ntk_rng_seed(&r1, 2024);
  ntk_rng_seed(&r2, 2024);
  for (i = 0; i < 100; i++) CHECK(ntk_rng_u64(&r1) == ntk_rng_u64(&r2));
}

/* Runs chunk (which returns one value) in L; leaves the value on the stack. */
static int run_chunk(lua_State *L, const char *chunk) {
  if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "chunk failed: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static void test_embedded_lua(const char *luadir) {
  lua_State *L = luaL_newstate();
  ntk_tensor x = {0};
  ntk_rng rng;
  ntk_error err;
  CHECK(L != NULL);
  if (!L) return;
  luaL_openlibs(L);
  /* the engine through package.preload, the Lua modules through package.path */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ntklab_core);
  lua_setfield(L, -2, "ntklab.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", luadir, luadir);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);

  /* the same seed gives the same numbers in C and in Lua */
  CHECK(ntk_tensor_init_2d(&x, 3, 4, &err) == NTK_OK);
  ntk_rng_seed(&rng, 7);
  ntk_rng_fill_normal(&rng, &x, 0.0, 1.0);
  if (run_chunk(L, "local ntklab = require 'ntklab'\n"
                   "return ntklab.rng(7):normal(3, 4):get(3, 2)")) {
    CHECK(lua_isnumber(L, -1));
    CHECK(lua_tonumber(L, -1) == ntk_tensor_at(&x, 2, 1));
    lua_pop(L, 1);
  }
  ntk_tensor_release(&x);

  /* the module came from luadir, and tensors work as in the host */
  if (run_chunk(L, "return package.searchpath('ntklab', package.path)")) {
    const char *path = lua_tostring(L, -1);
    CHECK(path != NULL && strncmp(path, luadir, strlen(luadir)) == 0);
    lua_pop(L, 1);
  }
  if (run_chunk(L, "local ntklab = require 'ntklab'\n"
                   "local m = ntklab.tensor{{1, 2, 3}, {4, 5, 6}}\n"
                   "return m:t():select(1, 3):get(2) + #m")) {
    CHECK(lua_tonumber(L, -1) == 8.0);
    lua_pop(L, 1);
  }

  /* misuse raises a Lua error naming the function and the argument; the host survives */
  if (run_chunk(L, "local ntklab = require 'ntklab'\n"
                   "local ok, msg = pcall(function() return ntklab.zeros(-1) end)\n"
                   "return ok and 'no error' or msg")) {
    const char *msg = lua_tostring(L, -1);
    CHECK(msg != NULL && strstr(msg, "bad argument #1 to 'zeros'") != NULL);
    lua_pop(L, 1);
  }
  /* an uncaught error comes back to C as a status, with the message on the stack */
  CHECK(luaL_loadstring(L, "require('ntklab').tensor{{1, 2}, {3}}") == LUA_OK);
  CHECK(lua_pcall(L, 0, 0, 0) == LUA_ERRRUN);
  CHECK(strstr(lua_tostring(L, -1), "row 2 has 1 elements") != NULL);
  lua_close(L);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LUA_MODULE_DIR\n", argv[0]);
    return EXIT_FAILURE;
  }
  test_c_api();
  test_embedded_lua(argv[1]);
  TEST_MAIN_END();
}
