-- 46-lua_modules: the pure-Lua modules leave _G alone and load without the C engine, so
-- analysis and plotting work in the stock interpreter (and before the engine is built).
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local modules = {"ntklab.argcheck", "ntklab.theory", "ntklab.analysis", "ntklab.output"}

describe("pure-Lua modules", function()
  it("leave _G untouched", function()
    local before = {}
    for k, v in pairs(_G) do before[k] = v end
    for _, name in ipairs(modules) do
      package.loaded[name] = nil
      assert.is_table(require(name))
    end
    for k, v in pairs(_G) do assert.are.equal(before[k], v, "global '" .. tostring(k) .. "' changed") end
    for k in pairs(before) do assert.is_not_nil(_G[k], "global '" .. tostring(k) .. "' removed") end
  end)

  it("load and work in the stock lua5.4 without ntklab.core", function()
    local probe = io.popen("command -v lua5.4 2>/dev/null")
    local have = probe:read("a") ~= ""
    probe:close()
    if not have then pending("lua5.4 is not installed") return end
    local code = "package.path = '" .. source .. "/lua/?.lua;' .. package.path "
      .. "package.preload['ntklab.core'] = function() error('C engine loaded') end "
      .. "local t = require 'ntklab.theory' local a = require 'ntklab.analysis' "
      .. "require 'ntklab.output' "
      .. "io.write(tostring(t.max_alignment(2, 4)), ' ', tostring(a.compare({1, 2}, {1, 2}).corr))"
    local p = io.popen("lua5.4 -e " .. string.format("%q", code) .. " 2>&1")
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    assert.are.equal(tostring(2 / math.sqrt(7)) .. " 1.0", out)
  end)
end)
