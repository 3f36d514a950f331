-- 70-theory_unwhitened: the two-layer linear net on anisotropic inputs (Appendix C.1/C.3),
-- ntklab.theory's unwhitened_* functions and min_norm_interpolator, against the plain-Lua RK4
-- simulation of the full (nonlinear) gradient flow (spec/support/linear_sim.lua) and against
-- an independent Taylor-series matrix exponential of the 5 x 5 system.
local ntklab = require "ntklab"
local theory = require "ntklab.theory"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local sim = dofile(source .. "/spec/support/linear_sim.lua")

-- The closed form and a 60-term Taylor series of exp(s t Amat) at |s t Amat| ~ 3 agree to
-- rounding (terms fall below 1e-17 of the sum); 1e-10 relative leaves room for both.
local EXPM_TOL = 1e-10
-- Early-time theory vs the full flow: the dropped terms are O(|a|^2 / s) relative; the check
-- stops at |a|^2 = 1e-3 s, where they are ~1e-3, plus RK4 error (h = 0.01: ~1e-10).
local EARLY_TOL = 5e-3
-- The issue's criterion: at the end of phase I, cos(top eigenvector of M, Sigma beta) >= 0.99.
local SPIKE_COS = 0.99
-- The end of phase I: |a|^2 reaches this fraction of s (the dropped cubic terms are then ~1%).
local PHASE_I_FRAC = 1e-2
-- The learned map vs X^+ y: off the data span it keeps (I - Pi) W0^T a = O(sigma |a|), so at
-- sigma = 1e-7 the relative error is ~1e-7; the issue asks for 1e-6.
local MIN_NORM_TOL = 1e-6

local S, N = 1.0, 5

local function unit(v)
  local n = 0
  for i = 1, #v do n = n + v[i] * v[i] end
  n = math.sqrt(n)
  local u = {}
  for i = 1, #v do u[i] = v[i] / n end
  return u
end

local function dot(x, y) local s = 0; for i = 1, #x do s = s + x[i] * y[i] end; return s end

-- An anisotropic covariance: diag(1, 1/2, 1/4, ...) rotated by a fixed orthogonal matrix
-- (Gram-Schmidt of a seeded Gaussian), so no axis is special.
local function covariance(D)
  local G = ntklab.rng(7):normal(D, D):totable()
  local Q = {}
  for i = 1, D do
    local v = G[i]
    for k = 1, i - 1 do
      local p = dot(v, Q[k])
      for j = 1, D do v[j] = v[j] - p * Q[k][j] end
    end
    Q[i] = unit(v)
  end
  local Sigma = {}
  for i = 1, D do
    Sigma[i] = {}
    for j = 1, D do
      local s = 0
      for k = 1, D do s = s + Q[k][i] * Q[k][j] * 2 ^ (1 - k) end
      Sigma[i][j] = s
    end
  end
  return Sigma
end

local function beta_of(D)
  local b = {}
  for j = 1, D do b[j] = math.cos(1.7 * j) + 0.2 end
  return unit(b)
end

-- M = W^T W + |a|^2 I, the input-space NTK matrix of f = a^T W x.
local function ntk_matrix(Ws)
  local W, a = Ws[1], Ws[2][1]
  local D = #W[1]
  local a2 = dot(a, a)
  local Mx = {}
  for i = 1, D do
    Mx[i] = {}
    for j = 1, D do
      local s = i == j and a2 or 0
      for k = 1, #W do s = s + W[k][i] * W[k][j] end
      Mx[i][j] = s
    end
  end
  return Mx
end

local function top_eigenvector(Mx)
  local v = {}
  for i = 1, #Mx do v[i] = 1 + 0.1 * i end
  for _ = 1, 500 do
    local w = {}
    for i = 1, #Mx do w[i] = dot(Mx[i], v) end
    v = unit(w)
  end
  return v
end

