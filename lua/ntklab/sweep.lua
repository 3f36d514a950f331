--- ntklab.sweep: a grid of experiment runs, on this machine, on GNU parallel or on Slurm.
--   ntklab sweep EXPERIMENT.lua --grid sigma=1e-3,1e-2 [--grid depth=2,3] [--seeds 1-5]
--                [--grid depth,sigma=2:0.05,3:0.1]   (paired values: one run per item)
--                [--out DIR] [--jobs N | --emit parallel | --emit slurm] [--threads K]
--                [--option value ...]        (the experiment's own options, for every run)
--   ntklab sweep merge DIR [--keys a,b.c]
-- Each run is one `ntklab run` of the experiment, with its own directory under DIR named from
-- its parameters ("sigma=0.001,seed=1"), its log (run.log) and, when it succeeded, its
-- summary.json. The plan goes to DIR/sweep.json and the command lines to DIR/jobs.txt (one
-- per run; a line skips its run when the run's summary.json exists), so that
--   --jobs N         runs them here, N at a time, with N x K <= cores (K BLAS threads per run);
--   --emit parallel  leaves them to GNU parallel: `parallel --joblog DIR/joblog --resume
--                    [--sshloginfile FILE] < DIR/jobs.txt` (hosts share DIR's file system);
--   --emit slurm     writes DIR/sweep.sbatch, a job array with one task per line of jobs.txt.
-- Reruns skip runs that have a summary.json: an interrupted sweep resumes where it stopped. A
-- failed run keeps its log, has no summary and has failure.json with its error. Exit status:
-- 0 when every run succeeded, k when k runs failed (100 for 100 or more), 101 for a bad command
-- line, 130 when interrupted (Ctrl-C; the host reports it). merge gathers every run into
-- DIR/runs.csv and DIR/runs.json: one row per run, its parameters, its status and chosen
-- summary keys (the experiment's `columns`, or --keys). Statuses: done, failed, incomplete
-- (started but neither summary nor failure: running, or killed), not run.
local check = require "ntklab.argcheck"
check.register()
local fs = require "ntklab.fs"
local json = require "ntklab.json"
local csv = require "ntklab.csv"
local cli = require "ntklab.cli"
local experiment = require "ntklab.experiment"

local sweep = {}

local fmt = string.format

local USAGE_STATUS = 101
local MAX_FAILED_STATUS = 100
-- A sweep of more runs than this is a typo (issue 11, B7: documented caps on counts).
local MAX_RUNS = 100000
local MAX_JOBS = 1024

local SWEEP_OPTIONS = {grid = true, seeds = true, out = true, jobs = true, emit = true,
                       threads = true, quiet = true, help = true}

--- s quoted for a POSIX shell.
function sweep.quote(s)
  s = tostring(s)
  if s:match("^[%w%./_=,:+-]+$") then return s end
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end
local q = sweep.quote

--- The number of cores this process may use (nproc honours affinity and cgroup cpusets).
function sweep.cores()
  local p = io.popen("nproc 2>/dev/null")
  local n = p and tonumber(p:read("l") or "")
  if p then p:close() end
  return n or 1
end

-- "1-5", "1,3,7" or "4" -> {1, 2, ...}; nil, msg when malformed.
local function parse_seeds(text)
  local seeds = {}
  for part in text:gmatch("[^,]+") do
    local a, b = part:match("^%s*(%-?%d+)%s*%-%s*(%-?%d+)%s*$")
    if a then
      a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
      if b < a then return nil, fmt("seed range '%s' runs backwards", part) end
      if b - a >= MAX_RUNS then return nil, fmt("seed range '%s' has more than %d seeds", part, MAX_RUNS) end
      for s = a, b do seeds[#seeds + 1] = s end
    else
      local s = math.tointeger(tonumber(part))
      if not s then return nil, fmt("seed '%s' is not an integer (seeds: 1-5, 1,3,7 or 4)", part) end
      seeds[#seeds + 1] = s
    end
  end
  if #seeds == 0 then return nil, "no seeds in '" .. text .. "'" end
  return seeds
end

-- A value as a directory-name part: characters a shell or a file system dislikes become _.
local function name_part(text) return (text:gsub("[^%w%.%+%-]", "_")) end

-- Checks one option value of the module the way `ntklab run` will; returns nil or a message.
local function check_value(spec, name, text)
  local opt
  for _, o in ipairs(spec.options) do if o.name == name then opt = o end end
  if not opt then
    local names = {}
    for _, o in ipairs(spec.options) do names[#names + 1] = o.name end
    local near = cli.nearest(name, names)
    return fmt("the experiment has no option '%s'%s", name, near and fmt(" (did you mean '%s'?)", near) or "")
  end
  local _, msg = cli.parse_args({name = "sweep", options = {opt}}, {"--" .. name, text})
  if msg then return (msg:gsub("^sweep: ", ""):gsub(" %(see %-%-help%)$", "")) end
  return nil
end

-- A grid entry as an axis {names, tuples}: {name, {"v1", "v2"}} is one option,
-- {{"depth", "sigma"}, {{"2", "0.05"}, ...}} options whose values are paired.
local function grid_axis(g)
  if type(g) ~= "table" or type(g[2]) ~= "table" then
    return nil, "a grid entry {name, values} or {{names...}, {{values...}, ...}} expected"
  end
  if type(g[1]) == "string" then
    local tuples = {}
    for i, v in ipairs(g[2]) do tuples[i] = {tostring(v)} end
    return {names = {g[1]}, tuples = tuples}
  elseif type(g[1]) == "table" and #g[1] > 0 then
    local tuples = {}
    for i, t in ipairs(g[2]) do
      if type(t) ~= "table" then return nil, fmt("--grid %s: item %d is not a list of values", table.concat(g[1], ","), i) end
      local tuple = {}
      for j, v in ipairs(t) do tuple[j] = tostring(v) end
      tuples[i] = tuple
    end
    return {names = {table.unpack(g[1])}, tuples = tuples}
  end
  return nil, "a grid entry's name: a string or a list of strings expected, got " .. type(g[1])
end

--- Expands a sweep into its runs. p: {module = path (absolute or relative to the working
-- directory), grid = {{name, {"v1", "v2"}}, ...} (values as text, as on a command line; an
-- entry {{"depth", "sigma"}, {{"2", "0.05"}, {"3", "0.1"}}} pairs values instead of a product),
-- seeds = {1, 2} (optional), fixed = {"--option", "value", ...} (for every run), out = dir,
-- threads = K (BLAS threads per run, default 1), host = the ntklab executable}.
-- Returns the plan {module, out, host, threads, params = {names...}, runs = {{name, dir,
-- params = {name = text}, args = {...}}, ...}}, or nil, msg for a bad sweep.
function sweep.plan(p)
  local f = "sweep.plan"
  check.table(p, 1, f)
  check.string(p.module, 1, f)
  check.string(p.out, 1, f)
  check.string(p.host, 1, f)
  local module_path, err = fs.absolute(p.module)
  if not module_path then return nil, err end
  local m
  m, err = experiment.load(module_path)
  if not m then return nil, err end
  local ok, spec = pcall(experiment.spec, m)
  if not ok then return nil, tostring(spec) end
  local out
  out, err = fs.absolute(p.out)
  if not out then return nil, err end
  if out == "/" then return nil, "--out: a directory of the sweep's own expected, got '/'" end
  local threads = p.threads or 1
  -- Every axis of the grid is {names, tuples}: one option ({"sigma"}, {{"1e-3"}, {"1e-2"}}) or
  -- several paired ones ({"depth", "sigma"}, {{"2", "0.05"}, {"3", "0.1"}}), whose values go
  -- together instead of forming a product.
  local axes, names, seen = {}, {}, {}
  for _, g in ipairs(p.grid or {}) do
    local axis, msg = grid_axis(g)
    if not axis then return nil, msg end
    local label = table.concat(axis.names, ",")
    for _, name in ipairs(axis.names) do
      if seen[name] then return nil, fmt("--grid %s given twice", name) end
      if SWEEP_OPTIONS[name] then return nil, fmt("--grid %s: '%s' is the sweep's own option", label, name) end
      seen[name] = true
      names[#names + 1] = name
    end
    if #axis.tuples == 0 then return nil, fmt("--grid %s: no values", label) end
    for _, tuple in ipairs(axis.tuples) do
      if #tuple ~= #axis.names then
        return nil, fmt("--grid %s: %d values separated by ':' expected in each item, got '%s'", label,
          #axis.names, table.concat(tuple, ":"))
      end
      for j, v in ipairs(tuple) do
        msg = check_value(spec, axis.names[j], v)
        if msg then return nil, "--grid " .. axis.names[j] .. ": " .. msg end
      end
    end
    axes[#axes + 1] = axis
  end
  local seeds = p.seeds
  if seeds then
    if seen.seed then return nil, "--seeds and --grid seed=... both set the seed" end
    local msg = check_value(spec, "seed", tostring(seeds[1]))
    if msg then return nil, "--seeds: " .. msg end
    local tuples = {}
    for i, s in ipairs(seeds) do tuples[i] = {fmt("%d", s)} end
    axes[#axes + 1] = {names = {"seed"}, tuples = tuples}
    names[#names + 1] = "seed"
  end
  local fixed = p.fixed or {}
  -- the fixed options must parse too (and must not set a swept one)
  local fvalues, fmsg = cli.parse_args({name = "sweep", options = spec.options}, fixed)
  if not fvalues then return nil, (fmsg:gsub("^sweep: ", ""):gsub(" %(see %-%-help%)$", "")) end
  for i = 1, #fixed do
    local key = fixed[i]:match("^%-%-([^=]+)")
    key = key and key:gsub("-", "_")
    if key and (seen[key] or (seeds and key == "seed")) then
      return nil, fmt("--%s is swept (--grid/--seeds) and fixed at once", key)
    end
    if key == "out" or key == "quiet" or key == "threads" then
      return nil, fmt("--%s belongs to the sweep, not to each run", key)
    end
  end
  local total = 1
  for _, axis in ipairs(axes) do total = total * #axis.tuples end
  if total > MAX_RUNS then return nil, fmt("the sweep has %d runs, more than %d", total, MAX_RUNS) end
  local runs = {}
  local function expand(k, params, parts, args)
    if k > #axes then
      local name = #parts > 0 and table.concat(parts, ",") or "run"
      local dir = out .. "/" .. name
      local a = {}
      for _, x in ipairs(args) do a[#a + 1] = x end
      for _, x in ipairs(fixed) do a[#a + 1] = x end
      local copy = {}
      for key, v in pairs(params) do copy[key] = v end
      runs[#runs + 1] = {name = name, dir = dir, params = copy, args = a}
      return
    end
    local axis = axes[k]
    for _, tuple in ipairs(axis.tuples) do
      for j, gname in ipairs(axis.names) do
        local v = tuple[j]
        params[gname] = v
        parts[#parts + 1] = gname .. "=" .. name_part(v)
        args[#args + 1] = "--" .. gname:gsub("_", "-")
        args[#args + 1] = v
      end
      expand(k + 1, params, parts, args)
      for _ in ipairs(axis.names) do args[#args], args[#args - 1], parts[#parts] = nil, nil, nil end
    end
    for _, gname in ipairs(axis.names) do params[gname] = nil end
  end
  expand(1, {}, {}, {})
  local dirs = {}
  for _, r in ipairs(runs) do
    if dirs[r.dir] then return nil, fmt("two runs map to one directory '%s': values differ only in characters outside [A-Za-z0-9.+-]", r.name) end
    dirs[r.dir] = true
  end
  return {experiment = m.name, module = module_path, out = out, host = p.host, threads = threads,
          params = names, runs = runs, columns = m.columns}
end

--- The shell command of one run: skips it when its summary exists, else runs it with its log.
function sweep.command(plan, run)
  local parts = {q(plan.host), "run", q(plan.module)}
  for _, a in ipairs(run.args) do parts[#parts + 1] = q(a) end
  parts[#parts + 1] = "--out"
  parts[#parts + 1] = q(run.dir)
  parts[#parts + 1] = "--threads"
  parts[#parts + 1] = fmt("%d", plan.threads)
  return fmt("[ -e %s ] || OPENBLAS_NUM_THREADS=%d %s > %s 2>&1", q(run.dir .. "/summary.json"),
    plan.threads, table.concat(parts, " "), q(run.dir .. "/run.log"))
end

local function runs_json(plan)
  local runs = {}
  for i, r in ipairs(plan.runs) do runs[i] = {name = r.name, dir = r.dir, params = r.params, args = json.array(r.args)} end
  return json.array(runs)
end

--- Writes the plan: DIR/sweep.json, DIR/jobs.txt and every run's directory. Returns the path of
-- jobs.txt, or nil, msg.
function sweep.write_plan(plan)
  check.table(plan, 1, "sweep.write_plan")
  local ok, err = fs.mkdir_p(plan.out)
  if not ok then return nil, err end
  ok, err = fs.clean_temp(plan.out) -- an interrupted sweep's list of pending runs
  if not ok then return nil, err end
  for _, r in ipairs(plan.runs) do
    ok, err = fs.mkdir_p(r.dir)
    if not ok then return nil, err end
  end
  ok, err = json.write_json(plan.out .. "/sweep.json", {experiment = plan.experiment, module = plan.module,
    host = plan.host, threads = plan.threads, params = json.array(plan.params), runs = runs_json(plan),
    columns = plan.columns and json.array(plan.columns) or nil})
  if not ok then return nil, err end
  local jobs = plan.out .. "/jobs.txt"
  ok, err = fs.write_atomic(jobs, function(emit)
    for _, r in ipairs(plan.runs) do emit(sweep.command(plan, r) .. "\n") end
  end)
  if not ok then return nil, err end
  return jobs
end

--- The Slurm job-array script for a written plan: task i runs line i of jobs.txt.
function sweep.slurm_script(plan)
  return table.concat({
    "#!/bin/bash",
    fmt("#SBATCH --job-name=ntklab-%s", plan.experiment),
    fmt("#SBATCH --array=1-%d", #plan.runs),
    fmt("#SBATCH --cpus-per-task=%d", plan.threads),
    "#SBATCH --ntasks=1",
    fmt("#SBATCH --output=%s/slurm-%%A_%%a.out", plan.out),
    "# One array task per run of " .. plan.module .. ", each the same `ntklab run` as",
    "# `ntklab sweep --jobs` would start; submit with sbatch, then `ntklab sweep merge " .. plan.out .. "`.",
    "set -eu",
    ': "${SLURM_ARRAY_TASK_ID:?this script is a Slurm array job (sbatch), or set SLURM_ARRAY_TASK_ID}"',
    fmt("line=$(sed -n \"${SLURM_ARRAY_TASK_ID}p\" %s)", q(plan.out .. "/jobs.txt")),
    '[ -n "$line" ] || { echo "no run number $SLURM_ARRAY_TASK_ID in jobs.txt" >&2; exit 1; }',
    'exec bash -c "$line"',
  }, "\n") .. "\n"
end

local function has_summary(run)
  local lfs = fs.lfs()
  return lfs and lfs.attributes(run.dir .. "/summary.json", "mode") == "file"
end

--- Runs a written plan here, `jobs` at a time. Returns done, failed, skipped (counts) and the
-- failed runs' names. report(line), when given, hears of each finished run.
-- xargs -P (findutils) keeps `jobs` runs going and prints "<line> <exit status>" as each ends;
-- this process blocks on that pipe instead of polling.
function sweep.run_local(plan, jobs, report)
  check.table(plan, 1, "sweep.run_local")
  check.integer(jobs, 2, "sweep.run_local", 1)
  local pending, skipped = {}, 0
  for i, r in ipairs(plan.runs) do
    if has_summary(r) then skipped = skipped + 1 else pending[#pending + 1] = i end
  end
  local done, failed, failed_names = 0, 0, {}
  if #pending == 0 then return done, failed, skipped, failed_names end
  local list = fs.temp_name(plan.out .. "/pending")
  local ok, err = fs.write_atomic(list, table.concat(pending, "\n") .. "\n")
  if not ok then error(err, 0) end
  local jobs_file = plan.out .. "/jobs.txt"
  local worker = fmt([[line=$(sed -n "${1}p" %s); bash -c "$line" </dev/null >/dev/null 2>&1; echo "$1 $?"]],
    q(jobs_file))
  local pipe = io.popen(fmt("xargs -P %d -n 1 sh -c %s _ < %s", jobs, q(worker), q(list)), "r")
  for line in pipe:lines() do
    local index, code = line:match("^(%d+) (%d+)$")
    local r = index and plan.runs[tonumber(index)]
    if r then
      code = tonumber(code)
      if code == 0 and has_summary(r) then
        done = done + 1
        if report then report(fmt("done   %s", r.name)) end
      else
        failed = failed + 1
        failed_names[#failed_names + 1] = r.name
        if report then report(fmt("FAILED %s (exit %d; log: %s/run.log)", r.name, code, r.dir)) end
      end
    end
  end
  pipe:close()
  os.remove(list)
  return done, failed, skipped, failed_names
end

-- summary value at a dotted path ("runs.1.t_half"): tables by key, arrays by index.
local function at_path(t, path)
  local v = t
  for part in path:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    local idx = math.tointeger(tonumber(part))
    if idx and v[idx] ~= nil then v = v[idx] else v = v[part] end
  end
  if type(v) == "table" then return nil end
  return v
end

-- Default columns: every scalar at the top level of the summaries, sorted.
local function scalar_keys(summaries)
  local keys, seen = {}, {}
  for _, s in ipairs(summaries) do
    for k, v in pairs(s) do
      if type(k) == "string" and type(v) ~= "table" and not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  return keys
end

--- Gathers the runs of the sweep in dir into dir/runs.csv and dir/runs.json. keys: summary
-- paths for the columns (default: the experiment's `columns`, else every top-level scalar).
-- Returns {rows =, columns =, done =, failed =, missing =}, or nil, msg.
function sweep.merge(dir, keys)
  check.string(dir, 1, "sweep.merge")
  if keys ~= nil then check.table(keys, 2, "sweep.merge") end
  local abs, err = fs.absolute(dir)
  if not abs then return nil, err end
  local plan
  plan, err = json.read_json(abs .. "/sweep.json")
  if not plan then return nil, fmt("%s is not a sweep directory (no readable sweep.json: %s)", dir, tostring(err)) end
  local summaries, rows = {}, {}
  local counts = {done = 0, failed = 0, incomplete = 0, missing = 0}
  local lfs = fs.lfs()
  for i, r in ipairs(plan.runs) do
    local s = json.read_json(r.dir .. "/summary.json")
    local status, failure
    if s then
      status = "done"
      summaries[#summaries + 1] = s
    else
      failure = json.read_json(r.dir .. "/failure.json")
      if failure then
        status = "failed"
      elseif lfs and lfs.attributes(r.dir .. "/config.json", "mode") then
        status = "incomplete" -- started: still running, or killed
      else
        status = "missing"
      end
    end
    counts[status] = counts[status] + 1
    rows[i] = {run = r.name, status = status == "missing" and "not run" or status, summary = s,
               params = r.params, error = failure and failure.error}
  end
  keys = keys or (type(plan.columns) == "table" and plan.columns) or scalar_keys(summaries)
  local columns, is_param = {"run", "status"}, {run = true, status = true}
  for _, p in ipairs(plan.params) do columns[#columns + 1], is_param[p] = p, true end
  local chosen = {}
  for _, k in ipairs(keys) do
    if not is_param[k] then chosen[#chosen + 1], columns[#columns + 1] = k, k end
  end
  keys = chosen
  local records = {}
  for i, row in ipairs(rows) do
    local rec = {run = row.run, status = row.status, error = row.error}
    for _, p in ipairs(plan.params) do
      local v = row.params[p]
      rec[p] = tonumber(v) or v
    end
    for _, k in ipairs(keys) do
      local v = row.summary and at_path(row.summary, k)
      if type(v) == "userdata" then v = nil end -- cjson.null
      rec[k] = v
    end
    records[i] = rec
  end
  local ok
  local csv_columns = {table.unpack(columns)}
  if counts.failed > 0 then csv_columns[#csv_columns + 1] = "error" end
  ok, err = csv.write_csv(abs .. "/runs.csv", csv_columns, records)
  if not ok then return nil, err end
  ok, err = json.write_json(abs .. "/runs.json", {experiment = plan.experiment, columns = json.array(columns),
    runs = json.array(records)})
  if not ok then return nil, err end
  return {rows = records, columns = columns, done = counts.done, failed = counts.failed,
          incomplete = counts.incomplete, missing = counts.missing}
end

local function usage()
  return table.concat({
    "usage: ntklab sweep EXPERIMENT.lua --grid NAME=V1,V2 [--grid ...] [--seeds 1-5] [--out DIR]",
    "                    [--jobs N | --emit parallel | --emit slurm] [--threads K] [--quiet]",
    "                    [--option value ...]   (the experiment's options, the same for every run)",
    "       ntklab sweep merge DIR [--keys KEY1,KEY2.SUB]",
    "",
    "  --grid NAME=V1,V2  one swept option and its values (repeat for a product of grids)",
    "  --grid A,B=a1:b1,a2:b2  options swept together, paired (a1 with b1, ...), not crossed",
    "  --seeds LIST       seeds: 1-5, 1,3,7 or 4 (the experiment's --seed)",
    "  --out DIR          the sweep's directory (default results/sweeps/EXPERIMENT)",
    "  --jobs N           runs at a time on this machine (default: cores / threads)",
    "  --threads K        BLAS threads per run (default: 1, or cores / jobs); N x K <= cores",
    "  --emit parallel    write DIR/jobs.txt for GNU parallel instead of running",
    "  --emit slurm       write DIR/sweep.sbatch (a job array over DIR/jobs.txt) instead of running",
    "  --quiet            no line per finished run",
    "Runs with a summary.json are skipped; exit status: 0 all done, k = runs failed (max 100),",
    "101 a bad command line. merge writes DIR/runs.csv and DIR/runs.json.",
  }, "\n") .. "\n"
end

local function fail_usage(msg)
  io.stderr:write("ntklab sweep: ", msg, "\n")
  return USAGE_STATUS
end

local function host_path(host)
  local lfs = fs.lfs()
  local exe = lfs and lfs.symlinkattributes and lfs.symlinkattributes("/proc/self/exe")
  if exe and exe.target and exe.target:match("/ntklab$") then return exe.target end
  if host and host:find("/", 1, true) then return fs.absolute(host) end
  return host or "ntklab"
end

local function merge_main(args)
  local dir, keys
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--keys" then
      keys = {}
      for k in (args[i + 1] or ""):gmatch("[^,]+") do keys[#keys + 1] = k end
      i = i + 2
    elseif a:match("^%-%-keys=") then
      keys = {}
      for k in a:sub(8):gmatch("[^,]+") do keys[#keys + 1] = k end
      i = i + 1
    elseif a:sub(1, 1) == "-" or dir then
      return fail_usage(fmt("merge: unexpected argument '%s' (ntklab sweep merge DIR [--keys a,b])", a))
    else
      dir = a
      i = i + 1
    end
  end
  if not dir then return fail_usage("merge: the sweep's directory expected (ntklab sweep merge DIR)") end
  local res, err = sweep.merge(dir, keys)
  if not res then io.stderr:write("ntklab sweep merge: ", err, "\n") return 1 end
  io.stdout:write(fmt("%d runs (%d done, %d failed, %d not run%s) -> %s/runs.csv, runs.json\n", #res.rows,
    res.done, res.failed, res.missing,
    res.incomplete > 0 and fmt(", %d started without an end: running or killed", res.incomplete) or "", dir))
  return 0
end

--- `ntklab sweep ...` (see the top of this file). host: the ntklab executable (arg[-1]).
-- Returns the exit status.
function sweep.main(args, host)
  check.table(args, 1, "sweep.main")
  if args[1] == "merge" then return merge_main({table.unpack(args, 2)}) end
  if args[1] == nil or args[1] == "--help" or args[1] == "-h" then
    io.stdout:write(usage())
    return args[1] == nil and USAGE_STATUS or 0
  end
  local module = args[1]
  local grid, fixed = {}, {}
  local seeds, out, jobs, emit, threads, quiet
  local i = 2
  local function value(name)
    local a = args[i]
    local inline = a:match("^%-%-[%w_-]+=(.*)$")
    if inline then i = i + 1 return inline end
    local v = args[i + 1]
    i = i + 2
    if v == nil then error({usage = "--" .. name .. " needs a value"}) end
    return v
  end
  local ok, perr = pcall(function()
    while i <= #args do
      local a = args[i]
      local name = a:match("^%-%-([%w_-]+)")
      if not name then error({usage = fmt("unexpected argument '%s'", a)}) end
      name = name:gsub("-", "_")
      if name == "help" then error({help = true}) end
      if name == "grid" then
        local g = value("grid")
        local gnames, list = g:match("^([%a][%w_,-]*)=(.+)$")
        if not gnames then error({usage = fmt("--grid NAME=V1,V2 or NAME1,NAME2=A1:B1,A2:B2 expected, got '%s'", g)}) end
        local names = {}
        for n in gnames:gmatch("[^,]+") do names[#names + 1] = (n:gsub("-", "_")) end
        if #names == 1 then
          local values = {}
          for v in list:gmatch("[^,]+") do values[#values + 1] = v end
          grid[#grid + 1] = {names[1], values}
        else
          -- paired options: each comma-separated item holds one value per name, split by ':'
          local tuples = {}
          for item in list:gmatch("[^,]+") do
            local tuple = {}
            for v in (item .. ":"):gmatch("([^:]*):") do tuple[#tuple + 1] = v end
            tuples[#tuples + 1] = tuple
          end
          grid[#grid + 1] = {names, tuples}
        end
      elseif name == "seeds" then
        local s, msg = parse_seeds(value("seeds"))
        if not s then error({usage = "--seeds: " .. msg}) end
        seeds = s
      elseif name == "out" then
        out = value("out")
      elseif name == "jobs" or name == "threads" then
        local v = math.tointeger(tonumber(value(name)))
        if not v or v < 1 or v > MAX_JOBS then error({usage = fmt("--%s: integer from 1 to %d expected", name, MAX_JOBS)}) end
        if name == "jobs" then jobs = v else threads = v end
      elseif name == "emit" then
        emit = value("emit")
        if emit ~= "parallel" and emit ~= "slurm" then
          local near = cli.nearest(emit, {"parallel", "slurm"})
          error({usage = fmt("--emit: parallel or slurm expected, got '%s'%s", emit,
            near and fmt(" (did you mean %s?)", near) or "")})
        end
      elseif name == "quiet" then
        quiet = true
        i = i + 1
      else
        -- the experiment's own option: passed to every run as given
        fixed[#fixed + 1] = a
        if not a:find("=", 1, true) and args[i + 1] and not args[i + 1]:match("^%-%-") then
          fixed[#fixed + 1] = args[i + 1]
          i = i + 1
        end
        i = i + 1
      end
    end
  end)
  if not ok then
    if type(perr) == "table" and perr.help then io.stdout:write(usage()) return 0 end
    if type(perr) == "table" and perr.usage then return fail_usage(perr.usage) end
    error(perr, 0)
  end
  if emit and jobs then return fail_usage("--jobs runs here, --emit leaves the running to another tool: give one") end
  local cores = sweep.cores()
  if not emit then
    if jobs and threads and jobs * threads > cores then
      return fail_usage(fmt("--jobs %d x --threads %d = %d BLAS threads on %d cores: lower one", jobs, threads,
        jobs * threads, cores))
    end
    threads = threads or math.max(1, cores // (jobs or cores))
    jobs = jobs or math.max(1, cores // threads)
  end
  local m = experiment.load(module)
  local plan, err = sweep.plan{module = module, grid = grid, seeds = seeds, fixed = fixed,
    out = out or ("results/sweeps/" .. (m and m.name or "sweep")), threads = threads or 1, host = host_path(host)}
  if not plan then return fail_usage(err) end
  local jobs_file
  jobs_file, err = sweep.write_plan(plan)
  if not jobs_file then io.stderr:write("ntklab sweep: ", err, "\n") return 1 end
  local say = quiet and function() end or function(line) io.stdout:write(line, "\n") io.stdout:flush() end
  if emit == "parallel" then
    say(fmt("%d runs -> %s (one command per line)", #plan.runs, jobs_file))
    say(fmt("run them with GNU parallel (add --sshloginfile FILE for other hosts sharing this file system):"))
    say(fmt("  parallel --jobs %d --joblog %s --resume < %s", math.max(1, cores // plan.threads),
      q(plan.out .. "/joblog"), q(jobs_file)))
    say(fmt("then: ntklab sweep merge %s", q(plan.out)))
    return 0
  elseif emit == "slurm" then
    local script = plan.out .. "/sweep.sbatch"
    local wok, werr = fs.write_atomic(script, sweep.slurm_script(plan))
    if not wok then io.stderr:write("ntklab sweep: ", werr, "\n") return 1 end
    say(fmt("%d runs -> %s (a job array over %s)", #plan.runs, script, jobs_file))
    say(fmt("submit: sbatch %s; then: ntklab sweep merge %s", q(script), q(plan.out)))
    return 0
  end
  say(fmt("%d runs of %s, %d at a time, %d BLAS thread%s each -> %s", #plan.runs, plan.experiment, jobs,
    plan.threads, plan.threads == 1 and "" or "s", plan.out))
  local done, failed, skipped = sweep.run_local(plan, jobs, say)
  say(fmt("%d done, %d failed, %d skipped (a summary.json was there); merge: ntklab sweep merge %s",
    done, failed, skipped, q(plan.out)))
  if failed > 0 then
    io.stderr:write(fmt("ntklab sweep: %d of %d runs failed (their run.log says why)\n", failed, #plan.runs))
  end
  return math.min(failed, MAX_FAILED_STATUS)
end

return sweep
