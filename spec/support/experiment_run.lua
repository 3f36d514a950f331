--- spec/support/experiment_run.lua: an experiment module run in-process on small settings,
-- through ntklab.experiment.run (options checked as on the command line), into a scratch
-- directory that lives for one describe block.
--   local runs = dofile(source .. "/spec/support/experiment_run.lua")
--   local config = runs.config(SMALL)          -- config{depth = 3}: SMALL with depth overridden
--   local exp = runs.in_scratch(M, setup, teardown)  -- inside describe: busted's hooks are the
--                                                    -- spec file's, so it is given them
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
-- Given busted's setup and teardown (the calling describe block's), it registers them there.
function runs.in_scratch(module, setup, teardown)
  local exp = {}
  function exp.run(cfg)
    cfg.out, cfg.quiet = exp.dir, true
    return experiment.run(module, cfg)
  end
  function exp.setup() exp.dir = files.scratch_dir() end
  function exp.teardown() files.remove_tree(exp.dir) end
  if setup then setup(exp.setup) end
  if teardown then teardown(exp.teardown) end
  return exp
end

--- Whether Fashion-MNIST can be read here (specs of the image experiments are pending without it).
function runs.have_fashion_mnist()
  return require("ntklab.image_data").two_class("fashion_mnist", {train = 2, test = 0}) ~= nil
end

return runs
