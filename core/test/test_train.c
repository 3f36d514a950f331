/* test_train.c: trainers on a problem with a closed-form flow. A linear model f(x) = w.x on
 * X = I (P = D = 3) has L = |w - y|^2 / 6, so gradient flow gives w(t) = y + (w0 - y) e^{-t/3}
 * and GD gives w_k = y + (w0 - y) (1 - lr/3)^k. */
#include <string.h>

#include "../ntk.h"
#include "ntk_test.h"

/* plain arrays of P rows as the API's tensors, with net's input and output sizes */
#define XT(x, p) NTK_TEST_T2((x), (p), ntk_mlp_input_dim(net))
#define YT(y, p) NTK_TEST_T2((y), (p), ntk_mlp_output_dim(net))

/* The model interface over net (trainers step models); freed before net. */
static ntk_model *as_model(ntk_mlp *net) {
  ntk_model *m = NULL;
  ntk_error err;
  CHECK(ntk_model_from_mlp(&m, net, 0, &err) == NTK_OK);
  return m;
}

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

/* The defaults of plain gradient descent, with step lr. */
static ntk_train_config gd_config(double lr) {
  ntk_train_config cfg;
  ntk_train_config_default(&cfg, NTK_TRAIN_GD);
  cfg.lr = lr;
  return cfg;
}

static double max_error(const ntk_mlp *net, const double *w0, double decay) {
  double e = 0;
  int i;
  for (i = 0; i < 3; i++) e = fmax(e, fabs(net->params[i] - (Y[i] + (w0[i] - Y[i]) * decay)));
  return e;
}

static void run(ntk_train_method m, double lr_or_dt, double T, double tol) {
  ntk_mlp *net = linear_model();
  ntk_model *mnet = as_model(net);
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
  CHECK(ntk_train_run(&tr, mnet, XT(X, 3), YT(Y, 3), T, SIZE_MAX, &e) == NTK_OK);
  if (m == NTK_TRAIN_GD)
    CHECK(max_error(net, w0, pow(1.0 - lr_or_dt / 3.0, (double)tr.steps)) < tol);
  else
    CHECK(max_error(net, w0, exp(-T / 3.0)) < tol);
  if (m == NTK_TRAIN_RK4 || m == NTK_TRAIN_RK45) CHECK(tr.t == T);
  if (m == NTK_TRAIN_RK4) CHECK(tr.evals == 4 * tr.steps);
  /* rk45: one gradient to start, one for Hairer's first step, then 6 per attempt (FSAL) */
  if (m == NTK_TRAIN_RK45) CHECK(tr.evals == 2 + 6 * (tr.steps + tr.rejected));
  ntk_train_release(&tr);
  ntk_model_free(mnet);
  ntk_mlp_free(net);
}

static void test_nonfinite(void) {
  ntk_mlp *net = linear_model();
  ntk_model *mnet = as_model(net);
  ntk_train_config cfg = gd_config(1e3); /* (1 - lr/3)^k diverges */
  ntk_trainer tr;
  ntk_error e;
  cfg.max_loss_ratio = INFINITY; /* only the non-finite guard */
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, mnet, XT(X, 3), YT(Y, 3), INFINITY, 100000, &e) == NTK_ENONFINITE);
  CHECK(strstr(e.msg, "gd{lr = 1000}") != NULL);
  ntk_train_release(&tr);
  cfg.lr = -1;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_EARG && e.arg == 1);
  cfg.lr = 0.1;
  cfg.max_loss_ratio = 1.0;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_EARG && strstr(e.msg, "max_loss_ratio") != NULL);
  ntk_model_free(mnet);
  ntk_mlp_free(net);
}

/* A finite blow-up stops at max_loss_ratio x the initial loss, long before overflow. */
static void test_diverged(void) {
  ntk_mlp *net = linear_model();
  ntk_model *mnet = as_model(net);
  ntk_train_config cfg = gd_config(10.0); /* |1 - lr/3| = 2.33: the error grows 5.4x per step */
  ntk_trainer tr;
  ntk_error e;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, mnet, XT(X, 3), YT(Y, 3), INFINITY, 1000, &e) == NTK_ENOCONV);
  CHECK(strstr(e.msg, "diverged at step") != NULL && strstr(e.msg, "gd{lr = 10}") != NULL);
  /* 5.44^k > 1e6 first at k = 9: the loss at the start of step 10 (or the run's end check) */
  CHECK(tr.steps == 9);
  ntk_train_release(&tr);
  ntk_model_free(mnet);
  ntk_mlp_free(net);
}

