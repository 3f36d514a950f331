/* test_model_kernel.c: a small ResNet through the model interface: the loss gradient against
 * finite differences, tiled per-sample gradients, and the tiled NTK (every layout, per-layer
 * split, Adam's eta) against the explicit J J^T twin. */
#include <string.h>

#include "../ntk.h"
#include "ntk_test.h"

/* central differences, h = 1e-6 (see test_layers.c) */
#define FD_STEP 1e-6
#define GRAD_REL_TOL 1e-6
/* the fast NTK against explicit J J^T: same products summed in another order, ~1e-15 each */
#define NTK_REL_TOL 1e-12

static void fill(double *x, size_t n, uint64_t seed) {
  ntk_rng rng;
  ntk_rng_seed(&rng, seed);
  ntk_rng_fill_normal_buf(&rng, x, n, 0.0, 1.0);
}

static ntk_layer layer(ntk_layer_kind kind, int in0, int in1) {
  ntk_layer l;
  memset(&l, 0, sizeof l);
  l.kind = kind;
  l.in[0] = in0;
  l.in[1] = in1;
  l.sigma = 1.0;
  l.bias = 1;
  l.act = NTK_ACT_RELU;
  return l;
}

static ntk_layer conv(int in, size_t cout, size_t k, size_t stride, size_t pad) {
  ntk_layer l = layer(NTK_LAYER_CONV, in, -1);
  l.out = cout;
  l.kh = l.kw = k;
  l.stride = stride;
  l.pad = pad;
  return l;
}

/* input 6x6x2 -> conv 3 -> [relu conv(s2) relu conv] + 1x1 s2 projection -> relu -> pool ->
 * dense(C): a residual block whose shape changes, as in a Wide-ResNet group. */
static ntk_model *small_resnet(size_t C, ntk_layer_param param) {
  ntk_shape in = {6, 6, 2};
  ntk_net *net = NULL;
  ntk_model *m = NULL;
  ntk_layer l;
  ntk_error err;
  ntk_rng rng;
  int n0, a1, c1, a2, c2, p, s, out;
  CHECK(ntk_net_new(&net, in, &err) == NTK_OK);
  l = conv(0, 3, 3, 1, 1);
  l.param = param;
  CHECK(ntk_net_add(net, &l, &n0, &err) == NTK_OK);
  l = layer(NTK_LAYER_ACT, n0, -1);
  CHECK(ntk_net_add(net, &l, &a1, &err) == NTK_OK);
  l = conv(a1, 4, 3, 2, 1);
  l.param = param;
  CHECK(ntk_net_add(net, &l, &c1, &err) == NTK_OK);
  l = layer(NTK_LAYER_ACT, c1, -1);
  l.act = NTK_ACT_TANH;
  CHECK(ntk_net_add(net, &l, &a2, &err) == NTK_OK);
  l = conv(a2, 4, 3, 1, 1);
  l.param = param;
  CHECK(ntk_net_add(net, &l, &c2, &err) == NTK_OK);
  l = conv(a1, 4, 1, 2, 0);
  l.bias = 0;
  CHECK(ntk_net_add(net, &l, &p, &err) == NTK_OK);
  l = layer(NTK_LAYER_ADD, c2, p);
  CHECK(ntk_net_add(net, &l, &s, &err) == NTK_OK);
  l = layer(NTK_LAYER_ACT, s, -1);
  CHECK(ntk_net_add(net, &l, &s, &err) == NTK_OK);
  l = layer(NTK_LAYER_POOL, s, -1);
  CHECK(ntk_net_add(net, &l, &s, &err) == NTK_OK);
  l = layer(NTK_LAYER_DENSE, s, -1);
  l.out = C;
  l.param = param;
  CHECK(ntk_net_add(net, &l, &out, &err) == NTK_OK);
  ntk_rng_seed(&rng, 11);
  CHECK(ntk_net_init(net, &rng, 0.1, &err) == NTK_OK);
  CHECK(ntk_model_from_net(&m, net, &err) == NTK_OK);
  return m;
}

