/* ntk_io_stream.c: plain/gzip input streams and atomic output files. */
#define _GNU_SOURCE /* O_TMPFILE */
#include "ntk_io_stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ntk_io.h"

/* First chunk of a gzip payload whose size only the header vouches for; the buffer doubles
 * from here, so memory stays within twice what the stream really holds. */
#define GZ_FIRST_CHUNK ((size_t)1 << 20)

/* The kind of a non-regular file, for the message that refuses it. */
static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "a special file";
}

int ntk_io_in_open(ntk_io_in *s, const char *path, ntk_error *err) {
  unsigned char magic[2];
  size_t got;
  struct stat st;
  int fd, flags;
  memset(s, 0, sizeof *s);
  s->remaining = -1;
  /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; the descriptor's
   * own fstat then decides, so nothing can swap the file between the check and the open */
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ntk_error_set(err, NTK_EIO, 0, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return ntk_error_set(err, NTK_EIO, 0, "cannot stat: %s", strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return ntk_error_set(err, NTK_EIO, 0, "is %s, not a regular file", file_kind(st.st_mode));
  }
  if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
      !(s->fp = fdopen(fd, "rb"))) {
    int e = errno;
    close(fd);
    return ntk_error_set(err, NTK_EIO, 0, "cannot open: %s", strerror(e));
  }
  got = fread(magic, 1, 2, s->fp);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    gzFile gz;
    fd = dup(fileno(s->fp));
    fclose(s->fp);
    s->fp = NULL;
    if (fd < 0) return ntk_error_set(err, NTK_EIO, 0, "cannot open: %s", strerror(errno));
    /* stdio read ahead on the shared descriptor: zlib must start at the first byte */
    if (lseek(fd, 0, SEEK_SET) != 0) {
      close(fd);
      return ntk_error_set(err, NTK_EIO, 0, "cannot seek: %s", strerror(errno));
    }
    gz = gzdopen(fd, "rb");
    if (!gz) {
      close(fd);
      return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory opening a gzip stream");
    }
    gzbuffer(gz, 1 << 17);
    s->gz = gz;
    s->is_gzip = 1;
    return NTK_OK;
  }
  if (fseek(s->fp, 0, SEEK_SET) != 0) {
    ntk_io_in_close(s);
    return ntk_error_set(err, NTK_EIO, 0, "cannot seek: %s", strerror(errno));
  }
  s->remaining = (long long)st.st_size;
  return NTK_OK;
}

/* Reads up to n bytes; *got <- how many. Fails only on a read error or corrupt gzip data. */
static int read_some(ntk_io_in *s, unsigned char *buf, size_t n, size_t *got, ntk_error *err) {
  *got = 0;
  if (s->gz) {
    while (*got < n) {
      unsigned chunk = (unsigned)(n - *got > (1u << 30) ? (1u << 30) : n - *got);
      int r = gzread((gzFile)s->gz, buf + *got, chunk);
      if (r < 0) {
        int zerr;
        const char *msg = gzerror((gzFile)s->gz, &zerr);
        return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt gzip data (zlib: %s)", msg);
      }
      if (r == 0) break;
      *got += (size_t)r;
    }
    if (*got < n) {
      /* zlib reports a stream cut short as Z_BUF_ERROR once the input runs out */
      int zerr;
      const char *msg = gzerror((gzFile)s->gz, &zerr);
      if (zerr == Z_BUF_ERROR) return ntk_error_set(err, NTK_EFORMAT, 0, "truncated gzip stream");
      if (zerr != Z_OK)
        return ntk_error_set(err, NTK_EFORMAT, 0, "corrupt gzip data (zlib: %s)", msg);
    }
    return NTK_OK;
  }
  *got = fread(buf, 1, n, s->fp);
  if (*got < n && ferror(s->fp))
    return ntk_error_set(err, NTK_EIO, 0, "read error: %s", strerror(errno));
  if (s->remaining >= 0) s->remaining -= (long long)*got;
  return NTK_OK;
}