/* One step of lr > t_final lands past the whole requested run. */
static void test_overshoot(void) {
  ntk_mlp *net = linear_model();
  ntk_model *mnet = as_model(net);
  ntk_train_config cfg = gd_config(2.0); /* stable (|1 - 2/3| < 1) but longer than t_final = 1.5 */
  ntk_trainer tr;
  ntk_error e;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, mnet, XT(X, 3), YT(Y, 3), 0.5, SIZE_MAX, &e) == NTK_OK);
  CHECK(tr.t == 2.0);
  CHECK(ntk_train_check_end(&tr, 4.0, &e) == NTK_OK); /* an intermediate target: fine */
  CHECK(ntk_train_check_end(&tr, 1.5, &e) == NTK_ENOCONV);
  CHECK(strstr(e.msg, "step 1 overshoots the requested end time 1.5: t = 2") != NULL);
  ntk_train_release(&tr);
  /* lr = 0.3 to t = 1 lands at 1.2: a step shorter than the run, the usual discrete ending */
  cfg.lr = 0.3;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, mnet, XT(X, 3), YT(Y, 3), 1.0, SIZE_MAX, &e) == NTK_OK);
  CHECK(ntk_train_check_end(&tr, 1.0, &e) == NTK_OK && tr.steps == 4);
  ntk_train_release(&tr);
  /* a huge lr still steps toward a small target (the rounding slack is relative to t) */
  cfg.lr = 1e8;
  cfg.max_loss_ratio = INFINITY;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(!ntk_train_reached(&tr, 0.01) && ntk_train_reached(&tr, 0.0));
  ntk_train_release(&tr);
  ntk_model_free(mnet);
  ntk_mlp_free(net);
}

/* B1 of issue 11: two nets with 18 parameters each, {2, 6, 1} and {8, 2, 1} without biases. A
 * trainer bound to the first refuses the second (its minibatch buffers hold 2-wide rows; ASan
 * caught the overflow when only the parameter count was compared). */
static void test_bound_shape(void) {
  size_t wa[3] = {2, 6, 1}, wb[3] = {8, 2, 1};
  double sigma[2] = {1.0, 1.0}, Xa[20], Xb[80], Yab[10];
  ntk_mlp_config ca = {2, wa, NULL, 0, NTK_PARAM_STANDARD, sigma, 0.0, NTK_INIT_GAUSSIAN};
  ntk_mlp_config cb = ca;
  ntk_mlp *a = NULL, *b = NULL;
  ntk_model *ma, *mb;
  ntk_rng rng;
  ntk_train_config cfg;
  ntk_trainer tr;
  ntk_error e;
  int i;
  cb.widths = wb;
  ntk_rng_seed(&rng, 1);
  CHECK(ntk_mlp_new(&a, &ca, &rng, &e) == NTK_OK);
  CHECK(ntk_mlp_new(&b, &cb, &rng, &e) == NTK_OK);
  ma = as_model(a);
  mb = as_model(b);
  CHECK(a->nparams == 18 && b->nparams == 18);
  for (i = 0; i < 20; i++) Xa[i] = sin(i + 1.0);
  for (i = 0; i < 80; i++) Xb[i] = cos(i + 1.0);
  for (i = 0; i < 10; i++) Yab[i] = 0.1 * i;
  ntk_train_config_default(&cfg, NTK_TRAIN_SGD);
  cfg.batch = 4;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, ma, NTK_TEST_T2(Xa, 10, 2), NTK_TEST_T2(Yab, 10, 1), INFINITY, 3, &e) == NTK_OK);
  CHECK(ntk_train_step(&tr, mb, NTK_TEST_T2(Xb, 10, 8), NTK_TEST_T2(Yab, 10, 1), INFINITY, &e) == NTK_ESHAPE && e.arg == 2);
  CHECK(strstr(e.msg, "widths {2, 6, 1}, got {8, 2, 1}") != NULL);
  ntk_train_reset(&tr);
  CHECK(ntk_train_run(&tr, mb, NTK_TEST_T2(Xb, 10, 8), NTK_TEST_T2(Yab, 10, 1), INFINITY, 3, &e) == NTK_OK && tr.steps == 3);
  ntk_train_release(&tr);
  ntk_model_free(ma);
  ntk_model_free(mb);
  ntk_mlp_free(a);
  ntk_mlp_free(b);
}

