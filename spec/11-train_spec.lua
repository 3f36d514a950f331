-- 11-train: trainers. GD and SGD against their update rules, Adam against a plain-Lua
-- reference, the conservation laws of gradient flow under rk45, the two-layer linear network
-- against the closed form q(t), r(t) of NOTES.md, rk45 against rk4, observation times and the
-- non-finite guard.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"

-- Adam in C and in Lua perform the same IEEE operations in the same order; the bound leaves
-- room only for a different libm pow/sqrt (there are none on one machine).
local ADAM_TOL = 1e-12
-- rk45 at rtol 1e-12 keeps the local error per step near 1e-12 relative; the quadratic
-- invariants drift by the accumulated error, orders below the issue's bound.
local CONSERVATION_TOL = 1e-8
-- NOTES.md: the r0-corrected q(t), r(t) track the flow to about 1e-4 s; the issue's bound.
local QR_TOL = 1e-3
-- rk4 with dt = 0.005 on the two-layer run: global error ~ (2 s dt)^4 ~ 1e-8 relative.
local RK_MATCH_TOL = 1e-6
-- BLAS axpy may fuse the multiply-add (one rounding instead of two): a few ulps of |theta|.
local AXPY_TOL = 1e-15

local function randn(seed, rows, cols) return ntklab.rng(seed):normal(rows, cols) end

-- Haar orthogonal n x n by modified Gram-Schmidt on a Gaussian (plain Lua, no ntklab linalg)
local function orthogonal(n, seed)
  local G = randn(seed, n, n):totable()
  local Q = {}
  for j = 1, n do
    local v = {}
    for i = 1, n do v[i] = G[i][j] end
    for k = 1, j - 1 do
      local d = 0
      for i = 1, n do d = d + Q[k][i] * v[i] end
      for i = 1, n do v[i] = v[i] - d * Q[k][i] end
    end
    local nrm = 0
    for i = 1, n do nrm = nrm + v[i] * v[i] end
    nrm = math.sqrt(nrm)
    for i = 1, n do v[i] = v[i] / nrm end
    Q[j] = v -- column j
  end
  return Q -- Q[j] is the j-th column
end

local matmul, maxabs, maxdiff = ref.matmul, ref.maxabs, ref.absdiff