static void test_loss_grad(ntk_layer_param param) {
  ntk_model *m = small_resnet(2, param);
  const size_t P = 5, D = m->input_dim, C = m->output_dim;
  ntk_tensor X = {0}, Y = {0}, g = {0};
  ntk_error err;
  double loss, lp, lm, worst = 0.0;
  size_t i;
  CHECK(D == 72 && C == 2);
  CHECK(m->ngroups == 5);
  ntk_tensor_init_2d(&X, P, D, &err);
  ntk_tensor_init_2d(&Y, P, C, &err);
  ntk_tensor_init_1d(&g, m->nparams, &err);
  fill(ntk_tensor_data(&X), P * D, 1);
  fill(ntk_tensor_data(&Y), P * C, 2);
  CHECK(ntk_model_loss_grad(m, &g, &loss, &X, &Y, &err) == NTK_OK);
  for (i = 0; i < m->nparams; i++) {
    double v = m->params[i], fd, a = ntk_tensor_at(&g, i, 0);
    m->params[i] = v + FD_STEP;
    ntk_model_loss(m, &lp, &X, &Y, &err);
    m->params[i] = v - FD_STEP;
    ntk_model_loss(m, &lm, &X, &Y, &err);
    m->params[i] = v;
    fd = (lp - lm) / (2 * FD_STEP);
    worst = fmax(worst, fabs(a - fd) / fmax(1.0, fabs(fd)));
  }
  CHECK(worst <= GRAD_REL_TOL);
  ntk_tensor_release(&X);
  ntk_tensor_release(&Y);
  ntk_tensor_release(&g);
  ntk_model_free(m);
}

static double max_rel(const ntk_tensor *A, const ntk_tensor *B) {
  size_t i, n = ntk_tensor_numel(A);
  double scale = 0.0, d = 0.0;
  for (i = 0; i < n; i++) scale = fmax(scale, fabs(ntk_tensor_data(B)[i]));
  for (i = 0; i < n; i++) d = fmax(d, fabs(ntk_tensor_data(A)[i] - ntk_tensor_data(B)[i]));
  return d / (scale > 0 ? scale : 1.0);
}

