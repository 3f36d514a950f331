/* lntk_thin.c: thin products A V reading A once (ntk_thin.h):
 *   ntklab.thin_available() -> boolean           whether this CPU runs them (AVX-512)
 *   ntklab.thin_matmul(A, V [, out]) -> out      A [n x p] times V [p x k], k a few columns,
 *                                                in float64 on ntklab.threads() threads; an
 *                                                error where thin_available() is false */
#include "lntk.h"
#include "ntk_thin.h"

static int thin_available(lua_State *L) {
  luaL_argcheck(L, lua_isnone(L, 1), 1, "no arguments expected");
  lua_pushboolean(L, ntk_thin_available());
  return 1;
}

/* thin_matmul(A, V [, out]); core (out, A, V) */
static int thin_matmul(lua_State *L) {
  ntk_tensor *A = lntk_checktensor(L, 1);
  ntk_tensor *V = lntk_checktensor(L, 2);
  ntk_tensor *out = lntk_opttensor(L, 3);
  ntk_error err;
  int fresh = out == NULL;
  if (A->ndim != 2) return lntk_shapeerror(L, 1, "2-D tensor", A);
  if (V->ndim != 2 || V->shape[0] != A->shape[1]) return lntk_shapeerror(L, 2, "[cols of A x k] tensor", V);
  if (fresh) {
    lua_settop(L, 2);
    out = lntk_newtensor(L, 2, A->shape[0], V->shape[1]);
  } else {
    lua_settop(L, 3);
  }
  if (ntk_thin_matmul(out, A, V, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(fresh ? 0 : 3, 1, 2));
  if (fresh) lntk_gcstep(L, ntk_tensor_numel(out) * sizeof(double));
  return 1;
}

void lntk_open_thin(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"thin_available", thin_available}, {"thin_matmul", thin_matmul}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Thin products.
@submodule ntklab
*/

/*** Whether this CPU runs ntklab.thin_matmul (AVX-512F).
@function thin_available
@treturn boolean
*/

/*** A V for V with a few columns (a block of vectors), reading A once where it lies: each entry
multiplied into float64 accumulators (4 rows x 6 columns of V per block) on ntklab.threads()
threads. dgemm with ~10 columns is bound by memory and copies (packs) A first; this reads it
once. The sums agree with ntklab.matmul's to summation order; a row's bits do not depend on the
thread count. An error where ntklab.thin_available() is false.
@function thin_matmul
@tparam tensor A [n x p]
@tparam tensor V [p x k]
@tparam[opt] tensor out [n x k], with contiguous rows, reused
@treturn tensor out
*/
