--- ntklab.curves: readouts of sampled curves: the time a curve first crosses a level, and
-- least-squares fits of straight lines and power laws.
--
--   local t = curves.crossing(traj.t, traj.loss, 0.5 * traj.loss[1])   -- first crossing
--   local fit = curves.power_law(sigmas, t_halfs)                      -- t = a sigma^slope
--   print(fit.slope, fit.slope_se, fit.prefactor)
--
-- Pure Lua: arrays of numbers in, numbers (or a table) out. Misuse raises
-- "bad argument #n to 'curves.f' (...)".
local check = require "ntklab.argcheck"
check.register()

local curves = {}

-- A non-empty array of finite numbers (or a tensor), as a fresh Lua array.
local function numbers(v, n, f, what)
  v = check.vector(v, n, f, what)
  for i = 1, #v do
    if v[i] ~= v[i] or v[i] == math.huge or v[i] == -math.huge then
      check.fail(n, f, string.format("finite %s expected, got %s at index %d", what, tostring(v[i]), i))
    end
  end
  return v
end

-- Lagrange interpolation through the points (xs[i], ys[i]), i = lo..hi, evaluated at x.
local function lagrange(xs, ys, lo, hi, x)
  local sum = 0
  for i = lo, hi do
    local w = ys[i]
    for j = lo, hi do
      if j ~= i then w = w * (x - xs[j]) / (xs[i] - xs[j]) end
    end
    sum = sum + w
  end
  return sum
end

--- The first time t at which the sampled curve v(t) reaches level (from either side: the side
-- of v[1]). t: ascending times; v: values at those times. Between the two samples that bracket
-- the crossing, v is interpolated by the cubic through the four nearest samples (two on each
-- side; linear at the ends of the array, or if the cubic leaves the bracket) and the root is
-- found by bisection to the last bit. Returns t, or nil when the curve never reaches the level;
-- returns t[1] when v[1] is at the level already.
-- Accuracy: for a smooth curve sampled with spacing h the cubic's error is O(h^4 v''''),
-- ample for log-spaced records of a sigmoid at 20+ per decade (spec 60 measures it).
function curves.crossing(t, v, level)
  local f = "curves.crossing"
  t = numbers(t, 1, f, "times")
  v = numbers(v, 2, f, "values")
  check.finite(level, 3, f)
  if #t ~= #v then check.fail(2, f, string.format("%d values expected (one per time), got %d", #t, #v)) end
  for i = 2, #t do
    if not (t[i] > t[i - 1]) then
      check.fail(1, f, string.format("strictly ascending times expected, index %d (%g) after %g", i, t[i], t[i - 1]))
    end
  end
  local sign = v[1] >= level and 1 or -1 -- +1: falling to the level, -1: rising to it
  if v[1] == level then return t[1] end
  local k
  for i = 2, #v do
    if sign * (v[i] - level) <= 0 then k = i break end
  end
  if not k then return nil end
  local a, b = t[k - 1], t[k]
  local lo, hi = k - 2, k + 1
  local cubic = lo >= 1 and hi <= #t
  local function g(x)
    if cubic then return lagrange(t, v, lo, hi, x) - level end
    return v[k - 1] + (v[k] - v[k - 1]) * (x - t[k - 1]) / (t[k] - t[k - 1]) - level
  end
  -- The cubic must change sign on [a, b] like the samples do; otherwise fall back to linear.
  if cubic and not (sign * g(a) >= 0 and sign * g(b) <= 0) then cubic = false end
  for _ = 1, 200 do
    local mid = 0.5 * (a + b)
    if mid <= a or mid >= b then break end
    if sign * g(mid) > 0 then a = mid else b = mid end
  end
  return 0.5 * (a + b)
end

--- Least-squares line y = intercept + slope x through (x[i], y[i]) (at least 2 distinct x).
-- Returns {slope, intercept, slope_se (standard error of the slope; 0 for 2 points), n,
-- max_residual}.
function curves.line(x, y)
  local f = "curves.line"
  x = numbers(x, 1, f, "x")
  y = numbers(y, 2, f, "y")
  local n = #x
  if #y ~= n then check.fail(2, f, string.format("%d values expected, got %d", n, #y)) end
  if n < 2 then check.fail(1, f, "at least 2 points expected, got " .. n) end
  local mx, my = 0, 0
  for i = 1, n do mx, my = mx + x[i], my + y[i] end
  mx, my = mx / n, my / n
  local sxx, sxy = 0, 0
  for i = 1, n do
    sxx = sxx + (x[i] - mx) ^ 2
    sxy = sxy + (x[i] - mx) * (y[i] - my)
  end
  if sxx == 0 then check.fail(1, f, "at least 2 distinct x expected") end
  local slope = sxy / sxx
  local intercept = my - slope * mx
  local rss, maxr = 0, 0
  for i = 1, n do
    local r = y[i] - intercept - slope * x[i]
    rss, maxr = rss + r * r, math.max(maxr, math.abs(r))
  end
  local se = n > 2 and math.sqrt(rss / (n - 2) / sxx) or 0
  return {slope = slope, intercept = intercept, slope_se = se, n = n, max_residual = maxr}
end

--- Power law y = prefactor x^slope fitted as a line in log-log (x, y > 0). Returns curves.line's
-- table with prefactor = e^intercept added.
function curves.power_law(x, y)
  local f = "curves.power_law"
  x = numbers(x, 1, f, "x")
  y = numbers(y, 2, f, "y")
  if #y ~= #x then check.fail(2, f, string.format("%d values expected, got %d", #x, #y)) end
  local lx, ly = {}, {}
  for i = 1, #x do
    if not (x[i] > 0) then check.fail(1, f, string.format("positive x expected, got %g at index %d", x[i], i)) end
    if not (y[i] > 0) then check.fail(2, f, string.format("positive y expected, got %g at index %d", y[i], i)) end
    lx[i], ly[i] = math.log(x[i]), math.log(y[i])
  end
  local fit = curves.line(lx, ly)
  fit.prefactor = math.exp(fit.intercept)
  return fit
end

return curves
