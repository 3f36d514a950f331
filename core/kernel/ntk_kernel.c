/* ntk_kernel.c: the structured (per-layer Gram) fast path for the empirical NTK, the Adam-
 * preconditioned kernel, NNGP layer kernels and the kernel workspace with its input-Gram cache.
 *
 * Longer than 600 lines on purpose: the fast NTK is one algorithm (forward caches, per-layer
 * Grams, Hadamard sums) whose tiling, eta path and cache all work on the same kctx state,
 * workspace slots and block kernel; split, each part would need the others' internals through a
 * private header. Its independent twin already lives apart (ntk_kernel_ref.c). */
#include "ntk_kernel.h"

#include <cblas.h> /* not ntk_blas: the fast path multiplies slices of its workspace buffers
                    * and accumulates into blocks of K (beta = 1); tensor headers per tile
                    * would buy nothing */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_memory.h"
#include "ntk_pages.h"

enum {
  WS_ACT,             /* hidden-layer inputs A_1..A_{L-1} of X1 in a cross kernel (the last input
                       * set's are read in place from the net's forward cache, see prepare_set) */
  WS_GRAD1, WS_GRAD2, /* backprop signals G_1..G_{L-1} of each input set, rows (mu, k) */
  WS_S1, WS_S2,       /* Gram scratch: layer-input Gram, signal Gram */
  WS_XGRAM,           /* cached input Gram X1 X2^T */
  WS_TMP,             /* one row of activation derivatives */
  WS_SQRT_ETA,        /* sqrt(eta), once per call of the eta path */
  WS_NBUF
};

struct ntk_kernel_ws {
  double *buf[WS_NBUF];
  size_t cap[WS_NBUF]; /* doubles */
  int xvalid;          /* WS_XGRAM holds the Gram for the key below */
  int xsame;
  size_t xP1, xP2, xD;
  uint64_t xh1, xh2;
  size_t hits;
};

int ntk_kernel_ws_new(ntk_kernel_ws **out, ntk_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  return NTK_OK;
}

void ntk_kernel_ws_clear(ntk_kernel_ws *ws) {
  int i;
  if (!ws) return;
  for (i = 0; i < WS_NBUF; i++) {
    ntk_pages_free(ws->buf[i], ws->cap[i]);
    ws->buf[i] = NULL;
    ws->cap[i] = 0;
  }
  ws->xvalid = 0;
}

void ntk_kernel_ws_free(ntk_kernel_ws *ws) {
  ntk_kernel_ws_clear(ws);
  free(ws);
}

size_t ntk_kernel_ws_bytes(const ntk_kernel_ws *ws) {
  size_t b = 0;
  int i;
  for (i = 0; i < WS_NBUF; i++) b += ws->cap[i] * sizeof(double);
  return b;
}

size_t ntk_kernel_ws_hits(const ntk_kernel_ws *ws) { return ws->hits; }

/* Eight independent lanes of h <- (h ^ w) * K: each step is a bijection of h for fixed w and of w
 * for fixed h, so changing any single element always changes the hash; the lanes keep the
 * multiplies independent so the hash runs near memory speed. */
uint64_t ntk_kernel_hash(const double *x, size_t n) {
  const uint64_t mul = 0x9E3779B97F4A7C15ULL;
  uint64_t h[8], w, r;
  size_t i, j;
  for (j = 0; j < 8; j++) h[j] = 0x243F6A8885A308D3ULL + j;
  for (i = 0; i + 8 <= n; i += 8)
    for (j = 0; j < 8; j++) {
      memcpy(&w, x + i + j, sizeof w);
      h[j] = (h[j] ^ w) * mul;
    }
  for (; i < n; i++) {
    memcpy(&w, x + i, sizeof w);
    h[0] = (h[0] ^ w) * mul;
  }
  r = (uint64_t)n * mul;
  for (j = 0; j < 8; j++) r = ((r ^ h[j]) * mul) ^ (r >> 31);
  return r;
}

/* Grows buffer b of ws to hold n doubles; contents are not kept. */
static double *ws_grow(ntk_kernel_ws *ws, int b, size_t n, ntk_error *err) {
  if (n == 0) n = 1;
  if (n > ws->cap[b]) {
    double *p;
    if (n > SIZE_MAX / sizeof(double)) {
      ntk_error_set(err, NTK_ENOMEM, 0, "kernel workspace of %zu doubles too large", n);
      return NULL;
    }
    ntk_pages_free(ws->buf[b], ws->cap[b]);
    ws->buf[b] = NULL;
    ws->cap[b] = 0;
    if (b == WS_XGRAM) ws->xvalid = 0;
    if (ntk_memory_check(n * sizeof *p, "a kernel workspace", err) != NTK_OK) return NULL;
    p = ntk_pages_alloc(n); /* big buffers on huge pages: cheaper first touch (ntk_pages.h) */
    if (!p) {
      ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a kernel workspace of %zu doubles", n);
      return NULL;
    }
    ws->buf[b] = p;
    ws->cap[b] = n;
  }
  return ws->buf[b];
}

