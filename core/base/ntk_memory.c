/* ntk_memory.c: the limits of ntk_memory.h, read from getrlimit, /proc and the cgroup files. */
#define _POSIX_C_SOURCE 200809L
#include "ntk_memory.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ntk_threads.h"

/* A cgroup limit at or above this is "no limit" (v1 writes 2^63 rounded down to a page). */
#define UNLIMITED_FROM ((unsigned long long)1 << 62)

/* *v <- the first number in the file at path (1 when found; "max" counts as not found). */
static int read_number(const char *path, unsigned long long *v) {
  FILE *f = fopen(path, "r");
  int ok;
  if (!f) return 0;
  ok = fscanf(f, "%llu", v) == 1;
  fclose(f);
  return ok;
}

/* *v <- the value of `key` (e.g. "MemAvailable:") in a /proc "key: value [kB]" file, in bytes
 * when the line says kB. */
static int read_key(const char *path, const char *key, unsigned long long *v) {
  FILE *f = fopen(path, "r");
  char line[256];
  size_t n = strlen(key);
  int found = 0;
  if (!f) return 0;
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, key, n) == 0 && sscanf(line + n, "%llu", v) == 1) {
      if (strstr(line + n, "kB")) *v *= 1024;
      found = 1;
    }
  }
  fclose(f);
  return found;
}

/* *room <- limit minus usage read from dir/names[0] and dir/names[1]; 0 when dir holds no limit
 * (no such files, or "max"). */
static int room_in(const char *dir, const char *const names[2], unsigned long long *room) {
  char path[1024];
  unsigned long long limit, usage;
  snprintf(path, sizeof path, "%s/%s", dir, names[0]);
  if (!read_number(path, &limit) || limit >= UNLIMITED_FROM) return 0;
  snprintf(path, sizeof path, "%s/%s", dir, names[1]);
  if (!read_number(path, &usage)) return 0;
  *room = usage < limit ? limit - usage : 0;
  return 1;
}

/* Limit minus usage of this process's memory cgroup; 0 when there is no known limit. */
static int cgroup_room(unsigned long long *room) {
  static const char *const names[2][2] = {{"memory.max", "memory.current"},
                                          {"memory.limit_in_bytes", "memory.usage_in_bytes"}};
  /* v2 (unified) and v1 (memory controller) mount points */
  static const char *const roots[2] = {"/sys/fs/cgroup", "/sys/fs/cgroup/memory"};
  FILE *f = fopen("/proc/self/cgroup", "r");
  char line[512], dir[1024];
  int found = 0, k;
  /* the group named in /proc/self/cgroup ("0::/path" for v2, "N:memory:/path" for v1) */
  while (f && !found && fgets(line, sizeof line, f)) {
    char *nl = strchr(line, '\n'), *rel = NULL;
    if (nl) *nl = 0;
    if (strncmp(line, "0::", 3) == 0) {
      k = 0;
      rel = line + 3;
    } else if ((rel = strstr(line, ":memory:")) != NULL) {
      k = 1;
      rel += 8;
    }
    if (!rel) continue;
    snprintf(dir, sizeof dir, "%s%s", roots[k], rel);
    found = room_in(dir, names[k], room);
  }
  if (f) fclose(f);
  /* then the mount's root, which is the process's own group inside a cgroup namespace */
  for (k = 0; !found && k < 2; k++) found = room_in(roots[k], names[k], room);
  return found;
}

/* RLIMIT_AS minus the address space in use and `threads` OpenBLAS buffers (signed: negative when
 * even the buffers do not fit); 0 when there is no such limit. */
static int as_room(int threads, long long *room) {
  struct rlimit rl;
  unsigned long long used = 0;
  long long blas = (long long)(threads > 0 ? threads : 1) * (long long)NTK_MEMORY_BLAS_BUFFER;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  read_key("/proc/self/status", "VmSize:", &used);
  *room = (long long)(rl.rlim_cur > LLONG_MAX ? LLONG_MAX : rl.rlim_cur) - (long long)used - blas;
  return 1;
}

size_t ntk_memory_available(int threads, const char **source) {
  unsigned long long best = ULLONG_MAX, v;
  const char *why = "no limit";
  long long as;
  if (as_room(threads, &as)) {
    best = as > 0 ? (unsigned long long)as : 0;
    why = "RLIMIT_AS";
  }
  if (cgroup_room(&v) && v < best) {
    best = v;
    why = "the cgroup memory limit";
  }
  if (read_key("/proc/meminfo", "MemAvailable:", &v) && v < best) {
    best = v;
    why = "MemAvailable";
  }
  if (source) *source = why;
  return best >= SIZE_MAX ? SIZE_MAX : (size_t)best;
}

int ntk_memory_check(size_t bytes, const char *what, ntk_error *err) {
  const char *source;
  size_t room;
  if (bytes < NTK_MEMORY_CHECK_MIN) return NTK_OK;
  room = ntk_memory_available(ntk_threads_get(), &source);
  if (bytes <= room) return NTK_OK;
  return ntk_error_set(err, NTK_ENOMEM, 0,
                       "%s needs %zu bytes, more than the %zu this process may still use (%s)",
                       what, bytes, room, source);
}

int ntk_memory_check_threads(int threads, ntk_error *err) {
  long long room;
  if (!as_room(threads, &room) || room >= 0) return NTK_OK;
  return ntk_error_set(err, NTK_ENOMEM, 0,
                       "%d BLAS threads need %zu bytes of buffers, %lld more than RLIMIT_AS leaves",
                       threads, (size_t)threads * NTK_MEMORY_BLAS_BUFFER, -room);
}
