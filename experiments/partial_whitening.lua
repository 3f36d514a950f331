-- partial_whitening.lua: the paper's Figure 4, one run per (gamma, trainer, seed).
-- A two-layer ReLU MLP (width 100, sigma = 0.1) on P = 1000 two-class inputs partially whitened
-- with exponent gamma (X = U S V^T -> U S^gamma V^T: covariance eigenvalues lambda_k -> lambda_k^gamma;
-- gamma = 0 is fully whitened, 1 the raw data), trained by Adam (lr 5e-3, the paper's) or by
-- gradient flow (rk45). A recorder follows the train NTK (and, for Adam, Eq. 91's kernel K_eta);
-- afterwards the trained net's test outputs are compared with kernel regression with the final
-- NTK, the initial NTK and (Adam) the final K_eta: panel (f), the claim under test, is that the
-- final NTK stops predicting the net as gamma grows.
--
-- Data (--dataset auto, the default): CIFAR-10 classes 0/1 when its binary batches are in the
-- data cache, else Fashion-MNIST 0/1 (Debian's dataset-fashion-mnist); the summary names the one
-- used (ntklab.image_data chooses).
-- --dataset powerlaw: a synthetic two-class task with a natural-image-like spectrum, Gaussian
-- inputs with covariance eigenvalues k^-alpha (k = 1..dim) and labels sign(beta . x) for a
-- random unit beta.
--
-- Scale: after the partial whitening the inputs are divided by sqrt(lambda_1^gamma), so the top
-- covariance eigenvalue is 1 at every gamma (--normalize top, the default). The stiffness of
-- the flow, and so its cost per unit of t, then does not grow with gamma; the weak directions
-- of raw data are learned later instead. --normalize none keeps preprocess's scale
-- (X^T X / P = V diag(lambda^gamma) V^T: the raw pixels' scale at gamma = 1).
--
-- Run: build/bin/ntklab run experiments/partial_whitening.lua [--option value ...]; the grid is
-- a sweep: build/bin/ntklab sweep experiments/partial_whitening.lua --grid gamma=0,0.25,0.5,0.75,1
-- --grid trainer=adam,flow --seeds 1-3 --jobs 2 --out results/fig4; then `ntklab sweep merge`,
-- and experiments/figures/partial_whitening.lua draws Figure 4 from the merged tables.
-- Writes summary.json, config.json, trajectory.csv (the recorder's columns), spectrum.csv (the
-- covariance eigenvalues of the preprocessed training inputs) and predictions.csv.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local image_data = require "ntklab.image_data"
local preprocess = require "ntklab.preprocess"
local kernel_predictors = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
  .. "shared/kernel_predictors.lua")

-- Per-trainer defaults: Adam's t is lr x steps (t_max 20 = 4000 steps at lr 5e-3; its first
-- step is t = lr), the flow's t is gradient-flow time.
local DEFAULTS = {
  adam = {t_min = 5e-3, t_max = 10},
  flow = {t_min = 1e-2, t_max = 100},
}

local experiment = {
  name = "partial_whitening",
  summary = "Partial whitening (paper Figure 4): how well kernel regression with the final NTK "
    .. "(and Adam's kernel) predicts a trained two-layer ReLU net as the data's spectrum goes "
    .. "from whitened (gamma = 0) to raw (gamma = 1).",
  columns = {"data.dataset", "data.rank", "final.t", "final.step", "final.train_loss",
    "final.test_error", "final.kernel_norm", "alignment.final", "predictors.final_ntk.rel_err",
    "predictors.final_ntk.corr", "predictors.initial_ntk.rel_err", "predictors.initial_ntk.corr",
    "predictors.final_adam_kernel.rel_err", "predictors.final_adam_kernel.corr",
    "predictors.ratio_final_initial", "config.trainer", "seconds.experiment", "seconds.train",
    "seconds.ntk_and_metrics", "seconds.per_unit_t"},
  options = {
    {name = "dataset", type = "choice", choices = {"auto", "cifar10", "fashion_mnist", "mnist", "powerlaw"},
      default = "auto", help = "classes 0/1 of an image set (auto: CIFAR-10 when present, else "
        .. "Fashion-MNIST), or a synthetic power-law-spectrum task"},
    {name = "P", type = "integer", default = 1000, min = 2, max = 20000, help = "training set size"},
    {name = "test", type = "integer", default = 1000, min = 1, max = 100000, help = "test set size"},
    {name = "dim", type = "integer", default = 256, min = 2, max = 10000, help = "powerlaw: input dimension"},
    {name = "alpha", type = "number", default = 1, min = 0, max = 10,
      help = "powerlaw: covariance eigenvalues k^-alpha"},
    {name = "gamma", type = "number", default = 0, min = 0, max = 1,
      help = "partial whitening exponent (0 = fully whitened, 1 = raw)"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "keep singular values above cutoff x the largest (0: full numerical rank)"},
    {name = "normalize", type = "choice", choices = {"top", "none"}, default = "top",
      help = "input scale: top covariance eigenvalue 1 at every gamma, or preprocess's scale"},
    {name = "width", type = "integer", default = 100, min = 1, max = 100000, help = "hidden width"},
    {name = "sigma", type = "number", default = 0.1, min = 0, help = "initialization scale"},
    {name = "trainer", type = "choice", choices = {"adam", "flow"}, default = "adam",
      help = "Adam (the paper's Figure 4) or gradient flow (rk45)"},
    {name = "lr", type = "number", default = 5e-3, min = 0, help = "Adam's learning rate"},
    {name = "rtol", type = "number", default = 1e-3, min = 0, help = "flow: rk45 relative tolerance"},
    {name = "stop_loss", type = "number", default = 1e-4, min = 0,
      help = "stop at the first record with train loss below this"},
    {name = "t_max", type = "number", min = 0, help = "time limit (default: adam 10, flow 100)"},
    {name = "t_min", type = "number", min = 0, help = "first record after 0 (default: adam 5e-3, flow 1e-2)"},
    {name = "records", type = "integer", default = 16, min = 2, max = 100000,
      help = "log-spaced record times from t_min to t_max"},
    {name = "adam_trajectory", type = "boolean", default = false,
      help = "Adam: Eq. 91's kernel at every record (the recorder's adam option), not only at the end"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data draw and the init"},
  },
}

--- The data set the run uses: the dataset's name and the loaded set, or raises through fail.
-- auto: CIFAR-10 0/1 when its files are present, else Fashion-MNIST 0/1.
local function load_data(opts, fail)
  local name = opts.dataset
  if name == "powerlaw" then
    local alpha = opts.alpha
    local ds, err = data.teacher{P = opts.P, D = opts.dim, test = opts.test, seed = opts.seed,
      spectrum = function(k) return k ^ -alpha end}
    if not ds then fail(err) end
    -- two classes: labels sign(beta . x) (the teacher's y = beta . x with s = 1)
    ds.y_train:sign_(); ds.y_test:sign_()
    ds.source.labels = "sign(beta . x)"
    ds.source.spectrum = string.format("k^-%g", alpha)
    return "powerlaw", ds
  end
  local o = {train = opts.P, test = opts.test, seed = opts.seed}
  if name == "mnist" then
    local ds, err = data.mnist{classes = {0, 1}, train = o.train, test = o.test, seed = o.seed}
    if not ds then fail("no data: " .. err) end
    return "mnist", ds
  end
  local ds, err = image_data.two_class(name, o)
  if not ds then fail("no data: " .. err) end
  return ds.name, ds
end

function experiment.run(opts, ctx)
  local clock, die = ctx.clock, ctx.fail
  local t_start = clock()
  local defaults = DEFAULTS[opts.trainer]
  local t_min, t_max = opts.t_min or defaults.t_min, opts.t_max or defaults.t_max
  if not (t_max > t_min and t_min > 0) then die("need 0 < t_min < t_max") end

  -- ----- data ------------------------------------------------------------------------------------
  local dataset, ds = load_data(opts, die)
  local pp, err = preprocess.fit(ds.X_train, {gamma = opts.gamma, rcond = opts.cutoff > 0 and opts.cutoff or nil})
  if not pp then die(err) end
  local X, X_test = pp:transform(ds.X_train), pp:transform(ds.X_test)
  -- the retained covariance eigenvalues after the transform: lambda_k^gamma (preprocess's scale)
  local lambda = {}
  local lam = pp.lambda:totable()
  for k = 1, pp.rank do lambda[k] = lam[k] ^ opts.gamma end
  local scale = 1
  if opts.normalize == "top" then
    scale = 1 / math.sqrt(lambda[1])
    X:mul_(scale); X_test:mul_(scale)
    for k = 1, #lambda do lambda[k] = lambda[k] * scale * scale end
  end
  local y, y_test = ds.y_train, ds.y_test
  local P, D = X:size(1), X:size(2)
  local t_data = clock() - t_start

  -- ----- net, trainer, recorder ------------------------------------------------------------------
  local ok, net = pcall(ntklab.mlp, {widths = {D, opts.width, 1}, activation = "relu",
    sigma = opts.sigma, seed = opts.seed})
  if not ok then die(net) end
  local trainer
  if opts.trainer == "flow" then
    trainer = ntklab.train.flow{method = "rk45", rtol = opts.rtol, atol = opts.rtol * 1e-3}
  else
    trainer = ntklab.train.adam{lr = opts.lr}
  end
  local rec = ntklab.recorder{times = {log = {t_min, t_max, opts.records}}, X = X, y = y,
    X_test = X_test, y_test = y_test, topk = 0,
    adam = opts.trainer == "adam" and opts.adam_trajectory and trainer or nil}
  local t_train_total = ctx.record(rec, trainer, net, {stop_loss = opts.stop_loss})
  local traj = rec.trajectory
  local n = #traj.t
  for i = 1, n do
    local l = traj.loss[i]
    if l ~= l or math.abs(l) == math.huge then
      die(string.format("training diverged: train loss %s at record %d (t = %g, step %d), %s",
        tostring(l), i, traj.t[i], traj.step[i], opts.trainer))
    end
  end

  -- ----- predictors: f0(x) + k(x)^T K^+ (y - f0(X)), ridgeless (as silent_alignment) -----------
  local t0 = clock()
  local M = X_test:size(1)
  local predictor, f_net = kernel_predictors.predictor(rec, y, y_test, die)
  local pred_final, cmp_final = predictor(rec.K_end, rec.K_end_test)
  local pred_initial, cmp_initial = predictor(rec.K0, rec.K0_test)
  local pred_adam, cmp_adam
  -- Eq. 91's kernel at the end only (the default): K_eta costs a P x P x nparams product (a
  -- Jacobian tile pass, ~20x the plain NTK at P = 1000, D = 784), too much for every record.
  local K_adam_end, K_adam_end_test = rec.K_adam_end, rec.K_adam_end_test
  if opts.trainer == "adam" and not K_adam_end and trainer.steps > 0 then
    local eta = trainer:effective_lr(net)
    K_adam_end = ntklab.ntk(net, X, {eta = eta})
    K_adam_end_test = ntklab.ntk(net, X_test, X, {eta = eta})
  end
  if K_adam_end then pred_adam, cmp_adam = predictor(K_adam_end, K_adam_end_test) end
  local t_analysis = clock() - t0

  -- ----- outputs ---------------------------------------------------------------------------------
  ctx.write_csv("trajectory.csv", rec.columns, traj)
  local spec_rows = {}
  for k = 1, #lambda do spec_rows[k] = {k, lambda[k]} end
  ctx.write_csv("spectrum.csv", {"k", "lambda"}, spec_rows)
  kernel_predictors.write_predictions(ctx, y_test, f_net, pred_final, pred_initial, pred_adam)

  local t_train = t_train_total - rec.seconds
  local src = ds.source
  return {
    experiment = "partial_whitening",
    config = opts,
    data = {dataset = dataset, classes = dataset ~= "powerlaw" and "0/1" or nil,
      spectrum = dataset == "powerlaw" and src.spectrum or nil, P = P, D = D, rank = pp.rank,
      test = M, gamma = opts.gamma, cutoff = opts.cutoff, normalize = opts.normalize, scale = scale,
      lambda_ratio = lambda[#lambda] / lambda[1]},
    trainer = trainer:settings(),
    final = kernel_predictors.final(traj, f_net, y_test, opts.stop_loss),
    alignment = {initial = traj.alignment[1], final = traj.alignment[n],
      adam_final = K_adam_end and ntklab.alignment(K_adam_end, y) or nil},
    predictors = {final_ntk = cmp_final, initial_ntk = cmp_initial, final_adam_kernel = cmp_adam,
      ratio_final_initial = cmp_final.rel_err / cmp_initial.rel_err,
      kernel_regression = "f0(x) + k(x)^T K^+ (y - f0(X)), ridgeless; K = K(t_end), K(0) or K_eta(t_end)"},
    records = n,
    seconds = {experiment = clock() - t_start, data = t_data, train = t_train,
      ntk_and_metrics = rec.seconds, analysis = t_analysis,
      per_unit_t = t_train / traj.t[n]},
  }
end

function experiment.verdict(s)
  local p = s.predictors
  return string.format("%s gamma = %g, %s: final NTK rel err %.3f, initial %.3f (ratio %.2f)%s",
    s.data.dataset, s.data.gamma, s.config.trainer, p.final_ntk.rel_err, p.initial_ntk.rel_err,
    p.ratio_final_initial, p.final_adam_kernel
      and string.format(", Adam kernel %.3f", p.final_adam_kernel.rel_err) or ""),
    string.format("train loss %.2e at t = %g", s.final.train_loss, s.final.t)
end

return experiment
