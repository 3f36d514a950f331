-- Figure C.1 (and Figure 2) from a run directory of experiments/unwhitened_linear.lua or
-- experiments/phase_portrait.lua: it reads kernels.csv, trajectory.csv, data.csv and plane.csv,
-- never the net. Panels (a-c): level curves of beta^T M^-1 beta (the RKHS norm of f = beta . x under
-- the kernel M) in the drawing plane at t = 0, at the end of phase I and at the end, with the
-- path of W^T a up to that time and the minimum-norm interpolator X^+ y (with P = 1 and D = 2,
-- the interpolating line x . beta = y too). Panel (d): the cosines of M's top eigenvector with
-- Sigma beta and with beta against t, simulation and early theory (Figure C.1 only).
--   build/bin/ntklab experiments/figures/unwhitened_linear.lua RUN_DIR [OUT.png]
-- As a module (dofile): {draw = function(run_dir, png [, opts]) -> true or nil, msg}.
local csv = require "ntklab.csv"

local json = require "ntklab.json"
local plot = require "ntklab.plot"

local fig = {}

local function read(dir, name)
  local header, cols = csv.read_csv(dir .. "/" .. name)
  if not header then error(cols, 0) end
  return cols
end

-- Level curves c^T G c = L of a 2 x 2 positive definite G, as closed polylines (NaN between
-- them): levels chosen so that the curves' longest semi-axes are R/5, 2R/5, ..., R, so each
-- panel shows the kernel's shape at the same scale whatever its size.
local function ellipses(g11, g12, g22, R)
  local tr, det = g11 + g22, g11 * g22 - g12 * g12
  local disc = math.sqrt(math.max(tr * tr / 4 - det, 0))
  local lmin = tr / 2 - disc
  -- eigenvector of the smallest eigenvalue (the longest axis)
  local vx, vy
  if math.abs(g12) > 1e-300 * (math.abs(g11) + math.abs(g22)) then
    vx, vy = g12, lmin - g11
  elseif g11 <= g22 then
    vx, vy = 1, 0
  else
    vx, vy = 0, 1
  end
  local n = math.sqrt(vx * vx + vy * vy)
  vx, vy = vx / n, vy / n
  local lmax = tr / 2 + disc
  local x, y = {}, {}
  for k = 1, 5 do
    local L = lmin * (k * R / 5) ^ 2
    local a1, a2 = math.sqrt(L / lmin), math.sqrt(L / lmax)
    for i = 0, 120 do
      local th = 2 * math.pi * i / 120
      local u, w = a1 * math.cos(th), a2 * math.sin(th)
      x[#x + 1], y[#y + 1] = u * vx - w * vy, u * vy + w * vx
    end
    x[#x + 1], y[#y + 1] = 0 / 0, 0 / 0
  end
  return x, y
end

--- Draws the figure into png from the run directory dir. opts.title: the figure's title;
-- opts.cos_panel = false leaves out panel (d) (Figure 2).
function fig.draw(dir, png, opts)
  opts = opts or {}
  local ok, res = pcall(function()
    local kern, traj = read(dir, "kernels.csv"), read(dir, "trajectory.csv")
    local pts, plane = read(dir, "data.csv"), read(dir, "plane.csv")
    local bx, by = plane.c1[1], plane.c2[1]
    local R = 1.3 * math.sqrt(bx * bx + by * by)
    local panels = {}
    local names = {"(a) ", "(b) ", "(c) "}
    for k = 1, #kern.label do
      local ex, ey = ellipses(kern.g11[k], kern.g12[k], kern.g22[k], R)
      local px, py = {}, {}
      for i = 1, #traj.t do
        if traj.t[i] <= kern.t[k] then px[#px + 1], py[#py + 1] = traj.path1[i], traj.path2[i] end
      end
      local series = {{x = ex, y = ey, title = "level curves of β^{T} M^{-1} β", color = "#888888"}}
      if #pts.x1 == 1 then
        -- the interpolating line {beta : x . beta = y} in the plane (D = 2)
        local x1, x2, yv = pts.x1[1], pts.x2[1], pts.y[1]
        local n2 = x1 * x1 + x2 * x2
        local cx, cy = x1 * yv / n2, x2 * yv / n2
        series[#series + 1] = {x = {cx - 2 * R * x2 / math.sqrt(n2), cx + 2 * R * x2 / math.sqrt(n2)},
          y = {cy + 2 * R * x1 / math.sqrt(n2), cy - 2 * R * x1 / math.sqrt(n2)},
          title = "interpolating line x · β = y", color = "black", style = "thick"}
      end
      series[#series + 1] = {x = px, y = py, title = "path of W^{T} a", color = "#1f77b4"}
      series[#series + 1] = {x = {px[#px]}, y = {py[#py]}, title = "W^{T} a now", color = "#1f77b4", style = "points"}
      series[#series + 1] = {x = {bx}, y = {by}, title = "min-norm X^{+} y", color = "#d62728", style = "points"}
      panels[#panels + 1] = {title = string.format("%s%s, t = %.3g", names[k] or "", kern.label[k], kern.t[k]),
        xlabel = opts.xlabel or "β · e_{1}", ylabel = opts.ylabel or "β · e_{2}", square = true,
        xrange = {-R, R}, yrange = {-R, R}, key = "bottom left", series = series}
    end
    if opts.cos_panel ~= false then
      -- s = |X^+ y|, which lies in the plane (e1 = beta, or the coordinate plane)
      local sn = math.sqrt(bx * bx + by * by)
      local a2s = {}
      for i = 1, #traj.a2 do a2s[i] = traj.a2[i] / sn end
      panels[#panels + 1] = {title = "(d) top eigenvector of M", xlabel = "t", ylabel = "|cos|", logx = true,
        key = "bottom right", yrange = {0, 1.05}, series = {
          {x = traj.t, y = traj.cos_sigma_beta, title = "with Σβ (simulation)", color = "#d62728"},
          {x = traj.t, y = traj.cos_sigma_beta_theory, title = "with Σβ (early theory)", color = "black", style = "dashed"},
          {x = traj.t, y = traj.cos_beta, title = "with β = X^{+} y / |X^{+} y|", color = "#1f77b4"},
          {x = traj.t, y = a2s, title = "|a|^{2} / s (simulation)", color = "#2ca02c", style = "dotted"},
        }}
    end
    -- the run's settings (config.json, written before the run) name the data and the net
    local run = json.read_json(dir .. "/config.json")
    local cfg = run and run.config
    local title = opts.title
    if cfg and cfg.sigma then
      title = (title and (title .. "\n") or "") .. ("P = %d, D = %d, input spectrum k^{-α}, α = %g; "
        .. "two-layer linear net, width %d, σ = %g, seed %d"):format(cfg.P or 1, cfg.D or 2, cfg.alpha, cfg.N, cfg.sigma, cfg.seed)
    end
    return plot.figure{file = png, title = title, rows = 1, cols = #panels, width = 430 * #panels,
      height = 470, panels = panels}
  end)
  if not ok then return nil, "figures/unwhitened_linear: " .. tostring(res) end
  return res
end

--- The command line of a figure script drawn from a run directory (this one and
-- figures/phase_portrait.lua): when `script` is the one run, draw(RUN_DIR, OUT.png or
-- RUN_DIR/default_png), print the PNG, or exit 1 with gnuplot's message.
function fig.main(script, default_png, draw)
  if not (arg and arg[0] and arg[0]:match("figures/" .. script .. "%.lua$")) then return end
  local dir = arg[1] or error(("usage: ntklab experiments/figures/%s.lua RUN_DIR [OUT.png]"):format(script), 0)
  local png = arg[2] or (dir .. "/" .. default_png)
  local ok, err = draw(dir, png)
  if not ok then io.stderr:write(err, "\n"); os.exit(1) end
  print(png)
end

fig.main("unwhitened_linear", "fig_c1.png", fig.draw)

return fig
