/* test_mlp.c: backprop against finite differences, the VJP against the loss gradient, views
 * that outlive the net, the init schemes, the file format, and workspace reuse. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, truncate */
#include <string.h>
#include <unistd.h>

#include "../ntk.h"
#include "ntk_test.h"

/* plain arrays of P rows as the API's tensors, with net's input and output sizes */
#define XT(x, p) NTK_TEST_T2((x), (p), ntk_mlp_input_dim(net))
#define YT(y, p) NTK_TEST_T2((y), (p), ntk_mlp_output_dim(net))

/* central differences with h = 1e-6: rounding ~1e-10, truncation ~1e-12 (see spec 10) */
#define FD_STEP 1e-6
#define GRAD_REL_TOL 1e-6

static ntk_mlp *make(int depth, const size_t *widths, ntk_activation act, int bias, ntk_param param,
                     ntk_init init, uint64_t seed) {
  ntk_error err;
  ntk_mlp *net = ntk_test_mlp(depth, widths, act, bias, param, init, 1.0, 0.5, seed, &err);
  CHECK(net != NULL);
  return net;
}

static void fill(double *x, size_t n, uint64_t seed) { fill_normal(x, n, seed); }

static void test_gradient(ntk_activation act, int bias, ntk_param param) {
  size_t widths[4] = {3, 5, 4, 2}, P = 6, i;
  ntk_mlp *net = make(3, widths, act, bias, param, NTK_INIT_GAUSSIAN, 7);
  double X[18], Y[12], grad[64], loss, lp, lm, gmax = 0, err = 0;
  ntk_error e;
  fill(X, 18, 1);
  fill(Y, 12, 2);
  CHECK(net->nparams <= 64);
  CHECK(ntk_mlp_loss_grad(net, grad, &loss, XT(X, P), YT(Y, P), &e) == NTK_OK);
  for (i = 0; i < net->nparams; i++) {
    double v = net->params[i];
    net->params[i] = v + FD_STEP;
    ntk_mlp_loss(net, &lp, XT(X, P), YT(Y, P), &e);
    net->params[i] = v - FD_STEP;
    ntk_mlp_loss(net, &lm, XT(X, P), YT(Y, P), &e);
    net->params[i] = v;
    err = fmax(err, fabs((lp - lm) / (2 * FD_STEP) - grad[i]));
    gmax = fmax(gmax, fabs(grad[i]));
  }
  CHECK(gmax > 0);
  CHECK(err / gmax < GRAD_REL_TOL);
  ntk_mlp_free(net);
}

static void test_vjp_matches_loss_gradient(void) {
  size_t widths[3] = {4, 6, 3}, P = 5, i;
  ntk_mlp *net = make(2, widths, NTK_ACT_TANH, 1, NTK_PARAM_NTK, NTK_INIT_GAUSSIAN, 3);
  double X[20], Y[15], f[15], dout[15], g1[64], g2[64], loss;
  ntk_error e;
  fill(X, 20, 4);
  fill(Y, 15, 5);
  CHECK(ntk_mlp_loss_grad(net, g1, &loss, XT(X, P), YT(Y, P), &e) == NTK_OK);
  CHECK(ntk_mlp_forward(net, f, XT(X, P), &e) == NTK_OK);
  for (i = 0; i < 15; i++) dout[i] = (f[i] - Y[i]) / (double)P;
  CHECK(ntk_mlp_backward(net, g2, dout, XT(X, P), &e) == NTK_OK);
  for (i = 0; i < net->nparams; i++) CHECK_NEAR(g1[i], g2[i], 1e-15);
  /* a batch size that is not the cached one is refused */
  CHECK(ntk_mlp_backward(net, g2, dout, XT(X, P - 1), &e) == NTK_ESHAPE);
  ntk_mlp_free(net);
}

static void test_views_outlive_net(void) {
  size_t widths[3] = {2, 3, 1};
  ntk_mlp *net = make(2, widths, NTK_ACT_RELU, 0, NTK_PARAM_STANDARD, NTK_INIT_GAUSSIAN, 1);
  ntk_tensor view = {0};
  double first = net->params[0];
  ntk_tensor_view(&view, &net->flat);
  CHECK(ntk_tensor_data(&view) == net->params);
  ntk_mlp_free(net);
  CHECK(view.storage->refcount == 1);
  CHECK(ntk_tensor_at(&view, 0, 0) == first);
  ntk_tensor_release(&view);
}

