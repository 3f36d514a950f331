/* ntk_mlp.h: fully connected networks, f(x) = W^L phi(W^{L-1} ... phi(W^1 x)).
 *
 * Layer l (1..L) maps n_{l-1} -> n_l:  h^l = c_l W^l a^{l-1} + b^l,  a^l = phi_l(h^l),
 * a^0 = x and f = h^L (no output activation). c_l = 1 in the "standard" parameterization
 * (W^l_ij ~ N(0, sigma_l^2 / n_{l-1})) and c_l = 1/sqrt(n_{l-1}) in the "ntk" one
 * (W^l_ij ~ N(0, sigma_l^2)). Biases enter unscaled and start at N(0, bias_sigma^2).
 *
 * Parameters live in one flat buffer, layer by layer: W^1 (n_1 x n_0, row-major), b^1 (n_1,
 * when bias), W^2, b^2, ... Batches are row-major P x n matrices (rows are samples). */
#ifndef NTK_MLP_H
#define NTK_MLP_H

#include <stddef.h>
#include <stdio.h>

#include "ntk_activation.h"
#include "ntk_error.h"
#include "ntk_rng.h"
#include "ntk_tensor.h"

/* Most weight layers L a network may have (bounds per-layer arrays and absurd configs). */
#define NTK_MLP_MAX_DEPTH 64

/* Parameterization: c_l = 1 (standard) or 1/sqrt(n_{l-1}) (ntk), see above. */
typedef enum ntk_param { NTK_PARAM_STANDARD = 0, NTK_PARAM_NTK } ntk_param;

/* Initialization scheme of the weights (variance per parameterization, see above). */
typedef enum ntk_init {
  NTK_INIT_GAUSSIAN = 0, /* iid normal, variance as above */
  NTK_INIT_ORTHOGONAL,   /* scaled (semi-)orthogonal matrices with the same row norms on average */
  NTK_INIT_BALANCED      /* W^l W^l^T = W^{l+1}^T W^{l+1} exactly at t = 0 */
} ntk_init;

/* What ntk_mlp_new builds: the architecture and its initialization (caller-owned arrays). */
typedef struct ntk_mlp_config {
  int depth;                   /* L >= 1 weight layers */
  const size_t *widths;        /* L + 1 entries: n_0 = D, n_1, ..., n_L = C; all >= 1 */
  const ntk_activation *act;   /* L - 1 hidden activations; NULL means all linear */
  int bias;                    /* 1: layers have biases */
  ntk_param param;             /* parameterization */
  const double *sigma;         /* L init scales sigma_l >= 0 */
  double bias_sigma;           /* init std of the biases (0: start at zero) */
  ntk_init init;               /* init scheme */
} ntk_mlp_config;

/* A network: its architecture, the flat parameter buffer and the forward cache (all owned). */
typedef struct ntk_mlp {
  int depth;              /* L */
  size_t *widths;         /* L + 1, owned */
  ntk_activation *act;    /* L, owned; act[L-1] is NTK_ACT_LINEAR (the output) */
  int bias;
  ntk_param param;
  ntk_init init;
  double *sigma;          /* L, owned */
  double bias_sigma;
  double *wscale;         /* L, owned: c_l */
  size_t *w_off;          /* L, owned: offset of W^l in params */
  size_t *b_off;          /* L, owned: offset of b^l in params (meaningless without bias) */
  double *params;         /* nparams, owned */
  size_t nparams;
  /* Forward cache of the last batch: grown on demand, never shrunk, reused across calls. */
  size_t cache_rows;      /* P of the last forward pass (0: none) */
  size_t cache_cap;       /* rows the cache can hold */
  double **pre;           /* L buffers, pre[l-1] = h^l for the batch (P x n_l) */
  double **post;          /* L buffers, post[l-1] = a^l (P x n_l); post[L-1] aliases pre[L-1] */
  /* params is the data of this refcounted 1-D tensor (nparams): views into it (per-layer
   * W^l, b^l, the flat vector) retain its storage, so they stay valid after ntk_mlp_free. */
  ntk_tensor flat;
  /* Backward workspace, grown on demand like the forward cache and reused across calls. */
  size_t work_cap;        /* rows the workspace can hold */
  double *delta[2];       /* P x max(n_1..n_L): dL/dh^l, ping-pong between layers */
  double *dphi;           /* P x max(n_1..n_L): phi'(h^l) */
  double *ones;           /* P ones: bias gradients as one gemv */
} ntk_mlp;

/* *out <- a new network drawn from rng as cfg says. Owner: the caller (ntk_mlp_free). */
int ntk_mlp_new(ntk_mlp **out, const ntk_mlp_config *cfg, ntk_rng *rng, ntk_error *err);
/* Frees net and everything it owns; NULL is fine. */
void ntk_mlp_free(ntk_mlp *net);
/* Grows the forward cache to hold P rows (no-op when it already can). */
int ntk_mlp_reserve(ntk_mlp *net, size_t P, ntk_error *err);
/* out (P x C contiguous buffer, may be NULL) <- f(X) for inputs X [P x D] (or [P] when D = 1; any
 * view, copied once when not contiguous); fills the forward cache. */
