/* ntk_layer.h: the layers of image networks (2-D convolution, activation, residual addition,
 * global average pooling, dense), float64. Each layer has its shape check, forward and backward
 * (vector-Jacobian product) in one place: ntk_conv.c for the convolution, ntk_layer.c for the
 * others and the dispatch.
 *
 * Layout: NHWC. A batch is a row-major P x (H W C) matrix, one sample per row, channels fastest.
 * Why not NCHW: with channels fastest, the im2col matrix of a whole batch chunk is one row-major
 * (P Ho Wo) x (kh kw Cin) matrix whose rows are runs of contiguous C-vectors, and the GEMM
 * cols @ W^T writes the output directly in NHWC, so a convolution is one GEMM per chunk with
 * M = P Ho Wo (large, as BLAS likes it) and no transposes. A stride-1 1x1 convolution needs no
 * im2col at all (the input already is the matrix), a dense layer reads the same rows as the MLP
 * does (a P x D matrix), and a sample's per-sample weight gradient is one GEMM on a contiguous
 * row block. NCHW would need one GEMM per sample (or a transpose) for the forward pass.
 *
 * Parameterization, as in the MLP (ntk_mlp.h): a weight layer computes y = c W x + b with
 * fan_in = kh kw Cin (conv) or H W C (dense); c = 1 and W ~ N(0, sigma^2 / fan_in) in the standard
 * parameterization, c = 1/sqrt(fan_in) and W ~ N(0, sigma^2) in the NTK one. Biases enter
 * unscaled.
 *
 * Parameters: conv W is Cout x kh x kw x Cin (row-major; W[co] is one row of length fan_in),
 * dense W is n x (H W C); the bias (when present) follows W. */
#ifndef NTK_LAYER_H
#define NTK_LAYER_H

#include <stddef.h>

#include "ntk_activation.h"
#include "ntk_error.h"

/* Per-sample shape of a layer's input or output, NHWC: h x w x c values (dense: 1 x 1 x n). */
typedef struct ntk_shape {
  size_t h, w, c;
} ntk_shape;

/* h w c, the length of one sample's row. */
static inline size_t ntk_shape_numel(ntk_shape s) { return s.h * s.w * s.c; }

/* What a layer computes; formulas per sample x (NHWC), y its output. */
typedef enum ntk_layer_kind {
  NTK_LAYER_CONV = 0, /* y[o, co] = c sum_{ky,kx,ci} W[co,ky,kx,ci] x[o s + k - pad, ci] + b[co] */
  NTK_LAYER_ACT,      /* y = phi(x) element-wise */
  NTK_LAYER_ADD,      /* y = x0 + x1 (residual addition; same shapes) */
  NTK_LAYER_POOL,     /* y[ci] = 1/(H W) sum_{i,j} x[i, j, ci] (global average pooling) */
  NTK_LAYER_DENSE,    /* y = c W vec(x) + b */
  NTK_LAYER_COUNT
} ntk_layer_kind;

/* Parameterization: c = 1 (standard) or 1/sqrt(fan_in) (ntk); same values as ntk_param. */
typedef enum ntk_layer_param { NTK_LAYER_STANDARD = 0, NTK_LAYER_NTK } ntk_layer_param;

/* One layer: its hyperparameters (set by the caller) and what ntk_layer_check derives. */
typedef struct ntk_layer {
  ntk_layer_kind kind;
  int in[2];             /* input nodes of the network (0: its input); in[1] only for ADD */
  /* hyperparameters */
  size_t out;            /* conv: output channels Cout; dense: outputs n */
  size_t kh, kw;         /* conv kernel size */
  size_t stride, pad;    /* conv stride >= 1 and zero padding on each side */
  ntk_activation act;    /* ACT: phi */
  int bias;              /* conv, dense: 1 when the layer has a bias */
  double sigma;          /* conv, dense: init scale of W */
  ntk_layer_param param; /* conv, dense: parameterization */
  /* derived by ntk_layer_check */
  ntk_shape in_shape;    /* per-sample input shape (both inputs of ADD) */
  ntk_shape out_shape;   /* per-sample output shape */
  size_t fan_in;         /* conv: kh kw Cin; dense: H W C */
  double scale;          /* c, see the header comment */
  size_t nw, nb;         /* weight and bias parameter counts (0 for parameter-free layers) */
  size_t w_off, b_off;   /* offsets of W and b in the network's flat parameters (set by it) */
  size_t cols_rows;      /* conv: samples per im2col chunk (bounded by NTK_LAYER_COLS_BUDGET) */
} ntk_layer;

/* Doubles of the im2col scratch of one convolution chunk: samples are taken in chunks of at most
 * this many im2col entries (at least one sample), so the scratch stays at 2 x 4 MB whatever P.
 * 4 MB rather than more: a chunk that stays in cache makes the GEMMs faster (a WRN k = 4 training
 * step, one thread: 7.0-7.9 s against 8.7-8.9 s with 16 MB chunks, measured alternately). */
#define NTK_LAYER_COLS_BUDGET ((size_t)1 << 19)
/* Largest kernel size, stride, padding and channel count a layer accepts (absurd configs). */
#define NTK_LAYER_MAX_DIM ((size_t)1 << 20)

/* Static lower-case name of a kind ("conv"), NULL for an invalid value. */
const char *ntk_layer_kind_name(ntk_layer_kind k);

/* Checks l's hyperparameters against its input shape(s) (in1 only for ADD) and fills the derived
 * fields (out_shape, fan_in, scale, nw, nb, cols_rows). NTK_EARG / NTK_ESHAPE with a message that
 * names the layer's kind and the offending value. */
int ntk_layer_check(ntk_layer *l, ntk_shape in0, ntk_shape in1, ntk_error *err);

/* Doubles of scratch one call of forward or backward needs (2 im2col chunks for a conv). */
size_t ntk_layer_scratch(const ntk_layer *l);

/* y (P x out) <- layer(x0 [, x1]) for P samples; params is the network's flat buffer; scratch
 * holds ntk_layer_scratch(l) doubles. */
void ntk_layer_forward(const ntk_layer *l, const double *params, double *y, const double *x0,
                       const double *x1, size_t P, double *scratch);

/* Backward pass (VJP) of the last forward for dy = dL/dy (P x out):
 *   dx0, dx1 (may be NULL: not wanted) += dL/dx0, dL/dx1 (accumulated: a node read by several
 *   layers sums their contributions);
 *   grad (may be NULL): the parameter gradient at the layer's offsets. With grad_stride = 0 it is
 *   the sum over samples, written (not accumulated); with grad_stride > 0 it is per sample,
 *   sample mu's gradient written at grad + mu grad_stride (its rows of a Jacobian).
 * x0, x1 are the inputs and y the output of the forward pass. */
void ntk_layer_backward(const ntk_layer *l, const double *params, double *dx0, double *dx1,
                        double *grad, size_t grad_stride, const double *dy, const double *x0,
                        const double *y, size_t P, double *scratch);

/* Convolution internals (ntk_conv.c), dispatched to by the functions above. */
int ntk_conv_check(ntk_layer *l, ntk_shape in, ntk_error *err);
void ntk_conv_forward(const ntk_layer *l, const double *params, double *y, const double *x,
                      size_t P, double *scratch);
void ntk_conv_backward(const ntk_layer *l, const double *params, double *dx, double *grad,
                       size_t grad_stride, const double *dy, const double *x, size_t P,
                       double *scratch);
/* 1 when the conv reads its input as the im2col matrix itself (1x1, stride 1, no padding). */
int ntk_conv_is_pointwise(const ntk_layer *l);

#endif
