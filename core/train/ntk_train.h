/* ntk_train.h: trainers for ntk_mlp networks on the MSE loss L(theta) of ntk_mlp_loss.
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
 * parameter count or the batch grows) and reused: the step loop allocates nothing. */
#ifndef NTK_TRAIN_H
#define NTK_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ntk_error.h"
#include "ntk_mlp.h"
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
  double rtol, atol;        /* rk45: > 0 and >= 0 */
  double h0;                /* rk45: first step (0: Hairer's automatic choice) */
  size_t batch;             /* sgd: minibatch rows (0 or >= P: full batch) */
  double momentum;          /* sgd: in [0, 1) */
  uint64_t seed;            /* sgd: minibatch order */
  double beta1, beta2, eps; /* adam: in [0, 1), [0, 1), > 0 */
} ntk_train_config;

/* A trainer: its config, the elapsed time and counters, and its reused work buffers. */
typedef struct ntk_trainer {
  ntk_train_config cfg;
  double t;        /* current time */
  size_t steps;    /* accepted steps */
  size_t evals;    /* gradient evaluations (forward + backward passes) */
  size_t rejected; /* rk45: rejected steps */
  double loss;     /* loss at the parameters where the last step started */
  double loss_end; /* rk45: loss at the current parameters (from the FSAL evaluation) */
  double h;        /* rk45: proposed next step (0: not chosen yet) */
  int fsal;        /* rk45: k[0] holds the gradient at the current parameters */
  ntk_rng rng;     /* sgd minibatches */
  /* work buffers, sized for n parameters and batch_cap rows */
  size_t n;
  double *grad, *y0, *k[7], *m, *v, *vel;
  size_t batch_cap, *perm, perm_pos, perm_n;
  double *Xb, *Yb;
} ntk_trainer;

/* Default settings of a method (lr 0.01, dt 0.01, rtol 1e-6, atol 1e-9, adam 0.9/0.999/1e-8). */
void ntk_train_config_default(ntk_train_config *cfg, ntk_train_method method);
/* tr <- a fresh trainer (t = 0, no state) after checking cfg. tr is owned by the caller;
 * ntk_train_release frees its buffers. */
int ntk_train_init(ntk_trainer *tr, const ntk_train_config *cfg, ntk_error *err);
/* Frees tr's buffers; idempotent (tr stays valid for ntk_train_init). */
void ntk_train_release(ntk_trainer *tr);
/* Back to t = 0 with fresh optimizer state (momenta, Adam moments, rk45 step size). */
void ntk_train_reset(ntk_trainer *tr);
/* Forgets the rk45 FSAL gradient: call after changing the parameters or data between steps. */
void ntk_train_invalidate(ntk_trainer *tr);

/* One step of the method on inputs X [P x D] and targets Y [P x C] (or [P] when D or C is 1; any
 * views, made contiguous once per call; arguments 3 and 4). rk4/rk45 steps are clipped
 * so as not to pass t_max (INFINITY: no limit). NTK_ENONFINITE when the loss or the new
 * parameters are not finite (err names step, t and the settings). */
int ntk_train_step(ntk_trainer *tr, ntk_mlp *net, const ntk_tensor *X, const ntk_tensor *Y,
                   double t_max, ntk_error *err);
/* Steps until t reaches t_end (flow methods: exactly; discrete ones: the first step with
 * t >= t_end up to rounding) or steps reaches max_steps, whichever comes first. */
int ntk_train_run(ntk_trainer *tr, ntk_mlp *net, const ntk_tensor *X, const ntk_tensor *Y,
                  double t_end, size_t max_steps, ntk_error *err);
/* out (n) <- per-parameter effective step eta_j of the paper's Eq. 91: adam lr / (sqrt(v_hat_j)
 * + eps) with v_hat from the current moments (lr / eps before the first step); gd and sgd lr;
 * flows 1. n must be the trainer's parameter count (or any n before the first adam step). */
int ntk_train_effective_lr(double *out, const ntk_trainer *tr, size_t n, ntk_error *err);
/* Writes the method and its settings, e.g. "adam{lr = 0.001, beta1 = 0.9, ...}". */
char *ntk_train_describe(const ntk_trainer *tr, char *buf, size_t len);
/* Static method name ("gd", "rk4", "rk45", "sgd", "adam"). */
const char *ntk_train_method_name(ntk_train_method m);

#endif
