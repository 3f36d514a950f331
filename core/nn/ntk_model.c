/* ntk_model.c: the model interface: argument checks once for every implementation, loss and
 * gradient on forward + backward, tiled per-sample gradients, and the layer graph's entries. */
#include "ntk_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_tensor_ops.h"

/* --- the layer graph behind the interface ------------------------------------------------- */

static int net_forward(void *impl, double *out, const ntk_tensor *X, ntk_error *err) {
  return ntk_net_forward(impl, out, X, err);
}
static int net_backward(void *impl, double *grad, const double *dout, ntk_error *err) {
  return ntk_net_backward(impl, grad, 0, dout, err);
}
static int net_jacobian(void *impl, double *J, size_t ldj, const ntk_tensor *X, ntk_error *err) {
  return ntk_net_jacobian(impl, J, ldj, X, err);
}
static size_t net_cache_bytes(const void *impl) { return ntk_net_cache_bytes(impl); }
static void net_clear_caches(void *impl) { ntk_net_clear_caches(impl); }
static void net_free(void *impl) { ntk_net_free(impl); }

/* no structured ntk (the generic tiles) and no structured loss_grad (forward + backward) */
static const ntk_model_ops net_ops = {.kind = "net",
                                      .forward = net_forward,
                                      .backward = net_backward,
                                      .jacobian = net_jacobian,
                                      .cache_bytes = net_cache_bytes,
                                      .clear_caches = net_clear_caches,
                                      .free = net_free};

