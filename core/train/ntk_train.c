/* ntk_train.c: gradient descent, gradient flow (RK4, Dormand-Prince 5(4)), SGD and Adam.
 *
 * Longer than 600 lines on purpose: the five methods are one trainer, sharing its bound shape and
 * buffers, the divergence checks (loss, parameters, growth past max_loss_ratio, steps past the
 * run) and the step bookkeeping (t, steps, evals) written once at the top; split by method, each
 * file would need all of that through a private header. */
#include "ntk_train.h"

#include <cblas.h> /* not ntk_blas: axpy and scal on the flat parameter and optimizer vectors */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[] = {"gd", "rk4", "rk45", "sgd", "adam"};

const char *ntk_train_method_name(ntk_train_method m) {
  return (m >= NTK_TRAIN_GD && m <= NTK_TRAIN_ADAM) ? method_names[m] : "?";
}

void ntk_train_config_default(ntk_train_config *cfg, ntk_train_method method) {
  memset(cfg, 0, sizeof *cfg);
  cfg->method = method;
  cfg->lr = method == NTK_TRAIN_ADAM ? 1e-3 : 1e-2;
  cfg->dt = 1e-2;
  cfg->rtol = 1e-6;
  cfg->atol = 1e-9;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->eps = 1e-8;
  cfg->max_loss_ratio = NTK_TRAIN_MAX_LOSS_RATIO;
}

char *ntk_train_describe(const ntk_trainer *tr, char *buf, size_t len) {
  const ntk_train_config *c = &tr->cfg;
  switch (c->method) {
    case NTK_TRAIN_GD:
      snprintf(buf, len, "gd{lr = %g}", c->lr);
      break;
    case NTK_TRAIN_RK4:
      snprintf(buf, len, "flow{method = \"rk4\", dt = %g}", c->dt);
      break;
    case NTK_TRAIN_RK45:
      snprintf(buf, len, "flow{method = \"rk45\", rtol = %g, atol = %g}", c->rtol, c->atol);
      break;
    case NTK_TRAIN_SGD:
      snprintf(buf, len, "sgd{lr = %g, batch = %zu, momentum = %g, seed = %llu}", c->lr, c->batch,
               c->momentum, (unsigned long long)c->seed);
      break;
    case NTK_TRAIN_ADAM:
      snprintf(buf, len, "adam{lr = %g, beta1 = %g, beta2 = %g, eps = %g}", c->lr, c->beta1,
               c->beta2, c->eps);
      break;
    default:
      snprintf(buf, len, "?");
      break;
  }
  return buf;
}

static int positive(double x) {
  return x > 0.0 && isfinite(x);
}

int ntk_train_init(ntk_trainer *tr, const ntk_train_config *cfg, ntk_error *err) {
  const ntk_train_config *c = cfg;
  memset(tr, 0, sizeof *tr);
  switch (c->method) {
    case NTK_TRAIN_GD:
    case NTK_TRAIN_SGD:
    case NTK_TRAIN_ADAM:
      if (!positive(c->lr))
        return ntk_error_set(err, NTK_EARG, 1, "lr > 0 expected, got %g", c->lr);
      break;
    case NTK_TRAIN_RK4:
      if (!positive(c->dt))
        return ntk_error_set(err, NTK_EARG, 1, "dt > 0 expected, got %g", c->dt);
      break;
    case NTK_TRAIN_RK45:
      if (!positive(c->rtol))
        return ntk_error_set(err, NTK_EARG, 1, "rtol > 0 expected, got %g", c->rtol);
      /* a parameter at 0 (a fresh bias) has no relative scale: atol = 0 would divide 0 by 0 */
      if (!positive(c->atol))
        return ntk_error_set(err, NTK_EARG, 1, "atol > 0 expected, got %g", c->atol);
      if (!(c->h0 >= 0.0) || !isfinite(c->h0))
        return ntk_error_set(err, NTK_EARG, 1, "h0 >= 0 expected, got %g", c->h0);
      break;
    default:
      return ntk_error_set(err, NTK_EARG, 1, "invalid method %d", (int)c->method);
  }
  if (c->method == NTK_TRAIN_SGD && !(c->momentum >= 0.0 && c->momentum < 1.0))
    return ntk_error_set(err, NTK_EARG, 1, "momentum in [0, 1) expected, got %g", c->momentum);
  if (c->method == NTK_TRAIN_ADAM) {
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0))
      return ntk_error_set(err, NTK_EARG, 1, "beta1 in [0, 1) expected, got %g", c->beta1);
    if (!(c->beta2 >= 0.0 && c->beta2 < 1.0))
      return ntk_error_set(err, NTK_EARG, 1, "beta2 in [0, 1) expected, got %g", c->beta2);
    if (!positive(c->eps))
      return ntk_error_set(err, NTK_EARG, 1, "eps > 0 expected, got %g", c->eps);
  }
  if (!(c->max_loss_ratio > 1.0))
    return ntk_error_set(err, NTK_EARG, 1,
                         "max_loss_ratio > 1 expected (INFINITY: no bound), got %g",
                         c->max_loss_ratio);
  tr->cfg = *c;
  tr->loss0 = NAN;
  ntk_rng_seed(&tr->rng, c->seed);
  return NTK_OK;
}

