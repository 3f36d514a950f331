/* ntk_metrics.c: alignments, norms, spectra and distances of kernels.
 *
 * Longer than 600 lines on purpose: the one-pass statistics (kernel_stats), the norm and the
 * distance all read the caller's views in place through the strided readers and overflow-safe
 * sums at the top (as_matrix ... mat_frobenius); half of the file is that one pass and its
 * rescaled and centered second passes, which only make sense together. */
#include "ntk_metrics.h"

#include <cblas.h> /* ddot, daxpy, dgemm on the pass's row buffers: see stats_run_blas */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_linalg.h"
#include "ntk_tensor.h"
#include "ntk_tensor_ops.h"

/* The metrics read the caller's tensors and views in place through borrowed 2-D views: struct
 * copies of a tensor (no reference taken, never released) with their shape and strides
 * rearranged, valid while the tensor is. */

/* t as a 2-D view: a 1-D tensor is one row. */
static ntk_tensor as_matrix(const ntk_tensor *t) {
  ntk_tensor A = *t;
  if (t->ndim == 1) {
    A.ndim = 2;
    A.shape[0] = 1;
    A.shape[1] = t->shape[0];
    A.stride[0] = 0;
    A.stride[1] = t->stride[0];
  }
  return A;
}

/* A^T: swaps rows and columns (the same elements). */
static ntk_tensor mat_t(ntk_tensor A) {
  ntk_tensor T = A;
  T.shape[0] = A.shape[1];
  T.shape[1] = A.shape[0];
  T.stride[0] = A.stride[1];
  T.stride[1] = A.stride[0];
  return T;
}

/* A contiguous A as one row of rows x cols elements. */
static ntk_tensor mat_flat(ntk_tensor A) {
  A.shape[1] *= A.shape[0];
  A.shape[0] = 1;
  A.stride[0] = 0;
  A.stride[1] = 1;
  return A;
}

static const double *mat_data(const ntk_tensor *A) { return ntk_tensor_data(A); }

/* Row i of A, scaled by s: in place when its elements are adjacent and s = 1, else gathered
 * into buf (A.shape[1] doubles). */
static const double *mat_row(const ntk_tensor *A, size_t i, double s, double *buf) {
  const double *r = mat_data(A) + (ptrdiff_t)i * A->stride[0];
  size_t j;
  if (A->stride[1] == 1 && s == 1.0) return r;
  for (j = 0; j < A->shape[1]; j++) buf[j] = s * r[(ptrdiff_t)j * A->stride[1]];
  return buf;
}

/* a . b over n contiguous doubles, through BLAS (SIMD; one call per INT_MAX chunk). */
static double dot(const double *a, const double *b, size_t n) {
  double s = 0.0;
  while (n > 0) {
    size_t c = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
    s += cblas_ddot((int)c, a, 1, b, 1);
    a += c;
    b += c;
    n -= c;
  }
  return s;
}


/* Sums of squares below this may have lost digits to underflowing squares (entries below
 * ~1e-135); above DBL_MAX they overflowed: both get a rescaled pass. */
#define SSQ_TINY 0x1p-900

/* A plain sum of squares is trustworthy: finite and not in the underflow range (or exactly 0,
 * which only a zero matrix gives without underflow; a zero matrix gets the rescaled pass too
 * and stays 0). */
static int ssq_ok(double s) { return s <= DBL_MAX && s >= SSQ_TINY; }

/* max |A_ij|; *finite <- 0 when an entry is Inf or NaN. */
static double mat_amax(const ntk_tensor *A, int *finite) {
  double m = 0.0;
  size_t i, j;
  *finite = 1;
  for (i = 0; i < A->shape[0]; i++) {
    const double *r = mat_data(A) + (ptrdiff_t)i * A->stride[0];
    for (j = 0; j < A->shape[1]; j++) {
      double a = fabs(r[(ptrdiff_t)j * A->stride[1]]);
      if (!(a <= DBL_MAX)) *finite = 0;
      else if (a > m) m = a;
    }
  }
  return m;
}

/* A power of two that brings max |A_ij| = amax near 1 (exact scaling); 1 for amax = 0. */
static double unit_scale(double amax) { return amax > 0.0 ? ldexp(1.0, -ilogb(amax)) : 1.0; }

/* The scaled sum of squares (LAPACK's dlassq idea), for the rare matrix whose plain sum of
 * squares over- or underflows. */
