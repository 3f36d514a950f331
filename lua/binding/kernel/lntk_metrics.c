/* lntk_metrics.c: kernel metrics.
 *   ntklab.alignment(K, y [, {centered = false}]) -> value, "uncentered" | "centered"
 *       y: P or P x C targets; K: P x P (target Y Y^T) or (P C) x (P C) sample-major full kernel
 *       (target vec(Y) vec(Y)^T). Uncentered: <K, T>/(|K|_F |T|_F) (the paper's y^T K y /
 *       (|K|_F |y|^2)); centered: Cortes et al. 2012, both centered over samples per output.
 *   ntklab.kernel_norm(K) -> |K|_F          ntklab.kernel_trace(K) -> tr K
 *   ntklab.kernel_distance(K1, K2) -> 1 - <K1,K2>/(|K1|_F |K2|_F)
 *   ntklab.kernel_stats(K, y [, K0]) -> {norm =, trace =, alignment =, alignment_centered =,
 *       distance = (with K0)}: the above from one pass over K (and K0)
 * K, y and K0 are read in place: any view (transposed, narrowed) costs no copy.
 *   ntklab.kernel_eigs(K, k) -> tensor of the k largest eigenvalues, descending
 *   ntklab.effective_rank(K) -> (tr K)^2 / |K|_F^2 (participation ratio)
 *   ntklab.check_psd(K [, tol = 1e-10]) -> ok, lambda_min, lambda_max
 *       ok = lambda_min >= -tol * lambda_max (ntklab.psd_check, its old name, is an alias in
 *       lua/ntklab/init.lua for one release)
 *   ntklab.weight_alignment(W, beta) -> cos(W^T W, beta^T beta) for W (N x D), beta (D or r x D)
 */
#include "lntk_kernel_common.h"

/* core ntk_metrics_kernel_stats(out, K, Y, K0) and ntk_metrics_tensor_distance(out, A, B):
 * the tensors are the Lua arguments in order */
#define STATS_ARGS LNTK_ARGS(0, 1, 2, 3)

/* Checks targets y (argument yidx) against the square kernel K (argument 1): P or P x C with
 * n = P or P C. */
static void check_targets(lua_State *L, ntk_tensor *K, ntk_tensor *y, int yidx) {
  size_t n = K->shape[0], P = y->shape[0], C = y->ndim == 2 ? y->shape[1] : 1;
  (void)yidx;
  if (P == 0 || C == 0) lntk_shapeerror(L, yidx, "non-empty targets", y);
  if (n != P && n != P * C) {
    char buf[64];
    ntk_tensor_shape_str(y, buf, sizeof buf);
    luaL_argerror(L, 1, lua_pushfstring(L, "kernel of size %I matches neither P = %I nor "
                                           "P*C = %I of targets %s",
                                        (lua_Integer)n, (lua_Integer)P, (lua_Integer)(P * C),
                                        buf));
  }
}

/* K and y are read in place (any view); the core's K, Y, K0 are arguments 2, 3, 4. */
static int l_alignment(lua_State *L) {
  static const lntk_option options[] = {LNTK_OPT("centered", LNTK_OPT_BOOLEAN), LNTK_OPT_END};
  ntk_tensor *K = lntk_checktensor(L, 1), *y = lntk_checktensor(L, 2);
  lntk_optval centered;
  ntk_kernel_stats st;
  ntk_error err;
  lntk_kc_square(L, 1, K);
  lntk_options(L, 3, options, &centered);
  check_targets(L, K, y, 2);
  if (ntk_metrics_kernel_stats(&st, K, y, NULL,
                               centered.boolean ? NTK_STATS_CENTERED : NTK_STATS_ALIGNMENT,
                               &err) != NTK_OK)
    return lntk_result(L, &err, STATS_ARGS);
  lua_pushnumber(L, centered.boolean ? st.alignment_centered : st.alignment);
  lua_pushstring(L, centered.boolean ? "centered" : "uncentered");
  return 2;
}

static int l_kernel_norm(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, 1);
  lua_pushnumber(L, ntk_metrics_tensor_norm(K)); /* in place, any view */
  return 1;
}

static int l_kernel_trace(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, 1);
  size_t n = lntk_kc_square(L, 1, K), i;
  double s = 0.0;
  for (i = 0; i < n; i++) s += ntk_tensor_at(K, i, i);
  lua_pushnumber(L, s);
  return 1;
}

static int l_kernel_distance(lua_State *L) {
  ntk_tensor *A = lntk_checktensor(L, 1), *B = lntk_checktensor(L, 2);
  ntk_error err;
  double v;
  if (!ntk_tensor_same_shape(A, B)) {
    char buf[64];
    ntk_tensor_shape_str(A, buf, sizeof buf);
    return lntk_shapeerror(L, 2, lua_pushfstring(L, "shape %s", buf), B);
  }
  if (ntk_metrics_tensor_distance(&v, A, B, &err) != NTK_OK)
    return lntk_result(L, &err, STATS_ARGS);
  lua_pushnumber(L, v);
  return 1;
}

/* ntklab.kernel_stats(K, y [, K0]) -> {norm, trace, alignment, alignment_centered, distance}
 * from one pass over K (and K0); distance only with K0. */
