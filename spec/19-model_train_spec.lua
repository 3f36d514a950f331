-- 19-model_train: trainers, trainer:run with its observers, the recorder and ntklab.ntk on any
-- model through the one model interface: a small Wide-ResNet stepped by gd, sgd, adam and the
-- flows against plain-Lua updates (on m:grad, itself checked against central differences), the
-- recorder's rows against the explicit J J^T twin, and the kernel of any network.
local ntklab = require "ntklab"
local model_fd = require "spec.support.model_fd"

-- The trainers' updates against the same formula in plain Lua: the same products, possibly
-- fused (AVX-512 daxpy) or summed in another order, so a few ulps of the parameters.
local STEP_REL_TOL = 1e-13
-- A gradient against central differences of the loss (spec/support/model_fd.lua).
local FD_REL_TOL = 1e-6
-- Fast kernel against explicit J J^T: the same sums in another order (the issue's bound).
local NTK_REL_TOL = 1e-12
-- rk45 (rtol 1e-10) against rk4 with a step 1/256 of the interval, relative to how far the
-- parameters move: the ReLUs make the flow's right-hand side jump where a pre-activation crosses
-- 0, so both integrators converge only at first order across such kinks (rk4 at 1/64 and 1/256
-- of the interval differ by ~1e-5 of the displacement here; rk45 and fine rk4 by ~5e-6).
local FLOW_REL_TOL = 1e-4

local function resnet(seed)
  return ntklab.wide_resnet{k = 1, b = 1, outputs = 1, input = {2, 6, 6}, seed = seed,
                            bias = true}
end

local function data()
  return ntklab.rng(1):normal(6, 72), ntklab.rng(2):normal(6, 1)
end

local function list(t) return t:clone():reshape(t:numel()):totable() end

-- max |a - b| / max |b| over two Lua arrays
local function rel(a, b)
  local num, den = 0, 0
  for i = 1, #b do
    num = math.max(num, math.abs(a[i] - b[i]))
    den = math.max(den, math.abs(b[i]))
  end
  return num / den
end

-- theta <- theta + s * d, in plain Lua
local function axpy(theta, s, d)
  local out = {}
  for i = 1, #theta do out[i] = theta[i] + s * d[i] end
  return out
end

-- the gradient of the loss at parameters theta (restores nothing: callers set what they need)
local function grad_at(m, theta, X, Y)
  m:params():copy_(ntklab.tensor(theta))
  return list((m:grad(X, Y)))
end

describe("trainers on a Wide-ResNet", function()
  it("m:grad, which the references use, is the loss's gradient (central differences)", function()
    local m = resnet(3)
    local X, Y = data()
    assert.is_true(model_fd.loss_grad_error(m, X, Y, 37) <= FD_REL_TOL)
  end)

  it("gd: theta - lr grad L", function()
    local m = resnet(3)
    local X, Y = data()
    local theta0 = list(m:params())
    local want = axpy(theta0, -0.05, grad_at(m, theta0, X, Y))
    m:params():copy_(ntklab.tensor(theta0))
    local tr = ntklab.train.gd{lr = 0.05}
    local loss = tr:step(m, X, Y)
    assert.are.equal(m:loss(X, Y) == loss, false) -- the loss where the step started, not after
    assert.is_true(rel(list(m:params()), want) <= STEP_REL_TOL)
    assert.are.equal(0.05, tr.t)
  end)

  it("sgd (full batch) with momentum: two heavy-ball steps", function()
    local m = resnet(4)
    local X, Y = data()
    local lr, mu = 0.05, 0.9
    local theta0 = list(m:params())
    local g1 = grad_at(m, theta0, X, Y)
    local theta1 = axpy(theta0, -lr, g1)
    local g2 = grad_at(m, theta1, X, Y)
    local v2 = axpy(g2, mu, g1) -- v <- mu v + g, v1 = g1
    local want = axpy(theta1, -lr, v2)
    m:params():copy_(ntklab.tensor(theta0))
    local tr = ntklab.train.sgd{lr = lr, momentum = mu}
    tr:step(m, X, Y)
    tr:step(m, X, Y)
    assert.is_true(rel(list(m:params()), want) <= STEP_REL_TOL)
  end)

  it("adam: two bias-corrected steps, and its effective step lr / (sqrt(v_hat) + eps)", function()
    local m = resnet(5)
    local X, Y = data()
    local lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    local theta = list(m:params())
    local mom, var = {}, {}
    for i = 1, #theta do mom[i], var[i] = 0, 0 end
    local eta
    for k = 1, 2 do
      local g = grad_at(m, theta, X, Y)
      local bc1, bc2 = 1 - b1 ^ k, 1 - b2 ^ k
      eta = {}
      for i = 1, #theta do
        mom[i] = b1 * mom[i] + (1 - b1) * g[i]
        var[i] = b2 * var[i] + (1 - b2) * g[i] * g[i]
        theta[i] = theta[i] - lr * (mom[i] / bc1) / (math.sqrt(var[i] / bc2) + eps)
        eta[i] = lr / (math.sqrt(var[i] / bc2) + eps)
      end
    end
    m = resnet(5)
    local tr = ntklab.train.adam{lr = lr}
    tr:step(m, X, Y)
    tr:step(m, X, Y)
    assert.is_true(rel(list(m:params()), theta) <= STEP_REL_TOL)
    assert.is_true(rel(list(tr:effective_lr(m)), eta) <= STEP_REL_TOL)
  end)

  it("flow rk4: one classical Runge-Kutta step on dtheta/dt = -grad L", function()
    local m = resnet(6)
    local X, Y = data()
    local dt = 0.02
    local y0 = list(m:params())
    local k1 = grad_at(m, y0, X, Y)
    local k2 = grad_at(m, axpy(y0, -dt / 2, k1), X, Y)
    local k3 = grad_at(m, axpy(y0, -dt / 2, k2), X, Y)
    local k4 = grad_at(m, axpy(y0, -dt, k3), X, Y)
    local want = {}
    for i = 1, #y0 do want[i] = y0[i] - dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) end
    m:params():copy_(ntklab.tensor(y0))
    local tr = ntklab.train.flow{method = "rk4", dt = dt}
    tr:step(m, X, Y)
    assert.is_true(rel(list(m:params()), want) <= STEP_REL_TOL)
  end)

  it("flow rk45 lands where a fine rk4 does", function()
    local X, Y = data()
    local a, b = resnet(7), resnet(7)
    local theta0 = a:params():clone()
    ntklab.train.flow{rtol = 1e-10, atol = 1e-12}:run(a, X, Y, {t = 0.02})
    ntklab.train.flow{method = "rk4", dt = 0.02 / 256}:run(b, X, Y, {t = 0.02})
    local moved = (b:params() - theta0):abs():max()
    assert.is_true(moved > 1e-3) -- a run that moves the parameters
    assert.is_true((a:params() - b:params()):abs():max() <= FLOW_REL_TOL * moved)
  end)

  it("run: the observer sees the model at each time; a trainer stays bound to its model", function()
    local m = resnet(8)
    local X, Y = data()
    local tr = ntklab.train.gd{lr = 0.01}
    local seen = {}
    tr:run(m, X, Y, {t = 0.05, observe = {0.02, 0.04}, observer = function(t, step, loss, net)
      assert.are.equal(m, net)
      assert.are.equal(net:loss(X, Y), loss)
      seen[#seen + 1] = step
    end})
    assert.are.same({2, 4}, seen)
    assert.are.equal(5, tr.steps)
    local other = ntklab.wide_resnet{k = 2, b = 1, outputs = 1, input = {2, 6, 6}, seed = 1}
    assert.error_matches(function() tr:step(other, X, Y) end,
      "trainer bound to a net of shape %[2 x 6 x 6%] %-> 1 %(.- parameters%), got %[2 x 6 x 6%]")
    local mlp = ntklab.mlp{widths = {72, 4, 1}, seed = 1}
    assert.error_matches(function() tr:step(mlp, X, Y) end, "got one of widths {72, 4, 1}")
    tr:reset()
    tr:step(mlp, X, Y) -- rebound
    assert.error_matches(function() tr:step(m, ntklab.zeros(6, 71), Y) end,
      "bad argument #2 to 'step' %(%[P x 72%] expected, got %[6 x 71%]%)")
  end)
end)

describe("the recorder on a Wide-ResNet", function()
  it("records every time; its kernels are the explicit J J^T twin's", function()
    local m = resnet(9)
    local X, y = ntklab.rng(1):normal(6, 72), ntklab.rng(2):normal(6)
    local Xt, yt = ntklab.rng(3):normal(3, 72), ntklab.rng(4):normal(3)
    local K0 = ntklab.model_ntk_reference(m, X)
    local tr = ntklab.train.adam{lr = 1e-2}
    local times = {0, 0.01, 0.03}
    local rec = ntklab.recorder{times = times, X = X, y = y, X_test = Xt, y_test = yt,
                                adam = tr, tile = 4}
    rec:run(tr, m)
    local T = rec.trajectory
    assert.are.equal(#times, rec:count())
    assert.are.same(times, T.t)
    local ngroups = #m:groups()
    assert.are.equal(ngroups, 10) -- 6 b + 1 + 2 projections + 1 dense, b = 1
    assert.is_not_nil(T["layer" .. ngroups .. "_norm"])
    local function close(a, b) return math.abs(a - b) <= NTK_REL_TOL * math.abs(b) end
    -- first row: the initial kernel; last row: the kernel at the end (the run ends there)
    local s0 = ntklab.kernel_stats(K0, y)
    assert.is_true(close(T.kernel_norm[1], s0.norm))
    assert.is_true(close(T.alignment_centered[1], s0.alignment_centered))
    local K = ntklab.model_ntk_reference(m, X)
    local s = ntklab.kernel_stats(K, y)
    local n = rec:count()
    assert.is_true(close(T.kernel_norm[n], s.norm))
    assert.is_true(close(T.alignment[n], s.alignment))
    assert.is_true(close(T.alignment_centered[n], s.alignment_centered))
    -- the layer split sums to the kernel's trace
    local trace = 0
    for g = 1, ngroups do
      trace = trace + ntklab.model_ntk_reference(m, X, {layer = g}):diagonal():sum()
    end
    assert.is_true(close(T.kernel_trace[n], trace))
    -- Adam's kernel (Eq. 91) with the trainer's effective steps
    assert.are_not.equal(T.adam_norm[1], T.adam_norm[1]) -- NaN before the first step
    local Ka = ntklab.model_ntk_reference(m, X, {eta = tr:effective_lr(m)})
    assert.is_true(close(T.adam_norm[n], ntklab.kernel_stats(Ka, y).norm))
    -- test x train at the end, and the test loss of the last row
    assert.is_true((rec.K_end_test - ntklab.model_ntk_reference(m, Xt, X)):abs():max()
                   <= NTK_REL_TOL * rec.K_end_test:abs():max())
    assert.is_true(close(T.test_loss[n], m:loss(Xt, yt:reshape(3, 1))))
  end)

  it("rejects a bad tile", function()
    local X, y = ntklab.rng(1):normal(4, 72), ntklab.rng(2):normal(4)
    assert.error_matches(function() ntklab.recorder{times = {0}, X = X, y = y, tile = -1} end,
      "option 'tile': integer >= 0 expected, got %-1")
    assert.error_matches(function() ntklab.recorder{times = {0}, X = X, y = y, tile = 1.5} end,
      "option 'tile': integer >= 0 expected, got 1.5")
  end)

  it("refuses beta (an MLP's first-layer alignment) for a model", function()
    local m = resnet(9)
    local X, y = ntklab.rng(1):normal(4, 72), ntklab.rng(2):normal(4)
    local rec = ntklab.recorder{times = {0}, X = X, y = y, beta = ntklab.ones(72)}
    assert.error_matches(function() rec:observe(0, 0, 1, m) end,
      "ntklab.mlp expected with option 'beta'")
  end)
end)

describe("ntklab.ntk of any network", function()
  it("a model's equals its explicit J J^T; an MLP's equals the twin over its model", function()
    local m = resnet(10)
    local X = ntklab.rng(5):normal(5, 72)
    local R = ntklab.model_ntk_reference(m, X)
    local K = ntklab.ntk(m, X, {tile = 2})
    assert.is_true((K - R):abs():max() <= NTK_REL_TOL * R:abs():max())
    local out = ntklab.zeros(5, 5)
    assert.are.equal(out, (ntklab.ntk(m, X, {out = out})))
    assert.is_true((out - R):abs():max() <= NTK_REL_TOL * R:abs():max())
    local net = ntklab.mlp{widths = {72, 9, 3}, seed = 2}
    local Rm = ntklab.model_ntk_reference(ntklab.model_from_mlp(net), X)
    local Km = ntklab.ntk(net, X)
    assert.is_true((Km - Rm):abs():max() <= NTK_REL_TOL * Rm:abs():max())
    assert.error_matches(function() ntklab.ntk(42, X) end,
      "bad argument #1 to 'ntk' %(ntklab.mlp or ntklab.model expected, got number%)")
    assert.error_matches(function() ntklab.ntk(m, X, {workspace = ntklab.kernel_workspace()}) end,
      "invalid option 'workspace'")
    assert.error_matches(function() ntklab.ntk(m, X, {out = ntklab.zeros(5, 4)}) end,
      "option 'out': contiguous %[5 x 5%] expected, got %[5 x 4%]")
  end)
end)
