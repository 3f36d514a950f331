/* ntk_blas_core.c: OpenBLAS's kernel choice against the CPU's features (see ntk_blas_core.h). */
#include "ntk_blas_core.h"

#include <stdlib.h>
#include <string.h>

char *openblas_get_corename(void); /* OpenBLAS's own API (cblas.h of OpenBLAS declares it) */

const char *ntk_blas_core_loaded(void) {
  const char *name = openblas_get_corename();
  return name && name[0] ? name : "unknown";
}

const char *ntk_blas_core_supported(void) {
#if defined(__x86_64__) || defined(__i386__)
  /* GCC's checks read CPUID and, for AVX and AVX-512, that the OS saves the wider registers */
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return NULL;
}

/* The cores OpenBLAS falls back to when it does not recognize a CPU, and the older ones: none
 * uses AVX2, so any CPU that has it runs GEMM several times faster with another core type. */
static int pre_avx2(const char *core) {
  static const char *const old[] = {"Prescott", "Core2",   "Penryn",    "Dunnington", "Nehalem",
                                    "Atom",     "Katmai",  "Coppermine", "Northwood", "Banias",
                                    "Athlon",   "Opteron", "Barcelona",  "Nano",      NULL};
  int i;
  for (i = 0; old[i]; i++)
    if (strcmp(core, old[i]) == 0) return 1;
  return 0;
}

const char *ntk_blas_core_advice(void) {
  const char *set = getenv("OPENBLAS_CORETYPE");
  if (set && set[0]) return NULL;
  if (!pre_avx2(ntk_blas_core_loaded())) return NULL;
  return ntk_blas_core_supported();
}
