-- final_ntk.lua: the paper's Appendix E.3 (Figure E.3), one run. A deep linear net (depth L,
-- hidden width N) from small init on P = 100 partially whitened images (gamma = 0.25: covariance
-- eigenvalues lambda_k -> lambda_k^gamma; CIFAR-10 classes 0/1 when its files are present, else
-- Fashion-MNIST classes 0/1), targets +-1, trained by rk45 gradient flow to a tiny loss.
-- Records the loss, the NTK's kernel-target alignment and |K|_F over time, then compares the
-- final NTK on the training set with theory (NOTES.md, Eq. 63, any input covariance):
--   K_inf = s^{2-2/L} X[(L-1) beta beta^T + I]X^T,  beta s = beta* = X^+ y (the minimum-norm
--   interpolator, which linear nets learn from small init; Appendix G),
-- which, since X beta* = y, is s^{-2/L} (L-1) y y^T + s^{2-2/L} X X^T: the picture
-- "(L-1) y y^T + K_0" of Figure E.3b. Relative Frobenius error |K - K_inf|_F / |K_inf|_F; the same
-- with beta taken from the net's own map v = W^L ... W^1 isolates the kernel formula from how
-- far training got. Writes trajectory.csv and, ordered by class, kernels_initial.csv,
-- kernels_final.csv and kernels_theory.csv (P x P, for the heat maps of the figure script).
local ntklab = require "ntklab"
local theory = ntklab.theory
local deep_linear = require "ntklab.deep_linear"
local record_schedule = require "ntklab.record_schedule"
local image_data = require "ntklab.image_data"

local M = {
  name = "final_ntk",
  summary = "Deep linear net on partially whitened images: alignment dynamics and the final NTK "
    .. "against s^{2-2/L} x^T[(L-1)beta beta^T + I]x' (paper Appendix E.3)",
  options = record_schedule.options({
    {name = "depth", type = "integer", default = 3, min = 2, max = 12, help = "number of weight layers L"},
    {name = "sigma", type = "number", default = 1e-2, min = 0, help = "initialization scale"},
    {name = "width", type = "integer", default = 100, min = 1, help = "hidden width N"},
    {name = "P", type = "integer", default = 100, min = 2, help = "training images"},
    {name = "gamma", type = "number", default = 0.25, min = 0, max = 1, help = "partial whitening exponent"},
    {name = "dataset", type = "choice", choices = {"auto", "cifar10", "fashion_mnist"}, default = "auto",
      help = "auto: CIFAR-10 classes 0/1 when its files are present, else Fashion-MNIST 0/1"},
    {name = "rtol", type = "number", default = 1e-8, min = 0, help = "rk45 relative tolerance (absolute: rtol x sigma^L)"},
    {name = "seed", type = "integer", default = 1, help = "seed of the image draw and the init"},
  }, {max_change = {help = "at most about this change of log loss, the alignment and log |K|_F per record"}}),
}

-- Relative singular-value cutoff of the pseudo-inverses (see beta* below).
local RCOND = 1e-10

-- Rows of the P x P matrix K (a tensor) in the given order, as CSV rows.
local function ordered_rows(K, order)
  local rows = {}
  for a, i in ipairs(order) do
    local row = {}
    for b, j in ipairs(order) do row[b] = K:get(i, j) end
    rows[a] = row
  end
  return rows
end

local function frobenius_rel(K, Kt)
  local num, den = 0, 0
  for i = 1, #Kt do
    for j = 1, #Kt do
      local d = K:get(i, j) - Kt[i][j]
      num, den = num + d * d, den + Kt[i][j] ^ 2
    end
  end
  return math.sqrt(num / den)
end

