--- ntklab.direction: the kernel's direction along a training run, and the early-kernel
-- predictor, as an observer of the recorder's points (issue 19).
--
--   local dir = require("ntklab.direction").new{X = X, y = y, X_test = Xt, predict_every = 4}
--   local rec = ntklab.recorder{times = ..., X = X, y = y, X_test = Xt, y_test = yt,
--                               observers = {dir}}
--   rec:run(trainer, net, {stop_loss = 1e-4})        -- dir:finish runs inside rec:finish
--   dir.trajectory.direction[i]                      -- c(t_i), see below
--   dir:predictor_at(t)                              -- the early-kernel predictor at a time
--
-- Direction cosines, for K the train NTK, each layer's share K_l, and k the test x train NTK:
--   c(t)         = <K(t), K_end>_F / (|K(t)|_F |K_end|_F)                    (column direction)
--   c_learned(t) = the same cosine for K(t) - K(0) against K_end - K(0)      (direction_learned)
-- with K_end the last record's kernel; columns layer<l>_direction(_learned) per layer at every
-- record. c_learned is NaN at t = 0, where the learned part is zero. The test x train kernel's
-- two cosines (test_direction, test_direction_learned) are taken at the predictor's records
-- only, in its rows (below): that kernel costs more than the train one (no cached input Gram
-- for the pair), and the predictor needs it there anyway.
--
-- Why a second pass over the nets, not over kernels: c(t) needs K_end, which exists only when
-- training ends, and keeping K(t) at every record until then is the P x P store per record that
-- the issue forbids (at P = 4000, 128 MB a record). The net at a record is much smaller: this
-- observer keeps each record's flat parameters (8 nparams bytes: 629 KB for the demo's net,
-- 63 MB for 100 records, against 8 MB per P x P kernel at P = 1000 and 128 MB at P = 4000)
-- and, at finish, recomputes each record's kernels from them into working buffers, taking the
-- inner products with the end and initial kernels. The recorder's own kernel is not reused: it
-- is overwritten at every record, before K_end is known. Same seed and build, same bits: the
-- recomputed kernels are those the recorder saw (spec 57 checks c against the recorder's
-- kernel_distance at the first record's reference).
--
-- Cost at finish: one train NTK (with layers; layers = false: without, and 5 P^2 passes) and
-- 5 (L + 1) P^2 passes per record, then a
-- train NTK, a test x train NTK and one kernel regression at each predictor record. Memory at
-- finish, in two passes so their peaks do not add up: first two kernels per kind (K(0) and
-- K_end - K(0), for the total and each layer) plus the L + 1 being processed; then the test
-- kernel's two (kept for predictor_at) and one train and one test kernel with the regression's
-- factors.
--
-- The early-kernel predictor (ridgeless kernel regression with the kernel of record i, fitted
-- on the residual at initialization, as the experiment's final-NTK predictor):
--   f_i(x) = f_0(x) + k_i(x)^T K_i^+ (y - f_0(X)),
-- compared with the trained net's test outputs (rel L2 error, corr) at every predict_every-th
-- record, the first and the last (dir.predictor, an array of {record, t, step, rel_err, corr,
-- method}); dir:predictor_at(t) adds the first record at or after t. At the first record it is
-- the initial-NTK predictor, at the last the final-NTK one.
--
-- The trajectory (dir.trajectory, columns dir.columns) has one row per record, in the
-- recorder's order, with t and step, to be merged with the recorder's (same t); with
-- stats = true also the kernel's |K|_F and alignments, for callers without a recorder.
local check = require "ntklab.argcheck"
check.register()
local core = require "ntklab.core"

local direction = {}
local Direction = {}
Direction.__index = Direction

local F = "direction.new"
local OPTIONS = {X = true, y = true, X_test = true, predict_every = true, layers = true, stats = true}
local NAN = 0 / 0

local function is_net(v) return getmetatable(v) == core.metatable("mlp") end

--- direction.new{X = [P x D], y = [P] or [P x 1], X_test = [M x D] (optional),
-- predict_every = 4 (0: only the first and last record; needs X_test), layers = true (false:
-- the total kernel's cosines only, no per-layer columns: each record's kernel costs one fused
-- NTK instead of L per-layer ones, 3-4x less for a deep MLP), stats = false (true: also the
-- columns kernel_norm, alignment, alignment_centered of ntklab.kernel_stats(K(t), y), read in
-- the same pass, for a caller that would otherwise compute every record's kernel twice)}: see
-- the module comment.
function direction.new(opts)
  check.table(opts, 1, F)
  check.options(opts, 1, F, OPTIONS)
  local X = check.option_tensor(opts, "X", 1, F, {2}, true)
  local P = X:size(1)
  local y = check.option_tensor(opts, "y", 1, F, {1, 2}, true)
  if not (y:dim() == 1 or (y:dim() == 2 and y:size(2) == 1)) or y:size(1) ~= P then
    check.fail(1, F, ("option 'y': [%d] or [%d x 1] expected (as X's rows), got %d-D with %d rows")
      :format(P, P, y:dim(), y:size(1)))
  end
  local X_test = check.option_tensor(opts, "X_test", 1, F, {2}, false)
  if X_test and X_test:size(2) ~= X:size(2) then
    check.fail(1, F, ("option 'X_test': %d columns expected (as X), got %d"):format(X:size(2), X_test:size(2)))
  end
  local every = opts.predict_every
  if every == nil then every = 4 end
  if math.type(every) ~= "integer" or every < 0 then
    check.fail(1, F, "option 'predict_every': integer >= 0 expected, got " .. tostring(every))
  end
  local layers = opts.layers
  if layers == nil then layers = true end
  if type(layers) ~= "boolean" then
    check.fail(1, F, "option 'layers': boolean expected, got " .. check.typename(layers))
  end
  local stats = opts.stats or false
  if type(stats) ~= "boolean" then
    check.fail(1, F, "option 'stats': boolean expected, got " .. check.typename(stats))
  end
  local dir = setmetatable({
    stats = stats,
    X = X, y = y:dim() == 2 and y:reshape(P) or y, X_test = X_test, predict_every = every, layers = layers,
    thetas = {}, t = {}, step = {}, trajectory = {}, columns = {}, predictor = {},
    workspace = core.kernel_workspace(), test_workspace = X_test and core.kernel_workspace() or nil,
    seconds = 0, finished = false,
  }, Direction)
  dir.observer = function(t, step, loss, net) dir:observe(t, step, loss, net) end
  return dir
end

--- dir:observe(t, step, loss, net [, K]): keeps the net's parameters at this point (K, the
-- recorder's kernel, is not needed). A point at the previous one's (t, step) is skipped.
function Direction:observe(t, step, loss, net)
  local f = "direction:observe"
  check.number(t, 1, f)
  check.number(step, 2, f)
  if not is_net(net) then check.fail(4, f, "mlp expected, got " .. check.typename(net)) end
  if self.finished then check.fail(1, f, "observe after finish") end
  local n = #self.t
  if n > 0 and t == self.t[n] and step == self.step[n] then return end
  if n > 0 and not (t > self.t[n]) then
    check.fail(1, f, ("time after the previous point %s expected, got %s"):format(tostring(self.t[n]), tostring(t)))
  end
  local started = core.clock()
  n = n + 1
  self.t[n], self.step[n], self.thetas[n] = t, step, net:get()
  if n == 1 then
    self.f0_train = net:forward(self.X):reshape(self.X:size(1))
    if self.X_test then self.f0_test = net:forward(self.X_test):reshape(self.X_test:size(1)) end
  end
  self.net = net
  self.seconds = self.seconds + (core.clock() - started)
end

local function flat(A) return A:reshape(A:size(1) * A:size(2)) end
local function dot(A, B) return flat(A):dot(flat(B)) end

-- The reference pair of one kind of kernel: K0 and D_end = K_end - K0, with the scalars the
-- cosines need. K0 and Kend are fresh tensors owned here (Kend becomes D_end in place).
local function reference(K0, Kend)
  local k00 = dot(K0, K0)
  local kee = dot(Kend, Kend)
  Kend:axpy_(-1, K0)
  return {K0 = K0, D = Kend, k00 = k00, kee = kee, d0 = dot(Kend, K0), dd = dot(Kend, Kend)}
end

-- The two cosines of kernel K against a reference; K is a working buffer, left holding K - K0.
-- The learned part is formed explicitly (not as |K|^2 - 2 <K, K0> + |K0|^2, which cancels to
-- rounding noise when K is near K0); its cosine is NaN where it is exactly zero (t = 0).
local function cosines(ref, K)
  local kk, k0, kd = dot(K, K), dot(K, ref.K0), dot(K, ref.D)
  local c = (kd + k0) / math.sqrt(kk * ref.kee) -- <K, K_end> = <K, K_end - K0> + <K, K0>
  K:axpy_(-1, ref.K0)
  local dd = dot(K, K)
  local cl = (dd > 0 and ref.dd > 0) and dot(K, ref.D) / math.sqrt(dd * ref.dd) or NAN
  return math.min(c, 1), cl
end

-- The kernels of the net with parameters theta: train K (out = K_out when given) and its
-- layers (lay_out: a table of one buffer per layer, nil for fresh tensors, false for none), and
-- with test = true the test x train k (out = k_out); test_only = true skips the train kernel.
function Direction:_kernels(net, theta, test, K_out, k_out, lay_out, test_only)
  net:set(theta)
  local K, lay
  if not test_only then
    local layers = lay_out
    if layers == nil then layers = true end
    if not self.layers then layers = false end
    K, lay = core.ntk(net, self.X, {workspace = self.workspace, out = K_out, layers = layers})
  end
  local k = test and self.X_test and core.ntk(net, self.X_test, self.X, {workspace = self.test_workspace, out = k_out}) or nil
  return K, lay, k
end

-- The early-kernel predictor with train kernel K and test x train kernel k.
function Direction:_predict(K, k)
  local residual = self.y - self.f0_train
  local fit, msg = core.kernel_regression{K = K, y = residual}
  if not fit then return nil, msg end
  local pred = fit:predict(k) + self.f0_test
  local method = fit.method
  fit:release()
  local a, b = pred:totable(), self.f_end_test:totable()
  local analysis = require "ntklab.analysis"
  local cmp = analysis.compare(a, b)
  return {rel_err = cmp.rel_err, corr = cmp.corr, method = method}
end

-- A predictor row at record i: the predictor's comparison and the test kernel's two cosines.
function Direction:_predict_row(i, K, k)
  local row, msg = self:_predict(K, k)
  if not row then
    row = {rel_err = NAN, corr = NAN, failed = msg}
  end
  row.record, row.t, row.step = i, self.t[i], self.step[i]
  row.fraction = self.t[i] / self.t[#self.t]
  local c, cl = cosines(self.test_ref, k)
  row.test_direction = c
  if cl == cl then row.test_direction_learned = cl end
  return row
end

--- dir:finish([net]): the second pass (see the module comment); net is the trained net (the
-- last observed by default; its parameters must be those of the last point). Returns dir.
function Direction:finish(net)
  local f = "direction:finish"
  if net ~= nil and not is_net(net) then check.fail(1, f, "mlp expected, got " .. check.typename(net)) end
  net = net or self.net
  local n = #self.t
  if n == 0 then check.fail(1, f, "nothing observed yet") end
  if self.finished then return self end
  local started = core.clock()
  local scratch = net:clone()
  self.scratch = scratch
  if self.X_test then self.f_end_test = net:forward(self.X_test):reshape(self.X_test:size(1)) end
  self:_cosines(scratch)
  -- the predictor rows after the cosines' references are gone: a kernel regression needs
  -- several P x P factors of its own (at P = 4000 the two passes together would not fit in 2 GB)
  self.predictor = {}
  if self.X_test then self:_predictor_rows(scratch) end
  self.finished = true
  self.seconds = self.seconds + (core.clock() - started)
  return self
end

-- Pass 1: the train kernels' direction cosines at every record, against the references of the
-- last and the first record (for the total and each layer).
function Direction:_cosines(scratch)
  local n = #self.t
  local Ke, laye = self:_kernels(scratch, self.thetas[n], false)
  local K0, lay0 = self:_kernels(scratch, self.thetas[1], false)
  local L = self.layers and #lay0 or 0
  local kinds = {{name = "", ref = reference(K0, Ke)}}
  for l = 1, L do kinds[#kinds + 1] = {name = "layer" .. l .. "_", ref = reference(lay0[l], laye[l])} end
  Ke, laye, K0, lay0 = nil, nil, nil, nil
  local cols = {"t", "step"}
  for _, kind in ipairs(kinds) do
    cols[#cols + 1] = kind.name .. "direction"
    cols[#cols + 1] = kind.name .. "direction_learned"
  end
  local STATS = {"kernel_norm", "alignment", "alignment_centered"}
  if self.stats then
    for _, c in ipairs(STATS) do cols[#cols + 1] = c end
  end
  self.columns = cols
  local tr = {t = {}, step = {}}
  for _, c in ipairs(cols) do tr[c] = tr[c] or {} end
  local P = self.X:size(1)
  local Kbuf, laybuf = core.zeros(P, P), {}
  for l = 1, L do laybuf[l] = core.zeros(P, P) end
  for i = 1, n do
    local K, lay = self:_kernels(scratch, self.thetas[i], false, Kbuf, nil, laybuf)
    tr.t[i], tr.step[i] = self.t[i], self.step[i]
    if self.stats then -- before the cosines, which leave K - K(0) in K
      local st = core.kernel_stats(K, self.y)
      tr.kernel_norm[i], tr.alignment[i], tr.alignment_centered[i] = st.norm, st.alignment, st.alignment_centered
    end
    local mats = {K}
    for l = 1, L do mats[#mats + 1] = lay[l] end
    for j, kind in ipairs(kinds) do
      tr[kind.name .. "direction"][i], tr[kind.name .. "direction_learned"][i] = cosines(kind.ref, mats[j])
    end
  end
  self.trajectory = tr
  -- the references and buffers (2 (L + 1) + L + 1 kernels) go before the next pass
  kinds, Kbuf, laybuf = nil, nil, nil
  self.workspace:clear()
  collectgarbage()
end

-- The records with a predictor row: every predict_every-th, the first and the last.
function Direction:_predicts(i)
  local n = #self.t
  return i == 1 or i == n or (self.predict_every > 0 and (i - 1) % self.predict_every == 0)
end

-- Pass 2: the early-kernel predictor rows, with the test kernel's cosines against the
-- references of the last and the first record (kept for predictor_at).
function Direction:_predictor_rows(scratch)
  local n = #self.t
  local _, _, ke = self:_kernels(scratch, self.thetas[n], true, nil, nil, nil, true)
  local _, _, k0 = self:_kernels(scratch, self.thetas[1], true, nil, nil, nil, true)
  self.test_ref = reference(k0, ke)
  ke, k0 = nil, nil
  local P = self.X:size(1)
  local Kbuf, kbuf = core.zeros(P, P), core.zeros(self.X_test:size(1), P)
  -- K through the per-layer path, as in pass 1 and predictor_at: the same bits at a record
  -- whichever computes it (the fused two-layer path rounds differently)
  local laybuf = {}
  for l = 1, self.layers and self.scratch:depth() or 0 do laybuf[l] = core.zeros(P, P) end
  for i = 1, n do
    if self:_predicts(i) then
      local K, _, k = self:_kernels(scratch, self.thetas[i], true, Kbuf, kbuf, laybuf)
      self.predictor[#self.predictor + 1] = self:_predict_row(i, K, k)
      -- what the row's kernel regression allocated (its P x P factors) is freed now
      collectgarbage()
    end
  end
  Kbuf, kbuf, laybuf = nil, nil, nil
  collectgarbage()
end

--- dir:predictor_at(t): the early-kernel predictor at the first record at or after t (after
-- finish; needs X_test). Returns the row {record, t, step, fraction, rel_err, corr, method},
-- adding it to dir.predictor when new, or nil, msg when no record is that late.
function Direction:predictor_at(t)
  local f = "direction:predictor_at"
  check.number(t, 1, f)
  if not self.finished then check.fail(1, f, "finish first") end
  if not self.X_test then check.fail(1, f, "no X_test: the predictor needs test inputs") end
  local i
  for j = 1, #self.t do
    if self.t[j] >= t then i = j break end
  end
  if not i then return nil, ("no record at or after t = %g (last %g)"):format(t, self.t[#self.t]) end
  for _, row in ipairs(self.predictor) do if row.record == i then return row end end
  local started = core.clock()
  local K, _, k = self:_kernels(self.scratch, self.thetas[i], true)
  local row = self:_predict_row(i, K, k)
  local at = #self.predictor + 1
  for j, r in ipairs(self.predictor) do
    if r.record > i then at = j break end
  end
  table.insert(self.predictor, at, row)
  self.seconds = self.seconds + (core.clock() - started)
  return row
end

return direction
