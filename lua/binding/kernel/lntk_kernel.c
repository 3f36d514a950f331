/* lntk_kernel.c: empirical NTK, NNGP layer kernels, the Jacobian reference and the kernel
 * workspace.
 *   K [, layers] = ntklab.ntk(net, X [, X2] [, opts])
 *       X: P1 x D (and X2: P2 x D) inputs; without X2, the symmetric train x train Gram.
 *       opts.output = "full" (default) | "blocks" | "trace" | "mean", for C outputs:
 *         full   (P1 C) x (P2 C), sample-major, row (mu-1)*C + k: the C x C block of the pair
 *                (mu, nu) is K:narrow(1, (mu-1)*C+1, C):narrow(2, (nu-1)*C+1, C);
 *         blocks (C P1) x (C P2), output-major, row (k-1)*P1 + mu: block (k, k') is the
 *                P1 x P2 kernel between outputs k and k';
 *         trace  P1 x P2, sum over outputs of K_kk (NOT divided by C);
 *         mean   P1 x P2, the trace divided by C.
 *       opts.layers = true: also returns {K_1, ..., K_L}, each layer's parameter contribution,
 *         summing to K; opts.layers = {K_1, ..., K_L}, L contiguous tensors of K's shape:
 *         written in place and returned (the same table), so a loop allocates nothing.
 *       opts.eta = tensor of net:nparams() steps eta_j >= 0 (e.g. adam:effective_lr(net)):
 *         K_eta = sum_j eta_j df/dtheta_j df/dtheta_j (paper Eq. 91).
 *       opts.tile = T: compute in T x T sample blocks (scratch O(T^2) instead of O(P^2)).
 *       opts.workspace = ntklab.kernel_workspace(): reuse buffers and the cached input Gram
 *         X X2^T across calls (keyed by shapes and a hash of the contents of X and X2).
 *       opts.out = tensor: write K into this contiguous tensor of the result's shape (and
 *         return it) instead of allocating a new one.
 *   kernels = ntklab.nngp(net, X [, X2]): kernels[l] = A_l(X) A_l(X2)^T for l = 0..L
 *       (kernels[0] = X X2^T, kernels[L] = f(X) f(X2)^T), raw inner products.
 *   J = ntklab.jacobian(net, X): (P C) x nparams, row (mu-1)*C + k, explicit (reference path).
 *   K = ntklab.ntk_reference(net, X [, X2] [, {output =, eta =, layer = l}]): J1 diag(eta) J2^T
 *       in the same layouts, restricted to layer l's parameters when given (memory O(P C #params)).
 *   ws = ntklab.kernel_workspace(): ws:bytes(), ws:hits() (cache hits), ws:clear(),
 *       ws:release() (also __gc / __close). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lntk.h"

#define LNTK_KWS_MT "ntklab.kernel_workspace"

typedef struct lkws {
  ntk_kernel_ws *ws; /* NULL once released */
} lkws;

static ntk_kernel_ws *check_ws(lua_State *L, int idx) {
  lkws *w = luaL_checkudata(L, idx, LNTK_KWS_MT);
  if (!w->ws) lntk_released(L, "kernel_workspace");
  return w->ws;
}

static int kws_new(lua_State *L) {
  ntk_error err;
  lkws *w;
  luaL_argcheck(L, lua_isnone(L, 1), 1, "no arguments expected");
  w = lntk_newobject(L, sizeof *w, LNTK_KWS_MT);
  if (ntk_kernel_ws_new(&w->ws, &err) != NTK_OK) return lntk_raise(L, &err, NULL);
  return 1;
}

LNTK_RELEASE(kws_gc, lkws, LNTK_KWS_MT, ws, ntk_kernel_ws_free)

static int kws_bytes(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_kernel_ws_bytes(check_ws(L, 1)));
  return 1;
}

static int kws_hits(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_kernel_ws_hits(check_ws(L, 1)));
  return 1;
}

static int kws_clear(lua_State *L) {
  ntk_kernel_ws_clear(check_ws(L, 1));
  lua_settop(L, 1);
  return 1;
}

static int kws_tostring(lua_State *L) {
  lkws *w = luaL_checkudata(L, 1, LNTK_KWS_MT);
  if (!w->ws)
    lua_pushstring(L, "ntklab.kernel_workspace (released)");
  else
    lua_pushfstring(L, "ntklab.kernel_workspace (%I bytes)",
                    (lua_Integer)ntk_kernel_ws_bytes(w->ws));
  return 1;
}

