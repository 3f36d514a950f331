/* ntk_conv.c: 2-D convolution in NHWC by im2col + GEMM (shape check, forward, backward).
 *
 * Why im2col + GEMM: every product then runs in the BLAS's blocked DGEMM, which is the fastest
 * double-precision kernel this machine has (AVX-512 OpenBLAS); the im2col copy is O(1/Cout) of the
 * GEMM's work and streams through a fixed 4 MB scratch. A hand-blocked direct convolution would
 * have to match OpenBLAS's register tiling to win, for the small 3x3 kernels of a ResNet only.
 * Samples go through in chunks (ntk_layer.cols_rows) so the scratch is bounded whatever P is;
 * GEMMs keep M = chunk x Ho x Wo in the hundreds to thousands of rows.
 *
 * Raw cblas, not ntk_blas: these products run on buffers the network owns (never views), many
 * times per pass (per chunk and, for per-sample gradients, per sample); ntk_blas's tensor
 * wrapping and checks would add nothing but cost. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ntk_layer.h"

static size_t out_size(size_t in, size_t k, size_t stride, size_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

int ntk_conv_is_pointwise(const ntk_layer *l) {
  return l->kh == 1 && l->kw == 1 && l->stride == 1 && l->pad == 0;
}

int ntk_conv_check(ntk_layer *l, ntk_shape in, ntk_error *err) {
  size_t per_sample, ho, wo;
  if (l->out < 1 || l->out > NTK_LAYER_MAX_DIM)
    return ntk_error_set(err, NTK_EARG, 0, "conv: output channels in [1, %zu] expected, got %zu",
                         NTK_LAYER_MAX_DIM, l->out);
  if (l->kh < 1 || l->kw < 1 || l->kh > NTK_LAYER_MAX_DIM || l->kw > NTK_LAYER_MAX_DIM)
    return ntk_error_set(err, NTK_EARG, 0, "conv: kernel size >= 1 expected, got %zu x %zu",
                         l->kh, l->kw);
  if (l->stride < 1 || l->stride > NTK_LAYER_MAX_DIM)
    return ntk_error_set(err, NTK_EARG, 0, "conv: stride >= 1 expected, got %zu", l->stride);
  if (l->pad > NTK_LAYER_MAX_DIM)
    return ntk_error_set(err, NTK_EARG, 0, "conv: padding %zu too large", l->pad);
  if (in.h + 2 * l->pad < l->kh || in.w + 2 * l->pad < l->kw)
    return ntk_error_set(err, NTK_ESHAPE, 0,
                         "conv: %zu x %zu kernel larger than the padded %zu x %zu input", l->kh,
                         l->kw, in.h + 2 * l->pad, in.w + 2 * l->pad);
  if (!(l->sigma >= 0.0) || !isfinite(l->sigma))
    return ntk_error_set(err, NTK_EARG, 0, "conv: sigma >= 0 expected, got %g", l->sigma);
  ho = out_size(in.h, l->kh, l->stride, l->pad);
  wo = out_size(in.w, l->kw, l->stride, l->pad);
  l->in_shape = in;
  l->out_shape.h = ho;
  l->out_shape.w = wo;
  l->out_shape.c = l->out;
  l->fan_in = l->kh * l->kw * in.c;
  if (l->fan_in > INT_MAX || l->out > INT_MAX || ho * wo > INT_MAX / l->fan_in)
    return ntk_error_set(err, NTK_ENOMEM, 0, "conv: %zu x %zu x %zu im2col rows too large", ho,
                         wo, l->fan_in);
  l->scale = l->param == NTK_LAYER_NTK ? 1.0 / sqrt((double)l->fan_in) : 1.0;
  l->nw = l->out * l->fan_in;
  l->nb = l->bias ? l->out : 0;
  per_sample = ho * wo * l->fan_in;
  l->cols_rows = NTK_LAYER_COLS_BUDGET / per_sample;
  if (l->cols_rows < 1) l->cols_rows = 1;
  return NTK_OK;
}

/* cols ((n Ho Wo) x fan_in) <- the im2col matrix of n samples x (NHWC rows of in_shape):
 * row (mu, oy, ox) holds the kh x kw x Cin window at (oy s - pad, ox s - pad), zeros outside. */
