/* ntk_mlp.c: construction, the flat parameter layout and the batched forward pass. */
#include "ntk_mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
  free(net->params);
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

/* Draws the parameters as net->init says (orthogonal and balanced schemes: see issue #3). */
static int init_params(ntk_mlp *net, ntk_rng *rng, ntk_error *err) {
  switch (net->init) {
    case NTK_INIT_GAUSSIAN:
      init_gaussian(net, rng);
      return NTK_OK;
    default:
      return ntk_error_set(err, NTK_EARG, 1, "init scheme %d is not available", (int)net->init);
  }
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
  net->params = calloc(off, sizeof *net->params);
  if (!net->params) {
    ntk_mlp_free(net);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for %zu parameters", off);
  }
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
  if (P <= net->cache_cap) return NTK_OK;
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

int ntk_mlp_forward(ntk_mlp *net, double *out, const double *X, size_t P, ntk_error *err) {
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
