--- ntklab.argcheck: argument checks for the pure-Lua modules, in Lua's own words.
-- Every check raises at the position of the caller of the public function, with messages like
--   bad argument #1 to 'theory.q' (number expected, got nil)
-- Kept free of `require "ntklab"` so that the Lua-only modules load before the C parts exist.
local argcheck = {}

local function typename(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end
argcheck.typename = typename

-- Sources of the modules whose functions never take the blame: a failed check is reported at
-- the first stack frame outside them, i.e. at the user's call however deep the helper that
-- noticed the problem (what error(msg, 2) does for a check made directly in the public function).
local internal = {}

--- Called by each checked module at load time: its frames are skipped when blaming.
function argcheck.register()
  internal[debug.getinfo(2, "S").source] = true
end
internal[debug.getinfo(1, "S").source] = true

--- Raises "bad argument #n to 'fname' (msg)" at the caller of the public function.
function argcheck.fail(n, fname, msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or not internal[info.source] then break end
    level = level + 1
  end
  error(string.format("bad argument #%d to '%s' (%s)", n, fname, msg), level)
end

local fail = argcheck.fail

--- A finite or infinite number (not NaN); returns it.
function argcheck.number(v, n, fname)
  if type(v) ~= "number" then fail(n, fname, "number expected, got " .. typename(v)) end
  if v ~= v then fail(n, fname, "number expected, got NaN") end
  return v
end

--- A finite number; returns it.
function argcheck.finite(v, n, fname)
  if type(v) ~= "number" then fail(n, fname, "number expected, got " .. typename(v)) end
  if v ~= v or v == math.huge or v == -math.huge then
    fail(n, fname, "finite number expected, got " .. tostring(v))
  end
  return v
end

--- A finite number > 0 (or >= 0 with allow_zero); returns it.
function argcheck.positive(v, n, fname, allow_zero)
  if type(v) ~= "number" then fail(n, fname, "number expected, got " .. typename(v)) end
  if v ~= v or v == math.huge or not (v > 0 or (allow_zero and v == 0)) then
    fail(n, fname, (allow_zero and "non-negative" or "positive") .. " finite number expected, got "
      .. tostring(v))
  end
  return v
end

--- An integer-valued number >= min; returns it as an integer.
function argcheck.integer(v, n, fname, min)
  if type(v) ~= "number" then fail(n, fname, "integer expected, got " .. typename(v)) end
  local i = math.tointeger(v)
  if not i then fail(n, fname, "integer expected, got " .. tostring(v)) end
  if min and i < min then
    fail(n, fname, string.format("integer >= %d expected, got %d", min, i))
  end
  return i
end

-- A check(v, n, fname) that v has Lua type lua_type, returning v.
local function of_type(lua_type)
  local expected = lua_type .. " expected, got "
  return function(v, n, fname)
    if type(v) ~= lua_type then fail(n, fname, expected .. typename(v)) end
    return v
  end
end

--- A string, a table, a function; each returns v.
argcheck.string = of_type("string")
argcheck.table = of_type("table")
argcheck.fn = of_type("function")

--- An option table (nil: {}) whose keys are all among `allowed` (a list, in the order the
-- message names them, or a set {name = true}, named in sorted order); returns it. An unknown
-- key raises as the binding kit's lntk_options does:
--   bad argument #1 to 'mnist' (invalid option 'trian' (did you mean 'train'?); valid options:
--   'classes', 'train', ...)
function argcheck.options(v, n, fname, allowed)
  if v == nil then return {} end
  if type(v) ~= "table" then fail(n, fname, "table expected, got " .. typename(v)) end
  if #allowed == 0 and next(allowed) ~= nil then
    local list = {}
    for k in pairs(allowed) do list[#list + 1] = k end
    table.sort(list)
    allowed = list
  end
  local known = {}
  for _, k in ipairs(allowed) do known[k] = true end
  for k in pairs(v) do
    if not known[k] then
      -- the "did you mean" of the command line's options (ntklab.cli, loaded only on failure:
      -- it requires this module)
      local near = type(k) == "string" and require("ntklab.cli").nearest(k, allowed) or nil
      local names = {}
      for i, a in ipairs(allowed) do names[i] = "'" .. a .. "'" end
      fail(n, fname, ("invalid option '%s'%s; valid options: %s"):format(tostring(k),
        near and (" (did you mean '" .. near .. "'?)") or "", table.concat(names, ", ")))
    end
  end
  return v
end

--- opts[key], an ntklab tensor with one of the dimensions in dims (e.g. {1, 2}), or nil when it
-- is absent and not required; misuse is reported as argument n of fname ("option 'key': ...").
-- The tensor is recognized by its metatable's name, so this module needs no ntklab.core.
function argcheck.option_tensor(opts, key, n, fname, dims, required)
  local v = opts[key]
  if v == nil then
    if required then fail(n, fname, "option '" .. key .. "': tensor required") end
    return nil
  end
  if typename(v) ~= "ntklab.tensor" then
    fail(n, fname, ("option '%s': tensor expected, got %s"):format(key, typename(v)))
  end
  for _, d in ipairs(dims) do if v:dim() == d then return v end end
  fail(n, fname, ("option '%s': %s-D tensor expected, got %d-D"):format(key, table.concat(dims, " or "), v:dim()))
end

--- Converts a tensor-like object (anything with a :totable() method) to a table.
local function plain(v)
  if type(v) == "table" then return v end
  if v ~= nil and type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then
    local ok, totable = pcall(function() return v.totable end)
    if ok and type(totable) == "function" then return totable(v) end
  end
  return nil
end
argcheck.plain = plain

--- A non-empty vector of finite numbers, given as a Lua array or an object with :totable()
-- (a 1-D tensor, or a 2-D one with a single row or column); returns a fresh Lua array.
function argcheck.vector(v, n, fname, what)
  local t = plain(v)
  if not t then fail(n, fname, (what or "vector") .. " expected (table or tensor), got " .. typename(v)) end
  local len = #t
  if len == 0 then fail(n, fname, "non-empty " .. (what or "vector") .. " expected") end
  local out = {}
  -- A column or row matrix ({{1}, {2}} or {{1, 2}}) is accepted as a vector.
  if type(t[1]) == "table" then
    if len == 1 then t = t[1]; len = #t
    else
      for i = 1, len do
        local row = t[i]
        if type(row) ~= "table" or #row ~= 1 then
          fail(n, fname, (what or "vector") .. " expected, got a matrix with more than one column")
        end
        out[i] = row[1]
      end
      t = out; out = {}
    end
  end
  for i = 1, len do
    local x = t[i]
    if type(x) ~= "number" then
      fail(n, fname, string.format("number expected at index %d, got %s", i, typename(x)))
    end
    out[i] = x
  end
  return out
end

--- A matrix given as an array of equal-length rows of numbers or an object with :totable();
-- returns a fresh array of rows and its shape.
function argcheck.matrix(v, n, fname, what)
  local t = plain(v)
  what = what or "matrix"
  if not t then fail(n, fname, what .. " expected (table of rows or tensor), got " .. typename(v)) end
  local rows = #t
  if rows == 0 then fail(n, fname, "non-empty " .. what .. " expected") end
  local out, cols = {}, nil
  for i = 1, rows do
    local row = t[i]
    if type(row) ~= "table" then
      fail(n, fname, string.format("%s row %d: table expected, got %s", what, i, typename(row)))
    end
    cols = cols or #row
    if #row ~= cols or cols == 0 then
      fail(n, fname, string.format("%s row %d has %d entries, row 1 has %d", what, i, #row, cols))
    end
    local r = {}
    for j = 1, cols do
      local x = row[j]
      if type(x) ~= "number" then
        fail(n, fname, string.format("number expected at [%d, %d], got %s", i, j, typename(x)))
      end
      r[j] = x
    end
    out[i] = r
  end
  return out, rows, cols
end

return argcheck