int ntk_io_in_read(ntk_io_in *s, void *buf, size_t n, const char *what, ntk_error *err) {
  size_t got;
  int st = read_some(s, buf, n, &got, err);
  if (st != NTK_OK) return st;
  if (got < n)
    return ntk_error_set(err, NTK_EFORMAT, 0, "truncated file (%zu of %zu bytes of %s)", got, n,
                         what);
  return NTK_OK;
}

/* 1 when the stream has no byte left (reads one byte to find out). */
static int at_end(ntk_io_in *s, ntk_error *err, int *st) {
  unsigned char b;
  size_t got;
  *st = read_some(s, &b, 1, &got, err);
  return *st == NTK_OK && got == 0;
}

int ntk_io_in_read_payload(ntk_io_in *s, size_t declared, unsigned char **out, const char *what,
                           ntk_error *err) {
  unsigned char *buf = NULL;
  size_t have = 0, cap;
  int st;
  *out = NULL;
  if (declared > NTK_IO_MAX_BYTES)
    return ntk_error_set(err, NTK_ENOMEM, 0, "%s of %zu bytes exceeds the limit of %zu", what,
                         declared, (size_t)NTK_IO_MAX_BYTES);
  if (s->remaining >= 0) {
    /* a plain file: its length settles the question before any allocation */
    if ((unsigned long long)s->remaining < declared)
      return ntk_error_set(err, NTK_EFORMAT, 0, "truncated file (%s needs %zu bytes, %lld left)",
                           what, declared, s->remaining);
    if ((unsigned long long)s->remaining > declared)
      return ntk_error_set(err, NTK_EFORMAT, 0, "%lld trailing bytes after the %zu bytes of %s",
                           s->remaining - (long long)declared, declared, what);
    cap = declared;
  } else {
    cap = declared < GZ_FIRST_CHUNK ? declared : GZ_FIRST_CHUNK;
  }
  buf = malloc(cap ? cap : 1);
  if (!buf) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory reading %zu bytes", cap);
  for (;;) {
    size_t got;
    st = read_some(s, buf + have, cap - have, &got, err);
    if (st != NTK_OK) goto fail;
    have += got;
    if (have < cap) {
      st = ntk_error_set(err, NTK_EFORMAT, 0,
                         "truncated %s (%s holds %zu of the %zu bytes declared)",
                         s->is_gzip ? "gzip stream" : "file", what, have, declared);
      goto fail;
    }
    if (have == declared) break;
    {
      size_t next = cap > declared / 2 ? declared : 2 * cap;
      unsigned char *grown = realloc(buf, next);
      if (!grown) {
        st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory reading %zu bytes", next);
        goto fail;
      }
      buf = grown;
      cap = next;
    }
  }
  if (!at_end(s, err, &st)) {
    if (st == NTK_OK)
      st = ntk_error_set(err, NTK_EFORMAT, 0, "trailing bytes after the %zu bytes of %s", declared,
                         what);
    goto fail;
  }
  *out = buf;
  return NTK_OK;
fail:
  free(buf);
  return st;
}

