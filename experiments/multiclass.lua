-- multiclass.lua: the paper's Figure H.1, mode-by-mode learning with C outputs. A depth-L net
-- (linear or tanh) from small init (sigma^L = 1e-4 by default) trained by gradient flow on
--   "teacher": a linear teacher beta = sum_a s_a z_a v_a^T with well-separated singular values on
--              exactly whitened Gaussian inputs, so that each mode can be read off;
--   "mnist":   whitened MNIST, 10 classes, one-hot targets; the task's modes are those of its
--              least-squares map beta* = Y^T X / P (X whitened: X^T X / P = I on its span).
-- Recorded against t: the loss, the alignment of the traced NTK with Y Y^T (uncentered; beside
-- the alignment of the linear theory's final traced NTK, theory.final_ntk_multi), and each mode's
-- strength c_a = z_a^T (F^T X / P) v_a, F = f(X) (for a linear net z_a^T M v_a; a mode is
-- learned when c_a = s_a). Its learning time is when c_a first reaches s_a / 2; the theory's
-- is theory.mode_times: for L = 2 from the initial weights' c0_a (theory.mode_c0; a tanh net
-- starts linear), for L > 2 from one start c0 fitted to the first mode's measured time.
-- Run: build/bin/ntklab run experiments/multiclass.lua [--depth 3 --activation tanh ...];
-- sweep: build/bin/ntklab sweep experiments/multiclass.lua --grid depth=2,3,4 --seeds 1-2;
-- figure: build/bin/ntklab experiments/figures/multiclass.lua RUN_OR_SWEEP_DIR.
-- Writes config.json, trajectory.csv (t, loss, alignment, c_1..c_m), modes.csv and summary.json.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local preprocess = require "ntklab.preprocess"
local theory = ntklab.theory

