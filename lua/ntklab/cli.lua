--- ntklab.cli: command-line options declared as data: parsing, checking and the help text.
-- An option is {name =, type = number|integer|string|boolean|choice, default =, help =,
-- choices = {...} (choice), min =, max = (number, integer)}. Published as
-- ntklab.output.parse_args, help_text and cli (error messages name output.f).
local check = require "ntklab.argcheck"
check.register()
local json = require "ntklab.json"

local cli = {}

local fmt = string.format
local number_text = json.number_text_exact

local option_types = {number = "NUMBER", integer = "INTEGER", string = "STRING", boolean = true, choice = true}

local function value_ok(o, v)
  if o.type == "number" then return type(v) == "number" and v == v end
  if o.type == "integer" then return math.tointeger(v) ~= nil end
  if o.type == "string" then return type(v) == "string" end
  if o.type == "boolean" then return type(v) == "boolean" end
  for _, c in ipairs(o.choices) do if c == v then return true end end
  return false
end

-- Checks an options spec; returns {name = option}.
local function check_spec(f, spec)
  check.table(spec, 1, f)
  if spec.name ~= nil and type(spec.name) ~= "string" then
    check.fail(1, f, "spec.name: string expected, got " .. check.typename(spec.name))
  end
  if type(spec.options) ~= "table" then
    check.fail(1, f, "spec.options: array of options expected, got " .. check.typename(spec.options))
  end
  local byname = {}
  for i, o in ipairs(spec.options) do
    local function bad(msg) check.fail(1, f, fmt("spec.options[%d]: %s", i, msg)) end
    if type(o) ~= "table" then bad("table expected") end
    if type(o.name) ~= "string" or not o.name:match("^[%a][%w_]*$") then
      bad("name (letters, digits, _) expected, got " .. tostring(o.name))
    end
    if o.name == "help" then bad("'help' is reserved") end
    if byname[o.name] then bad("duplicate option '" .. o.name .. "'") end
    if not option_types[o.type] then
      bad(fmt("type of '%s': number, integer, string, boolean or choice expected, got %s", o.name, tostring(o.type)))
    end
    if o.type == "choice" and (type(o.choices) ~= "table" or #o.choices == 0) then
      bad(fmt("choices of '%s': non-empty array expected", o.name))
    end
    if o.help ~= nil and type(o.help) ~= "string" then bad(fmt("help of '%s': string expected", o.name)) end
    if o.default ~= nil and not value_ok(o, o.default) then
      bad(fmt("default of '%s' is not a valid %s: %s", o.name, o.type, tostring(o.default)))
    end
    byname[o.name] = o
  end
  return byname
end

-- Edit distance (Levenshtein) between two short strings, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The candidate closest to word (case-insensitive edit distance at most 2 and below the
-- word's length, or a prefix of it), or nil: the "did you mean" of a mistyped name.
function cli.nearest(word, candidates)
  local best, best_d = nil, math.huge
  local w = word:lower()
  for _, c in ipairs(candidates) do
    local cl = tostring(c):lower()
    local d = distance(w, cl)
    if #w >= 3 and cl:sub(1, #w) == w then d = math.min(d, 1) end
    if d < best_d then best, best_d = c, d end
  end
  -- at most 2 edits, and fewer than the word has letters ("--m" suggests nothing)
  if best_d <= 2 and best_d < #w then return best end
  return nil
end

cli.check_spec = check_spec

local function usage_of(o)
  local flag = "--" .. o.name:gsub("_", "-")
  if o.type == "boolean" then return o.default == true and ("--[no-]" .. flag:sub(3)) or flag end
  if o.type == "choice" then
    local c = {}
    for i, v in ipairs(o.choices) do c[i] = tostring(v) end
    return flag .. " " .. table.concat(c, "|")
  end
  return flag .. " " .. option_types[o.type]
end

-- --help fits in 100 columns; option usages longer than 28 characters get a line of their own.
local HELP_COLUMNS, USAGE_COLUMN = 100, 28

-- text broken into lines of at most `columns` characters at spaces (a longer word stays whole).
local function wrap(text, columns)
  local out, line = {}, ""
  for word in text:gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > columns then
      out[#out + 1] = line
      line = word
    else
      line = line == "" and word or (line .. " " .. word)
    end
  end
  if line ~= "" then out[#out + 1] = line end
  return out
end

--- The help text of an options spec, as the help option prints it.
function cli.help_text(spec)
  check_spec("output.help_text", spec)
  local lines = {}
  local prog = spec.name or "script"
  lines[1] = fmt("usage: ntklab %s [options]", spec.usage or prog)
  if spec.description then
    lines[#lines + 1] = ""
    for _, l in ipairs(wrap(spec.description, HELP_COLUMNS)) do lines[#lines + 1] = l end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "options:"
  -- Usages up to USAGE_COLUMN wide share a column; a longer one puts its text on the next line.
  local width = 6
  for _, o in ipairs(spec.options) do
    local u = #usage_of(o)
    if u <= USAGE_COLUMN then width = math.max(width, u) end
  end
  local function entry(usage, d)
    local text = wrap(d, HELP_COLUMNS - width - 4)
    if #usage > width then
      lines[#lines + 1] = "  " .. usage
    else
      lines[#lines + 1] = fmt("  %-" .. width .. "s  %s", usage, text[1] or "")
      table.remove(text, 1)
    end
    for _, l in ipairs(text) do lines[#lines + 1] = string.rep(" ", width + 4) .. l end
  end
  for _, o in ipairs(spec.options) do
    local d = o.help or ""
    local notes = {}
    if o.default ~= nil then
      notes[#notes + 1] = "default " .. (type(o.default) == "number" and number_text(o.default) or tostring(o.default))
    end
    if o.min and o.max then
      notes[#notes + 1] = number_text(o.min) .. " to " .. number_text(o.max)
    elseif o.min then
      notes[#notes + 1] = ">= " .. number_text(o.min)
    elseif o.max then
      notes[#notes + 1] = "<= " .. number_text(o.max)
    end
    if #notes > 0 then d = d .. (d ~= "" and " " or "") .. "(" .. table.concat(notes, ", ") .. ")" end
    entry(usage_of(o), d)
  end
  entry("--help", "show this help and exit")
  return table.concat(lines, "\n") .. "\n"
end

-- the words a boolean option's value may be
local BOOLEAN_WORDS = {["true"] = true, ["1"] = true, yes = true, ["false"] = false, ["0"] = false, no = false}

local function convert(o, text, shown)
  if o.type == "string" then return text end
  if o.type == "number" or o.type == "integer" then
    local v = tonumber(text)
    if not v or v ~= v then return nil, fmt("option '%s' expects a number, got '%s'", shown, text) end
    if o.type == "integer" then
      v = math.tointeger(v)
      if not v then return nil, fmt("option '%s' expects an integer, got '%s'", shown, text) end
    end
    if o.min and v < o.min then return nil, fmt("option '%s' must be >= %s, got %s", shown, number_text(o.min), text) end
    if o.max and v > o.max then return nil, fmt("option '%s' must be <= %s, got %s", shown, number_text(o.max), text) end
    return v
  end
  if o.type == "boolean" then
    local v = BOOLEAN_WORDS[text:lower()]
    if v ~= nil then return v end
    return nil, fmt("option '%s' expects true or false, got '%s'", shown, text)
  end
  for _, c in ipairs(o.choices) do
    if tostring(c) == text then return c end
  end
  local c = {}
  for i, v in ipairs(o.choices) do c[i] = tostring(v) end
  local near = cli.nearest(text, c)
  return nil, fmt("option '%s' expects one of %s, got '%s'%s", shown, table.concat(c, ", "), text,
    near and fmt(" (did you mean %s?)", near) or "")
end

--- Parses command-line arguments (an array of strings, e.g. the script's `arg`) against
--   spec = {name = "silent_alignment", description = "...", options = {
--     {name = "sigma", type = "number", default = 0.1, help = "init scale", min = 0},
--     {name = "trainer", type = "choice", choices = {"flow", "gd", "adam"}, default = "flow"},
--     {name = "quiet", type = "boolean", default = false, help = "no progress line"}, ...}}
-- Accepted forms: --name value, --name=value, --flag / --no-flag / --flag false (booleans); dashes and
-- underscores in names are interchangeable. Types: number, integer, string, boolean, choice
-- (min/max bound numbers). Returns the options table (defaults filled in), or
--   nil, help_text, 0          for --help / -h
--   nil, "error message", 2    for unknown options, bad values, missing values, stray words.
function cli.parse_args(spec, args)
  local f = "output.parse_args"
  local byname = check_spec(f, spec)
  check.table(args, 2, f)
  local prog = spec.name or "script"
  local values = {}
  for _, o in ipairs(spec.options) do values[o.name] = o.default end
  local function failure(msg) return nil, fmt("%s: %s (see --help)", prog, msg), 2 end
  local i, n = 1, #args
  while i <= n do
    local a = args[i]
    if type(a) ~= "string" then check.fail(2, f, fmt("string expected at index %d, got %s", i, check.typename(a))) end
    if a == "--help" or a == "-h" then return nil, cli.help_text(spec), 0 end
    local name, inline = a:match("^%-%-([^=]+)=(.*)$")
    if not name then name = a:match("^%-%-(.+)$") end
    if not name then return failure(fmt("unexpected argument '%s'", a)) end
    local key = name:gsub("-", "_")
    local o = byname[key]
    local negated = false
    if not o and key:sub(1, 3) == "no_" and byname[key:sub(4)] and byname[key:sub(4)].type == "boolean" then
      o, negated = byname[key:sub(4)], true
    end
    if not o then
      local names = {}
      for _, opt in ipairs(spec.options) do names[#names + 1] = opt.name:gsub("_", "-") end
      local near = cli.nearest(name, names)
      return failure(fmt("unknown option '--%s'%s", name, near and fmt(" (did you mean --%s?)", near) or ""))
    end
    local shown = "--" .. name
    local text = inline
    -- a flag may be followed by its value (`--path-kernel false`, as a sweep grid or a user
    -- writes it): the word is one of a closed set, and a stray word is an error anyway
    if o.type == "boolean" and text == nil and type(args[i + 1]) == "string"
        and BOOLEAN_WORDS[args[i + 1]:lower()] ~= nil then
      i = i + 1
      text = args[i]
    end
    if o.type == "boolean" and text == nil then
      values[o.name] = not negated
    else
      if negated then return failure(fmt("option '%s' takes no value", shown)) end
      if text == nil then
        i = i + 1
        text = args[i]
        if text == nil then return failure(fmt("option '%s' needs a value", shown)) end
        if type(text) ~= "string" then check.fail(2, f, fmt("string expected at index %d, got %s", i, check.typename(text))) end
      end
      local v, msg = convert(o, text, shown)
      if v == nil then return failure(msg) end
      values[o.name] = v
    end
    i = i + 1
  end
  return values
end

--- parse_args for scripts: given the help option, prints the help to stdout and exits 0; on a
-- bad command line prints the error to stderr and exits 2; else returns the options table.
function cli.cli(spec, args)
  check_spec("output.cli", spec)
  check.table(args, 2, "output.cli")
  local values, msg, code = cli.parse_args(spec, args)
  if values then return values end
  if code == 0 then
    io.stdout:write(msg)
    io.stdout:flush()
    os.exit(0)
  end
  io.stderr:write(msg, "\n")
  os.exit(2)
end

return cli