void ntk_kernel_shape(size_t *rows, size_t *cols, ntk_kernel_output output, size_t C, size_t P1,
                      size_t P2) {
  if (output == NTK_KERNEL_FULL || output == NTK_KERNEL_BLOCKS) {
    *rows = P1 * C;
    *cols = P2 * C;
  } else {
    *rows = P1;
    *cols = P2;
  }
}

/* What the block routine needs: per input set s, the layer inputs A[s][l] (l = 0..L-1, A_0 = X)
 * and the signals G[s][l] (l = 1..L-1, rows (mu, k)). */
typedef struct kctx {
  const ntk_mlp *net;
  int L;
  size_t C;
  size_t P[2];
  int same;
  int full; /* sample-major (P C)^2 layout; else traced P x P */
  double trace_scale;
  const double *A[2][NTK_MLP_MAX_DEPTH];
  const double *G[2][NTK_MLP_MAX_DEPTH];
} kctx;

/* Forward and backward pass for input set s: copies A_1..A_{L-1} out of the net's forward cache
 * and builds G_{L-1} .. G_1 by G_l = (c_{l+1} G_{l+1} W^{l+1}) o phi_l'(h^l). */
/* One forward pass of net over P contiguous rows X (checked by the caller), lent as a tensor. */
static int rows_forward(ntk_mlp *net, const double *X, size_t P, ntk_error *err) {
  ntk_storage s;
  ntk_tensor x;
  ntk_tensor_wrap(&x, &s, X, P, ntk_mlp_input_dim(net));
  return ntk_mlp_forward(net, NULL, &x, err);
}

static int prepare_set(kctx *c, ntk_kernel_ws *ws, int s, ntk_mlp *net, const double *X,
                       size_t P, ntk_error *err) {
  int L = net->depth, l, st, keep;
  size_t C = c->C, hidden = 0, maxw = 1, off, mu, k, i;
  double *act, *grad, *tmp;
  for (l = 1; l < L; l++) {
    hidden += net->widths[l];
    if (net->widths[l] > maxw) maxw = net->widths[l];
  }
  if (hidden > 0 && (P > SIZE_MAX / sizeof(double) / hidden / C))
    return ntk_error_set(err, NTK_ENOMEM, 0, "kernel workspace for %zu samples too large", P);
  /* Only the first of two input sets needs its layer inputs copied out of the forward cache:
   * the second set's forward pass overwrites it, and nothing runs a forward pass after the last
   * set, whose inputs are read in place. */
  keep = s == 0 && !c->same;
  act = keep ? ws_grow(ws, WS_ACT, P * hidden, err) : NULL;
  grad = act || !keep ? ws_grow(ws, WS_GRAD1 + s, P * C * hidden, err) : NULL;
  tmp = grad ? ws_grow(ws, WS_TMP, maxw, err) : NULL;
  if (!tmp) return err ? err->status : NTK_ENOMEM;
  if ((st = rows_forward(net, X, P, err)) != NTK_OK) return st;
  c->A[s][0] = X;
  off = 0;
  for (l = 1; l < L; l++) {
    if (keep) {
      memcpy(act + off * P, net->post[l - 1], P * net->widths[l] * sizeof *act);
      c->A[s][l] = act + off * P;
    } else {
      c->A[s][l] = net->post[l - 1];
    }
    c->G[s][l] = grad + off * P * C;
    off += net->widths[l];
  }
  for (l = L - 1; l >= 1; l--) {
    size_t n = net->widths[l], nn = net->widths[l + 1];
    double cl = net->wscale[l];
    const double *W = net->params + net->w_off[l];
    double *Gl = (double *)c->G[s][l];
    if (l == L - 1) {
      /* g^{L-1}_k = phi'(h) o c_L W^L[k, :] since g^L_k = e_k */
      for (mu = 0; mu < P; mu++)
        for (k = 0; k < C; k++)
          for (i = 0; i < n; i++) Gl[(mu * C + k) * n + i] = cl * W[k * n + i];
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(P * C), (int)n, (int)nn, cl,
                  c->G[s][l + 1], (int)nn, W, (int)n, 0.0, Gl, (int)n);
    }
    if (net->act[l - 1] != NTK_ACT_LINEAR)
      for (mu = 0; mu < P; mu++) {
        ntk_activation_deriv(net->act[l - 1], tmp, net->pre[l - 1] + mu * n, n);
        for (k = 0; k < C; k++) {
          double *g = Gl + (mu * C + k) * n;
          for (i = 0; i < n; i++) g[i] *= tmp[i];
        }
      }
  }
  return NTK_OK;
}

