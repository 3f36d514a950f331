/* ntk_rng.c: xoshiro256** (Blackman and Vigna 2018), seeded by splitmix64. */
#include "ntk_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void ntk_rng_seed(ntk_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  int i;
  for (i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
  rng->spare = 0.0;
  rng->has_spare = 0;
}

uint64_t ntk_rng_u64(ntk_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double ntk_rng_uniform(ntk_rng *rng) {
  return (double)(ntk_rng_u64(rng) >> 11) * 0x1.0p-53;
}

double ntk_rng_normal(ntk_rng *rng) {
  double u, v, s, f;
  if (rng->has_spare) {
    rng->has_spare = 0;
    return rng->spare;
  }
  do {
    u = 2.0 * ntk_rng_uniform(rng) - 1.0;
    v = 2.0 * ntk_rng_uniform(rng) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  f = sqrt(-2.0 * log(s) / s);
  rng->spare = v * f;
  rng->has_spare = 1;
  return u * f;
}

uint64_t ntk_rng_below(ntk_rng *rng, uint64_t n) {
  uint64_t limit, r;
  /* [0, 0) is empty; answer 0 without drawing rather than divide by zero below */
  if (n == 0) return 0;
  /* reject the top partial block so every residue is equally likely */
  limit = UINT64_MAX - UINT64_MAX % n;
  do r = ntk_rng_u64(rng);
  while (r >= limit);
  return r % n;
}

void ntk_rng_permutation(ntk_rng *rng, size_t *perm, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) perm[i] = i;
  for (i = n; i > 1; i--) {
    size_t j = (size_t)ntk_rng_below(rng, (uint64_t)i);
    size_t tmp = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = tmp;
  }
}

void ntk_rng_fill_uniform(ntk_rng *rng, ntk_tensor *t, double lo, double hi) {
  size_t i, j;
  if (!t->storage) return;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++)
      *ntk_tensor_ptr(t, i, j) = lo + (hi - lo) * ntk_rng_uniform(rng);
}

void ntk_rng_fill_normal(ntk_rng *rng, ntk_tensor *t, double mean, double std) {
  size_t i, j;
  if (!t->storage) return;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++) *ntk_tensor_ptr(t, i, j) = mean + std * ntk_rng_normal(rng);
}

void ntk_rng_fill_normal_buf(ntk_rng *rng, double *x, size_t n, double mean, double std) {
  size_t i;
  for (i = 0; i < n; i++) x[i] = mean + std * ntk_rng_normal(rng);
}
