-- 90-kernel_tiles: a kernel on disk as row blocks (ntklab.tiles) and mapped back as one tensor
-- (ntklab.io.map_npy_rows over paged NPY files): tiles equal the in-memory kernel within
-- summation-order rounding (NTK trace and mean, NNGP), a tile computed again equals its first
-- computation bit for bit, f4 tiles within float32 rounding, the mapping leaves the files
-- unchanged, views outlive the mapped parent, and incomplete or foreign tiles are refused.
local ntklab = require "ntklab"
local tiles = require "ntklab.tiles"
local bad_args = require "spec.support.bad_args"
local files = require "spec.support.files"
local nio = ntklab.io

-- float32 keeps 24 significant bits: a relative rounding error of at most 2^-24 per element,
-- measured here against the kernel's largest entry.
local F32_REL = 2 ^ -24
-- The in-memory kernels form symmetric Grams (syrk, or one gemm over all rows), a tile forms a
-- row block with gemm: the same products summed in another order (BLAS blocks and vectorizes by
-- shape; the AVX-512 kernels differ even where SSE3 ones happened to agree), a few ulps apart.
-- The issue's bound.
local SUMMATION_REL = 1e-14

local tmpdir
setup(function() tmpdir = files.scratch_dir() end)
teardown(function() if tmpdir then files.remove_tree(tmpdir) end end)

local function path(name) return tmpdir .. "/" .. name end

local function bits_equal(a, b)
  if a:size(1) ~= b:size(1) or a:size(2) ~= b:size(2) then return false end
  for i = 1, a:size(1) do
    for j = 1, a:size(2) do
      if string.pack("<d", a:get(i, j)) ~= string.pack("<d", b:get(i, j)) then return false end
    end
  end
  return true
end

local function problem(P)
  local rng = ntklab.rng(7)
  local X = rng:normal(P, 6)
  local net = ntklab.mlp{widths = {6, 24, 24, 2}, seed = 3}
  return net, X
end

