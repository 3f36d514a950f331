-- 05-linalg: ntklab.linalg, each factorization checked against its defining identity with
-- plain-Lua products (reconstruction, orthonormality, residuals, normal equations, Penrose
-- conditions), on contiguous and on view/transposed inputs, plus every failure path.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"
local ref = require "spec.support.ops_reference"
local linalg = ntklab.linalg

-- A numerical failure: the call returned nil and a message matching the Lua pattern.
local function refused(pattern, value, msg)
  assert.is_nil(value)
  assert.matches(pattern, msg)
end

-- The test matrices are small (n <= 9), entries O(1), condition numbers below ~1e3: backward
-- stable LAPACK results meet their identities to a few n * eps * cond ~ 1e-12. 1e-9 leaves room
-- for that while any real error (wrong layout, wrong sign, wrong order) is O(1).
local TOL = 1e-9

---------------------------------------------------------------------------------------------
-- plain-Lua references on nested tables

local function mat(t) return t:dim() == 2 and t:totable() or (function()
  local c = {}
  for i, x in ipairs(t:totable()) do c[i] = {x} end
  return c
end)() end

local mm, tr, maxdiff = ref.matmul, ref.transpose, ref.absdiff

-- The diagonal matrix with entries d.
local function diag(d)
  local D = {}
  for i = 1, #d do
    D[i] = {}
    for j = 1, #d do D[i][j] = i == j and d[i] or 0 end
  end
  return D
end

local function eye(n)
  local ones = {}
  for i = 1, n do ones[i] = 1 end
  return diag(ones)
end

-- A diag(s): column j of A times s[j] (the other terms of the product are exact zeros).
local function scale_cols(A, s) return mm(A, diag(s)) end

-- the independent reference for the normal equations
local gauss_solve = ref.gauss_solve

local function column(A, j)
  local c = {}
  for i = 1, #A do c[i] = A[i][j] end
  return c
end

-- A tensor with T's values stored as a non-contiguous view: the transpose of a block inside a
-- bigger buffer whose other entries are NaN (so reading outside the view would show).
local function strided(T)
  local r, c = T:size()
  local big = ntklab.zeros(c + 2, r + 3)
  for i = 1, c + 2 do for j = 1, r + 3 do big:set(i, j, 0 / 0) end end
  local v = big:narrow(1, 2, c):narrow(2, 3, r):t()
  local t = T:totable()
  for i = 1, r do for j = 1, c do v:set(i, j, t[i][j]) end end
  assert.is_false(v:is_contiguous())
  return v
end

local rng = ntklab.rng(20260501)

local function symmetric(n)
  local M = rng:normal(n, n):totable()
  local S = {}
  for i = 1, n do
    S[i] = {}
    for j = 1, n do S[i][j] = M[i][j] + M[j][i] end
  end
  return ntklab.tensor(S)
end

local function spd(n)
  local M = rng:normal(n, n):totable()
  local S = mm(M, tr(M))
  for i = 1, n do S[i][i] = S[i][i] + n end
  return ntklab.tensor(S)
end

---------------------------------------------------------------------------------------------

