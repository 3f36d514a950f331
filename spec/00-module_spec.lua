-- 00-module: loading the module leaves the global table alone.
describe("require 'ntklab'", function()
  it("leaves _G untouched", function()
    local before = {}
    for k, v in pairs(_G) do before[k] = v end
    package.loaded["ntklab"] = nil
    package.loaded["ntklab.core"] = nil
    local ntklab = require "ntklab"
    assert.is_table(ntklab)
    for k, v in pairs(_G) do assert.are.equal(before[k], v, "global '" .. tostring(k) .. "' changed") end
    for k in pairs(before) do assert.is_not_nil(_G[k], "global '" .. tostring(k) .. "' removed") end
  end)

  it("exposes a version and the thread control", function()
    local ntklab = require "ntklab"
    assert.matches("^%d+%.%d+%.%d+$", ntklab.version)
    local n = ntklab.threads()
    assert.is_true(n >= 1)
    assert.are.equal(1, ntklab.threads(1))
    ntklab.threads(n)
  end)
end)
