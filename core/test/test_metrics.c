/* test_metrics.c: alignments (uncentered and centered, traced and full), norms, spectra,
 * distances and the PSD check against plain formulas. */
#include <string.h>

#include "ntk.h"
#include "ntk_test.h"

/* Plain sums of a few dozen terms: rounding of order 1e-15 relative. */
#define TOL 1e-12

/* y^T K y / (|K|_F |y|^2), summed explicitly (the paper's uncentered alignment). */
static double explicit_alignment(const double *K, const double *y, size_t P) {
  double num = 0, kn = 0, yn = 0;
  size_t i, j;
  for (i = 0; i < P; i++) {
    yn += y[i] * y[i];
    for (j = 0; j < P; j++) {
      num += y[i] * K[i * P + j] * y[j];
      kn += K[i * P + j] * K[i * P + j];
    }
  }
  return num / (sqrt(kn) * yn);
}


static void test_alignment(void) {
  size_t P = 6, C = 2, i, j, a;
  double y[6], Y[12], K[36], Kf[144], B[36], v;
  fill_normal(y, P, 1);
  fill_normal(Y, P * C, 2);
  /* K = y y^T: alignment 1, centered and uncentered */
  for (i = 0; i < P; i++)
    for (j = 0; j < P; j++) K[i * P + j] = 3.0 * y[i] * y[j];
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 1), 0, NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 1), 1, NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  /* traced multi-output kernel Y Y^T and full kernel vec(Y) vec(Y)^T */
  for (i = 0; i < P; i++)
    for (j = 0; j < P; j++) {
      double s = 0;
      for (a = 0; a < C; a++) s += Y[i * C + a] * Y[j * C + a];
      K[i * P + j] = s;
    }
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, P, P), NTK_TEST_T2(Y, P, C), 0, NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  for (i = 0; i < P * C; i++)
    for (j = 0; j < P * C; j++) Kf[i * P * C + j] = Y[i] * Y[j];
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(Kf, P * C, P * C), NTK_TEST_T2(Y, P, C), 0, NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(Kf, P * C, P * C), NTK_TEST_T2(Y, P, C), 1, NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  /* a random PSD kernel against y^T K y / (|K|_F |y|^2) */
  fill_normal(B, 36, 3);
  ntk_test_gram(K, B, P, P);
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 1), 0, NULL) == NTK_OK);
  CHECK_NEAR(v, explicit_alignment(K, y, P), TOL);
  /* centered: explicit H K H and H y */
  {
    double H[36], HK[36], Kc[36], yc[6];
    for (i = 0; i < P; i++)
      for (j = 0; j < P; j++) H[i * P + j] = (i == j) - 1.0 / (double)P;
    ntk_test_matmul(yc, H, y, P, P, 1);
    ntk_test_matmul(HK, H, K, P, P, P);
    ntk_test_matmul(Kc, HK, H, P, P, P);
    CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 1), 1, NULL) == NTK_OK);
    CHECK_NEAR(v, explicit_alignment(Kc, yc, P), TOL);
  }
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, 5, 5), NTK_TEST_T2(y, P, 1), 0, NULL) == NTK_ESHAPE);
  for (i = 0; i < P; i++) y[i] = 2.0;
  CHECK(ntk_metrics_alignment(&v, NTK_TEST_T2(K, P, P), NTK_TEST_T2(y, P, 1), 1, NULL) == NTK_EARG);
}