static void test_ntk(size_t C) {
  ntk_model *m = small_resnet(C, NTK_LAYER_STANDARD);
  const size_t P1 = 7, P2 = 4, D = m->input_dim;
  ntk_kernel_output outs[] = {NTK_KERNEL_FULL, NTK_KERNEL_BLOCKS, NTK_KERNEL_TRACE,
                              NTK_KERNEL_MEAN};
  ntk_tensor X1 = {0}, X2 = {0}, K = {0}, R = {0}, S = {0}, L[8];
  ntk_model_kernel_opts opts;
  ntk_error err;
  double *eta;
  ntk_storage eta_s;
  ntk_tensor eta_t;
  size_t o, t, rows, cols, j, tiles[] = {0, 1, 3, 100};
  int g, cross;
  memset(L, 0, sizeof L);
  ntk_tensor_init_2d(&X1, P1, D, &err);
  ntk_tensor_init_2d(&X2, P2, D, &err);
  fill(ntk_tensor_data(&X1), P1 * D, 3);
  fill(ntk_tensor_data(&X2), P2 * D, 4);
  eta = malloc(m->nparams * sizeof *eta);
  for (j = 0; j < m->nparams; j++) eta[j] = 0.5 + (double)(j % 7) / 3.0;
  ntk_tensor_wrap(&eta_t, &eta_s, eta, m->nparams, 0);
  for (cross = 0; cross < 2; cross++)
    for (o = 0; o < 4; o++) {
      const ntk_tensor *x2 = cross ? &X2 : NULL;
      ntk_kernel_shape(&rows, &cols, outs[o], C, P1, cross ? P2 : P1);
      ntk_tensor_init_2d(&K, rows, cols, &err);
      ntk_tensor_init_2d(&R, rows, cols, &err);
      ntk_tensor_init_2d(&S, rows, cols, &err);
      for (g = 0; g < m->ngroups; g++) ntk_tensor_init_2d(&L[g], rows, cols, &err);
      CHECK(ntk_model_kernel_ntk_ref(&R, m, &X1, x2, outs[o], NULL, 0, &err) == NTK_OK);
      for (t = 0; t < 4; t++) {
        memset(&opts, 0, sizeof opts);
        opts.output = outs[o];
        opts.tile = tiles[t];
        CHECK(ntk_model_kernel_ntk(&K, L, m, &X1, x2, &opts, &err) == NTK_OK);
        CHECK(max_rel(&K, &R) <= NTK_REL_TOL);
        /* the per-layer split: each group against the twin restricted to it */
        for (g = 0; g < m->ngroups; g++) {
          CHECK(ntk_model_kernel_ntk_ref(&S, m, &X1, x2, outs[o], NULL, g + 1, &err) == NTK_OK);
          CHECK(max_rel(&L[g], &S) <= NTK_REL_TOL);
        }
        /* Adam's kernel, Eq. 91 */
        opts.eta = &eta_t;
        CHECK(ntk_model_kernel_ntk(&K, NULL, m, &X1, x2, &opts, &err) == NTK_OK);
        CHECK(ntk_model_kernel_ntk_ref(&S, m, &X1, x2, outs[o], &eta_t, 0, &err) == NTK_OK);
        CHECK(max_rel(&K, &S) <= NTK_REL_TOL);
      }
      ntk_tensor_release(&K);
      ntk_tensor_release(&R);
      ntk_tensor_release(&S);
      for (g = 0; g < m->ngroups; g++) ntk_tensor_release(&L[g]);
    }
  /* a strided X1 (a column-narrowed view) gives the kernel of its contiguous copy */
  {
    ntk_tensor wide = {0}, view = {0}, copy = {0};
    ntk_tensor_init_2d(&wide, P1, D + 3, &err);
    fill(ntk_tensor_data(&wide), P1 * (D + 3), 5);
    CHECK(ntk_tensor_narrow(&view, &wide, 1, 2, D, &err) == NTK_OK);
    CHECK(!ntk_tensor_is_contiguous(&view));
    ntk_tensor_init_copy(&copy, &view, &err);
    ntk_tensor_init_2d(&K, P1 * C, P1 * C, &err);
    ntk_tensor_init_2d(&R, P1 * C, P1 * C, &err);
    memset(&opts, 0, sizeof opts);
    opts.tile = 2;
    CHECK(ntk_model_kernel_ntk(&K, NULL, m, &view, NULL, &opts, &err) == NTK_OK);
    CHECK(ntk_model_kernel_ntk_ref(&R, m, &copy, NULL, NTK_KERNEL_FULL, NULL, 0, &err) == NTK_OK);
    CHECK(max_rel(&K, &R) <= NTK_REL_TOL);
    ntk_tensor_release(&wide);
    ntk_tensor_release(&view);
    ntk_tensor_release(&copy);
    ntk_tensor_release(&K);
    ntk_tensor_release(&R);
  }
  /* bad arguments */
  ntk_tensor_init_2d(&K, 3, 3, &err);
  memset(&opts, 0, sizeof opts);
  CHECK(ntk_model_kernel_ntk(&K, NULL, m, &X1, NULL, &opts, &err) == NTK_ESHAPE);
  CHECK(err.arg == 1 && strstr(err.msg, "kernel: contiguous") != NULL);
  eta[0] = -1.0;
  opts.eta = &eta_t;
  ntk_tensor_release(&K);
  ntk_tensor_init_2d(&K, P1 * C, P1 * C, &err);
  CHECK(ntk_model_kernel_ntk(&K, NULL, m, &X1, NULL, &opts, &err) == NTK_EARG);
  CHECK(strstr(err.msg, "eta: finite values >= 0 expected") != NULL);
  ntk_tensor_release(&K);
  free(eta);
  ntk_tensor_release(&X1);
  ntk_tensor_release(&X2);
  ntk_model_free(m);
}

static void test_jacobian_tiles(void) {
  ntk_model *m = small_resnet(3, NTK_LAYER_NTK);
  const size_t P = 5, D = m->input_dim, C = 3;
  ntk_tensor X = {0}, J = {0}, T = {0};
  ntk_error err;
  ntk_tensor_init_2d(&X, P, D, &err);
  fill(ntk_tensor_data(&X), P * D, 8);
  ntk_tensor_init_2d(&J, P * C, m->nparams, &err);
  ntk_tensor_init_2d(&T, P * C, m->nparams, &err);
  CHECK(ntk_model_jacobian(m, &J, &X, 0, &err) == NTK_OK);
  CHECK(ntk_model_jacobian(m, &T, &X, 2, &err) == NTK_OK);
  CHECK(max_rel(&J, &T) <= NTK_REL_TOL); /* tiles change the forward GEMMs' blocking only */
  ntk_tensor_release(&X);
  ntk_tensor_release(&J);
  ntk_tensor_release(&T);
  ntk_model_free(m);
}

/* The MLP behind the interface: its fast structured NTK (the model's ntk entry), the generic
 * tiled path on the same model, and the MLP's own explicit reference agree; so do the gradients. */
