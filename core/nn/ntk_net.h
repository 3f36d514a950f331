/* ntk_net.h: a network as a graph of layers (ntk_layer.h): convolutional nets, ResNets, MLPs.
 *
 * Node 0 is the input (per-sample shape H x W x C, NHWC rows of a P x (H W C) batch); node i >= 1
 * is layer i, reading nodes in[0] (and in[1] for an addition) < i, so the order of addition is a
 * topological order. The last node is the output f(x), flattened: C = h w c of its shape. A
 * residual block is two paths from one node joined by an ADD layer; a node may feed several
 * layers (their gradients add up in the backward pass).
 *
 * Parameters live in one flat, refcounted buffer, layer by layer in node order (W then b of each
 * conv or dense layer); views of it stay valid after the net is freed. Forward activations and
 * backward signals are cached per node for the last batch, grown on demand, never shrunk.
 *
 * Build: ntk_net_new, then ntk_net_add per layer, then ntk_net_init (which fixes the layout,
 * allocates the parameters and draws them). Nothing can be added after ntk_net_init. */
#ifndef NTK_NET_H
#define NTK_NET_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_layer.h"
#include "ntk_rng.h"
#include "ntk_tensor.h"

/* Most layers a net may have (bounds absurd configs). */
#define NTK_NET_MAX_LAYERS 4096
/* Most values per input sample (C H W): 2^26, a 4096 x 4096 x 4 image. */
#define NTK_NET_MAX_INPUT ((size_t)1 << 26)

/* A graph network; every pointer is owned. */
typedef struct ntk_net {
  ntk_shape input;        /* per-sample input shape */
  int nlayers;            /* layers, nodes 1..nlayers */
  int cap_layers;
  ntk_layer *layers;      /* layers[i - 1] is node i */
  int ready;              /* 1 after ntk_net_init */
  size_t nparams;
  double *params;         /* data of flat */
  ntk_tensor flat;        /* 1-D [nparams] over the refcounted parameter storage */
  /* caches of the last batch: node i's P x numel rows at act + cap * node_off[i] */
  size_t *node_off;       /* nlayers + 2 prefix sums of the per-sample sizes (last = total) */
  size_t cap;             /* rows the caches hold */
  size_t rows;            /* P of the last forward pass */
  int forwarded;          /* 1 once a forward pass has filled the caches */
  double *act;            /* node outputs; node 0 is the copied input */
  double *grad;           /* backward signals dL/d(node) */
  double *scratch;        /* largest ntk_layer_scratch over the layers */
  size_t scratch_len;
} ntk_net;

/* *out <- an empty net with inputs of shape h x w x c (all >= 1). Owner: the caller. */
int ntk_net_new(ntk_net **out, ntk_shape input, ntk_error *err);
/* Frees net and everything it owns (parameter views keep the parameters alive); NULL is fine. */
void ntk_net_free(ntk_net *net);
/* Appends layer (its kind, in[] and hyperparameters; the rest is derived) as node *node (may be
 * NULL) after checking it against its inputs' shapes. NTK_ERANGE for inputs that are not earlier
 * nodes, the layer's own errors otherwise. */
int ntk_net_add(ntk_net *net, const ntk_layer *layer, int *node, ntk_error *err);
/* Lays out and allocates the parameters and draws them from rng: W ~ N(0, sigma^2 / fan_in)
 * (standard) or N(0, sigma^2) (ntk), biases ~ N(0, bias_sigma^2), layer by layer in node order. */
int ntk_net_init(ntk_net *net, ntk_rng *rng, double bias_sigma, ntk_error *err);

/* Per-sample input size H W C and output size C of the last node. */
size_t ntk_net_input_dim(const ntk_net *net);
size_t ntk_net_output_dim(const ntk_net *net);
/* Shape of node i (0: the input). */
ntk_shape ntk_net_node_shape(const ntk_net *net, int i);

/* out (P x C contiguous, may be NULL) <- f(X) for X [P x D] (any view; [P] when D = 1, argument
 * 3); fills the caches, whose node 0 is X copied to row-major order. */
int ntk_net_forward(ntk_net *net, double *out, const ntk_tensor *X, ntk_error *err);
/* VJP of the last forward pass: grad (nparams) <- sum_mu dout_mu . df(x_mu)/dtheta (dout P x C,
 * P the rows of that pass). With grad_stride > 0, per sample instead: sample mu's gradient at
 * grad + mu grad_stride. */
int ntk_net_backward(ntk_net *net, double *grad, size_t grad_stride, const double *dout,
                     ntk_error *err);
/* J <- the per-sample gradients df_k(x_mu)/dtheta of X ([P x D], any view, argument 4): row
 * mu C + k at J + (mu C + k) ldj (ldj >= nparams). One forward and C backward passes over the
 * batch. */
int ntk_net_jacobian(ntk_net *net, double *J, size_t ldj, const ntk_tensor *X, ntk_error *err);
/* Bytes held by the caches and scratch (for benchmarks and memory bounds). */
size_t ntk_net_cache_bytes(const ntk_net *net);
/* Frees the activation caches and scratch (they grow again on the next pass); a backward pass
 * then needs a new forward pass. */
void ntk_net_clear_caches(ntk_net *net);

#endif
