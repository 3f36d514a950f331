/* lntk_clock.c: ntklab.clock() -> seconds of a monotonic wall clock (CLOCK_MONOTONIC), for
 * benchmarks: os.clock() counts CPU time of all threads, which overstates multi-threaded BLAS
 * work by the thread count. */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "lntk.h"

static int l_clock(lua_State *L) {
  struct timespec ts;
  luaL_argcheck(L, lua_isnone(L, 1), 1, "no arguments expected");
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + 1e-9 * (lua_Number)ts.tv_nsec);
  return 1;
}

void lntk_open_clock(lua_State *L) {
  lua_pushcfunction(L, l_clock);
  lua_setfield(L, -2, "clock");
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Clock.
@submodule ntklab
*/

/*** Seconds of a monotonic wall clock (CLOCK_MONOTONIC), for timing: os.clock() counts the CPU
time of all threads, which overstates multi-threaded BLAS work by the thread count.
@function clock
@treturn number seconds since an arbitrary origin
*/
