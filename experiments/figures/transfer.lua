-- experiments/figures/transfer.lua: Figure F.1 from a finished transfer run (never trains).
--   build/bin/ntklab experiments/figures/transfer.lua RUN_DIR [OUT]
-- Draws OUT/transfer_a.png (E_g against P for each A at fixed alpha), transfer_b.png (for each
-- alpha at fixed A), transfer_c.png (against alpha for each A at fixed P) and transfer_learned.png
-- (initial against final NTK of a trained net, and Eq. 67 with the fitted A): simulation
-- means as points, Eq. 67 as lines (the standard errors are in the CSVs and the summary's
-- z-scores, not drawn). OUT defaults to RUN_DIR.
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")

local fig = figure_script.run{name = "transfer", usage = "RUN_DIR [OUT]"}
local function read(name) return (fig.read_csv(fig.dir .. "/" .. name)) end
local s = fig.read_json(fig.dir .. "/summary.json")

-- Series of one panel: rows grouped by `key`, x from `xkey`.
local function panel(cols, key, xkey, label)
  local groups, order = {}, {}
  for i = 1, #cols[key] do
    local k = cols[key][i]
    if not groups[k] then groups[k] = {x = {}, m = {}, th = {}}; order[#order + 1] = k end
    local g = groups[k]
    g.x[#g.x + 1], g.m[#g.m + 1], g.th[#g.th + 1] = cols[xkey][i], cols.sim_mean[i], cols.theory[i]
  end
  local series = {}
  for i, k in ipairs(order) do
    local g = groups[k]
    series[#series + 1] = {x = g.x, y = g.th, title = ("Eq. 67, %s = %g"):format(label, k), style = "lines",
      color = plot.color(i)}
    series[#series + 1] = {x = g.x, y = g.m, title = ("simulation, %s = %g"):format(label, k), style = "circles",
      color = plot.color(i)}
  end
  return series
end

local a, b, c = read("panel_a.csv"), read("panel_b.csv"), read("panel_c.csv")
-- the setting every panel shares: Gaussian inputs with a spiked kernel, the ridge, the draws
local setting = ("D = %d, ridge λ = %g, %d training sets per point, seed %d"):format(s.D, s.ridge, s.trials,
  s.config and s.config.seed or 0)
fig.draw("transfer_a.png", {title = ("(a) α = %g: E_{g} against P for each A\n%s"):format(a.alpha[1], setting),
  xlabel = "P", ylabel = "E_{g}", logx = true, logy = true,
  series = panel(a, "A", "P", "A")})
fig.draw("transfer_b.png", {title = ("(b) A = %g: E_{g} against P for each α\n%s"):format(b.A[1], setting),
  xlabel = "P", ylabel = "E_{g}", logx = true, logy = true, series = panel(b, "alpha", "P", "α")})
fig.draw("transfer_c.png", {title = ("(c) P = %g: E_{g} against α for each A\n%s"):format(c.P[1], setting),
  xlabel = "α", ylabel = "E_{g}", series = panel(c, "A", "alpha", "A")})

local l = read("learned.csv")
local groups, order = {}, {}
for i = 1, #l.alpha do
  local k = l.alpha[i]
  if not groups[k] then groups[k] = {P = {}, i = {}, f = {}, th = {}}; order[#order + 1] = k end
  local g = groups[k]
  g.P[#g.P + 1], g.i[#g.i + 1], g.f[#g.f + 1], g.th[#g.th + 1] = l.P[i], l.initial_mean[i], l.final_mean[i], l.theory_fitted[i]
end
local series = {}
for _, k in ipairs(order) do
  if k >= 0.8 or k == order[1] then
    local g = groups[k]
    local color = plot.color(#series // 3 + 1)
    series[#series + 1] = {x = g.P, y = g.i, title = ("initial NTK, α = %g"):format(k), style = "dotted", color = color}
    series[#series + 1] = {x = g.P, y = g.f, title = ("final NTK, α = %g"):format(k), style = "linespoints", color = color}
    series[#series + 1] = {x = g.P, y = g.th, title = ("Eq. 67 with fitted A = %.2f, α = %g"):format(s.A_fit, k),
      style = "dashed", color = color}
  end
end
fig.draw("transfer_learned.png", {title = ("initial against final NTK of a linear net trained on β: depth %d, "
  .. "width %d, σ = %g, %d training points\n%s"):format(s.learned.depth, s.learned.width, s.learned.sigma,
  s.learned.P_train, setting), xlabel = "P", ylabel = "E_{g}", logx = true, logy = true, series = series})
print("transfer figures -> " .. fig.out)
