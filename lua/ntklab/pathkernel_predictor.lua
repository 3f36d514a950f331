--- ntklab.pathkernel_predictor: the Eq. 2 path-kernel predictor, integrated from kernel
-- snapshots: two integrators of one ODE, over tensors (BLAS, the one that runs at the demo's
-- sizes) and over plain Lua tables (the reference for small P). Internal: users call
-- ntklab.pathkernel.predictor (or its older name ntklab.analysis.path_kernel_predictor), which
-- pass their own name for the error messages; ntklab.pathkernel's observer drives it during
-- training. Misuse raises "bad argument #n to '<name>' (...)"; a run that cannot be done (too
-- many steps, a tail kernel that is not positive definite) returns nil, msg.
local check = require "ntklab.argcheck"
check.register()

local predictor = {}

local sqrt = math.sqrt

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

-- The options table (argument n, default 5; `word` names its keys, default "field"): returns
-- eta, max_steps, tail, step, or raises.
local function path_options(opts, f, n, word)
  n, word = n or 5, word or "field"
  opts = opts or {}
  check.table(opts, n, f)
  local eta = opts.eta or 1
  if type(eta) ~= "number" or not (eta > 0 and eta < math.huge) then
    check.fail(n, f, word .. " 'eta': positive number expected, got " .. tostring(eta))
  end
  local max_steps = opts.max_steps or 1e6
  if type(max_steps) ~= "number" or not (max_steps >= 1) then
    check.fail(n, f, word .. " 'max_steps': number >= 1 expected, got " .. tostring(max_steps))
  end
  if opts.tail ~= nil and type(opts.tail) ~= "boolean" then
    check.fail(n, f, word .. " 'tail': boolean expected, got " .. check.typename(opts.tail))
  end
  local step = opts.step or PATH_STEP
  if type(step) ~= "number" or not (step > 0 and step <= PATH_STEP_MAX) then
    check.fail(n, f, string.format(word .. " 'step': number in (0, %g] expected, got %s", PATH_STEP_MAX,
      tostring(step)))
  end
  return eta, max_steps, opts.tail, step
end

-- Interval s of the snapshots: its two ends a, b, its RK4 step count n (the rule above) and
-- step size h.
local function interval(snaps, s, c, step)
  local a, b = snaps[s], snaps[s + 1]
  local span = b.t - a.t
  local n = math.max(1, math.ceil(span * c * math.max(a.norm, b.norm) / step))
  return a, b, n, span / n
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
    local _, _, n = interval(snaps, s, c, step)
    total = total + n
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
    local a, b, n, h = interval(snaps, s, c, step)
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

--- predictor.predict(f, snapshots, y, f0_train, f0_test [, opts]): ntklab.pathkernel.predictor
-- (documented there), reporting misuse as function f. The tensor path when every snapshot's K
-- and k are ntklab tensors, else the plain-Lua one; the same RK4 steps either way.
function predictor.predict(f, snapshots, y, f0_train, f0_test, opts)
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
  check_snapshot_times(snapshots, f)
  local snaps = {}
  for i, s in ipairs(snapshots) do
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
    local a, b, n, h = interval(snaps, s, c, step)
    if steps + n > max_steps then
      return nil, string.format("path_kernel_predictor: more than %d steps needed (%d in interval %d)",
        max_steps, n, s)
    end
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
    -- the C Cholesky (spec/support/kernel_reference.lua keeps a plain-Lua twin for specs)
    local core = require "ntklab.core"
    local xt, msg = core.linalg.cholesky_solve(core.tensor(last.K), core.tensor(D))
    if not xt then return nil, "path_kernel_predictor: tail: " .. tostring(msg) end
    matvec(last.k, xt:totable(), kaD)
    for i = 1, M do g[i] = g[i] - kaD[i] end
    for i = 1, P do D[i] = 0 end
  end
  local train = {}
  for i = 1, P do train[i] = yt[i] + D[i] end
  return {test = g, train = train, steps = steps}
end

--- predictor.options(opts, f, n, word): checks a predictor options table given as argument n of
-- f, naming its keys "<word> 'key'"; returns eta, max_steps, tail, step.
predictor.options = path_options

return predictor
