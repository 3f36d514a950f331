--- spec/support/experiment_run.lua: an experiment module run in-process on small settings,
-- through ntklab.experiment.run (options checked as on the command line), into a scratch
-- directory that lives for one describe block.
--   local runs = dofile(source .. "/spec/support/experiment_run.lua")
--   local config = runs.config(SMALL)          -- config{depth = 3}: SMALL with depth overridden
--   local exp = runs.in_scratch(M)             -- inside describe:
--   setup(exp.setup); teardown(exp.teardown)   -- (busted's hooks are the spec file's, not ours)
--   local summary, err = exp.run(config{...}); io.open(exp.dir .. "/summary.json")
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local experiment = require "ntklab.experiment"
local files = dofile(source .. "/spec/support/files.lua")

local runs = {}

--- A function of overrides that returns a fresh copy of defaults with them applied.
function runs.config(defaults)
  return function(over)
    local cfg = {}
    for k, v in pairs(defaults) do cfg[k] = v end
    for k, v in pairs(over) do cfg[k] = v end
    return cfg
  end
end

--- {dir, run, setup, teardown}: setup makes the scratch directory exp.dir, teardown removes it;
-- run(cfg) runs module quietly into exp.dir and returns what ntklab.experiment.run returns.
function runs.in_scratch(module)
  local exp = {}
  function exp.run(cfg)
    cfg.out, cfg.quiet = exp.dir, true
    return experiment.run(module, cfg)
  end
  function exp.setup() exp.dir = files.scratch_dir() end
  function exp.teardown() files.remove_tree(exp.dir) end
  return exp
end

return runs
