/* lntk_finish.c: a request to finish a long run early, with what it has so far:
 *   ntklab.finish_requested() -> boolean   whether a request is pending
 *   ntklab.request_finish([false])         makes one (from Lua: a progress callback, a test),
 *                                          or with false withdraws it
 * ntklab.recorder's run ends at its next record when a request is pending, as at its stop_loss,
 * consumes it and says so (rec.finished_on_request); the experiment then analyses what was
 * recorded. C hosts raise a request from a signal handler with lntk_request_finish(), which
 * only stores to a sig_atomic_t (async-signal-safe); the ntklab host does on SIGUSR1. */
#include <signal.h>

#include "lntk.h"

static volatile sig_atomic_t finish_request = 0;

void lntk_request_finish(void) { finish_request = 1; }

static int l_finish_requested(lua_State *L) {
  luaL_argcheck(L, lua_isnone(L, 1), 1, "no arguments expected");
  lua_pushboolean(L, finish_request != 0);
  return 1;
}

static int l_request_finish(lua_State *L) {
  int on = 1;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    on = lua_toboolean(L, 1);
  }
  finish_request = on;
  return 0;
}

void lntk_open_finish(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"finish_requested", l_finish_requested}, {"request_finish", l_request_finish}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Finishing a long run early.
@submodule ntklab
*/

/*** Whether a request to finish early is pending (ntklab.request_finish, or SIGUSR1 to the
ntklab host). ntklab.recorder's run ends at its next record when one is, and consumes it.
@function finish_requested
@treturn boolean
*/

/*** Requests that the running training finish at its next record, with what it has so far
(the ntklab host does this on SIGUSR1: `kill -USR1 <pid>`); false withdraws a request.
@function request_finish
@tparam[opt=true] boolean on
*/
