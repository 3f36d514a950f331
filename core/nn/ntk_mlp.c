/* ntk_mlp.c: construction, the flat parameter layout, the batched forward and backward passes
 * and the MSE loss (the file format: ntk_mlp_io.c). */
#include "ntk_mlp.h"

#include <cblas.h> /* not ntk_blas: the passes multiply the net's own buffers (parameters, caches,
                    * workspace) in place, batch after batch, with no tensor headers to build */
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_memory.h"

size_t ntk_mlp_layer_nparams(const ntk_mlp *net, int l) {
  size_t n = net->widths[l] * net->widths[l - 1];
  return net->bias ? n + net->widths[l] : n;
}

void ntk_mlp_free(ntk_mlp *net) {
  int l;
  if (!net) return;
  if (net->pre)
    for (l = 0; l < net->depth; l++) {
      if (net->post && net->post[l] != net->pre[l]) free(net->post[l]);
      free(net->pre[l]);
    }
  free(net->pre);
  free(net->post);
  free(net->widths);
  free(net->act);
  free(net->sigma);
  free(net->wscale);
  free(net->w_off);
  free(net->b_off);
  /* params belongs to flat's storage, which views may still hold */
  ntk_tensor_release(&net->flat);
  free(net->delta[0]);
  free(net->delta[1]);
  free(net->dphi);
  free(net->ones);
  free(net);
}

static int check_config(const ntk_mlp_config *cfg, ntk_error *err) {
  int l;
  if (cfg->depth < 1 || cfg->depth > NTK_MLP_MAX_DEPTH)
    return ntk_error_set(err, NTK_EARG, 1, "depth in [1, %d] expected, got %d", NTK_MLP_MAX_DEPTH,
                         cfg->depth);
  for (l = 0; l <= cfg->depth; l++)
    if (cfg->widths[l] < 1 || cfg->widths[l] > ((size_t)1 << 24))
      return ntk_error_set(err, NTK_EARG, 1, "width %d in [1, 2^24] expected, got %zu", l,
                           cfg->widths[l]);
  if (cfg->act)
    for (l = 0; l < cfg->depth - 1; l++)
      if (cfg->act[l] < 0 || cfg->act[l] >= NTK_ACT_COUNT)
        return ntk_error_set(err, NTK_EARG, 1, "activation of layer %d invalid", l + 1);
  for (l = 0; l < cfg->depth; l++)
    if (!(cfg->sigma[l] >= 0.0) || !isfinite(cfg->sigma[l]))
      return ntk_error_set(err, NTK_EARG, 1, "sigma of layer %d: finite value >= 0 expected",
                           l + 1);
  if (!(cfg->bias_sigma >= 0.0) || !isfinite(cfg->bias_sigma))
    return ntk_error_set(err, NTK_EARG, 1, "bias_sigma: finite value >= 0 expected");
  if (cfg->param != NTK_PARAM_STANDARD && cfg->param != NTK_PARAM_NTK)
    return ntk_error_set(err, NTK_EARG, 1, "invalid parameterization");
  if (cfg->init != NTK_INIT_GAUSSIAN && cfg->init != NTK_INIT_ORTHOGONAL &&
      cfg->init != NTK_INIT_BALANCED)
    return ntk_error_set(err, NTK_EARG, 1, "invalid init scheme");
  return NTK_OK;
}

/* Gaussian init: W^l_ij ~ N(0, sigma_l^2 / n_{l-1}) (standard) or N(0, sigma_l^2) (ntk). */
static void init_gaussian(ntk_mlp *net, ntk_rng *rng) {
  int l;
  for (l = 1; l <= net->depth; l++) {
    size_t fan_in = net->widths[l - 1], n = net->widths[l] * fan_in;
    double std = net->param == NTK_PARAM_STANDARD ? net->sigma[l - 1] / sqrt((double)fan_in)
                                                  : net->sigma[l - 1];
    ntk_rng_fill_normal_buf(rng, net->params + net->w_off[l - 1], n, 0.0, std);
    if (net->bias)
      ntk_rng_fill_normal_buf(rng, net->params + net->b_off[l - 1], net->widths[l], 0.0,
                              net->bias_sigma);
  }
}

static void init_biases(ntk_mlp *net, ntk_rng *rng) {
  int l;
  if (!net->bias) return;
  for (l = 1; l <= net->depth; l++)
    ntk_rng_fill_normal_buf(rng, net->params + net->b_off[l - 1], net->widths[l], 0.0,
                            net->bias_sigma);
}

