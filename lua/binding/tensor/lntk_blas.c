/* lntk_blas.c: matrix products (gemm, gemv, syrk, ger) as module functions and methods.
 *
 * ntklab.matmul(a, b [, out]) = a:matmul(b [, out]): 2-D @ 2-D, 2-D @ 1-D, 1-D @ 2-D. With
 * `out` the product is written into that tensor (of the result's shape) and out is returned,
 * so loops can reuse one buffer instead of allocating a result per call. Views and transposes
 * go to BLAS without copies (see ntk_blas.h). */
#include "lntk.h"

static ntk_tensor *check_tensor_arg(lua_State *L, int arg) {
  if (!lntk_istensor(L, arg)) luaL_typeerror(L, arg, "tensor");
  return lntk_checktensor(L, arg);
}

/* matmul(a, b [, out]) */
static int blas_matmul(lua_State *L) {
  ntk_tensor *a = check_tensor_arg(L, 1);
  ntk_tensor *b = check_tensor_arg(L, 2);
  ntk_error err;
  if (!lua_isnoneornil(L, 3)) {
    ntk_tensor *out = check_tensor_arg(L, 3);
    if (ntk_blas_matmul_into(out, a, b, &err) != NTK_OK)
      return lntk_result(L, &err, LNTK_ARGS(3, 1, 2)); /* core (C, A, B) */
    lua_settop(L, 3);
    return 1;
  } else {
    ntk_tensor *c = lntk_pushtensor(L);
    if (ntk_blas_matmul(c, a, b, &err) != NTK_OK) return lntk_result(L, &err, LNTK_ARGS(0, 1, 2));
    lntk_gcstep(L, ntk_tensor_numel(c) * sizeof(double));
    return 1;
  }
}

/* gram(a [, out]) = a a^T through syrk, both triangles filled */
static int blas_gram(lua_State *L) {
  ntk_tensor *a = check_tensor_arg(L, 1);
  ntk_error err;
  if (a->ndim != 2) return lntk_shapeerror(L, 1, "2-D tensor", a);
  if (!lua_isnoneornil(L, 2)) {
    ntk_tensor *out = check_tensor_arg(L, 2);
    if (ntk_blas_gram_into(out, a, &err) != NTK_OK)
      return lntk_result(L, &err, LNTK_ARGS(2, 1)); /* core (C, A) */
    lua_settop(L, 2);
    return 1;
  } else {
    ntk_tensor *c = lntk_pushtensor(L);
    if (ntk_blas_gram(c, a, &err) != NTK_OK) return lntk_result(L, &err, LNTK_ARGS(1, 1));
    lntk_gcstep(L, ntk_tensor_numel(c) * sizeof(double));
    return 1;
  }
}

/* outer(x, y) = x y^T, fresh */
static int blas_outer(lua_State *L) {
  ntk_tensor *x = check_tensor_arg(L, 1);
  ntk_tensor *y = check_tensor_arg(L, 2);
  ntk_tensor *c;
  ntk_error err;
  if (x->ndim != 1) return lntk_shapeerror(L, 1, "1-D tensor", x);
  if (y->ndim != 1) return lntk_shapeerror(L, 2, "1-D tensor", y);
  c = lntk_pushtensor(L);
  if (ntk_blas_outer(c, x, y, &err) != NTK_OK) return lntk_result(L, &err, LNTK_ARGS(0, 1, 2));
  lntk_gcstep(L, ntk_tensor_numel(c) * sizeof(double));
  return 1;
}

/* The in-place updates dst <- alpha op(a, b) + beta dst with Lua arguments
 * (dst, alpha, a, b, beta), in the core's order so err->arg is the Lua position; returns dst. */
typedef int (*inplace_update)(ntk_tensor *dst, double alpha, const ntk_tensor *a,
                              const ntk_tensor *b, double beta, ntk_error *err);

static int update_with(lua_State *L, inplace_update update) {
  ntk_tensor *dst = check_tensor_arg(L, 1);
  double alpha = luaL_checknumber(L, 2);
  ntk_tensor *a = check_tensor_arg(L, 3);
  ntk_tensor *b = check_tensor_arg(L, 4);
  double beta = luaL_checknumber(L, 5);
  ntk_error err;
  if (update(dst, alpha, a, b, beta, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  lua_settop(L, 1);
  return 1;
}

/* gemm(C, alpha, A, B, beta): C <- alpha A B + beta C in place; returns C */
static int blas_gemm(lua_State *L) { return update_with(L, ntk_blas_gemm); }

/* gemv(y, alpha, A, x, beta): y <- alpha A x + beta y in place; returns y */
static int blas_gemv(lua_State *L) { return update_with(L, ntk_blas_gemv); }

/* ger(A, alpha, x, y): A <- A + alpha x y^T in place, in the core's order; returns A */
static int blas_ger(lua_State *L) {
  ntk_tensor *a = check_tensor_arg(L, 1);
  double alpha = luaL_checknumber(L, 2);
  ntk_tensor *x = check_tensor_arg(L, 3);
  ntk_tensor *y = check_tensor_arg(L, 4);
  ntk_error err;
  if (ntk_blas_ger(a, alpha, x, y, &err) != NTK_OK) return lntk_result(L, &err, NULL);
  lua_settop(L, 1);
  return 1;
}

void lntk_open_blas(lua_State *L) {
  /* the first two are also tensor methods (a:matmul(b), a:gram()) */
  static const luaL_Reg funcs[] = {{"matmul", blas_matmul}, {"gram", blas_gram}, {NULL, NULL},
                                   {"outer", blas_outer},   {"gemm", blas_gemm}, {"gemv", blas_gemv},
                                   {"ger", blas_ger},       {NULL, NULL}};
  const luaL_Reg *methods = funcs, *others = funcs + 3;
  luaL_setfuncs(L, methods, 0);
  luaL_setfuncs(L, others, 0);
  lntk_extendclass(L, LNTK_TENSOR_MT, methods);
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Matrix products (BLAS). Views and transposes reach BLAS without copies.
@submodule ntklab
*/

/*** The matrix product a @ b: 2-D @ 2-D, 2-D @ 1-D or 1-D @ 2-D (also a:matmul(b [, out])).
@function matmul
@tparam tensor a
@tparam tensor b
@tparam[opt] tensor out written with the product (the result's shape) and returned: no allocation
@treturn tensor
@raise "shape mismatch: [3 x 4] @ [5 x 2], inner sizes 4 ~= 5"
*/

/*** a a^T through syrk, both triangles filled (also a:gram([out])).
@function gram
@tparam tensor a [m x n]
@tparam[opt] tensor out [m x m]
@treturn tensor [m x m]
*/

/*** The outer product x y^T of two 1-D tensors, fresh.
@function outer
@tparam tensor x [m]
@tparam tensor y [n]
@treturn tensor [m x n]
*/

/*** C <- alpha A B + beta C, in place.
@function gemm
@tparam tensor C
@number alpha
@tparam tensor A
@tparam tensor B
@number beta
@treturn tensor C
*/

/*** y <- alpha A x + beta y, in place.
@function gemv
@tparam tensor y
@number alpha
@tparam tensor A
@tparam tensor x
@number beta
@treturn tensor y
*/

/*** A <- A + alpha x y^T, in place.
@function ger
@tparam tensor A
@number alpha
@tparam tensor x
@tparam tensor y
@treturn tensor A
*/