function M.run(cfg, ctx)
  local bad_times = record_schedule.check_times(cfg)
  if bad_times then ctx.fail(bad_times) end
  if not (cfg.sigma > 0) then ctx.fail("need sigma > 0") end
  local L = cfg.depth
  local ds, err = image_data.two_class(cfg.dataset, {train = cfg.P, test = 0, seed = cfg.seed})
  if not ds then ctx.fail(err) end
  local pp
  pp, err = ntklab.preprocess.fit(ds.X_train, {gamma = cfg.gamma})
  if not pp then ctx.fail(err) end
  local X, y = pp:transform(ds.X_train), ds.y_train
  local P, D = X:size(1), X:size(2)
  local widths = {D}
  for _ = 1, L - 1 do widths[#widths + 1] = cfg.width end
  widths[#widths + 1] = 1
  local net = ntklab.mlp{widths = widths, activation = "linear", sigma = cfg.sigma, seed = cfg.seed}
  local flow = ntklab.train.flow{method = "rk45", rtol = cfg.rtol, atol = cfg.rtol * cfg.sigma ^ L}
  local ws = ntklab.kernel_workspace()
  local K = ntklab.zeros(P, P)
  local traj = {t = {}, loss = {}, alignment = {}, alignment_centered = {}, kernel_norm = {}}
  local K0
  local loss0 = net:loss(X, y)
  record_schedule.run_experiment(ctx, cfg, {trainer = flow, net = net, X = X, y = y, loss0 = loss0,
    label = ("final_ntk L=%d sigma=%g"):format(L, cfg.sigma),
    observe = function(t, loss, nt)
      ntklab.ntk(nt, X, {output = "trace", workspace = ws, out = K})
      if not K0 then K0 = K:clone() end
      local i = #traj.t + 1
      traj.t[i], traj.loss[i] = t, loss
      traj.alignment[i] = ntklab.alignment(K, y)
      traj.alignment_centered[i] = ntklab.alignment(K, y, {centered = true})
      traj.kernel_norm[i] = K:norm()
      return {math.log(loss), traj.alignment[i], math.log(traj.kernel_norm[i])}
    end})
  ctx.timer:lap("train")
  local n = #traj.t
  local converged = traj.loss[n] <= cfg.stop_ratio * loss0

  -- theory: beta* = X^+ y (minimum norm), s = |beta*|. Centering leaves X with rank P - 1 (and
  -- one singular value at rounding level): a relative cutoff of 1e-10 keeps it out of X^+.
  local bstar = ntklab.linalg.lstsq(X, y:reshape(P, 1), RCOND):reshape(D)
  local s = bstar:norm()
  local K_theory = theory.final_ntk_gram(s, L, bstar, X)
  local v = deep_linear.end_to_end(net)
  local K_own = theory.final_ntk_gram(v:norm(), L, v, X)
  local rel_err = frobenius_rel(K, K_theory)
  local rel_err_own = frobenius_rel(K, K_own)
  local rel_err_initial = frobenius_rel(K0, K_theory)
  -- the initial kernel rescaled to the final one's size: how different its shape is
  local Kn = K0 * (traj.kernel_norm[n] / traj.kernel_norm[1])
  local rel_err_initial_shape = frobenius_rel(Kn, K_theory)
  -- the net's map on the data span (X^+ X v) against beta*, and its part outside the span
  -- (the init's W^1 there is never trained: O(sigma), it does not enter the train kernel's
  -- beta-terms but adds to |v|)
  local v_span = ntklab.linalg.lstsq(X, ntklab.matmul(X, v):reshape(P, 1), RCOND):reshape(D)
  local map_rel_err = (v_span - bstar):norm() / s
  local null_rel = (v - v_span):norm() / s

  local rows = {}
  for i = 1, n do
    rows[i] = {traj.t[i], traj.loss[i], traj.alignment[i], traj.alignment_centered[i], traj.kernel_norm[i]}
  end
  ctx.write_csv("trajectory.csv", {"t", "loss", "alignment", "alignment_centered", "kernel_norm"}, rows)
  -- class order for the heat maps: the first class's points, then the second's
  local labels = ds.labels_train:totable()
  local order = {}
  for i = 1, P do order[i] = i end
  table.sort(order, function(a, b)
    if labels[a] ~= labels[b] then return labels[a] < labels[b] end
    return a < b
  end)
  local cols = {}
  for j = 1, P do cols[j] = "k" .. j end
  ctx.write_csv("kernels_initial.csv", cols, ordered_rows(K0, order))
  ctx.write_csv("kernels_final.csv", cols, ordered_rows(K, order))
  ctx.write_csv("kernels_theory.csv", cols, ordered_rows(ntklab.tensor(K_theory), order))
  local sorted_labels = {}
  for a, i in ipairs(order) do sorted_labels[a] = {labels[i]} end
  ctx.write_csv("kernel_labels.csv", {"label"}, sorted_labels)

  return {
    dataset = ds.description,
    data = {dataset = ds.name, P = P, D = D, rank = pp.rank, gamma = cfg.gamma, source = ds.source_summary},
    depth = L, sigma = cfg.sigma, seed = cfg.seed, width = cfg.width,
    converged = converged, t_end = traj.t[n], steps = flow.steps, records = n,
    loss_initial = loss0, loss_final = traj.loss[n],
    s = s,
    final_ntk_rel_err = rel_err,
    final_ntk_rel_err_own_beta = rel_err_own,
    initial_ntk_rel_err = rel_err_initial,
    initial_ntk_shape_rel_err = rel_err_initial_shape,
    map_rel_err = map_rel_err, map_null_space_rel = null_rel,
    alignment_initial = traj.alignment[1], alignment_final = traj.alignment[n],
    alignment_theory = ntklab.alignment(ntklab.tensor(K_theory), y),
    alignment_centered_final = traj.alignment_centered[n],
    kernel_norm_initial = traj.kernel_norm[1], kernel_norm_final = traj.kernel_norm[n],
  }
end

function M.verdict(summary)
  if not summary.converged then return "not converged", ("loss %.3g at t = %.3g"):format(summary.loss_final, summary.t_end) end
  return summary.final_ntk_rel_err <= 0.05 and "final NTK matches theory" or "final NTK off theory",
    ("rel Frobenius error %.4f (initial NTK, rescaled: %.3f)"):format(summary.final_ntk_rel_err, summary.initial_ntk_shape_rel_err)
end

return M
