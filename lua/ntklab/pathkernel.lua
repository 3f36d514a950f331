--- ntklab.pathkernel: the Eq. 2 path-kernel predictor, and an observer that integrates it
-- while a net trains.
--
--   local pk = ntklab.pathkernel.new{X = X, y = y, X_test = Xt, every = 2, step = 2}
--   local rec = ntklab.recorder{times = ..., X = X, y = y, X_test = Xt, y_test = yt,
--                               observers = {pk}}            -- shares the recorder's kernels
--   rec:run(trainer, net, {stop_loss = 1e-4})
--   local res, msg = pk:result()   -- {test = [M], train = [P], steps =, snapshots =, ...}
--   -- or on its own, as the trainer's observer (it then computes the train kernels itself):
--   trainer:run(net, X, y, {t = T, observe = times, observer = pk.observer}); pk:finish(net)
--
-- The observer takes the trainer:run observer signature (t, step, loss, net), plus an optional
-- K, the train NTK at that point when the caller has it (the recorder passes its own). The
-- first point must be at t = 0; every `every`-th point after it (and the last one, at finish)
-- is a kernel snapshot {t, K, k} with k = ntklab.ntk(net, X_test, X), and the interval from the
-- previous snapshot is integrated as soon as its right end is known, starting from the
-- predictor's outputs at its left end. Chaining pathkernel.predictor over the intervals takes
-- the same RK4 steps as one call over all snapshots, and only two snapshots are alive at a
-- time: 2 x 8 (P^2 + M P) bytes in two buffers used in turn, released by finish (after which
-- the observer takes no more points). A point at the previous one's
-- (t, step) (a discrete step observed for several times) is the same point: skipped.
--
-- Its public surface is pk.observer and the methods observe, finish and result; its other
-- fields are private state.
--
-- A failed integration (more than max_steps RK4 steps: the kernel grew without bound, e.g. a
-- diverging run) does not raise inside the trainer's loop: the observer stops integrating, and
-- pk:result() returns nil, msg. So a trainer that diverges reports its own error first.
local check = require "ntklab.argcheck"
check.register()
local core = require "ntklab.core"
local integrate = require "ntklab.pathkernel_predictor"

local pathkernel = {}

--- pathkernel.predictor(snapshots, y, f0_train, f0_test [, opts]): the path-kernel predictor of
-- Eq. 2, for a net trained by gradient flow with the loss 1/(2P) sum (f - y)^2 and learning
-- rate eta: on the training set the residual D = f - y obeys dD/dt = -(eta/P) K(t) D, and a
-- test point follows df(x)/dt = -(eta/P) k_t(x)^T D(t). Given the kernel snapshots, this
-- integrates both with K(t), k(t) linear in t between snapshots (RK4; an interval [t_a, t_b]
-- gets n = ceil((t_b - t_a) (eta/P) max(|K_a|_F, |K_b|_F) / step) steps). When K(t) commutes
-- with its integral this is f_0(x) + int_0^T k_t(x)^T exp(-int_0^t K) (y - f_0) dt, Eq. 2 cut
-- at T; otherwise it is the time-ordered version, which is what the net does.
--   snapshots: ascending {t = number, K = P x P train NTK, k = M x P test-train NTK}, the first
--              at t = 0 (arrays of rows or 2-D tensors);
--   y, f0_train (P), f0_test (M): targets and the net's outputs at t = 0;
--   opts.eta (default 1); opts.tail (default false): add the t -> infinity remainder with the
--   kernel frozen at the last snapshot, -k_T^T K_T^{-1} D(T) (then a single snapshot at t = 0 is
--   kernel regression with K(0)); opts.max_steps (default 1e6) bounds the work; opts.step
--   (default 0.25, at most 2.5, RK4's real stability boundary being 2.78) bounds
--   h (eta/P) |K|_F per RK4 step.
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
-- definite for the tail, more than max_steps steps). ntklab.analysis.path_kernel_predictor is
-- its older name.
function pathkernel.predictor(snapshots, y, f0_train, f0_test, opts)
  return integrate.predict("pathkernel.predictor", snapshots, y, f0_train, f0_test, opts)
end

local PathKernel = {}
PathKernel.__index = PathKernel

local F = "pathkernel.new"
local OPTIONS = {X = true, y = true, X_test = true, every = true, step = true, eta = true,
  max_steps = true, tile = true}

