/* ntk_thin.c: thin products A V (V a few columns) reading A once, in place, on AVX-512. */
#include "ntk_thin.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ntk_threads.h"

/* ---------------------------------------------------------------------------------------- */
/* The loops. Blocking: THIN_ROWS rows of A against up to THIN_RHS right-hand sides (4 x 6 = 24
 * accumulators, 8 doubles each, plus 4 widened rows and one V vector: 29 of the 32 registers),
 * over THIN_CHUNK columns at a time, so that the chunk of V^T (k x THIN_CHUNK doubles, 80 KiB at
 * k = 10) stays in the L2 cache while every row block passes over it, and the chunk of the rows
 * (THIN_ROWS x THIN_CHUNK entries) in L1 while every group of right-hand sides reads it.
 * The sum of row i and column c is the chunks' sums in column order, each the 8 lanes' partial
 * sums added lane by lane in a fixed order: the same bits for the same k, A and V, whatever the
 * rows around it (so for any split of the rows between threads). */
#if defined(__GNUC__) && defined(__x86_64__)
#define THIN_HAVE_LOOPS 1
#define THIN_ROWS THIN_ROW_UNIT
#define THIN_RHS 6
#define THIN_CHUNK 1024
#define AVX512 __attribute__((target("avx512f,fma")))

/* Eight entries of a row of A from offset off, as doubles. */
static inline __attribute__((always_inline)) AVX512 __m512d thin_load(const void *a, int f4,
                                                                      size_t off) {
  return f4 ? _mm512_cvtps_pd(_mm256_loadu_ps((const float *)a + off))
            : _mm512_loadu_pd((const double *)a + off);
}

static inline double thin_entry(const void *a, int f4, size_t off) {
  return f4 ? (double)((const float *)a)[off] : ((const double *)a)[off];
}

/* o[r][c] (+)= sum_{j < cb} a[r][j] vt[c][j] for r < nr, c < ng (nr, ng compile-time constants
 * where inlined, so the accumulators live in registers). a: rows of lda entries (f4 or f8);
 * vt: rows of ldvt doubles; o: rows of ldo doubles, overwritten when first. Explicit FMAs: ISO
 * C mode (-std=c11) does not contract a * b + c. */
static inline __attribute__((always_inline)) AVX512 void
thin_block(const void *a, int f4, size_t lda, const double *vt, size_t ldvt, size_t cb, double *o,
           size_t ldo, int first, const int nr, const int ng) {
  __m512d acc[THIN_ROWS][THIN_RHS];
  size_t j;
  int r, c, l;
#pragma GCC unroll 4
  for (r = 0; r < nr; r++)
#pragma GCC unroll 6
    for (c = 0; c < ng; c++) acc[r][c] = _mm512_setzero_pd();
  for (j = 0; j + 8 <= cb; j += 8) {
    __m512d x[THIN_ROWS];
#pragma GCC unroll 4
    for (r = 0; r < nr; r++) x[r] = thin_load(a, f4, r * lda + j);
#pragma GCC unroll 6
    for (c = 0; c < ng; c++) {
      __m512d v = _mm512_loadu_pd(vt + c * ldvt + j);
#pragma GCC unroll 4
      for (r = 0; r < nr; r++) acc[r][c] = _mm512_fmadd_pd(x[r], v, acc[r][c]);
    }
  }
  for (r = 0; r < nr; r++)
    for (c = 0; c < ng; c++) {
      double lanes[8], s = 0.0;
      size_t t;
      _mm512_storeu_pd(lanes, acc[r][c]);
      for (l = 0; l < 8; l++) s += lanes[l];
      for (t = j; t < cb; t++) s += thin_entry(a, f4, r * lda + t) * vt[c * ldvt + t];
      o[r * ldo + c] = first ? s : o[r * ldo + c] + s;
    }
}

#define THIN_CASE(NR, NG)                                                                        \
  case (NR) * 16 + (NG):                                                                         \
    thin_block(a, f4, lda, vt, ldvt, cb, o, ldo, first, NR, NG);                                 \
    break

