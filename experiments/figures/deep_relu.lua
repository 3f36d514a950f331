-- figures/deep_relu.lua: the paper's Figure E.2 from merged sweeps of experiments/deep_relu.lua
-- (it reads; it never trains):
--   ntklab sweep experiments/deep_relu.lua --grid depth=2,3,4,5 --grid sigma=0.1 --out KDIR
--   ntklab sweep experiments/deep_relu.lua --grid depth=3 --grid sigma=... --kernels false --out SDIR
--   ntklab sweep merge KDIR; ntklab sweep merge SDIR
--   ntklab experiments/figures/deep_relu.lua KDIR [SDIR | -] [OUTDIR]   (OUTDIR: KDIR/figures)
-- Writes into OUTDIR:
--   figE2_dynamics.png    per depth (seed 1): loss / initial loss, and the NTK's alignment with
--                         its time of |K|_F at 10% of its final value dashed (E.2a-b)
--   figE2_predictions.png test outputs of kernel regression with the final NTK and with the
--                         initial NTK against the trained net's, every depth (E.2c)
--   figE2_t_half.png      t_1/2 against sigma from SDIR, with the fitted slope
--   figures.json          per run: predictor errors, readouts; the slope fit
local output = require("ntklab").output
local curves = require "ntklab.curves"
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")

local fig = figure_script.sweep{name = "deep_relu", out_arg = 3,
  usage = "KERNEL_SWEEP_DIR [SLOPE_SWEEP_DIR | -] [OUT_DIR]"}
local dir, merged, die, read = fig.dir, fig.merged, fig.die, fig.read
local slope_dir = arg[2] ~= "-" and arg[2] or nil