/* Q (m x k, row-major, m >= k) <- Haar-random orthonormal columns: QR of a Gaussian, each
 * column's sign set by diag(R) (without that fix the distribution is not Haar). Scratch:
 * tau and sign, k doubles each. */
static int random_frame(double *Q, size_t m, size_t k, double *tau, double *sign, ntk_rng *rng,
                        ntk_error *err) {
  size_t i, j;
  lapack_int info;
  ntk_rng_fill_normal_buf(rng, Q, m * k, 0.0, 1.0);
  info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)k, Q, (lapack_int)k, tau);
  if (info != 0) return ntk_error_set(err, NTK_ENOCONV, 0, "dgeqrf failed (info %d)", (int)info);
  for (j = 0; j < k; j++) sign[j] = Q[j * k + j] < 0.0 ? -1.0 : 1.0;
  info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)k, (lapack_int)k, Q,
                        (lapack_int)k, tau);
  if (info != 0) return ntk_error_set(err, NTK_ENOCONV, 0, "dorgqr failed (info %d)", (int)info);
  for (i = 0; i < m; i++)
    for (j = 0; j < k; j++) Q[i * k + j] *= sign[j];
  return NTK_OK;
}

static size_t max_width(const ntk_mlp *net) {
  size_t m = 0;
  int l;
  for (l = 0; l <= net->depth; l++)
    if (net->widths[l] > m) m = net->widths[l];
  return m;
}

/* Orthogonal init; see ntk_mlp.h. */
static int init_orthogonal(ntk_mlp *net, ntk_rng *rng, double *scratch, ntk_error *err) {
  size_t wmax = max_width(net);
  double *Q = scratch, *tau = Q + wmax * wmax, *sign = tau + wmax;
  int l, st;
  for (l = 1; l <= net->depth; l++) {
    size_t nout = net->widths[l], nin = net->widths[l - 1], i, j;
    size_t k = nout < nin ? nout : nin;
    double std = net->param == NTK_PARAM_STANDARD ? net->sigma[l - 1] / sqrt((double)nin)
                                                  : net->sigma[l - 1];
    /* |Q|_F^2 = k; a Gaussian layer has E|W|_F^2 = nout nin std^2 */
    double gain = std * sqrt((double)nout * (double)nin / (double)k);
    double *W = net->params + net->w_off[l - 1];
    if (nout >= nin) {
      if ((st = random_frame(W, nout, nin, tau, sign, rng, err)) != NTK_OK) return st;
      for (i = 0; i < nout * nin; i++) W[i] *= gain;
    } else {
      /* orthonormal rows: the transpose of an nin x nout frame */
      if ((st = random_frame(Q, nin, nout, tau, sign, rng, err)) != NTK_OK) return st;
      for (i = 0; i < nout; i++)
        for (j = 0; j < nin; j++) W[i * nin + j] = gain * Q[j * nout + i];
    }
  }
  init_biases(net, rng);
  return NTK_OK;
}

/* Balanced init; see ntk_mlp.h. */
static int init_balanced(ntk_mlp *net, ntk_rng *rng, double *scratch, ntk_error *err) {
  size_t wmax = max_width(net), r = wmax, i, j, q;
  double *Oprev = scratch, *Ocur = Oprev + wmax * wmax, *tau = Ocur + wmax * wmax,
         *sign = tau + wmax, *S = sign + wmax, *G = S + wmax;
  double std;
  lapack_int info;
  int l, st;
  for (l = 0; l <= net->depth; l++)
    if (net->widths[l] < r) r = net->widths[l];
  for (l = 1; l < net->depth; l++)
    if (net->sigma[l] != net->sigma[0])
      return ntk_error_set(err, NTK_EARG, 1,
                           "balanced init needs one sigma for all layers (layer %d has %g, "
                           "layer 1 has %g)", l + 1, net->sigma[l], net->sigma[0]);
  std = net->param == NTK_PARAM_STANDARD ? net->sigma[0] / sqrt((double)r) : net->sigma[0];
  ntk_rng_fill_normal_buf(rng, G, r * r, 0.0, std);
  info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (lapack_int)r, (lapack_int)r, G, (lapack_int)r, S,
                        NULL, (lapack_int)r, NULL, (lapack_int)r);
  if (info != 0) return ntk_error_set(err, NTK_ENOCONV, 0, "dgesdd failed (info %d)", (int)info);
  if ((st = random_frame(Oprev, net->widths[0], r, tau, sign, rng, err)) != NTK_OK) return st;
  for (l = 1; l <= net->depth; l++) {
    size_t nout = net->widths[l], nin = net->widths[l - 1];
    double *W = net->params + net->w_off[l - 1], *swap;
    if ((st = random_frame(Ocur, nout, r, tau, sign, rng, err)) != NTK_OK) return st;
    /* W = O_l S O_{l-1}^T, summed over the r modes */
    for (i = 0; i < nout; i++)
      for (j = 0; j < nin; j++) {
        double acc = 0.0;
        for (q = 0; q < r; q++) acc += Ocur[i * r + q] * S[q] * Oprev[j * r + q];
        W[i * nin + j] = acc;
      }
    swap = Oprev;
    Oprev = Ocur;
    Ocur = swap;
  }
  init_biases(net, rng);
  return NTK_OK;
}

