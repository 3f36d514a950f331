--- ntklab.output: what experiments write and how they talk to the command line.
--   files    mkdir_p, write_atomic, write_json / encode_json / read_json, write_csv
--   plots    plot{...}: PNG through gnuplot (returns nil, msg when gnuplot is missing or fails),
--            plot_trajectory and plot_predictions: the paper's Figure 1a and 1c panels
--   terminal progress{...}: a progress line on stderr, only when stderr is a terminal
--   options  parse_args / cli: "--name value" options with types, defaults and --help
-- Files are written atomically: the bytes go to "<path>.tmp.<pid>.<n>" in the same directory,
-- which is flushed, closed and renamed over <path> (rename(2) is atomic within a file system), so
-- a reader sees the old file or the complete new one, never a truncated one; on any failure the
-- temporary file is removed and the old file is left as it was. (Pure Lua cannot fsync: a power
-- loss right after the rename may still lose the new contents, not corrupt the old ones.)
-- Misuse raises "bad argument #n to 'output.f' (...)"; failures of the world (permissions, a
-- full disk, gnuplot missing) return nil, msg.
local check = require "ntklab.argcheck"
check.register()

local output = {}

local fmt = string.format

-- ---------------------------------------------------------------------------------------------
-- Directories
-- ---------------------------------------------------------------------------------------------

local lfs_module
local function lfs()
  if lfs_module == nil then
    local ok, m = pcall(require, "lfs")
    lfs_module = ok and m or false
  end
  return lfs_module
end