/* Gram of row blocks: S (m1 x m2, leading dim lds) <- R1 R2^T, R rows of length d; lower
 * triangle only (syrk) when diag. */
static void gram_acc(double *S, size_t lds, const double *R1, const double *R2, size_t m1,
                     size_t m2, size_t d, int diag, double alpha, double beta) {
  if (diag)
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)m1, (int)d, alpha, R1, (int)d, beta,
                S, (int)lds);
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m1, (int)m2, (int)d, alpha, R1,
                (int)d, R2, (int)d, beta, S, (int)lds);
}

static void gram(double *S, size_t lds, const double *R1, const double *R2, size_t m1, size_t m2,
                 size_t d, int diag) {
  gram_acc(S, lds, R1, R2, m1, m2, d, diag, 1.0, 0.0);
}

/* Adds the kernel block of sample rows i0..i0+ni and columns j0..j0+nj to K (and writes it to
 * layers). diag: a diagonal block of a symmetric kernel, only its lower triangle is written.
 * xg (leading dim ldxg): precomputed input Gram of the block, or NULL. S1, S2: scratch of
 * ni*nj and (full ? C^2 : 1) * ni*nj doubles. */
static void kernel_block(const kctx *c, double *S1, double *S2, size_t i0, size_t ni, size_t j0,
                         size_t nj, int diag, double *K, double **layers, const double *xg,
                         size_t ldxg) {
  const ntk_mlp *net = c->net;
  size_t C = c->C, ldk = c->full ? c->P[1] * C : c->P[1];
  double b = net->bias ? 1.0 : 0.0;
  int l, s2 = c->same ? 0 : 1, lstart = 1, nlayers = c->L, fused = 0;
  if (!c->full && !layers && c->L > 1) {
    /* Traced kernel, no per-layer output: layer 1's signal Gram goes straight into K (the first
     * write of the block, beta = 0, so K needs no zeroing) and is scaled in place by its input
     * Gram; the last layer, whose traced signal Gram is the constant C, is added by BLAS
     * (beta = 1) after the loop, its bias constant b C sc joining layer 1's pass. Two-layer nets
     * thus need no P x P scratch besides the input Gram and one pass over K. */
    size_t D = net->widths[0], n1 = net->widths[1], mu, nu;
    double c2 = net->wscale[0] * net->wscale[0], sc = c->trace_scale;
    double extra = b * (double)C * sc;
    const double *s1 = xg;
    size_t lds1 = ldxg;
    double *Kb = K + i0 * ldk + j0;
    if (!xg) {
      gram(S1, nj, c->A[0][0] + i0 * D, c->A[s2][0] + j0 * D, ni, nj, D, diag);
      s1 = S1;
      lds1 = nj;
    }
    gram_acc(Kb, ldk, c->G[0][1] + i0 * C * n1, c->G[s2][1] + j0 * C * n1, ni, nj, C * n1, diag,
             1.0, 0.0);
    for (mu = 0; mu < ni; mu++) {
      size_t jend = diag ? mu + 1 : nj;
      double *krow = Kb + mu * ldk;
      const double *r1 = s1 + mu * lds1;
      for (nu = 0; nu < jend; nu++) krow[nu] = krow[nu] * (c2 * r1[nu] + b) * sc + extra;
    }
    lstart = 2;
    nlayers = c->L - 1;
    fused = 1;
  }
  for (l = lstart; l <= nlayers; l++) {
    size_t nin = net->widths[l - 1], mu, nu;
    double c2 = net->wscale[l - 1] * net->wscale[l - 1];
    const double *s1 = S1, *sg = S2;
    size_t lds1 = nj, ldsg = nj;
    double *lay = layers ? layers[l - 1] : NULL;
    /* Traced layout with per-layer output: the layer's own block of the output holds one of its
     * Grams (the signal Gram, or the input Gram of the last layer) and is then scaled in place,
     * element by element as below, so per-layer output needs one P x P scratch (S1, depth > 2
     * only) instead of two. */
    double *lblk = lay && !c->full ? lay + i0 * ldk + j0 : NULL;
    if (l == 1 && xg) {
      s1 = xg;
      lds1 = ldxg;
    } else if (lblk && l == c->L) {
      gram(lblk, ldk, c->A[0][l - 1] + i0 * nin, c->A[s2][l - 1] + j0 * nin, ni, nj, nin, diag);
      s1 = lblk;
      lds1 = ldk;
    } else {
      gram(S1, nj, c->A[0][l - 1] + i0 * nin, c->A[s2][l - 1] + j0 * nin, ni, nj, nin, diag);
    }
    if (l < c->L) {
      size_t n = net->widths[l];
      if (c->full) {
        gram(S2, nj * C, c->G[0][l] + i0 * C * n, c->G[s2][l] + j0 * C * n, ni * C, nj * C, n,
             diag);
      } else if (lblk) {
        gram(lblk, ldk, c->G[0][l] + i0 * C * n, c->G[s2][l] + j0 * C * n, ni, nj, C * n, diag);
        sg = lblk;
        ldsg = ldk;
      } else {
        gram(S2, nj, c->G[0][l] + i0 * C * n, c->G[s2][l] + j0 * C * n, ni, nj, C * n, diag);
      }
    }
    if (!c->full) {
      double sc = c->trace_scale, last = (double)C * sc;
      for (mu = 0; mu < ni; mu++) {
        size_t jend = diag ? mu + 1 : nj;
        double *krow = K + (i0 + mu) * ldk + j0;
        double *lrow = lay ? lay + (i0 + mu) * ldk + j0 : NULL;
        /* r1 or r2 may be lrow itself: each entry is read before it is written */
        const double *r1 = s1 + mu * lds1, *r2 = sg + mu * ldsg;
        if (l < c->L) {
          if (lrow)
            for (nu = 0; nu < jend; nu++) {
              double v = (c2 * r1[nu] + b) * r2[nu] * sc;
              lrow[nu] = v;
              krow[nu] += v;
            }
          else
            for (nu = 0; nu < jend; nu++) krow[nu] += (c2 * r1[nu] + b) * r2[nu] * sc;
        } else {
          if (lrow)
            for (nu = 0; nu < jend; nu++) {
              double v = (c2 * r1[nu] + b) * last;
              lrow[nu] = v;
              krow[nu] += v;
            }
          else
            for (nu = 0; nu < jend; nu++) krow[nu] += (c2 * r1[nu] + b) * last;
        }
      }
    } else {
      size_t k, kk, lds2 = nj * C;
      for (mu = 0; mu < ni; mu++) {
        size_t jend = diag ? mu + 1 : nj;
        for (nu = 0; nu < jend; nu++) {
          double a = c2 * s1[mu * lds1 + nu] + b;
          for (k = 0; k < C; k++) {
            size_t kend = (diag && mu == nu) ? k + 1 : C;
            size_t row = (i0 + mu) * C + k, col = (j0 + nu) * C;
            double *krow = K + row * ldk + col;
            double *lrow = lay ? lay + row * ldk + col : NULL;
            const double *g = S2 + (mu * C + k) * lds2 + nu * C;
            for (kk = 0; kk < kend; kk++) {
              double v = l < c->L ? a * g[kk] : (k == kk ? a : 0.0);
              krow[kk] += v;
              if (lrow) lrow[kk] = v;
            }
          }
        }
      }
    }
  }
  if (fused) {
    size_t nin = net->widths[c->L - 1];
    double c2 = net->wscale[c->L - 1] * net->wscale[c->L - 1];
    gram_acc(K + i0 * ldk + j0, ldk, c->A[0][c->L - 1] + i0 * nin, c->A[s2][c->L - 1] + j0 * nin,
             ni, nj, nin, diag, c2 * (double)C * c->trace_scale, 1.0);
  }
}

