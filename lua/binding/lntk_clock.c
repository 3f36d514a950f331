/* lntk_clock.c: ntklab.clock(), monotonic wall-clock seconds for timing Lua code. */
#include "lntk.h"

/* clock() -> seconds (monotonic; only differences are meaningful) */
static int clock_now(lua_State *L) {
  lua_pushnumber(L, ntk_clock_seconds());
  return 1;
}

void lntk_open_clock(lua_State *L) {
  lua_pushcfunction(L, clock_now);
  lua_setfield(L, -2, "clock");
}