--- Creates a directory and its missing parents (like mkdir -p). Returns true, or nil, msg.
-- Uses LuaFileSystem (Debian's lua-filesystem, installed by scripts/setup).
function output.mkdir_p(path)
  check.string(path, 1, "output.mkdir_p")
  if path == "" then check.fail(1, "output.mkdir_p", "non-empty path expected") end
  local fs = lfs()
  if not fs then return nil, "mkdir_p: LuaFileSystem (lfs) is not installed (apt-get install lua-filesystem)" end
  local prefix = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    prefix = prefix .. part
    local mode = fs.attributes(prefix, "mode")
    if mode == nil then
      local ok, err = fs.mkdir(prefix)
      -- Another process may have created it in between: only a missing directory is a failure.
      if not ok and fs.attributes(prefix, "mode") ~= "directory" then
        return nil, fmt("mkdir_p: cannot create '%s': %s", prefix, tostring(err))
      end
    elseif mode ~= "directory" then
      return nil, fmt("mkdir_p: '%s' exists and is not a directory", prefix)
    end
    prefix = prefix .. "/"
  end
  return true
end

-- ---------------------------------------------------------------------------------------------
-- Atomic writes
-- ---------------------------------------------------------------------------------------------

-- The process id from /proc/self/stat (Linux), or a per-process random tag elsewhere: it only
-- has to keep two processes writing the same path from sharing a temporary file.
local process_tag
local function tag()
  if not process_tag then
    local f = io.open("/proc/self/stat", "r")
    local pid = f and f:read("n")
    if f then f:close() end
    process_tag = pid and fmt("%d", pid)
      or fmt("%x%s", os.time(), tostring({}):match("0x(%x+)") or "0")
  end
  return process_tag
end
local temp_counter = 0

-- Writes what producer(emit) emits to path atomically. emit(s) appends a string. Returns true,
-- or nil, msg on an I/O failure; an error raised by the producer is re-raised unchanged after
-- the temporary file is removed.
local function atomic(path, producer)
  temp_counter = temp_counter + 1
  local tmp = fmt("%s.tmp.%s.%d", path, tag(), temp_counter)
  local f, err = io.open(tmp, "wb")
  if not f then return nil, fmt("cannot write '%s': %s", path, err) end
  local buffer, size, failure = {}, 0, nil
  local function flush_buffer()
    if failure or #buffer == 0 then return end
    local ok, werr = f:write(table.concat(buffer))
    if not ok then failure = werr end
    buffer, size = {}, 0
  end
  local function emit(s)
    buffer[#buffer + 1] = s
    size = size + #s
    if size >= 65536 then flush_buffer() end
  end
  local ok, perr = pcall(producer, emit)
  if ok then flush_buffer() end
  local function abandon()
    f:close()
    os.remove(tmp)
  end
  if not ok then
    abandon()
    error(perr, 0)
  end
  if failure then
    abandon()
    return nil, fmt("cannot write '%s': %s", path, failure)
  end
  local fok, ferr = f:flush()
  if not fok then
    abandon()
    return nil, fmt("cannot write '%s': %s", path, ferr)
  end
  local cok, cerr = f:close()
  if not cok then
    os.remove(tmp)
    return nil, fmt("cannot write '%s': %s", path, cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, fmt("cannot replace '%s': %s", path, rerr)
  end
  return true
end

--- Writes content to path atomically. content: a string, or a function(write) that calls
-- write(s) for each piece. Returns true, or nil, msg; an error raised by the function is
-- re-raised after the temporary file is removed (the old file stays as it was).
function output.write_atomic(path, content)
  local f = "output.write_atomic"
  check.string(path, 1, f)
  if type(content) == "string" then
    return atomic(path, function(emit) emit(content) end)
  end
  if type(content) ~= "function" then
    check.fail(2, f, "string or function expected, got " .. check.typename(content))
  end
  return atomic(path, content)
end

-- ---------------------------------------------------------------------------------------------
-- Numbers as text
-- ---------------------------------------------------------------------------------------------

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
--- A number as the shortest decimal text that reads back as the same double (integers as %d).
function output.number_text(x)
  check.number(x, 1, "output.number_text")
  if x == math.huge then return "inf" elseif x == -math.huge then return "-inf" end
  return number_text(x)
end

-- ---------------------------------------------------------------------------------------------
-- JSON: a small encoder with sorted keys (diff-friendly summaries), cjson for reading back.
-- ---------------------------------------------------------------------------------------------

local array_mt = {__name = "ntklab.output.array"}

--- Marks a table as a JSON array, so that an empty one encodes as [] (not {}). Returns it.
function output.array(t)
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
function output.encode_json(value, pretty)
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
function output.write_json(path, value)
  local f = "output.write_json"
  check.string(path, 1, f)
  local text, err = encode(value, true)
  if not text then check.fail(2, f, err) end
  return atomic(path, function(emit) emit(text); emit("\n") end)
end

--- Reads a JSON file with lua-cjson. Returns the value, or nil, msg.
function output.read_json(path)
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

-- ---------------------------------------------------------------------------------------------
-- CSV (RFC 4180 quoting; numbers round-trip; NaN as nan, infinities as inf/-inf, nil as empty)
-- ---------------------------------------------------------------------------------------------

local function csv_field(v, where)
  local tv = type(v)
  if tv == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return number_text(v)
  end
  if tv == "string" then
    if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
    return v
  end
  if tv == "boolean" then return tostring(v) end
  if v == nil then return "" end
  encode_error(fmt("%s: cannot write a %s", where, check.typename(v)))
end

--- Writes a CSV file atomically: a header line with the column names, then one line per row.
-- rows is either row-oriented, an array whose rows are arrays (positional, in column order) or
-- records keyed by column name; or column-oriented, a table mapping each column name to an array
-- (all of equal length), as a recorded trajectory is. Columns may be tensors (:totable()).
-- Returns true, or nil, msg.
function output.write_csv(path, columns, rows)
  local f = "output.write_csv"
  check.string(path, 1, f)
  check.table(columns, 2, f)
  if #columns == 0 then check.fail(2, f, "non-empty array of column names expected") end
  for i, c in ipairs(columns) do
    if type(c) ~= "string" then
      check.fail(2, f, fmt("column name %d: string expected, got %s", i, check.typename(c)))
    end
  end
  check.table(rows, 3, f)
  local nrows, get
  if rows[1] ~= nil or next(rows) == nil then
    nrows = #rows
    get = function(i, j)
      local row = rows[i]
      if type(row) ~= "table" then encode_error(fmt("row %d: table expected, got %s", i, check.typename(row))) end
      if row[1] ~= nil then return row[j] end
      return row[columns[j]]
    end
  else
    local cols = {}
    for j, name in ipairs(columns) do
      local c = rows[name]
      if c == nil then check.fail(3, f, fmt("column '%s' missing", name)) end
      c = check.plain(c)
      if type(c) ~= "table" then check.fail(3, f, fmt("column '%s': array expected", name)) end
      if j > 1 and #c ~= #cols[1] then
        check.fail(3, f, fmt("column '%s' has %d entries, column '%s' has %d", name, #c, columns[1], #cols[1]))
      end
      cols[j] = c
    end
    nrows = #cols[1]
    get = function(i, j) return cols[j][i] end
  end
  local ncol = #columns
  local ok, res, msg = pcall(atomic, path, function(emit)
    local fields = {}
    for j = 1, ncol do fields[j] = csv_field(columns[j], "header") end
    emit(table.concat(fields, ",") .. "\n")
    for i = 1, nrows do
      for j = 1, ncol do fields[j] = csv_field(get(i, j), fmt("row %d, column '%s'", i, columns[j])) end
      emit(table.concat(fields, ",") .. "\n")
    end
  end)
  if not ok then
    if type(res) == "table" and res.ntklab_encode_error then check.fail(3, f, res.ntklab_encode_error) end
    error(res, 0)
  end
  return res, msg
end

-- ---------------------------------------------------------------------------------------------
-- Plots through gnuplot
-- ---------------------------------------------------------------------------------------------

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
-- gnuplot single-quoted strings: no escapes, '' stands for a quote.
local function gp_quote(s) return "'" .. s:gsub("'", "''") .. "'" end

local styles = {
  lines = "with lines lw 2",
  points = "with points pt 7 ps 0.6",
  linespoints = "with linespoints lw 2 pt 7 ps 0.6",
  dashed = "with lines lw 2 dt 2",
  dotted = "with lines lw 2 dt 3",
}

local function plot_args(opts)
  local f = "output.plot"
  check.table(opts, 1, f)
  local function field(name, kind, required)
    local v = opts[name]
    if v == nil then
      if required then check.fail(1, f, fmt("field '%s' (%s) expected", name, kind)) end
      return nil
    end
    if type(v) ~= kind then
      check.fail(1, f, fmt("field '%s': %s expected, got %s", name, kind, check.typename(v)))
    end
    return v
  end
  field("file", "string", true)
  for _, name in ipairs{"title", "xlabel", "ylabel", "gnuplot", "key"} do field(name, "string") end
  if opts.key and not opts.key:match("^[%a ]+$") then
    check.fail(1, f, fmt("field 'key': gnuplot position words expected (e.g. 'top left'), got '%s'", opts.key))
  end
  for _, name in ipairs{"logx", "logy"} do field(name, "boolean") end
  for _, name in ipairs{"width", "height"} do
    local v = field(name, "number")
    if v and not (math.tointeger(v) and v >= 16 and v <= 10000) then
      check.fail(1, f, fmt("field '%s': integer in [16, 10000] expected, got %s", name, tostring(v)))
    end
  end
  local series = field("series", "table", true)
  if #series == 0 then check.fail(1, f, "field 'series': non-empty array expected") end
  local out = {}
  for i, s in ipairs(series) do
    if type(s) ~= "table" then
      check.fail(1, f, fmt("series %d: table expected, got %s", i, check.typename(s)))
    end
    local okx, x = pcall(check.vector, s.x, 1, "", "x")
    local oky, y = pcall(check.vector, s.y, 1, "", "y")
    if not okx then check.fail(1, f, fmt("series %d: x: %s", i, x:match("%((.*)%)$") or x)) end
    if not oky then check.fail(1, f, fmt("series %d: y: %s", i, y:match("%((.*)%)$") or y)) end
    if #x ~= #y then check.fail(1, f, fmt("series %d: x has %d entries, y has %d", i, #x, #y)) end
    if s.title ~= nil and type(s.title) ~= "string" then
      check.fail(1, f, fmt("series %d: title: string expected, got %s", i, check.typename(s.title)))
    end
    local style = s.style or "lines"
    if not styles[style] then
      check.fail(1, f, fmt("series %d: style '%s' unknown (lines, points, linespoints, dashed, dotted)",
        i, tostring(style)))
    end
    out[i] = {x = x, y = y, title = s.title, style = style}
  end
  local vlines = {}
  if opts.vlines ~= nil then
    if type(opts.vlines) ~= "table" then
      check.fail(1, f, "field 'vlines': table expected, got " .. check.typename(opts.vlines))
    end
    for i, v in ipairs(opts.vlines) do
      if type(v) == "number" then v = {x = v} end
      if type(v) ~= "table" or type(v.x) ~= "number" or (v.title ~= nil and type(v.title) ~= "string") then
        check.fail(1, f, fmt("vline %d: number or {x = number, title = string} expected", i))
      end
      vlines[i] = v
    end
  end
  return out, vlines
end

local function gp_number(x)
  if x ~= x or x == math.huge or x == -math.huge then return "NaN" end
  return number_text(x)
end

--- Draws a PNG with gnuplot:
--   plot{file = "out.png", title =, xlabel =, ylabel =, logx = bool, logy = bool,
--        width = 800, height = 500,
--        series = {{x = {...}, y = {...}, title = "...", style = "lines"}, ...},
--        vlines = {x, ... or {x = x, title = "..."}, ...},
--        key = "top left",       -- legend position, gnuplot's words (off, bottom right, ...)
--        gnuplot = "gnuplot"}    -- the executable (default $NTKLAB_GNUPLOT or gnuplot)
-- styles: lines, points, linespoints, dashed, dotted. NaN/Inf points are left out (gnuplot's
-- NaN), as are non-positive ones on a log axis. The PNG is written through a temporary file
-- and renamed. Returns true, or nil, msg when gnuplot is missing or fails.
function output.plot(opts)
  local series, vlines = plot_args(opts)
  local data_path = os.tmpname()
  local script_path = os.tmpname()
  local png_tmp = fmt("%s.tmp.%s.png", opts.file, tag())
  local function cleanup()
    os.remove(data_path)
    os.remove(script_path)
    os.remove(png_tmp)
  end
  local data = {}
  for i, s in ipairs(series) do
    if i > 1 then data[#data + 1] = "\n\n" end -- two blank lines: the next gnuplot index
    for k = 1, #s.x do data[#data + 1] = gp_number(s.x[k]) .. " " .. gp_number(s.y[k]) .. "\n" end
  end
  local lines = {
    -- pngcairo when this gnuplot has it (anti-aliased), else the libgd png terminal.
    fmt('if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo noenhanced size %d,%d } '
      .. 'else { set terminal png noenhanced size %d,%d }',
      opts.width or 800, opts.height or 500, opts.width or 800, opts.height or 500),
    "set output " .. gp_quote(png_tmp),
    "set key " .. (opts.key or "top left"),
    "set grid",
  }
  if opts.title then lines[#lines + 1] = "set title " .. gp_quote(opts.title) end
  if opts.xlabel then lines[#lines + 1] = "set xlabel " .. gp_quote(opts.xlabel) end
  if opts.ylabel then lines[#lines + 1] = "set ylabel " .. gp_quote(opts.ylabel) end
  if opts.logx then lines[#lines + 1] = "set logscale x" end
  if opts.logy then lines[#lines + 1] = "set logscale y" end
  for _, v in ipairs(vlines) do
    lines[#lines + 1] = fmt("set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lw 1.5 lc rgb 'gray40'",
      gp_number(v.x), gp_number(v.x))
    if v.title then
      lines[#lines + 1] = fmt("set label %s at %s, graph 0.97 rotate by 90 right offset -1,0 tc rgb 'gray30'",
        gp_quote(v.title), gp_number(v.x))
    end
  end
  local parts = {}
  for i, s in ipairs(series) do
    parts[i] = fmt("%s index %d using 1:2 %s title %s", i == 1 and gp_quote(data_path) or "''", i - 1,
      styles[s.style], s.title and gp_quote(s.title) or "''")
    if not s.title then parts[i] = parts[i]:gsub("title ''$", "notitle") end
  end
  lines[#lines + 1] = "plot " .. table.concat(parts, ", ")
  lines[#lines + 1] = "set output"
  local ok, err = atomic(data_path, function(emit) emit(table.concat(data)) end)
  if ok then ok, err = atomic(script_path, function(emit) emit(table.concat(lines, "\n") .. "\n") end) end
  if not ok then cleanup(); return nil, "plot: " .. err end
  local exe = opts.gnuplot or os.getenv("NTKLAB_GNUPLOT") or "gnuplot"
  local pipe = io.popen(shell_quote(exe) .. " " .. shell_quote(script_path) .. " 2>&1", "r")
  if not pipe then cleanup(); return nil, "plot: cannot run " .. exe end
  local said = pipe:read("a") or ""
  local _, _, code = pipe:close()
  if code == 127 then cleanup(); return nil, "plot: gnuplot not found ('" .. exe .. "')" end
  if code ~= 0 then
    cleanup()
    return nil, fmt("plot: gnuplot failed (exit %s): %s", tostring(code), said:gsub("%s+$", ""))
  end
  local png = io.open(png_tmp, "rb")
  local size = png and png:seek("end") or 0
  if png then png:close() end
  if size == 0 then cleanup(); return nil, "plot: gnuplot wrote no image: " .. said end
  local rok, rerr = os.rename(png_tmp, opts.file)
  cleanup()
  if not rok then return nil, fmt("plot: cannot replace '%s': %s", opts.file, rerr) end
  return true
end

-- Each value divided by a reference (a ratio plot); NaN where the reference is zero.
local function scaled(v, by)
  local out = {}
  for i = 1, #v do out[i] = by ~= 0 and v[i] / by or 0 / 0 end
  return out
end

--- The paper's Figure 1a panel from a recorded trajectory: loss / initial loss, alignment /
-- final alignment and |K|_F / final |K|_F against t (log axis, t > 0), with dashed vertical lines
-- at the readouts (a table from analysis.readouts: align90, kernel10, half_loss; missing ones
-- are skipped). traj needs t, loss, alignment, kernel_norm (arrays or tensors).
-- opts: title (string), logx (default true). Returns true, or nil, msg as plot does.
function output.plot_trajectory(file, traj, readouts, opts)
  local f = "output.plot_trajectory"
  check.string(file, 1, f)
  check.table(traj, 2, f)
  local cols = {}
  for _, key in ipairs{"t", "loss", "alignment", "kernel_norm"} do
    local ok, v = pcall(check.vector, traj[key], 2, f, key)
    if not ok then check.fail(2, f, "trajectory field '" .. key .. "': " .. (v:match("%((.*)%)$") or v)) end
    if key ~= "t" and #v ~= #cols.t then
      check.fail(2, f, fmt("trajectory field '%s' has %d records, t has %d", key, #v, #cols.t))
    end
    cols[key] = v
  end
  if readouts ~= nil then check.table(readouts, 3, f) end
  opts = opts or {}
  check.table(opts, 4, f)
  local n = #cols.t
  local vlines = {}
  for _, r in ipairs{{"align90", "t_align90"}, {"kernel10", "t_kernel10"}, {"half_loss", "t_half"}} do
    local x = readouts and readouts[r[1]]
    if type(x) == "number" and x == x then vlines[#vlines + 1] = {x = x, title = r[2]} end
  end
  return output.plot{
    file = file, title = opts.title or "silent alignment", xlabel = "t", ylabel = "relative value",
    logx = opts.logx ~= false, key = "center right",
    series = {
      {x = cols.t, y = scaled(cols.loss, cols.loss[1]), title = "loss / initial loss"},
      {x = cols.t, y = scaled(cols.alignment, cols.alignment[n]), title = "alignment / final"},
      {x = cols.t, y = scaled(cols.kernel_norm, cols.kernel_norm[n]), title = "|K|_F / final", style = "dashed"},
    },
    vlines = vlines,
  }
end

--- The paper's Figure 1c panel: each predictor's test predictions against the trained net's,
-- with the diagonal. net: vector; predictors: array of {y = vector, title = string}.
-- Returns true, or nil, msg as plot does.
function output.plot_predictions(file, net, predictors, opts)
  local f = "output.plot_predictions"
  check.string(file, 1, f)
  local x = check.vector(net, 2, f, "net predictions")
  check.table(predictors, 3, f)
  if #predictors == 0 then check.fail(3, f, "non-empty array of {y =, title =} expected") end
  opts = opts or {}
  check.table(opts, 4, f)
  local lo, hi = math.huge, -math.huge
  for i = 1, #x do lo, hi = math.min(lo, x[i]), math.max(hi, x[i]) end
  local series = {}
  for i, p in ipairs(predictors) do
    if type(p) ~= "table" then check.fail(3, f, fmt("predictor %d: table expected, got %s", i, check.typename(p))) end
    local ok, y = pcall(check.vector, p.y, 3, f, "y")
    if not ok then check.fail(3, f, fmt("predictor %d: y: %s", i, y:match("%((.*)%)$") or y)) end
    if #y ~= #x then check.fail(3, f, fmt("predictor %d has %d predictions, the net %d", i, #y, #x)) end
    if p.title ~= nil and type(p.title) ~= "string" then
      check.fail(3, f, fmt("predictor %d: title: string expected, got %s", i, check.typename(p.title)))
    end
    series[i] = {x = x, y = y, title = p.title, style = "points"}
  end
  series[#series + 1] = {x = {lo, hi}, y = {lo, hi}, title = "y = x", style = "dotted"}
  return output.plot{file = file, title = opts.title or "test predictions", xlabel = "trained net",
    ylabel = "kernel regression", series = series}
end

-- ---------------------------------------------------------------------------------------------
-- Progress line
-- ---------------------------------------------------------------------------------------------

local function stderr_is_terminal()
  local ok, term = pcall(require, "term") -- lua-term (a busted dependency, listed in setup)
  if ok and type(term) == "table" and type(term.isatty) == "function" then
    local tok, yes = pcall(term.isatty, io.stderr)
    return tok and yes == true
  end
  return false
end

--- A progress line, redrawn in place ("\r") on stderr:
--   local p = output.progress{total = n, label = "train", quiet = opts.quiet}
--   p:update(i, "loss 1.2e-3")  ...  p:finish()
-- It draws only when not quiet and stderr is a terminal, or when the environment variable
-- NTKLAB_FORCE_PROGRESS=1 (for logs and tests). Injectable for tests: stream (default
-- io.stderr), isatty (a function, default lua-term's check of stderr), interval (minimum CPU
-- seconds between redraws, default 0.2; os.clock is the clock, and a training loop keeps it
-- close to wall time).
function output.progress(opts)
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
  if opts.isatty ~= nil and type(opts.isatty) ~= "function" then
    check.fail(1, f, "field 'isatty': function expected, got " .. check.typename(opts.isatty))
  end
  local interval = opts.interval or 0.2
  if type(interval) ~= "number" or interval < 0 then
    check.fail(1, f, "field 'interval': non-negative number expected, got " .. tostring(interval))
  end
  local stream = opts.stream or io.stderr
  local enabled = false
  if not opts.quiet then
    enabled = os.getenv("NTKLAB_FORCE_PROGRESS") == "1" or (opts.isatty or stderr_is_terminal)()
  end
  local p = {enabled = enabled, drawn = false, last = -math.huge, width = 0}
  function p:update(done, extra)
    if not self.enabled then return end
    local now = os.clock()
    if now - self.last < interval and not (total and done >= total) then return end
    self.last = now
    local text = opts.label and (opts.label .. " ") or ""
    if total then
      text = text .. fmt("%3d%% (%s/%s)", math.floor(100 * done / total), number_text(done), number_text(total))
    else
      text = text .. number_text(done)
    end
    if extra then text = text .. " " .. tostring(extra) end
    -- Pad over the previous, possibly longer, line.
    local padded = text .. string.rep(" ", math.max(0, self.width - #text))
    self.width = #text
    stream:write("\r", padded)
    stream:flush()
    self.drawn = true
  end
  function p:finish()
    if self.drawn then stream:write("\n"); stream:flush() end
    self.drawn = false
  end
  return p
end

-- ---------------------------------------------------------------------------------------------
-- Command-line options
-- ---------------------------------------------------------------------------------------------

local option_types = {number = "NUMBER", integer = "INTEGER", string = "STRING", boolean = true, choice = true}

local function value_ok(o, v)
  if o.type == "number" then return type(v) == "number" and v == v end
  if o.type == "integer" then return math.tointeger(v) ~= nil end
  if o.type == "string" then return type(v) == "string" end
  if o.type == "boolean" then return type(v) == "boolean" end
  for _, c in ipairs(o.choices) do if c == v then return true end end
  return false
end

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

local function usage_of(o)
  local flag = "--" .. o.name:gsub("_", "-")
  if o.type == "boolean" then return flag end
  if o.type == "choice" then
    local c = {}
    for i, v in ipairs(o.choices) do c[i] = tostring(v) end
    return flag .. " " .. table.concat(c, "|")
  end
  return flag .. " " .. option_types[o.type]
end

--- The --help text of an options spec.
function output.help_text(spec)
  check_spec("output.help_text", spec)
  local lines = {}
  local prog = spec.name or "script"
  lines[1] = fmt("usage: ntklab %s [options]", spec.usage or prog)
  if spec.description then lines[#lines + 1] = ""; lines[#lines + 1] = spec.description end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "options:"
  local width = 6
  for _, o in ipairs(spec.options) do width = math.max(width, #usage_of(o)) end
  for _, o in ipairs(spec.options) do
    local d = o.help or ""
    if o.default ~= nil then
      d = d .. (d ~= "" and " " or "") .. "(default " .. (type(o.default) == "number" and number_text(o.default) or tostring(o.default)) .. ")"
    end
    lines[#lines + 1] = fmt("  %-" .. width .. "s  %s", usage_of(o), d)
  end
  lines[#lines + 1] = fmt("  %-" .. width .. "s  %s", "--help", "show this help and exit")
  return table.concat(lines, "\n") .. "\n"
end

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
    local t = text:lower()
    if t == "true" or t == "1" or t == "yes" then return true end
    if t == "false" or t == "0" or t == "no" then return false end
    return nil, fmt("option '%s' expects true or false, got '%s'", shown, text)
  end
  for _, c in ipairs(o.choices) do
    if tostring(c) == text then return c end
  end
  local c = {}
  for i, v in ipairs(o.choices) do c[i] = tostring(v) end
  return nil, fmt("option '%s' expects one of %s, got '%s'", shown, table.concat(c, ", "), text)
end

--- Parses command-line arguments (an array of strings, e.g. the script's `arg`) against
--   spec = {name = "silent_alignment", description = "...", options = {
--     {name = "sigma", type = "number", default = 0.1, help = "init scale", min = 0},
--     {name = "trainer", type = "choice", choices = {"flow", "gd", "adam"}, default = "flow"},
--     {name = "quiet", type = "boolean", default = false, help = "no progress line"}, ...}}
-- Accepted forms: --name value, --name=value, --flag / --no-flag (booleans); dashes and
-- underscores in names are interchangeable. Types: number, integer, string, boolean, choice
-- (min/max bound numbers). Returns the options table (defaults filled in), or
--   nil, help_text, 0          for --help / -h
--   nil, "error message", 2    for unknown options, bad values, missing values, stray words.
function output.parse_args(spec, args)
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
    if a == "--help" or a == "-h" then return nil, output.help_text(spec), 0 end
    local name, inline = a:match("^%-%-([^=]+)=(.*)$")
    if not name then name = a:match("^%-%-(.+)$") end
    if not name then return failure(fmt("unexpected argument '%s'", a)) end
    local key = name:gsub("-", "_")
    local o = byname[key]
    local negated = false
    if not o and key:sub(1, 3) == "no_" and byname[key:sub(4)] and byname[key:sub(4)].type == "boolean" then
      o, negated = byname[key:sub(4)], true
    end
    if not o then return failure(fmt("unknown option '--%s'", name)) end
    local shown = "--" .. name
    local text = inline
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

--- parse_args for scripts: prints the help to stdout and exits 0 on --help, prints the error to
-- stderr and exits 2 on a bad command line, else returns the options table.
function output.cli(spec, args)
  check_spec("output.cli", spec)
  check.table(args, 2, "output.cli")
  local values, msg, code = output.parse_args(spec, args)
  if values then return values end
  if code == 0 then
    io.stdout:write(msg)
    io.stdout:flush()
    os.exit(0)
  end
  io.stderr:write(msg, "\n")
  os.exit(2)
end

return output
