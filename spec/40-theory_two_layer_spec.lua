-- 40-theory_two_layer: the two-layer linear network f(x) = a^T W x against a plain-Lua RK4
-- simulation of gradient flow on whitened data (spec/support/linear_sim.lua).
local ntklab = require "ntklab"
local theory = require "ntklab.theory"
local sim = require "spec.support.linear_sim"

-- NOTES.md: the r0-corrected q(t), r(t) track the simulation to about 1e-4 s (their error is
-- O(sigma^2) = 1e-6 plus the matching error of the two phases); the issue asks for 1e-3 s.
local QR_TOL = 1e-3
-- RK4 at h = 0.01 conserves a a^T - W W^T up to its local error O(h^5 |d^5 W/dt^5|) per step;
-- with O(1) weights and 1500 steps that is far below 1e-9.
local CONSERVATION_TOL = 1e-9

local D, N, SIGMA, S, H = 25, 10, 1e-3, 1.0, 0.01

local function unit_beta(d)
  local b, n = {}, 0
  for j = 1, d do b[j] = math.sin(j) + 0.3; n = n + b[j] * b[j] end
  for j = 1, d do b[j] = b[j] / math.sqrt(n) end
  return b
end

-- One simulation shared by the tests below: records q, r, |a|^2, c = v.beta and a a^T - W W^T.
local run
local function simulate()
  if run then return run end
  local beta = unit_beta(D)
  local Ws = sim.random_init(ntklab.rng(1), {D, N, 1}, SIGMA)
  local times = {}
  for i = 0, 60 do times[#times + 1] = 0.25 * i end
  run = {beta = beta, t = {}, q = {}, r = {}, a2 = {}, c = {}, gram = {}}
  local function gram(Ws_)
    local a, W = Ws_[2][1], Ws_[1]
    local G = {}
    for i = 1, N do
      G[i] = {}
      for j = 1, N do
        local ww = 0
        for k = 1, D do ww = ww + W[i][k] * W[j][k] end
        G[i][j] = a[i] * a[j] - ww
      end
    end
    return G
  end
  run.final = sim.run(Ws, times, H, S, beta, function(t, W)
    local q, r = theory.qr(W[2][1], W[1], beta)
    local a2 = 0
    for _, x in ipairs(W[2][1]) do a2 = a2 + x * x end
    local v = sim.end_to_end(W)
    local c = 0
    for j = 1, D do c = c + v[j] * beta[j] end
    local n = #run.t + 1
    run.t[n], run.q[n], run.r[n], run.a2[n], run.c[n], run.gram[n] = t, q, r, a2, c, gram(W)
  end)
  return run
end

describe("theory, two-layer linear net", function()
  it("q(t), r(t) in the r0-corrected form match the simulation within 1e-3 s at every time", function()
    local R = simulate()
    local q0, r0 = R.q[1], R.r[1]
    local worst, worst_paper = 0, 0
    for i, t in ipairs(R.t) do
      local dq = math.abs(theory.q(t, S, q0, r0) - R.q[i])
      local dr = math.abs(theory.r(t, S, q0, r0) - R.r[i])
      worst = math.max(worst, dq, dr)
      worst_paper = math.max(worst_paper, math.abs(theory.q_paper(t, S, q0) - R.q[i]),
        math.abs(theory.r_paper(t, S, q0) - R.r[i]))
      assert.is_true(dq <= QR_TOL * S, ("q off by %g at t = %g"):format(dq, t))
      assert.is_true(dr <= QR_TOL * S, ("r off by %g at t = %g"):format(dr, t))
    end
    -- The run passes through the whole sigmoid, and at D = 25 Eqs. 50-51 (r0 = 0) run late by
    -- a visible amount: the correction is needed, not cosmetic.
    assert.is_true(R.q[#R.q] > 0.99 * S)
    assert.is_true(worst_paper > 50 * worst, ("paper form off by %g, corrected %g"):format(worst_paper, worst))
  end)

  it("the paper's form equals the corrected form at r0 = 0 and starts at q0, 0", function()
    for _, t in ipairs{0, 0.3, 2, 9, 400} do
      assert.are.equal(theory.q(t, 2, 1e-4), theory.q_paper(t, 2, 1e-4))
      assert.are.equal(theory.r(t, 2, 1e-4, 0), theory.r_paper(t, 2, 1e-4))
      -- 2s cosh(2st) / (e^{2st} - 1 + 2s/q0), evaluated directly where it does not overflow.
      if t < 50 then
        local e = math.exp(4 * t)
        local direct = 4 * math.cosh(4 * t) / (e - 1 + 4 / 1e-4)
        assert.is_true(math.abs(theory.q_paper(t, 2, 1e-4) - direct) <= 1e-14 * math.max(1, direct))
      end
    end
    assert.are.equal(3e-4, theory.q(0, 2, 3e-4, 1e-4))
    assert.is_true(math.abs(theory.r(0, 2, 3e-4, 1e-4) - 1e-4) < 1e-18)
    assert.are.equal(2, theory.q(1e6, 2, 3e-4, 1e-4))
    -- r0 = q0 (balanced and aligned from the start): q = r = the Saxe sigmoid with u0^2 = q0.
    for _, t in ipairs{0, 1, 3} do
      assert.is_true(math.abs(theory.q(t, 2, 1e-3, 1e-3) - theory.u2(t, 2, 1e-3)) < 1e-15)
      assert.are.equal(theory.q(t, 2, 1e-3, 1e-3), theory.r(t, 2, 1e-3, 1e-3))
    end
  end)

  it("|a|^2 follows the Saxe sigmoid u(t)^2 with u0^2 = (q0 + r0)/2 in phase II", function()
    local R = simulate()
    local c0 = (R.q[1] + R.r[1]) / 2
    -- Phase II: once the sigmoid has risen (u^2 >= 0.05 s) the net is balanced and rank one up to
    -- O(sigma^2 N) isotropic parts, so |a|^2 = u^2 + O(sigma^2); 1e-3 s bounds that with margin.
    local checked = 0
    for i, t in ipairs(R.t) do
      local u2 = theory.u2(t, S, c0)
      if u2 >= 0.05 * S then
        checked = checked + 1
        assert.is_true(math.abs(u2 - R.a2[i]) <= 1e-3 * S, ("|a|^2 off by %g at t = %g"):format(u2 - R.a2[i], t))
      end
    end
    assert.is_true(checked >= 20)
    -- u(t)^2 at t = 0 is u0^2, and it tends to s.
    assert.are.equal(c0, theory.u2(0, S, c0))
    assert.are.equal(S, theory.u2(1e4, S, c0))
  end)

  it("conserves a a^T - W W^T along the simulated flow", function()
    local R = simulate()
    local worst = 0
    for n = 2, #R.t do
      for i = 1, N do for j = 1, N do
        worst = math.max(worst, math.abs(R.gram[n][i][j] - R.gram[1][i][j]))
      end end
    end
    assert.is_true(worst <= CONSERVATION_TOL, "drift " .. worst)
  end)

  it("t_half(s, 2, (q0+r0)/2) is when the simulated v.beta reaches s/2", function()
    local R = simulate()
    local th = theory.t_half(S, 2, (R.q[1] + R.r[1]) / 2)
    -- Interpolate the simulated crossing of s/2 between records.
    local crossing
    for i = 2, #R.t do
      if R.c[i - 1] < S / 2 and R.c[i] >= S / 2 then
        crossing = R.t[i - 1] + (S / 2 - R.c[i - 1]) / (R.c[i] - R.c[i - 1]) * (R.t[i] - R.t[i - 1])
      end
    end
    -- Linear interpolation of a sigmoid of slope s/2 over 0.25 time units: error below 0.02.
    assert.is_true(math.abs(crossing - th) < 0.02, ("crossing %g, theory %g"):format(crossing, th))
    -- Saxe: t_1/2 = (1/2s) log(s/c0 - 1).
    local c0 = (R.q[1] + R.r[1]) / 2
    assert.is_true(math.abs(th - math.log(S / c0 - 1) / (2 * S)) < 1e-12)
  end)

  it("t_half grows as (1/2s) log(s/sigma^2): halving sigma adds log(2)/s", function()
    -- Same random directions scaled by sigma: the effective c0 scales exactly as sigma^2 up to
    -- O(sigma^2) nonlinear effects in phase I, so the shifts are log(2)/s to about 1e-4.
    local s, beta = 2.0, unit_beta(5)
    local function t_half_sim(sigma)
      local Ws = sim.random_init(ntklab.rng(7), {5, 4, 1}, sigma)
      local prev_t, prev_c, hit = 0, 0, nil
      local times = {}
      for i = 1, 400 do times[i] = 0.025 * i end
      sim.run(Ws, times, 0.0125, s, beta, function(t, W)
        local v = sim.end_to_end(W)
        local c = 0
        for j = 1, 5 do c = c + v[j] * beta[j] end
        if not hit and c >= s / 2 then hit = prev_t + (s / 2 - prev_c) / (c - prev_c) * (t - prev_t) end
        prev_t, prev_c = t, c
      end)
      return hit
    end
    local t1, t2, t3 = t_half_sim(4e-3), t_half_sim(2e-3), t_half_sim(1e-3)
    local step = math.log(2) / s
    assert.is_true(math.abs((t2 - t1) - step) < 2e-3, ("shift %g vs %g"):format(t2 - t1, step))
    assert.is_true(math.abs((t3 - t2) - step) < 2e-3, ("shift %g vs %g"):format(t3 - t2, step))
    local a1 = theory.t_half_asymptotic(4e-3, 2, s)
    local a2 = theory.t_half_asymptotic(2e-3, 2, s)
    assert.is_true(math.abs((a2 - a1) - step) < 1e-12)
  end)

  it("E[q0] = (sigma^2/2)(1 + N/D) and E[r0^2] = sigma^4/D over random inits", function()
    local rng = ntklab.rng(3)
    local sigma, n, d, M = 0.5, 6, 9, 3000
    local beta = unit_beta(d)
    local sq, sq2, sr2, sr4 = 0, 0, 0, 0
    for _ = 1, M do
      local Ws = sim.random_init(rng, {d, n, 1}, sigma)
      local q, r = theory.qr(Ws[2][1], Ws[1], beta)
      sq, sq2 = sq + q, sq2 + q * q
      sr2, sr4 = sr2 + r * r, sr4 + r ^ 4
    end
    local mq, mr2 = sq / M, sr2 / M
    -- Five standard errors of the Monte Carlo mean: fails by chance with probability < 1e-6.
    local se_q = math.sqrt((sq2 / M - mq * mq) / M)
    local se_r2 = math.sqrt((sr4 / M - mr2 * mr2) / M)
    assert.is_true(math.abs(mq - theory.expected_q0(sigma, n, d)) < 5 * se_q)
    assert.is_true(math.abs(mr2 - theory.expected_r0_squared(sigma, d)) < 5 * se_r2)
    assert.are.equal(0.5 * 0.25 * (1 + 6 / 9), theory.expected_q0(0.5, 6, 9))
  end)

  it("qr reads q and r off the weights, normalizing beta, and accepts tensors", function()
    local q, r = theory.qr({1, 2}, {{1, 0, 0}, {0, 3, 0}}, {0, 2, 0})
    assert.are.equal(0.5 * (5 + 9), q)
    assert.are.equal(6, r)
    local q2, r2 = theory.qr(ntklab.tensor{1, 2}, ntklab.tensor{{1, 0, 0}, {0, 3, 0}}, ntklab.tensor{0, 1, 0})
    assert.are.equal(q, q2)
    assert.are.equal(r, r2)
  end)

  it("the final NTK of the simulated net is s x^T (beta beta^T + I) x'", function()
    local R = simulate()
    local k = theory.final_ntk(S, 2, R.beta)
    local rng = ntklab.rng(11)
    local X = rng:normal(4, D):totable()
    for i = 1, 4 do for j = i, 4 do
      local want = k(X[i], X[j])
      local got = sim.ntk(R.final, X[i], X[j])
      -- Residual O(sigma) cross terms between the learned spike and the untouched init:
      -- 10 sigma relative to the kernel's scale s |x| |x'| (|x| ~ 5 here).
      assert.is_true(math.abs(got - want) <= 10 * SIGMA * S * 25, ("K off by %g"):format(got - want))
    end end
  end)
end)
