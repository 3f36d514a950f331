-- 17-wide_resnet: the paper's Wide-ResNet builder: the architecture (6b + 1 3x3 convolutions,
-- widths 16k, 32k, 64k at strides 1, 2, 2, projections exactly where the shape changes, pooling
-- and a dense output), its parameter count from the formula, the paper's init scales, the loss
-- gradient against finite differences, and bad arguments.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

local model_fd = require "spec.support.model_fd"

-- Central differences (spec/support/model_fd.lua); the issue's 1e-6 relative.
local GRAD_REL_TOL = 1e-6

local function count(list, pred)
  local n = 0
  for _, l in ipairs(list) do if pred(l) then n = n + 1 end end
  return n
end

-- Parameters from the formula: convolutions Cout kh kw Cin, projections Cout Cin, dense C w + C.
local function nparams_formula(k, b, C, cin)
  local n = 16 * 9 * cin
  local prev = 16
  for _, w in ipairs{16 * k, 32 * k, 64 * k} do
    for block = 1, b do
      n = n + w * 9 * prev + w * 9 * w
      if block == 1 and prev ~= w then n = n + w * prev end -- projection
      prev = w
    end
  end
  return n + C * 64 * k + C
end

describe("wide_resnet", function()
  for _, case in ipairs{{k = 1, b = 1}, {k = 2, b = 1}, {k = 1, b = 3}, {k = 2, b = 2}} do
    it(("k = %d, b = %d: 6b + 1 3x3 convolutions, projections, shapes, parameters")
       :format(case.k, case.b), function()
      local opts = {k = case.k, b = case.b, outputs = 2, input = {3, 32, 32}, seed = 1}
      local list = ntklab.wide_resnet_layers(opts)
      assert.are.equal(6 * case.b + 1, count(list, function(l) return l[1] == "conv" and l.kernel == 3 end))
      -- a projection where the width or the resolution changes: groups 2 and 3, and group 1
      -- when 16k ~= 16
      local projections = case.k == 1 and 2 or 3
      assert.are.equal(projections, count(list, function(l) return l[1] == "conv" and l.kernel == 1 end))
      assert.are.equal(3 * case.b, count(list, function(l) return l[1] == "add" end))
      assert.are.equal("pool", list[#list - 1][1])
      assert.are.same({"dense", 2}, {list[#list][1], list[#list].out})
      local m = ntklab.wide_resnet(opts)
      assert.are.equal(nparams_formula(case.k, case.b, 2, 3), m:nparams())
      assert.are.same({16, 32, 32}, {m:node_shape(1)})
      assert.are.same({64 * case.k, 1, 1}, {m:node_shape(#list - 1)})
      -- the output of each group: 32 x 32, 16 x 16, 8 x 8
      local adds = {}
      for i, l in ipairs(list) do if l[1] == "add" then adds[#adds + 1] = i end end
      assert.are.same({16 * case.k, 32, 32}, {m:node_shape(adds[case.b])})
      assert.are.same({32 * case.k, 16, 16}, {m:node_shape(adds[2 * case.b])})
      assert.are.same({64 * case.k, 8, 8}, {m:node_shape(adds[3 * case.b])})
    end)
  end

  it("shortcut = \"neural_tangents\": a 3x3 conv shortcut on every group's first block", function()
    for _, case in ipairs{{k = 1, b = 1}, {k = 2, b = 2}} do
      local opts = {k = case.k, b = case.b, outputs = 2, input = {3, 32, 32}, seed = 1,
                    shortcut = "neural_tangents"}
      local list = ntklab.wide_resnet_layers(opts)
      -- 6b + 1 on the main path, plus one shortcut per group (k = 1's first group included)
      assert.are.equal(6 * case.b + 4, count(list, function(l) return l[1] == "conv" and l.kernel == 3 end))
      assert.are.equal(0, count(list, function(l) return l[1] == "conv" and l.kernel == 1 end))
      -- parameters: the minimal net's, the 1 x 1 projections (Cout Cin each) replaced by 3 x 3
      -- convolutions on every group (Cout 9 Cin)
      local n, prev = nparams_formula(case.k, case.b, 2, 3), 16
      for _, w in ipairs{16 * case.k, 32 * case.k, 64 * case.k} do
        n = n + w * 9 * prev - (prev ~= w and w * prev or 0)
        prev = w
      end
      assert.are.equal(n, ntklab.wide_resnet(opts):nparams())
      -- the first block of each group: a conv shortcut reading the block's input, striding as
      -- the block does; the other blocks: the identity (the previous block's sum)
      local adds = 0
      for _, l in ipairs(list) do
        if l[1] == "add" then
          adds = adds + 1
          local sc, relu = list[l.from[2]], list[l.from[1] - 3]
          if (adds - 1) % case.b == 0 then
            assert.are.same({"conv", 3, relu.from}, {sc[1], sc.kernel, sc.from})
            assert.are.equal(list[l.from[1] - 2].stride, sc.stride)
          else
            assert.are.equal(relu.from, l.from[2])
          end
        end
      end
    end
  end)

  it("Fashion-MNIST images (1 x 28 x 28) go 28 -> 14 -> 7", function()
    local m = ntklab.wide_resnet{input = {1, 28, 28}, seed = 1}
    local list = ntklab.wide_resnet_layers{input = {1, 28, 28}}
    assert.are.same({64, 7, 7}, {m:node_shape(#list - 2)})
    assert.are.equal(784, m:input_dim())
    assert.are.equal(1, m:output_dim())
  end)

  it("the paper's init: SP, sigma_first = 6 on the first conv, sigma = 0.3 elsewhere", function()
    local m = ntklab.wide_resnet{k = 2, b = 1, seed = 4}
    local groups = m:groups()
    local function std(g)
      local w = m:group(g)
      return math.sqrt((w * w):mean())
    end
    -- first conv: 16 x 27 = 432 weights, std 6 / sqrt(27); 5% bounds are ~1.5 standard errors
    -- of the sample std for 432 draws (3.4%), so the check has slack below 3 sigma (10%)
    assert.is_true(math.abs(std(1) / (6 / math.sqrt(27)) - 1) < 0.1)
    -- the 3x3 convs of group 2 (fan_in 9 x 32 and 9 x 64): std 0.3 / sqrt(fan_in)
    local list = ntklab.wide_resnet_layers{k = 2, b = 1}
    for g, info in ipairs(groups) do
      local l = list[info.node]
      if l[1] == "conv" and l.kernel == 3 and g > 1 then
        local fan_in = 9 * select(1, m:node_shape(l.from))
        assert.is_true(math.abs(std(g) / (0.3 / math.sqrt(fan_in)) - 1) < 0.1)
      end
    end
    -- the dense bias starts at zero: the last entry of the last group
    local last = m:group(#groups)
    assert.are.equal(0, last:get(last:size(1)))
  end)

  it("same seed, same bits; a tiny WRN's loss gradient matches finite differences", function()
    local opts = {k = 1, b = 1, input = {1, 4, 4}, outputs = 2, seed = 7, sigma = 1,
                  sigma_first = 1, bias = true}
    local a, b = ntklab.wide_resnet(opts), ntklab.wide_resnet(opts)
    assert.are.equal(0, (a:params() - b:params()):abs():max())
    local X, Y = ntklab.rng(1):normal(3, 16), ntklab.rng(2):normal(3, 2)
    -- every 7th parameter: all groups, in a second
    assert.is_true(model_fd.loss_grad_error(a, X, Y, 7) <= GRAD_REL_TOL)
    opts.shortcut = "neural_tangents"
    assert.is_true(model_fd.loss_grad_error(ntklab.wide_resnet(opts), X, Y, 7) <= GRAD_REL_TOL)
  end)
end)

describe("bad arguments", function()
  bad_args.cases(it, {
    {"ntklab.wide_resnet", function() ntklab.wide_resnet() end, "bad argument #1 to 'wide_resnet' (table expected, got nil)"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{depth = 3, seed = 1} end, "invalid option 'depth'"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{k = 0, seed = 1} end, "option 'k': integer >= 1 expected, got 0"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{b = 1.5, seed = 1} end, "option 'b': integer >= 1 expected, got 1.5"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{outputs = 2, classes = 2, seed = 1} end, "options 'outputs' and 'classes' are the same; give one"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{sigma = -1, seed = 1} end, "option 'sigma': finite number >= 0 expected, got -1"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{input = {3, 32}, seed = 1} end, "option 'input': {C, H, W} expected"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{input = {3, 0, 32}, seed = 1} end, "entry 2 is 0"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{param = "mup", seed = 1} end, "option 'param': \"standard\" or \"ntk\" expected, got mup"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{bias = 1, seed = 1} end, "option 'bias': boolean expected, got number"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{activation = "swish", seed = 1} end, "unknown layer kind 'swish'"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{k = 1} end, "exactly one of the options 'seed' and 'rng' expected"},
    {"ntklab.wide_resnet", function() ntklab.wide_resnet{shortcut = "1x1", seed = 1} end, "option 'shortcut': \"minimal\" or \"neural_tangents\" expected, got 1x1"},
    {"ntklab.wide_resnet_layers", function() ntklab.wide_resnet_layers{b = 0} end, "bad argument #1 to 'wide_resnet_layers' (option 'b': integer >= 1 expected, got 0)"},
  })
end)