static void im2col(const ntk_layer *l, double *cols, const double *x, size_t n) {
  const ntk_shape in = l->in_shape, out = l->out_shape;
  const size_t cin = in.c, row_len = l->kw * cin, xs = ntk_shape_numel(in);
  size_t mu, oy, ox, ky, kx;
  for (mu = 0; mu < n; mu++) {
    const double *xm = x + mu * xs;
    for (oy = 0; oy < out.h; oy++)
      for (ox = 0; ox < out.w; ox++) {
        double *c = cols + ((mu * out.h + oy) * out.w + ox) * l->fan_in;
        const ptrdiff_t y0 = (ptrdiff_t)(oy * l->stride) - (ptrdiff_t)l->pad;
        const ptrdiff_t x0 = (ptrdiff_t)(ox * l->stride) - (ptrdiff_t)l->pad;
        for (ky = 0; ky < l->kh; ky++, c += row_len) {
          const ptrdiff_t iy = y0 + (ptrdiff_t)ky;
          if (iy < 0 || iy >= (ptrdiff_t)in.h) {
            memset(c, 0, row_len * sizeof *c);
            continue;
          }
          if (x0 >= 0 && x0 + (ptrdiff_t)l->kw <= (ptrdiff_t)in.w) {
            /* the whole kernel row is inside: one run of kw Cin values */
            memcpy(c, xm + ((size_t)iy * in.w + (size_t)x0) * cin, row_len * sizeof *c);
            continue;
          }
          for (kx = 0; kx < l->kw; kx++) {
            const ptrdiff_t ix = x0 + (ptrdiff_t)kx;
            if (ix < 0 || ix >= (ptrdiff_t)in.w)
              memset(c + kx * cin, 0, cin * sizeof *c);
            else
              memcpy(c + kx * cin, xm + ((size_t)iy * in.w + (size_t)ix) * cin, cin * sizeof *c);
          }
        }
      }
  }
}

/* dx (n samples) += col2im(dcols): the adjoint of im2col. */
static void col2im_add(const ntk_layer *l, double *dx, const double *dcols, size_t n) {
  const ntk_shape in = l->in_shape, out = l->out_shape;
  const size_t cin = in.c, xs = ntk_shape_numel(in);
  size_t mu, oy, ox, ky, kx, ci;
  for (mu = 0; mu < n; mu++) {
    double *xm = dx + mu * xs;
    for (oy = 0; oy < out.h; oy++)
      for (ox = 0; ox < out.w; ox++) {
        const double *c = dcols + ((mu * out.h + oy) * out.w + ox) * l->fan_in;
        const ptrdiff_t y0 = (ptrdiff_t)(oy * l->stride) - (ptrdiff_t)l->pad;
        const ptrdiff_t x0 = (ptrdiff_t)(ox * l->stride) - (ptrdiff_t)l->pad;
        for (ky = 0; ky < l->kh; ky++) {
          const ptrdiff_t iy = y0 + (ptrdiff_t)ky;
          if (iy < 0 || iy >= (ptrdiff_t)in.h) {
            c += l->kw * cin;
            continue;
          }
          for (kx = 0; kx < l->kw; kx++, c += cin) {
            const ptrdiff_t ix = x0 + (ptrdiff_t)kx;
            double *d;
            if (ix < 0 || ix >= (ptrdiff_t)in.w) continue;
            d = xm + ((size_t)iy * in.w + (size_t)ix) * cin;
            for (ci = 0; ci < cin; ci++) d[ci] += c[ci];
          }
        }
      }
  }
}