static double frobenius_scaled(const ntk_tensor *A) {
  double scale = 0.0, ssq = 1.0;
  size_t i, j;
  for (i = 0; i < A->shape[0]; i++)
    for (j = 0; j < A->shape[1]; j++) {
      double v = mat_data(A)[(ptrdiff_t)i * A->stride[0] + (ptrdiff_t)j * A->stride[1]];
      if (v != 0.0) {
        double a = fabs(v);
        if (scale < a) {
          ssq = 1.0 + ssq * (scale / a) * (scale / a);
          scale = a;
        } else {
          ssq += (a / scale) * (a / scale);
        }
      }
    }
  return scale * sqrt(ssq);
}

static double mat_frobenius(ntk_tensor A, double *buf) {
  double s = 0.0;
  size_t i;
  if (A.stride[1] != 1 && A.stride[0] == 1) A = mat_t(A); /* a transposed view: read along memory */
  if (A.stride[1] == 1 && A.stride[0] == (ptrdiff_t)A.shape[1]) A = mat_flat(A);
  for (i = 0; i < A.shape[0]; i++) {
    const double *r = mat_row(&A, i, 1.0, buf);
    s += dot(r, r, A.shape[1]);
  }
  /* 0 (a zero matrix or underflowed squares), Inf/NaN (overflow or non-finite input) */
  return ssq_ok(s) ? sqrt(s) : frobenius_scaled(&A);
}

double ntk_metrics_tensor_norm(const ntk_tensor *A) {
  ntk_tensor M = as_matrix(A);
  double *buf = NULL, v;
  /* a row buffer only when rows are strided either way (a column of a matrix, a sub-grid) */
  if (M.stride[1] != 1 && M.stride[0] != 1 && !(M.shape[0] == 1 && M.stride[1] == 1)) {
    buf = malloc((M.shape[1] > M.shape[0] ? M.shape[1] : M.shape[0]) * sizeof *buf);
    if (!buf) return frobenius_scaled(&M); /* reads in place, needs nothing */
  }
  v = mat_frobenius(M, buf);
  free(buf);
  return v;
}

/* One pass over a kernel (and K0): the sums ntk_metrics_kernel_stats combines. Targets are
 * stored one column per row of Zt / Zct (zc x n) so each is contiguous. */
typedef struct stats_pass {
  /* in */
  ntk_tensor K, K0;
  int has_k0, align, centered;
  size_t P, m, zc; /* n = P m; m outputs per sample in the full layout, 1 otherwise */
  const double *Zt, *Zct;
  double sk, sk0; /* scales applied to K and K0 (powers of two) */
  double *row, *row0; /* n-double row buffers */
  double *R, *Cc;     /* K E (n x m) and E^T K (m x n) */
  /* out */
  double ssq, trace, num, numc, ssq0, cross, ssqc;
} stats_pass;

static void stats_run(stats_pass *s) {
  size_t n = s->K.shape[0], i, r, a, mu;
  s->ssq = s->trace = s->num = s->numc = s->ssq0 = s->cross = 0.0;
  if (s->centered) memset(s->Cc, 0, s->m * n * sizeof *s->Cc);
  for (i = 0; i < n; i++) {
    const double *k = mat_row(&s->K, i, s->sk, s->row);
    s->ssq += dot(k, k, n);
    s->trace += k[i];
    if (s->align)
      for (r = 0; r < s->zc; r++) s->num += s->Zt[r * n + i] * dot(k, s->Zt + r * n, n);
    if (s->centered) {
      for (r = 0; r < s->zc; r++) s->numc += s->Zct[r * n + i] * dot(k, s->Zct + r * n, n);
      if (s->m == 1) {
        s->R[i] = ntk_sum_contiguous(k, n);
      } else {
        for (a = 0; a < s->m; a++) {
          double t = 0.0;
          for (mu = 0; mu < s->P; mu++) t += k[mu * s->m + a];
          s->R[i * s->m + a] = t;
        }
      }
      /* row i = (mu, a) adds to the column sums of output a */
      {
        cblas_daxpy((int)n, 1.0, k, 1, s->Cc + (i % s->m) * n, 1);
      }
    }
    if (s->has_k0) {
      const double *k0 = mat_row(&s->K0, i, s->sk0, s->row0);
      s->ssq0 += dot(k0, k0, n);
      s->cross += dot(k, k0, n);
    }
  }
}

