-- 60-deep_linear_observables: ntklab.deep_linear (end-to-end map, coefficient along beta,
-- first-layer cosine, balance, aligned start), ntklab.curves (crossing times, power-law fits)
-- and ntklab.record_schedule (record times that follow the dynamics), each against an
-- independent computation.
local ntklab = require "ntklab"
local theory = require "ntklab.theory"
local curves = require "ntklab.curves"
local deep_linear = require "ntklab.deep_linear"
local record_schedule = require "ntklab.record_schedule"

-- Products of a few small matrices and sums of squares: a few ulps of the values.
local ROUNDING = 1e-12

local function rel(a, b) return math.abs(a - b) / math.abs(b) end

-- Each row {fn, text}: fn raises an error that contains text.
local function expect_errors(rows)
  for _, row in ipairs(rows) do
    local ok, err = pcall(row[1])
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find(row[2], 1, true), tostring(err))
  end
end

local function linear_net(widths, sigma, seed)
  return ntklab.mlp{widths = widths, activation = "linear", sigma = sigma or 0.3, seed = seed or 1}
end

describe("deep_linear observables", function()
  local beta = {1, -2, 0.5, 0, 3}

  it("end_to_end is the map f(x) = v.x of the net", function()
    local net = linear_net({5, 4, 6, 3, 1})
    local v = deep_linear.end_to_end(net)
    local X = ntklab.rng(3):normal(7, 5)
    local f = net:forward(X):reshape(7)
    local fv = ntklab.matmul(X, v)
    for i = 1, 7 do assert.is_true(math.abs(f:get(i) - fv:get(i)) < ROUNDING * (1 + math.abs(f:get(i)))) end
  end)

  it("coefficient is v.beta/|beta|; first_layer_cosine is |W1 b|^2/|W1 W1^T|_F, as weight_alignment", function()
    local net = linear_net({5, 4, 1})
    local v = deep_linear.end_to_end(net):totable()
    local nb = math.sqrt(1 + 4 + 0.25 + 9)
    local c = 0
    for j = 1, 5 do c = c + v[j] * beta[j] / nb end
    assert.is_true(rel(deep_linear.coefficient(net, beta), c) < ROUNDING)
    -- plain Lua: cos(W^T W, b b^T) = <W^T W, b b^T>_F / (|W^T W|_F |b b^T|_F)
    local W = net:weight(1):totable()
    local WtW, num, den = {}, 0, 0
    for i = 1, 5 do
      WtW[i] = {}
      for j = 1, 5 do
        local s = 0
        for k = 1, 4 do s = s + W[k][i] * W[k][j] end
        WtW[i][j] = s
        num = num + s * beta[i] * beta[j] / (nb * nb)
        den = den + s * s
      end
    end
    local want = num / math.sqrt(den)
    assert.is_true(rel(deep_linear.first_layer_cosine(net, beta), want) < ROUNDING)
    assert.is_true(rel(ntklab.weight_alignment(net:weight(1), ntklab.tensor(beta)), want) < ROUNDING)
  end)

  it("aligned_init: c0 = u0^L, cosine 1, balanced, and the NTK is u^{2L-2} x^T[(L-1)bb^T + I]x'", function()
    for _, L in ipairs{2, 3, 5} do
      local widths = {5}
      for _ = 1, L - 1 do widths[#widths + 1] = 4 end
      widths[#widths + 1] = 1
      local net = deep_linear.aligned_init(linear_net(widths), beta, 0.7, ntklab.rng(4))
      assert.is_true(rel(deep_linear.coefficient(net, beta), 0.7 ^ L) < ROUNDING)
      assert.is_true(math.abs(deep_linear.first_layer_cosine(net, beta) - 1) < ROUNDING)
      assert.is_true(deep_linear.balance_gap(net) < ROUNDING)
      -- On the rank-one manifold the kernel is exactly theory's final form with s = u^L.
      local X = ntklab.rng(5):normal(4, 5)
      local K = ntklab.ntk(net, X, {output = "trace"})
      local want = theory.final_ntk_gram(0.7 ^ L, L, beta, X)
      for i = 1, 4 do for j = 1, 4 do
        assert.is_true(math.abs(K:get(i, j) - want[i][j]) < ROUNDING * (1 + math.abs(want[i][j])))
      end end
    end
  end)

  it("balance_gap is conserved by gradient flow from a random start", function()
    local net = linear_net({5, 6, 6, 1}, 0.5)
    local g0 = deep_linear.balance_gap(net)
    local ds = ntklab.data.teacher{P = 20, D = 5, whiten = true, seed = 2}
    ntklab.train.flow{method = "rk45", rtol = 1e-10, atol = 1e-12}:run(net, ds.X_train, ds.y_train, {t = 5})
    assert.is_true(g0 > 0.1)
    -- the integrator's drift: rtol 1e-10 over a few hundred steps
    assert.is_true(math.abs(deep_linear.balance_gap(net) - g0) < 1e-7)
  end)

  describe("bad arguments", function()
    local net = linear_net({5, 4, 1})
    local rows = {
      {function() deep_linear.end_to_end({}) end, "bad argument #1 to 'deep_linear.end_to_end' (ntklab.mlp expected, got table)"},
      {function() deep_linear.end_to_end(ntklab.mlp{widths = {5, 4, 1}, seed = 1}) end, "linear net expected, layer 1 has activation 'relu'"},
      {function() deep_linear.coefficient(ntklab.mlp{widths = {5, 4, 2}, activation = "linear", seed = 1}, beta) end, "net with one output expected, got 2"},
      {function() deep_linear.coefficient(ntklab.mlp{widths = {5, 1}, bias = true, seed = 1}, beta) end, "net without biases expected"},
      {function() deep_linear.coefficient(ntklab.mlp{widths = {5, 3, 1}, activation = "linear", param = "ntk", seed = 1}, beta) end, "standard parameterization expected"},
      {function() deep_linear.coefficient(net, {1, 2}) end, "bad argument #2 to 'deep_linear.coefficient' (beta with 5 entries expected (the net's inputs), got 2)"},
      {function() deep_linear.first_layer_cosine(net, {0, 0, 0, 0, 0}) end, "non-zero finite beta expected"},
      {function() deep_linear.balance_gap(nil) end, "ntklab.mlp expected, got nil"},
      {function() deep_linear.aligned_init(net, beta, -1, ntklab.rng(1)) end, "bad argument #3 to 'deep_linear.aligned_init'"},
      {function() deep_linear.aligned_init(net, beta, 1, 7) end, "bad argument #4 to 'deep_linear.aligned_init' (ntklab.rng expected, got number)"},
    }
    for i, row in ipairs(rows) do
      it("row " .. i .. ": " .. row[2], function()
        local ok, err = pcall(row[1])
        assert.is_false(ok)
        assert.is_truthy(tostring(err):find(row[2], 1, true), tostring(err))
      end)
    end
  end)
end)

describe("curves", function()
  it("crossing is exact for cubic data and finds the first crossing from either side", function()
    local t, v, w = {}, {}, {}
    for i = 1, 12 do
      t[i] = 0.3 * i + 0.01 * i * i
      v[i] = 1 - 0.3 * t[i] + 0.01 * t[i] ^ 3 -- reaches 0.5 once, falling
      w[i] = -v[i]
    end
    -- the true root of 1 - 0.2 t + 0.01 t^3 = 0.5 below the minimum, by bisection on the formula
    local a, b = 0, math.sqrt(10)
    for _ = 1, 200 do
      local m = 0.5 * (a + b)
      if 1 - 0.3 * m + 0.01 * m ^ 3 > 0.5 then a = m else b = m end
    end
    -- root of a cubic interpolated exactly, found to the last bits by bisection
    assert.is_true(math.abs(curves.crossing(t, v, 0.5) - a) < 1e-12)
    assert.is_true(math.abs(curves.crossing(t, w, -0.5) - a) < 1e-12)
    assert.is_nil(curves.crossing(t, v, -5))
    assert.are.equal(t[1], curves.crossing(t, v, v[1]))
    -- at the ends of the array: linear between the bracketing samples
    assert.is_true(math.abs(curves.crossing({0, 1}, {1, 0}, 0.25) - 0.75) < 1e-15)
  end)

  it("power_law recovers y = a x^p exactly and a noisy slope within its standard error", function()
    local x, y, z = {}, {}, {}
    for i = 1, 6 do
      x[i] = 10 ^ (-3 + 0.4 * i)
      y[i] = 3 * x[i] ^ -2
      z[i] = y[i] * (1 + 0.01 * ((i % 2) * 2 - 1))
    end
    local fit = curves.power_law(x, y)
    assert.is_true(math.abs(fit.slope + 2) < 1e-12 and rel(fit.prefactor, 3) < 1e-12)
    assert.is_true(fit.slope_se < 1e-12)
    local noisy = curves.power_law(x, z)
    assert.is_true(math.abs(noisy.slope + 2) < 3 * noisy.slope_se + 1e-3)
    assert.is_true(noisy.slope_se > 0)
  end)

  it("rejects bad input", function()
    local rows = {
      {function() curves.crossing({1, 2}, {1}, 0) end, "2 values expected (one per time), got 1"},
      {function() curves.crossing({2, 1}, {1, 0}, 0.5) end, "strictly ascending times expected"},
      {function() curves.crossing({1, 2}, {1, 0 / 0}, 0.5) end, "finite values expected, got"},
      {function() curves.crossing({1, 2}, {1, 0}, 0 / 0) end, "bad argument #3 to 'curves.crossing'"},
      {function() curves.line({1}, {1}) end, "at least 2 points expected, got 1"},
      {function() curves.line({1, 1}, {1, 2}) end, "at least 2 distinct x expected"},
      {function() curves.power_law({1, -1}, {1, 2}) end, "positive x expected, got -1 at index 2"},
      {function() curves.power_law({1, 2}, {1, 0}) end, "positive y expected, got 0 at index 2"},
    }
    expect_errors(rows)
  end)
end)

describe("record_schedule", function()
  it("samples a deep linear net's late, sharp transition densely and stops when told", function()
    -- L = 4 from the aligned start: c(t) sits near c0 = 0.2^4 until t ~ 60, then jumps to s in
    -- a few time units. Log-spaced records at 10 per decade would put ~1 record in the jump.
    local ds = ntklab.data.teacher{P = 12, D = 4, whiten = true, seed = 3}
    local net = deep_linear.aligned_init(linear_net({4, 3, 3, 3, 1}), ds.beta, 0.2, ntklab.rng(1))
    local flow = ntklab.train.flow{method = "rk45", rtol = 1e-10, atol = 1e-14}
    local ts, cs = {}, {}
    local max_change = 0.05
    local n, stopped = record_schedule.run{trainer = flow, net = net, X = ds.X_train, y = ds.y_train,
      t_min = 1e-2, t_max = 1e4, per_decade = 10, max_change = max_change,
      observe = function(t, _, nt)
        ts[#ts + 1], cs[#cs + 1] = t, deep_linear.coefficient(nt, ds.beta)
        return {math.log(cs[#cs]), cs[#cs]}
      end,
      stop = function(_, loss) return loss < 1e-12 end}
    assert.is_true(stopped)
    assert.are.equal(#ts, n)
    local biggest = 0
    for i = 2, n do biggest = math.max(biggest, cs[i] - cs[i - 1]) end
    -- the rate estimate lags by one record: a few max_change at most
    assert.is_true(biggest < 4 * max_change, "largest jump " .. biggest)
    -- the records are exact points of the theory's c(t)
    local want = theory.deep_c(ts, 1, 4, 0.2 ^ 4)
    for i = 1, n do assert.is_true(math.abs(cs[i] - want[i]) < 1e-6) end
    -- and the crossing read off them matches theory's t_1/2 (ODE and quadrature: 1e-9)
    local t_half = curves.crossing(ts, cs, 0.5)
    assert.is_true(rel(t_half, theory.t_half(1, 4, 0.2 ^ 4)) < 1e-6)
  end)

  it("rejects bad options", function()
    local rows = {
      {function() record_schedule.run{foo = 1} end, "invalid option 'foo'"},
      {function() record_schedule.run{} end, "option 'trainer' required"},
      {function()
        local ds = ntklab.data.teacher{P = 4, D = 2, seed = 1}
        record_schedule.run{trainer = ntklab.train.flow{}, net = linear_net({2, 1}), X = ds.X_train, y = ds.y_train,
          observe = function() return {"x"} end}
      end, "option 'observe': value 1 is string, a number expected"},
      {function()
        local ds = ntklab.data.teacher{P = 4, D = 2, seed = 1}
        record_schedule.run{trainer = ntklab.train.flow{}, net = linear_net({2, 1}), X = ds.X_train, y = ds.y_train,
          observe = function() return {1} end, max_change = -1}
      end, "option 'max_change': positive number expected for value 1"},
      {function() record_schedule.run{trainer = 1, net = 1, X = 1, y = 1, observe = print, t_min = 2, t_max = 1} end,
        "t_max > t_min expected"},
    }
    expect_errors(rows)
  end)
end)