describe("train", function()
  it("gd: theta <- theta - lr grad, t = lr steps, one gradient evaluation per step", function()
    local net = ntklab.mlp{widths = {3, 4, 2}, activation = "tanh", bias = true, seed = 1}
    local X, Y = randn(1, 6, 3), randn(2, 6, 2)
    local tr = ntklab.train.gd{lr = 0.1}
    local theta, g = net:get():totable(), net:grad(X, Y):totable()
    local loss0 = net:loss(X, Y)
    assert.are.equal(loss0, tr:step(net, X, Y))
    local after = net:get():totable()
    for i = 1, #theta do
      assert.is_true(math.abs(theta[i] - 0.1 * g[i] - after[i]) <= AXPY_TOL * math.max(1, math.abs(after[i])))
    end
    assert.are.equal(1, tr.steps)
    assert.are.equal(1, tr.evals)
    assert.are.equal(0.1, tr.t)
    local seen = {}
    local final = tr:run(net, X, Y, {t = 1.0, observe = {0.1, 0.3, 0.55}, observer = function(t, step, loss, n)
      seen[#seen + 1] = {t, step, loss}
      assert.are.equal(net, n)
      assert.are.equal(loss, net:loss(X, Y))
    end})
    -- observations at the first step with t >= t_k
    assert.are.same({1, 3, 6}, {seen[1][2], seen[2][2], seen[3][2]})
    assert.is_true(math.abs(seen[2][1] - 0.3) < 1e-15)
    assert.are.equal(10, tr.steps)
    assert.are.equal(10, tr.evals)
    assert.is_true(math.abs(tr.t - 1.0) < 1e-15)
    assert.is_true(final < loss0)
    assert.are.equal(final, net:loss(X, Y))
    -- steps = N runs N more steps; an observation time past their end raises before any step
    -- (issue 12: it used to be dropped silently)
    assert.has_error(function()
      tr:run(net, X, Y, {steps = 5, t = 5, observe = {1.5, 4}, observer = function() end})
    end, "bad argument #4 to 'run' (option 'observe': time 4 is past the end of the run, t = 1.5 "
      .. "(5 steps at lr = 0.1))")
    assert.are.equal(10, tr.steps)
    local called = false
    tr:run(net, X, Y, {steps = 5, t = 5, observe = {1.5}, observer = function(t)
      assert.is_true(math.abs(t - 1.5) < 1e-12)
      called = true
    end})
    assert.is_true(called)
    assert.are.equal(15, tr.steps)
    local eta = tr:effective_lr(net)
    assert.are.equal(0.1, eta:get(1))
    assert.are.equal(net:nparams(), eta:numel())
    assert.matches("gd{lr = 0.1} at t = 1.5", tostring(tr))
    assert.are.same({method = "gd", lr = 0.1, max_loss_ratio = 1e6}, tr:settings())
  end)

  it("sgd: full batch without momentum is gd; momentum and minibatches follow their rules", function()
    local X, Y = randn(1, 8, 3), randn(2, 8, 1)
    local a = ntklab.mlp{widths = {3, 5, 1}, seed = 4}
    local b = a:clone()
    local gd, sgd = ntklab.train.gd{lr = 0.05}, ntklab.train.sgd{lr = 0.05}
    gd:run(a, X, Y, {steps = 7})
    sgd:run(b, X, Y, {steps = 7})
    assert.are.same(a:get():totable(), b:get():totable())
    assert.are.equal(0.05 * 7, sgd.t) -- t = lr * steps, not an accumulated sum
    -- heavy ball: v <- mu v + g, theta <- theta - lr v (full batch, plain-Lua reference)
    local net = ntklab.mlp{widths = {3, 5, 1}, seed = 4}
    local ref = net:clone()
    local tr = ntklab.train.sgd{lr = 0.05, momentum = 0.9}
    local theta, v = ref:get():totable(), {}
    for i = 1, #theta do v[i] = 0 end
    for _ = 1, 5 do
      tr:step(net, X, Y)
      ref:set(ntklab.tensor(theta))
      local g = ref:grad(X, Y):totable()
      for i = 1, #theta do
        v[i] = 0.9 * v[i] + g[i]
        theta[i] = theta[i] - 0.05 * v[i]
      end
    end
    local got = net:get():totable()
    for i = 1, #theta do assert.is_true(math.abs(got[i] - theta[i]) < 1e-14) end
    -- minibatches: reproducible from the seed, different for another seed
    local function run(seed)
      local n = ntklab.mlp{widths = {3, 5, 1}, seed = 4}
      local t = ntklab.train.sgd{lr = 0.05, batch = 3, seed = seed}
      t:run(n, X, Y, {steps = 6})
      assert.are.equal(6, t.evals)
      return n:get():totable()
    end
    assert.are.same(run(1), run(1))
    assert.are_not.same(run(1), run(2))
  end)

  it("adam matches a plain-Lua reference step by step, and exposes lr / (sqrt(v_hat) + eps)", function()
    local X, Y = randn(5, 7, 3), randn(6, 7, 2)
    local net = ntklab.mlp{widths = {3, 5, 2}, activation = "tanh", bias = true, bias_sigma = 0.2, seed = 3}
    local ref = net:clone()
    local lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-7
    local tr = ntklab.train.adam{lr = lr, beta1 = b1, beta2 = b2, eps = eps}
    local eta0 = tr:effective_lr(net)
    assert.are.equal(lr / eps, eta0:get(1)) -- no moments yet
    local theta, m, v = ref:get():totable(), {}, {}
    for i = 1, #theta do m[i], v[i] = 0, 0 end
    for k = 1, 25 do
      tr:step(net, X, Y)
      ref:set(ntklab.tensor(theta))
      local g = ref:grad(X, Y):totable()
      for i = 1, #theta do
        m[i] = b1 * m[i] + (1 - b1) * g[i]
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
        local mhat = m[i] / (1 - b1 ^ k)
        local vhat = v[i] / (1 - b2 ^ k)
        theta[i] = theta[i] - lr * mhat / (math.sqrt(vhat) + eps)
      end
      local got = net:get():totable()
      for i = 1, #theta do
        assert.is_true(math.abs(got[i] - theta[i]) <= ADAM_TOL, "step " .. k)
      end
      local eta = tr:effective_lr(net):totable()
      for i = 1, #theta do
        local expect = lr / (math.sqrt(v[i] / (1 - b2 ^ k)) + eps)
        assert.is_true(math.abs(eta[i] - expect) <= ADAM_TOL * expect)
      end
    end
    assert.are.equal(25, tr.steps)
    assert.is_true(math.abs(tr.t - 0.25) < 1e-15)
    -- reset: back to t = 0 with fresh moments
    tr:reset()
    assert.are.equal(0, tr.steps)
    assert.are.equal(lr / eps, tr:effective_lr(net):get(1))
  end)

  it("step returns the loss where the step started, for every method", function()
    local X, Y = randn(1, 5, 3), randn(2, 5)
    local trainers = {ntklab.train.gd{lr = 0.1}, ntklab.train.sgd{lr = 0.1, momentum = 0.5},
                      ntklab.train.adam{lr = 0.01}, ntklab.train.flow{method = "rk4", dt = 0.1},
                      ntklab.train.flow{rtol = 1e-8}}
    for _, tr in ipairs(trainers) do
      local net = ntklab.mlp{widths = {3, 4, 1}, activation = "tanh", seed = 2}
      for _ = 1, 3 do
        local before = net:loss(X, Y)
        assert.are.equal(before, tr:step(net, X, Y), tr.method)
        assert.are.equal(before, tr.loss)
      end
    end
  end)

  it("rk4 and rk45 land exactly on the observation times", function()
    local net = ntklab.mlp{widths = {3, 4, 1}, activation = "tanh", seed = 2}
    local X, Y = randn(1, 5, 3), randn(2, 5)
    for _, tr in ipairs{ntklab.train.flow{method = "rk4", dt = 0.03}, ntklab.train.flow{rtol = 1e-8}} do
      local n = net:clone()
      local times, seen = {0, 0.1, 0.25, 1 / 3, 1.7}, {}
      tr:run(n, X, Y, {t = 2, observe = times, observer = function(t) seen[#seen + 1] = t end})
      assert.are.same(times, seen)
      assert.are.equal(2, tr.t)
    end
  end)

  it("conserves W^l W^l^T - W^{l+1}^T W^{l+1} along rk45 flow of a deep linear net", function()
    local widths = {5, 6, 4, 3}
    local net = ntklab.mlp{widths = widths, activation = "linear", sigma = 1, seed = 21}
    local X, Y = randn(1, 8, 5), randn(2, 8, 3)
    local function balance()
      local out = {}
      for l = 1, #widths - 2 do
        local A = matmul(net:weight(l), net:weight(l), false, true)
        local B = matmul(net:weight(l + 1), net:weight(l + 1), true, false)
        for i = 1, #A do for j = 1, #A do A[i][j] = A[i][j] - B[i][j] end end
        out[l] = {A, math.max(maxabs(B), maxabs(matmul(net:weight(l), net:weight(l), false, true)))}
      end
      return out
    end
    local b0 = balance()
    local loss0 = net:loss(X, Y)
    local tr = ntklab.train.flow{method = "rk45", rtol = 1e-12, atol = 1e-14}
    local loss = tr:run(net, X, Y, {t = 5})
    assert.is_true(loss < 0.5 * loss0) -- the weights moved
    local b1 = balance()
    for l = 1, #b0 do
      local drift = maxdiff(b0[l][1], b1[l][1]) / b1[l][2]
      assert.is_true(drift < CONSERVATION_TOL, "layer " .. l .. " drift " .. drift)
    end
  end)

  it("conserves the per-neuron balance |w_in|^2 - |w_out|^2 of a ReLU net along rk45 flow", function()
    for _, bias in ipairs{false, true} do
      local net = ntklab.mlp{widths = {4, 8, 1}, activation = "relu", bias = bias, bias_sigma = 0.3, seed = 5}
      local X, Y = randn(3, 10, 4), randn(4, 10)
      local function per_neuron()
        local W1, W2 = net:weight(1):totable(), net:weight(2):totable()
        local b1 = bias and net:bias(1):totable() or nil
        local out, scale = {}, {}
        for j = 1, 8 do
          local win = b1 and b1[j] ^ 2 or 0
          for i = 1, 4 do win = win + W1[j][i] ^ 2 end
          out[j], scale[j] = win - W2[1][j] ^ 2, win + W2[1][j] ^ 2
        end
        return out, scale
      end
      local c0 = per_neuron()
      local loss0 = net:loss(X, Y)
      local tr = ntklab.train.flow{rtol = 1e-12, atol = 1e-14}
      local loss = tr:run(net, X, Y, {t = 1})
      assert.is_true(loss < loss0)
      local c1, scale = per_neuron()
      for j = 1, 8 do
        assert.is_true(math.abs(c1[j] - c0[j]) < CONSERVATION_TOL * scale[j],
          "neuron " .. j .. " drift " .. math.abs(c1[j] - c0[j]) / scale[j])
      end
    end
  end)

  describe("two-layer linear net on whitened data (D = 25, N = 10, sigma = 1e-3, s = 1)", function()
    local D, N, s, P = 25, 10, 1, 25
    -- X = sqrt(P) Q with Q orthogonal: X^T X / P = I (fully whitened)
    local Q = orthogonal(D, 31)
    local Xt = {}
    for mu = 1, P do
      Xt[mu] = {}
      for i = 1, D do Xt[mu][i] = math.sqrt(P) * Q[mu][i] end
    end
    local X = ntklab.tensor(Xt)
    local beta = randn(32, D):totable()
    local nb = 0
    for i = 1, D do nb = nb + beta[i] ^ 2 end
    for i = 1, D do beta[i] = beta[i] / math.sqrt(nb) end
    local Yt = {}
    for mu = 1, P do
      local y = 0
      for i = 1, D do y = y + Xt[mu][i] * beta[i] end
      Yt[mu] = s * y
    end
    local Y = ntklab.tensor(Yt)
    local function qr(net)
      local a, W = net:weight(2):totable()[1], net:weight(1):totable()
      local Wb, aa, q, r = {}, 0, 0, 0
      for i = 1, N do
        Wb[i] = 0
        for j = 1, D do Wb[i] = Wb[i] + W[i][j] * beta[j] end
        aa = aa + a[i] ^ 2
        q = q + Wb[i] ^ 2
        r = r + a[i] * Wb[i]
      end
      return 0.5 * (aa + q), r
    end
    local function make() return ntklab.mlp{widths = {D, N, 1}, activation = "linear", sigma = 1e-3, seed = 33} end
    local T = 14

    it("follows the r0-corrected q(t), r(t) of NOTES.md within 1e-3 s at every observed time", function()
      local net = make()
      local q0, r0 = qr(net)
      local g = (q0 - r0) / (q0 + r0)
      local function closed(t)
        local e, d = math.exp(2 * s * t), math.exp(2 * s * t) - 1 + 2 * s / (q0 + r0)
        return s * (e + g / e) / d, s * (e - g / e) / d
      end
      local times = {}
      for k = 0, 4 * T do times[#times + 1] = k / 4 end
      local worst, count = 0, 0
      local tr = ntklab.train.flow{rtol = 1e-10, atol = 1e-14}
      tr:run(net, X, Y, {t = T, observe = times, observer = function(t)
        local q, r = qr(net)
        local qc, rc = closed(t)
        worst = math.max(worst, math.abs(q - qc), math.abs(r - rc))
        assert.is_true(math.abs(q - qc) < QR_TOL * s and math.abs(r - rc) < QR_TOL * s,
          string.format("t = %g: q %g vs %g, r %g vs %g", t, q, qc, r, rc))
        count = count + 1
      end})
      assert.are.equal(#times, count)
      print(string.format("\n  two-layer q(t), r(t): worst deviation from the r0-corrected closed form "
        .. "%.2e s over %d times in [0, %d] (%d gradient evaluations)", worst / s, count, T, tr.evals))
      -- the run went through the whole sigmoid: r ends near s
      local _, rT = qr(net)
      assert.is_true(math.abs(rT - s) < 1e-3)
    end)

    it("rk45 reaches rk4's (small dt) final parameters with far fewer gradient evaluations", function()
      local a, b = make(), make()
      local rk4 = ntklab.train.flow{method = "rk4", dt = 0.005}
      local rk45 = ntklab.train.flow{method = "rk45", rtol = 1e-8, atol = 1e-14}
      rk4:run(a, X, Y, {t = T})
      rk45:run(b, X, Y, {t = T})
      local pa, pb = a:get():totable(), b:get():totable()
      local num, den = 0, 0
      for i = 1, #pa do num, den = num + (pa[i] - pb[i]) ^ 2, den + pa[i] ^ 2 end
      local rel = math.sqrt(num / den)
      assert.is_true(rel < RK_MATCH_TOL, "relative difference " .. rel)
      assert.are.equal(4 * 2800, rk4.evals)
      assert.is_true(rk45.evals * 10 < rk4.evals, rk45.evals .. " vs " .. rk4.evals)
      print(string.format("\n  rk45 vs rk4 (dt 0.005) to t = %d: %d vs %d gradient evaluations "
        .. "(ratio %.1f), final relative difference %.2e", T, rk45.evals, rk4.evals,
        rk4.evals / rk45.evals, rel))
    end)
  end)

  it("stops with an error naming step, t and settings on a non-finite loss or parameters", function()
    local net = ntklab.mlp{widths = {2, 3, 1}, activation = "quadratic", sigma = 3, seed = 1}
    local X, Y = randn(1, 4, 2), randn(2, 4)
    local tr = ntklab.train.gd{lr = 100, max_loss_ratio = math.huge} -- spec 13 tests the bound
    local ok, msg = pcall(tr.run, tr, net, X, Y, {steps = 1000})
    assert.is_false(ok)
    assert.matches("non%-finite %a+ %(.*%) at step %d+, t = [%d.e+]+, in gd{lr = 100}", msg)
    local bad = ntklab.mlp{widths = {2, 1}, seed = 1}
    bad:params():set(1, 0 / 0)
    ok, msg = pcall(ntklab.train.adam{lr = 0.1}.step, ntklab.train.adam{lr = 0.1}, bad, X, Y)
    assert.is_false(ok)
    assert.matches("non%-finite loss %(.*nan%) at step 1, t = 0, in adam{lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e%-08}", msg)
  end)

  it("survives an observer that releases the data, the net or the trainer", function()
    local X, Y = randn(1, 6, 3), randn(2, 6)
    local net = ntklab.mlp{widths = {3, 4, 1}, seed = 1}
    local ref = net:clone()
    ntklab.train.gd{lr = 0.1}:run(ref, X:clone(), Y:clone(), {t = 1})
    local tr = ntklab.train.gd{lr = 0.1}
    tr:run(net, X, Y, {t = 1, observe = {0.5}, observer = function()
      X:release()
      Y:release()
      collectgarbage()
    end})
    assert.are.same(ref:get():totable(), net:get():totable())
    local X2, Y2 = randn(1, 6, 3), randn(2, 6)
    assert.has_error(function()
      tr:run(net, X2, Y2, {t = 2, observe = {1.5}, observer = function(_, _, _, n) n:release() end})
    end, "attempt to use a released mlp")
    local net2 = ntklab.mlp{widths = {3, 4, 1}, seed = 1}
    local tr2 = ntklab.train.flow{rtol = 1e-6}
    assert.has_error(function()
      tr2:run(net2, X2, Y2, {t = 1, observe = {0.5}, observer = function() tr2:release() end})
    end, "attempt to use a released trainer")
  end)

  it("refuses a net of another size once it holds state, until reset", function()
    local tr = ntklab.train.adam{lr = 0.1}
    local a = ntklab.mlp{widths = {2, 3, 1}, seed = 1}
    local b = ntklab.mlp{widths = {2, 4, 1}, seed = 1}
    local X, Y = randn(1, 4, 2), randn(2, 4)
    tr:step(a, X, Y)
    assert.has_error(function() tr:step(b, X, Y) end,
      "bad argument #1 to 'step' (trainer bound to a net of widths {2, 3, 1}, got {2, 4, 1} (reset() rebinds it))")
    tr:reset()
    tr:step(b, X, Y)
    assert.are.equal(1, tr.steps)
  end)
end)
