--- ntklab.cg: kernel regression without the whole kernel in memory, by preconditioned conjugate
-- gradients on (K + ridge I) alpha = y, K streamed by row blocks.
-- Lua around C: each iteration is one matvec, a gemm of every row block of K with the [P x m]
-- right-hand sides (O(P^2 m) in BLAS, reading 8 or 4 P^2 bytes), plus O(P m) vector work; the
-- Lua overhead is a few dozen calls per iteration, nothing next to the gemm.
--   fit = cg.solve{K = K | tiles directory, y = y, ridge = 0, tol = 1e-10, maxiter = 2000,
--                  precond = "pivchol" | "none", rank = 200, block = 2048, progress = fn}
--     K: [P x P] symmetric PSD kernel, a tensor (in memory or mapped by ntklab.tiles.open) or a
--        tiles directory (f8 or f4: mapped by ntklab.tiles.operator, each matvec one pass over
--        the tiles in C accumulating in float64), or such an ntklab.tile_matvec.
--     y: [P] or [P x m] targets; all m columns share each matvec (one gemm per block).
--     ridge >= 0. tol: every column stops when ||y - (K + ridge I) alpha|| <= tol ||y||; the
--        ridgeless case (ridge = 0) stops on the same stated tolerance, and the iterate is then
--        a solution to that residual (CG from 0 stays in the range of K: the minimum-norm one).
--     progress: called as progress(iteration, largest relative residual) after each iteration.
--     precond "pivchol": M = L L^T + s I with L the rank-r partial pivoted Cholesky factor of K
--        (r columns, read as rows of K) and s = ridge + the mean of K's diagonal that L leaves,
--        applied by Woodbury with an r x r Cholesky.
--   -> {alpha = [P] | [P x m], iterations, residual (largest relative residual), converged,
--       matvecs, matvec_seconds (mean), precond_seconds, rank (of L), shift (s), method = "cg",
--       rounding (tiles: ||K_tiles - K||_2 estimated, cg.rounding times mean diag K)}
--      or nil, msg when tol is not reached in maxiter iterations, or at a breakdown: a search
--      direction with d^T (K + ridge I) d <= 0 (K + ridge I is not positive definite: with f4
--      tiles, a ridge below the tiles' rounding) or r^T M^-1 r <= 0 (the preconditioner);
--      the partial result is the third value, its `breakdown` = {what = "operator" |
--      "preconditioner", value, iteration, column}. A column below tol is frozen.
--   cg.rounding(P, dtype) -> ||K_tiles - K||_2 / mean diag K, estimated: u sqrt(P) with u the
--     unit roundoff (f4 2^-24, f8 2^-53); cg.ridge_floor(P, dtype) -> 10 times that, the
--     smallest relative ridge whose solution the rounding moves by less than ~10%.
--   fit = cg.regress{K =, y =, ridge =, method = "auto" | "direct" | "cg", memory = bytes, ...}
--     method "direct": ntklab.kernel_regression (Cholesky, or the pseudo-inverse when ridgeless);
--     "auto" picks direct when K is an in-memory tensor and its factorization (two P x P
--     copies) fits in `memory` bytes (default 4 GiB), else cg. Returns {alpha, method, ...}.
local check = require "ntklab.argcheck"
check.register()

local cg = {}
local fmt = string.format

local function core() return require "ntklab" end

local SOLVE_KEYS = {K = true, y = true, ridge = true, tol = true, maxiter = true, precond = true,
                    rank = true, block = true, progress = true}
-- Stop the pivoted Cholesky when the largest remaining diagonal is below this fraction of the
-- largest initial one: the rest of K is numerical noise for any ridge a user can state.
local PIVCHOL_FLOOR = 1e-14

-- A tiles directory becomes an ntklab.tile_matvec (f8 or f4 tiles mapped, products in C);
-- a tensor stays a tensor.
local function open_kernel(K, fname)
  if type(K) == "string" then return require("ntklab.tiles").operator(K) end
  if check.typename(K) == "ntklab.tile_matvec" then
    local rows, cols = K:size()
    if rows == cols then return K end
    check.fail(1, fname, fmt("option 'K': square kernel expected, got a [%d x %d] tile_matvec", rows, cols))
  end
  if check.typename(K) ~= "ntklab.tensor" or K:dim() ~= 2 or K:size(1) ~= K:size(2) then
    check.fail(1, fname, "option 'K': square tensor or tiles directory expected, got " .. check.typename(K))
  end
  return K
end

local function is_operator(K) return check.typename(K) == "ntklab.tile_matvec" end

local function kernel_size(K) return (K:size(1)) end -- a tensor's or an operator's rows

-- out <- (K + ridge I) V, by row blocks of K (a tensor), or by the operator's pass over its tiles.
local function make_matvec(K, ridge, block)
  local n = core()
  if is_operator(K) then
    return function(V, out)
      K:apply(V, out)
      if ridge > 0 then out:axpy_(ridge, V) end
    end
  end
  local P = K:size(1)
  return function(V, out)
    for first = 1, P, block do
      local rows = math.min(block, P - first + 1)
      n.matmul(K:narrow(1, first, rows), V, out:narrow(1, first, rows))
    end
    if ridge > 0 then out:axpy_(ridge, V) end
  end
end

-- Row p of K (the operator reads only that row's bytes: the preconditioner reads `rank` rows,
-- and reading their whole tiles would read the kernel many times over).
local function kernel_row(K, p, out)
  if is_operator(K) then return K:row(p, out) end
  return out:copy_(K:select(1, p))
end

local function kernel_diagonal(K)
  if is_operator(K) then return K:diagonal() end
  return K:diagonal() + 0
end

-- The `count` indices of the largest entries of d above floor, largest first.
local function largest(d, count, floor)
  local values, idx = d:totable(), {}
  for i, v in ipairs(values) do
    if v > floor then idx[#idx + 1] = i end
  end
  table.sort(idx, function(a, b) return values[a] > values[b] or (values[a] == values[b] and a < b) end)
  for i = #idx, count + 1, -1 do idx[i] = nil end
  return idx
end

-- Lt [r x P] with K ~ Lt^T Lt (partial pivoted Cholesky, greedy on the largest remaining
-- diagonal), and the mean remaining diagonal. Blocked: each step takes the PIVCHOL_BLOCK
-- largest remaining diagonals as candidates, reads their rows of K, removes the factor so far
-- from them in one gemm ([b x k] by [k x P]), and factors the candidates' b x b Schur
-- complement greedily in plain Lua (accepting a pivot only while it stays above the floor, so
-- nearly dependent candidates are dropped). The old unblocked loop re-read the whole factor at
-- every column (8 P r^2 / 2 bytes: 960 GB at P = 60,000, r = 2,000); this reads it once per
-- block, at BLAS-3 speed (P r^2 flops in all).
local PIVCHOL_BLOCK = 64
local function pivoted_cholesky(K, P, rank)
  local n = core()
  local d = kernel_diagonal(K)
  local Lt = n.zeros(math.max(rank, 1), P)
  local floor = PIVCHOL_FLOOR * d:max()
  local r = 0
  while r < rank do
    local S = largest(d, math.min(PIVCHOL_BLOCK, rank - r), floor)
    local b = #S
    if b == 0 then break end
    local R = n.zeros(b, P)
    for i, p in ipairs(S) do kernel_row(K, p, R:select(1, i)) end
    if r > 0 then
      local prev = Lt:narrow(1, 1, r)
      local cols = n.zeros(r, b)
      for i, p in ipairs(S) do cols:select(2, i):copy_(prev:select(2, p)) end
      R:sub_(n.matmul(cols:t(), prev))
    end
    -- greedy pivoted Cholesky of the Schur complement G = R[:, S] (b x b), in plain Lua
    local G = {}
    for i = 1, b do
      G[i] = {}
      for j = 1, b do G[i][j] = R:get(i, S[j]) end
    end
    local used, order, Lg = {}, {}, {} -- Lg[q][i]: factor row of the q-th accepted pivot
    for q = 1, b do
      local best, bv = nil, floor
      for i = 1, b do
        if not used[i] then
          local v = G[i][i]
          for t = 1, q - 1 do v = v - Lg[t][i] ^ 2 end
          if v > bv then best, bv = i, v end
        end
      end
      if not best then break end
      used[best] = true
      order[q] = best
      local row, root = {}, math.sqrt(bv)
      for i = 1, b do
        local v = G[best][i]
        for t = 1, q - 1 do v = v - Lg[t][best] * Lg[t][i] end
        row[i] = v / root
      end
      Lg[q] = row
      -- the new factor row: (R[best] - sum_t Lg[t][best] Lt[r + t]) / root
      local out = Lt:select(1, r + q)
      out:copy_(R:select(1, best))
      for t = 1, q - 1 do out:axpy_(-Lg[t][best], Lt:select(1, r + t)) end
      out:div_(root)
    end
    local q = #order
    if q == 0 then break end
    local new = Lt:narrow(1, r + 1, q)
    d:sub_((new * new):sum(1):reshape(P))
    for t = 1, q do d:set(S[order[t]], 0) end -- exactly eliminated (rounding leaves a few ulps)
    d:clamp_(0, math.huge)
    r = r + q
  end
  local remaining = math.max(d:sum() / P, 0)
  if r == 0 then return nil, remaining end
  return Lt:narrow(1, 1, r), remaining
end

-- z <- M^{-1} v for M = Lt^T Lt + s I: (v - Lt^T C^{-1} Lt v) / s with C = s I + Lt Lt^T.
-- C^{-1} is formed once (Cholesky solve against I, then symmetrized): each application is then
-- two gemms with Lt and one r x r product, not an O(r^3) factorization per iteration. Its
-- rounding only perturbs the preconditioner, which CG needs symmetric positive definite, not exact.
-- Where the CPU has them, the two products with the factor are thin products
-- (ntklab.thin_matmul: each entry read once, in place), Lt^T W through an explicit transpose L
-- (8 P r more bytes): with a block of ~10 vectors dgemm copies (packs) the factor first, and at
-- P = 60,000, r = 3,000 (1.44 GB) that took 0.31 and 0.40 s per iteration on one thread.
local function make_preconditioner(Lt, s)
  local n = core()
  local r = Lt:size(1)
  local C = n.gram(Lt)
  C:diagonal():add_(s)
  local Cinv = assert(n.linalg.cholesky_solve(C, n.eye(r)))
  Cinv = (Cinv + Cinv:t()) * 0.5
  if n.thin_available() then
    local L = Lt:t():contiguous()
    return function(V) -- V: [P x m], as every block of residuals here
      local W = n.matmul(Cinv, n.thin_matmul(Lt, V))
      local Z = V - n.thin_matmul(L, W)
      return Z:div_(s)
    end
  end
  return function(V)
    local W = n.matmul(Cinv, n.matmul(Lt, V))
    local Z = V - n.matmul(Lt:t(), W)
    return Z:div_(s)
  end
end

-- Tiles store K rounded to their dtype: each entry moves by up to the unit roundoff u times
-- |K_ij| (u = 2^-24 for f4, 2^-53 for f8), nearly independently, and a symmetric matrix of
-- P^2 independent errors of rms s has a 2-norm near 2 s sqrt(P). With |K_ij| <= mean diag K
-- for most entries, ||K_tiles - K||_2 ~ u sqrt(P) mean diag K: measured 3.1e-6 mean diag at
-- P = 8,000 against 5.3e-6 estimated (f4 tiles of a trained 784-100-100-10 ReLU net's NTK on
-- Fashion-MNIST). A ridge below that solves a kernel that differs from K by more than the
-- ridge in its small-eigenvalue directions, where the solution lives.
local UNIT_ROUNDOFF = {f4 = 2 ^ -24, f8 = 2 ^ -53}
-- The ridge floor is this many times the rounding level: the solution then moves by at most
-- ~||K_tiles - K|| / ridge <= 1/RIDGE_FLOOR_FACTOR relative from K's own.
local RIDGE_FLOOR_FACTOR = 10

local function rounding(P, dtype, fname)
  check.integer(P, 1, fname, 1)
  local u = UNIT_ROUNDOFF[dtype]
  if not u then check.fail(2, fname, fmt("'f8' or 'f4' expected, got '%s'", tostring(dtype))) end
  return u * math.sqrt(P)
end

--- cg.rounding(P, dtype): ||K_tiles - K||_2 / mean diag K estimated for P x P tiles of dtype.
function cg.rounding(P, dtype) return rounding(P, dtype, "cg.rounding") end

--- cg.ridge_floor(P, dtype): the smallest ridge, relative to mean diag K, that the tiles'
-- rounding leaves meaningful (RIDGE_FLOOR_FACTOR times cg.rounding).
function cg.ridge_floor(P, dtype)
  return RIDGE_FLOOR_FACTOR * rounding(P, dtype, "cg.ridge_floor")
end

-- The absolute rounding level of an operator's tiles (nil for a tensor: K itself).
local function rounding_level(K, P)
  if not is_operator(K) then return nil end
  return cg.rounding(P, K:dtype()) * K:diagonal():sum() / P
end

--- cg.solve{K, y, ridge, tol, maxiter, precond, rank, block}: conjugate gradients (the header).
function cg.solve(opts)
  local f = "cg.solve"
  check.table(opts, 1, f)
  check.options(opts, 1, f, SOLVE_KEYS)
  local n = core()
  local K, kerr = open_kernel(opts.K, f)
  if not K then return nil, kerr end
  local P = kernel_size(K)
  local y = opts.y
  if check.typename(y) ~= "ntklab.tensor" or y:size(1) ~= P or y:dim() > 2 then
    check.fail(1, f, fmt("option 'y': [%d] or [%d x m] tensor expected, got %s", P, P,
                         check.typename(y) == "ntklab.tensor" and tostring(y:size(1)) .. " rows" or check.typename(y)))
  end
  if not (y:abs():max() < math.huge) then
    check.fail(1, f, "option 'y': finite values expected, got a NaN or an infinity")
  end
  local ridge = opts.ridge or 0
  if type(ridge) ~= "number" or not (ridge >= 0) or ridge == math.huge then
    check.fail(1, f, "option 'ridge': finite number >= 0 expected, got " .. tostring(ridge))
  end
  local tol = opts.tol or 1e-10
  if type(tol) ~= "number" or not (tol > 0 and tol < 1) then
    check.fail(1, f, "option 'tol': number in (0, 1) expected, got " .. tostring(tol))
  end
  local function count(key, default)
    local v = opts[key] or default
    if math.type(v) ~= "integer" or v < 1 then
      check.fail(1, f, fmt("option '%s': integer >= 1 expected, got %s", key, tostring(v)))
    end
    return v
  end
  local maxiter = count("maxiter", 2000)
  local precond = opts.precond or "pivchol"
  if precond ~= "pivchol" and precond ~= "none" then
    check.fail(1, f, fmt("option 'precond': 'pivchol' or 'none' expected, got '%s'", tostring(precond)))
  end
  local rank = math.min(count("rank", 200), P)
  local block = count("block", 2048)
  local report = opts.progress
  if report ~= nil and type(report) ~= "function" then
    check.fail(1, f, "option 'progress': function expected, got " .. check.typename(report))
  end

  local vector = y:dim() == 1
  local Y = vector and y:reshape(P, 1) or y
  local m = Y:size(2)
  local clock = n.clock
  local t0 = clock()
  local apply_M, shift, used_rank = nil, 0, 0
  if precond == "pivchol" then
    local Lt, remaining = pivoted_cholesky(K, P, rank)
    shift = ridge + remaining
    if Lt and shift > 0 then
      apply_M = make_preconditioner(Lt, shift)
      used_rank = Lt:size(1)
    end
  end
  local precond_seconds = clock() - t0
  apply_M = apply_M or function(V) return V + 0 end

  local matvec = make_matvec(K, ridge, block)
  local X = n.zeros(P, m)
  local R = Y + 0
  local Q = n.zeros(P, m)
  local ynorm = (Y * Y):sum(1):sqrt():clamp(1e-300, math.huge)
  local function residuals() return ((R * R):sum(1):sqrt() / ynorm):totable()[1] end
  local res = residuals()
  -- A column whose residual is below tol is frozen (step 0): its curvature then no longer
  -- enters the breakdown checks, and a zero column of y never starts.
  local active, steps, betas = {}, n.zeros(1, m), n.zeros(1, m)
  local function update_active()
    local worst, any = 0, false
    for j = 1, m do
      active[j] = not (res[j] <= tol) -- a NaN residual stays active: never "converged"
      any = any or active[j]
      worst = math.max(worst, res[j])
    end
    return worst, any
  end
  local residual, any_active = update_active()
  local Z = apply_M(R)
  local D = Z + 0
  local rz = (R * Z):sum(1):totable()[1]
  local matvec_time, iterations = 0, 0
  local breakdown
  -- Breakdown: for a symmetric positive definite K + ridge I and M, every search direction
  -- has d^T (K + ridge I) d > 0 and every residual r^T M^-1 r > 0. A value <= 0 (or NaN)
  -- means the operator or the preconditioner is not positive definite at this ridge; a step
  -- r^T z / d^T A d would then leave the energy minimum, so CG stops and says which.
  local function check_positive(values, what, it)
    for j = 1, m do
      if active[j] and not (values[j] > 0) then
        breakdown = {what = what, value = values[j], iteration = it, column = j}
        return false
      end
    end
    return true
  end
  check_positive(rz, "preconditioner", 0)
  while not breakdown and any_active and iterations < maxiter do
    local tm = clock()
    matvec(D, Q)
    matvec_time = matvec_time + (clock() - tm)
    iterations = iterations + 1
    local dq = (D * Q):sum(1):totable()[1]
    if not check_positive(dq, "operator", iterations) then break end
    for j = 1, m do steps:set(1, j, active[j] and rz[j] / dq[j] or 0) end
    X:add_(D * steps)
    R:sub_(Q * steps)
    res = residuals()
    residual, any_active = update_active()
    if report then report(iterations, residual) end
    if not any_active then break end
    Z = apply_M(R)
    local rz_new = (R * Z):sum(1):totable()[1]
    if not check_positive(rz_new, "preconditioner", iterations) then break end
    for j = 1, m do betas:set(1, j, active[j] and rz_new[j] / rz[j] or 0) end
    D:mul_(betas):add_(Z)
    rz = rz_new
  end
  local fit = {
    alpha = vector and X:reshape(P) or X, iterations = iterations, residual = residual,
    converged = not any_active, matvecs = iterations,
    matvec_seconds = iterations > 0 and matvec_time / iterations or 0,
    precond_seconds = precond_seconds, rank = used_rank, shift = shift, method = "cg",
    precond = precond, ridge = ridge, tol = tol, breakdown = breakdown,
    rounding = rounding_level(K, P),
  }
  if breakdown then
    local b = breakdown
    local msg
    if b.what == "operator" then
      msg = fmt("cg.solve: K + ridge I is not positive definite: search direction %d of column %d has d^T (K + ridge I) d = %.3g",
                b.iteration, b.column, b.value)
      if fit.rounding and ridge < RIDGE_FLOOR_FACTOR * fit.rounding then
        msg = msg .. fmt("; its %s tiles round K by about %.3g (u sqrt(P) mean diag K, cg.rounding), more than ridge %.3g can absorb: give a ridge of at least %.3g (cg.ridge_floor times mean diag K)%s",
                         K:dtype(), fit.rounding, ridge, RIDGE_FLOOR_FACTOR * fit.rounding,
                         K:dtype() == "f4" and ", or f8 tiles" or "")
      else
        msg = msg .. fmt("; ridge %.3g: K is not PSD at that scale (raise the ridge)", ridge)
      end
    else
      msg = fmt("cg.solve: the preconditioner is not positive definite: r^T M^-1 r = %.3g for column %d after %d iterations (shift %.3g, rank %d)",
                b.value, b.column, b.iteration, shift, used_rank)
    end
    return nil, msg, fit
  end
  if not fit.converged then
    return nil, fmt("cg.solve: relative residual %.3g > tol %.3g after %d iterations", residual, tol, iterations), fit
  end
  return fit
end

--- cg.regress{K, y, ridge, method, memory, ...}: direct or CG, whichever fits (the header).
function cg.regress(opts)
  local f = "cg.regress"
  check.table(opts, 1, f)
  local method = opts.method or "auto"
  if method ~= "auto" and method ~= "direct" and method ~= "cg" then
    check.fail(1, f, fmt("option 'method': 'auto', 'direct' or 'cg' expected, got '%s'", tostring(method)))
  end
  local memory = opts.memory or 4 * 2 ^ 30
  local rest = {}
  for k, v in pairs(opts) do
    if k ~= "method" and k ~= "memory" then rest[k] = v end
  end
  if method == "auto" then
    local in_memory = check.typename(opts.K) == "ntklab.tensor"
    local P = in_memory and opts.K:size(1) or 0
    method = in_memory and 2 * 8 * P * P <= memory and "direct" or "cg"
  end
  if method == "cg" then return cg.solve(rest) end
  local K = opts.K
  if type(K) == "string" then
    local kerr
    K, kerr = require("ntklab.tiles").open(K)
    if not K then return nil, kerr end
  end
  local fit, err = core().kernel_regression{K = K, y = opts.y, ridge = opts.ridge or 0}
  if not fit then return nil, err end
  return {alpha = fit.alpha, method = "direct", direct = fit.method, rank = fit.rank, fit = fit}
end

return cg
