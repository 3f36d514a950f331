/* lntk_model.c: the model userdata (a layer graph behind the model interface) and ntklab.model.
 *
 *   m = ntklab.model{input = {C, H, W}, layers = {...}, param = "standard" | "ntk", sigma = 1,
 *                    bias = true, bias_sigma = 0, seed = n | rng = r}
 *     layers: a list; entry i is node i (node 0 is the input), reading the previous node unless
 *     `from` says otherwise:
 *       {"conv", out = n, kernel = k | {kh, kw}, stride = 1, pad = 0 [, bias, sigma, param]}
 *       {"relu"}, {"tanh"}, ... (any activation name), or {"act", act = "relu"}
 *       {"add", from = {i, j}}  residual addition of nodes i and j (same shapes)
 *       {"pool"}                global average pooling
 *       {"dense", out = n [, bias, sigma, param]}
 *     Inputs are NHWC rows: a batch is a [P x (H W C)] tensor with channels fastest.
 *   m:forward(X [, out]) -> [P x C]; m:loss(X, Y); m:grad(X, Y) -> grad, loss;
 *   m:backward(dout) -> grad (VJP of the last forward); m:jacobian(X [, {tile = T}]) ->
 *   [(P C) x nparams]; m:params() (a view), m:group(g) (view of group g's parameters),
 *   m:groups() -> {{node =, kind =, offset =, count =}, ...}; m:nparams(), m:input_dim(),
 *   m:output_dim(), m:input_shape() -> C, H, W; m:node_shape(i) -> C, H, W; m:cache_bytes();
 *   m:clear_caches() (frees the NTK's Jacobian tiles and the other caches; they grow again);
 *   m:release() (also __gc, __close).
 *   m = ntklab.model_from_mlp(net): an MLP behind the same interface (its parameters shared, its
 *   structured NTK as the model's fast path; m:input_shape and m:node_shape do not apply). */
#include <string.h>

#include "lntk.h"
#include "lntk_model.h"

typedef struct lntk_model_box {
  ntk_model *m; /* NULL once released */
} lntk_model_box;

ntk_model *lntk_checkmodel(lua_State *L, int idx) {
  lntk_model_box *b = luaL_checkudata(L, idx, LNTK_MODEL_MT);
  if (!b->m) lntk_released(L, "model");
  return b->m;
}

/* Lua positions of the methods: m:f(X, Y, out) is (m = 1, X = 2, Y = 3, out = 4) */
enum { ARG_M = 1, ARG_X = 2, ARG_Y = 3 };
/* core ntk_model_forward(m; out = 1, X = 2): m:forward(X [, out]) */
#define FORWARD_ARGS LNTK_ARGS(3, ARG_X)
/* core ntk_model_loss(m; loss = 1, X = 2, Y = 3) */
#define LOSS_ARGS LNTK_ARGS(0, ARG_X, ARG_Y)
/* core ntk_model_loss_grad(m; grad = 1, loss = 2, X = 3, Y = 4): m:grad(X, Y [, g]) */
#define GRAD_ARGS LNTK_ARGS(4, 0, ARG_X, ARG_Y)
/* core ntk_model_backward(m; grad = 1, dout = 2): m:backward(dout) */
#define BACKWARD_ARGS LNTK_ARGS(0, 2)
/* core ntk_model_jacobian(m; J = 1, X = 2, tile = 3): m:jacobian(X [, {tile}]) */
#define JACOBIAN_ARGS LNTK_ARGS(0, ARG_X, 3)
/* the builders' core calls all concern the one option table, argument 1 */
#define BUILD_ARGS LNTK_ARGS(1, 1, 1, 1)

/* The layer entries are nested tables, not the option table of an argument: their fields are
 * read here so that every message leads with the entry ("layers[3]: ..."), which lntk_options
 * (whose messages name an argument's option) cannot do. */

/* Field `key` of the table at tbl as a size in [lo, hi]; def when absent. */
static size_t size_field(lua_State *L, int tbl, int arg, const char *where, const char *key,
                         size_t def, size_t lo, size_t hi) {
  lua_Integer v;
  int isnum;
  if (lua_getfield(L, tbl, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || v < (lua_Integer)lo || v > (lua_Integer)hi)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: '%s' integer in [%I, %I] expected, got %s", where, key,
                                  (lua_Integer)lo, (lua_Integer)hi,
                                  isnum ? lua_tostring(L, -1) : luaL_typename(L, -1)));
  lua_pop(L, 1);
  return (size_t)v;
}

