-- 30-io: ntklab.io, the array file loaders and writers: bit-exact round trips (IDX in every
-- element type, NPY, the CIFAR-10 layout, CSV), byte-level layout against the formats' specs,
-- gzip input, a table of malformed files with the message each must produce, replay of the
-- fuzzers' regression inputs, and the bad-argument table of every function.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"
local nio = ntklab.io

local source_dir = os.getenv("NTKLAB_SOURCE_DIR") or "."

local files = require "spec.support.files"
local tmpdir
setup(function() tmpdir = files.scratch_dir() end)
teardown(function() if tmpdir then files.remove_tree(tmpdir) end end)

local function path(name) return tmpdir .. "/" .. name end

local function write_bytes(name, bytes)
  local f = assert(io.open(path(name), "wb"))
  f:write(bytes)
  f:close()
  return path(name)
end

local read_bytes = files.slurp

local function gzip(p)
  assert(os.execute("gzip -n -f -k '" .. p .. "'"))
  return p .. ".gz"
end

-- Bit-level equality of two doubles (NaN equals NaN, -0 differs from +0).
local function same_bits(a, b) return string.pack("<d", a) == string.pack("<d", b) end

local function assert_same_tensor(a, b)
  assert.are.same(a:shape(), b:shape())
  local rows, cols = a:size(1), a:dim() == 2 and a:size(2) or 1
  for i = 1, rows do
    for j = 1, cols do
      local x = a:dim() == 2 and a:get(i, j) or a:get(i)
      local y = b:dim() == 2 and b:get(i, j) or b:get(i)
      if not same_bits(x, y) then
        error(("element [%d, %d]: %.17g ~= %.17g"):format(i, j, x, y), 2)
      end
    end
  end
end

local function ints(rows, cols, lo, hi, seed)
  local rng = ntklab.rng(seed)
  local t = ntklab.zeros(rows, cols)
  for i = 1, rows do for j = 1, cols do t:set(i, j, lo + rng:integer(hi - lo + 1) - 1) end end
  return t
end

