/* lntk_model_kernel.c: the empirical NTK of any model (core/kernel/ntk_model_kernel.h).
 *   K [, layers] = ntklab.model_ntk(m, X [, X2] [, opts])
 *       the NTK of model m, layouts and options as ntklab.ntk's: output = "full" | "blocks" |
 *       "trace" | "mean"; layers = true also returns one kernel per parameter group (weight
 *       layer, see m:groups()), summing to K; eta = [nparams] tensor (Adam's kernel, Eq. 91);
 *       tile = T: Jacobian tiles of T samples (memory 2 T C nparams doubles plus the model's
 *       caches for T samples; 0 or absent: all samples at once); generic = true: the tiled
 *       path even for a model with its own fast one (ntklab.model_from_mlp), for comparisons.
 *   K = ntklab.model_ntk_reference(m, X [, X2] [, {output =, eta =, layer = g}]): the explicit
 *       J diag(eta) J^T twin (one sample at a time, plain loops), restricted to group g. */
#include <math.h>
#include <string.h>

#include "lntk_model.h"

static const char *const output_names[] = {"full", "blocks", "trace", "mean", NULL};

typedef struct margs {
  ntk_model *m;
  ntk_tensor *X1, *X2;
  int opt; /* stack index of the option table, 0 if none */
} margs;

static void check_inputs(lua_State *L, const ntk_model *m, int idx) {
  ntk_tensor *t = lntk_checktensor(L, idx);
  if (!((t->ndim == 2 && t->shape[1] == m->input_dim) || (t->ndim == 1 && m->input_dim == 1)) ||
      t->shape[0] == 0) {
    char expected[64];
    snprintf(expected, sizeof expected, "[P x %zu] inputs", m->input_dim);
    lntk_shapeerror(L, idx, expected, t);
  }
}

/* m, X [, X2] [, opts] */
static void check_args(lua_State *L, margs *a) {
  a->m = lntk_checkmodel(L, 1);
  a->X2 = NULL;
  a->opt = 0;
  if (lua_gettop(L) > 4) luaL_argerror(L, 5, "no value expected (model, X [, X2] [, options])");
  lua_settop(L, 4);
  check_inputs(L, a->m, 2);
  a->X1 = lntk_checktensor(L, 2);
  if (lntk_istensor(L, 3)) {
    check_inputs(L, a->m, 3);
    a->X2 = lntk_checktensor(L, 3);
    if (!lua_isnil(L, 4)) {
      luaL_checktype(L, 4, LUA_TTABLE);
      a->opt = 4;
    }
  } else if (!lua_isnil(L, 3)) {
    if (!lua_istable(L, 3))
      luaL_argerror(L, 3, lua_pushfstring(L, "tensor X2 or option table expected, got %s",
                                          luaL_typename(L, 3)));
    if (!lua_isnil(L, 4)) luaL_argerror(L, 4, "no value expected after the option table");
    a->opt = 3;
  }
}

static ntk_kernel_output opt_output(lua_State *L, int opt) {
  const char *s;
  int i;
  if (!opt || lua_getfield(L, opt, "output") == LUA_TNIL) {
    if (opt) lua_pop(L, 1);
    return NTK_KERNEL_FULL;
  }
  s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  for (i = 0; output_names[i]; i++)
    if (strcmp(s, output_names[i]) == 0) {
      lua_pop(L, 1);
      return (ntk_kernel_output)i;
    }
  luaL_argerror(L, opt, lua_pushfstring(L, "option 'output': \"full\", \"blocks\", \"trace\" or "
                                           "\"mean\" expected, got %s",
                                        lua_type(L, -1) == LUA_TSTRING ? s : luaL_typename(L, -1)));
  return NTK_KERNEL_FULL;
}

/* opts.eta: [nparams] finite values >= 0; contiguous data kept alive on the stack. */
static const double *opt_eta(lua_State *L, int opt, const ntk_model *m) {
  ntk_tensor *t, *c;
  ntk_error err;
  const double *d;
  size_t i;
  if (!opt || lua_getfield(L, opt, "eta") == LUA_TNIL) {
    if (opt) lua_pop(L, 1);
    return NULL;
  }
  if (!lntk_istensor(L, -1))
    luaL_argerror(L, opt, lua_pushfstring(L, "option 'eta': tensor expected, got %s",
                                          luaL_typename(L, -1)));
  t = lntk_checktensor(L, -1);
  if (t->ndim != 1 || t->shape[0] != m->nparams) {
    char buf[64];
    ntk_tensor_shape_str(t, buf, sizeof buf);
    luaL_argerror(L, opt, lua_pushfstring(L, "option 'eta': [%I] (one step per parameter) "
                                             "expected, got %s", (lua_Integer)m->nparams, buf));
  }
  if (ntk_tensor_is_contiguous(t)) {
    d = ntk_tensor_data(t);
  } else {
    c = lntk_pushtensor(L);
    if (ntk_tensor_init_copy(c, t, &err) != NTK_OK) luaL_error(L, "%s", err.msg);
    d = ntk_tensor_data(c);
  }
  for (i = 0; i < m->nparams; i++)
    if (!(d[i] >= 0.0) || !isfinite(d[i]))
      luaL_argerror(L, opt, lua_pushfstring(L, "option 'eta': entry %I is %f, finite value >= 0 "
                                               "expected", (lua_Integer)i + 1, d[i]));
  return d;
}

static size_t opt_size(lua_State *L, int opt, const char *key) {
  lua_Integer v = opt ? lntk_optfield_integer(L, opt, key, 0) : 0;
  if (v < 0)
    luaL_argerror(L, opt, lua_pushfstring(L, "option '%s': integer >= 0 expected, got %I", key, v));
  return (size_t)v;
}

