--- ntklab.linearized: the linearized model f(x; theta_0) + grad f(x; theta_0) (theta - theta_0)
-- under gradient flow, at any time t (neural-tangents' gradient_descent_mse), and its
-- recorded-kernel twin for a trained trajectory (Eq. 2 cut at intermediate times).
--
-- Convention (as every ntklab trainer): loss 1/(2P) sum_mu |f(x_mu) - y_mu|^2, gradient flow
-- with learning rate eta, so the training residual D = f - y obeys dD/dt = -(eta/P) K D and a
-- test output df(x)/dt = -(eta/P) k(x)^T D. With a frozen kernel K = V diag(lambda) V^T:
--   f_t(X)  = y + V e^{-c lambda t} V^T (f_0(X) - y),                       c = eta/P
--   f_t(x)  = f_0(x) + k(x)^T V diag(g_t) V^T (y - f_0(X)),  g_t = (1 - e^{-c lambda t})/lambda,
-- which is f_0 + K_x K^{-1}(I - e^{-cKt})(y - f_0). g_t -> c t as lambda -> 0, so a singular K
-- needs no pseudo-inverse at finite t; at t = math.huge g = 1/lambda above the cutoff
-- rcond * lambda_max (kernel regression's ridgeless limit) and 0 below it.
-- (neural-tangents writes e^{-eta K t} with a mean-squared loss over all P C entries: pass
-- eta = P there, or eta = P C for C outputs, to reproduce its times.)
local check = require "ntklab.argcheck"
check.register()

local linearized = {}

-- Eigenvalues at or below this are the kernel's null space (zero, or negative from rounding):
-- clamping them here makes -expm1(-c lambda t)/lambda evaluate to its limit c t in double
-- (c lambda t stays far above the subnormal range for any t > 1e-90).
local NULL_EIGENVALUE = 1e-200
-- Relative eigenvalue cutoff of the t = infinity limit: ntk_regress's NTK_REGRESS_RCOND.
local RCOND = 1e-10

local function core()
  return require "ntklab.core"
end

local function is_tensor(v)
  local c = core()
  return getmetatable(v) == c.metatable("tensor")
end

local function shape(t)
  if t:dim() == 1 then return ("[%d]"):format(t:size(1)) end
  return ("[%d x %d]"):format(t:size(1), t:size(2))
end

-- A tensor argument (or an array, converted), finite, 1-D or 2-D.
local function tensor_arg(v, n, f, what)
  local c = core()
  if not is_tensor(v) then
    if type(v) ~= "table" then
      check.fail(n, f, ("%s: tensor or table expected, got %s"):format(what, check.typename(v)))
    end
    local ok, t = pcall(c.tensor, v)
    if not ok then check.fail(n, f, ("%s: numbers expected (%s)"):format(what, tostring(t):gsub("^.-%((.*)%)$", "%1"))) end
    v = t
  end
  if v:dim() < 1 or v:dim() > 2 then
    check.fail(n, f, ("%s: 1-D or 2-D tensor expected, got %d-D"):format(what, v:dim()))
  end
  if not v:all_finite() then check.fail(n, f, what .. ": finite entries expected") end
  return v
end

-- Outputs as a contiguous [rows x C] copy; checks rows (and C when given).
local function outputs(v, n, f, what, rows, C)
  v = tensor_arg(v, n, f, what)
  local r, cols = v:size(1), v:dim() == 2 and v:size(2) or 1
  if (rows and r ~= rows) or (C and cols ~= C) then
    check.fail(n, f, ("%s: [%d x %d] expected, got %s"):format(what, rows or r, C or cols, shape(v)))
  end
  return v:contiguous():reshape(r, cols):clone(), r, cols
end

local function positive_opt(opts, key, default, n, f)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "number" or not (v > 0 and v < math.huge) then
    check.fail(n, f, ("field '%s': positive finite number expected, got %s"):format(key, tostring(v)))
  end
  return v
end

local PREDICTOR_KEYS = {K = true, y = true, f0 = true, Kx = true, f0_test = true, eta = true, rcond = true}

local Predictor = {}
Predictor.__index = Predictor
Predictor.__name = "ntklab.linearized.predictor"

--- linearized.predictor{K, y [, f0] [, Kx, f0_test] [, eta] [, rcond]}: the frozen-kernel
-- (linearized) model at any t, from one eigendecomposition of K.
--   K: P x P train kernel (symmetric PSD); y: targets, [P] or [P x C];
--   f0: outputs at t = 0 on the train set (default zeros), the shape of y;
--   Kx: M x P test-train kernel, f0_test: test outputs at t = 0 (default zeros, [M] or [M x C]);
--   eta: learning rate (default 1); rcond: the t = infinity cutoff (default 1e-10).
-- For C outputs every output column follows the same scalar kernel (the "mean" layout of an
-- output-isotropic NTK, as ntklab.pathkernel.predictor).
-- Returns an object: p:train(t [, out]), p:test(t [, out]) (tensors shaped like y / f0_test;
-- out, when given, is filled and returned: nothing is allocated per call then) and
-- p:trajectory(times) -> {train = {...}, test = {...}}, one tensor per time. p.eigenvalues
-- (ascending, a tensor) and p.rate = eta/P are exposed.
function linearized.predictor(opts)
  local f = "linearized.predictor"
  check.table(opts, 1, f)
  check.options(opts, 1, f, PREDICTOR_KEYS)
  local c = core()
  if opts.K == nil then check.fail(1, f, "field 'K': tensor expected, got nil") end
  local K = tensor_arg(opts.K, 1, f, "field 'K'")
  if K:dim() ~= 2 or K:size(1) ~= K:size(2) then
    check.fail(1, f, "field 'K': square matrix expected, got " .. shape(K))
  end
  local P = K:size(1)
  if opts.y == nil then check.fail(1, f, "field 'y': tensor expected, got nil") end
  local y, _, C = outputs(opts.y, 1, f, "field 'y'", P)
  local ydim = is_tensor(opts.y) and opts.y:dim() or (type(opts.y[1]) == "table" and 2 or 1)
  local f0 = opts.f0 and outputs(opts.f0, 1, f, "field 'f0'", P, C) or c.zeros(P, C)
  local eta = positive_opt(opts, "eta", 1, 1, f)
  local rcond = opts.rcond == nil and RCOND or opts.rcond
  if type(rcond) ~= "number" or not (rcond >= 0 and rcond < 1) then
    check.fail(1, f, "field 'rcond': number in [0, 1) expected, got " .. tostring(rcond))
  end
  local Kx, M, f0x
  if opts.Kx ~= nil then
    Kx = tensor_arg(opts.Kx, 1, f, "field 'Kx'")
    if Kx:dim() ~= 2 or Kx:size(2) ~= P then
      check.fail(1, f, ("field 'Kx': [M x %d] expected, got %s"):format(P, shape(Kx)))
    end
    M = Kx:size(1)
    f0x = opts.f0_test and outputs(opts.f0_test, 1, f, "field 'f0_test'", M, C) or c.zeros(M, C)
  elseif opts.f0_test ~= nil then
    check.fail(1, f, "field 'f0_test' given without 'Kx'")
  end

  local w, V = c.linalg.eigh(K)
  if not w then error(("%s: eigendecomposition failed: %s"):format(f, tostring(V)), 2) end
  local lam_max = math.max(math.abs(w:get(1)), math.abs(w:get(P)))
  local self = setmetatable({rate = eta / P, eigenvalues = w, P = P, C = C, M = M,
    vector = ydim == 1 and C == 1}, Predictor)
  self.y, self.f0x, self.V = y, f0x, V
  self.lam = w:clamp(NULL_EIGENVALUE):reshape(P, 1)            -- [P x 1], broadcast over C
  self.a = c.matmul(V:t(), f0 - y)                             -- V^T (f0 - y), [P x C]
  self.B = Kx and c.matmul(Kx, V) or nil                       -- k(x)^T V, [M x P]
  -- t = infinity: 1/lambda above the cutoff, 0 below (and for the clamped null space)
  self.inv = c.where(w:gt(rcond * lam_max):reshape(P, 1), self.lam:reciprocal(), 0)
  self.fac, self.tmp = c.zeros(P, 1), c.zeros(P, C)            -- per-call buffers
  return self
end

local function check_time(t, f)
  if type(t) ~= "number" or not (t >= 0) then
    check.fail(1, f, "time: non-negative number (or math.huge) expected, got " .. tostring(t))
  end
end

local function check_self(self, f)
  if getmetatable(self) ~= Predictor then
    error(("calling '%s' on bad self (linearized predictor expected, got %s)"):format(f, check.typename(self)), 3)
  end
end

local function check_out(out, rows, C, f, vector)
  if out == nil then return nil end
  if not is_tensor(out) or out:numel() ~= rows * C or not out:is_contiguous() then
    check.fail(2, f, ("out: contiguous tensor of %d entries expected, got %s"):format(rows * C,
      is_tensor(out) and shape(out) or check.typename(out)))
  end
  return out:reshape(rows, C), vector and out:dim() or nil
end

local function shaped(self, T, rows)
  if self.vector then return T:reshape(rows) end
  return T
end

--- f_t on the training set: y + V e^{-c lambda t} V^T (f0 - y).
function Predictor:train(t, out)
  local f = "train"
  check_self(self, f)
  check_time(t, f)
  local c = core()
  local dst = check_out(out, self.P, self.C, f) or c.zeros(self.P, self.C)
  if t == math.huge then
    dst:copy_(self.y)
  else
    self.fac:copy_(self.lam):mul_(-self.rate * t):exp_()
    self.tmp:copy_(self.a):mul_(self.fac)
    dst:copy_(self.y)
    c.gemm(dst, 1, self.V, self.tmp, 1)
  end
  if out then return out end
  return shaped(self, dst, self.P)
end

--- f_t on the test points: f0_test - k^T V diag(g_t) V^T (f0 - y), g_t = -expm1(-c lambda t)/lambda.
function Predictor:test(t, out)
  local f = "test"
  check_self(self, f)
  check_time(t, f)
  if not self.B then error("linearized predictor: no test kernel (pass Kx to linearized.predictor)", 2) end
  local c = core()
  local dst = check_out(out, self.M, self.C, f) or c.zeros(self.M, self.C)
  if t == math.huge then
    self.fac:copy_(self.inv)
  else
    self.fac:copy_(self.lam):mul_(-self.rate * t):expm1_():div_(self.lam):neg_()
  end
  self.tmp:copy_(self.a):mul_(self.fac)
  dst:copy_(self.f0x)
  c.gemm(dst, -1, self.B, self.tmp, 1)
  if out then return out end
  return shaped(self, dst, self.M)
end

--- {train = {f_t1, ...}, test = {...}} at each of the times (an array of non-negative numbers).
function Predictor:trajectory(times)
  local f = "trajectory"
  check_self(self, f)
  if type(times) ~= "table" or #times == 0 then
    check.fail(1, f, "non-empty array of times expected, got " .. check.typename(times))
  end
  local out = {train = {}, test = self.B and {} or nil}
  for i, t in ipairs(times) do
    if type(t) ~= "number" or not (t >= 0) then
      check.fail(1, f, ("time %d: non-negative number expected, got %s"):format(i, tostring(t)))
    end
    out.train[i] = self:train(t)
    if self.B then out.test[i] = self:test(t) end
  end
  return out
end

-- ---------------------------------------------------------------------------------------------
-- The recorded-kernel variant: Eq. 2's path kernel at intermediate times.
-- ---------------------------------------------------------------------------------------------

-- The snapshot linearly interpolated at time t inside [a.t, b.t] (the kernel path that
-- ntklab.pathkernel.predictor integrates), shifted by t0.
local function interpolate(a, b, t, t0)
  if t == a.t then return {t = t - t0, K = a.K, k = a.k} end
  if t == b.t then return {t = t - t0, K = b.K, k = b.k} end
  local w = (t - a.t) / (b.t - a.t)
  return {t = t - t0, K = a.K:clone():mul_(1 - w):axpy_(w, b.K), k = a.k:clone():mul_(1 - w):axpy_(w, b.k)}
end

--- linearized.path(snapshots, y, f0_train, f0_test, times [, opts]): the path-kernel predictor
-- of Eq. 2 (ntklab.pathkernel.predictor: the residual and test outputs integrated with the
-- kernel linear in t between recorded snapshots) read out at each of `times` (ascending, within
-- [0, last snapshot's t]) in one pass: the flow is integrated segment by segment between
-- consecutive times, each continuing from the previous one's outputs.
--   snapshots: {t, K (P x P), k (M x P)} with 2-D tensors, the first at t = 0 (as the recorder
--   keeps them with keep_snapshots = true); y, f0_train, f0_test: as for pathkernel.predictor;
--   opts: eta, step, max_steps (per segment), as there.
-- Returns {train = {...}, test = {...}} (one tensor per time), or nil, msg.
function linearized.path(snapshots, y, f0_train, f0_test, times, opts)
  local f = "linearized.path"
  check.table(snapshots, 1, f)
  if #snapshots == 0 then check.fail(1, f, "non-empty array of snapshots expected") end
  for i, s in ipairs(snapshots) do
    if type(s) ~= "table" or not is_tensor(s.K) or not is_tensor(s.k) or type(s.t) ~= "number" then
      check.fail(1, f, ("snapshot %d: {t = number, K = tensor, k = tensor} expected"):format(i))
    end
  end
  if type(times) ~= "table" or #times == 0 then
    check.fail(5, f, "non-empty array of times expected, got " .. check.typename(times))
  end
  local last = snapshots[#snapshots].t
  for i, t in ipairs(times) do
    if type(t) ~= "number" or not (t >= 0 and t <= last) then
      check.fail(5, f, ("time %d: number in [0, %g] (the snapshots' span) expected, got %s"):format(i, last, tostring(t)))
    end
    if i > 1 and t < times[i - 1] then
      check.fail(5, f, ("ascending times expected, time %d (%g) < time %d (%g)"):format(i, t, i - 1, times[i - 1]))
    end
  end
  if opts ~= nil then check.table(opts, 6, f) end
  local pk = require("ntklab.pathkernel").predictor
  local out = {train = {}, test = {}}
  local train, test = f0_train, f0_test
  local t0, j = 0, 1 -- j: the snapshot interval [j, j + 1] holding t0
  for i, t in ipairs(times) do
    if t == t0 then
      local first = pk({snapshots[1]}, y, train, test, opts) -- zero-length: checks, copies
      if not first then return nil, "linearized.path: bad snapshots" end
      train, test = first.train, first.test
    else
      while snapshots[j + 1] and snapshots[j + 1].t <= t0 do j = j + 1 end
      local seg = {interpolate(snapshots[j], snapshots[j + 1] or snapshots[j], t0, t0)}
      local k = j + 1
      while snapshots[k] and snapshots[k].t < t do
        seg[#seg + 1] = {t = snapshots[k].t - t0, K = snapshots[k].K, k = snapshots[k].k}
        k = k + 1
      end
      seg[#seg + 1] = interpolate(snapshots[k - 1], snapshots[k], t, t0)
      local r, msg = pk(seg, y, train, test, opts)
      if not r then return nil, msg end
      train, test = r.train, r.test
    end
    out.train[i], out.test[i] = train, test
    t0 = t
  end
  return out
end

return linearized
