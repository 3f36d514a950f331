/* lntk_train.c: the trainer userdata and its constructors in ntklab.train:
 *   gd{lr}, flow{method = "rk4", dt}, flow{method = "rk45", rtol, atol, h0}, sgd{lr, batch,
 *   momentum, seed}, adam{lr, beta1, beta2, eps}; every one also takes max_loss_ratio (default
 *   1e6, math.huge: no bound).
 * All share one interface: tr:step(net, X, Y),
 * tr:run(net, X, Y, {t, steps, observe, observer, t_final}),
 * the fields tr.t, tr.steps, tr.evals, tr.rejected, tr.loss, tr.method, tr:effective_lr(net),
 * tr:reset(), tr:settings(). The step loop of run is C: Lua is entered only at observations.
 * net is any model: an ntklab.mlp (stepped through the model interface over it, with its
 * structured gradient) or an ntklab.model (a Wide-ResNet, any layer graph). */
#include <math.h>
#include <string.h>

#include "lntk.h"
#include "lntk_model.h"

typedef struct lntk_trainer {
  ntk_trainer tr;
  int live;             /* 0 once released */
  ntk_model *mlp_model; /* the model interface over the MLP in user value 1 (NULL: none yet);
                         * kept across calls, so a step allocates nothing */
} lntk_trainer;

/* The MLP's model is rebuilt when another MLP comes: user value 1 holds the one it wraps (which
 * keeps that MLP alive, so its identity cannot be taken by a new one). */
static ntk_model *mlp_model(lua_State *L, lntk_trainer *t, int tri, int idx) {
  ntk_mlp *net = lntk_checkmlp(L, idx);
  ntk_error err;
  int same;
  lua_getiuservalue(L, tri, 1);
  same = t->mlp_model && lua_rawequal(L, -1, idx);
  lua_pop(L, 1);
  if (same) return t->mlp_model;
  ntk_model_free(t->mlp_model);
  t->mlp_model = NULL;
  if (ntk_model_from_mlp(&t->mlp_model, net, 0, &err) != NTK_OK) lntk_raise(L, &err, NULL);
  lua_pushvalue(L, idx);
  lua_setiuservalue(L, tri, 1);
  return t->mlp_model;
}

/* The model at idx for the trainer at tri: an ntklab.model, or an ntklab.mlp behind the model
 * interface. */
static ntk_model *checkmodel(lua_State *L, int tri, int idx) {
  lntk_trainer *t = luaL_checkudata(L, tri, LNTK_TRAINER_MT);
  if (luaL_testudata(L, idx, LNTK_MODEL_MT)) return lntk_checkmodel(L, idx);
  if (luaL_testudata(L, idx, LNTK_MLP_MT)) return mlp_model(L, t, tri, idx);
  luaL_typeerror(L, idx, "ntklab.mlp or ntklab.model");
  return NULL;
}

static ntk_trainer *checktrainer(lua_State *L, int idx) {
  lntk_trainer *t = luaL_checkudata(L, idx, LNTK_TRAINER_MT);
  if (!t->live) lntk_released(L, "trainer");
  return &t->tr;
}

/* Builds the trainer userdata from cfg (options already checked by the constructor). */
static int push_trainer(lua_State *L, const ntk_train_config *cfg) {
  ntk_error err;
  lntk_trainer *t = lua_newuserdatauv(L, sizeof *t, 1); /* user value 1: the MLP of mlp_model */
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, LNTK_TRAINER_MT);
  /* core ntk_train_init(tr, cfg): the config is the option table */
  if (ntk_train_init(&t->tr, cfg, &err) != NTK_OK) return lntk_result(L, &err, LNTK_ARGS(1, 1));
  t->live = 1;
  return 1;
}

/* Lua position of every constructor's option table */
enum { ARG_OPTS = 1 };

/* Every constructor's table: the method's own options, then max_loss_ratio, which every method
 * takes. */
#define MAX_LOSS_RATIO LNTK_OPT("max_loss_ratio", LNTK_OPT_NUMBER)
#define NUMBER(key) LNTK_OPT(key, LNTK_OPT_NUMBER)
#define LR LNTK_OPT("lr", LNTK_OPT_NUMBER, .required = 1)

