--- ntklab.plot: figures through gnuplot (Debian's gnuplot-nox, installed by scripts/setup), as a
-- PNG and an SVG beside it (fig.png and fig.svg).
--   plot.figure{file = "fig.png", title =, rows = 1, cols = #panels, width =, height =,
--               svg = true, gnuplot = "gnuplot", panels = {panel, ...}}
--   plot.plot{file =, <the fields of one panel>}         one panel (ntklab.output.plot)
-- A panel: {title =, xlabel =, ylabel =, logx =, logy =, xrange = {lo, hi}, yrange = {lo, hi}
--           ("*" for an open end), square = bool, key = "below" (gnuplot's position words,
--           outside the data: "top left" reads as below; "off" hides it),
--           series = {{x =, y =, dy = (errorbars), title =, style = "lines", color = "#rrggbb" | "gray40"}, ...},
--           vlines = {x | {x =, title =, color =}, ...}, hlines = {y | {y =, title =}, ...}}
--        or a heat map: {heatmap = rows (arrays of numbers, or a matrix tensor), title =,
--           range = {lo, hi} (default -1, 1), palette = "diverging" | "sequential"}.
-- Styles: lines, thick, dashed, dotted, points, circles (open), linespoints, errorbars (with dy).
-- Each series without a colour takes the next of plot.palette, so a series keeps its colour from
-- panel to panel when the caller passes the same index (plot.color(i)). Point series are drawn
-- after the lines, so a fit never hides the measurements. Vertical and horizontal marker lines are
-- named in the legend ("t_{1/2} = 3.1"), never as labels on the data, so they cannot overlap.
-- Text is gnuplot's enhanced text with two markups only: _{sub} and ^{sup} (‖K‖_{F}, σ^{2} or
-- plain UTF-8 σ²); every other character, a lone _ or ^ included, is printed as written.
-- NaN/Inf points are left out (a gap in a line), as are non-positive ones on a log axis.
-- Misuse raises; gnuplot missing or failing returns nil, msg and leaves older files as they were:
-- both images go through temporary names next to the target (fs.temp_name) and are renamed.
local check = require "ntklab.argcheck"
check.register()
local fs = require "ntklab.fs"

local plot = {}

local fmt = string.format

--- Colours of series by index (matplotlib's tab10, readable on white and in grey print).
plot.palette = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
  "#17becf", "#7f7f7f", "#bcbd22"}
