/* ntk_io_mmap.c: paged NPY row blocks written atomically and mapped back as one tensor. */
#define _GNU_SOURCE /* MAP_NORESERVE */
#include "ntk_io_mmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ntk_io.h"
#include "ntk_io_stream.h"

/* The header dict of a 2-D C-order array, padded with spaces and ended by a newline so that
 * magic (6) + version (2) + length (2) + dict = NTK_IO_PAGED_HEADER. */
static void paged_header(unsigned char *h, const char *descr, size_t rows, size_t cols) {
  const size_t dict = NTK_IO_PAGED_HEADER - 10;
  int n;
  memcpy(h, "\x93NUMPY\x01\x00", 8);
  h[8] = (unsigned char)(dict & 0xff);
  h[9] = (unsigned char)(dict >> 8);
  n = snprintf((char *)h + 10, dict,
               "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, rows, cols);
  memset(h + 10 + n, ' ', dict - (size_t)n - 1);
  h[NTK_IO_PAGED_HEADER - 1] = '\n';
}

static int little_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

int ntk_io_write_npy_paged(const char *path, const ntk_tensor *t, int dtype, ntk_error *err) {
  ntk_io_out out;
  unsigned char header[NTK_IO_PAGED_HEADER], buf[8 * 512];
  size_t rows, cols, i, j, fill = 0, item = dtype == NTK_NPY_F4 ? 4 : 8;
  int st;
  if (!path) return ntk_error_set(err, NTK_EARG, 1, "path expected");
  if (!t || !t->storage) return ntk_error_set(err, NTK_EARG, 2, "tensor expected");
  if (t->ndim != 2) return ntk_error_set(err, NTK_EARG, 2, "2-D tensor expected, got 1-D");
  if (dtype != NTK_NPY_F8 && dtype != NTK_NPY_F4)
    return ntk_error_set(err, NTK_EARG, 3, "NPY dtype f8 or f4 expected, got %d", dtype);
  if (!little_endian())
    return ntk_error_set(err, NTK_EIO, 0,
                         "paged NPY files are written on little-endian hosts only");
  rows = t->shape[0];
  cols = t->shape[1];
  paged_header(header, dtype == NTK_NPY_F8 ? "<f8" : "<f4", rows, cols);
  st = ntk_io_out_open(&out, path, err);
  if (st != NTK_OK) return st;
  st = ntk_io_out_write(&out, header, sizeof header, err);
  for (i = 0; i < rows && st == NTK_OK; i++)
    for (j = 0; j < cols && st == NTK_OK; j++) {
      double v = ntk_tensor_at(t, i, j);
      if (item == 8) {
        memcpy(buf + fill, &v, 8);
      } else {
        float f = (float)v;
        memcpy(buf + fill, &f, 4);
      }
      fill += item;
      if (fill == sizeof buf) {
        st = ntk_io_out_write(&out, buf, fill, err);
        fill = 0;
      }
    }
  if (st == NTK_OK && fill) st = ntk_io_out_write(&out, buf, fill, err);
  return ntk_io_out_finish(&out, st, err);
}

static size_t page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

static size_t gcd(size_t a, size_t b) {
  while (b) {
    size_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

size_t ntk_io_paged_row_unit(size_t cols) {
  size_t page = page_size(), row = cols * sizeof(double);
  if (NTK_IO_PAGED_HEADER % page != 0 || cols == 0) return 0;
  return page / gcd(row, page);
}

static void storage_unmap(double *data, size_t size) { munmap(data, size * sizeof(double)); }

/* A read-only descriptor of path after checking that it is a paged `dtype` [rows x cols] NPY
 * file: its length (header + payload) and its header exactly as ntk_io_write_npy_paged writes. */
static int open_paged(int *fd_out, const char *path, int dtype, size_t rows, size_t cols,
                      ntk_error *err) {
  unsigned char want[NTK_IO_PAGED_HEADER], got[NTK_IO_PAGED_HEADER];
  const char *descr = dtype == NTK_NPY_F4 ? "<f4" : "<f8";
  size_t payload = rows * cols * (dtype == NTK_NPY_F4 ? 4 : 8);
  struct stat sb;
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ntk_error_set(err, NTK_EIO, 0, "%s: %s", path, strerror(errno));
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return ntk_error_set(err, NTK_EIO, 0, "%s: not a regular file", path);
  }
  if ((unsigned long long)sb.st_size != (unsigned long long)(NTK_IO_PAGED_HEADER + payload)) {
    close(fd);
    return ntk_error_set(err, NTK_EFORMAT, 0,
                         "%s: %lld bytes, expected %zu (a paged [%zu x %zu] %s block)", path,
                         (long long)sb.st_size, NTK_IO_PAGED_HEADER + payload, rows, cols, descr);
  }
  paged_header(want, descr, rows, cols);
  n = pread(fd, got, sizeof got, 0);
  if (n != (ssize_t)sizeof got || memcmp(want, got, sizeof got) != 0) {
    close(fd);
    return ntk_error_set(err, NTK_EFORMAT, 0, "%s: not a paged [%zu x %zu] %s NPY block", path,
                         rows, cols, descr);
  }
  *fd_out = fd;
  return NTK_OK;
}

/* Maps file k at dest (page-aligned) after checking its header and length. */
static int map_block(unsigned char *dest, const char *path, size_t rows, size_t cols,
                     ntk_error *err) {
  size_t payload = rows * cols * sizeof(double);
  int fd, st = open_paged(&fd, path, NTK_NPY_F8, rows, cols, err);
  if (st != NTK_OK) return st;
  if (payload && mmap(dest, payload, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                      NTK_IO_PAGED_HEADER) == MAP_FAILED) {
    int e = errno;
    close(fd);
    return ntk_error_set(err, NTK_EIO, 0, "%s: mmap failed: %s", path, strerror(e));
  }
  close(fd); /* the mapping keeps the file */
  return NTK_OK;
}

static size_t paged_payload(int dtype, size_t rows, size_t cols) {
  return rows * cols * (dtype == NTK_NPY_F4 ? 4 : 8);
}

int ntk_io_map_paged(const void **data, const char *path, int dtype, size_t rows, size_t cols,
                     ntk_error *err) {
  size_t payload;
  void *p;
  int fd, st;
  if (!data) return ntk_error_set(err, NTK_EARG, 1, "output pointer expected");
  *data = NULL;
  if (!path) return ntk_error_set(err, NTK_EARG, 2, "path expected");
  if (dtype != NTK_NPY_F8 && dtype != NTK_NPY_F4)
    return ntk_error_set(err, NTK_EARG, 3, "NPY dtype f8 or f4 expected, got %d", dtype);
  if (rows == 0 || cols == 0)
    return ntk_error_set(err, NTK_EARG, rows == 0 ? 4 : 5, "a block of at least 1 x 1 expected");
  if (rows > NTK_TENSOR_MAX_NUMEL / cols)
    return ntk_error_set(err, NTK_ENOMEM, 0, "block of more than %zu elements",
                         (size_t)NTK_TENSOR_MAX_NUMEL);
  if (NTK_IO_PAGED_HEADER % page_size() != 0)
    return ntk_error_set(err, NTK_EIO, 0, "page size %zu does not divide the %d-byte NPY header",
                         page_size(), NTK_IO_PAGED_HEADER);
  st = open_paged(&fd, path, dtype, rows, cols, err);
  if (st != NTK_OK) return st;
  payload = paged_payload(dtype, rows, cols);
  p = mmap(NULL, payload, PROT_READ, MAP_SHARED, fd, NTK_IO_PAGED_HEADER);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    return ntk_error_set(err, NTK_EIO, 0, "%s: mmap failed: %s", path, strerror(e));
  }
  close(fd);
  *data = p;
  return NTK_OK;
}

void ntk_io_unmap_paged(const void *data, int dtype, size_t rows, size_t cols) {
  if (data) munmap((void *)(uintptr_t)data, paged_payload(dtype, rows, cols));
}

int ntk_io_map_npy_rows(ntk_tensor *t, const char *const *paths, const size_t *rows, size_t n,
                        size_t cols, ntk_error *err) {
  size_t page = page_size(), total_rows = 0, k, bytes;
  unsigned char *region;
  ntk_storage *s;
  int st;
  if (!t || t->storage) return ntk_error_set(err, NTK_EARG, 1, "released tensor expected");
  if (!paths || !rows || n == 0)
    return ntk_error_set(err, NTK_EARG, 2, "at least one block expected");
  if (cols == 0) return ntk_error_set(err, NTK_EARG, 5, "cols >= 1 expected, got 0");
  if (NTK_IO_PAGED_HEADER % page != 0)
    return ntk_error_set(err, NTK_EIO, 0, "page size %zu does not divide the %d-byte NPY header",
                         page, NTK_IO_PAGED_HEADER);
  for (k = 0; k < n; k++) {
    if (!paths[k]) return ntk_error_set(err, NTK_EARG, 2, "path %zu missing", k + 1);
    if (rows[k] == 0) return ntk_error_set(err, NTK_EARG, 3, "block %zu has no rows", k + 1);
    if (k > 0 && (total_rows * cols * sizeof(double)) % page != 0)
      return ntk_error_set(err, NTK_EIO, 0,
                           "%s: block %zu starts at row %zu, not on a page "
                           "(rows multiple of %zu expected)",
                           paths[k], k + 1, total_rows + 1, ntk_io_paged_row_unit(cols));
    if (rows[k] > NTK_TENSOR_MAX_NUMEL / cols || total_rows + rows[k] > NTK_TENSOR_MAX_NUMEL / cols)
      return ntk_error_set(err, NTK_ENOMEM, 0, "kernel of more than %zu elements",
                           (size_t)NTK_TENSOR_MAX_NUMEL);
    total_rows += rows[k];
  }
  bytes = total_rows * cols * sizeof(double);
  s = malloc(sizeof *s);
  if (!s) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  /* reserve the whole range first, so the blocks land side by side; PROT_NONE and NORESERVE:
   * address space only, no memory */
  region = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) {
    free(s);
    return ntk_error_set(err, NTK_ENOMEM, 0, "cannot reserve %zu bytes of address space", bytes);
  }
  total_rows = 0;
  for (k = 0; k < n; k++) {
    st = map_block(region + total_rows * cols * sizeof(double), paths[k], rows[k], cols, err);
    if (st != NTK_OK) {
      munmap(region, bytes);
      free(s);
      return st;
    }
    total_rows += rows[k];
  }
  s->data = (double *)(void *)region;
  s->size = total_rows * cols;
  s->refcount = 1;
  s->free_data = storage_unmap;
  t->storage = s;
  t->offset = 0;
  t->ndim = 2;
  t->shape[0] = total_rows;
  t->shape[1] = cols;
  t->stride[0] = (ptrdiff_t)cols;
  t->stride[1] = 1;
  return NTK_OK;
}