static void test_balanced_and_orthogonal(void) {
  size_t widths[4] = {5, 7, 4, 6}, i, j, k;
  ntk_mlp *net = make(3, widths, NTK_ACT_LINEAR, 0, NTK_PARAM_STANDARD, NTK_INIT_BALANCED, 2);
  int l;
  for (l = 1; l < 3; l++) {
    const double *A = net->params + net->w_off[l - 1], *B = net->params + net->w_off[l];
    size_t n = widths[l], nin = widths[l - 1], nout = widths[l + 1];
    double scale = 0, diff = 0;
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++) {
        double a = 0, b = 0;
        for (k = 0; k < nin; k++) a += A[i * nin + k] * A[j * nin + k];
        for (k = 0; k < nout; k++) b += B[k * n + i] * B[k * n + j];
        scale = fmax(scale, fabs(a));
        diff = fmax(diff, fabs(a - b));
      }
    CHECK(scale > 0);
    CHECK(diff < 1e-13 * scale);
  }
  ntk_mlp_free(net);
  {
    size_t w2[2] = {4, 9};
    ntk_mlp *o = make(1, w2, NTK_ACT_LINEAR, 0, NTK_PARAM_STANDARD, NTK_INIT_ORTHOGONAL, 3);
    /* 9 x 4, orthonormal columns scaled by sigma sqrt(9 / 4) / ... : W^T W = g^2 I */
    double g2 = 0, off = 0;
    for (i = 0; i < 4; i++)
      for (j = 0; j < 4; j++) {
        double s = 0;
        for (k = 0; k < 9; k++) s += o->params[k * 4 + i] * o->params[k * 4 + j];
        if (i == j && i == 0) g2 = s;
        if (i == j)
          CHECK_NEAR(s, g2, 1e-13);
        else
          off = fmax(off, fabs(s));
      }
    CHECK_NEAR(g2, 9.0 / 4.0, 1e-13); /* |W|_F^2 = 4 g^2 = nout nin sigma^2 / nin = 9 */
    CHECK(off < 1e-13);
    ntk_mlp_free(o);
  }
}

static void test_save_load(void) {
  size_t widths[3] = {3, 4, 2}, i;
  ntk_mlp *net = make(2, widths, NTK_ACT_GELU, 1, NTK_PARAM_NTK, NTK_INIT_GAUSSIAN, 9), *back;
  char path[] = "/tmp/ntk_test_mlp_XXXXXX";
  int fd = mkstemp(path);
  ntk_error e;
  FILE *f;
  CHECK(fd >= 0);
  close(fd);
  CHECK(ntk_mlp_save(net, path, &e) == NTK_OK);
  CHECK(ntk_mlp_load(&back, path, &e) == NTK_OK);
  CHECK(back->nparams == net->nparams && back->act[0] == NTK_ACT_GELU && back->bias == 1);
  CHECK(memcmp(back->params, net->params, net->nparams * sizeof(double)) == 0);
  ntk_mlp_free(back);
  /* flip one parameter bit: the CRC catches it */
  f = fopen(path, "r+b");
  CHECK(f != NULL);
  fseek(f, 100, SEEK_SET);
  fputc(0x55, f);
  fclose(f);
  CHECK(ntk_mlp_load(&back, path, &e) == NTK_EFORMAT);
  CHECK(back == NULL);
  CHECK(strstr(e.msg, "checksum mismatch") != NULL);
  /* truncated */
  CHECK(truncate(path, 50) == 0);
  CHECK(ntk_mlp_load(&back, path, &e) == NTK_EFORMAT);
  CHECK(strstr(e.msg, "truncated") != NULL);
  remove(path);
  CHECK(ntk_mlp_load(&back, path, &e) == NTK_EIO);
  for (i = 0; i < net->nparams; i++) CHECK(isfinite(net->params[i]));
  ntk_mlp_free(net);
}

/* After the first step, the step loop neither allocates nor moves a buffer. */
static void test_workspace_reuse(void) {
  size_t widths[3] = {4, 8, 2}, P = 16;
  ntk_mlp *net = make(2, widths, NTK_ACT_RELU, 1, NTK_PARAM_STANDARD, NTK_INIT_GAUSSIAN, 4);
  double X[64], Y[32];
  ntk_train_config cfg;
  ntk_trainer tr;
  ntk_error e;
  double *pre0, *delta0, *k0, *k6;
  ntk_model *m = NULL; /* trainers step models: the model interface over net */
  fill(X, 64, 1);
  fill(Y, 32, 2);
  CHECK(ntk_model_from_mlp(&m, net, 0, &e) == NTK_OK);
  ntk_train_config_default(&cfg, NTK_TRAIN_RK45);
  CHECK(ntk_train_init(&tr, &cfg, &e) == NTK_OK);
  CHECK(ntk_train_step(&tr, m, XT(X, P), YT(Y, P), INFINITY, &e) == NTK_OK);
  pre0 = net->pre[0];
  delta0 = net->delta[0];
  k0 = tr.k[0];
  k6 = tr.k[6];
  CHECK(ntk_train_run(&tr, m, XT(X, P), YT(Y, P), tr.t + 1.0, SIZE_MAX, &e) == NTK_OK);
  CHECK(net->pre[0] == pre0 && net->delta[0] == delta0);
  /* FSAL swaps k[0] and k[6]; the set of buffers is the same */
  CHECK((tr.k[0] == k0 && tr.k[6] == k6) || (tr.k[0] == k6 && tr.k[6] == k0));
  ntk_train_release(&tr);
  ntk_train_release(&tr);
  ntk_model_free(m);
  ntk_mlp_free(net);
}

int main(void) {
  int a;
  for (a = 0; a < NTK_ACT_COUNT; a++) {
    test_gradient((ntk_activation)a, 0, NTK_PARAM_STANDARD);
    test_gradient((ntk_activation)a, 1, NTK_PARAM_NTK);
  }
  test_vjp_matches_loss_gradient();
  test_views_outlive_net();
  test_balanced_and_orthogonal();
  test_save_load();
  test_workspace_reuse();
  TEST_MAIN_END();
}
