-- 93-scale_regression: experiments/scale_regression.lua end to end at a small P: the trained
-- net's final NTK as tiles, CG regression of the one-hot targets, test predictions by blocks.
-- Its kernel accuracy is checked against an independent computation: the in-memory NTK of the
-- saved net, the direct solve at the same ridge, and K(test, train) alpha in one product.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local experiment = require "ntklab.experiment"
local json = require "ntklab.json"
local files = require "spec.support.files"

local script = files.source_dir .. "/experiments/scale_regression.lua"

local function argmax_accuracy(pred, labels)
  local am, hit = pred:argmax(2), 0
  for i = 1, pred:size(1) do
    if am:get(i, 1) - 1 == labels:get(i, 1) then hit = hit + 1 end
  end
  return hit / pred:size(1)
end

describe("scale_regression", function()
  local base
  setup(function() base = files.scratch_dir() end)
  teardown(function() files.remove_tree(base) end)

  it("gives the accuracy of the direct kernel regression on the trained net's NTK", function()
    if not data.fashion_mnist{classes = {0, 1}, train = 2, test = 2} then
      pending("dataset-fashion-mnist is not installed (scripts/setup installs it as root)")
      return
    end
    local out = base .. "/run"
    local s = assert(experiment.run(script, {P = 256, test = 200, classes = "0,1,2", steps = 20,
                                             dtype = "f8", tol = 1e-10, quiet = true, out = out}))
    assert.is_true(s.cg.converged)
    assert.are.equal(256, s.P)
    assert.are.equal(3, s.C)
    assert.is_true(s.disk_mb > 256 * 256 * 8 / 1e6)
    assert.is_true(s.flop_ratio > 0 and s.peak_rss_mb > 0)
    -- independent: the same data, the saved net, the direct solve
    local ds = assert(data.fashion_mnist{classes = {0, 1, 2}, train = 256, test = 200, seed = 0})
    local net = assert(ntklab.mlp_load(out .. "/net.mlp"))
    local K = ntklab.ntk(net, ds.X_train, {output = "trace"})
    local Y = ntklab.zeros(256, 3):add_(-1 / 3)
    for i = 1, 256 do Y:set(i, math.tointeger(ds.labels_train:get(i, 1)) + 1, 1 - 1 / 3) end
    local fit = assert(ntklab.kernel_regression{K = K, y = Y, ridge = s.cg.ridge})
    local pred = fit:predict(ntklab.ntk(net, ds.X_test, ds.X_train, {output = "trace"}))
    assert.are.equal(argmax_accuracy(pred, ds.labels_test), s.accuracy_kernel)
    assert.are.equal(argmax_accuracy(net:forward(ds.X_test), ds.labels_test), s.accuracy_net)
    assert(json.read_json(out .. "/summary.json"))
    assert.is_false(s.tiles_reused)

    -- resumed: the saved net and its complete tiles are reused, with the same result
    local again = assert(experiment.run(script, {P = 256, test = 200, classes = "0,1,2", dtype = "f8",
      tol = 1e-10, quiet = true, net = out .. "/net.mlp", tiles = out .. "/K", out = base .. "/again"}))
    assert.is_true(again.tiles_reused)
    assert.are.equal(s.accuracy_kernel, again.accuracy_kernel)
    assert.are.equal(s.accuracy_net, again.accuracy_net)
    assert.are.equal(s.cg.iterations, again.cg.iterations)
    -- another net's run refuses those tiles
    local ok, msg = experiment.run(script, {P = 256, test = 200, classes = "0,1,2", steps = 3,
      dtype = "f8", quiet = true, tiles = out .. "/K", out = base .. "/other"})
    assert.is_nil(ok)
    assert.matches("holds the tiles of another net", msg, 1, true)
  end)

  it("raises the ridge of f4 tiles to their rounding floor and refuses a ridge below it", function()
    if not data.fashion_mnist{classes = {0, 1}, train = 2, test = 2} then
      pending("dataset-fashion-mnist is not installed (scripts/setup installs it as root)")
      return
    end
    local cg = require "ntklab.cg"
    local floor = cg.ridge_floor(128, "f4")
    assert.is_true(floor > 1e-6) -- the premise: at P = 128 the f4 floor is above the f8 default
    local s = assert(experiment.run(script, {P = 128, test = 50, classes = "0,1", steps = 2,
      dtype = "f4", tol = 1e-8, quiet = true, out = base .. "/f4"}))
    assert.are.equal(floor, s.cg.ridge_relative)
    assert.are.equal(floor, s.cg.ridge_floor)
    assert.is_true(s.cg.converged)
    local f8 = assert(experiment.run(script, {P = 128, test = 50, classes = "0,1", steps = 2,
      dtype = "f8", tol = 1e-8, quiet = true, out = base .. "/f8"}))
    assert.are.equal(1e-6, f8.cg.ridge_relative)
    local ok, msg = experiment.run(script, {P = 128, test = 50, classes = "0,1", steps = 2,
      dtype = "f4", ridge = 1e-6, quiet = true, out = base .. "/low"})
    assert.is_nil(ok)
    assert.matches("--ridge 1e-06 is below the f4 tiles' rounding floor", msg, 1, true)
    assert.matches("or --dtype f8", msg, 1, true)
  end)
end)
