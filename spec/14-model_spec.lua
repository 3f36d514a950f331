-- 14-model: the model container (a graph of layers behind the model interface): building from a
-- layer list, determinism, the loss and its gradient, the VJP, per-sample gradients (the
-- Jacobian) against finite differences of the forward pass, parameter views and their lifetime,
-- and bad arguments.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

-- Central differences of the forward pass, h = 1e-6: see spec/support/model_fd.lua.
local FD_STEP = require("spec.support.model_fd").STEP
local GRAD_REL_TOL = 1e-6
-- Two evaluations of the same sums in different orders.
local SUM_TOL = 1e-12

local function randn(seed, rows, cols) return ntklab.rng(seed):normal(rows, cols) end

-- A residual block whose shape changes, then pooling and two outputs.
local function resnet(seed, param)
  return ntklab.model{input = {2, 5, 5}, seed = seed, param = param, bias_sigma = 0.1, layers = {
    {"conv", out = 3, kernel = 3, pad = 1},                  -- 1
    {"relu"},                                                -- 2
    {"conv", out = 4, kernel = 3, stride = 2, pad = 1},      -- 3
    {"relu"},                                                -- 4
    {"conv", out = 4, kernel = 3, pad = 1},                  -- 5
    {"conv", out = 4, kernel = 1, stride = 2, from = 1},     -- 6: projection shortcut
    {"add", from = {5, 6}},                                  -- 7
    {"pool"},                                                -- 8
    {"dense", out = 2}}}                                     -- 9
end

describe("building", function()
  it("reports its size, shapes and parameter groups", function()
    local m = resnet(1)
    assert.are.equal(50, m:input_dim())
    assert.are.equal(2, m:output_dim())
    assert.are.same({2, 5, 5}, {m:input_shape()})
    assert.are.same({4, 3, 3}, {m:node_shape(3)})
    assert.are.same({4, 1, 1}, {m:node_shape(8)})
    -- conv weights Cout x 3 x 3 x Cin and biases, dense 2 x 4 + 2
    local counts = {3 * 9 * 2 + 3, 4 * 9 * 3 + 4, 4 * 9 * 4 + 4, 4 * 3 + 4, 2 * 4 + 2}
    local groups = m:groups()
    local total = 0
    for g, c in ipairs(counts) do
      assert.are.equal(c, groups[g].count)
      assert.are.equal(total + 1, groups[g].offset)
      total = total + c
    end
    assert.are.same({1, 3, 5, 6, 9}, {groups[1].node, groups[2].node, groups[3].node,
                                      groups[4].node, groups[5].node})
    assert.are.equal("dense", groups[5].kind)
    assert.are.equal(total, m:nparams())
    assert.matches("ntklab.model %(net, 9 layers, " .. total .. " parameters, 50 %-> 2%)", tostring(m))
  end)

  it("same seed, same bits; init variance sigma^2 / fan_in (standard) or sigma^2 (ntk)", function()
    local a, b = resnet(3), resnet(3)
    assert.are.equal(0, (a:params() - b:params()):abs():max())
    local m = ntklab.model{input = {8, 6, 6}, seed = 1, sigma = 2, layers = {
      {"conv", out = 64, kernel = 3}}}
    local w = m:group(1):narrow(1, 1, 64 * 72)
    local var = (w * w):mean()
    assert.is_true(math.abs(var / (4 / 72) - 1) < 0.05) -- 4608 draws: 2% std error
    local n = ntklab.model{input = {8, 6, 6}, seed = 1, sigma = 2, param = "ntk",
                           layers = {{"conv", out = 64, kernel = 3}}}
    assert.is_true(math.abs((n:params() * n:params()):mean() / 4 - 1) < 0.05)
    -- biases start at zero unless bias_sigma says otherwise
    assert.are.equal(0, m:group(1):narrow(1, 64 * 72 + 1, 64):abs():max())
  end)
end)

