-- 32-preprocess: ntklab.preprocess: whitening gives X^T X / P = I on the data span, partial
-- whitening gives exactly the singular values c S^gamma, the transform of new inputs (x V
-- S^(gamma-1) V^T) reproduces the training rows' U S^gamma V^T, the spectrum matches an
-- independent eigendecomposition of a plain-Lua covariance, and PCA, standardization, the rank
-- cutoff and rescaling do what they say.
local ntklab = require "ntklab"
local pre = require "ntklab.preprocess"
local bad_args = require "spec.support.bad_args"

-- The spec's matrices have condition numbers (on their span) below ~1e3 and entries O(1);
-- backward-stable SVD and GEMM results are accurate to ~ D * eps * cond ~ 1e-12 relative.
-- 1e-10, the issue's target, leaves room; real mistakes are O(1).
local TOL = 1e-10

-- X = A B + noise-free rank-deficient structure: [P x D] of rank r, anisotropic columns.
local function lowrank(P, D, r, seed)
  local rng = ntklab.rng(seed)
  local A, B = rng:normal(P, r), rng:normal(r, D)
  for k = 1, r do B:narrow(1, k, 1):mul_(2 ^ (1 - k)) end
  return A:matmul(B):add_(3) -- an offset so that centering matters
end

local function maxabs(t) return t:abs():max() end

-- Plain-Lua covariance of the centered columns, (X - mu)^T (X - mu) / P.
local function covariance(X)
  local P, D = X:size(1), X:size(2)
  local mu = {}
  for j = 1, D do
    local s = 0
    for i = 1, P do s = s + X:get(i, j) end
    mu[j] = s / P
  end
  local C = ntklab.zeros(D, D)
  for a = 1, D do
    for b = 1, D do
      local s = 0
      for i = 1, P do s = s + (X:get(i, a) - mu[a]) * (X:get(i, b) - mu[b]) end
      C:set(a, b, s / P)
    end
  end
  return C
end

describe("whitening", function()
  it("gives X^T X / P = I on the data span, and reports the rank", function()
    local P, D = 80, 12
    local X = lowrank(P, D, 7, 1)
    local pp = assert(pre.fit(X, {zca = true}))
    assert.are.equal(7, pp.rank)
    assert.are.same({D, 7}, pp.V:shape())
    local Xw = pp:transform(X)
    local C = Xw:t():matmul(Xw):div_(P)
    local proj = pp.V:matmul(pp.V:t()) -- the orthogonal projector onto the data span
    assert.is_true(maxabs(C:sub(proj)) < TOL)
    assert.is_true(maxabs(pp.V:t():matmul(C):matmul(pp.V):sub(ntklab.eye(7))) < TOL)
    -- the whitened rows are centered
    assert.is_true(maxabs(Xw:mean(1)) < TOL)
  end)

  it("exposes the covariance spectrum, equal to eigh of the plain-Lua covariance", function()
    local X = lowrank(50, 9, 9, 2)
    local pp = assert(pre.fit(X))
    local w = ntklab.linalg.eigh(covariance(X), {vectors = false}) -- ascending
    assert.are.equal(9, pp.spectrum:size(1))
    for k = 1, 9 do
      assert.is_true(math.abs(pp.spectrum:get(k) - w:get(10 - k)) < TOL * w:get(9))
      assert.is_true(math.abs(pp.lambda:get(k) - w:get(10 - k)) < TOL * w:get(9))
    end
  end)

  it("cuts singular values below rcond * s_1 (default max(P, D) * 2^-52)", function()
    local X = lowrank(40, 10, 4, 3)
    local pp = assert(pre.fit(X))
    assert.are.equal(4, pp.rank)
    assert.are.equal(40 * 2 ^ -52, pp.rcond)
    assert.are.equal(10, pp.spectrum:size(1))
    -- the 4th direction carries 2^-3 of the first's scale: a cutoff above its ratio drops it
    local s = pp.S
    local ratio = s:get(4) / s:get(1)
    local cut = assert(pre.fit(X, {rcond = ratio * 1.01}))
    assert.are.equal(3, cut.rank)
  end)
end)

