/* ntk_net.c: the layer graph: building, parameter layout and init, forward, backward (summed or
 * per sample) and the per-sample Jacobian. */
#include "ntk_net.h"

#include "ntk_memory.h"
#include "ntk_tensor_ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ntk_net_new(ntk_net **out, ntk_shape input, ntk_error *err) {
  ntk_net *net;
  *out = NULL;
  if (input.h < 1 || input.w < 1 || input.c < 1 || input.h > NTK_LAYER_MAX_DIM ||
      input.w > NTK_LAYER_MAX_DIM || input.c > NTK_LAYER_MAX_DIM)
    return ntk_error_set(err, NTK_EARG, 2, "input shape C, H, W in [1, %zu] expected, got %zu, "
                         "%zu, %zu", NTK_LAYER_MAX_DIM, input.c, input.h, input.w);
  if (input.h * input.w > NTK_NET_MAX_INPUT / input.c) /* no product below can overflow */
    /* a shape the caller chose, not a failure of the machine: misuse (raises in Lua) */
    return ntk_error_set(err, NTK_EARG, 2, "input of %zu x %zu x %zu values too large", input.c,
                         input.h, input.w);
  net = calloc(1, sizeof *net);
  if (!net) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  net->input = input;
  *out = net;
  return NTK_OK;
}

static void free_caches(ntk_net *net) {
  free(net->act);
  free(net->grad);
  free(net->scratch);
  net->act = net->grad = net->scratch = NULL;
  net->cap = net->rows = 0;
  net->forwarded = 0;
}

void ntk_net_clear_caches(ntk_net *net) { free_caches(net); }

void ntk_net_free(ntk_net *net) {
  if (!net) return;
  free_caches(net);
  free(net->layers);
  free(net->node_off);
  ntk_tensor_release(&net->flat);
  free(net);
}

ntk_shape ntk_net_node_shape(const ntk_net *net, int i) {
  return i == 0 ? net->input : net->layers[i - 1].out_shape;
}

size_t ntk_net_input_dim(const ntk_net *net) { return ntk_shape_numel(net->input); }

size_t ntk_net_output_dim(const ntk_net *net) {
  return ntk_shape_numel(ntk_net_node_shape(net, net->nlayers));
}

int ntk_net_add(ntk_net *net, const ntk_layer *layer, int *node, ntk_error *err) {
  ntk_layer l = *layer;
  ntk_shape s0, s1 = {0, 0, 0};
  int st, k, nin = layer->kind == NTK_LAYER_ADD ? 2 : 1;
  if (net->ready)
    return ntk_error_set(err, NTK_EARG, 1, "layer added after the net was initialized");
  if (net->nlayers >= NTK_NET_MAX_LAYERS)
    return ntk_error_set(err, NTK_ERANGE, 2, "at most %d layers expected", NTK_NET_MAX_LAYERS);
  for (k = 0; k < nin; k++)
    if (l.in[k] < 0 || l.in[k] > net->nlayers)
      return ntk_error_set(err, NTK_ERANGE, 2,
                           "%s layer %d: input node %d out of range [0, %d] (0 is the input)",
                           ntk_layer_kind_name(l.kind) ? ntk_layer_kind_name(l.kind) : "?",
                           net->nlayers + 1, l.in[k], net->nlayers);
  if (nin == 1) l.in[1] = -1;
  s0 = ntk_net_node_shape(net, l.in[0]);
  if (nin == 2) s1 = ntk_net_node_shape(net, l.in[1]);
  st = ntk_layer_check(&l, s0, s1, err);
  if (st != NTK_OK) {
    if (err) err->arg = 2; /* the layer */
    return st;
  }
  if (net->nlayers == net->cap_layers) {
    int cap = net->cap_layers ? 2 * net->cap_layers : 16;
    ntk_layer *p = realloc(net->layers, (size_t)cap * sizeof *p);
    if (!p) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
    net->layers = p;
    net->cap_layers = cap;
  }
  net->layers[net->nlayers++] = l;
  if (node) *node = net->nlayers;
  return NTK_OK;
}