/* Copies the lower triangle of square M (n x n) onto its upper triangle, in cache blocks of
 * B x B; full off-diagonal blocks go through 4 x 4 register tiles (16 loads, then 16 stores,
 * instead of one strided store per element), which halved the time of this pass. */
static void symmetrize(double *M, size_t n) {
  enum { B = 32 };
  size_t ib, jb, i, j;
  for (ib = 0; ib < n; ib += B)
    for (jb = 0; jb <= ib; jb += B) {
      size_t iend = ib + B < n ? ib + B : n, jend = jb + B < n ? jb + B : n;
      if (jb == ib || iend - ib != B) {
        for (i = ib; i < iend; i++)
          for (j = jb; j < jend && j < i; j++) M[j * n + i] = M[i * n + j];
        continue;
      }
      for (i = ib; i < iend; i += 4)
        for (j = jb; j < jend; j += 4) {
          const double *s0 = M + i * n + j, *s1 = s0 + n, *s2 = s1 + n, *s3 = s2 + n;
          double *d0 = M + j * n + i, *d1 = d0 + n, *d2 = d1 + n, *d3 = d2 + n;
          double a0 = s0[0], a1 = s0[1], a2 = s0[2], a3 = s0[3];
          double b0 = s1[0], b1 = s1[1], b2 = s1[2], b3 = s1[3];
          double c0 = s2[0], c1 = s2[1], c2 = s2[2], c3 = s2[3];
          double e0 = s3[0], e1 = s3[1], e2 = s3[2], e3 = s3[3];
          d0[0] = a0, d0[1] = b0, d0[2] = c0, d0[3] = e0;
          d1[0] = a1, d1[1] = b1, d1[2] = c1, d1[3] = e1;
          d2[0] = a2, d2[1] = b2, d2[2] = c2, d2[3] = e2;
          d3[0] = a3, d3[1] = b3, d3[2] = c3, d3[3] = e3;
        }
    }
}