/* The same sums through BLAS when K's rows are contiguous and unscaled: K [Z, Zc, E] as one
 * GEMM with zc + zc + m right-hand sides and E^T K as another (both multithreaded, SIMD), the
 * squares and <K, K0> as dot products (one call over all of K when it is contiguous). Returns
 * 0 when it does not apply (strided rows, a rescaled pass, no memory): the row loop then runs. */
static int stats_run_blas(stats_pass *s) {
  size_t n = s->K.shape[0], m = s->m, zc = s->zc, i, r, a, q, qa, qc;
  double *W, *KW;
  int flat, flat0;
  if (s->K.stride[1] != 1 || s->sk != 1.0 || (s->has_k0 && (s->K0.stride[1] != 1 || s->sk0 != 1.0)) ||
      n > (size_t)INT_MAX / 4 || s->K.stride[0] > INT_MAX || s->K.stride[0] < (ptrdiff_t)n)
    return 0;
  qa = s->align ? zc : 0;
  qc = s->centered ? zc + m : 0;
  q = qa + qc;
  W = KW = NULL;
  if (q > 0) {
    W = malloc(2 * n * q * sizeof *W);
    if (!W) return 0;
    KW = W + n * q;
    for (i = 0; i < n; i++) {
      double *w = W + i * q;
      for (r = 0; r < qa; r++) w[r] = s->Zt[r * n + i];
      if (s->centered) {
        for (r = 0; r < zc; r++) w[qa + r] = s->Zct[r * n + i];
        for (a = 0; a < m; a++) w[qa + zc + a] = i % m == a ? 1.0 : 0.0;
      }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)q, (int)n, 1.0, mat_data(&s->K),
                (int)s->K.stride[0], W, (int)q, 0.0, KW, (int)q);
  }
  s->ssq = s->trace = s->num = s->numc = s->ssq0 = s->cross = 0.0;
  for (i = 0; i < n; i++) {
    const double *w = W + i * q, *kw = KW + i * q;
    for (r = 0; r < qa; r++) s->num += w[r] * kw[r];
    if (s->centered) {
      for (r = 0; r < zc; r++) s->numc += w[qa + r] * kw[qa + r];
      for (a = 0; a < m; a++) s->R[i * m + a] = kw[qa + zc + a];
    }
    s->trace += mat_data(&s->K)[(ptrdiff_t)i * s->K.stride[0] + (ptrdiff_t)i];
  }
  if (s->centered) /* E^T K: the per-output column sums, E read from W with stride q */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0,
                W + qa + zc, (int)q, mat_data(&s->K), (int)s->K.stride[0], 0.0, s->Cc, (int)n);
  free(W);
  flat = s->K.stride[0] == (ptrdiff_t)n;
  flat0 = s->has_k0 && s->K0.stride[0] == (ptrdiff_t)n;
  if (flat) s->ssq = dot(mat_data(&s->K), mat_data(&s->K), n * n);
  if (flat0) s->ssq0 = dot(mat_data(&s->K0), mat_data(&s->K0), n * n);
  if (flat && flat0) s->cross = dot(mat_data(&s->K), mat_data(&s->K0), n * n);
  if (!flat || (s->has_k0 && !flat0))
    for (i = 0; i < n; i++) {
      const double *k = mat_data(&s->K) + (ptrdiff_t)i * s->K.stride[0];
      if (!flat) s->ssq += dot(k, k, n);
      if (s->has_k0 && !(flat && flat0)) {
        const double *k0 = mat_data(&s->K0) + (ptrdiff_t)i * s->K0.stride[0];
        if (!flat0) s->ssq0 += dot(k0, k0, n);
        s->cross += dot(k, k0, n);
      }
    }
  return 1;
}

/* |H K H|_F^2 from the pass's sums (see ntk_metrics.h); a second pass over (H K H)_ij when the
 * formula cancels more than 4 digits (K close to a sum of row- and column-constant parts). */