describe("linalg.svd", function()
  local function check(A)
    local U, s, Vt = linalg.svd(A)
    local m, n = A:size()
    local r = math.min(m, n)
    assert.are.same({m, r}, U:shape())
    assert.are.same({r}, s:shape())
    assert.are.same({r, n}, Vt:shape())
    local sv = s:totable()
    for i = 1, r do
      assert.is_true(sv[i] >= 0)
      if i > 1 then assert.is_true(sv[i - 1] >= sv[i]) end
    end
    local u, vt = U:totable(), Vt:totable()
    assert.is_true(maxdiff(mm(scale_cols(u, sv), vt), A:totable()) < TOL)
    assert.is_true(maxdiff(mm(tr(u), u), eye(r)) < TOL)
    assert.is_true(maxdiff(mm(vt, tr(vt)), eye(r)) < TOL)
    return U, s, Vt
  end

  it("reconstructs A = U diag(s) Vt for tall, wide and square A", function()
    check(rng:normal(6, 4))
    check(rng:normal(3, 5))
    check(rng:normal(4, 4))
  end)

  it("gives the same answer on views and transposes as on contiguous copies", function()
    local A = rng:normal(5, 3)
    local U, s, Vt = check(A)
    local U2, s2, Vt2 = check(strided(A))
    assert.are.same(U:totable(), U2:totable())
    assert.are.same(s:totable(), s2:totable())
    assert.are.same(Vt:totable(), Vt2:totable())
    -- svd(A^T) swaps the roles: s equal, U and V exchanged (signs fixed per vector)
    local Ut, st = check(A:t())
    assert.is_true(maxdiff(st:totable(), s:totable()) < TOL)
    assert.are.same({3, 3}, Ut:shape())
  end)

  it("returns the values alone with {vectors = false}", function()
    local A = rng:normal(4, 6)
    local _, s = linalg.svd(A)
    local s2, extra = linalg.svd(A, {vectors = false})
    assert.is_nil(extra)
    assert.is_true(maxdiff(s:totable(), s2:totable()) < TOL)
  end)

  it("returns nil and a message for NaN input", function()
    local A = rng:normal(3, 3)
    A:set(2, 1, 0 / 0)
    refused("NaN at %[2, 1%]", linalg.svd(A))
  end)
end)

describe("linalg.eigh", function()
  it("satisfies A V = V diag(w) with orthonormal V and ascending w", function()
    local A = symmetric(7)
    local w, V = linalg.eigh(A)
    local wv, v = w:totable(), V:totable()
    for i = 2, 7 do assert.is_true(wv[i - 1] <= wv[i]) end
    assert.is_true(maxdiff(mm(A:totable(), v), scale_cols(v, wv)) < TOL)
    assert.is_true(maxdiff(mm(tr(v), v), eye(7)) < TOL)
    local w2, none = linalg.eigh(A, {vectors = false})
    assert.is_nil(none)
    assert.is_true(maxdiff(w2:totable(), wv) < TOL)
  end)

  it("gives the same answer on a strided view as on the contiguous matrix", function()
    local A = symmetric(5)
    local w, V = linalg.eigh(A)
    local w2, V2 = linalg.eigh(strided(A))
    assert.are.same(w:totable(), w2:totable())
    assert.are.same(V:totable(), V2:totable())
  end)

  it("eigh_top returns the top of the full decomposition, descending", function()
    local n, k = 8, 3
    local A = symmetric(n)
    local w, V = linalg.eigh(A)
    local wt, Vt = linalg.eigh_top(strided(A), k)
    assert.are.same({k}, wt:shape())
    assert.are.same({n, k}, Vt:shape())
    local wf, vf, wk, vk = w:totable(), V:totable(), wt:totable(), Vt:totable()
    for j = 1, k do
      assert.is_true(math.abs(wk[j] - wf[n + 1 - j]) < TOL)
      -- eigenvector signs are fixed (largest entry positive), so the vectors agree exactly
      for i = 1, n do assert.is_true(math.abs(vk[i][j] - vf[i][n + 1 - j]) < TOL) end
    end
    local w0, V0 = linalg.eigh_top(A, 0)
    assert.are.same({0}, w0:shape())
    assert.are.same({n, 0}, V0:shape())
    local wonly = linalg.eigh_top(A, k, {vectors = false})
    assert.is_true(maxdiff(wonly:totable(), wk) < TOL)
  end)

  it("returns nil and a message for NaN or Inf input", function()
    local A = symmetric(3)
    A:set(3, 3, 1 / 0)
    refused("Inf at %[3, 3%]", linalg.eigh(A))
    refused("Inf", linalg.eigh_top(A, 1))
  end)
end)

