-- bench/bench_util.lua: what the benchmarks in bench/ share: the repeat-and-take-the-best timing
-- rule, the median of rounds, numeric arguments with a clear error, the machine's load line,
-- the process's peak memory and the source tree's root. Loaded by path, so that a benchmark runs
-- from any working directory:
--   local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local ntklab = require "ntklab"

local bench = {}

local clock = ntklab.clock
bench.clock = clock

-- The source tree (the folder above bench/), from this file's own path.
bench.root = debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$") or "."

-- Fastest of n calls of fn, in seconds (wall time, ntklab.clock). With warm_up, one untimed
-- call first (buffers grown, pages faulted in). The fastest call is the figure least inflated
-- by other jobs on a shared machine.
function bench.best_of(n, fn, warm_up)
  if warm_up then fn() end
  local best = math.huge
  for _ = 1, n do
    local t0 = clock()
    fn()
    best = math.min(best, clock() - t0)
  end
  return best
end

-- Median of the numbers in v (sorts v in place): the middle one, or the mean of the two middle
-- ones when #v is even.
function bench.median(v)
  table.sort(v)
  return (v[(#v + 1) // 2] + v[#v // 2 + 1]) / 2
end

-- Command-line argument i as a number: default when it is absent, an error naming the script,
-- the argument and what came when it is not a number (or not an integer, with integer = true).
function bench.number_arg(i, default, name, integer)
  local s = arg[i]
  if s == nil then return default end
  local v = tonumber(s)
  if integer and v then v = math.tointeger(v) end
  if v == nil then
    error(("%s: argument %d (%s): %s expected, got '%s'"):format(arg[0], i, name,
      integer and "integer" or "number", s), 0)
  end
  return v
end

-- The first line of uptime(1): the machine's load, to print beside timings.
function bench.uptime()
  local f = io.popen("uptime")
  local line = f and f:read("l") or "?"
  if f then f:close() end
  return line
end

-- This process's peak resident memory (VmHWM) in MB, 0 where /proc/self/status is missing.
function bench.peak_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return (tonumber(s:match("VmHWM:%s*(%d+)")) or 0) / 1024
end

return bench