static const char *const param_names[] = {"standard", "ntk", NULL};

static int enum_field(lua_State *L, int tbl, int arg, const char *where, const char *key,
                      const char *const names[], int def) {
  int i;
  if (lua_getfield(L, tbl, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  i = lua_type(L, -1) == LUA_TSTRING ? lntk_findname(names, lua_tostring(L, -1)) : -1;
  if (i >= 0) {
    lua_pop(L, 1);
    return i;
  }
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s: '%s' one of 'standard', 'ntk' expected",
                                               where, key));
}

static int bool_field(lua_State *L, int tbl, int arg, const char *where, const char *key, int def) {
  int v = def, t = lua_getfield(L, tbl, key);
  if (t == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: '%s' boolean expected, got %s", where, key,
                                          luaL_typename(L, -1)));
  lua_pop(L, 1);
  return v;
}

static double number_field(lua_State *L, int tbl, int arg, const char *where, const char *key,
                           double def) {
  double v = def;
  int t = lua_getfield(L, tbl, key);
  if (t == LUA_TNUMBER)
    v = lua_tonumber(L, -1);
  else if (t != LUA_TNIL)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: '%s' number expected, got %s", where, key,
                                          luaL_typename(L, -1)));
  lua_pop(L, 1);
  return v;
}

/* A node number as an int; values past int's range become -1 (reported as out of range). */
static int clamp_node(lua_Integer v) { return v < -1 || v > NTK_NET_MAX_LAYERS ? -1 : (int)v; }