describe("IDX", function()
  it("round-trips every element type bit-exactly, plain and gzip", function()
    local special = ntklab.tensor{{1 / 3, -0.0, 0 / 0}, {math.huge, -math.huge, 4.9e-324},
      {1e308, -2.5, 0}}
    local cases = {
      {"ubyte", ints(7, 5, 0, 255, 1)},
      {"byte", ints(7, 5, -128, 127, 2)},
      {"short", ints(7, 5, -32768, 32767, 3)},
      {"int", ints(7, 5, -2147483648, 2147483647, 4)},
      {"float", ntklab.tensor{{0.5, -1.25, 3}, {1e-3 * 0 + 0.125, 65504, -0.0}}},
      {"double", special},
    }
    for _, c in ipairs(cases) do
      local p = path("rt-" .. c[1] .. ".idx")
      assert.is_true(nio.write_idx(p, c[2], {type = c[1]}))
      for _, q in ipairs({p, gzip(p)}) do
        local t, info = nio.read_idx(q)
        assert(t, info)
        assert.are.equal(c[1], info.type)
        assert.are.same(c[2]:shape(), info.dims)
        assert_same_tensor(c[2], t)
      end
    end
  end)

  it("writes the format's bytes: big-endian header and data, declared dims", function()
    local t = ntklab.tensor{{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 255}}
    local p = path("layout.idx")
    assert(nio.write_idx(p, t, {type = "ubyte", dims = {2, 2, 3}}))
    assert.are.equal(string.pack(">BBBBI4I4I4", 0, 0, 8, 3, 2, 2, 3)
      .. string.char(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255), read_bytes(p))
    local back, info = nio.read_idx(p)
    assert.are.same({2, 2, 3}, info.dims)
    assert.are.same({2, 6}, back:shape())
    p = path("layout-f.idx")
    assert(nio.write_idx(p, ntklab.tensor{1.5, -2}, {type = "float"}))
    assert.are.equal(string.pack(">BBBBI4ff", 0, 0, 0x0D, 1, 2, 1.5, -2), read_bytes(p))
  end)

  it("reads chosen rows only, in the order asked, and the header alone for rows = {}", function()
    local full = ints(7, 6, 0, 255, 11)
    for _, name in ipairs{"rows.idx", "rows.idx.gz"} do
      local p = path(name)
      assert(nio.write_idx(p, full, {type = "ubyte", dims = {7, 2, 3}}))
      local rows = {5, 1, 7, 5}
      local X, info = nio.read_idx(p, {rows = rows})
      assert.are.same({7, 2, 3}, info.dims) -- the file's declared shape
      assert.are.equal("ubyte", info.type)
      assert_same_tensor(full:gather(rows), X)
      local head, hinfo = nio.read_idx(p, {rows = {}})
      assert.are.same({0, 6}, head:shape())
      assert.are.same({7, 2, 3}, hinfo.dims)
    end
    -- a 1-D file (labels) picks elements
    local p = path("rows1.idx")
    assert(nio.write_idx(p, ntklab.tensor{4, 5, 6}, {type = "ubyte"}))
    assert.are.same({6, 4}, {(nio.read_idx(p, {rows = {3, 1}})):get(1), (nio.read_idx(p, {rows = {3, 1}})):get(2)})
  end)

  bad_args.cases(it, {
    {"ntklab.io.read_idx", function() nio.read_idx(path("rows.idx"), {rows = {1, 8}}) end,
      "bad argument #2 to 'read_idx' (row 8 is not among the file's 7 rows (1..7))"},
    {"ntklab.io.read_idx", function() nio.read_idx(path("rows.idx"), {rows = {1, 0}}) end,
      "bad argument #2 to 'read_idx' (option 'rows': positive integer expected at [2], got 0)"},
    {"ntklab.io.read_idx", function() nio.read_idx(path("rows.idx"), {rows = {1.5}}) end,
      "(option 'rows': positive integer expected at [1], got 1.5)"},
    {"ntklab.io.read_idx", function() nio.read_idx(path("rows.idx"), {rowz = {1}}) end,
      "(invalid option 'rowz' (did you mean 'rows'?); valid options: 'rows')"},
  })

  it("writes views and transposes by their logical layout", function()
    local base = ints(6, 4, 0, 255, 5)
    local view = base:t():narrow(2, 2, 3) -- [4 x 3], strided
    local p = path("view.idx")
    assert(nio.write_idx(p, view, {type = "ubyte"}))
    assert_same_tensor(view:contiguous(), (nio.read_idx(p)))
  end)

  it("writes atomically: no temporary file is left, a failed write leaves nothing", function()
    local p = path("atomic.idx")
    assert(nio.write_idx(p, ntklab.tensor{1, 2}))
    assert(nio.write_idx(p, ntklab.tensor{3, 4, 5}))
    assert.are.same({3}, select(2, nio.read_idx(p)).dims)
    local listing = io.popen("ls -a '" .. tmpdir .. "'"):read("a")
    assert.is_nil(listing:find("%.tmp%."))
    local ok, err = nio.write_idx(tmpdir .. "/no/such/dir/x.idx", ntklab.tensor{1})
    assert.is_nil(ok)
    assert.matches("no/such/dir/x.idx: cannot create", err, 1, true)
  end)

  it("reads the real Fashion-MNIST .gz files", function()
    local dir = "/usr/share/datasets/fashion-mnist"
    local X, info = nio.read_idx(dir .. "/t10k-images-idx3-ubyte.gz")
    if not X then
      pending("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): " .. info)
      return
    end
    assert.are.same({10000, 28, 28}, info.dims)
    -- pixel sum of the 10,000 test images, computed once with Python's gzip module
    assert.are.equal(573469082, X:sum())
  end)
end)

