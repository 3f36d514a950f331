/* lntk_train.c: the trainer userdata and its constructors in ntklab.train:
 *   gd{lr}, flow{method = "rk4", dt}, flow{method = "rk45", rtol, atol, h0}, sgd{lr, batch,
 *   momentum, seed}, adam{lr, beta1, beta2, eps}; every one also takes max_loss_ratio (default
 *   1e6, math.huge: no bound).
 * All share one interface: tr:step(net, X, Y),
 * tr:run(net, X, Y, {t, steps, observe, observer, t_final}),
 * the fields tr.t, tr.steps, tr.evals, tr.rejected, tr.loss, tr.method, tr:effective_lr(net),
 * tr:reset(), tr:settings(). The step loop of run is C: Lua is entered only at observations. */
#include <math.h>
#include <string.h>

#include "lntk.h"

typedef struct lntk_trainer {
  ntk_trainer tr;
  int live; /* 0 once released */
} lntk_trainer;

static ntk_trainer *checktrainer(lua_State *L, int idx) {
  lntk_trainer *t = luaL_checkudata(L, idx, LNTK_TRAINER_MT);
  if (!t->live) luaL_error(L, "attempt to use a released trainer");
  return &t->tr;
}

/* Builds the trainer userdata from cfg (options already checked by the constructor). */
static int push_trainer(lua_State *L, const ntk_train_config *cfg) {
  ntk_error err;
  lntk_trainer *t = lua_newuserdatauv(L, sizeof *t, 0);
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, LNTK_TRAINER_MT);
  if (ntk_train_init(&t->tr, cfg, &err) != NTK_OK) return lntk_status(L, &err, 0);
  t->live = 1;
  return 1;
}

/* cfg->max_loss_ratio <- the option of that name (every constructor takes it). */
static void loss_ratio_option(lua_State *L, ntk_train_config *cfg) {
  cfg->max_loss_ratio = lntk_optfield_number(L, 1, "max_loss_ratio", cfg->max_loss_ratio);
}

/* Required positive number option. */
static double required_number(lua_State *L, const char *key) {
  if (lua_getfield(L, 1, key) != LUA_TNUMBER)
    luaL_argerror(
        L, 1,
        lua_pushfstring(L, "option '%s': number expected, got %s", key, luaL_typename(L, -1)));
  {
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
  }
}

/* ntklab.train.gd{lr} */
static int train_gd(lua_State *L) {
  static const char *const allowed[] = {"lr", "max_loss_ratio", NULL};
  ntk_train_config cfg;
  lntk_checkoptions(L, 1, allowed);
  ntk_train_config_default(&cfg, NTK_TRAIN_GD);
  cfg.lr = required_number(L, "lr");
  loss_ratio_option(L, &cfg);
  return push_trainer(L, &cfg);
}

/* ntklab.train.flow{method = "rk45" (default) | "rk4", dt (rk4), rtol, atol, h0 (rk45)} */
static int train_flow(lua_State *L) {
  static const char *const allowed[] = {"method", "dt", "rtol", "atol", "h0", "max_loss_ratio",
                                        NULL};
  ntk_train_config cfg;
  const char *method = "rk45";
  lntk_checkoptions(L, 1, allowed);
  if (lua_getfield(L, 1, "method") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(
          L, 1,
          lua_pushfstring(L, "option 'method': string expected, got %s", luaL_typename(L, -1)));
    method = lua_tostring(L, -1);
  }
  if (strcmp(method, "rk4") == 0) {
    ntk_train_config_default(&cfg, NTK_TRAIN_RK4);
    lua_getfield(L, 1, "rtol");
    lua_getfield(L, 1, "atol");
    if (!lua_isnil(L, -1) || !lua_isnil(L, -2))
      luaL_argerror(L, 1, "options 'rtol' and 'atol' belong to method 'rk45', not 'rk4'");
    cfg.dt = required_number(L, "dt");
  } else if (strcmp(method, "rk45") == 0) {
    ntk_train_config_default(&cfg, NTK_TRAIN_RK45);
    lua_getfield(L, 1, "dt");
    if (!lua_isnil(L, -1))
      luaL_argerror(L, 1, "option 'dt' belongs to method 'rk4' (rk45 chooses its own steps)");
    cfg.rtol = lntk_optfield_number(L, 1, "rtol", cfg.rtol);
    cfg.atol = lntk_optfield_number(L, 1, "atol", cfg.atol);
    cfg.h0 = lntk_optfield_number(L, 1, "h0", 0.0);
  } else {
    return luaL_argerror(L, 1,
                         lua_pushfstring(L,
                                         "option 'method': 'rk4' or 'rk45' expected, "
                                         "got '%s'",
                                         method));
  }
  loss_ratio_option(L, &cfg);
  return push_trainer(L, &cfg);
}