void ntk_conv_forward(const ntk_layer *l, const double *params, double *y, const double *x,
                      size_t P, double *scratch) {
  const size_t xs = ntk_shape_numel(l->in_shape), hw = l->out_shape.h * l->out_shape.w;
  const size_t cout = l->out, K = l->fan_in;
  const double *W = params + l->w_off;
  size_t s0, i, j;
  for (s0 = 0; s0 < P; s0 += l->cols_rows) {
    const size_t n = P - s0 < l->cols_rows ? P - s0 : l->cols_rows, M = n * hw;
    const double *cols = x + s0 * xs;
    double *yc = y + s0 * hw * cout;
    if (!ntk_conv_is_pointwise(l)) {
      im2col(l, scratch, x + s0 * xs, n);
      cols = scratch;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)cout, (int)K, l->scale,
                cols, (int)K, W, (int)K, 0.0, yc, (int)cout);
    if (l->nb) {
      const double *b = params + l->b_off;
      for (i = 0; i < M; i++)
        for (j = 0; j < cout; j++) yc[i * cout + j] += b[j];
    }
  }
}

/* b (cout) <- column sums of the m x cout matrix dy. */
static void column_sums(double *b, const double *dy, size_t m, size_t cout, int accumulate) {
  size_t i, j;
  if (!accumulate) memset(b, 0, cout * sizeof *b);
  for (i = 0; i < m; i++)
    for (j = 0; j < cout; j++) b[j] += dy[i * cout + j];
}

void ntk_conv_backward(const ntk_layer *l, const double *params, double *dx, double *grad,
                       size_t grad_stride, const double *dy, const double *x, size_t P,
                       double *scratch) {
  const size_t xs = ntk_shape_numel(l->in_shape), hw = l->out_shape.h * l->out_shape.w;
  const size_t cout = l->out, K = l->fan_in, chunk_cap = l->cols_rows * hw * K;
  const double *W = params + l->w_off;
  const int pointwise = ntk_conv_is_pointwise(l);
  size_t s0, mu;
  for (s0 = 0; s0 < P; s0 += l->cols_rows) {
    const size_t n = P - s0 < l->cols_rows ? P - s0 : l->cols_rows, M = n * hw;
    const double *dyc = dy + s0 * hw * cout;
    const double *cols = x + s0 * xs;
    if (grad) {
      if (!pointwise) {
        im2col(l, scratch, x + s0 * xs, n);
        cols = scratch;
      }
      if (grad_stride == 0) {
        /* dW (+)= c dy^T cols over the chunk: one GEMM with inner size n Ho Wo */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cout, (int)K, (int)M, l->scale,
                    dyc, (int)cout, cols, (int)K, s0 == 0 ? 0.0 : 1.0, grad + l->w_off, (int)K);
        if (l->nb) column_sums(grad + l->b_off, dyc, M, cout, s0 != 0);
      } else {
        for (mu = 0; mu < n; mu++) {
          double *g = grad + (s0 + mu) * grad_stride;
          cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cout, (int)K, (int)hw,
                      l->scale, dyc + mu * hw * cout, (int)cout, cols + mu * hw * K, (int)K, 0.0,
                      g + l->w_off, (int)K);
          if (l->nb) column_sums(g + l->b_off, dyc + mu * hw * cout, hw, cout, 0);
        }
      }
    }
    if (dx) {
      double *dxc = dx + s0 * xs;
      if (pointwise) {
        /* the input is the im2col matrix: dx += c dy W straight into it */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)cout,
                    l->scale, dyc, (int)cout, W, (int)K, 1.0, dxc, (int)K);
      } else {
        double *dcols = scratch + chunk_cap;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)cout,
                    l->scale, dyc, (int)cout, W, (int)K, 0.0, dcols, (int)K);
        col2im_add(l, dxc, dcols, n);
      }
    }
  }
}