describe("linalg.solve and linalg.cholesky_solve", function()
  local function residual(A, X, B)
    return maxdiff(mm(A:totable(), mat(X)), mat(B))
  end

  it("solve: A X = B for 2-D and 1-D B, on contiguous and strided inputs", function()
    local A = rng:normal(6, 6)
    for i = 1, 6 do A:set(i, i, A:get(i, i) + 4) end -- well conditioned
    local B, b = rng:normal(6, 3), rng:normal(6)
    local X = linalg.solve(A, B)
    assert.are.same({6, 3}, X:shape())
    assert.is_true(residual(A, X, B) < TOL)
    local x = linalg.solve(A, b)
    assert.are.same({6}, x:shape())
    assert.is_true(residual(A, x, b) < TOL)
    assert.are.same(X:totable(), linalg.solve(strided(A), strided(B)):totable())
    local two = ntklab.zeros(6, 2)
    for i = 1, 6 do two:set(i, 1, b:get(i)) end
    local bv = two:select(2, 1) -- a column of a row-major matrix: stride 2
    assert.is_false(bv:is_contiguous())
    assert.are.same(x:totable(), linalg.solve(A, bv):totable())
  end)

  it("cholesky_solve: A X = B for symmetric positive definite A", function()
    local A = spd(5)
    local B, b = rng:normal(5, 2), rng:normal(5)
    local X = linalg.cholesky_solve(A, B)
    assert.is_true(residual(A, X, B) < TOL)
    local x = linalg.cholesky_solve(strided(A), b)
    assert.are.same({5}, x:shape())
    assert.is_true(residual(A, x, b) < TOL)
    assert.are.same(X:totable(), linalg.cholesky_solve(strided(A), strided(B)):totable())
  end)

  it("returns nil and a message for singular and non-positive-definite matrices", function()
    local S = ntklab.tensor{{1, 2, 3}, {2, 4, 6}, {1, 0, 1}}
    refused("singular", linalg.solve(S, ntklab.tensor{1, 2, 3}))
    -- rank 1, singular only up to rounding: caught by the condition estimate
    local R = {}
    for i = 1, 4 do
      R[i] = {}
      for j = 1, 4 do R[i][j] = (i / 3) * (j + 0.1) / 7 end
    end
    refused("singular", linalg.solve(ntklab.tensor(R), rng:normal(4)))
    -- factorizable with nonzero pivots, but condition 1e20: only the condition estimate
    -- (dgecon / dpocon) can tell
    local tiny = ntklab.tensor{{1, 0}, {0, 1e-20}}
    refused("singular to working precision %(reciprocal condition 1e%-20%)",
      linalg.solve(tiny, ntklab.tensor{1, 1}))
    refused("not positive definite to working precision",
      linalg.cholesky_solve(tiny, ntklab.tensor{1, 1}))
    -- the same scaled up is a well-posed system: the test is relative, not absolute
    local x = linalg.solve(ntklab.tensor{{1e-20, 0}, {0, 1e-20}}, ntklab.tensor{1, 1})
    assert.are.same({1e20, 1e20}, x:totable())
    -- indefinite, and positive semi-definite but singular
    refused("not positive definite",
      linalg.cholesky_solve(ntklab.tensor{{1, 2}, {2, 1}}, ntklab.tensor{1, 1}))
    refused("not positive definite",
      linalg.cholesky_solve(ntklab.tensor{{1, 1}, {1, 1}}, ntklab.tensor{1, 1}))
  end)

  it("returns nil and a message for NaN in A or B", function()
    local A = spd(3)
    local b = ntklab.tensor{1, 0 / 0, 3}
    refused("B contains NaN at %[2%]", linalg.solve(A, b))
    refused("NaN", linalg.cholesky_solve(A, b))
  end)
end)

