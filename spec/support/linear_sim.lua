-- spec/support/linear_sim.lua: a plain-Lua reference simulator for deep linear networks
--   f(x) = W_L ... W_2 W_1 x   (W_l is n_l x n_{l-1}, n_0 = D, n_L = 1)
-- trained by gradient flow on whitened data (X^T X / P = I), where the loss is
--   L = 1/(2P) |X v - y|^2 = |v - s beta|^2 / 2   with v^T = W_L ... W_1 (the end-to-end map).
-- Integrated with classical RK4 at a fixed step. It knows nothing of ntklab.theory: it is the
-- independent side of the theory specs. Loaded with dofile (returns the module table).
local sim = {}
local matvec = require("spec.support.ops_reference").matvec

local function matmul(A, B)
  local n, k, m = #A, #B, #B[1]
  local C = {}
  for i = 1, n do
    local Ai, row = A[i], {}
    for j = 1, m do
      local acc = 0
      for l = 1, k do acc = acc + Ai[l] * B[l][j] end
      row[j] = acc
    end
    C[i] = row
  end
  return C
end

local function identity(n)
  local I = {}
  for i = 1, n do
    local row = {}
    for j = 1, n do row[j] = (i == j) and 1 or 0 end
    I[i] = row
  end
  return I
end

local function transpose(A)
  local T = {}
  for j = 1, #A[1] do
    local row = {}
    for i = 1, #A do row[i] = A[i][j] end
    T[j] = row
  end
  return T
end

-- Prefix products B_l = W_{l-1} ... W_1 (n_{l-1} x D) and suffix products A_l = W_L ... W_{l+1}
-- (1 x n_l), for l = 1..L.
local function products(Ws)
  local L, D = #Ws, #Ws[1][1]
  local B, A = {}, {}
  B[1] = identity(D)
  for l = 2, L do B[l] = matmul(Ws[l - 1], B[l - 1]) end
  A[L] = {{1}}
  for l = L - 1, 1, -1 do A[l] = matmul(A[l + 1], Ws[l + 1]) end
  return A, B
end

--- The end-to-end vector v (D entries): f(x) = v . x.
function sim.end_to_end(Ws)
  local A, B = products(Ws)
  return matmul(A[1], Ws[1])[1], A, B
end

-- dW_l/dt = -dL/dW_l = -A_l^T (e B_l^T) with e = v - s beta (a row), or Sigma (v - s beta) for
-- a finite training set X with Sigma = X^T X / P and targets y = s X beta (then
-- L = 1/(2P) |X v - y|^2 = (v - s beta)^T Sigma (v - s beta) / 2).
local function gradient_flow(Ws, s, beta, Sigma)
  local v, A, B = sim.end_to_end(Ws)
  local e = {}
  for j = 1, #v do e[j] = s * beta[j] - v[j] end -- minus the residual: descent direction
  if Sigma then e = matvec(Sigma, e) end
  local dWs = {}
  for l = 1, #Ws do
    local Al, be = A[l][1], matvec(B[l], e)
    local d = {}
    for i = 1, #Al do
      local row = {}
      for j = 1, #be do row[j] = Al[i] * be[j] end
      d[i] = row
    end
    dWs[l] = d
  end
  return dWs
end

local function axpy(Ws, h, dWs)
  local out = {}
  for l = 1, #Ws do
    local W, dW, o = Ws[l], dWs[l], {}
    for i = 1, #W do
      local row, Wi, dWi = {}, W[i], dW[i]
      for j = 1, #Wi do row[j] = Wi[j] + h * dWi[j] end
      o[i] = row
    end
    out[l] = o
  end
  return out
end

--- One RK4 step of size h (Sigma: optional input covariance of a finite training set).
function sim.rk4_step(Ws, h, s, beta, Sigma)
  local k1 = gradient_flow(Ws, s, beta, Sigma)
  local k2 = gradient_flow(axpy(Ws, h / 2, k1), s, beta, Sigma)
  local k3 = gradient_flow(axpy(Ws, h / 2, k2), s, beta, Sigma)
  local k4 = gradient_flow(axpy(Ws, h, k3), s, beta, Sigma)
  local out = {}
  for l = 1, #Ws do
    local o = {}
    for i = 1, #Ws[l] do
      local row = {}
      for j = 1, #Ws[l][i] do
        row[j] = Ws[l][i][j] + h / 6 * (k1[l][i][j] + 2 * k2[l][i][j] + 2 * k3[l][i][j] + k4[l][i][j])
      end
      o[i] = row
    end
    out[l] = o
  end
  return out
end

--- Runs gradient flow from Ws to each time in `times` (ascending) with step h; calls
-- record(t, Ws) at each of them (and at t = 0 if times[1] == 0). Sigma as for rk4_step.
function sim.run(Ws, times, h, s, beta, record, Sigma)
  local t = 0
  for _, target in ipairs(times) do
    while t < target - 1e-12 do
      local step = math.min(h, target - t)
      Ws = sim.rk4_step(Ws, step, s, beta, Sigma)
      t = t + step
    end
    t = target
    record(t, Ws)
  end
  return Ws
end

--- Gaussian init with fan-in variance sigma^2 / n_{l-1}, from ntklab's seeded generator.
-- widths = {D, n_1, ..., n_{L-1}, 1}.
function sim.random_init(rng, widths, sigma)
  local Ws = {}
  for l = 2, #widths do
    local rows, cols = widths[l], widths[l - 1]
    local G = rng:normal(rows, cols):totable()
    local scale = sigma / math.sqrt(cols)
    for i = 1, rows do for j = 1, cols do G[i][j] = G[i][j] * scale end end
    Ws[l - 1] = G
  end
  return Ws
end

--- Balanced rank-one init W_l = u r_{l+1} r_l^T with r_1 = beta and the other r_l the first
-- basis vector: every W_l W_l^T - W_{l+1}^T W_{l+1} is zero, c(0) = u^L.
function sim.balanced_init(widths, beta, u)
  local Ws = {}
  for l = 2, #widths do
    local rows, cols = widths[l], widths[l - 1]
    local W = {}
    for i = 1, rows do
      local row = {}
      for j = 1, cols do
        local right = (l == 2) and beta[j] or ((j == 1) and 1 or 0)
        local left = (i == 1) and 1 or 0
        row[j] = u * left * right
      end
      W[i] = row
    end
    Ws[l - 1] = W
  end
  return Ws
end

--- Empirical NTK of the linear net: K(x, x') = sum_l |A_l|^2 (B_l x).(B_l x').
function sim.ntk(Ws, x, xp)
  local _, A, B = sim.end_to_end(Ws)
  local k = 0
  for l = 1, #Ws do
    local a2 = 0
    for _, v in ipairs(A[l][1]) do a2 = a2 + v * v end
    local dot = 0
    for i = 1, #B[l] do
      local bx, bxp = 0, 0
      for j = 1, #x do
        bx = bx + B[l][i][j] * x[j]
        bxp = bxp + B[l][i][j] * xp[j]
      end
      dot = dot + bx * bxp
    end
    k = k + a2 * dot
  end
  return k
end

sim.matmul, sim.transpose = matmul, transpose
return sim