/* Registry key of the default workspaces: a table net -> kernel_workspace, weak in keys and
 * values. */
static const char default_ws_key = 'w';

/* The workspace a call without opts.workspace uses: one per net (net at stack index idx), kept
 * in a weak table, so its buffers and cached input Gram serve the next default call on that net
 * (no fresh scratch to touch, no Gram to recompute for the same X) until the collector runs:
 * collectgarbage(), or the binding's full collection after 64 MiB of new tensors, releases it.
 * It holds what the largest call since needed. Not used for calls of more than
 * NTK_KERNEL_AUTO_TILE samples, which run in tiles without a cache to bound their memory.
 * Pushes the workspace (the caller's reference for the duration of the call). */
static ntk_kernel_ws *default_ws(lua_State *L, int idx) {
  lkws *w;
  idx = lua_absindex(L, idx);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &default_ws_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "kv");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &default_ws_key);
  }
  lua_pushvalue(L, idx);
  if (lua_rawget(L, -2) == LUA_TUSERDATA) {
    w = luaL_checkudata(L, -1, LNTK_KWS_MT);
    if (w->ws) {
      lua_remove(L, -2); /* the workspace stays on the stack: the call's own reference */
      return w->ws;
    }
  }
  lua_pop(L, 1);
  {
    ntk_error err;
    w = lntk_newobject(L, sizeof *w, LNTK_KWS_MT);
    if (ntk_kernel_ws_new(&w->ws, &err) != NTK_OK) lntk_raise(L, &err, NULL);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);
  }
  /* left on the stack until the call returns: the weak table alone would let a collection
   * triggered by the result's allocation free it mid-call */
  return w->ws;
}


/* Lua positions: ntklab.ntk(net, X [, X2] [, opts]) */
enum { ARG_NET = 1, ARG_X1 = 2, ARG_X2 = 3 };
/* core ntk_kernel_ntk(K, layers, net, X1, X2, opts) */
#define KERNEL_ARGS(opt) LNTK_ARGS(0, 0, ARG_NET, ARG_X1, ARG_X2, opt)
/* core ntk_kernel_ntk_ref(K, net, X1, X2, output, eta, layer) */
#define REF_ARGS(opt) LNTK_ARGS(0, ARG_NET, ARG_X1, ARG_X2, opt, opt, opt)
/* core ntk_kernel_jacobian(J, net, X) */
#define JACOBIAN_ARGS LNTK_ARGS(0, ARG_NET, ARG_X1)
/* core ntk_kernel_nngp(kernels, net, X1, X2) */
#define NNGP_ARGS LNTK_ARGS(0, ARG_NET, ARG_X1, ARG_X2)

typedef struct kargs {
  ntk_mlp *net;
  lntk_kernel_call k;
} kargs;

/* net, X [, X2] [, opts]: the second tensor is X2 when it is a tensor, opts is the first table
 * after X. The core's input check runs here, before any allocation of results. */
static void check_kernel_args(lua_State *L, kargs *a) {
  ntk_error err;
  a->net = lntk_checkmlp(L, ARG_NET);
  lntk_kernel_args(L, "net, X [, X2] [, options]", &a->k);
  a->k.P1 = a->k.X1->shape[0];
  a->k.P2 = a->k.X2 ? a->k.X2->shape[0] : 0;
  /* Lua positions given to the core outright */
  if (ntk_kernel_check_inputs(a->net, a->k.X1, a->k.X2, ARG_X1, ARG_X2, &err) != NTK_OK)
    lntk_result(L, &err, NULL);
}

static void kernel_result_shape(const kargs *a, ntk_kernel_output out, size_t *rows,
                                size_t *cols) {
  ntk_kernel_shape(rows, cols, out, ntk_mlp_output_dim(a->net), a->k.P1,
                   a->k.X2 ? a->k.P2 : a->k.P1);
}

enum { NTK_OUTPUT, NTK_LAYERS, NTK_ETA, NTK_TILE, NTK_WORKSPACE, NTK_OUT, NTK_NOPTS };
static const lntk_option ntk_options[] = {
    LNTK_OPT("output", LNTK_OPT_CHOICE, .choices = lntk_kernel_output_names),
    LNTK_OPT("layers", LNTK_OPT_ANY),
    LNTK_OPT("eta", LNTK_OPT_TENSOR),
    LNTK_OPT("tile", LNTK_OPT_INTEGER),
    LNTK_OPT("workspace", LNTK_OPT_OBJECT, .mt = LNTK_KWS_MT, .what = "kernel_workspace"),
    LNTK_OPT("out", LNTK_OPT_TENSOR),
    LNTK_OPT_END,
};

