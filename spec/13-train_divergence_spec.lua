-- 13-train_divergence: a trainer bound to its net's shape, and the three ways it stops on
-- divergence (a non-finite loss, a loss past max_loss_ratio x the initial loss, a step longer than
-- the whole requested run), each naming the step, t, the settings and the loss. Issue 11: B1, B4,
-- B5, B6.
local ntklab = require "ntklab"

local function randn(seed, rows, cols) return ntklab.rng(seed):normal(rows, cols) end

-- Runs f; returns the error message (raises when f succeeds).
local function failure(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "an error was expected")
  return tostring(msg)
end

describe("a trainer binds to its net's shape", function()
  -- B1: two nets with the same parameter count and different shapes
  local function twin_nets()
    local a = ntklab.mlp{widths = {2, 6, 1}, bias = false, seed = 1} -- 12 + 6 = 18 parameters
    local b = ntklab.mlp{widths = {8, 2, 1}, bias = false, seed = 2} -- 16 + 2 = 18 parameters
    assert.are.equal(#a:params(), #b:params())
    return a, b
  end

  for _, make in ipairs{
    function() return ntklab.train.sgd{lr = 0.01, batch = 4} end,
    function() return ntklab.train.adam{lr = 0.01} end,
    function() return ntklab.train.gd{lr = 0.01} end,
    function() return ntklab.train.flow{method = "rk4", dt = 0.01} end,
  } do
    it("refuses a net of another shape with the same parameter count: " .. make():settings().method, function()
      local a, b = twin_nets()
      local tr = make()
      tr:run(a, randn(1, 10, 2), randn(2, 10), {steps = 3})
      local msg = failure(function() tr:run(b, randn(3, 10, 8), randn(4, 10), {steps = 3}) end)
      assert.matches("bad argument #1 to 'run' %(trainer bound to a net of widths {2, 6, 1}, "
        .. "got {8, 2, 1} %(reset%(%) rebinds it%)%)", msg)
      -- reset rebinds: fresh state (adam: zero moments), so b trains as with a new trainer
      tr:reset()
      local fresh, bclone = make(), b:clone()
      local X, Y = randn(3, 10, 8), randn(4, 10)
      tr:run(b, X, Y, {steps = 3})
      fresh:run(bclone, X, Y, {steps = 3})
      assert.are.same(bclone:get():totable(), b:get():totable())
    end)
  end

  it("refuses a net whose layout differs only in its biases", function()
    local tr = ntklab.train.adam{lr = 0.01}
    local a = ntklab.mlp{widths = {2, 3, 1}, bias = true, seed = 1}
    local X, Y = randn(1, 4, 2), randn(2, 4)
    tr:step(a, X, Y)
    local b = ntklab.mlp{widths = {2, 3, 1}, bias = false, seed = 1}
    assert.matches("trainer bound to a net of widths {2, 3, 1} with biases, got {2, 3, 1} without",
      failure(tr.step, tr, b, X, Y))
  end)
end)

describe("divergence stops the trainer", function()
  local X, Y = randn(1, 8, 3), randn(2, 8)
  local function net() return ntklab.mlp{widths = {3, 5, 1}, activation = "tanh", seed = 3} end

  it("reports a loss past max_loss_ratio x the initial loss (B6: finite divergence)", function()
    local tr = ntklab.train.gd{lr = 1e6}
    local msg = failure(tr.run, tr, net(), X, Y, {steps = 5})
    assert.matches("diverged at step %d+, t = [%de.+]+: loss [%de.+]+ exceeds 1e%+06 x the initial "
      .. "loss [%de.+-]+, in gd{lr = 1e%+06}", msg)
  end)

  it("takes max_loss_ratio as an option and names it in the settings", function()
    local tr = ntklab.train.gd{lr = 3, max_loss_ratio = 10}
    assert.are.equal(10, tr:settings().max_loss_ratio)
    assert.are.equal(1e6, ntklab.train.adam{lr = 1}:settings().max_loss_ratio)
    assert.matches("exceeds 10 x the initial loss", failure(tr.run, tr, net(), X, Y, {steps = 200}))
    -- math.huge turns the bound off; the non-finite guard stays
    local off = ntklab.train.gd{lr = 3, max_loss_ratio = math.huge}
    assert.matches("non%-finite", failure(off.run, off, net(), X, Y, {steps = 5000}))
    for _, bad in ipairs{1, 0.5, 0, -1, 0 / 0} do
      assert.has_error(function() ntklab.train.sgd{lr = 1, max_loss_ratio = bad} end)
    end
  end)

  it("reports a single step that overshoots the requested end time (B6)", function()
    local tr = ntklab.train.gd{lr = 1e3, max_loss_ratio = math.huge}
    local n = ntklab.mlp{widths = {3, 1}, sigma = 0, seed = 1}
    local msg = failure(tr.run, tr, n, X, Y * 0, {t = 10})
    assert.matches("step 1 overshoots the requested end time 10: t = 1000 %(one step is longer "
      .. "than the whole run%), loss [%de.+-]+, in gd{lr = 1000}", msg)
  end)

  it("tells an intermediate end (t) from the final one (t_final)", function()
    -- a recorder's early record times are shorter than a step: landing past them is normal
    local tr = ntklab.train.gd{lr = 0.5}
    local n = net()
    tr:run(n, X, Y, {t = 0.01, t_final = 10})
    assert.are.equal(0.5, tr.t)
    assert.has_error(function() tr:run(n, X, Y, {t = 1, t_final = 0.9}) end)
    -- an observer-driven run (a recorder, record by record) is bounded only by its t_final
    local obs = ntklab.train.gd{lr = 1e3, max_loss_ratio = math.huge}
    local zero = ntklab.mlp{widths = {3, 1}, sigma = 0, seed = 1}
    local seen = 0
    local observer = function() seen = seen + 1 end
    obs:run(zero, X, Y * 0, {t = 0.01, observe = {0, 0.01}, observer = observer})
    assert.are.equal(1000, obs.t)
    obs:reset()
    assert.matches("step 1 overshoots the requested end time 10",
      failure(function() obs:run(zero, X, Y * 0, {t = 0.01, t_final = 10, observe = {0, 0.01}, observer = observer}) end))
    assert.are.equal(3, seen) -- the overshooting point was never observed
  end)

  it("takes the step of a huge lr and reports it (B5: the rounding slack swallowed it)", function()
    for _, tr in ipairs{ntklab.train.gd{lr = 1e8}, ntklab.train.adam{lr = 1e300}} do
      local seen = {}
      local msg = failure(tr.run, tr, net(), X, Y, {t = 0.05, observe = {0, 0.01, 0.05},
        observer = function(t) seen[#seen + 1] = t end})
      assert.are.same({0}, seen) -- the failing step is reported before any observer sees it
      assert.matches("at step [12], t = 1[0-9.e+]+", msg) -- the one step taken, and where it landed
      assert.are.equal(1, tr.steps)
    end
  end)

  it("refuses a run that would take more than 2^53 steps, unless a step budget stops it", function()
    local tr = ntklab.train.gd{lr = 1e-300}
    assert.has_error(function() tr:run(net(), X, Y, {t = 1}) end,
      "t = 1 is 1e+300 steps of 1e-300 away, more than the 2^53 a run may take")
    tr:run(net(), X, Y, {t = 1, steps = 3})
    assert.are.equal(3, tr.steps)
  end)

  it("checks the loss at the end of a run and at each observation", function()
    -- the last step's result is judged too: one huge step, no further step
    local tr = ntklab.train.gd{lr = 1e6}
    local msg = failure(tr.run, tr, net(), X, Y, {steps = 1})
    assert.matches("diverged at step 2, t = 1000000:", msg)
  end)
end)