describe("loss, gradient, VJP, Jacobian", function()
  for _, param in ipairs{"standard", "ntk"} do
    it(param .. ": per-sample gradients equal central differences of the forward pass", function()
      local m = resnet(2, param)
      local X = randn(5, 3, 50)
      local J = m:jacobian(X)
      assert.are.same({6, m:nparams()}, J:shape())
      local p = m:params()
      local worst = 0
      for i = 1, m:nparams() do
        local v = p:get(i)
        p:set(i, v + FD_STEP)
        local fp = m:forward(X)
        p:set(i, v - FD_STEP)
        local fm = m:forward(X)
        p:set(i, v)
        local fd = ((fp - fm) / (2 * FD_STEP)):reshape(6)
        worst = math.max(worst, (J:select(2, i) - fd):abs():max())
      end
      assert.is_true(worst / J:abs():max() <= GRAD_REL_TOL)
    end)
  end

  it("grad is the VJP with dout = (f - y) / P, and the Jacobian summed the same way", function()
    local m = resnet(4)
    local X, Y = randn(6, 4, 50), randn(7, 4, 2)
    local g, loss = m:grad(X, Y)
    local f = m:forward(X)
    local r = (f - Y) / 4
    assert.is_true(math.abs(loss - 0.5 * ((f - Y) ^ 2):sum() / 4) <= SUM_TOL * loss)
    local v = m:backward(r)
    assert.is_true((v - g):abs():max() <= SUM_TOL * g:abs():max())
    local J = m:jacobian(X, {tile = 3})
    local jt = ntklab.matmul(r:reshape(8), J)
    assert.is_true((jt - g):abs():max() <= SUM_TOL * g:abs():max())
    -- tiles change only the rounding of the forward GEMMs (other block sizes)
    local J1 = m:jacobian(X)
    assert.is_true((m:jacobian(X, {tile = 1}) - J1):abs():max() <= SUM_TOL * J1:abs():max())
  end)

  it("forward writes into a given tensor, also a strided one", function()
    local m = resnet(5)
    local X = randn(8, 3, 50)
    local want = m:forward(X)
    local out = ntklab.zeros(2, 3)
    assert.are.equal(out, select(1, m:forward(X, out:t())) and out)
    assert.are.equal(0, (out:t() - want):abs():max())
  end)

  it("an empty batch: no outputs, zero loss and gradient, no Jacobian rows", function()
    local m = resnet(10)
    local X, Y = ntklab.zeros(0, 50), ntklab.zeros(0, 2)
    assert.are.same({0, 2}, m:forward(X):shape())
    local g, loss = m:grad(X, Y)
    assert.are.equal(0, loss)
    assert.are.equal(0, g:abs():max())
    assert.are.same({0, m:nparams()}, m:jacobian(X):shape())
  end)

  it("a training step decreases the loss", function()
    local m = resnet(6)
    local X, Y = randn(9, 8, 50), randn(10, 8, 2)
    local g, l0 = m:grad(X, Y)
    m:params():axpy_(-0.05, g)
    assert.is_true(m:loss(X, Y) < l0)
  end)
end)

describe("parameter views", function()
  it("write through to the model and outlive it", function()
    local m = resnet(7)
    local p, g1 = m:params(), m:group(1)
    g1:set(1, 42)
    assert.are.equal(42, p:get(1))
    m:release()
    m = nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(42, p:get(1))
    assert.are.equal(42, g1:get(1))
  end)

  it("release is idempotent; a released model raises", function()
    local m = resnet(8)
    m:release()
    m:release()
    assert.are.equal("ntklab.model (released)", tostring(m))
    assert.has_error(function() m:nparams() end, "attempt to use a released model")
    do
      local c <close> = resnet(9)
      assert.are.equal(2, c:output_dim())
    end
  end)
end)

