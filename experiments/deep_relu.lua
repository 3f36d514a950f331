-- deep_relu.lua: the paper's Appendix E.2 (Figure E.2), one run. A ReLU MLP of hidden width 100
-- and depth L from scale sigma on whitened two-class images (CIFAR-10 classes 0/1 when its files
-- are present, else Fashion-MNIST classes 0/1; P = 3000 training points, test points from the
-- test split), trained by rk45 gradient flow until the loss has fallen by stop_ratio.
-- The loss is recorded at times that follow the dynamics (ntklab.record_schedule: t_1/2 is read
-- off them by cubic interpolation); the train NTK (|K|_F, alignment) only at kernel_records
-- log-spaced times and at the end (each costs a P x P kernel). With kernels = true it also
-- compares, on the test points, the trained net with kernel regression with the final NTK and
-- with the initial NTK, f0(x) + k(x)^T K^+ (y - f0(X)) (ridgeless; as silent_alignment.lua),
-- and reads off the silent-alignment times (ntklab.analysis: t_align90, t_kernel10).
-- kernels = false records the loss alone: the cheap runs of the t_1/2-against-sigma sweep.
local ntklab = require "ntklab"
local preprocess = require "ntklab.preprocess"
local analysis = require "ntklab.analysis"
local curves = require "ntklab.curves"
local record_schedule = require "ntklab.record_schedule"
local image_data = require "ntklab.image_data"

local M = {
  name = "deep_relu",
  summary = "ReLU MLP (width 100, depth L) from small init on whitened two-class images: t_1/2 "
    .. "against sigma, silent alignment, net vs final- and initial-NTK regression (paper Appendix E.2)",
  options = {
    {name = "depth", type = "integer", default = 3, min = 2, max = 12, help = "number of weight layers L"},
    {name = "sigma", type = "number", default = 0.1, min = 0, help = "initialization scale"},
    {name = "width", type = "integer", default = 100, min = 1, help = "hidden width"},
    {name = "P", type = "integer", default = 3000, min = 2, help = "training points"},
    {name = "test", type = "integer", default = 1000, min = 1, help = "test points (from the test split)"},
    {name = "dataset", type = "choice", choices = {"auto", "cifar10", "fashion_mnist"}, default = "auto",
      help = "auto: CIFAR-10 classes 0/1 when its files are present, else Fashion-MNIST 0/1"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "whitening keeps singular values above cutoff x the largest"},
    {name = "kernels", type = "boolean", default = true,
      help = "record the NTK and compare the net with kernel regression (false: loss only)"},
    {name = "kernel_records", type = "integer", default = 8, min = 1, help = "NTK records per decade of t"},
    {name = "rtol", type = "number", default = 1e-3, min = 0,
      help = "rk45 relative tolerance (absolute: rtol x sigma / 100)"},
    {name = "t_min", type = "number", default = 1e-2, min = 0, help = "first record time after 0"},
    {name = "t_max", type = "number", default = 1e7, min = 0, help = "give up at this time"},
    {name = "per_decade", type = "integer", default = 10, min = 1, help = "loss records per decade at least"},
    {name = "max_change", type = "number", default = 0.05, min = 0,
      help = "at most about this change of log loss per loss record"},
    {name = "stop_ratio", type = "number", default = 1e-3, min = 0, max = 1,
      help = "stop once the train loss is below this fraction of its initial value"},
    {name = "seed", type = "integer", default = 1, help = "seed of the image draw and the init"},
  },
}