/* Reads layer entry i (a table at the top of the stack) into l. */
static void read_layer(lua_State *L, int i, ntk_layer *l, ntk_layer_param param, double sigma,
                       int bias) {
  static const char *const keys[] = {"from", "out", "kernel", "stride", "pad", "bias", "sigma",
                                     "param", "act", NULL};
  const int t = lua_gettop(L);
  const char *kind;
  char where[48];
  ntk_activation act;
  int k;
  snprintf(where, sizeof where, "layers[%d]", i);
  memset(l, 0, sizeof *l);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int ok = lua_type(L, -2) == LUA_TNUMBER && lua_tointeger(L, -2) == 1;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (k = 0; keys[k]; k++)
        if (strcmp(keys[k], lua_tostring(L, -2)) == 0) ok = 1;
    if (!ok)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s: invalid field '%s'", where,
                                          lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                                         : "(not a name)"));
    lua_pop(L, 1);
  }
  if (lua_rawgeti(L, t, 1) != LUA_TSTRING)
    luaL_argerror(L, 1, lua_pushfstring(L, "%s: layer kind (string) expected at [1], got %s",
                                        where, luaL_typename(L, -1)));
  kind = lua_tostring(L, -1);
  lua_pop(L, 1);
  l->in[0] = i - 1;
  l->in[1] = -1;
  l->param = (ntk_layer_param)enum_field(L, t, 1, where, "param", param_names, (int)param);
  l->sigma = number_field(L, t, 1, where, "sigma", sigma);
  l->bias = bool_field(L, t, 1, where, "bias", bias);
  if (strcmp(kind, "conv") == 0) {
    l->kind = NTK_LAYER_CONV;
    l->out = size_field(L, t, 1, where, "out", 0, 1, NTK_LAYER_MAX_DIM);
    if (l->out == 0) luaL_argerror(L, 1, lua_pushfstring(L, "%s: conv needs 'out'", where));
    if (lua_getfield(L, t, "kernel") == LUA_TTABLE) {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1) || lua_tointeger(L, -2) < 1 ||
          lua_tointeger(L, -1) < 1 || lua_tointeger(L, -2) > 4096 || lua_tointeger(L, -1) > 4096)
        luaL_argerror(L, 1, lua_pushfstring(L, "%s: 'kernel' {kh, kw} of integers in [1, 4096] "
                                               "expected", where));
      l->kh = (size_t)lua_tointeger(L, -2);
      l->kw = (size_t)lua_tointeger(L, -1);
      lua_pop(L, 3);
    } else {
      lua_pop(L, 1);
      l->kh = l->kw = size_field(L, t, 1, where, "kernel", 0, 1, 4096);
      if (l->kh == 0) luaL_argerror(L, 1, lua_pushfstring(L, "%s: conv needs 'kernel'", where));
    }
    l->stride = size_field(L, t, 1, where, "stride", 1, 1, 4096);
    l->pad = size_field(L, t, 1, where, "pad", 0, 0, 4096);
  } else if (strcmp(kind, "dense") == 0) {
    l->kind = NTK_LAYER_DENSE;
    l->out = size_field(L, t, 1, where, "out", 0, 1, NTK_LAYER_MAX_DIM);
    if (l->out == 0) luaL_argerror(L, 1, lua_pushfstring(L, "%s: dense needs 'out'", where));
  } else if (strcmp(kind, "add") == 0) {
    l->kind = NTK_LAYER_ADD;
  } else if (strcmp(kind, "pool") == 0) {
    l->kind = NTK_LAYER_POOL;
  } else if (strcmp(kind, "act") == 0 || ntk_activation_from_name(kind, &act)) {
    l->kind = NTK_LAYER_ACT;
    if (strcmp(kind, "act") == 0) {
      if (lua_getfield(L, t, "act") != LUA_TSTRING ||
          !ntk_activation_from_name(lua_tostring(L, -1), &act))
        luaL_argerror(L, 1, lua_pushfstring(L, "%s: 'act' activation name expected", where));
      lua_pop(L, 1);
    }
    l->act = act;
  } else {
    luaL_argerror(L, 1, lua_pushfstring(L, "%s: unknown layer kind '%s' (conv, dense, add, pool, "
                                           "act or an activation name)", where, kind));
  }
  /* from: a node, or {i, j} for add */
  switch (lua_getfield(L, t, "from")) {
    case LUA_TNIL:
      if (l->kind == NTK_LAYER_ADD)
        luaL_argerror(L, 1, lua_pushfstring(L, "%s: add needs 'from = {i, j}'", where));
      break;
    case LUA_TNUMBER:
      if (l->kind == NTK_LAYER_ADD || !lua_isinteger(L, -1))
        luaL_argerror(L, 1, lua_pushfstring(L, "%s: 'from' %s expected", where,
                                            l->kind == NTK_LAYER_ADD ? "{i, j}" : "integer node"));
      l->in[0] = clamp_node(lua_tointeger(L, -1));
      break;
    case LUA_TTABLE:
      if (l->kind != NTK_LAYER_ADD || lua_rawlen(L, -1) != 2)
        luaL_argerror(L, 1, lua_pushfstring(L, "%s: 'from' table only for add, as {i, j}", where));
      for (k = 0; k < 2; k++) {
        lua_rawgeti(L, -1, k + 1);
        if (!lua_isinteger(L, -1))
          luaL_argerror(L, 1, lua_pushfstring(L, "%s: 'from' {i, j} of integers expected", where));
        l->in[k] = clamp_node(lua_tointeger(L, -1));
        lua_pop(L, 1);
      }
      break;
    default:
      luaL_argerror(L, 1, lua_pushfstring(L, "%s: 'from' node expected, got %s", where,
                                          luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
}

enum { NEW_INPUT, NEW_LAYERS, NEW_PARAM, NEW_SIGMA, NEW_BIAS, NEW_BIAS_SIGMA, NEW_SEED, NEW_RNG,
       NEW_NOPTS };
static const lntk_option new_options[] = {
    LNTK_OPT("input", LNTK_OPT_TABLE, .required = 1, .what = "{C, H, W}"),
    LNTK_OPT("layers", LNTK_OPT_TABLE, .required = 1, .what = "list of layers"),
    LNTK_OPT("param", LNTK_OPT_CHOICE, .def = NTK_LAYER_STANDARD, .choices = param_names),
    LNTK_OPT("sigma", LNTK_OPT_NUMBER, .def = 1.0),
    LNTK_OPT("bias", LNTK_OPT_BOOLEAN, .def = 1),
    LNTK_OPT("bias_sigma", LNTK_OPT_NUMBER, .def = 0.0),
    LNTK_OPT("seed", LNTK_OPT_INTEGER),
    LNTK_OPT("rng", LNTK_OPT_OBJECT, .mt = LNTK_RNG_MT, .what = "ntklab.rng"),
    LNTK_OPT_END,
};

/* opts.input: {C, H, W} of integers in [1, NTK_LAYER_MAX_DIM] */
static ntk_shape opt_input(lua_State *L, int idx) {
  ntk_shape in = {0, 0, 0};
  size_t v[3];
  int i;
  if (lua_rawlen(L, idx) != 3) lntk_opterror(L, 1, "input", "{C, H, W} expected");
  for (i = 0; i < 3; i++) {
    lua_Integer x;
    lua_rawgeti(L, idx, i + 1);
    x = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    if (x < 1 || x > (lua_Integer)NTK_LAYER_MAX_DIM)
      lntk_opterror(L, 1, "input", "{C, H, W} of integers >= 1 expected");
    v[i] = (size_t)x;
    lua_pop(L, 1);
  }
  in.c = v[0];
  in.h = v[1];
  in.w = v[2];
  return in;
}

static int model_new(lua_State *L) {
  lntk_optval o[NEW_NOPTS];
  ntk_shape in;
  ntk_rng own, *rng = &own;
  ntk_layer *layers;
  ntk_net *net = NULL;
  lntk_model_box *box;
  ntk_error err;
  int n, i, st, list;
  luaL_checktype(L, 1, LUA_TTABLE);
  lntk_options(L, 1, new_options, o);
  in = opt_input(L, o[NEW_INPUT].idx);
  if (o[NEW_SEED].present == o[NEW_RNG].present)
    luaL_argerror(L, 1, "exactly one of the options 'seed' and 'rng' expected");
  if (o[NEW_RNG].present)
    rng = lua_touserdata(L, o[NEW_RNG].idx);
  else
    ntk_rng_seed(&own, (uint64_t)o[NEW_SEED].integer);
  list = o[NEW_LAYERS].idx;
  n = (int)lua_rawlen(L, list);
  if (n < 1 || n > NTK_NET_MAX_LAYERS)
    lntk_opterror(L, 1, "layers", lua_pushfstring(L, "1 to %d layers expected, got %d",
                                                  NTK_NET_MAX_LAYERS, n));
  /* every entry is read (and may raise) before anything is allocated; a userdata holds them */
  layers = lua_newuserdatauv(L, (size_t)n * sizeof *layers, 0);
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, list, i) != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "layers[%d]: table expected, got %s", i,
                                          luaL_typename(L, -1)));
    read_layer(L, i, &layers[i - 1], (ntk_layer_param)o[NEW_PARAM].choice, o[NEW_SIGMA].num,
               o[NEW_BIAS].boolean);
    lua_pop(L, 1);
  }
  box = lntk_newobject(L, sizeof *box, LNTK_MODEL_MT);
  st = ntk_net_new(&net, in, &err);
  if (st != NTK_OK) return lntk_result(L, &err, BUILD_ARGS);
  for (i = 0; i < n; i++) {
    st = ntk_net_add(net, &layers[i], NULL, &err);
    if (st != NTK_OK) { /* the entry's index leads the message, misuse or not */
      char lead[32];
      size_t lead_n = (size_t)snprintf(lead, sizeof lead, "layers[%d]: ", i + 1);
      size_t keep = strlen(err.msg) < sizeof err.msg - 1 - lead_n ? strlen(err.msg)
                                                             : sizeof err.msg - 1 - lead_n;
      ntk_net_free(net);
      memmove(err.msg + lead_n, err.msg, keep); /* cut to the core's message length */
      memcpy(err.msg, lead, lead_n);
      err.msg[lead_n + keep] = '\0';
      return lntk_result(L, &err, BUILD_ARGS);
    }
  }
  st = ntk_net_init(net, rng, o[NEW_BIAS_SIGMA].num, &err);
  if (st != NTK_OK) {
    ntk_net_free(net);
    return lntk_result(L, &err, BUILD_ARGS); /* bias_sigma: the option table */
  }
  st = ntk_model_from_net(&box->m, net, &err); /* takes net, also on failure */
  if (st != NTK_OK) return lntk_result(L, &err, BUILD_ARGS);
  lntk_gcstep(L, box->m->nparams * sizeof(double));
  return 1;
}