#define THIN_CASES(NR)                                                                           \
  THIN_CASE(NR, 1);                                                                              \
  THIN_CASE(NR, 2);                                                                              \
  THIN_CASE(NR, 3);                                                                              \
  THIN_CASE(NR, 4);                                                                              \
  THIN_CASE(NR, 5);                                                                              \
  THIN_CASE(NR, 6)

/* One block of nr <= THIN_ROWS rows and ng <= THIN_RHS right-hand sides, by its instance. */
AVX512 static void thin_block_any(const void *a, int f4, size_t lda, const double *vt,
                                  size_t ldvt, size_t cb, double *o, size_t ldo, int first,
                                  int nr, int ng) {
  switch (nr * 16 + ng) {
    THIN_CASES(1);
    THIN_CASES(2);
    THIN_CASES(3);
    THIN_CASES(4);
  default:
    break; /* not reached: nr in 1..THIN_ROWS, ng in 1..THIN_RHS */
  }
}

/* out (rows x k, ldo) <- a (rows x cols, lda entries a row, f4 or f8) times vt^T. */
AVX512 static void thin_rows(const void *A, int f4, size_t lda, size_t rows, size_t cols,
                             const double *vt, size_t ldvt, size_t k, double *out, size_t ldo) {
  size_t c0, i, g;
  size_t width = f4 ? 4 : 8;
  for (c0 = 0; c0 < cols; c0 += THIN_CHUNK) {
    size_t cb = cols - c0 < THIN_CHUNK ? cols - c0 : THIN_CHUNK;
    for (i = 0; i < rows; i += THIN_ROWS) {
      int nr = (int)(rows - i < THIN_ROWS ? rows - i : THIN_ROWS);
      const void *a = (const char *)A + (i * lda + c0) * width;
      for (g = 0; g < k; g += THIN_RHS) {
        int ng = (int)(k - g < THIN_RHS ? k - g : THIN_RHS);
        thin_block_any(a, f4, lda, vt + g * ldvt + c0, ldvt, cb, out + i * ldo + g, ldo,
                       c0 == 0, nr, ng);
      }
    }
  }
}


