--- ntklab.analysis: comparing predictors, kernel alignment, reading silent alignment off a
-- recorded trajectory (t_align90, t_kernel10, t_half, verdict), and the Eq. 2 path-kernel
-- predictor integrated from kernel snapshots.
-- Pure Lua over plain tables; vectors may also be objects with :totable() (ntklab tensors).
-- Misuse raises "bad argument #n to 'analysis.f' (...)"; a readout that does not exist for the
-- data (the loss never halves, ...) is returned as nil, msg.
local check = require "ntklab.argcheck"
check.register()

local analysis = {}

local sqrt = math.sqrt
local NAN = 0 / 0

-- ---------------------------------------------------------------------------------------------
-- Predictor comparison
-- ---------------------------------------------------------------------------------------------

--- Compares a prediction vector with a reference vector of the same length:
--   corr    Pearson correlation of pred and ref (NaN when either is constant);
--   rel_err |pred - ref|_2 / |ref|_2, relative to the REFERENCE (NaN when ref is all zeros);
--   r2      1 - sum (pred - ref)^2 / sum (ref - mean ref)^2, the share of ref's variance that
--           pred explains (NaN when ref is constant; can be negative);
--   n, reference = "ref" (which argument the relative error divides by).
-- Typical use: compare(kernel_regression_prediction, network_prediction) measures how far the
-- kernel predictor is from the trained net, in units of the net's output norm.
function analysis.compare(pred, ref)
  local f = "analysis.compare"
  local a = check.vector(pred, 1, f, "prediction vector")
  local b = check.vector(ref, 2, f, "reference vector")
  local n = #a
  if #b ~= n then check.fail(2, f, string.format("%d entries expected (as pred), got %d", n, #b)) end
  local ma, mb = 0, 0
  for i = 1, n do ma, mb = ma + a[i], mb + b[i] end
  ma, mb = ma / n, mb / n
  local saa, sbb, sab, diff2, bb = 0, 0, 0, 0, 0
  for i = 1, n do
    local da, db = a[i] - ma, b[i] - mb
    saa, sbb, sab = saa + da * da, sbb + db * db, sab + da * db
    local d = a[i] - b[i]
    diff2, bb = diff2 + d * d, bb + b[i] * b[i]
  end
  local corr = (saa > 0 and sbb > 0) and sab / sqrt(saa * sbb) or NAN
  local rel_err = bb > 0 and sqrt(diff2 / bb) or NAN
  local r2 = sbb > 0 and 1 - diff2 / sbb or NAN
  return {corr = corr, rel_err = rel_err, r2 = r2, n = n, reference = "ref"}
end

--- Kernel-target alignment of a Gram matrix K (array of rows or 2-D tensor) with targets y:
-- uncentered A = y^T K y / (|K|_F |y|^2) (Cortes et al. 2012, as in the paper), or, with
-- centered = true, the same after K -> H K H and y -> H y, H = I - 1 1^T / P.
-- NaN when |K|_F or |y| is zero.
function analysis.kernel_alignment(K, y, centered)
  local f = "analysis.kernel_alignment"
  local Kt, n, m = check.matrix(K, 1, f, "Gram matrix")
  if n ~= m then check.fail(1, f, string.format("square matrix expected, got [%d x %d]", n, m)) end
  local yt = check.vector(y, 2, f, "target vector")
  if #yt ~= n then check.fail(2, f, string.format("%d entries expected (as K), got %d", n, #yt)) end
  if centered ~= nil and type(centered) ~= "boolean" then
    check.fail(3, f, "boolean expected, got " .. check.typename(centered))
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

-- ---------------------------------------------------------------------------------------------
-- Silent-alignment readouts on a trajectory {t = {...}, alignment = {...}, kernel_norm = {...},
-- loss = {...}} (parallel arrays, t strictly ascending).
--
-- Crossing times are linearly interpolated in t between the two records that bracket the
-- threshold: if v(t_i) is on one side and v(t_{i+1}) on the other,
--   t* = t_i + (thr - v_i) / (v_{i+1} - v_i) (t_{i+1} - t_i).
-- Linear in t (not log t) because it is exact for any trajectory that is piecewise linear
-- between records, and its error is bounded by the record spacing whatever the spacing law; use
-- denser records where the readout matters. When the threshold is already met at the first
-- record, the readout is t[1] (the trajectory cannot say when it happened before).
-- ---------------------------------------------------------------------------------------------

