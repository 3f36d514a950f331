/* lntk_linalg.c: ntklab.linalg, the factorizations and solves of ntk_linalg.h.
 *
 * Each function checks its Lua arguments, pushes zeroed result userdata, lets the core fill
 * them and translates the status (the core counts the inputs as these functions take them, so
 * no argument map is needed): misuse raises "bad argument #n to 'f' (...)", a numerical
 * failure (singular, not positive definite, NaN input, no convergence) returns nil, message.
 * The core checks every argument before it allocates and leaves failed results released, so
 * raising here never strands memory: the empty userdata are garbage for Lua to collect. */
#include "lntk.h"

/* Reads the optional option table at idx: {vectors = boolean}. Returns 1 (the default) when
 * vectors are wanted. */
static int opt_vectors(lua_State *L, int idx) {
  static const lntk_option options[] = {
      LNTK_OPT("vectors", LNTK_OPT_BOOLEAN, .def = 1),
      LNTK_OPT_END,
  };
  lntk_optval vectors;
  lntk_options(L, idx, options, &vectors);
  return vectors.boolean;
}

static void gcstep_for(lua_State *L, const ntk_tensor *a, const ntk_tensor *b,
                       const ntk_tensor *c) {
  size_t n = ntk_tensor_numel(a) + (b ? ntk_tensor_numel(b) : 0) + (c ? ntk_tensor_numel(c) : 0);
  lntk_gcstep(L, n * sizeof(double));
}

