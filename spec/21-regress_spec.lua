-- 21-regress: kernel regression. Agrees with a direct solve, recovers a known function,
-- handles rank-deficient kernels through the pseudo-inverse, and predicts from cross kernels.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"

-- Solves of well-conditioned 8 x 8 systems agree to cond * eps ~ 1e-13; 1e-10 leaves margin.
local SOLVE_TOL = 1e-10
-- Ridgeless interpolation with a rank-D kernel: exact up to rounding amplified by cond(X).
local INTERP_TOL = 1e-8

-- The linear kernel A B^T, by plain loops.
local function gram(A, B) return ntklab.tensor(ref.matmul(A, B, false, true)) end

describe("kernel_regression", function()
  local rng = ntklab.rng(77)

  it("agrees with a direct solve of (K + ridge I) alpha = y", function()
    local B = rng:normal(8, 8)
    local K = gram(B, B)
    local y = rng:normal(8)
    for _, ridge in ipairs{0, 0.3, 10} do
      local fit = ntklab.kernel_regression{K = K, y = y, ridge = ridge}
      assert.are.equal("cholesky", fit.method)
      assert.are.equal(8, fit.rank)
      local A = K:totable()
      for i = 1, 8 do A[i][i] = A[i][i] + ridge end
      local x = ref.gauss_solve(A, y:totable())
      local alpha = fit.alpha:totable()
      for i = 1, 8 do assert.is_true(math.abs(alpha[i] - x[i]) <= SOLVE_TOL * (1 + math.abs(x[i]))) end
    end
    -- two outputs: alpha and predictions are P x C
    local Y = rng:normal(8, 2)
    local fit = ntklab.kernel_regression{K = K, y = Y, ridge = 0.1}
    assert.are.same({8, 2}, fit.alpha:shape())
    assert.are.same({3, 2}, fit:predict(K:narrow(1, 1, 3)):shape())
  end)

  it("recovers a linear teacher from the rank-deficient NTK of a linear net (ridgeless)", function()
    -- P = 30 > D = 4: K = X M X^T has rank 4, so Cholesky must give way to the pseudo-inverse.
    local D, P, Q = 4, 30, 7
    local net = ntklab.mlp{widths = {D, 6, 1}, activation = "linear", seed = 5}
    local X, Xt = rng:normal(P, D), rng:normal(Q, D)
    local beta = {0.5, -1, 2, 0.25}
    local function teacher(T)
      local t, out = T:totable(), {}
      for i = 1, #t do
        local s = 0
        for k = 1, D do s = s + beta[k] * t[i][k] end
        out[i] = s
      end
      return ntklab.tensor(out)
    end
    local K = ntklab.ntk(net, X)
    local fit = ntklab.kernel_regression{K = K, y = teacher(X)}
    assert.are.equal("eigh", fit.method)
    assert.are.equal(D, fit.rank)
    local pred, want = fit:predict(ntklab.ntk(net, Xt, X)):totable(), teacher(Xt):totable()
    for i = 1, Q do assert.is_true(math.abs(pred[i] - want[i]) <= INTERP_TOL) end
    -- a looser cutoff (rcond) that keeps only the dominant directions changes the rank
    local coarse = ntklab.kernel_regression{K = K, y = teacher(X), rcond = 0.5}
    assert.is_true(coarse.rank < D)
  end)

  it("recovers a smooth function with an RBF kernel and a small ridge", function()
    local P = 25
    local xs, ys, K = {}, {}, {}
    for i = 1, P do
      xs[i] = -1 + 2 * (i - 1) / (P - 1)
      ys[i] = math.sin(2 * xs[i])
    end
    local function rbf(a, b) return math.exp(-(a - b) ^ 2 / (2 * 0.3 ^ 2)) end
    for i = 1, P do
      K[i] = {}
      for j = 1, P do K[i][j] = rbf(xs[i], xs[j]) end
    end
    local fit = ntklab.kernel_regression{K = ntklab.tensor(K), y = ntklab.tensor(ys), ridge = 1e-8}
    local tx, Kx = {}, {}
    for q = 1, 9 do
      tx[q] = -0.9 + 0.2 * (q - 1) + 0.013
      Kx[q] = {}
      for j = 1, P do Kx[q][j] = rbf(tx[q], xs[j]) end
    end
    local pred = fit:predict(ntklab.tensor(Kx)):totable()
    for q = 1, 9 do assert.is_true(math.abs(pred[q] - math.sin(2 * tx[q])) < 1e-4) end
  end)

  it("returns nil, msg for non-finite kernels and releases idempotently", function()
    local K = ntklab.tensor{{1, 0}, {0, 0 / 0}}
    local fit, msg = ntklab.kernel_regression{K = K, y = ntklab.tensor{1, 2}}
    assert.is_nil(fit)
    assert.matches("non%-finite", msg)
    local ok = ntklab.kernel_regression{K = ntklab.tensor{{2, 0}, {0, 1}}, y = ntklab.tensor{1, 1}}
    assert.matches("cholesky", tostring(ok))
    ok:release()
    ok:release()
    assert.has_error(function() return ok.alpha end, "attempt to use a released kernel_regression")
    assert.has_error(function() ok:predict(ntklab.zeros(1, 2)) end,
                     "attempt to use a released kernel_regression")
  end)
end)
