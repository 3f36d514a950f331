-- scripts/kill_loop.lua: runs as transactions under kill -9 (issue 11).
--   build/bin/ntklab scripts/kill_loop.lua [KILLS (50)] [DIR]
-- Starts experiments/silent_alignment.lua on a small teacher problem into one --out again and
-- again, alternating seeds 1, 2 and 3, and kills each run with SIGKILL at a random instant
-- between its start and a little after its usual end. After every kill it checks the rule "a
-- summary.json means every file of this run is complete": when there is a summary, its seed is
-- config.json's, and its record count and final loss are those of trajectory.csv's last row,
-- its test count that of predictions.csv. Temporary files may remain right after a kill (the
-- writer had no chance to remove them, or a gnuplot it started was still drawing); every start
-- removes those of dead writers, so after a final complete run none may be left.
-- Exit status 0 when every check holds; prints each violation and exits 1 otherwise.
local output = require "ntklab.output"
local lfs = require "lfs"

local kills = math.tointeger(tonumber(arg[1] or "50")) or error("KILLS: integer expected")
local root = (debug.getinfo(1, "S").source:match("^@(.*)/scripts/[^/]*$") or ".")
local host = arg[-1]
local script = root .. "/experiments/silent_alignment.lua"
local dir = arg[2] or (os.tmpname() .. ".kill")
os.remove(dir)
local ARGS = "--dataset teacher --P 60 --dim 8 --test 20 --width 16 --records 40 --t-max 200 --quiet"

local function q(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end
local function clock() return require("ntklab").clock() end
local function run_cmd(seed) return q(host) .. " run " .. q(script) .. " " .. ARGS .. " --seed " .. seed .. " --out " .. q(dir) end

local violations = 0
local function violation(msg)
  violations = violations + 1
  io.stderr:write("VIOLATION: ", msg, "\n")
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local state = (f:read("l") or ""):match("^%d+ %b() (%a)")
  f:close()
  return state ~= nil and state ~= "Z"
end

local function temp_files()
  local list = {}
  if lfs.attributes(dir, "mode") ~= "directory" then return list end
  for name in lfs.dir(dir) do
    if name:find("%.tmp%.") then list[#list + 1] = name end
  end
  return list
end

-- The rule: a summary describes the files next to it.
local function check_consistent(where)
  local s = output.read_json(dir .. "/summary.json")
  if not s then return "no summary" end
  local config = output.read_json(dir .. "/config.json")
  if not config or config.config.seed ~= s.config.seed then
    violation(where .. ": summary.json's seed differs from config.json's")
  end
  local header, cols = output.read_csv(dir .. "/trajectory.csv")
  if not header then
    violation(where .. ": summary.json without a readable trajectory.csv: " .. tostring(cols))
    return "summary"
  end
  if #cols.loss ~= s.records or cols.loss[#cols.loss] ~= s.final.train_loss then
    violation(string.format("%s: summary (seed %d: %d records, final loss %.17g) disagrees with trajectory.csv (%d rows, last loss %.17g)",
      where, s.config.seed, s.records, s.final.train_loss, #cols.loss, cols.loss[#cols.loss] or 0 / 0))
  end
  local pheader, pcols = output.read_csv(dir .. "/predictions.csv")
  if not pheader or #pcols.net ~= s.data.test then
    violation(where .. ": summary's test count disagrees with predictions.csv")
  end
  return "summary"
end

-- A complete run first, to learn how long one takes.
local t0 = clock()
assert(os.execute(run_cmd(1) .. " >/dev/null 2>&1"), "the first run failed: " .. run_cmd(1))
local duration = clock() - t0
check_consistent("first run")
print(string.format("kill_loop: %d kills at random instants in [0, %.2f s] (a run takes %.2f s) into %s",
  kills, 1.3 * duration, duration, dir))

math.randomseed(os.time())
local outcomes = {summary = 0, ["no summary"] = 0}
local leftover = 0
for i = 1, kills do
  local seed = i % 3 + 1
  local started = clock()
  local p = io.popen("sh -c " .. q(run_cmd(seed) .. " >/dev/null 2>&1 & echo $!"))
  local pid = p:read("l")
  p:close()
  local delay = math.random() * 1.3 * duration
  os.execute(string.format("sleep %.3f", delay))
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
  -- wait until the process is gone (kill -9 is asynchronous; a zombie counts as gone)
  while alive(pid) do os.execute("sleep 0.01") end
  local where = string.format("kill %d (seed %d, after %.3f s)", i, seed, clock() - started)
  local outcome = check_consistent(where)
  outcomes[outcome] = outcomes[outcome] + 1
  leftover = leftover + #temp_files()
end

-- a gnuplot started by the last killed run may still be drawing: let it finish first
os.execute("sleep 1")
assert(os.execute(run_cmd(2) .. " >/dev/null 2>&1"), "the last run failed")
check_consistent("last run")
for _, name in ipairs(temp_files()) do violation("after a complete run: temporary file " .. name) end
print(string.format("kill_loop: %d kills: %d left a summary (checked against the CSVs), %d left none; "
  .. "%d temporary files seen right after kills, none after the last complete run; %d violations",
  kills, outcomes.summary, outcomes["no summary"], leftover, violations))
-- clean up
for name in lfs.dir(dir) do if name ~= "." and name ~= ".." then os.remove(dir .. "/" .. name) end end
lfs.rmdir(dir)
os.exit(violations == 0 and 0 or 1)
