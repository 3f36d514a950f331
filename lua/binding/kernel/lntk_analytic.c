/* lntk_analytic.c: infinite-width kernels of dense networks (ntk_analytic.h).
 *   ntklab.analytic_ntk(spec, X [, X2])  -> P1 x P2 tensor, the NTK of one output
 *   ntklab.analytic_nngp(spec, X [, X2]) -> P1 x P2 tensor, the output's NNGP kernel
 * spec: an mlp (its architecture and parameterization are used, not its weights), or the table
 * ntklab.mlp takes: {widths = {D, n1, ..., C}, activation = "relu" | {per hidden layer},
 * bias = false, param = "standard" | "ntk", sigma = 1 | {per layer}, bias_sigma = 0}, with the
 * same defaults (init, seed and rng are accepted and ignored, so one table serves both).
 * In the standard parameterization the NTK is the leading-order expectation at the given
 * hidden widths (it grows with them); in the ntk one, and for the NNGP kernel, widths other
 * than D do not matter. */
#include "lntk.h"
#include "ntk_analytic.h"

/* Lua positions: ntklab.analytic_ntk(spec, X [, X2]) */
enum { ARG_SPEC = 1, ARG_X = 2, ARG_X2 = 3 };

/* The architecture of argument ARG_SPEC: a net's, or the table ntklab.mlp reads (lntk_mlp.c). */
static void read_spec(lua_State *L, lntk_architecture *a) {
  if (luaL_testudata(L, ARG_SPEC, LNTK_MLP_MT)) {
    ntk_mlp_config_of(&a->cfg, lntk_checkmlp(L, ARG_SPEC));
    return;
  }
  if (!lua_istable(L, ARG_SPEC))
    luaL_argerror(L, ARG_SPEC, lua_pushfstring(L, "mlp or architecture table expected, got %s",
                                               luaL_typename(L, ARG_SPEC)));
  /* widths up to 2^40: nothing of width size is allocated (the kernels are P1 x P2) */
  lntk_check_architecture(L, ARG_SPEC, a, 40);
}

static int analytic(lua_State *L, int want_ntk) {
  lntk_architecture a;
  const ntk_tensor *X1, *X2;
  ntk_tensor *out;
  ntk_error err;
  lua_settop(L, ARG_X2);
  read_spec(L, &a);
  X1 = lntk_checktensor(L, ARG_X);
  X2 = lntk_opttensor(L, ARG_X2);
  out = lntk_pushtensor(L);
  /* core (ntk, nngp, cfg, X1, X2) */
  if (ntk_analytic_kernels(want_ntk ? out : NULL, want_ntk ? NULL : out, &a.cfg, X1, X2, &err) !=
      NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, 0, ARG_SPEC, ARG_X, ARG_X2));
  lntk_gcstep(L, ntk_tensor_numel(out) * sizeof(double));
  return 1;
}

static int l_analytic_ntk(lua_State *L) { return analytic(L, 1); }
static int l_analytic_nngp(lua_State *L) { return analytic(L, 0); }

void lntk_open_analytic(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"analytic_ntk", l_analytic_ntk},
      {"analytic_nngp", l_analytic_nngp},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Infinite-width kernels of dense networks.
@submodule ntklab
*/

/*** The infinite-width NTK of one output (the "mean" layout): linear, ReLU (arc-cosine), erf and
quadratic in closed form; tanh, GELU and softplus by 100-node Gauss-Hermite quadrature. In the
standard parameterization it is the leading-order expectation at the given hidden widths.
@function analytic_ntk
@tparam mlp|table arch an mlp (its architecture, not its weights) or the table ntklab.mlp takes
(init, seed and rng are accepted and ignored)
@tparam tensor X [P1 x D]
@tparam[opt] tensor X2 [P2 x D]
@treturn tensor [P1 x P2]
*/

/*** The output's infinite-width NNGP kernel (arch and inputs as for analytic_ntk).
@function analytic_nngp
@tparam mlp|table arch
@tparam tensor X [P1 x D]
@tparam[opt] tensor X2 [P2 x D]
@treturn tensor [P1 x P2]
*/
