/* ntk_tile_matvec.h: products of a kernel on disk with a block of vectors, streaming its tiles.
 *
 * A kernel written by ntklab.tiles is a stack of paged NPY row blocks (ntk_io_mmap.h), float64
 * or float32. An ntk_tile_matvec maps every block read-only and computes out = K V for a
 * [cols x k] block of vectors V in one pass over the tiles, accumulating in float64: f8 tiles
 * go to dgemm as they lie in the mapping; f4 tiles are widened panel by panel into a buffer of
 * NTK_TILE_PANEL_ROWS x NTK_TILE_PANEL_COLS doubles (allocated once, at open, and small enough
 * for the L2 cache) that dgemm multiplies into out. On CPUs with AVX-512 the default is instead
 * fused loops that widen each entry in a register and multiply it straight into float64
 * accumulators, on the thread count of ntk_threads_get() (row blocks split between threads; a
 * row's bits do not depend on the count). Each product reads the tiles once: 4 or 8
 * bytes per entry, which bounds its time by the memory (or page cache, or disk) bandwidth.
 * Successive products sweep the tiles in alternate directions, so that when the page cache holds
 * only part of them the part read last is reused first rather than evicted.
 * Pages are read on demand and evicted under memory pressure, so K may be larger than memory.
 *
 * The object owns its mappings and its buffer; it is not re-entrant (one product at a time). */
#ifndef NTK_TILE_MATVEC_H
#define NTK_TILE_MATVEC_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* The widening panel of f4 tiles: 64 x 512 doubles = 256 KiB. */
#define NTK_TILE_PANEL_ROWS 64
#define NTK_TILE_PANEL_COLS 512

typedef struct ntk_tile_matvec ntk_tile_matvec;

/* Which loops compute the products: BLAS on widened panels, or the fused AVX-512 loops. */
enum { NTK_TILE_LOOPS_FUSED = 0, NTK_TILE_LOOPS_BLAS = 1 };

/* *out <- the n paged NPY files paths[k], file k a [rows[k] x cols] block of dtype NTK_NPY_F8 or
 * NTK_NPY_F4, stacked as the rows of one [sum rows x cols] kernel. Every file is checked
 * (length and exact header) before anything is mapped; failures of the world name the file. */
int ntk_tile_matvec_open(ntk_tile_matvec **out, const char *const *paths, const size_t *rows,
                         size_t n, size_t cols, int dtype, ntk_error *err);
/* Unmaps and frees; NULL is a no-op. */
void ntk_tile_matvec_free(ntk_tile_matvec *m);

/* Chooses the loops (default: fused where the CPU has AVX-512, else BLAS); fused on a CPU
 * without AVX-512 is an NTK_EARG error. The two agree to summation order (a few ulps). */
int ntk_tile_matvec_set_loops(ntk_tile_matvec *m, int loops, ntk_error *err);
int ntk_tile_matvec_loops(const ntk_tile_matvec *m);

size_t ntk_tile_matvec_rows(const ntk_tile_matvec *m);
size_t ntk_tile_matvec_cols(const ntk_tile_matvec *m);
int ntk_tile_matvec_dtype(const ntk_tile_matvec *m);
/* Bytes of tile payload one product reads. */
size_t ntk_tile_matvec_bytes(const ntk_tile_matvec *m);

/* out <- K V: V [cols x k] (or 1-D [cols]), out [rows x k] (or 1-D [rows]) preallocated, with
 * a unit column stride (contiguous rows, or a narrowed view of them); V any layout (copied
 * when its rows are not contiguous). out must not overlap V. */
int ntk_tile_matvec_apply(ntk_tile_matvec *m, ntk_tensor *out, const ntk_tensor *V,
                          ntk_error *err);
/* out [cols] <- row i (0-based) of K, widened to float64. */
int ntk_tile_matvec_row(const ntk_tile_matvec *m, ntk_tensor *out, size_t i, ntk_error *err);
/* out [min(rows, cols)] <- the diagonal of K, widened to float64. */
int ntk_tile_matvec_diagonal(const ntk_tile_matvec *m, ntk_tensor *out, ntk_error *err);

#endif