void ntk_train_release(ntk_trainer *tr) {
  int i;
  free(tr->grad);
  free(tr->y0);
  for (i = 0; i < 7; i++) free(tr->k[i]);
  free(tr->m);
  free(tr->v);
  free(tr->vel);
  free(tr->perm);
  free(tr->Xb);
  free(tr->Yb);
  tr->grad = tr->y0 = tr->m = tr->v = tr->vel = tr->Xb = tr->Yb = NULL;
  for (i = 0; i < 7; i++) tr->k[i] = NULL;
  tr->perm = NULL;
  tr->n = tr->xb_cap = tr->yb_cap = tr->perm_n = tr->perm_pos = 0;
  tr->bound = 0;
  tr->fsal = 0;
}

void ntk_train_reset(ntk_trainer *tr) {
  ntk_train_config cfg = tr->cfg;
  ntk_train_release(tr);
  ntk_train_init(tr, &cfg, NULL);
}

void ntk_train_invalidate(ntk_trainer *tr) {
  tr->fsal = 0;
}

/* NTK_OK when m has the shape tr is bound to (or tr is unbound); NTK_ESHAPE otherwise. The shape
 * is the model's own description (an MLP: its widths and whether it has biases). */
static int check_shape(const ntk_trainer *tr, const ntk_model *m, ntk_error *err) {
  if (!tr->bound) return NTK_OK;
  if (strcmp(tr->shape, m->shape) == 0 && strcmp(tr->shape_noun, m->shape_noun) == 0) {
    if (strcmp(tr->variant, m->variant) == 0 && tr->nparams_bound == m->nparams) return NTK_OK;
    return ntk_error_set(err, NTK_ESHAPE, 2,
                         "trainer bound to a net of %s %s %s, got %s %s (reset() rebinds it)",
                         tr->shape_noun, tr->shape, tr->variant, m->shape, m->variant);
  }
  if (strcmp(tr->shape_noun, m->shape_noun) != 0)
    return ntk_error_set(err, NTK_ESHAPE, 2,
                         "trainer bound to a net of %s %s, got one of %s %s (reset() rebinds it)",
                         tr->shape_noun, tr->shape, m->shape_noun, m->shape);
  return ntk_error_set(err, NTK_ESHAPE, 2,
                       "trainer bound to a net of %s %s, got %s (reset() rebinds it)",
                       tr->shape_noun, tr->shape, m->shape);
}

/* Binds tr to net's shape on the first step: allocates (zeroed) the vectors the method needs
 * for its n parameters. Later steps only check the shape. */