local function is_tensor(v) return getmetatable(v) == core.metatable("tensor") end
local function is_mlp(v) return getmetatable(v) == core.metatable("mlp") end
-- any network: an ntklab.mlp, or an ntklab.model (ntklab.wide_resnet, ntklab.model{...})
local function is_net(v) return is_mlp(v) or getmetatable(v) == core.metatable("model") end
local NET_EXPECTED = "mlp or model expected, got "

--- pathkernel.new{X = [P x D], y = [P] or [P x 1], X_test = [M x D], every = 1,
-- step = 0.25, eta = 1, max_steps = 1e6, tile = 0}: an observer that integrates the path-kernel
-- predictor while the net trains (see the module comment); step, eta and max_steps are
-- pathkernel.predictor's options. The net may be an MLP (kernels through one workspace that
-- caches X X^T) or a model (kernels in Jacobian tiles of `tile` samples, 0 = all at once, as
-- ntklab.ntk takes it).
function pathkernel.new(opts)
  check.table(opts, 1, F)
  check.options(opts, 1, F, OPTIONS)
  local X = check.option_tensor(opts, "X", 1, F, {2}, true)
  local X_test = check.option_tensor(opts, "X_test", 1, F, {2}, true)
  local P, M = X:size(1), X_test:size(1)
  if X_test:size(2) ~= X:size(2) then
    check.fail(1, F, ("option 'X_test': %d columns expected (as X), got %d"):format(X:size(2), X_test:size(2)))
  end
  local y = check.option_tensor(opts, "y", 1, F, {1, 2}, true)
  if not (y:dim() == 1 or (y:dim() == 2 and y:size(2) == 1)) or y:size(1) ~= P then
    check.fail(1, F, ("option 'y': [%d] or [%d x 1] expected (as X's rows), got %d-D with %d rows")
      :format(P, P, y:dim(), y:size(1)))
  end
  local tile = opts.tile or 0
  if math.type(tile) ~= "integer" or tile < 0 then
    check.fail(1, F, "option 'tile': integer >= 0 expected, got " .. tostring(tile))
  end
  local every = opts.every or 1
  if math.type(every) ~= "integer" or every < 1 then
    check.fail(1, F, "option 'every': integer >= 1 expected, got " .. tostring(every))
  end
  local settings = {step = opts.step, eta = opts.eta, max_steps = opts.max_steps}
  -- misuse is reported here, not mid-training; step is kept for result() with its default
  local _, _, _, step = integrate.options(settings, F, 1, "option")
  local pk = setmetatable({
    X = X, y = y:dim() == 2 and y:reshape(P) or y, X_test = X_test, every = every, tile = tile,
    settings = settings, step = step, workspace = core.kernel_workspace(),
    count = 0, buffers = {}, steps = 0, snapshots = 0, seconds = 0, snapshot_seconds = 0,
  }, PathKernel)
  pk.observer = function(t, step, loss, net) pk:observe(t, step, loss, net) end
  return pk
end

