-- 41-theory_deep: deep linear networks. The c(t) ODE against closed forms, quadrature and a
-- full-matrix gradient-flow simulation; t_1/2 scaling in sigma; the final NTK and alignments.
local ntklab = require "ntklab"
local theory = require "ntklab.theory"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local sim = dofile(source .. "/spec/support/linear_sim.lua")

-- theory.deep_c promises about 1e-9 relative accuracy; 1e-8 leaves room for the reference's
-- own rounding (the closed forms lose ~1e-12 relative through exp/log).
local ODE_TOL = 1e-8

local function rel(a, b) return math.abs(a - b) / math.abs(b) end

local function unit_beta(d)
  local b, n = {}, 0
  for j = 1, d do b[j] = math.cos(2 * j) + 0.5; n = n + b[j] * b[j] end
  for j = 1, d do b[j] = b[j] / math.sqrt(n) end
  return b
end

local function coefficient(Ws, beta)
  local v = sim.end_to_end(Ws)
  local c = 0
  for j = 1, #beta do c = c + v[j] * beta[j] end
  return c
end

describe("theory, deep linear nets: the c(t) ODE", function()
  it("deep_c at L = 2 is Saxe's sigmoid s / (1 + (s/c0 - 1) e^{-2st})", function()
    local s, c0 = 1.7, 3e-7
    local times = {}
    for i = 0, 40 do times[#times + 1] = 0.25 * i end
    local cs = theory.deep_c(times, s, 2, c0)
    for i, t in ipairs(times) do
      local want = s / (1 + (s / c0 - 1) * math.exp(-2 * s * t))
      assert.is_true(rel(cs[i], want) < ODE_TOL, ("t = %g: %.17g vs %.17g"):format(t, cs[i], want))
      assert.is_true(rel(theory.u2(t, s, c0), want) < 1e-14)
    end
    -- One time alone takes other steps than the whole curve: equal to the solver's accuracy.
    assert.is_true(rel(theory.deep_c(3.5, s, 2, c0), cs[15]) < ODE_TOL)
  end)

  it("deep_c inverts deep_time (ODE solver vs quadrature) for L = 3, 4, 6", function()
    for _, L in ipairs{3, 4, 6} do
      local s, c0 = 2.5, 1e-6
      for _, frac in ipairs{1e-5, 0.01, 0.3, 0.5, 0.9, 0.999} do
        local c = frac * s
        if c > c0 then
          local t = theory.deep_time(c, s, L, c0)
          assert.is_true(rel(theory.deep_c(t, s, L, c0), c) < ODE_TOL, ("L = %d, c = %g"):format(L, c))
        end
      end
    end
    -- At L = 2 deep_time is the closed form; a check that the quadrature branch agrees with
    -- it comes from the same identity solved by the ODE.
    local t = theory.deep_time(0.4, 1, 2, 1e-3)
    assert.is_true(rel(theory.deep_c(t, 1, 2, 1e-3), 0.4) < ODE_TOL)
  end)

  it("the early closed form matches while c << s and blows up at t*", function()
    for _, L in ipairs{2, 3, 5} do
      local s, c0 = 1.3, 1e-8
      local tstar = (L == 2) and math.huge or c0 ^ (-(L - 2) / L) / ((L - 2) * s)
      for _, target in ipairs{1e-7, 1e-6, 1e-5} do
        local t = theory.deep_time(target, s, L, c0)
        -- Relative error of dropping c in (s - c) is O(c/s) = at most 1e-5 here.
        assert.is_true(rel(theory.deep_c_early(t, s, L, c0), target) < 5e-5)
      end
      if L > 2 then
        assert.are.equal(math.huge, theory.deep_c_early(tstar * 1.0001, s, L, c0))
      end
    end
  end)

  it("a full-matrix gradient-flow simulation from balanced rank-one init follows deep_c", function()
    -- The reduction to c alone is exact on this invariant manifold, so the only errors are RK4's
    -- (h = 0.005, O(h^4)) and the ODE solver's: 1e-6 relative is generous for both. A missing
    -- factor L in dc/dt (the paper's Eq. 60) would be off by a factor of 3-4 in time.
    for _, case in ipairs{{L = 3, widths = {5, 4, 3, 1}}, {L = 4, widths = {5, 3, 3, 2, 1}}} do
      local s, u0 = 1.5, 0.25
      local beta = unit_beta(5)
      local Ws = sim.balanced_init(case.widths, beta, u0)
      local c0 = coefficient(Ws, beta)
      assert.is_true(rel(c0, u0 ^ case.L) < 1e-14)
      local tmid = theory.t_half(s, case.L, c0)
      local times = {}
      for i = 1, 12 do times[i] = tmid * i / 6 end
      local want = theory.deep_c(times, s, case.L, c0)
      local i = 0
      sim.run(Ws, times, 0.005, s, beta, function(_, W)
        i = i + 1
        local c = coefficient(W, beta)
        assert.is_true(rel(c, want[i]) < 1e-6, ("L = %d, t = %g: %g vs %g"):format(case.L, times[i], c, want[i]))
      end)
      assert.is_true(want[12] > 0.9 * s)
    end
  end)
end)

describe("theory, deep linear nets: t_1/2", function()
  it("t_half approaches the asymptotic sigma^{2-L}/((L-2)s) up to a sigma-independent offset", function()
    local s = 1.2
    for _, L in ipairs{3, 4} do
      local offsets = {}
      for k, sigma in ipairs{1e-2, 1e-3, 1e-4} do
        offsets[k] = theory.t_half(s, L, sigma ^ L) - theory.t_half_asymptotic(sigma, L, s)
      end
      -- The offset converges (to -integral of the saturation), so consecutive ones agree as
      -- sigma shrinks while the leading term grows by 10^(L-2) per step.
      assert.is_true(math.abs(offsets[3] - offsets[2]) < 1e-2 * math.abs(offsets[2]) + 1e-6)
      assert.is_true(math.abs(offsets[2]) < 2 * s ^ (2 / L - 2))
      -- Its limit, independently: t_half - t* -> (1/s) [int_0^u1 u/(s - u^L) du - u1^{2-L}/(L-2)]
      -- with u1 = (s/2)^{1/L}; midpoint rule with 1e5 cells (error ~1e-11). At sigma = 1e-4 the
      -- offset differs from its limit by about int_0^{u0} u/(s - u^L) du / s = sigma^2/(2 s^2).
      local u1, n, smooth = (s / 2) ^ (1 / L), 100000, 0
      for i = 1, n do
        local u = (i - 0.5) * u1 / n
        smooth = smooth + u / (s - u ^ L) * u1 / n
      end
      local limit = (smooth - u1 ^ (2 - L) / (L - 2)) / s
      assert.is_true(math.abs(offsets[3] - limit) < 1e-7, ("offset %g, limit %g"):format(offsets[3], limit))
    end
    assert.is_true(math.abs(theory.t_half(s, 2, 1e-8) - theory.t_half_asymptotic(1e-4, 2, s)) < 1e-7)
  end)

  it("an intermediate level u_cos = u0 / rho is reached at t_1/2 (1 - rho^{L-2}) as sigma -> 0", function()
    -- The first layer's cosine reaches 1/2 when the per-layer scale has grown by a fixed factor
    -- 1/rho (figures/deep_linear measures rho ~ 0.36 for D = 30, N = 50): in the early solution
    -- u^{2-L} = u0^{2-L} - (L-2) s t that time is (u0^{2-L} - u_cos^{2-L}) / ((L-2)s), so its
    -- ratio to t_1/2 tends to 1 - rho^{L-2}; the corrections are O(u_cos^L / s) and the
    -- sigma-independent offset of t_1/2 over its leading term.
    local s, rho = 1, 0.36
    for _, L in ipairs{3, 4, 5} do
      local u0 = 1e-3
      local ratio = theory.deep_time((u0 / rho) ^ L, s, L, u0 ^ L) / theory.t_half(s, L, u0 ^ L)
      assert.is_true(math.abs(ratio - (1 - rho ^ (L - 2))) < 2e-3, ("L = %d: %g"):format(L, ratio))
    end
  end)

  it("level = 1 - 1/sqrt(2) is the time the loss (s - c)^2/2 halves", function()
    local s, L, c0 = 1, 3, 1e-6
    local t = theory.t_half(s, L, c0, 1 - 1 / math.sqrt(2))
    local c = theory.deep_c(t, s, L, c0)
    local ratio = (s - c) ^ 2 / (s - c0) ^ 2
    assert.is_true(math.abs(ratio - 0.5) < 1e-5)
  end)

  it("from random init, t_1/2 of a simulated L = 3 net scales as sigma^{2-L}", function()
    -- Same random directions at three scales sigma_k = sigma_0 2^-k: t_k = A 2^{k(L-2)} + B + o(1)
    -- (leading term plus a sigma-independent offset), so (t_2 - t_1)/(t_1 - t_0) = 2^{L-2} = 2.
    -- Corrections are O(sigma) relative (measured: 3e-6 off); 1% leaves margin.
    local s, beta = 1.0, unit_beta(4)
    local function t_half_sim(sigma)
      local Ws = sim.random_init(ntklab.rng(5), {4, 4, 4, 1}, sigma)
      local prev_t, prev_c, hit = 0, 0, nil
      local t, h = 0, 0.05
      while not hit do
        Ws = sim.rk4_step(Ws, h, s, beta)
        t = t + h
        local c = coefficient(Ws, beta)
        if c >= s / 2 then hit = prev_t + (s / 2 - prev_c) / (c - prev_c) * (t - prev_t) end
        prev_t, prev_c = t, c
        assert.is_true(t < 1e5, "never learned")
      end
      return hit
    end
    local t0, t1, t2 = t_half_sim(0.02), t_half_sim(0.01), t_half_sim(0.005)
    local ratio = (t2 - t1) / (t1 - t0)
    assert.is_true(math.abs(ratio - 2) < 0.01, ("ratio %g (t = %g, %g, %g)"):format(ratio, t0, t1, t2))
    local a = {theory.t_half_asymptotic(0.02, 3, s), theory.t_half_asymptotic(0.01, 3, s),
               theory.t_half_asymptotic(0.005, 3, s)}
    assert.is_true(rel((a[3] - a[2]) / (a[2] - a[1]), 2) < 1e-12)
  end)
end)

describe("theory, final NTK and alignment", function()
  it("final_ntk_gram equals the kernel function and accepts tensors", function()
    local beta = {3, 0, 4}
    local X = {{1, 2, 0}, {0, 1, -1}}
    local K = theory.final_ntk_gram(4, 3, beta, X)
    local k = theory.final_ntk(4, 3, beta)
    local scale = 4 ^ (2 - 2 / 3)
    -- by hand: x1.beta = 0.6, x2.beta = -0.8 (beta normalized), x1.x2 = 2
    assert.is_true(rel(K[1][2], scale * (2 * 0.6 * -0.8 + 2)) < 1e-14)
    assert.is_true(rel(K[1][1], scale * (2 * 0.36 + 5)) < 1e-14)
    for i = 1, 2 do for j = 1, 2 do assert.are.equal(k(X[i], X[j]), K[i][j]) end end
    local Kt = theory.final_ntk_gram(4, 3, ntklab.tensor(beta), ntklab.tensor(X), ntklab.tensor{{1, 1, 1}})
    assert.are.equal(k(X[2], {1, 1, 1}), Kt[2][1])
    assert.are.equal(1, #Kt[1])
  end)

  it("a simulated L = 3 net from small random init ends with the final NTK", function()
    local s, sigma, L = 1.0, 0.01, 3
    local beta = unit_beta(4)
    local Ws = sim.random_init(ntklab.rng(9), {4, 5, 5, 1}, sigma)
    local t, h = 0, 0.05
    while t < 400 do Ws = sim.rk4_step(Ws, h, s, beta); t = t + h end
    assert.is_true(rel(coefficient(Ws, beta), s) < 1e-6)
    local X = ntklab.rng(2):normal(3, 4):totable()
    local k = theory.final_ntk(s, L, beta)
    for i = 1, 3 do for j = 1, 3 do
      -- Corrections are O(sigma) relative to the kernel scale s^{4/3} |x||x'| (|x|^2 ~ 4).
      assert.is_true(math.abs(sim.ntk(Ws, X[i], X[j]) - k(X[i], X[j])) < 10 * sigma * 4)
    end end
  end)

  it("max_alignment L/sqrt(L^2+r-1) and initial 1/sqrt(r) on whitened rank-r data", function()
    -- Whitened rank-r data in D = 6: P = 2r rows, each basis direction of a rotated r-dim
    -- subspace appearing twice (X^T X = 2 lambda^2 on the span), beta in the span.
    local D = 6
    local function alignment(K, y)
      local kyy, kf, yy = 0, 0, 0
      for i = 1, #y do
        yy = yy + y[i] * y[i]
        for j = 1, #y do kyy = kyy + y[i] * K[i][j] * y[j]; kf = kf + K[i][j] ^ 2 end
      end
      return kyy / (math.sqrt(kf) * yy)
    end
    for _, r in ipairs{1, 2, 4} do
      for _, L in ipairs{2, 3, 5} do
        -- Orthonormal directions: a Givens rotation mixes coordinates j and j + r.
        local dirs = {}
        for j = 1, r do
          local v = {}
          for k = 1, D do v[k] = 0 end
          v[j], v[j + r <= D and j + r or j] = 0.6, 0.8
          if j + r > D then v[j] = 1 end
          dirs[j] = v
        end
        local X = {}
        for rep = 1, 2 do for j = 1, r do
          local row = {}
          for k = 1, D do row[k] = 3 * dirs[j][k] end
          X[#X + 1] = row
          local _ = rep
        end end
        local beta = {}
        for k = 1, D do
          beta[k] = 0
          for j = 1, r do beta[k] = beta[k] + (j + 0.5) * dirs[j][k] end
        end
        local y = {}
        for i, row in ipairs(X) do
          y[i] = 0
          for k = 1, D do y[i] = y[i] + 2 * beta[k] * row[k] end
        end
        local K = theory.final_ntk_gram(2, L, beta, X)
        assert.is_true(rel(alignment(K, y), theory.max_alignment(L, r)) < 1e-12)
        local K0 = {}
        for i = 1, #X do
          K0[i] = {}
          for j = 1, #X do
            K0[i][j] = 0
            for k = 1, D do K0[i][j] = K0[i][j] + X[i][k] * X[j][k] end
          end
        end
        assert.is_true(rel(alignment(K0, y), theory.initial_alignment(r)) < 1e-12)
      end
    end
    assert.are.equal(1, theory.max_alignment(7, 1))
    assert.are.equal(0.5, theory.initial_alignment(4))
  end)
end)
