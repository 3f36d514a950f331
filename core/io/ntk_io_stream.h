/* ntk_io_stream.h: the byte streams under the file readers and writers (internal to the core).
 *
 * An input stream reads a plain file or, when it starts with the gzip magic 1f 8b, the data
 * it decompresses to. For a plain regular file the remaining length is known, so a payload
 * size can be checked against it before allocating; for gzip it cannot, so payloads are read
 * in growing chunks, capped by what the header declared.
 * An output stream writes to a temporary file next to its destination and renames it into
 * place on commit. */
#ifndef NTK_IO_STREAM_H
#define NTK_IO_STREAM_H

#include <stddef.h>
#include <stdio.h>

#include "ntk_error.h"

typedef struct ntk_io_in {
  FILE *fp;             /* plain file, or NULL */
  void *gz;             /* zlib gzFile, or NULL */
  long long remaining;  /* plain file: bytes not yet read; -1 for gzip (unknown) */
  int is_gzip;
} ntk_io_in;

/* s <- the file at path opened for reading (gzip detected by its magic). Only regular files:
 * a directory, FIFO, device or socket is refused (NTK_EIO "is a FIFO, not a regular file")
 * without blocking, checked on the opened descriptor itself. */
int ntk_io_in_open(ntk_io_in *s, const char *path, ntk_error *err);
/* buf <- exactly n bytes; a short read is NTK_EFORMAT "truncated file (... while reading what)". */
int ntk_io_in_read(ntk_io_in *s, void *buf, size_t n, const char *what, ntk_error *err);
/* *out <- the next `declared` bytes, malloc'd (caller frees), followed by end of file:
 * fewer is "truncated", more is "trailing bytes". declared must be <= NTK_IO_MAX_BYTES. */
int ntk_io_in_read_payload(ntk_io_in *s, size_t declared, unsigned char **out, const char *what,
                           ntk_error *err);
/* *out, *len <- everything left (at most max bytes, more is NTK_ENOMEM), malloc'd with one
 * extra zero byte after the data. */
int ntk_io_in_read_rest(ntk_io_in *s, size_t max, unsigned char **out, size_t *len,
                        ntk_error *err);
/* Closes s; idempotent. */
void ntk_io_in_close(ntk_io_in *s);

typedef struct ntk_io_out {
  FILE *fp;
  char *tmp;         /* malloc'd temporary path (named only at commit when anonymous) */
  const char *path;  /* destination, borrowed */
  int anonymous;     /* 1: fp is an unnamed O_TMPFILE file, nothing on disk to remove */
} ntk_io_out;

/* o <- temporary file beside path: unnamed (O_TMPFILE) where Linux allows, so a killed writer
 * leaves nothing behind, else path.tmp.<pid>.1XXXXXX (also the name an unnamed file takes at
 * commit, just before its rename). Temporaries of path that dead processes left (a kill between
 * those two steps) are removed first. On commit it gets mode 0666 & ~umask, as fopen gives. A
 * destination that exists and is not a regular file (directory, FIFO, device) is refused. */
int ntk_io_out_open(ntk_io_out *o, const char *path, ntk_error *err);
/* Appends n bytes. */
int ntk_io_out_write(ntk_io_out *o, const void *buf, size_t n, ntk_error *err);
/* Flushes, syncs and renames the temporary file to the destination. On failure the temporary
 * file is removed. o is closed either way. */
int ntk_io_out_commit(ntk_io_out *o, ntk_error *err);
/* Removes the temporary file; idempotent (a no-op after commit). */
void ntk_io_out_abort(ntk_io_out *o);
/* Ends a write that returned st so far: commits when st is NTK_OK, else aborts and returns st,
 * so a failed writer never leaves a partial file or a temporary behind. */
int ntk_io_out_finish(ntk_io_out *o, int st, ntk_error *err);

/* Big- and little-endian decoding of unsigned integers. */
static inline unsigned long ntk_io_be32(const unsigned char *p) {
  return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) |
         (unsigned long)p[3];
}

#endif
