-- 04-tensor_errors: every tensor, tensor-operation and BLAS binding function raises a clear
-- error naming the function, the argument and what was expected versus received, and the
-- process survives. Table-driven: {name, call, expected substring}.
local ntklab = require "ntklab"

local function fixtures()
  local x = ntklab.tensor{{1, 2, 3}, {4, 5, 6}} -- [2 x 3]
  local v = ntklab.tensor{1, 2, 3}              -- [3]
  local r = ntklab.zeros(2, 2)
  r:release()
  return x, v, r
end
local x, v, r = fixtures()

local RELEASED = "attempt to use a released tensor"

-- obj:name(a, b) written as a real method call (not a tail call), so that Lua's message names
-- the method the way a user's code would see it.
local function method(name)
  local call = assert(load("local obj, a, b = ...; local r = obj:" .. name .. "(a, b); return r"))
  return function(obj, a, b) return call(obj, a, b) end
end

-- The method `name` of obj called as a plain function on a (a local of that name, so the
-- message names it).
local function plain(name)
  local call = assert(load("local obj, a = ...; local " .. name .. " = obj." .. name ..
                           "; local r = " .. name .. "(a); return r"))
  return function(obj, a) return call(obj, a) end
end

local cases = {
  -- constructors and element access (lntk_tensor.c)
  {"tensor", function() ntklab.tensor(5) end, "#1 to 'tensor' (table expected, got number)"},
  {"tensor", function() ntklab.tensor{1, "a"} end, "#1 to 'tensor' (number expected at [2], got string)"},
  {"tensor", function() ntklab.tensor{{1, 2}, {3}} end, "row 2 has 1 elements, row 1 has 2"},
  {"tensor", function() ntklab.tensor{{1}, 2} end, "table expected for row 2, got number"},
  {"zeros", function() ntklab.zeros(-1) end, "#1 to 'zeros' (non-negative size expected, got -1)"},
  {"zeros", function() ntklab.zeros(2, "a") end, "#2 to 'zeros' (number expected, got string)"},
  {"get", function() x:get(3, 1) end, "#1 to 'get' (index 3 out of range [1, 2])"},
  {"get", function() x:get(1) end, "#2 to 'get' (number expected, got no value)"},
  {"get", function() r:get(1) end, RELEASED},
  {"set", function() x:set(1, 1, "a") end, "#3 to 'set' (number expected, got string)"},
  {"set", function() x:set(1, 4, 0) end, "#2 to 'set' (index 4 out of range [1, 3])"},
  {"shape", function() x.shape(5) end, "#1 to 'shape' (ntklab.tensor expected, got number)"},
  {"shape", function() r:shape() end, RELEASED},
  {"size", function() x:size(3) end, "#1 to 'size' (dimension 3 out of range [1, 2])"},
  {"numel", function() x.numel({}) end, "#1 to 'numel' (ntklab.tensor expected, got table)"},
  {"dim", function() r:dim() end, RELEASED},
  {"totable", function() r:totable() end, RELEASED},
  {"narrow", function() x:narrow(3, 1, 1) end, "#1 to 'narrow' (dimension 3 out of range [1, 2])"},
  {"narrow", function() x:narrow(1, 0, 1) end, "#2 to 'narrow' (index 0 out of range [1, 3])"},
  {"narrow", function() x:narrow(2, 2, 5) end, "#3 to 'narrow' (count 5 out of range [0, 2])"},
  {"select", function() v:select(1, 1) end, "(2-D tensor expected, got [3])"},
  {"select", function() x:select(1, 3) end, "#2 to 'select' (index 3 out of range [1, 2])"},
  {"select", function() x:select(3, 1) end, "#1 to 'select' (dimension 3 out of range [1, 2])"},
  {"t", function() v:t() end, "(2-D tensor expected, got [3])"},
  {"clone", function() x.clone(1) end, "#1 to 'clone' (ntklab.tensor expected, got number)"},
  {"contiguous", function() r:contiguous() end, RELEASED},
  {"reshape", function() x:reshape(4) end, "#1 to 'reshape' (cannot view [2 x 3] (6 elements) as 4 x 1)"},
  {"reshape", function() x:t():reshape(6) end, "contiguous tensor expected"},
  {"reshape", function() x:reshape(-1) end, "#1 to 'reshape' (non-negative size expected, got -1)"},
  {"is_contiguous", function() x.is_contiguous("a") end, "#1 to 'is_contiguous' (ntklab.tensor expected, got string)"},
  {"release", function() x.release(1) end, "#1 to 'release' (ntklab.tensor expected, got number)"},
  {"__len", function() return #r end, RELEASED},

  -- element-wise (lntk_tensor_ops.c)
  {"__add", function() return x + "a" end, "(tensor or number expected, got string)"},
  {"__add", function() return x + ntklab.zeros(5) end, "shape mismatch: [2 x 3] + [5]"},
  {"__sub", function() return x - {} end, "(tensor or number expected, got table)"},
  {"__sub", function() return 1 - r end, RELEASED},
  {"__mul", function() return x * ntklab.zeros(3, 2) end, "shape mismatch: [2 x 3] * [3 x 2]"},
  {"__div", function() return true / x end, "(tensor or number expected, got boolean)"},
  {"__unm", function() return -r end, RELEASED},
  {"clamp", function() x:clamp(2, 1) end, "#2 to 'clamp' (upper bound 1.0 below lower bound 2.0)"},
  {"clamp", function() x:clamp("a") end, "#1 to 'clamp' (number expected, got string)"},
  {"clamp_", function() r:clamp_(0, 1) end, RELEASED},
  {"fill_", function() x:fill_("a") end, "#1 to 'fill_' (number expected, got string)"},
  {"fill_", function() r:fill_(1) end, RELEASED},
  {"zero_", function() r:zero_() end, RELEASED},
  {"copy_", function() x:copy_(v) end, "#1 to 'copy_' (shape mismatch: source [2 x 3] expected, got [3])"},
  {"copy_", function() x:copy_(1) end, "#1 to 'copy_' (tensor expected, got number)"},
  {"axpy_", function() x:axpy_("a", x) end, "#1 to 'axpy_' (number expected, got string)"},
  {"axpy_", function() x:axpy_(1, v) end, "#2 to 'axpy_' (shape mismatch: x [2 x 3] expected, got [3])"},

  -- reductions
  {"norm", function() x:norm(1) end, "#1 to 'norm' (norm 'fro', 'inf', 2 or math.huge expected, got 1.0)"},
  {"norm", function() x:norm("nuc") end, "got 'nuc'"},
  {"norm", function() x:norm(2, 5) end, "#2 to 'norm' (dimension 5 out of range [1, 2])"},
  {"dot", function() x:dot(x) end, "(1-D tensor expected, got [2 x 3])"},
  {"dot", function() v:dot(ntklab.zeros(4)) end, "#1 to 'dot' (shape mismatch: second vector [3] expected, got [4])"},
  {"dot", function() v:dot(3) end, "#1 to 'dot' (tensor expected, got number)"},
  {"count_nonfinite", function() r:count_nonfinite() end, RELEASED},
  {"all_finite", function() x.all_finite(1) end, "#1 to 'all_finite' (ntklab.tensor expected, got number)"},

  -- constructions
  {"diagonal", function() v:diagonal() end, "(2-D tensor expected, got [3])"},
  {"gather", function() x:gather{3} end, "#1 to 'gather' (index 3 at [1] out of range [1, 2])"},
  {"gather", function() x:gather{0} end, "(index 0 at [1] out of range [1, 2])"},
  {"gather", function() x:gather{1.5} end, "(integer index expected at [1], got number)"},
  {"gather", function() x:gather("a") end, "#1 to 'gather' (table or tensor of indices expected, got string)"},
  {"gather", function() x:gather(ntklab.zeros(1, 1)) end, "(1-D index tensor expected, got [1 x 1])"},
  {"gather", function() x:gather(ntklab.tensor{0.5}) end, "(integer index expected at [1], got 0.5)"},
  {"gather", function() x:gather(r) end, RELEASED},
  {"ones", function() ntklab.ones(-1) end, "#1 to 'ones' (non-negative size expected, got -1)"},
  {"ones", function() ntklab.ones("a") end, "#1 to 'ones' (number expected, got string)"},
  {"full", function() ntklab.full(2) end, "#2 to 'full' (number expected, got no value)"},
  {"full", function() ntklab.full(-1, 2) end, "#1 to 'full' (non-negative size expected, got -1)"},
  {"full", function() ntklab.full(2, 2, "a") end, "#3 to 'full' (number expected, got string)"},
  {"eye", function() ntklab.eye(10000000) end, "exceeds the limit"},
  {"ones", function() ntklab.ones(1 << 41) end, "exceeds the limit"},
  {"full", function() ntklab.full(1 << 20, 1 << 21, 0) end, "exceeds the limit"},
  {"eye", function() ntklab.eye(-2) end, "#1 to 'eye' (non-negative size expected, got -2)"},
  {"eye", function() ntklab.eye(2, "a") end, "#2 to 'eye' (number expected, got string)"},
  {"diag", function() ntklab.diag(1) end, "#1 to 'diag' (tensor expected, got number)"},
  {"diag", function() ntklab.diag(r) end, RELEASED},
  {"cat", function() ntklab.cat(1) end, "#1 to 'cat' (table of tensors expected, got number)"},
  {"cat", function() ntklab.cat{} end, "#1 to 'cat' (at least one tensor expected)"},
  {"cat", function() ntklab.cat{x, 1} end, "#1 to 'cat' (tensor expected at [2], got number)"},
  {"cat", function() ntklab.cat{x, r} end, "#1 to 'cat' (released tensor at [2])"},
  {"cat", function() ntklab.cat{x, v} end, "shape mismatch: tensor 2 is [3], tensor 1 is [2 x 3]"},
  {"cat", function() ntklab.cat({x, ntklab.zeros(2, 2)}, 1) end, "tensor 2 is [2 x 2], tensor 1 is [2 x 3]"},
  {"cat", function() ntklab.cat({x}, 3) end, "#2 to 'cat' (dimension 3 out of range [1, 2])"},
  {"where", function() ntklab.where(1, x, x) end, "#1 to 'where' (tensor expected, got number)"},
  {"where", function() ntklab.where(x, "a", 1) end, "#2 to 'where' (tensor or number expected, got string)"},
  {"where", function() ntklab.where(x, 1, ntklab.zeros(2)) end, "#3 to 'where' (shape mismatch: [2 x 3] where [2]"},

  -- BLAS products (lntk_blas.c)
  {"matmul", function() ntklab.matmul(x, x) end, "#2 to 'matmul' (shape mismatch: [2 x 3] @ [2 x 3], inner sizes 3 ~= 2)"},
  {"matmul", function() ntklab.matmul(v, v) end, "#2 to 'matmul' (shape mismatch: [3] @ [3], a 2-D operand expected (use dot for vectors))"},
  {"matmul", function() ntklab.matmul(x, 1) end, "#2 to 'matmul' (tensor expected, got number)"},
  {"matmul", function() ntklab.matmul(x, x:t(), ntklab.zeros(3, 3)) end, "#3 to 'matmul' (shape mismatch: destination [2 x 2] expected, got [3 x 3])"},
  {"matmul", function() ntklab.matmul(x, v, ntklab.zeros(2, 1)) end, "destination [2] expected, got [2 x 1]"},
  {"matmul", function() x:matmul(r) end, RELEASED},
  {"gram", function() ntklab.gram(v) end, "#1 to 'gram' (2-D tensor expected, got [3])"},
  {"gram", function() ntklab.gram(x, ntklab.zeros(3, 3)) end, "#2 to 'gram' (shape mismatch: destination [2 x 2] expected, got [3 x 3])"},
  {"gram", function() ntklab.gram("a") end, "#1 to 'gram' (tensor expected, got string)"},
  {"outer", function() ntklab.outer(x, v) end, "#1 to 'outer' (1-D tensor expected, got [2 x 3])"},
  {"outer", function() ntklab.outer(v, 1) end, "#2 to 'outer' (tensor expected, got number)"},
  {"gemm", function() ntklab.gemm(ntklab.zeros(2, 2), "a", x, x:t(), 0) end, "#2 to 'gemm' (number expected, got string)"},
  {"gemm", function() ntklab.gemm(ntklab.zeros(3, 3), 1, x, x:t(), 0) end, "#1 to 'gemm' (shape mismatch: destination [2 x 2] expected, got [3 x 3])"},
  {"gemm", function() ntklab.gemm(ntklab.zeros(2, 2), 1, x, x, 0) end, "#4 to 'gemm' (shape mismatch: [2 x 3] @ [2 x 3], inner sizes 3 ~= 2)"},
  {"gemm", function() ntklab.gemm(v, 1, x, x:t(), 0) end, "#1 to 'gemm' (2-D tensor expected, got [3])"},
  {"gemm", function() ntklab.gemm(ntklab.zeros(2, 2), 1, x, x:t()) end, "#5 to 'gemm' (number expected, got no value)"},
  {"gemv", function() ntklab.gemv(ntklab.zeros(2), 1, x, ntklab.zeros(4), 0) end, "#4 to 'gemv' (shape mismatch: [2 x 3] @ [4], inner sizes 3 ~= 4)"},
  {"gemv", function() ntklab.gemv(ntklab.zeros(3), 1, x, v, 0) end, "#1 to 'gemv' (shape mismatch: destination [2] expected, got [3])"},
  {"gemv", function() ntklab.gemv(x, 1, x, v, 0) end, "#1 to 'gemv' (1-D tensor expected, got [2 x 3])"},
  {"ger", function() ntklab.ger(x, 1, v, v) end, "#3 to 'ger' (shape mismatch: [2 x 3] += [3] [3]^T, [2] and [3] expected)"},
  {"ger", function() ntklab.ger(x, "a", v, v) end, "#2 to 'ger' (number expected, got string)"},
  {"ger", function() ntklab.ger(x, 1, ntklab.zeros(2), x) end, "#4 to 'ger' (1-D tensor expected, got [2 x 3])"},
}

-- Every binary operation: a bad type, a shape mismatch and a released tensor, in both forms.
for _, name in ipairs{"add", "sub", "mul", "div", "pow", "minimum", "maximum", "lt", "le", "gt", "ge", "eq", "ne"} do
  local forms = {name}
  if x[name .. "_"] then forms[2] = name .. "_" end
  for _, f in ipairs(forms) do
    local m = method(f)
    cases[#cases + 1] = {f, function() m(x, "a") end, "#1 to '" .. f .. "' (tensor or number expected, got string)"}
    cases[#cases + 1] = {f, function() m(x, ntklab.zeros(3, 2)) end, "#1 to '" .. f .. "' (shape mismatch: [2 x 3]"}
    cases[#cases + 1] = {f, function() m(r, 1) end, RELEASED}
    cases[#cases + 1] = {f, function() m(x, r) end, RELEASED}
  end
end

-- Every map, out of place and in place.
for _, name in ipairs{"exp", "log", "log1p", "expm1", "tanh", "sigmoid", "relu", "abs", "sqrt",
                      "square", "neg", "reciprocal", "sign", "floor", "ceil", "cos", "sin"} do
  for _, f in ipairs{name, name .. "_"} do
    local m, p = method(f), plain(f)
    cases[#cases + 1] = {f, function() p(x, 5) end, "#1 to '" .. f .. "' (ntklab.tensor expected, got number)"}
    cases[#cases + 1] = {f, function() m(r) end, RELEASED}
  end
end

-- Every reduction.
for _, name in ipairs{"sum", "mean", "min", "max", "argmin", "argmax"} do
  local m = method(name)
  cases[#cases + 1] = {name, function() m(x, 3) end, "#1 to '" .. name .. "' (dimension 3 out of range [1, 2])"}
  cases[#cases + 1] = {name, function() m(x, "a") end, "#1 to '" .. name .. "' (number expected, got string)"}
  cases[#cases + 1] = {name, function() m(r) end, RELEASED}
  if name ~= "sum" then
    cases[#cases + 1] = {name, function() m(ntklab.zeros(0)) end, "calling '" .. name .. "' on bad self (" .. name .. " of an empty tensor [0])"}
    cases[#cases + 1] = {name, function() m(ntklab.zeros(0, 2), 1) end, "calling '" .. name .. "' on bad self (" .. name .. " over an empty dimension of [0 x 2])"}
  end
end

describe("bad arguments", function()
  for _, case in ipairs(cases) do
    it(case[1] .. ": " .. case[3], function()
      local ok, err = pcall(case[2])
      assert.is_false(ok, "no error raised")
      err = tostring(err)
      assert(err:find(case[3], 1, true), "expected '" .. case[3] .. "' in: " .. err)
    end)
  end

  it("has rows for every tensor, tensor-operation and BLAS function", function()
    local covered = {}
    for _, case in ipairs(cases) do covered[case[1]] = true end
    local owned = {
      "tensor", "zeros", "ones", "full", "eye", "diag", "cat", "where", "matmul", "gram", "outer", "gemm", "gemv", "ger",
    }
    -- The methods registered by lntk_tensor.c, lntk_tensor_ops.c and lntk_blas.c (other
    -- concepts keep their rows in their own specs).
    local methods = ntklab.metatable("tensor").__index
    local tensor_methods = {"get", "set", "shape", "size", "numel", "dim", "totable", "narrow", "select", "t",
                            "clone", "contiguous", "reshape", "is_contiguous", "release", "clamp", "clamp_",
                            "fill_", "zero_", "copy_", "axpy_", "norm", "dot", "count_nonfinite", "all_finite",
                            "diagonal", "gather", "matmul", "gram", "sum", "mean", "min", "max", "argmin", "argmax"}
    for _, name in ipairs{"add", "sub", "mul", "div", "pow", "minimum", "maximum"} do
      tensor_methods[#tensor_methods + 1] = name
      tensor_methods[#tensor_methods + 1] = name .. "_"
    end
    for _, name in ipairs{"lt", "le", "gt", "ge", "eq", "ne"} do tensor_methods[#tensor_methods + 1] = name end
    for _, name in ipairs{"exp", "log", "log1p", "expm1", "tanh", "sigmoid", "relu", "abs", "sqrt",
                          "square", "neg", "reciprocal", "sign", "floor", "ceil", "cos", "sin"} do
      tensor_methods[#tensor_methods + 1] = name
      tensor_methods[#tensor_methods + 1] = name .. "_"
    end
    for _, name in ipairs(tensor_methods) do assert.is_function(methods[name], name) end
    for _, name in ipairs(owned) do
      assert.is_function(ntklab[name], name)
      assert.is_true(covered[name] == true, "no bad-argument row for ntklab." .. name)
    end
    for _, name in ipairs(tensor_methods) do
      assert.is_true(covered[name] == true, "no bad-argument row for tensor method " .. name)
    end
    for _, mm in ipairs{"__add", "__sub", "__mul", "__div", "__unm", "__len"} do
      assert.is_true(covered[mm] == true, "no bad-argument row for " .. mm)
    end
  end)

  it("leaves the process and the tensors usable after all of them", function()
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, x:totable())
    assert.are.same({1, 2, 3}, v:totable())
    collectgarbage()
    assert.are.equal(21, x:sum())
  end)
end)
