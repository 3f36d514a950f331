/* lntk_kernel_common.h: argument helpers shared by lntk_kernel.c, lntk_regress.c and
 * lntk_metrics.c (private to these three files). */
#ifndef LNTK_KERNEL_COMMON_H
#define LNTK_KERNEL_COMMON_H

#include "lntk.h"

/* The contiguous data of tensor argument idx. A non-contiguous view is copied into a new tensor
 * userdata pushed on the stack (the collector owns it, so a later error leaks nothing); a
 * contiguous one pushes nothing. */
static inline const double *lntk_kc_data(lua_State *L, int idx, ntk_tensor *t) {
  ntk_error err;
  ntk_tensor *c;
  (void)idx;
  if (ntk_tensor_is_contiguous(t)) return ntk_tensor_data(t);
  c = lntk_pushtensor(L);
  if (ntk_tensor_init_copy(c, t, &err) != NTK_OK) luaL_error(L, "%s", err.msg);
  lntk_gcstep(L, ntk_tensor_numel(c) * sizeof(double));
  return ntk_tensor_data(c);
}

/* Checks that argument idx is a non-empty square 2-D tensor; returns its size. */
static inline size_t lntk_kc_square(lua_State *L, int idx, ntk_tensor *t) {
  if (t->ndim != 2 || t->shape[0] != t->shape[1] || t->shape[0] == 0)
    lntk_shapeerror(L, idx, "square matrix", t);
  return t->shape[0];
}

#endif
