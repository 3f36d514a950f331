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
#include "lntk.h"

/* Lua positions: every metric takes the kernel first, then targets, K0, k or tol */
enum { ARG_K = 1, ARG_2 = 2, ARG_3 = 3 };
/* core ntk_metrics_kernel_stats(out, K, Y, K0) and ntk_metrics_tensor_distance(out, A, B) */
#define STATS_ARGS LNTK_ARGS(0, ARG_K, ARG_2, ARG_3)

/* K and y are read in place (any view); the core's K, Y, K0 are arguments 2, 3, 4. */
static int l_alignment(lua_State *L) {
  static const lntk_option options[] = {LNTK_OPT("centered", LNTK_OPT_BOOLEAN), LNTK_OPT_END};
  ntk_tensor *K = lntk_checktensor(L, 1), *y = lntk_checktensor(L, 2);
  lntk_optval centered;
  ntk_kernel_stats st;
  ntk_error err;
  lntk_options(L, 3, options, &centered);
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
  ntk_kernel_stats st;
  ntk_error err;
  size_t n, i;
  double s = 0.0;
  /* the core's square check (stats without targets); the sum is the trace of the old binding,
   * in the same order, so the same bits */
  if (ntk_metrics_kernel_stats(&st, K, NULL, NULL, 0, &err) != NTK_OK)
    return lntk_result(L, &err, STATS_ARGS);
  n = K->shape[0];
  for (i = 0; i < n; i++) s += ntk_tensor_at(K, i, i);
  lua_pushnumber(L, s);
  return 1;
}

static int l_kernel_distance(lua_State *L) {
  ntk_tensor *A = lntk_checktensor(L, 1), *B = lntk_checktensor(L, 2);
  ntk_error err;
  double v;
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
  if (!lua_isnoneornil(L, 3)) {
    K0 = lntk_checktensor(L, 3);
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
  ntk_tensor *K = lntk_checktensor(L, ARG_K), *w;
  lua_Integer k = luaL_checkinteger(L, ARG_2);
  ntk_kernel_stats st;
  ntk_error err;
  size_t n;
  /* the core's square check first (its message), k's range depends on K; a square K needs no
   * pass over it here */
  if ((K->ndim != 2 || K->shape[0] != K->shape[1] || K->shape[0] == 0) &&
      ntk_metrics_kernel_stats(&st, K, NULL, NULL, 0, &err) != NTK_OK)
    return lntk_result(L, &err, STATS_ARGS);
  n = K->shape[0];
  luaL_argcheck(L, k >= 1 && (size_t)k <= n, ARG_2,
                lua_pushfstring(L, "k in [1, %I] expected, got %I", (lua_Integer)n, k));
  w = lntk_newtensor(L, 1, (size_t)k, 1);
  /* core (w, K, k) */
  if (ntk_metrics_top_eigs(ntk_tensor_data(w), K, (size_t)k, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, ARG_K, ARG_2));
  return 1;
}

static int l_effective_rank(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, ARG_K);
  ntk_error err;
  double v;
  /* core (out, K) */
  if (ntk_metrics_effective_rank(&v, K, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, ARG_K));
  lua_pushnumber(L, v);
  return 1;
}

static int l_check_psd(lua_State *L) {
  ntk_tensor *K = lntk_checktensor(L, ARG_K);
  double tol = luaL_optnumber(L, ARG_2, NTK_METRICS_PSD_TOL), lmin, lmax;
  int psd;
  ntk_error err;
  /* core (psd, lmin, lmax, K, tol) */
  if (ntk_metrics_psd(&psd, &lmin, &lmax, K, tol, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, 0, 0, ARG_K, ARG_2));
  lua_pushboolean(L, psd);
  lua_pushnumber(L, lmin);
  lua_pushnumber(L, lmax);
  return 3;
}

static int l_weight_alignment(lua_State *L) {
  ntk_tensor *W = lntk_checktensor(L, ARG_K), *B = lntk_checktensor(L, ARG_2);
  double v;
  ntk_error err;
  /* core (out, W, B) */
  if (ntk_metrics_weight_alignment(&v, W, B, &err) != NTK_OK)
    return lntk_result(L, &err, LNTK_ARGS(0, ARG_K, ARG_2));
  lua_pushnumber(L, v);
  return 1;
}

void lntk_open_metrics(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"alignment", l_alignment},     {"kernel_stats", l_kernel_stats}, {"kernel_norm", l_kernel_norm},
      {"kernel_trace", l_kernel_trace}, {"kernel_eigs", l_kernel_eigs},
      {"kernel_distance", l_kernel_distance},   {"check_psd", l_check_psd},
      {"effective_rank", l_effective_rank},     {"weight_alignment", l_weight_alignment},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Kernel metrics. K, y and K0 are read in place: any view costs no copy.
@submodule ntklab
*/

/*** Kernel-target alignment: uncentered <K, T> / (|K|_F |T|_F) with T = Y Y^T (the paper's
y^T K y / (|K|_F |y|^2)), or centered over samples per output (Cortes et al. 2012).
@function alignment
@tparam tensor K [P x P], or the (P C) x (P C) sample-major full kernel (target vec(Y) vec(Y)^T)
@tparam tensor y targets [P] or [P x C]
@tparam[opt] table opts
@options l_alignment
@opt centered center K and T over samples first
@treturn number the alignment, in [-1, 1]
@treturn string "uncentered" or "centered"
*/

/*** The Frobenius norm |K|_F.
@function kernel_norm
@tparam tensor K
@treturn number
*/

/*** The trace tr K.
@function kernel_trace
@tparam tensor K square
@treturn number
*/

/*** The kernel distance 1 - <K1, K2> / (|K1|_F |K2|_F), in [0, 2].
@function kernel_distance
@tparam tensor K1
@tparam tensor K2 K1's shape
@treturn number
*/

/*** Norm, trace, alignments (and the distance to K0) from one pass over K.
@function kernel_stats
@tparam tensor K [P x P]
@tparam tensor y [P] or [P x C]
@tparam[opt] tensor K0 K's shape
@treturn table {norm, trace, alignment, alignment_centered, distance (with K0)}
*/

/*** The k largest eigenvalues of a symmetric K, descending.
@function kernel_eigs
@tparam tensor K
@int k 1 <= k <= P
@treturn tensor [k]
*/

/*** The participation ratio (tr K)^2 / |K|_F^2, in [1, P].
@function effective_rank
@tparam tensor K
@treturn number
*/

/*** Whether symmetric K is positive semi-definite: lambda_min >= -tol lambda_max.
(ntklab.psd_check, its old name, stays until 0.2.)
@function check_psd
@tparam tensor K
@number[opt=1e-10] tol
@treturn bool ok
@treturn number lambda_min
@treturn number lambda_max
*/

/*** cos(W^T W, beta^T beta): how the first layer's weights align with a teacher's direction(s).
@function weight_alignment
@tparam tensor W [N x D]
@tparam tensor beta [D] or [r x D]
@treturn number
*/
