--- ntklab.plot: PNG plots through gnuplot (Debian's gnuplot-nox, installed by scripts/setup).
-- Published as ntklab.output.plot (error messages name output.plot). Misuse raises; gnuplot
-- missing or failing returns nil, msg and leaves an old PNG as it was.
local check = require "ntklab.argcheck"
check.register()
local fs = require "ntklab.fs"
local json = require "ntklab.json"

local plot = {}

local fmt = string.format
local number_text = json.number_text_exact


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

-- A temporary file (not atomic: plot removes it whatever happens). Returns true, or nil, msg.
local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, fmt("cannot write '%s': %s", path, err) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not (ok and cok) then os.remove(path); return nil, fmt("cannot write '%s': %s", path, tostring(werr or cerr)) end
  return true
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
function plot.plot(opts)
  local series, vlines = plot_args(opts)
  -- Every temporary file sits next to the PNG, named as fs.clean_temp recognizes, so a killed
  -- run leaves nothing that the next start of the runner does not remove.
  local data_path = fs.temp_name(opts.file, ".dat")
  local script_path = fs.temp_name(opts.file, ".gp")
  local png_tmp = fs.temp_name(opts.file, ".png")
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
  local ok, err = write_file(data_path, table.concat(data))
  if ok then ok, err = write_file(script_path, table.concat(lines, "\n") .. "\n") end
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


return plot
