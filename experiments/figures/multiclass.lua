-- experiments/figures/multiclass.lua: Figure H.1 from finished multiclass runs (never trains).
--   build/bin/ntklab experiments/figures/multiclass.lua DIR [OUT]
-- DIR is one run's directory or a merged sweep's (`ntklab sweep merge DIR` first: runs.csv).
-- For each run it draws OUT/multiclass_<run>_loss.png (loss / initial loss and the traced NTK's
-- alignment against t, the linear theory's final alignment dashed) and
-- OUT/multiclass_<run>_modes.png (each mode's strength c_a / s_a against t, the theory's t_a as
-- vertical lines); for a sweep also OUT/multiclass_times.png (measured against predicted t_a).
-- OUT defaults to DIR.
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")

local fig = figure_script.run{name = "multiclass", usage = "DIR [OUT]"}
local dir, read = fig.dir, fig.read_csv

local function run_dirs()
  local f = io.open(dir .. "/runs.csv")
  if not f then return {{dir = dir, name = dir:match("([^/]+)/*$")}} end
  f:close()
  local cols = read(dir .. "/runs.csv")
  local list = {}
  for i = 1, #cols.status do
    if cols.status[i] == "done" then
      local name = cols.run and cols.run[i] or cols.name and cols.name[i] or tostring(i)
      list[#list + 1] = {dir = cols.dir and cols.dir[i] or (dir .. "/" .. name), name = name}
    end
  end
  return list
end

local xs, ys, labels = {}, {}, {}
for _, r in ipairs(run_dirs()) do
  local s = fig.read_json(r.dir .. "/summary.json")
  local traj = read(r.dir .. "/trajectory.csv")
  local modes = read(r.dir .. "/modes.csv")
  local cfg = s.config or {}
  local tag = ("%s data, %s net of depth %d, width %d, σ = %.3g, seed %s"):format(tostring(cfg.dataset), s.activation,
    s.depth, s.width, s.sigma, tostring(math.tointeger(cfg.seed) or cfg.seed))
  local loss0 = traj.loss[1]
  local rel = {}
  for i = 1, #traj.loss do rel[i] = traj.loss[i] / loss0 end
  local flat = {}
  for i = 1, #traj.t do flat[i] = s.final_alignment_theory end
  fig.draw(("multiclass_%s_loss.png"):format(r.name), {title = "loss and alignment: " .. tag,
    xlabel = "t", ylabel = "value", series = {
      {x = traj.t, y = rel, title = "loss / initial loss"},
      {x = traj.t, y = traj.alignment, title = "alignment of the traced NTK with YY^{T}"},
      {x = traj.t, y = flat, title = "final alignment, linear theory", style = "dashed"}}})
  local series, vlines = {}, {}
  for a = 1, #modes.mode do
    local c = traj["c_" .. a]
    local y = {}
    for i = 1, #c do y[i] = c[i] / modes.s[a] end
    series[a] = {x = traj.t, y = y, title = ("mode %d (s_{%d} = %.3g)"):format(a, a, modes.s[a]), color = plot.color(a)}
    if modes.t_theory[a] == modes.t_theory[a] then
      vlines[#vlines + 1] = {x = modes.t_theory[a], color = plot.color(a),
        title = ("theory t_{%d} = %.3g"):format(a, modes.t_theory[a])}
    end
    if modes.t_measured[a] == modes.t_measured[a] and modes.t_theory[a] == modes.t_theory[a] then
      xs[#xs + 1], ys[#ys + 1] = modes.t_theory[a], modes.t_measured[a]
      labels[#labels + 1] = tag
    end
  end
  fig.draw(("multiclass_%s_modes.png"):format(r.name), {
    title = "mode strengths c_{a} / s_{a} and the theory's times t_{a}: " .. tag, xlabel = "t",
    ylabel = "c_{a} / s_{a}", series = series, vlines = vlines})
end
if #xs > 0 then
  local lo, hi = math.huge, 0
  for i = 1, #xs do lo, hi = math.min(lo, xs[i], ys[i]), math.max(hi, xs[i], ys[i]) end
  fig.draw("multiclass_times.png", {title = "mode learning times: measured against theory",
    xlabel = "t_{a}, theory", ylabel = "t_{a}, measured (c_{a} = s_{a} / 2)", logx = true, logy = true,
    series = {{x = xs, y = ys, title = "modes of every run", style = "circles"},
      {x = {lo, hi}, y = {lo, hi}, title = "equal", style = "dashed"}}})
end
print("multiclass figures -> " .. fig.out)