/* Checks that t is a contiguous [rows x cols] tensor for option `what` (out, layers[l]). */
static void check_out_shape(lua_State *L, int opt, const char *what, const ntk_tensor *t,
                            size_t rows, size_t cols) {
  char buf[64];
  if (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols && ntk_tensor_is_contiguous(t))
    return;
  ntk_tensor_shape_str(t, buf, sizeof buf);
  lntk_opterror(L, opt, what, lua_pushfstring(L, "contiguous [%I x %I] expected, got %s%s",
                                              (lua_Integer)rows, (lua_Integer)cols, buf,
                                              ntk_tensor_is_contiguous(t) ? "" : " view"));
}

/* Whether the n doubles at a and at b share memory. */
static int overlap(const double *a, const double *b, size_t n) {
  uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b, bytes = n * sizeof(double);
  return pa < pb + bytes && pb < pa + bytes;
}

/* opts.layers: nil/false (none), true (fresh tensors) or a table of depth out tensors. Pushes
 * the table of layer kernels (when any) and fills lay; returns the number of layers (0: none). */
static int layer_outputs(lua_State *L, int opt, const lntk_optval *v, const ntk_mlp *net,
                         const ntk_tensor *K, size_t rows, size_t cols, double **lay) {
  int l, depth = net->depth;
  if (!v->present) return 0;
  if (lua_isboolean(L, v->idx)) {
    if (!lua_toboolean(L, v->idx)) return 0;
    lua_createtable(L, depth, 0);
    for (l = 0; l < depth; l++) {
      ntk_tensor *t = lntk_newtensor(L, 2, rows, cols);
      lay[l] = ntk_tensor_data(t);
      lua_rawseti(L, -2, l + 1);
    }
    return depth;
  }
  if (!lua_istable(L, v->idx))
    lntk_opterror(L, opt, "layers",
                  lua_pushfstring(L, "boolean or table of %d tensors expected, got %s", depth,
                                  luaL_typename(L, v->idx)));
  if (lua_rawlen(L, v->idx) != (lua_Unsigned)depth)
    lntk_opterror(L, opt, "layers",
                  lua_pushfstring(L, "table of %d tensors (one per layer) expected, got %I "
                                     "entries", depth, (lua_Integer)lua_rawlen(L, v->idx)));
  for (l = 0; l < depth; l++) {
    char what[32];
    ntk_tensor *t;
    int i;
    snprintf(what, sizeof what, "layers[%d]", l + 1);
    lua_rawgeti(L, v->idx, l + 1);
    if (!lntk_istensor(L, -1))
      lntk_opterror(L, opt, what, lua_pushfstring(L, "tensor expected, got %s",
                                                  luaL_typename(L, -1)));
    t = lntk_checktensor(L, -1);
    lua_pop(L, 1);
    check_out_shape(L, opt, what, t, rows, cols);
    lay[l] = ntk_tensor_data(t);
    /* overlapping outputs would be summed into each other */
    if (overlap(lay[l], ntk_tensor_data(K), rows * cols))
      lntk_opterror(L, opt, what, "a tensor not sharing memory with the kernel expected");
    for (i = 0; i < l; i++)
      if (overlap(lay[i], lay[l], rows * cols))
        lntk_opterror(L, opt, what, lua_pushfstring(L, "a tensor not sharing memory with "
                                                       "layers[%d] expected", i + 1));
  }
  lua_pushvalue(L, v->idx);
  return depth;
}