/* ntklab.train.sgd{lr, batch = 0 (full), momentum = 0, seed = 0} */
static int train_sgd(lua_State *L) {
  static const char *const allowed[] = {"lr", "batch", "momentum", "seed", "max_loss_ratio", NULL};
  ntk_train_config cfg;
  lua_Integer batch;
  lntk_checkoptions(L, 1, allowed);
  ntk_train_config_default(&cfg, NTK_TRAIN_SGD);
  cfg.lr = required_number(L, "lr");
  batch = lntk_optfield_integer(L, 1, "batch", 0);
  if (batch < 0)
    luaL_argerror(L, 1, lua_pushfstring(L, "option 'batch': size >= 0 expected, got %I", batch));
  cfg.batch = (size_t)batch;
  cfg.momentum = lntk_optfield_number(L, 1, "momentum", 0.0);
  cfg.seed = (uint64_t)lntk_optfield_integer(L, 1, "seed", 0);
  loss_ratio_option(L, &cfg);
  return push_trainer(L, &cfg);
}

/* ntklab.train.adam{lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8} */
static int train_adam(lua_State *L) {
  static const char *const allowed[] = {"lr", "beta1", "beta2", "eps", "max_loss_ratio", NULL};
  ntk_train_config cfg;
  lntk_checkoptions(L, 1, allowed);
  ntk_train_config_default(&cfg, NTK_TRAIN_ADAM);
  cfg.lr = required_number(L, "lr");
  cfg.beta1 = lntk_optfield_number(L, 1, "beta1", cfg.beta1);
  cfg.beta2 = lntk_optfield_number(L, 1, "beta2", cfg.beta2);
  cfg.eps = lntk_optfield_number(L, 1, "eps", cfg.eps);
  loss_ratio_option(L, &cfg);
  return push_trainer(L, &cfg);
}

static int trainer_gc(lua_State *L) {
  lntk_trainer *t = luaL_checkudata(L, 1, LNTK_TRAINER_MT);
  ntk_train_release(&t->tr);
  t->live = 0;
  return 0;
}

/* Checks (net, X, Y) at args 2..4 through the core's check (positions given outright). */
static void check_problem(lua_State *L, ntk_mlp **net, ntk_tensor **X, ntk_tensor **Y) {
  ntk_error err;
  *net = lntk_checkmlp(L, 2);
  *X = lntk_checktensor(L, 3);
  *Y = lntk_checktensor(L, 4);
  if (ntk_mlp_check_inputs(*net, *X, *Y, 3, 4, &err) != NTK_OK) lntk_result(L, &err, NULL);
}

/* Raises for any failure of a step: misuse as a bad argument, a non-finite loss or parameters
 * (and a step-size underflow) as a plain error that names step, t and the settings. */
static int step_failed(lua_State *L, const ntk_error *err) {
  if (err->status < 0) return lntk_status(L, err, 0); /* err->arg counts the trainer as 1 */
  return luaL_error(L, "%s", err->msg);
}

/* tr:step(net, X, Y) -> the loss where the step started (sgd: of its minibatch). Each call
 * starts afresh (rk45: 7 gradient evaluations, no FSAL reuse across calls), since the caller may
 * have changed the parameters or the data in between; run reuses it within the call. */
static int trainer_step(lua_State *L) {
  ntk_trainer *tr = checktrainer(L, 1);
  ntk_mlp *net;
  ntk_tensor *X, *Y;
  ntk_error err;
  lua_settop(L, 4);
  check_problem(L, &net, &X, &Y);
  /* the caller may have changed the parameters or the data since the last step */
  ntk_train_invalidate(tr);
  if (ntk_train_step(tr, net, X, Y, INFINITY, &err) != NTK_OK) return step_failed(L, &err);
  lua_pushnumber(L, tr->loss);
  return 1;
}

