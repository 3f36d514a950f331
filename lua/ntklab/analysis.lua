--- ntklab.analysis: comparing predictors, kernel alignment, and reading silent alignment off a
-- recorded trajectory (t_align90, t_dir90, t_kernel10, t_half, informative, verdict). The Eq. 2 path-kernel
-- predictor lives in ntklab.pathkernel (analysis.path_kernel_predictor is its older name).
-- Pure Lua over plain tables; vectors may also be objects with :totable() (ntklab tensors);
-- kernel_alignment calls the C engine. Misuse raises "bad argument #n to 'analysis.f' (...)";
-- a readout that does not exist for the data (the loss never halves, ...) is returned as
-- nil, msg.
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
-- NaN when |K|_F or |y| (centered: |H y|) is zero. Computed by the C ntklab.alignment (which
-- raises on those cases instead); spec/support/kernel_reference.lua keeps the plain-Lua twin
-- that the specs check both against.
function analysis.kernel_alignment(K, y, centered)
  local f = "analysis.kernel_alignment"
  local Kt, n, m = check.matrix(K, 1, f, "Gram matrix")
  if n ~= m then check.fail(1, f, string.format("square matrix expected, got [%d x %d]", n, m)) end
  local yt = check.vector(y, 2, f, "target vector")
  if #yt ~= n then check.fail(2, f, string.format("%d entries expected (as K), got %d", n, #yt)) end
  if centered ~= nil and type(centered) ~= "boolean" then
    check.fail(3, f, "boolean expected, got " .. check.typename(centered))
  end
  local zero_K, zero_y = true, true
  for i = 1, n do
    for j = 1, n do if Kt[i][j] ~= 0 then zero_K = false end end
    -- H y = 0 exactly when every entry equals the first (y_i - mean is 0 only for y_i = mean)
    if yt[i] ~= (centered and yt[1] or 0) then zero_y = false end
  end
  if zero_K or zero_y then return NAN end
  -- required here, not at load: this module loads without the C engine (spec 46)
  local core = require "ntklab.core"
  return (core.alignment(core.tensor(Kt), core.tensor(yt), {centered = centered or false}))
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

--- t_dir90: the first time after which the kernel's direction cosine c(t) (the trajectory's
-- `direction` column, c(t) = <K(t), K_end> / (|K(t)| |K_end|), ntklab.direction) has made frac
-- (default 0.9) of its way from c(0) to 1 and stays there: c(t) - c(0) >= frac (1 - c(0)) for
-- good. Interpolated like t_align90 (the crossing after the last record below). Returns the
-- time, or nil, msg when c(0) is already 1 (the direction never moves).
function analysis.t_dir90(traj, frac)
  local f = "analysis.t_dir90"
  local t, c
  t, c, frac = readout_args(f, traj, "direction", frac, 0.9)
  local c0 = c[1]
  if not (c0 < 1) then return nil, string.format("initial direction cosine %g: the direction never moves", c0) end
  local thr = c0 + frac * (1 - c0)
  for i = #c, 1, -1 do
    if c[i] < thr then
      if i == #c then return nil, string.format("direction cosine %g at the last record is below %g", c[i], thr) end
      return interpolate(t, c, i + 1, thr)
    end
  end
  return t[1]
end

