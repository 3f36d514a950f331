-- 27-analytic_kernel: the infinite-width NTK and NNGP kernels (ntklab.analytic_ntk,
-- analytic_nngp) against the empirical kernels of wide random nets, and the rate at which
-- those converge.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

local D, P = 10, 8
local X = ntklab.rng(1):normal(P, D)
local X2 = ntklab.rng(2):normal(5, D)

local function rel(A, B) return (A - B):norm() / B:norm() end

-- Mean empirical NTK of `count` nets drawn with seeds base+1 .. base+count.
local function mean_ntk(spec, count, base, Xa, Xb)
  local sum
  for s = 1, count do
    local o = {}
    for k, v in pairs(spec) do o[k] = v end
    o.seed = base + s
    local net = ntklab.mlp(o)
    local K = Xb and ntklab.ntk(net, Xa, Xb) or ntklab.ntk(net, Xa)
    sum = sum and sum:add_(K) or K
  end
  return sum:mul_(1 / count)
end

describe("analytic_ntk", function()
  it("ReLU: the mean empirical NTK of 20 nets of width 4096 is within 2% (relative Frobenius)", function()
    -- one hidden layer here (seconds); bench/analytic_ntk.lua runs the two-hidden-layer case
    -- (measured 0.8% with these inputs)
    local spec = {widths = {D, 4096, 1}, param = "ntk", activation = "relu"}
    local A = ntklab.analytic_ntk(spec, X)
    assert.is_true(rel(mean_ntk(spec, 20, 0, X), A) <= 0.02)
  end)

  it("converges at the O(1/sqrt(width)) rate, fitted over widths 256 .. 16384", function()
    local spec = {param = "ntk", activation = "relu"}
    spec.widths = {D, 1, 1}
    local A = ntklab.analytic_ntk(spec, X)
    local xs, ys = {}, {}
    for _, n in ipairs{256, 1024, 4096, 16384} do
      local e = 0
      for s = 1, 6 do
        local net = ntklab.mlp{widths = {D, n, 1}, param = "ntk", activation = "relu", seed = 1000 * s + n}
        e = e + rel(ntklab.ntk(net, X), A)
      end
      xs[#xs + 1], ys[#ys + 1] = math.log(n), math.log(e / 6)
    end
    local mx, my, sxy, sxx = 0, 0, 0, 0
    for i = 1, #xs do mx, my = mx + xs[i] / #xs, my + ys[i] / #ys end
    for i = 1, #xs do sxy, sxx = sxy + (xs[i] - mx) * (ys[i] - my), sxx + (xs[i] - mx) ^ 2 end
    local slope = sxy / sxx
    -- the fluctuation of a sum of n iid unit terms: slope -1/2; 6 draws per width leave about
    -- +-0.1 of scatter in the fit
    assert.is_true(slope > -0.65 and slope < -0.35, "fitted slope " .. slope)
  end)

  it("tanh, erf and linear hidden layers, biases, cross kernels, two hidden layers", function()
    -- mean of 4 nets of width 1024: the fluctuation is ~ c/sqrt(4 * 1024), c ~ 1-2 measured;
    -- 6% leaves a factor 2 of margin
    for _, act in ipairs{"tanh", "erf", "linear", "relu"} do
      local spec = {widths = {D, 1024, 1024, 1}, param = "ntk", activation = act, bias = true,
                    bias_sigma = 0.5, sigma = {1.5, 1.2, 0.8}}
      local A = ntklab.analytic_ntk(spec, X, X2)
      assert.are.same({P, 5}, A:shape())
      local err = rel(mean_ntk(spec, 4, 10, X, X2), A)
      assert.is_true(err <= 0.06, act .. ": " .. err)
    end
  end)

  it("standard parameterization: the leading-order expectation at the given widths", function()
    local spec = {widths = {D, 1024, 512, 1}, param = "standard", activation = "relu", sigma = 1.3}
    local A = ntklab.analytic_ntk(spec, X)
    -- it grows with the widths: far from the ntk parameterization's value
    assert.is_true(A:norm() > 100 * ntklab.analytic_ntk({widths = {D, 1024, 512, 1}, param = "ntk", sigma = 1.3}, X):norm())
    assert.is_true(rel(mean_ntk(spec, 4, 20, X), A) <= 0.06)
  end)

  it("the kernel of an mlp object is the kernel of its architecture table", function()
    local spec = {widths = {D, 64, 32, 3}, activation = {"tanh", "relu"}, param = "ntk", bias = true, sigma = 1.1, seed = 3}
    local net = ntklab.mlp(spec)
    assert.are.equal(0, (ntklab.analytic_ntk(net, X) - ntklab.analytic_ntk(spec, X)):abs():max())
    -- X2 = X gives the same numbers as the symmetric path (which fills one triangle)
    assert.is_true((ntklab.analytic_ntk(spec, X, X) - ntklab.analytic_ntk(spec, X)):abs():max() <= 1e-14)
  end)
end)

describe("analytic_nngp", function()
  it("is sigma_L^2 times the last layer's weight contribution to the empirical NTK, plus the bias variance", function()
    -- in the ntk parameterization layer L contributes a^{L-1}.a'^{L-1}/n_{L-1} (+1 with biases)
    -- to the NTK and Sigma^L = sigma_L^2 a.a'/n + sb^2; width 4096, 4 nets: ~1/sqrt(16384)
    for _, act in ipairs{"relu", "tanh"} do
      local spec = {widths = {D, 4096, 1}, param = "ntk", activation = act, sigma = {1.4, 0.9},
                    bias = true, bias_sigma = 0.3}
      local G = ntklab.analytic_nngp(spec, X)
      local sum = ntklab.zeros(P, P)
      for s = 1, 4 do
        spec.seed = 40 + s
        local _, layers = ntklab.ntk(ntklab.mlp(spec), X, {layers = true})
        sum:add_((layers[2] - 1) * (0.9 ^ 2 / 4) + 0.3 ^ 2 / 4)
      end
      assert.is_true(rel(sum, G) <= 0.03, act .. ": " .. rel(sum, G))
    end
  end)

  it("a linear net's NNGP is sigma-scaled x.x'/D, whatever the widths", function()
    local G = ntklab.analytic_nngp({widths = {D, 7, 3, 1}, activation = "linear", sigma = {2, 3, 0.5}}, X)
    local want = ntklab.matmul(X, X:t()) * (4 * 9 * 0.25 / D)
    assert.is_true(rel(G, want) <= 1e-14)
  end)
end)

describe("bad arguments", function()
  local spec = {widths = {D, 8, 1}}
  bad_args.cases(it, {
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk(3, X) end, "bad argument #1 to 'analytic_ntk' (mlp or architecture table expected, got number)"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk({widths = {D}}, X) end, "bad argument #1 to 'analytic_ntk' (option 'widths': 2 to 65 entries expected, got 1)"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk({widths = {D, 8, 1}, activation = "cube"}, X) end, "option 'activation': expected one of 'linear', 'relu', 'tanh', 'erf', 'gelu', 'softplus', 'quadratic', got 'cube'"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk({widths = {D, 8, 1}, param = "mup"}, X) end, "option 'param': expected one of 'standard', 'ntk', got 'mup'"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk({widths = {D, 8, 1}, sigma = -1}, X) end, "bad argument #1 to 'analytic_ntk' (sigma 1: non-negative finite number expected, got -1)"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk({widths = {D, 8, 1}, colour = 1}, X) end, "invalid option 'colour'"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk(spec, X:t()) end, "bad argument #2 to 'analytic_ntk' ([P x 10] inputs expected (widths[1] = 10), got [10 x 8])"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk(spec, X, X2:narrow(2, 1, 3)) end, "bad argument #3 to 'analytic_ntk' ([P2 x 10] inputs expected"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk(spec, X * (0 / 0)) end, "bad argument #2 to 'analytic_ntk' (inputs X: finite entries expected)"},
    {"ntklab.analytic_ntk", function() ntklab.analytic_ntk(spec, "X") end, "bad argument #2 to 'analytic_ntk'"},
    {"ntklab.analytic_nngp", function() ntklab.analytic_nngp(spec, X, 5) end, "bad argument #3 to 'analytic_nngp'"},
    {"ntklab.analytic_nngp", function() ntklab.analytic_nngp({widths = {D, 8, 1}, bias = true, bias_sigma = 0 / 0}, X) end, "bias_sigma: non-negative finite number expected, got"},
  })
end)