static void stats_centered_norm(stats_pass *s) {
  size_t n = s->K.shape[0], m = s->m, P = s->P, i, j, a, b, mu;
  double rr = 0.0, cc = 0.0, ss = 0.0, Pd = (double)P, S[64], *Sp = S;
  double *Sbig = NULL;
  for (i = 0; i < n * m; i++) rr += s->R[i] * s->R[i];
  for (i = 0; i < m * n; i++) cc += s->Cc[i] * s->Cc[i];
  /* E^T K E (m x m): S_ab = sum_mu (K E)_{(mu, a), b} */
  if (m * m > 64) {
    Sbig = malloc(m * m * sizeof *Sbig);
    if (!Sbig) {
      s->ssqc = NAN;
      return;
    }
    Sp = Sbig;
  }
  for (a = 0; a < m; a++)
    for (b = 0; b < m; b++) {
      double t = 0.0;
      for (mu = 0; mu < P; mu++) t += s->R[(mu * m + a) * m + b];
      Sp[a * m + b] = t;
      ss += t * t;
    }
  s->ssqc = s->ssq - (rr + cc) / Pd + ss / (Pd * Pd);
  if (!(s->ssqc > 1e-4 * s->ssq)) {
    /* (H K H)_{(mu,a),(nu,b)} = K - (K E)_{(mu,a),b} / P - (E^T K)_{a,(nu,b)} / P + S_ab / P^2 */
    double t = 0.0;
    for (i = 0; i < n; i++) {
      const double *k = mat_row(&s->K, i, s->sk, s->row);
      const double *Ri = s->R + i * m, *Ca = s->Cc + (i % m) * n, *Sa = Sp + (i % m) * m;
      for (j = 0; j < n; j++) {
        double v = k[j] - Ri[j % m] / Pd - Ca[j] / Pd + Sa[j % m] / (Pd * Pd);
        t += v * v;
      }
    }
    s->ssqc = t;
  }
  free(Sbig);
}

static int stats_sums_ok(const stats_pass *s) {
  return ssq_ok(s->ssq) && (!s->has_k0 || ssq_ok(s->ssq0)) && isfinite(s->num) &&
         isfinite(s->numc) && isfinite(s->cross) && isfinite(s->trace);
}

/* The statistics of K (n x n) against targets Y (P x C matrix view; n = P or P C) and K0.
 * arg positions for errors: K kpos, Y ypos, K0 k0pos. */
