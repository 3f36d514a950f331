-- 97-time_units: time made explicit in trainer:run (issue 12). t is the time of gradient flow;
-- for the discrete methods t = lr x steps. A run is given its end as t or as steps; one that would
-- take max_steps steps or more (default 10^6) fails at the start, before any step, unless
-- max_steps is raised; observation times the run cannot reach raise instead of being dropped;
-- tr.loss before the first step is NaN, not 0.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

local function problem()
  local task = ntklab.data.teacher{P = 8, D = 3, seed = 1}
  local net = ntklab.mlp{widths = {3, 4, 1}, sigma = 0.5, seed = 1}
  return net, task.X_train, task.y_train
end

local function isnan(x) return x ~= x end

describe("trainer:run time units", function()
  local net, X, Y = problem()
  local adam = ntklab.train.adam{lr = 1e-3}
  local gd = ntklab.train.gd{lr = 0.1}
  local rk4 = ntklab.train.flow{method = "rk4", dt = 1e-5}
  local stop = function() end
  bad_args.cases(it, {
    -- the issue's case: t = 1000 at lr 1e-3 is 10^6 Adam steps
    {"trainer:run", function() adam:run(net, X, Y, {t = 1000}) end,
      "bad argument #4 to 'run' (option 't': t = 1000 at lr = 0.001 takes 1000000 steps (t = lr x steps), "
      .. "max_steps = 1000000 allows fewer; raise max_steps to run it)"},
    {"trainer:run", function() gd:run(net, X, Y, {steps = 2000000}) end,
      "bad argument #4 to 'run' (option 'steps': 2000000 steps, max_steps = 1000000 allows fewer; "
      .. "raise max_steps to run it)"},
    {"trainer:run", function() rk4:run(net, X, Y, {t = 100}) end,
      "(option 't': t = 100 at dt = 1e-05 takes 10000000 steps (t = dt x steps)"},
    {"trainer:run", function() gd:run(net, X, Y, {t = 1, max_steps = 0}) end,
      "bad argument #4 to 'run' (option 'max_steps': integer >= 1 expected, got 0)"},
    -- observation times past the end of a run given in steps: the end is t + lr x steps
    {"trainer:run", function() gd:run(net, X, Y, {steps = 10, observe = {0.5, 2}, observer = stop}) end,
      "bad argument #4 to 'run' (option 'observe': time 2 is past the end of the run, t = 1 "
      .. "(10 steps at lr = 0.1))"},
  })
end)

describe("trainer:run", function()
  it("refuses a long run before taking any step, and takes it when max_steps allows", function()
    local net, X, Y = problem()
    local theta = net:get()
    local adam = ntklab.train.adam{lr = 1e-3}
    assert.has_error(function() adam:run(net, X, Y, {t = 1.5, max_steps = 1000}) end)
    assert.are.equal(0, adam.steps)
    assert.are.same(theta:totable(), net:get():totable())   -- nothing moved
    adam:run(net, X, Y, {t = 1.5, max_steps = 2000})
    assert.are.equal(1500, adam.steps)
    assert.are.equal(1e-3 * 1500, adam.t)                    -- t = lr x steps, exactly
  end)

  it("counts the steps left from the trainer's current t", function()
    local net, X, Y = problem()
    local gd = ntklab.train.gd{lr = 0.1}
    gd:run(net, X, Y, {steps = 5})
    assert.are.equal(0.1 * 5, gd.t)
    -- from t = 0.5 to t = 1.5: 10 more steps, within max_steps = 11
    gd:run(net, X, Y, {t = 1.5, max_steps = 11})
    assert.are.equal(15, gd.steps)
    assert.has_error(function() gd:run(net, X, Y, {t = 2.5, max_steps = 10}) end,
      "bad argument #4 to 'run' (option 't': t = 2.5 at lr = 0.1 takes 10 steps from t = 1.5 "
      .. "(t = lr x steps), max_steps = 10 allows fewer; raise max_steps to run it)")
  end)

  it("stops an adaptive flow at max_steps with an error, never silently short of t", function()
    local net, X, Y = problem()
    local flow = ntklab.train.flow{method = "rk45"}
    local ok, err = pcall(flow.run, flow, net, X, Y, {t = 50, max_steps = 3})
    assert.is_false(ok)
    assert.matches("rk45 reached t = .- after 2 steps, short of t = 50: max_steps = 3 allows fewer; "
      .. "raise max_steps", err)
    assert.are.equal(2, flow.steps)
  end)

  it("raises for observation times a run given in steps did not reach", function()
    local net, X, Y = problem()
    local flow = ntklab.train.flow{method = "rk45"}
    local seen = {}
    local ok, err = pcall(flow.run, flow, net, X, Y, {steps = 2, observe = {0, 1e3}, observer = function(t)
      seen[#seen + 1] = t
    end})
    assert.is_false(ok)
    assert.are.same({0}, seen)
    assert.matches("observation time 1000 not reached: the run ended after 2 steps at t = ", err, 1, true)
  end)

  it("leaves times after an observer's stop unobserved, as asked", function()
    local net, X, Y = problem()
    local gd = ntklab.train.gd{lr = 0.1}
    local seen = {}
    gd:run(net, X, Y, {t = 1, observe = {0, 0.5, 1}, observer = function(t)
      seen[#seen + 1] = t
      return t >= 0.5
    end})
    assert.are.equal(2, #seen)
  end)

  it("reads loss as NaN before the first step, and after reset", function()
    local net, X, Y = problem()
    for _, tr in ipairs{ntklab.train.gd{lr = 0.1}, ntklab.train.sgd{lr = 0.1, batch = 4},
                        ntklab.train.adam{lr = 1e-3}, ntklab.train.flow{method = "rk45"},
                        ntklab.train.flow{method = "rk4", dt = 0.1}} do
      assert.is_true(isnan(tr.loss), tr.method .. ": loss before any step")
      local l0 = tr:step(net, X, Y)
      assert.are.equal(l0, tr.loss)
      assert.is_false(isnan(tr.loss))
      tr:reset()
      assert.is_true(isnan(tr.loss), tr.method .. ": loss after reset")
    end
  end)
end)