describe("linalg.lstsq and linalg.pinv", function()
  local function penrose(A, P)
    local a, p = A:totable(), P:totable()
    local ap, pa = mm(a, p), mm(p, a)
    assert.is_true(maxdiff(mm(ap, a), a) < TOL)  -- A P A = A
    assert.is_true(maxdiff(mm(pa, p), p) < TOL)  -- P A P = P
    assert.is_true(maxdiff(tr(ap), ap) < TOL)    -- (A P)^T = A P
    assert.is_true(maxdiff(tr(pa), pa) < TOL)    -- (P A)^T = P A
  end

  it("lstsq on a full-rank tall system equals the normal-equations solution", function()
    local A, B = rng:normal(9, 4), rng:normal(9, 2)
    local X, rank = linalg.lstsq(A, B)
    assert.are.equal(4, rank)
    assert.are.same({4, 2}, X:shape())
    local a, bt = A:totable(), B:totable()
    local AtA, AtB = mm(tr(a), a), mm(tr(a), bt)
    local x = X:totable()
    for j = 1, 2 do
      assert.is_true(maxdiff(column(x, j), gauss_solve(AtA, column(AtB, j))) < TOL)
    end
    local X2 = linalg.lstsq(strided(A), strided(B), -1)
    assert.is_true(maxdiff(X2:totable(), x) < TOL)
    local x1, r1 = linalg.lstsq(A, B:select(2, 1))
    assert.are.equal(4, r1)
    assert.are.same({4}, x1:shape())
    assert.is_true(maxdiff(x1:totable(), column(x, 1)) < TOL)
  end)

  it("lstsq on a rank-deficient system gives the minimum-norm solution", function()
    -- D = L R has rank 2; its row space is R's
    local L, R = rng:normal(6, 2), rng:normal(2, 5)
    local d = mm(L:totable(), R:totable())
    local D, B = ntklab.tensor(d), rng:normal(6, 3)
    local X, rank = linalg.lstsq(D, B, 1e-10)
    assert.are.equal(2, rank)
    local x = X:totable()
    -- normal equations: D^T (D X - B) = 0
    local res = mm(d, x)
    for i = 1, 6 do for j = 1, 3 do res[i][j] = res[i][j] - B:get(i, j) end end
    assert.is_true(maxdiff(mm(tr(d), res), {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0},
                                            {0, 0, 0}}) < TOL)
    -- minimum norm: X lies in D's row space, i.e. X = R^T (R R^T)^{-1} R X
    local r = R:totable()
    local G = mm(r, tr(r))
    local det = G[1][1] * G[2][2] - G[1][2] * G[2][1]
    local Ginv = {{G[2][2] / det, -G[1][2] / det}, {-G[2][1] / det, G[1][1] / det}}
    local proj = mm(tr(r), mm(Ginv, mm(r, x)))
    assert.is_true(maxdiff(proj, x) < TOL)
    -- and it is pinv(D) B
    local P, prank = linalg.pinv(D, 1e-10)
    assert.are.equal(2, prank)
    assert.is_true(maxdiff(mm(P:totable(), B:totable()), x) < TOL)
  end)

  it("pinv satisfies the four Penrose conditions, full rank and deficient, any layout", function()
    local A = rng:normal(7, 3)
    local P, rank = linalg.pinv(A)
    assert.are.equal(3, rank)
    assert.are.same({3, 7}, P:shape())
    penrose(A, P)
    penrose(A:t(), linalg.pinv(A:t()))
    local P2 = linalg.pinv(strided(A))
    assert.is_true(maxdiff(P2:totable(), P:totable()) < TOL)
    local D = ntklab.tensor(mm(rng:normal(4, 1):totable(), rng:normal(1, 6):totable()))
    local PD, rd = linalg.pinv(D, 1e-12)
    assert.are.equal(1, rd)
    penrose(D, PD)
    local Z, rz = linalg.pinv(ntklab.zeros(2, 3))
    assert.are.equal(0, rz)
    assert.are.same({{0, 0}, {0, 0}, {0, 0}}, Z:totable())
  end)

  it("lstsq and pinv agree on the rank for the same rcond", function()
    local s = {1, 1e-3, 1e-6, 1e-9}
    local Q = linalg.svd(rng:normal(4, 4))
    local q = Q:totable()
    local A = ntklab.tensor(mm(scale_cols(q, s), tr(q)))
    for _, rc in ipairs{1e-2, 1e-4, 1e-7, 1e-10} do
      local _, r1 = linalg.lstsq(A, rng:normal(4), rc)
      local _, r2 = linalg.pinv(A, rc)
      assert.are.equal(r1, r2)
    end
    local _, r = linalg.pinv(A, 1e-4)
    assert.are.equal(2, r)
  end)

  it("returns nil and a message for NaN input", function()
    local A = rng:normal(3, 2)
    A:set(1, 2, 0 / 0)
    refused("NaN", linalg.lstsq(A, rng:normal(3)))
    refused("NaN", linalg.pinv(A))
  end)