static int l_kernel_stats(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, 1), *y = lntk_checktensor(L, 2), *K0 = NULL;
  unsigned what = NTK_STATS_ALIGNMENT | NTK_STATS_CENTERED;
  ntk_kernel_stats st;
  ntk_error err;
  lntk_kc_square(L, 1, K);
  check_targets(L, K, y, 2);
  if (!lua_isnoneornil(L, 3)) {
    K0 = lntk_checktensor(L, 3);
    if (!ntk_tensor_same_shape(K, K0)) {
      char buf[64];
      ntk_tensor_shape_str(K, buf, sizeof buf);
      return lntk_shapeerror(L, 3, lua_pushfstring(L, "shape %s (as K)", buf), K0);
    }
    what |= NTK_STATS_DISTANCE;
  }
  luaL_argcheck(L, lua_gettop(L) <= 3, 4, "no value expected (K, y [, K0])");
  if (ntk_metrics_kernel_stats(&st, K, y, K0, what, &err) != NTK_OK)
    return lntk_result(L, &err, STATS_ARGS);
  lua_createtable(L, 0, 5);
  lua_pushnumber(L, st.norm);
  lua_setfield(L, -2, "norm");
  lua_pushnumber(L, st.trace);
  lua_setfield(L, -2, "trace");
  lua_pushnumber(L, st.alignment);
  lua_setfield(L, -2, "alignment");
  lua_pushnumber(L, st.alignment_centered);
  lua_setfield(L, -2, "alignment_centered");
  if (K0) {
    lua_pushnumber(L, st.distance);
    lua_setfield(L, -2, "distance");
  }
  return 1;
}

static int l_kernel_eigs(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, 1), *w;
  size_t n = lntk_kc_square(L, 1, K);
  lua_Integer k = luaL_checkinteger(L, 2);
  const double *kd;
  ntk_error err;
  luaL_argcheck(L, k >= 1 && (size_t)k <= n, 2,
                lua_pushfstring(L, "k in [1, %I] expected, got %I", (lua_Integer)n, k));
  kd = lntk_kc_data(L, 1, K);
  w = lntk_newtensor(L, 1, (size_t)k, 1);
  /* core (w, K, n, k) */
  if (ntk_metrics_top_eigs(ntk_tensor_data(w), kd, n, (size_t)k, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, 1, 1, 2));
  return 1;
}

static int l_effective_rank(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, 1);
  size_t n = lntk_kc_square(L, 1, K);
  ntk_error err;
  double v;
  /* core (out, K, n); a zero kernel is blamed on K */
  if (ntk_metrics_effective_rank(&v, lntk_kc_data(L, 1, K), n, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(1, 1, 1));
  lua_pushnumber(L, v);
  return 1;
}

static int l_check_psd(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, 1);
  size_t n = lntk_kc_square(L, 1, K);
  double tol = luaL_optnumber(L, 2, NTK_METRICS_PSD_TOL), lmin, lmax;
  int psd;
  ntk_error err;
  luaL_argcheck(L, tol >= 0.0, 2, "tolerance >= 0 expected");
  /* core (psd, lmin, lmax, K, n, tol); a bad size is blamed on K */
  if (ntk_metrics_psd(&psd, &lmin, &lmax, lntk_kc_data(L, 1, K), n, tol, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(1, 0, 0, 1, 1, 2));
  lua_pushboolean(L, psd);
  lua_pushnumber(L, lmin);
  lua_pushnumber(L, lmax);
  return 3;
}

static int l_weight_alignment(lua_State *L) {
  ntk_tensor *W = lntk_checktensor(L, 1), *B = lntk_checktensor(L, 2);
  size_t r, D;
  double v;
  ntk_error err;
  const double *wd, *bd;
  if (W->ndim != 2 || ntk_tensor_numel(W) == 0) return lntk_shapeerror(L, 1, "N x D matrix", W);
  D = W->shape[1];
  r = B->ndim == 2 ? B->shape[0] : 1;
  if ((B->ndim == 1 ? B->shape[0] : B->shape[1]) != D || r == 0)
    return lntk_shapeerror(L, 2, lua_pushfstring(L, "[%I] or [r x %I]", (lua_Integer)D,
                                                 (lua_Integer)D), B);
  wd = lntk_kc_data(L, 1, W);
  bd = lntk_kc_data(L, 2, B);
  /* core (out, W, N, D, B, r); zero weights are blamed on W (1), a zero teacher on B (4) */
  if (ntk_metrics_weight_alignment(&v, wd, W->shape[0], D, bd, r, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(1, 1, 1, 2, 2, 2));
  lua_pushnumber(L, v);
  return 1;
}

void lntk_open_metrics(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"alignment", l_alignment},
      {"kernel_norm", l_kernel_norm},
      {"kernel_trace", l_kernel_trace},
      {"kernel_distance", l_kernel_distance},
      {"kernel_eigs", l_kernel_eigs},
      {"effective_rank", l_effective_rank},
      {"check_psd", l_check_psd},
      {"weight_alignment", l_weight_alignment},
      {"kernel_stats", l_kernel_stats},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
}
