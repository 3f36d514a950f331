-- figures/deep_linear.lua: the paper's Figure 3 and Figure E.1 from a merged sweep of
-- experiments/deep_linear.lua (it reads; it never trains):
--   ntklab sweep experiments/deep_linear.lua --grid depth=2,3,4,5 --grid sigma=... --seeds 1-3 --out DIR
--   ntklab sweep merge DIR
--   ntklab experiments/figures/deep_linear.lua DIR [OUTDIR]      (OUTDIR defaults to DIR/figures)
-- Writes into OUTDIR:
--   fig3a_t_half.png    t_1/2 (loss at half its initial value) against sigma, per depth L, with
--                       the ODE dc/dt = L c^{2-2/L}(s - c) solved numerically (theory.t_half) from
--                       an effective start c0 = (kappa_L sigma)^L, kappa_L fitted per depth (one
--                       number: Gaussian init starts the aligned dynamics at sigma times a
--                       width-dependent constant), and its leading term (dashed): L = 2:
--                       (1/2s) log(s/(kappa sigma)^2); L > 2: (kappa sigma)^{2-L}/((L-2)s)
--   fig3b_L3_dynamics.png   L = 3: loss / initial loss (solid) and cos(W1^T W1, beta beta^T)
--                       (dashed) against t for each sigma (seed 1)
--   fig3c_t_half_t_cos.png  L = 3 and 4: t_1/2 and t_cos1/2 against sigma, fitted slopes
--   figE1_alignment.png final kernel alignment against L (every run) with L/sqrt(L^2 + r - 1),
--                       and the first layer's final cosine
--   figures.json        the fitted slopes (with standard errors), kappa_L, the L = 2 offsets
--                       t_1/2 - (1/2s) log(s/sigma^2), alignment errors, t_cos1/2 < t_1/2 checks
local theory = require "ntklab.theory"
local curves = require "ntklab.curves"
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")

local fig = figure_script.sweep{name = "deep_linear", usage = "SWEEP_DIR [OUT_DIR]",
  help = "  SWEEP_DIR: a merged sweep of experiments/deep_linear.lua (runs.json); OUT_DIR: default SWEEP_DIR/figures"}
local dir = fig.dir

-- runs by depth, only the completed ones
local by_depth, depths, dataset = fig.by_depth("t_half")
local s, rank = 1, nil -- the sweep's teacher scale: the experiment's default
-- the data's rank, from any run's theory alignment A = L/sqrt(L^2 + r - 1)
do
  local r = by_depth[depths[1]][1]
  rank = math.floor((r.depth / r.alignment_theory) ^ 2 - r.depth ^ 2 + 1 + 0.5)
end

