/* ntk_kernel_ref.c: the obvious twin of the fast NTK path. It shares nothing with ntk_kernel.c:
 * its own per-sample forward pass in plain loops, one backward pass per output, the explicit
 * Jacobian J ((P C) x #params) and K = J diag(eta) J^T with one gemm. */
#include <cblas.h> /* not ntk_blas: the Jacobians are plain row-major buffers and the product
                    * reads a column range of them (one layer's parameters) */
#include <stdlib.h>
#include <string.h>

#include "ntk_kernel.h"

/* Writes rows mu*C .. mu*C+C-1 of J for the single input x; h, a, delta, dnext are scratch of
 * sum(widths), sum(widths), max width, max width doubles. */
static void jacobian_row(double *J, const ntk_mlp *net, const double *x, double *h, double *a,
                         double *delta, double *dnext, double *deriv) {
  int L = net->depth, l;
  size_t C = ntk_mlp_output_dim(net), np = net->nparams, k, i, j;
  size_t off[NTK_MLP_MAX_DEPTH + 1];
  off[0] = 0;
  for (l = 1; l <= L; l++) off[l] = off[l - 1] + net->widths[l];
  /* forward: h^l = c_l W^l a^{l-1} + b^l, a^l = phi(h^l) */
  for (l = 1; l <= L; l++) {
    size_t nin = net->widths[l - 1], nout = net->widths[l];
    const double *W = net->params + net->w_off[l - 1];
    const double *ain = l == 1 ? x : a + off[l - 2];
    for (i = 0; i < nout; i++) {
      double s = 0.0;
      for (j = 0; j < nin; j++) s += W[i * nin + j] * ain[j];
      s *= net->wscale[l - 1];
      if (net->bias) s += net->params[net->b_off[l - 1] + i];
      h[off[l - 1] + i] = s;
    }
    ntk_activation_apply(net->act[l - 1], a + off[l - 1], h + off[l - 1], nout);
  }
  /* backward per output: delta^l = df_k/dh^l */
  for (k = 0; k < C; k++) {
    double *row = J + k * np;
    memset(row, 0, np * sizeof *row);
    memset(delta, 0, C * sizeof *delta);
    delta[k] = 1.0;
    for (l = L; l >= 1; l--) {
      size_t nin = net->widths[l - 1], nout = net->widths[l];
      const double *W = net->params + net->w_off[l - 1];
      const double *ain = l == 1 ? x : a + off[l - 2];
      double cl = net->wscale[l - 1];
      for (i = 0; i < nout; i++)
        for (j = 0; j < nin; j++) row[net->w_off[l - 1] + i * nin + j] = cl * delta[i] * ain[j];
      if (net->bias)
        for (i = 0; i < nout; i++) row[net->b_off[l - 1] + i] = delta[i];
      if (l > 1) {
        ntk_activation_deriv(net->act[l - 2], deriv, h + off[l - 2], nin);
        for (j = 0; j < nin; j++) {
          double s = 0.0;
          for (i = 0; i < nout; i++) s += W[i * nin + j] * delta[i];
          dnext[j] = cl * s * deriv[j];
        }
        memcpy(delta, dnext, nin * sizeof *delta);
      }
    }
  }
}

static int jacobian_rows(double *J, const ntk_mlp *net, const double *X, size_t P,
                         ntk_error *err) {
  size_t total = 0, maxw = 0, mu, C, D;
  int l;
  double *scratch;
  if (!net) return ntk_error_set(err, NTK_EARG, 2, "network expected");
  if (!X || P == 0) return ntk_error_set(err, NTK_EARG, 3, "non-empty X expected");
  C = ntk_mlp_output_dim(net);
  D = ntk_mlp_input_dim(net);
  for (l = 0; l <= net->depth; l++) {
    if (l > 0) total += net->widths[l];
    if (net->widths[l] > maxw) maxw = net->widths[l];
  }
  scratch = malloc((2 * total + 3 * maxw) * sizeof *scratch);
  if (!scratch) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  for (mu = 0; mu < P; mu++)
    jacobian_row(J + mu * C * net->nparams, net, X + mu * D, scratch, scratch + total,
                 scratch + 2 * total, scratch + 2 * total + maxw, scratch + 2 * total + 2 * maxw);
  free(scratch);
  return NTK_OK;
}

static int kernel_ref(double *K, const ntk_mlp *net, const double *X1, size_t P1,
                      const double *X2, size_t P2, ntk_kernel_output output, const double *eta,
                      int layer, ntk_error *err) {
  size_t C, np, first = 0, count, rows1, rows2, mu, nu, k, kk, j;
  double *J1 = NULL, *J2 = NULL, *Kf = NULL;
  int st, same;
  if (!net) return ntk_error_set(err, NTK_EARG, 2, "network expected");
  if (!X1 || P1 == 0) return ntk_error_set(err, NTK_EARG, 3, "non-empty X1 expected");
  if (layer < 0 || layer > net->depth)
    return ntk_error_set(err, NTK_EARG, 7, "layer in [0, %d] expected, got %d", net->depth, layer);
  same = X2 == NULL && eta == NULL; /* then K = J J^T: one Jacobian, one syrk */
  if (!X2) {
    X2 = X1;
    P2 = P1;
  }
  C = ntk_mlp_output_dim(net);
  np = net->nparams;
  count = np;
  if (layer > 0) {
    first = net->w_off[layer - 1];
    count = ntk_mlp_layer_nparams(net, layer);
  }
  rows1 = P1 * C;
  rows2 = P2 * C;
  J1 = malloc(rows1 * np * sizeof *J1);
  J2 = same ? NULL : malloc(rows2 * np * sizeof *J2);
  Kf = malloc(rows1 * rows2 * sizeof *Kf);
  if (!J1 || (!same && !J2) || !Kf) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for the Jacobians");
    goto done;
  }
  if ((st = jacobian_rows(J1, net, X1, P1, err)) != NTK_OK) goto done;
  if (!same && (st = jacobian_rows(J2, net, X2, P2, err)) != NTK_OK) goto done;
  if (eta)
    for (mu = 0; mu < rows1; mu++)
      for (j = 0; j < np; j++) J1[mu * np + j] *= eta[j];
  if (same) {
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)rows1, (int)count, 1.0, J1 + first,
                (int)np, 0.0, Kf, (int)rows1);
    for (mu = 0; mu < rows1; mu++)
      for (nu = mu + 1; nu < rows1; nu++) Kf[mu * rows1 + nu] = Kf[nu * rows1 + mu];
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows1, (int)rows2, (int)count, 1.0,
                J1 + first, (int)np, J2 + first, (int)np, 0.0, Kf, (int)rows2);
  }
  for (mu = 0; mu < P1; mu++)
    for (nu = 0; nu < P2; nu++) {
      double tr = 0.0;
      for (k = 0; k < C; k++)
        for (kk = 0; kk < C; kk++) {
          double v = Kf[(mu * C + k) * rows2 + nu * C + kk];
          if (k == kk) tr += v;
          if (output == NTK_KERNEL_FULL) K[(mu * C + k) * rows2 + nu * C + kk] = v;
          if (output == NTK_KERNEL_BLOCKS) K[(k * P1 + mu) * rows2 + kk * P2 + nu] = v;
        }
      if (output == NTK_KERNEL_TRACE) K[mu * P2 + nu] = tr;
      if (output == NTK_KERNEL_MEAN) K[mu * P2 + nu] = tr / (double)C;
    }
  st = NTK_OK;
