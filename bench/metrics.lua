-- bench/metrics.lua: per-record cost of the kernel metrics the recorder computes (issue 6).
--   build/bin/ntklab bench/metrics.lua [P] [calls]
-- On a P x P symmetric PSD kernel (default P = 1000, the fixed workload's) with +-1 targets:
-- kernel_norm, kernel_trace, alignment (uncentered and centered), kernel_distance against a
-- second kernel, the same five through ntklab.kernel_stats when the build has it (one pass),
-- and alignment on a transposed view. Each figure is the best of `calls` (default 10) calls,
-- in ms. Nothing is asserted.
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local P = bench.number_arg(1, 1000, "P", true)
local calls = bench.number_arg(2, 10, "calls", true)
local rng = ntklab.rng(3)
local B = rng:normal(P, 64)
local K = B:matmul(B:t())
local B0 = rng:normal(P, 64)
local K0 = B0:matmul(B0:t())
local y = ntklab.zeros(P)
for i = 1, P do y:set(i, rng:normal(1):get(1) >= 0 and 1 or -1) end

-- milliseconds, the fastest of `calls` calls
local function best(fn) return bench.best_of(calls, fn) * 1e3 end

local rows = {
  {"kernel_norm", function() ntklab.kernel_norm(K) end},
  {"kernel_trace", function() ntklab.kernel_trace(K) end},
  {"alignment", function() ntklab.alignment(K, y) end},
  {"alignment centered", function() ntklab.alignment(K, y, {centered = true}) end},
  {"kernel_distance", function() ntklab.kernel_distance(K, K0) end},
  {"alignment, transposed view", function() ntklab.alignment(K:t(), y) end},
}
local total = 0
print(string.format("P = %d, %d BLAS threads, best of %d calls", P, ntklab.threads(), calls))
for i, r in ipairs(rows) do
  local ms = best(r[2])
  if i <= 5 then total = total + ms end
  print(string.format("  %-28s %8.3f ms", r[1], ms))
end
print(string.format("  %-28s %8.3f ms", "sum of the five (separate)", total))
if ntklab.kernel_stats then
  print(string.format("  %-28s %8.3f ms", "kernel_stats (all five)",
    best(function() ntklab.kernel_stats(K, y, K0) end)))
end