static int l_ntk(lua_State *L) {
  kargs a;
  lntk_optval o[NTK_NOPTS];
  ntk_kernel_opts ko = {NTK_KERNEL_FULL, NULL, 0, NULL};
  int L_;
  size_t rows, cols;
  ntk_tensor *K;
  double *lay[NTK_MLP_MAX_DEPTH];
  ntk_error err;
  check_kernel_args(L, &a);
  lntk_options(L, a.k.opt, ntk_options, o);
  ko.output = (ntk_kernel_output)o[NTK_OUTPUT].choice;
  ko.eta = lntk_opt_eta(L, a.k.opt, &o[NTK_ETA], a.net->nparams);
  if (o[NTK_TILE].integer < 0)
    lntk_opterror(L, a.k.opt, "tile", lua_pushfstring(L, "integer >= 0 expected, got %I",
                                                      o[NTK_TILE].integer));
  ko.tile = (size_t)o[NTK_TILE].integer;
  if (o[NTK_WORKSPACE].present)
    ko.ws = check_ws(L, o[NTK_WORKSPACE].idx);
  else if (ko.tile == 0 && a.k.P1 <= NTK_KERNEL_AUTO_TILE &&
           (a.k.X2 ? a.k.P2 : a.k.P1) <= NTK_KERNEL_AUTO_TILE)
    ko.ws = default_ws(L, ARG_NET);
  kernel_result_shape(&a, ko.output, &rows, &cols);
  if (o[NTK_OUT].present) {
    /* writing into the caller's tensor saves a fresh P x P allocation per call */
    K = o[NTK_OUT].tensor;
    check_out_shape(L, a.k.opt, "out", K, rows, cols);
    lua_pushvalue(L, o[NTK_OUT].idx);
  } else {
    K = lntk_newtensor(L, 2, rows, cols);
  }
  L_ = layer_outputs(L, a.k.opt, &o[NTK_LAYERS], a.net, K, rows, cols, lay);
  if (ntk_kernel_ntk(ntk_tensor_data(K), L_ ? lay : NULL, a.net, a.k.X1, a.k.X2, &ko, &err) !=
      NTK_OK)
    return lntk_result(L, &err, KERNEL_ARGS(a.k.opt));
  return L_ ? 2 : 1;
}

enum { REF_OUTPUT, REF_ETA, REF_LAYER, REF_NOPTS };
static const lntk_option ref_options[] = {
    LNTK_OPT("output", LNTK_OPT_CHOICE, .choices = lntk_kernel_output_names),
    LNTK_OPT("eta", LNTK_OPT_TENSOR),
    LNTK_OPT("layer", LNTK_OPT_INTEGER),
    LNTK_OPT_END,
};

static int l_ntk_reference(lua_State *L) {
  kargs a;
  lntk_optval o[REF_NOPTS];
  ntk_kernel_output out;
  const ntk_tensor *eta;
  lua_Integer layer;
  size_t rows, cols;
  ntk_tensor *K;
  ntk_error err;
  check_kernel_args(L, &a);
  lntk_options(L, a.k.opt, ref_options, o);
  out = (ntk_kernel_output)o[REF_OUTPUT].choice;
  eta = lntk_opt_eta(L, a.k.opt, &o[REF_ETA], a.net->nparams);
  layer = o[REF_LAYER].integer;
  if (layer < 0 || layer > a.net->depth)
    lntk_opterror(L, a.k.opt, "layer", lua_pushfstring(L, "integer in [0, %d] expected, got %I",
                                                       a.net->depth, layer));
  kernel_result_shape(&a, out, &rows, &cols);
  K = lntk_newtensor(L, 2, rows, cols);
  if (ntk_kernel_ntk_ref(ntk_tensor_data(K), a.net, a.k.X1, a.k.X2, out, eta, (int)layer, &err) !=
      NTK_OK)
    return lntk_result(L, &err, REF_ARGS(a.k.opt));
  return 1;
}

static int l_jacobian(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, ARG_NET);
  ntk_tensor *X, *J;
  ntk_error err;
  lua_settop(L, 2);
  X = lntk_checktensor(L, ARG_X1);
  if (ntk_kernel_check_inputs(net, X, NULL, ARG_X1, 0, &err) != NTK_OK)
    return lntk_result(L, &err, NULL);
  J = lntk_newtensor(L, 2, X->shape[0] * ntk_mlp_output_dim(net), net->nparams);
  if (ntk_kernel_jacobian(ntk_tensor_data(J), net, X, &err) != NTK_OK)
    return lntk_result(L, &err, JACOBIAN_ARGS);
  return 1;
}

static int l_nngp(lua_State *L) {
  kargs a;
  double *ks[NTK_MLP_MAX_DEPTH + 1];
  int l, tbl;
  size_t P2;
  ntk_error err;
  check_kernel_args(L, &a);
  if (a.k.opt) luaL_argerror(L, a.k.opt, "no option table expected (net, X [, X2])");
  P2 = a.k.X2 ? a.k.P2 : a.k.P1;
  lua_createtable(L, a.net->depth, 1);
  tbl = lua_gettop(L);
  for (l = 0; l <= a.net->depth; l++) {
    ntk_tensor *t = lntk_newtensor(L, 2, a.k.P1, P2);
    ks[l] = ntk_tensor_data(t);
    lua_rawseti(L, tbl, l);
  }
  if (ntk_kernel_nngp(ks, a.net, a.k.X1, a.k.X2, &err) != NTK_OK)
    return lntk_result(L, &err, NNGP_ARGS);
  lua_settop(L, tbl);
  return 1;
}

