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
  if (!m->net) luaL_error(L, "attempt to use a released mlp");
  return m->net;
}

const double *lntk_checkdata(lua_State *L, int idx, size_t cols, size_t *rows) {
  ntk_tensor *t = lntk_checktensor(L, idx);
  char expected[64];
  if (!((t->ndim == 2 && t->shape[1] == cols) || (t->ndim == 1 && cols == 1))) {
    snprintf(expected, sizeof expected, cols == 1 ? "[P x 1] or [P]" : "[P x %zu]", cols);
    lntk_shapeerror(L, idx, expected, t);
  }
  *rows = t->shape[0];
  if (ntk_tensor_is_contiguous(t)) return ntk_tensor_data(t);
  {
    ntk_error err;
    ntk_tensor *c = lntk_pushtensor(L);
    if (ntk_tensor_init_copy(c, t, &err) != NTK_OK) luaL_error(L, "%s", err.msg);
    return ntk_tensor_data(c);
  }
}

/* Pushes a new, empty mlp userdata; the caller creates the net into box->net, so that nothing
 * can raise between the allocation of the net and its owner's existence. */
static lntk_mlp *pushbox(lua_State *L) {
  lntk_mlp *m = lua_newuserdatauv(L, sizeof *m, 0);
  m->net = NULL;
  luaL_setmetatable(L, LNTK_MLP_MT);
  return m;
}

static const char *const param_names[] = {"standard", "ntk", NULL};
static const char *const init_names[] = {"gaussian", "orthogonal", "balanced", NULL};

/* Raises "bad argument #1 to 'mlp' (option 'key': msg)". */
static int opterror(lua_State *L, const char *key, const char *msg) {
  return luaL_argerror(L, 1, lua_pushfstring(L, "option '%s': %s", key, msg));
}

static int check_activation_name(lua_State *L, int idx, const char *key, ntk_activation *out) {
  const char *name;
  if (lua_type(L, idx) != LUA_TSTRING)
    return opterror(L, key,
                    lua_pushfstring(L, "activation name expected, got %s", luaL_typename(L, idx)));
  name = lua_tostring(L, idx);
  if (!ntk_activation_from_name(name, out))
    return opterror(L, key, lua_pushfstring(L, "unknown activation '%s'", name));
  return 0;
}

/* Looks a string option up in a NULL-ended list; def when absent. */
static int check_enum_field(lua_State *L, const char *key, const char *const names[], int def) {
  int i;
  const char *s;
  if (lua_getfield(L, 1, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    opterror(L, key, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, -1)));
  s = lua_tostring(L, -1);
  for (i = 0; names[i]; i++)
    if (strcmp(s, names[i]) == 0) {
      lua_pop(L, 1);
      return i;
    }
  return opterror(L, key, lua_pushfstring(L, "unknown value '%s'", s));
}

/* ntklab.mlp{widths = {D, n1, ..., C}, activation = "relu" | {per hidden layer}, bias = false,
 *   param = "standard" | "ntk", sigma = 1 | {per layer}, bias_sigma = 0,
 *   init = "gaussian" | "orthogonal" | "balanced", seed = int | rng = ntklab.rng(...)} */
