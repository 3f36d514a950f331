-- figures/deep_relu.lua: the paper's Figure E.2 from merged sweeps of experiments/deep_relu.lua
-- (it reads; it never trains):
--   ntklab sweep experiments/deep_relu.lua --grid depth=2,3,4,5 --grid sigma=0.1 --out KDIR
--   ntklab sweep experiments/deep_relu.lua --grid depth=3 --grid sigma=... --kernels false --out SDIR
--   ntklab sweep merge KDIR; ntklab sweep merge SDIR
--   ntklab experiments/figures/deep_relu.lua KDIR[,KDIR2...] [SDIR | -] [OUTDIR]
-- (several kernel sweeps, comma-separated, are read as one; OUTDIR: the first KDIR/figures)
-- Writes into OUTDIR:
--   figE2_dynamics.png    per depth (its smallest sigma, smallest seed): loss / initial loss, the
--                         kernel's direction c(t), the uncentered and the centered alignment,
--                         with the time |K|_F reaches 10% of its final value dashed (E.2a-b)
--   figE2_predictions.png test outputs of kernel regression with the final NTK and with the
--                         initial NTK against the trained net's, every depth (E.2c): the net
--                         completed to t = infinity under its final NTK where the run has it
--   figE2_t_half.png      t_1/2 against sigma from SDIR, with the fitted slope
--   figures.json          per run: predictor errors, readouts (direction ones from the run's
--                         files); the slope fit
local output = require("ntklab").output
local curves = require "ntklab.curves"
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")

