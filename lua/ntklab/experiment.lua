--- ntklab.experiment: the one runner of experiments.
-- An experiment is a module (a file in experiments/) that returns
--   {name = "silent_alignment", summary = "one line",
--    options = {{name =, type =, default =, help =, choices =, min =, max =}, ...},
--    run = function(cfg, ctx) ... return summary_table end,
--    verdict = function(summary) return verdict_text, reason end,   -- optional
--    report = function(summary) return "lines for the terminal" end} -- optional
-- It parses nothing and manages no files: the runner owns the command line (--help is made
-- from the declarations), the output directory and its transaction, progress, timing and the
-- machine description. ctx (the run's context) carries:
--   ctx.out                     the run's directory (absolute)
--   ctx.path(name)              ctx.out .. "/" .. name
--   ctx.write_json(name, v), ctx.write_csv(name, columns, rows)   atomic, or raise on failure
--   ctx.plot(name, opts)        a PNG and its SVG (ntklab.plot's plot, or figure when opts has
--                               panels); a missing gnuplot is a warning, not a failure
--   ctx.add_plot(name, ok, msg) records a PNG drawn by other code (a panel) into ctx.path(name)
--   ctx.files                   what the writers wrote: {[stem] = path, plots = {...}}
--   ctx.progress(opts)          a progress reporter (ntklab.progress) that honours --quiet
--   ctx.timer                   timer:lap(name), timer:add(name, s), timer:elapsed()
--   ctx.clock                   the monotonic clock (ntklab.clock)
--   ctx.log(...)                a line on stderr (not with --quiet)
--   ctx.fail(msg)               ends the run as a failure (no summary) with msg
--   ctx.record(rec, trainer, net [, opts])  rec:run(trainer, net, opts) (an ntklab.recorder) with
--                               a progress line per record; a failure of training fails the
--                               run. Returns the seconds it took. A request to finish early
--                               (SIGUSR1 to the host: `kill -USR1 <pid>`) ends the training at
--                               its next record; the run then analyses what it has, and its
--                               summary says finished_on_request = true
-- Runs are transactions: at the start the runner removes the directory's old summary.json and
-- the temporary files that killed writers left there; then it writes config.json, then the
-- run's files, then summary.json, last and atomically. So a summary.json means every file of
-- that run is complete, under kill -9 at any instant. A run that fails (ctx.fail, an error,
-- divergence reported by a trainer) leaves no summary.json, and failure.json with its error.
--   experiment.run(module, cfg [, opts])   in-process (specs); returns summary, out or nil, msg
--   experiment.main(args)                  `ntklab run FILE [--option value ...]`
local check = require "ntklab.argcheck"
check.register()
local fs = require "ntklab.fs"
local json = require "ntklab.json"
local output = require "ntklab.output" -- write_csv, plot, figure, progress
local cli = require "ntklab.cli"

local experiment = {}

local fmt = string.format

-- Options every experiment gets from the runner. Their names are reserved.
local RUNNER_OPTIONS = {
  {name = "out", type = "string", help = "output directory, relative to the working directory (default results/NAME)"},
  {name = "threads", type = "integer", min = 1, max = 1024,
    help = "BLAS threads (default: OpenBLAS's choice, OPENBLAS_NUM_THREADS or the cores)"},
  {name = "quiet", type = "boolean", default = false, help = "no progress and no report"},
}
local RESERVED = {help = true}
for _, o in ipairs(RUNNER_OPTIONS) do RESERVED[o.name] = true end

local function load_module(path)
  local chunk, err = loadfile(path)
  if not chunk then return nil, err end
  local ok, m = pcall(chunk)
  if not ok then return nil, fmt("%s: %s", path, tostring(m)) end
  if type(m) ~= "table" then
    return nil, fmt("%s: an experiment module returns a table {name, summary, options, run}, got %s",
      path, type(m))
  end
  m.path = m.path or path
  return m
end

--- Loads an experiment module from a file. Returns the module table, or nil, msg.
function experiment.load(path)
  check.string(path, 1, "experiment.load")
  return load_module(path)
end

-- Checks a module's shape; returns the options spec for ntklab.cli (module + runner options).
local function module_spec(f, m)
  check.table(m, 1, f)
  if type(m.name) ~= "string" or not m.name:match("^[%w_%-]+$") then
    check.fail(1, f, "module.name: a name of letters, digits, _ and - expected, got " .. tostring(m.name))
  end
  if type(m.run) ~= "function" then check.fail(1, f, "module.run: function expected, got " .. check.typename(m.run)) end
  if type(m.options) ~= "table" then check.fail(1, f, "module.options: array expected, got " .. check.typename(m.options)) end
  for _, key in ipairs{"verdict", "report"} do
    if m[key] ~= nil and type(m[key]) ~= "function" then
      check.fail(1, f, fmt("module.%s: function expected, got %s", key, check.typename(m[key])))
    end
  end
  local options = {}
  for i, o in ipairs(m.options) do
    if type(o) == "table" and RESERVED[o.name] then
      check.fail(1, f, fmt("module.options[%d]: '%s' is the runner's option", i, o.name))
    end
    options[i] = o
  end
  for _, o in ipairs(RUNNER_OPTIONS) do
    if o.name == "out" and type(m.name) == "string" then -- the help names this module's default
      local named = {}
      for k, v in pairs(o) do named[k] = v end
      named.help = o.help:gsub("results/NAME", "results/" .. m.name)
      o = named
    end
    options[#options + 1] = o
  end
  local spec = {name = "run " .. (m.path or m.name), description = m.summary, options = options}
  local ok, err = pcall(cli.check_spec, f, spec)
  if not ok then error(err, 0) end
  return spec
end

--- The options spec of a module (its options and the runner's), as ntklab.cli takes it.
function experiment.spec(m)
  return module_spec("experiment.spec", m)
end

-- cfg completed with defaults and checked against the spec; raises a bad argument naming the
-- option (with the valid choices, or a "did you mean" for an unknown name).
local function resolve(f, m, spec, cfg)
  local byname, names = {}, {}
  for _, o in ipairs(spec.options) do byname[o.name], names[#names + 1] = o, o.name end
  local values = {}
  for k, v in pairs(cfg) do
    local o = byname[k]
    if not o then
      local near = type(k) == "string" and cli.nearest(k, names)
      check.fail(2, f, fmt("unknown option '%s' for %s%s", tostring(k), m.name,
        near and fmt(" (did you mean '%s'?)", near) or ""))
    end
    -- the command line's conversion and checks, applied to the value's text
    local text = type(v) == "number" and json.number_text_exact(v) or tostring(v)
    local ok = (o.type == "number" and type(v) == "number") or (o.type == "integer" and math.type(v) == "integer")
      or (o.type == "string" and type(v) == "string") or (o.type == "boolean" and type(v) == "boolean")
      or o.type == "choice"
    if not ok then check.fail(2, f, fmt("option '%s': %s expected, got %s", k, o.type, check.typename(v))) end
    local parsed, msg = cli.parse_args({name = m.name, options = {o}}, {"--" .. k .. "=" .. text})
    if not parsed then check.fail(2, f, (msg:gsub("^[^:]*: ", ""):gsub(" %(see %-%-help%)$", ""))) end
    values[k] = v
  end
  for _, o in ipairs(spec.options) do
    if values[o.name] == nil then values[o.name] = o.default end
  end
  values.out = values.out or ("results/" .. m.name)
  return values
end

-- The run's directory: absolute (relative paths are taken from the working directory, i.e.
-- the caller's), and never the root or an existing non-directory.
local function out_dir(f, out)
  local dir, err = fs.absolute(out)
  if not dir then return nil, err end
  if dir == "/" then
    check.fail(2, f, fmt("option 'out': a directory of the run's own expected, got '%s' (the root directory)", out))
  end
  return dir
end

-- BLAS threads, cores and the BLAS library, for the summary (what ran, where).
local function machine()
  local ok, core = pcall(require, "ntklab.core")
  local m = {lua = _VERSION}
  if ok then
    m.threads = core.threads()
    m.ntklab = core.version
    m.blas_core, m.blas_core_supported = core.blas_core()
  end
  local fh = io.open("/proc/cpuinfo", "r")
  if fh then
    local cores = 0
    for line in fh:lines() do if line:match("^processor%s*:") then cores = cores + 1 end end
    fh:close()
    m.cores = cores > 0 and cores or nil
  end
  fh = io.open("/proc/self/maps", "r")
  if fh then
    for line in fh:lines() do
      local lib = line:match("(/%S*blas%S*)$")
      if lib then m.blas = lib break end
    end
    fh:close()
  end
  m.openblas_num_threads = os.getenv("OPENBLAS_NUM_THREADS")
  local host = io.open("/proc/sys/kernel/hostname", "r")
  if host then m.host = host:read("l"); host:close() end
  return m
end

local function default_clock()
  local ok, core = pcall(require, "ntklab.core")
  if ok and type(core.clock) == "function" then return core.clock end
  return os.clock
end

-- A failure raised by ctx.fail: reported as its message alone, without a traceback.
local failure_mt = {__tostring = function(e) return e.msg end}

local function new_timer(clock)
  local start = clock()
  local last = start
  local splits = {}
  local timer = {splits = splits}
  function timer:elapsed() return clock() - start end
  function timer:lap(name)
    local now = clock()
    local s = now - last
    last = now
    splits[name] = (splits[name] or 0) + s
    return s
  end
  function timer:add(name, s)
    splits[name] = (splits[name] or 0) + s
  end
  return timer
end

local function new_context(m, cfg, out, opts)
  local clock = opts.clock or default_clock()
  local ctx = {out = out, clock = clock, files = {plots = json.array{}}, cfg = cfg}
  ctx.timer = new_timer(clock)
  local write_seconds = 0
  local function path(name)
    if type(name) ~= "string" or name == "" or name:find("/", 1, true) or name:sub(1, 1) == "." then
      error(setmetatable({msg = fmt("%s: file name without '/' expected, got '%s'", m.name, tostring(name))}, failure_mt), 0)
    end
    return out .. "/" .. name
  end
  ctx.path = path
  local function fail(msg) error(setmetatable({msg = tostring(msg)}, failure_mt), 0) end
  ctx.fail = fail
  local function timed(fn, ...)
    local t0 = clock()
    local ok, msg = fn(...)
    write_seconds = write_seconds + (clock() - t0)
    return ok, msg
  end
  local function stem(name) return (name:gsub("%.[^.]*$", "")) end
  function ctx.write_json(name, value)
    local p = path(name)
    local ok, err = timed(json.write_json, p, value)
    if not ok then fail(err) end
    ctx.files[stem(name)] = p
    return p
  end
  function ctx.write_csv(name, columns, rows)
    local p = path(name)
    local ok, err = timed(output.write_csv, p, columns, rows)
    if not ok then fail(err) end
    ctx.files[stem(name)] = p
    return p
  end
  function ctx.log(...)
    if cfg.quiet then return end
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    io.stderr:write(m.name, ": ", table.concat(parts), "\n")
    io.stderr:flush()
  end
  function ctx.plot(name, popts)
    local p = path(name)
    popts.file = p
    local ok, err = timed(popts.panels and output.figure or output.plot, popts) -- panels: a figure
    if ok then
      ctx.files.plots[#ctx.files.plots + 1] = p
    else
      ctx.log("plot ", name, " skipped: ", err)
    end
    return ok, err
  end
  function ctx.add_plot(name, ok, err)
    if ok then ctx.files.plots[#ctx.files.plots + 1] = path(name)
    else ctx.log("plot ", name, " skipped: ", tostring(err)) end
    return ok, err
  end
  function ctx.progress(popts)
    popts = popts or {}
    local o = {label = m.name, quiet = cfg.quiet}
    for k, v in pairs(popts) do o[k] = v end
    return output.progress(o)
  end
  function ctx.record(rec, trainer, net, ropts)
    local bar = ctx.progress{total = #rec.times}
    local o = {progress = function(i, _, t, loss) bar:update(i, {t = t, loss = loss}) end}
    for k, v in pairs(ropts or {}) do o[k] = v end
    local t0 = ctx.clock()
    local ok, err = pcall(rec.run, rec, trainer, net, o)
    bar:finish()
    if not ok then ctx.fail(err) end
    if rec.finished_on_request then
      ctx.finished_on_request = true
      ctx.log(fmt("finished early on request (SIGUSR1 or ntklab.request_finish) at t = %g, record %d of %d",
        rec.trajectory.t[#rec.trajectory.t], rec:count(), #rec.times))
    end
    return ctx.clock() - t0
  end
  ctx.write_seconds = function() return write_seconds end
  return ctx
end

-- A failure's text. Errors raised by library code carry its position ("recorder.lua:381: ");
-- the reader of a run's failure wants what happened (NTKLAB_TRACEBACK=1 keeps everything).
local function message_of(err)
  local text = getmetatable(err) == failure_mt and err.msg or tostring(err)
  if os.getenv("NTKLAB_TRACEBACK") == "1" then return text end
  return (text:gsub("^[^%s:]+%.lua:%d+: ", ""))
end

-- Removes the previous run's summary (first: from here on the directory is incomplete) and
-- the temporary files killed writers left. Returns true, or nil, msg.
local function begin_transaction(out)
  local ok, err = fs.mkdir_p(out)
  if not ok then return nil, err end
  local summary = out .. "/summary.json"
  local lfs = fs.lfs()
  if lfs and lfs.attributes(summary, "mode") then
    local rok, rerr = os.remove(summary)
    if not rok then return nil, fmt("cannot remove the previous summary '%s': %s", summary, tostring(rerr)) end
  end
  -- a failure note of an earlier run (written by run() below) no longer applies either
  if lfs and lfs.attributes(out .. "/failure.json", "mode") then os.remove(out .. "/failure.json") end
  local n, cerr = fs.clean_temp(out)
  if not n then return nil, cerr end
  return true
end

--- Runs an experiment in this process. module: a module table or the path of its file; cfg:
-- option values by name (defaults fill the rest; checked as the command line checks them);
-- opts: clock (a function returning seconds; default ntklab.clock).
-- Returns summary, out (the absolute directory), or nil, msg when the run fails (its error,
-- e.g. divergence reported by a trainer, or a file that could not be written); there is then no
-- summary.json in out. Bad modules and bad cfg raise.
function experiment.run(module, cfg, opts)
  local f = "experiment.run"
  if type(module) == "string" then
    local m, err = load_module(module)
    if not m then check.fail(1, f, err) end
    module = m
  end
  local spec = module_spec(f, module)
  cfg = cfg or {}
  check.table(cfg, 2, f)
  opts = opts or {}
  check.table(opts, 3, f)
  local m = module
  cfg = resolve(f, m, spec, cfg)
  local out, oerr = out_dir(f, cfg.out)
  if not out then return nil, oerr end
  local clock = opts.clock or default_clock()
  local t_start = clock()
  if cfg.threads then
    local ok, core = pcall(require, "ntklab.core")
    if ok then core.threads(cfg.threads) end
  end
  local ok, err = begin_transaction(out)
  if not ok then return nil, err end
  local ctx = new_context(m, cfg, out, opts)
  local config = {experiment = m.name, module = m.path, config = cfg, out = out,
    started = os.date("!%Y-%m-%dT%H:%M:%SZ"), machine = machine()}
  ok, err = json.write_json(out .. "/config.json", config)
  if not ok then return nil, err end
  local runner_seconds = clock() - t_start
  local t_run = clock()
  -- NTKLAB_TRACEBACK=1 adds where an unexpected error came from (ctx.fail's never need it).
  local rok, summary = xpcall(m.run, function(e)
    if getmetatable(e) == failure_mt or type(e) ~= "string" or os.getenv("NTKLAB_TRACEBACK") ~= "1" then return e end
    return debug.traceback(e, 2)
  end, cfg, ctx)
  local run_seconds = clock() - t_run
  local failure
  if not rok then
    failure = message_of(summary)
  elseif type(summary) ~= "table" then
    failure = fmt("%s: run must return the summary table, returned %s", m.name, check.typename(summary))
  end
  if failure then
    -- failure.json, never summary.json: a sweep's merge tells failed runs from killed ones
    json.write_json(out .. "/failure.json", {experiment = m.name, error = failure, seconds = run_seconds})
    return nil, failure
  end
  local t_end = clock()
  if summary.experiment == nil then summary.experiment = m.name end
  -- training ended early on request (ctx.record): the summary describes a stopped run
  if ctx.finished_on_request then summary.finished_on_request = true end
  if summary.config == nil then summary.config = cfg end
  local seconds = type(summary.seconds) == "table" and summary.seconds or {}
  for k, v in pairs(ctx.timer.splits) do if seconds[k] == nil then seconds[k] = v end end
  seconds.run = run_seconds
  seconds.files = ctx.write_seconds()
  summary.seconds = seconds
  summary.machine = config.machine
  if summary.files == nil then
    ctx.files.summary = out .. "/summary.json"
    ctx.files.config = out .. "/config.json"
    summary.files = ctx.files
  end
  if m.verdict then
    local vok, text, reason = pcall(m.verdict, summary)
    if vok then summary.verdict_text, summary.verdict_reason = text, reason end
  end
  seconds.runner = runner_seconds + (clock() - t_end) -- before the summary's own write
  seconds.total = clock() - t_start
  ok, err = json.write_json(out .. "/summary.json", summary)
  if not ok then return nil, err end
  return summary, out
end

-- The end-of-run line: "name: verdict (reason) in 3.2 s -> out/summary.json".
local function headline(m, summary, out)
  local text = summary.verdict_text
  local reason = summary.verdict_reason
  local s = fmt("%s: %s", m.name, text or "done")
  if reason then s = s .. " (" .. reason .. ")" end
  return s .. fmt(" in %.1f s -> %s/summary.json", summary.seconds.total or 0, out)
end
--- The end-of-run line of a summary: "name: verdict (reason) in 3.2 s -> out/summary.json".
-- @function headline
experiment.headline = headline

--- The command `ntklab run FILE [options]`: parses the command line against the module's
-- declarations, runs it, prints its report and verdict. Returns the exit status: 0 done,
-- 1 the run failed (nothing is left as its summary), 2 a bad command line.
function experiment.main(args)
  check.table(args, 1, "experiment.main")
  local file = args[1]
  if file == nil or file == "--help" or file == "-h" then
    io.stdout:write("usage: ntklab run EXPERIMENT.lua [--option value ...]   (EXPERIMENT.lua --help lists its options)\n")
    return file == nil and 2 or 0
  end
  local m, err = load_module(file)
  if not m then
    io.stderr:write("ntklab run: ", err, "\n")
    return 2
  end
  local sok, spec = pcall(module_spec, "experiment.main", m)
  if not sok then
    io.stderr:write("ntklab run: ", file, ": ", tostring(spec), "\n")
    return 2
  end
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  spec.name, spec.usage = "ntklab run " .. file, "run " .. file
  local values, msg, code = cli.parse_args(spec, rest)
  if not values then
    local stream = code == 0 and io.stdout or io.stderr
    stream:write(msg, code == 0 and "" or "\n")
    return code
  end
  local cfg = {}
  for k, v in pairs(values) do cfg[k] = v end
  local rok, summary, out = pcall(experiment.run, m, cfg)
  if not rok then
    io.stderr:write(m.name, ": ", (tostring(summary):gsub("^bad argument #2 to 'experiment.run' %((.*)%)$", "%1")), "\n")
    return 2
  end
  if not summary then
    io.stderr:write(m.name, ": failed: ", tostring(out), "\n")
    return 1
  end
  if not values.quiet then
    if m.report then
      local pok, text = pcall(m.report, summary)
      if pok and type(text) == "string" and text ~= "" then io.stdout:write(text, text:sub(-1) == "\n" and "" or "\n") end
    end
    io.stdout:write(headline(m, summary, out), "\n")
  end
  return 0
end

return experiment
