-- 02-tensor_ops: element-wise operations, broadcasting, reductions and constructions, each on
-- contiguous tensors and on views (narrowed, transposed, strided, diagonal) against plain Lua.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"

-- One IEEE operation per element on both sides: the results are bit-identical.
local EXACT = 0
-- The C code and the reference call the same libm function (or the same formula): identical
-- in practice; one rounding of headroom.
local LIBM_TOL = 1e-15
-- The reference uses another formula (no tanh/log1p/expm1 in Lua 5.4): a few ulps apart.
local FORMULA_TOL = 1e-14
-- Sums of at most a few dozen terms of size <= 10 in a different order: n * eps * max|x|.
local SUM_TOL = 1e-13

local function close(expected, got, tol, what)
  local d = ref.maxdiff(got, expected)
  assert(d <= tol, string.format("%s: max relative difference %g > %g", what, d, tol))
end

local A = ref.matrix(ref.generator(1), 3, 4, 0.5, 2) -- positive: pow and log are defined
local B = ref.matrix(ref.generator(2), 3, 4, 0.5, 2)
B[2][3] = A[2][3] -- an equal pair, so eq/le/ge see a tie
local V = ref.vector(ref.generator(3), 5, -2, 2)
local W = ref.vector(ref.generator(4), 5, -2, 2)
W[4] = V[4]

local binops = {
  {"add", function(x, y) return x + y end},
  {"sub", function(x, y) return x - y end},
  {"mul", function(x, y) return x * y end},
  {"div", function(x, y) return x / y end},
  {"minimum", function(x, y) return math.min(x, y) end},
  {"maximum", function(x, y) return math.max(x, y) end},
  {"lt", function(x, y) return x < y and 1 or 0 end},
  {"le", function(x, y) return x <= y and 1 or 0 end},
  {"gt", function(x, y) return x > y and 1 or 0 end},
  {"ge", function(x, y) return x >= y and 1 or 0 end},
  {"eq", function(x, y) return x == y and 1 or 0 end},
  {"ne", function(x, y) return x ~= y and 1 or 0 end},
}