describe("partial whitening", function()
  local P, D = 60, 8
  local X = lowrank(P, D, 8, 4)
  local base = assert(pre.fit(X))

  for _, gamma in ipairs({0, 0.25, 0.5, 0.75, 1}) do
    it(("gamma = %g gives singular values c S^gamma, c = P^((1-gamma)/2)"):format(gamma), function()
      local pp = base:with{gamma = gamma}
      assert.are.equal(P ^ ((1 - gamma) / 2), pp.c)
      local Xg = pp:transform(X)
      local s = ntklab.linalg.svd(Xg, {vectors = false})
      for k = 1, D do
        local expected = pp.c * base.S:get(k) ^ gamma
        assert.is_true(math.abs(s:get(k) - expected) < TOL * pp.c * base.S:get(1) ^ gamma)
      end
      -- covariance eigenvalues lambda -> lambda^gamma exactly
      local C = Xg:t():matmul(Xg):div_(P)
      local w = ntklab.linalg.eigh(C, {vectors = false})
      for k = 1, D do
        assert.is_true(math.abs(w:get(D + 1 - k) - base.lambda:get(k) ^ gamma)
          < TOL * base.lambda:get(1) ^ gamma)
      end
    end)

    it(("gamma = %g: the test transform reproduces U S^gamma V^T on training rows"):format(gamma), function()
      local pp = base:with{gamma = gamma}
      local from_factors = pp:training()
      local applied = pp:transform(X)
      assert.is_true(maxabs(applied:sub(from_factors)) < TOL * maxabs(from_factors))
      -- a row alone, and rows in another order, get the same map
      local some = X:gather({5, 2, 9})
      local rows = pp:transform(some)
      assert.is_true(maxabs(rows:sub(from_factors:gather({5, 2, 9}))) < TOL * maxabs(from_factors))
    end)
  end

  it("gamma = 1 is the raw (centered) data", function()
    local pp = base:with{gamma = 1}
    local centered = X:sub(X:mean(1))
    assert.is_true(maxabs(pp:transform(X):sub(centered)) < TOL * maxabs(centered))
  end)

  it("maps a test row by x V S^(gamma-1) V^T, checked in plain Lua", function()
    local pp = base:with{gamma = 0.5}
    local x = ntklab.rng(7):normal(1, D)
    local z = {}
    for j = 1, D do z[j] = x:get(1, j) - pp.mean:get(1, j) end
    local expected = {}
    for j = 1, D do expected[j] = 0 end
    for k = 1, pp.rank do
      local proj = 0
      for j = 1, D do proj = proj + z[j] * pp.V:get(j, k) end
      local scaled = pp.c * proj * pp.S:get(k) ^ (0.5 - 1)
      for j = 1, D do expected[j] = expected[j] + scaled * pp.V:get(j, k) end
    end
    local got = pp:transform(x)
    for j = 1, D do assert.is_true(math.abs(got:get(1, j) - expected[j]) < TOL * 10) end
  end)

  it("projects inputs outside the training span to zero", function()
    local Xl = lowrank(30, 6, 3, 5)
    local pp = assert(pre.fit(Xl, {gamma = 0}))
    -- a direction orthogonal to V: the residual of a random vector after projection
    local v = ntklab.rng(8):normal(6, 1)
    local w = v:sub(pp.V:matmul(pp.V:t():matmul(v)))
    local x = pp.mean:add(w:t())
    assert.is_true(maxabs(pp:transform(x)) < TOL)
  end)

  it("rescales to a chosen mean squared norm", function()
    local pp = base:with{gamma = 0.3, norm = 5}
    local Xg = pp:transform(X)
    assert.is_true(math.abs(Xg:square():sum() / P - 5) < TOL * 5)
    local r = assert(pre.rescale(X, 2))
    assert.is_true(math.abs(r:square():sum() / P - 2) < TOL * 2)
  end)
end)

describe("views", function()
  it("fit and transform take transposed and narrowed views like their contiguous copies", function()
    local big = lowrank(12, 40, 5, 10)           -- [12 x 40]; its transpose is [40 x 12]
    local view = big:t():narrow(2, 2, 9)         -- [40 x 9], strided
    local copy = view:contiguous()
    local a = assert(pre.fit(view, {gamma = 0.5}))
    local b = assert(pre.fit(copy, {gamma = 0.5}))
    assert.are.equal(b.rank, a.rank)
    local ta, tb = a:transform(view), b:transform(copy)
    assert.is_true(maxabs(ta:sub(tb)) < TOL * maxabs(tb))
  end)
end)

describe("PCA and standardization", function()
  it("pca = k gives the first k principal scores U_k S_k, whitened with gamma = 0", function()
    local P, D = 70, 9
    local X = lowrank(P, D, 9, 6)
    local pp = assert(pre.fit(X, {pca = 3}))
    local Z = pp:transform(X)
    assert.are.same({P, 3}, Z:shape())
    local C = Z:t():matmul(Z):div_(P)
    for a = 1, 3 do
      for b = 1, 3 do
        local expected = a == b and pp.lambda:get(a) or 0
        assert.is_true(math.abs(C:get(a, b) - expected) < TOL * pp.lambda:get(1))
      end
    end
    local pw = pp:with{pca = 3, gamma = 0}
    local Zw = pw:transform(X)
    assert.is_true(maxabs(Zw:t():matmul(Zw):div_(P):sub(ntklab.eye(3))) < TOL)
    assert.is_true(maxabs(Zw:sub(pw:training())) < TOL * maxabs(Zw))
  end)

  it("standardize gives unit column variances; constant columns stay zero", function()
    local X = lowrank(40, 5, 5, 7)
    X:narrow(2, 5, 1):fill_(2.5)
    local pp = assert(pre.fit(X, {standardize = true}))
    local Z = pp:transform(X)
    for j = 1, 4 do
      assert.is_true(math.abs(Z:narrow(2, j, 1):square():mean() - 1) < TOL)
    end
    assert.are.equal(0, maxabs(Z:narrow(2, 5, 1)))
    assert.is_true(maxabs(Z:mean(1)) < TOL)
  end)

  it("whitens real Fashion-MNIST images: rank below 784, identity on the span", function()
    local data = require "ntklab.data"
    local ds = data.fashion_mnist{train = 300, test = 10, seed = 1}
    if not ds then
      pending("dataset-fashion-mnist is not installed")
      return
    end
    local pp = assert(pre.fit(ds.X_train, {zca = true}))
    assert.is_true(pp.rank < 300)
    local Xw = pp:transform(ds.X_train)
    local C = Xw:t():matmul(Xw):div_(300)
    assert.is_true(maxabs(C:sub(pp.V:matmul(pp.V:t()))) < TOL)
  end)
end)