static int kernel_stats(ntk_kernel_stats *out, ntk_tensor K, ntk_tensor Y, const ntk_tensor *K0, unsigned what,
                        int kpos, int ypos, int k0pos, ntk_error *err) {
  stats_pass s;
  size_t n = K.shape[0], P = Y.shape[0], C = Y.shape[1], i, r, a, zc = 1, m = 1, nz;
  double *work, *Zt, *Zct, zmax = 0.0, tn = 0.0, tnc = 0.0;
  int align = (what & NTK_STATS_ALIGNMENT) != 0, centered = (what & NTK_STATS_CENTERED) != 0;
  int has_k0 = K0 != NULL && (what & NTK_STATS_DISTANCE);
  memset(&s, 0, sizeof s);
  if (align || centered) {
    if (P == 0 || C == 0) return ntk_error_set(err, NTK_EARG, ypos, "non-empty targets expected");
    if (n == P) {
      m = 1;
      zc = C; /* T = Y Y^T: Z = Y, C columns */
    } else if (n == P * C) {
      m = C;
      zc = 1; /* T = vec(Y) vec(Y)^T */
    } else {
      return ntk_error_set(err, NTK_ESHAPE, kpos,
                           "kernel of size %zu matches neither P = %zu nor P C = %zu", n, P,
                           P * C);
    }
  } else {
    P = n;
  }
  /* an all-transposed read (K^T, K0^T) when that walks K along memory: every statistic is
   * invariant (the target kernels are symmetric, tr and |.|_F are, and <K^T, K0^T> = <K, K0>) */
  if (K.stride[1] != 1 && K.stride[0] == 1) {
    K = mat_t(K);
    if (has_k0) {
      ntk_tensor T = mat_t(*K0);
      s.K0 = T;
    }
  } else if (has_k0) {
    s.K0 = *K0;
  }
  s.K = K;
  nz = (align || centered) ? zc * n : 0;
  /* row, row0, Zt, Zct, R (n m), Cc (m n) */
  work = malloc((2 * n + 2 * nz + (centered ? 2 * n * m : 0) + 1) * sizeof *work);
  if (!work) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  s.row = work;
  s.row0 = work + n;
  Zt = work + 2 * n;
  Zct = Zt + nz;
  s.R = Zct + nz;
  s.Cc = s.R + (centered ? n * m : 0);
  /* targets, scaled to max |z| = 1 (the alignments are invariant; the target norms cannot
   * overflow) and stored column by column */
  if (align || centered) {
    for (i = 0; i < P; i++)
      for (a = 0; a < C; a++) {
        double v = mat_data(&Y)[(ptrdiff_t)i * Y.stride[0] + (ptrdiff_t)a * Y.stride[1]];
        if (fabs(v) > zmax) zmax = fabs(v);
        /* traced: column a, row i; full: one column, row i C + a */
        if (m == 1) Zt[a * n + i] = v;
        else Zt[i * C + a] = v;
      }
    if (zmax > 0.0 && zmax <= DBL_MAX)
      for (i = 0; i < nz; i++) Zt[i] /= zmax;
    /* centered targets: each output centered over the samples (H Z) */
    if (centered) {
      memcpy(Zct, Zt, nz * sizeof *Zct);
      for (a = 0; a < zc * m; a++) {
        /* traced: column a (m = 1) at Zct[a n + i]; full: output a at Zct[i m + a] */
        double mean = 0.0;
        for (i = 0; i < P; i++) mean += m == 1 ? Zct[a * n + i] : Zct[i * m + a];
        mean /= (double)P;
        for (i = 0; i < P; i++) {
          if (m == 1) Zct[a * n + i] -= mean;
          else Zct[i * m + a] -= mean;
        }
      }
    }
    /* |Z Z^T|_F = |Z^T Z|_F: the zc x zc Gram of the columns */
    for (r = 0; r < zc; r++)
      for (a = 0; a < zc; a++) {
        double g = dot(Zt + r * n, Zt + a * n, n);
        tn += g * g;
        if (centered) {
          g = dot(Zct + r * n, Zct + a * n, n);
          tnc += g * g;
        }
      }
    tn = sqrt(tn);
    tnc = sqrt(tnc);
  }
  /* the pass's inputs; K, K0 and the buffers are set above */
  s.has_k0 = has_k0, s.align = align, s.centered = centered;
  s.P = P, s.m = m, s.zc = zc;
  s.Zt = Zt, s.Zct = Zct;
  s.sk = s.sk0 = 1.0;
  if (!stats_run_blas(&s)) stats_run(&s);
  if (!stats_sums_ok(&s)) {
    /* over- or underflowing squares: one more pass with K and K0 scaled near 1, unless an entry
     * is not finite (then the results are not finite either, as they should be) */
    int fin, fin0 = 1;
    double ak = mat_amax(&s.K, &fin), ak0 = has_k0 ? mat_amax(&s.K0, &fin0) : 0.0;
    if (fin && fin0) {
      s.sk = unit_scale(ak);
      s.sk0 = unit_scale(ak0);
      stats_run(&s);
    }
  }
  if (centered) stats_centered_norm(&s);
  free(work);
  out->norm = sqrt(s.ssq) / s.sk;
  out->trace = s.trace / s.sk;
  out->alignment = out->alignment_centered = out->distance = NAN;
  if (s.ssq == 0.0) {
    if (align || centered || has_k0) {
      const char *what_msg = has_k0 && !(align || centered) ? "zero kernel: distance undefined"
                                                           : "zero kernel: alignment undefined";
      return ntk_error_set(err, NTK_EARG, kpos, "%s", what_msg);
    }
    return NTK_OK;
  }
  if (align) {
    if (tn == 0.0) return ntk_error_set(err, NTK_EARG, ypos, "zero targets: alignment undefined");
    out->alignment = s.num / (sqrt(s.ssq) * tn);
  }
  if (centered) {
    if (tnc == 0.0)
      return ntk_error_set(err, NTK_EARG, ypos, "constant targets: centered alignment undefined");
    out->alignment_centered = s.numc / (sqrt(s.ssqc) * tnc);
  }
  if (has_k0) {
    if (s.ssq0 == 0.0)
      return ntk_error_set(err, NTK_EARG, k0pos, "zero kernel: distance undefined");
    out->distance = 1.0 - s.cross / (sqrt(s.ssq) * sqrt(s.ssq0));
  }
  return NTK_OK;
}

/* "square matrix expected, got [..]" for a kernel argument that is not a non-empty square. */
static int check_square(const ntk_tensor *K, int arg, ntk_error *err) {
  char got[64];
  if (!K || !K->storage) return ntk_error_set(err, NTK_EARG, arg, "kernel expected");
  if (K->ndim == 2 && K->shape[0] == K->shape[1] && K->shape[0] > 0) return NTK_OK;
  return ntk_error_set(err, NTK_ESHAPE, arg, "square matrix expected, got %s",
                       ntk_tensor_shape_str(K, got, sizeof got));
}

