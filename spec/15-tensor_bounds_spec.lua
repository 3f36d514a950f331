-- 15-tensor_bounds: index arithmetic that cannot overflow (narrow with math.maxinteger counts,
-- UBSan-clean) and a documented cap on table conversions (totable: 2^28 entries), each failing
-- early with a clear message. Issue 11: B7, B9.
local ntklab = require "ntklab"

describe("tensor bounds", function()
  it("narrow refuses huge counts without signed overflow (B9)", function()
    local t = ntklab.rng(1):normal(3, 3)
    for _, case in ipairs{
      {1, 2, math.maxinteger, "bad argument #3 to 'narrow' %(count %d+ out of range %[0, 2%]%)"},
      {2, 4, math.maxinteger, "count %d+ out of range %[0, 0%]"},
      {1, 1, math.mininteger, "count %-%d+ out of range %[0, 3%]"},
      {1, math.maxinteger, 1, "index %d+ out of range %[1, 4%]"},
      {1, math.mininteger, 1, "index %-%d+ out of range %[1, 4%]"},
    } do
      local ok, msg = pcall(function() return t:narrow(case[1], case[2], case[3]) end)
      assert.is_false(ok)
      assert.matches(case[4], msg)
    end
    assert.are.same({0, 3}, t:narrow(1, 4, 0):shape())
    assert.are.same({3, 1}, t:narrow(2, 3, 1):shape())
  end)

  it("totable refuses more than 2^28 entries at once (B7)", function()
    local started = os.clock()
    -- [2^27 x 2]: 2^27 row tables + 2^28 numbers; no shape of fewer than 2^28 + 1 entries fails
    for _, shape in ipairs{{2 ^ 40, 0}, {2 ^ 27, 2}} do
      local t = ntklab.zeros(math.tointeger(shape[1]), shape[2] and math.tointeger(shape[2]))
      assert.has_error(function() t:totable() end,
        ("calling 'totable' on bad self (%s too large for a table (limit 2^28 entries))")
          :format(#shape == 2 and ("[%d x %d]"):format(shape[1], shape[2]) or ("[%d]"):format(shape[1])))
    end
    assert.is_true(os.clock() - started < 5, "the refusal must come before any work")
    assert.are.same({{0, 0}}, ntklab.zeros(1, 2):totable())
    assert.are.same({}, ntklab.zeros(0, 5):totable())
  end)

  it("zeros and normal refuse absurd sizes before allocating", function()
    assert.has_error(function() ntklab.zeros(2 ^ 40, 2 ^ 40) end)
    assert.has_error(function() ntklab.rng(1):normal(2 ^ 62) end)
    local ok, msg = pcall(ntklab.zeros, math.maxinteger)
    assert.is_false(ok)
    assert.matches("exceeds the limit", msg)
  end)
end)