-- When a timing readout says nothing (named constants of the issue's rule):
-- t_align90 is "not informative" when the alignment's total change |A_end - A_0| is below
-- ALIGN_CHANGE_MIN x A_end, or the alignment decreases (then t_align90 is t[1], trivially early);
-- t_dir90 when 1 - c(0) is below DIR_CHANGE_MIN (the kernel starts in its final direction: the
-- lazy regime, where there is no direction to learn).
local ALIGN_CHANGE_MIN = 0.1
local DIR_CHANGE_MIN = 0.01

--- analysis.informative(traj): {align90 = bool, dir90 = bool (only with a direction column),
-- reasons = {align90 = "...", dir90 = "..."}}: whether t_align90 and t_dir90 measure anything
-- on this trajectory (rules above; each reason states the numbers).
function analysis.informative(traj)
  local f = "analysis.informative"
  local _, a = arrays(traj, "alignment")
  if not _ then check.fail(1, f, a) end
  local out, reasons = {}, {}
  local a0, a1 = a[1], a[#a]
  if a1 < a0 then
    out.align90, reasons.align90 = false, string.format(
      "not informative: the alignment decreases (%.4g -> %.4g)", a0, a1)
  elseif not (math.abs(a1 - a0) >= ALIGN_CHANGE_MIN * a1) then
    out.align90, reasons.align90 = false, string.format(
      "not informative: the alignment changes by %.4g < %g x its final value %.4g", a1 - a0, ALIGN_CHANGE_MIN, a1)
  else
    out.align90, reasons.align90 = true, string.format(
      "informative: the alignment grows %.4g -> %.4g", a0, a1)
  end
  if traj.direction ~= nil then
    local _, c = arrays(traj, "direction")
    if not _ then check.fail(1, f, c) end
    local move = 1 - c[1]
    out.dir90 = move >= DIR_CHANGE_MIN
    reasons.dir90 = string.format("%s: 1 - c(0) = %.4g %s %g", out.dir90 and "informative" or "not informative",
      move, out.dir90 and ">=" or "<", DIR_CHANGE_MIN)
  end
  out.reasons = reasons
  return out
end

-- Checks that traj has the columns the readouts need.
local function check_trajectory(f, traj)
  for _, key in ipairs{"alignment", "kernel_norm", "loss"} do
    local t, msg = arrays(traj, key)
    if not t then check.fail(1, f, msg) end
  end
  if traj.direction ~= nil then
    local t, msg = arrays(traj, "direction")
    if not t then check.fail(1, f, msg) end
  end
end

--- All the readouts: {align90 = ..., kernel10 = ..., half_loss = ..., dir90 = ... (when the
-- trajectory has a `direction` column), informative = analysis.informative(traj),
-- messages = {...}} (a readout that does not exist is absent, with its message under the same
-- key in messages). The times are t_align90, t_kernel10, t_half and t_dir90.
function analysis.readouts(traj)
  check_trajectory("analysis.readouts", traj)
  local out, messages = {}, {}
  out.align90, messages.align90 = analysis.t_align90(traj)
  out.kernel10, messages.kernel10 = analysis.t_kernel10(traj)
  out.half_loss, messages.half_loss = analysis.t_half(traj)
  if traj.direction ~= nil then
    out.dir90, messages.dir90 = analysis.t_dir90(traj)
    if not out.dir90 then messages.dir90 = messages.dir90 or "missing" end
  end
  out.informative = analysis.informative(traj)
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
--   {silent = bool, rule = "<the rule, with its numbers>", reason = "<what decided it>",
--    timing = "direction" or "alignment", t_dir90, t_align90, t_kernel10}.
-- Rule (issue 19), when the direction was recorded (readouts with dir90 or messages.dir90):
-- the kernel's direction makes 90% of its way to its final one before |K|_F reaches 10% of its
-- final value (t_dir90 < t_kernel10); with predictors, also final_ntk.rel_err <= 0.1 and
-- initial_ntk.rel_err >= 3 final_ntk.rel_err. A missing t_dir90 (the direction never moves, or
-- is not final by the last record) fails the rule.
-- Without a direction column (older trajectories) the timing is the alignment's,
-- t_align90 < t_kernel10, which passes trivially when the alignment falls (issue 19): the
-- rule then says so.
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
  local by_direction = r.dir90 ~= nil or (type(r.messages) == "table" and r.messages.dir90 ~= nil)
  local key, name = "align90", "t_align90"
  local rule
  if by_direction then
    key, name = "dir90", "t_dir90"
    rule = "t_dir90 < t_kernel10 (the kernel's direction cosine c(t) = <K(t), K_end>/(|K(t)| |K_end|) "
      .. "makes 90% of its way from c(0) to 1 before |K|_F reaches 10% of its final value)"
  else
    rule = "t_align90 < t_kernel10 (alignment reaches 90% of its final value before |K|_F "
      .. "reaches 10% of its final value; no direction recorded: this timing passes trivially "
      .. "when the alignment falls)"
  end
  if predictors then
    rule = rule .. string.format(" and final_ntk.rel_err <= %g and initial_ntk.rel_err >= %g * final_ntk.rel_err",
      FINAL_REL_ERR_MAX, INITIAL_OVER_FINAL_MIN)
  end
  local out = {rule = rule, timing = by_direction and "direction" or "alignment", t_align90 = r.align90,
    t_dir90 = r.dir90, t_kernel10 = r.kernel10}
  if type(r[key]) ~= "number" or type(r.kernel10) ~= "number" then
    out.silent = false
    local msg = type(r.messages) == "table" and (r.messages[key] or r.messages.kernel10)
    out.reason = "a timing readout is missing" .. (msg and (": " .. msg) or "")
    return out
  end
  if not (r[key] < r.kernel10) then
    out.silent = false
    out.reason = string.format("%s = %g is not before t_kernel10 = %g", name, r[key], r.kernel10)
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
  out.reason = string.format("%s = %g < t_kernel10 = %g", name, r[key], r.kernel10)
    .. (predictors and string.format("; rel_err final %g, initial %g", predictors.final_ntk.rel_err,
      predictors.initial_ntk.rel_err) or "")
  return out
end

-- ---------------------------------------------------------------------------------------------
-- Eq. 2: the path-kernel predictor now lives in ntklab.pathkernel (with the observer that takes
-- its snapshots during training); this is its older name, kept for one release.
-- ---------------------------------------------------------------------------------------------

--- analysis.path_kernel_predictor(snapshots, y, f0_train, f0_test [, opts]): the same function
-- as ntklab.pathkernel.predictor (see there), reporting misuse under this name.
function analysis.path_kernel_predictor(snapshots, y, f0_train, f0_test, opts)
  -- required here, not at load: this module loads without the C engine (spec 46)
  return require("ntklab.pathkernel_predictor").predict("analysis.path_kernel_predictor",
    snapshots, y, f0_train, f0_test, opts)
end

return analysis