void lntk_open_kernel(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"bytes", kws_bytes}, {"hits", kws_hits}, {"clear", kws_clear}, {NULL, NULL},
  };
  static const luaL_Reg meta[] = {{"__tostring", kws_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"ntk", l_ntk},
      {"ntk_reference", l_ntk_reference},
      {"jacobian", l_jacobian},
      {"nngp", l_nngp},
      {"kernel_workspace", kws_new},
      {NULL, NULL},
  };
  static const lntk_class workspace = {LNTK_KWS_MT, kws_gc, meta, methods, NULL, funcs};
  lntk_newclass(L, &workspace);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Empirical neural tangent kernels of MLPs.
@submodule ntklab
*/

/*** The empirical NTK of an MLP, K(x, x') = sum_j df(x)/dtheta_j df(x')/dtheta_j, assembled from
per-layer Grams (one forward and one backward pass, no Jacobian).
@function ntk
@tparam mlp net
@tparam tensor X inputs [P1 x D]
@tparam[opt] tensor X2 inputs [P2 x D]; without it the symmetric train x train kernel
@tparam[opt] table opts
@options ntk_options
@opt output layout for C outputs: "full" (P1 C) x (P2 C) sample-major, the C x C block of the pair
  (mu, nu) at rows (mu-1) C + 1 ..; "blocks" (C P1) x (C P2) output-major; "trace" P1 x P2, the sum
  over outputs (not divided by C); "mean" the trace / C
@opt layers also return each layer's parameter contribution {K_1, ..., K_L}, summing to K: true
  for new tensors, or a table of L contiguous tensors of K's shape to write them into (returned)
@opt eta per-parameter steps eta_j >= 0, [net:nparams()] (adam:effective_lr(net)): Adam's kernel,
  K_eta = sum_j eta_j df/dtheta_j df/dtheta_j (the paper's Eq. 91)
@opt tile compute in tile x tile sample blocks (scratch O(tile^2) instead of O(P^2)); 0: one block
@opt workspace reuse buffers and the cached input Gram X X2^T across calls (without it, calls of
  up to 1024 samples use one kept per net until the next full collection)
@opt out write K into this contiguous tensor of the result's shape and return it
@treturn tensor K
@treturn[opt] table the per-layer kernels, with layers
@raise inputs whose width is not net's input size; eta of the wrong length or negative
@usage local K = ntklab.ntk(net, X, {output = "trace"})
*/

/*** The NTK as J1 diag(eta) J2^T from explicit Jacobians: ntklab.ntk's reference twin
(memory O(P C nparams)).
@function ntk_reference
@tparam mlp net
@tparam tensor X [P1 x D]
@tparam[opt] tensor X2 [P2 x D]
@tparam[opt] table opts
@options ref_options
@opt output layout, as for ntklab.ntk
@opt eta per-parameter steps, as for ntklab.ntk
@opt layer restrict to layer l's parameters (1-based)
@treturn tensor K
*/

/*** The explicit Jacobian df/dtheta, (P C) x nparams, row (mu - 1) C + k (reference path).
@function jacobian
@tparam mlp net
@tparam tensor X [P x D]
@treturn tensor J
*/

/*** The NNGP layer kernels: kernels[l] = A_l(X) A_l(X2)^T for l = 0..L (kernels[0] = X X2^T,
kernels[L] = f(X) f(X2)^T), raw inner products.
@function nngp
@tparam mlp net
@tparam tensor X [P1 x D]
@tparam[opt] tensor X2 [P2 x D]
@treturn table kernels, indexed from 0
*/

/*** A workspace for ntklab.ntk: buffers and the input Gram X X2^T cached across calls, keyed by
the shapes and a hash of the contents of X and X2.
@function kernel_workspace
@treturn kernel_workspace
*/

/*** Buffers reused across ntklab.ntk calls.
@type kernel_workspace
*/

/*** The bytes the workspace holds.
@function kernel_workspace:bytes
@treturn int
*/

/*** How many calls were served from the cached input Gram.
@function kernel_workspace:hits
@treturn int
*/

/*** Drops the cached Gram and buffers (the workspace stays usable).
@function kernel_workspace:clear
*/

/*** Frees the workspace now (also __gc and __close).
@function kernel_workspace:release
*/
