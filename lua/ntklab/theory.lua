--- ntklab.theory: closed forms and ODE solutions for linear networks trained by gradient flow
-- from small initialization on whitened data (Atanasov, Bordelon, Pehlevan 2022, Section 3-4
-- and Appendices C-F; formulas as restated and corrected in shared/paper/NOTES.md).
--
-- Conventions: time t is gradient-flow time with learning rate eta = 1 (for another eta, or for
-- gradient descent with step lr, pass eta*t or lr*steps). The teacher is y = s beta.x with
-- |beta| = 1 and s > 0; the loss is L = 1/(2P) sum (f - y)^2; whitened means X^T X / P = I on
-- the span of the data. Pure Lua: numbers in, numbers (or Lua tables) out; matrices are arrays of
-- rows, and any argument documented as a vector or matrix may also be an object with :totable()
-- (an ntklab tensor). Misuse raises "bad argument #n to 'theory.f' (...)".
local check = require "ntklab.argcheck"
check.register()

local theory = {}

local exp, log, sqrt, abs = math.exp, math.log, math.sqrt, math.abs

-- ---------------------------------------------------------------------------------------------
-- Two-layer linear network f(x) = a^T W x, a in R^N, W in R^{N x D}.
-- ---------------------------------------------------------------------------------------------

--- Phase II of the two-layer net (Saxe et al. 2014): with W = u r beta^T, a = u r balanced,
-- c = u^2 = |a|^2 obeys dc/dt = 2c(s - c), so
--   u(t)^2 = s e^{2st} / (e^{2st} - 1 + s/u0^2).
-- Evaluated as s / (1 + (s/u0^2 - 1) e^{-2st}), which cannot overflow for large t.
function theory.u2(t, s, u0sq)
  local f = "theory.u2"
  check.positive(t, 1, f, true)
  check.positive(s, 2, f)
  check.positive(u0sq, 3, f)
  return s / (1 + (s / u0sq - 1) * exp(-2 * s * t))
end

-- The r0-corrected trajectory: the early solution (exact to O(sigma^3) on whitened data) has
-- q + r = (q0 + r0) e^{2st} and q - r = (q0 - r0) e^{-2st}; matching q + r to the Saxe sigmoid
-- with c0 = (q0 + r0)/2 gives, with g = (q0 - r0)/(q0 + r0), d = e^{2st} - 1 + 2s/(q0 + r0),
--   q(t) = s (e^{2st} + g e^{-2st}) / d,   r(t) = s (e^{2st} - g e^{-2st}) / d.
-- Divided through by e^{2st} so that large t neither overflows nor loses precision.
local function qr_corrected(t, s, q0, r0)
  local g = (q0 - r0) / (q0 + r0)
  local e2 = exp(-2 * s * t)
  local den = 1 + (2 * s / (q0 + r0) - 1) * e2
  local e4 = e2 * e2
  return s * (1 + g * e4) / den, s * (1 - g * e4) / den
end

local function check_qr_args(f, t, s, q0, r0)
  check.positive(t, 1, f, true)
  check.positive(s, 2, f)
  check.positive(q0, 3, f)
  if r0 == nil then return 0 end
  check.finite(r0, 4, f)
  -- q0 = (|a|^2 + |W beta|^2)/2 >= |a| |W beta| >= |r0| for any weights, with equality r0 = q0
  -- for a balanced init already aligned with beta (allowed, with a few ulps for rounding in
  -- theory.qr); q0 + r0 > 0 keeps the sigmoid's start positive.
  if not (r0 > -q0 and r0 <= q0 * (1 + 1e-12)) then
    check.fail(4, f, string.format("-q0 < r0 <= q0 expected, got r0 = %g, q0 = %g", r0, q0))
  end
  return r0
end