/* Calls observer(t, step, loss, net) at the current point (ntk_train_run left its loss, checked,
 * in tr->loss_end); returns 1 when the observer returned true (end the run here). */
static int observe(lua_State *L, ntk_trainer *tr, int fn) {
  int stop;
  lua_pushvalue(L, fn);
  lua_pushnumber(L, tr->t);
  lua_pushinteger(L, (lua_Integer)tr->steps);
  lua_pushnumber(L, tr->loss_end);
  lua_pushvalue(L, 2);
  lua_call(L, 4, 1);
  stop = lua_toboolean(L, -1);
  lua_pop(L, 1);
  /* The observer may have changed the parameters (FSAL is stale) or released the trainer or the
   * net (raise before touching them again). X and Y stay valid: run holds views of them. */
  checktrainer(L, 1);
  lntk_checkmlp(L, 2);
  ntk_train_invalidate(tr);
  return stop;
}

/* tr:run(net, X, Y, {t = T, steps = N, observe = {t1, t2, ...}, observer = fn, t_final = Tf})
 * -> loss at the end. Stops at t = T (flows: exactly) or after N more steps, whichever comes
 * first; at least one of them is required. The observer is called at each observation time
 * (discrete methods: at the first step with t >= t_k, so a step that passes several times is
 * observed once per time), with the trainer's actual t; when it returns true the run ends there
 * (this is the one observation schedule: ntklab.recorder and ntklab.pathkernel only receive its
 * calls). Tf >= T is the end of the whole training this call is a part of: a discrete step
 * longer than Tf that lands past it is an error. It defaults to T, except with an observer: a
 * step may pass early observation times by design, so the caller names its end with t_final
 * (without it, no bound; ntklab.recorder's run passes its last record time). Divergence raises
 * before any observer sees the diverged point. */
