-- figures/final_ntk.lua: the paper's Figure E.3 from a merged sweep of experiments/final_ntk.lua
-- (it reads; it never trains):
--   ntklab sweep experiments/final_ntk.lua --grid depth=2,3,4,5 --grid sigma=... --out DIR
--   ntklab sweep merge DIR
--   ntklab experiments/figures/final_ntk.lua DIR [OUTDIR]      (OUTDIR defaults to DIR/figures)
-- Writes into OUTDIR:
--   figE3a_alignment.png   kernel-target alignment against t, one curve per depth (smallest sigma,
--                          seed 1), with theory's final alignment of K_inf as dashed levels
--   figE3b_kernels.png     heat maps, points ordered by class: per depth (rows) the initial NTK,
--                          the final NTK and theory's K_inf = s^{2-2/L} X[(L-1)bb^T + I]X^T
--                          (each scaled by its largest off-diagonal entry)
--   figE3_error.png        relative Frobenius error |K - K_inf|_F / |K_inf|_F against sigma per depth
--   figures.json           the errors per run and the smallest-sigma error per depth
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")

local fig = figure_script.sweep{name = "final_ntk", usage = "SWEEP_DIR [OUT_DIR]",
  help = "  SWEEP_DIR: a merged sweep of experiments/final_ntk.lua (runs.json); OUT_DIR: default SWEEP_DIR/figures"}
local dir, read = fig.dir, fig.read

local by_depth, depths, dataset = fig.by_depth("final_ntk_rel_err")
-- the run shown per depth: smallest sigma, then smallest seed
local shown = {}
for _, L in ipairs(depths) do
  table.sort(by_depth[L], function(a, b)
    if a.sigma ~= b.sigma then return a.sigma < b.sigma end
    return (a.seed or 0) < (b.seed or 0)
  end)
  shown[L] = by_depth[L][1]
end

-- what every panel shows: the data and the nets (the shown runs share all but depth and sigma)
local cfg = fig.config(shown[depths[1]])
local function int(v) return tostring(math.tointeger(v) or v) end
local setting = ("%s, P = %s; linear nets of width %s, seed %s"):format(tostring(dataset):gsub(" %(.*", ""),
  int(cfg.P), int(cfg.width), int(cfg.seed))

-- E.3a: alignment dynamics
do
  local series = {}
  for _, L in ipairs(depths) do
    local r = shown[L]
    local T = read(r, "trajectory.csv")
    local t, a = {}, {}
    for i = 2, T:size(1) do t[#t + 1], a[#a + 1] = T:get(i, 1), T:get(i, 3) end
    local color = plot.color(L - 1)
    series[#series + 1] = {x = t, y = a, title = ("L = %d (σ = %g)"):format(L, r.sigma), color = color}
    series[#series + 1] = {x = {t[1], t[#t]}, y = {r.alignment_theory, r.alignment_theory}, style = "dotted", color = color}
  end
  fig.draw("figE3a_alignment.png", {width = 1000, height = 600, panels = {{
    title = "Fig. E.3a: NTK alignment (dotted: theory's K_{∞})\n" .. setting .. ", γ = " .. tostring(cfg.gamma),
    logx = true, xlabel = "t", ylabel = "kernel-target alignment", key = "top left", series = series}}})
end

-- E.3b: heat maps (rows = depths). Partial whitening leaves the diagonal |x|^2 far above the
-- off-diagonal entries, so each matrix is scaled by its largest off-diagonal entry and the
-- colours clip there: the class blocks are what the figure is about.
local function heatmap_panels()
  local panels = {}
  for _, L in ipairs(depths) do
    local r = shown[L]
    for _, panel in ipairs{{"kernels_initial.csv", "initial NTK"}, {"kernels_final.csv", "final NTK"},
                            {"kernels_theory.csv", "theory K_{∞}"}} do
      local T = read(r, panel[1])
      local n = T:size(1)
      local big = 0
      for i = 1, n do for j = 1, n do if i ~= j then big = math.max(big, math.abs(T:get(i, j))) end end end
      local rows = {}
      for i = 1, n do
        local row = {}
        for j = 1, n do row[j] = math.max(-1, math.min(1, T:get(i, j) / big)) end
        rows[i] = row
      end
      local title = ("L = %d, %s"):format(L, panel[2])
      if panel[2] == "final NTK" then title = title .. (" (rel err %.1e)"):format(r.final_ntk_rel_err) end
      panels[#panels + 1] = {heatmap = rows, title = title}
    end
  end
  return panels
end
fig.draw("figE3b_kernels.png", {width = 1050, height = 340 * #depths,
  rows = #depths, cols = 3, title = "Fig. E.3b: NTKs by class (colours clip at the largest off-diagonal entry)\n" .. setting,
  panels = heatmap_panels()})

-- error against sigma
local report = {dataset = dataset, sweep = dir, depths = {}}
do
  local series = {}
  for _, L in ipairs(depths) do
    local acc, sig = {}, {}
    for _, r in ipairs(by_depth[L]) do
      if not acc[r.sigma] then acc[r.sigma] = {}; sig[#sig + 1] = r.sigma end
      table.insert(acc[r.sigma], r.final_ntk_rel_err)
    end
    table.sort(sig)
    local ys, worst = {}, {}
    for i, sg in ipairs(sig) do
      local m, w = 0, 0
      for _, v in ipairs(acc[sg]) do m, w = m + v, math.max(w, v) end
      ys[i], worst[i] = m / #acc[sg], w
    end
    series[#series + 1] = {x = sig, y = ys, title = ("L = %d"):format(L), style = "linespoints",
      color = plot.color(L - 1)}
    report.depths[#report.depths + 1] = {depth = L, sigmas = sig, mean_rel_err = ys, max_rel_err = worst,
      smallest_sigma = sig[1], rel_err_at_smallest_sigma = worst[1],
      own_beta_rel_err = shown[L].final_ntk_rel_err_own_beta, initial_shape_rel_err = shown[L].initial_ntk_shape_rel_err,
      alignment_final = shown[L].alignment_final, alignment_theory = shown[L].alignment_theory}
  end
  fig.draw("figE3_error.png", {width = 900, height = 600, panels = {{
    title = "final NTK against theory: ‖K - K_{∞}‖_{F} / ‖K_{∞}‖_{F}\n" .. setting,
    logx = true, logy = true, xlabel = "σ", ylabel = "relative Frobenius error", key = "top left", series = series}}})
end
fig.finish(report)
for _, e in ipairs(report.depths) do
  io.stdout:write(("L = %d: rel err at sigma = %g: %.2g (own beta %.2g; initial NTK rescaled %.3f); alignment %.4f vs theory %.4f\n")
    :format(e.depth, e.smallest_sigma, e.rel_err_at_smallest_sigma, e.own_beta_rel_err, e.initial_shape_rel_err,
      e.alignment_final, e.alignment_theory))
end
io.stdout:write("figures -> ", fig.out, "\n")
