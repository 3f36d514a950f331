/* ntk_train.h: trainers for any model (ntk_model.h: an MLP, a Wide-ResNet, any layer graph) on the
 * MSE loss L(theta) = 1/(2P) sum_mu |f(x_mu) - y_mu|^2 of ntk_model_loss_grad (the MLP's through
 * its structured ntk_mlp_loss_grad).
 *
 * Every trainer advances a time t in the paper's units:
 *   gd    theta <- theta - lr grad L;                               t = lr * steps
 *   rk4   classical Runge-Kutta on gradient flow dtheta/dt = -grad L, fixed step dt
 *   rk45  Dormand-Prince 5(4) with FSAL and step-size control (rtol, atol)
 *   sgd   minibatch SGD with heavy-ball momentum (v <- mu v + g; theta <- theta - lr v);
 *         t = lr * steps
 *   adam  Adam with bias correction;                                t = lr * steps
 * The flow methods land exactly on the target time of ntk_train_run (the last step is
 * clipped). Gradient flow of a ReLU net has a discontinuous right-hand side: where the flow
 * slides along a kink (a pre-activation held at 0), rk45's steps collapse and the run crawls;
 * bound such runs with a step count. Work buffers are allocated on the first step (or when the
 * batch grows) and reused: the step loop allocates nothing.
 *
 * A trainer binds to the shape of the model it first steps (the model's shape description: an
 * MLP's widths and biases, a layer graph's layers and parameter count): its buffers and its state
 * (momenta, Adam's moments) belong to that parameter layout, and a model of another shape is
 * refused until ntk_train_reset unbinds it.
 *
 * Divergence stops a trainer with an error naming the step, t, the settings and the loss:
 *   - a non-finite loss or non-finite parameters (NTK_ENONFINITE);
 *   - a loss above max_loss_ratio times the initial loss (the full-data loss before the first
 *     step; NTK_ENOCONV); an initial loss of 0 leaves nothing to compare with;
 *   - a discrete step longer than the whole requested run (ntk_train_check_end, NTK_ENOCONV). */
#ifndef NTK_TRAIN_H
#define NTK_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ntk_error.h"
#include "ntk_model.h"
#include "ntk_rng.h"

/* The update rule of a trainer (gd, rk4, rk45, sgd, adam: formulas above). */
typedef enum ntk_train_method {
  NTK_TRAIN_GD = 0,
  NTK_TRAIN_RK4,
  NTK_TRAIN_RK45,
  NTK_TRAIN_SGD,
  NTK_TRAIN_ADAM
} ntk_train_method;

/* A trainer's method and its hyper-parameters (only the method's own fields are read). */
typedef struct ntk_train_config {
  ntk_train_method method;
  double lr;                /* gd, sgd, adam: > 0 */
  double dt;                /* rk4: > 0 */
  double rtol, atol;        /* rk45: both > 0 */
  double h0;                /* rk45: first step (0: Hairer's automatic choice) */
  size_t batch;             /* sgd: minibatch rows (0 or >= P: full batch) */
  double momentum;          /* sgd: in [0, 1) */
  uint64_t seed;            /* sgd: minibatch order */
  double beta1, beta2, eps; /* adam: in [0, 1), [0, 1), > 0 */
  double max_loss_ratio;    /* all: > 1, INFINITY for no bound (default 1e6) */
} ntk_train_config;

/* Default bound on loss / initial loss before a run counts as diverged: a run that grows its
 * loss a million-fold has left any regime the paper studies. */
#define NTK_TRAIN_MAX_LOSS_RATIO 1e6
/* Most steps a run toward a time may need (gd, sgd, adam: (t_end - t) / lr; rk4: / dt): past
 * 2^53, lr * steps is no longer exact and the run would take centuries. */
#define NTK_TRAIN_MAX_STEPS ((size_t)1 << 53)

/* A trainer: its config, the elapsed time and counters, and its reused work buffers. */
typedef struct ntk_trainer {
  ntk_train_config cfg;
  double t;        /* current time */
  size_t steps;    /* accepted steps */
  size_t evals;    /* gradient evaluations (forward + backward passes) */
  size_t rejected; /* rk45: rejected steps */
  double loss;     /* loss at the parameters where the last step started */
  double loss_end; /* loss at the current parameters after ntk_train_run (rk45: after each step,
                      from the FSAL evaluation) */
  double loss0;    /* full-data loss before the first step (NAN: not yet known) */
  double h;        /* rk45: proposed next step (0: not chosen yet) */
  int fsal;        /* rk45: k[0] holds the gradient at the current parameters */
  ntk_rng rng;     /* sgd minibatches */
  /* the bound model's shape (bound 0: not bound yet) and the work buffers sized for it */
  int bound;
  const char *shape_noun, *variant; /* static strings of the model (ntk_model.h) */
  char shape[NTK_MODEL_SHAPE_MAX];
  size_t nparams_bound;
  size_t n; /* parameters */
  double *grad, *y0, *k[7], *m, *v, *vel;
  size_t *perm, perm_pos, perm_n; /* sgd: permutation of the P rows, next unused position */
  double *Xb, *Yb;                /* sgd: minibatch copies, xb_cap and yb_cap doubles */
  size_t xb_cap, yb_cap;
} ntk_trainer;

