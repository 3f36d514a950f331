-- bench/adam_kernel.lua: the Adam kernel (ntklab.ntk with eta, Eq. 91) of the 784-100-1 ReLU net
-- against the BLAS rate it runs on (issue 17), interleaved in one run.
--   build/bin/ntklab bench/adam_kernel.lua [P] [rounds]     (default 1000 3)
-- The Adam kernel is K = (J sqrt(eta)) (J sqrt(eta))^T: P^2 #params flops as a syrk (only the
-- lower triangle; see bench/README.md for why no structured path does better for a general eta).
-- It is formed by dsyrk on tiles of 2 units x 784 inputs = 1568 Jacobian columns. The reference
-- rates: ntklab.gram (dsyrk, P^2 1568 flops, then the mirror) on a P x 1568 tile, the BLAS rate of
-- exactly the products the Adam kernel runs, and a 2000^3 GEMM for the machine's peak. Prints the
-- best of `rounds` for each.
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local clock = bench.clock
local P, rounds = bench.number_arg(1, 1000, "P", true), bench.number_arg(2, 3, "rounds", true)
local rng = ntklab.rng(1)
local X = rng:normal(P, 784)
local net = ntklab.mlp{widths = {784, 100, 1}, activation = "relu", seed = 1}
local eta = ntklab.rng(2):uniform(net:nparams()) + 0.5
local ws = ntklab.kernel_workspace()
local K = ntklab.zeros(P, P)
local T = rng:normal(P, 1568)
local G = ntklab.zeros(P, P)
local A2, B2, C2 = rng:normal(2000, 2000), rng:normal(2000, 2000), ntklab.zeros(2000, 2000)
ntklab.ntk(net, X, {eta = eta, workspace = ws, out = K}) -- warm the workspace
local best = {adam = math.huge, tile = math.huge, peak = math.huge, ntk = math.huge}
local function timed(key, f)
  local t = clock()
  f()
  best[key] = math.min(best[key], clock() - t)
end
for _ = 1, rounds do
  timed("adam", function() ntklab.ntk(net, X, {eta = eta, workspace = ws, out = K}) end)
  timed("tile", function() ntklab.gram(T, G) end)
  timed("peak", function() ntklab.matmul(A2, B2, C2) end)
  timed("ntk", function() ntklab.ntk(net, X, {workspace = ws, out = K}) end)
end
local adam_rate = P * P * net:nparams() / best.adam / 1e9
local tile_rate = P * P * 1568 / best.tile / 1e9
local peak_rate = 2 * 2000 ^ 3 / best.peak / 1e9
print(("%s; P = %d, threads %d, best of %d"):format(bench.uptime(), P, ntklab.threads(), rounds))
print(("Adam kernel %.3f s: %.1f GFLOP/s of P^2 #params (syrk flops)"):format(best.adam, adam_rate))
print(("syrk of one tile (%d x 1568) %.1f GFLOP/s; 2000^3 GEMM %.1f GFLOP/s"):format(P, tile_rate,
  peak_rate))
print(("Adam kernel / tile syrk rate %.2f, / GEMM peak %.2f; plain NTK %.4f s (%.0fx faster)"):format(
  adam_rate / tile_rate, adam_rate / peak_rate, best.ntk, best.adam / best.ntk))