end)

describe("linalg.check_psd", function()
  it("returns the minimum eigenvalue of a positive semi-definite matrix", function()
    local M = rng:normal(6, 2)
    local G = ntklab.tensor(mm(M:totable(), tr(M:totable()))) -- rank 2: four zero eigenvalues
    local lmin = linalg.check_psd(G)
    assert.is_true(math.abs(lmin) < TOL)
    local lmin2 = linalg.check_psd(spd(4))
    assert.is_true(lmin2 >= 4 - TOL) -- M M^T + 4 I
    assert.are.equal(math.huge, linalg.check_psd(ntklab.zeros(0, 0)))
  end)

  it("returns nil, a message naming the minimum eigenvalue, and the value otherwise", function()
    local A = ntklab.tensor{{2, 0, 0}, {0, 1, 0}, {0, 0, -0.5}}
    local ok, msg, lmin = linalg.check_psd(strided(A))
    assert.is_nil(ok)
    assert.matches("not positive semi%-definite: minimum eigenvalue %-0%.5", msg)
    assert.are.equal(-0.5, lmin)
    -- a tolerance of 0.25 * max|lambda| = 0.5 covers it
    assert.are.equal(-0.5, linalg.check_psd(A, 0.25))
    local B = ntklab.tensor{{1, 0}, {0, 0 / 0}}
    refused("NaN", linalg.check_psd(B))
  end)
end)