describe("NPY", function()
  it("round-trips f8 bit-exactly, f4 and u1 exactly for representable values", function()
    local f8 = ntklab.tensor{{1 / 3, -0.0, 0 / 0}, {math.huge, 4.9e-324, -1e-300}}
    local p = path("a.npy")
    assert(nio.write_npy(p, f8))
    local t, info = nio.read_npy(p)
    assert.are.same({shape = {2, 3}, dtype = "f8"}, info)
    assert_same_tensor(f8, t)
    local f4 = ntklab.tensor{0.5, -1.25, 3, 65504}
    assert(nio.write_npy(p, f4, {dtype = "f4"}))
    t, info = nio.read_npy(p)
    assert.are.same({shape = {4}, dtype = "f4"}, info)
    assert_same_tensor(f4, t)
    local u1 = ints(3, 4, 0, 255, 9)
    assert(nio.write_npy(p, u1:t(), {dtype = "u1"}))
    t = nio.read_npy(p)
    assert_same_tensor(u1:t():contiguous(), t)
  end)

  it("writes a version 1.0 header that numpy reads: dict, padding to 64 bytes", function()
    local p = path("h.npy")
    assert(nio.write_npy(p, ntklab.tensor{{1, 2}}))
    local bytes = read_bytes(p)
    assert.are.equal("\x93NUMPY\1\0", bytes:sub(1, 8))
    local hlen = string.unpack("<I2", bytes, 9)
    assert.are.equal(0, (10 + hlen) % 64)
    assert.matches("^{'descr': '<f8', 'fortran_order': False, 'shape': %(1, 2%), } *\n$",
      bytes:sub(11, 10 + hlen))
    assert.are.equal(string.pack("<dd", 1, 2), bytes:sub(11 + hlen))
  end)

  it("reads headers as numpy writes them: version 2, 3-D shapes, scalars, key order", function()
    local function npy(version, header, data)
      local len = version == 1 and string.pack("<I2", #header) or string.pack("<I4", #header)
      return "\x93NUMPY" .. string.char(version, 0) .. len .. header .. data
    end
    local p = write_bytes("v2.npy", npy(2, "{'shape': (2, 1, 2), 'fortran_order': False, "
      .. "'descr': '<f8'}\n", string.pack("<dddd", 1, 2, 3, 4)))
    local t, info = nio.read_npy(p)
    assert(t, info)
    assert.are.same({2, 1, 2}, info.shape)
    assert.are.same({{1, 2}, {3, 4}}, t:totable())
    p = write_bytes("scalar.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}",
      string.pack("<d", 7.5)))
    t, info = nio.read_npy(p)
    assert(t, info)
    assert.are.same({}, info.shape)
    assert.are.same({7.5}, t:totable())
  end)
end)

