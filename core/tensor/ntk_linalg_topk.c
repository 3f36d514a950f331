/* ntk_linalg_topk.c: see ntk_linalg_topk.h. */
#include "ntk_linalg_topk.h"

#include <cblas.h> /* not ntk_blas: thin products on this file's own row-major work arrays */
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntk_memory.h"

/* ---------------------------------------------------------------------------------------- */
/* the precondition                                                                         */

/* Edge of the tile pairs compared (two 32 x 32 tiles of doubles fit in L1). */
#define TOPK_TILE 32

#if defined(__GNUC__)
#define TOPK_INLINE __attribute__((always_inline)) inline
#else
#define TOPK_INLINE inline
#endif

/* The loop of ntk_linalg_topk_exact_symmetric, inlined into a plain and an AVX-512 copy (whose
 * gathers read the transposed tile at twice the rate). */
static TOPK_INLINE int exact_symmetric(const double *a, size_t n, size_t lda) {
  size_t i0, j0, i, j;
  for (i0 = 0; i0 < n; i0 += TOPK_TILE)
    for (j0 = 0; j0 <= i0; j0 += TOPK_TILE) {
      size_t i1 = i0 + TOPK_TILE < n ? i0 + TOPK_TILE : n;
      size_t j1 = j0 + TOPK_TILE < n ? j0 + TOPK_TILE : n;
      int same = 1;
      for (i = i0; i < i1; i++) {
        const double *row = a + i * lda;
        size_t jend = j1 < i + 1 ? j1 : i + 1;
        /* x - x is 0 exactly when x is finite (an integer AND, no floating-point chain) */
        for (j = j0; j < jend; j++) same &= (row[j] == a[j * lda + i]) & (row[j] - row[j] == 0.0);
      }
      if (!same) return 0;
    }
  return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* thin products: C (n x b) = beta C + alpha A B and C (p x b) = A^T B, b a multiple of 8      */

#if defined(__GNUC__) && defined(__x86_64__)
#define TOPK_HAVE_AVX512_LOOPS 1
/* Eight doubles, one AVX-512 register; loads and stores go through memcpy (any alignment, no
 * aliasing question), which the compiler turns into single unaligned moves. */
typedef double v8d __attribute__((vector_size(64)));
#define AVX512 __attribute__((target("avx512f,fma")))

/* C (n x b, ldc) <- beta C + alpha A B for A n x p (lda), B p x b (ldb); beta is 0 or 1. Eight
 * rows of A at a time against eight columns of B: 8 accumulators, 8 FMAs per B row loaded, and
 * A read in place, row after row (no packing). */
AVX512 static void nn_avx512(double *C, size_t ldc, const double *A, size_t lda, const double *B,
                             size_t ldb, size_t n, size_t p, size_t b, double alpha, double beta) {
  size_t i, j, g, r;
  for (i = 0; i < n; i += 8) {
    const double *a = A + i * lda;
    size_t rows = n - i < 8 ? n - i : 8;
    for (g = 0; g < b; g += 8) {
      v8d acc[8] = {{0}}, q, c;
      if (rows == 8) {
        for (j = 0; j < p; j++) {
          memcpy(&q, B + j * ldb + g, sizeof q);
          acc[0] += a[j] * q;
          acc[1] += a[lda + j] * q;
          acc[2] += a[2 * lda + j] * q;
          acc[3] += a[3 * lda + j] * q;
          acc[4] += a[4 * lda + j] * q;
          acc[5] += a[5 * lda + j] * q;
          acc[6] += a[6 * lda + j] * q;
          acc[7] += a[7 * lda + j] * q;
        }
      } else {
        for (j = 0; j < p; j++) {
          memcpy(&q, B + j * ldb + g, sizeof q);
          for (r = 0; r < rows; r++) acc[r] += a[r * lda + j] * q;
        }
      }
      for (r = 0; r < rows; r++) {
        double *dst = C + (i + r) * ldc + g;
        if (beta == 0.0) {
          c = alpha * acc[r];
        } else {
          memcpy(&c, dst, sizeof c);
          c += alpha * acc[r];
        }
        memcpy(dst, &c, sizeof c);
      }
    }
  }
}

/* C (p x b, ldc) <- A^T B for A n x p (lda), B n x b (ldb): eight columns of A at a time (eight
 * contiguous doubles of each row) against eight of B. */
AVX512 static void tn_avx512(double *C, size_t ldc, const double *A, size_t lda, const double *B,
                             size_t ldb, size_t n, size_t p, size_t b) {
  size_t i, j, g, r;
  for (i = 0; i < p; i += 8) {
    size_t cols = p - i < 8 ? p - i : 8;
    for (g = 0; g < b; g += 8) {
      v8d acc[8] = {{0}}, q;
      if (cols == 8) {
        for (j = 0; j < n; j++) {
          const double *a = A + j * lda + i;
          memcpy(&q, B + j * ldb + g, sizeof q);
          acc[0] += a[0] * q;
          acc[1] += a[1] * q;
          acc[2] += a[2] * q;
          acc[3] += a[3] * q;
          acc[4] += a[4] * q;
          acc[5] += a[5] * q;
          acc[6] += a[6] * q;
          acc[7] += a[7] * q;
        }
      } else {
        for (j = 0; j < n; j++) {
          const double *a = A + j * lda + i;
          memcpy(&q, B + j * ldb + g, sizeof q);
          for (r = 0; r < cols; r++) acc[r] += a[r] * q;
        }
      }
      for (r = 0; r < cols; r++) memcpy(C + (i + r) * ldc + g, &acc[r], sizeof acc[r]);
    }
  }
}

AVX512 static int exact_symmetric_avx512(const double *a, size_t n, size_t lda) {
  return exact_symmetric(a, n, lda);
}

static int have_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#endif

int ntk_linalg_topk_exact_symmetric(const double *a, size_t n, size_t lda) {
#ifdef TOPK_HAVE_AVX512_LOOPS
  if (have_avx512()) return exact_symmetric_avx512(a, n, lda);
#endif
  return exact_symmetric(a, n, lda);
}

/* Whether the products take the AVX-512 loops (b must then be a multiple of 8). */
typedef struct products {
  int loops;
} products;

static void prod_nn(const products *pr, double *C, size_t ldc, const double *A, size_t lda,
                    const double *B, size_t ldb, size_t n, size_t p, size_t b, double alpha,
                    double beta) {
#ifdef TOPK_HAVE_AVX512_LOOPS
  if (pr->loops) {
    nn_avx512(C, ldc, A, lda, B, ldb, n, p, b, alpha, beta);
    return;
  }
#endif
  (void)pr;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)b, (int)p, alpha, A,
              (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static void prod_tn(const products *pr, double *C, size_t ldc, const double *A, size_t lda,
                    const double *B, size_t ldb, size_t n, size_t p, size_t b) {
#ifdef TOPK_HAVE_AVX512_LOOPS
  if (pr->loops) {
    tn_avx512(C, ldc, A, lda, B, ldb, n, p, b);
    return;
  }
#endif
  (void)pr;
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)b, (int)n, 1.0, A, (int)lda,
              B, (int)ldb, 0.0, C, (int)ldc);
}