describe("bad arguments", function()
  local m = resnet(1)
  local X, Y = ntklab.zeros(3, 50), ntklab.zeros(3, 2)
  local function released()
    local r = resnet(1)
    r:release()
    return r
  end
  local input = {1, 4, 4}
  bad_args.cases(it, {
    {"ntklab.model", function() ntklab.model() end, "bad argument #1 to 'model' (table expected, got no value)"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"relu"}}, depth = 2} end, "invalid option 'depth'"},
    {"ntklab.model", function() ntklab.model{input = {1, 4}, seed = 1, layers = {{"relu"}}} end, "option 'input': {C, H, W} expected"},
    {"ntklab.model", function() ntklab.model{input = {1, 0, 4}, seed = 1, layers = {{"relu"}}} end, "{C, H, W} of integers >= 1 expected"},
    {"ntklab.model", function() ntklab.model{input = {4096, 4096, 8}, seed = 1, layers = {{"relu"}}} end, "bad argument #1 to 'model' (input of 4096 x 4096 x 8 values too large)"},
    {"ntklab.model", function() ntklab.model{input = input, layers = {{"relu"}}} end, "exactly one of the options 'seed' and 'rng' expected"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1} end, "option 'layers': list of layers expected"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {}} end, "option 'layers': 1 to 4096 layers expected, got 0"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"maxpool"}}} end, "layers[1]: unknown layer kind 'maxpool'"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"conv", kernel = 3}}} end, "layers[1]: conv needs 'out'"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"conv", out = 2}}} end, "layers[1]: conv needs 'kernel'"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"conv", out = 2, kernel = 5}}} end, "layers[1]: conv: 5 x 5 kernel larger than the padded 4 x 4 input"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"conv", out = 2, kernel = 3, stride = 0}}} end, "layers[1]: 'stride' integer in [1, 4096] expected, got 0"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"conv", out = 2, kernel = 1, size = 3}}} end, "layers[1]: invalid field 'size'"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"relu"}, {"add", from = {1, 2}}}} end, "layers[2]: add layer 2: input node 2 out of range [0, 1]"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"conv", out = 2, kernel = 1}, {"add", from = {0, 1}}}} end, "layers[2]: add: inputs of equal shape expected"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"add"}}} end, "layers[1]: add needs 'from = {i, j}'"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"relu", from = 3}}} end, "input node 3 out of range [0, 0]"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"dense", out = 1, param = "mup"}}} end, "layers[1]: 'param' one of 'standard', 'ntk' expected"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, sigma = "big", layers = {{"relu"}}} end, "option 'sigma': number expected, got string"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, layers = {{"dense", out = 1, sigma = -1}}} end, "dense: sigma >= 0 expected, got -1"},
    {"ntklab.model", function() ntklab.model{input = input, seed = 1, bias_sigma = -1, layers = {{"relu"}}} end, "bias_sigma >= 0 expected, got -1"},
    {"model:forward", function() m:forward(ntklab.zeros(3, 49)) end, "bad argument #1 to 'forward' ([P x 50] inputs expected, got [3 x 49])"},
    {"model:forward", function() m:forward(X, ntklab.zeros(3, 3)) end, "bad argument #2 to 'forward' (outputs [P x 2] expected, got [3 x 3])"},
    {"model:forward", function() released():forward(X) end, "attempt to use a released model"},
    {"model:loss", function() m:loss(X, ntklab.zeros(2, 2)) end, "bad argument #2 to 'loss' (targets for 3 samples expected, got 2)"},
    {"model:loss", function() m:loss(X) end, "bad argument #2 to 'loss' (ntklab.tensor expected, got no value)"},
    {"model:grad", function() m:grad(ntklab.zeros(3, 2), Y) end, "bad argument #1 to 'grad' ([P x 50] inputs expected, got [3 x 2])"},
    {"model:forward", function() m:forward(X, ntklab.zeros(4, 2)) end, "bad argument #2 to 'forward' (outputs [3 x 2] expected, got [4 x 2])"},
    {"model:grad", function() m:grad(X, Y, ntklab.zeros(3)) end, "bad argument #3 to 'grad' (gradient ["},
    {"model:backward", function() m:backward(ntklab.zeros(3, 5)) end, "bad argument #1 to 'backward' (output gradient [P x 2] expected, got [3 x 5])"},
    {"model:backward", function() resnet(2):backward(ntklab.zeros(3, 2)) end, "backward without a forward pass"},
    {"model:jacobian", function() m:jacobian(X, {tile = -1}) end, "option 'tile': integer >= 0 expected"},
    {"model:jacobian", function() m:jacobian(X, {tiles = 2}) end, "invalid option 'tiles'"},
    {"model:jacobian", function() m:jacobian(ntklab.zeros(50)) end, "bad argument #1 to 'jacobian' ([P x 50] inputs expected, got [50])"},
    {"model:params", function() released():params() end, "attempt to use a released model"},
    {"model:group", function() m:group(6) end, "bad argument #1 to 'group' (group 6 out of range [1, 5])"},
    {"model:groups", function() released():groups() end, "attempt to use a released model"},
    {"model:input_shape", function() released():input_shape() end, "attempt to use a released model"},
    {"model:node_shape", function() m:node_shape(10) end, "bad argument #1 to 'node_shape' (node 10 out of range [0, 9])"},
    {"model:nparams", function() released():nparams() end, "attempt to use a released model"},
    {"model:input_dim", function() released():input_dim() end, "attempt to use a released model"},
    {"model:output_dim", function() released():output_dim() end, "attempt to use a released model"},
    {"model:cache_bytes", function() released():cache_bytes() end, "attempt to use a released model"},
    {"model:clear_caches", function() released():clear_caches() end, "attempt to use a released model"},
    {"model:release", function() m.release(42) end, "bad argument #1 to 'release' (ntklab.model expected, got number)"},
  })
end)