/* Reads the option table against options (whose last entry is max_loss_ratio) into o and starts
 * cfg from the method's defaults. */
static void read_config(lua_State *L, ntk_train_method method, const lntk_option *options,
                        lntk_optval *o, ntk_train_config *cfg) {
  int n = 0;
  lntk_options(L, ARG_OPTS, options, o);
  ntk_train_config_default(cfg, method);
  while (options[n + 1].key) n++;
  if (o[n].present) cfg->max_loss_ratio = o[n].num;
}

/* *field <- the option's value when it was given (the method's default otherwise). */
static void set_given(double *field, const lntk_optval *v) {
  if (v->present) *field = v->num;
}

/* ntklab.train.gd{lr} */
static int train_gd(lua_State *L) {
  static const lntk_option options[] = {LR, MAX_LOSS_RATIO, LNTK_OPT_END};
  lntk_optval o[2];
  ntk_train_config cfg;
  read_config(L, NTK_TRAIN_GD, options, o, &cfg);
  cfg.lr = o[0].num;
  return push_trainer(L, &cfg);
}

static const char *const flow_methods[] = {"rk4", "rk45", NULL};

/* ntklab.train.flow{method = "rk45" (default) | "rk4", dt (rk4), rtol, atol, h0 (rk45)} */
static int train_flow(lua_State *L) {
  enum { METHOD, DT, RTOL, ATOL, H0, N = 6 };
  static const lntk_option options[] = {
      LNTK_OPT("method", LNTK_OPT_CHOICE, .def = 1, .choices = flow_methods),
      NUMBER("dt"), NUMBER("rtol"), NUMBER("atol"), NUMBER("h0"), MAX_LOSS_RATIO, LNTK_OPT_END,
  };
  lntk_optval o[N];
  ntk_train_config cfg;
  int rk4;
  lntk_options(L, ARG_OPTS, options, o);
  rk4 = o[METHOD].choice == 0;
  read_config(L, rk4 ? NTK_TRAIN_RK4 : NTK_TRAIN_RK45, options, o, &cfg);
  if (rk4) {
    if (o[RTOL].present || o[ATOL].present)
      luaL_argerror(L, ARG_OPTS, "options 'rtol' and 'atol' belong to method 'rk45', not 'rk4'");
    if (!o[DT].present) lntk_opterror(L, ARG_OPTS, "dt", "number expected, got nil");
    cfg.dt = o[DT].num;
  } else {
    if (o[DT].present)
      luaL_argerror(L, ARG_OPTS, "option 'dt' belongs to method 'rk4' (rk45 chooses its own steps)");
    set_given(&cfg.rtol, &o[RTOL]);
    set_given(&cfg.atol, &o[ATOL]);
    set_given(&cfg.h0, &o[H0]);
  }
  return push_trainer(L, &cfg);
}

/* ntklab.train.sgd{lr, batch = 0 (full), momentum = 0, seed = 0} */
static int train_sgd(lua_State *L) {
  enum { BATCH = 1, MOMENTUM, SEED, N = 5 };
  static const lntk_option options[] = {
      LR, LNTK_OPT("batch", LNTK_OPT_INTEGER), NUMBER("momentum"),
      LNTK_OPT("seed", LNTK_OPT_INTEGER), MAX_LOSS_RATIO, LNTK_OPT_END,
  };
  lntk_optval o[N];
  ntk_train_config cfg;
  read_config(L, NTK_TRAIN_SGD, options, o, &cfg);
  if (o[BATCH].integer < 0)
    lntk_opterror(L, ARG_OPTS, "batch",
                  lua_pushfstring(L, "size >= 0 expected, got %I", o[BATCH].integer));
  cfg.lr = o[0].num;
  cfg.batch = (size_t)o[BATCH].integer;
  cfg.momentum = o[MOMENTUM].num;
  cfg.seed = (uint64_t)o[SEED].integer;
  return push_trainer(L, &cfg);
}

/* ntklab.train.adam{lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8} */
static int train_adam(lua_State *L) {
  static const lntk_option options[] = {
      LR, NUMBER("beta1"), NUMBER("beta2"), NUMBER("eps"), MAX_LOSS_RATIO, LNTK_OPT_END,
  };
  lntk_optval o[5];
  ntk_train_config cfg;
  read_config(L, NTK_TRAIN_ADAM, options, o, &cfg);
  cfg.lr = o[0].num;
  set_given(&cfg.beta1, &o[1]);
  set_given(&cfg.beta2, &o[2]);
  set_given(&cfg.eps, &o[3]);
  return push_trainer(L, &cfg);
}