static int ensure_buffers(ntk_trainer *tr, const ntk_model *model, ntk_error *err) {
  size_t n = model->nparams;
  int i, nk = 0, ok = 1;
  ntk_train_method m = tr->cfg.method;
  if (tr->bound) return check_shape(tr, model, err);
  if (m == NTK_TRAIN_RK4) nk = 4;
  if (m == NTK_TRAIN_RK45) nk = 7;
  if (nk) {
    tr->y0 = calloc(n, sizeof(double));
    ok = ok && tr->y0;
    for (i = 0; i < nk; i++) {
      tr->k[i] = calloc(n, sizeof(double));
      ok = ok && tr->k[i];
    }
  } else {
    tr->grad = calloc(n, sizeof(double));
    ok = ok && tr->grad;
  }
  if (m == NTK_TRAIN_ADAM) {
    tr->m = calloc(n, sizeof(double));
    tr->v = calloc(n, sizeof(double));
    ok = ok && tr->m && tr->v;
  }
  if (m == NTK_TRAIN_SGD && tr->cfg.momentum > 0.0) {
    tr->vel = calloc(n, sizeof(double));
    ok = ok && tr->vel;
  }
  tr->n = n;
  if (!ok) {
    ntk_train_release(tr);
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for %zu parameters", n);
  }
  tr->bound = 1;
  tr->nparams_bound = n;
  tr->shape_noun = model->shape_noun;
  tr->variant = model->variant;
  memcpy(tr->shape, model->shape, sizeof tr->shape);
  return NTK_OK;
}

static int nonfinite(ntk_trainer *tr, const char *what, double value, ntk_error *err) {
  char desc[200];
  return ntk_error_set(err, NTK_ENONFINITE, 0, "non-finite %s (%g) at step %zu, t = %.17g, in %s",
                       what, value, tr->steps + 1, tr->t,
                       ntk_train_describe(tr, desc, sizeof desc));
}

/* The loss at the point where step steps + 1 starts: finite, and within max_loss_ratio of the
 * initial loss. */
static int check_loss(ntk_trainer *tr, double loss, ntk_error *err) {
  char desc[200];
  if (!isfinite(loss)) return nonfinite(tr, "loss", loss, err);
  /* the first loss checked is the full-data loss at the start (see needs_initial_loss) */
  if (isnan(tr->loss0)) tr->loss0 = loss;
  if (tr->loss0 > 0.0 && loss > tr->cfg.max_loss_ratio * tr->loss0)
    return ntk_error_set(err, NTK_ENOCONV, 0,
                         "diverged at step %zu, t = %.17g: loss %g exceeds %g x the initial loss "
                         "%g, in %s",
                         tr->steps + 1, tr->t, loss, tr->cfg.max_loss_ratio, tr->loss0,
                         ntk_train_describe(tr, desc, sizeof desc));
  return NTK_OK;
}

/* The model's loss (and gradient, g not NULL) on P contiguous rows X, Y: the trainers keep row
 * buffers (the caller's data made contiguous once per call, or a minibatch copy) and lend them to
 * the model as tensors, without copying. */
static int rows_loss(ntk_model *net, double *g, double *loss, const double *X, const double *Y,
                     size_t P, ntk_error *err) {
  ntk_storage xs, ys, gs;
  ntk_tensor x, y, gt;
  ntk_tensor_wrap(&x, &xs, X, P, net->input_dim);
  ntk_tensor_wrap(&y, &ys, Y, P, net->output_dim);
  if (g) ntk_tensor_wrap(&gt, &gs, g, net->nparams, 0);
  return ntk_model_loss_grad(net, g ? &gt : NULL, loss, &x, &y, err);
}

/* Whether the first step needs a forward pass of its own for tr->loss0. A full-batch step
 * (gd, adam, rk4, rk45, sgd without minibatches) starts with the full-data gradient at the
 * current parameters, whose loss is loss0 (check_loss records it): a separate pass would cost a
 * fresh trainer a third more on its first gd step. A minibatch's loss could be far from the
 * full-data one and would make a poor yardstick. */
static int needs_initial_loss(const ntk_trainer *tr, size_t P) {
  return isnan(tr->loss0) && tr->cfg.method == NTK_TRAIN_SGD && tr->cfg.batch > 0 &&
         tr->cfg.batch < P;
}

