-- 47-theory_transfer: the Appendix F learning curve of kernel ridge regression with the kernel
-- x^T [A beta beta^T + I] x' against a plain-Lua simulation averaged over training sets.
local ntklab = require "ntklab"
local theory = require "ntklab.theory"

-- K y = b for symmetric positive definite K, plain Lua (Gaussian elimination).
local spd_solve = require("spec.support.ops_reference").gauss_solve

-- Mean test error |w_hat - w|^2 (= E_x (f(x) - w.x)^2 for x ~ N(0, I)) of ridge regression
-- with beta = e_1 and w_perp spread evenly over e_2..e_D, and its standard error.
local function simulate(P, D, A, alpha, lambda, trials, rng)
  local w = {alpha}
  for j = 2, D do w[j] = math.sqrt((1 - alpha * alpha) / (D - 1)) end
  local sum, sum2 = 0, 0
  for _ = 1, trials do
    local X = rng:normal(P, D):totable()
    local y, K = {}, {}
    for i = 1, P do
      local s = 0
      for j = 1, D do s = s + X[i][j] * w[j] end
      y[i] = s
    end
    for i = 1, P do
      K[i] = {}
      for j = 1, P do
        local s = A * X[i][1] * X[j][1]
        for k = 1, D do s = s + X[i][k] * X[j][k] end
        K[i][j] = s + (i == j and lambda or 0)
      end
    end
    local c = spd_solve(K, y)
    -- f(x) = sum_i c_i K(x, x_i) = x . w_hat, w_hat = M X^T c with M = A e1 e1^T + I
    local e = 0
    for k = 1, D do
      local s = 0
      for i = 1, P do s = s + X[i][k] * c[i] end
      if k == 1 then s = s * (1 + A) end
      e = e + (s - w[k]) ^ 2
    end
    sum, sum2 = sum + e, sum2 + e * e
  end
  local mean = sum / trials
  return mean, math.sqrt((sum2 / trials - mean * mean) / trials)
end

describe("theory.transfer_error", function()
  it("kappa solves its self-consistent equation, gamma and E_g follow from it", function()
    for _, c in ipairs{{10, 30, 2, 0.8, 0.1}, {50, 30, 1, 0.3, 1e-3}, {5, 100, 9, 1, 0}} do
      local P, D, A, alpha, lambda = table.unpack(c)
      local eg, kappa, gamma = theory.transfer_error(P, D, A, alpha, lambda)
      local rhs = lambda + kappa * ((1 + A) / ((1 + A) * P + kappa) + (D - 1) / (P + kappa))
      assert.is_true(math.abs(kappa - rhs) <= 1e-12 * kappa)
      assert.is_true(gamma < 1 and eg > 0)
    end
    -- no ridge, at least as many points as modes: exact interpolation
    assert.are.same({0, 0, 1}, {theory.transfer_error(30, 30, 2, 0.5, 0)})
    assert.are.same({0, 0, 0.5}, {theory.transfer_error(60, 30, 2, 0.5, 0)})
  end)

  it("learning along the kernel's spike helps: E_g falls as alpha grows and as A grows", function()
    local a = theory.transfer_error(20, 50, 3, 0.2, 0.01)
    local b = theory.transfer_error(20, 50, 3, 0.9, 0.01)
    local c = theory.transfer_error(20, 50, 10, 0.9, 0.01)
    assert.is_true(a > b and b > c)
    -- alpha = 0: the spike wastes capacity, worse than the isotropic kernel
    assert.is_true(theory.transfer_error(20, 50, 3, 0, 0.01) > theory.transfer_error(20, 50, 0, 0, 0.01))
  end)

  it("matches ridge regression averaged over 300 training sets", function()
    -- The theory is exact as P, D grow; at P = 20, D = 30 its finite-size corrections measured
    -- 2-4% (shrinking as 1/P when both double), so 8% plus three standard errors.
    local rng = ntklab.rng(4)
    for _, c in ipairs{{20, 30, 2, 0.8, 0.1}, {20, 30, 0, 0.5, 0.01}, {20, 30, 5, 0.95, 0.01}} do
      local want = theory.transfer_error(table.unpack(c))
      local got, se = simulate(c[1], c[2], c[3], c[4], c[5], 300, rng)
      assert.is_true(math.abs(got - want) <= 0.08 * want + 3 * se,
        ("P=%d D=%d A=%g alpha=%g lambda=%g: theory %g, simulation %g +- %g"):format(c[1], c[2], c[3], c[4], c[5], want, got, se))
    end
  end)
end)