/* eigh(A [, {vectors = false}]) -> w (ascending), V with A V = V diag(w); or w alone */
static int linalg_eigh(lua_State *L) {
  const ntk_tensor *A = lntk_checktensor(L, 1);
  int vectors = opt_vectors(L, 2);
  ntk_tensor *w, *V = NULL;
  ntk_error err;
  lua_settop(L, 1);
  w = lntk_pushtensor(L);
  if (vectors) V = lntk_pushtensor(L);
  if (ntk_linalg_eigh(w, V, A, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  gcstep_for(L, w, V, NULL);
  return vectors ? 2 : 1;
}

/* eigh_top(A, k [, {vectors = false}]) -> the k largest eigenvalues (descending), V [n x k] */
static int linalg_eigh_top(lua_State *L) {
  const ntk_tensor *A = lntk_checktensor(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  int vectors = opt_vectors(L, 3);
  ntk_tensor *w, *V = NULL;
  ntk_error err;
  /* the upper bound needs A's shape, which the core checks first */
  luaL_argcheck(L, k >= 0, 2, lua_pushfstring(L, "non-negative k expected, got %I", k));
  lua_settop(L, 1);
  w = lntk_pushtensor(L);
  if (vectors) V = lntk_pushtensor(L);
  if (ntk_linalg_eigh_top(w, V, A, (size_t)k, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  gcstep_for(L, w, V, NULL);
  return vectors ? 2 : 1;
}

/* svd(A [, {vectors = false}]) -> U [m x r], s [r] (descending), Vt [r x n]; or s alone */
static int linalg_svd(lua_State *L) {
  const ntk_tensor *A = lntk_checktensor(L, 1);
  int vectors = opt_vectors(L, 2);
  ntk_tensor *U = NULL, *s, *Vt = NULL;
  ntk_error err;
  lua_settop(L, 1);
  if (vectors) U = lntk_pushtensor(L);
  s = lntk_pushtensor(L);
  if (vectors) Vt = lntk_pushtensor(L);
  if (ntk_linalg_svd(U, s, Vt, A, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  gcstep_for(L, s, U, Vt);
  return vectors ? 3 : 1;
}

typedef int (*square_solver)(ntk_tensor *X, const ntk_tensor *A, const ntk_tensor *B,
                             ntk_error *err);

static int solve_with(lua_State *L, square_solver solver) {
  const ntk_tensor *A = lntk_checktensor(L, 1);
  const ntk_tensor *B = lntk_checktensor(L, 2);
  ntk_tensor *X;
  ntk_error err;
  lua_settop(L, 2);
  X = lntk_pushtensor(L);
  if (solver(X, A, B, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  gcstep_for(L, X, NULL, NULL);
  return 1;
}

/* cholesky_solve(A, B) -> X = A^{-1} B for symmetric positive definite A; B 1-D or 2-D */
static int linalg_cholesky_solve(lua_State *L) { return solve_with(L, ntk_linalg_cholesky_solve); }

/* solve(A, B) -> X = A^{-1} B for square A (LU with pivoting); B 1-D or 2-D */
static int linalg_solve(lua_State *L) { return solve_with(L, ntk_linalg_solve); }

/* lstsq(A, B [, rcond]) -> X (minimum-norm least squares), rank; pinv(A [, rcond]) -> P = A^+
 * [n x m], rank. rcond defaults to machine precision. nin: 2 for lstsq, 1 for pinv. */
static int rank_solve(lua_State *L, int nin) {
  const ntk_tensor *A = lntk_checktensor(L, 1);
  const ntk_tensor *B = nin == 2 ? lntk_checktensor(L, 2) : NULL;
  double rcond = luaL_optnumber(L, nin + 1, -1.0);
  ntk_tensor *X;
  ntk_error err;
  size_t rank = 0;
  int st;
  lua_settop(L, nin);
  X = lntk_pushtensor(L);
  st = B ? ntk_linalg_lstsq(X, A, B, rcond, &rank, &err)
         : ntk_linalg_pinv(X, A, rcond, &rank, &err);
  if (st != NTK_OK) return lntk_result(L, &err, NULL);
  gcstep_for(L, X, NULL, NULL);
  lua_pushinteger(L, (lua_Integer)rank);
  return 2;
}

static int linalg_lstsq(lua_State *L) { return rank_solve(L, 2); }

static int linalg_pinv(lua_State *L) { return rank_solve(L, 1); }

/* check_psd(A [, rtol]) -> lambda_min when symmetric A is positive semi-definite (up to
 * rtol * max|lambda|); otherwise nil, message, lambda_min */
static int linalg_check_psd(lua_State *L) {
  const ntk_tensor *A = lntk_checktensor(L, 1);
  double rtol = luaL_optnumber(L, 2, -1.0);
  double lambda_min = 0.0;
  ntk_error err;
  int st = ntk_linalg_check_psd(&lambda_min, A, rtol, &err);
  if (st == NTK_OK) {
    lua_pushnumber(L, lambda_min);
    return 1;
  }
  if (st == NTK_ENOTPD) {
    lntk_result(L, &err, NULL);
    lua_pushnumber(L, lambda_min);
    return 3;
  }
  return lntk_result(L, &err, NULL);
}

void lntk_open_linalg(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"eigh", linalg_eigh},   {"eigh_top", linalg_eigh_top}, {"svd", linalg_svd},
      {"solve", linalg_solve}, {"cholesky_solve", linalg_cholesky_solve},
      {"lstsq", linalg_lstsq}, {"pinv", linalg_pinv},         {"check_psd", linalg_check_psd},
      {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "linalg");
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Factorizations and solves (LAPACKE). Misuse raises; a numerical failure (singular matrix,
no convergence) returns nil, msg.
@module ntklab.linalg
*/

/*** Eigendecomposition of a symmetric matrix: A V = V diag(w).
@function eigh
@tparam tensor A [n x n], symmetric
@tparam[opt] table opts
@options opt_vectors
@opt vectors also return the eigenvectors
@treturn tensor w [n], ascending
@treturn[opt] tensor V [n x n], columns the eigenvectors (with vectors = true)
*/

/*** The k largest eigenvalues of a symmetric matrix (descending), and their eigenvectors.
@function eigh_top
@tparam tensor A [n x n]
@int k
@tparam[opt] table opts {vectors = true}
@treturn tensor w [k]
@treturn[opt] tensor V [n x k]
*/

/*** Thin singular value decomposition A = U diag(s) Vt.
@function svd
@tparam tensor A [m x n]
@tparam[opt] table opts {vectors = true}
@treturn tensor U [m x r] (or s alone with vectors = false)
@treturn tensor s [r], descending
@treturn tensor Vt [r x n]
*/

/*** X = A^-1 B for symmetric positive definite A (Cholesky).
@function cholesky_solve
@tparam tensor A [n x n]
@tparam tensor B [n] or [n x k]
@treturn tensor X, B's shape
@return nil, msg when A is not positive definite
*/

/*** X = A^-1 B for square A (LU with partial pivoting).
@function solve
@tparam tensor A [n x n]
@tparam tensor B [n] or [n x k]
@treturn tensor X
@return nil, msg when A is singular
*/

/*** The minimum-norm least-squares solution of A X = B.
@function lstsq
@tparam tensor A [m x n]
@tparam tensor B [m] or [m x k]
@number[opt] rcond singular values below rcond s_max count as zero (default: machine precision)
@treturn tensor X
@treturn int rank
*/

/*** The pseudo-inverse A^+.
@function pinv
@tparam tensor A [m x n]
@number[opt] rcond as for lstsq
@treturn tensor [n x m]
@treturn int rank
*/

/*** Whether symmetric A is positive semi-definite up to rtol max|lambda|.
@function check_psd
@tparam tensor A
@number[opt] rtol
@treturn number lambda_min when A is PSD
@return nil, msg, lambda_min otherwise
*/