describe("failures and bad arguments", function()
  it("non-finite or all-zero inputs give nil, message", function()
    local X = ntklab.ones(4, 3)
    local pp, err = pre.fit(X)
    assert.is_nil(pp)
    assert.matches("inputs are all zero", err, 1, true)
    X:set(2, 2, 0 / 0)
    pp, err = pre.fit(X)
    assert.is_nil(pp)
    assert.matches("NaN or Inf", err, 1, true)
    local r
    r, err = pre.rescale(ntklab.zeros(2, 2), 1)
    assert.is_nil(r)
    assert.matches("all zero", err, 1, true)
  end)

  local X = lowrank(10, 4, 4, 9)
  local pp = assert(pre.fit(X))
  local cases = {
    {"ntklab.preprocess.fit", function() pre.fit() end, "bad argument #1 to 'fit' (tensor expected, got nil)"},
    {"ntklab.preprocess.fit", function() pre.fit({}) end, "bad argument #1 to 'fit' (tensor expected, got table)"},
    {"ntklab.preprocess.fit", function() pre.fit(ntklab.zeros(3)) end, "bad argument #1 to 'fit' (2-D tensor of inputs expected, got 1-D)"},
    {"ntklab.preprocess.fit", function() pre.fit(ntklab.zeros(0, 3)) end, "bad argument #1 to 'fit' (non-empty inputs expected, got [0 x 3])"},
    {"ntklab.preprocess.fit", function() pre.fit(X, 1) end, "bad argument #2 to 'fit' (table expected, got number)"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {whiten = true}) end, "bad argument #2 to 'fit' (invalid option 'whiten'; valid options: 'center', 'standardize', 'gamma'"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {gamma = 1.5}) end, "option 'gamma': number in [0, 1] expected, got 1.5"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {gamma = "half"}) end, "option 'gamma': number in [0, 1] expected, got half"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {zca = true, gamma = 0.5}) end, "options 'zca' and 'gamma' conflict"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {pca = 0}) end, "option 'pca': integer in [1, 4] expected, got 0"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {pca = 5}) end, "option 'pca': integer in [1, 4] expected, got 5"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {norm = -1}) end, "option 'norm': positive number expected, got -1"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {rcond = 1}) end, "option 'rcond': number in [0, 1) expected, got 1"},
    {function() pp:transform(ntklab.zeros(2, 5)) end,
      "bad argument #1 to 'transform' (inputs of 4 features expected, got [2 x 5])"},
    {function() pp:transform(ntklab.zeros(4)) end, "bad argument #1 to 'transform' (2-D tensor of inputs expected"},
    {function() pp:transform("X") end, "bad argument #1 to 'transform' (tensor expected, got string)"},
    {function() pp:with(0.5) end, "bad argument #1 to 'with' (table expected, got number)"},
    {function() pp:with{rcond = 0.1} end, "bad argument #1 to 'with' (invalid option 'rcond'; valid options: 'gamma', 'zca', 'pca', 'norm')"},
    {function() pp:with{gamma = -0.1} end, "bad argument #1 to 'with' (option 'gamma': number in [0, 1] expected"},
    {"ntklab.preprocess.rescale", function() pre.rescale(X, 0) end, "bad argument #2 to 'rescale' (positive number expected, got 0)"},
    {"ntklab.preprocess.rescale", function() pre.rescale(5, 1) end, "bad argument #1 to 'rescale' (tensor expected, got number)"},
  }
  -- module functions go through the shared registry; the preprocessor's methods (a Lua
  -- metatable, not a core type) are checked here directly
  local module_rows, method_rows = {}, {}
  for _, case in ipairs(cases) do
    if type(case[1]) == "string" then
      module_rows[#module_rows + 1] = case
    else
      method_rows[#method_rows + 1] = case
    end
  end
  bad_args.cases(it, module_rows)
  for _, case in ipairs(method_rows) do
    it(case[2], function()
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
    end)
  end
end)
