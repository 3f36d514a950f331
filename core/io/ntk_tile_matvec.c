/* ntk_tile_matvec.c: out = K V streaming the mapped tiles of a kernel on disk (f8 or f4). */
#include "ntk_tile_matvec.h"

#include <cblas.h> /* raw dgemm on the mapped tiles and the widening buffer: no tensor wraps them */
#include <stdlib.h>
#include <string.h>

#include "ntk_io.h"
#include "ntk_io_mmap.h"
#include "ntk_thin.h"

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
  int fused;           /* products by ntk_thin's AVX-512 loops, not by BLAS */
  ntk_thin_block *blocks; /* the tiles as ntk_thin row blocks */
  double *vt;          /* V transposed ([k x cols]) for the fused loops */
  size_t vt_size;      /* doubles allocated at vt: grows with k, once */
};

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
  free(m->blocks);
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
  m->fused = ntk_thin_available();
  m->data = calloc(n, sizeof *m->data);
  m->blocks = calloc(n, sizeof *m->blocks);
  m->rows = calloc(n, sizeof *m->rows);
  m->first = calloc(n, sizeof *m->first);
  m->panel = dtype == NTK_NPY_F4
                 ? malloc(sizeof(double) * NTK_TILE_PANEL_ROWS * NTK_TILE_PANEL_COLS)
                 : NULL;
  if (!m->data || !m->rows || !m->first || !m->blocks || (dtype == NTK_NPY_F4 && !m->panel)) {
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
    m->blocks[k].a = m->data[k];
    m->blocks[k].rows = rows[k];
    m->blocks[k].first = total;
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
  if (loops == NTK_TILE_LOOPS_FUSED && !ntk_thin_available())
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
    /* alternate sweeps, as below; every thread takes its share of each tile's rows in turn */
    ntk_thin_blocks(m->blocks, m->n, m->dtype == NTK_NPY_F4, m->cols, m->cols, m->vt, m->cols, k,
                    op, ldo, m->products % 2 == 1);
    m->products++;
    ntk_tensor_release(&vc);
    return NTK_OK;
  }
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
