-- 80-linearized: the linearized model at finite t (one eigendecomposition, any t) against the
-- explicit ODE solution of the linearized flow, and the recorded-kernel (path) variant.
local ntklab = require "ntklab"
local linearized = require "ntklab.linearized"
local bad_args = require "spec.support.bad_args"

-- RK4 with h c |K| <= 0.01 has a global relative error of order (0.01)^4 per unit of decay:
-- 1e-9 relative to the outputs' scale leaves room for the rounding of P = 12 sums.
local ODE_TOL = 1e-9

-- The linearized flow dD/dt = -c K D, df_x/dt = -c Kx D (D = f - y on the train set), by
-- plain-Lua RK4 from 0 to each of the ascending times. Arrays in, arrays out (single output).
local function ode(K, Kx, y, f0, f0x, c, times)
  local P, M = #K, #Kx
  local D, g = {}, {}
  for i = 1, P do D[i] = f0[i] - y[i] end
  for i = 1, M do g[i] = f0x[i] end
  local kn = 0
  for i = 1, P do for j = 1, P do kn = kn + K[i][j] ^ 2 end end
  local hmax = 0.01 / (c * math.sqrt(kn))
  local function rhs(R)
    local dD, dg = {}, {}
    for i = 1, P do
      local s = 0
      for j = 1, P do s = s + K[i][j] * R[j] end
      dD[i] = -c * s
    end
    for i = 1, M do
      local s = 0
      for j = 1, P do s = s + Kx[i][j] * R[j] end
      dg[i] = -c * s
    end
    return dD, dg
  end
  local out, t = {}, 0
  for n, T in ipairs(times) do
    local steps = math.ceil((T - t) / hmax)
    local h = steps > 0 and (T - t) / steps or 0
    for _ = 1, steps do
      local a1, b1 = rhs(D)
      local R = {}
      for i = 1, P do R[i] = D[i] + 0.5 * h * a1[i] end
      local a2, b2 = rhs(R)
      for i = 1, P do R[i] = D[i] + 0.5 * h * a2[i] end
      local a3, b3 = rhs(R)
      for i = 1, P do R[i] = D[i] + h * a3[i] end
      local a4, b4 = rhs(R)
      for i = 1, P do D[i] = D[i] + h / 6 * (a1[i] + 2 * a2[i] + 2 * a3[i] + a4[i]) end
      for i = 1, M do g[i] = g[i] + h / 6 * (b1[i] + 2 * b2[i] + 2 * b3[i] + b4[i]) end
    end
    t = T
    local train = {}
    for i = 1, P do train[i] = D[i] + y[i] end
    out[n] = {train = train, test = {table.unpack(g)}}
  end
  return out
end

local function maxdiff(a, b)
  local m = 0
  for i = 1, #a do m = math.max(m, math.abs(a[i] - b[i])) end
  return m
end

-- A kernel of rank r < P (a linear kernel on D = r inputs) and its test block.
local function problem(seed, P, M, D)
  local rng = ntklab.rng(seed)
  local X, Xt = rng:normal(P, D), rng:normal(M, D)
  local K, Kx = ntklab.matmul(X, X:t()), ntklab.matmul(Xt, X:t())
  return {K = K, Kx = Kx, y = rng:normal(P), f0 = rng:normal(P):mul_(0.3), f0_test = rng:normal(M):mul_(0.3)}
end