local experiment = {
  name = "multiclass",
  summary = "C outputs from small init: each singular mode of the task learned at its own time, "
    .. "after the kernel aligned (paper Figure H.1).",
  options = {
    {name = "dataset", type = "choice", choices = {"teacher", "mnist"}, default = "teacher",
      help = "whitened linear teacher with separated modes, or whitened 10-class MNIST"},
    {name = "depth", type = "integer", default = 2, min = 2, max = 8, help = "weight layers L"},
    {name = "activation", type = "choice", choices = {"linear", "tanh"}, default = "linear",
      help = "hidden activation"},
    {name = "sigma", type = "number", min = 0, help = "init scale (default: sigma^L = 1e-4)"},
    {name = "width", type = "integer", default = 50, min = 1, max = 100000, help = "hidden width N"},
    {name = "P", type = "integer", help = "training set size (default 100 teacher, 1000 mnist)", min = 2, max = 60000},
    {name = "D", type = "integer", default = 30, min = 1, max = 10000, help = "input dimension (teacher)"},
    {name = "C", type = "integer", default = 5, min = 2, max = 100, help = "outputs (teacher)"},
    {name = "s", type = "string", default = "4,2,1,0.5,0.25", help = "teacher singular values (comma-separated)"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "mnist whitening cutoff (relative singular value)"},
    {name = "records", type = "integer", default = 300, min = 10, max = 100000, help = "records, uniform in t"},
    {name = "t_factor", type = "number", default = 2, min = 1, max = 100,
      help = "train until t_factor x the theory's time of the slowest mode"},
    {name = "rtol", type = "number", default = 1e-7, min = 0, help = "rk45 relative tolerance"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data and the init"},
  },
  columns = {"depth", "activation", "sigma", "max_rel_time_error", "order_ok", "final_alignment",
             "final_alignment_theory"},
}

-- The first time at which series v (over times t) reaches level (linear interpolation), or nil.
local function crossing(t, v, level)
  for i = 2, #t do
    if v[i] >= level and v[i - 1] < level then
      return t[i - 1] + (level - v[i - 1]) / (v[i] - v[i - 1]) * (t[i] - t[i - 1])
    end
  end
end

-- The start c0 with theory.t_half(s, L, c0) = t (bisection in log c0; t_half falls as c0 grows).
local function fit_c0(s, L, t)
  local lo, hi = math.log(1e-300), math.log(s * 0.49)
  for _ = 1, 200 do
    local mid = 0.5 * (lo + hi)
    if theory.t_half(s, L, math.exp(mid)) > t then lo = mid else hi = mid end
  end
  return math.exp(0.5 * (lo + hi))
end

function experiment.run(opts, ctx)
  local die = ctx.fail
  local L = opts.depth
  local sigma = opts.sigma or 10 ^ (-4 / L)
  if not (sigma > 0) then die("option 'sigma': positive number expected, got " .. tostring(sigma)) end

  -- ----- data ------------------------------------------------------------------------------------
  local X, Y, beta
  if opts.dataset == "teacher" then
    local s = {}
    for v in opts.s:gmatch("[^,]+") do
      local x = tonumber(v)
      if not x or not (x > 0) then die("option 's': positive singular values expected, got '" .. v .. "'") end
      s[#s + 1] = x
    end
    if #s > math.min(opts.C, opts.D) then die(("option 's': at most min(C, D) = %d values"):format(math.min(opts.C, opts.D))) end
    local ds, err = data.teacher{P = opts.P or 100, D = opts.D, C = opts.C, s = s, seed = opts.seed, whiten = true}
    if not ds then die(err) end
    X, Y, beta = ds.X_train, ds.y_train, ds.beta
  else
    local classes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
    local ds, err = data.mnist{classes = classes, train = opts.P or 1000, seed = opts.seed}
    if not ds then die(err .. "\n(run scripts/fetch-data mnist first)") end
    local pp
    pp, err = preprocess.fit(ds.X_train, {gamma = 0, rcond = opts.cutoff})
    if not pp then die(err) end
    X, Y = pp:transform(ds.X_train), ds.y_train
    beta = ntklab.matmul(Y:t(), X) / X:size(1) -- least-squares map on whitened inputs
  end
  local P, D, C = X:size(1), X:size(2), Y:size(2)
  local modes = theory.teacher_modes(beta)
  local m = #modes.s

  -- ----- net and times ---------------------------------------------------------------------------
  local widths = {D}
  for _ = 1, L - 1 do widths[#widths + 1] = opts.width end
  widths[#widths + 1] = C
  local net = ntklab.mlp{widths = widths, activation = opts.activation, sigma = sigma, seed = opts.seed}
  local c0_modes = L == 2 and theory.mode_c0(net:weight(1), net:weight(2), beta) or nil
  -- the horizon: the slowest mode's theory time at the nominal start c0 = sigma^L (for L = 2 the
  -- measured starts), times t_factor
  local c0_guess = {}
  for a = 1, m do c0_guess[a] = c0_modes and c0_modes[a] or math.min(sigma ^ L, 0.1 * modes.s[a]) end
  local t_guess = theory.mode_times(modes.s, L, c0_guess)
  local T = opts.t_factor * t_guess[m]
  local times = {}
  for i = 0, opts.records - 1 do times[#times + 1] = T * i / (opts.records - 1) end

  local traj = {t = {}, loss = {}, alignment = {}}
  local columns = {"t", "loss", "alignment"}
  for a = 1, m do
    traj["c_" .. a] = {}
    columns[#columns + 1] = "c_" .. a
  end
  local progress = ctx.progress{total = #times} -- counts records (t itself would print unrounded)
  local flow = ntklab.train.flow{method = "rk45", rtol = opts.rtol, atol = opts.rtol * sigma ^ L}
  local final_loss, ferr = flow:run(net, X, Y, {t = T, observe = times,
    observer = function(t, _, loss, nt)
      local F = nt:forward(X)
      local map = ntklab.matmul(F:t(), X) / P
      local c = theory.mode_strengths(map, beta)
      local K = ntklab.ntk(nt, X, {output = "trace"})
      local i = #traj.t + 1
      traj.t[i], traj.loss[i], traj.alignment[i] = t, loss, ntklab.alignment(K, Y)
      for a = 1, m do traj["c_" .. a][i] = c[a] end
      progress:update(i, {t = t, loss = loss})
    end})
  progress:finish()
  if final_loss == nil then die(ferr) end
  ctx.timer:lap("train")

  -- ----- readouts --------------------------------------------------------------------------------
  local measured, theory_t, rel = {}, {}, {}
  for a = 1, m do measured[a] = crossing(traj.t, traj["c_" .. a], modes.s[a] / 2) end
  local c0_used
  if L == 2 then
    c0_used = c0_modes
  elseif measured[1] then
    local c0 = fit_c0(modes.s[1], L, measured[1])
    c0_used = {}
    for a = 1, m do c0_used[a] = c0 end
  end
  if c0_used then theory_t = theory.mode_times(modes.s, L, c0_used) end
  local max_rel, order_ok = 0, true
  for a = 1, m do
    if measured[a] and theory_t[a] then
      rel[a] = measured[a] / theory_t[a] - 1
      -- with L > 2 mode 1 is the fit: it carries no information
      if L == 2 or a > 1 then max_rel = math.max(max_rel, math.abs(rel[a])) end
    else
      max_rel = math.huge
    end
    if a > 1 and not (measured[a] and measured[a - 1] and measured[a] > measured[a - 1]) then order_ok = false end
  end
  local mode_rows = {}
  for a = 1, m do
    mode_rows[a] = {a, modes.s[a], c0_used and c0_used[a] or 0 / 0, measured[a] or 0 / 0,
      theory_t[a] or 0 / 0, rel[a] or 0 / 0}
  end
  ctx.write_csv("trajectory.csv", columns, traj)
  ctx.write_csv("modes.csv", {"mode", "s", "c0", "t_measured", "t_theory", "rel_error"}, mode_rows)
  -- The final traced NTK of the linear theory, sum_l tr[(beta beta^T)^{(L-l)/L}] X (beta^T
  -- beta)^{(l-1)/L} X^T (theory.final_ntk_multi's "trace", here with tensors: P may be large),
  -- and its alignment with the targets the net was trained on (for the teacher Y = X beta^T,
  -- theory.final_alignment_multi; for MNIST Y is not a linear map of X).
  local V = ntklab.zeros(m, D)
  for a = 1, m do for k = 1, D do V:set(a, k, modes.v[a][k]) end end
  local XV = ntklab.matmul(X, V:t())
  local Ktheory = ntklab.zeros(P, P)
  for l = 1, L do
    local po, pi, tr = (L - l) / L, (l - 1) / L, 0
    for a = 1, m do tr = tr + modes.s[a] ^ (2 * po) end
    if po == 0 then tr = C end -- the identity I_C, not the projection onto the modes
    local G
    if pi == 0 then
      G = ntklab.gram(X)
    else
      local S = ntklab.zeros(1, m)
      for a = 1, m do S:set(1, a, modes.s[a] ^ pi) end
      G = ntklab.gram(XV * S)
    end
    Ktheory:axpy_(tr, G)
  end
  local align_theory = ntklab.alignment(Ktheory, Y)

  return {
    data = {dataset = opts.dataset, P = P, D = D, C = C, modes = m, s = modes.s},
    depth = L, activation = opts.activation, sigma = sigma, width = opts.width, t_end = T,
    final_loss = final_loss,
    modes = {measured = measured, theory = theory_t, rel_error = rel, c0 = c0_used,
      c0_rule = L == 2 and "c0_a = |W2^T z_a + W1 v_a|^2 / 4 from the initial weights (theory.mode_c0)"
        or "one c0 fitted to mode 1's measured time (theory.t_half), the others predicted"},
    max_rel_time_error = max_rel,
    max_rel_time_error_rule = "max over modes of |t_measured / t_theory - 1| (L > 2: modes 2..m; "
      .. "t_measured: c_a first reaches s_a / 2)",
    order_ok = order_ok,
    final_alignment = traj.alignment[#traj.alignment],
    final_alignment_theory = align_theory,
    initial_alignment = traj.alignment[1],
  }
end

function experiment.verdict(s)
  local ok = s.max_rel_time_error <= 0.15 and s.order_ok
  return ok and "modes learned at the theory's times" or "modes off the theory's times",
    string.format("depth %d %s: max |t_a/t_theory - 1| = %.3g (goal <= 0.15), modes in order: %s; "
      .. "final alignment %.4f, theory (linear) %.4f", s.depth, s.activation, s.max_rel_time_error,
      tostring(s.order_ok), s.final_alignment, s.final_alignment_theory)
end

function experiment.report(s)
  local lines = {string.format("multiclass (%s, depth %d, %s, sigma %.3g): alignment %.4f -> %.4f (theory %.4f)",
    s.data.dataset, s.depth, s.activation, s.sigma, s.initial_alignment, s.final_alignment, s.final_alignment_theory)}
  for a = 1, s.data.modes do
    lines[#lines + 1] = string.format("  mode %d  s %-8.4g t measured %-9.4g theory %-9.4g rel %+.3g", a,
      s.data.s[a], s.modes.measured[a] or 0 / 0, s.modes.theory[a] or 0 / 0, s.modes.rel_error[a] or 0 / 0)
  end
  return table.concat(lines, "\n")
end

return experiment
