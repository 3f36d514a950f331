-- bench/matmul.lua: matmul through the Lua binding against a bare cblas_dgemm, and the cost of
-- one binding call on a 2 x 2 tensor. A benchmark, not a test: it prints, it asserts nothing.
--
--   build/bin/ntklab bench/matmul.lua [sizes] [reps] [rounds]
--     sizes   comma-separated matrix orders (default 1000,2000)
--     reps    timed calls per measurement; the fastest counts (default 5)
--     rounds  raw/binding measurements, interleaved so both see the same machine load
--             (default 3)
--   NTKLAB_BUILD: build directory holding bench/bench_matmul_raw (default <source>/build)
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")

local sizes = {}
for s in (arg[1] or "1000,2000"):gmatch("%d+") do sizes[#sizes + 1] = tonumber(s) end
local reps = bench.number_arg(2, 5, "reps", true)
local rounds = bench.number_arg(3, 3, "rounds", true)

local build = os.getenv("NTKLAB_BUILD") or (bench.root .. "/build")
local raw_exe = build .. "/bench/bench_matmul_raw"

local threads = ntklab.threads()

-- Fastest of `reps` single calls of ntklab.matmul(a, b, out), after a warm-up call.
local function time_binding(a, b, out)
  return bench.best_of(reps, function() ntklab.matmul(a, b, out) end, true)
end

local function time_raw(n)
  local cmd = string.format("%q %d %d %d", raw_exe, n, reps, threads)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local s = out:match("best_seconds ([%d%.eE+-]+)")
  if not s then error("bench_matmul_raw failed (" .. cmd .. "): " .. out, 0) end
  return tonumber(s)
end

print(string.format("ntklab %s, OpenBLAS threads %d, best of %d calls, %d interleaved rounds",
  ntklab.version, threads, reps, rounds))
-- Two ratios (binding rate / raw rate): of the best rates over all rounds, and the median of
-- the per-round ratios, which pairs measurements taken seconds apart and so resists load that
-- changes during the run.
print(string.format("%6s %14s %14s %12s %14s", "n", "raw GFLOP/s", "ntklab GFLOP/s", "best ratio",
  "median ratio"))
local rng = ntklab.rng(1)
for _, n in ipairs(sizes) do
  local a, b = rng:normal(n, n), rng:normal(n, n)
  local out = ntklab.zeros(n, n)
  local raw, bound, ratios = math.huge, math.huge, {}
  for k = 1, rounds do
    local r, t = time_raw(n), time_binding(a, b, out)
    raw, bound = math.min(raw, r), math.min(bound, t)
    ratios[k] = r / t
  end
  local median = bench.median(ratios)
  local flops = 2 * n ^ 3
  print(string.format("%6d %14.2f %14.2f %12.3f %14.3f", n, flops / raw / 1e9, flops / bound / 1e9,
    raw / bound, median))
  a, b, out = nil, nil, nil
  collectgarbage()
end

-- Per-call overhead on 2 x 2 tensors: the whole cost of one call from Lua (loop included),
-- with outputs reused so nothing is allocated.
local calls = 1000000
local x, y, z = ntklab.ones(2, 2), ntklab.ones(2, 2), ntklab.zeros(2, 2)
local function per_call(label, f)
  local best = bench.best_of(rounds, f, true)
  print(string.format("%-34s %8.1f ns/call", label, best / calls * 1e9))
end
print()
per_call("empty Lua loop (reference)", function() for _ = 1, calls do end end)
per_call("x:get(1, 1)", function() for _ = 1, calls do x:get(1, 1) end end)
per_call("x:add_(y)  (2 x 2, in place)", function() for _ = 1, calls do x:add_(y) end end)
per_call("x:mul_(0.5) (2 x 2, scalar)", function() for _ = 1, calls do x:mul_(0.5) end end)
per_call("ntklab.matmul(x, y, z) (2 x 2)", function() for _ = 1, calls do ntklab.matmul(x, y, z) end end)
per_call("x + y (2 x 2, allocates)", function() for _ = 1, calls do local _ = x + y end end)