describe("kernel tiles", function()
  it("plan rounds blocks to the row unit so blocks map side by side", function()
    local unit = nio.paged_row_unit(200)
    assert.are.equal(64, unit) -- 4096 / gcd(200 * 8, 4096)
    local grid = tiles.plan(200, 50)
    assert.are.same({{1, 64}, {65, 128}, {129, 192}, {193, 200}}, grid)
    assert.are.equal(4, nio.paged_row_unit(128))
  end)

  -- K within SUMMATION_REL of R's largest entry
  local function close(K, R) return (K - R):abs():max() <= SUMMATION_REL * R:abs():max() end

  it("a tiled NTK (trace and mean) equals the in-memory kernel up to summation order", function()
    local net, X = problem(200)
    for _, output in ipairs{"trace", "mean"} do
      local dir = path("ntk_" .. output)
      local m = assert(tiles.write(dir, net, X, {block = 64, output = output}))
      assert.are.equal(4, #m.tiles)
      local K = assert(tiles.open(dir))
      assert.is_true(close(K, ntklab.ntk(net, X, {output = output})))
    end
  end)

  it("tiles of the NNGP equal nngp's kernels: bit for bit at the last layer, else within 1e-14", function()
    local net, X = problem(130)
    local G = ntklab.nngp(net, X)
    for _, layer in ipairs{net:depth(), 1} do
      local dir = path("nngp" .. layer)
      assert(tiles.write(dir, net, X, {kernel = "nngp", layer = layer, block = 32}))
      local T = assert(tiles.open(dir))
      if layer == net:depth() then
        assert.is_true(bits_equal(T, G[layer]))
      else
        assert.is_true((T - G[layer]):abs():max() <= SUMMATION_REL * G[layer]:abs():max())
      end
    end
  end)

  it("tiles of the infinite-width kernels equal analytic_ntk and analytic_nngp", function()
    local rng = ntklab.rng(9)
    local X = rng:normal(130, 6)
    local net = ntklab.mlp{widths = {6, 24, 24, 1}, seed = 3}
    for _, kernel in ipairs{"analytic_ntk", "analytic_nngp"} do
      local dir = path(kernel)
      assert(tiles.write(dir, net, X, {kernel = kernel, block = 32}))
      local T, K = assert(tiles.open(dir)), ntklab[kernel](net, X)
      assert.is_true((T - K):abs():max() <= SUMMATION_REL * K:abs():max())
    end
  end)

  it("a row block [i0, i1) x [j0, j1) is the cross kernel of the narrowed views", function()
    local net, X = problem(90)
    local K = ntklab.ntk(net, X, {output = "trace"})
    local B = tiles.block(net, X, 11, 30, X:narrow(1, 41, 20))
    assert.is_true(close(B, K:narrow(1, 11, 20):narrow(2, 41, 20)))
  end)

  it("f4 tiles stream through tiles.each within float32 rounding", function()
    local net, X = problem(150)
    local K = ntklab.ntk(net, X, {output = "trace"})
    local dir = path("f4")
    assert(tiles.write(dir, net, X, {dtype = "f4", block = 64}))
    local scale, seen = K:abs():max(), 0
    for _, first, last, tile in tiles.each(dir) do
      local ref = K:narrow(1, first, last - first + 1)
      assert.is_true((tile - ref):abs():max() <= F32_REL * scale)
      seen = seen + (last - first + 1)
    end
    assert.are.equal(150, seen)
    local ok, msg = tiles.open(dir)
    assert.is_nil(ok)
    assert.matches("f4 tiles do not map", msg)
  end)

  it("the mapping is read-only on disk: writes stay in the process", function()
    local net, X = problem(128)
    local dir = path("ro")
    assert(tiles.write(dir, net, X, {block = 64}))
    local before = assert(nio.read_npy(dir .. "/tile_00001.npy")):get(1, 1)
    local K = assert(tiles.open(dir))
    K:set(1, 1, 12345)
    assert.are.equal(12345, K:get(1, 1))
    assert.are.equal(before, assert(nio.read_npy(dir .. "/tile_00001.npy")):get(1, 1))
  end)

  it("a view outlives its collected mapped parent", function()
    local net, X = problem(128)
    local dir = path("view")
    assert(tiles.write(dir, net, X, {block = 64}))
    local K = assert(tiles.open(dir))
    local expect = ntklab.ntk(net, X, {output = "trace"}):narrow(1, 100, 3)
    local V = K:narrow(1, 100, 3)
    K = nil
    collectgarbage()
    collectgarbage()
    assert.is_true(bits_equal(V, expect))
  end)

  it("a missing or short tile makes the kernel incomplete; check names it", function()
    local net, X = problem(200)
    local dir, whole = path("missing"), path("whole")
    assert(tiles.write(dir, net, X, {block = 64}))
    assert(tiles.write(whole, net, X, {block = 64}))
    assert(tiles.check(dir))
    os.remove(dir .. "/tile_00003.npy")
    local ok, msg = tiles.check(dir)
    assert.is_nil(ok)
    assert.matches("1 of 4 tiles missing or incomplete: tile_00003.npy", msg, 1, true)
    ok, msg = tiles.open(dir)
    assert.is_nil(ok)
    assert(tiles.compute(dir, net, X, 3)) -- the job that failed, run again
    assert.is_true(bits_equal(assert(tiles.open(dir)), assert(tiles.open(whole))))
  end)

  it("a tile from another net or other data is refused", function()
    local net, X = problem(128)
    local dir = path("foreign")
    assert(tiles.create(dir, net, X, {block = 64}))
    local other = ntklab.mlp{widths = {6, 24, 24, 2}, seed = 4}
    assert.has_error(function() tiles.compute(dir, other, X, 1) end)
    local ok, msg = pcall(tiles.compute, dir, net, X * 2, 1)
    assert.is_false(ok)
    assert.matches("data checksum", msg)
  end)

  it("map_npy_rows refuses foreign, short and misaligned blocks, naming the file", function()
    local rng = ntklab.rng(1)
    local A = rng:normal(8, 128)
    assert(nio.write_npy_paged(path("a.npy"), A))
    assert(nio.write_npy(path("plain.npy"), A))
    local ok, msg = nio.map_npy_rows({path("plain.npy")}, {8}, 128)
    assert.is_nil(ok)
    assert.matches("plain.npy", msg, 1, true)
    ok, msg = nio.map_npy_rows({path("a.npy")}, {7}, 128)
    assert.is_nil(ok)
    assert.matches("expected", msg)
    ok, msg = nio.map_npy_rows({path("a.npy"), path("a.npy")}, {8, 8}, 128)
    assert(ok) -- 8 x 128 x 8 bytes is two pages
    assert.is_true(bits_equal(ok:narrow(1, 9, 8), A))
    local B = rng:normal(3, 128)
    assert(nio.write_npy_paged(path("b.npy"), B))
    ok, msg = nio.map_npy_rows({path("b.npy"), path("a.npy")}, {3, 8}, 128)
    assert.is_nil(ok)
    assert.matches("not on a page", msg)
    ok, msg = nio.map_npy_rows({path("nope.npy")}, {8}, 128)
    assert.is_nil(ok)
    assert.matches("nope.npy", msg)
  end)

  it("checksum hashes values, not layout", function()
    local A = ntklab.rng(2):normal(5, 4)
    assert.are.equal(nio.checksum(A), nio.checksum(A:t():t()))
    assert.are.equal(nio.checksum(A:t()), nio.checksum(A:t() + 0))
    assert.are_not.equal(nio.checksum(A), nio.checksum(A * 1.0000001))
  end)
end)

describe("bad arguments", function()
  local t = ntklab.zeros(2, 2)
  bad_args.cases(it, {
    {"ntklab.io.write_npy_paged", function() nio.write_npy_paged(path("x.npy"), ntklab.zeros(3)) end, "bad argument #2 to 'write_npy_paged'"},
    {"ntklab.io.write_npy_paged", function() nio.write_npy_paged(path("x.npy"), t, {dtype = "u1"}) end, "bad argument #3 to 'write_npy_paged' (option 'dtype': expected one of 'f8', 'f4', got 'u1')"},
    {"ntklab.io.write_npy_paged", function() nio.write_npy_paged(path("x.npy"), t, {order = "C"}) end, "invalid option 'order'"},
    {"ntklab.io.paged_row_unit", function() nio.paged_row_unit(0) end, "cols >= 1 expected, got 0"},
    {"ntklab.io.map_npy_rows", function() nio.map_npy_rows({}, {}, 4) end, "non-empty list of paths expected"},
    {"ntklab.io.map_npy_rows", function() nio.map_npy_rows({"a"}, {1, 2}, 4) end, "1 row counts expected"},
    {"ntklab.io.map_npy_rows", function() nio.map_npy_rows({"a"}, {0}, 4) end, "positive integer expected at [1]"},
    {"ntklab.io.map_npy_rows", function() nio.map_npy_rows({1}, {1}, 4) end, "string expected at [1], got number"},
    {"ntklab.io.checksum", function() nio.checksum({}) end, "bad argument #1 to 'checksum'"},
  })
end)

-- ntklab.tiles is a Lua module outside require "ntklab" (spec 99 lists only what that reaches):
-- its rows are checked here in the same {name, call, expected} form.
describe("bad arguments to ntklab.tiles", function()
  local t = ntklab.zeros(2, 2)
  for _, row in ipairs{
    {"tiles.plan", function() tiles.plan(0) end, "bad argument #1 to 'tiles.plan'"},
    {"tiles.create", function() tiles.create(path("c"), {}, t) end, "mlp expected, got table"},
    {"tiles.create", function() tiles.create(path("c"), ntklab.mlp{widths = {2, 3, 1}, seed = 1}, t, {kernel = "rbf"}) end, "option 'kernel': 'ntk', 'nngp', 'analytic_ntk' or 'analytic_nngp' expected, got 'rbf'"},
    {"tiles.create", function() tiles.create(path("c"), ntklab.mlp{widths = {2, 3, 1}, seed = 1}, t, {blocks = 3}) end, "invalid option 'blocks'"},
    {"tiles.block", function() tiles.block(ntklab.mlp{widths = {2, 3, 1}, seed = 1}, t, 1, 3) end, "row 3 out of range [1, 2]"},
    {"tiles.operator", function() tiles.operator(path("c"), "fused") end, "bad argument #2 to 'tiles.operator' (table expected, got string)"},
    {"tiles.operator", function() tiles.operator(path("c"), {loop = "blas"}) end, "invalid option 'loop' (did you mean 'loops'?)"},
  } do
    it(("%s rejects bad input (%s)"):format(row[1], row[3]), function()
      local ok, msg = pcall(row[2])
      assert.is_false(ok)
      assert.matches(row[3], tostring(msg), 1, true)
    end)
  end
end)
