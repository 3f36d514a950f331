--- figures/gp.lua: the figure scripts' gnuplot helper, for what ntklab.output.plot does not
-- draw: a colour per series (so that a depth keeps its colour across points, ODE and
-- asymptote), several panels in one PNG, and matrix heat maps.
--   local gp = dofile("experiments/figures/gp.lua")
--   gp.render(file, {title = ..., layout = {rows, cols}, width =, height =, panels = {
--     {title =, xlabel =, ylabel =, logx =, logy =, key =, yrange = {lo, hi},
--      series = {{x =, y =, title =, style = "points" | "lines" | "dashed" | "linespoints" | "dotted",
--                 color = "#1f77b4"}, ...},
--      vlines = {{x =, title =, color =}, ...}},
--     {heatmap = matrix (array of rows), title =, range = {lo, hi}}, ...}})
-- The PNG is written to a temporary name and renamed. Returns true, or nil, msg.
local gp = {}

gp.palette = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

local function quote(s) return "'" .. tostring(s):gsub("'", "''") .. "'" end
local function shell(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function num(x)
  if x ~= x or x == math.huge or x == -math.huge then return "NaN" end
  return ("%.10g"):format(x)
end

local STYLE = {
  points = "with points pt 7 ps 1.1",
  lines = "with lines lw 2",
  dashed = "with lines lw 2 dt 2",
  dotted = "with lines lw 2 dt 3",
  linespoints = "with linespoints lw 2 pt 7 ps 1.0",
}

function gp.render(file, fig)
  local tmp = {}
  local function tmpfile(text)
    local p = os.tmpname()
    tmp[#tmp + 1] = p
    local f = assert(io.open(p, "w"))
    f:write(text)
    f:close()
    return p
  end
  local png = file .. ".tmp.png"
  local lines = {
    ("set terminal pngcairo noenhanced size %d,%d font ',11'"):format(fig.width or 900, fig.height or 600),
    "set output " .. quote(png),
  }
  local layout = fig.layout
  if layout then
    lines[#lines + 1] = ("set multiplot layout %d,%d%s"):format(layout[1], layout[2],
      fig.title and (" title " .. quote(fig.title)) or "")
  elseif fig.title and fig.panels[1] and not fig.panels[1].title then
    fig.panels[1].title = fig.title
  end
  for _, p in ipairs(fig.panels) do
    lines[#lines + 1] = "reset"
    if p.title then lines[#lines + 1] = "set title " .. quote(p.title) end
    if p.heatmap then
      local rows = {}
      for i, row in ipairs(p.heatmap) do
        local r = {}
        for j, v in ipairs(row) do r[j] = num(v) end
        rows[i] = table.concat(r, " ")
      end
      local path = tmpfile(table.concat(rows, "\n") .. "\n")
      local lo, hi = (p.range or {-1, 1})[1], (p.range or {-1, 1})[2]
      lines[#lines + 1] = "set view map; unset key; set size square; set yrange [*:*] reverse; unset xtics; unset ytics"
      lines[#lines + 1] = ("set cbrange [%s:%s]; set palette defined (-1 '#2166ac', 0 'white', 1 '#b2182b')"):format(num(lo), num(hi))
      lines[#lines + 1] = "plot " .. quote(path) .. " matrix with image"
    else
      lines[#lines + 1] = "set grid"
      lines[#lines + 1] = "set key " .. (p.key or "top left") .. " noopaque"
      if p.xlabel then lines[#lines + 1] = "set xlabel " .. quote(p.xlabel) end
      if p.ylabel then lines[#lines + 1] = "set ylabel " .. quote(p.ylabel) end
      if p.logx then lines[#lines + 1] = "set logscale x; set format x '%g'" end
      if p.logy then lines[#lines + 1] = "set logscale y; set format y '%g'" end
      if p.yrange then lines[#lines + 1] = ("set yrange [%s:%s]"):format(num(p.yrange[1]), num(p.yrange[2])) end
      for _, v in ipairs(p.vlines or {}) do
        lines[#lines + 1] = ("set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lw 1.5 lc rgb %s"):format(
          num(v.x), num(v.x), quote(v.color or "gray40"))
        if v.title then
          lines[#lines + 1] = ("set label %s at %s, graph 0.97 rotate by 90 right offset -1,0 tc rgb %s"):format(
            quote(v.title), num(v.x), quote(v.color or "gray30"))
        end
      end
      local blocks, parts = {}, {}
      for i, s in ipairs(p.series) do
        local b = {}
        for k = 1, #s.x do b[k] = num(s.x[k]) .. " " .. num(s.y[k]) end
        blocks[i] = table.concat(b, "\n")
      end
      local path = tmpfile(table.concat(blocks, "\n\n\n") .. "\n")
      for i, s in ipairs(p.series) do
        local style = STYLE[s.style or "lines"] or error("figures/gp: unknown style " .. tostring(s.style))
        parts[i] = ("%s index %d using 1:2 %s lc rgb %s %s"):format(i == 1 and quote(path) or "''", i - 1, style,
          quote(s.color or gp.palette[(i - 1) % #gp.palette + 1]), s.title and ("title " .. quote(s.title)) or "notitle")
      end
      lines[#lines + 1] = "plot " .. table.concat(parts, ", ")
    end
  end
  if layout then lines[#lines + 1] = "unset multiplot" end
  lines[#lines + 1] = "set output"
  local script = tmpfile(table.concat(lines, "\n") .. "\n")
  local pipe = io.popen("gnuplot " .. shell(script) .. " 2>&1")
  local said = pipe and pipe:read("a") or ""
  local ok, _, code = false, nil, 127
  if pipe then ok, _, code = pipe:close() end
  for _, p in ipairs(tmp) do os.remove(p) end
  if not ok or code ~= 0 then os.remove(png); return nil, "gnuplot failed: " .. said end
  local rok, rerr = os.rename(png, file)
  if not rok then return nil, rerr end
  return true
end

return gp