/* Draws the parameters as net->init says. */
static int init_params(ntk_mlp *net, ntk_rng *rng, ntk_error *err) {
  size_t wmax = max_width(net);
  double *scratch;
  int st;
  if (net->init == NTK_INIT_GAUSSIAN) {
    init_gaussian(net, rng);
    return NTK_OK;
  }
  /* two wmax x wmax frames, an r x r Gaussian and four vectors of wmax */
  scratch = malloc((3 * wmax * wmax + 4 * wmax) * sizeof *scratch);
  if (!scratch) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  st = net->init == NTK_INIT_ORTHOGONAL ? init_orthogonal(net, rng, scratch, err)
                                        : init_balanced(net, rng, scratch, err);
  free(scratch);
  return st;
}

int ntk_mlp_new(ntk_mlp **out, const ntk_mlp_config *cfg, ntk_rng *rng, ntk_error *err) {
  ntk_mlp *net;
  int l, st;
  size_t off = 0;
  *out = NULL;
  if ((st = check_config(cfg, err)) != NTK_OK) return st;
  net = calloc(1, sizeof *net);
  if (!net) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  net->depth = cfg->depth;
  net->bias = cfg->bias ? 1 : 0;
  net->param = cfg->param;
  net->init = cfg->init;
  net->bias_sigma = cfg->bias_sigma;
  net->widths = malloc((size_t)(cfg->depth + 1) * sizeof *net->widths);
  net->act = malloc((size_t)cfg->depth * sizeof *net->act);
  net->sigma = malloc((size_t)cfg->depth * sizeof *net->sigma);
  net->wscale = malloc((size_t)cfg->depth * sizeof *net->wscale);
  net->w_off = malloc((size_t)cfg->depth * sizeof *net->w_off);
  net->b_off = malloc((size_t)cfg->depth * sizeof *net->b_off);
  if (!net->widths || !net->act || !net->sigma || !net->wscale || !net->w_off || !net->b_off) {
    ntk_mlp_free(net);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  memcpy(net->widths, cfg->widths, (size_t)(cfg->depth + 1) * sizeof *net->widths);
  memcpy(net->sigma, cfg->sigma, (size_t)cfg->depth * sizeof *net->sigma);
  for (l = 0; l < cfg->depth; l++) {
    net->act[l] = (cfg->act && l < cfg->depth - 1) ? cfg->act[l] : NTK_ACT_LINEAR;
    net->wscale[l] =
        cfg->param == NTK_PARAM_NTK ? 1.0 / sqrt((double)cfg->widths[l]) : 1.0;
    net->w_off[l] = off;
    off += cfg->widths[l + 1] * cfg->widths[l];
    net->b_off[l] = off;
    if (net->bias) off += cfg->widths[l + 1];
  }
  net->nparams = off;
  if ((st = ntk_tensor_init_1d(&net->flat, off, err)) != NTK_OK) {
    ntk_mlp_free(net);
    return st;
  }
  net->params = ntk_tensor_data(&net->flat);
  st = init_params(net, rng, err);
  if (st != NTK_OK) {
    ntk_mlp_free(net);
    return st;
  }
  *out = net;
  return NTK_OK;
}


int ntk_mlp_reserve(ntk_mlp *net, size_t P, ntk_error *err) {
  int l;
  if (P == 0) P = 1; /* an empty batch still needs the buffers to exist */
  if (P <= net->cache_cap) return NTK_OK;
  {
    /* the whole cache at once against the memory limits (what would be left for BLAS) */
    size_t doubles = 0;
    for (l = 0; l < net->depth; l++)
      if (P <= SIZE_MAX / 16 / net->widths[l + 1])
        doubles += P * net->widths[l + 1] * (net->act[l] == NTK_ACT_LINEAR ? 1 : 2);
    if (ntk_memory_check(doubles * sizeof(double), "the forward cache", err) != NTK_OK)
      return NTK_ENOMEM;
  }
  if (!net->pre) {
    net->pre = calloc((size_t)net->depth, sizeof *net->pre);
    net->post = calloc((size_t)net->depth, sizeof *net->post);
    if (!net->pre || !net->post) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  for (l = 0; l < net->depth; l++) {
    size_t n = net->widths[l + 1];
    double *p;
    if (P > SIZE_MAX / sizeof(double) / n)
      return ntk_error_set(err, NTK_ENOMEM, 0, "batch of %zu rows too large", P);
    p = realloc(net->pre[l], P * n * sizeof *p);
    if (!p) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a batch of %zu", P);
    net->pre[l] = p;
    if (l == net->depth - 1 || net->act[l] == NTK_ACT_LINEAR) {
      net->post[l] = net->pre[l];
    } else {
      p = realloc(net->post[l], P * n * sizeof *p);
      if (!p) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a batch of %zu", P);
      net->post[l] = p;
    }
  }
  net->cache_cap = P;
  return NTK_OK;
}

static int forward_rows(ntk_mlp *net, double *out, const double *X, size_t P, ntk_error *err) {
  int l, st;
  const double *a = X;
  if ((st = ntk_mlp_reserve(net, P, err)) != NTK_OK) return st;
  for (l = 0; l < net->depth; l++) {
    size_t nin = net->widths[l], nout = net->widths[l + 1], i;
    double *h = net->pre[l];
    const double *W = net->params + net->w_off[l];
    if (net->bias) {
      const double *b = net->params + net->b_off[l];
      for (i = 0; i < P; i++) memcpy(h + i * nout, b, nout * sizeof *h);
    }
    /* H = c A W^T (+ 1 b^T): one gemm for the whole batch */
    if (P > 0)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)nout, (int)nin,
                  net->wscale[l], a, (int)nin, W, (int)nin, net->bias ? 1.0 : 0.0, h, (int)nout);
    if (net->post[l] != h) ntk_activation_apply(net->act[l], net->post[l], h, P * nout);
    a = net->post[l];
  }
  net->cache_rows = P;
  if (out) memcpy(out, net->post[net->depth - 1], P * ntk_mlp_output_dim(net) * sizeof *out);
  return NTK_OK;
}

