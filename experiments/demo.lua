-- demo.lua: a first look at the engine: tensors, views and the seeded RNG.
-- (The headline silent-alignment experiment replaces this once networks and NTKs land.)
local ntklab = require "ntklab"

local rng = ntklab.rng(1)
local X = rng:normal(4, 3)
print("A 4 x 3 Gaussian matrix drawn with seed 1:")
print(X)
print("Its transpose, a view sharing the same storage:")
print(X:t())
print(("BLAS threads: %d"):format(ntklab.threads()))
