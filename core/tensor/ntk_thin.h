/* ntk_thin.h: thin products A V, for A with many rows and columns and V with a few columns
 * (a block of vectors), reading A once, in place, on AVX-512.
 *
 * With k ~ 10 columns dgemm is bound by memory, and OpenBLAS packs A (copies it) before it
 * multiplies: three passes over A's bytes where one suffices. These loops read each entry of A
 * once from where it lies, float64 or float32 (widened in a register), and multiply it into
 * float64 accumulators, 4 rows x 6 columns of V x 1024 columns of A per block, on
 * ntk_threads_get() threads that split the rows (a row's bits do not depend on the split).
 * Users: the streaming products of kernel tiles (ntk_tile_matvec.h) and the preconditioner of
 * ntklab.cg (ntklab.thin_matmul). On CPUs without AVX-512, ntk_thin_available() is 0 and callers
 * use BLAS. */
#ifndef NTK_THIN_H
#define NTK_THIN_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Rows per block: thread splits of a block's rows are cut at multiples of this. */
#define THIN_ROW_UNIT 4

/* Whether the loops run on this CPU (AVX-512F). */
int ntk_thin_available(void);

/* A row block of A: rows [first, first + rows) of the product, their entries at a (rows of lda
 * entries each). */
typedef struct ntk_thin_block {
  const void *a;
  size_t rows;
  size_t first;
} ntk_thin_block;

/* out rows [first, first + rows) of every block <- block x V, V given transposed as vt (k rows
 * of ldvt doubles, cols used), out rows of ldo doubles; entries float32 when f4, else float64;
 * blocks in order, or last to first when backward. Requires ntk_thin_available(). */
void ntk_thin_blocks(const ntk_thin_block *blocks, size_t n, int f4, size_t lda, size_t cols,
                     const double *vt, size_t ldvt, size_t k, double *out, size_t ldo,
                     int backward);

/* out [n x k] <- A [n x p] V [p x k] (float64 tensors, any views; out with contiguous rows, not
 * sharing memory with A or V). NTK_EARG where ntk_thin_available() is 0. */
int ntk_thin_matmul(ntk_tensor *out, const ntk_tensor *A, const ntk_tensor *V, ntk_error *err);

#endif