/* Default settings of a method (lr 0.01, dt 0.01, rtol 1e-6, atol 1e-9, adam 0.9/0.999/1e-8,
 * max_loss_ratio NTK_TRAIN_MAX_LOSS_RATIO). Start every config from these. */
void ntk_train_config_default(ntk_train_config *cfg, ntk_train_method method);
/* tr <- a fresh trainer (t = 0, no state) after checking cfg. tr is owned by the caller;
 * ntk_train_release frees its buffers. */
int ntk_train_init(ntk_trainer *tr, const ntk_train_config *cfg, ntk_error *err);
/* Frees tr's buffers; idempotent (tr stays valid for ntk_train_init). */
void ntk_train_release(ntk_trainer *tr);
/* Back to t = 0 with fresh optimizer state (momenta, Adam moments, rk45 step size), unbound:
 * the next step binds the trainer to its net's shape. */
void ntk_train_reset(ntk_trainer *tr);
/* Forgets the rk45 FSAL gradient: call after changing the parameters or data between steps. */
void ntk_train_invalidate(ntk_trainer *tr);

/* NTK_ESHAPE unless X is [P x D] (argument xarg) and Y [P x C] (argument yarg) for net, each
 * [P] when D or C is 1: the data check of ntk_train_step and ntk_train_run, for callers that
 * check before they allocate. */
int ntk_train_check_data(const ntk_model *net, const ntk_tensor *X, const ntk_tensor *Y, int xarg,
                         int yarg, ntk_error *err);
/* One step of the method on inputs X [P x D] and targets Y [P x C] (or [P] when D or C is 1; any
 * views, made contiguous once per call; arguments 3 and 4). rk4/rk45 steps are clipped so as not
 * to pass t_max (INFINITY: no limit). NTK_ESHAPE (argument 2) for a net of another shape than the
 * bound one; NTK_ENONFINITE when the loss or the new parameters are not finite; NTK_ENOCONV when
 * the loss where the step starts exceeds max_loss_ratio x the initial loss (err names step, t,
 * the settings and the loss). */
int ntk_train_step(ntk_trainer *tr, ntk_model *net, const ntk_tensor *X, const ntk_tensor *Y,
                   double t_max, ntk_error *err);
/* Whether the trainer's t has reached t_end: flow methods exactly, discrete ones up to the
 * rounding of t = lr * steps (a billionth of the smaller of one step and t_end). */
int ntk_train_reached(const ntk_trainer *tr, double t_end);
/* Steps until t reaches t_end (flow methods: exactly; discrete ones: the first step with
 * t >= t_end up to rounding) or steps reaches max_steps, whichever comes first; then
 * tr->loss_end <- the loss at the end point, checked as the loss of a step start. A discrete
 * step may land past t_end: when t_end ends the whole run, ntk_train_check_end judges it.
 * NTK_EARG when t_end is more than NTK_TRAIN_MAX_STEPS fixed steps away and max_steps does not
 * stop the run first. */
int ntk_train_run(ntk_trainer *tr, ntk_model *net, const ntk_tensor *X, const ntk_tensor *Y,
                  double t_end, size_t max_steps, ntk_error *err);
/* 1 when tr's t has reached t (flows: exactly; discrete methods: up to the rounding of lr k). */
int ntk_train_reached(const ntk_trainer *tr, double t);
/* NTK_ENOCONV when a discrete trainer has passed t_final, the end of the whole requested run,
 * with a step (lr) longer than t_final itself: not one point of the requested interval
 * (0, t_final] was simulated. err names the step, t, the settings and tr->loss_end. */
int ntk_train_check_end(const ntk_trainer *tr, double t_final, ntk_error *err);
/* out (n) <- per-parameter effective step eta_j of the paper's Eq. 91: adam lr / (sqrt(v_hat_j)
 * + eps) with v_hat from the current moments (lr / eps before the first step); gd and sgd lr;
 * flows 1. n must be the trainer's parameter count (or any n before the first adam step). */
int ntk_train_effective_lr(double *out, const ntk_trainer *tr, size_t n, ntk_error *err);
/* Writes the method and its settings, e.g. "adam{lr = 0.001, beta1 = 0.9, ...}". */
char *ntk_train_describe(const ntk_trainer *tr, char *buf, size_t len);
/* Static method name ("gd", "rk4", "rk45", "sgd", "adam"). */
const char *ntk_train_method_name(ntk_train_method m);

#endif