describe("CIFAR-10 batches", function()
  it("round-trip bit-exactly and follow the record layout: label byte, R, G, B planes", function()
    local images = ints(3, 3072, 0, 255, 11)
    local labels = ntklab.tensor{0, 9, 4}
    local p = path("batch.bin")
    assert(nio.write_cifar10(p, images, labels))
    local bytes = read_bytes(p)
    assert.are.equal(3 * 3073, #bytes)
    for r = 0, 2 do
      assert.are.equal(labels:get(r + 1), bytes:byte(r * 3073 + 1))
      for _, j in ipairs({1, 1024, 1025, 2048, 2049, 3072}) do
        assert.are.equal(images:get(r + 1, j), bytes:byte(r * 3073 + 1 + j))
      end
    end
    for _, q in ipairs({p, gzip(p)}) do
      local X, y = nio.read_cifar10(q)
      assert(X, y)
      assert_same_tensor(images, X)
      assert_same_tensor(labels, y)
    end
  end)
end)

describe("CSV", function()
  it("reads numbers with a header, CRLF, blank lines, spaces and another delimiter", function()
    local p = write_bytes("a.csv", "x,y,z\r\n1, 2.5 ,-3e2\r\n\r\n4,5,6\r\n")
    local t = assert(nio.read_csv(p, {header = true}))
    assert.are.same({{1, 2.5, -300}, {4, 5, 6}}, t:totable())
    p = write_bytes("b.tsv", "1\t2\n3\t4")
    assert.are.same({{1, 2}, {3, 4}}, assert(nio.read_csv(p, {delimiter = "\t"})):totable())
  end)
end)

-- {name, bytes, expected substring of the message}: each must come back as nil, "path: msg".
local function be32(...) return string.pack(">" .. string.rep("I4", select("#", ...)), ...) end
local function npy_file(header, data)
  return "\x93NUMPY\1\0" .. string.pack("<I2", #header) .. header .. (data or "")
end
local good_idx_gz -- a valid gzip IDX stream, cut below
local malformed = {
  -- IDX
  {"read_idx", "empty.idx", "", "truncated file (0 of 4 bytes of the IDX magic)"},
  {"read_idx", "magic.idx", "\1\0\8\1" .. be32(1) .. "x", "bad magic 0x01000801"},
  {"read_idx", "type.idx", "\0\0\7\1" .. be32(1) .. "x", "unknown IDX element type 0x07"},
  {"read_idx", "ndim0.idx", "\0\0\8\0", "bad number of dimensions 0"},
  {"read_idx", "ndim.idx", "\0\0\8\200", "bad number of dimensions 200"},
  {"read_idx", "dims.idx", "\0\0\8\3" .. be32(2), "truncated file (4 of 12 bytes of the IDX dimensions)"},
  {"read_idx", "short.idx", "\0\0\8\1" .. be32(10) .. "abcde", "truncated file (the IDX data needs 10 bytes, 5 left)"},
  {"read_idx", "long.idx", "\0\0\8\1" .. be32(2) .. "abc", "1 trailing bytes after the 2 bytes of the IDX data"},
  {"read_idx", "negative.idx", "\0\0\8\1" .. be32(0xFFFFFFFF), "negative dimension 1: -1"},
  {"read_idx", "huge.idx", "\0\0\8\1" .. be32(0x7FFFFFFF) .. "abcd", "the IDX data needs 2147483647 bytes, 4 left"},
  {"read_idx", "overflow.idx", "\0\0\8\3" .. be32(0x10000, 0x10000, 0x10000),
    "dimensions multiply to more than the limit"},
  {"read_idx", "overflow-d.idx", "\0\0\14\2" .. be32(0x20000000, 0x4), "IDX data of 17179869184 bytes exceeds the limit"},
  {"read_idx", "garbage.gz", "\31\139\8\0\0\0\0\0\0\3" .. string.rep("\255", 40), "gzip"},
  {"read_idx", "cut.gz", function() return good_idx_gz:sub(1, #good_idx_gz // 2) end, "truncated gzip stream"},
  {"read_idx", "claim.gz", function()
    local p = write_bytes("claim.idx", "\0\0\8\1" .. be32(0x7FFFFFFF) .. "abcd")
    return read_bytes(gzip(p))
  end, "truncated gzip stream (the IDX data holds 4 of the 2147483647 bytes declared)"},
  -- NPY
  {"read_npy", "magic.npy", "\x93NUMPX\1\0\0\0", "bad magic"},
  {"read_npy", "version.npy", "\x93NUMPY\9\0\0\0", "unsupported NPY version 9.0"},
  {"read_npy", "hlen.npy", "\x93NUMPY\2\0" .. string.pack("<I4", 0x7FFFFFFF), "header length 2147483647 exceeds"},
  {"read_npy", "fortran.npy", npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (1,)}"),
    "fortran_order arrays are not supported"},
  {"read_npy", "dtype.npy", npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}"),
    "unsupported dtype '<i8'"},
  {"read_npy", "bigendian.npy", npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}"),
    "unsupported dtype '>f8'"},
  {"read_npy", "negative.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}"),
    "negative dimension"},
  {"read_npy", "overflow.npy", npy_file("{'descr': '<f8', 'fortran_order': False, "
    .. "'shape': (4294967296, 4294967296)}"), "shape multiplies to more than the limit"},
  {"read_npy", "bigdim.npy", npy_file("{'descr': '<f8', 'fortran_order': False, "
    .. "'shape': (99999999999999999999,)}"), "dimension exceeds the limit"},
  {"read_npy", "short.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
    string.pack("<d", 1)), "truncated file (the NPY data needs 24 bytes, 8 left)"},
  {"read_npy", "nokey.npy", npy_file("{'descr': '<f8', 'shape': (1,)}", string.pack("<d", 1)),
    "header lacks 'fortran_order'"},
  {"read_npy", "dict.npy", npy_file("{'descr' '<f8'}"), "header: malformed dict"},
  {"read_npy", "binary.npy", npy_file("{\200}"), "header is not ASCII text"},
  {"read_npy", "cut.npy", "\x93NUMPY\1\0" .. string.pack("<I2", 100) .. "{'de", "truncated file (4 of 100 bytes of the NPY header)"},
  -- CIFAR-10
  {"read_cifar10", "empty.bin", "", "0 bytes is not a positive multiple of the 3073-byte"},
  {"read_cifar10", "partial.bin", string.rep("\1", 3073 + 5), "3078 bytes is not a positive multiple"},
  {"read_cifar10", "label.bin", "\3" .. string.rep("\0", 3072) .. "\10" .. string.rep("\0", 3072),
    "record 2 has label 10 (expected 0 to 9)"},
  {"read_cifar10", "garbage.gz", "\31\139" .. string.rep("\0", 30), "gzip"},
  -- CSV
  {"read_csv", "word.csv", "1,2\n3,abc\n", "line 2, field 2: not a number: 'abc'"},
  {"read_csv", "ragged.csv", "1,2\n3\n", "line 2 has 1 fields, the first row has 2"},
  {"read_csv", "empty.csv", "\n\n", "no data rows"},
  {"read_csv", "nul.csv", "1,2\0\n", "binary data"},
  {"read_csv", "hex.csv", "0x10\n", "not a number: '0x10'"},
  {"read_csv", "nan.csv", "nan\n", "not a number: 'nan'"},
  {"read_csv", "inf.csv", "1,-1e999\n", "line 1, field 2: not a number: '-1e999'"},
  {"read_csv", "field.csv", "1,,2\n", "line 1, field 2: not a number: ''"},
}

