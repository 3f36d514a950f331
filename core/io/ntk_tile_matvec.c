/* ntk_tile_matvec.c: out = K V streaming the mapped tiles of a kernel on disk (f8 or f4). */
#include "ntk_tile_matvec.h"

#include <cblas.h> /* raw dgemm on the mapped tiles and the widening buffer: no tensor wraps them */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ntk_io.h"
#include "ntk_io_mmap.h"
#include "ntk_threads.h"

struct ntk_tile_matvec {
  size_t n;            /* tiles */
  size_t cols;         /* columns of K (the length of V's columns) */
  size_t total;        /* rows of K */
  int dtype;           /* NTK_NPY_F8 or NTK_NPY_F4 */
  const void **data;   /* data[k]: the mapped payload of tile k */
  size_t *rows;        /* rows[k] of tile k */
  size_t *first;       /* first[k]: K's row of tile k's row 0 */
  double *panel;       /* NTK_TILE_PANEL_ROWS x NTK_TILE_PANEL_COLS widening buffer (f4) */
  size_t products;     /* products so far: odd ones sweep the tiles last to first */
  int fused;           /* products by the AVX-512 loops below, not by BLAS */
  double *vt;          /* V transposed ([k x cols]) for the fused loops */
  size_t vt_size;      /* doubles allocated at vt: grows with k, once */
};

static int have_avx512(void); /* whether the fused loops below can run here */

void ntk_tile_matvec_free(ntk_tile_matvec *m) {
  size_t k;
  if (!m) return;
  if (m->data)
    for (k = 0; k < m->n; k++) ntk_io_unmap_paged(m->data[k], m->dtype, m->rows[k], m->cols);
  free(m->data);
  free(m->rows);
  free(m->first);
  free(m->panel);
  free(m->vt);
  free(m);
}

int ntk_tile_matvec_open(ntk_tile_matvec **out, const char *const *paths, const size_t *rows,
                         size_t n, size_t cols, int dtype, ntk_error *err) {
  ntk_tile_matvec *m;
  size_t k, total = 0;
  if (!out) return ntk_error_set(err, NTK_EARG, 1, "output pointer expected");
  *out = NULL;
  if (!paths || n == 0) return ntk_error_set(err, NTK_EARG, 2, "at least one tile expected");
  if (!rows) return ntk_error_set(err, NTK_EARG, 3, "row counts expected");
  if (cols == 0) return ntk_error_set(err, NTK_EARG, 5, "cols >= 1 expected, got 0");
  if (dtype != NTK_NPY_F8 && dtype != NTK_NPY_F4)
    return ntk_error_set(err, NTK_EARG, 6, "NPY dtype f8 or f4 expected, got %d", dtype);
  for (k = 0; k < n; k++) {
    if (!paths[k]) return ntk_error_set(err, NTK_EARG, 2, "path %zu missing", k + 1);
    if (rows[k] == 0) return ntk_error_set(err, NTK_EARG, 3, "tile %zu has no rows", k + 1);
    if (rows[k] > NTK_TENSOR_MAX_NUMEL / cols || total + rows[k] > NTK_TENSOR_MAX_NUMEL / cols)
      return ntk_error_set(err, NTK_ENOMEM, 0, "kernel of more than %zu elements",
                           (size_t)NTK_TENSOR_MAX_NUMEL);
    total += rows[k];
  }
  m = calloc(1, sizeof *m);
  if (!m) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  m->n = n;
  m->cols = cols;
  m->total = total;
  m->dtype = dtype;
  m->fused = have_avx512();
  m->data = calloc(n, sizeof *m->data);
  m->rows = calloc(n, sizeof *m->rows);
  m->first = calloc(n, sizeof *m->first);
  m->panel = dtype == NTK_NPY_F4
                 ? malloc(sizeof(double) * NTK_TILE_PANEL_ROWS * NTK_TILE_PANEL_COLS)
                 : NULL;
  if (!m->data || !m->rows || !m->first || (dtype == NTK_NPY_F4 && !m->panel)) {
    ntk_tile_matvec_free(m);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  }
  total = 0;
  for (k = 0; k < n; k++) {
    int st = ntk_io_map_paged(&m->data[k], paths[k], dtype, rows[k], cols, err);
    if (st != NTK_OK) {
      ntk_tile_matvec_free(m); /* unmaps the tiles mapped so far (the rest are NULL) */
      return st;
    }
    m->rows[k] = rows[k];
    m->first[k] = total;
    total += rows[k];
  }
  *out = m;
  return NTK_OK;
}