/* Sample-major (P1 C) x (P2 C) -> output-major (C P1) x (C P2), through scratch T. */
static void to_blocks(double *K, double *T, size_t C, size_t P1, size_t P2) {
  size_t mu, nu, k, kk, cols = P2 * C;
  memcpy(T, K, P1 * C * cols * sizeof *T);
  for (mu = 0; mu < P1; mu++)
    for (k = 0; k < C; k++) {
      const double *src = T + (mu * C + k) * cols;
      for (nu = 0; nu < P2; nu++)
        for (kk = 0; kk < C; kk++) K[(k * P1 + mu) * cols + kk * P2 + nu] = src[nu * C + kk];
    }
}

/* The Adam-preconditioned kernel: sum over sqrt(eta)-scaled Jacobian column tiles. Targets are
 * zeroed by the caller; lower triangles only when c->same. */
static int kernel_eta(const kctx *c, ntk_kernel_ws *ws, const double *eta, double *K,
                      double **layers, ntk_error *err) {
  const ntk_mlp *net = c->net;
  size_t C = c->C, P1 = c->P[0], P2 = c->P[1], ldk = c->full ? P2 * C : P2;
  int l, s, nsets = c->same ? 1 : 2;
  double *J[2];
  size_t maxcols = NTK_KERNEL_ETA_COLS;
  for (l = 1; l <= c->L; l++)
    if (net->widths[l - 1] > maxcols) maxcols = net->widths[l - 1];
  if (net->bias)
    for (l = 1; l <= c->L; l++)
      if (net->widths[l] > maxcols) maxcols = net->widths[l];
  for (s = 0; s < nsets; s++) {
    if (c->P[s] * C > SIZE_MAX / sizeof(double) / maxcols)
      return ntk_error_set(err, NTK_ENOMEM, 0, "Jacobian tile too large");
    J[s] = ws_grow(ws, WS_S1 + s, c->P[s] * C * maxcols, err);
    if (!J[s]) return err ? err->status : NTK_ENOMEM;
  }
  if (c->same) J[1] = J[0];
  {
    /* the Jacobian tiles scale column j by sqrt(eta_j) for every sample: taken once here, not
     * P times (at P = 1000 that was 7.9e7 square roots for the demo's net) */
    double *se = ws_grow(ws, WS_SQRT_ETA, net->nparams, err);
    size_t j;
    if (!se) return err ? err->status : NTK_ENOMEM;
    for (j = 0; j < net->nparams; j++) se[j] = sqrt(eta[j]);
    eta = se;
  }
  for (l = 1; l <= c->L; l++) {
    size_t nin = net->widths[l - 1], nout = net->widths[l], units, i0, mu, k, ii, j;
    double cl = net->wscale[l - 1];
    double *target = layers ? layers[l - 1] : K;
    const double *ew = eta + net->w_off[l - 1];
    units = NTK_KERNEL_ETA_COLS / nin;
    if (units < 1) units = 1;
    if (units > nout) units = nout;
    size_t ntiles = (nout + units - 1) / units, t;
    for (t = 0; t < ntiles + (net->bias ? 1 : 0); t++) {
      /* t == ntiles (past the weights): the bias columns, one tile of nout */
      int is_bias = t == ntiles;
      size_t ui;
      i0 = is_bias ? 0 : t * units;
      ui = is_bias ? nout : (i0 + units <= nout ? units : nout - i0);
      size_t cols = is_bias ? nout : ui * nin;
      for (s = 0; s < nsets; s++) {
        size_t P = c->P[s];
        const double *A = c->A[s][l - 1], *G = l < c->L ? c->G[s][l] : NULL;
        for (mu = 0; mu < P; mu++)
          for (k = 0; k < C; k++) {
            double *row = J[s] + (mu * C + k) * cols;
            for (ii = 0; ii < ui; ii++) {
              size_t unit = is_bias ? ii : i0 + ii;
              double g = G ? G[(mu * C + k) * nout + unit] : (k == unit ? 1.0 : 0.0);
              if (is_bias) {
                row[ii] = g * eta[net->b_off[l - 1] + unit];
              } else {
                const double *a = A + mu * nin, *e = ew + unit * nin;
                double *r = row + ii * nin;
                double gc = g * cl;
                for (j = 0; j < nin; j++) r[j] = gc * a[j] * e[j];
              }
            }
          }
      }
      {
        size_t m1 = c->full ? P1 * C : P1, m2 = c->full ? P2 * C : P2;
        size_t d = c->full ? cols : C * cols;
        if (c->same)
          cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)m1, (int)d, 1.0, J[0], (int)d,
                      1.0, target, (int)ldk);
        else
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m1, (int)m2, (int)d, 1.0,
                      J[0], (int)d, J[1], (int)d, 1.0, target, (int)ldk);
      }
    }
  }
  return NTK_OK;
}

