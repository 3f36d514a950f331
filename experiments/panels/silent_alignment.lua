--- The silent-alignment experiment's panels (paper Figure 1a and 1c), drawn with ntklab.plot.
-- Loaded by experiments/silent_alignment.lua from this folder; usable from any script with
-- dofile("experiments/panels/silent_alignment.lua"). Misuse raises; gnuplot failures return
-- nil, msg as plot does.
local check = require "ntklab.argcheck"
check.register()
local plot = require "ntklab.plot"

local panels = {}

local fmt = string.format

-- Each value divided by a reference (a ratio plot); NaN where the reference is zero.
local function scaled(v, by)
  local out = {}
  for i = 1, #v do out[i] = by ~= 0 and v[i] / by or 0 / 0 end
  return out
end

-- The readout times drawn as marker lines: {key in readouts, legend label}.
local MARKERS = {
  {"dir90", "t_{dir90} = %.3g: c(t) 90%% of its way to 1"},
  {"align90", "t_{align90} = %.3g: alignment at 90%% of its final value"},
  {"kernel10", "t_{kernel10} = %.3g: ‖K‖_{F} at 10%% of its final value"},
  {"half_loss", "t_{1/2} = %.3g: loss at half its initial value"},
}

--- Marker lines (plot's vlines) at the readouts present among keys ({dir90 = true, ...}; numbers,
-- not NaN), each named in the legend with its time, so that close times stay readable.
function panels.markers(readouts, keys)
  local out = {}
  for _, m in ipairs(MARKERS) do
    local x = readouts and readouts[m[1]]
    if keys[m[1]] and type(x) == "number" and x == x then
      out[#out + 1] = {x = x, title = fmt(m[2], x)}
    end
  end
  return out
end

--- The paper's Figure 1a from a recorded trajectory, in two panels against t (log axis, t > 0).
-- Left, relative values: loss / initial loss and ‖K‖_F / final ‖K‖_F, with the kernel's direction
-- when the trajectory has it (ntklab.direction's columns): c(t) = cos(K(t), K_end) in total
-- (`direction`), its learned part and per layer (`layer<l>_direction`); without a direction the
-- alignment / final alignment (the older panel). Right, absolute values: the kernel-target
-- alignment (and the centered one when the trajectory has `alignment_centered`), so that a rise
-- from 0.055 to 0.083 reads as that and not as 0.67 to 1. Both panels mark the readouts (a table
-- from analysis.readouts: dir90, kernel10, half_loss; align90 instead of dir90 when there is no
-- direction; missing ones are skipped), named with their times in the legend.
-- traj needs t, loss, alignment, kernel_norm (arrays or tensors). opts: title (string),
-- logx (default true). Returns true, or nil, msg as plot does.
function panels.plot_trajectory(file, traj, readouts, opts)
  local f = "panels.plot_trajectory"
  check.string(file, 1, f)
  check.table(traj, 2, f)
  local cols = {}
  for _, key in ipairs{"t", "loss", "alignment", "kernel_norm"} do
    local ok, v = pcall(check.vector, traj[key], 2, f, key)
    if not ok then check.fail(2, f, "trajectory field '" .. key .. "': " .. (v:match("%((.*)%)$") or v)) end
    if key ~= "t" and #v ~= #cols.t then
      check.fail(2, f, fmt("trajectory field '%s' has %d records, t has %d", key, #v, #cols.t))
    end
    cols[key] = v
  end
  if readouts ~= nil then check.table(readouts, 3, f) end
  opts = opts or {}
  check.table(opts, 4, f)
  local n = #cols.t
  local function column(key, what)
    local ok, c = pcall(check.vector, traj[key], 2, f, what or key)
    if not ok or #c ~= n then check.fail(2, f, fmt("trajectory field '%s': %d numbers expected", key, n)) end
    return c
  end
  local has_direction = traj.direction ~= nil
  local series = {
    {x = cols.t, y = scaled(cols.loss, cols.loss[1]), title = "loss / initial loss", color = plot.color(1)},
    {x = cols.t, y = scaled(cols.kernel_norm, cols.kernel_norm[n]), title = "‖K‖_{F} / final ‖K‖_{F}",
      style = "dashed", color = plot.color(2)},
  }
  if has_direction then
    series[#series + 1] = {x = cols.t, y = column("direction"), title = "c(t) = cos(K(t), K_{end})", color = plot.color(3)}
    if traj.direction_learned ~= nil then
      series[#series + 1] = {x = cols.t, y = column("direction_learned"), title = "c(t), learned part",
        style = "dashed", color = plot.color(3)}
    end
    local l = 1
    while traj["layer" .. l .. "_direction"] ~= nil do
      series[#series + 1] = {x = cols.t, y = column("layer" .. l .. "_direction", "direction"),
        title = "c(t), layer " .. l, style = "dotted", color = plot.color(3 + l)}
      l = l + 1
    end
  else
    series[#series + 1] = {x = cols.t, y = scaled(cols.alignment, cols.alignment[n]), title = "alignment / final",
      color = plot.color(3)}
  end
  local absolute = {{x = cols.t, y = cols.alignment, title = "alignment A(K(t), yy^{T})", color = plot.color(3)}}
  if traj.alignment_centered ~= nil then
    absolute[2] = {x = cols.t, y = column("alignment_centered"), title = "centered alignment",
      style = "dashed", color = plot.color(3)}
  end
  local keys = {kernel10 = true, half_loss = true}
  keys[has_direction and "dir90" or "align90"] = true
  local vlines = panels.markers(readouts, keys)
  local logx = opts.logx ~= false
  return plot.figure{file = file, title = opts.title or "silent alignment", cols = 2, width = 1500, height = 560,
    panels = {
      {title = "relative values", xlabel = "t", ylabel = has_direction and "cosine, ratio" or "ratio",
        logx = logx, key = "below", series = series, vlines = vlines},
      {title = "kernel-target alignment, absolute", xlabel = "t", ylabel = "alignment", logx = logx,
        key = "below", series = absolute, vlines = vlines},
    }}
end

--- The paper's Figure 1c: one panel per predictor, its test predictions against the trained net's,
-- with the line y = x and, in the panel's title, its relative error when the predictor gives it.
-- net: vector; predictors: array of {y = vector, title = string, rel_err = number}.
-- Returns true, or nil, msg as plot does.
function panels.plot_predictions(file, net, predictors, opts)
  local f = "panels.plot_predictions"
  check.string(file, 1, f)
  local x = check.vector(net, 2, f, "net predictions")
  check.table(predictors, 3, f)
  if #predictors == 0 then check.fail(3, f, "non-empty array of {y =, title =} expected") end
  opts = opts or {}
  check.table(opts, 4, f)
  local lo, hi = math.huge, -math.huge
  for i = 1, #x do lo, hi = math.min(lo, x[i]), math.max(hi, x[i]) end
  local list = {}
  for i, p in ipairs(predictors) do
    if type(p) ~= "table" then check.fail(3, f, fmt("predictor %d: table expected, got %s", i, check.typename(p))) end
    local ok, y = pcall(check.vector, p.y, 3, f, "y")
    if not ok then check.fail(3, f, fmt("predictor %d: y: %s", i, y:match("%((.*)%)$") or y)) end
    if #y ~= #x then check.fail(3, f, fmt("predictor %d has %d predictions, the net %d", i, #y, #x)) end
    if p.title ~= nil and type(p.title) ~= "string" then
      check.fail(3, f, fmt("predictor %d: title: string expected, got %s", i, check.typename(p.title)))
    end
    if p.rel_err ~= nil and type(p.rel_err) ~= "number" then
      check.fail(3, f, fmt("predictor %d: rel_err: number expected, got %s", i, check.typename(p.rel_err)))
    end
    for k = 1, #y do lo, hi = math.min(lo, y[k]), math.max(hi, y[k]) end
    list[i] = {y = y, title = p.title or ("predictor " .. i), rel_err = p.rel_err}
  end
  local pad = 0.05 * (hi - lo)
  local range = {lo - pad, hi + pad}
  local out = {}
  for i, p in ipairs(list) do
    out[i] = {title = p.rel_err and fmt("%s: ‖f - f_{net}‖ / ‖f_{net}‖ = %.3f", p.title, p.rel_err) or p.title,
      xlabel = "trained net f_{net}(x)", ylabel = "kernel regression f(x)", square = true,
      xrange = range, yrange = range, series = {
        {x = range, y = range, style = "dotted", color = "#404040", title = "y = x"},
        {x = x, y = p.y, style = "points", color = plot.color(i), title = "test points"}}}
  end
  return plot.figure{file = file, title = opts.title or "test predictions", cols = #out,
    width = 480 * #out, height = 540, panels = out}
end


return panels