int ntk_net_init(ntk_net *net, ntk_rng *rng, double bias_sigma, ntk_error *err) {
  size_t total = 0, rows = ntk_shape_numel(net->input), scratch = 0;
  int i, st;
  if (net->ready) return ntk_error_set(err, NTK_EARG, 1, "net already initialized");
  if (net->nlayers < 1) return ntk_error_set(err, NTK_EARG, 1, "net without layers");
  if (!(bias_sigma >= 0.0) || !isfinite(bias_sigma))
    return ntk_error_set(err, NTK_EARG, 3, "bias_sigma >= 0 expected, got %g", bias_sigma);
  net->node_off = malloc(((size_t)net->nlayers + 2) * sizeof *net->node_off);
  if (!net->node_off) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  net->node_off[0] = 0;
  for (i = 0; i < net->nlayers; i++) {
    ntk_layer *l = &net->layers[i];
    size_t s = ntk_layer_scratch(l);
    if (l->nw > SIZE_MAX / 2 - total - l->nb)
      return ntk_error_set(err, NTK_ENOMEM, 0, "too many parameters");
    l->w_off = total;
    total += l->nw;
    l->b_off = total;
    total += l->nb;
    net->node_off[i + 1] = rows;
    rows += ntk_shape_numel(l->out_shape);
    if (s > scratch) scratch = s;
  }
  net->node_off[net->nlayers + 1] = rows;
  net->scratch_len = scratch;
  st = ntk_tensor_init_1d(&net->flat, total ? total : 1, err);
  if (st != NTK_OK) return st;
  net->nparams = total;
  net->params = ntk_tensor_data(&net->flat);
  for (i = 0; i < net->nlayers; i++) {
    const ntk_layer *l = &net->layers[i];
    double std;
    if (!l->nw) continue;
    std = l->param == NTK_LAYER_NTK ? l->sigma : l->sigma / sqrt((double)l->fan_in);
    ntk_rng_fill_normal_buf(rng, net->params + l->w_off, l->nw, 0.0, std);
    if (l->nb && bias_sigma > 0.0)
      ntk_rng_fill_normal_buf(rng, net->params + l->b_off, l->nb, 0.0, bias_sigma);
  }
  net->ready = 1;
  return NTK_OK;
}

size_t ntk_net_cache_bytes(const ntk_net *net) {
  size_t rows = net->node_off ? net->node_off[net->nlayers + 1] : 0;
  return (2 * net->cap * rows + (net->act ? net->scratch_len : 0)) * sizeof(double);
}

/* Grows the caches to P rows (contents not kept). */
static int reserve(ntk_net *net, size_t P, ntk_error *err) {
  size_t rows = net->node_off[net->nlayers + 1];
  if (P <= net->cap) return NTK_OK;
  free_caches(net);
  if (P > SIZE_MAX / sizeof(double) / rows / 2)
    return ntk_error_set(err, NTK_ENOMEM, 0, "caches of %zu x %zu doubles too large", P, rows);
  {
    char what[96];
    int st;
    snprintf(what, sizeof what, "a cache of activations and gradients for %zu samples", P);
    st = ntk_memory_check(2 * P * rows * sizeof(double), what, err);
    if (st != NTK_OK) return st;
  }
  net->act = malloc(P * rows * sizeof *net->act);
  net->grad = malloc(P * rows * sizeof *net->grad);
  net->scratch = malloc((net->scratch_len ? net->scratch_len : 1) * sizeof *net->scratch);
  if (!net->act || !net->grad || !net->scratch) {
    free_caches(net);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for caches of %zu x %zu doubles", P,
                         rows);
  }
  net->cap = P;
  return NTK_OK;
}

static double *node_act(const ntk_net *net, int i) { return net->act + net->cap * net->node_off[i]; }
static double *node_grad(const ntk_net *net, int i) {
  return net->grad + net->cap * net->node_off[i];
}

