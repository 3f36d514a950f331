-- linear_two_layer.lua: the paper's Figures C.2 and C.3. A two-layer linear net f(x) = a^T W x
-- trained by gradient flow from scale sigma on whitened data, against ntklab.theory:
--   q(t) = (|a|^2 + |W beta|^2)/2 and r(t) = a^T W beta, simulated and from the r0-corrected
--   closed form (theory.q, theory.r; NOTES.md), and t_1/2 (the loss reaching half its initial
--   value) against sigma, next to (1/2s) log(s/sigma^2).
-- Data: "synthetic" = a linear teacher y = s beta.x on exactly whitened Gaussian inputs
-- (D = 25, N = 10 by default); "mnist" = whitened MNIST 0 vs 1 (D = 784, N = 100), whose
-- least-squares map beta* = X^+ y plays the teacher: on whitened data the loss is
-- |v - beta*|^2/2 + const for the end-to-end map v = W^T a, so s = |beta*| and beta = beta*/s.
-- Run: build/bin/ntklab run experiments/linear_two_layer.lua [--option value ...]; one sigma with
-- --sigma (what a sweep's --grid sigma=... sets), else every one of --sigmas.
-- Writes config.json, summary.json, trajectories.csv and loss.png, t_half.png, qr.png into --out.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local preprocess = require "ntklab.preprocess"
local theory = ntklab.theory
local plot = require "ntklab.plot"

-- Caps on the counts (issue 11, B7): P x D inputs and records x sigmas trajectory rows.
local experiment = {
  name = "linear_two_layer",
  summary = "Two-layer linear net from small init on whitened data: q(t), r(t) and t_1/2 "
    .. "against the theory (paper Figures C.2, C.3).",
  options = {
    {name = "dataset", type = "choice", choices = {"synthetic", "mnist"}, default = "synthetic",
      help = "whitened linear-teacher data, or whitened MNIST 0 vs 1"},
    {name = "P", type = "integer", default = 200, min = 2, max = 100000, help = "training set size"},
    {name = "D", type = "integer", help = "input dimension (synthetic; default 25)", min = 1, max = 100000},
    {name = "N", type = "integer", help = "hidden width (default 10 synthetic, 100 mnist)", min = 1, max = 100000},
    {name = "s", type = "number", default = 1, min = 0, help = "teacher scale (synthetic)"},
    {name = "sigmas", type = "string", default = "1e-3,3e-3,1e-2,3e-2,1e-1",
      help = "comma-separated init scales"},
    {name = "sigma", type = "number", min = 0, help = "one init scale (replaces --sigmas)"},
    {name = "cutoff", type = "number", default = 1e-2, min = 0, max = 0.999,
      help = "mnist whitening cutoff (relative singular value)"},
    {name = "rtol", type = "number", default = 1e-9, min = 0, help = "rk45 relative tolerance"},
    {name = "records", type = "integer", default = 200, min = 2, max = 100000, help = "records per run"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data and the init"},
  },
  -- the columns `ntklab sweep merge` takes from each summary by default
  columns = {"max_q_err_over_s", "max_r_err_over_s", "qr_within_1e3_s", "runs.1.t_half",
             "runs.1.t_half_formula"},
}

function experiment.run(opts, ctx)
  local die = ctx.fail
  if opts.sigma and not (opts.sigma > 0) then die("option 'sigma': positive number expected, got " .. opts.sigma) end
  local sigmas = {}
  if opts.sigma then
    sigmas[1] = opts.sigma
  else
    for v in opts.sigmas:gmatch("[^,]+") do
      local x = tonumber(v)
      if not x or not (x > 0) then die("option 'sigmas': bad sigma '" .. v .. "'") end
      sigmas[#sigmas + 1] = x
    end
  end
  if #sigmas == 0 or #sigmas > 1000 then die("option 'sigmas': 1 to 1000 init scales expected, got " .. #sigmas) end
  table.sort(sigmas)

  -- ----- data ------------------------------------------------------------------------------------
  local X, y, beta, s, D, N
  if opts.dataset == "synthetic" then
    D, N = opts.D or 25, opts.N or 10
    local ds, err = data.teacher{P = opts.P, D = D, s = opts.s, whiten = true, seed = opts.seed}
    if not ds then die(err) end
    X, y, beta, s = ds.X_train, ds.y_train, ds.beta, opts.s
  else
    N = opts.N or 100
    local ds, err = data.mnist{classes = {0, 1}, train = opts.P, seed = opts.seed}
    if not ds then die(err .. "\n(run scripts/fetch-data mnist first)") end
    local pp
    pp, err = preprocess.fit(ds.X_train, {gamma = 0, rcond = opts.cutoff})
    if not pp then die(err) end
    X, y = pp:transform(ds.X_train), ds.y_train
    D = X:size(2)
    -- whitened (X^T X / P = I on the span): X^+ y = X^T y / P
    local bstar = X:t():matmul(y) / X:size(1)
    s = math.sqrt((bstar * bstar):sum())
    beta = bstar / s
  end
  local P = X:size(1)
  local beta_t = beta:totable()

  -- ----- runs ------------------------------------------------------------------------------------
  local t_half_theory_end = theory.t_half_asymptotic(sigmas[1], 2, s)
  local t_end = 2 * t_half_theory_end + 6 / s
  local times = {}
  for i = 0, opts.records - 1 do times[#times + 1] = t_end * i / (opts.records - 1) end

  local runs, columns, traj = {}, {"sigma", "t", "loss", "q_sim", "r_sim", "q_theory", "r_theory"}, {}
  for _, c in ipairs(columns) do traj[c] = {} end
  local progress = ctx.progress{total = #sigmas}
  for k, sigma in ipairs(sigmas) do
    local net = ntklab.mlp{widths = {D, N, 1}, activation = "linear", sigma = sigma, seed = opts.seed}
    local q0, r0 = theory.qr(net:weight(2):reshape(N), net:weight(1), beta_t)
    local flow = ntklab.train.flow{method = "rk45", rtol = opts.rtol, atol = opts.rtol * sigma ^ 2}
    local run = {sigma = sigma, q0 = q0, r0 = r0, t = {}, loss = {}, q = {}, r = {}, qt = {}, rt = {}}
    local max_dq, max_dr = 0, 0
    -- a trainer that reports divergence raises (or returns nil, msg): the run fails there
    local final_loss, ferr = flow:run(net, X, y, {t = t_end, observe = times, observer = function(t, _, loss, nt)
      local q, r = theory.qr(nt:weight(2):reshape(N), nt:weight(1), beta_t)
      local qt, rt = theory.q(t, s, q0, r0), theory.r(t, s, q0, r0)
      local i = #run.t + 1
      run.t[i], run.loss[i], run.q[i], run.r[i], run.qt[i], run.rt[i] = t, loss, q, r, qt, rt
      max_dq, max_dr = math.max(max_dq, math.abs(q - qt) / s), math.max(max_dr, math.abs(r - rt) / s)
      for c, v in pairs{sigma = sigma, t = t, loss = loss, q_sim = q, r_sim = r, q_theory = qt, r_theory = rt} do
        traj[c][#traj[c] + 1] = v
      end
    end})
    if final_loss == nil then die(ferr) end
    if final_loss ~= final_loss or math.abs(final_loss) == math.huge then
      die(string.format("training diverged: train loss %s at t = %g, sigma = %g", tostring(final_loss), t_end, sigma))
    end
    run.max_q_err, run.max_r_err = max_dq, max_dr
    -- t_1/2: the loss above its floor (MNIST: the part no linear map fits) halving
    local floor = opts.dataset == "mnist" and run.loss[#run.loss] or 0
    local l0 = run.loss[1] - floor
    for i = 2, #run.t do
      if run.loss[i] - floor <= l0 / 2 then
        local a, b = run.loss[i - 1] - floor, run.loss[i] - floor
        run.t_half = run.t[i - 1] + (a - l0 / 2) / (a - b) * (run.t[i] - run.t[i - 1])
        break
      end
    end
    run.t_half_formula = theory.t_half_asymptotic(sigma, 2, s)
    runs[k] = run
    progress:update(k, {sigma = sigma})
  end
  progress:finish()

  -- t_1/2 against (1/2s) log(s/sigma^2): the offsets t_half - formula should not depend on sigma
  local offsets, omin, omax = {}, math.huge, -math.huge
  for k, run in ipairs(runs) do
    if run.t_half then
      offsets[k] = run.t_half - run.t_half_formula
      omin, omax = math.min(omin, offsets[k]), math.max(omax, offsets[k])
    end
  end
  local spread = omax - omin
  local formula_range = runs[1].t_half_formula - runs[#runs].t_half_formula

  -- ----- outputs ---------------------------------------------------------------------------------
  ctx.write_csv("trajectories.csv", columns, traj)
  local what = string.format("%s, P = %d, D = %d; two-layer linear net, width %d, seed %d", opts.dataset, P, D, N,
    opts.seed)
  local loss_series = {}
  for k, run in ipairs(runs) do
    local rel = {}
    for i = 1, #run.loss do rel[i] = run.loss[i] / run.loss[1] end
    loss_series[k] = {x = run.t, y = rel, title = string.format("σ = %g", run.sigma)}
  end
  ctx.plot("loss.png", {title = "loss curves: " .. what, xlabel = "t", ylabel = "loss / initial loss",
    series = loss_series})
  -- t_1/2 against sigma, and its residual from the fitted law (1/2s) log(s/sigma^2) + const
  local sx, sy, fy, dy = {}, {}, {}, {}
  for k, run in ipairs(runs) do
    sx[k], sy[k] = run.sigma, run.t_half or 0 / 0
    fy[k] = run.t_half_formula + (omin + omax) / 2
    dy[k] = sy[k] - fy[k]
  end
  ctx.plot("t_half.png", {title = "t_{1/2} against σ: " .. what, rows = 2, cols = 1, width = 900, height = 900,
    panels = {
      {xlabel = "σ", ylabel = "t_{1/2}", logx = true, series = {
        {x = sx, y = fy, title = "(1/2s) log(s/σ^{2}) + const (fitted const)", style = "lines"},
        {x = sx, y = sy, title = "simulation", style = "circles"}}},
      {title = "residual", xlabel = "σ", ylabel = "t_{1/2} - fit", logx = true, hlines = {0},
        series = {{x = sx, y = dy, title = "simulation - fit", style = "linespoints"}}}}})
  -- q(t), r(t) at the first sigma, simulation against the theory (theory.q, theory.r) and the residuals / s
  local r1 = runs[1]
  local dq, dr = {}, {}
  for i = 1, #r1.t do dq[i], dr[i] = (r1.q[i] - r1.qt[i]) / s, (r1.r[i] - r1.rt[i]) / s end
  ctx.plot("qr.png", {title = string.format("q(t) and r(t) at σ = %g: %s", r1.sigma, what), rows = 2, cols = 1,
    width = 900, height = 900, panels = {
      {xlabel = "t", ylabel = "q, r", series = {
        {x = r1.t, y = r1.q, title = "q, simulation", style = "thick", color = plot.color(1)},
        {x = r1.t, y = r1.qt, title = "q, theory", style = "dashed", color = "#000000"},
        {x = r1.t, y = r1.r, title = "r, simulation", style = "thick", color = plot.color(2)},
        {x = r1.t, y = r1.rt, title = "r, theory", style = "dotted", color = "#000000"}}},
      {title = "residual: (simulation - theory) / s", xlabel = "t", ylabel = "residual / s", hlines = {0}, series = {
        {x = r1.t, y = dq, title = "q", color = plot.color(1)},
        {x = r1.t, y = dr, title = "r", color = plot.color(2)}}}}})

  local max_q, max_r, max_small = 0, 0, 0
  local per_sigma = {}
  for k, run in ipairs(runs) do
    max_q, max_r = math.max(max_q, run.max_q_err), math.max(max_r, run.max_r_err)
    if run.sigma <= 1e-2 then max_small = math.max(max_small, run.max_q_err, run.max_r_err) end
    per_sigma[k] = {sigma = run.sigma, q0 = run.q0, r0 = run.r0, max_q_err_over_s = run.max_q_err,
      max_r_err_over_s = run.max_r_err,
      err_over_sigma2 = math.max(run.max_q_err, run.max_r_err) / run.sigma ^ 2, t_half = run.t_half, t_half_formula = run.t_half_formula,
      offset = offsets[k]}
  end
  local summary = {
    data = {dataset = opts.dataset, P = P, D = D, N = N, s = s, rank = opts.dataset == "synthetic" and D or nil},
    t_end = t_end, runs = per_sigma,
    max_q_err_over_s = max_q, max_r_err_over_s = max_r,
    -- the closed form is exact to O(sigma^2): the errors grow as sigma^2 (err_over_sigma2 ~ const)
    qr_within_1e3_s = max_small <= 1e-3,
    max_err_over_s_small_sigma = max_small,
    qr_within_1e3_s_rule = "max |q_sim - q_theory|/s and |r_sim - r_theory|/s <= 1e-3 at every record "
      .. "for every sigma <= 1e-2 (the theory's O(sigma^2) error is ~sigma^2 s beyond)",
    t_half = {offset_min = omin, offset_max = omax, offset_spread = spread,
      formula_range = formula_range,
      rule = "t_half - (1/2s) log(s/sigma^2) is the same constant for every sigma: its spread is "
        .. "small next to the formula's range over the sigmas"},
  }
  return summary
end

--- The verdict and its reason, for the runner's last line.
function experiment.verdict(s)
  local ok = s.qr_within_1e3_s
  return ok and "q(t), r(t) match the theory" or "q(t), r(t) off the theory",
    string.format("max |q - q_theory|/s, |r - r_theory|/s over sigma <= 1e-2: %.3g, %s 1e-3; "
      .. "t_1/2 offset spread %.3g over a formula range of %.3g", s.max_err_over_s_small_sigma,
      ok and "<=" or ">", s.t_half.offset_spread, s.t_half.formula_range)
end

--- The per-sigma table printed after a run.
function experiment.report(s)
  local lines = {string.format("linear_two_layer (%s, s = %.4g): max |q_sim - q_theory|/s = %.3g, max |r_sim - r_theory|/s = %.3g",
    s.data.dataset, s.data.s, s.max_q_err_over_s, s.max_r_err_over_s)}
  for _, r in ipairs(s.runs) do
    lines[#lines + 1] = string.format("  sigma %-7g max q err/s %-9.3g r err/s %-9.3g t_half %-8.4g formula %-8.4g offset %.4g",
      r.sigma, r.max_q_err_over_s, r.max_r_err_over_s, r.t_half or 0 / 0, r.t_half_formula, r.offset or 0 / 0)
  end
  lines[#lines + 1] = string.format("  offset spread %.3g over a formula range of %.3g", s.t_half.offset_spread,
    s.t_half.formula_range)
  return table.concat(lines, "\n")
end

return experiment
