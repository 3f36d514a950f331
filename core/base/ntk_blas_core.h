/* ntk_blas_core.h: which OpenBLAS kernels this process runs, and which this CPU could run.
 *
 * OpenBLAS picks its kernels ("core type") once, when libopenblas loads, from the CPU's model
 * number. OpenBLAS 0.3.21 (Debian 12) does not know the models that many virtual machines report
 * ("Intel Xeon Processor") and falls back to Prescott's SSE3 kernels: a 2000^3 DGEMM then takes
 * 3.66 s instead of 0.68 s with the AVX-512 (SkylakeX) kernels the same CPU runs. Only the
 * environment variable OPENBLAS_CORETYPE, read at load, changes the choice; so a host that wants
 * the fast kernels sets it and re-executes itself (lua/host/ntklab.c does), and an embedding
 * host can do the same with ntk_blas_core_advice(). */
#ifndef NTK_BLAS_CORE_H
#define NTK_BLAS_CORE_H

/* The core type OpenBLAS runs now ("Prescott", "SkylakeX", ...), or "unknown". */
const char *ntk_blas_core_loaded(void);
/* The fastest core type this CPU and its operating system support, among those OpenBLAS 0.3.21
 * can be forced to: "SkylakeX" (AVX-512 F, BW, DQ, VL), "Haswell" (AVX2 and FMA), or NULL when
 * neither is supported. */
const char *ntk_blas_core_supported(void);
/* The core type to set in OPENBLAS_CORETYPE before OpenBLAS loads, or NULL when there is nothing
 * to gain: the loaded core is not one of the pre-AVX2 fallbacks, the CPU supports nothing better,
 * or OPENBLAS_CORETYPE is already set (a user's choice is kept). */
const char *ntk_blas_core_advice(void);

#endif
