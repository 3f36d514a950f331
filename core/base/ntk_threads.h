/* ntk_threads.h: control of the BLAS thread count. */
#ifndef NTK_THREADS_H
#define NTK_THREADS_H

/* The cores this process may run on (its CPU affinity mask; at least 1). */
int ntk_threads_cores(void);
/* Sets the number of threads OpenBLAS uses to min(n, ntk_threads_cores()) (n >= 1): more threads
 * than cores only add OpenBLAS buffers (ntk_memory.h) and contention. Returns the count now in
 * force. */
int ntk_threads_set(int n);
/* The number of threads OpenBLAS uses now. */
int ntk_threads_get(void);

#endif
