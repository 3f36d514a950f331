/* lntk_model_kernel.c: the empirical NTK of any model (core/kernel/ntk_model_kernel.h).
 *   K [, layers] = ntklab.model_ntk(m, X [, X2] [, opts])
 *       the NTK of model m, layouts and options as ntklab.ntk's: output = "full" | "blocks" |
 *       "trace" | "mean"; layers = true also returns one kernel per parameter group (weight
 *       layer, see m:groups()), summing to K; eta = [nparams] tensor (Adam's kernel, Eq. 91);
 *       tile = T: Jacobian tiles of T samples (memory 2 T C nparams doubles plus the model's
 *       caches for T samples; 0 or absent: all samples at once); generic = true: the tiled
 *       path even for a model with its own fast one (ntklab.model_from_mlp), for comparisons.
 *       out = K: write into the caller's contiguous tensor of the result's shape.
 *   ntklab.ntk(m, ...) is ntklab.model_ntk(m, ...) for a model (one name for any network).
 *   K = ntklab.model_ntk_reference(m, X [, X2] [, {output =, eta =, layer = g}]): the explicit
 *       J diag(eta) J^T twin (one sample at a time, plain loops), restricted to group g. */
#include <math.h>
#include <string.h>

#include "lntk_model.h"


/* Lua positions: ntklab.model_ntk(m, X [, X2] [, opts]) */
enum { ARG_MODEL = 1, ARG_X1 = 2, ARG_X2 = 3 };
/* core ntk_model_kernel_ntk(K, layers, m, X1, X2, opts) */
#define KERNEL_ARGS(opt) LNTK_ARGS(0, 0, ARG_MODEL, ARG_X1, ARG_X2, opt)
/* core ntk_model_kernel_ntk_ref(K, m, X1, X2, output, eta, group) */
#define REF_ARGS(opt) LNTK_ARGS(0, ARG_MODEL, ARG_X1, ARG_X2, opt, opt, opt)

typedef struct margs {
  ntk_model *m;
  lntk_kernel_call k;
} margs;

/* m, X [, X2] [, opts]: the second tensor is X2 when it is a tensor, opts the first table after
 * X. The core's input check runs here, before any result is allocated. */
static void check_args(lua_State *L, margs *a) {
  ntk_error err;
  a->m = lntk_checkmodel(L, ARG_MODEL);
  lntk_kernel_args(L, "model, X [, X2] [, options]", &a->k);
  if (ntk_model_check_inputs(a->m, a->k.X1, &a->k.P1, ARG_X1, &err) != NTK_OK ||
      (a->k.X2 && ntk_model_check_inputs(a->m, a->k.X2, &a->k.P2, ARG_X2, &err) != NTK_OK))
    lntk_result(L, &err, NULL); /* raises: Lua positions given to the core outright */
  if (!a->k.X2) a->k.P2 = a->k.P1;
}

enum { NTK_OUTPUT, NTK_LAYERS, NTK_ETA, NTK_TILE, NTK_GENERIC, NTK_OUT, NTK_NOPTS };
static const lntk_option ntk_options[] = {
    LNTK_OPT("output", LNTK_OPT_CHOICE, .choices = lntk_kernel_output_names),
    LNTK_OPT("layers", LNTK_OPT_BOOLEAN),
    LNTK_OPT("eta", LNTK_OPT_TENSOR),
    LNTK_OPT("tile", LNTK_OPT_INTEGER),
    LNTK_OPT("generic", LNTK_OPT_BOOLEAN),
    LNTK_OPT("out", LNTK_OPT_TENSOR),
    LNTK_OPT_END,
};