describe("linalg bad arguments", function()
  local sq, rect, vec = ntklab.zeros(3, 3), ntklab.zeros(3, 4), ntklab.zeros(3)
  local nonsym = ntklab.tensor{{1, 2}, {0, 1}}
  local dead = ntklab.zeros(2, 2)
  dead:release()
  local cases = {
    {"eigh", function() linalg.eigh() end, "bad argument #1 to 'eigh' (ntklab.tensor expected"},
    {"eigh", function() linalg.eigh(rect) end, "square matrix expected, got [3 x 4]"},
    {"eigh", function() linalg.eigh(vec) end, "2-D matrix expected, got 1-D [3]"},
    {"eigh", function() linalg.eigh(nonsym) end, "symmetric matrix expected"},
    {"eigh", function() linalg.eigh(dead) end, "attempt to use a released tensor"},
    {"eigh", function() linalg.eigh(sq, {vector = false}) end, "invalid option 'vector'"},
    {"eigh", function() linalg.eigh(sq, {vectors = 0}) end, "option 'vectors': boolean expected"},
    {"eigh_top", function() linalg.eigh_top(sq) end, "bad argument #2 to 'eigh_top' (number expected"},
    {"eigh_top", function() linalg.eigh_top(sq, -1) end, "non-negative k expected, got -1"},
    {"eigh_top", function() linalg.eigh_top(sq, 4) end, "bad argument #2 to 'eigh_top' (k = 4 out of range [0, 3]"},
    {"eigh_top", function() linalg.eigh_top(sq, 1.5) end, "number has no integer representation"},
    {"eigh_top", function() linalg.eigh_top(rect, 1) end, "bad argument #1 to 'eigh_top' (A: square matrix expected"},
    {"eigh_top", function() linalg.eigh_top(nonsym, 1) end, "symmetric matrix expected"},
    {"eigh_top", function() linalg.eigh_top(sq, 1, "x") end, "bad argument #3 to 'eigh_top' (table expected"},
    {"svd", function() linalg.svd("A") end, "bad argument #1 to 'svd' (ntklab.tensor expected, got string)"},
    {"svd", function() linalg.svd(vec) end, "2-D matrix expected, got 1-D [3]"},
    {"svd", function() linalg.svd(sq, {values = true}) end, "invalid option 'values'"},
    {"cholesky_solve", function() linalg.cholesky_solve(sq) end, "bad argument #2 to 'cholesky_solve' (ntklab.tensor expected"},
    {"cholesky_solve", function() linalg.cholesky_solve(rect, vec) end, "square matrix expected, got [3 x 4]"},
    {"cholesky_solve", function() linalg.cholesky_solve(sq, ntklab.zeros(2)) end,
     "bad argument #2 to 'cholesky_solve' (shape mismatch: A is [3 x 3], B is [2], rows 3 ~= 2)"},
    {"cholesky_solve", function() linalg.cholesky_solve(ntklab.tensor{{1, 5}, {0, 1}}, ntklab.zeros(2)) end,
     "symmetric matrix expected"},
    {"solve", function() linalg.solve(1, vec) end, "bad argument #1 to 'solve' (ntklab.tensor expected, got number)"},
    {"solve", function() linalg.solve(rect, vec) end, "bad argument #1 to 'solve' (A: square matrix expected, got [3 x 4])"},
    {"solve", function() linalg.solve(sq, ntklab.zeros(4, 2)) end, "shape mismatch: A is [3 x 3], B is [4 x 2], rows 3 ~= 4"},
    {"solve", function() linalg.solve(vec, vec) end, "2-D matrix expected, got 1-D [3]"},
    {"lstsq", function() linalg.lstsq(rect) end, "bad argument #2 to 'lstsq' (ntklab.tensor expected"},
    {"lstsq", function() linalg.lstsq(rect, ntklab.zeros(4)) end, "shape mismatch: A is [3 x 4], B is [4], rows 3 ~= 4"},
    {"lstsq", function() linalg.lstsq(rect, vec, 1) end, "bad argument #3 to 'lstsq' (rcond < 1 expected"},
    {"lstsq", function() linalg.lstsq(rect, vec, 0 / 0) end, "rcond < 1 expected"},
    {"lstsq", function() linalg.lstsq(rect, vec, "tiny") end, "bad argument #3 to 'lstsq' (number expected, got string)"},
    {"lstsq", function() linalg.lstsq(vec, vec) end, "2-D matrix expected, got 1-D [3]"},
    {"pinv", function() linalg.pinv() end, "bad argument #1 to 'pinv' (ntklab.tensor expected, got no value)"},
    {"pinv", function() linalg.pinv(vec) end, "bad argument #1 to 'pinv' (A: 2-D matrix expected, got 1-D [3])"},
    {"pinv", function() linalg.pinv(rect, 5) end, "bad argument #2 to 'pinv' (rcond < 1 expected"},
    {"pinv", function() linalg.pinv(rect, {}) end, "bad argument #2 to 'pinv' (number expected, got table)"},
    {"pinv", function() linalg.pinv(dead) end, "attempt to use a released tensor"},
    {"check_psd", function() linalg.check_psd() end, "bad argument #1 to 'check_psd' (ntklab.tensor expected, got no value)"},
    {"check_psd", function() linalg.check_psd(rect) end, "bad argument #1 to 'check_psd' (A: square matrix expected, got [3 x 4])"},
    {"check_psd", function() linalg.check_psd(nonsym) end, "symmetric matrix expected"},
    {"check_psd", function() linalg.check_psd(sq, "tight") end, "bad argument #2 to 'check_psd' (number expected, got string)"},
    {"check_psd", function() linalg.check_psd(sq, 0 / 0) end, "bad argument #2 to 'check_psd' (rtol must be a number"},
  }

  for _, case in ipairs(cases) do case[1] = "ntklab.linalg." .. case[1] end
  bad_args.cases(it, cases)

end)
