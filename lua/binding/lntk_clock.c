/* lntk_clock.c: ntklab.clock(), monotonic wall-clock seconds for timing Lua code. */
#include "lntk.h"

/* clock() -> seconds (monotonic; only differences are meaningful) */
static int clock_now(lua_State *L) {
  /* an argument means the caller confused this with os.clock or a timer object */
  if (lua_gettop(L) > 0)
    return luaL_argerror(L, 1, lua_pushfstring(L, "no value expected, got %s", luaL_typename(L, 1)));
  lua_pushnumber(L, ntk_clock_seconds());
  return 1;
}

void lntk_open_clock(lua_State *L) {
  lua_pushcfunction(L, clock_now);
  lua_setfield(L, -2, "clock");
}
