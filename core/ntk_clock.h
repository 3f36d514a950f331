/* ntk_clock.h: a monotonic wall clock for timing (benchmarks, experiment logs). */
#ifndef NTK_CLOCK_H
#define NTK_CLOCK_H

/* Seconds since an arbitrary fixed point, monotonic, with the resolution of
 * CLOCK_MONOTONIC (nanoseconds on Linux); only differences are meaningful. */
double ntk_clock_seconds(void);

#endif
