/* lntk_mlp.c: the mlp userdata, ntklab.mlp{...} and ntklab.mlp_load(path).
 *
 * Parameter tensors handed to Lua (net:params(), net:weight(l), net:bias(l), net:layers()) are
 * views into the net's refcounted flat storage: writing to them changes the net, and they stay
 * valid after the net is released or collected. */
#include <string.h>

#include "lntk.h"

typedef struct lntk_mlp {
  ntk_mlp *net; /* NULL once released */
} lntk_mlp;

static lntk_mlp *checkbox(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, LNTK_MLP_MT);
}

ntk_mlp *lntk_checkmlp(lua_State *L, int idx) {
  lntk_mlp *m = checkbox(L, idx);
  if (!m->net) lntk_released(L, "mlp");
  return m->net;
}

/* Pushes a new, empty mlp userdata; the caller creates the net into box->net, so that nothing
 * can raise between the allocation of the net and its owner's existence. */
static lntk_mlp *pushbox(lua_State *L) {
  return lntk_newobject(L, sizeof(lntk_mlp), LNTK_MLP_MT);
}

static const char *const param_names[] = {"standard", "ntk", NULL};
static const char *const init_names[] = {"gaussian", "orthogonal", "balanced", NULL};
static const char *activation_names[NTK_ACT_COUNT + 1]; /* filled by lntk_open_mlp */

/* Lua positions: ntklab.mlp{opts}; net:forward(X [, out]), net:loss(X, Y), net:grad(X, Y [, g]) */
enum { ARG_OPTS = 1 };
enum { ARG_NET = 1, ARG_X = 2, ARG_Y = 3, ARG_FORWARD_OUT = 3, ARG_GRAD_OUT = 4 };

/* In the order of LNTK_ARCH_* (lntk.h). */
static const lntk_option mlp_options[] = {
    LNTK_OPT("widths", LNTK_OPT_TABLE, .required = 1, .what = "table {D, n1, ..., C}"),
    LNTK_OPT("activation", LNTK_OPT_ANY),     /* a name for every hidden layer, or one per layer */
    LNTK_OPT("bias", LNTK_OPT_BOOLEAN),
    LNTK_OPT("param", LNTK_OPT_CHOICE, .def = NTK_PARAM_STANDARD, .choices = param_names),
    LNTK_OPT("sigma", LNTK_OPT_ANY),          /* a number, or one per layer */
    LNTK_OPT("bias_sigma", LNTK_OPT_NUMBER, .def = 0.0),
    LNTK_OPT("init", LNTK_OPT_CHOICE, .def = NTK_INIT_GAUSSIAN, .choices = init_names),
    LNTK_OPT("seed", LNTK_OPT_INTEGER),
    LNTK_OPT("rng", LNTK_OPT_OBJECT, .mt = LNTK_RNG_MT, .what = "ntklab.rng"),
    LNTK_OPT_END,
};

/* The activation name at the top of the stack (an entry of the option table at arg). */
static ntk_activation check_activation(lua_State *L, int arg) {
  int i;
  if (lua_type(L, -1) != LUA_TSTRING)
    lntk_opterror(L, arg, "activation",
                  lua_pushfstring(L, "activation name expected, got %s", luaL_typename(L, -1)));
  i = lntk_findname(activation_names, lua_tostring(L, -1));
  if (i < 0) lntk_choiceerror(L, arg, "activation", activation_names, lua_tostring(L, -1));
  return (ntk_activation)i;
}

/* Checks that list option `key` of the table at arg (its value at idx) has n entries; the
 * caller's loop reads them (lntk_options cannot type the entries of a list). */
static void check_count(lua_State *L, int arg, int idx, const char *key, lua_Integer n,
                        const char *what) {
  lua_Integer got = (lua_Integer)lua_rawlen(L, idx);
  if (got != n) lntk_opterror(L, arg, key, lua_pushfstring(L, "%I %s, got %I", n, what, got));
}

