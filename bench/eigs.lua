-- bench/eigs.lua: the k largest eigenvalues of a P x P NTK (ntklab.kernel_eigs: block Krylov on
-- an exactly symmetric kernel) against dsyevr with an index range (the same call on a copy made
-- asymmetric in one entry by one ulp, which takes the dsyevr path), interleaved, best of N.
-- Run: build/bin/ntklab bench/eigs.lua [P] [k] [calls] [kernel: mnist | random]
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local clock = bench.clock
local P, k = tonumber(arg[1]) or 1000, tonumber(arg[2]) or 5
local calls, which = tonumber(arg[3]) or 20, arg[4] or "mnist"

local X
if which == "mnist" then
  local data, pp = require "ntklab.data", require "ntklab.preprocess"
  local ds = assert(data.mnist{classes = {0, 1}, train = P, seed = 1})
  X = assert(pp.fit(ds.X_train, {rcond = 1e-2})):transform(ds.X_train)
else
  X = ntklab.rng(1):normal(P, 784)
end
local net = ntklab.mlp{widths = {X:size(2), 100, 1}, activation = "relu", sigma = 0.1, seed = 1}
local K = ntklab.ntk(net, X)
local Kd = K:clone() -- one entry off by one ulp: not exactly symmetric, so dsyevr runs
Kd:set(1, 2, Kd:get(1, 2) * (1 + 2 ^ -52))

local best_k, best_d = math.huge, math.huge
local e, ed
for _ = 1, calls do
  local t = clock()
  e = ntklab.kernel_eigs(K, k)
  best_k = math.min(best_k, clock() - t)
  t = clock()
  ed = ntklab.kernel_eigs(Kd, k)
  best_d = math.min(best_d, clock() - t)
end
local worst = 0
for i = 1, k do worst = math.max(worst, math.abs(e:get(i) - ed:get(i)) / math.abs(ed:get(i))) end
print(("%s; P = %d, k = %d, %s kernel, threads %d, best of %d"):format(bench.uptime(), P, k, which, ntklab.threads(), calls))
print(("top-%d Krylov %.2f ms, dsyevr %.2f ms, ratio %.3f, max rel diff %.2e"):format(k, best_k * 1e3,
  best_d * 1e3, best_k / best_d, worst))
