/* bench_mlp.c: one training step (forward + backward + update, ntk_train_step with gd) against
 * the bare BLAS calls the step cannot avoid, in the same run. Prints best-of-R times and the
 * ratio step / bare. Not a test: no assertions.
 *
 * Built by CMake into build/bench/bench_mlp (scripts/setup builds ./build); run it from there.
 */
#include "bench_common.h"
#include <cblas.h>

#define REPEATS 7

/* The gemms of one step of a bias-free chain of widths w[0..L] on P rows, written by hand:
 * H_l = A_{l-1} W_l^T forward; dW_l = G_l^T A_{l-1} and G_{l-1} = G_l W_l backward (l > 1). */
static void bare_step(int L, const size_t *w, size_t P, double *const *A, double *const *W,
                      double *const *G, double *const *dW) {
  int l;
  for (l = 1; l <= L; l++)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, (int)w[l], (int)w[l - 1], 1.0,
                A[l - 1], (int)w[l - 1], W[l], (int)w[l - 1], 0.0, A[l], (int)w[l]);
  for (l = L; l >= 1; l--) {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)w[l], (int)w[l - 1], (int)P, 1.0,
                G[l], (int)w[l], A[l - 1], (int)w[l - 1], 0.0, dW[l], (int)w[l - 1]);
    if (l > 1)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, (int)w[l - 1], (int)w[l], 1.0,
                  G[l], (int)w[l], W[l], (int)w[l - 1], 0.0, G[l - 1], (int)w[l - 1]);
  }
}

static void run_case(const char *name, int L, const size_t *w, ntk_activation act, size_t P,
                     int iters) {
  ntk_activation acts[8];
  double sigma[8], *X, *Y, *A[8], *W[8], *G[8], *dW[8], best_step = 1e30, best_bare = 1e30,
                                                        flops = 0;
  ntk_mlp_config cfg;
  ntk_train_config tcfg;
  ntk_trainer tr;
  ntk_storage Xs, Ys; /* the arrays X and Y as the API's tensors, no copy */
  ntk_tensor Xt, Yt;
  ntk_mlp *net;
  ntk_model *model = NULL;
  ntk_rng rng;
  ntk_error err;
  int l, r, k;
  for (l = 0; l < L; l++) {
    acts[l] = act;
    sigma[l] = 1.0;
  }
  cfg = (ntk_mlp_config){L, w, acts, 0, NTK_PARAM_STANDARD, sigma, 0.0, NTK_INIT_GAUSSIAN};
  ntk_rng_seed(&rng, 1);
  if (ntk_mlp_new(&net, &cfg, &rng, &err) != NTK_OK) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  X = malloc(P * w[0] * sizeof *X);
  Y = malloc(P * w[L] * sizeof *Y);
  ntk_rng_fill_normal_buf(&rng, X, P * w[0], 0.0, 1.0);
  ntk_rng_fill_normal_buf(&rng, Y, P * w[L], 0.0, 1.0);
  A[0] = X;
  for (l = 1; l <= L; l++) {
    A[l] = calloc(P * w[l], sizeof(double));
    G[l] = calloc(P * w[l], sizeof(double));
    W[l] = net->params + net->w_off[l - 1];
    dW[l] = calloc(w[l] * w[l - 1], sizeof(double));
    flops += 2.0 * (double)(P * w[l] * w[l - 1]) * (l > 1 ? 3 : 2);
  }
  ntk_train_config_default(&tcfg, NTK_TRAIN_GD);
  tcfg.lr = 1e-4;
  ntk_train_init(&tr, &tcfg, &err);
  ntk_tensor_wrap(&Xt, &Xs, X, P, w[0]);
  ntk_tensor_wrap(&Yt, &Ys, Y, P, w[L]);
  if (ntk_model_from_mlp(&model, net, 0, &err) != NTK_OK) { /* trainers step models */
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  ntk_train_step(&tr, model, &Xt, &Yt, 1e300, &err); /* warm-up: allocates the buffers */
  bare_step(L, w, P, A, W, G, dW);
  for (r = 0; r < REPEATS; r++) {
    double t0 = now(), t1, t2;
    for (k = 0; k < iters; k++)
      if (ntk_train_step(&tr, model, &Xt, &Yt, 1e300, &err) != NTK_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
      }
    t1 = now();
    for (k = 0; k < iters; k++) bare_step(L, w, P, A, W, G, dW);
    t2 = now();
    if ((t1 - t0) / iters < best_step) best_step = (t1 - t0) / iters;
    if ((t2 - t1) / iters < best_bare) best_bare = (t2 - t1) / iters;
  }
  printf("%-44s step %9.1f us  bare gemms %9.1f us  ratio %.2f  (%.1f GFLOP/s, threads %d)\n", name,
         best_step * 1e6, best_bare * 1e6, best_step / best_bare, flops / best_step * 1e-9,
         ntk_threads_get());
  ntk_train_release(&tr);
  ntk_model_free(model);
  ntk_mlp_free(net);
  free(X);
  free(Y);
  for (l = 1; l <= L; l++) {
    free(A[l]);
    free(G[l]);
    free(dW[l]);
  }
}

int main(void) {
  static const size_t relu_w[3] = {784, 100, 1}, small_w[4] = {30, 50, 50, 1};
  int threads;
  for (threads = 1; threads <= 2; threads++) {
    ntk_threads_set(threads);
    run_case("relu P=1000 D=784 N=100 (314 MFLOP)", 2, relu_w, NTK_ACT_RELU, 1000, 20);
    run_case("deep linear P=200 D=30 N=50 L=3 (4.3 MFLOP)", 3, small_w, NTK_ACT_LINEAR, 200, 2000);
  }
  return 0;
}
