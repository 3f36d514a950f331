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

#include "lntk.h"

#define LNTK_REGRESS_MT "ntklab.kernel_regression"

typedef struct lregress {
  ntk_regress fit;
  int vector_targets; /* y was 1-D: predictions and alpha are 1-D too */
} lregress;

static lregress *check_fit(lua_State *L, int idx) {
  lregress *r = luaL_checkudata(L, idx, LNTK_REGRESS_MT);
  if (!r->fit.alpha.storage) lntk_released(L, "kernel_regression");
  return r;
}

static int regress_gc(lua_State *L) {
  lregress *r = luaL_checkudata(L, 1, LNTK_REGRESS_MT);
  ntk_regress_release(&r->fit);
  return 0;
}

enum { OPT_K, OPT_Y, OPT_RIDGE, OPT_RCOND, NOPTS };
static const lntk_option options[] = {
    LNTK_OPT("K", LNTK_OPT_TENSOR),
    LNTK_OPT("y", LNTK_OPT_TENSOR),
    LNTK_OPT("ridge", LNTK_OPT_NUMBER, .def = 0.0),
    LNTK_OPT("rcond", LNTK_OPT_NUMBER, .def = NTK_REGRESS_RCOND),
    LNTK_OPT_END,
};

/* core ntk_regress_fit(fit, K, Y, ridge, rcond): everything is in the option table #1 */
#define FIT_ARGS LNTK_ARGS(1, 1, 1, 1, 1)

static int l_kernel_regression(lua_State *L) {
  lntk_optval o[NOPTS];
  ntk_tensor *K, *y;
  size_t P, C;
  double ridge, rcond;
  lregress *r;
  ntk_error err;
  int k;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lntk_options(L, 1, options, o);
  for (k = OPT_K; k <= OPT_Y; k++)
    if (!o[k].present)
      luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' (a tensor) is required",
                                          options[k].key));
  K = o[OPT_K].tensor;
  y = o[OPT_Y].tensor;
  ridge = o[OPT_RIDGE].num;
  rcond = o[OPT_RCOND].num;
  if (K->ndim != 2 || K->shape[0] != K->shape[1] || K->shape[0] == 0) {
    char buf[64];
    ntk_tensor_shape_str(K, buf, sizeof buf);
    return lntk_opterror(L, 1, "K", lua_pushfstring(L, "square matrix expected, got %s", buf));
  }
  P = K->shape[0];
  C = y->ndim == 2 ? y->shape[1] : 1;
  if (y->shape[0] != P || C == 0) {
    char buf[64];
    ntk_tensor_shape_str(y, buf, sizeof buf);
    return lntk_opterror(L, 1, "y", lua_pushfstring(L, "[%I] or [%I x C] expected, got %s",
                                                    (lua_Integer)P, (lua_Integer)P, buf));
  }
  if (!(ridge >= 0.0 && ridge < HUGE_VAL))
    lntk_opterror(L, 1, "ridge", lua_pushfstring(L, "finite value >= 0 expected, got %f", ridge));
  if (!(rcond >= 0.0 && rcond < 1.0))
    lntk_opterror(L, 1, "rcond", lua_pushfstring(L, "value in [0, 1) expected, got %f", rcond));
  r = lntk_newobject(L, sizeof *r, LNTK_REGRESS_MT);
  r->vector_targets = y->ndim == 1;
  if (ntk_regress_fit(&r->fit, K, y, ridge, rcond, &err) != NTK_OK)
    return lntk_result(L, &err, FIT_ARGS);
  lntk_gcstep(L, P * C * sizeof(double));
  return 1;
}

static int regress_predict(lua_State *L) {
  lregress *r = check_fit(L, 1);
  ntk_tensor *Kx = lntk_checktensor(L, 2), *out;
  size_t Q = Kx->shape[0]; /* the core checks Kx's shape; out is only as large as Kx allows */
  ntk_error err;
  out = r->vector_targets ? lntk_newtensor(L, 1, Q, 1) : lntk_newtensor(L, 2, Q, r->fit.C);
  /* core (out, fit, Kx) */
  if (ntk_regress_predict(out, &r->fit, Kx, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, 1, 2));
  return 1;
}

/* The fields of a fit (methods are found first by the class's __index). */
static int regress_fields(lua_State *L) {
  lregress *r = luaL_checkudata(L, 1, LNTK_REGRESS_MT);
  const char *k = lua_tostring(L, 2);
  if (!r->fit.alpha.storage) return lntk_released(L, "kernel_regression");
  if (!k) {
    lua_pushnil(L);
  } else if (strcmp(k, "alpha") == 0) {
    ntk_tensor *a = r->vector_targets ? lntk_newtensor(L, 1, r->fit.P, 1)
                                      : lntk_newtensor(L, 2, r->fit.P, r->fit.C);
    memcpy(ntk_tensor_data(a), ntk_tensor_data(&r->fit.alpha),
           r->fit.P * r->fit.C * sizeof(double));
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
  return 1;
}

static int regress_tostring(lua_State *L) {
  lregress *r = luaL_checkudata(L, 1, LNTK_REGRESS_MT);
  if (!r->fit.alpha.storage)
    lua_pushstring(L, "ntklab.kernel_regression (released)");
  else
    lua_pushfstring(L, "ntklab.kernel_regression (P = %I, C = %I, %s, rank %I, ridge %f)",
                    (lua_Integer)r->fit.P, (lua_Integer)r->fit.C,
                    r->fit.method == NTK_REGRESS_CHOLESKY ? "cholesky" : "eigh",
                    (lua_Integer)r->fit.rank, r->fit.ridge);
  return 1;
}

void lntk_open_regress(lua_State *L) {
  static const luaL_Reg meta[] = {{"__tostring", regress_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"predict", regress_predict}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"kernel_regression", l_kernel_regression}, {NULL, NULL}};
  static const lntk_class fit = {LNTK_REGRESS_MT, regress_gc, meta, methods, regress_fields,
                                 funcs};
  lntk_newclass(L, &fit);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Kernel regression.
@submodule ntklab
*/

/*** Fits alpha = (K + ridge I)^+ y: Cholesky when K + ridge I is positive definite with a
reciprocal condition estimate >= rcond, else the eigendecomposition pseudo-inverse keeping the
eigenvalues |w| > rcond max|w| (ridge = 0: the ridgeless, minimum-norm fit).
@function kernel_regression
@tparam table opts
@options options
@opt K [P x P] symmetric train kernel (required: a tensor)
@opt y targets [P] or [P x C] (required: a tensor)
@opt ridge ridge >= 0 added to K's diagonal
@opt rcond relative eigenvalue cutoff, in [0, 1)
@treturn kernel_regression fit, with fields alpha (a copy shaped like y), method ("cholesky" or
"eigh"), rank, ridge, rcond, cond
@return nil, msg on a numerical failure (non-finite K or y, an eigensolver failure)
*/

/*** A fitted kernel regression.
@type kernel_regression
*/

/*** Predictions Kx alpha.
@function kernel_regression:predict
@tparam tensor Kx test x train kernel [Q x P]
@treturn tensor [Q] or [Q x C], like y
*/

/*** Frees the fit now (also __gc and __close).
@function kernel_regression:release
*/