int ntk_metrics_kernel_stats(ntk_kernel_stats *out, const ntk_tensor *K, const ntk_tensor *Y,
                             const ntk_tensor *K0, unsigned what, ntk_error *err) {
  ntk_tensor Km, Ym, K0m;
  char a[64], b[64];
  int st;
  memset(&Ym, 0, sizeof Ym);
  Ym.ndim = 2;
  if ((st = check_square(K, 2, err)) != NTK_OK) return st;
  Km = as_matrix(K);
  if (what & (NTK_STATS_ALIGNMENT | NTK_STATS_CENTERED)) {
    size_t n = K->shape[0], P, C;
    if (!Y || !Y->storage) return ntk_error_set(err, NTK_EARG, 3, "targets expected");
    P = Y->shape[0];
    C = Y->ndim == 2 ? Y->shape[1] : 1;
    if (P == 0 || C == 0)
      return ntk_error_set(err, NTK_ESHAPE, 3, "non-empty targets expected, got %s",
                           ntk_tensor_shape_str(Y, a, sizeof a));
    if (n != P && n != P * C)
      return ntk_error_set(err, NTK_ESHAPE, 2,
                           "kernel of size %zu matches neither P = %zu nor P*C = %zu of targets %s",
                           n, P, P * C, ntk_tensor_shape_str(Y, a, sizeof a));
    Ym = as_matrix(Y);
    if (Y->ndim == 1) Ym = mat_t(Ym); /* P targets: a P x 1 column */
  }
  if (K0 && (what & NTK_STATS_DISTANCE)) {
    if (!K0->storage) return ntk_error_set(err, NTK_EARG, 4, "K0 expected");
    if (!ntk_tensor_same_shape(K, K0))
      return ntk_error_set(err, NTK_ESHAPE, 4, "shape %s (as K) expected, got %s",
                           ntk_tensor_shape_str(K, a, sizeof a),
                           ntk_tensor_shape_str(K0, b, sizeof b));
    K0m = as_matrix(K0);
  }
  return kernel_stats(out, Km, Ym, (K0 && (what & NTK_STATS_DISTANCE)) ? &K0m : NULL, what, 2, 3,
                      4, err);
}

/* The distance of two same-shape matrices in one fused pass. */
static int mat_distance(double *out, ntk_tensor A, ntk_tensor B, int apos, int bpos, ntk_error *err) {
  double *buf = NULL, saa = 0.0, sbb = 0.0, sab = 0.0, sa = 1.0, sb = 1.0;
  size_t i;
  int pass;
  if (A.stride[1] != 1 && A.stride[0] == 1) {
    A = mat_t(A);
    B = mat_t(B);
  }
  if (A.stride[1] == 1 && A.stride[0] == (ptrdiff_t)A.shape[1] && B.stride[1] == 1 && B.stride[0] == (ptrdiff_t)B.shape[1]) {
    A = mat_flat(A);
    B = mat_flat(B);
  }
  buf = malloc(2 * A.shape[1] * sizeof *buf + 1);
  if (!buf) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  for (pass = 0; pass < 2; pass++) {
    saa = sbb = sab = 0.0;
    for (i = 0; i < A.shape[0]; i++) {
      const double *a = mat_row(&A, i, sa, buf), *b = mat_row(&B, i, sb, buf + A.shape[1]);
      saa += dot(a, a, A.shape[1]);
      sbb += dot(b, b, A.shape[1]);
      sab += dot(a, b, A.shape[1]);
    }
    if (pass == 0 && !(ssq_ok(saa) && ssq_ok(sbb) && isfinite(sab))) {
      int fa, fb;
      double ma = mat_amax(&A, &fa), mb = mat_amax(&B, &fb);
      if (!(fa && fb) || ma == 0.0 || mb == 0.0) break;
      sa = unit_scale(ma);
      sb = unit_scale(mb);
      continue;
    }
    break;
  }
  free(buf);
  if (saa == 0.0) return ntk_error_set(err, NTK_EARG, apos, "zero kernel: distance undefined");
  if (sbb == 0.0) return ntk_error_set(err, NTK_EARG, bpos, "zero kernel: distance undefined");
  *out = 1.0 - sab / (sqrt(saa) * sqrt(sbb));
  return NTK_OK;
}

