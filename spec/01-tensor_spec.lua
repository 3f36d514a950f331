-- 01-tensor: construction, element access, views and their lifetime, printing.
local ntklab = require "ntklab"

describe("tensor", function()
  it("builds 1-D and 2-D tensors from tables and reads them back", function()
    local v = ntklab.tensor{1, 2, 3}
    assert.are.same({3}, v:shape())
    assert.are.same({1, 2, 3}, v:totable())
    local m = ntklab.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({2, 3}, m:shape())
    assert.are.equal(6, m:numel())
    assert.are.equal(2, #m)
    assert.are.equal(6, m:get(2, 3))
    m:set(1, 2, -7)
    assert.are.same({{1, -7, 3}, {4, 5, 6}}, m:totable())
    local z = ntklab.zeros(2, 2)
    assert.are.same({{0, 0}, {0, 0}}, z:totable())
  end)

  it("makes views that share storage: narrow, select, transpose", function()
    local m = ntklab.tensor{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
    local r = m:select(1, 2)
    assert.are.same({4, 5, 6}, r:totable())
    local c = m:select(2, 3)
    assert.are.same({3, 6, 9}, c:totable())
    local t = m:t()
    assert.are.same({{1, 4, 7}, {2, 5, 8}, {3, 6, 9}}, t:totable())
    assert.is_false(t:is_contiguous())
    local n = t:narrow(2, 2, 2)
    assert.are.same({{4, 7}, {5, 8}, {6, 9}}, n:totable())
    n:set(1, 1, 40)
    assert.are.equal(40, m:get(2, 1))
  end)

  it("keeps views valid after the parent is collected", function()
    local v
    do
      local m = ntklab.tensor{{1, 2}, {3, 4}}
      v = m:t():select(1, 2)
    end
    collectgarbage()
    collectgarbage()
    assert.are.same({2, 4}, v:totable())
  end)

  it("raises on use after close, and __close/__gc are idempotent", function()
    local m = ntklab.zeros(2)
    m:release()
    m:release()
    assert.has_error(function() m:get(1) end, "attempt to use a released tensor")
    do
      local x <close> = ntklab.zeros(3)
    end
    assert.matches("released", tostring(m))
  end)

  it("prints shape and values", function()
    local s = tostring(ntklab.tensor{{1.5, 2}, {3, 4}})
    assert.matches("1%.5", s)
    assert.matches("%[2 x 2%]", s)
  end)

  it("reshapes contiguous tensors and clones strided ones", function()
    local m = ntklab.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, m:reshape(3, 2):totable())
    local c = m:t():clone()
    assert.is_true(c:is_contiguous())
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, c:totable())
  end)
end)
