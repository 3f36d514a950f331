-- 04-tensor_errors: every tensor-operation, BLAS and clock binding function raises a clear
-- error naming the function, the argument and what was expected versus received, and the
-- process survives. Table-driven rows {name, call, expected substring} in the shared registry
-- (the functions of lntk_tensor.c have theirs in spec 08).
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

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
  -- element-wise (lntk_tensor_ops.c)
  {"tensor.__add", function() return x + "a" end, "(tensor or number expected, got string)"},
  {"tensor.__add", function() return x + ntklab.zeros(5) end, "shape mismatch: [2 x 3] + [5]"},
  {"tensor.__sub", function() return x - {} end, "(tensor or number expected, got table)"},
  {"tensor.__sub", function() return 1 - r end, RELEASED},
  {"tensor.__mul", function() return x * ntklab.zeros(3, 2) end, "shape mismatch: [2 x 3] * [3 x 2]"},
  {"tensor.__div", function() return true / x end, "(tensor or number expected, got boolean)"},
  {"tensor.__pow", function() return x ^ ntklab.zeros(2) end, "shape mismatch: [2 x 3] ^ [2]"},
  {"tensor.__pow", function() return "a" ^ x end, "(tensor or number expected, got string)"},
  {"tensor:clamp", function() x:clamp(2, 1) end, "#2 to 'clamp' (upper bound 1.0 below lower bound 2.0)"},
  {"tensor:clamp", function() x:clamp("a") end, "#1 to 'clamp' (number expected, got string)"},
  {"tensor:clamp_", function() r:clamp_(0, 1) end, RELEASED},
  {"tensor:fill_", function() x:fill_("a") end, "#1 to 'fill_' (number expected, got string)"},
  {"tensor:fill_", function() r:fill_(1) end, RELEASED},
  {"tensor:zero_", function() r:zero_() end, RELEASED},
  {"tensor:copy_", function() x:copy_(v) end, "#1 to 'copy_' (shape mismatch: source [2 x 3] expected, got [3])"},
  {"tensor:copy_", function() x:copy_(1) end, "#1 to 'copy_' (tensor expected, got number)"},
  {"tensor:axpy_", function() x:axpy_("a", x) end, "#1 to 'axpy_' (number expected, got string)"},
  {"tensor:axpy_", function() x:axpy_(1, v) end, "#2 to 'axpy_' (shape mismatch: x [2 x 3] expected, got [3])"},

  -- reductions
  {"tensor:norm", function() x:norm(1) end, "#1 to 'norm' (norm 'fro', 'inf', 2 or math.huge expected, got 1.0)"},
  {"tensor:norm", function() x:norm("nuc") end, "got 'nuc'"},
  {"tensor:norm", function() x:norm(2, 5) end, "#2 to 'norm' (dimension 5 out of range [1, 2])"},
  {"tensor:dot", function() x:dot(x) end, "(1-D tensor expected, got [2 x 3])"},
  {"tensor:dot", function() v:dot(ntklab.zeros(4)) end, "#1 to 'dot' (shape mismatch: second vector [3] expected, got [4])"},
  {"tensor:dot", function() v:dot(3) end, "#1 to 'dot' (tensor expected, got number)"},
  {"tensor:count_nonfinite", function() r:count_nonfinite() end, RELEASED},
  {"tensor:all_finite", function() x.all_finite(1) end, "#1 to 'all_finite' (ntklab.tensor expected, got number)"},

  -- constructions
  {"tensor:diagonal", function() v:diagonal() end, "(2-D tensor expected, got [3])"},
  {"tensor:gather", function() x:gather{3} end, "#1 to 'gather' (index 3 at [1] out of range [1, 2])"},
  {"tensor:gather", function() x:gather{0} end, "(index 0 at [1] out of range [1, 2])"},
  {"tensor:gather", function() x:gather{1.5} end, "(integer index expected at [1], got number)"},
  {"tensor:gather", function() x:gather("a") end, "#1 to 'gather' (table or tensor of indices expected, got string)"},
  {"tensor:gather", function() x:gather(ntklab.zeros(1, 1)) end, "(1-D index tensor expected, got [1 x 1])"},
  {"tensor:gather", function() x:gather(ntklab.tensor{0.5}) end, "(integer index expected at [1], got 0.5)"},
  {"tensor:gather", function() x:gather(r) end, RELEASED},
  {"tensor:gather", function() x:gather(ntklab.tensor{0 / 0}) end, "(integer index expected at [1], got"},
  {"tensor:gather", function() x:gather(ntklab.tensor{1e300}) end, "(integer index expected at [1], got 1e+300)"},
  {"ntklab.ones", function() ntklab.ones(-1) end, "#1 to 'ones' (non-negative size expected, got -1)"},
  {"ntklab.ones", function() ntklab.ones("a") end, "#1 to 'ones' (number expected, got string)"},
  {"ntklab.full", function() ntklab.full(2) end, "#2 to 'full' (number expected, got no value)"},
  {"ntklab.full", function() ntklab.full(-1, 2) end, "#1 to 'full' (non-negative size expected, got -1)"},
  {"ntklab.full", function() ntklab.full(2, 2, "a") end, "#3 to 'full' (number expected, got string)"},
  {"ntklab.eye", function() ntklab.eye(10000000) end, "exceeds the limit"},
  {"ntklab.ones", function() ntklab.ones(1 << 41) end, "exceeds the limit"},
  {"ntklab.full", function() ntklab.full(1 << 20, 1 << 21, 0) end, "exceeds the limit"},
  {"ntklab.eye", function() ntklab.eye(-2) end, "#1 to 'eye' (non-negative size expected, got -2)"},
  {"ntklab.eye", function() ntklab.eye(2, "a") end, "#2 to 'eye' (number expected, got string)"},
  {"ntklab.diag", function() ntklab.diag(1) end, "#1 to 'diag' (tensor expected, got number)"},
  {"ntklab.diag", function() ntklab.diag(r) end, RELEASED},
  {"ntklab.cat", function() ntklab.cat(1) end, "#1 to 'cat' (table of tensors expected, got number)"},
  {"ntklab.cat", function() ntklab.cat{} end, "#1 to 'cat' (at least one tensor expected)"},
  {"ntklab.cat", function() ntklab.cat{x, 1} end, "#1 to 'cat' (tensor expected at [2], got number)"},
  {"ntklab.cat", function() ntklab.cat{x, r} end, "#1 to 'cat' (released tensor at [2])"},
  {"ntklab.cat", function() ntklab.cat{x, v} end, "shape mismatch: tensor 2 is [3], tensor 1 is [2 x 3]"},
  {"ntklab.cat", function() ntklab.cat({x, ntklab.zeros(2, 2)}, 1) end, "tensor 2 is [2 x 2], tensor 1 is [2 x 3]"},
  {"ntklab.cat", function() ntklab.cat({x}, 3) end, "#2 to 'cat' (dimension 3 out of range [1, 2])"},
  {"ntklab.where", function() ntklab.where(1, x, x) end, "#1 to 'where' (tensor expected, got number)"},
  {"ntklab.where", function() ntklab.where(x, "a", 1) end, "#2 to 'where' (tensor or number expected, got string)"},
  {"ntklab.where", function() ntklab.where(x, 1, ntklab.zeros(2)) end, "#3 to 'where' (shape mismatch: [2 x 3] where [2]"},

  -- the clock (lntk_clock.c)
  {"ntklab.clock", function() ntklab.clock(0) end, "bad argument #1 to 'clock' (no arguments expected)"},
  {"ntklab.finish_requested", function() ntklab.finish_requested(1) end, "bad argument #1 to 'finish_requested' (no arguments expected)"},
  {"ntklab.request_finish", function() ntklab.request_finish("yes") end, "bad argument #1 to 'request_finish' (boolean expected, got string)"},

  -- BLAS products (lntk_blas.c)
  {"ntklab.matmul", function() ntklab.matmul(x, x) end, "#2 to 'matmul' (shape mismatch: [2 x 3] @ [2 x 3], inner sizes 3 ~= 2)"},
  {"ntklab.matmul", function() ntklab.matmul(v, v) end, "#2 to 'matmul' (shape mismatch: [3] @ [3], a 2-D operand expected (use dot for vectors))"},
  {"ntklab.matmul", function() ntklab.matmul(x, 1) end, "#2 to 'matmul' (tensor expected, got number)"},
  {"ntklab.matmul", function() ntklab.matmul(x, x:t(), ntklab.zeros(3, 3)) end, "#3 to 'matmul' (shape mismatch: destination [2 x 2] expected, got [3 x 3])"},
  {"ntklab.matmul", function() ntklab.matmul(x, v, ntklab.zeros(2, 1)) end, "destination [2] expected, got [2 x 1]"},
  {"ntklab.matmul", function() x:matmul(r) end, RELEASED},
  {"ntklab.gram", function() ntklab.gram(v) end, "#1 to 'gram' (2-D tensor expected, got [3])"},
  {"ntklab.gram", function() ntklab.gram(x, ntklab.zeros(3, 3)) end, "#2 to 'gram' (shape mismatch: destination [2 x 2] expected, got [3 x 3])"},
  {"ntklab.gram", function() ntklab.gram("a") end, "#1 to 'gram' (tensor expected, got string)"},
  {"ntklab.outer", function() ntklab.outer(x, v) end, "#1 to 'outer' (1-D tensor expected, got [2 x 3])"},
  {"ntklab.outer", function() ntklab.outer(v, 1) end, "#2 to 'outer' (tensor expected, got number)"},
  {"ntklab.gemm", function() ntklab.gemm(ntklab.zeros(2, 2), "a", x, x:t(), 0) end, "#2 to 'gemm' (number expected, got string)"},
  {"ntklab.gemm", function() ntklab.gemm(ntklab.zeros(3, 3), 1, x, x:t(), 0) end, "#1 to 'gemm' (shape mismatch: destination [2 x 2] expected, got [3 x 3])"},
  {"ntklab.gemm", function() ntklab.gemm(ntklab.zeros(2, 2), 1, x, x, 0) end, "#4 to 'gemm' (shape mismatch: [2 x 3] @ [2 x 3], inner sizes 3 ~= 2)"},
  {"ntklab.gemm", function() ntklab.gemm(v, 1, x, x:t(), 0) end, "#1 to 'gemm' (2-D tensor expected, got [3])"},
  {"ntklab.gemm", function() ntklab.gemm(ntklab.zeros(2, 2), 1, x, x:t()) end, "#5 to 'gemm' (number expected, got no value)"},
  {"ntklab.gemv", function() ntklab.gemv(ntklab.zeros(2), 1, x, ntklab.zeros(4), 0) end, "#4 to 'gemv' (shape mismatch: [2 x 3] @ [4], inner sizes 3 ~= 4)"},
  {"ntklab.gemv", function() ntklab.gemv(ntklab.zeros(3), 1, x, v, 0) end, "#1 to 'gemv' (shape mismatch: destination [2] expected, got [3])"},
  {"ntklab.gemv", function() ntklab.gemv(x, 1, x, v, 0) end, "#1 to 'gemv' (1-D tensor expected, got [2 x 3])"},
  {"ntklab.ger", function() ntklab.ger(x, 1, v, v) end, "#3 to 'ger' (shape mismatch: [2 x 3] += [3] [3]^T, [2] and [3] expected)"},
  {"ntklab.ger", function() ntklab.ger(x, "a", v, v) end, "#2 to 'ger' (number expected, got string)"},
  {"ntklab.ger", function() ntklab.ger(x, 1, ntklab.zeros(2), x) end, "#4 to 'ger' (1-D tensor expected, got [2 x 3])"},
}