describe("element-wise binary operations", function()
  for _, case in ipairs(binops) do
    local name, f = case[1], case[2]
    it(name .. " on every pair of layouts, 2-D and 1-D, out of place and in place", function()
      for _, pair in ipairs{{A, B}, {V, W}} do
        local x, y = pair[1], pair[2]
        local want = ref.zip(x, y, f)
        for _, la in ipairs(ref.layouts(x)) do
          for _, lb in ipairs(ref.layouts(y)) do
            local what = name .. " " .. la[1] .. " with " .. lb[1]
            close(want, la[2][name](la[2], lb[2]), EXACT, what)
            close(x, la[2], EXACT, what .. " leaves its input alone")
            local inplace = name .. "_"
            if la[2][inplace] then
              local target = ref.layouts(x)
              for _, lt in ipairs(target) do
                local r = lt[2][inplace](lt[2], lb[2])
                assert.are.equal(lt[2], r)
                close(want, lt[2], EXACT, what .. " in place on " .. lt[1])
              end
            end
          end
        end
      end
    end)
  end

  it("pow with a tensor exponent and with a number", function()
    for _, la in ipairs(ref.layouts(A)) do
      for _, lb in ipairs(ref.layouts(B)) do
        close(ref.zip(A, B, function(x, y) return x ^ y end), la[2]:pow(lb[2]), LIBM_TOL, "pow")
      end
      for _, p in ipairs{2, 0.5, 3, -1.5} do
        close(ref.map(A, function(x) return x ^ p end), la[2]:pow(p), LIBM_TOL, "pow " .. p)
      end
    end
  end)

  it("takes numbers on the right, and on either side of the operators", function()
    for _, la in ipairs(ref.layouts(A)) do
      local t = la[2]
      close(ref.map(A, function(x) return x + 2.5 end), t:add(2.5), EXACT, "add number")
      close(ref.map(A, function(x) return x / 3 end), t:div(3), EXACT, "div number")
      close(ref.map(A, function(x) return x - 1 end), t - 1, EXACT, "t - 1")
      close(ref.map(A, function(x) return 1 - x end), 1 - t, EXACT, "1 - t")
      close(ref.map(A, function(x) return 2 / x end), 2 / t, EXACT, "2 / t")
      close(ref.map(A, function(x) return 3 * x end), 3 * t, EXACT, "3 * t")
      close(ref.map(A, function(x) return -x end), -t, EXACT, "-t")
      close(ref.map(A, function(x) return x ^ 3 end), t ^ 3, LIBM_TOL, "t ^ 3")
      close(ref.map(A, function(x) return 2 ^ x end), 2 ^ t, LIBM_TOL, "2 ^ t")
      close(ref.map(A, function(x) return x > 1 and 1 or 0 end), t:gt(1), EXACT, "gt number")
      for _, lb in ipairs(ref.layouts(B)) do
        close(ref.zip(A, B, function(x, y) return x * y end), t * lb[2], EXACT, "t * u element-wise")
        close(ref.zip(A, B, function(x, y) return x + y end), t + lb[2], EXACT, "t + u")
        close(ref.zip(A, B, function(x, y) return x - y end), t - lb[2], EXACT, "t - u")
        close(ref.zip(A, B, function(x, y) return x / y end), t / lb[2], EXACT, "t / u")
      end
    end
  end)

  it("broadcasts a row ([n] or [1 x n]) and a column ([m x 1]) over a matrix", function()
    local row = ref.vector(ref.generator(5), 4)
    local col = ref.vector(ref.generator(6), 3)
    local want_row = {}
    local want_col = {}
    for i = 1, 3 do
      want_row[i], want_col[i] = {}, {}
      for j = 1, 4 do
        want_row[i][j] = A[i][j] - row[j]
        want_col[i][j] = A[i][j] - col[i]
      end
    end
    local colm = {}
    for i = 1, 3 do colm[i] = {col[i]} end
    for _, la in ipairs(ref.layouts(A)) do
      for _, lr in ipairs(ref.layouts(row)) do
        close(want_row, la[2] - lr[2], EXACT, "row broadcast " .. la[1] .. " - " .. lr[1])
      end
      for _, lr in ipairs(ref.layouts({row})) do
        close(want_row, la[2] - lr[2], EXACT, "[1 x n] broadcast " .. la[1] .. " - " .. lr[1])
      end
      for _, lc in ipairs(ref.layouts(colm)) do
        close(want_col, la[2]:sub(lc[2]), EXACT, "column broadcast " .. la[1] .. " - " .. lc[1])
      end
      local t = ntklab.tensor(A)
      t:sub_(ntklab.tensor(colm))
      close(want_col, t, EXACT, "in-place column broadcast")
    end
    -- a kept-dimension reduction broadcasts back: centring rows and columns
    local t = ntklab.tensor(A)
    assert.are.same({3, 4}, (t - t:mean(2)):shape())
    close({{0}, {0}, {0}}, (t - t:mean(2)):sum(2), SUM_TOL, "centred rows sum to zero")
    close({{0, 0, 0, 0}}, (t - t:mean(1)):sum(1), SUM_TOL, "centred columns sum to zero")
  end)

  it("gives each element the value of the inputs before the call when the output overlaps them", function()
    local S = ref.matrix(ref.generator(8), 4, 4)
    local want = ref.zip(S, ref.transpose(S), function(x, y) return x + y end)
    local t = ntklab.tensor(S)
    t:add_(t:t())
    close(want, t, EXACT, "t:add_(t:t())")
    t = ntklab.tensor(S)
    t:copy_(t:t())
    close(ref.transpose(S), t, EXACT, "t:copy_(t:t())")
    t = ntklab.tensor(S)
    t:sub_(t:select(1, 1)) -- row 1 itself changes while being broadcast
    close(ref.zip(S, {S[1], S[1], S[1], S[1]}, function(x, y) return x - y end), t, EXACT, "t:sub_(row of t)")
    t = ntklab.tensor(S)
    t:add_(t)
    close(ref.map(S, function(x) return 2 * x end), t, EXACT, "t:add_(t)")
  end)
end)

