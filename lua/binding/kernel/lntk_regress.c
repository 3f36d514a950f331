/* lntk_regress.c: kernel regression.
 *   fit = ntklab.kernel_regression{K = K, y = y [, ridge = 0] [, rcond = 1e-10]}
 *       K: P x P train kernel (symmetric); y: P or P x C targets; ridge >= 0; rcond in [0, 1).
 *       alpha = (K + ridge I)^+ y: Cholesky when K + ridge I is positive definite and its
 *       reciprocal condition estimate is >= rcond, else the eigendecomposition pseudo-inverse
 *       keeping eigenvalues |w| > rcond max|w| (ridge = 0: the ridgeless, minimum-norm fit).
 *       Numerical failure (non-finite K or y, eigensolver failure): nil, msg.
 *   fit:predict(Kx) -> Kx alpha for the Q x P test-by-train kernel (Q, or Q x C like y)
 *   fit.alpha (a copy, shaped like y), fit.method ("cholesky" | "eigh"), fit.rank, fit.ridge,
 *   fit.rcond, fit.cond (Cholesky: LAPACK's reciprocal condition estimate; eigh: smallest kept
 *   |w| over the largest). fit:release() frees it early (also __gc / __close). */
#include <math.h>
#include <string.h>

#include "lntk_kernel_common.h"

#define LNTK_REGRESS_MT "ntklab.kernel_regression"

typedef struct lregress {
  ntk_regress fit;
  int vector_targets; /* y was 1-D: predictions and alpha are 1-D too */
} lregress;

static lregress *check_fit(lua_State *L, int idx) {
  lregress *r = luaL_checkudata(L, idx, LNTK_REGRESS_MT);
  if (!r->fit.alpha) luaL_error(L, "attempt to use a released kernel_regression");
  return r;
}

static int regress_gc(lua_State *L) {
  lregress *r = luaL_checkudata(L, 1, LNTK_REGRESS_MT);
  ntk_regress_release(&r->fit);
  return 0;
}

static ntk_tensor *field_tensor(lua_State *L, int tbl, const char *key) {
  ntk_tensor *t;
  lua_getfield(L, tbl, key);
  if (lua_isnil(L, -1))
    luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s' (a tensor) is required", key));
  if (!lntk_istensor(L, -1))
    luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s': tensor expected, got %s", key,
                                          luaL_typename(L, -1)));
  t = lntk_checktensor(L, -1);
  return t; /* stays on the stack, which keeps it alive */
}

static int l_kernel_regression(lua_State *L) {
  static const char *const opts[] = {"K", "y", "ridge", "rcond", NULL};
  ntk_tensor *K, *y;
  size_t P, C;
  double ridge, rcond;
  const double *kd, *yd;
  lregress *r;
  ntk_error err;
  int kidx, yidx;
  lntk_checkoptions(L, 1, opts);
  lua_settop(L, 1);
  K = field_tensor(L, 1, "K");
  kidx = lua_gettop(L);
  y = field_tensor(L, 1, "y");
  yidx = lua_gettop(L);
  ridge = lntk_optfield_number(L, 1, "ridge", 0.0);
  rcond = lntk_optfield_number(L, 1, "rcond", NTK_REGRESS_RCOND);
  if (K->ndim != 2 || K->shape[0] != K->shape[1] || K->shape[0] == 0) {
    char buf[64];
    ntk_tensor_shape_str(K, buf, sizeof buf);
    return luaL_argerror(L, 1, lua_pushfstring(L, "option 'K': square matrix expected, got %s",
                                               buf));
  }
  P = K->shape[0];
  C = y->ndim == 2 ? y->shape[1] : 1;
  if (y->shape[0] != P || C == 0) {
    char buf[64];
    ntk_tensor_shape_str(y, buf, sizeof buf);
    return luaL_argerror(L, 1, lua_pushfstring(L, "option 'y': [%I] or [%I x C] expected, got %s",
                                               (lua_Integer)P, (lua_Integer)P, buf));
  }
  luaL_argcheck(L, ridge >= 0.0 && ridge < HUGE_VAL, 1,
                lua_pushfstring(L, "option 'ridge': finite value >= 0 expected, got %f", ridge));
  luaL_argcheck(L, rcond >= 0.0 && rcond < 1.0, 1,
                lua_pushfstring(L, "option 'rcond': value in [0, 1) expected, got %f", rcond));
  kd = lntk_kc_data(L, kidx, K);
  yd = lntk_kc_data(L, yidx, y);
  r = lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, LNTK_REGRESS_MT);
  r->vector_targets = y->ndim == 1;
  if (ntk_regress_fit(&r->fit, kd, P, yd, C, ridge, rcond, &err) != NTK_OK)
    return lntk_status(L, &err, -1);
  lntk_gcstep(L, P * C * sizeof(double));
  return 1;
}

