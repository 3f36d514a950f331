-- 91-kernel_cg: kernel regression by preconditioned conjugate gradients (ntklab.cg) against the
-- direct Cholesky solve (ntklab.kernel_regression): in-memory, mapped tiles and f4 tiles, one and
-- several right-hand sides, ridge > 0 and ridgeless; the preconditioner must cut iterations.
local ntklab = require "ntklab"
local cg = require "ntklab.cg"
local tiles = require "ntklab.tiles"
local files = require "spec.support.files"

-- CG stops at relative residual TOL; the solution error is at most cond(K + ridge I) times
-- that. These kernels have cond ~ 1e3 (width 128 > P / 2 keeps the empirical NTK well
-- conditioned), so 1e-12 residual gives ~1e-9 in alpha; SOLUTION_REL leaves a decade of room.
local TOL = 1e-12
local SOLUTION_REL = 1e-8

local tmpdir
setup(function() tmpdir = files.scratch_dir() end)
teardown(function() if tmpdir then files.remove_tree(tmpdir) end end)

local function problem(P, m)
  local rng = ntklab.rng(11)
  local X = rng:normal(P, 10)
  local net = ntklab.mlp{widths = {10, 128, 128, 1}, seed = 5}
  return net, X, ntklab.ntk(net, X, {output = "trace"}), rng:normal(P, m)
end

local function rel(a, b) return (a - b):norm() / b:norm() end

