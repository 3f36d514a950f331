-- 48-path_kernel: the Eq. 2 path-kernel predictor, integrated from kernel snapshots of a
-- simulated two-layer linear net, reproduces the net's own test predictions; with one snapshot
-- and the tail it is kernel regression with that kernel.
local ntklab = require "ntklab"
local pathkernel = require "ntklab.pathkernel"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local sim = dofile(source .. "/spec/support/linear_sim.lua")

-- Gaussian elimination with partial pivoting, the obvious twin of the module's Cholesky.
local solve = require("spec.support.ops_reference").gauss_solve

-- Fewer points than dimensions (P = 5 < D = 8): the learned function depends on the kernel's
-- path, so matching the net is not automatic.
local P, D, N, M, S, SIGMA, T = 5, 8, 6, 4, 1.0, 0.3, 16

local function setup()
  local rng = ntklab.rng(21)
  local X, Xt = rng:normal(P, D):totable(), rng:normal(M, D):totable()
  local beta, nb = {}, 0
  for j = 1, D do beta[j] = math.sin(3 * j); nb = nb + beta[j] ^ 2 end
  for j = 1, D do beta[j] = beta[j] / math.sqrt(nb) end
  local Sigma = require("spec.support.ops_reference").second_moment(X)
  local y = {}
  for p = 1, P do
    y[p] = 0
    for j = 1, D do y[p] = y[p] + S * beta[j] * X[p][j] end
  end
  return {rng = rng, X = X, Xt = Xt, beta = beta, Sigma = Sigma, y = y,
          Ws = sim.random_init(rng, {D, N, 1}, SIGMA)}
end

local function outputs(Ws, rows)
  local v = sim.end_to_end(Ws)
  local out = {}
  for i, x in ipairs(rows) do
    out[i] = 0
    for j = 1, D do out[i] = out[i] + v[j] * x[j] end
  end
  return out
end

local function snapshot(t, Ws, X, Xt)
  local K, k = {}, {}
  for i = 1, #X do
    K[i] = {}
    for j = 1, #X do K[i][j] = sim.ntk(Ws, X[i], X[j]) end
  end
  for i = 1, #Xt do
    k[i] = {}
    for j = 1, #X do k[i][j] = sim.ntk(Ws, Xt[i], X[j]) end
  end
  return {t = t, K = K, k = k}
end

local function max_rel(a, b)
  local num, den = 0, 0
  for i = 1, #a do num = math.max(num, math.abs(a[i] - b[i])); den = math.max(den, math.abs(b[i])) end
  return num / den
end

