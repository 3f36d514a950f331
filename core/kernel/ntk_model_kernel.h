/* ntk_model_kernel.h: the empirical NTK of any model (ntk_model.h), from per-sample gradients.
 *
 *   K((x,k), (x',k')) = sum_j eta_j df_k(x)/dtheta_j df_k'(x')/dtheta_j        (eta = 1: the NTK;
 *                                                     eta = Adam's steps: its kernel, Eq. 91)
 *
 * Generic path: the Jacobian rows of a tile of T samples (T C x #params, ntk_model_jacobian) are
 * formed, scaled by sqrt(eta) when given, and their Gram is accumulated with syrk (diagonal tiles
 * of a symmetric kernel) or gemm (the others). Memory: two tiles, 2 T C #params doubles, plus the
 * model's caches for T samples. A symmetric kernel with n = ceil(P / T) tiles costs n (n + 1) / 2
 * tile Jacobians (each row tile is kept while the later column tiles stream by); untiled, one.
 * The per-layer split is the same Gram over each parameter group's columns (they sum to K).
 * A model with its own structured path (ops->ntk, e.g. the MLP's) is dispatched to it.
 *
 * Output layouts are those of ntk_kernel.h (full, blocks, trace, mean). */
#ifndef NTK_MODEL_KERNEL_H
#define NTK_MODEL_KERNEL_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_kernel.h"
#include "ntk_model.h"
#include "ntk_tensor.h"

/* Options of ntk_model_kernel_ntk; zeroed: the full kernel, no eta, untiled. */
typedef struct ntk_model_kernel_opts {
  ntk_kernel_output output; /* layout */
  const ntk_tensor *eta;    /* NULL, or [nparams] weights eta_j >= 0, any view (Adam's kernel,
                             * Eq. 91) */
  size_t tile;              /* samples per Jacobian tile; 0: all of them at once */
  int generic;              /* 1: the generic path even for a model with its own (for specs) */
} ntk_model_kernel_opts;

/* K <- kernel of X1 [P1 x D] and X2 [P2 x D] (X2 NULL: X1, symmetric) in opts->output layout;
 * K preallocated and contiguous. layers (NULL, or m->ngroups contiguous tensors of K's shape)
 * <- each parameter group's share. The model's forward caches are overwritten. */
int ntk_model_kernel_ntk(ntk_tensor *K, ntk_tensor *layers, ntk_model *m, const ntk_tensor *X1,
                         const ntk_tensor *X2, const ntk_model_kernel_opts *opts, ntk_error *err);

/* Explicit twin for the specs: the Jacobian of one sample at a time through the summed backward
 * pass (no per-sample GEMMs, no tiles), then K[r][s] = sum_j J1[r][j] eta_j J2[s][j] in plain
 * loops over group `group` (1-based; 0: all). Memory O((P1 + P2) C #params). */
int ntk_model_kernel_ntk_ref(ntk_tensor *K, ntk_model *m, const ntk_tensor *X1,
                             const ntk_tensor *X2, ntk_kernel_output output,
                             const ntk_tensor *eta, int group, ntk_error *err);

/* *out <- a model over the MLP net (ntk_model_mlp.c): forward, VJP and per-sample gradients are
 * the MLP's, and its `ntk` entry is the structured fast path ntk_kernel_ntk. Parameter groups are
 * the MLP's layers. own = 1: net is freed with the model (also on failure); own = 0: the caller
 * keeps net alive longer than the model. */
int ntk_model_from_mlp(ntk_model **out, ntk_mlp *net, int own, ntk_error *err);

#endif