/* ntklab.model_from_mlp(net): the MLP behind the model interface, sharing its parameters; its
 * NTK entry is the MLP's structured fast path. The model keeps net alive (user value 1). */
static int model_from_mlp(lua_State *L) {
  ntk_mlp *net = lntk_checkmlp(L, 1);
  lntk_model_box *box;
  ntk_error err;
  box = lua_newuserdatauv(L, sizeof *box, 1); /* user value 1 keeps net alive */
  box->m = NULL;
  luaL_setmetatable(L, LNTK_MODEL_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (ntk_model_from_mlp(&box->m, net, 0, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  return 1;
}

LNTK_RELEASE(model_gc, lntk_model_box, LNTK_MODEL_MT, m, ntk_model_free)

static int model_tostring(lua_State *L) {
  lntk_model_box *b = luaL_checkudata(L, 1, LNTK_MODEL_MT);
  if (!b->m) {
    lua_pushstring(L, "ntklab.model (released)");
  } else {
    ntk_net *net = ntk_model_net(b->m);
    lua_pushfstring(L, "ntklab.model (%s, %d layers, %I parameters, %I -> %I)", b->m->ops->kind,
                    net ? net->nlayers : 0, (lua_Integer)b->m->nparams,
                    (lua_Integer)b->m->input_dim, (lua_Integer)b->m->output_dim);
  }
  return 1;
}

/* Checks X as m's inputs before a result sized by its rows is allocated; *P <- the rows. */
static void check_inputs(lua_State *L, ntk_model *m, int idx, size_t *P) {
  ntk_error err;
  if (ntk_model_check_inputs(m, lntk_checktensor(L, idx), P, idx, &err) != NTK_OK)
    lntk_result(L, &err, NULL); /* raises: a shape is misuse */
}

/* m:forward(X [, out]) */
static int model_forward(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, ARG_M);
  ntk_tensor *X = lntk_checktensor(L, ARG_X), *out;
  ntk_error err;
  size_t P;
  if (!lua_isnoneornil(L, 3)) {
    out = lntk_checktensor(L, 3);
    lua_pushvalue(L, 3);
  } else {
    check_inputs(L, m, ARG_X, &P);
    out = lntk_newtensor(L, 2, P, m->output_dim);
  }
  if (ntk_model_forward(m, out, X, &err) != NTK_OK) return lntk_result(L, &err, FORWARD_ARGS);
  return 1;
}

/* m:loss(X, Y) */
static int model_loss(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, ARG_M);
  ntk_tensor *X = lntk_checktensor(L, ARG_X), *Y = lntk_checktensor(L, ARG_Y);
  ntk_error err;
  double loss;
  if (ntk_model_loss(m, &loss, X, Y, &err) != NTK_OK) return lntk_result(L, &err, LOSS_ARGS);
  lua_pushnumber(L, loss);
  return 1;
}

/* m:grad(X, Y [, g]) -> g, loss */
static int model_grad(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, ARG_M);
  ntk_tensor *X = lntk_checktensor(L, ARG_X), *Y = lntk_checktensor(L, ARG_Y), *g;
  ntk_error err;
  double loss;
  if (!lua_isnoneornil(L, 4)) {
    g = lntk_checktensor(L, 4);
    lua_pushvalue(L, 4);
  } else {
    g = lntk_newtensor(L, 1, m->nparams, 1);
  }
  if (ntk_model_loss_grad(m, g, &loss, X, Y, &err) != NTK_OK)
    return lntk_result(L, &err, GRAD_ARGS);
  lua_pushnumber(L, loss);
  return 2;
}