int ntk_tile_matvec_set_loops(ntk_tile_matvec *m, int loops, ntk_error *err) {
  if (!m) return ntk_error_set(err, NTK_EARG, 1, "tile_matvec expected");
  if (loops != NTK_TILE_LOOPS_FUSED && loops != NTK_TILE_LOOPS_BLAS)
    return ntk_error_set(err, NTK_EARG, 2, "loops NTK_TILE_LOOPS_FUSED or _BLAS expected, got %d",
                         loops);
  if (loops == NTK_TILE_LOOPS_FUSED && !have_avx512())
    return ntk_error_set(err, NTK_EARG, 2, "fused loops need AVX-512, which this CPU lacks");
  m->fused = loops == NTK_TILE_LOOPS_FUSED;
  return NTK_OK;
}

int ntk_tile_matvec_loops(const ntk_tile_matvec *m) {
  return m && m->fused ? NTK_TILE_LOOPS_FUSED : NTK_TILE_LOOPS_BLAS;
}

size_t ntk_tile_matvec_rows(const ntk_tile_matvec *m) { return m ? m->total : 0; }
size_t ntk_tile_matvec_cols(const ntk_tile_matvec *m) { return m ? m->cols : 0; }
int ntk_tile_matvec_dtype(const ntk_tile_matvec *m) { return m ? m->dtype : -1; }
size_t ntk_tile_matvec_bytes(const ntk_tile_matvec *m) {
  return m ? m->total * m->cols * (m->dtype == NTK_NPY_F4 ? 4 : 8) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Fused products on AVX-512: each tile entry is read once from the mapping, widened in a
 * register (f4) and multiplied into float64 accumulators. BLAS needs the f4 tile widened into a
 * buffer first (written and read again), and with k ~ 10 right-hand sides dgemm packs its A
 * operand, the tile, once more: at P = 8,000 that path ran at 3.2x the memory bound.
 *
 * Blocking: TILE_ROWS rows of the tile against up to TILE_RHS right-hand sides (4 x 6 = 24
 * accumulators, 8 doubles each, plus 4 widened rows and one V vector: 29 of the 32 registers),
 * over TILE_CHUNK columns at a time, so that the chunk of V^T (k x TILE_CHUNK doubles) stays in
 * the L2 cache while every row block of the tile passes over it, and the chunk of the rows
 * (TILE_ROWS x TILE_CHUNK entries) in L1 while every group of right-hand sides reads it.
 * The sum of row i and column c is the chunks' sums in column order, each the 8 lanes' partial
 * sums added lane by lane in a fixed order: the same bits for the same k, tiles and V. */
#if defined(__GNUC__) && defined(__x86_64__)
#define TILE_HAVE_FUSED 1
#define TILE_ROWS 4
#define TILE_RHS 6
#define TILE_CHUNK 1024
#define AVX512 __attribute__((target("avx512f,fma")))

/* Eight entries of a tile row from offset off, as doubles. */
static inline __attribute__((always_inline)) AVX512 __m512d tile_load(const void *a, int f4,
                                                                      size_t off) {
  return f4 ? _mm512_cvtps_pd(_mm256_loadu_ps((const float *)a + off))
            : _mm512_loadu_pd((const double *)a + off);
}

static inline double tile_entry(const void *a, int f4, size_t off) {
  return f4 ? (double)((const float *)a)[off] : ((const double *)a)[off];
}

/* o[r][c] (+)= sum_{j < cb} a[r][j] vt[c][j] for r < nr, c < ng (nr, ng compile-time constants
 * where inlined, so the accumulators live in registers). a: rows of lda entries (f4 or f8);
 * vt: rows of ldvt doubles; o: rows of ldo doubles, overwritten when first. Explicit FMAs: ISO
 * C mode (-std=c11) does not contract a * b + c. */
static inline __attribute__((always_inline)) AVX512 void
tile_block(const void *a, int f4, size_t lda, const double *vt, size_t ldvt, size_t cb, double *o,
           size_t ldo, int first, const int nr, const int ng) {
  __m512d acc[TILE_ROWS][TILE_RHS];
  size_t j;
  int r, c, l;
#pragma GCC unroll 4
  for (r = 0; r < nr; r++)
#pragma GCC unroll 6
    for (c = 0; c < ng; c++) acc[r][c] = _mm512_setzero_pd();
  for (j = 0; j + 8 <= cb; j += 8) {
    __m512d x[TILE_ROWS];
#pragma GCC unroll 4
    for (r = 0; r < nr; r++) x[r] = tile_load(a, f4, r * lda + j);
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
      for (t = j; t < cb; t++) s += tile_entry(a, f4, r * lda + t) * vt[c * ldvt + t];
      o[r * ldo + c] = first ? s : o[r * ldo + c] + s;
    }
}

#define TILE_CASE(NR, NG)                                                                        \
  case (NR) * 16 + (NG):                                                                         \
    tile_block(a, f4, lda, vt, ldvt, cb, o, ldo, first, NR, NG);                                 \
    break

#define TILE_CASES(NR)                                                                           \
  TILE_CASE(NR, 1);                                                                              \
  TILE_CASE(NR, 2);                                                                              \
  TILE_CASE(NR, 3);                                                                              \
  TILE_CASE(NR, 4);                                                                              \
  TILE_CASE(NR, 5);                                                                              \
  TILE_CASE(NR, 6)

/* One block of nr <= TILE_ROWS rows and ng <= TILE_RHS right-hand sides, by its instance. */
AVX512 static void tile_block_any(const void *a, int f4, size_t lda, const double *vt,
                                  size_t ldvt, size_t cb, double *o, size_t ldo, int first,
                                  int nr, int ng) {
  switch (nr * 16 + ng) {
    TILE_CASES(1);
    TILE_CASES(2);
    TILE_CASES(3);
    TILE_CASES(4);
  default:
    break; /* not reached: nr in 1..TILE_ROWS, ng in 1..TILE_RHS */
  }
}

/* out (rows x k, ldo) <- tile (rows x cols, f4 or f8) times V, given as vt = V^T (k x cols). */
AVX512 static void fused_tile_product(const void *tile, int f4, size_t rows, size_t cols,
                                      const double *vt, size_t k, double *out, size_t ldo) {
  size_t c0, i, g;
  size_t width = f4 ? 4 : 8;
  for (c0 = 0; c0 < cols; c0 += TILE_CHUNK) {
    size_t cb = cols - c0 < TILE_CHUNK ? cols - c0 : TILE_CHUNK;
    for (i = 0; i < rows; i += TILE_ROWS) {
      int nr = (int)(rows - i < TILE_ROWS ? rows - i : TILE_ROWS);
      const void *a = (const char *)tile + (i * cols + c0) * width;
      for (g = 0; g < k; g += TILE_RHS) {
        int ng = (int)(k - g < TILE_RHS ? k - g : TILE_RHS);
        tile_block_any(a, f4, cols, vt + g * cols + c0, cols, cb, out + i * ldo + g, ldo,
                       c0 == 0, nr, ng);
      }
    }
  }
}

/* One thread's share of a fused product: in every tile (in the sweep's order, so that the
 * threads read the same tile at the same time), its part of the rows, cut at multiples of
 * TILE_ROWS. A row's sum does not depend on the cut: the same bits for any thread count. */
typedef struct fused_share {
  const ntk_tile_matvec *m;
  double *out;
  size_t ldo, k;
  int part, parts, backward;
} fused_share;

static void *fused_share_run(void *arg) {
  const fused_share *sh = arg;
  const ntk_tile_matvec *m = sh->m;
  size_t i, width = m->dtype == NTK_NPY_F4 ? 4 : 8;
  for (i = 0; i < m->n; i++) {
    size_t t = sh->backward ? m->n - 1 - i : i;
    size_t rows = m->rows[t];
    size_t per = (rows + (size_t)sh->parts - 1) / (size_t)sh->parts;
    size_t r0, r1;
    per = (per + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
    r0 = per * (size_t)sh->part;
    r1 = r0 + per < rows ? r0 + per : rows;
    if (r0 >= r1) continue;
    fused_tile_product((const char *)m->data[t] + r0 * m->cols * width, m->dtype == NTK_NPY_F4,
                       r1 - r0, m->cols, m->vt, sh->k, sh->out + (m->first[t] + r0) * sh->ldo,
                       sh->ldo);
  }
  return NULL;
}

/* The fused product over all tiles, on as many threads as ntklab.threads allows (the BLAS
 * count): threads it cannot start leave their share to the calling thread. */
#define TILE_MAX_THREADS 64
static void fused_product(const ntk_tile_matvec *m, double *out, size_t ldo, size_t k) {
  fused_share shares[TILE_MAX_THREADS];
  pthread_t ids[TILE_MAX_THREADS];
  int started[TILE_MAX_THREADS] = {0};
  int parts = ntk_threads_get(), p;
  if (parts < 1) parts = 1;
  if (parts > TILE_MAX_THREADS) parts = TILE_MAX_THREADS;
  for (p = 0; p < parts; p++) {
    shares[p].m = m;
    shares[p].out = out;
    shares[p].ldo = ldo;
    shares[p].k = k;
    shares[p].part = p;
    shares[p].parts = parts;
    shares[p].backward = m->products % 2 == 1;
  }
  for (p = 1; p < parts; p++) started[p] = pthread_create(&ids[p], NULL, fused_share_run, &shares[p]) == 0;
  fused_share_run(&shares[0]);
  for (p = 1; p < parts; p++) {
    if (started[p])
      pthread_join(ids[p], NULL);
    else
      fused_share_run(&shares[p]);
  }
}

static int have_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#else
static int have_avx512(void) { return 0; }
#endif

/* out[0..rows) x [0..k) <- tile (f4, rows x cols) times V (ldv), panel by panel. */
static void f4_tile_product(double *panel, const float *tile, size_t rows, size_t cols,
                            const double *V, size_t ldv, size_t k, double *out, size_t ldo) {
  size_t r0, c0, i, j;
  for (r0 = 0; r0 < rows; r0 += NTK_TILE_PANEL_ROWS) {
    size_t pr = rows - r0 < NTK_TILE_PANEL_ROWS ? rows - r0 : NTK_TILE_PANEL_ROWS;
    for (c0 = 0; c0 < cols; c0 += NTK_TILE_PANEL_COLS) {
      size_t pc = cols - c0 < NTK_TILE_PANEL_COLS ? cols - c0 : NTK_TILE_PANEL_COLS;
      for (i = 0; i < pr; i++) {
        const float *src = tile + (r0 + i) * cols + c0;
        double *dst = panel + i * pc;
        for (j = 0; j < pc; j++) dst[j] = (double)src[j];
      }
      if (k == 1) /* dgemm with one column is far slower than dgemv in OpenBLAS */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)pr, (int)pc, 1.0, panel, (int)pc,
                    V + c0 * ldv, (int)ldv, c0 == 0 ? 0.0 : 1.0, out + r0 * ldo, (int)ldo);
      else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pr, (int)k, (int)pc, 1.0,
                    panel, (int)pc, V + c0 * ldv, (int)ldv, c0 == 0 ? 0.0 : 1.0,
                    out + r0 * ldo, (int)ldo);
    }
  }
}