describe("pathkernel.predictor", function()
  local E = setup()
  local records = {}
  local times = {}
  for i = 0, 128 do times[#times + 1] = T * i / 128 end
  local final = sim.run(E.Ws, times, 0.0125, S, E.beta, function(t, W)
    records[#records + 1] = snapshot(t, W, E.X, E.Xt)
  end, E.Sigma)
  local f0_train, f0_test = outputs(E.Ws, E.X), outputs(E.Ws, E.Xt)
  local net_test, net_train = outputs(final, E.Xt), outputs(final, E.X)

  it("reproduces the net's test outputs, converging as snapshots get denser", function()
    local errors = {}
    for k, stride in ipairs{8, 4, 1} do
      local snaps = {}
      for i = 1, #records, stride do snaps[#snaps + 1] = records[i] end
      local out = assert(pathkernel.predictor(snaps, E.y, f0_train, f0_test))
      errors[k] = max_rel(out.test, net_test)
      assert.is_true(max_rel(out.train, net_train) < 10 * errors[k] + 1e-9)
    end
    -- Linear interpolation of K(t) between snapshots: error O(dt^2), so halving dt
    -- (stride 8 -> 4) divides it by about 4 (measured 9.7e-3 -> 2.5e-3 -> 1.7e-4 at stride 1);
    -- the densest (dt = 0.125) is within 1e-3.
    assert.is_true(errors[2] < errors[1] / 3, ("%g then %g"):format(errors[1], errors[2]))
    assert.is_true(errors[3] < 1e-3, "densest error " .. errors[3])
    -- and the kernel moved: the initial kernel's regression is far from the net
    local lazy = assert(pathkernel.predictor({records[1]}, E.y, f0_train, f0_test, {tail = true}))
    assert.is_true(max_rel(lazy.test, net_test) > 100 * errors[3])
  end)

  it("one snapshot with the tail is kernel regression with that kernel", function()
    local snap = records[1]
    local out = assert(pathkernel.predictor({snap}, E.y, f0_train, f0_test, {tail = true}))
    local r = {}
    for i = 1, P do r[i] = E.y[i] - f0_train[i] end
    local alpha = solve(snap.K, r)
    for i = 1, M do
      local want = f0_test[i]
      for j = 1, P do want = want + snap.k[i][j] * alpha[j] end
      assert.is_true(math.abs(out.test[i] - want) < 1e-10 * math.max(1, math.abs(want)))
    end
    assert.are.same(E.y, out.train)
    assert.are.equal(0, out.steps)
  end)

  it("a frozen kernel over a long time approaches the tail, and tensors are accepted", function()
    local snap = records[#records]
    local frozen = {{t = 0, K = snap.K, k = snap.k}, {t = 400, K = ntklab.tensor(snap.K), k = ntklab.tensor(snap.k)}}
    local long = assert(pathkernel.predictor(frozen, ntklab.tensor(E.y), f0_train, f0_test))
    local tail = assert(pathkernel.predictor({frozen[1]}, E.y, f0_train, f0_test, {tail = true}))
    assert.is_true(max_rel(long.test, tail.test) < 1e-8)
  end)

  it("returns nil, msg for a singular kernel in the tail or too many steps", function()
    local singular = {t = 0, K = {{1, 1}, {1, 1}}, k = {{1, 0}}}
    local none, msg = pathkernel.predictor({singular}, {1, 2}, {0, 0}, {0}, {tail = true})
    assert.is_nil(none)
    assert.matches("not positive definite", msg)
    none, msg = pathkernel.predictor({records[1], records[#records]}, E.y, f0_train, f0_test, {max_steps = 2})
    assert.is_nil(none)
    assert.matches("more than 2 steps", msg)
  end)

  it("keeps its older name, analysis.path_kernel_predictor, with the same results", function()
    local snaps = {records[1], records[65], records[#records]}
    local old = assert(require("ntklab.analysis").path_kernel_predictor(snaps, E.y, f0_train, f0_test))
    assert.are.same(assert(pathkernel.predictor(snaps, E.y, f0_train, f0_test)), old)
  end)
end)

describe("kernel_reference.cholesky_solve (the plain-Lua twin of linalg.cholesky_solve)", function()
  local kernel_reference = require "spec.support.kernel_reference"
  it("solves like Gaussian elimination and the C Cholesky, and names a bad pivot", function()
    local ops = require "spec.support.ops_reference"
    local gen = ops.generator(5)
    local A = ops.matrix(gen, 6, 6)
    local K, b = {}, ops.vector(gen, 6)
    for i = 1, 6 do
      K[i] = {}
      for j = 1, 6 do
        local s = i == j and 1 or 0
        for l = 1, 6 do s = s + A[i][l] * A[j][l] end
        K[i][j] = s
      end
    end
    local x = assert(kernel_reference.cholesky_solve(K, b))
    local c = ntklab.linalg.cholesky_solve(ntklab.tensor(K), ntklab.tensor(b)):totable()
    -- three routes on a 6 x 6 system with condition number ~1e2: rounding only
    assert.is_true(max_rel(x, solve(K, b)) < 1e-12)
    assert.is_true(max_rel(x, c) < 1e-12)
    local none, msg = kernel_reference.cholesky_solve({{1, 1}, {1, 1}}, {1, 2})
    assert.is_nil(none)
    assert.matches("not positive definite %(pivot 2 is 0%)", msg)
  end)
end)