describe("ntklab.cg", function()
  it("matches the direct solve for ridge 1e-2, 1e-6 and 0, with and without preconditioner", function()
    local _, _, K, Y = problem(256, 3)
    for _, ridge in ipairs{1e-2, 1e-6, 0} do
      local direct = assert(ntklab.kernel_regression{K = K, y = Y, ridge = ridge})
      local plain = assert(cg.solve{K = K, y = Y, ridge = ridge, precond = "none", tol = TOL})
      local pre = assert(cg.solve{K = K, y = Y, ridge = ridge, rank = 64, tol = TOL, block = 100})
      assert.is_true(rel(plain.alpha, direct.alpha) <= SOLUTION_REL)
      assert.is_true(rel(pre.alpha, direct.alpha) <= SOLUTION_REL)
      assert.is_true(pre.iterations < plain.iterations)
      assert.are.equal(64, pre.rank)
      assert.is_true(pre.residual <= TOL and pre.converged)
    end
  end)

  it("a full-rank pivoted Cholesky (two blocks of 64 pivots) is the system itself: one or two iterations", function()
    -- P = 100 < width: K is positive definite, so all 100 pivots stay above the floor, L L^T = K
    -- and M = K + ridge I; CG then needs one step, a second at most for rounding
    local _, _, K, Y = problem(100, 2)
    local fit = assert(cg.solve{K = K, y = Y, ridge = 1e-3, rank = 100, tol = 1e-10})
    assert.are.equal(100, fit.rank)
    assert.is_true(fit.iterations <= 2)
    local direct = assert(ntklab.kernel_regression{K = K, y = Y, ridge = 1e-3})
    assert.is_true(rel(fit.alpha, direct.alpha) <= SOLUTION_REL)
  end)

  it("a 1-D target gives a 1-D alpha equal to that column's solve", function()
    local _, _, K, Y = problem(200, 2)
    local y = Y:select(2, 2) + 0
    local one = assert(cg.solve{K = K, y = y, ridge = 1e-3, tol = TOL})
    assert.are.equal(1, one.alpha:dim())
    local direct = assert(ntklab.kernel_regression{K = K, y = y, ridge = 1e-3})
    assert.is_true(rel(one.alpha, direct.alpha) <= SOLUTION_REL)
  end)

  it("streams a tiles directory: f8 and f4 tiles mapped, products in C (ntklab.tile_matvec)", function()
    local net, X, K, Y = problem(256, 2)
    local d8, d4 = tmpdir .. "/k8", tmpdir .. "/k4"
    assert(tiles.write(d8, net, X, {block = 64}))
    assert(tiles.write(d4, net, X, {block = 64, dtype = "f4"}))
    local direct = assert(ntklab.kernel_regression{K = K, y = Y, ridge = 1e-4})
    local f8 = assert(cg.solve{K = d8, y = Y, ridge = 1e-4, tol = TOL, rank = 32})
    assert.is_true(rel(f8.alpha, direct.alpha) <= SOLUTION_REL)
    -- f4 tiles are K rounded to float32: compare with the direct solve of that kernel
    local K4 = ntklab.zeros(256, 256)
    for _, first, last, tile in tiles.each(d4) do K4:narrow(1, first, last - first + 1):copy_(tile) end
    local direct4 = assert(ntklab.kernel_regression{K = K4, y = Y, ridge = 1e-4})
    local f4 = assert(cg.solve{K = d4, y = Y, ridge = 1e-4, tol = TOL, rank = 32})
    assert.is_true(rel(f4.alpha, direct4.alpha) <= SOLUTION_REL)
    -- the operator itself is a kernel too, and gives the directory's iterates bit for bit
    local op = assert(tiles.operator(d4))
    local again = assert(cg.solve{K = op, y = Y, ridge = 1e-4, tol = TOL, rank = 32})
    assert.are.equal(0, (again.alpha - f4.alpha):abs():max())
    assert.are.equal(f4.iterations, again.iterations)
  end)

  it("regress picks direct for a small in-memory kernel and cg when told or over memory", function()
    local _, _, K, Y = problem(128, 1)
    assert.are.equal("direct", assert(cg.regress{K = K, y = Y, ridge = 1e-3}).method)
    assert.are.equal("cg", assert(cg.regress{K = K, y = Y, ridge = 1e-3, memory = 1000}).method)
    local a = assert(cg.regress{K = K, y = Y, ridge = 1e-3, method = "cg", tol = TOL}).alpha
    local b = assert(cg.regress{K = K, y = Y, ridge = 1e-3, method = "direct"}).alpha
    assert.is_true(rel(a, b) <= SOLUTION_REL)
  end)

  it("progress is called after every iteration with the largest relative residual", function()
    local _, _, K, Y = problem(128, 2)
    local seen = {}
    local fit = assert(cg.solve{K = K, y = Y, ridge = 1e-3, tol = 1e-8,
                                progress = function(i, r) seen[#seen + 1] = {i, r} end})
    assert.are.equal(fit.iterations, #seen)
    for k, v in ipairs(seen) do assert.are.equal(k, v[1]) end
    assert.are.equal(fit.residual, seen[#seen][2])
  end)

  it("an unreached tolerance returns nil, msg and the partial result", function()
    local _, _, K, Y = problem(128, 1)
    local ok, msg, partial = cg.solve{K = K, y = Y, precond = "none", maxiter = 2, tol = 1e-14}
    assert.is_nil(ok)
    assert.matches("after 2 iterations", msg, 1, true)
    assert.are.equal(2, partial.iterations)
  end)

  -- f4 tiles of a rank-deficient kernel (P = 256 points, 97 parameters): K has ~159 zero
  -- eigenvalues, and float32 rounding turns them into +-||K4 - K||, so K4 is indefinite.
  local function rank_deficient(dtype)
    local rng = ntklab.rng(11)
    local X = rng:normal(256, 10)
    local net = ntklab.mlp{widths = {10, 8, 1}, seed = 5}
    local dir = tmpdir .. "/deficient_" .. dtype
    if not tiles.check(dir) then assert(tiles.write(dir, net, X, {block = 64, dtype = dtype})) end
    return dir, ntklab.ntk(net, X, {output = "trace"}), rng:normal(256, 2)
  end
  local function dense(dir)
    local A = ntklab.zeros(256, 256)
    for _, first, last, tile in tiles.each(dir) do A:narrow(1, first, last - first + 1):copy_(tile) end
    return A
  end
  local function mean_diag(K) return K:diagonal():sum() / K:size(1) end

  it("stops at negative curvature and names the f4 rounding when the ridge is below its floor", function()
    local dir, K, Y = rank_deficient("f4")
    local w = ntklab.linalg.eigh(dense(dir))
    assert.is_true(w:min() < 0) -- the premise: the f4 operator is indefinite
    local ok, msg, partial = cg.solve{K = dir, y = Y, ridge = 1e-8 * mean_diag(K), tol = 1e-10,
                                      maxiter = 3000, precond = "none"}
    assert.is_nil(ok)
    assert.matches("K + ridge I is not positive definite", msg, 1, true)
    assert.matches("f4 tiles round K by about", msg, 1, true)
    assert.matches("or f8 tiles", msg, 1, true)
    assert.are.equal("operator", partial.breakdown.what)
    assert.is_true(partial.breakdown.value <= 0)
    assert.is_true(partial.iterations < 3000) -- it stopped there, not at maxiter
    assert.are.equal(partial.breakdown.iteration, partial.iterations)
  end)

  it("an indefinite in-memory kernel breaks down with the generic message", function()
    local _, _, K, Y = problem(128, 1)
    local w = ntklab.linalg.eigh(K)
    local A = K + 0
    A:diagonal():add_(-(w:get(1) + w:get(2)) / 2) -- one eigenvalue below zero, the rest above
    local ok, msg, partial = cg.solve{K = A, y = Y, precond = "none", tol = 1e-12, maxiter = 1000}
    assert.is_nil(ok)
    assert.matches("not positive definite", msg, 1, true)
    assert.matches("K is not PSD at that scale", msg, 1, true)
    assert.are.equal("operator", partial.breakdown.what)
    assert.is_nil(partial.rounding)
  end)

  -- cg.rounding estimates ||K_tiles - K||_2 / mean diag K as u sqrt(P); the errors are not
  -- exactly independent nor all of size |K_ij| <= mean diag, so the estimate is an order of
  -- magnitude: ROUNDING_FACTOR either way.
  local ROUNDING_FACTOR = 4
  it("cg.rounding is the size of the f4 tiles' rounding, and at cg.ridge_floor the f4 and f8 solves agree", function()
    local d4, K, Y = rank_deficient("f4")
    local d8 = rank_deficient("f8")
    local md = mean_diag(K)
    local w = ntklab.linalg.eigh(dense(d4) - K)
    local measured = math.max(-w:min(), w:max()) / md
    local est = cg.rounding(256, "f4")
    assert.is_true(measured <= ROUNDING_FACTOR * est and measured >= est / ROUNDING_FACTOR)
    assert.are.equal(2 ^ -53 * 16, cg.rounding(256, "f8"))
    assert.are.equal(10 * est, cg.ridge_floor(256, "f4"))
    local ridge = cg.ridge_floor(256, "f4") * md
    local f4 = assert(cg.solve{K = d4, y = Y, ridge = ridge, tol = 1e-10, maxiter = 3000, precond = "none"})
    local f8 = assert(cg.solve{K = d8, y = Y, ridge = ridge, tol = 1e-10, maxiter = 3000, precond = "none"})
    -- the operator takes mean diag from its f4 diagonal: equal to K's up to float32 rounding
    assert.is_true(math.abs(f4.rounding / (est * md) - 1) <= 2 ^ -23)
    -- at the floor the rounding moves the solution by at most ~||K4 - K|| / ridge = 1/10
    assert.is_true(rel(f4.alpha, f8.alpha) <= 0.1)
  end)

  it("a zero column of y is frozen at alpha = 0 while the others converge", function()
    local _, _, K, Y = problem(128, 2)
    Y:select(2, 1):fill_(0)
    local fit = assert(cg.solve{K = K, y = Y, ridge = 1e-3, tol = TOL})
    assert.are.equal(0, fit.alpha:select(2, 1):abs():max())
    local direct = assert(ntklab.kernel_regression{K = K, y = Y:select(2, 2) + 0, ridge = 1e-3})
    assert.is_true(rel(fit.alpha:select(2, 2) + 0, direct.alpha) <= SOLUTION_REL)
  end)

  it("an incomplete tiles directory is a failure of the world", function()
    local net, X, _, Y = problem(128, 1)
    local dir = tmpdir .. "/incomplete"
    assert(tiles.create(dir, net, X, {block = 64}))
    local ok, msg = cg.solve{K = dir, y = Y}
    assert.is_nil(ok)
    assert.matches("tiles missing", msg)
  end)
end)

describe("bad arguments to ntklab.cg", function()
  local K, y = ntklab.eye(4), ntklab.ones(4)
  for _, row in ipairs{
    {"cg.solve", function() cg.solve(3) end, "bad argument #1 to 'cg.solve' (table expected"},
    {"cg.solve", function() cg.solve{K = ntklab.zeros(3, 4), y = y} end, "square tensor or tiles directory expected"},
    {"cg.solve", function()
      local dir = tmpdir .. "/rect"
      local m = tiles.check(dir) or assert(tiles.write(dir, ntklab.mlp{widths = {2, 3, 1}, seed = 1}, ntklab.rng(1):normal(64, 2), {block = 32}))
      local t = m.tiles[1]
      cg.solve{K = ntklab.tile_matvec({dir .. "/" .. t.file}, {t.rows[2] - t.rows[1] + 1}, 64), y = y}
    end, "square kernel expected, got a [32 x 64] tile_matvec"},
    {"cg.solve", function() cg.solve{K = K, y = ntklab.ones(5)} end, "option 'y': [4] or [4 x m] tensor expected"},
    {"cg.solve", function() cg.solve{K = K, y = ntklab.ones(4):fill_(0 / 0)} end, "option 'y': finite values expected, got a NaN"},
    {"cg.solve", function() cg.solve{K = K, y = y, ridge = -1} end, "option 'ridge': finite number >= 0 expected"},
    {"cg.solve", function() cg.solve{K = K, y = y, tol = 0} end, "option 'tol': number in (0, 1) expected"},
    {"cg.solve", function() cg.solve{K = K, y = y, precond = "jacobi"} end, "'pivchol' or 'none' expected, got 'jacobi'"},
    {"cg.solve", function() cg.solve{K = K, y = y, rank = 0} end, "option 'rank': integer >= 1 expected, got 0"},
    {"cg.solve", function() cg.solve{K = K, y = y, ridg = 1} end, "invalid option 'ridg'"},
    {"cg.solve", function() cg.solve{K = K, y = y, progress = true} end, "option 'progress': function expected, got boolean"},
    {"cg.regress", function() cg.regress{K = K, y = y, method = "lu"} end, "'auto', 'direct' or 'cg' expected, got 'lu'"},
    {"cg.rounding", function() cg.rounding(0, "f4") end, "bad argument #1 to 'cg.rounding'"},
    {"cg.rounding", function() cg.rounding(10, "f2") end, "'f8' or 'f4' expected, got 'f2'"},
    {"cg.ridge_floor", function() cg.ridge_floor(10, "f2") end, "bad argument #2 to 'cg.ridge_floor' ('f8' or 'f4' expected, got 'f2'"},
  } do
    it(("%s rejects bad input (%s)"):format(row[1], row[3]), function()
      local ok, msg = pcall(row[2])
      assert.is_false(ok)
      assert.matches(row[3], tostring(msg), 1, true)
    end)
  end
end)