/* tr->loss0 <- the full-data loss before the first step. One forward pass, once. */
static int initial_loss(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                        ntk_error *err) {
  double loss;
  int st;
  if (!isnan(tr->loss0)) return NTK_OK;
  if ((st = rows_loss(net, NULL, &loss, X, Y, P, err)) != NTK_OK) return st;
  if (!isfinite(loss)) return nonfinite(tr, "loss", loss, err);
  tr->loss0 = loss;
  return NTK_OK;
}

/* g <- grad L at the net's current parameters, counting the evaluation; checks the loss. */
static int eval(ntk_trainer *tr, ntk_model *net, double *g, double *loss, const double *X,
                const double *Y, size_t P, ntk_error *err) {
  int st = rows_loss(net, g, loss, X, Y, P, err);
  if (st != NTK_OK) return st;
  tr->evals++;
  if (!isfinite(*loss)) return nonfinite(tr, "loss", *loss, err);
  return NTK_OK;
}

static int check_params(ntk_trainer *tr, const ntk_model *net, ntk_error *err) {
  if (!ntk_model_params_finite(net)) return nonfinite(tr, "parameters", NAN, err);
  return NTK_OK;
}

/* The step actually taken toward t_max: h, or what is left when that is (about) h or less.
 * *clipped <- 1 when the step lands on t_max. */
static double clip_step(double t, double h, double t_max, int *clipped) {
  *clipped = 0;
  if (isfinite(t_max) && t_max - t <= h * (1.0 + 1e-10)) {
    *clipped = 1;
    return t_max - t;
  }
  return h;
}

static int step_gd(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                   ntk_error *err) {
  int st = eval(tr, net, tr->grad, &tr->loss, X, Y, P, err);
  if (st != NTK_OK || (st = check_loss(tr, tr->loss, err)) != NTK_OK) return st;
  cblas_daxpy((int)tr->n, -tr->cfg.lr, tr->grad, 1, net->params, 1);
  return NTK_OK;
}

static int step_rk4(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                    double t_max, ntk_error *err) {
  size_t n = tr->n, i;
  int clipped, st;
  double h = clip_step(tr->t, tr->cfg.dt, t_max, &clipped), loss;
  double *y = net->params, *y0 = tr->y0, **k = tr->k;
  static const double c[3] = {0.5, 0.5, 1.0};
  int s;
  memcpy(y0, y, n * sizeof *y);
  if ((st = eval(tr, net, k[0], &tr->loss, X, Y, P, err)) != NTK_OK) return st;
  if ((st = check_loss(tr, tr->loss, err)) != NTK_OK) return st;
  for (s = 0; s < 3; s++) {
    double a = -h * c[s];
    for (i = 0; i < n; i++) y[i] = y0[i] + a * k[s][i];
    if ((st = eval(tr, net, k[s + 1], &loss, X, Y, P, err)) != NTK_OK) return st;
  }
  for (i = 0; i < n; i++)
    y[i] = y0[i] - (h / 6.0) * (k[0][i] + 2.0 * k[1][i] + 2.0 * k[2][i] + k[3][i]);
  tr->t = clipped ? t_max : tr->t + h;
  return NTK_OK;
}

/* Dormand-Prince 5(4) tableau (Hairer, Norsett, Wanner, Solving ODEs I, Table 5.2). */
static const double dp_a[7][6] = {
    {0, 0, 0, 0, 0, 0},
    {1.0 / 5, 0, 0, 0, 0, 0},
    {3.0 / 40, 9.0 / 40, 0, 0, 0, 0},
    {44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0, 0},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0, 0},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656, 0},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
