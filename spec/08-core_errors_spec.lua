-- 08-core_errors: table-driven bad-argument cases for the functions of the skeleton (module
-- functions tensor, zeros, rng, threads, metatable; tensor and rng methods). Misuse raises
-- an error that names the function and the argument and says what was expected and got.
-- Rows go through spec/support/bad_args.lua so that spec/99 can see what is covered.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

describe("bad arguments to the core functions", function()
  local m = ntklab.tensor{{1, 2, 3}, {4, 5, 6}}
  local v = ntklab.tensor{1, 2}
  local r = ntklab.rng(1)
  local released = ntklab.zeros(2)
  released:release()

  bad_args.cases(it, {
    {"ntklab.tensor", function() ntklab.tensor(5) end, "bad argument #1 to 'tensor' (table expected, got number)"},
    {"ntklab.tensor", function() ntklab.tensor{1, "x"} end, "bad argument #1 to 'tensor' (number expected at [2], got string)"},
    {"ntklab.tensor", function() ntklab.tensor{{1, 2}, {3}} end, "bad argument #1 to 'tensor' (row 2 has 1 elements, row 1 has 2)"},
    {"ntklab.tensor", function() ntklab.tensor{{1}, 5} end, "(table expected for row 2, got number)"},
    {"ntklab.tensor", function() ntklab.tensor{{1, "a"}} end, "(number expected at [1][2], got string)"},
    {"ntklab.zeros", function() ntklab.zeros(-1) end, "bad argument #1 to 'zeros' (non-negative size expected, got -1)"},
    {"ntklab.zeros", function() ntklab.zeros("a") end, "bad argument #1 to 'zeros' (number expected, got string)"},
    {"ntklab.zeros", function() ntklab.zeros(2, -3) end, "bad argument #2 to 'zeros' (non-negative size expected, got -3)"},
    {"ntklab.zeros", function() ntklab.zeros(2 ^ 40, 2 ^ 40) end, "exceeds the limit"},
    {"ntklab.rng", function() ntklab.rng("x") end, "bad argument #1 to 'rng' (number expected, got string)"},
    {"ntklab.rng", function() ntklab.rng(1.5) end, "bad argument #1 to 'rng' (number has no integer representation)"},
    {"ntklab.blas_core", function() ntklab.blas_core(1) end, "bad argument #1 to 'blas_core' (no arguments expected)"},
    {"ntklab.threads", function() ntklab.threads(0) end, "bad argument #1 to 'threads' (thread count in [1, 4096] expected)"},
    {"ntklab.threads", function() ntklab.threads("x") end, "bad argument #1 to 'threads' (number expected, got string)"},
    {"ntklab.metatable", function() ntklab.metatable("nope") end, "bad argument #1 to 'metatable' (unknown type 'nope')"},
    {"ntklab.metatable", function() ntklab.metatable() end, "bad argument #1 to 'metatable' (string expected, got no value)"},

    {"tensor:get", function() m:get(0, 1) end, "bad argument #1 to 'get' (index 0 out of range [1, 2])"},
    {"tensor:get", function() m:get(1, 4) end, "bad argument #2 to 'get' (index 4 out of range [1, 3])"},
    {"tensor:get", function() v:get(3) end, "bad argument #1 to 'get' (index 3 out of range [1, 2])"},
    {"tensor:get", function() m.get(5, 1) end, "bad argument #1 to 'get' (ntklab.tensor expected, got number)"},
    {"tensor:get", function() released:get(1) end, "attempt to use a released tensor"},
    {"tensor:set", function() m:set(1, 1, "x") end, "bad argument #3 to 'set' (number expected, got string)"},
    {"tensor:set", function() m:set(3, 1, 0) end, "bad argument #1 to 'set' (index 3 out of range [1, 2])"},
    {"tensor:set", function() v:set(1) end, "bad argument #2 to 'set' (number expected, got no value)"},
    {"tensor:shape", function() m.shape(5) end, "bad argument #1 to 'shape' (ntklab.tensor expected, got number)"},
    {"tensor:shape", function() released:shape() end, "attempt to use a released tensor"},
    {"tensor:size", function() m:size(3) end, "bad argument #1 to 'size' (dimension 3 out of range [1, 2])"},
    {"tensor:size", function() m.size({}) end, "bad argument #1 to 'size' (ntklab.tensor expected, got table)"},
    {"tensor:numel", function() m.numel(nil) end, "bad argument #1 to 'numel' (ntklab.tensor expected, got nil)"},
    {"tensor:numel", function() released:numel() end, "attempt to use a released tensor"},
    {"tensor:dim", function() m.dim("x") end, "bad argument #1 to 'dim' (ntklab.tensor expected, got string)"},
    {"tensor:totable", function() m.totable(r) end, "bad argument #1 to 'totable' (ntklab.tensor expected, got ntklab.rng)"},
    {"tensor:totable", function() released:totable() end, "attempt to use a released tensor"},
    {"tensor:narrow", function() m:narrow(3, 1, 1) end, "bad argument #1 to 'narrow' (dimension 3 out of range [1, 2])"},
    {"tensor:narrow", function() m:narrow(1, 0, 1) end, "bad argument #2 to 'narrow' (index 0 out of range [1, 3])"},
    {"tensor:narrow", function() m:narrow(1, 1, 3) end, "bad argument #3 to 'narrow' (count 3 out of range [0, 2])"},
    {"tensor:narrow", function() m:narrow(1, 1) end, "bad argument #3 to 'narrow' (number expected, got no value)"},
    {"tensor:select", function() v:select(1, 1) end, "calling 'select' on bad self (2-D tensor expected, got [2])"},
    {"tensor:select", function() m:select(3, 1) end, "bad argument #1 to 'select' (dimension 3 out of range [1, 2])"},
    {"tensor:select", function() m:select(2, 4) end, "bad argument #2 to 'select' (index 4 out of range [1, 3])"},
    {"tensor:t", function() v:t() end, "calling 't' on bad self (2-D tensor expected, got [2])"},
    {"tensor:t", function() released:t() end, "attempt to use a released tensor"},
    {"tensor:clone", function() m.clone(1) end, "bad argument #1 to 'clone' (ntklab.tensor expected, got number)"},
    {"tensor:clone", function() released:clone() end, "attempt to use a released tensor"},
    {"tensor:contiguous", function() m.contiguous("s") end, "bad argument #1 to 'contiguous' (ntklab.tensor expected, got string)"},
    {"tensor:reshape", function() m:reshape(4, 2) end, "bad argument #1 to 'reshape' (cannot view [2 x 3] (6 elements) as 4 x 2)"},
    {"tensor:reshape", function() m:t():reshape(6) end, "calling 'reshape' on bad self (contiguous tensor expected"},
    {"tensor:reshape", function() m:reshape(-1) end, "bad argument #1 to 'reshape' (non-negative size expected, got -1)"},
    {"tensor:is_contiguous", function() m.is_contiguous(true) end, "bad argument #1 to 'is_contiguous' (ntklab.tensor expected, got boolean)"},
    {"tensor:release", function() m.release(5) end, "bad argument #1 to 'release' (ntklab.tensor expected, got number)"},

    {"rng:seed", function() r:seed("x") end, "bad argument #1 to 'seed' (number expected, got string)"},
    {"rng:seed", function() r.seed(m, 1) end, "bad argument #1 to 'seed' (ntklab.rng expected, got ntklab.tensor)"},
    {"rng:clone", function() r.clone(5) end, "bad argument #1 to 'clone' (ntklab.rng expected, got number)"},
    {"rng:uniform", function() r:uniform(-1) end, "bad argument #1 to 'uniform' (non-negative size expected"},
    {"rng:uniform", function() r:uniform(2, "x") end, "bad argument #2 to 'uniform' (number expected, got string)"},
    {"rng:uniform", function() r.uniform(m) end, "bad argument #1 to 'uniform' (ntklab.rng expected, got ntklab.tensor)"},
    {"rng:normal", function() r:normal(-2) end, "bad argument #1 to 'normal' (non-negative size expected"},
    {"rng:normal", function() r:normal(2, -1) end, "bad argument #2 to 'normal' (non-negative size expected"},
    {"rng:integer", function() r:integer(0) end, "bad argument #1 to 'integer' (positive bound expected, got 0)"},
    {"rng:integer", function() r:integer() end, "bad argument #1 to 'integer' (number expected, got no value)"},
    {"rng:permutation", function() r:permutation(-1) end, "bad argument #1 to 'permutation' (size in [0, 2^28] expected, got -1)"},
    {"rng:permutation", function() r:permutation(2 ^ 40) end, "(size in [0, 2^28] expected, got 1099511627776)"},
    {"rng:permutation", function() r.permutation(m, 3) end, "bad argument #1 to 'permutation' (ntklab.rng expected, got ntklab.tensor)"},
  })

  it("leaves the objects usable after the errors", function()
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, m:totable())
    assert.are.same({1, 2}, v:totable())
    assert.is_number(r:uniform())
  end)
end)