static void test_norms_and_spectra(void) {
  double I[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, R[16], w[4], v, lmin, lmax;
  double u[4] = {1, 2, -1, 0.5}, D4[16] = {0};
  size_t i, j;
  int psd;
  CHECK_NEAR(ntk_metrics_tensor_norm(NTK_TEST_T2(I, 4, 4)), 2.0, TOL);
  {
    ntk_kernel_stats st; /* the trace, as ntklab.kernel_trace reads it */
    CHECK(ntk_metrics_kernel_stats(&st, NTK_TEST_T2(I, 4, 4), NULL, NULL, 0, NULL) == NTK_OK);
    CHECK_NEAR(st.trace, 4.0, TOL);
  }
  CHECK(ntk_metrics_effective_rank(&v, NTK_TEST_T2(I, 4, 4), NULL) == NTK_OK);
  CHECK_NEAR(v, 4.0, TOL);
  for (i = 0; i < 4; i++)
    for (j = 0; j < 4; j++) R[i * 4 + j] = u[i] * u[j];
  CHECK(ntk_metrics_effective_rank(&v, NTK_TEST_T2(R, 4, 4), NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  CHECK(ntk_metrics_tensor_distance(&v, NTK_TEST_T2(R, 4, 4), NTK_TEST_T2(R, 4, 4), NULL) == NTK_OK);
  CHECK_NEAR(v, 0.0, TOL);
  D4[0] = 3;
  D4[5] = -0.5;
  D4[10] = 7;
  D4[15] = 1;
  CHECK(ntk_metrics_top_eigs(w, NTK_TEST_T2(D4, 4, 4), 3, NULL) == NTK_OK);
  CHECK_NEAR(w[0], 7, TOL);
  CHECK_NEAR(w[1], 3, TOL);
  CHECK_NEAR(w[2], 1, TOL);
  CHECK(ntk_metrics_psd(&psd, &lmin, &lmax, NTK_TEST_T2(D4, 4, 4), NTK_METRICS_PSD_TOL, NULL) == NTK_OK);
  CHECK(!psd);
  CHECK_NEAR(lmin, -0.5, TOL);
  CHECK_NEAR(lmax, 7, TOL);
  CHECK(ntk_metrics_psd(&psd, &lmin, NULL, NTK_TEST_T2(R, 4, 4), NTK_METRICS_PSD_TOL, NULL) == NTK_OK);
  CHECK(psd);
  CHECK(fabs(lmin) < 1e-13);
  /* distance of orthogonal kernels is 1 */
  D4[5] = D4[10] = D4[15] = 0;
  memset(R, 0, sizeof R);
  R[5] = 2;
  CHECK(ntk_metrics_tensor_distance(&v, NTK_TEST_T2(D4, 4, 4), NTK_TEST_T2(R, 4, 4), NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  CHECK(ntk_metrics_top_eigs(w, NTK_TEST_T2(D4, 4, 4), 5, NULL) == NTK_EARG);
  /* asymmetric: refused by ntk_linalg, blamed on K */
  {
    ntk_error err;
    D4[1] = 1.0;
    CHECK(ntk_metrics_top_eigs(w, NTK_TEST_T2(D4, 4, 4), 2, &err) == NTK_EARG && err.arg == 2);
    CHECK(ntk_metrics_psd(&psd, &lmin, &lmax, NTK_TEST_T2(D4, 4, 4), NTK_METRICS_PSD_TOL, &err) ==
              NTK_EARG &&
          err.arg == 4); /* K is psd's argument 4 */
  }
}

static void test_weight_alignment(void) {
  double beta[3] = {1, -2, 0.5}, W[12], u[4] = {0.3, -1, 2, 0.1}, v;
  size_t i, j;
  for (i = 0; i < 4; i++)
    for (j = 0; j < 3; j++) W[i * 3 + j] = u[i] * beta[j];
  CHECK(ntk_metrics_weight_alignment(&v, NTK_TEST_T2(W, 4, 3), NTK_TEST_T1(beta, 3), NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0, TOL);
  /* W with rows orthogonal to beta: cosine 0; W = I (3 x 3): |beta|^2 / (sqrt 3 |beta|^2) */
  for (i = 0; i < 4; i++) {
    W[i * 3 + 0] = 2.0 * u[i];
    W[i * 3 + 1] = u[i];
    W[i * 3 + 2] = 0.0;
  }
  CHECK(ntk_metrics_weight_alignment(&v, NTK_TEST_T2(W, 4, 3), NTK_TEST_T1(beta, 3), NULL) == NTK_OK);
  CHECK_NEAR(v, 0.0, TOL);
  memset(W, 0, sizeof W);
  W[0] = W[4] = W[8] = 1;
  CHECK(ntk_metrics_weight_alignment(&v, NTK_TEST_T2(W, 3, 3), NTK_TEST_T1(beta, 3), NULL) == NTK_OK);
  CHECK_NEAR(v, 1.0 / sqrt(3.0), TOL);
}

/* ntk_metrics_kernel_stats on a non-symmetric K with a large mean part and off-mean targets,
 * read as a contiguous tensor and as the transpose of K^T, against explicit H K H sums. */
static void test_kernel_stats(void) {
  enum { P = 7 };
  double E[P * P], y[P], Kc[P * P], yc[P], r[P], c[P], s = 0, num = 0, kn = 0, yn = 0;
  double ku = 0, nu = 0, yu = 0, k0n = 0, cross = 0, tr = 0;
  ntk_tensor K = {0}, KT = {0}, KTT = {0}, Y = {0}, K0 = {0};
  ntk_kernel_stats st;
  size_t i, j;
  int pass;
  fill_normal(E, P * P, 7);
  fill_normal(y, P, 8);
  CHECK(ntk_tensor_init_2d(&K, P, P, NULL) == NTK_OK);
  CHECK(ntk_tensor_init_2d(&KT, P, P, NULL) == NTK_OK);
  CHECK(ntk_tensor_init_2d(&K0, P, P, NULL) == NTK_OK);
  CHECK(ntk_tensor_init_1d(&Y, P, NULL) == NTK_OK);
  for (i = 0; i < P; i++) {
    y[i] += 0.7;
    ntk_tensor_data(&Y)[i] = y[i];
    for (j = 0; j < P; j++) {
      double k = 4.0 + E[i * P + j] + 0.5 * (double)i; /* non-symmetric, large mean */
      ntk_tensor_data(&K)[i * P + j] = k;
      ntk_tensor_data(&KT)[j * P + i] = k;
      ntk_tensor_data(&K0)[i * P + j] = E[j * P + i] * E[i * P + j] + 1.0;
    }
  }
  CHECK(ntk_tensor_transpose(&KTT, &KT, NULL) == NTK_OK); /* K again, column-major */
  /* explicit: Kc = K - r/P - c/P + s/P^2 = H K H, yc = H y */
  memset(r, 0, sizeof r);
  memset(c, 0, sizeof c);
  for (i = 0; i < P; i++)
    for (j = 0; j < P; j++) {
      double k = ntk_tensor_data(&K)[i * P + j];
      r[i] += k;
      c[j] += k;
      s += k;
    }
  for (i = 0; i < P; i++) yc[i] = y[i];
  {
    double m = 0;
    for (i = 0; i < P; i++) m += y[i] / P;
    for (i = 0; i < P; i++) yc[i] -= m;
  }
  for (i = 0; i < P; i++)
    for (j = 0; j < P; j++) {
      double k = ntk_tensor_data(&K)[i * P + j], k0 = ntk_tensor_data(&K0)[i * P + j];
      Kc[i * P + j] = k - r[i] / P - c[j] / P + s / (P * P);
      ku += y[i] * k * y[j];
      nu += k * k;
      k0n += k0 * k0;
      cross += k * k0;
    }
  for (i = 0; i < P; i++) {
    tr += ntk_tensor_data(&K)[i * P + i];
    yn += yc[i] * yc[i];
    yu += y[i] * y[i];
    for (j = 0; j < P; j++) {
      num += yc[i] * Kc[i * P + j] * yc[j];
      kn += Kc[i * P + j] * Kc[i * P + j];
    }
  }
  for (pass = 0; pass < 2; pass++) {
    const ntk_tensor *Kin = pass == 0 ? &K : &KTT;
    CHECK(ntk_metrics_kernel_stats(&st, Kin, &Y, &K0,
                                   NTK_STATS_ALIGNMENT | NTK_STATS_CENTERED | NTK_STATS_DISTANCE,
                                   NULL) == NTK_OK);
    CHECK_NEAR(st.alignment_centered, num / (sqrt(kn) * yn), TOL);
    CHECK_NEAR(st.alignment, ku / (sqrt(nu) * yu), TOL);
    CHECK_NEAR(st.norm, sqrt(nu), TOL * sqrt(nu));
    CHECK_NEAR(st.trace, tr, TOL * fabs(tr));
    CHECK_NEAR(st.distance, 1.0 - cross / (sqrt(nu) * sqrt(k0n)), TOL);
    CHECK_NEAR(ntk_metrics_tensor_norm(Kin), sqrt(nu), TOL * sqrt(nu));
  }
  NTK_TEST_RELEASE(&K, &KT, &KTT, &K0, &Y);
}

int main(void) {
  test_alignment();
  test_kernel_stats();
  test_norms_and_spectra();
  test_weight_alignment();
  TEST_MAIN_END();
}
