-- 81-theory_multi: linear networks with C outputs (Appendix H): mode-by-mode learning times,
-- the final multi-output NTK and NNGP kernels (Eq. 80) and the final alignment, each against
-- a gradient-flow simulation of the network.
local ntklab = require "ntklab"
local theory = ntklab.theory
local bad_args = require "spec.support.bad_args"

local D, N, C, P = 12, 20, 3, 60
local S = {3, 1.5, 0.75}
local ds = assert(ntklab.data.teacher{P = P, D = D, C = C, s = S, seed = 1, whiten = true})

local function map(net, L)
  local M = net:weight(1)
  for l = 2, L do M = ntklab.matmul(net:weight(l), M) end
  return M
end

-- Trains net by rk45 to T, recording the mode strengths on a uniform grid of n + 1 times;
-- returns the time each mode's strength first reaches half its singular value (linear
-- interpolation between records).
local function half_times(net, L, T, n)
  local modes = theory.teacher_modes(ds.beta)
  local times = {}
  for i = 0, n do times[i + 1] = T * i / n end
  local traj = {}
  ntklab.train.flow{method = "rk45", rtol = 1e-9, atol = 1e-12}:run(net, ds.X_train, ds.y_train,
    {t = T, observe = times, observer = function(t, _, _, nt)
      traj[#traj + 1] = {t = t, c = theory.mode_strengths(map(nt, L), ds.beta)}
    end})
  local out = {}
  for a = 1, #modes.s do
    local h = modes.s[a] / 2
    for i = 2, #traj do
      local lo, hi = traj[i - 1], traj[i]
      if hi.c[a] >= h and lo.c[a] < h then
        out[a] = lo.t + (h - lo.c[a]) / (hi.c[a] - lo.c[a]) * (hi.t - lo.t)
        break
      end
    end
  end
  return out
end

local function rel(A, B)
  local mt = ntklab.metatable("tensor")
  if getmetatable(A) ~= mt then A = ntklab.tensor(A) end
  if getmetatable(B) ~= mt then B = ntklab.tensor(B) end
  return (A - B):norm() / B:norm()
end

describe("theory.teacher_modes", function()
  it("recovers the teacher's singular values and rebuilds beta from its modes", function()
    local m = theory.teacher_modes(ds.beta)
    for a = 1, 3 do assert.is_true(math.abs(m.s[a] - S[a]) <= 1e-12) end
    local B = ds.beta:totable()
    for c = 1, C do
      for k = 1, D do
        local b = 0
        for a = 1, 3 do b = b + m.s[a] * m.z[a][c] * m.v[a][k] end
        assert.is_true(math.abs(b - B[c][k]) <= 1e-12)
      end
    end
    -- the transposed teacher (C > D side) gives the same values
    local mt = theory.teacher_modes(ds.beta:t())
    for a = 1, 3 do assert.is_true(math.abs(mt.s[a] - S[a]) <= 1e-12) end
  end)
end)

describe("two-layer net, C = 3, sigma = 1e-3", function()
  local net = ntklab.mlp{widths = {D, N, C}, activation = "linear", sigma = 1e-3, seed = 2}
  local c0 = theory.mode_c0(net:weight(1), net:weight(2), ds.beta)
  local want = theory.mode_times(S, 2, c0)
  local got = half_times(net, 2, 25, 500)

  it("learns mode a at t_a = (1/2s_a) log(s_a/c0_a - 1), c0_a from the initial weights", function()
    -- measured 2e-5, 4e-6 and 5e-3 relative (the last mode starts once the others have
    -- finished and feels their O(sigma^2) leftovers); the issue asks 15%
    for a = 1, 3 do
      assert.is_true(math.abs(got[a] / want[a] - 1) <= 0.02, ("mode %d: %g against %g"):format(a, got[a], want[a]))
    end
    assert.is_true(want[1] < want[2] and want[2] < want[3])
  end)

  it("ends with the multi-output NTK, NNGP kernels and alignment of the theory", function()
    -- O(sigma^2) = 1e-6 corrections (measured 3.5e-7 and 1.4e-6)
    local K = ntklab.ntk(net, ds.X_train, {output = "full"})
    assert.is_true(rel(K, theory.final_ntk_multi(ds.beta, 2, ds.X_train)) <= 1e-5)
    local Kt = ntklab.ntk(net, ds.X_train, {output = "trace"})
    assert.is_true(rel(Kt, theory.final_ntk_multi(ds.beta, 2, ds.X_train, nil, "trace")) <= 1e-5)
    local H = ntklab.matmul(ds.X_train, net:weight(1):t())
    assert.is_true(rel(ntklab.matmul(H, H:t()), theory.final_nngp_multi(ds.beta, 2, 1, ds.X_train)) <= 1e-5)
    local F = ntklab.matmul(ds.X_train, map(net, 2):t())
    assert.is_true(rel(ntklab.matmul(F, F:t()), theory.final_nngp_multi(ds.beta, 2, 2, ds.X_train)) <= 1e-5)
    assert.is_true(math.abs(ntklab.alignment(Kt, ds.y_train) - theory.final_alignment_multi(ds.beta, 2, ds.X_train)) <= 1e-5)
  end)
end)

describe("three-layer net, C = 3", function()
  it("from a balanced init aligned with the modes, each mode follows dc/dt = 3 c^{4/3}(s_a - c)", function()
    local u0 = 0.05
    local net = ntklab.mlp{widths = {D, N, N, C}, activation = "linear", sigma = 1, seed = 3}
    local m = theory.teacher_modes(ds.beta)
    local W1, W2, W3 = ntklab.zeros(N, D), ntklab.zeros(N, N), ntklab.zeros(C, N)
    for a = 1, 3 do
      for k = 1, D do W1:set(a, k, u0 * m.v[a][k]) end
      W2:set(a, a, u0)
      for c = 1, C do W3:set(c, a, u0 * m.z[a][c]) end
    end
    net:weight(1):copy_(W1); net:weight(2):copy_(W2); net:weight(3):copy_(W3)
    local want = theory.mode_times(S, 3, u0 ^ 3)
    local got = half_times(net, 3, 1.2 * want[3], 1000)
    for a = 1, 3 do
      -- exact dynamics; the readout interpolates records 1.2e-3 t_3 apart: 1e-3
      assert.is_true(math.abs(got[a] / want[a] - 1) <= 1e-3, ("mode %d: %g against %g"):format(a, got[a], want[a]))
    end
  end)

  it("from a random init learns the modes in the order of their singular values and ends on the theory's kernels", function()
    local net = ntklab.mlp{widths = {D, N, N, C}, activation = "linear", sigma = 3e-2, seed = 2}
    local got = half_times(net, 3, 400, 400)
    assert.is_true(got[1] < got[2] and got[2] < got[3])
    -- O(sigma) corrections for L = 3 (measured 2.5e-4 and 1.6e-3)
    assert.is_true(rel(ntklab.ntk(net, ds.X_train, {output = "full"}), theory.final_ntk_multi(ds.beta, 3, ds.X_train)) <= 2e-3)
    local H = ntklab.matmul(ds.X_train, net:weight(1):t())
    assert.is_true(rel(ntklab.matmul(H, H:t()), theory.final_nngp_multi(ds.beta, 3, 1, ds.X_train)) <= 1e-2)
  end)
end)

describe("theory.final_ntk_multi", function()
  it("with one output is theory.final_ntk_gram", function()
    local rng = ntklab.rng(5)
    local beta, X = rng:normal(1, 6), rng:normal(4, 6)
    local s = beta:norm()
    for _, L in ipairs{2, 3, 5} do
      local want = theory.final_ntk_gram(s, L, beta:reshape(6), X)
      assert.is_true(rel(theory.final_ntk_multi(beta, L, X), want) <= 1e-13)
    end
  end)
end)

describe("bad arguments", function()
  local X = ds.X_train
  bad_args.cases(it, {
    {"ntklab.theory.teacher_modes", function() theory.teacher_modes(3) end, "bad argument #1 to 'theory.teacher_modes' (teacher matrix beta (C x D) expected"},
    {"ntklab.theory.teacher_modes", function() theory.teacher_modes{{0, 0}} end, "non-zero teacher expected"},
    {"ntklab.theory.teacher_modes", function() theory.teacher_modes{{0 / 0, 1}} end, "finite entries expected, got"},
    {"ntklab.theory.mode_strengths", function() theory.mode_strengths(ntklab.zeros(2, 12), ds.beta) end, "bad argument #1 to 'theory.mode_strengths' ([3 x 12] expected (as beta), got [2 x 12])"},
    {"ntklab.theory.mode_c0", function() theory.mode_c0(ntklab.zeros(5, 12), ntklab.zeros(3, 4), ds.beta) end, "bad argument #2 to 'theory.mode_c0' ([C x 5] expected (W1 has 5 rows), got [3 x 4])"},
    {"ntklab.theory.mode_times", function() theory.mode_times({1, 2}, 2, {1e-3}) end, "bad argument #3 to 'theory.mode_times' (2 entries expected (one per mode), got 1)"},
    {"ntklab.theory.mode_times", function() theory.mode_times({1, 2}, 1, 1e-3) end, "bad argument #2 to 'theory.mode_times' (integer >= 2 expected, got 1)"},
    {"ntklab.theory.mode_times", function() theory.mode_times({1, 2}, 2, 0.9) end, "0 < c0 < level * s expected for mode 1"},
    {"ntklab.theory.final_ntk_multi", function() theory.final_ntk_multi(ds.beta, 2, ntklab.zeros(3, 5)) end, "bad argument #3 to 'theory.final_ntk_multi' (inputs X: 12 columns expected (as beta), got 5)"},
    {"ntklab.theory.final_ntk_multi", function() theory.final_ntk_multi(ds.beta, 2, X, nil, "blocks") end, "bad argument #5 to 'theory.final_ntk_multi' ('full' or 'trace' expected, got blocks)"},
    {"ntklab.theory.final_nngp_multi", function() theory.final_nngp_multi(ds.beta, 2, 3, X) end, "bad argument #3 to 'theory.final_nngp_multi' (layer in [0, 2] expected, got 3)"},
    {"ntklab.theory.final_alignment_multi", function() theory.final_alignment_multi(ds.beta, 0, X) end, "bad argument #2 to 'theory.final_alignment_multi' (integer >= 1 expected, got 0)"},
  })
end)
