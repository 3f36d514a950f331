-- 94-tile_matvec: products of a kernel on disk with a block of vectors in C
-- (ntklab.tile_matvec over the mapped tiles of ntklab.tiles, f8 or f4, accumulating in float64):
-- against a plain-Lua product of the tiles' values as the NPY reader returns them, and against
-- the f8 path (the mapped tensor of tiles.open times V by BLAS); rows and the diagonal; 1-D and
-- strided vectors, an output view; files that are not the tiles are failures of the world.
local ntklab = require "ntklab"
local tiles = require "ntklab.tiles"
local bad_args = require "spec.support.bad_args"
local files = require "spec.support.files"

-- The plain-Lua product sums each row's P products in index order, BLAS in blocks: the same
-- products in another order, a few ulps of the row's sum of |K_ij V_jc| apart (P <= 600 terms).
local SUMMATION_REL = 1e-13

local tmpdir
setup(function() tmpdir = files.scratch_dir() end)
teardown(function() if tmpdir then files.remove_tree(tmpdir) end end)

-- P = 600 > NTK_TILE_PANEL_COLS (512) and tiles of 192 rows (block 144 rounded up to the row
-- unit, 64 at P = 600) > NTK_TILE_PANEL_ROWS (64): the
-- widening runs over several panels in both directions, the last ones partial.
local P = 600

local function problem()
  local rng = ntklab.rng(21)
  local X = rng:normal(P, 8)
  local net = ntklab.mlp{widths = {8, 32, 32, 2}, seed = 4}
  return net, X, rng:normal(P, 3)
end

-- The kernel as its tiles hold it: each tile read by the NPY reader (f4 widened there).
local function read_tiles(dir)
  local m = assert(tiles.check(dir))
  local K = ntklab.zeros(m.P, m.P)
  for _, t in ipairs(m.tiles) do
    local tile = assert(ntklab.io.read_npy(dir .. "/" .. t.file))
    K:narrow(1, t.rows[1], t.rows[2] - t.rows[1] + 1):copy_(tile)
  end
  return K
end

-- out[i][c] = sum_j K[i][j] V[j][c] in plain Lua, and the scale sum_j |K[i][j] V[j][c]|.
local function lua_product(K, V)
  local n, m = K:size(1), V:size(2)
  local Kt, Vt = K:totable(), V:totable()
  local out, scale = {}, {}
  for i = 1, n do
    local row, o, s = Kt[i], {}, {}
    for c = 1, m do
      local acc, abs = 0.0, 0.0
      for j = 1, #row do
        local p = row[j] * Vt[j][c]
        acc = acc + p
        abs = abs + math.abs(p)
      end
      o[c], s[c] = acc, abs
    end
    out[i], scale[i] = o, s
  end
  return out, scale
end

local function worst(got, want, scale)
  local w = 0
  for i = 1, #want do
    for c = 1, #want[i] do
      local g = got:dim() == 1 and got:get(i) or got:get(i, c)
      w = math.max(w, math.abs(g - want[i][c]) / scale[i][c])
    end
  end
  return w
end

local function written(dtype)
  local net, X, V = problem()
  local dir = tmpdir .. "/K" .. dtype
  if not tiles.check(dir) then assert(tiles.write(dir, net, X, {dtype = dtype, block = 144})) end
  return dir, V, net, X
end