static int l_model_ntk(lua_State *L) {
  margs a;
  lntk_optval o[NTK_NOPTS];
  ntk_model_kernel_opts ko;
  ntk_tensor *K, *layers = NULL;
  ntk_error err;
  size_t rows, cols;
  int g, st, tbl = 0;
  check_args(L, &a);
  lntk_options(L, a.k.opt, ntk_options, o);
  memset(&ko, 0, sizeof ko);
  ko.output = (ntk_kernel_output)o[NTK_OUTPUT].choice;
  ko.eta = lntk_opt_eta(L, a.k.opt, &o[NTK_ETA], a.m->nparams);
  if (o[NTK_TILE].integer < 0)
    lntk_opterror(L, a.k.opt, "tile", lua_pushfstring(L, "integer >= 0 expected, got %I",
                                                      o[NTK_TILE].integer));
  ko.tile = (size_t)o[NTK_TILE].integer;
  ko.generic = o[NTK_GENERIC].boolean;
  ntk_kernel_shape(&rows, &cols, ko.output, a.m->output_dim, a.k.P1, a.k.P2);
  if (o[NTK_OUT].present) {
    /* the caller's buffer (a recorder's, reused at every record), as ntklab.ntk's out */
    K = o[NTK_OUT].tensor;
    if (K->ndim != 2 || K->shape[0] != rows || K->shape[1] != cols ||
        !ntk_tensor_is_contiguous(K)) {
      char buf[64];
      ntk_tensor_shape_str(K, buf, sizeof buf);
      lntk_opterror(L, a.k.opt, "out", lua_pushfstring(L, "contiguous [%I x %I] expected, got %s%s",
                                                       (lua_Integer)rows, (lua_Integer)cols, buf,
                                                       ntk_tensor_is_contiguous(K) ? "" : " view"));
    }
    lua_pushvalue(L, o[NTK_OUT].idx);
  } else {
    K = lntk_newtensor(L, 2, rows, cols);
  }
  if (o[NTK_LAYERS].boolean) {
    /* the group kernels: views in a userdata array for the core, tensors in a table for Lua */
    layers = lua_newuserdatauv(L, (size_t)a.m->ngroups * sizeof *layers, 0);
    memset(layers, 0, (size_t)a.m->ngroups * sizeof *layers);
    lua_createtable(L, a.m->ngroups, 0);
    tbl = lua_gettop(L);
    for (g = 0; g < a.m->ngroups; g++) {
      ntk_tensor *t = lntk_newtensor(L, 2, rows, cols);
      ntk_tensor_view(&layers[g], t);
      lua_rawseti(L, tbl, g + 1);
    }
  }
  st = ntk_model_kernel_ntk(K, layers, a.m, a.k.X1, a.k.X2, &ko, &err);
  if (layers)
    for (g = 0; g < a.m->ngroups; g++) ntk_tensor_release(&layers[g]);
  if (st != NTK_OK) return lntk_result(L, &err, KERNEL_ARGS(a.k.opt));
  if (!tbl) return 1;
  lua_pushvalue(L, tbl - 2); /* K */
  lua_pushvalue(L, tbl);
  return 2;
}

enum { REF_OUTPUT, REF_ETA, REF_LAYER, REF_NOPTS };
static const lntk_option ref_options[] = {
    LNTK_OPT("output", LNTK_OPT_CHOICE, .choices = lntk_kernel_output_names),
    LNTK_OPT("eta", LNTK_OPT_TENSOR),
    LNTK_OPT("layer", LNTK_OPT_INTEGER),
    LNTK_OPT_END,
};

static int l_model_ntk_reference(lua_State *L) {
  margs a;
  lntk_optval o[REF_NOPTS];
  ntk_kernel_output out;
  ntk_tensor *K;
  ntk_error err;
  size_t rows, cols;
  check_args(L, &a);
  lntk_options(L, a.k.opt, ref_options, o);
  out = (ntk_kernel_output)o[REF_OUTPUT].choice;
  if (o[REF_LAYER].integer < 0 || o[REF_LAYER].integer > a.m->ngroups)
    lntk_opterror(L, a.k.opt, "layer", lua_pushfstring(L, "group in [0, %d] expected, got %I",
                                                       a.m->ngroups, o[REF_LAYER].integer));
  ntk_kernel_shape(&rows, &cols, out, a.m->output_dim, a.k.P1, a.k.P2);
  K = lntk_newtensor(L, 2, rows, cols);
  if (ntk_model_kernel_ntk_ref(K, a.m, a.k.X1, a.k.X2, out,
                               lntk_opt_eta(L, a.k.opt, &o[REF_ETA], a.m->nparams),
                               (int)o[REF_LAYER].integer, &err) != NTK_OK)
    return lntk_result(L, &err, REF_ARGS(a.k.opt));
  return 1;
}

/* ntklab.ntk(net, ...): one name for the NTK of any network. A model goes to model_ntk; an MLP
 * (anything else) to the MLP's kernel binding, called in this frame (not through lua_call) so
 * that its argument errors still name 'ntk'. */
static int l_ntk_any(lua_State *L) {
  if (luaL_testudata(L, ARG_MODEL, LNTK_MODEL_MT)) return l_model_ntk(L);
  if (!luaL_testudata(L, ARG_MODEL, LNTK_MLP_MT))
    return luaL_typeerror(L, ARG_MODEL, "ntklab.mlp or ntklab.model");
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

void lntk_open_model_kernel(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"model_ntk", l_model_ntk},
      {"model_ntk_reference", l_model_ntk_reference},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
  lua_getfield(L, -1, "ntk"); /* the MLP's (lntk_kernel.c, opened before this concept) */
  if (lua_tocfunction(L, -1) == NULL) luaL_error(L, "ntklab.core: the kernel binding opens first");
  lua_pushcclosure(L, l_ntk_any, 1);
  lua_setfield(L, -2, "ntk");
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