/* Grows the backward workspace to P rows (the forward cache is grown by ntk_mlp_reserve). */
static int reserve_backward(ntk_mlp *net, size_t P, ntk_error *err) {
  size_t wmax = 1, i;
  double *p;
  int l, k;
  if (P <= net->work_cap && net->ones) return NTK_OK;
  for (l = 1; l <= net->depth; l++)
    if (net->widths[l] > wmax) wmax = net->widths[l];
  if (P > SIZE_MAX / sizeof(double) / wmax / 4)
    return ntk_error_set(err, NTK_ENOMEM, 0, "batch of %zu rows too large", P);
  if (ntk_memory_check((3 * wmax + 1) * P * sizeof(double), "the backward workspace", err) != NTK_OK)
    return NTK_ENOMEM;
  for (k = 0; k < 2; k++) {
    p = realloc(net->delta[k], (P ? P : 1) * wmax * sizeof *p);
    if (!p) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a batch of %zu", P);
    net->delta[k] = p;
  }
  p = realloc(net->dphi, (P ? P : 1) * wmax * sizeof *p);
  if (!p) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a batch of %zu", P);
  net->dphi = p;
  p = realloc(net->ones, (P ? P : 1) * sizeof *p);
  if (!p) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a batch of %zu", P);
  net->ones = p;
  for (i = 0; i < (P ? P : 1); i++) net->ones[i] = 1.0;
  net->work_cap = P;
  return NTK_OK;
}

