--- ntklab.wide_resnet: the Wide-ResNet of the paper's Figure 1d-e and Appendix J, as a model.
--
--   m = ntklab.wide_resnet{k = 1, b = 1, outputs = 1, sigma = 0.3, sigma_first = 6.0,
--                          input = {C, H, W}, param = "standard", bias = false,
--                          activation = "relu", shortcut = "minimal", seed = n | rng = r}
--   list = ntklab.wide_resnet_layers{...}   the layer list ntklab.model receives (same options)
--
-- Architecture (as neural-tangents' WideResnet example, which the paper uses):
--   a first 3 x 3 convolution to 16 channels (init scale sigma_first);
--   three groups of b blocks, widths 16k, 32k, 64k, strides 1, 2, 2 (the first block of a group
--   strides); a block is relu -> conv 3x3 -> relu -> conv 3x3, added to the shortcut: the block's
--   input itself, or a 1 x 1 convolution (with the block's stride) when the shape changes;
--   so 6b + 1 3 x 3 convolutions, plus one 1 x 1 projection per group whose shape changes;
--   then global average pooling and a dense layer to `outputs` (alias `classes`).
--   shortcut = "neural_tangents" is that example's shortcut exactly: a 3 x 3 convolution (with
--   the block's stride, init scale sigma) on the first block of every group, whatever the
--   shapes (WideResnetGroup's channel_mismatch = True), so 6b + 4 3 x 3 convolutions. At k = 4
--   the two differ only in the projections' kernel size; at k = 1 the first group's shortcut is
--   the identity in "minimal" and a sigma-scaled convolution in "neural_tangents", which makes
--   the net's output at init ~sigma times smaller.
-- Every convolution pads by 1 (the output is ceil(H / stride) for odd kernels as "SAME" gives;
-- PyTorch's padding=1 is the same layer). Standard parameterization with sigma = 0.3 and
-- sigma_first = 6.0, the paper's init: W ~ N(0, sigma^2 / fan_in).
-- No batch normalization: the paper studies the network in the kernel setting, where a layer
-- whose output depends on the other samples of the batch would make f(x) and its NTK depend
-- on the batch. The convolutions have no bias unless bias = true; the dense layer always has
-- one (starting at zero, as neural-tangents' Dense(outputs, 1., 0.)).
local argcheck = require "ntklab.argcheck"
argcheck.register()

local M = {}

local allowed = {k = true, b = true, outputs = true, classes = true, sigma = true,
                 sigma_first = true, input = true, param = true, bias = true, activation = true,
                 shortcut = true, seed = true, rng = true}

local function options(opts, fname)
  argcheck.table(opts, 1, fname)
  argcheck.options(opts, 1, fname, allowed)
  local o = {}
  local function int(key, def, min)
    local v = opts[key]
    if v == nil then return def end
    if math.type(v) ~= "integer" or v < min then
      argcheck.fail(1, fname, ("option '%s': integer >= %d expected, got %s"):format(key, min,
        tostring(v)))
    end
    return v
  end
  local function num(key, def)
    local v = opts[key]
    if v == nil then return def end
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      argcheck.fail(1, fname, ("option '%s': finite number >= 0 expected, got %s"):format(key,
        tostring(v)))
    end
    return v
  end
  if opts.outputs ~= nil and opts.classes ~= nil then
    argcheck.fail(1, fname, "options 'outputs' and 'classes' are the same; give one")
  end
  o.k = int("k", 1, 1)
  o.b = int("b", 1, 1)
  o.outputs = opts.outputs ~= nil and int("outputs", 1, 1) or int("classes", 1, 1)
  o.sigma = num("sigma", 0.3)
  o.sigma_first = num("sigma_first", 6.0)
  o.input = opts.input or {3, 32, 32}
  if type(o.input) ~= "table" or #o.input ~= 3 then
    argcheck.fail(1, fname, "option 'input': {C, H, W} expected, got " .. argcheck.typename(o.input))
  end
  for i = 1, 3 do
    local v = o.input[i]
    if math.type(v) ~= "integer" or v < 1 then
      argcheck.fail(1, fname, ("option 'input': {C, H, W} of integers >= 1 expected, entry %d is %s")
        :format(i, tostring(v)))
    end
  end
  o.param = opts.param or "standard"
  if o.param ~= "standard" and o.param ~= "ntk" then
    argcheck.fail(1, fname, "option 'param': \"standard\" or \"ntk\" expected, got " .. tostring(o.param))
  end
  if opts.bias ~= nil and type(opts.bias) ~= "boolean" then
    argcheck.fail(1, fname, "option 'bias': boolean expected, got " .. argcheck.typename(opts.bias))
  end
  o.bias = opts.bias == true
  o.activation = opts.activation or "relu"
  if type(o.activation) ~= "string" then
    argcheck.fail(1, fname, "option 'activation': name expected, got " .. argcheck.typename(o.activation))
  end
  o.shortcut = opts.shortcut or "minimal"
  if o.shortcut ~= "minimal" and o.shortcut ~= "neural_tangents" then
    argcheck.fail(1, fname, "option 'shortcut': \"minimal\" or \"neural_tangents\" expected, got "
      .. tostring(o.shortcut))
  end
  o.seed, o.rng = opts.seed, opts.rng
  return o
end

--- The layer list of the network (see the header), for ntklab.model.
local function layers(o)
  local list, node = {}, 0
  local function add(entry)
    list[#list + 1] = entry
    node = #list
    return node
  end
  local conv = function(from, out, kernel, stride, sigma)
    return add{"conv", from = from, out = out, kernel = kernel, stride = stride,
               pad = kernel == 3 and 1 or 0, sigma = sigma, bias = o.bias}
  end
  local x = conv(0, 16, 3, 1, o.sigma_first)
  local channels, H, W = 16, o.input[2], o.input[3]
  for group, width in ipairs{16 * o.k, 32 * o.k, 64 * o.k} do
    for block = 1, o.b do
      local stride = (block == 1 and group > 1) and 2 or 1
      local a = add{o.activation, from = x}
      conv(a, width, 3, stride, o.sigma)
      add{o.activation}
      local main = conv(node, width, 3, 1, o.sigma)
      local shortcut = x
      if o.shortcut == "neural_tangents" then
        if block == 1 then shortcut = conv(x, width, 3, stride, o.sigma) end
      elseif stride ~= 1 or channels ~= width then
        shortcut = conv(x, width, 1, stride, o.sigma)
      end
      x = add{"add", from = {main, shortcut}}
      channels = width
    end
  end
  add{"pool", from = x}
  add{"dense", out = o.outputs, sigma = o.sigma, bias = true}
  return list
end

--- wide_resnet.layers(opts): the layer list ntklab.model takes (options as for build).
function M.layers(opts)
  return layers(options(opts, "wide_resnet_layers"))
end

--- wide_resnet.build(opts): the network as an ntklab.model (ntklab.wide_resnet; the header).
function M.build(opts)
  local o = options(opts, "wide_resnet")
  local ntklab_core = require "ntklab.core"
  return ntklab_core.model{input = o.input, layers = layers(o), param = o.param,
                           seed = o.seed, rng = o.rng}
end

return M