int ntk_metrics_tensor_distance(double *out, const ntk_tensor *A, const ntk_tensor *B,
                                ntk_error *err) {
  char a[64], b[64];
  if (!A || !A->storage) return ntk_error_set(err, NTK_EARG, 2, "tensor expected");
  if (!B || !B->storage) return ntk_error_set(err, NTK_EARG, 3, "tensor expected");
  if (!ntk_tensor_same_shape(A, B))
    return ntk_error_set(err, NTK_ESHAPE, 3, "shape %s expected, got %s",
                         ntk_tensor_shape_str(A, a, sizeof a),
                         ntk_tensor_shape_str(B, b, sizeof b));
  return mat_distance(out, as_matrix(A), as_matrix(B), 2, 3, err);
}

int ntk_metrics_effective_rank(double *out, const ntk_tensor *K, ntk_error *err) {
  ntk_kernel_stats st;
  double t;
  int rc;
  ntk_tensor k = {0};
  if ((rc = check_square(K, 2, err)) != NTK_OK) return rc;
  /* norm and trace from one pass over contiguous data (one flat dot product) */
  if ((rc = ntk_tensor_contiguous(&k, K, err)) != NTK_OK) return rc;
  rc = ntk_metrics_kernel_stats(&st, &k, NULL, NULL, 0, err);
  ntk_tensor_release(&k);
  if (rc != NTK_OK) return rc;
  if (st.norm == 0.0)
    return ntk_error_set(err, NTK_EARG, 2, "zero kernel: effective rank undefined");
  t = st.trace / st.norm;
  *out = t * t;
  return NTK_OK;
}

int ntk_metrics_alignment(double *out, const ntk_tensor *K, const ntk_tensor *Y, int centered,
                          ntk_error *err) {
  ntk_kernel_stats st;
  int rc = ntk_metrics_kernel_stats(&st, K, Y, NULL,
                                    centered ? NTK_STATS_CENTERED : NTK_STATS_ALIGNMENT, err);
  if (rc == NTK_OK) *out = centered ? st.alignment_centered : st.alignment;
  return rc;
}

/* The checks before an eigensolver: a non-empty square K of LAPACK's sizes, and NTK_ENONFINITE
 * for a NaN or Inf (the solvers would fail later with a message about their own arguments). */
static int eigen_input(const ntk_tensor *K, int arg, ntk_error *err) {
  size_t i, j;
  int st = check_square(K, arg, err);
  if (st != NTK_OK) return st;
  if (K->shape[0] > (size_t)1 << 30) return ntk_error_set(err, NTK_EARG, arg, "kernel too large");
  for (i = 0; i < K->shape[0]; i++)
    for (j = 0; j < K->shape[1]; j++)
      if (!isfinite(ntk_tensor_at(K, i, j)))
        return ntk_error_set(err, NTK_ENONFINITE, arg, "kernel is not finite");
  return NTK_OK;
}

int ntk_metrics_top_eigs(double *w, const ntk_tensor *K, size_t k, ntk_error *err) {
  ntk_tensor top = {0};
  size_t n;
  int st;
  /* the square check only: ntk_linalg_eigh_top reads K for NaN and Inf itself (one pass over K
   * fewer; its message is rewritten below) */
  if ((st = check_square(K, 2, err)) != NTK_OK) return st;
  if (K->shape[0] > (size_t)1 << 30) return ntk_error_set(err, NTK_EARG, 2, "kernel too large");
  n = K->shape[0];
  if (k < 1 || k > n)
    return ntk_error_set(err, NTK_EARG, 3, "k in [1, %zu] expected, got %zu", n, k);
  /* dsyevr inside computes only the requested index range after the tridiagonal reduction;
   * ntk_linalg reads any view (it copies into LAPACK's column-major work array anyway) */
  st = ntk_linalg_eigh_top(&top, NULL, K, k, err);
  if (st == NTK_OK) memcpy(w, ntk_tensor_data(&top), k * sizeof *w);
  else if (st == NTK_ENONFINITE)
    st = ntk_error_set(err, NTK_ENONFINITE, 2, "kernel is not finite");
  else if (err && err->arg == 1)
    err->arg = 2; /* ntk_linalg's A is this function's K */
  ntk_tensor_release(&top);
  return st;
}

