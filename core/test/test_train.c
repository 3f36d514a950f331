/* test_train.c: trainers on a problem with a closed-form flow. A linear model f(x) = w.x on
 * X = I (P = D = 3) has L = |w - y|^2 / 6, so gradient flow gives w(t) = y + (w0 - y) e^{-t/3}
 * and GD gives w_k = y + (w0 - y) (1 - lr/3)^k. */
#include <string.h>

#include "../ntk.h"
#include "ntk_test.h"

/* plain arrays of P rows as the API's tensors, with net's input and output sizes */
#define XT(x, p) NTK_TEST_T2((x), (p), ntk_mlp_input_dim(net))
#define YT(y, p) NTK_TEST_T2((y), (p), ntk_mlp_output_dim(net))

static ntk_mlp *linear_model(void) {
  size_t widths[2] = {3, 1};
  double sigma = 1.0;
  ntk_mlp_config cfg = {1, widths, NULL, 0, NTK_PARAM_STANDARD, &sigma, 0.0, NTK_INIT_GAUSSIAN};
  ntk_rng rng;
  ntk_mlp *net = NULL;
  ntk_error err;
  ntk_rng_seed(&rng, 5);
  CHECK(ntk_mlp_new(&net, &cfg, &rng, &err) == NTK_OK);
  return net;
}

static const double X[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
static const double Y[3] = {0.5, -1.0, 2.0};

static double max_error(const ntk_mlp *net, const double *w0, double decay) {
  double e = 0;
  int i;
  for (i = 0; i < 3; i++) e = fmax(e, fabs(net->params[i] - (Y[i] + (w0[i] - Y[i]) * decay)));
  return e;
}

static void run(ntk_train_method m, double lr_or_dt, double T, double tol) {
  ntk_mlp *net = linear_model();
  ntk_train_config cfg;
  ntk_trainer tr;
  ntk_error e;
  double w0[3];
  memcpy(w0, net->params, sizeof w0);
  ntk_train_config_default(&cfg, m);
  cfg.lr = cfg.dt = lr_or_dt;
  cfg.rtol = 1e-11;
  cfg.atol = 1e-13;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, net, XT(X, 3), YT(Y, 3), T, SIZE_MAX, &e) == NTK_OK);
  if (m == NTK_TRAIN_GD)
    CHECK(max_error(net, w0, pow(1.0 - lr_or_dt / 3.0, (double)tr.steps)) < tol);
  else
    CHECK(max_error(net, w0, exp(-T / 3.0)) < tol);
  if (m == NTK_TRAIN_RK4 || m == NTK_TRAIN_RK45) CHECK(tr.t == T);
  if (m == NTK_TRAIN_RK4) CHECK(tr.evals == 4 * tr.steps);
  /* rk45: one gradient to start, one for Hairer's first step, then 6 per attempt (FSAL) */
  if (m == NTK_TRAIN_RK45) CHECK(tr.evals == 2 + 6 * (tr.steps + tr.rejected));
  ntk_train_release(&tr);
  ntk_mlp_free(net);
}

static void test_nonfinite(void) {
  ntk_mlp *net = linear_model();
  ntk_train_config cfg;
  ntk_trainer tr;
  ntk_error e;
  ntk_train_config_default(&cfg, NTK_TRAIN_GD);
  cfg.lr = 1e3; /* (1 - lr/3)^k diverges */
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, net, XT(X, 3), YT(Y, 3), INFINITY, 100000, &e) == NTK_ENONFINITE);
  CHECK(strstr(e.msg, "gd{lr = 1000}") != NULL);
  ntk_train_release(&tr);
  cfg.lr = -1;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_EARG && e.arg == 1);
  ntk_mlp_free(net);
}

int main(void) {
  /* GD is exact up to rounding; rk4 with dt 0.1 has global error ~ (dt/3)^4 t / 120 */
  run(NTK_TRAIN_GD, 0.1, 2.0, 1e-14);
  run(NTK_TRAIN_RK4, 0.1, 2.0, 1e-8);
  run(NTK_TRAIN_RK45, 0.0, 2.0, 1e-9);
  test_nonfinite();
  TEST_MAIN_END();
}