int ntk_io_in_read_rest(ntk_io_in *s, size_t max, unsigned char **out, size_t *len,
                        ntk_error *err) {
  unsigned char *buf;
  size_t have = 0, cap;
  int st;
  *out = NULL;
  *len = 0;
  if (s->remaining >= 0 && (unsigned long long)s->remaining > max)
    return ntk_error_set(err, NTK_ENOMEM, 0, "file of %lld bytes exceeds the limit of %zu",
                         s->remaining, max);
  cap = s->remaining >= 0 ? (size_t)s->remaining : GZ_FIRST_CHUNK;
  if (cap > max) cap = max;
  buf = malloc(cap + 1);
  if (!buf) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory reading %zu bytes", cap);
  for (;;) {
    size_t got, next;
    unsigned char probe;
    unsigned char *grown;
    st = read_some(s, buf + have, cap - have, &got, err);
    if (st != NTK_OK) goto fail;
    have += got;
    if (have < cap) break;
    /* the buffer is full: one more byte decides between end of data and growing */
    st = read_some(s, &probe, 1, &got, err);
    if (st != NTK_OK) goto fail;
    if (got == 0) break;
    if (cap >= max) {
      st = ntk_error_set(err, NTK_ENOMEM, 0, "data exceed the limit of %zu bytes", max);
      goto fail;
    }
    next = cap > max / 2 ? max : 2 * cap + 1;
    grown = realloc(buf, next + 1);
    if (!grown) {
      st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory reading %zu bytes", next);
      goto fail;
    }
    buf = grown;
    cap = next;
    buf[have++] = probe;
  }
  buf[have] = 0;
  *out = buf;
  *len = have;
  return NTK_OK;
fail:
  free(buf);
  return st;
}

void ntk_io_in_close(ntk_io_in *s) {
  if (s->fp) fclose(s->fp);
  if (s->gz) gzclose((gzFile)s->gz);
  s->fp = NULL;
  s->gz = NULL;
}

/* An unnamed file in the destination's directory (Linux O_TMPFILE, mode 0666 & ~umask): a process
 * killed while writing leaves nothing behind; commit gives it a name. -1 where unsupported (the
 * file system, or no /proc to name it through): the caller falls back to mkstemp. */
static int open_anonymous(ntk_io_out *o) {
#ifdef O_TMPFILE
  const char *slash = strrchr(o->path, '/');
  size_t len = slash ? (size_t)(slash - o->path) : 0;
  char *dir;
  int fd;
  if (access("/proc/self/fd", X_OK) != 0) return -1;
  dir = malloc(len + 2);
  if (!dir) return -1;
  if (!slash)
    strcpy(dir, ".");
  else if (len == 0)
    strcpy(dir, "/");
  else {
    memcpy(dir, o->path, len);
    dir[len] = 0;
  }
  fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  free(dir);
  if (fd >= 0) o->anonymous = 1;
  return fd;
#else
  (void)o;
  return -1;
#endif
}

/* Gives the anonymous file of o the name o->tmp (its XXXXXX replaced until the name is free). */
static int name_anonymous(ntk_io_out *o) {
  static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static unsigned long counter;
  char proc[64], *x = o->tmp + strlen(o->tmp) - 6;
  unsigned long seed = (unsigned long)getpid() * 2654435761u ^ (unsigned long)(size_t)o;
  int attempt, k;
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(o->fp));
  for (attempt = 0; attempt < 100; attempt++) {
    unsigned long r = seed + 0x9E3779B9ul * ++counter;
    for (k = 0; k < 6; k++, r /= 62) x[k] = chars[r % 62];
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0) {
      o->anonymous = 0; /* named now: abort removes it */
      return 0;
    }
    if (errno != EEXIST) return -1;
  }
  return -1;
}

/* Temporary names are "<path>.tmp.<pid>.1XXXXXX", the pattern ntklab.fs's Lua writers use
 * ("<path>.tmp.<tag>.<n>", the tag a pid), so fs.clean_temp and the cleaning below know them. */
#define TMP_MIDDLE ".tmp."
#define TMP_TAIL_MAX 32 /* ".tmp." + pid digits + ".1XXXXXX" + NUL, with room */

/* Whether process pid exists (a zombie counts; EPERM: it exists, owned by another user). */
static int process_alive(long pid) { return kill((pid_t)pid, 0) == 0 || errno == EPERM; }

/* Removes the temporaries that killed writers of this very path left beside it: a SIGKILL
 * between naming the file and renaming it (two system calls) cannot be caught, so the next
 * writer of the path clears what dead processes left ("<base>.tmp.<pid>.*", pid not running;
 * this process's own and live writers' stay). Failures are ignored: the write goes on. */