/* m:backward(dout) -> grad */
static int model_backward(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, ARG_M);
  ntk_tensor *dout = lntk_checktensor(L, 2), *g;
  ntk_error err;
  g = lntk_newtensor(L, 1, m->nparams, 1);
  if (ntk_model_backward(m, g, dout, &err) != NTK_OK) return lntk_result(L, &err, BACKWARD_ARGS);
  return 1;
}

static const lntk_option jacobian_options[] = {LNTK_OPT("tile", LNTK_OPT_INTEGER), LNTK_OPT_END};

/* m:jacobian(X [, {tile = T}]) */
static int model_jacobian(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, ARG_M);
  ntk_tensor *X = lntk_checktensor(L, ARG_X), *J;
  lntk_optval tile;
  ntk_error err;
  size_t P;
  lntk_options(L, 3, jacobian_options, &tile);
  if (tile.integer < 0)
    lntk_opterror(L, 3, "tile", lua_pushfstring(L, "integer >= 0 expected, got %I", tile.integer));
  check_inputs(L, m, ARG_X, &P);
  J = lntk_newtensor(L, 2, P * m->output_dim, m->nparams);
  if (ntk_model_jacobian(m, J, X, (size_t)tile.integer, &err) != NTK_OK)
    return lntk_result(L, &err, JACOBIAN_ARGS);
  return 1;
}

