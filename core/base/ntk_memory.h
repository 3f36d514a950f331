/* ntk_memory.h: how much memory this process may still use, checked before large allocations.
 *
 * Past a limit, malloc returns NULL at best; OpenBLAS, which allocates a buffer per thread on its
 * first level-3 call, spins forever in blas_memory_alloc instead, and an overcommitted page
 * fault kills the process. So large requests are compared first with the least of:
 *   - RLIMIT_AS (ulimit -v) minus the address space in use (VmSize), with room for one OpenBLAS
 *     buffer per thread (they are address space whether touched or not);
 *   - the cgroup's memory limit minus its usage (v2 memory.max, v1 memory.limit_in_bytes);
 *   - MemAvailable of /proc/meminfo.
 * Linux only reports these; elsewhere every check passes. */
#ifndef NTK_MEMORY_H
#define NTK_MEMORY_H

#include <stddef.h>

#include "ntk_error.h"

/* Bytes of one OpenBLAS thread buffer: Debian's 0.3.21 mallocs 128 MiB + 4 KiB per thread
 * (BUFFER_SIZE, seen in blas_memory_alloc); rounded up. */
#define NTK_MEMORY_BLAS_BUFFER ((size_t)129 << 20)
/* Requests below this many bytes pass without a look at the limits (reading them costs a few
 * file reads). */
#define NTK_MEMORY_CHECK_MIN ((size_t)16 << 20)

/* Bytes this process may still allocate (SIZE_MAX: no limit known), the BLAS buffer room for
 * `threads` threads already taken off the RLIMIT_AS share; *source (may be NULL) <- the name of
 * the binding limit ("RLIMIT_AS", "the cgroup memory limit", "MemAvailable"). */
size_t ntk_memory_available(int threads, const char **source);
/* NTK_OK when `bytes` more for `what` (e.g. "a 15000 x 15000 tensor") fit in what the process
 * may use with the current BLAS threads' buffers; NTK_ENOMEM naming the bytes, what they are for
 * and the limit otherwise. Requests below NTK_MEMORY_CHECK_MIN always pass. */
int ntk_memory_check(size_t bytes, const char *what, ntk_error *err);
/* NTK_OK when `threads` OpenBLAS thread buffers fit under RLIMIT_AS; NTK_ENOMEM saying by how
 * much they do not otherwise. */
int ntk_memory_check_threads(int threads, ntk_error *err);

#endif