static int mlp_new(lua_State *L) {
  static const char *const allowed[] = {"widths",     "activation", "bias", "param", "sigma",
                                        "bias_sigma", "init",       "seed", "rng",   NULL};
  size_t widths[NTK_MLP_MAX_DEPTH + 1];
  ntk_activation act[NTK_MLP_MAX_DEPTH];
  double sigma[NTK_MLP_MAX_DEPTH];
  ntk_mlp_config cfg;
  ntk_rng own, *rng = &own;
  lntk_mlp *box;
  ntk_error err;
  lua_Integer n, i;
  int depth, st;
  lntk_checkoptions(L, 1, allowed);
  /* widths */
  if (lua_getfield(L, 1, "widths") != LUA_TTABLE)
    opterror(L, "widths",
             lua_pushfstring(L, "table {D, n1, ..., C} expected, got %s", luaL_typename(L, -1)));
  n = (lua_Integer)lua_rawlen(L, -1);
  if (n < 2 || n > NTK_MLP_MAX_DEPTH + 1)
    opterror(L, "widths",
             lua_pushfstring(L, "2 to %d entries expected, got %I", NTK_MLP_MAX_DEPTH + 1, n));
  depth = (int)n - 1;
  for (i = 1; i <= n; i++) {
    int isnum;
    lua_Integer w;
    lua_rawgeti(L, -1, i);
    w = lua_tointegerx(L, -1, &isnum);
    if (!isnum || w < 1 || w > (1 << 24))
      opterror(L, "widths", lua_pushfstring(L, "entry %I: integer in [1, 2^24] expected", i));
    widths[i - 1] = (size_t)w;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* activation: one name for every hidden layer, or a table of depth - 1 names */
  for (i = 0; i < depth; i++) act[i] = NTK_ACT_RELU;
  switch (lua_getfield(L, 1, "activation")) {
    case LUA_TNIL:
      break;
    case LUA_TSTRING:
      check_activation_name(L, -1, "activation", &act[0]);
      for (i = 1; i < depth; i++) act[i] = act[0];
      break;
    case LUA_TTABLE:
      if ((lua_Integer)lua_rawlen(L, -1) != depth - 1)
        opterror(L, "activation",
                 lua_pushfstring(L,
                                 "%d names expected (one per hidden layer), "
                                 "got %I",
                                 depth - 1, (lua_Integer)lua_rawlen(L, -1)));
      for (i = 1; i < depth; i++) {
        lua_rawgeti(L, -1, i);
        check_activation_name(L, -1, "activation", &act[i - 1]);
        lua_pop(L, 1);
      }
      break;
    default:
      opterror(L, "activation",
               lua_pushfstring(L, "name or table expected, got %s", luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  act[depth - 1] = NTK_ACT_LINEAR;
  /* sigma: one number or one per layer */
  for (i = 0; i < depth; i++) sigma[i] = 1.0;
  switch (lua_getfield(L, 1, "sigma")) {
    case LUA_TNIL:
      break;
    case LUA_TNUMBER:
      for (i = 0; i < depth; i++) sigma[i] = lua_tonumber(L, -1);
      break;
    case LUA_TTABLE:
      if ((lua_Integer)lua_rawlen(L, -1) != depth)
        opterror(L, "sigma",
                 lua_pushfstring(L, "%d numbers expected (one per layer), got %I", depth,
                                 (lua_Integer)lua_rawlen(L, -1)));
      for (i = 1; i <= depth; i++) {
        if (lua_rawgeti(L, -1, i) != LUA_TNUMBER)
          opterror(L, "sigma", lua_pushfstring(L, "entry %I: number expected", i));
        sigma[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      break;
    default:
      opterror(L, "sigma",
               lua_pushfstring(L, "number or table expected, got %s", luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  cfg.depth = depth;
  cfg.widths = widths;
  cfg.act = act;
  lua_getfield(L, 1, "bias");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    opterror(L, "bias", lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, -1)));
  cfg.bias = lua_toboolean(L, -1);
  lua_pop(L, 1);
  cfg.param = (ntk_param)check_enum_field(L, "param", param_names, NTK_PARAM_STANDARD);
  cfg.sigma = sigma;
  cfg.bias_sigma = lntk_optfield_number(L, 1, "bias_sigma", 0.0);
  cfg.init = (ntk_init)check_enum_field(L, "init", init_names, NTK_INIT_GAUSSIAN);
  /* randomness is always explicit: a seed or an rng object (advanced by the draw) */
  lua_getfield(L, 1, "seed");
  lua_getfield(L, 1, "rng");
  if (lua_isnil(L, -2) == lua_isnil(L, -1))
    luaL_argerror(L, 1, "exactly one of the options 'seed' and 'rng' expected");
  if (!lua_isnil(L, -1)) {
    if (!luaL_testudata(L, -1, LNTK_RNG_MT))
      opterror(L, "rng", lua_pushfstring(L, "ntklab.rng expected, got %s", luaL_typename(L, -1)));
    rng = lua_touserdata(L, -1);
  } else {
    ntk_rng_seed(&own, (uint64_t)lntk_optfield_integer(L, 1, "seed", 0));
  }
  box = pushbox(L);
  st = ntk_mlp_new(&box->net, &cfg, rng, &err);
  if (st != NTK_OK) return lntk_status(L, &err, 0);
  lntk_gcstep(L, box->net->nparams * sizeof(double));
  return 1;
}

static int mlp_gc(lua_State *L) {
  lntk_mlp *m = checkbox(L, 1);
  ntk_mlp_free(m->net);
  m->net = NULL;
  return 0;
}

/* net:forward(X [, out]) -> out (P x C) */
static int mlp_forward(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  size_t P, C = ntk_mlp_output_dim(net);
  const double *X;
  ntk_tensor *out;
  ntk_error err;
  lua_settop(L, 3); /* contiguous copies of the data go above the arguments */
  X = lntk_checkdata(L, 2, ntk_mlp_input_dim(net), &P);
  if (!lua_isnoneornil(L, 3)) {
    char expected[64];
    out = lntk_checktensor(L, 3);
    snprintf(expected, sizeof expected, "contiguous [%zu x %zu]", P, C);
    if (out->ndim != 2 || out->shape[0] != P || out->shape[1] != C ||
        !ntk_tensor_is_contiguous(out))
      return lntk_shapeerror(L, 3, expected, out);
    lua_pushvalue(L, 3);
  } else {
    out = lntk_newtensor(L, 2, P, C);
  }
  if (ntk_mlp_forward(net, ntk_tensor_data(out), X, P, &err) != NTK_OK)
    return lntk_status(L, &err, 1);
  return 1;
}

/* Checks X (arg xi) and Y (arg xi + 1) against the net; returns their rows. */
static size_t check_xy(lua_State *L, ntk_mlp *net, int xi, const double **X, const double **Y) {
  size_t P, Py;
  *X = lntk_checkdata(L, xi, ntk_mlp_input_dim(net), &P);
  *Y = lntk_checkdata(L, xi + 1, ntk_mlp_output_dim(net), &Py);
  if (Py != P)
    luaL_argerror(
        L, xi + 1,
        lua_pushfstring(L, "%I rows expected (as X), got %I", (lua_Integer)P, (lua_Integer)Py));
  return P;
}

/* net:loss(X, Y) -> 1/(2P) sum |f(x) - y|^2 */
static int mlp_loss(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  const double *X, *Y;
  size_t P;
  double loss;
  ntk_error err;
  lua_settop(L, 3);
  P = check_xy(L, net, 2, &X, &Y);
  if (ntk_mlp_loss(net, &loss, X, Y, P, &err) != NTK_OK) return lntk_status(L, &err, 1);
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
  ntk_mlp *net = lntk_checkmlp(L, 1);
  const double *X, *Y;
  size_t P;
  ntk_tensor *g;
  double loss;
  ntk_error err;
  lua_settop(L, 4);
  P = check_xy(L, net, 2, &X, &Y);
  g = flat_out(L, 4, net->nparams);
  if (ntk_mlp_loss_grad(net, ntk_tensor_data(g), &loss, X, Y, P, &err) != NTK_OK)
    return lntk_status(L, &err, 1);
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
  if (ntk_mlp_clone(&box->net, net, &err) != NTK_OK) return luaL_error(L, "%s", err.msg);
  lntk_gcstep(L, net->nparams * sizeof(double));
  return 1;
}

/* net:save(path) -> true | nil, "path: reason" */
static int mlp_save(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  const char *path = lntk_checkpath(L, 2);
  ntk_error err;
  if (ntk_mlp_save(net, path, &err) != NTK_OK) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* ntklab.mlp_load(path) -> net | nil, "path: reason" */
static int mlp_load(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  lntk_mlp *box = pushbox(L);
  ntk_error err;
  if (ntk_mlp_load(&box->net, path, &err) != NTK_OK) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, err.msg);
    return 2;
  }
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

/* net:config() -> the options that rebuild this architecture (without seed) */
static int mlp_config(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  int l;
  lua_createtable(L, 0, 7);
  push_widths(L, net);
  lua_setfield(L, -2, "widths");
  lua_createtable(L, net->depth - 1, 0);
  for (l = 0; l < net->depth - 1; l++) {
    lua_pushstring(L, ntk_activation_name(net->act[l]));
    lua_rawseti(L, -2, l + 1);
  }
  lua_setfield(L, -2, "activation");
  lua_pushboolean(L, net->bias);
  lua_setfield(L, -2, "bias");
  lua_pushstring(L, param_names[net->param]);
  lua_setfield(L, -2, "param");
  lua_createtable(L, net->depth, 0);
  for (l = 0; l < net->depth; l++) {
    lua_pushnumber(L, net->sigma[l]);
    lua_rawseti(L, -2, l + 1);
  }
  lua_setfield(L, -2, "sigma");
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
      {"release", mlp_gc},      {NULL, NULL},
  };
  luaL_newmetatable(L, LNTK_MLP_MT);
  lua_pushcfunction(L, mlp_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, mlp_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, mlp_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, mlp_new);
  lua_setfield(L, -2, "mlp");
  lua_pushcfunction(L, mlp_load);
  lua_setfield(L, -2, "mlp_load");
}