function M.run(cfg, ctx)
  if not (cfg.t_max > cfg.t_min and cfg.t_min > 0) then ctx.fail("need 0 < t_min < t_max") end
  if not (cfg.sigma > 0) then ctx.fail("need sigma > 0") end
  local L = cfg.depth
  local ds, err = image_data.two_class(cfg.dataset, {train = cfg.P, test = cfg.test, seed = cfg.seed})
  if not ds then ctx.fail(err) end
  local pp
  pp, err = preprocess.fit(ds.X_train, {gamma = 0, rcond = cfg.cutoff > 0 and cfg.cutoff or nil})
  if not pp then ctx.fail(err) end
  local X, Xt = pp:transform(ds.X_train), pp:transform(ds.X_test)
  local y, yt = ds.y_train, ds.y_test
  local P, D, M_test = X:size(1), X:size(2), Xt:size(1)
  ctx.timer:lap("data")
  local widths = {D}
  for _ = 1, L - 1 do widths[#widths + 1] = cfg.width end
  widths[#widths + 1] = 1
  local net = ntklab.mlp{widths = widths, activation = "relu", sigma = cfg.sigma, seed = cfg.seed}
  local flow = ntklab.train.flow{method = "rk45", rtol = cfg.rtol, atol = cfg.rtol * cfg.sigma * 1e-2}

  -- kernel bookkeeping: K0, K0_test and the outputs at t = 0; the last train kernel
  local ws, ws_test = ntklab.kernel_workspace(), ntklab.kernel_workspace()
  local K = cfg.kernels and ntklab.zeros(P, P) or nil
  local K0, K0_test, f0_train, f0_test
  local ktraj = {t = {}, loss = {}, alignment = {}, kernel_norm = {}}
  local traj = {t = {}, loss = {}}
  local kernel_growth = 10 ^ (1 / cfg.kernel_records)
  local next_kernel_t = cfg.t_min
  local kernel_seconds = 0
  local function record_kernel(t, loss, nt)
    local started = ctx.clock()
    ntklab.ntk(nt, X, {output = "trace", workspace = ws, out = K})
    local i = #ktraj.t + 1
    ktraj.t[i], ktraj.loss[i] = t, loss
    ktraj.alignment[i] = ntklab.alignment(K, y)
    ktraj.kernel_norm[i] = K:norm()
    kernel_seconds = kernel_seconds + (ctx.clock() - started)
  end
  local loss0 = net:loss(X, y)
  local progress = ctx.progress{total = math.ceil(math.log(cfg.t_max / cfg.t_min, 10)),
    label = ("deep_relu L=%d sigma=%g"):format(L, cfg.sigma)}
  local ok, msg = pcall(record_schedule.run, {trainer = flow, net = net, X = X, y = y,
    t_min = cfg.t_min, t_max = cfg.t_max, per_decade = cfg.per_decade, max_change = cfg.max_change,
    observe = function(t, loss, nt)
      traj.t[#traj.t + 1], traj.loss[#traj.loss + 1] = t, loss
      if cfg.kernels then
        if t == 0 then
          record_kernel(t, loss, nt)
          K0 = K:clone()
          K0_test = ntklab.ntk(nt, Xt, X, {output = "trace", workspace = ws_test})
          f0_train, f0_test = nt:forward(X):reshape(P), nt:forward(Xt):reshape(M_test)
        elseif t >= next_kernel_t then
          record_kernel(t, loss, nt)
          while next_kernel_t <= t do next_kernel_t = next_kernel_t * kernel_growth end
        end
      end
      return {math.log(loss)}
    end,
    stop = function(_, loss) return loss <= cfg.stop_ratio * loss0 end,
    progress = function(_, t, loss)
      progress:update(math.max(0, math.floor(math.log(t / cfg.t_min, 10)) + 1), ("t %.3g loss %.3g"):format(t, loss))
    end})
  progress:finish()
  if not ok then ctx.fail("training failed at t = " .. tostring(flow.t) .. ": " .. tostring(msg)) end
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
    data = {dataset = ds.name, P = P, D = D, rank = pp.rank, test = M_test, cutoff = cfg.cutoff,
      source = ds.source_summary},
    depth = L, sigma = cfg.sigma, seed = cfg.seed, width = cfg.width, kernels = cfg.kernels,
    converged = converged, t_end = traj.t[n], steps = flow.steps, gradient_evals = flow.evals,
    records = n, loss_initial = loss0, loss_final = traj.loss[n],
    t_half = t_half,
  }
  if not cfg.kernels then return summary end

  -- the final kernel, at the last record
  if ktraj.t[#ktraj.t] ~= traj.t[n] then record_kernel(traj.t[n], traj.loss[n], net) end
  local K_end_test = ntklab.ntk(net, Xt, X, {output = "trace", workspace = ws_test})
  local f_net = net:forward(Xt):reshape(M_test)
  local residual = y - f0_train
  local function predictor(Kt, kt)
    local fit, ferr = ntklab.kernel_regression{K = Kt, y = residual}
    if not fit then ctx.fail("kernel regression: " .. ferr) end
    local pred = fit:predict(kt) + f0_test
    fit:release()
    return pred
  end
  local pred_final = predictor(K, K_end_test)
  local pred_initial = predictor(K0, K0_test)
  local cmp_final, cmp_initial = analysis.compare(pred_final, f_net), analysis.compare(pred_initial, f_net)
  local readouts = analysis.readouts(ktraj)
  local verdict = analysis.verdict(readouts, {final_ntk = cmp_final, initial_ntk = cmp_initial})
  ctx.timer:lap("predictors")

  local krows = {}
  for i = 1, #ktraj.t do krows[i] = {ktraj.t[i], ktraj.loss[i], ktraj.alignment[i], ktraj.kernel_norm[i]} end
  ctx.write_csv("trajectory.csv", {"t", "loss", "alignment", "kernel_norm"}, krows)
  local prow = {}
  local yt_t, fn, pf, pi = yt:totable(), f_net:totable(), pred_final:totable(), pred_initial:totable()
  for i = 1, M_test do prow[i] = {yt_t[i], fn[i], pf[i], pi[i]} end
  ctx.write_csv("predictions.csv", {"target", "net", "final_ntk", "initial_ntk"}, prow)

  local function test_error(f)
    local wrong = 0
    for i = 1, M_test do if (f[i] >= 0) ~= (yt_t[i] >= 0) then wrong = wrong + 1 end end
    return wrong / M_test
  end
  local nk = #ktraj.t
  summary.final_ntk_rel_err, summary.final_ntk_corr = cmp_final.rel_err, cmp_final.corr
  summary.initial_ntk_rel_err, summary.initial_ntk_corr = cmp_initial.rel_err, cmp_initial.corr
  summary.initial_over_final = cmp_initial.rel_err / cmp_final.rel_err
  summary.test_error_net, summary.test_error_final_ntk, summary.test_error_initial_ntk =
    test_error(fn), test_error(pf), test_error(pi)
  summary.t_align90, summary.t_kernel10 = readouts.align90, readouts.kernel10
  summary.t_half_kernel_records = readouts.half_loss
  summary.silent = verdict.silent
  summary.verdict_rule, summary.verdict_reason_text = verdict.rule, verdict.reason
  summary.alignment_initial, summary.alignment_final = ktraj.alignment[1], ktraj.alignment[nk]
  summary.kernel_norm_initial, summary.kernel_norm_final = ktraj.kernel_norm[1], ktraj.kernel_norm[nk]
  summary.kernel_records = nk
  return summary
end

function M.verdict(summary)
  if not summary.converged then return "not converged", ("loss %.3g at t = %.3g"):format(summary.loss_final, summary.t_end) end
  if summary.silent == nil then return "converged", ("t_half %.4g"):format(summary.t_half) end
  return summary.silent and "silent alignment" or "no silent alignment", summary.verdict_reason_text
end

return M
