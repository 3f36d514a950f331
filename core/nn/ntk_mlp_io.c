/* ntk_mlp_io.c: the network file format (ntk_mlp_save, ntk_mlp_load) on the io layer's streams:
 * the same atomic writer (ntk_io_out_*: a temporary file named only at commit) and the same
 * checked readers (regular files only, lengths bounded before allocation) as every loader. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ntk_io.h"
#include "ntk_io_stream.h"
#include "ntk_mlp.h"

/* ---- file format ---------------------------------------------------------------------------
 * "ntklab mlp file", version 1. All integers little-endian, doubles as their IEEE-754 binary64
 * bits in little-endian order:
 *   offset 0   8 bytes  magic "NTKMLP\0\1"
 *          8   u32      version (1)
 *         12   u32      depth L (1..NTK_MLP_MAX_DEPTH)
 *         16   u32      bias (0/1)
 *         20   u32      parameterization (0 standard, 1 ntk)
 *         24   u32      init scheme (0 gaussian, 1 orthogonal, 2 balanced; informational)
 *         28   u32      reserved (0)
 *         32   u64[L+1] widths n_0..n_L
 *              u32[L]   activations (ntk_activation values; the last is 0, linear)
 *              f64[L]   sigma_l
 *              f64      bias_sigma
 *              u64      nparams (must equal the count the widths imply)
 *              f64[nparams] the flat parameter vector
 *              u32      CRC32 (zlib) of every byte before it
 * A reader rejects a wrong magic, another version, a size that disagrees with the header
 * (truncated or trailing bytes), a CRC mismatch and an inconsistent header. */
static const unsigned char mlp_magic[8] = {'N', 'T', 'K', 'M', 'L', 'P', 0, 1};
#define MLP_FORMAT_VERSION 1u

static void put_u32(unsigned char **p, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++) *(*p)++ = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char **p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++) *(*p)++ = (unsigned char)(v >> (8 * i));
}
static void put_f64(unsigned char **p, double d) {
  uint64_t v;
  memcpy(&v, &d, sizeof v);
  put_u64(p, v);
}
static uint32_t get_u32(const unsigned char **p) {
  uint32_t v = 0;
  int i;
  for (i = 0; i < 4; i++) v |= (uint32_t)(*p)[i] << (8 * i);
  *p += 4;
  return v;
}
static uint64_t get_u64(const unsigned char **p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++) v |= (uint64_t)(*p)[i] << (8 * i);
  *p += 8;
  return v;
}
static double get_f64(const unsigned char **p) {
  uint64_t v = get_u64(p);
  double d;
  memcpy(&d, &v, sizeof d);
  return d;
}

/* Bytes of a version-1 file for depth L and n parameters (header, payload, CRC). */
static size_t file_size(size_t L, size_t n) {
  return 32 + 8 * (L + 1) + 4 * L + 8 * L + 8 + 8 + 8 * n + 4;
}

/* CRC32 over a buffer of any size (zlib's crc32 takes a uInt length). */
static uint32_t crc32_of(const unsigned char *buf, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt chunk = n > (size_t)1 << 30 ? (uInt)1 << 30 : (uInt)n;
    crc = crc32(crc, buf, chunk);
    buf += chunk;
    n -= chunk;
  }
  return (uint32_t)crc;
}

int ntk_mlp_save(const ntk_mlp *net, const char *path, ntk_error *err) {
  size_t L = (size_t)net->depth, size = file_size(L, net->nparams), i;
  unsigned char *buf, *p;
  ntk_io_out o;
  int st;
  buf = malloc(size);
  if (!buf) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu-byte file", size);
  p = buf;
  memcpy(p, mlp_magic, 8);
  p += 8;
  put_u32(&p, MLP_FORMAT_VERSION);
  put_u32(&p, (uint32_t)L);
  put_u32(&p, (uint32_t)net->bias);
  put_u32(&p, (uint32_t)net->param);
  put_u32(&p, (uint32_t)net->init);
  put_u32(&p, 0);
  for (i = 0; i <= L; i++) put_u64(&p, net->widths[i]);
  for (i = 0; i < L; i++) put_u32(&p, (uint32_t)net->act[i]);
  for (i = 0; i < L; i++) put_f64(&p, net->sigma[i]);
  put_f64(&p, net->bias_sigma);
  put_u64(&p, net->nparams);
  for (i = 0; i < net->nparams; i++) put_f64(&p, net->params[i]);
  put_u32(&p, crc32_of(buf, size - 4));
  /* the io writers' atomic file: temporary beside path, mode 0666 & ~umask, renamed on success */
  st = ntk_io_out_open(&o, path, err);
  if (st == NTK_OK) st = ntk_io_out_finish(&o, ntk_io_out_write(&o, buf, size, err), err);
  free(buf);
  return st;
}