describe("ntklab.tile_matvec", function()
  for _, dtype in ipairs{"f8", "f4"} do
    it(dtype .. " tiles: K V equals the plain-Lua product of the tiles' values", function()
      local dir, V = written(dtype)
      local op, m = assert(tiles.operator(dir))
      assert.are.equal(4, #m.tiles) -- 192, 192, 192 and 24 rows
      assert.are.equal(dtype, op:dtype())
      local rows, cols = op:size()
      assert.are.same({P, P}, {rows, cols})
      assert.are.equal(P * P * (dtype == "f8" and 8 or 4), op:bytes())
      local K = read_tiles(dir)
      local want, scale = lua_product(K, V)
      assert.is_true(worst(op:apply(V), want, scale) <= SUMMATION_REL)
      -- one column, as a 1-D tensor and as a strided view of V
      local one, one_scale = lua_product(K, V:narrow(2, 2, 1))
      assert.is_true(worst(op:apply(V:select(2, 2)), one, one_scale) <= SUMMATION_REL)
      assert.is_true(worst(op:apply(V:narrow(2, 2, 1)), one, one_scale) <= SUMMATION_REL)
      -- rows and diagonal are the stored values exactly
      for _, i in ipairs{1, 192, 193, 577, 600} do
        assert.are.equal(0, (op:row(i) - K:select(1, i)):abs():max())
      end
      assert.are.equal(0, (op:diagonal() - K:diagonal()):abs():max())
    end)
  end

  -- The fused AVX-512 loops (core/tensor/ntk_thin.c; spec 03-thin crosses their column chunks)
  -- block 4 rows x 6 right-hand sides x 1024 columns: k = 7 and 13 take several groups of
  -- right-hand sides, the last one partial.
  it("fused and BLAS loops: both equal the plain-Lua product, for 1 to 13 columns", function()
    for _, dtype in ipairs{"f8", "f4"} do
      local dir = written(dtype)
      local K = read_tiles(dir)
      local fused = assert(tiles.operator(dir))
      local blas = assert(tiles.operator(dir, {loops = "blas"}))
      assert.are.equal("blas", blas:loops())
      for _, k in ipairs{1, 3, 7, 13} do
        local V = ntklab.rng(k):normal(P, k)
        local want, scale = lua_product(K, V)
        assert.is_true(worst(fused:apply(V), want, scale) <= SUMMATION_REL)
        assert.is_true(worst(blas:apply(V), want, scale) <= SUMMATION_REL)
      end
    end
  end)

  it("fused loops: the same bits on 1 and 2 threads, and on tiles of any row and column count", function()
    local dir, V = written("f4")
    local op = assert(tiles.operator(dir))
    if op:loops() ~= "fused" then
      pending("this CPU has no AVX-512: the fused loops do not run here")
      return
    end
    local threads = ntklab.threads()
    ntklab.threads(1)
    local one = op:apply(V)
    ntklab.threads(2)
    local two = op:apply(V)
    ntklab.threads(threads)
    assert.are.equal(0, (one - two):abs():max())
    -- 7 x 13 tiles: rows not a multiple of 4, columns not of 8 (the scalar tails)
    local rng = ntklab.rng(5)
    local A = rng:normal(14, 13)
    local paths = {tmpdir .. "/odd1.npy", tmpdir .. "/odd2.npy"}
    assert(ntklab.io.write_npy_paged(paths[1], A:narrow(1, 1, 7)))
    assert(ntklab.io.write_npy_paged(paths[2], A:narrow(1, 8, 7)))
    local odd = assert(ntklab.tile_matvec(paths, {7, 7}, 13, {loops = "fused"}))
    for _, k in ipairs{1, 5, 8} do
      local W = rng:normal(13, k)
      local want, scale = lua_product(A, W)
      assert.is_true(worst(odd:apply(W), want, scale) <= SUMMATION_REL)
    end
  end)

  it("f8 tiles: the same product as the mapped tensor of tiles.open by BLAS", function()
    local dir, V = written("f8")
    local op = assert(tiles.operator(dir))
    local K = assert(tiles.open(dir))
    local d = (op:apply(V) - ntklab.matmul(K, V)):abs():max()
    assert.is_true(d <= SUMMATION_REL * (ntklab.matmul(K:abs(), V:abs())):max())
  end)

  it("f4 tiles: K rounded to float32, products within float32 rounding of the f8 ones", function()
    local d8, V = written("f8")
    local d4 = written("f4")
    local a8 = assert(tiles.operator(d8)):apply(V)
    local a4 = assert(tiles.operator(d4)):apply(V)
    local K = assert(tiles.open(d8))
    local bound = 2 ^ -24 * ntklab.matmul(K:abs(), V:abs()):max()
    local d = (a4 - a8):abs():max()
    assert.is_true(d > 0) -- f4 really is rounded
    assert.is_true(d <= bound)
  end)

  it("successive products (alternate sweeps over the tiles) give the same bits", function()
    local dir, V = written("f4")
    local op = assert(tiles.operator(dir))
    local a, b, c = op:apply(V), op:apply(V), op:apply(V)
    for i = 1, P do
      for j = 1, 3 do
        assert.are.equal(string.pack("<d", a:get(i, j)), string.pack("<d", b:get(i, j)))
        assert.are.equal(string.pack("<d", a:get(i, j)), string.pack("<d", c:get(i, j)))
      end
    end
  end)

  it("writes into a given output, a row block view included, and ignores its old contents", function()
    local dir, V = written("f4")
    local op = assert(tiles.operator(dir))
    local want = op:apply(V)
    local big = ntklab.full(P, 5, 0 / 0)
    local view = big:narrow(2, 2, 3)
    assert.are.equal(view, op:apply(V, view))
    assert.are.equal(0, (big:narrow(2, 2, 3) - want):abs():max())
    assert.is_true(big:get(1, 1) ~= big:get(1, 1)) -- untouched NaN column
    local row = ntklab.zeros(P)
    assert.are.equal(row, op:row(7, row))
  end)

  it("foreign, short or missing tiles return nil and a message naming the file", function()
    local d8 = written("f8")
    local m = assert(tiles.check(d8))
    local paths, rows = {}, {}
    for k, t in ipairs(m.tiles) do paths[k], rows[k] = d8 .. "/" .. t.file, t.rows[2] - t.rows[1] + 1 end
    local ok, msg = ntklab.tile_matvec(paths, rows, P, {dtype = "f4"})
    assert.is_nil(ok)
    assert.matches("tile_00001.npy: .* bytes, expected", msg)
    rows[2] = rows[2] - 16
    ok, msg = ntklab.tile_matvec(paths, rows, P)
    assert.is_nil(ok)
    assert.matches("tile_00002.npy", msg, 1, true)
    ok, msg = ntklab.tile_matvec({tmpdir .. "/none.npy"}, {1}, P)
    assert.is_nil(ok)
    assert.matches("none.npy", msg, 1, true)
    ok, msg = tiles.operator(tmpdir .. "/nowhere")
    assert.is_nil(ok)
    assert.is_string(msg)
  end)
end)

describe("bad arguments to ntklab.tile_matvec", function()
  local function op() return assert(tiles.operator((written("f4")))) end
  bad_args.cases(it, {
    {"ntklab.tile_matvec", function() ntklab.tile_matvec("a", {1}, 1) end, "bad argument #1 to 'tile_matvec' (table expected"},
    {"ntklab.tile_matvec", function() ntklab.tile_matvec({}, {}, 1) end, "non-empty list of paths expected"},
    {"ntklab.tile_matvec", function() ntklab.tile_matvec({"a"}, {1, 2}, 1) end, "1 row counts expected (one per path), got 2"},
    {"ntklab.tile_matvec", function() ntklab.tile_matvec({"a"}, {0}, 1) end, "positive integer expected at [1]"},
    {"ntklab.tile_matvec", function() ntklab.tile_matvec({"a"}, {1}, 0) end, "cols >= 1 expected, got 0"},
    {"ntklab.tile_matvec", function() ntklab.tile_matvec({"a"}, {1}, 1, {dtype = "f2"}) end, "option 'dtype'"},
    {"ntklab.tile_matvec", function() ntklab.tile_matvec({"a"}, {1}, 1, {loops = "gpu"}) end, "option 'loops': expected one of 'fused', 'blas', got 'gpu'"},
    {"tile_matvec:apply", function() op():apply(ntklab.zeros(P - 1, 2)) end, "bad argument #1 to 'apply'"},
    {"tile_matvec:apply", function() op():apply(ntklab.zeros(P, 2), ntklab.zeros(P, 3)) end, "output of 600 rows and V's columns expected"},
    {"tile_matvec:apply", function() local V = ntklab.zeros(P, 2); op():apply(V, V) end, "must not share memory"},
    {"tile_matvec:apply", function() op():apply(ntklab.zeros(P, 2), ntklab.zeros(2, P):t()) end, "contiguous rows expected"},
    {"tile_matvec:row", function() op():row(0) end, "row 0 out of range [1, 600]"},
    {"tile_matvec:row", function() op():row(1, ntklab.zeros(3)) end, "[600] output expected"},
    {"tile_matvec:diagonal", function() op():diagonal(1) end, "no arguments expected"},
    {"tile_matvec:size", function() local o = op(); o:release(); o:size() end, "attempt to use a released tile_matvec"},
    {"tile_matvec:dtype", function() local o = op(); o:release(); o:dtype() end, "released tile_matvec"},
    {"tile_matvec:bytes", function() local o = op(); o:release(); o:bytes() end, "released tile_matvec"},
    {"tile_matvec:loops", function() local o = op(); o:release(); o:loops() end, "released tile_matvec"},
    {"tile_matvec:release", function() local o = op(); o.release(3) end, "bad argument #1 to 'release'"},
  })
end)