int ntk_model_from_net(ntk_model **out, ntk_net *net, ntk_error *err) {
  ntk_model *m;
  int i, g = 0;
  *out = NULL;
  if (!net->ready) {
    ntk_net_free(net);
    return ntk_error_set(err, NTK_EARG, 2, "net not initialized");
  }
  m = calloc(1, sizeof *m);
  if (m) {
    m->group_off = malloc(((size_t)net->nlayers + 1) * sizeof *m->group_off);
    m->group_node = malloc(((size_t)net->nlayers + 1) * sizeof *m->group_node);
  }
  if (!m || !m->group_off || !m->group_node) {
    if (m) {
      free(m->group_off);
      free(m->group_node);
    }
    free(m);
    ntk_net_free(net);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  m->ops = &net_ops;
  m->impl = net;
  m->input_dim = ntk_net_input_dim(net);
  m->output_dim = ntk_net_output_dim(net);
  m->nparams = net->nparams;
  m->params = net->params;
  ntk_tensor_view(&m->flat, &net->flat);
  for (i = 0; i < net->nlayers; i++) {
    const ntk_layer *l = &net->layers[i];
    if (!l->nw) continue;
    m->group_off[g] = l->w_off;
    m->group_node[g] = i + 1;
    g++;
  }
  if (g == 0) { /* a parameter-free net: one empty group keeps ngroups >= 1 */
    m->group_off[0] = 0;
    m->group_node[0] = 0;
    g = 1;
  }
  m->ngroups = g;
  m->group_off[g] = m->nparams;
  m->shape_noun = "shape";
  m->variant = "";
  snprintf(m->shape, sizeof m->shape, "[%zu x %zu x %zu] -> %zu (%d layers, %zu parameters)",
           net->input.c, net->input.h, net->input.w, m->output_dim, net->nlayers, m->nparams);
  *out = m;
  return NTK_OK;
}

void ntk_model_free(ntk_model *m) {
  if (!m) return;
  if (m->ops && m->ops->free) m->ops->free(m->impl);
  ntk_tensor_release(&m->flat);
  free(m->group_off);
  free(m->group_node);
  free(m->work);
  free(m->tiles);
  free(m);
}

ntk_net *ntk_model_net(const ntk_model *m) { return m->ops == &net_ops ? m->impl : NULL; }

int ntk_model_params_finite(const ntk_model *m) {
  /* one pass: a sum is finite only if every term is (and no +Inf/-Inf pair cancels to NaN) */
  double acc = 0.0;
  size_t i;
  for (i = 0; i < m->nparams; i++) acc += m->params[i] * 0.0;
  return acc == 0.0;
}

size_t ntk_model_cache_bytes(const ntk_model *m) {
  size_t b = (m->work_cap + m->tiles_cap) * sizeof(double);
  return b + (m->ops->cache_bytes ? m->ops->cache_bytes(m->impl) : 0);
}

void ntk_model_clear_caches(ntk_model *m) {
  free(m->work);
  free(m->tiles);
  m->work = m->tiles = NULL;
  m->work_cap = m->tiles_cap = 0;
  if (m->ops->clear_caches) m->ops->clear_caches(m->impl);
}

/* --- argument checks, once for every implementation ---------------------------------------- */

static int grow(double **buf, size_t *cap, size_t n, ntk_error *err) {
  if (n <= *cap) return NTK_OK;
  free(*buf);
  *cap = 0;
  *buf = n > SIZE_MAX / sizeof(double) ? NULL : malloc(n * sizeof **buf);
  if (!*buf) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for %zu doubles", n);
  *cap = n;
  return NTK_OK;
}

static int check_live(const ntk_tensor *t, int arg, ntk_error *err) {
  if (!t || !t->storage)
    return ntk_error_set(err, NTK_ERELEASED, arg, "attempt to use a released tensor");
  return NTK_OK;
}

/* Rows of a [P x n] (or, for n = 1, [P]; for P = 1 rows, [n]) tensor; 0 and an error otherwise. */
static int check_rows(const ntk_tensor *t, size_t n, size_t *P, int arg, const char *what,
                      ntk_error *err) {
  char buf[64];
  int st = check_live(t, arg, err);
  if (st != NTK_OK) return st;
  if (t->ndim == 2 && t->shape[1] == n) {
    *P = t->shape[0];
    return NTK_OK;
  }
  if (t->ndim == 1 && n == 1) {
    *P = t->shape[0];
    return NTK_OK;
  }
  return ntk_error_set(err, NTK_ESHAPE, arg, "%s [P x %zu] expected, got %s", what, n,
                       ntk_tensor_shape_str(t, buf, sizeof buf));
}

/* Contiguous elements of t ([rows x n]) into *data: t's own or a copy into (*buf, *cap). */
static int contiguous(const double **data, const ntk_tensor *t, size_t rows, size_t n,
                      double **buf, size_t *cap, ntk_error *err) {
  size_t i, j;
  int st;
  if (ntk_tensor_is_contiguous(t)) {
    *data = ntk_tensor_data(t);
    return NTK_OK;
  }
  st = grow(buf, cap, rows * n, err);
  if (st != NTK_OK) return st;
  for (i = 0; i < rows; i++)
    for (j = 0; j < n; j++)
      (*buf)[i * n + j] = t->ndim == 2 ? ntk_tensor_at(t, i, j) : ntk_tensor_at(t, i * n + j, 0);
  *data = *buf;
  return NTK_OK;
}

int ntk_model_check_inputs(const ntk_model *m, const ntk_tensor *X, size_t *P, int arg,
                           ntk_error *err) {
  /* the message every input check of the core gives: "[P x D] inputs expected, got ..." */
  int st = ntk_tensor_check_rows(X, m->input_dim, 0, " inputs", arg, err);
  if (st == NTK_OK) *P = X->shape[0];
  return st;
}

static int check_out(const ntk_tensor *out, size_t P, size_t C, int arg, ntk_error *err) {
  size_t rows;
  char buf[64];
  int st = check_rows(out, C, &rows, arg, "outputs", err);
  if (st != NTK_OK) return st;
  if (rows != P)
    return ntk_error_set(err, NTK_ESHAPE, arg, "outputs [%zu x %zu] expected, got %s", P, C,
                         ntk_tensor_shape_str(out, buf, sizeof buf));
  return NTK_OK;
}

static int check_grad(const ntk_model *m, const ntk_tensor *grad, int arg, ntk_error *err) {
  char buf[64];
  int st = check_live(grad, arg, err);
  if (st != NTK_OK) return st;
  if (grad->ndim != 1 || grad->shape[0] != m->nparams)
    return ntk_error_set(err, NTK_ESHAPE, arg, "gradient [%zu] expected, got %s", m->nparams,
                         ntk_tensor_shape_str(grad, buf, sizeof buf));
  return NTK_OK;
}

/* The model's result in work[0 .. n) copied into a tensor of any layout. */
static void scatter(ntk_tensor *t, const double *src, size_t rows, size_t n) {
  size_t i, j;
  if (rows * n == 0) return;
  if (ntk_tensor_is_contiguous(t)) {
    memcpy(ntk_tensor_data(t), src, rows * n * sizeof *src);
    return;
  }
  for (i = 0; i < rows; i++)
    for (j = 0; j < n; j++) {
      if (t->ndim == 2)
        *ntk_tensor_ptr(t, i, j) = src[i * n + j];
      else
        *ntk_tensor_ptr(t, i * n + j, 0) = src[i * n + j];
    }
}

/* --- the operations ------------------------------------------------------------------------ */

int ntk_model_forward(ntk_model *m, ntk_tensor *out, const ntk_tensor *X, ntk_error *err) {
  size_t P;
  int st = ntk_model_check_inputs(m, X, &P, 2, err);
  if (st == NTK_OK && out) st = check_out(out, P, m->output_dim, 1, err);
  if (st != NTK_OK) return st;
  if (out && ntk_tensor_is_contiguous(out))
    return m->ops->forward(m->impl, ntk_tensor_data(out), X, err);
  st = grow(&m->work, &m->work_cap, P * m->output_dim, err);
  if (st == NTK_OK) st = m->ops->forward(m->impl, m->work, X, err);
  if (st == NTK_OK && out) scatter(out, m->work, P, m->output_dim);
  return st;
}

int ntk_model_backward(ntk_model *m, ntk_tensor *grad, const ntk_tensor *dout, ntk_error *err) {
  const double *d;
  double *gbuf = NULL;
  size_t P, gcap = 0;
  int st = check_grad(m, grad, 1, err);
  if (st == NTK_OK) st = check_rows(dout, m->output_dim, &P, 2, "output gradient", err);
  if (st != NTK_OK) return st;
  st = contiguous(&d, dout, P, m->output_dim, &m->work, &m->work_cap, err);
  if (st != NTK_OK) return st;
  if (grad->stride[0] == 1 || grad->shape[0] <= 1) return m->ops->backward(m->impl,
                                                        ntk_tensor_data(grad), d, err);
  st = grow(&gbuf, &gcap, m->nparams, err);
  if (st == NTK_OK) st = m->ops->backward(m->impl, gbuf, d, err);
  if (st == NTK_OK) scatter(grad, gbuf, m->nparams, 1);
  free(gbuf);
  return st;
}

/* Checks X (argument argx) and Y (argx + 1) as a batch of P samples and their targets. */
static int check_data(const ntk_model *m, size_t *P, const ntk_tensor *X, const ntk_tensor *Y,
                      int argx, ntk_error *err) {
  size_t Py = 0;
  int st = ntk_model_check_inputs(m, X, P, argx, err);
  if (st == NTK_OK) st = check_rows(Y, m->output_dim, &Py, argx + 1, "targets", err);
  if (st != NTK_OK) return st;
  if (Py != *P)
    return ntk_error_set(err, NTK_ESHAPE, argx + 1, "targets for %zu samples expected, got %zu",
                         *P, Py);
  return NTK_OK;
}

/* work <- f(X) - Y, P x C, for a checked batch. */
static int residual(ntk_model *m, size_t P, const ntk_tensor *X, const ntk_tensor *Y,
                    ntk_error *err) {
  const size_t C = m->output_dim;
  size_t i, j;
  int st = grow(&m->work, &m->work_cap, P * C, err);
  if (st == NTK_OK) st = m->ops->forward(m->impl, m->work, X, err);
  if (st != NTK_OK) return st;
  for (i = 0; i < P; i++)
    for (j = 0; j < C; j++)
      m->work[i * C + j] -=
          Y->ndim == 2 ? ntk_tensor_at(Y, i, j) : ntk_tensor_at(Y, i * C + j, 0);
  return NTK_OK;
}

/* *loss <- L and g (NULL: the loss alone; else nparams contiguous) <- dL/dtheta on a checked
 * batch: the implementation's structured path, or forward + backward. */
static int loss_grad(ntk_model *m, double *g, double *loss, size_t P, const ntk_tensor *X,
                     const ntk_tensor *Y, ntk_error *err) {
  size_t i, n = P * m->output_dim;
  double s = 0.0;
  int st;
  if (m->ops->loss_grad) return m->ops->loss_grad(m->impl, g, loss, X, Y, err);
  st = residual(m, P, X, Y, err);
  if (st != NTK_OK) return st;
  for (i = 0; i < n; i++) s += m->work[i] * m->work[i];
  *loss = P ? s / (2.0 * (double)P) : 0.0;
  if (!g) return NTK_OK;
  for (i = 0; i < n; i++) m->work[i] /= (double)(P ? P : 1);
  return m->ops->backward(m->impl, g, m->work, err);
}

int ntk_model_loss(ntk_model *m, double *loss, const ntk_tensor *X, const ntk_tensor *Y,
                   ntk_error *err) {
  size_t P;
  int st = check_data(m, &P, X, Y, 2, err);
  return st != NTK_OK ? st : loss_grad(m, NULL, loss, P, X, Y, err);
}

int ntk_model_loss_grad(ntk_model *m, ntk_tensor *grad, double *loss, const ntk_tensor *X,
                        const ntk_tensor *Y, ntk_error *err) {
  size_t P;
  double l, *gbuf = NULL;
  int st = grad ? check_grad(m, grad, 1, err) : NTK_OK;
  if (st == NTK_OK) st = check_data(m, &P, X, Y, 3, err);
  if (st != NTK_OK) return st;
  if (!grad || grad->stride[0] == 1 || grad->shape[0] <= 1) {
    st = loss_grad(m, grad ? ntk_tensor_data(grad) : NULL, &l, P, X, Y, err);
  } else { /* a strided gradient: computed contiguous, then scattered */
    size_t gcap = 0;
    st = grow(&gbuf, &gcap, m->nparams, err);
    if (st == NTK_OK) st = loss_grad(m, gbuf, &l, P, X, Y, err);
    if (st == NTK_OK) scatter(grad, gbuf, m->nparams, 1);
    free(gbuf);
  }
  if (st == NTK_OK && loss) *loss = l;
  return st;
}

int ntk_model_jacobian(ntk_model *m, ntk_tensor *J, const ntk_tensor *X, size_t tile,
                       ntk_error *err) {
  const size_t C = m->output_dim;
  char buf[64];
  size_t P, r0;
  int st = ntk_model_check_inputs(m, X, &P, 2, err);
  if (st == NTK_OK) st = check_live(J, 1, err);
  if (st != NTK_OK) return st;
  if (J->ndim != 2 || J->shape[0] != P * C || J->shape[1] != m->nparams ||
      (J->stride[1] != 1 && m->nparams > 1) || J->stride[0] < (ptrdiff_t)m->nparams)
    return ntk_error_set(err, NTK_ESHAPE, 1,
                         "Jacobian [%zu x %zu] with unit column stride expected, got %s", P * C,
                         m->nparams, ntk_tensor_shape_str(J, buf, sizeof buf));
  if (tile == 0 || tile > P) tile = P;
  for (r0 = 0; r0 < P; r0 += tile) {
    const size_t n = P - r0 < tile ? P - r0 : tile;
    ntk_tensor rows;
    st = ntk_tensor_narrow(&rows, X, 0, r0, n, err); /* a view of the tile's samples */
    if (st != NTK_OK) return st;
    st = m->ops->jacobian(m->impl, ntk_tensor_ptr(J, r0 * C, 0), (size_t)J->stride[0], &rows, err);
    ntk_tensor_release(&rows);
    if (st != NTK_OK) return st;
  }
  return NTK_OK;
}
