--- A grid of gnuplot panels in one PNG, for the figure scripts in this folder (ntklab.plot draws
-- one panel per file). dofile(".../experiments/figures/multiplot.lua") returns the function
--   multiplot{file = "fig.png", title = "...", rows = 1, cols = 3, width = 1500, height = 500,
--             panels = {{title =, xlabel =, ylabel =, logx =, logy =, key = "top left",
--                        square = bool, xrange = {a, b}, yrange = {a, b},
--                        series = {{x = {...}, y = {...}, title =, style =, color =}, ...}}, ...}}
-- styles: lines, points, dashed, dotted, thick, errorbars (series with dy = {...}). NaN points
-- break a line. The PNG goes through a temporary file and a rename (fs.temp_name), so a killed
-- script never leaves half a PNG. Returns true, or nil, msg when gnuplot is missing or fails.
local fs = require "ntklab.fs"

local fmt = string.format

local STYLES = {
  lines = "with lines lw 2",
  thick = "with lines lw 4",
  points = "with points pt 7 ps 0.8",
  dashed = "with lines lw 2 dt 2",
  dotted = "with lines lw 2 dt 3",
  errorbars = "with yerrorlines lw 2 pt 7 ps 0.8",
}

local function q(s) return "'" .. tostring(s):gsub("'", "''") .. "'" end
local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function num(x)
  if type(x) == "string" then return x end -- "*": gnuplot's autoscale for a range end
  if x ~= x or x == math.huge or x == -math.huge then return "NaN" end
  return fmt("%.10g", x)
end

return function(opts)
  assert(type(opts) == "table" and type(opts.file) == "string" and type(opts.panels) == "table",
    "multiplot{file =, panels =} expected")
  local rows, cols = opts.rows or 1, opts.cols or #opts.panels
  local png_tmp = fs.temp_name(opts.file, ".png")
  local script_path = fs.temp_name(opts.file, ".gp")
  local err_path = fs.temp_name(opts.file, ".err")
  local L = {
    fmt('if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo noenhanced size %d,%d font ",11" } '
      .. 'else { set terminal png noenhanced size %d,%d }',
      opts.width or 500 * cols, opts.height or 420 * rows, opts.width or 500 * cols, opts.height or 420 * rows),
    "set output " .. q(png_tmp),
  }
  local blocks = 0
  local body = {}
  for _, p in ipairs(opts.panels) do
    local parts = {}
    for _, s in ipairs(p.series) do
      blocks = blocks + 1
      local name = "$d" .. blocks
      L[#L + 1] = name .. " << EOD"
      for k = 1, #s.x do
        L[#L + 1] = s.dy and (num(s.x[k]) .. " " .. num(s.y[k]) .. " " .. num(s.dy[k]))
          or (num(s.x[k]) .. " " .. num(s.y[k]))
      end
      L[#L + 1] = "EOD"
      local style = assert(STYLES[s.style or "lines"], "unknown style " .. tostring(s.style))
      parts[#parts + 1] = fmt("%s using 1:2%s %s%s %s", name, s.dy and ":3" or "", style,
        s.color and (" lc rgb " .. q(s.color)) or "", s.title and ("title " .. q(s.title)) or "notitle")
    end
    local cmds = {"reset", "set grid", "set clip two", "set key " .. (p.key or "top left") .. " font ',9'"}
    if p.title then cmds[#cmds + 1] = "set title " .. q(p.title) end
    if p.xlabel then cmds[#cmds + 1] = "set xlabel " .. q(p.xlabel) end
    if p.ylabel then cmds[#cmds + 1] = "set ylabel " .. q(p.ylabel) end
    if p.logx then cmds[#cmds + 1] = "set logscale x" end
    if p.logy then cmds[#cmds + 1] = "set logscale y" end
    if p.square then cmds[#cmds + 1] = "set size ratio -1" end
    if p.xrange then cmds[#cmds + 1] = fmt("set xrange [%s:%s]", num(p.xrange[1]), num(p.xrange[2])) end
    if p.yrange then cmds[#cmds + 1] = fmt("set yrange [%s:%s]", num(p.yrange[1]), num(p.yrange[2])) end
    cmds[#cmds + 1] = "plot " .. table.concat(parts, ", ")
    body[#body + 1] = table.concat(cmds, "\n")
  end
  L[#L + 1] = fmt("set multiplot layout %d,%d%s", rows, cols, opts.title and (" title " .. q(opts.title)) or "")
  for _, b in ipairs(body) do L[#L + 1] = b end
  L[#L + 1] = "unset multiplot"
  L[#L + 1] = "set output"
  local f, err = io.open(script_path, "wb")
  if not f then return nil, "multiplot: " .. tostring(err) end
  f:write(table.concat(L, "\n"), "\n")
  f:close()
  local exe = os.getenv("NTKLAB_GNUPLOT") or "gnuplot"
  local ok = os.execute(exe .. " " .. shq(script_path) .. " 2>" .. shq(err_path))
  local errf = io.open(err_path, "rb")
  local errtext = errf and errf:read("a") or ""
  if errf then errf:close() end
  os.remove(err_path)
  os.remove(script_path)
  if not ok then
    os.remove(png_tmp)
    return nil, fmt("multiplot: gnuplot failed for %s: %s", opts.file, errtext)
  end
  local rok, rerr = os.rename(png_tmp, opts.file)
  if not rok then os.remove(png_tmp); return nil, "multiplot: " .. tostring(rerr) end
  return true
end