local maps = {
  {"exp", math.exp, -2, 2, LIBM_TOL},
  {"log", math.log, 0.1, 3, LIBM_TOL},
  {"log1p", function(x) return math.log(1 + x) end, 0.5, 3, FORMULA_TOL},
  {"expm1", function(x) return math.exp(x) - 1 end, 0.5, 3, FORMULA_TOL},
  {"tanh", function(x) local e = math.exp(2 * x) return (e - 1) / (e + 1) end, -2, 2, FORMULA_TOL},
  {"sigmoid", function(x) return 1 / (1 + math.exp(-x)) end, -3, 3, LIBM_TOL},
  {"relu", function(x) return x < 0 and 0 or x end, -2, 2, EXACT},
  {"abs", math.abs, -2, 2, EXACT},
  {"sqrt", math.sqrt, 0, 4, EXACT},
  {"square", function(x) return x * x end, -2, 2, EXACT},
  {"neg", function(x) return -x end, -2, 2, EXACT},
  {"reciprocal", function(x) return 1 / x end, 0.5, 2, EXACT},
  {"sign", function(x) return x > 0 and 1 or (x < 0 and -1 or 0) end, -2, 2, EXACT},
  {"floor", math.floor, -5, 5, EXACT},
  {"ceil", math.ceil, -5, 5, EXACT},
  {"cos", math.cos, -3, 3, LIBM_TOL},
  {"sin", math.sin, -3, 3, LIBM_TOL},
}

describe("maps", function()
  for k, case in ipairs(maps) do
    local name, f, lo, hi, tol = case[1], case[2], case[3], case[4], case[5]
    it(name .. " out of place and in place on every layout", function()
      for _, x in ipairs{ref.matrix(ref.generator(20 + k), 3, 4, lo, hi), ref.vector(ref.generator(40 + k), 6, lo, hi)} do
        if name == "sign" then if type(x[1]) == "table" then x[1][1] = 0 else x[1] = 0 end end
        local want = ref.map(x, f)
        for _, l in ipairs(ref.layouts(x)) do
          close(want, l[2][name](l[2]), tol, name .. " " .. l[1])
          close(x, l[2], EXACT, name .. " leaves " .. l[1] .. " alone")
          assert.are.equal(l[2], l[2][name .. "_"](l[2]))
          close(want, l[2], tol, name .. "_ " .. l[1])
        end
      end
    end)
  end

  it("keeps NaN in relu, sign and clamp", function()
    local t = ntklab.tensor{0 / 0, -1, 2}
    assert.is_true(t:relu():get(1) ~= t:relu():get(1))
    assert.is_true(t:sign():get(1) ~= t:sign():get(1))
    assert.is_true(t:clamp(0, 1):get(1) ~= t:clamp(0, 1):get(1))
  end)

  it("clamp with both bounds, one bound, in place, on every layout", function()
    for _, l in ipairs(ref.layouts(A)) do
      close(ref.map(A, function(x) return math.min(math.max(x, 0.8), 1.5) end), l[2]:clamp(0.8, 1.5), EXACT, "clamp")
      close(ref.map(A, function(x) return math.max(x, 1) end), l[2]:clamp(1), EXACT, "clamp lower only")
      close(ref.map(A, function(x) return math.min(x, 1) end), l[2]:clamp(nil, 1), EXACT, "clamp upper only")
      l[2]:clamp_(1, 1.2)
      close(ref.map(A, function(x) return math.min(math.max(x, 1), 1.2) end), l[2], EXACT, "clamp_")
    end
  end)
end)