static int regress_predict(lua_State *L) {
  lregress *r = check_fit(L, 1);
  ntk_tensor *Kx = lntk_checktensor(L, 2), *out;
  size_t Q;
  const double *kd;
  ntk_error err;
  if (Kx->ndim != 2 || Kx->shape[1] != r->fit.P || Kx->shape[0] == 0)
    return lntk_shapeerror(L, 2, lua_pushfstring(L, "[Q x %I] test-by-train kernel",
                                                 (lua_Integer)r->fit.P), Kx);
  Q = Kx->shape[0];
  kd = lntk_kc_data(L, 2, Kx);
  out = r->vector_targets ? lntk_newtensor(L, 1, Q, 1) : lntk_newtensor(L, 2, Q, r->fit.C);
  if (ntk_regress_predict(ntk_tensor_data(out), &r->fit, kd, Q, &err) != NTK_OK)
    return lntk_status(L, &err, -1);
  return 1;
}

static int regress_index(lua_State *L) {
  lregress *r = luaL_checkudata(L, 1, LNTK_REGRESS_MT);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "predict") == 0 || strcmp(k, "release") == 0) {
    luaL_getmetafield(L, 1, "__methods");
    lua_getfield(L, -1, k);
  } else {
    if (!r->fit.alpha) return luaL_error(L, "attempt to use a released kernel_regression");
    if (strcmp(k, "alpha") == 0) {
      ntk_tensor *a = r->vector_targets ? lntk_newtensor(L, 1, r->fit.P, 1)
                                        : lntk_newtensor(L, 2, r->fit.P, r->fit.C);
      memcpy(ntk_tensor_data(a), r->fit.alpha, r->fit.P * r->fit.C * sizeof(double));
    } else if (strcmp(k, "method") == 0) {
      lua_pushstring(L, r->fit.method == NTK_REGRESS_CHOLESKY ? "cholesky" : "eigh");
    } else if (strcmp(k, "rank") == 0) {
      lua_pushinteger(L, (lua_Integer)r->fit.rank);
    } else if (strcmp(k, "ridge") == 0) {
      lua_pushnumber(L, r->fit.ridge);
    } else if (strcmp(k, "rcond") == 0) {
      lua_pushnumber(L, r->fit.rcond);
    } else if (strcmp(k, "cond") == 0) {
      lua_pushnumber(L, r->fit.cond_est);
    } else {
      lua_pushnil(L);
    }
  }
  return 1;
}

static int regress_tostring(lua_State *L) {
  lregress *r = luaL_checkudata(L, 1, LNTK_REGRESS_MT);
  if (!r->fit.alpha)
    lua_pushstring(L, "ntklab.kernel_regression (released)");
  else
    lua_pushfstring(L, "ntklab.kernel_regression (P = %I, C = %I, %s, rank %I, ridge %f)",
                    (lua_Integer)r->fit.P, (lua_Integer)r->fit.C,
                    r->fit.method == NTK_REGRESS_CHOLESKY ? "cholesky" : "eigh",
                    (lua_Integer)r->fit.rank, r->fit.ridge);
  return 1;
}

void lntk_open_regress(lua_State *L) {
  static const luaL_Reg meta[] = {
      {"__gc", regress_gc},
      {"__close", regress_gc},
      {"__index", regress_index},
      {"__tostring", regress_tostring},
      {NULL, NULL},
  };
  static const luaL_Reg methods[] = {
      {"predict", regress_predict},
      {"release", regress_gc},
      {NULL, NULL},
  };
  luaL_newmetatable(L, LNTK_REGRESS_MT);
  luaL_setfuncs(L, meta, 0);
  /* __index is a function (it also serves the fields); the methods stay listable here */
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__methods");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_kernel_regression);
  lua_setfield(L, -2, "kernel_regression");
}
