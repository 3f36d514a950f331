--- ntklab.progress: how a long run tells a person how far it is.
--   local p = progress.new{total = n, label = "train", quiet = cfg.quiet}
--   p:update(i, {t = t, loss = loss})  ...  p:finish()
-- Three modes, chosen once when the reporter is made:
--   line  on a terminal (or with NTKLAB_FORCE_PROGRESS=1): one line on stderr, redrawn in place
--         ("\r") at most every `interval` seconds, with the percentage, the extra fields and an ETA;
--   log   otherwise (nohup, Slurm logs, pipes): a plain line each time the run crosses another
--         10% (log_step), or when log_interval seconds (30) have passed since the last line;
--   off   with quiet (or NTKLAB_FORCE_PROGRESS=0).
-- Published as ntklab.output.progress (error messages name output.progress). Pure Lua: the
-- wall clock is ntklab.clock when the engine is loaded, else os.time (whole seconds).
local check = require "ntklab.argcheck"
check.register()
local json = require "ntklab.json"

local progress = {}

local fmt = string.format
local number_text = json.number_text_exact

local function stderr_is_terminal()
  local ok, term = pcall(require, "term") -- lua-term (a busted dependency, listed in setup)
  if ok and type(term) == "table" and type(term.isatty) == "function" then
    local tok, yes = pcall(term.isatty, io.stderr)
    return tok and yes == true
  end
  return false
end

local function default_clock()
  local ok, core = pcall(require, "ntklab.core")
  if ok and type(core) == "table" and type(core.clock) == "function" then return core.clock end
  return os.time
end

--- Seconds as a short duration: 42s, 3m05s, 2h07m.
function progress.duration(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.max(0, math.floor(s + 0.5))
  if s < 60 then return fmt("%ds", s) end
  if s < 3600 then return fmt("%dm%02ds", s // 60, s % 60) end
  return fmt("%dh%02dm", s // 3600, (s % 3600) // 60)
end

-- The extra text of an update: a string as it is, a table of fields as "t 1.2 loss 3.4e-05"
-- (t and loss first, then the other keys sorted).
local function extra_text(extra)
  if extra == nil then return nil end
  if type(extra) ~= "table" then return tostring(extra) end
  local keys, seen = {}, {}
  for _, k in ipairs{"t", "step", "loss"} do
    if extra[k] ~= nil then keys[#keys + 1], seen[k] = k, true end
  end
  local rest = {}
  for k in pairs(extra) do if not seen[k] then rest[#rest + 1] = tostring(k) end end
  table.sort(rest)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  local parts = {}
  for _, k in ipairs(keys) do
    local v = extra[k]
    parts[#parts + 1] = k .. " " .. (type(v) == "number" and fmt("%.3g", v) or tostring(v))
  end
  return table.concat(parts, " ")
end

local function choose_mode(opts)
  if opts.quiet then return "off" end
  if opts.mode then return opts.mode end
  local forced = os.getenv("NTKLAB_FORCE_PROGRESS")
  if forced == "1" then return "line" end
  if forced == "0" then return "off" end
  return (opts.isatty or stderr_is_terminal)() and "line" or "log"
end

local MODES = {line = true, log = true, off = true}

--- A progress reporter (see the top of this file). opts: total (positive number; without it the
-- count is shown bare), label, quiet, stream (default io.stderr), isatty (function, default
-- lua-term's check of stderr), mode ("line", "log" or "off": overrides the choice), interval
-- (line mode: minimum seconds between redraws, default 0.2), log_step (log mode: fraction of
-- the total between lines, default 0.1), log_interval (log mode: seconds, default 30), clock
-- (function returning seconds). The reporter has update(done, extra), where extra is a string
-- or a table of fields ({t =, loss =}), and finish().
function progress.new(opts)
  local f = "output.progress"
  opts = opts or {}
  check.table(opts, 1, f)
  local total = opts.total
  if total ~= nil and not (type(total) == "number" and total > 0) then
    check.fail(1, f, "field 'total': positive number expected, got " .. tostring(total))
  end
  if opts.label ~= nil and type(opts.label) ~= "string" then
    check.fail(1, f, "field 'label': string expected, got " .. check.typename(opts.label))
  end
  for _, name in ipairs{"isatty", "clock"} do
    if opts[name] ~= nil and type(opts[name]) ~= "function" then
      check.fail(1, f, fmt("field '%s': function expected, got %s", name, check.typename(opts[name])))
    end
  end
  if opts.mode ~= nil and not MODES[opts.mode] then
    check.fail(1, f, "field 'mode': line, log or off expected, got " .. tostring(opts.mode))
  end
  local function seconds(name, default)
    local v = opts[name]
    if v == nil then return default end
    if type(v) ~= "number" or not (v >= 0) then
      check.fail(1, f, fmt("field '%s': non-negative number expected, got %s", name, tostring(v)))
    end
    return v
  end
  local interval = seconds("interval", 0.2)
  local log_interval = seconds("log_interval", 30)
  local log_step = seconds("log_step", 0.1)
  local stream = opts.stream or io.stderr
  local mode = choose_mode(opts)
  local clock = opts.clock or default_clock()
  local started = clock()
  local p = {enabled = mode ~= "off", mode = mode, drawn = false, last = -math.huge, width = 0,
             logged_step = 0}

  local function text_of(done, extra, now)
    local text = opts.label and (opts.label .. " ") or ""
    if total then
      text = text .. fmt("%3d%% (%s/%s)", math.floor(100 * done / total), number_text(done), number_text(total))
    else
      text = text .. number_text(done)
    end
    local e = extra_text(extra)
    if e then text = text .. " " .. e end
    if total and done > 0 and done < total then
      text = text .. " ETA " .. progress.duration((now - started) * (total - done) / done)
    end
    return text
  end

  function p:update(done, extra)
    if self.mode == "off" then return end
    local now = clock()
    local complete = total and done >= total
    if self.mode == "line" then
      if now - self.last < interval and not complete then return end
      self.last = now
      local text = text_of(done, extra, now)
      -- Pad over the previous, possibly longer, line.
      local padded = text .. string.rep(" ", math.max(0, self.width - #text))
      self.width = #text
      stream:write("\r", padded)
      self.drawn = true
    else
      local step = (total and log_step > 0) and math.floor(done / total / log_step + 1e-9) or 0
      if step <= self.logged_step and now - self.last < log_interval and not (complete and not self.logged_end) then
        return
      end
      if self.last == -math.huge and step == 0 and not complete then
        self.last = now -- the first line comes at the first step or after log_interval
        return
      end
      self.last, self.logged_step = now, math.max(step, self.logged_step)
      self.logged_end = self.logged_end or complete
      stream:write(text_of(done, extra, now), "\n")
    end
    stream:flush()
  end

  function p:finish()
    if self.drawn then stream:write("\n"); stream:flush() end
    self.drawn = false
  end
  return p
end

return progress