/* b5 - b4: the embedded error estimate */
static const double dp_e[7] = {71.0 / 57600,      0,          -71.0 / 16695, 71.0 / 1920,
                               -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

/* Root mean square of v / (atol + rtol max(|y0|, |y1|)) (y1 may be NULL). */
static double scaled_rms(const double *v, const double *y0, const double *y1, size_t n, double rtol,
                         double atol) {
  double acc = 0.0;
  size_t i;
  for (i = 0; i < n; i++) {
    double a = fabs(y0[i]), sc, q;
    if (y1 && fabs(y1[i]) > a) a = fabs(y1[i]);
    sc = atol + rtol * a;
    q = v[i] / sc;
    acc += q * q;
  }
  return n ? sqrt(acc / (double)n) : 0.0;
}

/* Hairer's starting step (Solving ODEs I, II.4): one extra gradient evaluation. k[0] holds the
 * gradient at y0 = the net's parameters; k[1] is scratch. */
static int initial_step(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                        double *h_out, ntk_error *err) {
  size_t n = tr->n, i;
  double *y = net->params, *y0 = tr->y0, *f0 = tr->k[0], *f1 = tr->k[1];
  double rtol = tr->cfg.rtol, atol = tr->cfg.atol, d0, d1, d2, h0, h1, loss, dmax;
  int st;
  memcpy(y0, y, n * sizeof *y);
  d0 = scaled_rms(y0, y0, NULL, n, rtol, atol);
  d1 = scaled_rms(f0, y0, NULL, n, rtol, atol);
  h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  for (i = 0; i < n; i++) y[i] = y0[i] - h0 * f0[i];
  if ((st = eval(tr, net, f1, &loss, X, Y, P, err)) != NTK_OK) return st;
  for (i = 0; i < n; i++) f1[i] -= f0[i];
  d2 = scaled_rms(f1, y0, NULL, n, rtol, atol) / h0;
  memcpy(y, y0, n * sizeof *y);
  dmax = d1 > d2 ? d1 : d2;
  h1 = dmax <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / dmax, 0.2);
  *h_out = fmin(100.0 * h0, h1);
  return NTK_OK;
}

static int step_rk45(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                     double t_max, ntk_error *err) {
  size_t n = tr->n, i;
  double *y = net->params, *y0 = tr->y0, **k = tr->k, loss = 0.0;
  int st, s, j;
  if (!tr->fsal) {
    if ((st = eval(tr, net, k[0], &tr->loss_end, X, Y, P, err)) != NTK_OK) return st;
    tr->fsal = 1;
  }
  tr->loss = tr->loss_end;
  if ((st = check_loss(tr, tr->loss, err)) != NTK_OK) return st;
  if (tr->h <= 0.0) {
    if (tr->cfg.h0 > 0.0)
      tr->h = tr->cfg.h0;
    else if ((st = initial_step(tr, net, X, Y, P, &tr->h, err)) != NTK_OK)
      return st;
  }
  memcpy(y0, y, n * sizeof *y);
  for (;;) {
    int clipped;
    double h = clip_step(tr->t, tr->h, t_max, &clipped), e, factor;
    for (s = 1; s < 7; s++) {
      for (i = 0; i < n; i++) {
        double acc = 0.0;
        for (j = 0; j < s; j++) acc += dp_a[s][j] * k[j][i];
        y[i] = y0[i] - h * acc;
      }
      if ((st = eval(tr, net, k[s], &loss, X, Y, P, err)) != NTK_OK) {
        /* a non-finite trial point of a too-long step is not yet a failure: shrink and retry */
        if (st != NTK_ENONFINITE || h < 1e-300) return st;
        break;
      }
    }
    if (s < 7) {
      e = INFINITY;
    } else {
      /* local error h sum_j e_j k_j, scaled per component as Hairer's RMS norm */
      double acc = 0.0;
      for (i = 0; i < n; i++) {
        double ev = 0.0, a, sc, q;
        for (j = 0; j < 7; j++) ev += dp_e[j] * k[j][i];
        ev *= h;
        a = fabs(y0[i]) > fabs(y[i]) ? fabs(y0[i]) : fabs(y[i]);
        sc = tr->cfg.atol + tr->cfg.rtol * a;
        q = ev / sc;
        acc += q * q;
      }
      e = n ? sqrt(acc / (double)n) : 0.0;
    }
    if (e <= 1.0) {
      double *tmp;
      factor = e == 0.0 ? 5.0 : fmin(5.0, fmax(0.2, 0.9 * pow(e, -0.2)));
      tr->t = clipped ? t_max : tr->t + h;
      /* a clipped step says little about the step size the dynamics allow: keep the larger */
      tr->h = clipped ? fmax(tr->h, h * factor) : h * factor;
      tmp = k[0];
      k[0] = k[6];
      k[6] = tmp;
      tr->loss_end = loss;
      return NTK_OK;
    }
    factor = isfinite(e) ? fmax(0.2, 0.9 * pow(e, -0.2)) : 0.2;
    tr->h = h * factor;
    tr->rejected++;
    memcpy(y, y0, n * sizeof *y);
    if (tr->h <= 1e-14 * fmax(fabs(tr->t), 1e-300) || tr->h < 1e-300) {
      char desc[200];
      return ntk_error_set(err, NTK_ENOCONV, 0,
                           "step size underflow (h = %g) at step %zu, t = %.17g, in %s", tr->h,
                           tr->steps + 1, tr->t, ntk_train_describe(tr, desc, sizeof desc));
    }
  }
}