local function mean_by_sigma(runs, key)
  local acc, sigmas = {}, {}
  for _, r in ipairs(runs) do
    local v = r[key]
    if type(v) == "number" then
      if not acc[r.sigma] then acc[r.sigma] = {0, 0}; sigmas[#sigmas + 1] = r.sigma end
      acc[r.sigma][1], acc[r.sigma][2] = acc[r.sigma][1] + v, acc[r.sigma][2] + 1
    end
  end
  table.sort(sigmas)
  local ys = {}
  for i, sg in ipairs(sigmas) do ys[i] = acc[sg][1] / acc[sg][2] end
  return sigmas, ys
end

-- theory's loss-halving time from the effective start c0 = (kappa sigma)^L
local function t_ode(L, sigma, kappa)
  local c0 = (kappa * sigma) ^ L
  return theory.t_half(s, L, c0, 1 - (1 - c0 / s) / math.sqrt(2))
end
local function t_leading(L, sigma, kappa)
  return theory.t_half_asymptotic(kappa * sigma, L, s)
end

-- kappa_L: least squares in log t over the runs (golden-section search on log kappa)
local function fit_kappa(L, sigmas, ts)
  local function cost(lk)
    local k, c = math.exp(lk), 0
    for i, sg in ipairs(sigmas) do
      if (k * sg) ^ L >= s / 2 then return math.huge end
      c = c + (math.log(t_ode(L, sg, k)) - math.log(ts[i])) ^ 2
    end
    return c
  end
  local a, b = math.log(0.05), math.log(math.min(20, 0.5 / sigmas[#sigmas]))
  local g = (math.sqrt(5) - 1) / 2
  for _ = 1, 80 do
    local c, d = b - g * (b - a), a + g * (b - a)
    if cost(c) < cost(d) then b = d else a = c end
  end
  local k = math.exp(0.5 * (a + b))
  return k, math.sqrt(cost(math.log(k)) / #sigmas)
end

local report = {dataset = dataset, rank = rank, s = s, depths = {}, sweep = dir}
local series3a = {}
local function logspace(a, b, n)
  local v = {}
  for i = 0, n - 1 do v[#v + 1] = a * (b / a) ^ (i / (n - 1)) end
  return v
end
for _, L in ipairs(depths) do
  local runs = by_depth[L]
  local sigmas, ts = mean_by_sigma(runs, "t_half")
  local _, tc = mean_by_sigma(runs, "t_cos_half")
  local kappa, rms = fit_kappa(L, sigmas, ts)
  local entry = {depth = L, sigmas = sigmas, t_half = ts, t_cos_half = tc, kappa = kappa, ode_fit_rms_log = rms, runs = #runs}
  if L > 2 and #sigmas >= 2 then
    local fit = curves.power_law(sigmas, ts)
    entry.slope, entry.slope_se, entry.slope_theory = fit.slope, fit.slope_se, 2 - L
    if #tc == #sigmas then
      local fc = curves.power_law(sigmas, tc)
      entry.slope_cos, entry.slope_cos_se = fc.slope, fc.slope_se
    end
  elseif L == 2 then
    local off, lo, hi = {}, math.huge, -math.huge
    for i, sg in ipairs(sigmas) do
      off[i] = ts[i] - theory.t_half_asymptotic(sg, 2, s)
      lo, hi = math.min(lo, off[i]), math.max(hi, off[i])
    end
    local worst = 0
    for i = 1, #ts do worst = math.max(worst, math.abs(off[i] - (lo + hi) / 2) / ts[i]) end
    entry.offsets, entry.offset_spread, entry.max_rel_dev_from_log_law = off, hi - lo, worst
  end
  -- Both times come from the same early ODE du/dt = s u^{L-1} (per-layer scale u): t_cos1/2 is
  -- when u reaches u_cos, where the learned rank-one part of W1 outweighs its random start,
  -- t_1/2 when it blows up, so t_cos1/2 / t_1/2 -> 1 - (u0/u_cos)^{L-2}: one number per depth.
  if L > 2 and #tc == #ts then
    local ratio, implied = {}, {}
    for i = 1, #ts do
      ratio[i] = tc[i] / ts[i]
      implied[i] = (1 - ratio[i]) ^ (1 / (L - 2))
    end
    entry.cos_ratio, entry.u0_over_ucos = ratio, implied
  end
  -- every run: t_cos1/2 < t_1/2
  local all_before, pairs_seen = true, 0
  for _, r in ipairs(runs) do
    if r.t_cos_half then
      pairs_seen = pairs_seen + 1
      if not (r.t_cos_half < r.t_half) then all_before = false end
    end
  end
  entry.cos_before_half_all, entry.cos_pairs = all_before, pairs_seen
  -- alignment errors
  local worst_align, worst_cos = 0, 1
  for _, r in ipairs(runs) do
    worst_align = math.max(worst_align, r.alignment_rel_err)
    worst_cos = math.min(worst_cos, r.cos_final)
  end
  entry.alignment_theory, entry.alignment_max_rel_err, entry.cos_final_min = runs[1].alignment_theory, worst_align, worst_cos
  report.depths[#report.depths + 1] = entry

  local xs = logspace(sigmas[1], sigmas[#sigmas], 40)
  local ode, lead = {}, {}
  for i, sg in ipairs(xs) do ode[i], lead[i] = t_ode(L, sg, kappa), t_leading(L, sg, kappa) end
  local label = L > 2 and ("L = %d: slope %.3f"):format(L, entry.slope) or ("L = %d"):format(L)
  local color = plot.color(L - 1)
  series3a[#series3a + 1] = {x = sigmas, y = ts, title = label, style = "points", color = color}
  series3a[#series3a + 1] = {x = xs, y = ode, title = ("ODE from c_{0} = (%.2f σ)^{%d}"):format(kappa, L), color = color}
  series3a[#series3a + 1] = {x = xs, y = lead, style = "dashed", color = color,
    title = L == depths[#depths] and "leading term (dashed)" or nil}
end

local cfg1 = fig.config(by_depth[depths[1]][1])
local where = ("whitened synthetic data, D = %d, P = %s; deep linear nets of width %s"):format(rank,
  tostring(math.tointeger(cfg1.P) or cfg1.P), tostring(math.tointeger(cfg1.width) or cfg1.width))
fig.draw("fig3a_t_half.png", {width = 950, height = 650, panels = {{
  title = "Fig. 3a: time to half loss, " .. where, logx = true, logy = true,
  xlabel = "σ", ylabel = "t_{1/2}", series = series3a}}})

-- 3b: L = 3 trajectories, seed 1
if by_depth[3] then
  local series = {}
  local runs = {}
  for _, r in ipairs(by_depth[3]) do if math.tointeger(r.seed) == 1 or r.seed == nil then runs[#runs + 1] = r end end
  table.sort(runs, function(a, b) return a.sigma < b.sigma end)
  for k, r in ipairs(runs) do
    local color = plot.color(k)
    local T = fig.read(r, "trajectory.csv")
    local t, loss, cos = {}, {}, {}
    local l0 = T:get(1, 2)
    for i = 2, T:size(1) do t[#t + 1], loss[#loss + 1], cos[#cos + 1] = T:get(i, 1), T:get(i, 2) / l0, T:get(i, 4) end
    series[#series + 1] = {x = t, y = loss, title = ("σ = %g"):format(r.sigma), color = color}
    series[#series + 1] = {x = t, y = cos, style = "dashed", color = color}
  end
  fig.draw("fig3b_L3_dynamics.png", {width = 1000, height = 600, panels = {{
    title = "Fig. 3b: L = 3, loss / initial loss (solid) and cos(W_{1}^{T}W_{1}, ββ^{T}) (dashed), seed 1\n" .. where,
    logx = true, xlabel = "t", ylabel = "loss ratio, cosine", series = series}}})
end

-- 3c: t_1/2 and t_cos1/2 for L = 3, 4
do
  local series = {}
  for _, e in ipairs(report.depths) do
    if e.depth == 3 or e.depth == 4 then
      local color = plot.color(e.depth - 1)
      series[#series + 1] = {x = e.sigmas, y = e.t_half, style = "linespoints", color = color,
        title = ("L = %d: t_{1/2} (slope %.3f)"):format(e.depth, e.slope)}
      series[#series + 1] = {x = e.sigmas, y = e.t_cos_half, style = "dashed", color = color,
        title = ("L = %d: t_{cos 1/2} (slope %.3f)"):format(e.depth, e.slope_cos or 0 / 0)}
    end
  end
  if #series > 0 then
    fig.draw("fig3c_t_half_t_cos.png", {width = 950, height = 650, panels = {{
      title = "Fig. 3c: the first layer aligns (t_{cos 1/2}) before the loss halves (t_{1/2})\n" .. where,
      logx = true, logy = true, xlabel = "σ", ylabel = "time", series = series}}})
  end
end

-- E.1: final alignment against L
do
  local Ls, A, C = {}, {}, {}
  for _, L in ipairs(depths) do
    for _, r in ipairs(by_depth[L]) do Ls[#Ls + 1], A[#A + 1], C[#C + 1] = L, r.alignment_final, r.cos_final end
  end
  local xs, th = {}, {}
  for i = 0, 40 do
    local L = depths[1] + (depths[#depths] - depths[1]) * i / 40
    xs[#xs + 1], th[#th + 1] = L, L / math.sqrt(L * L + rank - 1)
  end
  fig.draw("figE1_alignment.png", {width = 900, height = 600, panels = {{
    title = ("Fig. E.1b-c: final NTK alignment and first-layer cosine against depth (r = %d)\n%s"):format(rank, where),
    xlabel = "depth L", ylabel = "final value", yrange = {0, 1.05}, series = {
      {x = Ls, y = A, title = "final kernel alignment (every run)", style = "points", color = plot.color(1)},
      {x = xs, y = th, title = "L / √(L^{2} + r − 1)", color = plot.color(1)},
      {x = Ls, y = C, title = "final cos(W_{1}^{T}W_{1}, ββ^{T})", style = "points", color = plot.color(2)},
    }}}})
end

fig.finish(report)
for _, e in ipairs(report.depths) do
  io.stdout:write(("L = %d: %d runs, kappa %.3f, slope %s, t_cos < t_half in all %d pairs: %s, alignment max rel err %.4f, min final cos %.4f\n")
    :format(e.depth, e.runs, e.kappa, e.slope and ("%.3f +- %.3f"):format(e.slope, e.slope_se) or "-", e.cos_pairs,
      tostring(e.cos_before_half_all), e.alignment_max_rel_err, e.cos_final_min))
  if e.offsets then io.stdout:write(("       L = 2 offsets t_1/2 - (1/2s) log(s/sigma^2): spread %.4f, max rel dev %.4f\n"):format(e.offset_spread, e.max_rel_dev_from_log_law)) end
end
io.stdout:write("figures -> ", fig.out, "\n")