int ntk_metrics_psd(int *psd, double *lmin, double *lmax, const ntk_tensor *K, double tol,
                    ntk_error *err) {
  ntk_tensor w = {0};
  size_t n;
  int st;
  if (!(tol >= 0.0)) return ntk_error_set(err, NTK_EARG, 5, "tolerance >= 0 expected");
  if ((st = eigen_input(K, 4, err)) != NTK_OK) return st;
  n = K->shape[0];
  /* all eigenvalues, ascending (values only) */
  st = ntk_linalg_eigh(&w, NULL, K, err);
  if (st == NTK_OK) {
    const double *wv = ntk_tensor_data(&w);
    double top = wv[n - 1] > 0.0 ? wv[n - 1] : 0.0;
    if (lmin) *lmin = wv[0];
    if (lmax) *lmax = wv[n - 1];
    if (psd) *psd = wv[0] >= -tol * top;
  } else if (err && err->arg == 1) {
    err->arg = 4; /* ntk_linalg's A is this function's K */
  }
  ntk_tensor_release(&w);
  return st;
}

/* |A|_F of an m x n row-major buffer. */
static double buffer_norm(const double *a, size_t m, size_t n) {
  ntk_tensor A;
  ntk_storage st;
  st.data = (double *)a;
  st.size = m * n;
  st.refcount = 1;
  memset(&A, 0, sizeof A);
  A.storage = &st;
  A.ndim = 2;
  A.shape[0] = 1;
  A.shape[1] = m * n;
  A.stride[1] = 1;
  return mat_frobenius(A, NULL);
}

int ntk_metrics_weight_alignment(double *out, const ntk_tensor *W, const ntk_tensor *B,
                                 ntk_error *err) {
  ntk_tensor wc = {0}, bc = {0};
  const double *w, *b;
  double *WB = NULL, *G = NULL, num, wn, bn;
  size_t N, D, r, gn;
  char got[64];
  int st;
  if (!W || !W->storage || W->ndim != 2 || ntk_tensor_numel(W) == 0)
    return ntk_error_set(err, NTK_ESHAPE, 2, "N x D matrix expected, got %s",
                         W && W->storage ? ntk_tensor_shape_str(W, got, sizeof got) : "nothing");
  N = W->shape[0];
  D = W->shape[1];
  if (!B || !B->storage) return ntk_error_set(err, NTK_EARG, 3, "teacher expected");
  r = B->ndim == 2 ? B->shape[0] : 1;
  if ((B->ndim == 1 ? B->shape[0] : B->shape[1]) != D || r == 0)
    return ntk_error_set(err, NTK_ESHAPE, 3, "[%zu] or [r x %zu] expected, got %s", D, D,
                         ntk_tensor_shape_str(B, got, sizeof got));
  gn = N <= D ? N : D;
  if ((st = ntk_tensor_contiguous(&wc, W, err)) != NTK_OK ||
      (st = ntk_tensor_contiguous(&bc, B, err)) != NTK_OK)
    goto done;
  w = ntk_tensor_data(&wc);
  b = ntk_tensor_data(&bc);
  WB = malloc(N * r * sizeof *WB);
  G = malloc((gn * gn > r * r ? gn * gn : r * r) * sizeof *G);
  if (!WB || !G) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
    goto done;
  }
  /* <W^T W, B^T B> = |W B^T|_F^2; |W^T W|_F = |W W^T|_F: Gram of the smaller side.
   * cblas directly, not ntk_blas: that would pass a one-row B's transpose as NoTrans, a different
   * BLAS kernel whose sums round differently from the results recorded so far. */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)r, (int)D, 1.0, w, (int)D, b,
              (int)D, 0.0, WB, (int)r);
  num = buffer_norm(WB, N, r);
  num *= num;
  if (N <= D)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)D, 1.0, w, (int)D, w,
                (int)D, 0.0, G, (int)N);
  else
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)N, 1.0, w, (int)D, w,
                (int)D, 0.0, G, (int)D);
  wn = buffer_norm(G, gn, gn);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)r, (int)D, 1.0, b, (int)D, b,
              (int)D, 0.0, G, (int)r);
  bn = buffer_norm(G, r, r);
  if (wn == 0.0)
    st = ntk_error_set(err, NTK_EARG, 2, "zero weights: cosine undefined");
  else if (bn == 0.0)
    st = ntk_error_set(err, NTK_EARG, 3, "zero teacher: cosine undefined");
  else
    *out = num / (wn * bn);
done:
  free(WB);
  free(G);
  ntk_tensor_release(&wc);
  ntk_tensor_release(&bc);
  return st;
}