static void push_view(lua_State *L, ntk_model *m, size_t off, size_t count) {
  ntk_tensor *t = lntk_pushtensor(L);
  /* cannot fail: the range lies inside the flat parameters */
  ntk_tensor_narrow(t, &m->flat, 0, off, count ? count : 0, NULL);
}

static int model_params(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, 1);
  push_view(L, m, 0, m->nparams);
  return 1;
}

static int model_group(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, 1);
  lua_Integer g = luaL_checkinteger(L, 2);
  if (g < 1 || g > m->ngroups)
    return luaL_argerror(L, 2, lua_pushfstring(L, "group %I out of range [1, %d]", g, m->ngroups));
  push_view(L, m, m->group_off[g - 1], m->group_off[g] - m->group_off[g - 1]);
  return 1;
}

static int model_groups(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, 1);
  ntk_net *net = ntk_model_net(m);
  int g;
  lua_createtable(L, m->ngroups, 0);
  for (g = 0; g < m->ngroups; g++) {
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, m->group_node[g]);
    lua_setfield(L, -2, "node");
    lua_pushstring(L, !net ? "dense" /* an MLP layer */
                      : m->group_node[g] > 0
                          ? ntk_layer_kind_name(net->layers[m->group_node[g] - 1].kind)
                          : "none");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, (lua_Integer)m->group_off[g] + 1);
    lua_setfield(L, -2, "offset");
    lua_pushinteger(L, (lua_Integer)(m->group_off[g + 1] - m->group_off[g]));
    lua_setfield(L, -2, "count");
    lua_rawseti(L, -2, g + 1);
  }
  return 1;
}

static int push_shape(lua_State *L, ntk_shape s) {
  lua_pushinteger(L, (lua_Integer)s.c);
  lua_pushinteger(L, (lua_Integer)s.h);
  lua_pushinteger(L, (lua_Integer)s.w);
  return 3;
}

/* The layer graph behind argument 1; raises for models of other kinds (an MLP has no images). */
static ntk_net *check_net(lua_State *L) {
  ntk_model *m = lntk_checkmodel(L, 1);
  ntk_net *net = ntk_model_net(m);
  if (!net)
    luaL_argerror(L, 1, lua_pushfstring(L, "model of layers expected, got a model of kind '%s'",
                                        m->ops->kind));
  return net;
}

static int model_input_shape(lua_State *L) {
  ntk_net *net = check_net(L);
  return push_shape(L, net->input);
}

static int model_node_shape(lua_State *L) {
  ntk_net *net = check_net(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 0 || i > net->nlayers)
    return luaL_argerror(L, 2, lua_pushfstring(L, "node %I out of range [0, %d]", i, net->nlayers));
  return push_shape(L, ntk_net_node_shape(net, (int)i));
}

static int model_nparams(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lntk_checkmodel(L, 1)->nparams);
  return 1;
}
static int model_input_dim(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lntk_checkmodel(L, 1)->input_dim);
  return 1;
}
static int model_output_dim(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lntk_checkmodel(L, 1)->output_dim);
  return 1;
}
static int model_cache_bytes(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntk_model_cache_bytes(lntk_checkmodel(L, 1)));
  return 1;
}
static int model_clear_caches(lua_State *L) {
  ntk_model_clear_caches(lntk_checkmodel(L, 1));
  lua_settop(L, 1);
  return 1;
}

