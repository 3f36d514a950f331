/* ntk_io.h: array files in and out: IDX (MNIST), CIFAR-10 binary batches, NPY, numeric CSV.
 *
 * Readers accept plain files and gzip-compressed ones (detected by the magic bytes 1f 8b, read
 * through zlib). They validate the header (magic, element type, dimensions, integer overflow,
 * declared payload against the file length) before allocating, and never allocate what a
 * header merely claims: the payload of a plain file must be present in full before it is
 * allocated, and a gzip payload is read in growing chunks capped by the declared size.
 * Every value becomes a float64 tensor element (rows = samples); the caller owns the result.
 *
 * Failures of the world (missing, unreadable, truncated, corrupt or absurd files) return
 * NTK_EIO, NTK_EFORMAT or NTK_ENOMEM with a message that does not repeat the path (callers
 * prefix it); bad arguments return NTK_EARG with err->arg naming them.
 * Writers write to a temporary file in the same directory and rename it into place, so a
 * reader never sees a half-written file. */
#ifndef NTK_IO_H
#define NTK_IO_H

#include <stddef.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Largest payload (decoded bytes) a reader accepts, and the largest element count: a header
 * claiming more is rejected as absurd before anything is read or allocated. 2^32 bytes covers
 * every dataset this project uses (CIFAR-10 is 1.8e8 bytes) with room to spare. */
#define NTK_IO_MAX_BYTES ((size_t)1 << 32)
#define NTK_IO_MAX_NUMEL ((size_t)1 << 32)
/* Most dimensions an IDX or NPY file may declare (IDX allows 255; real files use 1 to 4). */
#define NTK_IO_MAX_DIMS 16

/* The declared shape of a file; the tensor is 1-D for one dimension, else
 * [dims[0] x dims[1] * ... * dims[ndim-1]]. An NPY scalar has ndim 0 and loads as [1]. */
typedef struct ntk_io_shape {
  int ndim;
  size_t dims[NTK_IO_MAX_DIMS];
} ntk_io_shape;

/* IDX element types (the third magic byte). */
enum {
  NTK_IDX_UBYTE = 0x08,
  NTK_IDX_SBYTE = 0x09,
  NTK_IDX_SHORT = 0x0B,
  NTK_IDX_INT = 0x0C,
  NTK_IDX_FLOAT = 0x0D,
  NTK_IDX_DOUBLE = 0x0E
};

/* NPY element types. */
enum { NTK_NPY_F8 = 0, NTK_NPY_F4 = 1, NTK_NPY_U1 = 2 };

/* CIFAR-10 binary batch layout: per record one label byte, then 3 x 32 x 32 pixel bytes
 * (red plane, green plane, blue plane, each row-major). */
#define NTK_CIFAR10_PIXELS 3072
#define NTK_CIFAR10_RECORD 3073

/* t <- contents of the IDX file at path (plain or gzip); shape and type (may be NULL) <- the
 * declared dimensions and element type (NTK_IDX_*). Big-endian, as the format prescribes. */
int ntk_io_read_idx(ntk_tensor *t, ntk_io_shape *shape, int *type, const char *path,
                    ntk_error *err);
/* The same, keeping only the rows rows[0..nrows) (0-based indices into the first dimension, in
 * that order, repeats allowed): t <- [nrows x the rest]; shape <- the file's declared shape. A
 * row past the file's is NTK_EARG (argument 5). rows NULL: every row; nrows 0: the header only
 * (shape and type), nothing of the data is read. */
int ntk_io_read_idx_rows(ntk_tensor *t, ntk_io_shape *shape, int *type, const char *path,
                         const size_t *rows, size_t nrows, ntk_error *err);
/* path <- IDX file of t's values as element type `type`; dims (may be NULL: t's shape) must
 * multiply to t's element count. Integer types require integral values in range (NTK_EARG
 * otherwise, nothing written); float rounds to nearest. */
int ntk_io_write_idx(const char *path, const ntk_tensor *t, const ntk_io_shape *dims, int type,
                     ntk_error *err);

/* images <- [N x 3072] pixel values 0..255, labels <- [N] values 0..9 from one CIFAR-10
 * binary batch (data_batch_N.bin, test_batch.bin; plain or gzip). */
int ntk_io_read_cifar10(ntk_tensor *images, ntk_tensor *labels, const char *path,
                        ntk_error *err);
/* path <- CIFAR-10 batch of images [N x 3072] (integers 0..255) and labels [N] (0..9). */
int ntk_io_write_cifar10(const char *path, const ntk_tensor *images, const ntk_tensor *labels,
                         ntk_error *err);

/* t <- contents of the NPY file at path (versions 1-3; dtypes '<f8', '<f4', '|u1'; C order).
 * shape and dtype (may be NULL) <- the declared shape and NTK_NPY_*. */
int ntk_io_read_npy(ntk_tensor *t, ntk_io_shape *shape, int *dtype, const char *path,
                    ntk_error *err);
/* path <- NPY version 1.0 file of t (1-D or 2-D, C order) as dtype NTK_NPY_*; u1 requires
 * integers 0..255, f4 rounds to nearest. */
int ntk_io_write_npy(const char *path, const ntk_tensor *t, int dtype, ntk_error *err);

/* t <- [rows x cols] finite decimal numbers of a CSV file: fields separated by `delimiter`,
 * lines by \n or \r\n, blank lines ignored, surrounding spaces allowed; skip_header drops the
 * first line.
 * Every row must have the same number of fields. */
int ntk_io_read_csv(ntk_tensor *t, const char *path, char delimiter, int skip_header,
                    ntk_error *err);

#endif