int ntk_tile_matvec_apply(ntk_tile_matvec *m, ntk_tensor *out, const ntk_tensor *V,
                          ntk_error *err) {
  ntk_tensor vc = {0};
  const ntk_tensor *v = V;
  size_t k, kcols, ldv, ldo, i;
  const double *vp;
  double *op;
  char got[64];
  if (!m) return ntk_error_set(err, NTK_EARG, 1, "tile_matvec expected");
  if (!out || !out->storage) return ntk_error_set(err, NTK_EARG, 2, "output tensor expected");
  if (!V || !V->storage) return ntk_error_set(err, NTK_EARG, 3, "tensor expected");
  if (V->shape[0] != m->cols)
    return ntk_error_set(err, NTK_ESHAPE, 3, "[%zu] or [%zu x k] expected, got %s", m->cols,
                         m->cols, ntk_tensor_shape_str(V, got, sizeof got));
  kcols = V->ndim == 1 ? 1 : V->shape[1];
  if (out->ndim != V->ndim || out->shape[0] != m->total ||
      (V->ndim == 2 && out->shape[1] != kcols))
    return ntk_error_set(err, NTK_ESHAPE, 2, "output of %zu rows and V's columns expected, got %s",
                         m->total, ntk_tensor_shape_str(out, got, sizeof got));
  if (out->stride[1] != 1 || (out->ndim == 2 && out->stride[0] < (ptrdiff_t)kcols) ||
      out->stride[0] < 1)
    return ntk_error_set(err, NTK_EARG, 2, "output with contiguous rows expected");
  if (out->storage == V->storage)
    return ntk_error_set(err, NTK_EARG, 2, "output must not share memory with V");
  if (kcols == 0) return NTK_OK;
  if (V->stride[0] < 1 || V->stride[1] != 1 || (V->ndim == 2 && V->stride[0] < (ptrdiff_t)kcols)) {
    int st = ntk_tensor_contiguous(&vc, V, err);
    if (st != NTK_OK) return st;
    v = &vc;
  }
  vp = ntk_tensor_ptr(v, 0, 0);
  ldv = (size_t)v->stride[0];
  op = ntk_tensor_ptr(out, 0, 0);
  ldo = (size_t)out->stride[0];
  k = kcols;
#ifdef TILE_HAVE_FUSED
  if (m->fused) {
    size_t j, c;
    if (m->vt_size < k * m->cols) { /* once per k: the product's only allocation */
      double *vt = realloc(m->vt, sizeof(double) * k * m->cols);
      if (!vt) {
        ntk_tensor_release(&vc);
        return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory (%zu x %zu transposed V)", k,
                             m->cols);
      }
      m->vt = vt;
      m->vt_size = k * m->cols;
    }
    for (j = 0; j < m->cols; j++)
      for (c = 0; c < k; c++) m->vt[c * m->cols + j] = vp[j * ldv + c];
    fused_product(m, op, ldo, k);
    m->products++;
    ntk_tensor_release(&vc);
    return NTK_OK;
  }