static int trainer_run(lua_State *L) {
  static const char *const allowed[] = {"t", "steps", "observe", "observer", "t_final", NULL};
  ntk_trainer *tr = checktrainer(L, 1);
  ntk_mlp *net;
  ntk_tensor *X, *Y;
  size_t max_steps = SIZE_MAX, nobs = 0, k;
  double t_end = INFINITY, t_final, prev;
  int has_t, has_steps, fn = 0, obs = 0, stopped = 0;
  ntk_error err;
  lua_settop(L, 5);
  check_problem(L, &net, &X, &Y);
  lntk_checkoptions(L, 5, allowed);
  has_t = lua_getfield(L, 5, "t") != LUA_TNIL;
  lua_pop(L, 1);
  has_steps = lua_getfield(L, 5, "steps") != LUA_TNIL;
  lua_pop(L, 1);
  if (!has_t && !has_steps) return luaL_argerror(L, 5, "option 't' or 'steps' expected");
  if (has_t) {
    t_end = lntk_optfield_number(L, 5, "t", 0.0);
    if (!isfinite(t_end) || t_end < tr->t)
      return luaL_argerror(L, 5,
                           lua_pushfstring(L,
                                           "option 't': finite time >= the current t = "
                                           "%f expected, got %f",
                                           tr->t, t_end));
  }
  lua_getfield(L, 5, "observer");
  t_final = lntk_optfield_number(L, 5, "t_final", lua_isnil(L, -1) ? t_end : INFINITY);
  lua_pop(L, 1);
  if (!(t_final >= t_end))
    return luaL_argerror(L, 5,
                         lua_pushfstring(L, "option 't_final': time >= t = %f expected, got %f",
                                         t_end, t_final));
  if (has_steps) {
    lua_Integer n = lntk_optfield_integer(L, 5, "steps", 0);
    if (n < 0)
      return luaL_argerror(L, 5,
                           lua_pushfstring(L, "option 'steps': count >= 0 expected, got %I", n));
    max_steps = (size_t)n > SIZE_MAX - tr->steps ? SIZE_MAX : tr->steps + (size_t)n;
  }
  if (lua_getfield(L, 5, "observe") != LUA_TNIL) {
    if (!lua_istable(L, -1))
      return luaL_argerror(L, 5,
                           lua_pushfstring(L,
                                           "option 'observe': table of times expected, "
                                           "got %s",
                                           luaL_typename(L, -1)));
    obs = lua_gettop(L);
    nobs = (size_t)lua_rawlen(L, obs);
    prev = tr->t;
    for (k = 1; k <= nobs; k++) {
      double tk;
      if (lua_rawgeti(L, obs, (lua_Integer)k) != LUA_TNUMBER)
        return luaL_argerror(
            L, 5, lua_pushfstring(L, "option 'observe': number expected at [%I]", (lua_Integer)k));
      tk = lua_tonumber(L, -1);
      lua_pop(L, 1);
      if (!(tk >= prev) || !isfinite(tk) || tk > t_end)
        return luaL_argerror(L, 5,
                             lua_pushfstring(L,
                                             "option 'observe': ascending times in "
                                             "[t, T] expected, got %f at [%I]",
                                             tk, (lua_Integer)k));
      prev = tk;
    }
    if (lua_getfield(L, 5, "observer") != LUA_TFUNCTION)
      return luaL_argerror(L, 5, "option 'observer': function expected with 'observe'");
    fn = lua_gettop(L);
  }
  if (fn) {
    /* views retain the data's storage even if the observer releases X or Y */
    ntk_tensor *xv = lntk_pushtensor(L), *yv = lntk_pushtensor(L);
    ntk_tensor_view(xv, X);
    ntk_tensor_view(yv, Y);
    X = xv;
    Y = yv;
  }
  ntk_train_invalidate(tr);
  for (k = 1; k <= nobs; k++) {
    double tk;
    lua_rawgeti(L, obs, (lua_Integer)k);
    tk = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (ntk_train_run(tr, net, X, Y, tk, max_steps, &err) != NTK_OK ||
        ntk_train_check_end(tr, t_final, &err) != NTK_OK)
      return step_failed(L, &err);
    /* out of steps before this observation */
    if (tr->steps >= max_steps && !ntk_train_reached(tr, tk)) break;
    if ((stopped = observe(L, tr, fn)) != 0) break;
  }
  if (!stopped && (ntk_train_run(tr, net, X, Y, t_end, max_steps, &err) != NTK_OK ||
                   ntk_train_check_end(tr, t_final, &err) != NTK_OK))
    return step_failed(L, &err);
  lua_pushnumber(L, tr->loss_end);
  return 1;
}

/* tr:effective_lr(net [, out]) -> per-parameter effective step (Adam: lr / (sqrt(v_hat) + eps)) */
static int trainer_effective_lr(lua_State *L) {
  ntk_trainer *tr = checktrainer(L, 1);
  ntk_mlp *net = lntk_checkmlp(L, 2);
  ntk_tensor *out;
  ntk_error err;
  if (tr->n != 0 && tr->n != net->nparams)
    return luaL_argerror(L, 2,
                         lua_pushfstring(L,
                                         "net with %I parameters expected (the "
                                         "trainer's), got %I",
                                         (lua_Integer)tr->n, (lua_Integer)net->nparams));
  if (lua_isnoneornil(L, 3)) {
    out = lntk_newtensor(L, 1, net->nparams, 1);
  } else {
    out = lntk_checktensor(L, 3);
    if (out->ndim != 1 || out->shape[0] != net->nparams || !ntk_tensor_is_contiguous(out)) {
      char expected[64];
      snprintf(expected, sizeof expected, "contiguous [%zu]", net->nparams);
      return lntk_shapeerror(L, 3, expected, out);
    }
    lua_pushvalue(L, 3);
  }
  if (ntk_train_effective_lr(ntk_tensor_data(out), tr, net->nparams, &err) != NTK_OK)
    return lntk_status(L, &err, 1);
  return 1;
}

static int trainer_reset(lua_State *L) {
  ntk_train_reset(checktrainer(L, 1));
  lua_settop(L, 1);
  return 1;
}

