--- ntklab.theory_unwhitened: the two-layer linear network f(x) = a^T W x trained by gradient flow
-- on anisotropic (unwhitened) inputs, Appendix C.1/C.3 of the paper (NOTES.md, "Unwhitened").
-- Its functions are merged into ntklab.theory (theory.unwhitened_*, theory.min_norm_interpolator).
--
-- Setting: teacher y = s beta^T x with |beta| = 1, input covariance Sigma = X^T X / P, loss
-- L = 1/(2P) sum (f - y)^2, so the flow is
--   da/dt = W Sigma (s beta - W^T a),   dW/dt = a (s beta - W^T a)^T Sigma.
-- Early on (weights O(sigma), the cubic terms dropped) da/dt = s W Sigma beta, dW/dt = s a beta^T Sigma.
-- With A = beta^T Sigma beta, b = beta^T Sigma^2 beta and the five overlaps
--   r1 = a^T W beta, r2 = |a|^2, r3 = beta^T W^T W Sigma beta, r4 = a^T W Sigma beta,
--   r5 = |W Sigma beta|^2,
-- this is dr/dt = s Amat r, Amat rows [0 A 1 0 0], [0 0 0 2 0], [b 0 0 A 0], [0 b 0 0 1],
-- [0 0 0 2b 0], eigenvalues {0, +-sqrt(b), +-2 sqrt(b)}. Its solution comes from the vectors
-- a, u = W beta, v = W Sigma beta, which obey da/dt = s v, dv/dt = s b a, du/dt = s A a:
--   a(t) = C a0 + (S/sqrt b) v0,   v(t) = sqrt(b) S a0 + C v0,
--   u(t) = u0 + (A S/sqrt b) a0 + (A (C - 1)/b) v0,      C = cosh(s sqrt(b) t), S = sinh(...),
-- and every r(t) is a dot product of these, so a function of r(0) alone (|u0|^2 never enters).
-- Then a(t) grows along a0 + v0/sqrt(b), W - W0 = (a(t) - C a0) beta^T Sigma / sqrt(b) + ..., so
-- the input-space NTK M = W^T W + |a|^2 I spikes along Sigma beta, not beta (Eq. C.3):
--   M ~ M0 + |a(t)|^2 (Sigma beta beta^T Sigma / (beta^T Sigma^2 beta) + I).
-- At the end (t -> infinity, from small init) the learned map W^T a is the minimum-norm
-- interpolator X^+ y, up to the O(sigma) part of W0^T a off the span of the data.
-- Pure Lua, like ntklab.theory: vectors are arrays (or tensors, via :totable()), matrices arrays
-- of rows. Misuse raises "bad argument #n to 'theory.f' (...)".
local check = require "ntklab.argcheck"
check.register()

local M = {}

local sqrt, cosh, sinh, abs = math.sqrt, math.cosh, math.sinh, math.abs

local function as_table(v)
  if type(v) == "userdata" and v.totable then return v:totable() end
  return v
end

local function vec(v, n, f, what)
  v = as_table(v)
  if type(v) ~= "table" or #v == 0 then check.fail(n, f, what .. ": non-empty array expected, got " .. check.typename(v)) end
  for i = 1, #v do
    if type(v[i]) ~= "number" or v[i] ~= v[i] or abs(v[i]) == math.huge then
      check.fail(n, f, string.format("%s: entry %d is %s, a finite number expected", what, i, tostring(v[i])))
    end
  end
  return v
end

