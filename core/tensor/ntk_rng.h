/* ntk_rng.h: a seeded random number generator object (xoshiro256** with splitmix64 seeding).
 *
 * No global state: every random draw in ntklab goes through an explicit ntk_rng, so the same
 * seed gives the same numbers on every run and every machine (integer arithmetic only, plus
 * log and sqrt for normals, which IEEE/glibc round the same everywhere). */
#ifndef NTK_RNG_H
#define NTK_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "ntk_error.h"
#include "ntk_tensor.h"

/* Generator state; seed with ntk_rng_seed before use (a copy replays the same stream). */
typedef struct ntk_rng {
  uint64_t s[4];       /* xoshiro256** state */
  double spare;        /* second normal of the last polar pair */
  int has_spare;       /* 1 when spare is valid */
} ntk_rng;

/* rng <- state derived from seed through splitmix64 (any seed, including 0, is fine). */
void ntk_rng_seed(ntk_rng *rng, uint64_t seed);
/* Next raw 64-bit output. */
uint64_t ntk_rng_u64(ntk_rng *rng);
/* u ~ U[0, 1), 53 random bits. */
double ntk_rng_uniform(ntk_rng *rng);
/* z ~ N(0, 1) by the Marsaglia polar method. */
double ntk_rng_normal(ntk_rng *rng);
/* k ~ uniform integer in [0, n), unbiased (rejection); n > 0 (n = 0 returns 0, no draw). */
uint64_t ntk_rng_below(ntk_rng *rng, uint64_t n);
/* perm <- a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void ntk_rng_permutation(ntk_rng *rng, size_t *perm, size_t n);
/* x[i] <- lo + (hi - lo) U[0,1) for every element of t (any layout). */
void ntk_rng_fill_uniform(ntk_rng *rng, ntk_tensor *t, double lo, double hi);
/* x[i] <- mean + std N(0,1) for every element of t (any layout), in row-major order. */
void ntk_rng_fill_normal(ntk_rng *rng, ntk_tensor *t, double mean, double std);
/* x[i] <- mean + std N(0,1) for a raw buffer of n doubles. */
void ntk_rng_fill_normal_buf(ntk_rng *rng, double *x, size_t n, double mean, double std);

#endif