static void clean_dead_temps(const char *path) {
  const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
  size_t blen = strlen(base), mlen = strlen(TMP_MIDDLE);
  char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
  DIR *d;
  struct dirent *e;
  if (!dir) return;
  d = opendir(dir);
  free(dir);
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name, *p;
    char *end;
    long pid;
    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, TMP_MIDDLE, mlen) != 0) continue;
    p = name + blen + mlen;
    if (*p < '1' || *p > '9') continue;
    errno = 0;
    pid = strtol(p, &end, 10);
    if (errno || *end != '.' || pid == (long)getpid() || process_alive(pid)) continue;
    unlinkat(dirfd(d), name, 0);
  }
  closedir(d);
}

int ntk_io_out_open(ntk_io_out *o, const char *path, ntk_error *err) {
  size_t n = strlen(path);
  int fd;
  struct stat st;
  memset(o, 0, sizeof *o);
  o->path = path;
  /* the rename would replace whatever is there: a FIFO, a device (as root, /dev/null itself) or,
   * through a symlink, the file it names must stay */
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return ntk_error_set(err, NTK_EIO, 0, "is %s, not a regular file", file_kind(st.st_mode));
  clean_dead_temps(path);
  o->tmp = malloc(n + TMP_TAIL_MAX);
  if (!o->tmp) return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  memcpy(o->tmp, path, n);
  snprintf(o->tmp + n, TMP_TAIL_MAX, TMP_MIDDLE "%ld.1XXXXXX", (long)getpid());
  fd = open_anonymous(o);
  if (fd < 0) fd = mkstemp(o->tmp);
  if (fd < 0) {
    int e = errno;
    free(o->tmp);
    o->tmp = NULL;
    return ntk_error_set(err, NTK_EIO, 0, "cannot create a file beside it: %s", strerror(e));
  }
  o->fp = fdopen(fd, "wb");
  if (!o->fp) {
    int e = errno;
    close(fd);
    ntk_io_out_abort(o);
    return ntk_error_set(err, NTK_EIO, 0, "cannot write: %s", strerror(e));
  }
  return NTK_OK;
}

int ntk_io_out_write(ntk_io_out *o, const void *buf, size_t n, ntk_error *err) {
  if (n && fwrite(buf, 1, n, o->fp) != n)
    return ntk_error_set(err, NTK_EIO, 0, "write error: %s", strerror(errno));
  return NTK_OK;
}

int ntk_io_out_commit(ntk_io_out *o, ntk_error *err) {
  int bad = fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0;
  int e = errno;
  if (o->anonymous) {
    /* O_TMPFILE applied the umask to 0666 already; the file needs a name to be renamed */
    if (!bad && name_anonymous(o) != 0) {
      bad = 1;
      e = errno;
    }
  } else {
    /* mkstemp creates 0600; a data file should have the usual permissions */
    mode_t mask = umask(0);
    umask(mask);
    if (!bad) fchmod(fileno(o->fp), 0666 & ~mask);
  }
  if (fclose(o->fp) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  o->fp = NULL;
  if (!bad && rename(o->tmp, o->path) != 0) {
    bad = 1;
    e = errno;
  }
  if (bad) {
    ntk_io_out_abort(o);
    return ntk_error_set(err, NTK_EIO, 0, "cannot write: %s", strerror(e));
  }
  free(o->tmp);
  o->tmp = NULL;
  return NTK_OK;
}

void ntk_io_out_abort(ntk_io_out *o) {
  if (o->fp) fclose(o->fp); /* an anonymous file vanishes here */
  o->fp = NULL;
  if (o->tmp) {
    if (!o->anonymous) remove(o->tmp);
    free(o->tmp);
  }
  o->tmp = NULL;
  o->anonymous = 0;
}

int ntk_io_out_finish(ntk_io_out *o, int st, ntk_error *err) {
  if (st == NTK_OK) return ntk_io_out_commit(o, err);
  ntk_io_out_abort(o);
  return st;
}
