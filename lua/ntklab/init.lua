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
--
-- Time made explicit (issue 12), here where run is wrapped: t is the time of gradient flow, for
-- the discrete methods t = lr x steps (rk4: dt x steps). A run that would take max_steps steps
-- or more (option max_steps, default MAX_STEPS) fails before its first step; rk45, whose steps
-- are not known in advance, stops at max_steps - 1 steps with an error if t is not reached then.
-- Observation times past the end of a run that its steps end before t raise at the start (the
-- end is known for fixed steps), or after the run when it is not (rk45); an observer that ends
-- the run leaves the later times unobserved, as it asked; tr.loss is NaN before the first step.
local MAX_STEPS = 1000000 -- t = 1000 at lr = 1e-3 takes 10^6 steps: that needs max_steps raised

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

  local function bad(key, msg)
    error(string.format("bad argument #4 to 'run' (option '%s': %s)", key, msg), 4)
  end
  local fmt = string.format
  local function num(x) return fmt("%.10g", x) end

  -- The checks of time and steps before the run, for a live trainer and a table of options (the
  -- C method reports anything else). Returns the options for the C run (without max_steps; rk45
  -- given a step cap) and a function that checks the end of the run: an rk45 run that hit the
  -- cap short of t, observation times a run given in steps did not reach.
  local function explicit_time(self, opts)
    local limit = opts.max_steps
    if limit ~= nil and (math.type(limit) ~= "integer" or limit < 1) then
      bad("max_steps", "integer >= 1 expected, got " .. tostring(limit))
    end
    limit = limit or MAX_STEPS
    local o = {}
    for k, v in pairs(opts) do if k ~= "max_steps" and k ~= "progress" then o[k] = v end end
    local T, steps = opts.t, opts.steps
    if (T ~= nil and type(T) ~= "number") or (steps ~= nil and math.type(steps) ~= "integer") then
      return o, nil -- the C method names the bad value
    end
    local s = self:settings()
    local h, hname = s.lr, "lr"
    if s.method == "rk4" then h, hname = s.dt, "dt" elseif s.method == "rk45" then h = nil end
    local t0, n0 = self.t, self.steps
    local end_t = math.huge
    local slack = 0
    if h then
      -- steps to reach T: discrete methods stop at the first step with t >= T, t = lr x steps
      -- exactly (within the core's slack); rk4 clips its last step onto T
      local need_t
      if T ~= nil and T >= t0 then
        if hname == "lr" then
          slack = 1e-9 * math.min(h, math.abs(T))
          need_t = math.max(0, math.ceil((T - slack) / h) - n0)
        else
          need_t = math.max(0, math.ceil((T - t0) / h - 1e-9))
        end
        -- past 2^53 steps the C method refuses the run whatever max_steps says
        if need_t >= limit and need_t <= 2 ^ 53 and (steps == nil or steps >= need_t) then
          bad("t", fmt("t = %s at %s = %s takes %s steps%s (t = %s x steps), max_steps = %d allows "
            .. "fewer; raise max_steps to run it", num(T), hname, num(h), num(need_t),
            t0 > 0 and (" from t = " .. num(t0)) or "", hname, limit))
        end
        end_t = T
      end
      if steps ~= nil and steps >= 0 then
        local by_steps = hname == "lr" and h * (n0 + steps) or t0 + h * steps
        if by_steps < end_t then end_t = by_steps end
      end
    end
    if steps ~= nil and steps >= limit then
      bad("steps", fmt("%d steps, max_steps = %d allows fewer; raise max_steps to run it", steps, limit))
    end
    local obs = type(opts.observe) == "table" and opts.observe or nil
    -- the steps end the run before t (or no t is given): times past that end cannot be observed
    if obs and end_t < (T or math.huge) then
      for _, tk in ipairs(obs) do
        if type(tk) == "number" and tk - end_t > slack then
          bad("observe", fmt("time %s is past the end of the run, t = %s (%d steps at %s = %s)",
            num(tk), num(end_t), steps, hname, num(h)))
        end
      end
    end
    local capped = false
    if not h and steps == nil and T ~= nil then
      o.steps, capped = limit - 1, true
    end
    -- observations seen, and whether the observer ended the run
    local seen, stopped = 0, false
    if obs and type(opts.observer) == "function" then
      local observer = opts.observer
      o.observer = function(...)
        seen = seen + 1
        local r = observer(...)
        if r then stopped = true end
        return r
      end
    end
    local function finish()
      if capped and T ~= nil and self.t < T and self.steps - n0 >= limit - 1 then
        error(fmt("%s reached t = %s after %d steps, short of t = %s: max_steps = %d allows fewer; "
          .. "raise max_steps (or rtol, if the flow is stiff)", s.method, num(self.t), self.steps - n0,
          num(T), limit), 3)
      end
      if obs and not stopped and seen < #obs then
        error(fmt("observation time %s not reached: the run ended after %d steps at t = %s",
          num(obs[seen + 1]), self.steps - n0, num(self.t)), 3)
      end
    end
    return o, finish
  end

  methods.run = function(self, net, X, Y, opts)
    local o, finish = opts, nil
    if type(opts) == "table" and getmetatable(self) == mt then o, finish = explicit_time(self, opts) end
    local reporter = type(opts) == "table" and opts.progress or nil
    if reporter == nil then
      local r = table.pack(call(self, net, X, Y, o)) -- not a tail call: call blames our caller
      if finish then finish() end
      return table.unpack(r, 1, r.n)
    end
    if type(reporter) ~= "table" or type(reporter.update) ~= "function" then
      error(string.format("bad argument #4 to 'run' (option 'progress': a reporter with an update method "
        .. "expected (ntklab.output.progress), got %s)", type(reporter)), 2)
    end
    local by_steps, observer = opts.t == nil, o.observer
    if opts.observe ~= nil then
      o.observer = function(t, step, loss, ...)
        reporter:update(by_steps and step or t, {t = t, loss = loss})
        if observer then return observer(t, step, loss, ...) end
      end
    end
    local results = table.pack(call(self, net, X, Y, o))
    if finish then finish() end
    if results[1] ~= nil then
      reporter:update(by_steps and self.steps or self.t, {t = self.t, loss = results[1]})
    end
    if reporter.finish then reporter:finish() end
    return table.unpack(results, 1, results.n)
  end

  -- tr.loss reads NaN before the first step (and after tr:reset()), not the 0 the C counter
  -- starts from: there is no loss of a step not taken.
  local fields = mt.__index
  if type(fields) == "function" then
    mt.__index = function(self, key)
      local v = fields(self, key)
      if key == "loss" and v == 0 and fields(self, "steps") == 0 then return -(0 / 0) end
      return v
    end
  end
end

-- image networks (issue 16): the paper's Wide-ResNet as an ntklab.model
local wide_resnet = require "ntklab.wide_resnet"
ntklab.wide_resnet = wide_resnet.build          -- ntklab.wide_resnet{k, b, outputs, sigma, ...}
ntklab.wide_resnet_layers = wide_resnet.layers  -- its layer list, for inspection
ntklab.images = require "ntklab.images"         -- image datasets as NHWC rows, whitened

return ntklab