describe("fill, copy, axpy", function()
  it("fill_ and zero_ write only the view", function()
    local base = ntklab.tensor(A)
    base:narrow(2, 2, 2):fill_(7)
    for i = 1, 3 do
      for j = 1, 4 do
        assert.are.equal((j == 2 or j == 3) and 7 or A[i][j], base:get(i, j))
      end
    end
    base:t():select(2, 1):zero_()
    for j = 1, 4 do assert.are.equal(0, base:get(1, j)) end
    assert.are.equal(A[2][1], base:get(2, 1))
  end)

  it("copy_ between every pair of layouts", function()
    for _, src in ipairs(ref.layouts(A)) do
      for _, dst in ipairs(ref.layouts(B)) do
        assert.are.equal(dst[2], dst[2]:copy_(src[2]))
        close(A, dst[2], EXACT, "copy " .. src[1] .. " into " .. dst[1])
      end
    end
  end)

  it("axpy_ on every pair of layouts", function()
    for _, lx in ipairs(ref.layouts(A)) do
      for _, ly in ipairs(ref.layouts(B)) do
        ly[2]:axpy_(-0.5, lx[2])
        close(ref.zip(B, A, function(y, x) return y + -0.5 * x end), ly[2], EXACT, "axpy " .. lx[1] .. " " .. ly[1])
      end
    end
  end)
end)