static int l_model_ntk(lua_State *L) {
  static const char *const allowed[] = {"output", "layers", "eta", "tile", "generic", NULL};
  margs a;
  ntk_model_kernel_opts o;
  ntk_tensor *K, *layers = NULL;
  ntk_error err;
  size_t rows, cols, P1, P2;
  int want_layers = 0, g, st;
  check_args(L, &a);
  memset(&o, 0, sizeof o);
  if (a.opt) {
    lntk_checkoptions(L, a.opt, allowed);
    o.output = opt_output(L, a.opt);
    o.eta = opt_eta(L, a.opt, a.m);
    o.tile = opt_size(L, a.opt, "tile");
    lua_getfield(L, a.opt, "layers");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
      luaL_argerror(L, a.opt, lua_pushfstring(L, "option 'layers': boolean expected, got %s",
                                              luaL_typename(L, -1)));
    want_layers = lua_toboolean(L, -1);
    lua_getfield(L, a.opt, "generic");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
      luaL_argerror(L, a.opt, lua_pushfstring(L, "option 'generic': boolean expected, got %s",
                                              luaL_typename(L, -1)));
    o.generic = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  P1 = a.X1->shape[0];
  P2 = a.X2 ? a.X2->shape[0] : P1;
  ntk_kernel_shape(&rows, &cols, o.output, a.m->output_dim, P1, P2);
  K = lntk_newtensor(L, 2, rows, cols);
  if (want_layers) {
    /* the group kernels live in userdata on the stack; their tensors are copied into a table */
    layers = lua_newuserdatauv(L, (size_t)a.m->ngroups * sizeof *layers, 0);
    memset(layers, 0, (size_t)a.m->ngroups * sizeof *layers);
    lua_createtable(L, a.m->ngroups, 0);
    for (g = 0; g < a.m->ngroups; g++) {
      ntk_tensor *t = lntk_newtensor(L, 2, rows, cols);
      ntk_tensor_view(&layers[g], t);
      lua_rawseti(L, -2, g + 1);
    }
  }
  st = ntk_model_kernel_ntk(K, layers, a.m, a.X1, a.X2, &o, &err);
  if (layers)
    for (g = 0; g < a.m->ngroups; g++) ntk_tensor_release(&layers[g]);
  if (st != NTK_OK) {
    /* core positions (K, layers, model, X1, X2, opts) to Lua's (model, X1, X2, opts) */
    int arg = err.arg == 3 ? 1 : err.arg == 4 ? 2 : err.arg == 5 ? 3 : err.arg == 6 ? a.opt : 0;
    return lntk_fail(L, &err, arg);
  }
  if (want_layers) {
    lua_pushvalue(L, -3); /* K */
    lua_pushvalue(L, -2); /* the table */
    return 2;
  }
  return 1;
}

static int l_model_ntk_reference(lua_State *L) {
  static const char *const allowed[] = {"output", "eta", "layer", NULL};
  margs a;
  ntk_tensor *K;
  ntk_error err;
  ntk_kernel_output out = NTK_KERNEL_FULL;
  const double *eta = NULL;
  size_t rows, cols;
  lua_Integer layer = 0;
  check_args(L, &a);
  if (a.opt) {
    lntk_checkoptions(L, a.opt, allowed);
    out = opt_output(L, a.opt);
    eta = opt_eta(L, a.opt, a.m);
    layer = lntk_optfield_integer(L, a.opt, "layer", 0);
    if (layer < 0 || layer > a.m->ngroups)
      luaL_argerror(L, a.opt, lua_pushfstring(L, "option 'layer': group in [0, %d] expected, "
                                                 "got %I", a.m->ngroups, layer));
  }
  ntk_kernel_shape(&rows, &cols, out, a.m->output_dim, a.X1->shape[0],
                   a.X2 ? a.X2->shape[0] : a.X1->shape[0]);
  K = lntk_newtensor(L, 2, rows, cols);
  if (ntk_model_kernel_ntk_ref(K, a.m, a.X1, a.X2, out, eta, (int)layer, &err) != NTK_OK)
    return lntk_fail(L, &err, err.arg == 3 ? 2 : err.arg == 4 ? 3 : 0);
  return 1;
}

void lntk_open_model_kernel(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"model_ntk", l_model_ntk},
      {"model_ntk_reference", l_model_ntk_reference},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** The empirical NTK of any model.
@submodule ntklab
*/

/*** The NTK of model m from per-sample gradients in tiles, their Gram by syrk/gemm.
@function model_ntk
@tparam model m
@tparam tensor X [P1 x input size]
@tparam[opt] tensor X2 [P2 x input size]
@tparam[opt] table opts
@tparam[opt="full"] string opts.output "full", "blocks", "trace" or "mean", as for ntklab.ntk
@tparam[opt=false] bool opts.layers also return one kernel per parameter group (m:groups()), summing to K
@tparam[opt] tensor opts.eta [nparams] per-parameter steps (Adam's kernel, Eq. 91)
@tparam[opt=0] int opts.tile Jacobian tiles of tile samples (memory 2 tile C nparams doubles plus
the model's caches); 0: all samples at once
@tparam[opt=false] bool opts.generic the tiled path even for a model with a fast one (model_from_mlp)
@treturn tensor K
@treturn[opt] table the per-group kernels
*/

/*** The explicit J diag(eta) J^T twin of model_ntk (one sample at a time, plain loops).
@function model_ntk_reference
@tparam model m
@tparam tensor X
@tparam[opt] tensor X2
@tparam[opt] table opts {output =, eta =, layer = g}: layout, steps, restriction to group g
@treturn tensor K
*/