/* Loss-only passes (loss_grad without a gradient) of the model behind counting_ops. */
static const ntk_model_ops *counted_ops;
static int loss_only_passes;
static int counting_loss_grad(void *impl, double *grad, double *loss, const ntk_tensor *Xt,
                              const ntk_tensor *Yt, ntk_error *err) {
  if (!grad) loss_only_passes++;
  return counted_ops->loss_grad(impl, grad, loss, Xt, Yt, err);
}

/* Loss-only passes of a fresh trainer's run of `steps` steps of cfg (issue 17: a full-batch first
 * step takes loss0 from its own gradient pass; only the end loss needs a forward pass). Also
 * checks that the run's loss_end is the one of a reused trainer's twin run, bit for bit. */
static int passes_of_run(ntk_train_config cfg, size_t steps) {
  ntk_mlp *net = linear_model(), *twin = linear_model();
  ntk_model *mnet = as_model(net), *mtwin = as_model(twin);
  ntk_model_ops ops = *mnet->ops;
  ntk_trainer tr;
  ntk_error e;
  int passes;
  counted_ops = mnet->ops;
  ops.loss_grad = counting_loss_grad;
  mnet->ops = &ops;
  loss_only_passes = 0;
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_run(&tr, mnet, XT(X, 3), YT(Y, 3), INFINITY, steps, &e) == NTK_OK);
  passes = loss_only_passes;
  CHECK(tr.loss0 == tr.loss0 && tr.loss0 > 0.0);
  if (cfg.method == NTK_TRAIN_GD) {
    /* the same steps taken one run at a time by one trainer: the same parameters, bit for bit */
    double loss_end = tr.loss_end;
    size_t k;
    ntk_train_release(&tr);
    CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
    for (k = 1; k <= steps; k++)
      CHECK(ntk_train_run(&tr, mtwin, XT(X, 3), YT(Y, 3), INFINITY, k, &e) == NTK_OK);
    CHECK(tr.loss_end == loss_end && memcmp(net->params, twin->params, 3 * sizeof(double)) == 0);
  }
  ntk_train_release(&tr);
  mnet->ops = counted_ops;
  ntk_model_free(mnet);
  ntk_model_free(mtwin);
  ntk_mlp_free(net);
  ntk_mlp_free(twin);
  return passes;
}

static void test_first_step_passes(void) {
  ntk_train_config cfg = gd_config(0.1);
  CHECK(passes_of_run(cfg, 1) == 1); /* the end loss; was 2 with a separate loss0 pass */
  CHECK(passes_of_run(cfg, 3) == 1);
  ntk_train_config_default(&cfg, NTK_TRAIN_ADAM);
  CHECK(passes_of_run(cfg, 1) == 1);
  ntk_train_config_default(&cfg, NTK_TRAIN_SGD);
  CHECK(passes_of_run(cfg, 1) == 1); /* full batch */
  cfg.batch = 2;                      /* minibatches: loss0 is a full-data pass of its own */
  CHECK(passes_of_run(cfg, 1) == 2);
}

int main(void) {
  /* GD is exact up to rounding; rk4 with dt 0.1 has global error ~ (dt/3)^4 t / 120 */
  run(NTK_TRAIN_GD, 0.1, 2.0, 1e-14);
  run(NTK_TRAIN_RK4, 0.1, 2.0, 1e-8);
  run(NTK_TRAIN_RK45, 0.0, 2.0, 1e-9);
  test_nonfinite();
  test_diverged();
  test_overshoot();
  test_bound_shape();
  test_first_step_passes();
  TEST_MAIN_END();
}