static int trainer_gc(lua_State *L) {
  lntk_trainer *t = luaL_checkudata(L, 1, LNTK_TRAINER_MT);
  ntk_train_release(&t->tr);
  ntk_model_free(t->mlp_model);
  t->mlp_model = NULL;
  t->live = 0;
  return 0;
}

/* Checks (net, X, Y) at args 2..4 through the core's check (positions given outright). */
static void check_problem(lua_State *L, ntk_model **net, ntk_tensor **X, ntk_tensor **Y) {
  ntk_error err;
  *net = checkmodel(L, 1, 2);
  *X = lntk_checktensor(L, 3);
  *Y = lntk_checktensor(L, 4);
  if (ntk_train_check_data(*net, *X, *Y, 3, 4, &err) != NTK_OK) lntk_result(L, &err, NULL);
}

/* Raises for any failure of a step: misuse as a bad argument (the core counts the trainer as
 * argument 1, as Lua does), divergence (a non-finite or exploding loss, a step-size underflow) as
 * a plain error that names step, t and the settings: a diverged run is the caller's to fix, not a
 * value to test. */
static int step_failed(lua_State *L, const ntk_error *err) { return lntk_raise(L, err, NULL); }

/* tr:step(net, X, Y) -> the loss where the step started (sgd: of its minibatch). Each call
 * starts afresh (rk45: 7 gradient evaluations, no FSAL reuse across calls), since the caller may
 * have changed the parameters or the data in between; run reuses it within the call. */