local function mat(A, n, f, what, rows, cols)
  A = as_table(A)
  if type(A) ~= "table" or #A == 0 then check.fail(n, f, what .. ": matrix (array of rows) expected, got " .. check.typename(A)) end
  rows = rows or #A
  if #A ~= rows then check.fail(n, f, string.format("%s: %d rows expected, got %d", what, rows, #A)) end
  cols = cols or (type(A[1]) == "table" and #A[1] or 0)
  for i = 1, rows do
    local r = A[i]
    if type(r) ~= "table" or #r ~= cols then
      check.fail(n, f, string.format("%s: row %d: %d entries expected, got %s", what, i, cols,
        type(r) == "table" and #r or check.typename(r)))
    end
    for j = 1, cols do
      if type(r[j]) ~= "number" or r[j] ~= r[j] or abs(r[j]) == math.huge then
        check.fail(n, f, string.format("%s: entry (%d, %d) is %s, a finite number expected", what, i, j, tostring(r[j])))
      end
    end
  end
  return A
end

local function matvec(A, x)
  local y = {}
  for i = 1, #A do
    local s = 0
    for j = 1, #x do s = s + A[i][j] * x[j] end
    y[i] = s
  end
  return y
end

local function dot(x, y)
  local s = 0
  for i = 1, #x do s = s + x[i] * y[i] end
  return s
end

-- A, b and Sigma beta, with errors named after the public function f.
local function constants(f, Sigma, beta)
  beta = vec(beta, 2, f, "beta")
  Sigma = mat(Sigma, 1, f, "Sigma", #beta, #beta)
  local sb = matvec(Sigma, beta)
  local b = dot(sb, sb)
  if not (b > 0) then check.fail(1, f, "Sigma beta = 0: the teacher is orthogonal to the data") end
  return dot(beta, sb), b, sb
end

--- theory.unwhitened_constants(Sigma, beta) -> A, b, Sigma_beta
-- A = beta^T Sigma beta, b = beta^T Sigma^2 beta = |Sigma beta|^2, and the vector Sigma beta.
-- Sigma: D x D covariance (symmetric), beta: D (unit teacher direction; not renormalized).
function M.unwhitened_constants(Sigma, beta)
  return constants("theory.unwhitened_constants", Sigma, beta)
end

--- theory.unwhitened_matrix(A, b) -> the 5 x 5 matrix of dr/dt = s Amat r (rows, as NOTES.md).
function M.unwhitened_matrix(A, b)
  local f = "theory.unwhitened_matrix"
  check.finite(A, 1, f)
  check.positive(b, 2, f)
  return {
    {0, A, 1, 0, 0},
    {0, 0, 0, 2, 0},
    {b, 0, 0, A, 0},
    {0, b, 0, 0, 1},
    {0, 0, 0, 2 * b, 0},
  }
end

--- theory.unwhitened_eigenvalues(b) -> {0, sqrt b, -sqrt b, 2 sqrt b, -2 sqrt b}, the eigenvalues
-- of unwhitened_matrix(A, b) (any A): the rates of dr/dt = s Amat r are s times these.
function M.unwhitened_eigenvalues(b)
  check.positive(b, 1, "theory.unwhitened_eigenvalues")
  local w = sqrt(b)
  return {0, w, -w, 2 * w, -2 * w}
end

--- theory.unwhitened_early(t, s, A, b, r0) -> {r1, ..., r5} at time t
-- The exact solution of the linear early-time system dr/dt = s Amat r from r(0) = r0 (an array
-- of the five overlaps), through the vector solution in the header. Valid while the weights
-- are small (|a|^2, |W beta|^2 << s): the simulation departs from it at relative O(|a|^2 / s).
function M.unwhitened_early(t, s, A, b, r0)
  local f = "theory.unwhitened_early"
  check.positive(t, 1, f, true)
  check.positive(s, 2, f)
  check.finite(A, 3, f)
  check.positive(b, 4, f)
  r0 = vec(r0, 5, f, "r0")
  if #r0 ~= 5 then check.fail(5, f, string.format("r0: 5 overlaps expected, got %d", #r0)) end
  local w = sqrt(b)
  local C, S = cosh(s * w * t), sinh(s * w * t)
  -- coefficients on (a0, v0)
  local ca = {C, S / w}
  local cv = {w * S, C}
  local cu = {A * S / w, A * (C - 1) / b}
  local r1, r2, r3, r4, r5 = r0[1], r0[2], r0[3], r0[4], r0[5]
  -- Gram of (a0, v0) and the cross terms with u0 = W0 beta
  local function g(x, y) return x[1] * y[1] * r2 + (x[1] * y[2] + x[2] * y[1]) * r4 + x[2] * y[2] * r5 end
  return {
    ca[1] * r1 + ca[2] * r3 + g(ca, cu),  -- a . u
    g(ca, ca),                            -- |a|^2
    cv[1] * r1 + cv[2] * r3 + g(cu, cv),  -- u . v
    g(ca, cv),                            -- a . v
    g(cv, cv),                            -- |v|^2
  }
end

--- theory.unwhitened_overlaps(a, W, Sigma, beta) -> {r1, ..., r5}, the overlaps of weights
-- a (N) and W (N x D, rows) as defined in the header: the r0 that unwhitened_early takes.
function M.unwhitened_overlaps(a, W, Sigma, beta)
  local f = "theory.unwhitened_overlaps"
  a = vec(a, 1, f, "a")
  beta = vec(beta, 4, f, "beta")
  W = mat(W, 2, f, "W", #a, #beta)
  Sigma = mat(Sigma, 3, f, "Sigma", #beta, #beta)
  local u, v = matvec(W, beta), matvec(W, matvec(Sigma, beta))
  return {dot(a, u), dot(a, a), dot(u, v), dot(a, v), dot(v, v)}
end

--- theory.unwhitened_spike(Sigma, beta) -> e, the unit vector Sigma beta / |Sigma beta|: the
-- direction along which the early NTK M = W^T W + |a|^2 I grows (its top eigenvector once
-- |a|^2 >> sigma^2), and spike_kernel(a2) -> a2 (e e^T + I), the predicted growth of M.
function M.unwhitened_spike(Sigma, beta)
  local _, b, sb = constants("theory.unwhitened_spike", Sigma, beta)
  local n = sqrt(b)
  local e = {}
  for i = 1, #sb do e[i] = sb[i] / n end
  local function spike_kernel(a2)
    check.positive(a2, 1, "theory.unwhitened_spike: spike_kernel", true)
    local K = {}
    for i = 1, #e do
      K[i] = {}
      for j = 1, #e do K[i][j] = a2 * (e[i] * e[j] + (i == j and 1 or 0)) end
    end
    return K
  end
  return e, spike_kernel
end

-- Solves G z = r for a symmetric positive definite G (Cholesky; nil when not positive definite).
local function spd_solve(G, r)
  local n = #G
  local L = {}
  for i = 1, n do
    L[i] = {}
    for j = 1, i do
      local s = G[i][j]
      for k = 1, j - 1 do s = s - L[i][k] * L[j][k] end
      if i == j then
        if not (s > 0) then return nil end
        L[i][i] = sqrt(s)
      else
        L[i][j] = s / L[j][j]
      end
    end
  end
  local z = {}
  for i = 1, n do
    local s = r[i]
    for k = 1, i - 1 do s = s - L[i][k] * z[k] end
    z[i] = s / L[i][i]
  end
  for i = n, 1, -1 do
    local s = z[i]
    for k = i + 1, n do s = s - L[k][i] * z[k] end
    z[i] = s / L[i][i]
  end
  return z
end

--- theory.min_norm_interpolator(X, y) -> beta_star (D), the minimum-norm solution of X beta = y:
-- X^T (X X^T)^-1 y when the P rows are independent (P <= D), (X^T X)^-1 X^T y when the D columns
-- are (P >= D). The late-time limit of the two-layer linear net from small init (Appendix G).
-- Returns nil, msg when X has neither full row nor full column rank.
function M.min_norm_interpolator(X, y)
  local f = "theory.min_norm_interpolator"
  X = mat(X, 1, f, "X")
  y = vec(y, 2, f, "y")
  local P, D = #X, #X[1]
  if #y ~= P then check.fail(2, f, string.format("y: %d entries expected (rows of X), got %d", P, #y)) end
  if P <= D then
    local G = {}
    for i = 1, P do
      G[i] = {}
      for j = 1, P do G[i][j] = dot(X[i], X[j]) end
    end
    local z = spd_solve(G, y)
    if not z then return nil, "theory.min_norm_interpolator: the rows of X are linearly dependent" end
    local beta = {}
    for k = 1, D do
      local s = 0
      for i = 1, P do s = s + X[i][k] * z[i] end
      beta[k] = s
    end
    return beta
  end
  local G, r = {}, {}
  for k = 1, D do
    G[k], r[k] = {}, 0
    for i = 1, P do r[k] = r[k] + X[i][k] * y[i] end
    for l = 1, D do
      local s = 0
      for i = 1, P do s = s + X[i][k] * X[i][l] end
      G[k][l] = s
    end
  end
  local beta = spd_solve(G, r)
  if not beta then return nil, "theory.min_norm_interpolator: the columns of X are linearly dependent" end
  return beta
end

--- theory.unwhitened_merge(theory): copies these functions into the theory table.
function M.merge(theory)
  for k, v in pairs(M) do
    if k ~= "merge" then theory[k] = v end
  end
  return theory
end

return M
