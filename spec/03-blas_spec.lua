-- 03-blas: matrix products through BLAS (gemm, gemv, syrk, ger) on contiguous tensors, views
-- and transposes, against a plain-Lua triple loop.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"

-- Dot products of <= 7 terms of size <= 1 summed in BLAS's order instead of left to right:
-- a few ulps; a wrong index or transpose flag would be off by O(1).
local PRODUCT_TOL = 1e-13

local function close(expected, got, what)
  local d = ref.maxdiff(got, expected)
  assert(d <= PRODUCT_TOL, string.format("%s: max relative difference %g > %g", what, d, PRODUCT_TOL))
end

local function column(v)
  local c = {}
  for i, x in ipairs(v) do c[i] = {x} end
  return c
end

local A = ref.matrix(ref.generator(101), 5, 7)
local B = ref.matrix(ref.generator(102), 7, 4)
local x7 = ref.vector(ref.generator(103), 7)
local y5 = ref.vector(ref.generator(104), 5)

describe("matmul", function()
  it("2-D @ 2-D on every pair of layouts", function()
    local want = ref.matmul(A, B)
    for _, la in ipairs(ref.layouts(A)) do
      for _, lb in ipairs(ref.layouts(B)) do
        local c = ntklab.matmul(la[2], lb[2])
        assert.are.same({5, 4}, c:shape())
        close(want, c, "matmul " .. la[1] .. " @ " .. lb[1])
        close(want, la[2]:matmul(lb[2]), "method " .. la[1] .. " @ " .. lb[1])
      end
    end
  end)

  it("2-D @ 1-D (gemv) and 1-D @ 2-D on every pair of layouts", function()
    local Ax = {}
    for i, row in ipairs(ref.matmul(A, column(x7))) do Ax[i] = row[1] end
    local yA = ref.matmul({y5}, A)[1]
    for _, la in ipairs(ref.layouts(A)) do
      for _, lx in ipairs(ref.layouts(x7)) do
        local r = ntklab.matmul(la[2], lx[2])
        assert.are.same({5}, r:shape())
        close(Ax, r, "gemv " .. la[1] .. " @ " .. lx[1])
      end
      for _, ly in ipairs(ref.layouts(y5)) do
        local r = ntklab.matmul(ly[2], la[2])
        assert.are.same({7}, r:shape())
        close(yA, r, "vector @ " .. la[1] .. " (" .. ly[1] .. ")")
      end
    end
  end)

  it("writes into out, of any layout, and returns it", function()
    local want = ref.matmul(A, B)
    for _, lo in ipairs(ref.layouts(ref.matrix(ref.generator(105), 5, 4, 100, 200))) do
      for _, la in ipairs(ref.layouts(A)) do
        local r = ntklab.matmul(la[2], ntklab.tensor(B), lo[2])
        assert.are.equal(lo[2], r)
        close(want, lo[2], "out " .. lo[1] .. " from " .. la[1])
      end
    end
    local v = ntklab.zeros(5)
    assert.are.equal(v, ntklab.matmul(ntklab.tensor(A), ntklab.tensor(x7), v))
    local Ax = {}
    for i, row in ipairs(ref.matmul(A, column(x7))) do Ax[i] = row[1] end
    close(Ax, v, "gemv into out")
  end)

  it("gives the right product when out is one of the inputs", function()
    local S = ref.matrix(ref.generator(106), 4, 4)
    local want = ref.matmul(S, ref.transpose(S))
    local s = ntklab.tensor(S)
    ntklab.matmul(s, s:t(), s)
    close(want, s, "s <- s s^T in place")
  end)

  it("handles empty inner and outer dimensions", function()
    assert.are.same({{0, 0}, {0, 0}}, ntklab.matmul(ntklab.zeros(2, 0), ntklab.zeros(0, 2)):totable())
    assert.are.same({0, 3}, ntklab.matmul(ntklab.zeros(0, 2), ntklab.ones(2, 3)):shape())
    local out = ntklab.full(2, 2, 0 / 0)
    ntklab.matmul(ntklab.zeros(2, 0), ntklab.zeros(0, 2), out)
    assert.are.same({{0, 0}, {0, 0}}, out:totable())
  end)
end)

