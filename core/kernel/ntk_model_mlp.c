/* ntk_model_mlp.c: the MLP behind the model interface (ntk_model.h), with its structured fast NTK
 * (ntk_kernel_ntk: per-layer Grams, no Jacobian) as the interface's `ntk` entry.
 *
 * It lives in the kernel group, not beside ntk_mlp.c, because that entry is the kernel code's:
 * the nn group never depends on the kernel group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_model_kernel.h"
#include "ntk_tensor_ops.h"

typedef struct mlp_impl {
  ntk_mlp *net;
  int own;     /* 1: freed with the model */
  double *X;   /* copy of the last forward batch (the MLP's backward pass reads its inputs) */
  size_t xcap, rows;
} mlp_impl;

static int mlp_forward(void *impl, double *out, const ntk_tensor *X, ntk_error *err) {
  mlp_impl *m = impl;
  const size_t P = X->shape[0], D = ntk_mlp_input_dim(m->net), n = P * D;
  if (n > m->xcap) {
    free(m->X);
    m->xcap = 0;
    m->X = malloc(n * sizeof *m->X);
    if (!m->X) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
    m->xcap = n;
  }
  m->rows = 0;
  if (n) { /* the backward pass reads the batch: keep it in row-major order */
    ntk_storage s;
    ntk_tensor x;
    int st;
    ntk_tensor_wrap(&x, &s, m->X, P, X->ndim == 2 ? D : 0);
    st = ntk_tensor_copy(&x, X, err);
    if (st != NTK_OK) return st;
  }
  m->rows = P;
  return ntk_mlp_forward(m->net, out, X, err);
}

static int mlp_backward(void *impl, double *grad, const double *dout, ntk_error *err) {
  mlp_impl *m = impl;
  ntk_storage xs;
  ntk_tensor x;
  ntk_tensor_wrap(&x, &xs, m->X, m->rows, ntk_mlp_input_dim(m->net));
  return ntk_mlp_backward(m->net, grad, dout, &x, err);
}

static int mlp_jacobian(void *impl, double *J, size_t ldj, const ntk_tensor *X, ntk_error *err) {
  mlp_impl *m = impl;
  const size_t np = m->net->nparams, rows = X->shape[0] * ntk_mlp_output_dim(m->net);
  size_t r;
  int st = ntk_kernel_jacobian(J, m->net, X, err);
  if (st != NTK_OK || ldj == np) return st;
  for (r = rows; r-- > 1;) memmove(J + r * ldj, J + r * np, np * sizeof *J); /* spread the rows */
  return NTK_OK;
}

static int mlp_ntk(void *impl, double *K, double **layers, const ntk_tensor *X1,
                   const ntk_tensor *X2, const ntk_model_kernel_opts *opts, ntk_error *err) {
  mlp_impl *m = impl;
  ntk_kernel_opts o;
  memset(&o, 0, sizeof o);
  o.output = opts->output;
  o.tile = opts->tile;
  o.eta = opts->eta;
  return ntk_kernel_ntk(K, layers, m->net, X1, X2, &o, err);
}

static int mlp_loss_grad(void *impl, double *grad, double *loss, const ntk_tensor *X,
                         const ntk_tensor *Y, ntk_error *err) {
  mlp_impl *m = impl;
  return grad ? ntk_mlp_loss_grad(m->net, grad, loss, X, Y, err)
              : ntk_mlp_loss(m->net, loss, X, Y, err);
}

static size_t mlp_cache_bytes(const void *impl) {
  const mlp_impl *m = impl;
  return m->xcap * sizeof(double);
}

static void mlp_free(void *impl) {
  mlp_impl *m = impl;
  if (m->own) ntk_mlp_free(m->net);
  free(m->X);
  free(m);
}

static const ntk_model_ops mlp_ops = {.kind = "mlp",
                                      .forward = mlp_forward,
                                      .backward = mlp_backward,
                                      .jacobian = mlp_jacobian,
                                      .ntk = mlp_ntk,
                                      .loss_grad = mlp_loss_grad,
                                      .cache_bytes = mlp_cache_bytes,
                                      .free = mlp_free};

int ntk_model_from_mlp(ntk_model **out, ntk_mlp *net, int own, ntk_error *err) {
  ntk_model *m = calloc(1, sizeof *m);
  mlp_impl *impl = calloc(1, sizeof *impl);
  int l;
  *out = NULL;
  if (m) {
    m->group_off = malloc(((size_t)net->depth + 1) * sizeof *m->group_off);
    m->group_node = malloc((size_t)net->depth * sizeof *m->group_node);
  }
  if (!m || !impl || !m->group_off || !m->group_node) {
    if (m) {
      free(m->group_off);
      free(m->group_node);
    }
    free(m);
    free(impl);
    if (own) ntk_mlp_free(net);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  impl->net = net;
  impl->own = own;
  m->ops = &mlp_ops;
  m->impl = impl;
  m->input_dim = ntk_mlp_input_dim(net);
  m->output_dim = ntk_mlp_output_dim(net);
  m->nparams = net->nparams;
  m->params = net->params;
  ntk_tensor_view(&m->flat, &net->flat);
  for (l = 0; l < net->depth; l++) { /* layer l: W^l then b^l, contiguous */
    m->group_off[l] = net->w_off[l];
    m->group_node[l] = l + 1;
  }
  m->group_off[net->depth] = net->nparams;
  m->ngroups = net->depth;
  m->shape_noun = "widths";
  m->variant = net->bias ? "with biases" : "without biases";
  {
    size_t used = 0;
    m->shape[0] = 0;
    for (l = 0; l <= net->depth && used < sizeof m->shape; l++) {
      int w = snprintf(m->shape + used, sizeof m->shape - used, "%s%zu%s", l ? ", " : "{",
                       net->widths[l], l == net->depth ? "}" : "");
      if (w < 0) break;
      used += (size_t)w;
    }
  }
  *out = m;
  return NTK_OK;
}