describe("linearized.predictor", function()
  it("matches the RK4 solution of the linearized flow at many times, also for a singular K", function()
    for _, case in ipairs{{P = 12, M = 5, D = 20, eta = 1}, {P = 12, M = 5, D = 4, eta = 3}} do
      local pb = problem(1, case.P, case.M, case.D)
      local pred = linearized.predictor{K = pb.K, y = pb.y, f0 = pb.f0, Kx = pb.Kx, f0_test = pb.f0_test, eta = case.eta}
      local times = {0, 0.05, 0.3, 1, 4, 20}
      local ref = ode(pb.K:totable(), pb.Kx:totable(), pb.y:totable(), pb.f0:totable(), pb.f0_test:totable(),
        case.eta / case.P, times)
      local scale = pb.y:abs():max()
      for n, t in ipairs(times) do
        assert.is_true(maxdiff(pred:train(t):totable(), ref[n].train) <= ODE_TOL * scale, "train at t = " .. t)
        assert.is_true(maxdiff(pred:test(t):totable(), ref[n].test) <= ODE_TOL * scale, "test at t = " .. t)
      end
    end
  end)

  it("t = 0 gives f0; t = infinity gives y on the train set and kernel regression on the test set", function()
    local pb = problem(2, 10, 4, 30) -- full rank: the interpolator is unique
    local pred = linearized.predictor{K = pb.K, y = pb.y, f0 = pb.f0, Kx = pb.Kx, f0_test = pb.f0_test}
    assert.is_true(maxdiff(pred:train(0):totable(), pb.f0:totable()) <= 1e-12)
    assert.is_true(maxdiff(pred:test(0):totable(), pb.f0_test:totable()) <= 1e-12)
    assert.is_true(maxdiff(pred:train(math.huge):totable(), pb.y:totable()) <= 1e-12)
    local fit = ntklab.kernel_regression{K = pb.K, y = pb.y - pb.f0, ridge = 0}
    local want = fit:predict(pb.Kx) + pb.f0_test
    -- K's condition number here is ~1e2: the two solves agree to ~1e-13 relative
    assert.is_true(maxdiff(pred:test(math.huge):totable(), want:totable()) <= 1e-10)
  end)

  it("C outputs: each column follows the scalar predictor of its own targets", function()
    local pb = problem(3, 9, 4, 6)
    local rng = ntklab.rng(30)
    local Y = rng:normal(9, 3)
    local pred = linearized.predictor{K = pb.K, y = Y, Kx = pb.Kx}
    local got_train, got_test = pred:train(2.5), pred:test(2.5)
    assert.are.same({9, 3}, got_train:shape())
    for col = 1, 3 do
      local one = linearized.predictor{K = pb.K, y = Y:select(2, col), Kx = pb.Kx}
      assert.is_true(maxdiff(got_train:select(2, col):totable(), one:train(2.5):totable()) <= 1e-13)
      assert.is_true(maxdiff(got_test:select(2, col):totable(), one:test(2.5):totable()) <= 1e-13)
    end
  end)

  it("fills a caller's buffer; trajectory gives one tensor per time", function()
    local pb = problem(4, 8, 3, 5)
    local pred = linearized.predictor{K = pb.K, y = pb.y, Kx = pb.Kx}
    local buf = ntklab.zeros(3)
    assert.are.equal(buf, pred:test(1.5, buf))
    assert.is_true(maxdiff(buf:totable(), pred:test(1.5):totable()) == 0)
    local tr = pred:trajectory{0, 1, 2}
    assert.are.equal(3, #tr.train)
    assert.is_true(maxdiff(tr.test[2]:totable(), pred:test(1):totable()) == 0)
    assert.is_true(maxdiff(tr.train[3]:totable(), pred:train(2):totable()) == 0)
  end)
end)

describe("linearized.path", function()
  it("with a constant kernel it is the frozen-kernel predictor at every time", function()
    local pb = problem(5, 10, 4, 6)
    local pred = linearized.predictor{K = pb.K, y = pb.y, f0 = pb.f0, Kx = pb.Kx, f0_test = pb.f0_test}
    local snaps = {{t = 0, K = pb.K, k = pb.Kx}, {t = 3, K = pb.K, k = pb.Kx}, {t = 8, K = pb.K, k = pb.Kx}}
    local times = {0, 0.7, 3, 5.5, 8}
    local r = assert(linearized.path(snaps, pb.y, pb.f0, pb.f0_test, times, {step = 0.05}))
    for n, t in ipairs(times) do
      -- RK4 at h c |K|_F <= 0.05: ~1e-8 of the outputs' scale
      assert.is_true(maxdiff(r.train[n]:totable(), pred:train(t):totable()) <= 1e-7, "train at " .. t)
      assert.is_true(maxdiff(r.test[n]:totable(), pred:test(t):totable()) <= 1e-7, "test at " .. t)
    end
  end)

  it("at the last snapshot it agrees with pathkernel.predictor over all snapshots on a moving kernel", function()
    local a, b = problem(6, 10, 4, 6), problem(7, 10, 4, 6)
    local snaps = {{t = 0, K = a.K, k = a.Kx}, {t = 2, K = b.K, k = b.Kx}, {t = 5, K = a.K:clone():mul_(2), k = a.Kx:clone():mul_(2)}}
    local r = assert(linearized.path(snaps, a.y, a.f0, a.f0_test, {1, 2, 3.5, 5}, {step = 0.05}))
    local whole = assert(ntklab.pathkernel.predictor(snaps, a.y, a.f0, a.f0_test, {step = 0.05}))
    assert.is_true(maxdiff(r.test[4]:totable(), whole.test:totable()) <= 1e-7)
    assert.is_true(maxdiff(r.train[4]:totable(), whole.train:totable()) <= 1e-7)
  end)
end)

describe("bad arguments", function()
  local pb = problem(8, 4, 2, 3)
  local pred = linearized.predictor{K = pb.K, y = pb.y}
  bad_args.cases(it, {
    {"ntklab.linearized.predictor", function() linearized.predictor(3) end, "bad argument #1 to 'linearized.predictor' (table expected, got number)"},
    {"ntklab.linearized.predictor", function() linearized.predictor{K = pb.K, y = pb.y, foo = 1} end, "invalid option 'foo'"},
    {"ntklab.linearized.predictor", function() linearized.predictor{K = pb.Kx, y = pb.y} end, "square matrix expected, got [2 x 4]"},
    {"ntklab.linearized.predictor", function() linearized.predictor{K = pb.K, y = ntklab.zeros(3)} end, "field 'y': [4 x 1] expected, got [3]"},
    {"ntklab.linearized.predictor", function() linearized.predictor{K = pb.K, y = pb.y, eta = -1} end, "field 'eta': positive finite number expected"},
    {"ntklab.linearized.predictor", function() linearized.predictor{K = pb.K, y = pb.y, Kx = pb.K:narrow(2, 1, 3)} end, "field 'Kx': [M x 4] expected, got [4 x 3]"},
    {"ntklab.linearized.predictor", function() linearized.predictor{K = pb.K * (0 / 0), y = pb.y} end, "field 'K': finite entries expected"},
    {"ntklab.linearized.path", function() linearized.path({}, pb.y, pb.y, pb.y, {0}) end, "non-empty array of snapshots expected"},
    {"ntklab.linearized.path", function() linearized.path({{t = 0, K = pb.K, k = pb.Kx}}, pb.y, pb.y, pb.y, {1}) end, "time 1: number in [0, 0] (the snapshots' span) expected, got 1"},
    {"ntklab.linearized.path", function() linearized.path({{t = 0, K = pb.K}}, pb.y, pb.y, pb.y, {0}) end, "snapshot 1: {t = number, K = tensor, k = tensor} expected"},
  })
  it("methods reject bad times and buffers", function()
    assert.has_error(function() pred:train(-1) end, "bad argument #1 to 'train' (time: non-negative number (or math.huge) expected, got -1)")
    assert.has_error(function() pred:train(0 / 0) end)
    assert.has_error(function() pred:train(1, ntklab.zeros(3)) end, "bad argument #2 to 'train' (out: contiguous tensor of 4 entries expected, got [3])")
    assert.has_error(function() pred:test(1) end, "linearized predictor: no test kernel (pass Kx to linearized.predictor)")
    assert.has_error(function() pred.train(3, 1) end, "calling 'train' on bad self (linearized predictor expected, got number)")
  end)
end)