int ntk_kernel_check_inputs(const ntk_mlp *net, const ntk_tensor *X1, const ntk_tensor *X2,
                            int arg1, int arg2, ntk_error *err) {
  size_t D = ntk_mlp_input_dim(net);
  int st;
  if (!X1) return ntk_error_set(err, NTK_EARG, arg1, "inputs X1 expected");
  if ((st = ntk_tensor_check_rows(X1, D, 1, " inputs", arg1, err)) != NTK_OK) return st;
  return X2 ? ntk_tensor_check_rows(X2, D, 1, " inputs", arg2, err) : NTK_OK;
}

int ntk_kernel_inputs(ntk_tensor *x1, ntk_tensor *x2, const ntk_mlp *net, const ntk_tensor *X1,
                      const ntk_tensor *X2, int arg1, int arg2, ntk_error *err) {
  int st = ntk_kernel_check_inputs(net, X1, X2, arg1, arg2, err);
  return st != NTK_OK ? st : ntk_tensor_contiguous_pair(x1, X1, x2, X2, err);
}

int ntk_kernel_eta(ntk_tensor *dst, const ntk_mlp *net, const ntk_tensor *eta, int arg,
                   ntk_error *err) {
  size_t j;
  const double *e;
  int st;
  if (!eta) return NTK_OK;
  if (eta->ndim != 1 || eta->shape[0] != net->nparams)
    return ntk_error_set(err, NTK_ESHAPE, arg, "eta: [%zu] (one step per parameter) expected",
                         net->nparams);
  if ((st = ntk_tensor_contiguous(dst, eta, err)) != NTK_OK) return st;
  e = ntk_tensor_data(dst);
  for (j = 0; j < net->nparams; j++)
    if (!(e[j] >= 0.0) || !isfinite(e[j])) {
      ntk_tensor_release(dst);
      return ntk_error_set(err, NTK_EARG, arg, "eta[%zu] = %g: finite value >= 0 expected", j,
                           e[j]);
    }
  return NTK_OK;
}