-- The buffer {K, k} that does not hold the left end (allocated on first use; two in all).
function PathKernel:_buffer()
  local buf = self.buffers[1]
  if not buf or buf == self.left then buf = self.buffers[2] end
  if not buf then
    local P = self.X:size(1)
    buf = {K = core.zeros(P, P), k = core.zeros(self.X_test:size(1), P)}
    self.buffers[#self.buffers + 1] = buf
  end
  return buf
end

-- A snapshot of net at t into a free buffer (K copied when given, else computed).
function PathKernel:_snapshot(t, net, K)
  local started = core.clock()
  local buf = self:_buffer()
  local function opts(out)
    if is_mlp(net) then return {workspace = self.workspace, out = out} end
    return {tile = self.tile, out = out}
  end
  if K then buf.K:copy_(K) else core.ntk(net, self.X, opts(buf.K)) end
  core.ntk(net, self.X_test, self.X, opts(buf.k))
  buf.t = t
  self.snapshot_seconds = self.snapshot_seconds + (core.clock() - started)
  return buf
end

-- Integrates from the left end to `right` ({t, K, k}), which becomes the new left end.
function PathKernel:_advance(right)
  local started = core.clock()
  local left = self.left
  local res, msg = integrate.predict("pathkernel", {{t = 0, K = left.K, k = left.k},
    {t = right.t - left.t, K = right.K, k = right.k}}, self.y, self.train, self.test, self.settings)
  self.seconds = self.seconds + (core.clock() - started)
  if not res then
    self.failed = msg
    return
  end
  self.train, self.test, self.steps = res.train, res.test, self.steps + res.steps
  self.snapshots = self.snapshots + 1
  self.left = right
end

--- pk:observe(t, step, loss, net [, K]): a point of the training path (the trainer:run
-- observer signature; K, when given, is the train NTK of net at t, [P x P], read during the
-- call only). Points must come in increasing t, the first at t = 0.
function PathKernel:observe(t, step, loss, net, K)
  local f = "pathkernel:observe"
  check.number(t, 1, f)
  check.number(step, 2, f)
  if not is_net(net) then check.fail(4, f, NET_EXPECTED .. check.typename(net)) end
  if K ~= nil and not (is_tensor(K) and K:dim() == 2 and K:size(1) == self.X:size(1) and K:size(2) == K:size(1)) then
    check.fail(5, f, ("[%d x %d] tensor expected, got %s"):format(self.X:size(1), self.X:size(1), check.typename(K)))
  end
  if self.released then check.fail(1, f, "observe after finish") end
  local last = self.last
  if last and t == last.t and step == last.step then return end
  if not last and t ~= 0 then check.fail(1, f, "the first point must be at t = 0, got " .. tostring(t)) end
  if last and not (t > last.t) then
    check.fail(1, f, ("time after the previous point %s expected, got %s"):format(tostring(last.t), tostring(t)))
  end
  self.last, self.net = {t = t, step = step}, net
  self.count = self.count + 1
  if self.failed then return end
  if self.count == 1 then
    local P, M = self.X:size(1), self.X_test:size(1)
    self.train, self.test = net:forward(self.X):reshape(P), net:forward(self.X_test):reshape(M)
    self.left = self:_snapshot(0, net, K)
    self.snapshots = 1
    return
  end
  if (self.count - 1) % self.every ~= 0 then return end
  self:_advance(self:_snapshot(t, net, K))
end

--- pk:finish([net [, K [, k]]]): integrates up to the last observed point if it is not a
-- snapshot yet (net defaults to the last observed one, which must not have moved since; K and k
-- are its train and test x train kernels when the caller has them). Returns pk.
function PathKernel:finish(net, K, k)
  local f = "pathkernel:finish"
  if net ~= nil and not is_net(net) then check.fail(1, f, NET_EXPECTED .. check.typename(net)) end
  net = net or self.net
  if not self.last then check.fail(1, f, "nothing observed yet") end
  if self.released then return self end -- finished already
  if not self.failed and self.last.t > self.left.t then
    if K and k then
      self:_advance({t = self.last.t, K = K, k = k})
    else
      self:_advance(self:_snapshot(self.last.t, net, K))
    end
  end
  self:_release()
  return self
end

-- After the last interval only the outputs are needed: the snapshot buffers and the
-- workspace's cached Gram go now, before the caller's next big step (a recorder's other
-- observers, kernel regressions), not when this object is collected.
function PathKernel:_release()
  local P, M = self.X:size(1), self.X_test:size(1)
  self.snapshot_bytes = 8 * #self.buffers * (P * P + M * P)
  self.buffers, self.left = {}, self.left and {t = self.left.t} or nil
  self.workspace:clear()
  self.released = true
end

--- pk:result(): {test = [M] tensor, train = [P] tensor (the predictor's outputs at the last
-- snapshot), steps = RK4 steps, snapshots = count, every =, step = the RK4 step bound (its
-- default when not given), seconds = integration wall
-- time, snapshot_seconds = wall time of the snapshots' kernels, snapshot_bytes = bytes of the
-- two snapshot buffers}, or nil, msg when the integration failed.
function PathKernel:result()
  if self.failed then return nil, self.failed end
  if not self.left then return nil, "nothing observed yet" end
  local P, M = self.X:size(1), self.X_test:size(1)
  return {test = self.test, train = self.train, steps = self.steps, snapshots = self.snapshots,
    every = self.every, step = self.step, seconds = self.seconds,
    snapshot_seconds = self.snapshot_seconds,
    snapshot_bytes = self.snapshot_bytes or 8 * #self.buffers * (P * P + M * P)}
end

return pathkernel