static void test_mlp_model(void) {
  size_t widths[4] = {5, 6, 4, 2}, P = 6, rows, cols, o;
  ntk_activation act[3] = {NTK_ACT_TANH, NTK_ACT_RELU, NTK_ACT_LINEAR};
  double sigma[3] = {1.0, 1.0, 1.0};
  ntk_mlp_config cfg = {3, widths, act, 1, NTK_PARAM_NTK, sigma, 0.3, NTK_INIT_GAUSSIAN};
  ntk_kernel_output outs[] = {NTK_KERNEL_FULL, NTK_KERNEL_BLOCKS, NTK_KERNEL_TRACE};
  ntk_mlp *net = NULL;
  ntk_model *m = NULL;
  ntk_rng rng;
  ntk_error err;
  ntk_tensor X = {0}, Y = {0}, g = {0}, K = {0}, G = {0}, R = {0}, L[3];
  ntk_model_kernel_opts opts;
  double loss, loss2, *g2;
  int l;
  memset(L, 0, sizeof L);
  ntk_rng_seed(&rng, 5);
  CHECK(ntk_mlp_new(&net, &cfg, &rng, &err) == NTK_OK);
  CHECK(ntk_model_from_mlp(&m, net, 0, &err) == NTK_OK);
  CHECK(m->ngroups == 3 && m->nparams == net->nparams);
  ntk_tensor_init_2d(&X, P, 5, &err);
  ntk_tensor_init_2d(&Y, P, 2, &err);
  ntk_tensor_init_1d(&g, m->nparams, &err);
  fill(ntk_tensor_data(&X), P * 5, 12);
  fill(ntk_tensor_data(&Y), P * 2, 13);
  g2 = malloc(m->nparams * sizeof *g2);
  CHECK(ntk_model_loss_grad(m, &g, &loss, &X, &Y, &err) == NTK_OK);
  CHECK(ntk_mlp_loss_grad(net, g2, &loss2, &X, &Y, &err) == NTK_OK);
  /* the same sums; the residual is scaled by 1/P (model) or *(1/P) (MLP): rounding apart */
  CHECK(fabs(loss - loss2) <= NTK_REL_TOL * loss);
  for (o = 0; o < m->nparams; o++) CHECK_NEAR(ntk_tensor_data(&g)[o], g2[o], NTK_REL_TOL);
  for (o = 0; o < 3; o++) {
    ntk_kernel_shape(&rows, &cols, outs[o], 2, P, P);
    ntk_tensor_init_2d(&K, rows, cols, &err);
    ntk_tensor_init_2d(&G, rows, cols, &err);
    ntk_tensor_init_2d(&R, rows, cols, &err);
    for (l = 0; l < 3; l++) ntk_tensor_init_2d(&L[l], rows, cols, &err);
    memset(&opts, 0, sizeof opts);
    opts.output = outs[o];
    CHECK(ntk_model_kernel_ntk(&K, L, m, &X, NULL, &opts, &err) == NTK_OK); /* fast */
    opts.generic = 1;
    opts.tile = 4;
    CHECK(ntk_model_kernel_ntk(&G, NULL, m, &X, NULL, &opts, &err) == NTK_OK);
    CHECK(ntk_kernel_ntk_ref(ntk_tensor_data(&R), net, &X, NULL, outs[o], NULL, 0, &err) == NTK_OK);
    CHECK(max_rel(&K, &R) <= NTK_REL_TOL);
    CHECK(max_rel(&G, &R) <= NTK_REL_TOL);
    for (l = 0; l < 3; l++) {
      CHECK(ntk_kernel_ntk_ref(ntk_tensor_data(&R), net, &X, NULL, outs[o], NULL, l + 1, &err) == NTK_OK);
      CHECK(max_rel(&L[l], &R) <= NTK_REL_TOL);
      ntk_tensor_release(&L[l]);
    }
    ntk_tensor_release(&K);
    ntk_tensor_release(&G);
    ntk_tensor_release(&R);
  }
  free(g2);
  ntk_tensor_release(&X);
  ntk_tensor_release(&Y);
  ntk_tensor_release(&g);
  ntk_model_free(m);
  ntk_mlp_free(net);
}

int main(void) {
  test_mlp_model();
  test_loss_grad(NTK_LAYER_STANDARD);
  test_loss_grad(NTK_LAYER_NTK);
  test_ntk(1);
  test_ntk(2);
  test_jacobian_tiles();
  TEST_MAIN_END();
}
