-- silent_alignment.lua: the paper's Figure 1a-b end to end.
-- A two-layer ReLU MLP (width 100, sigma = 0.1) on whitened MNIST 0 vs 1 (P = 1000; the other
-- 0s and 1s are the test set), trained by gradient flow until the train loss is below 1e-4.
-- A recorder (ntklab.recorder) follows the train NTK along the way; afterwards the trained
-- net's test outputs are compared with kernel regression with the final NTK K(t_end) and with
-- the initial NTK K(0), and the silent-alignment readouts are taken (ntklab.analysis).
--
-- The kernel predictors: f_K(x) = f_0(x) + k(x)^T K^+ (y - f_0(X)), ridgeless, fitted on the
-- train set's residual at initialization and added to the net's initial test output. For the
-- initial NTK this is exactly what a linearized (lazy) net trained to convergence predicts; for
-- the final NTK it is Eq. 2 with the kernel frozen at K(t_end), and Theorem 1's
-- f - f_0 = k_inf^T K_inf^-1 y is its small-init limit (f_0 = O(sigma^2) there, and keeping f_0
-- removes that offset from both predictors alike instead of charging it to the kernels).
-- Each predictor is also compared with the net completed under its final kernel (the net as
-- stopped at --stop-loss, continued to t = infinity while the kernel stays put: rel_err_completed
-- in summary.json, a net_completed column in predictions.csv), the limit the kernel predictors
-- describe.
--
-- The path-kernel predictor (--path_kernel, on by default) integrates Eq. 2 itself from kernel
-- snapshots at every path_every-th record (ntklab.pathkernel, K(t) linear in t
-- between them), interval by interval during training, so two snapshots (34 MB at P = 1000)
-- are all it keeps. Measured with seed 1 (rel L2 error vs the net; wall time of the snapshots'
-- test x train kernels and the integration): every record 0.0076, 1.2 s; every 2nd (default)
-- 0.0087, 0.6 s; every 4th 0.0118, 0.4 s; every 8th 0.0175; every 12th 0.0226; the final
-- NTK's error is 0.036. RK4 step bound 0.25 instead of 2 changes the error in the 7th digit.
-- The error falls only linearly with the spacing: a ReLU net's NTK jumps where a
-- pre-activation crosses zero (with tanh it falls as the spacing squared, spec 51).
--
-- With --trainer adam the recorder also follows Adam's kernel (Eq. 91: the NTK with each
-- parameter weighted by Adam's effective step lr / (sqrt(v_hat) + eps); ntklab.recorder's adam
-- option), and a third predictor uses it, the same formula with K_eta(t_end) in place of K(t_end):
-- predictors.final_adam_kernel in summary.json, an adam_kernel column in predictions.csv.
--
-- Run: build/bin/ntklab experiments/silent_alignment.lua [--option value ...] (--help lists them).
-- Writes into --out (default results/silent_alignment/), every file atomically and
-- Run: build/bin/ntklab run experiments/silent_alignment.lua [--option value ...] (--help lists
-- them; ntklab.experiment is the runner). Writes into --out (default results/silent_alignment/),
-- config.json first, every file atomically and summary.json last: summary.json, config.json,
-- trajectory.csv, predictions.csv, trajectory.png, predictions.png, alignment.png,
-- early_kernel.png.
-- A trainer that reports divergence ends the run as a failure (no summary.json) before any
-- predictor runs: path-kernel failures during training wait for the trainer's verdict.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local preprocess = require "ntklab.preprocess"
local analysis = ntklab.analysis
local direction = require "ntklab.direction"

-- The Figure 1a and 1c panels, drawn from this experiment's results (experiments/panels/).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local panels = dofile(here .. "/panels/silent_alignment.lua")

-- On by default: at every 2nd record it costs the demo ~0.6 s and 34 MB (measurements above).
local PATH_KERNEL_DEFAULT = true

