/* ntk_threads.h: control of the BLAS thread count. */
#ifndef NTK_THREADS_H
#define NTK_THREADS_H

/* Sets the number of threads OpenBLAS uses (n >= 1); returns the count now in force. */
int ntk_threads_set(int n);
/* The number of threads OpenBLAS uses now. */
int ntk_threads_get(void);

#endif