/* ---------------------------------------------------------------------------------------- */
/* orthonormalizing a block                                                                 */

/* U (b x b, upper triangular, row-major) <- its inverse, in place (column by column of the
 * inverse: U X = I, back substitution; b^3 / 6 flops). */
static void upper_inverse(double *U, size_t b) {
  size_t i, j, l;
  for (j = b; j-- > 0;) {
    U[j * b + j] = 1.0 / U[j * b + j];
    for (i = j; i-- > 0;) {
      double x = 0.0;
      for (l = i + 1; l <= j; l++) x += U[i * b + l] * U[l * b + j];
      U[i * b + j] = -x / U[i * b + i];
    }
  }
}

/* W (n x b, row-major) <- Q with orthonormal columns, W = Q R (R b x b upper triangular), by
 * Cholesky QR twice (CholQR2: W^T W = U^T U, W <- W U^-1; thin products instead of b^2 strided
 * vector operations; the triangular solve as a product with U^-1, which dtrsm ran at a fraction
 * of the rate and with OpenBLAS's threads woken for it). T: n x b scratch (W survives a first
 * pass that fails). Returns 0 when a Gram matrix is not numerically positive definite (the caller
 * then uses block_mgs, which names rank deficiency). G: b x b scratch. */
static int block_cholqr2(const products *pr, double *W, double *T, size_t n, size_t b, double *R,
                         double *G) {
  size_t i, j, l;
  int pass;
  for (pass = 0; pass < 2; pass++) {
    const double *src = pass ? T : W;
    prod_tn(pr, G, b, src, b, src, b, n, b, b);
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)b, G, (lapack_int)b) != 0) return 0;
    for (i = 0; i < b; i++)
      if (!(G[i * b + i] > 1e-6 * G[0])) return 0; /* far from orthogonal: leave it to MGS */
    if (pass == 0) {
      for (i = 0; i < b; i++)
        for (j = 0; j < b; j++) R[i * b + j] = j >= i ? G[i * b + j] : 0.0;
    } else {
      /* R <- G R (both upper triangular) */
      for (i = 0; i < b; i++)
        for (j = b; j-- > i;) {
          double r = 0.0;
          for (l = i; l <= j; l++) r += G[i * b + l] * R[l * b + j];
          R[i * b + j] = r;
        }
    }
    for (i = 0; i < b; i++)
      for (j = 0; j < i; j++) G[i * b + j] = 0.0; /* potrf leaves the lower triangle as it was */
    upper_inverse(G, b);
    prod_nn(pr, pass ? W : T, b, src, b, G, b, n, b, b, 1.0, 0.0);
  }
  return 1;
}

