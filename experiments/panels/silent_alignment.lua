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

--- The paper's Figure 1a panel from a recorded trajectory: loss / initial loss and |K|_F / final
-- |K|_F against t (log axis, t > 0), with the kernel's direction when the trajectory has it
-- (ntklab.direction's columns): c(t) = cos(K(t), K_end) in total (`direction`) and per layer
-- (`layer<l>_direction`), and dashed vertical lines at the readouts (a table from
-- analysis.readouts: dir90, kernel10, half_loss; align90 instead of dir90 when there is no
-- direction; missing ones are skipped). Without a direction the alignment / final alignment is
-- drawn instead (the older panel). traj needs t, loss, alignment, kernel_norm (arrays or tensors).
-- opts: title (string), logx (default true). Returns true, or nil, msg as plot does.
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
  local has_direction = traj.direction ~= nil
  local series = {
    {x = cols.t, y = scaled(cols.loss, cols.loss[1]), title = "loss / initial"},
    {x = cols.t, y = scaled(cols.kernel_norm, cols.kernel_norm[n]), title = "|K|_F / final", style = "dashed"},
  }
  if has_direction then
    local ok, c = pcall(check.vector, traj.direction, 2, f, "direction")
    if not ok or #c ~= n then check.fail(2, f, "trajectory field 'direction': " .. n .. " numbers expected") end
    series[#series + 1] = {x = cols.t, y = c, title = "c(t) total"}
    if traj.direction_learned ~= nil then
      local okl, cl = pcall(check.vector, traj.direction_learned, 2, f, "direction_learned")
      if not okl or #cl ~= n then check.fail(2, f, "trajectory field 'direction_learned': " .. n .. " numbers expected") end
      series[#series + 1] = {x = cols.t, y = cl, title = "c(t) learned part", style = "dashed"}
    end
    local l = 1
    while traj["layer" .. l .. "_direction"] ~= nil do
      local okl, cl = pcall(check.vector, traj["layer" .. l .. "_direction"], 2, f, "direction")
      if not okl or #cl ~= n then
        check.fail(2, f, ("trajectory field 'layer%d_direction': %d numbers expected"):format(l, n))
      end
      series[#series + 1] = {x = cols.t, y = cl, title = "c(t) layer " .. l, style = "dotted"}
      l = l + 1
    end
  else
    series[#series + 1] = {x = cols.t, y = scaled(cols.alignment, cols.alignment[n]), title = "alignment / final"}
  end
  local vlines = {}
  for _, r in ipairs{has_direction and {"dir90", "t_dir90"} or {"align90", "t_align90"},
    {"kernel10", "t_kernel10"}, {"half_loss", "t_half"}} do
    local x = readouts and readouts[r[1]]
    if type(x) == "number" and x == x then vlines[#vlines + 1] = {x = x, title = r[2]} end
  end
  return plot.plot{
    file = file, title = opts.title or "silent alignment", xlabel = "t",
    ylabel = has_direction and "cosine / relative value" or "relative value",
    logx = opts.logx ~= false, key = has_direction and "bottom right" or "center right", series = series, vlines = vlines,
  }
end

--- The paper's Figure 1c panel: each predictor's test predictions against the trained net's,
-- with the diagonal. net: vector; predictors: array of {y = vector, title = string}.
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
  local series = {}
  for i, p in ipairs(predictors) do
    if type(p) ~= "table" then check.fail(3, f, fmt("predictor %d: table expected, got %s", i, check.typename(p))) end
    local ok, y = pcall(check.vector, p.y, 3, f, "y")
    if not ok then check.fail(3, f, fmt("predictor %d: y: %s", i, y:match("%((.*)%)$") or y)) end
    if #y ~= #x then check.fail(3, f, fmt("predictor %d has %d predictions, the net %d", i, #y, #x)) end
    if p.title ~= nil and type(p.title) ~= "string" then
      check.fail(3, f, fmt("predictor %d: title: string expected, got %s", i, check.typename(p.title)))
    end
    series[i] = {x = x, y = y, title = p.title, style = "points"}
  end
  series[#series + 1] = {x = {lo, hi}, y = {lo, hi}, title = "y = x", style = "dotted"}
  return plot.plot{file = file, title = opts.title or "test predictions", xlabel = "trained net",
    ylabel = "kernel regression", series = series}
end


return panels
