-- bench/runner.lua: what the experiment runner costs, and what a local sweep gains (issue 9).
--   build/bin/ntklab bench/runner.lua [overhead|sweep|all] [repeats (5)]
-- overhead: an experiment whose run() does nothing, through ntklab.experiment.run in-process
--           (directory transaction, config.json, machine description, summary.json) and through
--           `ntklab run` against the bare host starting and exiting (`ntklab -e ''`); best of
--           the repeats. Goal: the runner adds < 50 ms to a run.
-- sweep:    4 runs of experiments/silent_alignment.lua on a teacher problem (P = 400, D = 30,
--           width 64, 60 records, no plots, ~2 s each on one core), first one after another at
--           1 BLAS thread each, then as `ntklab sweep --jobs 2 --threads 1`; prints both wall
--           times and their ratio (goal <= 0.6 on 2 cores). Best of the repeats for each.
-- Wall time from ntklab.clock. Nothing is asserted. The machine's load (uptime) is printed
-- first: other jobs on a shared machine inflate everything, the sweep's ratio most.
local experiment = require "ntklab.experiment"
local output = require "ntklab.output"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local best_of = bench.best_of

local which = arg[1] or "all"
local repeats = bench.number_arg(2, 5, "repeats", true)
local host = arg[-1]
local root = bench.root
local function q(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end

print("load: " .. bench.uptime())

local scratch = os.tmpname()
os.remove(scratch)
assert(output.mkdir_p(scratch))

local function sh(cmd) assert(os.execute(cmd .. " >/dev/null 2>&1"), "failed: " .. cmd) end

if which == "overhead" or which == "all" then
  local empty = {name = "empty", summary = "does nothing", options = {}, run = function() return {} end}
  local in_process = best_of(repeats, function()
    assert(experiment.run(empty, {out = scratch .. "/empty", quiet = true}))
  end)
  local file = scratch .. "/empty.lua"
  assert(output.write_atomic(file, 'return {name = "empty", summary = "does nothing", options = {}, '
    .. 'run = function() return {} end}'))
  local bare = best_of(repeats, function() sh(q(host) .. " -e ''") end)
  local cli = best_of(repeats, function() sh(q(host) .. " run " .. q(file) .. " --quiet --out " .. q(scratch .. "/empty_cli")) end)
  print(string.format("runner overhead: in-process %.1f ms; `ntklab run` of an empty experiment %.1f ms "
    .. "against %.1f ms for the bare host: +%.1f ms (goal < 50 ms)", 1e3 * in_process, 1e3 * cli, 1e3 * bare,
    1e3 * (cli - bare)))
end

if which == "sweep" or which == "all" then
  local script = root .. "/experiments/silent_alignment.lua"
  local args = "--dataset teacher --P 400 --dim 30 --width 64 --records 60 --t-max 200 --no-plots --quiet"
  local seeds = {1, 2, 3, 4}
  local sequential = best_of(repeats, function()
    for _, seed in ipairs(seeds) do
      sh("OPENBLAS_NUM_THREADS=1 " .. q(host) .. " run " .. q(script) .. " " .. args .. " --threads 1 --seed "
        .. seed .. " --out " .. q(scratch .. "/seq"))
    end
  end)
  local swept = best_of(repeats, function()
    sh("rm -rf " .. q(scratch .. "/sweep"))
    sh(q(host) .. " sweep " .. q(script) .. " --seeds 1-4 --jobs 2 --threads 1 " .. args .. " --out "
      .. q(scratch .. "/sweep"))
  end)
  print(string.format("4 runs one after another at 1 thread: %.2f s; sweep --jobs 2 --threads 1: %.2f s; "
    .. "ratio %.2f (goal <= 0.6)", sequential, swept, swept / sequential))
end

os.execute("rm -rf " .. q(scratch))