void lntk_open_model(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"forward", model_forward},
      {"loss", model_loss},
      {"grad", model_grad},
      {"backward", model_backward},
      {"jacobian", model_jacobian},
      {"params", model_params},
      {"group", model_group},
      {"groups", model_groups},
      {"input_shape", model_input_shape},
      {"node_shape", model_node_shape},
      {"nparams", model_nparams},
      {"input_dim", model_input_dim},
      {"output_dim", model_output_dim},
      {"cache_bytes", model_cache_bytes},
      {"clear_caches", model_clear_caches},
      {NULL, NULL},
  };
  static const luaL_Reg meta[] = {{"__tostring", model_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"model", model_new}, {"model_from_mlp", model_from_mlp}, {NULL, NULL}};
  static const lntk_class model = {LNTK_MODEL_MT, model_gc, meta, methods, NULL, funcs};
  lntk_newclass(L, &model);
  lntk_open_model_kernel(L);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Models: layer graphs (convolutions, residual additions, pooling, dense) behind one interface.
@submodule ntklab
*/

/*** Builds a model from a list of layers. Images are NHWC rows: a batch of P images C x H x W is
a [P x (H W C)] tensor with channels fastest.
@function model
@tparam table opts
@tparam table opts.input {C, H, W}
@tparam table opts.layers entry i is node i (node 0 is the input), reading node i - 1 unless
`from` says otherwise: {"conv", out = n, kernel = k | {kh, kw}, stride = 1, pad = 0 [, bias, sigma,
param]}, {"relu"} (any activation name, or {"act", act = name}), {"add", from = {i, j}},
{"pool"} (global average), {"dense", out = n [, bias, sigma, param]}
@tparam[opt="standard"] string opts.param "standard" or "ntk"
@tparam[opt=1] number opts.sigma weight scale
@tparam[opt=true] bool opts.bias
@tparam[opt=0] number opts.bias_sigma
@tparam[opt] int opts.seed or opts.rng, an ntklab.rng
@treturn model
*/

/*** An MLP behind the model interface, sharing its parameters; its structured NTK is the model's
fast path (m:input_shape and m:node_shape do not apply).
@function model_from_mlp
@tparam mlp net
@treturn model
*/

/*** A network behind the model interface (forward, VJP, per-sample gradients).
@type model
*/

/*** The outputs f(X).
@function model:forward
@tparam tensor X [P x input_dim]
@tparam[opt] tensor out [P x C]
@treturn tensor [P x C]
*/

/*** The loss 1/(2P) sum |f(x) - y|^2.
@function model:loss
@tparam tensor X
@tparam tensor Y [P] or [P x C]
@treturn number
*/

/*** The gradient dL/dtheta, flat.
@function model:grad
@tparam tensor X
@tparam tensor Y
@tparam[opt] tensor g [nparams]
@treturn tensor g
@treturn number the loss
*/

/*** The vector-Jacobian product of the last forward: dout^T df/dtheta.
@function model:backward
@tparam tensor dout [P x C]
@treturn tensor [nparams]
*/

/*** The per-sample Jacobian, [(P C) x nparams].
@function model:jacobian
@tparam tensor X
@tparam[opt] table opts {tile = T}: T samples at a time
@treturn tensor
*/

/*** All parameters, a flat view.
@function model:params
@treturn tensor
*/

/*** The parameters of group g (a weight layer), a view.
@function model:group
@int g 1..#m:groups()
@treturn tensor
*/

/*** The parameter groups.
@function model:groups
@treturn table {{node =, kind =, offset = (1-based), count =}, ...}
*/

/*** The input image shape.
@function model:input_shape
@treturn int C
@treturn int H
@treturn int W
*/

/*** The shape of node i's output.
@function model:node_shape
@int i 0..#layers
@treturn int C
@treturn int H
@treturn int W
*/

/*** The number of parameters.
@function model:nparams
@treturn int
*/

/*** The input size per sample (H W C).
@function model:input_dim
@treturn int
*/

/*** The number of outputs C.
@function model:output_dim
@treturn int
*/

/*** The bytes held by the model's caches and scratch.
@function model:cache_bytes
@treturn int
*/

/*** Frees the model's caches now (the NTK's Jacobian tiles, which `ntklab.ntk` keeps between
calls, scratch and activation caches): they grow again on demand, with the same results. A
backward pass then needs a new forward pass.
@function model:clear_caches
@treturn model the model
*/

/*** Frees the model now (also __gc and __close).
@function model:release
*/