/* Backpropagation from G = dL/dh^L (P x C, in net->delta[0] or given): for l = L..1,
 *   dW^l = c_l G^T a^{l-1},  db^l = G^T 1,  G <- (c_l G W^l) .* phi'(h^{l-1}). */
static void backprop(ntk_mlp *net, double *grad, const double *G0, const double *X, size_t P) {
  const double *G = G0;
  int l, cur = 0;
  for (l = net->depth; l >= 1; l--) {
    size_t nout = net->widths[l], nin = net->widths[l - 1], i;
    const double *A = l > 1 ? net->post[l - 2] : X;
    const double *W = net->params + net->w_off[l - 1];
    double c = net->wscale[l - 1];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nout, (int)nin, (int)P, c, G,
                (int)nout, A, (int)nin, 0.0, grad + net->w_off[l - 1], (int)nin);
    if (net->bias)
      cblas_dgemv(CblasRowMajor, CblasTrans, (int)P, (int)nout, 1.0, G, (int)nout, net->ones, 1,
                  0.0, grad + net->b_off[l - 1], 1);
    if (l > 1) {
      double *D = net->delta[cur];
      if (G == D) D = net->delta[cur ^= 1];
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)nin, (int)nout, c, G,
                  (int)nout, W, (int)nin, 0.0, D, (int)nin);
      if (net->act[l - 2] != NTK_ACT_LINEAR) {
        size_t n = P * nin;
        const double *h = net->pre[l - 2];
        if (net->act[l - 2] == NTK_ACT_RELU) {
          for (i = 0; i < n; i++) D[i] = h[i] > 0.0 ? D[i] : 0.0;
        } else {
          ntk_activation_deriv(net->act[l - 2], net->dphi, h, n);
          for (i = 0; i < n; i++) D[i] *= net->dphi[i];
        }
      }
      G = D;
    }
  }
}

static int backward_rows(ntk_mlp *net, double *grad, const double *dout, const double *X, size_t P,
                         ntk_error *err) {
  int st;
  if (net->cache_rows != P || !net->pre)
    return ntk_error_set(err, NTK_ESHAPE, 4, "batch of %zu rows expected (the last forward pass), "
                         "got %zu", net->cache_rows, P);
  if ((st = reserve_backward(net, P, err)) != NTK_OK) return st;
  if (P == 0) {
    memset(grad, 0, net->nparams * sizeof *grad);
    return NTK_OK;
  }
  backprop(net, grad, dout, X, P);
  return NTK_OK;
}

/* delta[0] <- (f - Y) / P; returns L = 1/(2P) sum (f - Y)^2. */
static double residual(ntk_mlp *net, const double *Y, size_t P, int keep) {
  size_t n = P * ntk_mlp_output_dim(net), i;
  const double *f = net->post[net->depth - 1];
  double *R = net->delta[0], sum = 0.0, inv = P ? 1.0 / (double)P : 0.0;
  for (i = 0; i < n; i++) {
    double r = f[i] - Y[i];
    sum += r * r;
    if (keep) R[i] = r * inv;
  }
  return 0.5 * sum * inv;
}

static int loss_rows(ntk_mlp *net, double *loss, const double *X, const double *Y, size_t P,
                     ntk_error *err) {
  int st;
  if ((st = forward_rows(net, NULL, X, P, err)) != NTK_OK) return st;
  if ((st = reserve_backward(net, P, err)) != NTK_OK) return st;
  if (loss) *loss = residual(net, Y, P, 0);
  return NTK_OK;
}

static int loss_grad_rows(ntk_mlp *net, double *grad, double *loss, const double *X,
                          const double *Y, size_t P, ntk_error *err) {
  int st;
  double l;
  if ((st = forward_rows(net, NULL, X, P, err)) != NTK_OK) return st;
  if ((st = reserve_backward(net, P, err)) != NTK_OK) return st;
  l = residual(net, Y, P, 1);
  if (loss) *loss = l;
  if (P == 0) {
    memset(grad, 0, net->nparams * sizeof *grad);
    return NTK_OK;
  }
  backprop(net, grad, net->delta[0], X, P);
  return NTK_OK;
}