/* The same by modified Gram-Schmidt, twice. Returns 0 when a column lost all but 1e-10 of its
 * norm (rank deficiency: the Krylov space stopped growing). */
static int block_mgs(double *W, size_t n, size_t b, double *R) {
  size_t c, d, i, pass;
  memset(R, 0, b * b * sizeof *R);
  for (c = 0; c < b; c++) {
    double before = cblas_dnrm2((int)n, W + c, (int)b), norm;
    for (pass = 0; pass < 2; pass++)
      for (d = 0; d < c; d++) {
        double r = cblas_ddot((int)n, W + d, (int)b, W + c, (int)b);
        cblas_daxpy((int)n, -r, W + d, (int)b, W + c, (int)b);
        R[d * b + c] += r;
      }
    norm = cblas_dnrm2((int)n, W + c, (int)b);
    if (!(norm > 1e-10 * before)) return 0;
    R[c * b + c] = norm;
    for (i = 0; i < n; i++) W[i * b + c] /= norm;
  }
  return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* the solver                                                                               */

/* The worst ratio, over the k wanted Ritz pairs, of residual to the residual the stop criterion
 * of ntk_linalg_topk.h needs (<= 1: converged). theta: the top k + 1 Ritz values ascending;
 * S (m x (k + 1), column-major): their vectors; R: the coupling of the newest block jb..m-1 to
 * the next (A Q = Q H + Q_next R E^T, so the residual of y = Q s is |R s[jb:m]|). */
static double worst_ratio(const double *theta, const double *S, const double *R, size_t m,
                          size_t jb, size_t b, size_t k) {
  double worst = 0.0;
  size_t t, i, j;
  for (t = 0; t < k; t++) {
    const double *s = S + (t + 1) * m + jb; /* theta[k] is the largest */
    double res = 0.0, scale, gap, need, ratio;
    for (i = 0; i < b; i++) {
      double r = 0.0;
      for (j = i; j < b; j++) r += R[i * b + j] * s[j];
      res += r * r;
    }
    res = sqrt(res);
    scale = fabs(theta[t + 1]);
    if (scale < NTK_LINALG_TOPK_FLOOR * fabs(theta[k])) scale = NTK_LINALG_TOPK_FLOOR * fabs(theta[k]);
    gap = theta[t + 1] - theta[t];
    if (t + 2 <= k && theta[t + 2] - theta[t + 1] < gap) gap = theta[t + 2] - theta[t + 1];
    need = fmin(NTK_LINALG_TOPK_RES * scale, sqrt(NTK_LINALG_TOPK_RTOL * scale * gap));
    need = fmax(need, NTK_LINALG_TOPK_RTOL * scale);
    ratio = need > 0.0 ? res / need : res > 0.0 ? INFINITY : 0.0;
    if (!(ratio <= worst)) worst = ratio; /* NaN too: never converged, the caller falls back */
  }
  return worst;
}

/* The step at which to solve the Ritz problem next, after one at step s with worst ratio rho
 * and the one before at step s0 with rho0 (s0 = 0: none): when the ratios decay geometrically,
 * half the predicted distance to convergence (so the solve at the largest m, the costly one, is
 * rarely more than a step late); the next step otherwise. */
static size_t next_check(size_t s, double rho, size_t s0, double rho0) {
  double f, d;
  if (s0 == 0 || !(rho < rho0) || !(rho > 1.0) || !isfinite(rho)) return s + 1;
  f = pow(rho / rho0, 1.0 / (double)(s - s0)); /* per-step decay, < 1 */
  d = log(rho) / -log(f);                       /* steps still to go */
  if (!(d >= 2.0)) return s + 1;
  if (d > 8.0) d = 8.0;
  return s + (size_t)(d / 2.0);
}

int ntk_linalg_topk_krylov(double *wout, const double *a, size_t lda, size_t n, size_t k,
                           ntk_linalg_topk_products which, size_t *steps, ntk_error *err) {
  const size_t blk = NTK_LINALG_TOPK_BLOCK;
  size_t b = (k + 3 + blk - 1) / blk * blk, mmax = b * NTK_LINALG_TOPK_MAXBLOCKS, m, i, j, s;
  size_t nd, lwork, check = 1, s0 = 0;
  double *Q, *W, *T, *C, *H, *Hw, *R, *G, *theta, *S, *work, *buf, rho0 = 0.0;
  lapack_int *iwork, *isuppz, found = 0, liwork;
  uint64_t x = 0x9E3779B97F4A7C15ull; /* fixed start: same input, same bits */
  products pr = {0};
  int done = 0;
#ifdef TOPK_HAVE_AVX512_LOOPS
  pr.loops = which == NTK_LINALG_TOPK_AUTO && have_avx512();
#endif
  (void)which;
  if (steps) *steps = 0;
  if (mmax > n / 2) mmax = (n / 2) / b * b;
  if (k < 1 || mmax < 2 * b) return 0;
  lwork = 26 * mmax;
  liwork = (lapack_int)(10 * mmax);
  nd = n * mmax + n * b + mmax * b + 2 * mmax * mmax + 2 * b * b + mmax + mmax * (k + 1) +
       lwork;
  if (ntk_memory_check(nd * sizeof(double), "the top-k eigenvalue workspace", err) != NTK_OK)
    return -1;
  buf = malloc(nd * sizeof(double) + ((size_t)liwork + 2 * (k + 1)) * sizeof(lapack_int));
  if (!buf) {
    ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for the top-k eigenvalue workspace");
    return -1;
  }
  /* the basis, block after block (block t: n x b row-major at Q + t n b), so that a run touches
   * the pages of the blocks it makes and the pass over A reads its block contiguously */
  Q = buf;
  T = Q + n * mmax; /* n x b: CholQR2's first pass */
  C = T + n * b;     /* mmax x b: projection coefficients, block t's at C + t b b */
  H = C + mmax * b;
  Hw = H + mmax * mmax;
  R = Hw + mmax * mmax;
  G = R + b * b;
  theta = G + b * b;
  S = theta + mmax;
  work = S + mmax * (k + 1);
  isuppz = (lapack_int *)(buf + nd);
  iwork = isuppz + 2 * (k + 1);
  for (i = 0; i < n * b; i++) { /* xorshift64*: uniform in (-1, 1) */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    Q[i] = (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
  }
  if (!block_mgs(Q, n, b, R)) goto out;
  for (s = 1, m = b; m + b <= mmax; s++, m += b) {
    size_t jb = m - b, nb = s, t; /* the newest block: columns jb .. m-1, block s - 1 */
    W = Q + s * n * b;             /* the next block's slot */
    int pass;
    double rho;
    if (steps) *steps = s;
    /* W <- A Q_{s-1}, then W <- W - Q (Q^T W) twice (block classical Gram-Schmidt);
     * H[0:m, jb:m] <- the coefficients */
    prod_nn(&pr, W, b, a, lda, Q + jb * n, b, n, n, b, 1.0, 0.0);
    for (pass = 0; pass < 2; pass++) {
      for (t = 0; t < nb; t++) prod_tn(&pr, C + t * b * b, b, Q + t * n * b, b, W, b, n, b, b);
      for (t = 0; t < nb; t++)
        prod_nn(&pr, W, b, Q + t * n * b, b, C + t * b * b, b, n, b, b, -1.0, 1.0);
      for (i = 0; i < m; i++)
        for (j = 0; j < b; j++)
          H[i * mmax + jb + j] = (pass ? H[i * mmax + jb + j] : 0.0) + C[i * b + j];
    }
    /* symmetric projection: the new column block mirrored, its diagonal block averaged */
    for (i = 0; i < m; i++)
      for (j = jb; j < m; j++) {
        if (i < jb) {
          H[j * mmax + i] = H[i * mmax + j];
        } else if (i < j) {
          double avg = 0.5 * (H[i * mmax + j] + H[j * mmax + i]);
          H[i * mmax + j] = H[j * mmax + i] = avg;
        }
      }
    /* the next block, W = Q_next R; A Q = Q H + Q_next R E^T. W's columns are orthogonal to
     * the basis; CholQR2 keeps them so when it succeeds, MGS otherwise (W is intact when
     * CholQR2 fails: its second pass writes W only after its Cholesky succeeded) */
    if (!block_cholqr2(&pr, W, T, n, b, R, G) && !block_mgs(W, n, b, R)) goto out;
    if (s >= check || m + 2 * b > mmax) {
      /* Ritz pairs: the top k + 1 of H[0:m, 0:m]; symmetric, so its row-major copy is its
       * column-major one (LAPACKE transposes nothing) */
      for (i = 0; i < m; i++) memcpy(Hw + i * m, H + i * mmax, m * sizeof *H);
      if (LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'I', 'L', (lapack_int)m, Hw, (lapack_int)m,
                              0.0, 0.0, (lapack_int)(m - k), (lapack_int)m, 0.0, &found, theta, S,
                              (lapack_int)m, isuppz, work, (lapack_int)lwork, iwork,
                              liwork) != 0 ||
          (size_t)found != k + 1)
        goto out;
      rho = worst_ratio(theta, S, R, m, jb, b, k);
      if (rho <= 1.0) {
        done = 1;
        break;
      }
      check = next_check(s, rho, s0, rho0);
      s0 = s;
      rho0 = rho;
    }
    /* the next block (in its slot already) joins the basis; its coupling to this one (R^T)
     * comes out of the next step's projection, so H stays Q^T A Q as computed */
  }
  if (done)
    for (i = 0; i < k; i++) wout[i] = theta[k - i]; /* ascending from dsyevr */
out:
  free(buf);
  return done;
}
