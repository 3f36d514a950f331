/* ntk_layer.c: the parameter-free layers (activation, residual addition, global average pooling),
 * the dense layer, and the dispatch of check, forward and backward by kind (the convolution
 * lives in ntk_conv.c). Products use raw cblas for the reason given at the top of ntk_conv.c. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ntk_layer.h"

static const char *const kind_names[NTK_LAYER_COUNT] = {"conv", "act", "add", "pool", "dense"};

const char *ntk_layer_kind_name(ntk_layer_kind k) {
  return (k >= 0 && k < NTK_LAYER_COUNT) ? kind_names[k] : NULL;
}

static int same_shape(ntk_shape a, ntk_shape b) { return a.h == b.h && a.w == b.w && a.c == b.c; }

int ntk_layer_check(ntk_layer *l, ntk_shape in0, ntk_shape in1, ntk_error *err) {
  l->in_shape = in0;
  l->nw = l->nb = 0;
  l->fan_in = 0;
  l->scale = 1.0;
  l->cols_rows = 0;
  switch (l->kind) {
    case NTK_LAYER_CONV:
      return ntk_conv_check(l, in0, err);
    case NTK_LAYER_ACT:
      if (!ntk_activation_name(l->act))
        return ntk_error_set(err, NTK_EARG, 0, "act: invalid activation %d", (int)l->act);
      l->out_shape = in0;
      return NTK_OK;
    case NTK_LAYER_ADD:
      if (!same_shape(in0, in1))
        return ntk_error_set(err, NTK_ESHAPE, 0,
                             "add: inputs of equal shape expected, got %zu x %zu x %zu and "
                             "%zu x %zu x %zu (H x W x C)",
                             in0.h, in0.w, in0.c, in1.h, in1.w, in1.c);
      l->out_shape = in0;
      return NTK_OK;
    case NTK_LAYER_POOL:
      l->out_shape.h = l->out_shape.w = 1;
      l->out_shape.c = in0.c;
      return NTK_OK;
    case NTK_LAYER_DENSE:
      if (l->out < 1 || l->out > NTK_LAYER_MAX_DIM)
        return ntk_error_set(err, NTK_EARG, 0, "dense: outputs in [1, %zu] expected, got %zu",
                             NTK_LAYER_MAX_DIM, l->out);
      if (!(l->sigma >= 0.0) || !isfinite(l->sigma))
        return ntk_error_set(err, NTK_EARG, 0, "dense: sigma >= 0 expected, got %g", l->sigma);
      l->fan_in = ntk_shape_numel(in0);
      if (l->fan_in > INT_MAX)
        return ntk_error_set(err, NTK_ENOMEM, 0, "dense: %zu inputs too many", l->fan_in);
      l->out_shape.h = l->out_shape.w = 1;
      l->out_shape.c = l->out;
      l->scale = l->param == NTK_LAYER_NTK ? 1.0 / sqrt((double)l->fan_in) : 1.0;
      l->nw = l->out * l->fan_in;
      l->nb = l->bias ? l->out : 0;
      return NTK_OK;
    default:
      return ntk_error_set(err, NTK_EARG, 0, "invalid layer kind %d", (int)l->kind);
  }
}

size_t ntk_layer_scratch(const ntk_layer *l) {
  switch (l->kind) {
    case NTK_LAYER_CONV:
      if (ntk_conv_is_pointwise(l)) return 0;
      return 2 * l->cols_rows * l->out_shape.h * l->out_shape.w * l->fan_in;
    case NTK_LAYER_ACT:
      return ntk_shape_numel(l->in_shape); /* phi' of one sample */
    default:
      return 0;
  }
}

void ntk_layer_forward(const ntk_layer *l, const double *params, double *y, const double *x0,
                       const double *x1, size_t P, double *scratch) {
  const size_t n_in = ntk_shape_numel(l->in_shape);
  size_t mu, i, c;
  switch (l->kind) {
    case NTK_LAYER_CONV:
      ntk_conv_forward(l, params, y, x0, P, scratch);
      break;
    case NTK_LAYER_ACT:
      ntk_activation_apply(l->act, y, x0, P * n_in);
      break;
    case NTK_LAYER_ADD:
      for (i = 0; i < P * n_in; i++) y[i] = x0[i] + x1[i];
      break;
    case NTK_LAYER_POOL: {
      const size_t hw = l->in_shape.h * l->in_shape.w, C = l->in_shape.c;
      const double inv = 1.0 / (double)hw;
      for (mu = 0; mu < P; mu++) {
        const double *x = x0 + mu * n_in;
        double *ym = y + mu * C;
        memset(ym, 0, C * sizeof *ym);
        for (i = 0; i < hw; i++)
          for (c = 0; c < C; c++) ym[c] += x[i * C + c];
        for (c = 0; c < C; c++) ym[c] *= inv;
      }
      break;
    }
    case NTK_LAYER_DENSE: {
      const size_t n = l->out, D = l->fan_in;
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)n, (int)D, l->scale, x0,
                  (int)D, params + l->w_off, (int)D, 0.0, y, (int)n);
      if (l->nb)
        for (mu = 0; mu < P; mu++)
          for (i = 0; i < n; i++) y[mu * n + i] += params[l->b_off + i];
      break;
    }
    default:
      break;
  }
}