--- The palette's i-th colour (cycling).
function plot.color(i) return plot.palette[(i - 1) % #plot.palette + 1] end
-- Marker lines: dark greys with their own dash patterns, apart from the series' colours.
local MARKER_COLORS = {"#404040", "#7f7f7f", "#000000", "#a0a0a0"}

local STYLES = {
  lines = "with lines lw 2",
  thick = "with lines lw 4",
  dashed = "with lines lw 2 dt 2",
  dotted = "with lines lw 2 dt 3",
  points = "with points pt 7 ps 0.8",
  circles = "with points pt 6 ps 1.2 lw 1.5",
  linespoints = "with linespoints lw 2 pt 7 ps 0.8",
  errorbars = "with yerrorlines lw 2 pt 7 ps 0.8",
}
local STYLE_NAMES = "lines, thick, dashed, dotted, points, circles, linespoints, errorbars"
local POINT_STYLES = {points = true, circles = true}

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
-- A plain gnuplot string (a file name): single quotes, '' for a quote, no escapes.
local function gp_quote(s) return "'" .. s:gsub("'", "''") .. "'" end

-- The body of plot.text (without the quotes).
local function escape(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    local group = s:match("^[_^]%b{}", i)
    if group then
      out[#out + 1] = c .. "{" .. escape(group:sub(3, -2)) .. "}"
      i = i + #group
    else
      if c == "'" then c = "''" elseif c:match("[_^@&~{}\\]") then c = "\\" .. c end
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

--- Text for gnuplot's enhanced mode in single quotes: _{...} and ^{...} stay markup, every other
-- special character (_ ^ @ & ~ { } \) is escaped, and a quote is doubled.
-- A line break becomes gnuplot's "\n" between single-quoted pieces.
function plot.text(s)
  local lines = {}
  for line in (tostring(s) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = "'" .. escape(line) .. "'" end
  return table.concat(lines, [[."\n".]])
end

local function num(x)
  if x == "*" then return "*" end
  if x ~= x or x == math.huge or x == -math.huge then return "NaN" end
  return fmt("%.12g", x)
end

-- ---- argument checks -------------------------------------------------------------------

local function vector_field(v, f, where, name)
  local ok, x = pcall(check.vector, v, 1, "", name)
  if not ok then check.fail(1, f, fmt("%s%s: %s", where, name, x:match("%((.*)%)$") or x)) end
  return x
end

local function opt_type(v, kind, f, where, name)
  if v ~= nil and type(v) ~= kind then
    check.fail(1, f, fmt("%sfield '%s': %s expected, got %s", where, name, kind, check.typename(v)))
  end
  return v
end

local function check_range(v, f, where, name)
  if v == nil then return nil end
  if type(v) ~= "table" or #v ~= 2 or not (type(v[1]) == "number" or v[1] == "*")
    or not (type(v[2]) == "number" or v[2] == "*") then
    check.fail(1, f, fmt("%sfield '%s': {lo, hi} expected (numbers or \"*\")", where, name))
  end
  return v
end

local function check_series(series, f, where)
  if type(series) ~= "table" then
    check.fail(1, f, fmt("%sfield 'series': table expected, got %s", where, check.typename(series)))
  end
  if #series == 0 then check.fail(1, f, where .. "field 'series': non-empty array expected") end
  local out = {}
  for i, s in ipairs(series) do
    local at = fmt("%sseries %d: ", where, i)
    if type(s) ~= "table" then check.fail(1, f, fmt("%stable expected, got %s", at, check.typename(s))) end
    local x, y = vector_field(s.x, f, at, "x"), vector_field(s.y, f, at, "y")
    if #x ~= #y then check.fail(1, f, fmt("%sx has %d entries, y has %d", at, #x, #y)) end
    local dy = s.dy ~= nil and vector_field(s.dy, f, at, "dy") or nil
    if dy and #dy ~= #x then check.fail(1, f, fmt("%sdy has %d entries, x has %d", at, #dy, #x)) end
    if s.title ~= nil and type(s.title) ~= "string" then
      check.fail(1, f, fmt("%stitle: string expected, got %s", at, check.typename(s.title)))
    end
    local style = s.style or (dy and "errorbars" or "lines")
    if not STYLES[style] then
      check.fail(1, f, fmt("%sstyle '%s' unknown (%s)", at, tostring(style), STYLE_NAMES))
    end
    if style == "errorbars" and not dy then check.fail(1, f, at .. "style 'errorbars' needs dy") end
    if s.color ~= nil and not (type(s.color) == "string"
        and (s.color:match("^#%x%x%x%x%x%x$") or s.color:match("^%a%w*$"))) then
      check.fail(1, f, fmt("%scolor: '#rrggbb' or a gnuplot colour name expected, got %s", at, tostring(s.color)))
    end
    out[i] = {x = x, y = y, dy = dy, title = s.title, style = style, color = s.color}
  end
  return out
end

local function check_markers(list, f, where, axis)
  if list == nil then return {} end
  if type(list) ~= "table" then
    check.fail(1, f, fmt("%sfield '%slines': table expected, got %s", where, axis == "x" and "v" or "h",
      check.typename(list)))
  end
  local out = {}
  for i, v in ipairs(list) do
    if type(v) == "number" then v = {[axis] = v} end
    if type(v) ~= "table" or type(v[axis]) ~= "number" or (v.title ~= nil and type(v.title) ~= "string")
      or (v.color ~= nil and not (type(v.color) == "string" and v.color:match("^#?%w+$"))) then
      check.fail(1, f, fmt("%s%sline %d: number or {%s = number, title = string} expected", where,
        axis == "x" and "v" or "h", i, axis))
    end
    out[i] = v
  end
  return out
end

local function check_panel(p, f, where)
  if type(p) ~= "table" then check.fail(1, f, fmt("%stable expected, got %s", where, check.typename(p))) end
  for _, name in ipairs{"title", "xlabel", "ylabel", "key", "palette"} do opt_type(p[name], "string", f, where, name) end
  for _, name in ipairs{"logx", "logy", "square"} do opt_type(p[name], "boolean", f, where, name) end
  if p.key and not p.key:match("^[%a ]+$") then
    check.fail(1, f, fmt("%sfield 'key': gnuplot position words expected (e.g. 'top left'), got '%s'", where, p.key))
  end
  local q = {title = p.title, xlabel = p.xlabel, ylabel = p.ylabel, key = p.key, logx = p.logx,
    logy = p.logy, square = p.square, xrange = check_range(p.xrange, f, where, "xrange"),
    yrange = check_range(p.yrange, f, where, "yrange")}
  if p.heatmap ~= nil then
    local ok, rows = pcall(check.matrix, p.heatmap, 1, "", "heatmap")
    if not ok then check.fail(1, f, where .. "heatmap: " .. (rows:match("%((.*)%)$") or rows)) end
    q.heatmap, q.range = rows, check_range(p.range, f, where, "range") or {-1, 1}
    if p.palette ~= nil and p.palette ~= "diverging" and p.palette ~= "sequential" then
      check.fail(1, f, fmt("%sfield 'palette': 'diverging' or 'sequential' expected, got '%s'", where, p.palette))
    end
    q.palette = p.palette or "diverging"
    return q
  end
  q.series = check_series(p.series, f, where)
  q.vlines = check_markers(p.vlines, f, where, "x")
  q.hlines = check_markers(p.hlines, f, where, "y")
  return q
end

local function check_size(v, f, name)
  if v ~= nil and not (math.tointeger(v) and v >= 16 and v <= 10000) then
    check.fail(1, f, fmt("field '%s': integer in [16, 10000] expected, got %s", name, tostring(v)))
  end
  return v
end

-- ---- the gnuplot script ----------------------------------------------------------------

-- Legends sit outside the data, below the graph: a position inside it ("top left", "bottom
-- right") is read as that; "off", "above" and words that say inside, outside or a margin are
-- gnuplot's own ("outside right top" puts it on the right).
local function key_position(key)
  if key ~= nil then
    for _, word in ipairs{"off", "inside", "outside", "below", "above", "margin"} do
      if key:find(word, 1, true) then return key end
    end
  end
  return "below"
end

-- The commands of one panel; its data go into datablocks appended to `data`.
local function panel_commands(p, data)
  local cmds = {"reset", "set encoding utf8"}
  local function block(rows)
    local name = "$d" .. (#data + 1)
    data[#data + 1] = name .. " << EOD\n" .. table.concat(rows, "\n") .. "\nEOD"
    return name
  end
  if p.title then cmds[#cmds + 1] = "set title " .. plot.text(p.title) end
  if p.heatmap then
    local rows = {}
    for i, row in ipairs(p.heatmap) do
      local r = {}
      for j, v in ipairs(row) do r[j] = num(v) end
      rows[i] = table.concat(r, " ")
    end
    local name = block(rows)
    cmds[#cmds + 1] = "set view map; unset key; set size square; set yrange [*:*] reverse; unset xtics; unset ytics"
    cmds[#cmds + 1] = fmt("set cbrange [%s:%s]", num(p.range[1]), num(p.range[2]))
    cmds[#cmds + 1] = p.palette == "sequential" and "set palette defined (0 'white', 1 '#08306b')"
      or "set palette defined (-1 '#2166ac', 0 'white', 1 '#b2182b')"
    cmds[#cmds + 1] = "plot " .. name .. " matrix with image notitle"
    return cmds
  end
  cmds[#cmds + 1] = "set grid; set clip two" -- clip two: a line through the graph with both ends outside it
  -- height 1: room for the smaller legend font, so a legend below never runs into the x label
  cmds[#cmds + 1] = "set key " .. key_position(p.key) .. " noopaque font ',9' height 1"
  if p.xlabel then cmds[#cmds + 1] = "set xlabel " .. plot.text(p.xlabel) end
  if p.ylabel then cmds[#cmds + 1] = "set ylabel " .. plot.text(p.ylabel) end
  if p.logx then cmds[#cmds + 1] = "set logscale x; set format x '%g'" end
  if p.logy then cmds[#cmds + 1] = "set logscale y; set format y '%g'" end
  if p.square then cmds[#cmds + 1] = "set size ratio -1" end
  if p.xrange then cmds[#cmds + 1] = fmt("set xrange [%s:%s]", num(p.xrange[1]), num(p.xrange[2])) end
  if p.yrange then cmds[#cmds + 1] = fmt("set yrange [%s:%s]", num(p.yrange[1]), num(p.yrange[2])) end
  local parts, points = {}, {}
  for i, s in ipairs(p.series) do
    local rows = {}
    for k = 1, #s.x do
      rows[k] = s.dy and (num(s.x[k]) .. " " .. num(s.y[k]) .. " " .. num(s.dy[k])) or (num(s.x[k]) .. " " .. num(s.y[k]))
    end
    local part = fmt("%s using 1:2%s %s lc rgb '%s' %s", block(rows), s.dy and ":3" or "", STYLES[s.style],
      s.color or plot.color(i), s.title and ("title " .. plot.text(s.title)) or "notitle")
    if POINT_STYLES[s.style] then points[#points + 1] = part else parts[#parts + 1] = part end
  end
  for _, part in ipairs(points) do parts[#parts + 1] = part end
  -- marker lines: an arrow across the graph, named by a legend entry in the same dash and colour
  for _, axis in ipairs{"x", "y"} do
    for i, v in ipairs(axis == "x" and p.vlines or p.hlines) do
      local color = v.color or MARKER_COLORS[(i - 1) % #MARKER_COLORS + 1]
      local dt = v.title and (i - 1) % 3 + 2 or 2 -- named markers differ by dash, unnamed ones are dashed
      if axis == "x" then
        cmds[#cmds + 1] = fmt("set arrow from %s, graph 0 to %s, graph 1 nohead dt %d lw 1.5 lc rgb '%s' front",
          num(v.x), num(v.x), dt, color)
      else
        cmds[#cmds + 1] = fmt("set arrow from graph 0, first %s to graph 1, first %s nohead dt %d lw 1.5 lc rgb '%s' front",
          num(v.y), num(v.y), dt, color)
      end
      if v.title then
        parts[#parts + 1] = fmt("NaN with lines dt %d lw 1.5 lc rgb '%s' title %s", dt, color, plot.text(v.title))
      end
    end
  end
  cmds[#cmds + 1] = "plot " .. table.concat(parts, ", ")
  return cmds
end

-- Runs gnuplot on script_path; returns true, or nil, msg.
local function run_gnuplot(exe, script_path)
  local pipe = io.popen(shell_quote(exe) .. " " .. shell_quote(script_path) .. " 2>&1", "r")
  if not pipe then return nil, "cannot run " .. exe end
  local said = pipe:read("a") or ""
  local _, _, code = pipe:close()
  if code == 127 then return nil, "gnuplot not found ('" .. exe .. "')" end
  if code ~= 0 then return nil, fmt("gnuplot failed (exit %s): %s", tostring(code), (said:gsub("%s+$", ""))) end
  return true, said
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local size = f:seek("end") or 0
  f:close()
  return size
end

--- The SVG written beside a PNG: fig.png -> fig.svg (another name gets .svg appended).
function plot.svg_name(file)
  return (file:gsub("%.png$", "")) .. ".svg"
end

--- Draws fig (see the top of this file) into fig.file and, unless svg = false, its SVG twin.
-- Returns true, or nil, msg when gnuplot is missing or fails.
function plot.figure(fig, fname)
  local f = fname or "plot.figure"
  check.table(fig, 1, f)
  if type(fig.file) ~= "string" then check.fail(1, f, "field 'file' (string) expected") end
  opt_type(fig.title, "string", f, "", "title")
  opt_type(fig.gnuplot, "string", f, "", "gnuplot")
  opt_type(fig.svg, "boolean", f, "", "svg")
  if type(fig.panels) ~= "table" or #fig.panels == 0 then
    check.fail(1, f, "field 'panels': non-empty array of panels expected")
  end
  local panels = {}
  for i, p in ipairs(fig.panels) do
    panels[i] = check_panel(p, f, #fig.panels > 1 and fmt("panel %d: ", i) or "")
  end
  for _, name in ipairs{"rows", "cols"} do
    local v = fig[name]
    if v ~= nil and not (math.tointeger(v) and v >= 1 and v <= 20) then
      check.fail(1, f, fmt("field '%s': integer in [1, 20] expected, got %s", name, tostring(v)))
    end
  end
  local cols = fig.cols or math.min(#panels, 3)
  local rows = fig.rows or math.ceil(#panels / cols)
  if rows * cols < #panels then
    check.fail(1, f, fmt("%d panels do not fit a %d x %d layout", #panels, rows, cols))
  end
  local width = check_size(fig.width, f, "width") or 560 * cols
  local height = check_size(fig.height, f, "height") or 420 * rows

  local data, body = {}, {}
  for _, p in ipairs(panels) do
    for _, c in ipairs(panel_commands(p, data)) do body[#body + 1] = c end
  end
  local multi = #panels > 1 or fig.title ~= nil
  local png_tmp, svg_tmp = fs.temp_name(fig.file, ".png"), fs.temp_name(fig.file, ".svg")
  local script_path = fs.temp_name(fig.file, ".gp")
  local targets = {{"pngcairo enhanced", png_tmp, fig.file}}
  if fig.svg ~= false then targets[2] = {"svg dynamic enhanced background '#ffffff'", svg_tmp, plot.svg_name(fig.file)} end
  local script = {"set encoding utf8", table.concat(data, "\n")}
  for _, t in ipairs(targets) do
    script[#script + 1] = fmt("set terminal %s size %d,%d font 'sans,11'", t[1], width, height)
    script[#script + 1] = "set output " .. gp_quote(t[2])
    if multi then
      script[#script + 1] = fmt("set multiplot layout %d,%d%s", rows, cols,
        fig.title and (" title " .. plot.text(fig.title) .. " font ',13'") or "")
    end
    for _, c in ipairs(body) do script[#script + 1] = c end
    if multi then script[#script + 1] = "unset multiplot" end
    script[#script + 1] = "set output"
  end
  local function cleanup()
    os.remove(script_path)
    os.remove(png_tmp)
    os.remove(svg_tmp)
  end
  local ok, err = fs.write_atomic(script_path, table.concat(script, "\n") .. "\n")
  if not ok then cleanup(); return nil, "plot: " .. tostring(err) end
  local said
  ok, said = run_gnuplot(fig.gnuplot or os.getenv("NTKLAB_GNUPLOT") or "gnuplot", script_path)
  if not ok then cleanup(); return nil, "plot: " .. said end
  for _, t in ipairs(targets) do
    if file_size(t[2]) == 0 then cleanup(); return nil, "plot: gnuplot wrote no image: " .. said end
  end
  for _, t in ipairs(targets) do
    local rok, rerr = os.rename(t[2], t[3])
    if not rok then cleanup(); return nil, fmt("plot: cannot replace '%s': %s", t[3], rerr) end
  end
  cleanup()
  return true
end

--- One panel: plot{file =, title =, xlabel =, ylabel =, logx =, logy =, key =, xrange =, yrange =,
-- width = 800, height = 500, svg = true, gnuplot =, series = {...}, vlines = {...}, hlines = {...}}
-- (the fields of a panel, above). Returns true, or nil, msg.
function plot.plot(opts)
  local f = "output.plot"
  check.table(opts, 1, f)
  if opts.file == nil then check.fail(1, f, "field 'file' (string) expected") end
  opt_type(opts.file, "string", f, "", "file")
  if opts.series == nil then check.fail(1, f, "field 'series' (table) expected") end
  local panel = {}
  for k, v in pairs(opts) do
    if k ~= "file" and k ~= "width" and k ~= "height" and k ~= "gnuplot" and k ~= "svg" then panel[k] = v end
  end
  check_size(opts.width, f, "width")
  check_size(opts.height, f, "height")
  return plot.figure({file = opts.file, width = opts.width or 900, height = opts.height or 600,
    gnuplot = opts.gnuplot, svg = opts.svg, panels = {panel}}, f)
end

return plot