/* ntk_kernel_ntk on checked, contiguous inputs (eta: nparams doubles or NULL). */
static int kernel_ntk(double *K, double **layers, ntk_mlp *net, const double *X1, size_t P1,
                      const double *X2, size_t P2, const ntk_kernel_opts *opts, const double *eta,
                      ntk_error *err) {
  ntk_kernel_opts o = {NTK_KERNEL_FULL, NULL, 0, NULL};
  ntk_kernel_ws *tmpws = NULL, *ws;
  kctx c;
  size_t rows, cols, C, D, l;
  int st, L;
  if (opts) o = *opts;
  if (o.output < NTK_KERNEL_FULL || o.output > NTK_KERNEL_MEAN)
    return ntk_error_set(err, NTK_EARG, 6, "invalid output layout %d", (int)o.output);
  L = net->depth;
  C = ntk_mlp_output_dim(net);
  D = ntk_mlp_input_dim(net);
  if (!X2) P2 = P1;
  ntk_kernel_shape(&rows, &cols, o.output, C, P1, P2);
  if (rows > SIZE_MAX / sizeof(double) / cols)
    return ntk_error_set(err, NTK_ENOMEM, 0, "kernel of %zu x %zu too large", rows, cols);
  /* BLAS takes int sizes and leading dimensions */
  if (rows > INT_MAX || cols > INT_MAX || D > INT_MAX / (C > 0 ? C : 1))
    return ntk_error_set(err, NTK_ENOMEM, 0, "kernel of %zu x %zu exceeds BLAS index range", rows,
                         cols);
  ws = o.ws;
  if (!ws) {
    if ((st = ntk_kernel_ws_new(&tmpws, err)) != NTK_OK) return st;
    ws = tmpws;
  }
  memset(&c, 0, sizeof c);
  c.net = net;
  c.L = L;
  c.C = C;
  c.P[0] = P1;
  c.P[1] = P2;
  c.same = X2 == NULL;
  /* with one output every layout is the same P1 x P2 matrix: take the traced path */
  c.full = C > 1 && (o.output == NTK_KERNEL_FULL || o.output == NTK_KERNEL_BLOCKS);
  c.trace_scale = o.output == NTK_KERNEL_MEAN ? 1.0 / (double)C : 1.0;
  if ((st = prepare_set(&c, ws, 0, net, X1, P1, err)) != NTK_OK) goto done;
  if (!c.same && (st = prepare_set(&c, ws, 1, net, X2, P2, err)) != NTK_OK) goto done;
  /* kernel_block's traced path without layers writes every block first with beta = 0 */
  if (c.full || layers || eta || L == 1)
    memset(K, 0, rows * cols * sizeof *K);
  if (layers)
    for (l = 0; l < (size_t)L; l++) memset(layers[l], 0, rows * cols * sizeof *K);

  if (eta) {
    if ((st = kernel_eta(&c, ws, eta, K, layers, err)) != NTK_OK) goto done;
    if (layers) {
      size_t i, n = rows * cols;
      for (l = 0; l < (size_t)L; l++)
        for (i = 0; i < n; i++) K[i] += layers[l][i];
    }
    if (o.output == NTK_KERNEL_MEAN) {
      size_t i, n = rows * cols;
      double sc = 1.0 / (double)C;
      for (i = 0; i < n; i++) K[i] *= sc;
      if (layers)
        for (l = 0; l < (size_t)L; l++)
          for (i = 0; i < n; i++) layers[l][i] *= sc;
    }
  } else if ((o.tile > 0 && (o.tile < P1 || o.tile < P2)) ||
             (o.tile == 0 && tmpws && (P1 > NTK_KERNEL_AUTO_TILE || P2 > NTK_KERNEL_AUTO_TILE))) {
    /* explicit tiles, or a one-off call (nothing to cache) large enough for cache-sized tiles
     * to beat whole-matrix passes; T < max(P1, P2) <= INT_MAX, so T^2 C^2 cannot overflow */
    size_t T = o.tile > 0 ? o.tile : NTK_KERNEL_AUTO_TILE, i0, j0, cc = c.full ? C * C : 1;
    double *S1 = ws_grow(ws, WS_S1, T * T, err);
    double *S2 = S1 ? ws_grow(ws, WS_S2, cc * T * T, err) : NULL;
    if (!S2) {
      st = err ? err->status : NTK_ENOMEM;
      goto done;
    }
    for (i0 = 0; i0 < P1; i0 += T)
      for (j0 = 0; j0 < (c.same ? i0 + 1 : P2); j0 += T) {
        size_t ni = i0 + T <= P1 ? T : P1 - i0, nj = j0 + T <= P2 ? T : P2 - j0;
        kernel_block(&c, S1, S2, i0, ni, j0, nj, c.same && i0 == j0, K, layers, NULL, 0);
      }
  } else {
    size_t cc = c.full ? C * C : 1;
    /* a temporary workspace never sees another call: no key needed */
    uint64_t h1 = tmpws ? 0 : ntk_kernel_hash(X1, P1 * D);
    uint64_t h2 = tmpws || c.same ? h1 : ntk_kernel_hash(X2, P2 * D);
    double *xg = ws->xvalid && ws->xP1 == P1 && ws->xP2 == P2 && ws->xD == D &&
                         ws->xsame == c.same && ws->xh1 == h1 && ws->xh2 == h2
                     ? ws->buf[WS_XGRAM]
                     : NULL;
    /* S1, S2 hold the input and signal Grams of layers 2..L-1, or of every layer in the full
     * layout; with per-layer output of a traced kernel each layer's buffer holds one of its own
     * Grams (kernel_block), so only S1 is needed, for depth > 2; a two-layer traced kernel needs
     * neither. (Cache-sized tiles over the cached Gram measured no faster here: the Grams are
     * BLAS-bound.) */
    int scratch1 = c.full ? L > 1 : L > 2, scratch2 = c.full ? L > 1 : (L > 2 && !layers);
    double *S1 = ws_grow(ws, WS_S1, scratch1 ? P1 * P2 : 1, err);
    double *S2 = S1 ? ws_grow(ws, WS_S2, scratch2 ? cc * P1 * P2 : 1, err) : NULL;
    if (!S2) {
      st = err ? err->status : NTK_ENOMEM;
      goto done;
    }
    if (xg) {
      ws->hits++;
    } else {
      xg = ws_grow(ws, WS_XGRAM, P1 * P2, err);
      if (!xg) {
        st = err ? err->status : NTK_ENOMEM;
        goto done;
      }
      gram(xg, P2, X1, c.same ? X1 : X2, P1, P2, D, c.same);
      ws->xvalid = 1;
      ws->xP1 = P1;
      ws->xP2 = P2;
      ws->xD = D;
      ws->xsame = c.same;
      ws->xh1 = h1;
      ws->xh2 = h2;
    }
    kernel_block(&c, S1, S2, 0, P1, 0, P2, c.same, K, layers, xg, P2);
  }
  if (c.same) {
    symmetrize(K, rows);
    if (layers)
      for (l = 0; l < (size_t)L; l++) symmetrize(layers[l], rows);
  }
  if (o.output == NTK_KERNEL_BLOCKS && C > 1) {
    double *T = ws_grow(ws, WS_S1, rows * cols, err);
    if (!T) {
      st = err ? err->status : NTK_ENOMEM;
      goto done;
    }
    to_blocks(K, T, C, P1, P2);
    if (layers)
      for (l = 0; l < (size_t)L; l++) to_blocks(layers[l], T, C, P1, P2);
  }
  st = NTK_OK;
done:
  ntk_kernel_ws_free(tmpws);
  return st;
}

