-- bench/thin_matmul.lua: thin products A V (V a few columns) by ntklab.thin_matmul against
-- ntklab.matmul (dgemm), on the shapes of ntklab.cg's preconditioner at large P (issue 18):
-- Lt V with Lt [r x P] and L W with L = Lt^T [P x r], V [P x m], W [r x m].
--   build/bin/ntklab bench/thin_matmul.lua [P] [r] [m] [threads]   (default 60000 3000 10 1)
-- Prints the best of 3 for each product, the ratio, and the largest difference.
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")

local P = bench.number_arg(1, 60000, "P", true)
local r = bench.number_arg(2, 3000, "r", true)
local m = bench.number_arg(3, 10, "m", true)
local threads = bench.number_arg(4, 1, "threads", true)
ntklab.threads(threads)
if not ntklab.thin_available() then
  print("this CPU has no AVX-512: ntklab.thin_matmul does not run here")
  return
end

local rng = ntklab.rng(1)
local Lt = rng:normal(r, P)
local L = Lt:t():contiguous()
local V, W = rng:normal(P, m), rng:normal(r, m)
local function best(f) f(); return bench.best_of(3, f) end
print(("P = %d, r = %d, m = %d, %d thread(s), BLAS core %s; factor %.2f GB"):format(
  P, r, m, ntklab.threads(), ntklab.blas_core and ntklab.blas_core() or "?", 8 * P * r / 1e9))
local rows = {
  {"Lt V", function() return ntklab.matmul(Lt, V) end, function() return ntklab.thin_matmul(Lt, V) end},
  {"Lt^T W", function() return ntklab.matmul(Lt:t(), W) end, function() return ntklab.thin_matmul(L, W) end},
}
for _, row in ipairs(rows) do
  local t_blas, t_thin = best(row[2]), best(row[3])
  local d = (row[2]() - row[3]()):abs():max()
  print(("%-7s matmul %.3f s, thin_matmul %.3f s: %.2fx; max difference %.3g"):format(
    row[1], t_blas, t_thin, t_blas / t_thin, d))
end