describe("theory.unwhitened: the 5 x 5 early system", function()
  local D = 6
  local Sigma, beta = covariance(D), beta_of(D)
  local A, b = theory.unwhitened_constants(Sigma, beta)

  it("has the constants A = beta^T Sigma beta, b = |Sigma beta|^2", function()
    local sb = {}
    for i = 1, D do sb[i] = dot(Sigma[i], beta) end
    assert.near(dot(beta, sb), A, 1e-14)
    assert.near(dot(sb, sb), b, 1e-14)
  end)

  it("has eigenvalues {0, +-sqrt b, +-2 sqrt b}: det(Amat - lambda I) = 0", function()
    local Am = theory.unwhitened_matrix(A, b)
    local function det(Mx)
      local m = {}
      for i = 1, 5 do m[i] = {table.unpack(Mx[i])} end
      local d = 1
      for c = 1, 5 do
        local p = c
        for r = c + 1, 5 do if math.abs(m[r][c]) > math.abs(m[p][c]) then p = r end end
        if m[p][c] == 0 then return 0 end
        if p ~= c then m[p], m[c], d = m[c], m[p], -d end
        d = d * m[c][c]
        for r = c + 1, 5 do
          local f = m[r][c] / m[c][c]
          for k = c, 5 do m[r][k] = m[r][k] - f * m[c][k] end
        end
      end
      return d
    end
    local eigs = theory.unwhitened_eigenvalues(b)
    assert.equal(5, #eigs)
    for _, l in ipairs(eigs) do
      local shifted = {}
      for i = 1, 5 do
        shifted[i] = {}
        for j = 1, 5 do shifted[i][j] = Am[i][j] - (i == j and l or 0) end
      end
      -- scale of the determinant: the product of the row norms (Hadamard's bound)
      assert.is_true(math.abs(det(shifted)) < 1e-12 * (1 + 2 * b + A) ^ 5)
    end
    -- and a value that is not an eigenvalue gives a clearly nonzero determinant
    local shifted = {}
    for i = 1, 5 do
      shifted[i] = {}
      for j = 1, 5 do shifted[i][j] = Am[i][j] - (i == j and 0.5 * math.sqrt(b) or 0) end
    end
    assert.is_true(math.abs(det(shifted)) > 1e-3 * b ^ 2.5)
  end)

  it("solves dr/dt = s Amat r: the closed form equals a Taylor-series exp(s t Amat) r0", function()
    local Am = theory.unwhitened_matrix(A, b)
    local r0 = {0.3, 1.2, -0.4, 0.7, 0.9}
    for _, t in ipairs{0, 0.5, 2, 3} do
      local term, sum = {table.unpack(r0)}, {table.unpack(r0)}
      for k = 1, 60 do
        local nxt = {}
        for i = 1, 5 do nxt[i] = S * t / k * dot(Am[i], term) end
        term = nxt
        for i = 1, 5 do sum[i] = sum[i] + term[i] end
      end
      local r = theory.unwhitened_early(t, S, A, b, r0)
      for i = 1, 5 do
        assert.is_true(math.abs(r[i] - sum[i]) <= EXPM_TOL * (1 + math.abs(sum[i])),
          string.format("t = %g, r%d: %.17g vs %.17g", t, i, r[i], sum[i]))
      end
    end
  end)

  it("tracks the full gradient flow early on, and the NTK spikes along Sigma beta", function()
    for _, sigma in ipairs{1e-3, 1e-4} do
      local Ws = sim.random_init(ntklab.rng(3), {D, N, 1}, sigma)
      local r0 = theory.unwhitened_overlaps(Ws[2][1], Ws[1], Sigma, beta)
      local e = theory.unwhitened_spike(Sigma, beta)
      local t, h, worst, checked = 0, 0.01, 0, 0
      local spike_cos, beta_cos
      while true do
        Ws = sim.rk4_step(Ws, h, S, beta, Sigma)
        t = t + h
        local r = theory.unwhitened_overlaps(Ws[2][1], Ws[1], Sigma, beta)
        if r[2] < 1e-3 * S then
          local rt = theory.unwhitened_early(t, S, A, b, r0)
          -- relative to the overlaps' scale (r1, r3, r4 change sign)
          local scale = r[2] + r[5]
          for i = 1, 5 do worst = math.max(worst, math.abs(r[i] - rt[i]) / scale) end
          checked = checked + 1
        end
        if r[2] >= PHASE_I_FRAC * S then
          local v = top_eigenvector(ntk_matrix(Ws))
          spike_cos, beta_cos = math.abs(dot(v, e)), math.abs(dot(v, beta))
          break
        end
        assert.is_true(t < 100, "phase I did not end by t = 100")
      end
      assert.is_true(checked > 50)
      assert.is_true(worst < EARLY_TOL, string.format("sigma %g: early theory off by %.3g", sigma, worst))
      assert.is_true(spike_cos >= SPIKE_COS, string.format("sigma %g: cos with Sigma beta %.4f", sigma, spike_cos))
      -- the spike is not the teacher direction: this Sigma rotates beta by a visible angle
      assert.is_true(beta_cos < spike_cos - 0.05)
    end
  end)
end)

describe("theory.min_norm_interpolator", function()
  it("is X^T (X X^T)^-1 y for P < D: interpolates, and lies in the row span", function()
    local X = ntklab.rng(4):normal(3, 6):totable()
    local y = {1, -2, 0.5}
    local bs = assert(theory.min_norm_interpolator(X, y))
    for i = 1, 3 do assert.near(y[i], dot(X[i], bs), 1e-12) end
    -- any interpolator bs + z with X z = 0 is longer, i.e. bs is orthogonal to such z: project
    -- a vector onto the null space of X by alternating projections (von Neumann: converges
    -- to the projection onto the intersection of the rows' complements)
    local z = {1, 0.5, 0, -1, 0, 2}
    for _ = 1, 2000 do
      for i = 1, 3 do
        local p = dot(z, X[i]) / dot(X[i], X[i])
        for j = 1, 6 do z[j] = z[j] - p * X[i][j] end
      end
    end
    for i = 1, 3 do assert.near(0, dot(X[i], z), 1e-10) end
    assert.is_true(dot(z, z) > 0.1)
    assert.near(0, dot(bs, z), 1e-10)
  end)

  it("is the least-squares solution for P > D, and rejects a rank-deficient X", function()
    local X = {{1, 0}, {0, 2}, {1, 1}}
    local bs = assert(theory.min_norm_interpolator(X, {1, 2, 2}))
    assert.near(1, bs[1], 1e-12); assert.near(1, bs[2], 1e-12)
    local none, msg = theory.min_norm_interpolator({{1, 2}, {2, 4}}, {1, 2})
    assert.is_nil(none)
    assert.matches("linearly dependent", msg)
    assert.has_error(function() theory.min_norm_interpolator({{1, 2}}, {1, 2}) end,
      "bad argument #2 to 'theory.min_norm_interpolator' (y: 1 entries expected (rows of X), got 2)")
  end)

  it("is where the two-layer linear net ends, from small init on P < D unwhitened points", function()
    local P, D = 3, 6
    local X = ntklab.rng(5):normal(P, D):totable()
    for i = 1, P do for j = 1, D do X[i][j] = X[i][j] * 2 ^ (-(j - 1) / 2) end end
    local beta = beta_of(D)
    local Sigma, y = require("spec.support.ops_reference").second_moment(X), {}
    for k = 1, P do y[k] = S * dot(X[k], beta) end
    local Ws = sim.random_init(ntklab.rng(6), {D, N, 1}, 1e-7)
    Ws = sim.run(Ws, {300}, 0.02, S, beta, function() end, Sigma)
    local v = sim.end_to_end(Ws)
    local bs = theory.min_norm_interpolator(X, y)
    local diff, norm = 0, 0
    for j = 1, D do diff, norm = diff + (v[j] - bs[j]) ^ 2, norm + bs[j] ^ 2 end
    local rel = math.sqrt(diff / norm)
    assert.is_true(rel < MIN_NORM_TOL, string.format("relative distance %.3g", rel))
  end)
end)

describe("theory.unwhitened: bad arguments", function()
  it("names the function, the argument and what came", function()
    assert.has_error(function() theory.unwhitened_early(-1, 1, 1, 1, {0, 0, 0, 0, 0}) end)
    assert.has_error(function() theory.unwhitened_early(1, 1, 1, 1, {0, 0}) end,
      "bad argument #5 to 'theory.unwhitened_early' (r0: 5 overlaps expected, got 2)")
    assert.has_error(function() theory.unwhitened_constants({{1, 0}, {0, 1}}, {1, 0, 0}) end,
      "bad argument #1 to 'theory.unwhitened_constants' (Sigma: 3 rows expected, got 2)")
    assert.has_error(function() theory.unwhitened_constants({{0, 0}, {0, 0}}, {1, 0}) end,
      "bad argument #1 to 'theory.unwhitened_constants' (Sigma beta = 0: the teacher is orthogonal to the data)")
    assert.has_error(function() theory.unwhitened_eigenvalues(0) end)
  end)
end)