int ntk_kernel_ntk(double *K, double **layers, ntk_mlp *net, const ntk_tensor *X1,
                   const ntk_tensor *X2, const ntk_kernel_opts *opts, ntk_error *err) {
  ntk_tensor x1 = {0}, x2 = {0}, eta = {0};
  const ntk_tensor *eta_in = opts ? opts->eta : NULL;
  int st;
  if (!net) return ntk_error_set(err, NTK_EARG, 3, "network expected");
  if ((st = ntk_kernel_inputs(&x1, &x2, net, X1, X2, 4, 5, err)) != NTK_OK) return st;
  if ((st = ntk_kernel_eta(&eta, net, eta_in, 6, err)) == NTK_OK)
    st = kernel_ntk(K, layers, net, ntk_tensor_data(&x1), x1.shape[0],
                    X2 ? ntk_tensor_data(&x2) : NULL, X2 ? x2.shape[0] : 0, opts,
                    eta_in ? ntk_tensor_data(&eta) : NULL, err);
  ntk_tensor_release(&x1);
  ntk_tensor_release(&x2);
  ntk_tensor_release(&eta);
  return st;
}

static int kernel_nngp(double **kernels, ntk_mlp *net, const double *X1, size_t P1,
                       const double *X2, size_t P2, ntk_error *err) {
  int L, l, st;
  size_t total = 0, off = 0;
  double *copy = NULL;
  const double *A1[NTK_MLP_MAX_DEPTH + 1];
  L = net->depth;
  if (!X2) P2 = P1;
  if ((st = rows_forward(net, X1, P1, err)) != NTK_OK) return st;
  A1[0] = X1;
  if (X2) {
    /* the second forward pass overwrites the cache: keep X1's representations */
    for (l = 1; l <= L; l++) total += net->widths[l];
    if (P1 > SIZE_MAX / sizeof(double) / total)
      return ntk_error_set(err, NTK_ENOMEM, 0, "batch of %zu rows too large", P1);
    copy = malloc(P1 * total * sizeof *copy);
    if (!copy) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
    for (l = 1; l <= L; l++) {
      memcpy(copy + off, net->post[l - 1], P1 * net->widths[l] * sizeof *copy);
      A1[l] = copy + off;
      off += P1 * net->widths[l];
    }
    if ((st = rows_forward(net, X2, P2, err)) != NTK_OK) {
      free(copy);
      return st;
    }
  } else {
    for (l = 1; l <= L; l++) A1[l] = net->post[l - 1];
  }
  for (l = 0; l <= L; l++) {
    size_t n = net->widths[l];
    const double *A2 = X2 ? (l == 0 ? X2 : net->post[l - 1]) : A1[l];
    if (!kernels[l]) continue;
    gram(kernels[l], P2, A1[l], A2, P1, P2, n, X2 == NULL);
    if (!X2) symmetrize(kernels[l], P1);
  }
  free(copy);
  return NTK_OK;
}

int ntk_kernel_nngp(double **kernels, ntk_mlp *net, const ntk_tensor *X1, const ntk_tensor *X2,
                    ntk_error *err) {
  ntk_tensor x1 = {0}, x2 = {0};
  int st;
  if (!net) return ntk_error_set(err, NTK_EARG, 2, "network expected");
  if ((st = ntk_kernel_inputs(&x1, &x2, net, X1, X2, 3, 4, err)) != NTK_OK) return st;
  st = kernel_nngp(kernels, net, ntk_tensor_data(&x1), x1.shape[0],
                   X2 ? ntk_tensor_data(&x2) : NULL, X2 ? x2.shape[0] : 0, err);
  ntk_tensor_release(&x1);
  ntk_tensor_release(&x2);
  return st;
}