local dirs = {}
for d in ((arg and arg[1]) or ""):gmatch("[^,]+") do dirs[#dirs + 1] = d:gsub("/+$", "") end
local fig = figure_script.sweep{name = "deep_relu", out_arg = 3,
  usage = "KERNEL_SWEEP_DIR[,DIR2...] [SLOPE_SWEEP_DIR | -] [OUT_DIR]",
  args = arg and {dirs[1] or arg[1], arg[2], arg[3]} or nil}
local dir, die = fig.dir, fig.die
local slope_dir = arg[2] ~= "-" and arg[2] or nil

local runs, dataset = {}, nil
for i, d in ipairs(dirs) do
  local merged = fig.merged
  if i > 1 then
    local err
    merged, err = output.read_json(d .. "/runs.json")
    if not merged then die(err .. " (run `ntklab sweep merge " .. d .. "` first)") end
  end
  for _, r in ipairs(merged.runs) do
    if r.status == "done" and r.final_ntk_rel_err then
      r.from = d
      runs[#runs + 1] = r; dataset = dataset or r.dataset
    end
  end
end
if #runs == 0 then die("no completed kernel runs in " .. table.concat(dirs, ", ")) end
table.sort(runs, function(a, b)
  if a.depth ~= b.depth then return a.depth < b.depth end
  if a.sigma ~= b.sigma then return a.sigma < b.sigma end
  return (a.seed or 0) < (b.seed or 0)
end)
local function read(r, name, from) return fig.read(r, name, from or r.from) end
-- the data and the nets (the shown runs share all but depth and sigma), for the titles
local cfg1 = fig.config(runs[1])
local setting = ("%s; ReLU nets of width %s, seed %s"):format(tostring(dataset),
  tostring(math.tointeger(cfg1.width) or cfg1.width), tostring(math.tointeger(cfg1.seed) or cfg1.seed))
local function color(L) return plot.color(math.tointeger(L) - 1) end

-- one run per depth (its smallest sigma, then its smallest seed) for the curves
local first, shown = {}, {}
for _, r in ipairs(runs) do
  if not first[r.depth] then first[r.depth] = true; shown[#shown + 1] = r end
end

do
  local loss_series, align_series, calign_series, dir_series, vlines = {}, {}, {}, {}, {}
  for _, r in ipairs(shown) do
    local Tl = read(r, "loss.csv")
    local t, l = {}, {}
    local l0 = Tl:get(1, 2)
    for i = 2, Tl:size(1) do t[#t + 1], l[#l + 1] = Tl:get(i, 1), Tl:get(i, 2) / l0 end
    loss_series[#loss_series + 1] = {x = t, y = l, color = color(r.depth),
      title = ("L = %d, σ = %g: t_{1/2} = %.3g"):format(r.depth, r.sigma, r.t_half or 0 / 0)}
    local _, cols = output.read_csv(r.from .. "/" .. r.run .. "/trajectory.csv")
    if not cols then die(r.from .. "/" .. r.run .. "/trajectory.csv: unreadable") end
    local function drop_first(v) local o = {} for i = 2, #v do o[i - 1] = v[i] end return o end
    local tk = drop_first(cols.t)
    align_series[#align_series + 1] = {x = tk, y = drop_first(cols.alignment), color = color(r.depth), style = "linespoints",
      title = ("L = %d: t_{align90} = %.3g"):format(r.depth, r.t_align90 or 0 / 0)}
    if cols.alignment_centered then
      calign_series[#calign_series + 1] = {x = tk, y = drop_first(cols.alignment_centered), color = color(r.depth),
        style = "linespoints", title = ("L = %d: t_{align90} = %.3g"):format(r.depth, r.t_align90_centered or 0 / 0)}
    end
    if cols.direction then
      dir_series[#dir_series + 1] = {x = tk, y = drop_first(cols.direction), color = color(r.depth), style = "linespoints",
        title = ("L = %d: t_{dir90} = %.3g, t_{kernel10} = %.3g"):format(r.depth, r.t_dir90 or 0 / 0, r.t_kernel10 or 0 / 0)}
    end
    if r.t_kernel10 then vlines[#vlines + 1] = {x = r.t_kernel10, color = color(r.depth)} end
  end
  fig.draw("figE2_dynamics.png", {width = 1400, height = 1000, rows = 2, cols = 2,
    title = "Fig. E.2a-b: " .. tostring(dataset) .. "; dashed: ‖K‖_{F} at 10% of its final value", panels = {
      {title = "loss / initial loss", logx = true, xlabel = "t", ylabel = "loss ratio", series = loss_series, vlines = vlines},
      {title = "kernel direction c(t) = ⟨K(t), K_{end}⟩ / (‖K(t)‖ ‖K_{end}‖)", logx = true, xlabel = "t",
       ylabel = "direction cosine", yrange = {0, 1}, series = dir_series, vlines = vlines},
      {title = "kernel-target alignment (uncentered, the paper's)", logx = true, xlabel = "t",
       ylabel = "alignment", series = align_series, vlines = vlines},
      {title = "kernel-target alignment (centered)", logx = true, xlabel = "t",
       ylabel = "centered alignment", series = calign_series, vlines = vlines},
    }})
end

do
  local final_s, initial_s = {}, {}
  local lo, hi = math.huge, -math.huge
  local any_completed = false
  for _, r in ipairs(shown) do
    local T = read(r, "predictions.csv")
    -- the net completed to t = infinity under its final kernel (column 5) when the run has it
    local completed = T:size(2) >= 5 and r.final_ntk_rel_err_completed ~= nil
    local net, pf, pi = {}, {}, {}
    for i = 1, T:size(1) do
      net[i], pf[i], pi[i] = T:get(i, completed and 5 or 2), T:get(i, 3), T:get(i, 4)
      lo, hi = math.min(lo, net[i]), math.max(hi, net[i])
    end
    local function title(err, err_stopped)
      if not completed then return ("L = %d: rel err %.3f"):format(r.depth, err_stopped) end
      return ("L = %d: rel err %.3f (net as stopped: %.3f)"):format(r.depth, err, err_stopped)
    end
    final_s[#final_s + 1] = {x = net, y = pf, style = "points", color = color(r.depth),
      title = title(r.final_ntk_rel_err_completed, r.final_ntk_rel_err)}
    initial_s[#initial_s + 1] = {x = net, y = pi, style = "points", color = color(r.depth),
      title = title(r.initial_ntk_rel_err_completed, r.initial_ntk_rel_err)}
    any_completed = any_completed or completed
  end
  final_s[#final_s + 1] = {x = {lo, hi}, y = {lo, hi}, color = "gray40", style = "dashed"}
  initial_s[#initial_s + 1] = {x = {lo, hi}, y = {lo, hi}, color = "gray40", style = "dashed"}
  local xlabel = any_completed and "net, completed to t = ∞ under its final NTK" or "net"
  fig.draw("figE2_predictions.png", {width = 1200, height = 560, rows = 1, cols = 2,
    title = "Fig. E.2c: test outputs, kernel regression against the trained net\n" .. setting, panels = {
      {title = "final NTK", xlabel = xlabel, ylabel = "kernel regression", series = final_s},
      {title = "initial NTK", xlabel = xlabel, ylabel = "kernel regression", series = initial_s},
    }})
end

-- Per run, from its own files (runs.json holds only the summaries' top-level scalars): the
-- early-kernel predictor rows of summary.json, and from trajectory.csv c(t) at t_kernel10
-- (linear between records) and the most c(t) moved while the loss was within 2% of its start.
local function direction_readouts(r)
  local _, cols = output.read_csv(r.from .. "/" .. r.run .. "/trajectory.csv")
  if not cols or not cols.direction then return {} end
  local t, c, loss = cols.t, cols.direction, cols.loss
  local out = {c0 = c[1]}
  if r.t_kernel10 then
    for i = 2, #t do
      if t[i] >= r.t_kernel10 then
        local w = (r.t_kernel10 - t[i - 1]) / (t[i] - t[i - 1])
        out.c_kernel10 = c[i - 1] + w * (c[i] - c[i - 1])
        break
      end
    end
    out.share_kernel10 = out.c_kernel10 and (out.c_kernel10 - c[1]) / (1 - c[1])
  end
  local best, best_t = c[1], 0
  for i = 1, #c do
    if loss[i] < 0.98 * loss[1] then break end
    if c[i] > best then best, best_t = c[i], t[i] end
  end
  out.c_silent_max, out.t_silent_max, out.share_silent_max = best, best_t, (best - c[1]) / (1 - c[1])
  return out
end

local report = {dataset = dataset, sweeps = output.array(dirs), runs = {}}
for _, r in ipairs(runs) do
  local summary = output.read_json(r.from .. "/" .. r.run .. "/summary.json") or {}
  report.runs[#report.runs + 1] = {depth = r.depth, sigma = r.sigma, seed = r.seed, P = r.P,
    final_ntk_rel_err = r.final_ntk_rel_err, initial_ntk_rel_err = r.initial_ntk_rel_err,
    initial_over_final = r.initial_over_final,
    final_ntk_rel_err_completed = r.final_ntk_rel_err_completed,
    initial_ntk_rel_err_completed = r.initial_ntk_rel_err_completed,
    initial_over_final_completed = r.final_ntk_rel_err_completed
      and r.initial_ntk_rel_err_completed / r.final_ntk_rel_err_completed,
    train_rel_residual = r.train_rel_residual, completion_rel_change = r.completion_rel_change,
    t_align90 = r.t_align90, t_kernel10 = r.t_kernel10,
    t_align90_centered = r.t_align90_centered, t_dir90 = r.t_dir90,
    alignment = {r.alignment_initial, r.alignment_final},
    alignment_centered = {r.alignment_centered_initial, r.alignment_centered_final},
    informative = summary.informative, direction = direction_readouts(r),
    early_predictor_at_dir90 = summary.early_predictor_at_dir90,
    early_predictor_at_kernel10 = summary.early_predictor_at_kernel10,
    t_half = r.t_half, silent = r.silent, test_error_net = r.test_error_net,
    test_error_final_ntk = r.test_error_final_ntk, test_error_initial_ntk = r.test_error_initial_ntk,
    kernel_growth = r.kernel_norm_final / r.kernel_norm_initial, seconds = summary.seconds and summary.seconds.total,
    cpu_seconds = r.cpu_seconds}
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
      local T = fig.read(r, "loss.csv", slope_dir)
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
  local e, k, d = r.early_predictor_at_dir90 or {}, r.early_predictor_at_kernel10 or {}, r.direction
  local nan = 0 / 0
  io.stdout:write(("L = %d sigma %g seed %g: final NTK rel err %.4f, initial %.4f (x%.2f); against the completed "
    .. "net %.4f, %.4f (x%.2f; train residual %.4f, completion moves the net by %.4f); t_1/2 %.3g, t_kernel10 %.3g, "
    .. "t_dir90 %.3g, t_align90 %.3g, centered %.3g; alignment %.3f -> %.3f, centered %.3f -> %.3f; "
    .. "c(0) %.3f, c(t_kernel10) %.3f (share %.2f), silent max %.3f at t %.3g (share %.2f); "
    .. "K(t) predictor at t_dir90 %.3f (%.0f%% of t_end), at t_kernel10 %.3f; test error net/final/initial %.3f/%.3f/%.3f; "
    .. "|K_end|/|K0| %.3g; %s s wall, %s s CPU; silent %s\n")
    :format(r.depth, r.sigma, r.seed or nan, r.final_ntk_rel_err, r.initial_ntk_rel_err, r.initial_over_final,
      r.final_ntk_rel_err_completed or nan, r.initial_ntk_rel_err_completed or nan, r.initial_over_final_completed or nan,
      r.train_rel_residual or nan, r.completion_rel_change or nan,
      r.t_half or nan, r.t_kernel10 or nan, r.t_dir90 or nan, r.t_align90 or nan, r.t_align90_centered or nan,
      r.alignment[1] or nan, r.alignment[2] or nan, r.alignment_centered[1] or nan, r.alignment_centered[2] or nan,
      d.c0 or nan, d.c_kernel10 or nan, d.share_kernel10 or nan, d.c_silent_max or nan, d.t_silent_max or nan,
      d.share_silent_max or nan, e.rel_err or nan, 100 * (e.fraction or nan), k.rel_err or nan,
      r.test_error_net or nan, r.test_error_final_ntk or nan, r.test_error_initial_ntk or nan, r.kernel_growth or nan,
      r.seconds and ("%.0f"):format(r.seconds) or "-", r.cpu_seconds and ("%.0f"):format(r.cpu_seconds) or "-",
      tostring(r.silent)))
end
for _, s in ipairs(report.slopes or {}) do
  io.stdout:write(("slope L = %d: t_1/2 %s, t_3/4 %s\n"):format(s.depth, s.slope and ("%.3f +- %.3f"):format(s.slope, s.slope_se) or "-",
    s.slope_three_quarters and ("%.3f +- %.3f"):format(s.slope_three_quarters, s.slope_three_quarters_se) or "-"))
end
io.stdout:write("figures -> ", fig.out, "\n")
