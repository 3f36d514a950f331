/* ntk_pages.c: see ntk_pages.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include "ntk_pages.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Alignment of huge-page mappings: the x86-64 and arm64 (4 KiB granule) huge page size. */
#define HUGE_BYTES ((size_t)2 << 20)

/* The bytes mapped for n doubles: whole huge pages. */
static size_t mapped_bytes(size_t n) {
  return (n * sizeof(double) + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
}

double *ntk_pages_alloc(size_t n) {
  size_t bytes, len;
  uintptr_t base, start;
  char *p;
  if (n == 0) n = 1;
  if (n > SIZE_MAX / sizeof(double) - HUGE_BYTES) return NULL;
  if (n * sizeof(double) < NTK_PAGES_MIN) return calloc(n, sizeof(double));
  bytes = mapped_bytes(n);
  /* map one huge page more, then unmap the slack on both sides so the buffer starts on a huge
   * page boundary and ntk_pages_free can unmap exactly [p, p + bytes) */
  len = bytes + HUGE_BYTES;
  p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  base = (uintptr_t)p;
  start = (base + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1);
  if (start > base) munmap(p, start - base);
  if (base + len > start + bytes) munmap((char *)(start + bytes), base + len - (start + bytes));
#ifdef MADV_HUGEPAGE
  /* advice only: without THP the pages are ordinary ones */
  madvise((void *)start, bytes, MADV_HUGEPAGE);
#endif
  return (double *)start;
}

void ntk_pages_free(double *p, size_t n) {
  if (!p) return;
  if (n == 0) n = 1;
  if (n * sizeof(double) < NTK_PAGES_MIN)
    free(p);
  else
    munmap(p, mapped_bytes(n));
}