int ntk_mlp_forward(ntk_mlp *net, double *out, const ntk_tensor *X, ntk_error *err);
/* Checks inputs X ([P x D], or [P] when D = 1) and, unless Y is NULL, targets Y ([P x C], or [P]
 * when C = 1) against net: NTK_ESHAPE "[P x D] expected, got ..." or "P rows expected (as X),
 * got ..." for argument xarg or yarg. The functions below check the same; a caller that
 * allocates results from P checks first. */
int ntk_mlp_check_inputs(const ntk_mlp *net, const ntk_tensor *X, const ntk_tensor *Y, int xarg,
                         int yarg, ntk_error *err);

/* Input size n_0 = D. */
static inline size_t ntk_mlp_input_dim(const ntk_mlp *net) { return net->widths[0]; }
/* Output size n_L = C. */
static inline size_t ntk_mlp_output_dim(const ntk_mlp *net) { return net->widths[net->depth]; }
/* Number of parameters of layer l (1-based): n_l n_{l-1} (+ n_l with bias). */
size_t ntk_mlp_layer_nparams(const ntk_mlp *net, int l);

/* Init schemes (see ntk_mlp.c for the constructions):
 * - orthogonal: W^l = g_l Q, Q (n_l x n_{l-1}) with orthonormal columns (n_l >= n_{l-1}) or rows
 *   (n_l < n_{l-1}), Haar-distributed (QR of a Gaussian with the signs of diag(R) fixed), and g_l
 *   chosen so that |W^l|_F^2 equals its Gaussian expectation n_l n_{l-1} std_l^2.
 * - balanced: with r = min(n_0, ..., n_L), W^l = O_l S O_{l-1}^T, O_l (n_l x r) Haar frames with
 *   orthonormal columns and S = diag(singular values of an r x r Gaussian with entries
 *   N(0, std^2), std = sigma_1/sqrt(r) (standard) or sigma_1 (ntk)). Then
 *   W^l W^l^T = O_l S^2 O_l^T = W^{l+1}^T W^{l+1} exactly. Every layer has rank r: exact balance
 *   forces rank(W^l) <= min width, since W^L W^L^T has rank <= C. All sigma_l must be equal
 *   (balance equates |W^l|_F across layers). Biases, if any, are drawn as usual and are not
 *   part of the balance. */

/* *loss (may be NULL) <- 1/(2P) sum_mu |f(x_mu) - y_mu|^2 for X [P x D], Y [P x C] (any views);
 * fills the forward cache. */
int ntk_mlp_loss(ntk_mlp *net, double *loss, const ntk_tensor *X, const ntk_tensor *Y,
                 ntk_error *err);
/* grad (nparams, flat layout) <- dL/dtheta and *loss (may be NULL) <- L, L as ntk_mlp_loss:
 * one forward and one backward pass, all through gemm; no allocation once warmed up. */
int ntk_mlp_loss_grad(ntk_mlp *net, double *grad, double *loss, const ntk_tensor *X,
                      const ntk_tensor *Y, ntk_error *err);
/* grad <- sum_mu dout_mu . df(x_mu)/dtheta (vector-Jacobian product) for the batch of the last
 * ntk_mlp_forward (X as passed there, P rows; argument 4); dout is a contiguous P x C buffer. */
int ntk_mlp_backward(ntk_mlp *net, double *grad, const double *dout, const ntk_tensor *X,
                     ntk_error *err);
/* cfg <- the configuration of net (its arrays point into net: valid while net lives). */
void ntk_mlp_config_of(ntk_mlp_config *cfg, const ntk_mlp *net);
/* *out <- a deep copy of net (config and parameters; fresh caches). Owner: the caller. */
int ntk_mlp_clone(ntk_mlp **out, const ntk_mlp *net, ntk_error *err);
/* 1 when every parameter is finite. */
int ntk_mlp_params_finite(const ntk_mlp *net);

/* Saves net to path in the format of ntk_mlp.c ("ntklab mlp file, version 1"), atomically, as
 * the io writers do: written to a temporary file in the same directory, then renamed over path
 * with mode 0666 & ~umask. NTK_EIO on failure, with the reason (strerror) in err. */
int ntk_mlp_save(const ntk_mlp *net, const char *path, ntk_error *err);
/* *out <- the network stored at path (plain or gzip, as the io readers). NTK_EIO when the file
 * cannot be read or is not a regular file (a directory or FIFO is refused without blocking),
 * NTK_EFORMAT when it is truncated, corrupt (CRC32 mismatch), of another version or
 * inconsistent. Owner: the caller. */
int ntk_mlp_load(ntk_mlp **out, const char *path, ntk_error *err);

#endif
