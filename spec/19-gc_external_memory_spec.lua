-- 19-gc_external_memory: tensor storage lives outside Lua's heap, so the collector cannot see it;
-- the binding counts the bytes of big tensors it creates and runs a full collection past
-- max(64 MiB, 2 x the Lua heap). Without that, in generational mode (lua5.4's and the host's
-- default) a big tensor that survived two minor collections stayed until a major one, which a
-- small Lua heap never triggers: the demo grew by 16 MB per record to 1.4 GB (issue 17).
local ntklab = require "ntklab"

-- Resident memory in MiB (Linux: /proc/self/status).
local function rss_mib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)")) / 1024
end

-- The loop allocates 200 x 4 MiB = 800 MiB in all, at most 4 tensors (16 MiB) live at a time.
-- Bound: the live ones, the 64 MiB the binding lets accumulate between full collections, and
-- the allocator's slack; far below the 800 MiB that accumulated before the fix.
local GROWTH_BOUND_MIB = 200

describe("big tensors dropped after surviving minor collections", function()
  it("are freed by the collector without an explicit collectgarbage()", function()
    local mode = collectgarbage("generational")
    collectgarbage()
    local before = rss_mib()
    local ring = {}
    for i = 1, 200 do
      local t = ntklab.full(512, 1024, 1) -- 4 MiB, every page touched (zeros may stay unmapped)
      ring[i % 4 + 1] = t -- alive for 4 iterations: old by the time it is dropped
    end
    local grown = rss_mib() - before
    ring = nil
    collectgarbage(mode)
    collectgarbage()
    assert.is_true(grown < GROWTH_BOUND_MIB,
      ("resident memory grew by %.0f MiB over 800 MiB of short-lived tensors"):format(grown))
  end)
end)
