-- 03-thin: thin products A V reading A once (ntklab.thin_matmul, core/tensor/ntk_thin.c, the
-- loops of ntklab.tile_matvec and of ntklab.cg's preconditioner) against a plain-Lua triple
-- loop on every layout, and against BLAS past the loops' 4-row x 6-column x 1024-column blocks.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"
local bad_args = require "spec.support.bad_args"

-- The same products as the plain-Lua loop, summed in 8 lanes and 1024-column chunks instead of
-- left to right: a few ulps of the sum of |terms| (at most 21 terms of size <= 1 here).
local PRODUCT_TOL = 1e-13
-- Against dgemm at 2,100 terms: both round each of the sums differently, by a few ulps of the sum
-- of |A_ij V_jc| each.
local SUMMATION_REL = 1e-13

local function skip_without_loops()
  if ntklab.thin_available() then return false end
  pending("this CPU has no AVX-512: thin_matmul raises here (and callers use BLAS)")
  return true
end

describe("thin_matmul", function()
  it("equals the plain-Lua product on every layout, with row, column and right-hand-side tails", function()
    if skip_without_loops() then return end
    -- 9 rows (two blocks of 4 and one), 21 columns (two groups of 8 and a tail of 5)
    for _, k in ipairs{1, 6, 7, 13} do
      local A = ref.matrix(ref.generator(201), 9, 21)
      local V = ref.matrix(ref.generator(202 + k), 21, k)
      local want = ref.matmul(A, V)
      for _, la in ipairs(ref.layouts(A)) do
        for _, lv in ipairs(ref.layouts(V)) do
          local d = ref.maxdiff(ntklab.thin_matmul(la[2], lv[2]), want)
          assert(d <= PRODUCT_TOL, ("k = %d, %s @ %s: max relative difference %g"):format(k, la[1], lv[1], d))
        end
      end
    end
  end)

  it("agrees with BLAS past one column chunk, gives the same bits on 1 and 2 threads, and reuses out", function()
    if skip_without_loops() then return end
    local rng = ntklab.rng(7)
    local A, V = rng:normal(1101, 2100), rng:normal(2100, 10)
    local threads = ntklab.threads()
    ntklab.threads(1)
    local one = ntklab.thin_matmul(A, V)
    ntklab.threads(2)
    local two = ntklab.thin_matmul(A, V)
    ntklab.threads(threads)
    assert.are.equal(0, (one - two):abs():max())
    local scale = ntklab.matmul(A:abs(), V:abs()):max()
    assert.is_true((one - ntklab.matmul(A, V)):abs():max() <= SUMMATION_REL * scale)
    -- into a given output, a row block view of a wider tensor, old contents ignored
    local big = ntklab.zeros(1101, 12):fill_(7)
    local view = big:narrow(2, 2, 10)
    assert.are.equal(view, ntklab.thin_matmul(A, V, view))
    assert.are.equal(0, (view - one):abs():max())
    assert.are.equal(7, big:get(5, 1))
    assert.are.equal(7, big:get(5, 12))
  end)

  it("an empty inner dimension gives zeros; empty rows or columns an empty product", function()
    if skip_without_loops() then return end
    local out = ntklab.zeros(3, 2):fill_(5)
    ntklab.thin_matmul(ntklab.zeros(3, 0), ntklab.zeros(0, 2), out)
    assert.are.equal(0, out:abs():max())
    assert.are.same({0, 2}, {ntklab.thin_matmul(ntklab.zeros(0, 4), ntklab.zeros(4, 2)):size()})
  end)

  it("raises where the CPU lacks AVX-512, saying so", function()
    if ntklab.thin_available() then return end
    local ok, msg = pcall(ntklab.thin_matmul, ntklab.zeros(2, 2), ntklab.zeros(2, 1))
    assert.is_false(ok)
    assert.matches("need AVX-512", msg, 1, true)
  end)
end)

describe("bad arguments", function()
  local A, V = ntklab.zeros(4, 3), ntklab.zeros(3, 2)
  bad_args.cases(it, {
    {"ntklab.thin_available", function() ntklab.thin_available(1) end, "bad argument #1 to 'thin_available' (no arguments expected)"},
    {"ntklab.thin_matmul", function() ntklab.thin_matmul(ntklab.zeros(4), V) end, "bad argument #1 to 'thin_matmul' (2-D tensor expected, got [4])"},
    {"ntklab.thin_matmul", function() ntklab.thin_matmul(A, ntklab.zeros(4, 2)) end, "bad argument #2 to 'thin_matmul' ([cols of A x k] tensor expected, got [4 x 2])"},
    {"ntklab.thin_matmul", function() ntklab.thin_matmul(A, "v") end, "bad argument #2 to 'thin_matmul' (ntklab.tensor expected, got string)"},
    {"ntklab.thin_matmul", function() ntklab.thin_matmul(A, V, ntklab.zeros(4, 3)) end, "[4 x 2] output expected, got [4 x 3]"},
    {"ntklab.thin_matmul", function() ntklab.thin_matmul(A, V, ntklab.zeros(2, 4):t()) end, "output with contiguous rows expected"},
    {"ntklab.thin_matmul", function() local B = ntklab.zeros(3, 3); ntklab.thin_matmul(B, B:narrow(2, 1, 2), B:narrow(2, 1, 2)) end, "must not share memory"},
  })
end)