-- Every binary operation: a bad type, a shape mismatch and a released tensor, in both forms.
for _, name in ipairs{"add", "sub", "mul", "div", "pow", "minimum", "maximum", "lt", "le", "gt", "ge", "eq", "ne"} do
  local forms = {name}
  if x[name .. "_"] then forms[2] = name .. "_" end
  for _, f in ipairs(forms) do
    local m = method(f)
    cases[#cases + 1] = {"tensor:" .. f, function() m(x, "a") end, "#1 to '" .. f .. "' (tensor or number expected, got string)"}
    cases[#cases + 1] = {"tensor:" .. f, function() m(x, ntklab.zeros(3, 2)) end, "#1 to '" .. f .. "' (shape mismatch: [2 x 3]"}
    cases[#cases + 1] = {"tensor:" .. f, function() m(r, 1) end, RELEASED}
    cases[#cases + 1] = {"tensor:" .. f, function() m(x, r) end, RELEASED}
  end
end

-- Every map, out of place and in place.
for _, name in ipairs{"exp", "log", "log1p", "expm1", "tanh", "sigmoid", "relu", "abs", "sqrt",
                      "square", "neg", "reciprocal", "sign", "floor", "ceil", "cos", "sin"} do
  for _, f in ipairs{name, name .. "_"} do
    local m, p = method(f), plain(f)
    cases[#cases + 1] = {"tensor:" .. f, function() p(x, 5) end, "#1 to '" .. f .. "' (ntklab.tensor expected, got number)"}
    cases[#cases + 1] = {"tensor:" .. f, function() m(r) end, RELEASED}
  end
end

-- Every reduction.
for _, name in ipairs{"sum", "mean", "min", "max", "argmin", "argmax"} do
  local m = method(name)
  cases[#cases + 1] = {"tensor:" .. name, function() m(x, 3) end, "#1 to '" .. name .. "' (dimension 3 out of range [1, 2])"}
  cases[#cases + 1] = {"tensor:" .. name, function() m(x, "a") end, "#1 to '" .. name .. "' (number expected, got string)"}
  cases[#cases + 1] = {"tensor:" .. name, function() m(r) end, RELEASED}
  if name ~= "sum" then
    cases[#cases + 1] = {"tensor:" .. name, function() m(ntklab.zeros(0)) end, "calling '" .. name .. "' on bad self (" .. name .. " of an empty tensor [0])"}
    cases[#cases + 1] = {"tensor:" .. name, function() m(ntklab.zeros(0, 2), 1) end, "calling '" .. name .. "' on bad self (" .. name .. " over an empty dimension of [0 x 2])"}
  end
end

describe("bad arguments to tensor operations, BLAS products and the clock", function()
  -- rows go through the shared registry (spec/support/bad_args.lua), so that spec 99 can
  -- check that every function has one
  bad_args.cases(it, cases)

  -- operators only the runtime calls with a tensor operand; a released one still raises
  it("-t and #t on a released tensor", function()
    assert.has_error(function() return -r end, RELEASED)
    assert.has_error(function() return #r end, RELEASED)
  end)

  it("leaves the process and the tensors usable after all of them", function()
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, x:totable())
    assert.are.same({1, 2, 3}, v:totable())
    collectgarbage()
    assert.are.equal(21, x:sum())
  end)
end)
