--- ntklab: neural tangent kernels, networks and training, scripted in Lua.
-- This module wraps the C module `ntklab.core` and adds the Lua-side conveniences to the
-- same metatables. It leaves _G untouched.
local core = require "ntklab.core"

local ntklab = {}
for name, value in pairs(core) do ntklab[name] = value end
ntklab.core = core

return ntklab
