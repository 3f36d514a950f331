/* ntk_pages.h: big zeroed buffers on transparent huge pages.
 *
 * Touching fresh memory costs a page fault per 4 KiB page; on this project's VMs that is 1.3-1.5
 * s/GiB, more than many of the products that fill the memory (a new 128 MB kernel took ~0.2 s
 * before its first value was written). Linux's transparent huge pages, in its default "madvise"
 * mode, give 2 MiB pages to regions marked MADV_HUGEPAGE: measured 0.37 s/GiB at 128 MB and
 * 0.08 s/GiB at 8 MB (numpy marks its big arrays the same way). So buffers of at least
 * NTK_PAGES_MIN bytes are mapped directly, 2 MiB aligned and marked; smaller ones come from
 * calloc. Per allocation, nothing process-wide: an embedding host's malloc is left alone. Where
 * huge pages are off or madvise is missing, the mapping is an ordinary one. */
#ifndef NTK_PAGES_H
#define NTK_PAGES_H

#include <stddef.h>

/* Buffers from this many bytes on are huge-page mappings. */
#define NTK_PAGES_MIN ((size_t)4 << 20)

/* n zeroed doubles (n >= 1), or NULL when out of memory. Free with ntk_pages_free(p, n). */
double *ntk_pages_alloc(size_t n);
/* Frees a buffer of n doubles from ntk_pages_alloc; NULL is fine. */
void ntk_pages_free(double *p, size_t n);

#endif