/* Parses a whole file image (size bytes) into a new net. */
static int parse_file(ntk_mlp **out, const unsigned char *buf, size_t size, ntk_error *err) {
  const unsigned char *p = buf;
  uint32_t version, L, bias, param, init, stored, computed;
  size_t widths[NTK_MLP_MAX_DEPTH + 1], expected, i, n;
  ntk_activation act[NTK_MLP_MAX_DEPTH];
  double sigma[NTK_MLP_MAX_DEPTH], bias_sigma;
  ntk_mlp_config cfg;
  ntk_rng rng;
  int st;
  if (size < 32 + 8)
    return ntk_error_set(err, NTK_EFORMAT, 0, "truncated file (%zu bytes, header needs 40)", size);
  if (memcmp(p, mlp_magic, 8) != 0)
    return ntk_error_set(err, NTK_EFORMAT, 0, "not an ntklab mlp file (bad magic)");
  p += 8;
  version = get_u32(&p);
  if (version != MLP_FORMAT_VERSION)
    return ntk_error_set(err, NTK_EFORMAT, 0, "unsupported format version %u (this build reads %u)",
                         version, MLP_FORMAT_VERSION);
  L = get_u32(&p);
  bias = get_u32(&p);
  param = get_u32(&p);
  init = get_u32(&p);
  (void)get_u32(&p);
  if (L < 1 || L > NTK_MLP_MAX_DEPTH)
    return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt header (depth %u)", L);
  if (size < 32 + 8 * ((size_t)L + 1))
    return ntk_error_set(err, NTK_EFORMAT, 0, "truncated file (%zu bytes)", size);
  n = 0;
  for (i = 0; i <= L; i++) {
    uint64_t w = get_u64(&p);
    if (w < 1 || w > ((uint64_t)1 << 24))
      return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt header (width %zu is %llu)", i,
                           (unsigned long long)w);
    widths[i] = (size_t)w;
    if (i > 0) n += widths[i] * widths[i - 1] + (bias ? widths[i] : 0);
  }
  expected = file_size(L, n);
  if (size != expected)
    return ntk_error_set(err, NTK_EFORMAT, 0, "%s file (expected %zu bytes, got %zu)",
                         size < expected ? "truncated" : "oversized", expected, size);
  {
    const unsigned char *q = buf + size - 4;
    stored = get_u32(&q);
  }
  computed = crc32_of(buf, size - 4);
  if (stored != computed)
    return ntk_error_set(err, NTK_EFORMAT, 0, "checksum mismatch (stored %08x, computed %08x)",
                         stored, computed);
  for (i = 0; i < L; i++) {
    uint32_t a = get_u32(&p);
    if (a >= NTK_ACT_COUNT)
      return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt header (activation %u)", a);
    act[i] = (ntk_activation)a;
  }
  for (i = 0; i < L; i++) sigma[i] = get_f64(&p);
  bias_sigma = get_f64(&p);
  if (get_u64(&p) != n)
    return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt header (parameter count)");
  if (bias > 1 || param > 1 || init > 2)
    return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt header (flags %u %u %u)", bias, param,
                         init);
  cfg.depth = (int)L;
  cfg.widths = widths;
  cfg.act = act;
  cfg.bias = (int)bias;
  cfg.param = (ntk_param)param;
  cfg.sigma = sigma;
  cfg.bias_sigma = bias_sigma;
  cfg.init = NTK_INIT_GAUSSIAN;
  ntk_rng_seed(&rng, 0);
  if ((st = ntk_mlp_new(out, &cfg, &rng, err)) != NTK_OK)
    return st == NTK_ENOMEM ? st : ntk_error_set(err, NTK_EFORMAT, 0, "corrupt header");
  (*out)->init = (ntk_init)init;
  for (i = 0; i < n; i++) (*out)->params[i] = get_f64(&p);
  return NTK_OK;
}

int ntk_mlp_load(ntk_mlp **out, const char *path, ntk_error *err) {
  ntk_io_in in;
  unsigned char *buf;
  size_t len;
  int st;
  *out = NULL;
  /* the io readers' stream: regular files only (a directory or FIFO is refused, never waited
   * on), the length checked against the limit before anything is allocated */
  if ((st = ntk_io_in_open(&in, path, err)) != NTK_OK) return st;
  st = ntk_io_in_read_rest(&in, NTK_IO_MAX_BYTES, &buf, &len, err);
  ntk_io_in_close(&in);
  if (st != NTK_OK) return st;
  st = parse_file(out, buf, len, err);
  free(buf);
  return st;
}
