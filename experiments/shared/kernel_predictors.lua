--- Kernel regression against a trained net, from a recorder's kernels: the part that
-- experiments/partial_whitening.lua and wide_resnet.lua share (silent_alignment keeps its own,
-- which also reports each fit). Loaded with dofile from this folder, as experiments/panels.
--   kp.test_error(f, y)                  classification error of f against +-1 labels y
--   kp.predictor(rec, y, y_test, die)    predictor(K, k) -> pred, cmp: f0(x) + k(x)^T K^+ (y - f0(X)),
--                                        ridgeless, on the test points, compared with the net's test
--                                        outputs (analysis.compare, and its test_error); and f_net
--   kp.write_predictions(ctx, y_test, f_net, final, initial [, adam])  predictions.csv
--   kp.final(traj, f_net, y_test, stop_loss)  the summary's `final`: the last record's t, step,
--                                        losses, test error, |K|_F and whether the loss got below stop
local ntklab = require "ntklab"
local analysis = ntklab.analysis

local kp = {}

function kp.test_error(f, y)
  local ft, yt = f:totable(), y:totable()
  local wrong = 0
  for i = 1, #yt do if (ft[i] >= 0) ~= (yt[i] >= 0) then wrong = wrong + 1 end end
  return wrong / #yt
end

function kp.predictor(rec, y, y_test, die)
  local P, M = y:size(1), y_test:size(1)
  local f_net = rec.f_end_test:reshape(M)
  local f0_test = rec.f0_test:reshape(M)
  local residual = y - rec.f0_train:reshape(P)
  local function predictor(K, k)
    local fit, msg = ntklab.kernel_regression{K = K, y = residual}
    if not fit then die("kernel regression: " .. msg) end
    local pred = fit:predict(k) + f0_test
    fit:release()
    local cmp = analysis.compare(pred, f_net)
    cmp.test_error = kp.test_error(pred, y_test)
    return pred, cmp
  end
  return predictor, f_net
end

function kp.write_predictions(ctx, y_test, f_net, pred_final, pred_initial, pred_adam)
  local cols = {"index", "target", "net", "final_ntk", "initial_ntk"}
  if pred_adam then cols[#cols + 1] = "adam_kernel" end
  local yt, fn, pf, pi = y_test:totable(), f_net:totable(), pred_final:totable(), pred_initial:totable()
  local pa = pred_adam and pred_adam:totable()
  local rows = {}
  for i = 1, #yt do rows[i] = {i, yt[i], fn[i], pf[i], pi[i], pa and pa[i] or nil} end
  ctx.write_csv("predictions.csv", cols, rows)
end

function kp.final(traj, f_net, y_test, stop_loss)
  local n = #traj.t
  return {t = traj.t[n], step = traj.step[n], train_loss = traj.loss[n],
    test_loss = traj.test_loss[n], test_error = kp.test_error(f_net, y_test),
    reached_stop_loss = traj.loss[n] < stop_loss, kernel_norm = traj.kernel_norm[n],
    kernel_norm_initial = traj.kernel_norm[1]}
end

return kp
