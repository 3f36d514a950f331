--- The start and end that every figure script reading a merged sweep shares (figures/deep_linear,
-- deep_relu, final_ntk): the command line, runs.json, the output folder, drawing through
-- ntklab.plot with failures reported and not fatal, and figures.json.
--   local sweep_figure = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "sweep_figure.lua")
--   local fig = sweep_figure.open{name = "deep_relu", usage = "KERNEL_SWEEP_DIR [OUT_DIR]", out_arg = 2}
--   fig.dir, fig.out, fig.merged           the sweep folder, the output folder, runs.json
--   fig.die(msg)                           "figures/<name>: msg" on stderr, exit 1
--   fig.read(run, "trajectory.csv")        a run's CSV as a tensor (header skipped), or dies
--   fig.draw("fig.png", figure)            plot.figure{file = out/fig.png, ...}; a failure warns
--   fig.finish(report)                     report.plots = what was drawn; writes figures.json
local ntklab = require "ntklab"
local output = ntklab.output
local plot = require "ntklab.plot"

local sweep_figure = {}

function sweep_figure.open(o)
  local name, args = o.name, o.args or arg or {}
  local fig = {plots = {}}
  local dir = args[1]
  if not dir or dir == "--help" then
    io.stdout:write(("usage: ntklab experiments/figures/%s.lua %s\n"):format(name, o.usage))
    if o.help then io.stdout:write(o.help, "\n") end
    os.exit(dir and 0 or 2)
  end
  function fig.die(msg) io.stderr:write("figures/", name, ": ", tostring(msg), "\n") os.exit(1) end
  fig.dir = dir:gsub("/+$", "")
  fig.out = (args[o.out_arg or 2] or (fig.dir .. "/figures")):gsub("/+$", "")
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

  function fig.draw(file, spec)
    spec.file = fig.out .. "/" .. file
    local done, msg = plot.figure(spec)
    if done then
      fig.plots[#fig.plots + 1] = spec.file
    else
      io.stderr:write("figures/", name, ": ", file, ": ", tostring(msg), "\n")
    end
  end

  function fig.finish(report)
    report.plots = output.array(fig.plots)
    local wok, werr = output.write_json(fig.out .. "/figures.json", report)
    if not wok then fig.die(werr) end
  end
  return fig
end

return sweep_figure