--- q(t) = (|a|^2 + |W beta|^2)/2, the r0-corrected form of NOTES.md. r0 = a^T W beta at t = 0
-- (default 0, which reproduces the paper's Eq. 51).
function theory.q(t, s, q0, r0)
  r0 = check_qr_args("theory.q", t, s, q0, r0)
  local q = qr_corrected(t, s, q0, r0)
  return q
end

--- r(t) = a^T W beta, the r0-corrected form of NOTES.md (r0 = 0 reproduces the paper's Eq. 50).
function theory.r(t, s, q0, r0)
  r0 = check_qr_args("theory.r", t, s, q0, r0)
  local _, r = qr_corrected(t, s, q0, r0)
  return r
end

--- Paper's Eq. 51: q(t) = 2s cosh(2st) / (e^{2st} - 1 + 2s/q0) (assumes r0 = 0; at small D it
-- runs late, see theory.q).
function theory.q_paper(t, s, q0)
  check_qr_args("theory.q_paper", t, s, q0)
  local q = qr_corrected(t, s, q0, 0)
  return q
end

--- Paper's Eq. 50: r(t) = 2s sinh(2st) / (e^{2st} - 1 + 2s/q0).
function theory.r_paper(t, s, q0)
  check_qr_args("theory.r_paper", t, s, q0)
  local _, r = qr_corrected(t, s, q0, 0)
  return r
end

--- q and r of given weights: q = (|a|^2 + |W beta|^2)/2, r = a^T W beta, with beta normalized
-- to unit length. a: N-vector, W: N x D matrix, beta: D-vector.
function theory.qr(a, W, beta)
  local f = "theory.qr"
  a = check.vector(a, 1, f, "vector a")
  local Wt, rows, cols = check.matrix(W, 2, f, "matrix W")
  beta = check.vector(beta, 3, f, "vector beta")
  if rows ~= #a then
    check.fail(2, f, string.format("W has %d rows, a has %d entries", rows, #a))
  end
  if cols ~= #beta then
    check.fail(3, f, string.format("beta has %d entries, W has %d columns", #beta, cols))
  end
  local nb = 0
  for j = 1, cols do nb = nb + beta[j] * beta[j] end
  if nb == 0 then check.fail(3, f, "non-zero vector expected") end
  nb = sqrt(nb)
  local aa, wbwb, r = 0, 0, 0
  for i = 1, rows do
    local wb = 0
    local row = Wt[i]
    for j = 1, cols do wb = wb + row[j] * beta[j] end
    wb = wb / nb
    aa = aa + a[i] * a[i]
    wbwb = wbwb + wb * wb
    r = r + a[i] * wb
  end
  return 0.5 * (aa + wbwb), r
end

--- E[q0] at random init a_i ~ N(0, sigma^2/N), W_ij ~ N(0, sigma^2/D):
-- E|a|^2 = sigma^2 and E|W beta|^2 = N sigma^2/D, so E[q0] = (sigma^2/2)(1 + N/D).
function theory.expected_q0(sigma, N, D)
  local f = "theory.expected_q0"
  check.positive(sigma, 1, f)
  N = check.integer(N, 2, f, 1)
  D = check.integer(D, 3, f, 1)
  return 0.5 * sigma * sigma * (1 + N / D)
end

--- E[r0^2] = sum_i E[a_i^2] E[(W beta)_i^2] = N (sigma^2/N)(sigma^2/D) = sigma^4/D (E[r0] = 0).
function theory.expected_r0_squared(sigma, D)
  local f = "theory.expected_r0_squared"
  check.positive(sigma, 1, f)
  D = check.integer(D, 2, f, 1)
  return sigma ^ 4 / D
end

-- ---------------------------------------------------------------------------------------------
-- Deep linear network f(x) = w_L^T W^{L-1} ... W^1 x, balanced rank-one W^l = u r_{l+1} r_l^T.
--
-- With c = u^L = f's coefficient along beta and whitened data, L(u) = (s - u^L)^2 / 2 per layer
-- scale, so du/dt = u^{L-1}(s - u^L) and
--   dc/dt = L u^{L-1} du/dt = L c^{2 - 2/L} (s - c).
-- The paper's Eq. 60 (and NOTES.md) drops the chain-rule factor L; with it, L = 2 gives Saxe's
-- dc/dt = 2c(s - c) as in Appendix C.4. spec/41-theory_deep_spec.lua checks this form against a
-- full-matrix gradient-flow simulation.
-- ---------------------------------------------------------------------------------------------

local function check_deep(f, s, L, c0, ns, nL, nc0)
  check.positive(s, ns, f)
  L = check.integer(L, nL, f, 2)
  check.positive(c0, nc0, f)
  if not (c0 < s) then
    check.fail(nc0, f, string.format("0 < c0 < s expected, got c0 = %g, s = %g", c0, s))
  end
  return L
end

--- The right-hand side dc/dt = L c^{2 - 2/L} (s - c).
function theory.deep_rate(c, s, L)
  local f = "theory.deep_rate"
  check.positive(c, 1, f, true)
  check.positive(s, 2, f)
  L = check.integer(L, 3, f, 2)
  return L * c ^ (2 - 2 / L) * (s - c)
end

--- Early closed form, valid while c << s (drop the -c in s - c):
--   L = 2: c(t) = c0 e^{2st};
--   L > 2: c(t) = [c0^{-(L-2)/L} - (L - 2) s t]^{-L/(L-2)}, which blows up (returns math.huge)
--          at t* = c0^{-(L-2)/L} / ((L - 2) s).
function theory.deep_c_early(t, s, L, c0)
  local f = "theory.deep_c_early"
  check.positive(t, 1, f, true)
  L = check_deep(f, s, L, c0, 2, 3, 4)
  if L == 2 then return c0 * exp(2 * s * t) end
  local base = c0 ^ (-(L - 2) / L) - (L - 2) * s * t
  if base <= 0 then return math.huge end
  return base ^ (-L / (L - 2))
end

-- Dormand-Prince 5(4) coefficients (Hairer, Norsett, Wanner, Solving ODEs I, Table 5.2).
local A21 = 1 / 5
local A31, A32 = 3 / 40, 9 / 40
local A41, A42, A43 = 44 / 45, -56 / 15, 32 / 9
local A51, A52, A53, A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
local A61, A62, A63, A64, A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
local B1, B3, B4, B5, B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
local E1, E3, E4, E5, E6, E7 = 71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40

-- Local error tolerance per step on x = log c, i.e. on the relative error of c. Over the few
-- hundred accepted steps of a sigmoid the global relative error stays below about 1e-9
-- (spec/41 checks 1e-8 against the L = 2 closed form and the quadrature of theory.deep_time).
local DEEP_STEP_TOL = 1e-12

-- Integrates x = log c with dx/dt = L c^{1-2/L} (s - c) through the ascending times `ts`;
-- returns c at each of them.
local function deep_solve(ts, s, L, c0)
  local p = 1 - 2 / L
  local function rate(x)
    local c = exp(x)
    return L * c ^ p * (s - c)
  end
  local out = {}
  local x, t = log(c0), 0
  local k1 = rate(x)
  -- First step: a hundredth of the time x needs to change by one unit.
  local h = 0.01 / abs(k1)
  for i = 1, #ts do
    local target = ts[i]
    while t < target do
      if h > target - t then h = target - t end
      local k2 = rate(x + h * A21 * k1)
      local k3 = rate(x + h * (A31 * k1 + A32 * k2))
      local k4 = rate(x + h * (A41 * k1 + A42 * k2 + A43 * k3))
      local k5 = rate(x + h * (A51 * k1 + A52 * k2 + A53 * k3 + A54 * k4))
      local k6 = rate(x + h * (A61 * k1 + A62 * k2 + A63 * k3 + A64 * k4 + A65 * k5))
      local xn = x + h * (B1 * k1 + B3 * k3 + B4 * k4 + B5 * k5 + B6 * k6)
      local k7 = rate(xn)
      local err = abs(h * (E1 * k1 + E3 * k3 + E4 * k4 + E5 * k5 + E6 * k6 + E7 * k7))
      if err <= DEEP_STEP_TOL then
        t = (h == target - t) and target or t + h
        x, k1 = xn, k7 -- first-same-as-last: k7 is the next step's k1
      end
      -- Standard controller: safety 0.9, growth bounded to [0.2, 5] per step.
      local factor = err == 0 and 5 or math.min(5, math.max(0.2, 0.9 * (DEEP_STEP_TOL / err) ^ 0.2))
      h = h * factor
    end
    out[i] = exp(x)
  end
  return out
end

--- c(t) from the ODE dc/dt = L c^{2-2/L} (s - c), c(0) = c0, solved with adaptive
-- Dormand-Prince 5(4) on log c (relative accuracy about 1e-9). t: a number (returns a number) or
-- an ascending array of times (returns an array, integrated in one pass).
function theory.deep_c(t, s, L, c0)
  local f = "theory.deep_c"
  local times, scalar
  if type(t) == "number" then
    check.positive(t, 1, f, true)
    times, scalar = {t}, true
  else
    times = check.vector(t, 1, f, "times")
    for i = 1, #times do
      if not (times[i] >= 0 and times[i] < math.huge) then
        check.fail(1, f, string.format("finite non-negative times expected, got %s at index %d",
          tostring(times[i]), i))
      end
      if i > 1 and times[i] < times[i - 1] then
        check.fail(1, f, string.format("ascending times expected, index %d (%g) < index %d (%g)",
          i, times[i], i - 1, times[i - 1]))
      end
    end
  end
  L = check_deep(f, s, L, c0, 2, 3, 4)
  local out = deep_solve(times, s, L, c0)
  if scalar then return out[1] end
  return out
end

-- Adaptive Simpson on [a, b] to absolute tolerance eps (Lyness' criterion |S2 - S1| <= 15 eps,
-- with Richardson's correction added).
local function simpson(g, a, b, eps)
  local function rec(lo, hi, flo, fmid, fhi, whole, tol, depth)
    local mid = 0.5 * (lo + hi)
    local lm, rm = 0.5 * (lo + mid), 0.5 * (mid + hi)
    local flm, frm = g(lm), g(rm)
    local left = (mid - lo) / 6 * (flo + 4 * flm + fmid)
    local right = (hi - mid) / 6 * (fmid + 4 * frm + fhi)
    local delta = left + right - whole
    if depth <= 0 or abs(delta) <= 15 * tol then return left + right + delta / 15 end
    return rec(lo, mid, flo, flm, fmid, left, tol / 2, depth - 1)
      + rec(mid, hi, fmid, frm, fhi, right, tol / 2, depth - 1)
  end
  local fa, fb, fm = g(a), g(b), g(0.5 * (a + b))
  return rec(a, b, fa, fm, fb, (b - a) / 6 * (fa + 4 * fm + fb), eps, 50)
end

--- The time the ODE dc/dt = L c^{2-2/L}(s - c) takes from c0 to c (0 < c0 <= c < s), exactly up
-- to quadrature error (relative 1e-12). With u = c^{1/L}, dt = du / (u^{L-1} (s - u^L)) and
--   1/(u^{L-1}(s - u^L)) = (1/s) [u^{1-L} + u/(s - u^L)];
-- the first term integrates in closed form, the second (bounded, smooth) by adaptive Simpson;
-- for L = 2 both are closed form: t = (1/2s) log(c (s - c0) / (c0 (s - c))).
function theory.deep_time(c, s, L, c0)
  local f = "theory.deep_time"
  check.positive(c, 1, f)
  L = check_deep(f, s, L, c0, 2, 3, 4)
  if not (c >= c0 and c < s) then
    check.fail(1, f, string.format("c0 <= c < s expected, got c = %g (c0 = %g, s = %g)", c, c0, s))
  end
  if L == 2 then return log(c * (s - c0) / (c0 * (s - c))) / (2 * s) end
  local u0, u1 = c0 ^ (1 / L), c ^ (1 / L)
  local singular = (u1 ^ (2 - L) - u0 ^ (2 - L)) / (2 - L)
  local smooth = 0
  if u1 > u0 then
    local function g(u) return u / (s - u ^ L) end
    -- Tolerance relative to the integral's scale: its value is at least (u1-u0) g(u0).
    local scale = (u1 - u0) * math.max(g(u0), g(u1))
    smooth = simpson(g, u0, u1, 1e-13 * scale)
  end
  return (singular + smooth) / s
end

--- t_{1/2}: the time c(t) takes to go from c0 to level * s (default level 1/2, "c reaches
-- s/2"). Exact for the ODE (theory.deep_time). The paper's Figure C.2 instead measures the loss
-- (s - c)^2/2 reaching half its initial value, which is level = 1 - 1/sqrt(2) for c0 << s.
-- For the two-layer net pass L = 2 and c0 = (q0 + r0)/2 (the Saxe sigmoid's effective start).
function theory.t_half(s, L, c0, level)
  local f = "theory.t_half"
  L = check_deep(f, s, L, c0, 1, 2, 3)
  if level == nil then level = 0.5 end
  check.finite(level, 4, f)
  if not (level > 0 and level < 1) or level * s < c0 then
    check.fail(4, f, string.format("level in (c0/s, 1) expected, got %g (c0/s = %g)", level, c0 / s))
  end
  return theory.deep_time(level * s, s, L, c0)
end

--- Leading small-sigma behaviour of t_{1/2}, with c0 = sigma^L (per-layer scale u0 = sigma):
--   L = 2: (1/(2s)) log(s/sigma^2)                     (t_half = that + O(sigma^2/s^2));
--   L > 2: sigma^{2-L} / ((L - 2) s), the blow-up time of theory.deep_c_early
--          (t_half = that + O(s^{2/L-2}), an offset independent of sigma).
-- The paper quotes s^{-1} (L/(L-2)) sigma^{2-L}: its Eq. 60 lacks the factor L (see above).
-- For random Gaussian init the effective u0 is sigma times a width-dependent constant, so the
-- formula holds up to an additive constant (L = 2) or a constant factor (L > 2).
function theory.t_half_asymptotic(sigma, L, s)
  local f = "theory.t_half_asymptotic"
  check.positive(sigma, 1, f)
  L = check.integer(L, 2, f, 2)
  check.positive(s, 3, f)
  if L == 2 then return log(s / (sigma * sigma)) / (2 * s) end
  return sigma ^ (2 - L) / ((L - 2) * s)
end

-- ---------------------------------------------------------------------------------------------
-- Final kernel and alignment.
-- ---------------------------------------------------------------------------------------------

local function unit(beta, n, f)
  local nb = 0
  for j = 1, #beta do nb = nb + beta[j] * beta[j] end
  if nb == 0 or nb ~= nb or nb == math.huge then check.fail(n, f, "non-zero finite vector expected") end
  nb = sqrt(nb)
  local out = {}
  for j = 1, #beta do out[j] = beta[j] / nb end
  return out
end

-- K_inf(x, x') = s^{2-2/L} [ (L-1)(beta.x)(beta.x') + x.x' ]: each of layers 2..L contributes
-- u^{2L-2}(beta.x)(beta.x'), layer 1 contributes u^{2L-2} x.x', and u^L -> s (NOTES.md, Eq. 63).
local function ntk_value(scale, Lm1, beta, x, xp)
  local bx, bxp, xx = 0, 0, 0
  for j = 1, #beta do
    bx = bx + beta[j] * x[j]
    bxp = bxp + beta[j] * xp[j]
    xx = xx + x[j] * xp[j]
  end
  return scale * (Lm1 * bx * bxp + xx)
end

--- The final NTK of a deep linear net (any input covariance, O(sigma) corrections dropped):
--   K_inf(x, x') = s^{2-2/L} x^T [(L-1) beta beta^T + I] x'.
-- beta is normalized to unit length. Returns a function k(x, x') of two D-vectors (tables or
-- objects with :totable()).
function theory.final_ntk(s, L, beta)
  local f = "theory.final_ntk"
  check.positive(s, 1, f)
  L = check.integer(L, 2, f, 2)
  beta = unit(check.vector(beta, 3, f, "vector beta"), 3, f)
  local scale, D = s ^ (2 - 2 / L), #beta
  return function(x, xp)
    local g = "final_ntk kernel"
    x = check.vector(x, 1, g, "vector x")
    xp = check.vector(xp, 2, g, "vector x'")
    if #x ~= D then check.fail(1, g, string.format("%d entries expected, got %d", D, #x)) end
    if #xp ~= D then check.fail(2, g, string.format("%d entries expected, got %d", D, #xp)) end
    return ntk_value(scale, L - 1, beta, x, xp)
  end
end

--- The Gram matrix K_inf(X_i, X'_j) as an array of rows: X (n x D) and X' (m x D, default X)
-- are arrays of rows or 2-D tensors.
function theory.final_ntk_gram(s, L, beta, X, Xp)
  local f = "theory.final_ntk_gram"
  check.positive(s, 1, f)
  L = check.integer(L, 2, f, 2)
  beta = unit(check.vector(beta, 3, f, "vector beta"), 3, f)
  local Xt, n, D = check.matrix(X, 4, f, "matrix X")
  local Xpt, m, Dp = Xt, n, D
  if Xp ~= nil then Xpt, m, Dp = check.matrix(Xp, 5, f, "matrix X'") end
  if D ~= #beta then check.fail(4, f, string.format("X has %d columns, beta has %d entries", D, #beta)) end
  if Dp ~= #beta then check.fail(5, f, string.format("X' has %d columns, beta has %d entries", Dp, #beta)) end
  local scale = s ^ (2 - 2 / L)
  local K = {}
  for i = 1, n do
    local row = {}
    for j = 1, m do row[j] = ntk_value(scale, L - 1, beta, Xt[i], Xpt[j]) end
    K[i] = row
  end
  return K
end

--- Final (uncentered) kernel-task alignment A = y^T K y / (|K|_F |y|^2) of K_inf on whitened
-- rank-r data X = U (lambda I_r) V^T with targets y = s X beta (beta in the row span):
-- with b = V^T beta (unit), K = lambda^2 U [(L-1) b b^T + I_r] U^T has eigenvalues L (once) and
-- 1 (r - 1 times), so |K|_F = lambda^2 sqrt(L^2 + r - 1), and y^T K y = s^2 lambda^4 L,
-- |y|^2 = s^2 lambda^2: A = L / sqrt(L^2 + r - 1). It is the largest alignment the linear net
-- reaches (its kernel only gains the beta beta^T spike over training); it tends to 1 as L grows.
function theory.max_alignment(L, r)
  local f = "theory.max_alignment"
  L = check.integer(L, 1, f, 2)
  r = check.integer(r, 2, f, 1)
  return L / sqrt(L * L + r - 1)
end

--- Initial alignment on the same data: at small init the kernel is isotropic to leading order
-- (K_0 proportional to X X^T = lambda^2 U U^T, all r eigenvalues equal), so
-- A = lambda^4 / (lambda^2 sqrt(r) lambda^2) = 1/sqrt(r), whatever the task.
function theory.initial_alignment(r)
  r = check.integer(r, 1, "theory.initial_alignment", 1)
  return 1 / sqrt(r)
end

-- ---------------------------------------------------------------------------------------------
-- Transfer (Appendix F): kernel regression with the kernel a net learned on task beta, applied
-- to a new linear task.
-- ---------------------------------------------------------------------------------------------

--- Generalization error of kernel ridge regression f(x) = k(x)^T (K + lambda I)^{-1} y with
-- K(x, x') = x^T [A beta beta^T + I] x' (A = L - 1 for a depth-L linear net's final NTK, up to
-- scale), inputs x ~ N(0, I_D), P training points and a unit-norm task y = w.x,
-- w = alpha beta + sqrt(1 - alpha^2) w_perp (|w_perp| = 1, w_perp orthogonal to beta).
-- The kernel's eigenvalues under N(0, I_D) are 1 + A (along beta) and 1 (D - 1 times); the
-- theory of Bordelon et al. 2020 / Canatar et al. 2021 (average over training sets, exact as
-- P, D grow) gives, with kappa the positive solution of
--   kappa = lambda + kappa [ (1+A)/((1+A)P + kappa) + (D-1)/(P + kappa) ],
--   gamma = P [ (1+A)^2/((1+A)P + kappa)^2 + (D-1)/(P + kappa)^2 ],
--   E_g   = 1/(1 - gamma) [ alpha^2 kappa^2/((1+A)P + kappa)^2 + (1-alpha^2) kappa^2/(P + kappa)^2 ].
-- w_perp's share enters only through its total weight 1 - alpha^2 because the D - 1 orthogonal
-- eigenvalues are equal, however it is spread over them. kappa is found by bisection of
-- h(kappa) = kappa (1 - S(kappa)) - lambda, S = sum_k eta_k/(P eta_k + kappa), on
-- [0, lambda + sum_k eta_k] (h < 0 below the root, h >= 0 at the upper end), to the last bit.
-- With lambda = 0 and P >= D the interpolator is exact: kappa = 0, E_g = 0.
-- Returns E_g, kappa, gamma.
function theory.transfer_error(P, D, A, alpha, lambda)
  local f = "theory.transfer_error"
  check.positive(P, 1, f)
  D = check.integer(D, 2, f, 1)
  check.finite(A, 3, f)
  if not (A > -1) then check.fail(3, f, string.format("A > -1 expected (a positive kernel), got %g", A)) end
  check.finite(alpha, 4, f)
  if not (abs(alpha) <= 1) then check.fail(4, f, string.format("alpha in [-1, 1] expected, got %g", alpha)) end
  check.positive(lambda, 5, f, true)
  local e1, rest = 1 + A, D - 1
  local function S(k) return e1 / (e1 * P + k) + rest / (P + k) end
  local function h(k) return k * (1 - S(k)) - lambda end
  local kappa
  local lo, hi = 0, lambda + e1 + rest
  if lambda == 0 and S(0) <= 1 then
    kappa = 0 -- at least as many points as modes: no positive root
  else
    if lambda == 0 then
      -- h(0) = 0 is the trivial root; start just above it, where h < 0 since S(0) > 1.
      lo = 1e-300
    end
    for _ = 1, 2000 do
      local mid = 0.5 * (lo + hi)
      if mid <= lo or mid >= hi then break end
      if h(mid) < 0 then lo = mid else hi = mid end
    end
    kappa = hi
  end
  local d1, d2 = e1 * P + kappa, P + kappa
  local gamma = P * (e1 * e1 / (d1 * d1) + rest / (d2 * d2))
  -- kappa = 0: a noiseless task interpolated exactly (gamma = D/P may then reach 1: 0, not 0/0).
  if kappa == 0 then return 0, 0, gamma end
  local eg = (alpha * alpha * kappa * kappa / (d1 * d1) + (1 - alpha * alpha) * kappa * kappa / (d2 * d2))
    / (1 - gamma)
  return eg, kappa, gamma
end

require("ntklab.theory_unwhitened").merge(theory)
for k, v in pairs(require "ntklab.theory_multi") do theory[k] = v end -- C outputs (Appendix H)
return theory
