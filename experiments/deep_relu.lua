-- deep_relu.lua: the paper's Appendix E.2 (Figure E.2), one run. A ReLU MLP of hidden width 100
-- and depth L from scale sigma on whitened two-class images (CIFAR-10 classes 0/1 when its files
-- are present, else Fashion-MNIST classes 0/1; P = 3000 training points, test points from the
-- test split), trained by rk45 gradient flow until the loss has fallen by stop_ratio.
-- Input basis (basis = "span", the default): whitening keeps r < D directions (Fashion-MNIST,
-- P = 3000: r = 414 of D = 784), and the inputs are given in that r-dim orthonormal basis
-- (preprocess pca = r, gamma = 0: the same Gram matrix as the D-dim ZCA output) with the first
-- layer's scale sigma sqrt(r / D). That net is exactly the pixel-basis net seen through the
-- basis: W1 V of a pixel-basis W1 ~ N(0, sigma^2 / D) has the same law, gradient flow moves
-- only W1 V (every input lies in the span; test inputs are projected onto it by the whitening),
-- and the NTK's first-layer term x.x' is the same. Only the first layer's cost changes (D / r).
-- The loss is recorded at times that follow the dynamics (ntklab.record_schedule, watching the
-- log loss and log |theta|^2: t_1/2 is read off them by cubic interpolation); the train NTK
-- (|K|_F, uncentered and centered alignment) at kernel_records log-spaced times per decade and
-- whenever the log loss or the proxy (L - 1) log |theta|^2 of log |K|_F has moved by kernel_step
-- since the last NTK record (a deep net's kernel grows late and fast: log-spaced records alone
-- put a handful of points in the jump), and at the end. With kernels = true it also
-- compares, on the test points, the trained net with kernel regression with the final NTK and
-- with the initial NTK, f0(x) + k(x)^T K^+ (y - f0(X)) (ridgeless; as silent_alignment.lua),
-- records the kernel's direction c(t) = <K(t), K_end>/(|K(t)| |K_end|) at the NTK records
-- (ntklab.direction, per layer too unless layer_directions = false) and reads off the
-- silent-alignment times (ntklab.analysis: t_dir90, t_align90 uncentered and centered,
-- t_kernel10) and the verdict (the direction rule). An NTK record keeps only the parameters:
-- every record's kernel is computed once, after training, in the direction's pass (stats = true).
-- The net is stopped at a finite loss (stop_ratio) but kernel regression is its t = infinity
-- limit: whatever train residual r = y - f(X) is left sits in the kernel's small eigen-
-- directions, which still move the test outputs (by ~10% at stop_ratio 1e-3, L = 4). So the
-- predictors are also compared with the net completed to t = infinity under its final kernel,
-- f(x) + k(x)^T K^+ r (the lazy tail's exact limit while the kernel stays put; *_completed).
-- kernels = false records the loss alone: the cheap runs of the t_1/2-against-sigma sweep.
local ntklab = require "ntklab"
local analysis = ntklab.analysis
local curves = require "ntklab.curves"
local record_schedule = require "ntklab.record_schedule"
local image_data = require "ntklab.image_data"
local direction = require "ntklab.direction"

local M = {
  name = "deep_relu",
  summary = "ReLU MLP (width 100, depth L) from small init on whitened two-class images: t_1/2 "
    .. "against sigma, silent alignment, net vs final- and initial-NTK regression (paper Appendix E.2)",
  options = record_schedule.options({
    {name = "depth", type = "integer", default = 3, min = 2, max = 12, help = "number of weight layers L"},
    {name = "sigma", type = "number", default = 0.1, min = 0, help = "initialization scale"},
    {name = "sigma_by_depth", type = "string", default = "",
      help = "one sigma per depth, e.g. 2=0.05,3=0.1,4=0.2,5=0.3 (replaces sigma; for a sweep over depth)"},
    {name = "width", type = "integer", default = 100, min = 1, help = "hidden width"},
    {name = "P", type = "integer", default = 3000, min = 2, help = "training points"},
    {name = "test", type = "integer", default = 1000, min = 1, help = "test points (from the test split)"},
    {name = "dataset", type = "choice", choices = {"auto", "cifar10", "fashion_mnist"}, default = "auto",
      help = "auto: CIFAR-10 classes 0/1 when its files are present, else Fashion-MNIST 0/1"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "whitening keeps singular values above cutoff x the largest"},
    {name = "basis", type = "choice", choices = {"span", "pixels"}, default = "span",
      help = "span: the whitened inputs in the r-dim basis of the kept directions, first-layer sigma "
        .. "x sqrt(r / D) (the same net and dynamics as pixels, a cheaper first layer); pixels: D inputs"},
    {name = "kernels", type = "boolean", default = true,
      help = "record the NTK and compare the net with kernel regression (false: loss only)"},
    {name = "layer_directions", type = "boolean", default = true,
      help = "also each layer's kernel direction (false: the total kernel's only, a cheaper second pass)"},
    {name = "kernel_records", type = "integer", default = 8, min = 1, help = "NTK records per decade of t"},
    {name = "kernel_step", type = "number", default = 0.25, min = 0,
      help = "also an NTK record once log loss or (L - 1) log |theta|^2 has moved this much (0: off)"},
    {name = "rtol", type = "number", default = 1e-3, min = 0,
      help = "rk45 relative tolerance (absolute: rtol x sigma / 100)"},
    {name = "seed", type = "integer", default = 1, help = "seed of the image draw and the init"},
  }, {t_max = {default = 1e7}, per_decade = {help = "loss records per decade at least"},
    max_change = {help = "at most about this change of log loss per loss record"},
    stop_ratio = {default = 1e-3, help = "stop once the train loss is below this fraction of its initial value"}}),
}

-- "2=0.05,3=0.1" -> {[2] = 0.05, [3] = 0.1}, or nil, msg.
local function parse_sigma_by_depth(text)
  local out = {}
  for item in (text .. ","):gmatch("([^,]*),") do
    local d, v = item:match("^%s*(%d+)%s*=%s*([^%s]+)%s*$")
    local sigma = tonumber(v)
    if not d or not sigma then
      return nil, ("sigma_by_depth: DEPTH=SIGMA items separated by commas expected, got '%s' in '%s'"):format(item, text)
    end
    out[tonumber(d)] = sigma
  end
  return out
end

-- v at time t, linear between the records t_i (t within [t_1, t_n]).
local function at_time(ts, v, t)
  for i = 2, #ts do
    if ts[i] >= t then
      local w = (t - ts[i - 1]) / (ts[i] - ts[i - 1])
      return v[i - 1] + w * (v[i] - v[i - 1])
    end
  end
  return v[#v]
end

function M.run(cfg, ctx)
  local bad_times = record_schedule.check_times(cfg)
  if bad_times then ctx.fail(bad_times) end
  local L, sigma = cfg.depth, cfg.sigma
  if cfg.sigma_by_depth ~= "" then
    local by, perr = parse_sigma_by_depth(cfg.sigma_by_depth)
    if not by then ctx.fail(perr) end
    if not by[L] then ctx.fail(("sigma_by_depth '%s' has no sigma for depth %d"):format(cfg.sigma_by_depth, L)) end
    sigma = by[L]
  end
  if not (sigma > 0) then ctx.fail("need sigma > 0") end
  local ds, err = image_data.two_class(cfg.dataset, {train = cfg.P, test = cfg.test, seed = cfg.seed})
  if not ds then ctx.fail(err) end
  local D_pixels = ds.X_train:size(2)
  local fit = {gamma = 0, rcond = cfg.cutoff > 0 and cfg.cutoff or nil}
  if cfg.basis == "span" then fit.pca = D_pixels end -- k = min(pca, rank): every kept direction
  local pp
  pp, err = ntklab.preprocess.fit(ds.X_train, fit)
  if not pp then ctx.fail(err) end
  local X, Xt = pp:transform(ds.X_train), pp:transform(ds.X_test)
  local y, yt = ds.y_train, ds.y_test
  local P, D, M_test = X:size(1), X:size(2), Xt:size(1)
  ctx.timer:lap("data")
  local widths, sigmas = {D}, {}
  for _ = 1, L - 1 do widths[#widths + 1] = cfg.width end
  widths[#widths + 1] = 1
  for l = 1, L do sigmas[l] = sigma end
  -- the span basis: W1 ~ N(0, sigma^2 / D_pixels) as in the pixel basis (module comment)
  sigmas[1] = sigma * math.sqrt(D / D_pixels)
  local net = ntklab.mlp{widths = widths, activation = "relu", sigma = sigmas, seed = cfg.seed}
  local flow = ntklab.train.flow{method = "rk45", rtol = cfg.rtol, atol = cfg.rtol * sigma * 1e-2}

  -- kernel bookkeeping: K0, K0_test and the outputs at t = 0; the last train kernel
  local ws, ws_test = ntklab.kernel_workspace(), ntklab.kernel_workspace()
  local K0, K0_test, f0_train, f0_test
  -- the NTK records keep the parameters only; their kernels (|K|_F, alignments, direction) are
  -- computed once, in the direction's pass after training (stats = true)
  local dir = cfg.kernels and direction.new{X = X, y = y, X_test = Xt, predict_every = 0,
    layers = cfg.layer_directions, stats = true} or nil
  local ktraj = {t = {}, loss = {}}
  local traj = {t = {}, loss = {}}
  local kernel_growth = 10 ^ (1 / cfg.kernel_records)
  local next_kernel_t = cfg.t_min
  local last_log_loss, last_log_k -- at the last NTK record
  local kernel_seconds = 0
  -- (L - 1) log |theta|^2: |K|_F grows like u^(2L-2) for a per-layer scale u (the module comment)
  local function log_k_proxy(nt) return (L - 1) * 2 * math.log(nt:params():norm()) end
  local function record_kernel(t, loss, nt)
    local started = ctx.clock()
    local i = #ktraj.t + 1
    ktraj.t[i], ktraj.loss[i] = t, loss
    dir:observe(t, flow.steps, loss, nt)
    last_log_loss, last_log_k = math.log(loss), log_k_proxy(nt)
    kernel_seconds = kernel_seconds + (ctx.clock() - started)
  end
  local function kernel_due(t, loss, nt)
    if t >= next_kernel_t then return true end
    if cfg.kernel_step <= 0 then return false end
    return math.abs(math.log(loss) - last_log_loss) >= cfg.kernel_step
      or math.abs(log_k_proxy(nt) - last_log_k) >= cfg.kernel_step
  end
  local loss0 = net:loss(X, y)
  record_schedule.run_experiment(ctx, cfg, {trainer = flow, net = net, X = X, y = y, loss0 = loss0,
    label = ("deep_relu L=%d sigma=%g"):format(L, sigma),
    observe = function(t, loss, nt)
      traj.t[#traj.t + 1], traj.loss[#traj.loss + 1] = t, loss
      if cfg.kernels then
        if t == 0 then
          record_kernel(t, loss, nt)
          K0 = ntklab.ntk(nt, X, {output = "trace", workspace = ws})
          K0_test = ntklab.ntk(nt, Xt, X, {output = "trace", workspace = ws_test})
          f0_train, f0_test = nt:forward(X):reshape(P), nt:forward(Xt):reshape(M_test)
        elseif kernel_due(t, loss, nt) then
          record_kernel(t, loss, nt)
          while next_kernel_t <= t do next_kernel_t = next_kernel_t * kernel_growth end
        end
      end
      return {math.log(loss), 2 * math.log(nt:params():norm())}
    end})
  local n = #traj.t
  local converged = traj.loss[n] <= cfg.stop_ratio * loss0
  ctx.timer:add("kernels", kernel_seconds)
  ctx.timer:lap("train")
  local t_half = curves.crossing(traj.t, traj.loss, loss0 / 2)

  local rows = {}
  for i = 1, n do rows[i] = {traj.t[i], traj.loss[i]} end
  ctx.write_csv("loss.csv", {"t", "loss"}, rows)

  local summary = {
    dataset = ds.description,
    data = {dataset = ds.name, P = P, D = D, D_pixels = D_pixels, basis = cfg.basis, rank = pp.rank,
      test = M_test, cutoff = cfg.cutoff, source = ds.source_summary},
    depth = L, sigma = sigma, sigma_first_layer = sigmas[1], seed = cfg.seed, width = cfg.width,
    kernels = cfg.kernels, converged = converged, t_end = traj.t[n], steps = flow.steps,
    gradient_evals = flow.evals, records = n, loss_initial = loss0, loss_final = traj.loss[n],
    t_half = t_half,
  }
  -- CPU seconds of the process so far (os.clock: user + sys of all threads), beside the wall
  -- seconds the runner records: on a shared machine the wall time says more about the load
  summary.cpu_seconds = os.clock()
  if not cfg.kernels then return summary end

  -- the final kernel, at the last record
  if ktraj.t[#ktraj.t] ~= traj.t[n] then record_kernel(traj.t[n], traj.loss[n], net) end
  local K = ntklab.ntk(net, X, {output = "trace", workspace = ws})
  local K_end_test = ntklab.ntk(net, Xt, X, {output = "trace", workspace = ws_test})
  local f_net = net:forward(Xt):reshape(M_test)
  local residual = y - f0_train
  local function predictor(Kt, kt)
    local kfit, ferr = ntklab.kernel_regression{K = Kt, y = residual}
    if not kfit then ctx.fail("kernel regression: " .. ferr) end
    local pred = kfit:predict(kt) + f0_test
    kfit:release()
    return pred
  end
  local pred_final = predictor(K, K_end_test)
  local pred_initial = predictor(K0, K0_test)
  local cmp_final, cmp_initial = analysis.compare(pred_final, f_net), analysis.compare(pred_initial, f_net)
  -- the net's train residual at the end, and the net continued to t = infinity under its final
  -- kernel (the completion: f_net(x) + k(x)^T K^+ (y - f_net(X)); module comment)
  local f_net_train = net:forward(X):reshape(P)
  local res_end = y - f_net_train
  local completion
  do
    local kfit, ferr = ntklab.kernel_regression{K = K, y = res_end}
    if not kfit then ctx.fail("kernel regression: " .. ferr) end
    completion = kfit:predict(K_end_test) + f_net
    kfit:release()
  end
  local cmp_completed = analysis.compare(pred_final, completion)
  ctx.timer:lap("predictors")

  -- the kernel's direction at the NTK records (a second pass over the kept parameters)
  dir:finish(net)
  local dtr = dir.trajectory
  ktraj.direction = dtr.direction
  ktraj.alignment, ktraj.alignment_centered, ktraj.kernel_norm = dtr.alignment, dtr.alignment_centered, dtr.kernel_norm
  local readouts = analysis.readouts(ktraj)
  local verdict = analysis.verdict(readouts, {final_ntk = cmp_final, initial_ntk = cmp_initial})
  local centered = {t = ktraj.t, alignment = ktraj.alignment_centered}
  local t_calign90, calign_msg = analysis.t_align90(centered)
  local c_informative = analysis.informative(centered)
  local function early(t)
    if not t then return nil end
    local row = dir:predictor_at(t)
    return row and {t = row.t, fraction = row.fraction, rel_err = row.rel_err, corr = row.corr,
      test_direction = row.test_direction} or nil
  end
  local early_dir90, early_kernel10 = early(readouts.dir90), early(readouts.kernel10)
  ctx.timer:lap("direction")

  local kcols, dcols = {"t", "loss", "alignment", "alignment_centered", "kernel_norm"}, {}
  for c = 3, #dir.columns do
    local name = dir.columns[c]
    local stat = name == "kernel_norm" or name == "alignment" or name == "alignment_centered"
    if not stat then dcols[#dcols + 1] = name; kcols[#kcols + 1] = name end
  end
  local krows = {}
  for i = 1, #ktraj.t do
    local row = {ktraj.t[i], ktraj.loss[i], ktraj.alignment[i], ktraj.alignment_centered[i], ktraj.kernel_norm[i]}
    for _, name in ipairs(dcols) do row[#row + 1] = dtr[name][i] end
    krows[i] = row
  end
  ctx.write_csv("trajectory.csv", kcols, krows)
  local prow = {}
  local yt_t, fn, pf, pi = yt:totable(), f_net:totable(), pred_final:totable(), pred_initial:totable()
  local fc = completion:totable()
  for i = 1, M_test do prow[i] = {yt_t[i], fn[i], pf[i], pi[i], fc[i]} end
  ctx.write_csv("predictions.csv", {"target", "net", "final_ntk", "initial_ntk", "net_completed"}, prow)

  local function test_error(f)
    local wrong = 0
    for i = 1, M_test do if (f[i] >= 0) ~= (yt_t[i] >= 0) then wrong = wrong + 1 end end
    return wrong / M_test
  end
  local nk = #ktraj.t
  summary.final_ntk_rel_err, summary.final_ntk_corr = cmp_final.rel_err, cmp_final.corr
  summary.initial_ntk_rel_err, summary.initial_ntk_corr = cmp_initial.rel_err, cmp_initial.corr
  summary.initial_over_final = cmp_initial.rel_err / cmp_final.rel_err
  summary.train_rel_residual = res_end:norm() / y:norm()
  summary.final_ntk_rel_err_completed = cmp_completed.rel_err
  summary.initial_ntk_rel_err_completed = analysis.compare(pred_initial, completion).rel_err
  summary.completion_rel_change = analysis.compare(f_net, completion).rel_err
  summary.test_error_net, summary.test_error_final_ntk, summary.test_error_initial_ntk =
    test_error(fn), test_error(pf), test_error(pi)
  summary.t_dir90, summary.t_align90, summary.t_kernel10 = readouts.dir90, readouts.align90, readouts.kernel10
  summary.t_align90_centered = t_calign90
  summary.t_half_kernel_records = readouts.half_loss
  summary.informative = {align90 = readouts.informative.reasons.align90, dir90 = readouts.informative.reasons.dir90,
    align90_centered = c_informative.reasons.align90}
  summary.readout_messages = {dir90 = readouts.messages.dir90, align90 = readouts.messages.align90,
    align90_centered = calign_msg}
  summary.silent = verdict.silent
  summary.verdict_rule, summary.verdict_reason_text = verdict.rule, verdict.reason
  -- the old timing rule, with the uncentered and the centered alignment, for comparison
  summary.align_first = readouts.align90 ~= nil and readouts.kernel10 ~= nil and readouts.align90 < readouts.kernel10
  summary.align_first_centered = t_calign90 ~= nil and readouts.kernel10 ~= nil and t_calign90 < readouts.kernel10
  summary.early_predictor_at_dir90, summary.early_predictor_at_kernel10 = early_dir90, early_kernel10
  summary.direction_initial = dtr.direction[1]
  -- how much of its way c(t) had made by t_kernel10, and the most it made while the loss was
  -- still within 2% of its start (the silent part, whether or not t_dir90 comes in time)
  local c0 = dtr.direction[1]
  if readouts.kernel10 then
    local c_k10 = at_time(ktraj.t, dtr.direction, readouts.kernel10)
    summary.direction_at_kernel10, summary.direction_share_at_kernel10 = c_k10, (c_k10 - c0) / (1 - c0)
  end
  local best, best_t = c0, 0
  for i = 1, nk do
    if ktraj.loss[i] < 0.98 * ktraj.loss[1] then break end
    if dtr.direction[i] > best then best, best_t = dtr.direction[i], ktraj.t[i] end
  end
  summary.direction_silent_max = {direction = best, share = (best - c0) / (1 - c0), t = best_t}
  summary.alignment_initial, summary.alignment_final = ktraj.alignment[1], ktraj.alignment[nk]
  summary.alignment_centered_initial, summary.alignment_centered_final = ktraj.alignment_centered[1], ktraj.alignment_centered[nk]
  summary.kernel_norm_initial, summary.kernel_norm_final = ktraj.kernel_norm[1], ktraj.kernel_norm[nk]
  summary.kernel_records = nk
  summary.cpu_seconds = os.clock()
  return summary
end

function M.verdict(summary)
  if not summary.converged then return "not converged", ("loss %.3g at t = %.3g"):format(summary.loss_final, summary.t_end) end
  if summary.silent == nil then return "converged", ("t_half %.4g"):format(summary.t_half) end
  return summary.silent and "silent alignment" or "no silent alignment", summary.verdict_reason_text
end

return M
