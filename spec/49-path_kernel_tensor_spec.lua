-- 49-path_kernel_tensor: the path-kernel predictor's tensor path (BLAS products into
-- preallocated buffers) against its plain-Lua twin, on random small kernels; several outputs
-- column by column; bad arguments of the tensor path; the observer (pathkernel.new) that
-- integrates while a net trains, against the predictor over the same snapshots.
local ntklab = require "ntklab"
local pathkernel = require "ntklab.pathkernel"
local bad_args = require "spec.support.bad_args"

-- Both paths take the same RK4 steps; they differ by the order of floating-point sums (BLAS
-- against Lua loops, and the tensor path's once-per-interval k products), a few ulps per step
-- relative to |y - f0| over some hundred steps: 1e-12 relative leaves a wide margin.
local PATH_TOL = 1e-12

local P, M = 7, 5

-- A random PSD kernel A A^T / P scaled by `scale`, and a random test x train kernel.
local function random_snapshot(rng, t, scale)
  local A = rng:normal(P, P)
  local K = ntklab.matmul(A, A:t()) * (scale / P)
  local k = rng:normal(M, P) * scale
  return {t = t, K = K, k = k}
end

local function as_tables(snaps)
  local out = {}
  for i, s in ipairs(snaps) do out[i] = {t = s.t, K = s.K:totable(), k = s.k:totable()} end
  return out
end

local max_rel = require("spec.support.ops_reference").max_rel

local function setup(seed)
  local rng = ntklab.rng(seed)
  local snaps = {random_snapshot(rng, 0, 1), random_snapshot(rng, 0.7, 3),
    random_snapshot(rng, 1.5, 8), random_snapshot(rng, 3, 10)}
  return rng, snaps, rng:normal(P), rng:normal(P) * 0.1, rng:normal(M) * 0.1
end

describe("pathkernel.predictor on tensors", function()
  it("equals the plain-Lua path on random kernels, with and without the tail", function()
    for seed = 1, 3 do
      local _, snaps, y, f0, f0t = setup(seed)
      for _, opts in ipairs{{}, {tail = true}, {eta = 0.5, step = 2.5}} do
        local fast = assert(pathkernel.predictor(snaps, y, f0, f0t, opts))
        local ref = assert(pathkernel.predictor(as_tables(snaps), y:totable(), f0:totable(),
          f0t:totable(), opts))
        assert.are.equal(ref.steps, fast.steps)
        assert.are.equal(1, fast.test:dim())
        local e1, e2 = max_rel(fast.test:totable(), ref.test), max_rel(fast.train:totable(), ref.train)
        assert.is_true(e1 < PATH_TOL and e2 < PATH_TOL, ("seed %d: test %g, train %g"):format(seed, e1, e2))
      end
    end
  end)

  it("takes [P x 1] outputs and arrays, and a larger step takes fewer steps", function()
    local _, snaps, y, f0, f0t = setup(4)
    local ref = assert(pathkernel.predictor(snaps, y, f0, f0t))
    local col = assert(pathkernel.predictor(snaps, y:reshape(P, 1), f0:reshape(P, 1),
      f0t:totable()))
    assert.are.same({M, 1}, {col.test:size(1), col.test:size(2)})
    assert.is_true(max_rel(col.test:reshape(M):totable(), ref.test:totable()) < PATH_TOL)
    local coarse = assert(pathkernel.predictor(snaps, y, f0, f0t, {step = 2.5}))
    assert.is_true(coarse.steps < ref.steps / 5, ("%d vs %d steps"):format(coarse.steps, ref.steps))
  end)

  it("with C outputs, each column is the single-output prediction", function()
    local rng, snaps, _, _, _ = setup(5)
    local C = 3
    local Y, F0, F0t = rng:normal(P, C), rng:normal(P, C) * 0.1, rng:normal(M, C) * 0.1
    local out = assert(pathkernel.predictor(snaps, Y, F0, F0t, {tail = true}))
    assert.are.same({M, C}, {out.test:size(1), out.test:size(2)})
    for j = 1, C do
      local ref = assert(pathkernel.predictor(as_tables(snaps), Y:select(2, j):totable(),
        F0:select(2, j):totable(), F0t:select(2, j):totable(), {tail = true}))
      assert.is_true(max_rel(out.test:select(2, j):totable(), ref.test) < PATH_TOL)
      assert.is_true(max_rel(out.train:select(2, j):totable(), ref.train) < PATH_TOL)
    end
  end)

  it("returns nil, msg for a singular tail kernel or too many steps", function()
    local singular = {t = 0, K = ntklab.tensor{{1, 1}, {1, 1}}, k = ntklab.tensor{{1, 0}}}
    local none, msg = pathkernel.predictor({singular}, ntklab.tensor{1, 2},
      ntklab.tensor{0, 0}, ntklab.tensor{0}, {tail = true})
    assert.is_nil(none)
    assert.matches("tail", msg)
    local _, snaps, y, f0, f0t = setup(6)
    none, msg = pathkernel.predictor(snaps, y, f0, f0t, {max_steps = 2})
    assert.is_nil(none)
    assert.matches("more than 2 steps", msg)
  end)
end)

describe("bad arguments", function()
  local f = "pathkernel.predictor"
  local K, k = ntklab.eye(2), ntklab.ones(1, 2)
  local snap = {t = 0, K = K, k = k}
  local y, f0, f0t = ntklab.tensor{1, 2}, ntklab.zeros(2), ntklab.zeros(1)
  local function call(...) return pathkernel.predictor(...) end
  local pre = "bad argument #%d to '" .. f .. "' ("
  bad_args.cases(it, {
    {"ntklab.pathkernel.predictor", function() call({snap}, y, ntklab.zeros(3), f0t) end,
      pre:format(3) .. "initial train outputs: [2 x 1] expected, got [3])"},
    {"ntklab.pathkernel.predictor", function() call({snap}, ntklab.ones(2, 2), f0, f0t) end,
      pre:format(3) .. "initial train outputs: [2 x 2] expected, got [2])"},
    {"ntklab.pathkernel.predictor", function() call({snap}, ntklab.tensor{1, 0 / 0}, f0, f0t) end,
      pre:format(2) .. "targets: finite entries expected)"},
    {"ntklab.pathkernel.predictor", function() call({snap, {t = 1, K = ntklab.eye(3), k = k}}, y, f0, f0t) end,
      pre:format(1) .. "snapshot 2: K is [3 x 3], [2 x 2] expected)"},
    {"ntklab.pathkernel.predictor", function() call({{t = 0, K = K, k = ntklab.ones(2)}}, y, f0, f0t) end,
      pre:format(1) .. "snapshot 1: k is [2], [1 x 2] expected)"},
    {"ntklab.pathkernel.predictor", function() call({snap, {t = 0, K = K, k = k}}, y, f0, f0t) end,
      pre:format(1) .. "snapshot times must ascend strictly (snapshot 2 at 0))"},
    {"ntklab.pathkernel.predictor", function() call({snap}, y, f0, f0t, {step = 3}) end,
      pre:format(5) .. "field 'step': number in (0, 2.5] expected, got 3)"},
  })
end)

describe("pathkernel.new: the observer that integrates while the net trains", function()
  local data = require "ntklab.data"
  local ds = assert(data.teacher{P = 20, D = 5, test = 6, seed = 3})
  local X, y, Xt = ds.X_train, ds.y_train, ds.X_test
  local function new_net()
    return ntklab.mlp{widths = {5, 12, 1}, activation = "tanh", sigma = 0.5, seed = 3}
  end
  local function totable(v) return v:totable() end

  it("equals the predictor over the same snapshots, attached to a recorder or alone", function()
    local pk = pathkernel.new{X = X, y = y, X_test = Xt, every = 2}
    local rec = ntklab.recorder{times = {linear = {0, 2, 8}}, X = X, y = y, X_test = Xt,
      y_test = ds.y_test, keep_snapshots = true, observers = {pk}}
    rec:run(ntklab.train.flow{method = "rk45", rtol = 1e-8}, new_net())
    local res = assert(pk:result())
    -- snapshots at records 1, 3, 5, 7 (every 2nd) and at the end, record 8 (by finish)
    local snaps = {}
    for _, i in ipairs{1, 3, 5, 7, 8} do snaps[#snaps + 1] = rec.snapshots[i] end
    local ref = assert(pathkernel.predictor(snaps, y, rec.f0_train, rec.f0_test))
    assert.are.equal(5, res.snapshots)
    assert.are.equal(ref.steps, res.steps)
    -- chaining restarts each interval from the rounded outputs of the previous one
    assert.is_true(max_rel(totable(res.test), totable(ref.test)) < PATH_TOL)
    assert.is_true(max_rel(totable(res.train), totable(ref.train)) < PATH_TOL)
    assert.are.equal(2 * 8 * (20 * 20 + 6 * 20), res.snapshot_bytes)
    assert.are.equal(0.25, res.step) -- the predictor's default bound
    -- alone, as the trainer's observer: it computes the train kernels itself
    local alone = pathkernel.new{X = X, y = y, X_test = Xt, every = 2}
    local net = new_net()
    ntklab.train.flow{method = "rk45", rtol = 1e-8}:run(net, X, y,
      {t = 2, observe = rec.times, observer = alone.observer})
    local res2 = assert(alone:finish(net):result())
    -- finish released the snapshot buffers; a second finish changes nothing
    assert.are.same(res2.snapshot_bytes, assert(alone:finish(net):result()).snapshot_bytes)
    assert.are.equal(2 * 8 * (20 * 20 + 6 * 20), res2.snapshot_bytes)
    assert.are.equal(res.steps, res2.steps)
    assert.is_true(max_rel(totable(res2.test), totable(res.test)) < PATH_TOL)
  end)

  it("takes any model: a frozen conv net's path kernel is its linearized model at T", function()
    -- a small conv net on 2 x 4 x 4 images that does not move between the two points, so the
    -- path-kernel predictor integrates a constant kernel: the frozen-kernel closed form
    -- (ntklab.linearized, one eigendecomposition) is the independent reference
    local m = ntklab.model{input = {2, 4, 4}, seed = 5, layers = {
      {"conv", out = 3, kernel = 3, pad = 1}, {"relu"}, {"pool"}, {"dense", out = 1}}}
    local rng = ntklab.rng(7)
    local Xm, Xmt, ym = rng:normal(12, 32), rng:normal(5, 32), rng:normal(12)
    local T, STEP, FROZEN_TOL = 3, 0.02, 1e-9
    local frozen = pathkernel.new{X = Xm, y = ym, X_test = Xmt, tile = 4, step = STEP}
    frozen:observe(0, 0, 1, m)
    frozen:observe(T, 1, 1, m)
    local res = assert(frozen:finish():result())
    local K, Kx = ntklab.ntk(m, Xm), ntklab.ntk(m, Xmt, Xm)
    local lin = ntklab.linearized.predictor{K = K, y = ym, f0 = m:forward(Xm):reshape(12), Kx = Kx,
      f0_test = m:forward(Xmt):reshape(5)}
    -- RK4's global error goes as h^4: 1e-7 at the default bound h (eta/P)|K|_F <= 0.25 here,
    -- about 1e-11 at STEP = 0.02 (12.5x smaller), well inside FROZEN_TOL
    assert.is_true(max_rel(totable(res.test), totable(lin:test(T))) < FROZEN_TOL)
    assert.is_true(max_rel(totable(res.train), totable(lin:train(T))) < FROZEN_TOL)
    -- the tile only bounds memory: the same kernels, so the same result
    local untiled = pathkernel.new{X = Xm, y = ym, X_test = Xmt, step = STEP}
    untiled:observe(0, 0, 1, m)
    untiled:observe(T, 1, 1, m)
    local res0 = assert(untiled:finish():result())
    assert.is_true(max_rel(totable(res0.test), totable(res.test)) < 1e-12)
  end)

  it("reports a failed integration as nil, msg after the run, without stopping the trainer", function()
    local pk = pathkernel.new{X = X, y = y, X_test = Xt, max_steps = 1}
    local net = new_net()
    local tr = ntklab.train.gd{lr = 0.1}
    tr:run(net, X, y, {t = 1, observe = {0, 0.5, 1}, observer = pk.observer})
    assert.are.equal(1, tr.t)
    local none, msg = pk:finish():result()
    assert.is_nil(none)
    assert.matches("more than 1 steps", msg)
  end)

  local net = new_net()
  local function pk() return pathkernel.new{X = X, y = y, X_test = Xt} end
  bad_args.cases(it, {
    {"ntklab.pathkernel.new", function() pathkernel.new() end, "bad argument #1 to 'pathkernel.new' (table expected, got nil)"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = y, X_test = Xt, stpe = 1} end, "invalid option 'stpe' (did you mean 'step'?); valid options:"},
    {"ntklab.pathkernel.new", function() pathkernel.new{y = y, X_test = Xt} end, "option 'X': tensor required"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = Xt, X_test = Xt} end, "option 'y': [20] or [20 x 1] expected (as X's rows), got 2-D with 6 rows"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = y, X_test = X:t()} end, "option 'X_test': 5 columns expected (as X), got 20"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = y, X_test = Xt:reshape(30)} end, "option 'X_test': 2-D tensor expected, got 1-D"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = y, X_test = Xt, every = 0} end, "option 'every': integer >= 1 expected, got 0"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = y, X_test = Xt, tile = -1} end, "option 'tile': integer >= 0 expected, got -1"},
    {"ntklab.pathkernel.new", function() pathkernel.new{X = X, y = y, X_test = Xt, step = 3} end,
      "bad argument #1 to 'pathkernel.new' (option 'step': number in (0, 2.5] expected, got 3)"},
    {"ntklab.pathkernel.new", function() pk():observe(0.5, 1, 1, net) end, "bad argument #1 to 'pathkernel:observe' (the first point must be at t = 0, got 0.5)"},
    {"ntklab.pathkernel.new", function() local p = pk(); p:observe(0, 0, 1, net); p:observe(0, 1, 1, net) end, "time after the previous point 0 expected"},
    {"ntklab.pathkernel.new", function() pk():observe(0, 0, 1, net, ntklab.eye(3)) end, "bad argument #5 to 'pathkernel:observe' ([20 x 20] tensor expected"},
    {"ntklab.pathkernel.new", function() pk():observe(0, 0, 1, {}) end, "bad argument #4 to 'pathkernel:observe' (mlp or model expected, got table)"},
    {"ntklab.pathkernel.new", function() pk():finish() end, "bad argument #1 to 'pathkernel:finish' (nothing observed yet)"},
    {"ntklab.pathkernel.new", function()
       local p = pk(); p:observe(0, 0, 1, net); p:observe(1, 1, 1, net); p:finish(); p:finish()
       p:observe(2, 2, 1, net) end,
     "bad argument #1 to 'pathkernel:observe' (observe after finish)"},
  })
end)