/* Grows *buf to hold n doubles (*cap: its capacity). */
static int reserve(double **buf, size_t *cap, size_t n, ntk_error *err) {
  double *grown;
  if (n <= *cap) return NTK_OK;
  grown = realloc(*buf, n * sizeof *grown);
  if (!grown)
    return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu-double minibatch", n);
  *buf = grown;
  *cap = n;
  return NTK_OK;
}

/* Copies the X/Y rows of the next minibatch into tr->Xb, tr->Yb (drop-last epochs of a fresh
 * permutation each). Every buffer is sized from what this call needs (rows x the net's widths),
 * never from what an earlier call needed. */
static int next_batch(ntk_trainer *tr, const ntk_model *net, const double *X, const double *Y,
                      size_t P, ntk_error *err) {
  size_t B = tr->cfg.batch, D = net->input_dim, C = net->output_dim, i;
  int st;
  if (tr->perm_n != P) {
    size_t *perm = realloc(tr->perm, P * sizeof *perm);
    if (!perm)
      return ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu-row permutation", P);
    tr->perm = perm;
    tr->perm_n = P;
    tr->perm_pos = P; /* forces a fresh permutation */
  }
  if ((st = reserve(&tr->Xb, &tr->xb_cap, B * D, err)) != NTK_OK) return st;
  if ((st = reserve(&tr->Yb, &tr->yb_cap, B * C, err)) != NTK_OK) return st;
  if (tr->perm_pos + B > P) {
    ntk_rng_permutation(&tr->rng, tr->perm, P);
    tr->perm_pos = 0;
  }
  for (i = 0; i < B; i++) {
    size_t r = tr->perm[tr->perm_pos + i];
    memcpy(tr->Xb + i * D, X + r * D, D * sizeof *X);
    memcpy(tr->Yb + i * C, Y + r * C, C * sizeof *Y);
  }
  tr->perm_pos += B;
  return NTK_OK;
}

static int step_sgd(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                    ntk_error *err) {
  size_t B = tr->cfg.batch;
  int st;
  if (B > 0 && B < P) {
    if ((st = next_batch(tr, net, X, Y, P, err)) != NTK_OK) return st;
    X = tr->Xb;
    Y = tr->Yb;
    P = B;
  }
  if ((st = eval(tr, net, tr->grad, &tr->loss, X, Y, P, err)) != NTK_OK) return st;
  /* a minibatch loss is at most P/B times the full one: far below the bound's 1e6 for sane data */
  if ((st = check_loss(tr, tr->loss, err)) != NTK_OK) return st;
  if (tr->vel) {
    /* heavy ball as PyTorch: v <- mu v + g, theta <- theta - lr v */
    cblas_dscal((int)tr->n, tr->cfg.momentum, tr->vel, 1);
    cblas_daxpy((int)tr->n, 1.0, tr->grad, 1, tr->vel, 1);
    cblas_daxpy((int)tr->n, -tr->cfg.lr, tr->vel, 1, net->params, 1);
  } else {
    cblas_daxpy((int)tr->n, -tr->cfg.lr, tr->grad, 1, net->params, 1);
  }
  return NTK_OK;
}