static void dense_backward(const ntk_layer *l, const double *params, double *dx, double *grad,
                           size_t grad_stride, const double *dy, const double *x, size_t P) {
  const size_t n = l->out, D = l->fan_in;
  size_t mu, i, j;
  if (grad && grad_stride == 0) {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)D, (int)P, l->scale, dy,
                (int)n, x, (int)D, 0.0, grad + l->w_off, (int)D);
    if (l->nb) {
      double *b = grad + l->b_off;
      memset(b, 0, n * sizeof *b);
      for (mu = 0; mu < P; mu++)
        for (i = 0; i < n; i++) b[i] += dy[mu * n + i];
    }
  } else if (grad) {
    for (mu = 0; mu < P; mu++) {
      double *g = grad + mu * grad_stride;
      const double *d = dy + mu * n, *xm = x + mu * D;
      for (i = 0; i < n; i++) {
        const double s = l->scale * d[i];
        double *gw = g + l->w_off + i * D;
        for (j = 0; j < D; j++) gw[j] = s * xm[j];
      }
      if (l->nb) memcpy(g + l->b_off, d, n * sizeof *d);
    }
  }
  if (dx)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)D, (int)n, l->scale, dy,
                (int)n, params + l->w_off, (int)D, 1.0, dx, (int)D);
}

/* dx += dy where x > 0: dy loaded unconditionally and the sum selected, so the loop vectorizes
 * (restrict: a layer's signal, input and output never overlap) */
static void relu_backward(double *restrict dx, const double *restrict dy,
                          const double *restrict x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    const double g = dy[i];
    dx[i] += x[i] > 0.0 ? g : 0.0;
  }
}

void ntk_layer_backward(const ntk_layer *l, const double *params, double *dx0, double *dx1,
                        double *grad, size_t grad_stride, const double *dy, const double *x0,
                        const double *y, size_t P, double *scratch) {
  const size_t n_in = ntk_shape_numel(l->in_shape);
  size_t mu, i, c;
  (void)y;
  switch (l->kind) {
    case NTK_LAYER_CONV:
      ntk_conv_backward(l, params, dx0, grad, grad_stride, dy, x0, P, scratch);
      break;
    case NTK_LAYER_ACT:
      if (!dx0) break;
      if (l->act == NTK_ACT_RELU) {
        /* a select, not a branch: the signs of a ReLU's inputs are a coin toss, and a
         * mispredicted branch per element cost more than the whole pass (this loop was ~5% of a
         * Wide-ResNet step); adding +0.0 leaves dx0 unchanged (but a -0.0 becomes +0.0) */
        relu_backward(dx0, dy, x0, P * n_in);
      } else if (l->act == NTK_ACT_LINEAR) {
        for (i = 0; i < P * n_in; i++) dx0[i] += dy[i];
      } else {
        for (mu = 0; mu < P; mu++) {
          const size_t o = mu * n_in;
          ntk_activation_deriv(l->act, scratch, x0 + o, n_in);
          for (i = 0; i < n_in; i++) dx0[o + i] += dy[o + i] * scratch[i];
        }
      }
      break;
    case NTK_LAYER_ADD:
      if (dx0)
        for (i = 0; i < P * n_in; i++) dx0[i] += dy[i];
      if (dx1)
        for (i = 0; i < P * n_in; i++) dx1[i] += dy[i];
      break;
    case NTK_LAYER_POOL: {
      const size_t hw = l->in_shape.h * l->in_shape.w, C = l->in_shape.c;
      const double inv = 1.0 / (double)hw;
      if (!dx0) break;
      for (mu = 0; mu < P; mu++) {
        double *d = dx0 + mu * n_in;
        const double *g = dy + mu * C;
        for (i = 0; i < hw; i++)
          for (c = 0; c < C; c++) d[i * C + c] += inv * g[c];
      }
      break;
    }
    case NTK_LAYER_DENSE:
      dense_backward(l, params, dx0, grad, grad_stride, dy, x0, P);
      break;
    default:
      break;
  }
}