describe("gemm, gemv, ger", function()
  it("gemm: C <- alpha A B + beta C on every layout of C", function()
    local C0 = ref.matrix(ref.generator(107), 5, 4)
    local AB = ref.matmul(A, B)
    local want = ref.zip(AB, C0, function(p, c) return 0.5 * p - 2 * c end)
    for k = 1, 4 do
      for _, la in ipairs(ref.layouts(A)) do
        for _, lb in ipairs(ref.layouts(B)) do
          local lc = ref.layouts(C0)[k] -- fresh: gemm overwrites it
          assert.are.equal(lc[2], ntklab.gemm(lc[2], 0.5, la[2], lb[2], -2))
          close(want, lc[2], "gemm into " .. lc[1] .. " from " .. la[1] .. " @ " .. lb[1])
        end
      end
    end
  end)

  it("gemm with beta = 0 ignores NaN in C", function()
    local c = ntklab.full(5, 4, 0 / 0)
    ntklab.gemm(c, 1, ntklab.tensor(A), ntklab.tensor(B), 0)
    close(ref.matmul(A, B), c, "beta 0")
  end)

  it("gemv: y <- alpha A x + beta y on strided vectors", function()
    local Ax = ref.matmul(A, column(x7))
    local want = {}
    for i = 1, 5 do want[i] = 2 * Ax[i][1] + 0.5 * y5[i] end
    for k = 1, 4 do
      for _, la in ipairs(ref.layouts(A)) do
        for _, lx in ipairs(ref.layouts(x7)) do
          local ly = ref.layouts(y5)[k]
          assert.are.equal(ly[2], ntklab.gemv(ly[2], 2, la[2], lx[2], 0.5))
          close(want, ly[2], "gemv into " .. ly[1] .. " from " .. la[1] .. " @ " .. lx[1])
        end
      end
    end
  end)

  it("ger and outer: A + alpha x y^T, x y^T", function()
    local want = {}
    for i = 1, 5 do
      want[i] = {}
      for j = 1, 7 do want[i][j] = y5[i] * x7[j] end
    end
    for _, lx in ipairs(ref.layouts(y5)) do
      for _, ly in ipairs(ref.layouts(x7)) do
        close(want, ntklab.outer(lx[2], ly[2]), "outer " .. lx[1] .. " " .. ly[1])
      end
    end
    for _, la in ipairs(ref.layouts(A)) do
      assert.are.equal(la[2], ntklab.ger(la[2], -1, ntklab.tensor(y5), ntklab.tensor(x7)))
      close(ref.zip(A, want, function(a, o) return a - o end), la[2], "ger on " .. la[1])
    end
  end)
end)

describe("gram", function()
  it("A A^T through syrk, both triangles, on every layout", function()
    local want = ref.matmul(A, ref.transpose(A))
    for _, la in ipairs(ref.layouts(A)) do
      local g = ntklab.gram(la[2])
      assert.are.same({5, 5}, g:shape())
      close(want, g, "gram " .. la[1])
      close(want, la[2]:gram(), "method gram " .. la[1])
      for _, lo in ipairs(ref.layouts(ref.matrix(ref.generator(108), 5, 5, 100, 200))) do
        assert.are.equal(lo[2], ntklab.gram(la[2], lo[2]))
        close(want, lo[2], "gram of " .. la[1] .. " into " .. lo[1])
      end
    end
  end)

  it("is exactly symmetric", function()
    local g = ntklab.gram(ntklab.tensor(ref.matrix(ref.generator(109), 30, 11)))
    for i = 1, 30 do
      for j = 1, 30 do assert.are.equal(g:get(i, j), g:get(j, i)) end
    end
  end)
end)

describe("clock", function()
  it("is monotonic wall time with sub-millisecond resolution", function()
    local t0 = ntklab.clock()
    local t1 = t0
    local steps = 0
    while t1 == t0 do
      t1 = ntklab.clock()
      steps = steps + 1
    end
    assert.is_true(t1 > t0)
    assert.is_true(t1 - t0 < 1e-3, "resolution " .. (t1 - t0))
    assert.is_true(steps >= 1)
  end)
end)