-- Caps on the count options keep a typo from asking for memory the machine does not have
-- (issue 11, B7): P and test bound the P x P and test x P kernels (8 P^2 bytes each: 3.2 GB at
-- P = 20000), width and depth the net, records and topk the trajectory.
local experiment = {
  name = "silent_alignment",
  summary = "Silent alignment (paper Figure 1a-b): a small-init MLP on whitened data learns "
    .. "its kernel's direction before its size, and the trained net matches kernel regression "
    .. "with its final NTK, not its initial one.",
  options = {
    {name = "dataset", type = "choice", choices = {"mnist", "fashion_mnist", "cifar10", "teacher"},
      default = "mnist", help = "data: classes 0 and 1, or a linear teacher on Gaussian inputs"},
    {name = "P", type = "integer", default = 1000, min = 2, max = 20000, help = "training set size"},
    {name = "test", type = "integer", min = 1, max = 100000,
      help = "test set size (default: the rest of the pool; teacher: 500)"},
    {name = "dim", type = "integer", default = 50, min = 1, max = 100000, help = "teacher input dimension"},
    {name = "gamma", type = "number", default = 0, min = 0, max = 1,
      help = "partial whitening exponent (0 = fully whitened, 1 = raw)"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "whitening keeps singular values above cutoff x the largest (0: full numerical rank)"},
    {name = "width", type = "integer", default = 100, min = 1, max = 100000, help = "hidden width"},
    {name = "depth", type = "integer", default = 2, min = 1, max = 16, help = "number of layers"},
    {name = "activation", type = "string", default = "relu", help = "hidden activation"},
    {name = "sigma", type = "number", default = 0.1, min = 0, help = "initialization scale"},
    {name = "trainer", type = "choice", choices = {"flow", "gd", "adam"}, default = "flow",
      help = "gradient flow (rk45), gradient descent or Adam"},
    {name = "lr", type = "number", default = 0.5, min = 0, help = "learning rate (gd, adam)"},
    {name = "rtol", type = "number", default = 1e-3, min = 0,
      help = "flow: rk45 relative tolerance (absolute tolerance rtol/1000)"},
    {name = "stop_loss", type = "number", default = 1e-4, min = 0,
      help = "stop at the first record with train loss below this"},
    {name = "t_max", type = "number", default = 1e4, min = 0, help = "time limit"},
    {name = "t_min", type = "number", default = 1e-2, min = 0, help = "first record time after 0"},
    {name = "records", type = "integer", default = 100, min = 2, max = 100000,
      help = "log-spaced record times from t_min to t_max"},
    {name = "topk", type = "integer", default = 0, min = 0, max = 20000,
      help = "top kernel eigenvalues recorded (each record then costs a P x P eigensolve)"},
    {name = "path_kernel", type = "boolean", default = PATH_KERNEL_DEFAULT,
      help = "Eq. 2 path-kernel predictor integrated from kernel snapshots during training"},
    {name = "path_every", type = "integer", default = 2, min = 1, max = 100000,
      help = "path kernel: a kernel snapshot every this many records (plus t = 0 and the end)"},
    {name = "path_step", type = "number", default = 2, min = 0, max = 2.5,
      help = "path kernel: RK4 step bound h (eta/P) |K|_F (stable below 2.78)"},
    {name = "predict_every", type = "integer", default = 8, min = 0, max = 100000,
      help = "early-kernel predictor: kernel regression with K(t) every this many records (0: first and last only)"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data draw and the init"},
    {name = "plots", type = "boolean", default = true, help = "write the PNG plots"},
  },
}


-- JSON objects take string keys: class counts keyed by label 0, 1, ... become "0", "1", ...
local function json_safe(v)
  if type(v) ~= "table" or getmetatable(v) then return v end
  local n, keys = #v, 0
  for _ in pairs(v) do keys = keys + 1 end
  local copy = {}
  for k, x in pairs(v) do
    copy[(keys == n and math.type(k) == "integer" and k >= 1) and k or tostring(k)] = json_safe(x)
  end
  return copy
end

local function num(v) return type(v) == "number" and v or nil end

function experiment.run(opts, ctx)
  -- The path-kernel predictor integrates plain gradient flow, df/dt = -(1/P) K_t (f - y). Adam
  -- follows other dynamics (Eq. 91's preconditioned kernel, with momentum), so for Adam runs the
  -- predictor would measure the wrong thing: it is skipped, and the summary says why.
  local path_kernel_skipped
  if opts.trainer == "adam" and opts.path_kernel then
    opts.path_kernel = false
    path_kernel_skipped = "skipped for trainer adam: the predictor integrates plain gradient flow"
  end
  local clock = ctx.clock
  local t_start = clock()

  local die = ctx.fail

  -- ----- data ------------------------------------------------------------------------------------
  local ds, err
  if opts.dataset == "teacher" then
    ds, err = data.teacher{P = opts.P, D = opts.dim, test = opts.test or 500, seed = opts.seed}
  else
    ds, err = data[opts.dataset]{classes = {0, 1}, train = opts.P, test = opts.test, seed = opts.seed}
    if not ds and opts.dataset == "mnist" then
      err = err .. "\n(run scripts/fetch-data mnist first)"
    end
  end
  if not ds then die(err) end
  local pp
  -- cutoff 0: the numerical rank only (preprocess's default rcond drops rounding-noise directions)
  pp, err = preprocess.fit(ds.X_train, {gamma = opts.gamma, rcond = opts.cutoff > 0 and opts.cutoff or nil})
  if not pp then die(err) end
  local X, X_test = pp:transform(ds.X_train), pp:transform(ds.X_test)
  local y, y_test = ds.y_train, ds.y_test
  local P, D = X:size(1), X:size(2)
  local beta = ds.beta and ds.beta:dim() == 1 and ds.beta or nil
  local t_data = clock() - t_start

  -- ----- net and trainer -------------------------------------------------------------------------
  local widths = {D}
  for _ = 1, opts.depth - 1 do widths[#widths + 1] = opts.width end
  widths[#widths + 1] = 1
  local ok, net = pcall(ntklab.mlp, {widths = widths, activation = opts.activation,
    sigma = opts.sigma, seed = opts.seed})
  if not ok then die(net) end
  local trainer
  if opts.trainer == "flow" then
    trainer = ntklab.train.flow{method = "rk45", rtol = opts.rtol, atol = opts.rtol * 1e-3}
  elseif opts.trainer == "gd" then
    trainer = ntklab.train.gd{lr = opts.lr}
  else
    trainer = ntklab.train.adam{lr = opts.lr}
  end

  if not (opts.t_max > opts.t_min and opts.t_min > 0) then die("need 0 < t_min < t_max") end
  -- Path kernel, integrated while training (ntklab.pathkernel, an observer of the recorder's
  -- points that reuses its train kernels): Eq. 2 from t = 0 to t_end with K(t), k(t) linear in
  -- t between snapshots at every path_every-th record and at the end. A failed integration
  -- (e.g. "more than 1000000 steps needed" on a kernel that is blowing up) is kept by the
  -- observer until the trainer has had its say: divergence is reported first.
  local path = opts.path_kernel and ntklab.pathkernel.new{X = X, y = y, X_test = X_test,
    every = opts.path_every, step = opts.path_step} or nil
  -- The kernel's direction c(t) and the early-kernel predictor (ntklab.direction: it keeps each
  -- record's parameters and recomputes the kernels in a second pass at the end, when K_end is
  -- known; no P x P matrix is kept per record).
  local dir = direction.new{X = X, y = y, X_test = X_test, predict_every = opts.predict_every}
  -- the path kernel first: its finish frees its snapshot buffers before the direction's second
  -- pass allocates its own
  local observers = {}
  if path then observers[#observers + 1] = path end
  observers[#observers + 1] = dir
  local rec = ntklab.recorder{times = {log = {opts.t_min, opts.t_max, opts.records}}, X = X, y = y,
    X_test = X_test, y_test = y_test, beta = beta, topk = math.min(opts.topk, P),
    adam = opts.trainer == "adam" and trainer or nil, observers = observers}

  local t_train_total = ctx.record(rec, trainer, net, {stop_loss = opts.stop_loss})
  local dir_seconds_in_run = dir.seconds -- its second pass ran inside rec:run (at finish)
  local traj = rec.trajectory
  local n = #traj.t
  -- A trainer that does not check (or an observer that missed it): a non-finite loss is
  -- divergence, and no predictor runs on it.
  for i = 1, n do
    if traj.loss[i] ~= traj.loss[i] or math.abs(traj.loss[i]) == math.huge then
      die(string.format("training diverged: train loss %s at record %d (t = %g, step %d), %s", tostring(traj.loss[i]),
        i, traj.t[i], traj.step[i], opts.trainer))
    end
  end
  local path_result
  if path then
    local msg
    path_result, msg = path:result()
    if not path_result then die("path kernel: " .. msg) end
  end

  -- ----- predictors ------------------------------------------------------------------------------
  local t0 = clock()
  local f_net = rec.f_end_test:reshape(X_test:size(1))
  local f0_train = rec.f0_train:reshape(P)
  local f0_test = rec.f0_test:reshape(X_test:size(1))
  local residual = y - f0_train

  local function kernel_predictor(K, k)
    local fit, msg = ntklab.kernel_regression{K = K, y = residual}
    if not fit then die("kernel regression: " .. msg) end
    local pred = fit:predict(k) + f0_test
    local info = {method = fit.method, rank = fit.rank, cond = fit.cond}
    fit:release()
    return pred, info
  end
  local pred_final, fit_final = kernel_predictor(rec.K_end, rec.K_end_test)
  local pred_initial, fit_initial = kernel_predictor(rec.K0, rec.K0_test)
  local cmp_final = analysis.compare(pred_final, f_net)
  local cmp_initial = analysis.compare(pred_initial, f_net)
  cmp_final.fit, cmp_initial.fit = fit_final, fit_initial
  -- The net continued to t = infinity under its final kernel, f_net(x) + k(x)^T K^+ (y - f_net(X))
  -- (the lazy tail's exact limit while the kernel stays put). A net stopped at --stop-loss still
  -- moves in the final kernel's small eigendirections, where its train residual lies, and
  -- ridgeless kernel regression is the t = infinity limit: every predictor is also compared with
  -- the completed net (rel_err_completed; deep_relu found the same for Appendix E.2).
  local completion
  do
    local fit, msg = ntklab.kernel_regression{K = rec.K_end, y = y - rec.f_end_train:reshape(P)}
    if not fit then die("kernel regression (the completed net): " .. msg) end
    completion = fit:predict(rec.K_end_test) + f_net
    fit:release()
  end
  local function completed(cmp, pred)
    if cmp then cmp.rel_err_completed = analysis.compare(pred, completion).rel_err end
  end
  completed(cmp_final, pred_final)
  completed(cmp_initial, pred_initial)
  -- Adam's kernel at the end (nil when training stopped before Adam's first step)
  local pred_adam, cmp_adam
  if rec.K_adam_end then
    local fit_adam
    pred_adam, fit_adam = kernel_predictor(rec.K_adam_end, rec.K_adam_end_test)
    cmp_adam = analysis.compare(pred_adam, f_net)
    cmp_adam.fit = fit_adam
    completed(cmp_adam, pred_adam)
  end

  local function test_error(f)
    -- classification error for +-1 labels, mean squared error / 2 for regression targets
    local ft, yt = f:totable(), y_test:totable()
    if opts.dataset == "teacher" then
      local s = 0
      for i = 1, #yt do s = s + (ft[i] - yt[i]) ^ 2 end
      return s / (2 * #yt)
    end
    local wrong = 0
    for i = 1, #yt do if (ft[i] >= 0) ~= (yt[i] >= 0) then wrong = wrong + 1 end end
    return wrong / #yt
  end

  local cmp_path, pred_path
  local path_seconds = 0 -- integration and snapshots, inside the training loop's wall time
  if path_result then
    local res = path_result
    pred_path = res.test
    cmp_path = analysis.compare(pred_path, f_net)
    -- the same comparison on the train points (the residual the ODE integrates)
    local train_cmp = analysis.compare(res.train, rec.f_end_train:reshape(P))
    local info = {train_rel_err = train_cmp.rel_err, train_corr = train_cmp.corr,
      snapshots = res.snapshots, every = res.every, rk4_steps = res.steps,
      step = opts.path_step, seconds = res.seconds, snapshot_seconds = res.snapshot_seconds,
      snapshot_bytes = res.snapshot_bytes}
    for k, v in pairs(info) do cmp_path[k] = v end
    completed(cmp_path, pred_path)
    path_seconds = res.seconds + res.snapshot_seconds
    path, path_result = nil, nil
  end

  -- the direction columns join the recorder's (the same records, in the same order)
  local dtr = dir.trajectory
  for i = 1, n do
    if dtr.t[i] ~= traj.t[i] then die(string.format("direction: record %d at t = %s, recorder's at %s", i, tostring(dtr.t[i]), tostring(traj.t[i]))) end
  end
  for _, c in ipairs(dir.columns) do
    if c ~= "t" and c ~= "step" then
      rec.columns[#rec.columns + 1] = c
      traj[c] = dtr[c]
    end
  end
  local readouts = analysis.readouts(traj)
  local predictors = {final_ntk = cmp_final, initial_ntk = cmp_initial}
  local verdict = analysis.verdict(readouts, predictors)

  -- c(t) of each kernel kind at a time, linear in t between the records that bracket it
  local function at(key, t)
    if type(t) ~= "number" or traj[key] == nil then return nil end
    local ts, v = traj.t, traj[key]
    for i = 2, n do
      if ts[i] >= t then
        local w = (t - ts[i - 1]) / (ts[i] - ts[i - 1])
        local x = v[i - 1] + w * (v[i] - v[i - 1])
        if x ~= x then return nil end -- the learned part at t = 0 (JSON has no NaN)
        return x
      end
    end
    return v[n]
  end
  local function directions_at(t)
    if type(t) ~= "number" then return nil end
    local out = {t = t, total = at("direction", t), learned = at("direction_learned", t), layers = {}, layers_learned = {}}
    for l = 1, opts.depth do
      out.layers[l] = at("layer" .. l .. "_direction", t)
      out.layers_learned[l] = at("layer" .. l .. "_direction_learned", t)
    end
    return out
  end
  -- the early-kernel predictor at the first record at or after t_dir90, t_kernel10, t_half
  local early = {rows = dir.predictor, compared_with = "the trained net's test outputs",
    predictor = "f0(x) + k_t(x)^T K_t^+ (y - f0(X)), ridgeless, K_t = the NTK at record t"}
  for _, key in ipairs{"dir90", "kernel10", "half_loss"} do
    if type(readouts[key]) == "number" then
      local row = dir:predictor_at(readouts[key])
      if row then early["at_" .. key] = row end
    end
  end
  early.final_ntk_rel_err = cmp_final.rel_err
  early.initial_ntk_rel_err = cmp_initial.rel_err
  local t_analysis = clock() - t0

  -- ----- outputs ---------------------------------------------------------------------------------
  ctx.write_csv("trajectory.csv", rec.columns, traj)
  local labels = ds.labels_test and ds.labels_test:totable() or nil
  local pred_cols = {"index", "label", "target", "net", "final_ntk", "initial_ntk", "net_init", "net_completed"}
  local yt, fn, pf, pi, f0 = y_test:totable(), f_net:totable(), pred_final:totable(),
    pred_initial:totable(), f0_test:totable()
  local fc = completion:totable()
  local rows = {}
  local pp_path = pred_path and pred_path:totable()
  if pp_path then pred_cols[#pred_cols + 1] = "path_kernel" end
  local pa = pred_adam and pred_adam:totable()
  if pa then pred_cols[#pred_cols + 1] = "adam_kernel" end
  for i = 1, #yt do
    rows[i] = {i, labels and labels[i] or "", yt[i], fn[i], pf[i], pi[i], f0[i], fc[i]}
    if pp_path then rows[i][#rows[i] + 1] = pp_path[i] end
    if pa then rows[i][#rows[i] + 1] = pa[i] end
  end
  ctx.write_csv("predictions.csv", pred_cols, rows)

  if opts.plots then
    local title = string.format("%s, P = %d; %s MLP, depth %d, width %d, σ = %g, seed %d; %s",
      opts.dataset, P, opts.activation, opts.depth, opts.width, opts.sigma, opts.seed, opts.trainer)
    ctx.add_plot("trajectory.png", panels.plot_trajectory(ctx.path("trajectory.png"), traj, readouts,
      {title = "silent alignment: " .. title}))
    local predictors = {{y = pred_final, title = "final NTK", rel_err = cmp_final.rel_err},
      {y = pred_initial, title = "initial NTK", rel_err = cmp_initial.rel_err}}
    if pred_path then predictors[3] = {y = pred_path, title = "path kernel (Eq. 2)", rel_err = cmp_path.rel_err} end
    ctx.add_plot("predictions.png", panels.plot_predictions(ctx.path("predictions.png"), f_net, predictors,
      {title = "test predictions: " .. title}))
    local series = {
      {x = traj.t, y = traj.alignment, title = "alignment (uncentered)"},
      {x = traj.t, y = traj.alignment_centered, title = "alignment (centered)", style = "dashed"},
    }
    for l = 1, opts.depth do
      series[#series + 1] = {x = traj.t, y = traj["layer" .. l .. "_alignment"],
        title = "layer " .. l .. " alignment", style = "dotted"}
    end
    local vl = panels.markers(readouts, {align90 = true, kernel10 = true})
    if not readouts.informative.align90 then
      for _, v in ipairs(vl) do
        if v.title:find("align90", 1, true) then v.title = v.title .. " (not informative)" end
      end
    end
    -- the early-kernel predictor's error against t (records after t = 0: a log axis)
    local et, ee = {}, {}
    for _, row in ipairs(dir.predictor) do
      if row.t > 0 and row.rel_err == row.rel_err then et[#et + 1], ee[#ee + 1] = row.t, row.rel_err end
    end
    if #et >= 2 then
      local evl = panels.markers(readouts, {dir90 = true, kernel10 = true, half_loss = true})
      ctx.plot("early_kernel.png", {title = "early-kernel predictor: " .. title, xlabel = "t",
        ylabel = "‖f - f_{net}‖ / ‖f_{net}‖ on the test set", logx = true,
        series = {
          {x = et, y = ee, title = "kernel regression with K(t)", style = "linespoints"},
          {x = {et[1], et[#et]}, y = {cmp_final.rel_err, cmp_final.rel_err}, title = "final NTK", style = "dotted"},
          {x = {et[1], et[#et]}, y = {cmp_initial.rel_err, cmp_initial.rel_err}, title = "initial NTK", style = "dashed"},
        }, vlines = evl})
    end
    ctx.plot("alignment.png", {title = "kernel-target alignment (absolute): " .. title,
      xlabel = "t", ylabel = "alignment", logx = true, series = series, vlines = vl})
  end

  local summary = {
    experiment = "silent_alignment",
    config = opts,
    data = {source = json_safe(ds.source), dataset = opts.dataset, P = P, D = D, rank = pp.rank,
      test = X_test:size(1), cutoff = opts.cutoff, gamma = opts.gamma},
    trainer = trainer:settings(),
    final = {t = traj.t[n], step = traj.step[n], train_loss = traj.loss[n],
      test_loss = traj.test_loss[n], test_error = test_error(f_net),
      reached_stop_loss = traj.loss[n] < opts.stop_loss, gradient_evals = trainer.evals,
      kernel_norm = traj.kernel_norm[n], kernel_norm_initial = traj.kernel_norm[1]},
    alignment = {initial = traj.alignment[1], final = traj.alignment[n],
      centered_initial = traj.alignment_centered[1], centered_final = traj.alignment_centered[n],
      weight_final = beta and traj.weight_alignment[n] or nil},
    times = {align90 = num(readouts.align90), dir90 = num(readouts.dir90), kernel10 = num(readouts.kernel10),
      half_loss = num(readouts.half_loss), t_end = traj.t[n],
      dir90_fraction = num(readouts.dir90) and readouts.dir90 / traj.t[n] or nil,
      kernel10_fraction = num(readouts.kernel10) and readouts.kernel10 / traj.t[n] or nil,
      messages = readouts.messages},
    informative = readouts.informative,
    direction = {
      definition = "c(t) = <K(t), K_end>_F / (|K(t)|_F |K_end|_F); learned: K(t) - K(0) against K_end - K(0); "
        .. "t_dir90: first t after which c(t) - c(0) >= 0.9 (1 - c(0)) for good",
      initial = directions_at(0),
      at_dir90 = directions_at(num(readouts.dir90)),
      at_kernel10 = directions_at(num(readouts.kernel10)),
      at_half_loss = directions_at(num(readouts.half_loss)),
    },
    early_kernel = early,
    predictors = {final_ntk = cmp_final, initial_ntk = cmp_initial,
      kernel_regression = "f0(x) + k(x)^T K^+ (y - f0(X)), ridgeless; K = K(t_end) or K(0)",
      test_error_final_ntk = test_error(pred_final), test_error_initial_ntk = test_error(pred_initial),
      completed = "rel_err_completed: against the net continued to t = infinity under its final kernel, "
        .. "f_net(x) + k(x)^T K^+ (y - f_net(X))",
      completion_rel_change = analysis.compare(f_net, completion).rel_err,
      test_error_net_completed = test_error(completion),
      path_kernel = cmp_path, path_kernel_skipped = path_kernel_skipped,
      test_error_path_kernel = pred_path and test_error(pred_path) or nil,
      final_adam_kernel = cmp_adam,
      test_error_final_adam_kernel = pred_adam and test_error(pred_adam) or nil},
    silent_alignment = verdict.silent,
    verdict = verdict,
    records = n,
    seconds = {experiment = clock() - t_start, data = t_data,
      train = t_train_total - rec.seconds - path_seconds - dir_seconds_in_run, path_kernel = path_seconds,
      direction = dir.seconds,
      ntk_and_metrics = rec.seconds, analysis = t_analysis},
    -- files: the runner adds what ctx wrote (summary, config, trajectory, predictions, plots)
  }
  return summary
end

--- The verdict and its reason, for the runner's last line.
function experiment.verdict(s)
  return s.silent_alignment and "silent alignment" or "no silent alignment", s.verdict and s.verdict.reason
end

return experiment
