-- A minimal experiment context (the runner's ctx contract: out, path, write_json, write_csv,
-- plot, progress, timer, clock, log, fail) for running an experiment module's run(cfg, ctx)
-- in a spec before/without the runner. Files go into dir; ctx.fail raises its message.
local ntklab = require "ntklab"
local output = ntklab.output
return function(dir)
  assert(output.mkdir_p(dir))
  local ctx = {out = dir, clock = ntklab.clock, files = {plots = {}}}
  function ctx.path(name) return dir .. "/" .. name end
  function ctx.fail(msg) error(tostring(msg), 0) end
  function ctx.write_json(name, v) assert(output.write_json(ctx.path(name), v)); return ctx.path(name) end
  function ctx.write_csv(name, c, r) assert(output.write_csv(ctx.path(name), c, r)); return ctx.path(name) end
  function ctx.plot(name, o) o.file = ctx.path(name); return output.plot(o) end
  function ctx.log() end
  function ctx.progress() return {update = function() end, finish = function() end} end
  local splits = {}
  ctx.timer = {splits = splits, lap = function() return 0 end, add = function() end, elapsed = function() return 0 end}
  return ctx
end