int ntk_thin_available(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#else
int ntk_thin_available(void) { return 0; }
#endif

/* One thread's share: in every block (in the given order, so that the threads read the same
 * block at the same time), its part of the rows, cut at multiples of THIN_ROWS. */
typedef struct thin_share {
  const ntk_thin_block *blocks;
  size_t n, lda, cols, ldvt, k, ldo;
  int f4, part, parts, backward;
  const double *vt;
  double *out;
} thin_share;

static void *thin_share_run(void *arg) {
  const thin_share *sh = arg;
  size_t i, width = sh->f4 ? 4 : 8;
  for (i = 0; i < sh->n; i++) {
    const ntk_thin_block *b = &sh->blocks[sh->backward ? sh->n - 1 - i : i];
    size_t per = (b->rows + (size_t)sh->parts - 1) / (size_t)sh->parts;
    size_t r0, r1;
    per = (per + THIN_ROW_UNIT - 1) / THIN_ROW_UNIT * THIN_ROW_UNIT;
    r0 = per * (size_t)sh->part;
    r1 = r0 + per < b->rows ? r0 + per : b->rows;
    if (r0 >= r1) continue;
#ifdef THIN_HAVE_LOOPS
    thin_rows((const char *)b->a + r0 * sh->lda * width, sh->f4, sh->lda, r1 - r0, sh->cols, sh->vt,
              sh->ldvt, sh->k, sh->out + (b->first + r0) * sh->ldo, sh->ldo);
#endif
  }
  return NULL;
}

#define THIN_MAX_THREADS 64

void ntk_thin_blocks(const ntk_thin_block *blocks, size_t n, int f4, size_t lda, size_t cols,
                     const double *vt, size_t ldvt, size_t k, double *out, size_t ldo,
                     int backward) {
  thin_share shares[THIN_MAX_THREADS];
  pthread_t ids[THIN_MAX_THREADS];
  int started[THIN_MAX_THREADS] = {0};
  int parts = ntk_threads_get(), p;
  if (parts < 1) parts = 1;
  if (parts > THIN_MAX_THREADS) parts = THIN_MAX_THREADS;
  for (p = 0; p < parts; p++) {
    thin_share s = {blocks, n, lda, cols, ldvt, k, ldo, f4, p, parts, backward, vt, out};
    shares[p] = s;
  }
  for (p = 1; p < parts; p++)
    started[p] = pthread_create(&ids[p], NULL, thin_share_run, &shares[p]) == 0;
  thin_share_run(&shares[0]);
  for (p = 1; p < parts; p++) {
    if (started[p])
      pthread_join(ids[p], NULL);
    else
      thin_share_run(&shares[p]); /* a thread that could not start: its share runs here */
  }
}

int ntk_thin_matmul(ntk_tensor *out, const ntk_tensor *A, const ntk_tensor *V, ntk_error *err) {
  ntk_tensor a = {0};
  ntk_thin_block block;
  double *vt;
  size_t n, p, k, i, c;
  char got[64];
  if (!out || !out->storage) return ntk_error_set(err, NTK_EARG, 1, "output tensor expected");
  if (!A || !A->storage || A->ndim != 2)
    return ntk_error_set(err, NTK_ESHAPE, 2, "2-D tensor expected, got %s",
                         A && A->storage ? ntk_tensor_shape_str(A, got, sizeof got) : "none");
  n = A->shape[0];
  p = A->shape[1];
  if (!V || !V->storage || V->ndim != 2 || V->shape[0] != p)
    return ntk_error_set(err, NTK_ESHAPE, 3, "[%zu x k] expected, got %s", p,
                         V && V->storage ? ntk_tensor_shape_str(V, got, sizeof got) : "none");
  k = V->shape[1];
  if (out->ndim != 2 || out->shape[0] != n || out->shape[1] != k)
    return ntk_error_set(err, NTK_ESHAPE, 1, "[%zu x %zu] output expected, got %s", n, k,
                         ntk_tensor_shape_str(out, got, sizeof got));
  if (out->stride[1] != 1 || out->stride[0] < (ptrdiff_t)k)
    return ntk_error_set(err, NTK_EARG, 1, "output with contiguous rows expected");
  if (out->storage == A->storage || out->storage == V->storage)
    return ntk_error_set(err, NTK_EARG, 1, "output must not share memory with the operands");
  if (!ntk_thin_available())
    return ntk_error_set(err, NTK_EARG, 0, "thin products need AVX-512, which this CPU lacks");
  if (n == 0 || k == 0) return NTK_OK;
  if (p == 0) { /* an empty sum */
    for (i = 0; i < n; i++)
      for (c = 0; c < k; c++) *ntk_tensor_ptr(out, i, c) = 0.0;
    return NTK_OK;
  }
  vt = malloc(sizeof(double) * p * k);
  if (!vt) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory (%zu x %zu)", k, p);
  for (i = 0; i < p; i++)
    for (c = 0; c < k; c++) vt[c * p + i] = *ntk_tensor_ptr(V, i, c);
  if (A->stride[1] != 1 || A->stride[0] < (ptrdiff_t)p) {
    int st = ntk_tensor_contiguous(&a, A, err);
    if (st != NTK_OK) {
      free(vt);
      return st;
    }
    A = &a;
  }
  block.a = ntk_tensor_ptr(A, 0, 0);
  block.rows = n;
  block.first = 0;
  ntk_thin_blocks(&block, 1, 0, (size_t)A->stride[0], p, vt, p, k, ntk_tensor_ptr(out, 0, 0),
                  (size_t)out->stride[0], 0);
  free(vt);
  ntk_tensor_release(&a);
  return NTK_OK;
}
