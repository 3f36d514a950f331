/* ntk_model.h: the model interface: what trainers, the recorder, the NTK and the Adam kernel need
 * from any network, whatever its architecture.
 *
 * A model is a flat parameter vector theta (one refcounted buffer) and a map f: R^D -> R^C applied
 * to batches (rows are samples, P x D in, P x C out). The interface has four operations, behind a
 * table of functions that an implementation fills:
 *   forward    out <- f(X), caching what the backward pass needs;
 *   backward   grad <- sum_mu dout_mu . df(x_mu)/dtheta for the last forward batch (a VJP);
 *   jacobian   per-sample gradients: row mu C + k <- df_k(x_mu)/dtheta, for a tile of samples;
 *   ntk        optional: a structured fast NTK (the MLP's per-layer Gram path); NULL means the
 *              generic path of ntk_model_kernel.h (per-sample gradients in tiles + syrk/gemm).
 * Loss and gradient (ntk_model_loss, ntk_model_loss_grad) are built once on forward + backward,
 * unless the implementation has a structured loss_grad of its own (the MLP's).
 * Parameter groups (one per weight layer) give the per-layer NTK split.
 *
 * Implementations: the layer graph ntk_net (ntk_net.h, through ntk_model_from_net) and the MLP
 * (ntk_model_from_mlp in ntk_model_kernel.h), with ntk_kernel_ntk as its fast `ntk` entry and
 * ntk_mlp_loss_grad as its `loss_grad`. Trainers (ntk_train.h) step any model. */
#ifndef NTK_MODEL_H
#define NTK_MODEL_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_net.h"
#include "ntk_tensor.h"

typedef struct ntk_model ntk_model;

/* Options of an implementation's fast NTK entry (see ntk_model_kernel.h for the meanings). */
struct ntk_model_kernel_opts;

/* The operations an implementation provides. Inputs X are views already checked as [P x D]
 * ([P] when D = 1) by the interface, in any layout; out, dout, grad, J, K and layers are
 * contiguous row-major buffers. */
typedef struct ntk_model_ops {
  const char *kind; /* "net", "mlp", ... */
  int (*forward)(void *impl, double *out, const ntk_tensor *X, ntk_error *err);
  int (*backward)(void *impl, double *grad, const double *dout, ntk_error *err);
  int (*jacobian)(void *impl, double *J, size_t ldj, const ntk_tensor *X, ntk_error *err);
  /* K (and layers, one per group) <- NTK(X1, X2) (X2 NULL: X1), or NULL: use the generic path */
  int (*ntk)(void *impl, double *K, double **layers, const ntk_tensor *X1, const ntk_tensor *X2,
             const struct ntk_model_kernel_opts *opts, ntk_error *err);
  /* *loss <- L and grad (NULL: the loss alone) <- dL/dtheta on a checked batch (Y [P x C]) by
   * a structured path (the MLP's), or NULL: forward + backward */
  int (*loss_grad)(void *impl, double *grad, double *loss, const ntk_tensor *X,
                   const ntk_tensor *Y, ntk_error *err);
  size_t (*cache_bytes)(const void *impl);
  void (*clear_caches)(void *impl); /* frees what cache_bytes counts; NULL: nothing to free */
  void (*free)(void *impl);
} ntk_model_ops;

/* Longest shape description (ntk_model.shape), with its NUL. */
#define NTK_MODEL_SHAPE_MAX 160

/* A model: the implementation (owned) and what every caller reads. */
struct ntk_model {
  const ntk_model_ops *ops;
  void *impl;             /* owned: freed through ops->free */
  size_t input_dim;       /* D */
  size_t output_dim;      /* C */
  size_t nparams;
  double *params;         /* data of `flat` */
  ntk_tensor flat;        /* 1-D [nparams] view retaining the parameter storage */
  int ngroups;            /* parameter groups (weight layers), >= 1 */
  size_t *group_off;      /* ngroups + 1 offsets into params; group g is [off[g], off[g+1]) */
  int *group_node;        /* ngroups: the implementation's name for each group (net: node) */
  /* what a trainer binds to and names in its errors: "<noun> <shape> <variant>", e.g. "widths
   * {2, 3, 1} with biases" (an MLP) or "shape [3 x 8 x 8] -> 2 (13 layers, 1234 parameters)" */
  const char *shape_noun; /* static */
  char shape[NTK_MODEL_SHAPE_MAX];
  const char *variant;    /* static; "" when the shape says everything */
  /* scratch of loss_grad (and of contiguous copies of strided output gradients), grown on
   * demand */
  double *work;
  size_t work_cap;
  /* the Jacobian tiles of ntk_model_kernel_ntk, kept between calls (grown on demand, freed with
   * the model): a recorder takes a kernel at every record, and a fresh gigabyte-sized buffer
   * per call cost ~15% of a Wide-ResNet NTK in page faults and first-touch zeroing */
  double *tiles;
  size_t tiles_cap;
};

/* *out <- a model over net, which it takes over (freed with the model, also on failure). */
int ntk_model_from_net(ntk_model **out, ntk_net *net, ntk_error *err);
/* Frees the model and its implementation; NULL is fine. Parameter views stay valid. */
void ntk_model_free(ntk_model *m);
/* The net behind m, or NULL when m is another kind. Borrowed. */
ntk_net *ntk_model_net(const ntk_model *m);

/* Checks X as a batch of m's inputs: [P x D], or [P] when D = 1 (any layout; views are passed
 * on to the implementation as they are). *P <- the rows. arg names X in errors. */
int ntk_model_check_inputs(const ntk_model *m, const ntk_tensor *X, size_t *P, int arg,
                           ntk_error *err);

/* out ([P x C], preallocated, may be NULL) <- f(X) for X [P x D] (any layout). */
int ntk_model_forward(ntk_model *m, ntk_tensor *out, const ntk_tensor *X, ntk_error *err);
/* grad ([nparams]) <- sum_mu dout_mu . df(x_mu)/dtheta for the last forward batch (dout
 * [P x C], any layout). */
int ntk_model_backward(ntk_model *m, ntk_tensor *grad, const ntk_tensor *dout, ntk_error *err);
/* *loss <- 1/(2P) sum_mu |f(x_mu) - y_mu|^2 for X [P x D], Y [P x C]. */
int ntk_model_loss(ntk_model *m, double *loss, const ntk_tensor *X, const ntk_tensor *Y,
                   ntk_error *err);
/* grad ([nparams], may be NULL) <- dL/dtheta and *loss (may be NULL) <- L: one forward and one
 * backward pass. */
int ntk_model_loss_grad(ntk_model *m, ntk_tensor *grad, double *loss, const ntk_tensor *X,
                        const ntk_tensor *Y, ntk_error *err);
/* J ([P C x nparams], preallocated, row-major with unit column stride) <- df_k(x_mu)/dtheta,
 * row mu C + k: the per-sample gradients, computed tile rows at a time (0: all at once) so that
 * the caches hold at most `tile` samples. */
int ntk_model_jacobian(ntk_model *m, ntk_tensor *J, const ntk_tensor *X, size_t tile,
                       ntk_error *err);
/* 1 when every parameter is finite. */
int ntk_model_params_finite(const ntk_model *m);
/* Bytes held by m's implementation caches and m's scratch. */
size_t ntk_model_cache_bytes(const ntk_model *m);
/* Frees them (Jacobian tiles, scratch, the implementation's activation caches): they grow again
 * on demand, with the same results; a backward pass then needs a new forward pass. */
void ntk_model_clear_caches(ntk_model *m);

#endif
