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
#include <string.h>

#include "lntk.h"
#include "ntk_analytic.h"

static const char *const param_names[] = {"standard", "ntk", NULL};

/* The architecture read from argument 1, in caller-owned arrays. */
typedef struct spec_arrays {
  size_t widths[NTK_MLP_MAX_DEPTH + 1];
  ntk_activation act[NTK_MLP_MAX_DEPTH];
  double sigma[NTK_MLP_MAX_DEPTH];
} spec_arrays;

static int specerror(lua_State *L, const char *key, const char *msg) {
  return luaL_argerror(L, 1, lua_pushfstring(L, "field '%s': %s", key, msg));
}

static void read_activation(lua_State *L, int idx, ntk_activation *out) {
  if (lua_type(L, idx) != LUA_TSTRING)
    specerror(L, "activation",
              lua_pushfstring(L, "activation name expected, got %s", luaL_typename(L, idx)));
  if (!ntk_activation_from_name(lua_tostring(L, idx), out))
    specerror(L, "activation",
              lua_pushfstring(L, "unknown activation '%s'", lua_tostring(L, idx)));
}

static void read_table_spec(lua_State *L, ntk_mlp_config *cfg, spec_arrays *a) {
  static const char *const allowed[] = {"widths",     "activation", "bias", "param", "sigma",
                                        "bias_sigma", "init",       "seed", "rng",   NULL};
  lua_Integer n, i;
  int depth, p;
  lntk_checkoptions(L, 1, allowed);
  if (lua_getfield(L, 1, "widths") != LUA_TTABLE)
    specerror(L, "widths",
              lua_pushfstring(L, "table {D, n1, ..., C} expected, got %s", luaL_typename(L, -1)));
  n = (lua_Integer)lua_rawlen(L, -1);
  if (n < 2 || n > NTK_MLP_MAX_DEPTH + 1)
    specerror(L, "widths",
              lua_pushfstring(L, "2 to %d entries expected, got %I", NTK_MLP_MAX_DEPTH + 1, n));
  depth = (int)n - 1;
  for (i = 1; i <= n; i++) {
    int isnum;
    lua_Integer w;
    lua_rawgeti(L, -1, i);
    w = lua_tointegerx(L, -1, &isnum);
    if (!isnum || w < 1 || w > ((lua_Integer)1 << 40))
      specerror(L, "widths", lua_pushfstring(L, "entry %I: positive integer expected", i));
    a->widths[i - 1] = (size_t)w;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  for (i = 0; i < depth; i++) a->act[i] = NTK_ACT_RELU;
  switch (lua_getfield(L, 1, "activation")) {
    case LUA_TNIL:
      break;
    case LUA_TSTRING:
      read_activation(L, -1, &a->act[0]);
      for (i = 1; i < depth; i++) a->act[i] = a->act[0];
      break;
    case LUA_TTABLE:
      if ((lua_Integer)lua_rawlen(L, -1) != depth - 1)
        specerror(L, "activation",
                  lua_pushfstring(L, "%d names expected (one per hidden layer), got %I", depth - 1,
                                  (lua_Integer)lua_rawlen(L, -1)));
      for (i = 1; i < depth; i++) {
        lua_rawgeti(L, -1, i);
        read_activation(L, -1, &a->act[i - 1]);
        lua_pop(L, 1);
      }
      break;
    default:
      specerror(L, "activation",
                lua_pushfstring(L, "name or table expected, got %s", luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  for (i = 0; i < depth; i++) a->sigma[i] = 1.0;
  switch (lua_getfield(L, 1, "sigma")) {
    case LUA_TNIL:
      break;
    case LUA_TNUMBER:
      for (i = 0; i < depth; i++) a->sigma[i] = lua_tonumber(L, -1);
      break;
    case LUA_TTABLE:
      if ((lua_Integer)lua_rawlen(L, -1) != depth)
        specerror(L, "sigma",
                  lua_pushfstring(L, "%d numbers expected (one per layer), got %I", depth,
                                  (lua_Integer)lua_rawlen(L, -1)));
      for (i = 1; i <= depth; i++) {
        if (lua_rawgeti(L, -1, i) != LUA_TNUMBER)
          specerror(L, "sigma", lua_pushfstring(L, "entry %I: number expected", i));
        a->sigma[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      break;
    default:
      specerror(L, "sigma", lua_pushfstring(L, "number or table expected, got %s", luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "bias");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    specerror(L, "bias", lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, -1)));
  cfg->bias = lua_toboolean(L, -1);
  lua_pop(L, 1);
  cfg->param = NTK_PARAM_STANDARD;
  if (lua_getfield(L, 1, "param") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      specerror(L, "param", lua_pushfstring(L, "string expected, got %s", luaL_typename(L, -1)));
    for (p = 0; param_names[p] && strcmp(param_names[p], lua_tostring(L, -1)) != 0; p++) {
    }
    if (!param_names[p])
      specerror(L, "param",
                lua_pushfstring(L, "'standard' or 'ntk' expected, got '%s'", lua_tostring(L, -1)));
    cfg->param = (ntk_param)p;
  }
  lua_pop(L, 1);
  {
    int isnum = 1;
    cfg->bias_sigma = 0.0;
    if (lua_getfield(L, 1, "bias_sigma") != LUA_TNIL) cfg->bias_sigma = lua_tonumberx(L, -1, &isnum);
    if (!isnum)
      lntk_opterror(L, 1, "bias_sigma",
                    lua_pushfstring(L, "number expected, got %s", luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  cfg->depth = depth;
  cfg->widths = a->widths;
  cfg->act = a->act;
  cfg->sigma = a->sigma;
  cfg->init = NTK_INIT_GAUSSIAN;
}

static void read_spec(lua_State *L, ntk_mlp_config *cfg, spec_arrays *a) {
  if (luaL_testudata(L, 1, LNTK_MLP_MT)) {
    ntk_mlp_config_of(cfg, lntk_checkmlp(L, 1));
    return;
  }
  if (!lua_istable(L, 1))
    luaL_argerror(L, 1, lua_pushfstring(L, "mlp or architecture table expected, got %s",
                                        luaL_typename(L, 1)));
  read_table_spec(L, cfg, a);
}

static int analytic(lua_State *L, int want_ntk) {
  ntk_mlp_config cfg;
  spec_arrays a;
  const ntk_tensor *X1, *X2;
  ntk_tensor *out;
  ntk_error err;
  read_spec(L, &cfg, &a);
  X1 = lntk_checktensor(L, 2);
  X2 = lntk_opttensor(L, 3);
  out = lntk_pushtensor(L);
  if (ntk_analytic_kernels(want_ntk ? out : NULL, want_ntk ? NULL : out, &cfg, X1, X2, &err) !=
      NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, 0, 1, 2, 3)); /* core (ntk, nngp, cfg, X1, X2) */
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