/* tr:settings() -> {method = ..., and the method's options} */
static int trainer_settings(lua_State *L) {
  ntk_trainer *tr = checktrainer(L, 1);
  const ntk_train_config *c = &tr->cfg;
  lua_createtable(L, 0, 6);
  lua_pushstring(L, ntk_train_method_name(c->method));
  lua_setfield(L, -2, "method");
  lua_pushnumber(L, c->max_loss_ratio);
  lua_setfield(L, -2, "max_loss_ratio");
#define SETNUM(name)          \
  lua_pushnumber(L, c->name); \
  lua_setfield(L, -2, #name)
  switch (c->method) {
    case NTK_TRAIN_GD:
      SETNUM(lr);
      break;
    case NTK_TRAIN_RK4:
      SETNUM(dt);
      break;
    case NTK_TRAIN_RK45:
      SETNUM(rtol);
      SETNUM(atol);
      SETNUM(h0);
      break;
    case NTK_TRAIN_SGD:
      SETNUM(lr);
      SETNUM(momentum);
      lua_pushinteger(L, (lua_Integer)c->batch);
      lua_setfield(L, -2, "batch");
      lua_pushinteger(L, (lua_Integer)c->seed);
      lua_setfield(L, -2, "seed");
      break;
    case NTK_TRAIN_ADAM:
      SETNUM(lr);
      SETNUM(beta1);
      SETNUM(beta2);
      SETNUM(eps);
      break;
  }
#undef SETNUM
  return 1;
}

static int trainer_tostring(lua_State *L) {
  lntk_trainer *t = luaL_checkudata(L, 1, LNTK_TRAINER_MT);
  char desc[200];
  if (!t->live) {
    lua_pushstring(L, "ntklab.trainer (released)");
    return 1;
  }
  lua_pushfstring(L, "ntklab.train.%s at t = %f, step %I",
                  ntk_train_describe(&t->tr, desc, sizeof desc), t->tr.t, (lua_Integer)t->tr.steps);
  return 1;
}

/* __index: the counters as fields (tr.t, tr.steps, tr.evals, tr.rejected, tr.loss, tr.method),
 * then the methods (upvalue 1). */
static int trainer_index(lua_State *L) {
  lntk_trainer *box = luaL_checkudata(L, 1, LNTK_TRAINER_MT);
  ntk_trainer *tr = &box->tr;
  const char *key = lua_tostring(L, 2);
  /* methods resolve on released trainers too (release is idempotent; the others raise) */
  lua_pushvalue(L, 2);
  if (lua_gettable(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  if (key) {
    if (!box->live) return luaL_error(L, "attempt to use a released trainer");
    if (strcmp(key, "t") == 0) return lua_pushnumber(L, tr->t), 1;
    if (strcmp(key, "steps") == 0) return lua_pushinteger(L, (lua_Integer)tr->steps), 1;
    if (strcmp(key, "evals") == 0) return lua_pushinteger(L, (lua_Integer)tr->evals), 1;
    if (strcmp(key, "rejected") == 0) return lua_pushinteger(L, (lua_Integer)tr->rejected), 1;
    if (strcmp(key, "loss") == 0) return lua_pushnumber(L, tr->loss), 1;
    if (strcmp(key, "method") == 0)
      return lua_pushstring(L, ntk_train_method_name(tr->cfg.method)), 1;
  }
  lua_pushnil(L);
  return 1;
}

void lntk_open_train(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"step", trainer_step},
      {"run", trainer_run},
      {"effective_lr", trainer_effective_lr},
      {"reset", trainer_reset},
      {"settings", trainer_settings},
      {"release", trainer_gc},
      {NULL, NULL},
  };
  static const luaL_Reg ctors[] = {
      {"gd", train_gd},     {"flow", train_flow}, {"sgd", train_sgd},
      {"adam", train_adam}, {NULL, NULL},
  };
  luaL_newmetatable(L, LNTK_TRAINER_MT);
  lua_pushcfunction(L, trainer_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, trainer_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, trainer_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, methods);
  /* __index is a function (it also serves the read-only fields t, steps, ...); the method
   * table stays reachable as __methods for Lua-side extensions and introspection. */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__methods");
  lua_pushcclosure(L, trainer_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, ctors);
  lua_setfield(L, -2, "train");
}
