-- 35-images: image datasets for image networks: CHW <-> HWC pixel orders against plain-Lua
-- indexing, whitening of flattened images commuting with the pixel order, CIFAR-10 (small fake
-- batches in the real format) loaded as NHWC images, the Fashion-MNIST fallback named in the
-- source record, and bad arguments.
local ntklab = require "ntklab"
local images = require "ntklab.images"
local files = require "spec.support.files"
local bad_args = require "spec.support.bad_args"

-- Whitening fitted on permuted columns against the permuted whitening: the same SVD of a
-- column-permuted matrix, computed again, agrees to rounding (~1e-13 for these sizes).
local WHITEN_TOL = 1e-9

describe("pixel orders", function()
  it("nhwc moves channel c of pixel (h, w) from (c H + h) W + w to (h W + w) C + c", function()
    local C, H, W = 3, 4, 5
    local X = ntklab.rng(1):normal(2, C * H * W)
    local Y = images.nhwc(X, C, H, W)
    for mu = 1, 2 do
      for c = 0, C - 1 do
        for h = 0, H - 1 do
          for w = 0, W - 1 do
            assert.are.equal(X:get(mu, (c * H + h) * W + w + 1), Y:get(mu, (h * W + w) * C + c + 1))
          end
        end
      end
    end
    assert.are.equal(0, (images.chw(Y, C, H, W) - X):abs():max())
  end)

  it("whitening the HWC rows is the HWC order of whitening the CHW rows", function()
    local C, H, W = 2, 3, 3
    local X = ntklab.rng(2):normal(40, C * H * W) + ntklab.rng(3):normal(40, 1)
    local pre = ntklab.preprocess
    local a = pre.fit(images.nhwc(X, C, H, W), {gamma = 0}):transform(images.nhwc(X, C, H, W))
    local b = images.nhwc(pre.fit(X, {gamma = 0}):transform(X), C, H, W)
    assert.is_true((a - b):abs():max() <= WHITEN_TOL * b:abs():max())
  end)
end)

describe("load", function()
  local dir
  setup(function()
    -- six batches of 20 images in CIFAR-10's binary layout; image r of batch b has red = r,
    -- green = 2 r, blue = 3 r at every pixel, labels 0/1 alternating
    dir = files.scratch_dir()
    local names = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
      "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
    for _, name in ipairs(names) do
      local X, y = ntklab.zeros(20, 3072), ntklab.zeros(20)
      for r = 1, 20 do
        X:narrow(1, r, 1):narrow(2, 1, 1024):fill_(r)
        X:narrow(1, r, 1):narrow(2, 1025, 1024):fill_(2 * r)
        X:narrow(1, r, 1):narrow(2, 2049, 1024):fill_(3 * r)
        y:set(r, r % 2)
      end
      assert(ntklab.io.write_cifar10(dir .. "/" .. name, X, y))
    end
  end)
  teardown(function() files.remove_tree(dir) end)

  it("CIFAR-10 when present: NHWC rows of 32 x 32 x 3, shape and source recorded", function()
    local ds = assert(images.load{dir = dir, train = 10, test = 4, gamma = false})
    assert.are.same({3, 32, 32}, ds.shape)
    assert.are.equal("NHWC", ds.layout)
    assert.are.equal("cifar10", ds.source.dataset)
    assert.is_nil(ds.source.fallback)
    assert.are.same({10, 3072}, ds.X_train:shape())
    for mu = 1, 10 do -- channels fastest: (r, 2r, 3r) / 255 repeated over the pixels
      local r = ds.X_train:get(mu, 1) * 255
      assert.is_true(math.abs(ds.X_train:get(mu, 2) - 2 * r / 255) < 1e-15)
      assert.is_true(math.abs(ds.X_train:get(mu, 3072) - 3 * r / 255) < 1e-15)
    end
  end)

  it("falls back to Fashion-MNIST 0/1 and says why", function()
    local ds, err = images.load{dir = dir .. "/none", train = 20, test = 10}
    if not ds then -- Debian's dataset-fashion-mnist is absent: the message names both
      assert.matches("CIFAR-10 not found", err, 1, true)
      return
    end
    assert.are.equal("fashion_mnist", ds.source.dataset)
    assert.matches("CIFAR-10 not found %(cifar10: missing data_batch_1.bin", ds.source.fallback)
    assert.are.same({1, 28, 28}, ds.shape)
    assert.are.same({20, 784}, ds.X_train:shape())
    -- whitened: the training rows have X^T X / P = I on their span, so trace = rank
    local G = ntklab.matmul(ds.X_train:t(), ds.X_train) / 20
    assert.is_true(math.abs(G:diagonal():sum() - ds.preprocess.rank) < 1e-8)
  end)
end)

describe("bad arguments", function()
  bad_args.cases(it, {
    {"ntklab.images.nhwc", function() images.nhwc(ntklab.zeros(2, 10), 3, 2, 2) end, "bad argument #1 to 'images.nhwc' ([P x 12] images expected (C H W = 3 x 2 x 2), got [2 x 10])"},
    {"ntklab.images.nhwc", function() images.nhwc({}, 3, 2, 2) end, "bad argument #1 to 'images.nhwc' (tensor expected, got table)"},
    {"ntklab.images.chw", function() images.chw(ntklab.zeros(2, 12), 3, 0, 4) end, "bad argument #3 to 'images.chw' (integer >= 1 expected, got 0)"},
    {"ntklab.images.load", function() images.load{dataset = "svhn"} end, "option 'dataset': \"auto\", \"cifar10\", \"fashion_mnist\" or \"mnist\" expected, got svhn"},
    {"ntklab.images.load", function() images.load{gamma = 2} end, "option 'gamma': number in [0, 1] or false expected, got 2"},
    {"ntklab.images.load", function() images.load{whiten = true} end, "bad argument #1 to 'images.load' (invalid option 'whiten'; valid options: 'classes', 'cutoff', 'dataset', 'dir', 'gamma', 'seed', 'test', 'train')"},
    {"ntklab.images.load", function() images.load{cutoff = 1} end, "option 'cutoff': number in [0, 1) expected, got 1"},
  })
end)