done:
  free(J1);
  free(J2);
  free(Kf);
  return st;
}

int ntk_kernel_jacobian(double *J, const ntk_mlp *net, const ntk_tensor *X, ntk_error *err) {
  ntk_tensor x = {0}, none = {0};
  int st;
  if (!net) return ntk_error_set(err, NTK_EARG, 2, "network expected");
  if ((st = ntk_kernel_inputs(&x, &none, net, X, NULL, 3, 0, err)) != NTK_OK) return st;
  st = jacobian_rows(J, net, ntk_tensor_data(&x), x.shape[0], err);
  ntk_tensor_release(&x);
  return st;
}

int ntk_kernel_ntk_ref(double *K, const ntk_mlp *net, const ntk_tensor *X1, const ntk_tensor *X2,
                       ntk_kernel_output output, const ntk_tensor *eta, int layer,
                       ntk_error *err) {
  ntk_tensor x1 = {0}, x2 = {0}, e = {0};
  int st;
  if (!net) return ntk_error_set(err, NTK_EARG, 2, "network expected");
  if ((st = ntk_kernel_inputs(&x1, &x2, net, X1, X2, 3, 4, err)) != NTK_OK) return st;
  if ((st = ntk_kernel_eta(&e, net, eta, 6, err)) == NTK_OK)
    st = kernel_ref(K, net, ntk_tensor_data(&x1), x1.shape[0], X2 ? ntk_tensor_data(&x2) : NULL,
                    X2 ? x2.shape[0] : 0, output, eta ? ntk_tensor_data(&e) : NULL, layer, err);
  ntk_tensor_release(&x1);
  ntk_tensor_release(&x2);
  ntk_tensor_release(&e);
  return st;
}
