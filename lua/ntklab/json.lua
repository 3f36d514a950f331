--- ntklab.json: JSON text for summaries and configurations, and numbers as exact short text.
-- A small encoder with sorted keys (diff-friendly summaries); lua-cjson reads files back.
-- Published as ntklab.output.* (error messages name output.f). Misuse raises; a file that cannot
-- be written or read returns nil, msg.
local check = require "ntklab.argcheck"
check.register()
local fs = require "ntklab.fs"

local json = {}

local fmt = string.format

-- The shortest of %.15g, %.16g, %.17g that reads back as the same double: humans get 0.1, not
-- 0.10000000000000001, and nothing is lost.
local function number_text(x)
  if math.type(x) == "integer" then return fmt("%d", x) end
  for _, p in ipairs{"%.15g", "%.16g"} do
    local s = fmt(p, x)
    if tonumber(s) == x then return s end
  end
  return fmt("%.17g", x)
end
-- For the other writers (CSV, gnuplot data, option help): finite numbers only, no checks.
json.number_text_exact = number_text
--- A number as the shortest decimal text that reads back as the same double (integers as %d).
function json.number_text(x)
  check.number(x, 1, "output.number_text")
  if x == math.huge then return "inf" elseif x == -math.huge then return "-inf" end
  return number_text(x)
end


local array_mt = {__name = "ntklab.output.array"}

--- Marks a table as a JSON array, so that an empty one encodes as [] (not {}). Returns it.
function json.array(t)
  check.table(t, 1, "output.array")
  return setmetatable(t, array_mt)
end

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or fmt("\\u%04x", c:byte())
  end) .. '"'
end

-- Raised inside the encoder; the public functions turn it into a bad-argument error.
local function encode_error(msg) error({ntklab_encode_error = msg}, 0) end

local function json_number(x)
  -- NaN and +-Inf have no JSON spelling: they become null (a summary field that is undefined).
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  return number_text(x)
end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = #t
  if n == 0 then return false end
  -- Every key an integer in 1..n and n of them: a proper sequence (# alone is unreliable with
  -- holes).
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local function encode_value(v, path, indent, depth, seen, out)
  local tv = type(v)
  if tv == "string" then out[#out + 1] = json_string(v); return end
  if tv == "number" then out[#out + 1] = json_number(v); return end
  if tv == "boolean" then out[#out + 1] = tostring(v); return end
  if v == nil then out[#out + 1] = "null"; return end
  if tv ~= "table" then
    local t = check.plain(v)
    if not t then encode_error(fmt("cannot encode a %s at %s", check.typename(v), path)) end
    v = t
  end
  if seen[v] then encode_error("cycle at " .. path) end
  if depth > 100 then encode_error("nesting deeper than 100 at " .. path) end
  seen[v] = true
  local pad = indent and ("\n" .. string.rep(indent, depth + 1)) or ""
  local close_pad = indent and ("\n" .. string.rep(indent, depth)) or ""
  if is_array(v) then
    local n = #v
    if n == 0 then out[#out + 1] = "[]"; seen[v] = nil; return end
    -- Arrays of scalars stay on one line even when pretty-printing.
    local flat = true
    for i = 1, n do if type(v[i]) == "table" or type(v[i]) == "userdata" then flat = false break end end
    out[#out + 1] = "["
    for i = 1, n do
      if i > 1 then out[#out + 1] = indent and flat and ", " or "," end
      if not flat then out[#out + 1] = pad end
      encode_value(v[i], fmt("%s[%d]", path, i), indent, depth + 1, seen, out)
    end
    if not flat then out[#out + 1] = close_pad end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do
      if type(k) ~= "string" then
        encode_error(fmt("cannot encode a %s key at %s (object keys must be strings; arrays must have keys 1..n)",
          type(k), path))
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    if #keys == 0 then out[#out + 1] = "{}"; seen[v] = nil; return end
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = pad
      out[#out + 1] = json_string(k)
      out[#out + 1] = indent and ": " or ":"
      encode_value(v[k], path .. "." .. k, indent, depth + 1, seen, out)
    end
    out[#out + 1] = close_pad
    out[#out + 1] = "}"
  end
  seen[v] = nil
end

local function encode(value, pretty)
  local out = {}
  local ok, err = pcall(encode_value, value, "$", pretty and "  " or nil, 0, {}, out)
  if not ok then
    if type(err) == "table" and err.ntklab_encode_error then return nil, err.ntklab_encode_error end
    error(err, 0)
  end
  return table.concat(out)
end

--- Encodes a Lua value as JSON text: object keys sorted, NaN and +-Inf as null, objects with
-- :totable() (tensors) as their tables, empty tables as {} unless marked with output.array.
-- pretty (default true): two-space indentation, arrays of scalars on one line.
function json.encode_json(value, pretty)
  local f = "output.encode_json"
  if pretty ~= nil and type(pretty) ~= "boolean" then
    check.fail(2, f, "boolean expected, got " .. check.typename(pretty))
  end
  local text, err = encode(value, pretty ~= false)
  if not text then check.fail(1, f, err) end
  return text
end

--- Writes value as pretty JSON (see encode_json) to path, atomically. The value is encoded in
-- full before the file is touched. Returns true, or nil, msg.
function json.write_json(path, value)
  local f = "output.write_json"
  check.string(path, 1, f)
  local text, err = encode(value, true)
  if not text then check.fail(2, f, err) end
  return fs.atomic(path, function(emit) emit(text); emit("\n") end)
end

--- Reads a JSON file with lua-cjson. Returns the value, or nil, msg.
function json.read_json(path)
  check.string(path, 1, "output.read_json")
  local ok, cjson = pcall(require, "cjson")
  if not ok then return nil, "read_json: lua-cjson is not installed" end
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local text = fh:read("a")
  fh:close()
  local dok, value = pcall(cjson.decode, text)
  if not dok then return nil, fmt("%s: %s", path, tostring(value)) end
  return value
end


return json
