-- 25-top_eigs: ntklab.kernel_eigs(K, k) takes the k largest eigenvalues by block Krylov on large
-- exactly symmetric kernels (falling back to dsyevr with an index range when the Krylov space
-- breaks down or converges too slowly) and must equal the full solver's (dsyevd, all
-- eigenvalues) on kernels of every kind: an NTK, a spectrum with a cluster and a triple
-- eigenvalue, a top cluster that the k-th eigenvalue sits in, a low-rank kernel, a flat indefinite
-- spectrum, a transposed view (issue 17). core/test/test_linalg_topk.c checks that the Krylov
-- path itself converges (both product paths) on NTK-like and clustered spectra.
local ntklab = require "ntklab"

-- The issue's bar; the solver stops at residual^2 / gap <= 1e-12 of the eigenvalue, and both
-- solvers round at a few eps |K|.
local REL_TOL = 1e-10

-- Max over the k largest of |kernel_eigs - eigh| / |eigh| (all: K's eigh, when known).
local function worst(K, k, all)
  local top = ntklab.kernel_eigs(K, k)
  all = all or ntklab.linalg.eigh(K) -- ascending
  local n, w = all:size(1), 0
  for i = 1, k do
    local ref = all:get(n + 1 - i)
    w = math.max(w, math.abs(top:get(i) - ref) / math.abs(ref))
  end
  return w
end

-- (A + A^T) / 2: exactly symmetric in every bit (a + b == b + a), as the Krylov path requires.
local function sym(A) return (A + A:t()) * 0.5 end

-- V diag(lambda) V^T for an orthogonal V from the eigenvectors of a random symmetric matrix.
local function with_spectrum(n, lambda, seed)
  local _, V = ntklab.linalg.eigh(sym(ntklab.rng(seed):normal(n, n)))
  local L = ntklab.zeros(n, n)
  for i = 1, n do L:set(i, i, lambda(i)) end
  return sym(ntklab.matmul(ntklab.matmul(V, L), V:t()))
end

describe("kernel_eigs: the k largest eigenvalues", function()
  it("of an NTK equal the full solver's", function()
    local X = ntklab.rng(1):normal(600, 30)
    local net = ntklab.mlp{widths = {30, 50, 1}, activation = "relu", seed = 1}
    local K = ntklab.ntk(net, X)
    local all = ntklab.linalg.eigh(K)
    for _, k in ipairs{1, 5, 20} do
      local w = worst(K, k, all)
      assert.is_true(w <= REL_TOL, "k = " .. k .. ": " .. w)
    end
    -- the same kernel through a transposed view (column-contiguous)
    assert.is_true(worst(K:t(), 5, all) <= REL_TOL)
  end)

  it("with a triple eigenvalue and a near-degenerate cluster", function()
    local spectrum = {100, 50, 50, 50, 50 - 1e-7, 49, 10}
    local K = with_spectrum(400, function(i) return spectrum[i] or 5 * 0.97 ^ i end, 2)
    local all = ntklab.linalg.eigh(K)
    for _, k in ipairs{5, 7} do
      local w = worst(K, k, all)
      assert.is_true(w <= REL_TOL, "k = " .. k .. ": " .. w)
    end
  end)

  it("with the k-th eigenvalue inside a cluster (relative gaps 1e-3)", function()
    local K = with_spectrum(500, function(i) return i <= 10 and 10 * (1 - 1e-3 * i) or 5 * 0.99 ^ i end, 6)
    local all = ntklab.linalg.eigh(K)
    for _, k in ipairs{3, 5, 9} do
      local w = worst(K, k, all)
      assert.is_true(w <= REL_TOL, "k = " .. k .. ": " .. w)
    end
  end)

  it("of a kernel of low rank (the Krylov space stops growing)", function()
    local F = ntklab.rng(3):normal(500, 10)
    local K = sym(ntklab.matmul(F, F:t()))
    local w = worst(K, 5)
    assert.is_true(w <= REL_TOL, w)
  end)

  it("of a flat indefinite spectrum (slow convergence)", function()
    local K = sym(ntklab.rng(4):normal(300, 300))
    local w = worst(K, 5)
    assert.is_true(w <= REL_TOL, w)
  end)

  it("of a kernel that is symmetric only to rounding (the dsyevr path)", function()
    local X = ntklab.rng(5):normal(400, 20)
    local K = ntklab.ntk(ntklab.mlp{widths = {20, 40, 1}, activation = "tanh", seed = 2}, X)
    K:set(1, 2, K:get(1, 2) * (1 + 2 ^ -52))
    -- the full solver factors (K + K^T) / 2, so the reference is taken on that
    local top, ref = ntklab.kernel_eigs(K, 5), ntklab.linalg.eigh(sym(K))
    for i = 1, 5 do
      assert.is_true(math.abs(top:get(i) - ref:get(401 - i)) <= REL_TOL * ref:get(401 - i))
    end
  end)
end)