static int step_adam(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                     ntk_error *err) {
  const ntk_train_config *c = &tr->cfg;
  double k = (double)(tr->steps + 1);
  double bc1 = 1.0 - pow(c->beta1, k), bc2 = 1.0 - pow(c->beta2, k);
  double *m = tr->m, *v = tr->v, *g = tr->grad, *th = net->params;
  size_t i;
  int st = eval(tr, net, g, &tr->loss, X, Y, P, err);
  if (st != NTK_OK || (st = check_loss(tr, tr->loss, err)) != NTK_OK) return st;
  for (i = 0; i < tr->n; i++) {
    double mhat, vhat;
    m[i] = c->beta1 * m[i] + (1.0 - c->beta1) * g[i];
    v[i] = c->beta2 * v[i] + (1.0 - c->beta2) * g[i] * g[i];
    mhat = m[i] / bc1;
    vhat = v[i] / bc2;
    th[i] -= c->lr * mhat / (sqrt(vhat) + c->eps);
  }
  return NTK_OK;
}

static int step_rows(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                     double t_max, ntk_error *err) {
  int st;
  if ((st = ensure_buffers(tr, net, err)) != NTK_OK) return st;
  if (needs_initial_loss(tr, P) && (st = initial_loss(tr, net, X, Y, P, err)) != NTK_OK)
    return st;
  switch (tr->cfg.method) {
    case NTK_TRAIN_GD:
      st = step_gd(tr, net, X, Y, P, err);
      break;
    case NTK_TRAIN_RK4:
      st = step_rk4(tr, net, X, Y, P, t_max, err);
      break;
    case NTK_TRAIN_RK45:
      st = step_rk45(tr, net, X, Y, P, t_max, err);
      break;
    case NTK_TRAIN_SGD:
      st = step_sgd(tr, net, X, Y, P, err);
      break;
    case NTK_TRAIN_ADAM:
      st = step_adam(tr, net, X, Y, P, err);
      break;
    default:
      st = ntk_error_set(err, NTK_EARG, 1, "invalid method");
  }
  if (st != NTK_OK) return st;
  if ((st = check_params(tr, net, err)) != NTK_OK) return st;
  tr->steps++;
  if (tr->cfg.method != NTK_TRAIN_RK4 && tr->cfg.method != NTK_TRAIN_RK45)
    tr->t = tr->cfg.lr * (double)tr->steps; /* not accumulated: t = lr * steps exactly */
  return NTK_OK;
}

static int is_flow(const ntk_trainer *tr) {
  return tr->cfg.method == NTK_TRAIN_RK4 || tr->cfg.method == NTK_TRAIN_RK45;
}

int ntk_train_reached(const ntk_trainer *tr, double t) {
  /* discrete methods stop at the first step with t >= t_end; the slack absorbs the rounding of
   * lr * steps (0.1 * 3 < 0.3) and of times summed in the caller, and is far below one step
   * whatever lr is (a slack of 1e-9 lr would swallow whole targets when lr is huge) */
  double slack = is_flow(tr) ? 0.0 : 1e-9 * fmin(tr->cfg.lr, fabs(t));
  return !(t - tr->t > slack);
}

static int run_rows(ntk_trainer *tr, ntk_model *net, const double *X, const double *Y, size_t P,
                    double t_end, size_t max_steps, ntk_error *err) {
  int st;
  if (tr->cfg.method != NTK_TRAIN_RK45 && isfinite(t_end) &&
      max_steps - tr->steps > NTK_TRAIN_MAX_STEPS) {
    double h = tr->cfg.method == NTK_TRAIN_RK4 ? tr->cfg.dt : tr->cfg.lr;
    double need = (t_end - tr->t) / h;
    if (need > (double)NTK_TRAIN_MAX_STEPS)
      return ntk_error_set(err, NTK_EARG, 0,
                           "t = %g is %g steps of %g away, more than the 2^53 a run may take",
                           t_end, need, h);
  }
  while (tr->steps < max_steps && !ntk_train_reached(tr, t_end)) {
    if ((st = step_rows(tr, net, X, Y, P, t_end, err)) != NTK_OK) return st;
  }
  if (!(tr->cfg.method == NTK_TRAIN_RK45 && tr->fsal)) {
    if ((st = rows_loss(net, NULL, &tr->loss_end, X, Y, P, err)) != NTK_OK) return st;
  }
  /* no step taken yet: the end point is the start, and check_loss records it as loss0 */
  return check_loss(tr, tr->loss_end, err);
}