int ntk_mlp_check_inputs(const ntk_mlp *net, const ntk_tensor *X, const ntk_tensor *Y, int xarg,
                         int yarg, ntk_error *err) {
  int st;
  if (!net) return ntk_error_set(err, NTK_EARG, 1, "network expected");
  if ((st = ntk_tensor_check_rows(X, ntk_mlp_input_dim(net), 0, "", xarg, err)) != NTK_OK)
    return st;
  if (!Y) return NTK_OK;
  if ((st = ntk_tensor_check_rows(Y, ntk_mlp_output_dim(net), 0, "", yarg, err)) != NTK_OK)
    return st;
  if (Y->shape[0] != X->shape[0])
    return ntk_error_set(err, NTK_ESHAPE, yarg, "%zu rows expected (as X), got %zu", X->shape[0],
                         Y->shape[0]);
  return NTK_OK;
}

/* x (and y) <- the contiguous data of the checked X (and Y); the caller releases them. */
static int batch(ntk_tensor *x, ntk_tensor *y, const ntk_mlp *net, const ntk_tensor *X,
                 const ntk_tensor *Y, int xarg, int yarg, ntk_error *err) {
  int st = ntk_mlp_check_inputs(net, X, Y, xarg, yarg, err);
  return st != NTK_OK ? st : ntk_tensor_contiguous_pair(x, X, y, Y, err);
}

int ntk_mlp_forward(ntk_mlp *net, double *out, const ntk_tensor *X, ntk_error *err) {
  ntk_tensor x = {0};
  int st = batch(&x, NULL, net, X, NULL, 3, 0, err);
  if (st == NTK_OK) st = forward_rows(net, out, ntk_tensor_data(&x), x.shape[0], err);
  ntk_tensor_release(&x);
  return st;
}

int ntk_mlp_backward(ntk_mlp *net, double *grad, const double *dout, const ntk_tensor *X,
                     ntk_error *err) {
  ntk_tensor x = {0};
  int st = batch(&x, NULL, net, X, NULL, 4, 0, err);
  if (st == NTK_OK) st = backward_rows(net, grad, dout, ntk_tensor_data(&x), x.shape[0], err);
  ntk_tensor_release(&x);
  return st;
}

int ntk_mlp_loss(ntk_mlp *net, double *loss, const ntk_tensor *X, const ntk_tensor *Y,
                 ntk_error *err) {
  ntk_tensor x = {0}, y = {0};
  int st = batch(&x, &y, net, X, Y, 3, 4, err);
  if (st == NTK_OK)
    st = loss_rows(net, loss, ntk_tensor_data(&x), ntk_tensor_data(&y), x.shape[0], err);
  ntk_tensor_release(&x);
  ntk_tensor_release(&y);
  return st;
}

int ntk_mlp_loss_grad(ntk_mlp *net, double *grad, double *loss, const ntk_tensor *X,
                      const ntk_tensor *Y, ntk_error *err) {
  ntk_tensor x = {0}, y = {0};
  int st = batch(&x, &y, net, X, Y, 4, 5, err);
  if (st == NTK_OK)
    st = loss_grad_rows(net, grad, loss, ntk_tensor_data(&x), ntk_tensor_data(&y), x.shape[0],
                        err);
  ntk_tensor_release(&x);
  ntk_tensor_release(&y);
  return st;
}

int ntk_mlp_params_finite(const ntk_mlp *net) {
  /* one pass: a sum is finite only if every term is (and no +Inf/-Inf pair cancels to NaN) */
  double acc = 0.0;
  size_t i;
  for (i = 0; i < net->nparams; i++) acc += net->params[i] * 0.0;
  return acc == 0.0;
}

void ntk_mlp_config_of(ntk_mlp_config *cfg, const ntk_mlp *net) {
  cfg->depth = net->depth;
  cfg->widths = net->widths;
  cfg->act = net->act;
  cfg->bias = net->bias;
  cfg->param = net->param;
  cfg->sigma = net->sigma;
  cfg->bias_sigma = net->bias_sigma;
  cfg->init = net->init;
}

int ntk_mlp_clone(ntk_mlp **out, const ntk_mlp *net, ntk_error *err) {
  ntk_mlp_config cfg;
  ntk_rng rng;
  int st;
  ntk_mlp_config_of(&cfg, net);
  cfg.init = NTK_INIT_GAUSSIAN; /* the cheapest draw: the parameters are overwritten below */
  ntk_rng_seed(&rng, 0);
  if ((st = ntk_mlp_new(out, &cfg, &rng, err)) != NTK_OK) return st;
  (*out)->init = net->init;
  memcpy((*out)->params, net->params, net->nparams * sizeof *net->params);
  return NTK_OK;
}