#endif
  /* Alternate sweeps (first to last, then last to first): when the page cache holds only part
   * of the tiles, a one-way sweep evicts each tile just before it is needed again (LRU on a
   * cyclic scan misses every time); turning back starts with the tiles read last, still cached.
   * Each tile writes its own rows of out, so the order does not change a bit. */
  for (i = 0; i < m->n; i++) {
    size_t t = m->products % 2 == 0 ? i : m->n - 1 - i;
    double *o = op + m->first[t] * ldo;
    if (m->dtype == NTK_NPY_F8 && k == 1)
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m->rows[t], (int)m->cols, 1.0,
                  (const double *)m->data[t], (int)m->cols, vp, (int)ldv, 0.0, o, (int)ldo);
    else if (m->dtype == NTK_NPY_F8)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m->rows[t], (int)k,
                  (int)m->cols, 1.0, (const double *)m->data[t], (int)m->cols, vp, (int)ldv, 0.0,
                  o, (int)ldo);
    else
      f4_tile_product(m->panel, (const float *)m->data[t], m->rows[t], m->cols, vp, ldv, k, o,
                      ldo);
  }
  m->products++;
  ntk_tensor_release(&vc);
  return NTK_OK;
}

/* The tile holding row i (binary search over first[]). */
static size_t tile_of(const ntk_tile_matvec *m, size_t i) {
  size_t lo = 0, hi = m->n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    if (m->first[mid] <= i)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static double entry(const ntk_tile_matvec *m, size_t t, size_t r, size_t j) {
  return m->dtype == NTK_NPY_F8 ? ((const double *)m->data[t])[r * m->cols + j]
                                : (double)((const float *)m->data[t])[r * m->cols + j];
}

int ntk_tile_matvec_row(const ntk_tile_matvec *m, ntk_tensor *out, size_t i, ntk_error *err) {
  size_t t, r, j;
  char got[64];
  if (!m) return ntk_error_set(err, NTK_EARG, 1, "tile_matvec expected");
  if (!out || !out->storage || out->ndim != 1 || out->shape[0] != m->cols)
    return ntk_error_set(err, NTK_ESHAPE, 2, "[%zu] output expected, got %s", m->cols,
                         out && out->storage ? ntk_tensor_shape_str(out, got, sizeof got) : "none");
  if (i >= m->total)
    return ntk_error_set(err, NTK_ERANGE, 3, "row %zu out of range [0, %zu)", i, m->total);
  t = tile_of(m, i);
  r = i - m->first[t];
  for (j = 0; j < m->cols; j++) *ntk_tensor_ptr(out, j, 0) = entry(m, t, r, j);
  return NTK_OK;
}

int ntk_tile_matvec_diagonal(const ntk_tile_matvec *m, ntk_tensor *out, ntk_error *err) {
  size_t i, t = 0, len;
  char got[64];
  if (!m) return ntk_error_set(err, NTK_EARG, 1, "tile_matvec expected");
  len = m->total < m->cols ? m->total : m->cols;
  if (!out || !out->storage || out->ndim != 1 || out->shape[0] != len)
    return ntk_error_set(err, NTK_ESHAPE, 2, "[%zu] output expected, got %s", len,
                         out && out->storage ? ntk_tensor_shape_str(out, got, sizeof got) : "none");
  for (i = 0; i < len; i++) {
    while (t + 1 < m->n && m->first[t + 1] <= i) t++;
    *ntk_tensor_ptr(out, i, 0) = entry(m, t, i - m->first[t], i);
  }
  return NTK_OK;
}