static int trainer_step(lua_State *L) {
  ntk_trainer *tr = checktrainer(L, 1);
  ntk_model *net;
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
  checkmodel(L, 1, 2);
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
  enum { ARG_RUN_OPTS = 5 };
  enum { T, STEPS, OBSERVE, OBSERVER, T_FINAL, N };
  static const lntk_option options[] = {
      LNTK_OPT("t", LNTK_OPT_NUMBER),
      LNTK_OPT("steps", LNTK_OPT_INTEGER),
      LNTK_OPT("observe", LNTK_OPT_TABLE, .what = "table of times"),
      LNTK_OPT("observer", LNTK_OPT_ANY), /* a function, checked with observe */
      LNTK_OPT("t_final", LNTK_OPT_NUMBER),
      LNTK_OPT_END,
  };
  ntk_trainer *tr = checktrainer(L, 1);
  ntk_model *net;
  ntk_tensor *X, *Y;
  lntk_optval o[N];
  size_t max_steps = SIZE_MAX, nobs = 0, k;
  double t_end = INFINITY, t_final, prev;
  int fn = 0, obs = 0, stopped = 0;
  ntk_error err;
  lua_settop(L, ARG_RUN_OPTS);
  check_problem(L, &net, &X, &Y);
  luaL_checktype(L, ARG_RUN_OPTS, LUA_TTABLE);
  lntk_options(L, ARG_RUN_OPTS, options, o);
  if (!o[T].present && !o[STEPS].present)
    return luaL_argerror(L, ARG_RUN_OPTS, "option 't' or 'steps' expected");
  if (o[T].present) {
    t_end = o[T].num;
    if (!isfinite(t_end) || t_end < tr->t)
      return lntk_opterror(L, ARG_RUN_OPTS, "t",
                           lua_pushfstring(L, "finite time >= the current t = %f expected, got %f",
                                           tr->t, t_end));
  }
  /* with an observer the run is one interval of a longer training: no bound unless named */
  t_final = o[T_FINAL].present ? o[T_FINAL].num : o[OBSERVER].present ? INFINITY : t_end;
  if (!(t_final >= t_end))
    return lntk_opterror(L, ARG_RUN_OPTS, "t_final",
                         lua_pushfstring(L, "time >= t = %f expected, got %f", t_end, t_final));
  if (o[STEPS].present) {
    lua_Integer n = o[STEPS].integer;
    if (n < 0)
      return lntk_opterror(L, ARG_RUN_OPTS, "steps",
                           lua_pushfstring(L, "count >= 0 expected, got %I", n));
    max_steps = (size_t)n > SIZE_MAX - tr->steps ? SIZE_MAX : tr->steps + (size_t)n;
  }
  if (o[OBSERVE].present) {
    obs = o[OBSERVE].idx;
    nobs = (size_t)lua_rawlen(L, obs);
    prev = tr->t;
    for (k = 1; k <= nobs; k++) {
      double tk;
      if (lua_rawgeti(L, obs, (lua_Integer)k) != LUA_TNUMBER)
        return lntk_opterror(L, ARG_RUN_OPTS, "observe",
                             lua_pushfstring(L, "number expected at [%I]", (lua_Integer)k));
      tk = lua_tonumber(L, -1);
      lua_pop(L, 1);
      if (!(tk >= prev) || !isfinite(tk) || tk > t_end)
        return lntk_opterror(L, ARG_RUN_OPTS, "observe",
                             lua_pushfstring(L, "ascending times in [t, T] expected, got %f at [%I]",
                                             tk, (lua_Integer)k));
      prev = tk;
    }
    if (lua_type(L, o[OBSERVER].idx) != LUA_TFUNCTION)
      return lntk_opterror(L, ARG_RUN_OPTS, "observer", "function expected with 'observe'");
    fn = o[OBSERVER].idx;
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
  ntk_model *net = checkmodel(L, 1, 2);
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
  /* core (out, tr, n): n is the net's parameter count */
  if (ntk_train_effective_lr(ntk_tensor_data(out), tr, net->nparams, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(3, 1, 2));
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

/* The counters as read-only fields (tr.t, tr.steps, tr.evals, tr.rejected, tr.loss, tr.method);
 * the class's __index finds the methods first, so release resolves on a released trainer. */
static int trainer_fields(lua_State *L) {
  lntk_trainer *box = luaL_checkudata(L, 1, LNTK_TRAINER_MT);
  ntk_trainer *tr = &box->tr;
  const char *key = lua_tostring(L, 2);
  if (key) {
    if (!box->live) return lntk_released(L, "trainer");
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
      {"step", trainer_step},   {"run", trainer_run},           {"reset", trainer_reset},
      {"settings", trainer_settings}, {"effective_lr", trainer_effective_lr}, {NULL, NULL},
  };
  static const luaL_Reg meta[] = {{"__tostring", trainer_tostring}, {NULL, NULL}};
  static const lntk_class trainer = {LNTK_TRAINER_MT, trainer_gc, meta, methods, trainer_fields,
                                     NULL};
  static const luaL_Reg ctors[] = {
      {"gd", train_gd},     {"flow", train_flow}, {"sgd", train_sgd},
      {"adam", train_adam}, {NULL, NULL},
  };
  lntk_newclass(L, &trainer);
  luaL_newlib(L, ctors);
  lua_setfield(L, -2, "train");
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Trainers. Every trainer minimizes L = 1/(2P) sum_mu |f(x_mu) - y_mu|^2, and its time t is
that of gradient flow dtheta/dt = -lr dL/dtheta: for the discrete methods (gd, sgd, adam) t =
lr x steps; for the flows t is the integration time (lr = 1). Fields: tr.t, tr.steps, tr.evals
(gradient evaluations), tr.rejected (rk45), tr.loss (the latest step's starting loss; NaN before
the first step and after reset), tr.method.
A trainer binds to the shape of the first net it steps; another shape raises until tr:reset().
@module ntklab.train
*/

/*** Full-batch gradient descent, theta <- theta - lr dL/dtheta; t = lr x steps.
@function gd
@tparam table opts
@options train_gd
@opt lr the learning rate, > 0
@opt max_loss_ratio divergence bound: a loss above this times the initial loss raises (default
  1e6; math.huge turns it off)
@treturn trainer
*/

/*** Gradient flow by Runge-Kutta: rk45 (Dormand-Prince, adaptive, hits observation times
exactly) or rk4 (fixed step dt).
@function flow
@tparam table opts
@options train_flow
@opt method the integrator
@opt dt rk4's step (required with rk4)
@opt rtol rk45's relative tolerance (default 1e-6)
@opt atol rk45's absolute tolerance (default 1e-9)
@opt h0 rk45's first step (default: chosen from the gradient)
@opt max_loss_ratio divergence bound, as for gd
@treturn trainer
@raise rtol or atol with rk4, dt with rk45
*/

/*** Minibatch stochastic gradient descent with momentum; t = lr x steps.
@function sgd
@tparam table opts
@options train_sgd
@opt lr the learning rate, > 0
@opt batch the minibatch size (default 0: the full batch)
@opt momentum heavy-ball momentum (default 0)
@opt seed seed of the minibatch order (default 0)
@opt max_loss_ratio divergence bound, as for gd
@treturn trainer
*/

/*** Adam (Kingma and Ba); t = lr x steps.
@function adam
@tparam table opts
@options train_adam
@opt lr the learning rate, > 0
@opt beta1 first-moment decay (default 0.9)
@opt beta2 second-moment decay (default 0.999)
@opt eps added to sqrt(v_hat) (default 1e-8)
@opt max_loss_ratio divergence bound, as for gd
@treturn trainer
*/

/*** A trainer made by ntklab.train.gd, flow, sgd or adam (trainer:run is in module ntklab).
@type trainer
*/

/*** Trains net on (X, Y) up to time t or for a number of steps, calling observer at the observation
times. t is the time of gradient flow: for the discrete methods (gd, sgd, adam) t = lr x steps
(rk4: dt x steps), so {t = 1000} at lr = 1e-3 is 10^6 steps. A run that would take max_steps
steps or more fails before its first step (rk45, whose steps are not known in advance, fails when
it reaches max_steps - 1 steps short of t). Observation times that the run cannot reach raise: past
t, or past the end its steps set (at the start when the end is known, else after the run); an
observer that ends the run leaves the later times unobserved.
@function trainer:run
@tparam mlp net the network, trained in place
@tparam tensor X inputs, [P x D]
@tparam tensor Y targets, [P] or [P x C]
@tparam table opts
@options trainer_run
@opt t the end time (flows hit it exactly; discrete methods stop at the first step with t >= T)
@opt steps the number of steps (one of t and steps is required; with both, whichever ends first)
@opt observe ascending observation times
@opt observer function(t, step, loss, net), called at each observation time; returning true ends
  the run there
@opt t_final the end of the whole training this call is part of (bounds a discrete step's length)
@tparam[opt=1000000] int opts.max_steps the run must take fewer steps than this (raise it for a
longer run; checked in lua/ntklab/init.lua, where run is wrapped)
@tparam[opt] table opts.progress a reporter (ntklab.output.progress) told of every observation and of
the end (lua/ntklab/init.lua)
@treturn number the loss at the end
@raise a run of max_steps steps or more, "option 't': t = 1000 at lr = 0.001 takes 1000000 steps
(t = lr x steps), max_steps = 1000000 allows fewer; raise max_steps to run it"; an observation time
the run cannot reach; divergence (a non-finite loss, a loss above max_loss_ratio times the initial one, a step longer than the run), naming the step, t and the settings
@usage local flow = ntklab.train.flow{method = "rk45"}
flow:run(net, X, Y, {t = 20, observe = {0, 5, 10, 20}, observer = print})
*/

/*** One step from the current point (each call starts afresh: the caller may have changed the
parameters or the data).
@function trainer:step
@tparam mlp net
@tparam tensor X [P x D]
@tparam tensor Y [P] or [P x C]
@treturn number the loss where the step started (sgd: of its minibatch)
@raise divergence, as for run
*/

/*** Forgets the bound net's shape, the momenta and Adam's moments, and the counters.
@function trainer:reset
@treturn trainer itself
*/

/*** The method and its settings.
@function trainer:settings
@treturn table {method = "gd" | "rk4" | "rk45" | "sgd" | "adam", and the method's options}
*/

/*** The per-parameter effective step: Adam lr / (sqrt(v_hat_j) + eps), lr for the others; the
eta of Adam's kernel (ntklab.ntk{eta = ...}, Eq. 91). Before Adam's first step it is lr / eps.
@function trainer:effective_lr
@tparam mlp net
@tparam[opt] tensor out [nparams]
@treturn tensor [nparams]
*/

/*** Frees the trainer's state now (also __gc and __close).
@function trainer:release
*/