describe("malformed files", function()
  setup(function()
    local p = path("good.idx")
    assert(nio.write_idx(p, ints(50, 40, 0, 255, 13), {type = "ubyte"}))
    good_idx_gz = read_bytes(gzip(p))
  end)

  for _, case in ipairs(malformed) do
    local fname, name, bytes, expected = case[1], case[2], case[3], case[4]
    it(fname .. " rejects " .. name, function()
      local p = write_bytes(fname .. "-" .. name, type(bytes) == "function" and bytes() or bytes)
      local result, err = nio[fname](p)
      assert.is_nil(result)
      assert.is_string(err)
      assert.are.equal(p .. ": ", err:sub(1, #p + 2))
      assert.matches(expected, err, 1, true)
    end)
  end

  it("a missing file and a directory give nil, message", function()
    for _, fname in ipairs({"read_idx", "read_npy", "read_cifar10", "read_csv"}) do
      local r, err = nio[fname](tmpdir .. "/absent")
      assert.is_nil(r)
      assert.matches("absent: cannot open: No such file", err, 1, true)
      r, err = nio[fname](tmpdir)
      assert.is_nil(r)
      assert.matches(": is a directory", err, 1, true)
    end
  end)
end)

describe("fuzzer regression inputs", function()
  it("load or fail cleanly through every reader", function()
    local dirs = {source_dir .. "/core/fuzz/regressions", source_dir .. "/core/fuzz/seeds/idx",
      source_dir .. "/core/fuzz/seeds/npy", source_dir .. "/core/fuzz/seeds/cifar",
      source_dir .. "/core/fuzz/seeds/csv"}
    local count = 0
    for _, dir in ipairs(dirs) do
      for file in io.popen("ls '" .. dir .. "' 2>/dev/null"):lines() do
        for _, fname in ipairs({"read_idx", "read_npy", "read_cifar10", "read_csv"}) do
          local ok, r, err = pcall(nio[fname], dir .. "/" .. file)
          assert.is_true(ok, tostring(r))
          assert.is_true(r ~= nil or type(err) == "string")
        end
        count = count + 1
      end
    end
    assert.is_true(count >= 10) -- the seeds at least
  end)
end)

describe("bad arguments", function()
  local t = ntklab.tensor{{1, 2}, {3, 4}}
  local p = function() return path("bad") end
  local cases = {
    {"ntklab.io.read_idx", function() nio.read_idx() end, "bad argument #1 to 'read_idx' (string expected, got no value)"},
    {"ntklab.io.read_idx", function() nio.read_idx({}) end, "bad argument #1 to 'read_idx' (string expected, got table)"},
    {"ntklab.io.write_idx", function() nio.write_idx(nil, t) end, "bad argument #1 to 'write_idx' (string expected"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), "t") end, "bad argument #2 to 'write_idx'"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, 5) end, "bad argument #3 to 'write_idx' (table expected, got number)"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {kind = "x"}) end, "bad argument #3 to 'write_idx' (invalid option 'kind')"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {type = "long"}) end,
      "option 'type': expected one of 'ubyte', 'byte', 'short', 'int', 'float', 'double', got 'long'"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {type = 8}) end, "option 'type': string expected, got number"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {dims = {3}}) end,
      "bad argument #3 to 'write_idx' (dimensions do not multiply to the 4 elements)"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {dims = {-1}}) end, "option 'dims': non-negative integer expected at [1]"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {dims = {}}) end, "option 'dims': 1 to 16 dimensions expected, got 0"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), t, {dims = 4}) end, "option 'dims': table expected, got number"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), ntklab.tensor{0.5}, {type = "ubyte"}) end,
      "bad argument #2 to 'write_idx' (value 0.5 at [1] is not a ubyte)"},
    {"ntklab.io.write_idx", function() nio.write_idx(p(), ntklab.tensor{{1, 300}}, {type = "byte"}) end,
      "bad argument #2 to 'write_idx' (value 300 at [1, 2] is not a byte)"},
    {"ntklab.io.read_cifar10", function() nio.read_cifar10() end, "bad argument #1 to 'read_cifar10' (string expected"},
    {"ntklab.io.write_cifar10", function() nio.write_cifar10(p(), t, ntklab.tensor{1, 2}) end,
      "bad argument #2 to 'write_cifar10' ([N x 3072] tensor of images expected)"},
    {"ntklab.io.write_cifar10", function() nio.write_cifar10(p(), ntklab.zeros(2, 3072), ntklab.tensor{1}) end,
      "bad argument #3 to 'write_cifar10' ([2] tensor of labels expected)"},
    {"ntklab.io.write_cifar10", function() nio.write_cifar10(p(), ntklab.zeros(1, 3072), ntklab.tensor{10}) end,
      "bad argument #3 to 'write_cifar10' (label 10 at [1] is not an integer 0 to 9)"},
    {"ntklab.io.write_cifar10", function() nio.write_cifar10(p(), ntklab.full(1, 3072, 256), ntklab.tensor{1}) end,
      "bad argument #2 to 'write_cifar10' (pixel 256 at [1, 1] is not an integer 0 to 255)"},
    {"ntklab.io.write_cifar10", function() nio.write_cifar10(p(), ntklab.zeros(0, 3072), ntklab.zeros(0)) end,
      "bad argument #2 to 'write_cifar10' (at least one image expected)"},
    {"ntklab.io.write_cifar10", function() nio.write_cifar10(p(), t) end, "bad argument #3 to 'write_cifar10'"},
    {"ntklab.io.read_npy", function() nio.read_npy(true) end, "bad argument #1 to 'read_npy' (string expected, got boolean)"},
    {"ntklab.io.write_npy", function() nio.write_npy(p(), nil) end, "bad argument #2 to 'write_npy'"},
    {"ntklab.io.write_npy", function() nio.write_npy(p(), t, {dtype = "i8"}) end,
      "bad argument #3 to 'write_npy' (option 'dtype': expected one of 'f8', 'f4', 'u1', got 'i8')"},
    {"ntklab.io.write_npy", function() nio.write_npy(p(), t, {order = "F"}) end, "invalid option 'order'"},
    {"ntklab.io.write_npy", function() nio.write_npy(p(), ntklab.tensor{-1}, {dtype = "u1"}) end,
      "bad argument #2 to 'write_npy' (value -1 at element 1 is not a uint8)"},
    {"ntklab.io.read_csv", function() nio.read_csv() end, "bad argument #1 to 'read_csv' (string expected"},
    {"ntklab.io.read_csv", function() nio.read_csv(p(), "x") end, "bad argument #2 to 'read_csv' (table expected, got string)"},
    {"ntklab.io.read_csv", function() nio.read_csv(p(), {delimiter = ",;"}) end, "option 'delimiter': one-character string expected"},
    {"ntklab.io.read_csv", function() nio.read_csv(p(), {delimiter = "5"}) end,
      "bad argument #2 to 'read_csv' (delimiter '5' cannot separate numbers)"},
    {"ntklab.io.read_csv", function() nio.read_csv(p(), {header = 1}) end, "option 'header': boolean expected, got number"},
    {"ntklab.io.read_csv", function() nio.read_csv(p(), {sep = ","}) end, "invalid option 'sep'"},
  }
  bad_args.cases(it, cases)

  it("a released tensor is refused", function()
    local r = ntklab.tensor{1}
    r:release()
    local ok, err = pcall(nio.write_idx, p(), r)
    assert.is_false(ok)
    assert.matches("attempt to use a released tensor", err, 1, true)
  end)
end)
