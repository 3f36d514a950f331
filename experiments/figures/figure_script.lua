--- The start and end that the figure scripts share: the command line, reading what the runs
-- wrote, drawing through ntklab.plot with a failure reported and not fatal, and figures.json.
--   local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")
-- From a merged sweep (figures/deep_linear, deep_relu, final_ntk):
--   local fig = figure_script.sweep{name = "deep_relu", usage = "SWEEP_DIR [OUT_DIR]", out_arg = 2}
--   fig.dir, fig.out, fig.merged           the sweep folder, the output folder (SWEEP_DIR/figures),
--                                          runs.json
--   fig.read(run, "trajectory.csv" [, dir]) a run's CSV as a tensor (header skipped), or dies
--   fig.config(run)                         the run's settings (its config.json), or {}
--   fig.by_depth(field)                     the finished runs that have `field`, grouped by
--                                           depth: by[L] = {runs}, the sorted depths, the data's
--                                           name (dies when there are none)
--   fig.finish(report)                     report.plots = what was drawn; writes figures.json
-- From a run directory (figures/multiclass, transfer):
--   local fig = figure_script.run{name = "transfer", usage = "RUN_DIR [OUT]"}   OUT: RUN_DIR
--   fig.read_csv(path) -> columns, header  (ntklab.csv's), or dies
--   fig.read_json(path)                     or dies, saying what the folder should be
-- Both:
--   fig.die(msg)                            "figures/<name>: msg" on stderr, exit 1
--   fig.draw("fig.png", spec)               plot.figure (spec.panels) or plot.plot into OUT;
--                                           a failure is reported on stderr and drawing goes on
-- A script that specs also load as a module, {draw = draw} (figures/partial_whitening, wide_resnet):
--   figure_script.main(name, usage, params, draw)  only when run as figures/<name>.lua: draw(
--                                           table.unpack(params(arg))), its text and the PNG
--                                           (params' first) on stdout; params returns nil when
--                                           arguments are missing: usage, exit 2; an error: exit 1
--   figure_script.read_columns(path)        a CSV's columns by name, or raises its error
--   figure_script.done_runs_by(dir, column) DIR/runs.csv's finished runs (rows as tables) grouped
--                                           by a column: by[value] = {rows}, the sorted values
--   figure_script.mean_se(xs)               mean, standard error and count of the numbers in xs
--   figure_script.COLORS                    the series colors, in order
local ntklab = require "ntklab"
local output = ntklab.output
local plot = require "ntklab.plot"

local figure_script = {}

-- The command line (usage and --help) and the parts every figure script has.
local function open(o)
  local name, args = o.name, o.args or arg or {}
  local fig = {plots = {}, args = args}
  if not args[1] or args[1] == "--help" then
    local to = args[1] and io.stdout or io.stderr -- --help is an answer, a missing folder an error
    to:write(("usage: ntklab experiments/figures/%s.lua %s\n"):format(name, o.usage))
    if o.help then to:write(o.help, "\n") end
    os.exit(args[1] and 0 or 2)
  end
  function fig.die(msg) io.stderr:write("figures/", name, ": ", tostring(msg), "\n") os.exit(1) end
  fig.dir = args[1]:gsub("/+$", "")

  function fig.draw(file, spec)
    spec.file = fig.out .. "/" .. file
    local done, msg = (spec.panels and plot.figure or plot.plot)(spec)
    if done then
      fig.plots[#fig.plots + 1] = spec.file
    else
      io.stderr:write("figures/", name, ": ", file, ": ", tostring(msg), "\n")
    end
  end
  return fig
end

function figure_script.sweep(o)
  local fig = open(o)
  fig.out = (fig.args[o.out_arg or 2] or (fig.dir .. "/figures")):gsub("/+$", "")
  local merged, err = output.read_json(fig.dir .. "/runs.json")
  if not merged then fig.die(err .. " (run `ntklab sweep merge " .. fig.dir .. "` first)") end
  fig.merged = merged
  local ok, merr = output.mkdir_p(fig.out)
  if not ok then fig.die(merr) end

  function fig.read(run, file, from)
    local T, terr = ntklab.io.read_csv((from or fig.dir) .. "/" .. run.run .. "/" .. file, {header = true})
    if not T then fig.die(terr) end
    return T
  end

  function fig.by_depth(field)
    local by, depths, dataset = {}, {}, nil
    for _, r in ipairs(fig.merged.runs) do
      if r.status == "done" and r[field] ~= nil then
        local L = math.tointeger(r.depth)
        if not by[L] then by[L] = {}; depths[#depths + 1] = L end
        table.insert(by[L], r)
        dataset = dataset or r.dataset
      end
    end
    if #depths == 0 then fig.die("no completed runs in " .. fig.dir .. "/runs.json") end
    table.sort(depths)
    return by, depths, dataset
  end

  function fig.config(run)
    local c = output.read_json(fig.dir .. "/" .. run.run .. "/config.json")
    return c and c.config or {}
  end

  function fig.finish(report)
    report.plots = output.array(fig.plots)
    local wok, werr = output.write_json(fig.out .. "/figures.json", report)
    if not wok then fig.die(werr) end
  end
  return fig
end

function figure_script.run(o)
  local fig = open(o)
  fig.out = (fig.args[2] or fig.dir):gsub("/+$", "")

  function fig.read_csv(path)
    local header, cols = output.read_csv(path)
    if not header then fig.die(("%s: %s"):format(path, tostring(cols))) end
    return cols, header
  end

  function fig.read_json(path)
    local t, err = output.read_json(path)
    if not t then fig.die(("%s is not a finished %s run (%s)"):format(path:match("^(.*)/[^/]*$") or ".", o.name, tostring(err))) end
    return t
  end
  return fig
end

function figure_script.main(name, usage, params, draw)
  if not (arg and arg[0] and arg[0]:match("figures/" .. name .. "%.lua$")) then return end
  local p = params(arg)
  if not p then
    io.stderr:write(("usage: ntklab experiments/figures/%s.lua %s\n"):format(name, usage))
    os.exit(2)
  end
  local ok, res = pcall(draw, table.unpack(p))
  if not ok then io.stderr:write("figures/", name, ": ", tostring(res), "\n"); os.exit(1) end
  print(res)
  print(p[1])
end

function figure_script.read_columns(path)
  local header, cols = output.read_csv(path)
  if not header then error(cols, 0) end
  return cols
end

function figure_script.done_runs_by(dir, column)
  local t = figure_script.read_columns(dir .. "/runs.csv")
  if not t[column] then error(("%s/runs.csv has no column '%s' (the swept option)"):format(dir, column), 0) end
  local by, values = {}, {}
  for i = 1, #t.run do
    if t.status[i] == "done" then
      local v = t[column][i]
      if not by[v] then by[v] = {}; values[#values + 1] = v end
      local row = {}
      for k, col in pairs(t) do row[k] = col[i] end
      table.insert(by[v], row)
    end
  end
  table.sort(values)
  return by, values
end

-- The standard error is sd / sqrt(n) with the sample sd; NaN and non-numbers are skipped.
function figure_script.mean_se(xs)
  local n, s = 0, 0
  for _, x in ipairs(xs) do if type(x) == "number" and x == x then n, s = n + 1, s + x end end
  if n == 0 then return 0 / 0, 0 / 0, 0 end
  local m, v = s / n, 0
  for _, x in ipairs(xs) do if type(x) == "number" and x == x then v = v + (x - m) ^ 2 end end
  return m, n > 1 and math.sqrt(v / (n - 1) / n) or 0 / 0, n
end

figure_script.COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

return figure_script
