-- bench/linearized.lua: the finite-time linearized predictor (ntklab.linearized.predictor):
-- its one eigendecomposition, then 100 times on the train set and M test points, with and
-- without caller buffers. Not a test: prints numbers, asserts nothing.
--   build/bin/ntklab bench/linearized.lua [P] [M] [times]   (default P = 1000, M = 1000, 100)
local ntklab = require "ntklab"
local linearized = require "ntklab.linearized"

local P = tonumber(arg and arg[1]) or 1000
local M = tonumber(arg and arg[2]) or 1000
local T = tonumber(arg and arg[3]) or 100
local clock = ntklab.clock

local rng = ntklab.rng(1)
local X, Xt = rng:normal(P, 300), rng:normal(M, 300)
local K, Kx = ntklab.matmul(X, X:t()), ntklab.matmul(Xt, X:t())
local y = rng:normal(P)
local times = {}
for i = 1, T do times[i] = 10 ^ (-2 + 5 * (i - 1) / (T - 1)) end

local t0 = clock()
local pred = linearized.predictor{K = K, y = y, Kx = Kx}
local t_setup = clock() - t0

local best_alloc, best_buf = math.huge, math.huge
local tr, te = ntklab.zeros(P), ntklab.zeros(M)
for _ = 1, 3 do
  t0 = clock()
  pred:trajectory(times)
  best_alloc = math.min(best_alloc, clock() - t0)
  t0 = clock()
  for _, t in ipairs(times) do pred:train(t, tr); pred:test(t, te) end
  best_buf = math.min(best_buf, clock() - t0)
end
print(("P = %d, M = %d, %d times, %d BLAS threads"):format(P, M, T, ntklab.threads()))
print(("setup (eigh of K, V^T r, Kx V): %.3f s"):format(t_setup))
print(("%d times, train + test, fresh tensors (trajectory): %.3f s (best of 3)"):format(T, best_alloc))
print(("%d times, train + test, into caller buffers:       %.3f s (best of 3)"):format(T, best_buf))