-- The helpers below return nil, msg on bad input; the public functions raise with it, so that
-- the error points at their caller whatever the depth of the helper.
local function series(traj, key, n)
  local v = traj[key]
  if v == nil then return nil, "trajectory field '" .. key .. "' missing" end
  local ok, t = pcall(check.vector, v, 1, "", key)
  if not ok then return nil, "trajectory field '" .. key .. "': " .. (t:match("%((.*)%)$") or t) end
  if n and #t ~= n then
    return nil, string.format("trajectory field '%s' has %d records, t has %d", key, #t, n)
  end
  for i = 1, #t do
    if t[i] ~= t[i] then return nil, string.format("trajectory field '%s' is NaN at record %d", key, i) end
  end
  return t
end

-- t and the series `key` of a trajectory, or nil, msg.
local function arrays(traj, key)
  if type(traj) ~= "table" then return nil, "trajectory table expected, got " .. check.typename(traj) end
  local t, msg = series(traj, "t")
  if not t then return nil, msg end
  for i = 2, #t do
    if not (t[i] > t[i - 1]) then
      return nil, string.format("trajectory t must be strictly ascending (t[%d] = %g, t[%d] = %g)",
        i - 1, t[i - 1], i, t[i])
    end
  end
  local v
  v, msg = series(traj, key, #t)
  if not v then return nil, msg end
  return t, v
end

local function interpolate(t, v, i, thr)
  -- the crossing between records i - 1 and i
  local dv = v[i] - v[i - 1]
  if dv == 0 then return t[i] end
  return t[i - 1] + (thr - v[i - 1]) / dv * (t[i] - t[i - 1])
end

-- A fraction in (0, 1], or nil, msg.
local function fraction(frac, default)
  if frac == nil then return default end
  if type(frac) ~= "number" then return nil, "number expected, got " .. check.typename(frac) end
  if not (frac > 0 and frac <= 1) then
    return nil, string.format("fraction in (0, 1] expected, got %s", tostring(frac))
  end
  return frac
end

-- Checks a readout's arguments: returns t, the series and the fraction, or raises at the
-- caller of the public function.
local function readout_args(f, traj, key, frac, default)
  local t, v = arrays(traj, key)
  if not t then check.fail(1, f, v) end
  local fr, msg = fraction(frac, default)
  if not fr then check.fail(2, f, msg) end
  return t, v, fr
end

--- t_align90: the first time the alignment reaches frac (default 0.9) of its FINAL value (the
-- last record) and stays at or above it through the last record. Returns the time, or nil, msg
-- when the final alignment is not positive (a fraction of it is then no target).
function analysis.t_align90(traj, frac)
  local f = "analysis.t_align90"
  local t, a
  t, a, frac = readout_args(f, traj, "alignment", frac, 0.9)
  local final = a[#a]
  if not (final > 0) then return nil, string.format("final alignment %g is not positive", final) end
  local thr = frac * final
  -- The last record below the threshold; the crossing after it is the one that "stays".
  for i = #a, 1, -1 do
    if a[i] < thr then return interpolate(t, a, i + 1, thr) end
  end
  return t[1]
end

--- t_kernel10: the first time |K|_F reaches frac (default 0.1) of its FINAL value, measured from
-- ZERO: |K(t)|_F = frac |K(t_end)|_F, the paper's dashed marker ("the kernel has grown to 10% of
-- its final value", Figures 1, E.2). Why not from the initial norm: in the rich regime |K(0)| is
-- O(sigma^{2L-2}) smaller than the final norm and the two agree; in the lazy regime |K(0)| is
-- already a large share of the final norm, and from zero the readout is then t[1], which says
-- the truth (there is no growth phase for alignment to be silent in), whereas a share of the
-- small increment K(t_end) - K(0) would time noise. First passage (not "stays"): the norm
-- may overshoot and come back. from = "initial" measures the growth instead,
-- |K(t)|_F = |K(0)|_F + frac (|K(t_end)|_F - |K(0)|_F), for comparison (nil, msg if the norm
-- does not grow). Returns the time, or nil, msg when the final norm is not positive.
function analysis.t_kernel10(traj, frac, from)
  local f = "analysis.t_kernel10"
  local t, k
  t, k, frac = readout_args(f, traj, "kernel_norm", frac, 0.1)
  if from ~= nil and from ~= "zero" and from ~= "initial" then
    check.fail(3, f, "'zero' or 'initial' expected, got " .. (type(from) == "string" and "'" .. from .. "'" or check.typename(from)))
  end
  local final = k[#k]
  if not (final > 0) then return nil, string.format("final kernel norm %g is not positive", final) end
  local thr = frac * final
  if from == "initial" then
    if not (final > k[1]) then
      return nil, string.format("kernel norm does not grow (initial %g, final %g)", k[1], final)
    end
    thr = k[1] + frac * (final - k[1])
    if k[1] >= thr then return t[1] end -- frac = 0 is excluded, so only rounding gets here
  end
  if k[1] >= thr then return t[1] end
  for i = 2, #k do
    if k[i] >= thr then return interpolate(t, k, i, thr) end
  end
  return t[#t] -- unreachable: k[#k] = final >= thr
end

--- t_half: the first time the loss reaches frac (default 0.5) of its INITIAL value (first
-- record). Returns the time, or nil, msg when it never does (or the initial loss is zero).
function analysis.t_half(traj, frac)
  local f = "analysis.t_half"
  local t, l
  t, l, frac = readout_args(f, traj, "loss", frac, 0.5)
  if not (l[1] > 0) then return nil, string.format("initial loss %g is not positive", l[1]) end
  local thr = frac * l[1]
  for i = 2, #l do
    if l[i] <= thr then return interpolate(t, l, i, thr) end
  end
  local low = l[1]
  for i = 2, #l do low = math.min(low, l[i]) end
  return nil, string.format("loss never reached %g of its initial value %g (lowest %g at the records)",
    frac, l[1], low)
end

--- All three readouts: {align90 = ..., kernel10 = ..., half_loss = ..., messages = {...}}
-- (a readout that does not exist is absent, with its message under the same key in messages).
local function check_trajectory(f, traj)
  for _, key in ipairs{"alignment", "kernel_norm", "loss"} do
    local t, msg = arrays(traj, key)
    if not t then check.fail(1, f, msg) end
  end
end

function analysis.readouts(traj)
  check_trajectory("analysis.readouts", traj)
  local out, messages = {}, {}
  out.align90, messages.align90 = analysis.t_align90(traj)
  out.kernel10, messages.kernel10 = analysis.t_kernel10(traj)
  out.half_loss, messages.half_loss = analysis.t_half(traj)
  out.messages = messages
  return out
end

-- Thresholds of the verdict's predictor condition (the issue's "done when"): the final-NTK
-- predictor within 10% of the net, the initial-NTK one at least 3x further off.
local FINAL_REL_ERR_MAX = 0.1
local INITIAL_OVER_FINAL_MIN = 3

--- The silent-alignment verdict. traj: a trajectory (the readouts are computed) or a readouts
-- table from analysis.readouts. predictors (optional): {final_ntk = compare(...),
-- initial_ntk = compare(...)} with the net as the reference. Returns
--   {silent = bool, rule = "<the rule, with its numbers>", reason = "<what decided it>"}.
-- Rule: alignment reaches 90% of its final value before |K|_F reaches 10% of its final value
-- (t_align90 < t_kernel10); with predictors, also final_ntk.rel_err <= 0.1 and
-- initial_ntk.rel_err >= 3 final_ntk.rel_err.
function analysis.verdict(traj, predictors)
  local f = "analysis.verdict"
  check.table(traj, 1, f)
  local r = traj
  if traj.t ~= nil then
    check_trajectory(f, traj)
    r = analysis.readouts(traj)
  end
  if predictors ~= nil then
    check.table(predictors, 2, f)
    for _, key in ipairs{"final_ntk", "initial_ntk"} do
      local p = predictors[key]
      if type(p) ~= "table" or type(p.rel_err) ~= "number" then
        check.fail(2, f, "predictors." .. key .. ".rel_err (number) expected")
      end
    end
  end
  local rule = "t_align90 < t_kernel10 (alignment reaches 90% of its final value before |K|_F "
    .. "reaches 10% of its final value)"
  if predictors then
    rule = rule .. string.format(" and final_ntk.rel_err <= %g and initial_ntk.rel_err >= %g * final_ntk.rel_err",
      FINAL_REL_ERR_MAX, INITIAL_OVER_FINAL_MIN)
  end
  local out = {rule = rule, t_align90 = r.align90, t_kernel10 = r.kernel10}
  if type(r.align90) ~= "number" or type(r.kernel10) ~= "number" then
    out.silent, out.reason = false, "a timing readout is missing"
    return out
  end
  if not (r.align90 < r.kernel10) then
    out.silent = false
    out.reason = string.format("t_align90 = %g is not before t_kernel10 = %g", r.align90, r.kernel10)
    return out
  end
  if predictors then
    local fe, ie = predictors.final_ntk.rel_err, predictors.initial_ntk.rel_err
    if not (fe <= FINAL_REL_ERR_MAX) then
      out.silent = false
      out.reason = string.format("final-NTK predictor rel_err %g > %g", fe, FINAL_REL_ERR_MAX)
      return out
    end
    if not (ie >= INITIAL_OVER_FINAL_MIN * fe) then
      out.silent = false
      out.reason = string.format("initial-NTK rel_err %g is less than %g x final-NTK rel_err %g",
        ie, INITIAL_OVER_FINAL_MIN, fe)
      return out
    end
  end
  out.silent = true
  out.reason = string.format("t_align90 = %g < t_kernel10 = %g", r.align90, r.kernel10)
    .. (predictors and string.format("; rel_err final %g, initial %g", predictors.final_ntk.rel_err,
      predictors.initial_ntk.rel_err) or "")
  return out
end

-- ---------------------------------------------------------------------------------------------
-- Eq. 2: the path-kernel predictor, integrated from recorded kernel snapshots.
-- ---------------------------------------------------------------------------------------------

-- Solves K x = b for symmetric positive definite K (Cholesky, plain Lua). Returns x, or nil, msg.
local function spd_solve(K, b)
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

local function matvec(A, v, out)
  for i = 1, #A do
    local Ai, s = A[i], 0
    for j = 1, #v do s = s + Ai[j] * v[j] end
    out[i] = s
  end
  return out
end

local function frobenius(A)
  local s = 0
  for i = 1, #A do for j = 1, #A[i] do s = s + A[i][j] * A[i][j] end end
  return sqrt(s)
end

-- The RK4 step rule, shared by both paths: an interval [t_a, t_b] between snapshots gets
-- n = ceil((t_b - t_a) (eta/P) max(|K_a|_F, |K_b|_F) / step) steps, so that h (eta/P) lambda_max
-- <= step on every interpolated kernel (|K|_F bounds lambda_max of a symmetric K from above, and
-- lambda_max of (1-w) K_a + w K_b is at most the larger of the two ends' for PSD kernels).
-- RK4 is stable on a decaying mode while h lambda <= 2.78 (its real stability boundary), so
-- step may be at most STEP_MAX = 2.5. The default 0.25 is also accurate on the stiffest mode
-- (amplification error below 1e-5 per step, while that mode decays by e^-0.25); larger steps
-- stay accurate on the slow modes, which carry the late-time residual, because the fast ones
-- have decayed long before (measured on the MNIST demo: see experiments/silent_alignment.lua).
local PATH_STEP, PATH_STEP_MAX = 0.25, 2.5

local function path_options(opts, f)
  opts = opts or {}
  check.table(opts, 5, f)
  local eta = opts.eta or 1
  if type(eta) ~= "number" or not (eta > 0 and eta < math.huge) then
    check.fail(5, f, "field 'eta': positive number expected, got " .. tostring(eta))
  end
  local max_steps = opts.max_steps or 1e6
  if type(max_steps) ~= "number" or not (max_steps >= 1) then
    check.fail(5, f, "field 'max_steps': number >= 1 expected, got " .. tostring(max_steps))
  end
  if opts.tail ~= nil and type(opts.tail) ~= "boolean" then
    check.fail(5, f, "field 'tail': boolean expected, got " .. check.typename(opts.tail))
  end
  local step = opts.step or PATH_STEP
  if type(step) ~= "number" or not (step > 0 and step <= PATH_STEP_MAX) then
    check.fail(5, f, string.format("field 'step': number in (0, %g] expected, got %s", PATH_STEP_MAX,
      tostring(step)))
  end
  return eta, max_steps, opts.tail, step
end

local function path_steps(span, c, norm_a, norm_b, step)
  return math.max(1, math.ceil(span * c * math.max(norm_a, norm_b) / step))
end

local function check_snapshot_times(snapshots, f)
  local prev
  for i, s in ipairs(snapshots) do
    if type(s) ~= "table" then check.fail(1, f, string.format("snapshot %d: table expected, got %s", i, check.typename(s))) end
    if type(s.t) ~= "number" or s.t ~= s.t then check.fail(1, f, string.format("snapshot %d: t (number) expected", i)) end
    if i == 1 and s.t ~= 0 then check.fail(1, f, string.format("the first snapshot must be at t = 0, got %g", s.t)) end
    if i > 1 and not (s.t > prev) then
      check.fail(1, f, string.format("snapshot times must ascend strictly (snapshot %d at %g)", i, s.t))
    end
    prev = s.t
  end
end

local function tensor_module()
  local core = package.loaded["ntklab.core"]
  return core, core and core.metatable("tensor")
end

-- Every snapshot's K and k are ntklab tensors: the path that runs at BLAS speed.
local function all_tensor_snapshots(snapshots)
  local core, mt = tensor_module()
  if not core then return false end
  for _, s in ipairs(snapshots) do
    if type(s) ~= "table" or getmetatable(s.K) ~= mt or getmetatable(s.k) ~= mt then return false end
  end
  return true
end

local function shape_of(t)
  if t:dim() == 1 then return string.format("[%d]", t:size(1)) end
  return string.format("[%d x %d]", t:size(1), t:size(2))
end

-- A tensor (1-D, or 2-D [rows x C]) or array argument as a contiguous [rows x C] tensor;
-- rows = nil and C = nil take the argument's own. Returns the tensor, rows and C.
local function outputs_arg(core, v, n, f, what, rows, C)
  if getmetatable(v) ~= core.metatable("tensor") then
    v = core.tensor(check.vector(v, n, f, what))
  elseif not v:all_finite() then
    check.fail(n, f, what .. ": finite entries expected")
  end
  local r, c = v:size(1), v:dim() == 2 and v:size(2) or 1
  if (rows and r ~= rows) or (C and c ~= C) then
    check.fail(n, f, string.format("%s: [%d x %d] expected, got %s", what, rows or r, C or c, shape_of(v)))
  end
  return v:contiguous():reshape(r, c), r, c
end

-- The tensor path of path_kernel_predictor (same ODE, same steps). The test outputs obey
-- dg/dt = -c k(t) D with k linear between snapshots a and b, so over one interval
-- g += -c (k_a int (1-w) D dt + k_b int w D dt): the two integrals are accumulated by RK4's
-- own quadrature (the stages' D and weights, exactly the terms the table path's g update sums)
-- and multiplied by k_a, k_b once per interval instead of at every stage.
local function path_kernel_tensor(snapshots, y, f0_train, f0_test, opts, f)
  local core = tensor_module()
  local mt = core.metatable("tensor")
  local ydim = getmetatable(y) == mt and y:dim() or 1
  local Y, P, C = outputs_arg(core, y, 2, f, "targets")
  local F0 = outputs_arg(core, f0_train, 3, f, "initial train outputs", P, C)
  local G, M = outputs_arg(core, f0_test, 4, f, "initial test outputs", nil, C)
  G = G:clone()
  local eta, max_steps, tail, step = path_options(opts, f)
  check_snapshot_times(snapshots, f)
  local snaps = {}
  for i, s in ipairs(snapshots) do
    local K, k = s.K, s.k
    if K:dim() ~= 2 or K:size(1) ~= P or K:size(2) ~= P then
      check.fail(1, f, string.format("snapshot %d: K is %s, [%d x %d] expected", i, shape_of(K), P, P))
    end
    if k:dim() ~= 2 or k:size(1) ~= M or k:size(2) ~= P then
      check.fail(1, f, string.format("snapshot %d: k is %s, [%d x %d] expected", i, shape_of(k), M, P))
    end
    snaps[i] = {t = s.t, K = K, k = k, norm = K:norm()}
  end
  local c = eta / P
  local total = 0
  for s = 1, #snaps - 1 do
    total = total + path_steps(snaps[s + 1].t - snaps[s].t, c, snaps[s].norm, snaps[s + 1].norm, step)
    if total > max_steps then
      return nil, string.format("path_kernel_predictor: more than %d steps needed (interval %d)", max_steps, s)
    end
  end

  -- every buffer allocated once; C = 1 runs on 1-D vectors (gemv), C > 1 on [P x C] (gemm)
  local function buf(rows) return C == 1 and core.zeros(rows) or core.zeros(rows, C) end
  local D = buf(P)
  D:copy_(C == 1 and F0:reshape(P) or F0):axpy_(-1, C == 1 and Y:reshape(P) or Y)
  local g = C == 1 and G:reshape(M) or G
  local R, KbR, Ua, Ub, gk = buf(P), buf(P), buf(P), buf(P), buf(M)
  local dD = {buf(P), buf(P), buf(P), buf(P)}
  local function deriv(a, b, w, Rs, out)
    core.matmul(a.K, Rs, out)
    core.matmul(b.K, Rs, KbR)
    out:mul_(-c * (1 - w)):axpy_(-c * w, KbR)
  end
  local steps = 0
  for s = 1, #snaps - 1 do
    local a, b = snaps[s], snaps[s + 1]
    local span = b.t - a.t
    local n = path_steps(span, c, a.norm, b.norm, step)
    local h = span / n
    Ua:zero_()
    Ub:zero_()
    for st = 0, n - 1 do
      local w0, wh, w1 = st / n, (st + 0.5) / n, (st + 1) / n
      -- quadrature of int (1-w) D dt and int w D dt with the stage values, before D moves
      Ua:axpy_(h / 6 * (1 - w0), D)
      Ub:axpy_(h / 6 * w0, D)
      deriv(a, b, w0, D, dD[1])
      R:copy_(D):axpy_(0.5 * h, dD[1])
      Ua:axpy_(h / 3 * (1 - wh), R)
      Ub:axpy_(h / 3 * wh, R)
      deriv(a, b, wh, R, dD[2])
      R:copy_(D):axpy_(0.5 * h, dD[2])
      Ua:axpy_(h / 3 * (1 - wh), R)
      Ub:axpy_(h / 3 * wh, R)
      deriv(a, b, wh, R, dD[3])
      R:copy_(D):axpy_(h, dD[3])
      Ua:axpy_(h / 6 * (1 - w1), R)
      Ub:axpy_(h / 6 * w1, R)
      deriv(a, b, w1, R, dD[4])
      D:axpy_(h / 6, dD[1]):axpy_(h / 3, dD[2]):axpy_(h / 3, dD[3]):axpy_(h / 6, dD[4])
    end
    core.matmul(a.k, Ua, gk)
    g:axpy_(-c, gk)
    core.matmul(b.k, Ub, gk)
    g:axpy_(-c, gk)
    steps = steps + n
  end
  if tail then
    local last = snaps[#snaps]
    local x, msg = core.linalg.cholesky_solve(last.K, D)
    if not x then return nil, "path_kernel_predictor: tail: " .. tostring(msg) end
    core.matmul(last.k, x, gk)
    g:axpy_(-1, gk)
    D:zero_()
  end
  local train = D:axpy_(1, C == 1 and Y:reshape(P) or Y)
  if ydim == 1 and C == 1 then return {test = g, train = train, steps = steps} end
  return {test = g:reshape(M, C), train = train:reshape(P, C), steps = steps}
end

--- The path-kernel predictor of Eq. 2, for a net trained by gradient flow with the loss
-- 1/(2P) sum (f - y)^2 and learning rate eta: on the training set the residual D = f - y obeys
-- dD/dt = -(eta/P) K(t) D, and a test point follows df(x)/dt = -(eta/P) k_t(x)^T D(t). Given
-- the kernel snapshots, this integrates both with K(t), k(t) linear in t between snapshots
-- (RK4, with the step rule above). When K(t) commutes with its integral this is
-- f_0(x) + int_0^T k_t(x)^T exp(-int_0^t K) (y - f_0) dt, Eq. 2 cut at T; otherwise it is the
-- time-ordered version, which is what the net does.
--   snapshots: ascending {t = number, K = P x P train NTK, k = M x P test-train NTK}, the first
--              at t = 0 (arrays of rows or 2-D tensors);
--   y, f0_train (P), f0_test (M): targets and the net's outputs at t = 0;
--   opts.eta (default 1); opts.tail (default false): add the t -> infinity remainder with the
--   kernel frozen at the last snapshot, -k_T^T K_T^{-1} D(T) (then a single snapshot at t = 0 is
--   kernel regression with K(0)); opts.max_steps (default 1e6) bounds the work; opts.step
--   (default 0.25, at most 2.5) bounds h (eta/P) |K|_F per RK4 step.
-- Two paths, same steps and same results up to rounding:
--   * every snapshot's K and k an ntklab tensor: BLAS matrix-vector products into preallocated
--     buffers, O(P^2) per RK4 stage and O(M P) per snapshot interval. y, f0_train, f0_test may
--     be 1-D tensors (or arrays), or [P x C], [P x C], [M x C] tensors for C outputs: each
--     output column then follows the same scalar kernel (exact when the net's NTK is
--     block-diagonal with equal blocks, e.g. the traced kernel of an output-isotropic net; for
--     other nets it is the traced-kernel approximation). test and train are returned as tensors
--     of y's dimension (1-D for 1-D y, [M x C] and [P x C] for 2-D y);
--   * otherwise plain Lua over tables (tensors are converted): O(P^2 + M P) per RK4 stage,
--     the reference for small P; single output only, test and train returned as arrays.
-- Returns {test = ..., train = ..., steps = n}, or nil, msg (a kernel that is not positive
-- definite for the tail, more than max_steps steps).
function analysis.path_kernel_predictor(snapshots, y, f0_train, f0_test, opts)
  local f = "analysis.path_kernel_predictor"
  check.table(snapshots, 1, f)
  if #snapshots == 0 then check.fail(1, f, "non-empty array of snapshots expected") end
  if all_tensor_snapshots(snapshots) then
    return path_kernel_tensor(snapshots, y, f0_train, f0_test, opts, f)
  end
  local yt = check.vector(y, 2, f, "targets")
  local P = #yt
  local ftr = check.vector(f0_train, 3, f, "initial train outputs")
  if #ftr ~= P then check.fail(3, f, string.format("%d entries expected (as y), got %d", P, #ftr)) end
  local fte = check.vector(f0_test, 4, f, "initial test outputs")
  local M = #fte
  local eta, max_steps, tail, step = path_options(opts, f)
  local snaps = {}
  for i, s in ipairs(snapshots) do
    if type(s) ~= "table" then check.fail(1, f, string.format("snapshot %d: table expected, got %s", i, check.typename(s))) end
    if type(s.t) ~= "number" or s.t ~= s.t then check.fail(1, f, string.format("snapshot %d: t (number) expected", i)) end
    if i == 1 and s.t ~= 0 then check.fail(1, f, string.format("the first snapshot must be at t = 0, got %g", s.t)) end
    if i > 1 and not (s.t > snaps[i - 1].t) then
      check.fail(1, f, string.format("snapshot times must ascend strictly (snapshot %d at %g)", i, s.t))
    end
    local okK, K, rK, cK = pcall(check.matrix, s.K, 1, f, "K")
    if not okK then check.fail(1, f, string.format("snapshot %d: K: %s", i, K:match("%((.*)%)$") or K)) end
    if rK ~= P or cK ~= P then
      check.fail(1, f, string.format("snapshot %d: K is [%d x %d], [%d x %d] expected", i, rK, cK, P, P))
    end
    local okk, k, rk, ck = pcall(check.matrix, s.k, 1, f, "k")
    if not okk then check.fail(1, f, string.format("snapshot %d: k: %s", i, k:match("%((.*)%)$") or k)) end
    if rk ~= M or ck ~= P then
      check.fail(1, f, string.format("snapshot %d: k is [%d x %d], [%d x %d] expected", i, rk, ck, M, P))
    end
    snaps[i] = {t = s.t, K = K, k = k, norm = frobenius(K)}
  end

  local D, g = {}, {}
  for i = 1, P do D[i] = ftr[i] - yt[i] end
  for i = 1, M do g[i] = fte[i] end
  local c = eta / P
  -- scratch vectors, allocated once
  local KaD, KbD, kaD, kbD = {}, {}, {}, {}
  local dD = {{}, {}, {}, {}}
  local dg = {{}, {}, {}, {}}
  local Dstage = {}
  -- derivative at weight w in [0, 1] between snapshots a and b, for residual R
  local function deriv(a, b, w, R, outD, outg)
    matvec(a.K, R, KaD)
    matvec(b.K, R, KbD)
    matvec(a.k, R, kaD)
    matvec(b.k, R, kbD)
    for i = 1, P do outD[i] = -c * ((1 - w) * KaD[i] + w * KbD[i]) end
    for i = 1, M do outg[i] = -c * ((1 - w) * kaD[i] + w * kbD[i]) end
  end
  local steps = 0
  for s = 1, #snaps - 1 do
    local a, b = snaps[s], snaps[s + 1]
    local span = b.t - a.t
    local n = path_steps(span, c, a.norm, b.norm, step)
    if steps + n > max_steps then
      return nil, string.format("path_kernel_predictor: more than %d steps needed (%d in interval %d)",
        max_steps, n, s)
    end
    local h = span / n
    for step = 0, n - 1 do
      local w0 = step / n
      local wh = (step + 0.5) / n
      local w1 = (step + 1) / n
      deriv(a, b, w0, D, dD[1], dg[1])
      for i = 1, P do Dstage[i] = D[i] + 0.5 * h * dD[1][i] end
      deriv(a, b, wh, Dstage, dD[2], dg[2])
      for i = 1, P do Dstage[i] = D[i] + 0.5 * h * dD[2][i] end
      deriv(a, b, wh, Dstage, dD[3], dg[3])
      for i = 1, P do Dstage[i] = D[i] + h * dD[3][i] end
      deriv(a, b, w1, Dstage, dD[4], dg[4])
      for i = 1, P do D[i] = D[i] + h / 6 * (dD[1][i] + 2 * dD[2][i] + 2 * dD[3][i] + dD[4][i]) end
      for i = 1, M do g[i] = g[i] + h / 6 * (dg[1][i] + 2 * dg[2][i] + 2 * dg[3][i] + dg[4][i]) end
    end
    steps = steps + n
  end
  if tail then
    local last = snaps[#snaps]
    local x, msg = spd_solve(last.K, D)
    if not x then return nil, "path_kernel_predictor: tail: " .. msg end
    matvec(last.k, x, kaD)
    for i = 1, M do g[i] = g[i] - kaD[i] end
    for i = 1, P do D[i] = 0 end
  end
  local train = {}
  for i = 1, P do train[i] = yt[i] + D[i] end
  return {test = g, train = train, steps = steps}
end

return analysis