void lntk_check_architecture(lua_State *L, int arg, lntk_architecture *a, int max_width_log2) {
  lntk_optval *o = a->opt;
  lua_Integer n, i, max_width = (lua_Integer)1 << max_width_log2;
  int depth, idx;
  luaL_checktype(L, arg, LUA_TTABLE);
  lntk_options(L, arg, mlp_options, o);
  idx = o[LNTK_ARCH_WIDTHS].idx;
  n = (lua_Integer)lua_rawlen(L, idx);
  if (n < 2 || n > NTK_MLP_MAX_DEPTH + 1)
    lntk_opterror(L, arg, "widths",
                  lua_pushfstring(L, "2 to %d entries expected, got %I", NTK_MLP_MAX_DEPTH + 1, n));
  depth = (int)n - 1;
  for (i = 1; i <= n; i++) {
    int isnum;
    lua_Integer w;
    lua_rawgeti(L, idx, i);
    w = lua_tointegerx(L, -1, &isnum);
    if (!isnum || w < 1 || w > max_width)
      lntk_opterror(L, arg, "widths",
                    lua_pushfstring(L, "entry %I: integer in [1, 2^%d] expected", i, max_width_log2));
    a->widths[i - 1] = (size_t)w;
    lua_pop(L, 1);
  }
  /* activation: one name for every hidden layer, or a table of depth - 1 names */
  for (i = 0; i < depth; i++) a->act[i] = NTK_ACT_RELU;
  if ((idx = o[LNTK_ARCH_ACTIVATION].idx) != 0) {
    lua_pushvalue(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
      a->act[0] = check_activation(L, arg);
      for (i = 1; i < depth; i++) a->act[i] = a->act[0];
    } else if (lua_istable(L, idx)) {
      check_count(L, arg, idx, "activation", depth - 1, "names expected (one per hidden layer)");
      for (i = 1; i < depth; i++) {
        lua_rawgeti(L, idx, i);
        a->act[i - 1] = check_activation(L, arg);
        lua_pop(L, 1);
      }
    } else {
      lntk_opterror(L, arg, "activation",
                    lua_pushfstring(L, "name or table expected, got %s", luaL_typename(L, idx)));
    }
    lua_pop(L, 1);
  }
  a->act[depth - 1] = NTK_ACT_LINEAR;
  /* sigma: one number or one per layer */
  for (i = 0; i < depth; i++) a->sigma[i] = 1.0;
  if ((idx = o[LNTK_ARCH_SIGMA].idx) != 0) {
    if (lua_type(L, idx) == LUA_TNUMBER) {
      for (i = 0; i < depth; i++) a->sigma[i] = lua_tonumber(L, idx);
    } else if (lua_istable(L, idx)) {
      check_count(L, arg, idx, "sigma", depth, "numbers expected (one per layer)");
      for (i = 1; i <= depth; i++) {
        if (lua_rawgeti(L, idx, i) != LUA_TNUMBER)
          lntk_opterror(L, arg, "sigma", lua_pushfstring(L, "entry %I: number expected", i));
        a->sigma[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
    } else {
      lntk_opterror(L, arg, "sigma",
                    lua_pushfstring(L, "number or table expected, got %s", luaL_typename(L, idx)));
    }
  }
  a->cfg.depth = depth;
  a->cfg.widths = a->widths;
  a->cfg.act = a->act;
  a->cfg.bias = o[LNTK_ARCH_BIAS].boolean;
  a->cfg.param = (ntk_param)o[LNTK_ARCH_PARAM].choice;
  a->cfg.sigma = a->sigma;
  a->cfg.bias_sigma = o[LNTK_ARCH_BIAS_SIGMA].num;
  a->cfg.init = (ntk_init)o[LNTK_ARCH_INIT].choice;
}

/* ntklab.mlp{widths = {D, n1, ..., C}, activation = "relu" | {per hidden layer}, bias = false,
 *   param = "standard" | "ntk", sigma = 1 | {per layer}, bias_sigma = 0,
 *   init = "gaussian" | "orthogonal" | "balanced", seed = int | rng = ntklab.rng(...)} */
static int mlp_new(lua_State *L) {
  lntk_architecture a;
  ntk_rng own, *rng = &own;
  lntk_mlp *box;
  ntk_error err;
  luaL_checktype(L, ARG_OPTS, LUA_TTABLE);
  lua_settop(L, ARG_OPTS);
  lntk_check_architecture(L, ARG_OPTS, &a, 24); /* 2^24: a layer's weights must fit in memory */
  /* randomness is always explicit: a seed or an rng object (advanced by the draw) */
  if (a.opt[LNTK_ARCH_SEED].present == a.opt[LNTK_ARCH_RNG].present)
    luaL_argerror(L, ARG_OPTS, "exactly one of the options 'seed' and 'rng' expected");
  if (a.opt[LNTK_ARCH_RNG].present)
    rng = lua_touserdata(L, a.opt[LNTK_ARCH_RNG].idx);
  else
    ntk_rng_seed(&own, (uint64_t)a.opt[LNTK_ARCH_SEED].integer);
  box = pushbox(L);
  /* core ntk_mlp_new(out, cfg, rng): the configuration is the option table */
  if (ntk_mlp_new(&box->net, &a.cfg, rng, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(ARG_OPTS, ARG_OPTS, ARG_OPTS));
  lntk_gcstep(L, box->net->nparams * sizeof(double));
  return 1;
}

LNTK_RELEASE(mlp_gc, lntk_mlp, LNTK_MLP_MT, net, ntk_mlp_free)

/* The tensors X (and Y) of net:forward, net:loss, net:grad, checked by the core before anything
 * is allocated (Lua positions given outright). */
static ntk_tensor *check_xy(lua_State *L, ntk_mlp *net, ntk_tensor **Y) {
  ntk_tensor *X = lntk_checktensor(L, ARG_X);
  ntk_error err;
  if (Y) *Y = lntk_checktensor(L, ARG_Y);
  if (ntk_mlp_check_inputs(net, X, Y ? *Y : NULL, ARG_X, ARG_Y, &err) != NTK_OK)
    lntk_result(L, &err, NULL);
  return X;
}

/* net:forward(X [, out]) -> out (P x C) */
static int mlp_forward(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, ARG_NET);
  ntk_tensor *X, *out;
  size_t P, C = ntk_mlp_output_dim(net);
  ntk_error err;
  lua_settop(L, 3); /* absent arguments read as nil, as in the messages */
  X = check_xy(L, net, NULL);
  P = X->shape[0];
  if (!lua_isnoneornil(L, ARG_FORWARD_OUT)) {
    char expected[64];
    out = lntk_checktensor(L, ARG_FORWARD_OUT);
    snprintf(expected, sizeof expected, "contiguous [%zu x %zu]", P, C);
    if (out->ndim != 2 || out->shape[0] != P || out->shape[1] != C ||
        !ntk_tensor_is_contiguous(out))
      return lntk_shapeerror(L, ARG_FORWARD_OUT, expected, out);
    lua_pushvalue(L, ARG_FORWARD_OUT);
  } else {
    out = lntk_newtensor(L, 2, P, C);
  }
  /* core (net, out, X) */
  if (ntk_mlp_forward(net, ntk_tensor_data(out), X, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(ARG_NET, ARG_FORWARD_OUT, ARG_X));
  return 1;
}

/* net:loss(X, Y) -> 1/(2P) sum |f(x) - y|^2 */
static int mlp_loss(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, ARG_NET);
  ntk_tensor *Y, *X;
  double loss;
  ntk_error err;
  lua_settop(L, 3);
  X = check_xy(L, net, &Y);
  /* core (net, loss, X, Y) */
  if (ntk_mlp_loss(net, &loss, X, Y, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(ARG_NET, 0, ARG_X, ARG_Y));
  lua_pushnumber(L, loss);
  return 1;
}

/* Checks an optional flat output vector of n entries at idx, else pushes a fresh one. */
static ntk_tensor *flat_out(lua_State *L, int idx, size_t n) {
  ntk_tensor *g;
  if (lua_isnoneornil(L, idx)) return lntk_newtensor(L, 1, n, 1);
  g = lntk_checktensor(L, idx);
  if (g->ndim != 1 || g->shape[0] != n || !ntk_tensor_is_contiguous(g)) {
    char expected[64];
    snprintf(expected, sizeof expected, "contiguous [%zu]", n);
    lntk_shapeerror(L, idx, expected, g);
  }
  lua_pushvalue(L, idx);
  return g;
}

/* net:grad(X, Y [, g]) -> g (flat dL/dtheta), loss */
static int mlp_grad(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, ARG_NET);
  ntk_tensor *Y, *X, *g;
  double loss;
  ntk_error err;
  lua_settop(L, 4);
  X = check_xy(L, net, &Y);
  g = flat_out(L, ARG_GRAD_OUT, net->nparams);
  /* core (net, grad, loss, X, Y) */
  if (ntk_mlp_loss_grad(net, ntk_tensor_data(g), &loss, X, Y, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(ARG_NET, ARG_GRAD_OUT, 0, ARG_X, ARG_Y));
  lua_pushnumber(L, loss);
  return 2;
}

/* Pushes a view of count elements of the flat parameters at off, shaped rows x cols (cols 0:
 * 1-D). */
static void push_param_view(lua_State *L, ntk_mlp *net, size_t off, size_t rows, size_t cols) {
  ntk_tensor tmp = {0};
  ntk_tensor *t = lntk_pushtensor(L);
  size_t shape[2];
  size_t count = cols ? rows * cols : rows;
  shape[0] = rows;
  shape[1] = cols;
  /* cannot fail: the range lies inside flat and a narrowed 1-D view is contiguous */
  ntk_tensor_narrow(&tmp, &net->flat, 0, off, count, NULL);
  ntk_tensor_reshape(t, &tmp, cols ? 2 : 1, shape, NULL);
  ntk_tensor_release(&tmp);
}

static int check_layer(lua_State *L, ntk_mlp *net, int idx) {
  lua_Integer l = luaL_checkinteger(L, idx);
  if (l < 1 || l > net->depth)
    luaL_argerror(L, idx, lua_pushfstring(L, "layer %I out of range [1, %d]", l, net->depth));
  return (int)l;
}

/* net:params() -> flat view (nparams) sharing the net's storage */
static int mlp_params(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  push_param_view(L, net, 0, net->nparams, 0);
  return 1;
}

/* net:weight(l) -> view W^l (n_l x n_{l-1}) */
static int mlp_weight(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  int l = check_layer(L, net, 2);
  push_param_view(L, net, net->w_off[l - 1], net->widths[l], net->widths[l - 1]);
  return 1;
}

/* net:bias(l) -> view b^l (n_l); raises for nets without biases */
static int mlp_bias(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  int l = check_layer(L, net, 2);
  if (!net->bias) return luaL_error(L, "this mlp has no biases (created with bias = false)");
  push_param_view(L, net, net->b_off[l - 1], net->widths[l], 0);
  return 1;
}

/* net:layers() -> {{W = view, b = view or nil}, ...} */
static int mlp_layers(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  int l;
  lua_createtable(L, net->depth, 0);
  for (l = 1; l <= net->depth; l++) {
    lua_createtable(L, 0, 2);
    push_param_view(L, net, net->w_off[l - 1], net->widths[l], net->widths[l - 1]);
    lua_setfield(L, -2, "W");
    if (net->bias) {
      push_param_view(L, net, net->b_off[l - 1], net->widths[l], 0);
      lua_setfield(L, -2, "b");
    }
    lua_rawseti(L, -2, l);
  }
  return 1;
}

/* net:get([out]) -> a copy of the flat parameters */
static int mlp_get(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  ntk_tensor *t = flat_out(L, 2, net->nparams);
  memcpy(ntk_tensor_data(t), net->params, net->nparams * sizeof(double));
  return 1;
}

/* net:set(theta) copies a 1-D tensor of nparams entries (any stride) into the parameters;
 * returns net */
static int mlp_set(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  ntk_tensor *t = lntk_checktensor(L, 2);
  size_t i;
  if (t->ndim != 1 || t->shape[0] != net->nparams) {
    char expected[64];
    snprintf(expected, sizeof expected, "[%zu]", net->nparams);
    return lntk_shapeerror(L, 2, expected, t);
  }
  /* memmove semantics: t may be a view of the parameters themselves */
  if (ntk_tensor_data(t) != net->params)
    for (i = 0; i < net->nparams; i++) net->params[i] = ntk_tensor_at(t, i, 0);
  lua_settop(L, 1);
  return 1;
}

static int mlp_clone(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  lntk_mlp *box = pushbox(L);
  ntk_error err;
  if (ntk_mlp_clone(&box->net, net, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  lntk_gcstep(L, net->nparams * sizeof(double));
  return 1;
}

/* net:save(path) -> true | nil, "path: reason" */
static int mlp_save(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  const char *path = lntk_checkpath(L, 2);
  ntk_error err;
  if (ntk_mlp_save(net, path, &err) != NTK_OK) return lntk_result_at(L, &err, NULL, path);
  lua_pushboolean(L, 1);
  return 1;
}

/* ntklab.mlp_load(path) -> net | nil, "path: reason" */
static int mlp_load(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  lntk_mlp *box = pushbox(L);
  ntk_error err;
  if (ntk_mlp_load(&box->net, path, &err) != NTK_OK)
    return lntk_result_at(L, &err, LNTK_ARGS(0, 1), path);
  lntk_gcstep(L, box->net->nparams * sizeof(double));
  return 1;
}

static int mlp_nparams(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lntk_checkmlp(L, 1)->nparams);
  return 1;
}

static int mlp_depth(lua_State *L) {
  lua_pushinteger(L, lntk_checkmlp(L, 1)->depth);
  return 1;
}

static void push_widths(lua_State *L, const ntk_mlp *net) {
  int l;
  lua_createtable(L, net->depth + 1, 0);
  for (l = 0; l <= net->depth; l++) {
    lua_pushinteger(L, (lua_Integer)net->widths[l]);
    lua_rawseti(L, -2, l + 1);
  }
}

static int mlp_widths(lua_State *L) {
  push_widths(L, lntk_checkmlp(L, 1));
  return 1;
}

static void push_activation(lua_State *L, const ntk_mlp *net, int l) {
  lua_pushstring(L, ntk_activation_name(net->act[l]));
}

static void push_sigma(lua_State *L, const ntk_mlp *net, int l) {
  lua_pushnumber(L, net->sigma[l]);
}

/* t[key] <- {push(0), ..., push(n - 1)} for the table t on top of the stack. */
static void set_list(lua_State *L, const char *key, const ntk_mlp *net, int n,
                     void (*push)(lua_State *L, const ntk_mlp *net, int l)) {
  int l;
  lua_createtable(L, n, 0);
  for (l = 0; l < n; l++) {
    push(L, net, l);
    lua_rawseti(L, -2, l + 1);
  }
  lua_setfield(L, -2, key);
}

/* net:config() -> the options that rebuild this architecture (without seed) */
static int mlp_config(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  lua_createtable(L, 0, 7);
  push_widths(L, net);
  lua_setfield(L, -2, "widths");
  set_list(L, "activation", net, net->depth - 1, push_activation);
  lua_pushboolean(L, net->bias);
  lua_setfield(L, -2, "bias");
  lua_pushstring(L, param_names[net->param]);
  lua_setfield(L, -2, "param");
  set_list(L, "sigma", net, net->depth, push_sigma);
  lua_pushnumber(L, net->bias_sigma);
  lua_setfield(L, -2, "bias_sigma");
  lua_pushstring(L, init_names[net->init]);
  lua_setfield(L, -2, "init");
  return 1;
}

static int mlp_tostring(lua_State *L) {
  lntk_mlp *m = checkbox(L, 1);
  luaL_Buffer b;
  int l;
  if (!m->net) {
    lua_pushstring(L, "ntklab.mlp (released)");
    return 1;
  }
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "ntklab.mlp {");
  for (l = 0; l <= m->net->depth; l++) {
    lua_pushfstring(L, l ? ", %I" : "%I", (lua_Integer)m->net->widths[l]);
    luaL_addvalue(&b);
  }
  lua_pushfstring(L, "} %s, %s%s, %I parameters", param_names[m->net->param],
                  m->net->depth > 1 ? ntk_activation_name(m->net->act[0]) : "linear",
                  m->net->bias ? ", bias" : "", (lua_Integer)m->net->nparams);
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return 1;
}

void lntk_open_mlp(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"forward", mlp_forward}, {"loss", mlp_loss},     {"grad", mlp_grad},
      {"params", mlp_params},   {"weight", mlp_weight}, {"bias", mlp_bias},
      {"layers", mlp_layers},   {"get", mlp_get},       {"set", mlp_set},
      {"clone", mlp_clone},     {"save", mlp_save},     {"nparams", mlp_nparams},
      {"depth", mlp_depth},     {"widths", mlp_widths}, {"config", mlp_config},
      {NULL, NULL},
  };
  static const luaL_Reg meta[] = {{"__tostring", mlp_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"mlp", mlp_new}, {"mlp_load", mlp_load}, {NULL, NULL}};
  static const lntk_class mlp = {LNTK_MLP_MT, mlp_gc, meta, methods, NULL, funcs};
  int a;
  for (a = 0; a < NTK_ACT_COUNT; a++) activation_names[a] = ntk_activation_name((ntk_activation)a);
  lntk_newclass(L, &mlp);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Multilayer perceptrons.
@submodule ntklab
*/

/*** Builds a multilayer perceptron f(x) = W_L phi(... phi(W_1 x + b_1) ...) + b_L.
In the standard parameterization a weight is N(0, sigma^2 / fan_in); in the NTK one N(0, 1) and
the layer's output is scaled by sigma / sqrt(fan_in).
@function mlp
@tparam table opts
@options mlp_options
@opt widths {D, n_1, ..., C}: input size, hidden widths, outputs (2 to 65 entries, each in [1, 2^24])
@opt activation a name for every hidden layer (default "relu"), or a table of one name per hidden
  layer: $choices(core/nn/ntk_activation.c, names)
@opt bias whether layers add a bias
@opt param parameterization: "standard" (SP) or "ntk"
@opt sigma weight scale: one number (default 1) or one per layer
@opt bias_sigma standard deviation of the initial biases
@opt init weight initialization
@opt seed seed of the initialization (default 0); or give rng
@opt rng a generator to draw the initialization from (advanced by the draw)
@treturn mlp the network
@raise "bad argument #1 to 'mlp' (...)" naming the option, what was expected and what came
@usage local net = ntklab.mlp{widths = {784, 100, 1}, activation = "relu", sigma = 0.1, seed = 1}
*/

/*** Loads a net saved by net:save.
@function mlp_load
@string path
@treturn mlp
@return nil, "path: reason" (missing, truncated, a CRC mismatch, a newer format version)
*/

/*** A multilayer perceptron; parameter views (params, weight, bias, layers) share its flat
storage and stay valid after the net is released.
@type mlp
*/

/*** The outputs f(X).
@function mlp:forward
@tparam tensor X [P x D]
@tparam[opt] tensor out [P x C], written and returned
@treturn tensor [P x C]
*/

/*** The loss 1/(2P) sum_mu |f(x_mu) - y_mu|^2 (every trainer minimizes this one).
@function mlp:loss
@tparam tensor X [P x D]
@tparam tensor Y [P] or [P x C]
@treturn number
*/

/*** The gradient dL/dtheta of the loss, flat, in the layout of net:params().
@function mlp:grad
@tparam tensor X [P x D]
@tparam tensor Y [P] or [P x C]
@tparam[opt] tensor g [nparams], written and returned
@treturn tensor g
@treturn number the loss
*/

/*** All parameters as one flat view [nparams] (W_1 row-major, b_1, W_2, ...).
@function mlp:params
@treturn tensor
*/

/*** Layer l's weight matrix, a view [n_l x n_{l-1}].
@function mlp:weight
@int l 1..depth
@treturn tensor
*/

/*** Layer l's bias, a view [n_l].
@function mlp:bias
@int l 1..depth
@treturn tensor
@raise for a net built without biases
*/

/*** Every layer's views.
@function mlp:layers
@treturn table {{W = view, b = view or nil}, ...}
*/

/*** A copy of the flat parameters.
@function mlp:get
@tparam[opt] tensor out [nparams]
@treturn tensor
*/

/*** Copies a 1-D tensor of nparams entries (any stride) into the parameters.
@function mlp:set
@tparam tensor theta [nparams]
@treturn mlp the net
*/

/*** A deep copy (its own storage).
@function mlp:clone
@treturn mlp
*/

/*** Saves the net (versioned format, CRC32), atomically.
@function mlp:save
@string path
@treturn bool true
@return nil, "path: reason"
*/

/*** The number of parameters.
@function mlp:nparams
@treturn int
*/

/*** The number of weight layers L.
@function mlp:depth
@treturn int
*/

/*** The widths {D, n_1, ..., C}.
@function mlp:widths
@treturn table
*/

/*** The options that rebuild this architecture with ntklab.mlp (without the seed).
@function mlp:config
@treturn table
*/

/*** Frees the net now (also __gc and __close); views keep their share of the storage.
@function mlp:release
*/