int ntk_train_check_end(const ntk_trainer *tr, double t_final, ntk_error *err) {
  char desc[200];
  double slack = 1e-9 * fmin(tr->cfg.lr, fabs(t_final));
  if (is_flow(tr) || !(tr->t - t_final > slack) || !(tr->cfg.lr > t_final)) return NTK_OK;
  return ntk_error_set(err, NTK_ENOCONV, 0,
                       "step %zu overshoots the requested end time %.17g: t = %.17g (one step is "
                       "longer than the whole run), loss %g, in %s",
                       tr->steps, t_final, tr->t, tr->loss_end,
                       ntk_train_describe(tr, desc, sizeof desc));
}

int ntk_train_effective_lr(double *out, const ntk_trainer *tr, size_t n, ntk_error *err) {
  const ntk_train_config *c = &tr->cfg;
  size_t i;
  if (tr->n != 0 && n != tr->n)
    return ntk_error_set(err, NTK_ESHAPE, 1,
                         "%zu entries expected (the trainer's parameters), got %zu", tr->n, n);
  if (c->method == NTK_TRAIN_ADAM && tr->v && tr->steps > 0) {
    double bc2 = 1.0 - pow(c->beta2, (double)tr->steps);
    for (i = 0; i < n; i++) out[i] = c->lr / (sqrt(tr->v[i] / bc2) + c->eps);
  } else {
    double eta = c->method == NTK_TRAIN_ADAM                                   ? c->lr / c->eps
                 : (c->method == NTK_TRAIN_RK4 || c->method == NTK_TRAIN_RK45) ? 1.0
                                                                               : c->lr;
    for (i = 0; i < n; i++) out[i] = eta;
  }
  return NTK_OK;
}

int ntk_train_check_data(const ntk_model *net, const ntk_tensor *X, const ntk_tensor *Y, int xarg,
                         int yarg, ntk_error *err) {
  int st;
  if ((st = ntk_tensor_check_rows(X, net->input_dim, 0, "", xarg, err)) != NTK_OK) return st;
  if ((st = ntk_tensor_check_rows(Y, net->output_dim, 0, "", yarg, err)) != NTK_OK) return st;
  if (Y->shape[0] != X->shape[0])
    return ntk_error_set(err, NTK_ESHAPE, yarg, "%zu rows expected (as X), got %zu", X->shape[0],
                         Y->shape[0]);
  return NTK_OK;
}

/* x, y <- the contiguous data of the checked X (argument 3) and Y (argument 4), once per call:
 * the step loop then reads them in place. */
static int train_batch(ntk_tensor *x, ntk_tensor *y, const ntk_model *net, const ntk_tensor *X,
                       const ntk_tensor *Y, ntk_error *err) {
  int st = ntk_train_check_data(net, X, Y, 3, 4, err);
  return st != NTK_OK ? st : ntk_tensor_contiguous_pair(x, X, y, Y, err);
}

int ntk_train_step(ntk_trainer *tr, ntk_model *net, const ntk_tensor *X, const ntk_tensor *Y,
                   double t_max, ntk_error *err) {
  ntk_tensor x = {0}, y = {0};
  int st = train_batch(&x, &y, net, X, Y, err);
  if (st == NTK_OK)
    st = step_rows(tr, net, ntk_tensor_data(&x), ntk_tensor_data(&y), x.shape[0], t_max, err);
  ntk_tensor_release(&x);
  ntk_tensor_release(&y);
  return st;
}

int ntk_train_run(ntk_trainer *tr, ntk_model *net, const ntk_tensor *X, const ntk_tensor *Y,
                  double t_end, size_t max_steps, ntk_error *err) {
  ntk_tensor x = {0}, y = {0};
  int st = train_batch(&x, &y, net, X, Y, err);
  if (st == NTK_OK)
    st = run_rows(tr, net, ntk_tensor_data(&x), ntk_tensor_data(&y), x.shape[0], t_end,
                  max_steps, err);
  ntk_tensor_release(&x);
  ntk_tensor_release(&y);
  return st;
}