int ntk_net_forward(ntk_net *net, double *out, const ntk_tensor *X, ntk_error *err) {
  const size_t D = ntk_net_input_dim(net);
  size_t P;
  int i, st;
  if (!net->ready) return ntk_error_set(err, NTK_EARG, 1, "net not initialized");
  st = ntk_tensor_check_rows(X, D, 0, " inputs", 3, err);
  if (st != NTK_OK) return st;
  P = X->shape[0];
  st = reserve(net, P ? P : 1, err);
  if (st != NTK_OK) return st;
  if (P) { /* node 0's cache is the batch in row-major order, whatever X's layout */
    ntk_storage s;
    ntk_tensor x0;
    ntk_tensor_wrap(&x0, &s, net->act, P, X->ndim == 2 ? D : 0);
    st = ntk_tensor_copy(&x0, X, err);
    if (st != NTK_OK) return st;
  }
  for (i = 1; i <= net->nlayers; i++) {
    const ntk_layer *l = &net->layers[i - 1];
    ntk_layer_forward(l, net->params, node_act(net, i), node_act(net, l->in[0]),
                      l->in[1] >= 0 ? node_act(net, l->in[1]) : NULL, P, net->scratch);
  }
  net->rows = P;
  net->forwarded = 1;
  if (out && P) memcpy(out, node_act(net, net->nlayers), P * ntk_net_output_dim(net) * sizeof *out);
  return NTK_OK;
}

/* One backward pass from the output signal already in node_grad(last). */
static void backward_pass(ntk_net *net, double *grad, size_t grad_stride) {
  const size_t P = net->rows;
  int i;
  if (P == 0) { /* an empty batch: the summed gradient is zero, no per-sample rows exist */
    if (grad && grad_stride == 0) memset(grad, 0, net->nparams * sizeof *grad);
    return;
  }
  /* node 0's signal (dL/dX) is never needed: its slot is left alone */
  memset(node_grad(net, 1), 0,
         net->cap * (net->node_off[net->nlayers] - net->node_off[1]) * sizeof *net->grad);
  for (i = net->nlayers; i >= 1; i--) {
    const ntk_layer *l = &net->layers[i - 1];
    double *dx0 = l->in[0] > 0 ? node_grad(net, l->in[0]) : NULL;
    double *dx1 = l->in[1] > 0 ? node_grad(net, l->in[1]) : NULL;
    ntk_layer_backward(l, net->params, dx0, dx1, l->nw ? grad : NULL, grad_stride,
                       node_grad(net, i), node_act(net, l->in[0]), node_act(net, i), P,
                       net->scratch);
  }
}

int ntk_net_backward(ntk_net *net, double *grad, size_t grad_stride, const double *dout,
                     ntk_error *err) {
  if (!net->forwarded) return ntk_error_set(err, NTK_EARG, 0, "backward without a forward pass");
  if (net->rows)
    memcpy(node_grad(net, net->nlayers), dout, net->rows * ntk_net_output_dim(net) * sizeof *dout);
  backward_pass(net, grad, grad_stride);
  return NTK_OK;
}

int ntk_net_jacobian(ntk_net *net, double *J, size_t ldj, const ntk_tensor *X, ntk_error *err) {
  const size_t C = ntk_net_output_dim(net);
  size_t k, mu, P;
  int st;
  if (ldj < net->nparams)
    return ntk_error_set(err, NTK_EARG, 3, "leading dimension >= %zu expected, got %zu",
                         net->nparams, ldj);
  st = ntk_net_forward(net, NULL, X, err);
  if (st != NTK_OK) {
    if (err && err->arg == 3) err->arg = 4; /* X is argument 4 here */
    return st;
  }
  P = net->rows;
  for (k = 0; k < C; k++) {
    double *g = node_grad(net, net->nlayers);
    memset(g, 0, P * C * sizeof *g);
    for (mu = 0; mu < P; mu++) g[mu * C + k] = 1.0;
    backward_pass(net, J + k * ldj, C * ldj);
  }
  return NTK_OK;
}