local function ref_reduce(t, kind)
  local flat = {}
  for i, row in ipairs(t) do
    if type(row) == "table" then for j, x in ipairs(row) do flat[#flat + 1] = {x, i, j} end
    else flat[#flat + 1] = {row, i} end
  end
  local acc, at
  for k, e in ipairs(flat) do
    local x = e[1]
    if kind == "sum" or kind == "mean" then acc = (acc or 0) + x
    elseif kind == "norm" then acc = (acc or 0) + x * x
    elseif kind == "norminf" then acc = math.max(acc or 0, math.abs(x))
    elseif (kind == "min" or kind == "argmin") and (not acc or x < acc) then acc, at = x, e
    elseif (kind == "max" or kind == "argmax") and (not acc or x > acc) then acc, at = x, e end
  end
  if kind == "mean" then acc = acc / #flat end
  if kind == "norm" then acc = math.sqrt(acc) end
  return acc, at
end

describe("reductions", function()
  local M = ref.matrix(ref.generator(9), 4, 5, -3, 3)
  local kinds = {"sum", "mean", "min", "max"}

  it("over the whole tensor on every layout, 2-D and 1-D", function()
    for _, x in ipairs{M, V} do
      for _, l in ipairs(ref.layouts(x)) do
        for _, kind in ipairs(kinds) do
          close(ref_reduce(x, kind), l[2][kind](l[2]), SUM_TOL, kind .. " " .. l[1])
        end
        close(ref_reduce(x, "norm"), l[2]:norm(), SUM_TOL, "norm " .. l[1])
        close(ref_reduce(x, "norm"), l[2]:norm("fro"), SUM_TOL, "norm fro " .. l[1])
        close(ref_reduce(x, "norm"), l[2]:norm(2), SUM_TOL, "norm 2 " .. l[1])
        close(ref_reduce(x, "norminf"), l[2]:norm(math.huge), EXACT, "norm inf " .. l[1])
        close(ref_reduce(x, "norminf"), l[2]:norm("inf"), EXACT, "norm 'inf' " .. l[1])
        for _, kind in ipairs{"argmin", "argmax"} do
          local _, at = ref_reduce(x, kind)
          assert.are.same({at[2], at[3]}, {l[2][kind](l[2])}, kind .. " " .. l[1])
        end
      end
    end
  end)

  it("per column (dim 1, shape [1 x n]) and per row (dim 2, shape [m x 1]) on every layout", function()
    local cols = ref.transpose(M)
    for _, l in ipairs(ref.layouts(M)) do
      for _, kind in ipairs{"sum", "mean", "min", "max", "norm", "argmin", "argmax"} do
        local per_col, per_row = {{}}, {}
        for j = 1, #cols do
          local v, at = ref_reduce(cols[j], kind)
          per_col[1][j] = kind:match("^arg") and at[2] or v
        end
        for i = 1, #M do
          local v, at = ref_reduce(M[i], kind)
          per_row[i] = {kind:match("^arg") and at[2] or v}
        end
        local f = l[2][kind]
        local c = kind == "norm" and l[2]:norm(2, 1) or f(l[2], 1)
        local r = kind == "norm" and l[2]:norm(2, 2) or f(l[2], 2)
        assert.are.same({1, 5}, c:shape())
        assert.are.same({4, 1}, r:shape())
        close(per_col, c, SUM_TOL, kind .. " dim 1 " .. l[1])
        close(per_row, r, SUM_TOL, kind .. " dim 2 " .. l[1])
      end
    end
    -- 1-D: dim 1 reduces to a 1-element tensor
    for _, l in ipairs(ref.layouts(V)) do
      close({ref_reduce(V, "sum")}, l[2]:sum(1), SUM_TOL, "1-D sum(1) " .. l[1])
    end
  end)

  it("sums empty tensors to zero and propagates NaN through min, max and arg*", function()
    assert.are.equal(0, ntklab.zeros(0):sum())
    assert.are.equal(0, ntklab.zeros(0, 3):norm())
    assert.are.same({{0, 0, 0}}, ntklab.zeros(0, 3):sum(1):totable())
    local t = ntklab.tensor{1, 0 / 0, 5, -2}
    assert.is_true(t:max() ~= t:max())
    assert.is_true(t:min() ~= t:min())
    assert.are.equal(2, t:argmax())
    assert.are.equal(2, t:argmin())
    assert.is_true(t:norm("inf") ~= t:norm("inf"))
  end)

  it("counts non-finite elements on views", function()
    local m = ntklab.tensor{{1, 0 / 0, 3}, {1 / 0, 5, -1 / 0}}
    assert.are.equal(3, m:count_nonfinite())
    assert.are.equal(2, m:t():narrow(1, 2, 2):count_nonfinite())
    assert.is_false(m:all_finite())
    assert.is_true(m:select(1, 1):narrow(1, 1, 1):all_finite())
  end)

  it("dot products of 1-D tensors on every pair of layouts", function()
    local want = 0
    for i = 1, #V do want = want + V[i] * W[i] end
    for _, la in ipairs(ref.layouts(V)) do
      for _, lb in ipairs(ref.layouts(W)) do
        close(want, la[2]:dot(lb[2]), SUM_TOL, "dot " .. la[1] .. " " .. lb[1])
      end
    end
  end)

  it("keeps precision in norms of huge and tiny values", function()
    close(5e300, ntklab.tensor{3e300, 4e300}:norm(), LIBM_TOL, "no overflow")
    close(5e-300, ntklab.tensor{3e-300, 4e-300}:norm() , LIBM_TOL, "no underflow")
    close(5e300, ntklab.tensor{{3e300}, {4e300}}:t():norm(), LIBM_TOL, "no overflow, strided")
  end)
end)

describe("constructions", function()
  it("ones, full, eye", function()
    assert.are.same({1, 1, 1}, ntklab.ones(3):totable())
    assert.are.same({{1, 1}, {1, 1}}, ntklab.ones(2, 2):totable())
    assert.are.same({2.5, 2.5}, ntklab.full(2, 2.5):totable())
    assert.are.same({{-1, -1, -1}, {-1, -1, -1}}, ntklab.full(2, 3, -1):totable())
    assert.are.same({{1, 0}, {0, 1}}, ntklab.eye(2):totable())
    assert.are.same({{1, 0, 0}, {0, 1, 0}}, ntklab.eye(2, 3):totable())
  end)

  it("diag both ways, and diagonal() as a writable view", function()
    for _, l in ipairs(ref.layouts(V)) do
      local d = ntklab.diag(l[2])
      for i = 1, #V do
        for j = 1, #V do assert.are.equal(i == j and V[i] or 0, d:get(i, j)) end
      end
    end
    for _, l in ipairs(ref.layouts(A)) do
      assert.are.same({A[1][1], A[2][2], A[3][3]}, ntklab.diag(l[2]):totable())
      assert.are.same({A[1][1], A[2][2], A[3][3]}, l[2]:diagonal():totable())
    end
    local K = ntklab.tensor(A)
    K:diagonal():add_(10)
    close(ref.zip(A, {{10, 0, 0, 0}, {0, 10, 0, 0}, {0, 0, 10, 0}}, function(x, y) return x + y end), K, EXACT, "ridge on the diagonal")
  end)

  it("keeps a diagonal view valid after its matrix is collected", function()
    local d
    do
      local m = ntklab.tensor(A)
      d = m:t():diagonal()
    end
    collectgarbage()
    collectgarbage()
    assert.are.same({A[1][1], A[2][2], A[3][3]}, d:totable())
    d:mul_(2)
    assert.are.same({2 * A[1][1], 2 * A[2][2], 2 * A[3][3]}, d:totable())
  end)

  it("cat along rows and columns, 1-D end to end, from views", function()
    local l = ref.layouts(A)
    local rows = ntklab.cat({l[1][2], l[2][2], l[3][2]}, 1)
    assert.are.same({9, 4}, rows:shape())
    for k = 0, 2 do close(A, rows:narrow(1, 3 * k + 1, 3), EXACT, "cat rows block " .. k) end
    local cols = ntklab.cat({l[4][2], l[2][2]}, 2)
    assert.are.same({3, 8}, cols:shape())
    close(A, cols:narrow(2, 1, 4), EXACT, "cat cols left")
    close(A, cols:narrow(2, 5, 4), EXACT, "cat cols right")
    local v = ref.layouts(V)
    local joined = ntklab.cat{v[2][2], v[3][2], v[4][2]}
    local want = {}
    for _ = 1, 3 do for i = 1, #V do want[#want + 1] = V[i] end end
    close(want, joined, EXACT, "cat 1-D")
    assert.are.same({3, 4}, ntklab.cat({l[1][2]}):shape())
  end)

  it("gathers rows by 1-based indices (table or tensor, repeats allowed)", function()
    for _, l in ipairs(ref.layouts(A)) do
      close({A[3], A[1], A[3]}, l[2]:gather{3, 1, 3}, EXACT, "gather table " .. l[1])
      close({A[2]}, l[2]:gather(ntklab.tensor{2}), EXACT, "gather tensor " .. l[1])
      assert.are.same({0, 4}, l[2]:gather{}:shape())
    end
    for _, l in ipairs(ref.layouts(V)) do
      close({V[5], V[2]}, l[2]:gather{5, 2}, EXACT, "gather 1-D " .. l[1])
    end
  end)

  it("where with tensors, numbers and broadcasting", function()
    local cond = ntklab.tensor(A):gt(1)
    for _, la in ipairs(ref.layouts(A)) do
      for _, lb in ipairs(ref.layouts(B)) do
        close(ref.zip(A, B, function(x, y) return x > 1 and x or y end), ntklab.where(cond, la[2], lb[2]), EXACT, "where")
      end
      close(ref.map(A, function(x) return x > 1 and x or 0 end), ntklab.where(la[2]:gt(1), la[2], 0), EXACT, "where number")
      close(ref.map(A, function(x) return x > 1 and -1 or 1 end), ntklab.where(la[2]:gt(1), -1, 1), EXACT, "where numbers")
    end
    local row = ntklab.tensor{1, 2, 3, 4}
    local want = ref.map(A, function() return 0 end)
    for i = 1, 3 do for j = 1, 4 do want[i][j] = A[i][j] > 1 and j or -1 end end
    close(want, ntklab.where(cond, row, -1), EXACT, "where broadcast row")
  end)
end)
