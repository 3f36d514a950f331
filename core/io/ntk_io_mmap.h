/* ntk_io_mmap.h: kernels on disk as page-aligned NPY row blocks, mapped back as one tensor.
 *
 * A "paged" NPY file is an ordinary NPY 1.0 file (numpy reads it) whose header is padded to
 * NTK_IO_PAGED_HEADER bytes, so its payload starts on a page boundary and can be mapped. A
 * kernel too large for memory is written as row blocks [i0, i1) x [0, P) of paged <f8 files and
 * mapped back as one [P x P] tensor: the blocks are mapped side by side into one reserved
 * address range, which needs every block but the last to start on a page boundary (i0 P 8
 * divisible by the page size; ntk_io_paged_row_unit gives the row multiple).
 * The mapping is private (copy on write): the files are opened read-only and never change; a
 * write through the tensor changes this process's copy only. Pages are read on demand and
 * evicted under memory pressure, so the tensor may be larger than memory. */
#ifndef NTK_IO_MMAP_H
#define NTK_IO_MMAP_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Bytes of a paged NPY header (magic, version, length and the padded dict): the payload
 * offset. 4096 is a page on x86-64 and most arm64 systems, and under numpy's 10000-byte
 * max_header_size. */
#define NTK_IO_PAGED_HEADER 4096

/* path <- paged NPY 1.0 file of the 2-D tensor t as dtype NTK_NPY_F8 or NTK_NPY_F4 (f4 rounds
 * to nearest), written atomically like ntk_io_write_npy. */
int ntk_io_write_npy_paged(const char *path, const ntk_tensor *t, int dtype, ntk_error *err);

/* The smallest row count r with r cols 8 bytes a multiple of the page size: row blocks of a
 * [P x cols] kernel that start at multiples of r can be mapped side by side. 0 when the page
 * size does not divide NTK_IO_PAGED_HEADER (mapping impossible on this system). */
size_t ntk_io_paged_row_unit(size_t cols);

/* t <- read-only-file mapping of n paged <f8 NPY files, file k holding rows[k] x cols, stacked
 * into one contiguous [sum rows x cols] tensor (t must be released; ntk_tensor_release unmaps
 * when the last view goes). Each file's header must be exactly the one ntk_io_write_npy_paged
 * writes for its shape, and its length header + payload. Failures of the world (missing, short,
 * foreign files; a block that does not start on a page) return NTK_EIO / NTK_EFORMAT with a
 * message naming the file. */
int ntk_io_map_npy_rows(ntk_tensor *t, const char *const *paths, const size_t *rows, size_t n,
                        size_t cols, ntk_error *err);

/* data <- read-only shared mapping of the payload of the paged NPY file path, which must hold
 * a `dtype` (NTK_NPY_F8 or NTK_NPY_F4) [rows x cols] block with exactly the header
 * ntk_io_write_npy_paged writes. Release with ntk_io_unmap_paged and the same shape. Failures
 * of the world as for ntk_io_map_npy_rows. */
int ntk_io_map_paged(const void **data, const char *path, int dtype, size_t rows, size_t cols,
                     ntk_error *err);
void ntk_io_unmap_paged(const void *data, int dtype, size_t rows, size_t cols);

#endif
