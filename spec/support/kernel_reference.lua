-- spec/support/kernel_reference.lua: plain-Lua twins of C kernel computations, for specs only
-- (not a spec itself). The library calls the C ones (ntklab.alignment,
-- ntklab.linalg.cholesky_solve); the specs check recorded values against these, which share no
-- code with them. Arrays of rows and arrays in, numbers and arrays out.
local ref = {}

local sqrt = math.sqrt
local NAN = 0 / 0

--- Kernel-target alignment of a square K (array of rows) with targets y (array): uncentered
-- y^T K y / (|K|_F |y|^2), or with centered = true the same after K -> H K H, y -> H y,
-- H = I - 1 1^T / P. NaN when |K|_F or |y| is zero. K and y are not modified.
function ref.alignment(K, y, centered)
  local n = #K
  local Kt, yt = {}, {}
  for i = 1, n do
    Kt[i], yt[i] = {}, y[i]
    for j = 1, n do Kt[i][j] = K[i][j] end
  end
  if centered then
    local rows, total = {}, 0
    for i = 1, n do
      local s = 0
      for j = 1, n do s = s + Kt[i][j] end
      rows[i] = s / n
      total = total + s
    end
    total = total / (n * n)
    -- K is symmetric for a kernel, but column means are computed separately to stay exact for
    -- any square input.
    local cols = {}
    for j = 1, n do
      local s = 0
      for i = 1, n do s = s + Kt[i][j] end
      cols[j] = s / n
    end
    for i = 1, n do for j = 1, n do Kt[i][j] = Kt[i][j] - rows[i] - cols[j] + total end end
    local my = 0
    for i = 1, n do my = my + yt[i] end
    my = my / n
    for i = 1, n do yt[i] = yt[i] - my end
  end
  local kyy, kf, yy = 0, 0, 0
  for i = 1, n do
    yy = yy + yt[i] * yt[i]
    local Ki, s = Kt[i], 0
    for j = 1, n do
      s = s + Ki[j] * yt[j]
      kf = kf + Ki[j] * Ki[j]
    end
    kyy = kyy + yt[i] * s
  end
  if kf == 0 or yy == 0 then return NAN end
  return kyy / (sqrt(kf) * yy)
end

--- Solves K x = b for symmetric positive definite K (Cholesky, plain Lua). Returns x (array),
-- or nil, msg naming the first pivot that is not positive.
function ref.cholesky_solve(K, b)
  local n, L = #K, {}
  for i = 1, n do
    local Li, Ki = {}, K[i]
    for j = 1, i do
      local s, Lj = Ki[j], L[j] or Li
      for k = 1, j - 1 do s = s - Li[k] * Lj[k] end
      if i == j then
        if not (s > 0) then return nil, string.format("kernel not positive definite (pivot %d is %g)", i, s) end
        Li[i] = sqrt(s)
      else
        Li[j] = s / Lj[j]
      end
    end
    L[i] = Li
  end
  local z, x = {}, {}
  for i = 1, n do
    local s, Li = b[i], L[i]
    for k = 1, i - 1 do s = s - Li[k] * z[k] end
    z[i] = s / Li[i]
  end
  for i = n, 1, -1 do
    local s = z[i]
    for k = i + 1, n do s = s - L[k][i] * x[k] end
    x[i] = s / L[i][i]
  end
  return x
end

return ref
