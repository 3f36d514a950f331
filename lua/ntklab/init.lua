--- ntklab: neural tangent kernels, networks and training, scripted in Lua.
-- This module wraps the C module `ntklab.core` and adds the Lua-side conveniences to the
-- same metatables. It leaves _G untouched.
local core = require "ntklab.core"

local ntklab = {}
for name, value in pairs(core) do ntklab[name] = value end
ntklab.core = core
-- Renamed for one name per concept (0.1): psd_check is check_psd, as in ntklab.linalg.check_psd.
-- The old name stays for one release (README, "Renamed").
ntklab.psd_check = core.check_psd
ntklab.theory = require "ntklab.theory"     -- linear-network theory (pure Lua)
ntklab.analysis = require "ntklab.analysis" -- predictor comparison, silent-alignment readouts
ntklab.output = require "ntklab.output"     -- atomic files, JSON/CSV, plots, progress, options
ntklab.data = require "ntklab.data"         -- datasets (MNIST, Fashion-MNIST, CIFAR-10), teachers
ntklab.preprocess = require "ntklab.preprocess" -- centering, PCA, (partial) whitening
ntklab.recorder = require("ntklab.recorder").new -- trajectory recorder, a trainer's observer
ntklab.pathkernel = require "ntklab.pathkernel" -- Eq. 2 path-kernel predictor and its observer
ntklab.linearized = require "ntklab.linearized" -- the linearized model at any t, path kernel at any t

-- trainer:run(net, X, Y, {..., progress = reporter}): a progress reporter (ntklab.output.progress,
-- or an experiment's ctx.progress{total = t}) hears of every observation (done = t, or the step
-- when the run is given in steps, with t and the loss) and of the end. The C loop knows nothing
-- of it: the reporter rides on the observer, so it updates at the observation times only.
do
  local mt = debug.getregistry()["ntklab.trainer"]
  local methods = type(mt.__index) == "table" and mt.__index or mt.__methods
  local run = methods.run
  -- The C method is called through pcall here, not as `self:run`: its argument errors come
  -- numbered as for a plain call and without a position. They are renumbered as for the
  -- method call the user wrote and raised at the user's line; other errors (an observer's) pass
  -- through unchanged.
  local function call(...)
    local res = table.pack(pcall(run, ...))
    if res[1] then return table.unpack(res, 2, res.n) end
    local e = res[2]
    local n, rest
    if type(e) == "string" then n, rest = e:match("^bad argument #(%d+) to '[^']*' (.*)$") end
    if n then
      n = tonumber(n)
      error(n == 1 and ("calling 'run' on bad self " .. rest) or
        string.format("bad argument #%d to 'run' %s", n - 1, rest), 3)
    end
    error(e, 0)
  end
  methods.run = function(self, net, X, Y, opts)
    if type(opts) ~= "table" or opts.progress == nil then
      local r = table.pack(call(self, net, X, Y, opts)) -- not a tail call: call blames our caller
      return table.unpack(r, 1, r.n)
    end
    local reporter = opts.progress
    if type(reporter) ~= "table" or type(reporter.update) ~= "function" then
      error(string.format("bad argument #4 to 'run' (option 'progress': a reporter with an update method "
        .. "expected (ntklab.output.progress), got %s)", type(reporter)), 2)
    end
    local o = {}
    for k, v in pairs(opts) do if k ~= "progress" then o[k] = v end end
    local by_steps, observer = opts.t == nil, opts.observer
    if opts.observe ~= nil then
      o.observer = function(t, step, loss, ...)
        reporter:update(by_steps and step or t, {t = t, loss = loss})
        if observer then return observer(t, step, loss, ...) end
      end
    end
    local results = table.pack(call(self, net, X, Y, o))
    if results[1] ~= nil then
      reporter:update(by_steps and self.steps or self.t, {t = self.t, loss = results[1]})
    end
    if reporter.finish then reporter:finish() end
    return table.unpack(results, 1, results.n)
  end
end

-- image networks (issue 16): the paper's Wide-ResNet as an ntklab.model
local wide_resnet = require "ntklab.wide_resnet"
ntklab.wide_resnet = wide_resnet.build          -- ntklab.wide_resnet{k, b, outputs, sigma, ...}
ntklab.wide_resnet_layers = wide_resnet.layers  -- its layer list, for inspection
ntklab.images = require "ntklab.images"         -- image datasets as NHWC rows, whitened

return ntklab
