-- wide_resnet.lua: the paper's Figure 1d-e and Appendix J (J.1-J.3), one run per (gamma, b, k,
-- seed): a Wide-ResNet (ntklab.wide_resnet: 6b + 1 3 x 3 convolutions of widths 16k, 32k, 64k,
-- SP with sigma = 0.3 and sigma_first = 6.0, no batch normalization) on P two-class images,
-- ZCA-whitened (gamma = 0, Figure 1d-e) or raw (gamma = 1, J.1: centered and scaled only),
-- trained by Adam on the MSE loss. A recorder follows the train NTK (|K|_F and the kernel-target
-- alignment); afterwards the trained net's test outputs are compared with kernel regression with
-- the final NTK, the initial NTK and Adam's kernel of Eq. 91 at the end (K_eta, the NTK with
-- each parameter weighted by Adam's effective step; the paper could not compute it).
--
-- Alignment: the CENTERED one (alignment_centered, y^T Kc y / (|Kc|_F |y|^2) with Kc = H K H):
-- the uncentered y^T K y / (|K|_F |y|^2) of a ReLU net is dominated by K's constant mode (every
-- entry of an image-net NTK is positive, so K ~ c 1 1^T at init and the uncentered alignment
-- starts near (mean y)^2 P / |y|^2, whatever the net learns; issue 19, docs/results.md).
-- Verdict (issue 16's rule, on the centered alignment): silent alignment when the alignment
-- reaches 90% of its final value before |K|_F reaches 10% of its final value (t_align90 <
-- t_kernel10), the final-NTK predictor's relative L2 error against the net is <= 0.1 and the
-- initial NTK's is >= 3x that.
--
-- Data (--dataset auto): CIFAR-10 classes 0/1 when its binary batches are present, else
-- Fashion-MNIST classes 0/1 (ntklab.images; the summary and every plot title name the one used).
-- Scale: the paper's run is k = 4, b = 1, P = 100 with Adam lr 1e-5 for ~7000 steps. The
-- defaults here (k = 1, 100 test images) are a reduced scale; --k 4 is the paper's width (a step
-- costs ~13x k = 1's: bench/README.md).
-- Learning rate: an Adam step moves every weight by about lr, with the sign of its gradient, so
-- it changes a layer's pre-activations by up to ~lr fan_in / sigma of their size (SP, weights
-- of std sigma / sqrt(fan_in)). For the paper's widest convolution (k = 4: fan_in 9 x 256) at lr
-- 1e-5 that is 0.08; at k = 1 (fan_in 9 x 64) lr 1e-3 gives 1.9 (one step can flip the ReLUs
-- wholesale: the kernel norm jumped 10x within four steps there) and the default lr 1e-4 gives
-- 0.19. Up to 2000 steps; the run stops at the first record with train loss below stop_loss
-- (~500-600 steps at the defaults). Records: every Adam step up to 11, then per_decade per
-- decade (record_steps), so the kernel's growth, within the first ~100 steps, is resolved.
--
-- Run: build/bin/ntklab run experiments/wide_resnet.lua [--option value ...]. The figures are
-- sweeps (ntklab sweep, then ntklab sweep merge DIR, then experiments/figures/wide_resnet.lua):
--   Figure 1d-e and J.1: --grid gamma=0,1 --seeds 1-3
--   J.2 (depth):         --grid b=1,2,3 --seeds 1
--   J.3 (width):         --grid k=1,2,4 --seeds 1 (the paper's J.3 is at b = 2)
-- Writes config.json, trajectory.csv (the recorder's columns), predictions.csv and summary.json.
local ntklab = require "ntklab"
local images = require "ntklab.images"
local analysis = ntklab.analysis
local kernel_predictors = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
  .. "shared/kernel_predictors.lua")

-- Thresholds of the verdict (issue 16's "done when", as analysis.verdict's).
local FINAL_REL_ERR_MAX = 0.1
local INITIAL_OVER_FINAL_MIN = 3

local experiment = {
  name = "wide_resnet",
  summary = "Silent alignment in a Wide-ResNet trained with Adam (paper Figure 1d-e, Appendix "
    .. "J): does the centered kernel-target alignment plateau before |K|_F grows, and does the "
    .. "trained net follow kernel regression with its final NTK rather than its initial one?",
  columns = {"data.dataset", "data.P", "data.gamma", "net.k", "net.b", "net.nparams", "final.step",
    "final.train_loss", "final.test_error", "final.kernel_norm", "readouts.t_align90",
    "readouts.t_kernel10", "readouts.step_align90", "readouts.step_kernel10", "readouts.silent_timing", "alignment.centered_final",
    "predictors.final_ntk.rel_err", "predictors.initial_ntk.rel_err",
    "predictors.final_adam_kernel.rel_err", "predictors.final_ntk.corr",
    "predictors.initial_ntk.corr", "verdict.silent", "seconds.experiment", "seconds.per_step"},
  options = {
    {name = "dataset", type = "choice", choices = {"auto", "cifar10", "fashion_mnist"},
      default = "auto", help = "classes 0/1 of CIFAR-10 (auto: when present) or Fashion-MNIST"},
    {name = "P", type = "integer", default = 100, min = 2, max = 5000, help = "training set size"},
    {name = "test", type = "integer", default = 100, min = 1, max = 10000, help = "test set size"},
    {name = "gamma", type = "number", default = 0, min = 0, max = 1,
      help = "whitening exponent: 0 ZCA-whitened (Figure 1d-e), 1 raw pixels (J.1)"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "whitening keeps singular values above cutoff x the largest"},
    {name = "k", type = "integer", default = 1, min = 1, max = 16, help = "width multiplier"},
    {name = "b", type = "integer", default = 1, min = 1, max = 16, help = "blocks per group"},
    {name = "sigma", type = "number", default = 0.3, min = 0, help = "init scale of the blocks"},
    {name = "sigma_first", type = "number", default = 6.0, min = 0, help = "init scale of the first conv"},
    {name = "lr", type = "number", default = 1e-4, min = 1e-12, help = "Adam's learning rate"},
    {name = "steps", type = "integer", default = 2000, min = 1, max = 10000000,
      help = "Adam steps at most (the run stops earlier at stop_loss)"},
    {name = "per_decade", type = "integer", default = 20, min = 1, max = 1000,
      help = "records per decade of Adam steps (log-spaced steps, rounded: every step while "
        .. "the spacing is under one step), plus steps 0 and the last"},
    {name = "stop_loss", type = "number", default = 1e-3, min = 0,
      help = "stop at the first record with train loss below this"},
    {name = "tile", type = "integer", default = 50, min = 0, max = 100000,
      help = "samples per Jacobian tile of the kernels (memory 2 tile #params doubles)"},
    {name = "adam_trajectory", type = "boolean", default = false,
      help = "Adam's kernel (Eq. 91) at every record, not only at the end"},
    {name = "shortcut", type = "choice", choices = {"minimal", "neural_tangents"},
      default = "minimal", help = "block shortcuts: identity, 1x1 conv where the shape changes "
        .. "(minimal); or a 3x3 conv on every group's first block, as neural-tangents' example"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data draw and the init"},
  },
}

local DATASET_NAMES = {cifar10 = "CIFAR-10 0/1", fashion_mnist = "Fashion-MNIST 0/1"}

--- The Adam steps recorded: 0, then round(10^(i / per_decade)) for i = 0, 1, ... below steps
-- (duplicates dropped, so every step while the log spacing is under one step: steps 1-11 at 20
-- per decade), then steps itself. The kernel's growth happens within the first tens of steps;
-- log-spaced *times* put a handful of records there and none at some steps.
function experiment.record_steps(steps, per_decade)
  local list, i = {0}, 0
  while true do
    local s = math.floor(10 ^ (i / per_decade) + 0.5)
    if s >= steps then break end
    if s > list[#list] then list[#list + 1] = s end
    i = i + 1
  end
  list[#list + 1] = steps
  return list
end

-- The record time of Adam step s (t = lr s): half a step early, so that a trainer whose t sums
-- lr step by step (and may fall an ulp short of s lr) still records at step s, not s + 1.
local function record_time(s, lr) return s == 0 and 0 or (s - 0.5) * lr end

function experiment.run(opts, ctx)
  local clock, die = ctx.clock, ctx.fail
  local t_start = clock()

  -- ----- data: NHWC rows, whitened (gamma 0) or raw (gamma 1) -------------------------------
  local ds, err = images.load{dataset = opts.dataset, classes = {0, 1}, train = opts.P,
    test = opts.test, seed = opts.seed, gamma = opts.gamma, cutoff = opts.cutoff}
  if not ds then die("no data: " .. tostring(err)) end
  local X, y, X_test, y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
  local P, M = X:size(1), X_test:size(1)
  local dataset = ds.source.dataset

  -- ----- net, trainer, recorder ------------------------------------------------------------
  local ok, net = pcall(ntklab.wide_resnet, {k = opts.k, b = opts.b, outputs = 1,
    sigma = opts.sigma, sigma_first = opts.sigma_first, input = ds.shape, seed = opts.seed,
    shortcut = opts.shortcut})
  if not ok then die(net) end
  local trainer = ntklab.train.adam{lr = opts.lr}
  local record_steps = experiment.record_steps(opts.steps, opts.per_decade)
  local times = {}
  for i, s in ipairs(record_steps) do times[i] = record_time(s, opts.lr) end
  local rec = ntklab.recorder{times = times, X = X, y = y,
    X_test = X_test, y_test = y_test, tile = opts.tile,
    adam = opts.adam_trajectory and trainer or nil}
  local progress = ctx.progress{total = #rec.times}
  local t0 = clock()
  local run_ok, run_err = pcall(rec.run, rec, trainer, net, {stop_loss = opts.stop_loss,
    progress = function(i, _, t, loss) progress:update(i, {t = t, loss = loss}) end})
  progress:finish()
  if not run_ok then die(run_err) end
  local t_train_total = clock() - t0
  local traj = rec.trajectory
  local n = #traj.t

  -- ----- predictors: f0(x) + k(x)^T K^+ (y - f0(X)), ridgeless (as silent_alignment) -------
  t0 = clock()
  local predictor, f_net = kernel_predictors.predictor(rec, y, y_test, die)
  local pred_final, cmp_final = predictor(rec.K_end, rec.K_end_test)
  local pred_initial, cmp_initial = predictor(rec.K0, rec.K0_test)
  local K_adam_end, K_adam_end_test = rec.K_adam_end, rec.K_adam_end_test
  if not K_adam_end and trainer.steps > 0 then
    local eta = trainer:effective_lr(net)
    K_adam_end = ntklab.ntk(net, X, {eta = eta, tile = opts.tile})
    K_adam_end_test = ntklab.ntk(net, X_test, X, {eta = eta, tile = opts.tile})
  end
  local pred_adam, cmp_adam
  if K_adam_end then pred_adam, cmp_adam = predictor(K_adam_end, K_adam_end_test) end
  local t_analysis = clock() - t0

  -- ----- readouts on the centered alignment ------------------------------------------------
  local centered = {t = traj.t, alignment = traj.alignment_centered, kernel_norm = traj.kernel_norm}
  local t_align90, align_msg = analysis.t_align90(centered)
  local t_kernel10, kernel_msg = analysis.t_kernel10(centered)
  local timing = t_align90 ~= nil and t_kernel10 ~= nil and t_align90 < t_kernel10
  local predicts = cmp_final.rel_err <= FINAL_REL_ERR_MAX
    and cmp_initial.rel_err >= INITIAL_OVER_FINAL_MIN * cmp_final.rel_err
  local t_align90_uncentered = analysis.t_align90(traj)

  -- ----- outputs ---------------------------------------------------------------------------
  ctx.write_csv("trajectory.csv", rec.columns, traj)
  kernel_predictors.write_predictions(ctx, y_test, f_net, pred_final, pred_initial, pred_adam)

  local t_train = t_train_total - rec.seconds
  return {
    experiment = "wide_resnet",
    config = opts,
    data = {dataset = dataset, name = DATASET_NAMES[dataset] or dataset, classes = "0/1",
      fallback = ds.source.fallback, P = P, test = M, shape = ds.shape, layout = ds.layout,
      gamma = opts.gamma, whitened = opts.gamma == 0, cutoff = opts.cutoff},
    net = {k = opts.k, b = opts.b, convs = 6 * opts.b + 1, nparams = net:nparams(),
      sigma = opts.sigma, sigma_first = opts.sigma_first, groups = #net:groups(),
      shortcut = opts.shortcut},
    trainer = trainer:settings(),
    final = kernel_predictors.final(traj, f_net, y_test, opts.stop_loss),
    alignment = {centered_initial = traj.alignment_centered[1],
      centered_final = traj.alignment_centered[n], uncentered_initial = traj.alignment[1],
      uncentered_final = traj.alignment[n],
      adam_kernel_centered_final = K_adam_end
        and ntklab.kernel_stats(K_adam_end, y).alignment_centered or nil},
    readouts = {t_align90 = t_align90, t_kernel10 = t_kernel10, silent_timing = timing,
      step_align90 = t_align90 and t_align90 / opts.lr, step_kernel10 = t_kernel10 and t_kernel10 / opts.lr,
      t_align90_uncentered = t_align90_uncentered,
      messages = {t_align90 = align_msg, t_kernel10 = kernel_msg},
      alignment = "centered (alignment_centered); t in Adam's units lr x steps"},
    predictors = {final_ntk = cmp_final, initial_ntk = cmp_initial, final_adam_kernel = cmp_adam,
      ratio_initial_final = cmp_initial.rel_err / cmp_final.rel_err,
      kernel_regression = "f0(x) + k(x)^T K^+ (y - f0(X)), ridgeless; K = K(t_end), K(0) or K_eta(t_end)"},
    verdict = {silent = timing and predicts, timing = timing, predicts = predicts,
      rule = string.format("t_align90 (centered) < t_kernel10, final-NTK rel err <= %g, initial >= %g x final",
        FINAL_REL_ERR_MAX, INITIAL_OVER_FINAL_MIN)},
    records = n,
    seconds = {experiment = clock() - t_start, train = t_train, ntk_and_metrics = rec.seconds,
      analysis = t_analysis, per_step = t_train / math.max(traj.step[n], 1)},
  }
end

function experiment.verdict(s)
  local p, r = s.predictors, s.readouts
  return string.format("%s, %s, WRN k = %d, b = %d: %s (align90 at step %s, kernel10 at step %s; "
      .. "final NTK rel err %.3f, initial %.3f)", s.data.name,
      s.data.whitened and "whitened" or ("gamma = " .. s.data.gamma), s.net.k, s.net.b,
      s.verdict.silent and "silent alignment" or "NOT silent alignment",
      r.step_align90 and string.format("%.0f", r.step_align90) or "-",
      r.step_kernel10 and string.format("%.0f", r.step_kernel10) or "-",
      p.final_ntk.rel_err, p.initial_ntk.rel_err),
    string.format("train loss %.2e after %d steps", s.final.train_loss, s.final.step)
end

return experiment