local runs, dataset = {}, nil
for _, r in ipairs(merged.runs) do
  if r.status == "done" and r.final_ntk_rel_err then runs[#runs + 1] = r; dataset = dataset or r.dataset end
end
if #runs == 0 then die("no completed kernel runs in " .. dir .. "/runs.json") end
table.sort(runs, function(a, b)
  if a.depth ~= b.depth then return a.depth < b.depth end
  return (a.seed or 0) < (b.seed or 0)
end)
-- the data and the nets (the shown runs share all but depth and sigma), for the titles
local cfg1 = fig.config(runs[1])
local setting = ("%s; ReLU nets of width %s, seed %s"):format(tostring(dataset),
  tostring(math.tointeger(cfg1.width) or cfg1.width), tostring(math.tointeger(cfg1.seed) or cfg1.seed))
local function color(L) return plot.color(math.tointeger(L) - 1) end

-- one run per depth (the smallest seed) for the curves
local first, shown = {}, {}
for _, r in ipairs(runs) do
  if not first[r.depth] then first[r.depth] = true; shown[#shown + 1] = r end
end

do
  local loss_series, align_series, vlines = {}, {}, {}
  for _, r in ipairs(shown) do
    local Tl = read(r, "loss.csv")
    local t, l = {}, {}
    local l0 = Tl:get(1, 2)
    for i = 2, Tl:size(1) do t[#t + 1], l[#l + 1] = Tl:get(i, 1), Tl:get(i, 2) / l0 end
    loss_series[#loss_series + 1] = {x = t, y = l, color = color(r.depth), title = ("L = %d, σ = %g"):format(r.depth, r.sigma)}
    local Tk = read(r, "trajectory.csv")
    local tk, a = {}, {}
    for i = 2, Tk:size(1) do tk[#tk + 1], a[#a + 1] = Tk:get(i, 1), Tk:get(i, 3) end
    align_series[#align_series + 1] = {x = tk, y = a, color = color(r.depth), style = "linespoints",
      title = ("L = %d: t_{align90} = %.3g; t_{kernel10} = %.3g (dashed)"):format(r.depth, r.t_align90 or 0 / 0, r.t_kernel10 or 0 / 0)}
    if r.t_kernel10 then vlines[#vlines + 1] = {x = r.t_kernel10, color = color(r.depth)} end
  end
  fig.draw("figE2_dynamics.png", {width = 1000, height = 900, rows = 2, cols = 1,
    title = "Fig. E.2a-b: " .. setting, panels = {
      {title = "loss / initial loss", logx = true, xlabel = "t", ylabel = "loss ratio", series = loss_series},
      {title = "NTK alignment; dashed: ‖K‖_{F} at 10% of its final value", logx = true, xlabel = "t",
       ylabel = "kernel-target alignment", series = align_series, vlines = vlines},
    }})
end

do
  local final_s, initial_s = {}, {}
  local lo, hi = math.huge, -math.huge
  for _, r in ipairs(shown) do
    local T = read(r, "predictions.csv")
    local net, pf, pi = {}, {}, {}
    for i = 1, T:size(1) do
      net[i], pf[i], pi[i] = T:get(i, 2), T:get(i, 3), T:get(i, 4)
      lo, hi = math.min(lo, net[i]), math.max(hi, net[i])
    end
    final_s[#final_s + 1] = {x = net, y = pf, style = "points", color = color(r.depth),
      title = ("L = %d: rel err %.3f"):format(r.depth, r.final_ntk_rel_err)}
    initial_s[#initial_s + 1] = {x = net, y = pi, style = "points", color = color(r.depth),
      title = ("L = %d: rel err %.3f"):format(r.depth, r.initial_ntk_rel_err)}
  end
  final_s[#final_s + 1] = {x = {lo, hi}, y = {lo, hi}, color = "gray40", style = "dashed"}
  initial_s[#initial_s + 1] = {x = {lo, hi}, y = {lo, hi}, color = "gray40", style = "dashed"}
  fig.draw("figE2_predictions.png", {width = 1200, height = 560, rows = 1, cols = 2,
    title = "Fig. E.2c: test outputs, kernel regression against the trained net\n" .. setting, panels = {
      {title = "final NTK", xlabel = "net", ylabel = "kernel regression", series = final_s},
      {title = "initial NTK", xlabel = "net", ylabel = "kernel regression", series = initial_s},
    }})
end

local report = {dataset = dataset, sweep = dir, runs = {}}
for _, r in ipairs(runs) do
  report.runs[#report.runs + 1] = {depth = r.depth, sigma = r.sigma, seed = r.seed, P = r.P,
    final_ntk_rel_err = r.final_ntk_rel_err, initial_ntk_rel_err = r.initial_ntk_rel_err,
    initial_over_final = r.initial_over_final, t_align90 = r.t_align90, t_kernel10 = r.t_kernel10,
    t_half = r.t_half, silent = r.silent, test_error_net = r.test_error_net}
end

if slope_dir then
  slope_dir = slope_dir:gsub("/+$", "")
  local sm, serr = output.read_json(slope_dir .. "/runs.json")
  if not sm then die(serr) end
  -- Deep ReLU nets on two classes learn in two drops with a plateau near half the initial loss
  -- (figE2_dynamics), where the t_1/2 crossing is ill-conditioned: the time the loss reaches
  -- 3/4 of its start (the first drop, read from each run's loss.csv) is fitted as well.
  local by = {}
  for _, r in ipairs(sm.runs) do
    if r.status == "done" and r.t_half then
      local T = read(r, "loss.csv", slope_dir)
      local t, l = {}, {}
      for i = 1, T:size(1) do t[i], l[i] = T:get(i, 1), T:get(i, 2) end
      by[r.depth] = by[r.depth] or {sig = {}, t = {}, t34 = {}}
      table.insert(by[r.depth].sig, r.sigma)
      table.insert(by[r.depth].t, r.t_half)
      table.insert(by[r.depth].t34, curves.crossing(t, l, 0.75 * l[1]))
    end
  end
  local series = {}
  report.slopes = {}
  for L, d in pairs(by) do
    local fit = #d.sig >= 2 and curves.power_law(d.sig, d.t) or nil
    local fit34 = #d.sig >= 2 and curves.power_law(d.sig, d.t34) or nil
    report.slopes[#report.slopes + 1] = {depth = L, sigmas = d.sig, t_half = d.t, slope = fit and fit.slope,
      slope_se = fit and fit.slope_se, slope_theory = 2 - L, t_three_quarters = d.t34,
      slope_three_quarters = fit34 and fit34.slope, slope_three_quarters_se = fit34 and fit34.slope_se}
    series[#series + 1] = {x = d.sig, y = d.t, style = "points", color = color(L),
      title = fit and ("L = %d, t_{1/2}: slope %.3f (theory %d)"):format(L, fit.slope, 2 - L) or ("L = %d"):format(L)}
    series[#series + 1] = {x = d.sig, y = d.t34, style = "points", color = color(L + 1),
      title = fit34 and ("L = %d, t_{3/4}: slope %.3f"):format(L, fit34.slope) or nil}
    for _, pair in ipairs{{fit, color(L)}, {fit34, color(L + 1)}} do
      local ft = pair[1]
      if ft then
        series[#series + 1] = {x = {d.sig[1], d.sig[#d.sig]}, color = pair[2], style = "dashed",
          y = {ft.prefactor * d.sig[1] ^ ft.slope, ft.prefactor * d.sig[#d.sig] ^ ft.slope}}
      end
    end
  end
  local sname = sm.runs[1] and sm.runs[1].dataset or dataset
  fig.draw("figE2_t_half.png", {width = 900, height = 600, panels = {{
    title = "Fig. E.2a: ReLU nets, time to 1/2 and 3/4 of the initial loss, " .. tostring(sname):gsub(" %(.*", ""),
    logx = true, logy = true, xlabel = "σ", ylabel = "time", series = series}}})
end

fig.finish(report)
for _, r in ipairs(report.runs) do
  io.stdout:write(("L = %d seed %s: final NTK rel err %.4f, initial %.4f (x%.1f), t_align90 %.3g, t_kernel10 %.3g, t_1/2 %.3g, silent %s\n")
    :format(r.depth, tostring(r.seed), r.final_ntk_rel_err, r.initial_ntk_rel_err, r.initial_over_final,
      r.t_align90 or 0 / 0, r.t_kernel10 or 0 / 0, r.t_half or 0 / 0, tostring(r.silent)))
end
for _, s in ipairs(report.slopes or {}) do
  io.stdout:write(("slope L = %d: t_1/2 %s, t_3/4 %s\n"):format(s.depth, s.slope and ("%.3f +- %.3f"):format(s.slope, s.slope_se) or "-",
    s.slope_three_quarters and ("%.3f +- %.3f"):format(s.slope_three_quarters, s.slope_three_quarters_se) or "-"))
end
io.stdout:write("figures -> ", fig.out, "\n")
