--- ntklab.recorder: follows the train NTK along a training run, as an observer of trainer:run.
--
--   local rec = ntklab.recorder{times = {log = {1e-2, 1e3, 60}}, X = X, y = y,
--                               X_test = Xt, y_test = yt, beta = beta, topk = 5}
--   rec:run(trainer, net, {stop_loss = 1e-4})      -- trains, records and finishes
--   -- or drive the trainer yourself, with the recorder as its observer:
--   trainer:run(net, X, y, {t = rec:t_end(), observe = rec.times, observer = rec.observer})
--   rec:finish(net)                                -- K(t_end) on test x train
--
-- One scheduler: trainer:run owns the observation schedule (flows hit each time exactly,
-- discrete methods observe at the first step with t >= t_k). The recorder hands it rec.times
-- and records at each call; rec:run is a single trainer:run over all of them.
--
-- net: any network, an ntklab.mlp or an ntklab.model (e.g. ntklab.wide_resnet); for a model the
-- layer columns are its parameter groups (model:groups()), its kernels are computed in Jacobian
-- tiles of `tile` samples (option tile, 0 = all at once: memory 2 tile C #params doubles), and
-- beta (the weight alignment of an MLP's first layer) does not apply.
--
-- times: an ascending array of explicit times, or {log = {from, to, n}} (t = 0, then n
-- log-spaced times from `from` to `to`), or {linear = {from, to, n}} (n equally spaced times).
--
-- Results: the recorder's fields below are its whole public surface (read them, do not write
-- them); everything else it holds is private.
--   times         the record times (an array, as trainer:run's observe option takes);
--   observer      rec:observe as a trainer:run observer, function(t, step, loss, net): a call
--                 at the (t, step) of the previous record (a discrete step that passed several
--                 record times) records nothing;
--   trajectory    column layout, one array per name in `columns` (as analysis.readouts,
--                 output.write_csv and output.plot_trajectory take):
--                   t, step, loss (train; the trainer's loss at that point), test_loss (when
--                   X_test, y_test), kernel_norm |K|_F and kernel_trace tr K of the train NTK
--                   K = ntklab.ntk(net, X), alignment (uncentered, the paper's
--                   y^T K y / (|K|_F |y|^2)) and alignment_centered,
--                   kernel_distance = 1 - <K, K(0)> / (|K|_F |K(0)|_F), layer<l>_norm and
--                   layer<l>_alignment for each layer's share of K (layers = true, default),
--                   eig1 .. eig<k>, the k = topk largest eigenvalues of K (topk = 0: none),
--                   weight_alignment cos(W1^T W1, beta beta^T) when beta (the teacher
--                   direction, D) is known;
--   columns       the trajectory's column names, in order;
--   K0, K0_test   K(0) on train x train and test x train (the first record's);
--   K_end         the last record's train kernel (one buffer, overwritten at each record);
--   K_end_test    the test x train kernel at the last record (computed by finish);
--   f0_train, f0_test, f_end_train, f_end_test   the net's outputs at the first record and
--                 at finish;
--   snapshots     with keep_snapshots = true, snapshots[i] = {t =, K =, k =} for every record
--                 (k, the test x train kernel, only with test data);
--   predictions   with predictions = true, the test outputs at every record;
--   workspace     the train kernels' ntklab.kernel_workspace (its :hits() counts the records
--                 served from the cached input Gram);
--   seconds       the wall time spent recording (kernels and metrics, not attached observers);
--   with adam: K_adam0, K_adam0_test, t_adam0, K_adam_end, K_adam_end_test (below).
-- Methods: rec:observe, rec:run, rec:finish, rec:count(), rec:t_end().
--
-- observers = {obs, ...}: observers of the recorder's points (e.g. ntklab.pathkernel). After
-- each new record, obs:observe(t, step, loss, net, K) is called with K the train NTK just
-- computed (read it during the call, it is overwritten at the next record), and rec:finish
-- calls obs:finish(net, K_end, K_end_test). Their time is not counted in rec.seconds.
--
-- adam = trainer (an ntklab.train.adam trainer, the one that trains the net): each record also
-- computes the Adam kernel of the paper's Eq. 91 on the train set,
-- K_eta(x, x') = sum_j eta_j df(x)/dtheta_j df(x')/dtheta_j with eta = trainer:effective_lr(net)
-- (lr / (sqrt(v_hat_j) + eps)), and records the columns adam_norm |K_eta|_F, adam_alignment and
-- adam_alignment_centered. Before Adam's first step v_hat does not exist (effective_lr would
-- give the placeholder lr / eps for every parameter, a multiple of the plain NTK), so records
-- taken at step 0 hold NaN in these columns; K_adam0 and K_adam0_test (test x train) are the
-- kernels of the first record after at least one step, t_adam0 its time; K_adam_end (the last
-- record's, one buffer like K_end; nil when no record had a step) and K_adam_end_test
-- (computed by finish, with the trainer's eta at that point: the trainer must not have stepped
-- since) like K_end. The trainer's steps counter decides the step-0 case: recording a net the
-- trainer did not train is the caller's mistake (effective_lr checks only the parameter count;
-- rec:run refuses any other trainer).
--
-- Allocation: the train kernel is computed into one preallocated [P x P] tensor through one
-- kernel workspace (which caches the input Gram X X^T across records), the test outputs into a
-- preallocated [M x C] tensor, the per-layer kernels (layers = true) into one preallocated
-- [P x P] tensor per layer; per record the recorder allocates only what it stores (numbers,
-- copies of kernels for snapshots, prediction copies) and the k eigenvalues. With adam: eta goes into one preallocated [nparams] tensor and
-- K_eta into one preallocated [P x P] tensor; the Adam kernels go through the same workspaces
-- as the plain ones (the eta path does not read or invalidate their cached input Grams; it
-- grows their Gram scratch once to its Jacobian tile of P x 2048 doubles).
local check = require "ntklab.argcheck"
check.register()
local core = require "ntklab.core"

local recorder = {}
local Recorder = {}
Recorder.__index = Recorder

-- Each recorder's private state (data, options, buffers, the last net), out of its public
-- fields: rec[field] is only what the module comment lists.
local private = setmetatable({}, {__mode = "k"})

local F = "recorder"
local OPTIONS = {times = true, X = true, y = true, X_test = true, y_test = true, beta = true,
  keep_snapshots = true, predictions = true, topk = true, layers = true, adam = true,
  observers = true, tile = true}

-- Any network: an ntklab.mlp or an ntklab.model (a Wide-ResNet, any layer graph). Their
-- kernels go through the one ntklab.ntk; an MLP's also through the recorder's workspaces (its
-- cached input Grams), a model's in Jacobian tiles of `tile` samples.
local function is_mlp(v) return getmetatable(v) == core.metatable("mlp") end
local function is_net(v) return is_mlp(v) or getmetatable(v) == core.metatable("model") end
local NET = "ntklab.mlp or ntklab.model"

local function input_dim(net) return is_mlp(net) and net:widths()[1] or net:input_dim() end
-- layers of the per-layer split: an MLP's layers, a model's parameter groups
local function depth(net) return is_mlp(net) and net:depth() or #net:groups() end

-- ntklab.ntk's options for net: o plus the workspace (an MLP) or the tile (a model).
local function kernel_opts(S, net, o, workspace)
  if is_mlp(net) then o.workspace = workspace else o.tile = S.tile end
  return o
end

local function opt_tensor(opts, key, required, dims)
  return check.option_tensor(opts, key, 1, F, dims, required)
end

local function opt_bool(opts, key, default)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "boolean" then
    check.fail(1, F, ("option '%s': boolean expected, got %s"):format(key, check.typename(v)))
  end
  return v
end

-- observers: an array of objects with observe and finish methods.
local function opt_observers(opts)
  local list = opts.observers
  if list == nil then return {} end
  if type(list) ~= "table" then
    check.fail(1, F, "option 'observers': array expected, got " .. check.typename(list))
  end
  local out = {}
  for i, obs in ipairs(list) do
    local ok = pcall(function()
      assert(type(obs.observe) == "function" and type(obs.finish) == "function")
    end)
    if not ok then
      check.fail(1, F, ("option 'observers': [%d]: object with observe and finish methods expected, "
        .. "got %s"):format(i, check.typename(obs)))
    end
    out[i] = obs
  end
  return out
end

-- The record times from the times option (see the module comment).
local function make_times(spec)
  if type(spec) ~= "table" then
    check.fail(1, F, "option 'times': table expected, got " .. check.typename(spec))
  end
  local times = {}
  local law = spec.log and "log" or spec.linear and "linear"
  if law then
    local r = spec[law]
    if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number"
      or math.type(r[3]) ~= "integer" then
      check.fail(1, F, ("option 'times': {%s = {from, to, n}} expected"):format(law))
    end
    local from, to, n = r[1], r[2], r[3]
    if n < 2 or not (to > from) or from < 0 or to == math.huge
      or (law == "log" and not (from > 0)) then
      check.fail(1, F, ("option 'times': %s = {from, to, n} needs %s from < to (finite) and n >= 2, "
        .. "got {%s, %s, %s}"):format(law, law == "log" and "0 <" or "0 <=", tostring(from),
        tostring(to), tostring(n)))
    end
    if law == "log" then
      times[1] = 0
      local a, b = math.log(from), math.log(to)
      for i = 0, n - 1 do times[#times + 1] = math.exp(a + (b - a) * i / (n - 1)) end
      times[2], times[#times] = from, to -- exact end points, not exp(log(.)) rounded
    else
      for i = 0, n - 1 do times[#times + 1] = from + (to - from) * i / (n - 1) end
      times[#times] = to
    end
    return times
  end
  if #spec == 0 then
    check.fail(1, F, "option 'times': non-empty array, {log = {from, to, n}} or {linear = ...} expected")
  end
  for i, t in ipairs(spec) do
    if type(t) ~= "number" or t ~= t or t < 0 or t == math.huge then
      check.fail(1, F, ("option 'times': finite time >= 0 expected at [%d], got %s"):format(i, tostring(t)))
    end
    if i > 1 and not (t > spec[i - 1]) then
      check.fail(1, F, ("option 'times': strictly ascending times expected, got %s after %s at [%d]")
        :format(tostring(t), tostring(spec[i - 1]), i))
    end
    times[i] = t
  end
  return times
end


--- ntklab.recorder{...}: see the module comment.
function recorder.new(opts)
  check.table(opts, 1, F)
  check.options(opts, 1, F, OPTIONS)
  if opts.times == nil then check.fail(1, F, "option 'times' required") end
  local times = make_times(opts.times)
  local X = opt_tensor(opts, "X", true, {2})
  local y = opt_tensor(opts, "y", true, {1, 2})
  local P = X:size(1)
  if y:size(1) ~= P then
    check.fail(1, F, ("option 'y': %d rows expected (as X), got %d"):format(P, y:size(1)))
  end
  if y:dim() == 2 and y:size(2) ~= 1 then
    check.fail(1, F, ("option 'y': one output expected ([P] or [P x 1]), got [%d x %d]")
      :format(y:size(1), y:size(2)))
  end
  local X_test = opt_tensor(opts, "X_test", false, {2})
  local y_test = opt_tensor(opts, "y_test", false, {1, 2})
  if (X_test == nil) ~= (y_test == nil) then
    check.fail(1, F, "options 'X_test' and 'y_test' go together")
  end
  if X_test then
    if X_test:size(2) ~= X:size(2) then
      check.fail(1, F, ("option 'X_test': %d columns expected (as X), got %d"):format(X:size(2), X_test:size(2)))
    end
    if y_test:size(1) ~= X_test:size(1) then
      check.fail(1, F, ("option 'y_test': %d rows expected (as X_test), got %d"):format(X_test:size(1), y_test:size(1)))
    end
  end
  local beta = opt_tensor(opts, "beta", false, {1, 2})
  if beta and beta:size(beta:dim()) ~= X:size(2) then
    check.fail(1, F, ("option 'beta': %d entries expected (the input dimension), got %d")
      :format(X:size(2), beta:size(beta:dim())))
  end
  local topk = opts.topk
  if topk == nil then topk = 0 end
  if math.type(topk) ~= "integer" or topk < 0 or topk > P then
    check.fail(1, F, ("option 'topk': integer in [0, %d] expected, got %s"):format(P, tostring(topk)))
  end
  local tile = opts.tile
  if tile ~= nil and (math.type(tile) ~= "integer" or tile < 0) then
    check.fail(1, F, "option 'tile': integer >= 0 expected, got " .. tostring(tile))
  end
  local adam = opts.adam
  if adam ~= nil then
    if getmetatable(adam) ~= core.metatable("trainer") then
      check.fail(1, F, "option 'adam': trainer expected, got " .. check.typename(adam))
    end
    local method = adam:settings().method
    if method ~= "adam" then
      check.fail(1, F, "option 'adam': adam trainer expected, got method '" .. tostring(method) .. "'")
    end
  end
  local rec = setmetatable({
    times = times, trajectory = {}, columns = {}, snapshots = {}, predictions = {},
    workspace = core.kernel_workspace(),
    seconds = 0,
  }, Recorder)
  private[rec] = {
    X = X, y = y:dim() == 2 and y:reshape(P) or y, X_test = X_test,
    y_test = y_test and (y_test:dim() == 2 and y_test:reshape(y_test:size(1)) or y_test),
    beta = beta, topk = topk, tile = tile or 0,
    keep_snapshots = opt_bool(opts, "keep_snapshots", false),
    keep_predictions = opt_bool(opts, "predictions", false),
    layers = opt_bool(opts, "layers", true),
    observers = opt_observers(opts),
    -- the test x train kernels get their own: a workspace caches one input Gram at a time
    test_workspace = X_test and core.kernel_workspace() or nil,
    K = core.zeros(P, P), -- the train kernel of the latest record
    adam = adam, K_adam = adam and core.zeros(P, P) or nil, -- eta is sized at the first record
  }
  rec.observer = function(t, step, loss, net) rec:_observe_once(t, step, loss, net) end
  return rec
end

-- Declares the columns at the first record, when the depth of the net is known.
function Recorder:_declare(depth)
  local S = private[self]
  local cols = {"t", "step", "loss"}
  if S.X_test then cols[#cols + 1] = "test_loss" end
  for _, c in ipairs{"kernel_norm", "kernel_trace", "alignment", "alignment_centered", "kernel_distance"} do
    cols[#cols + 1] = c
  end
  if S.layers then
    for l = 1, depth do
      cols[#cols + 1] = "layer" .. l .. "_norm"
      cols[#cols + 1] = "layer" .. l .. "_alignment"
    end
  end
  for i = 1, S.topk do cols[#cols + 1] = "eig" .. i end
  if S.adam then
    for _, c in ipairs{"adam_norm", "adam_alignment", "adam_alignment_centered"} do
      cols[#cols + 1] = c
    end
  end
  if S.beta then cols[#cols + 1] = "weight_alignment" end
  self.columns = cols
  for _, c in ipairs(cols) do self.trajectory[c] = {} end
end

--- rec:observe(t, step, loss, net): records one point (the observer signature of trainer:run).
-- t must exceed the previous record's.
function Recorder:observe(t, step, loss, net)
  local f = "recorder:observe"
  local S = private[self]
  check.number(t, 1, f)
  check.number(step, 2, f)
  check.number(loss, 3, f)
  if not is_net(net) then check.fail(4, f, NET .. " expected, got " .. check.typename(net)) end
  local tr = self.trajectory
  local n = tr.t and #tr.t or 0
  if n > 0 and not (t > tr.t[n]) then
    check.fail(1, f, ("time after the previous record %s expected, got %s"):format(tostring(tr.t[n]), tostring(t)))
  end
  if input_dim(net) ~= S.X:size(2) then
    check.fail(4, f, ("net with %d inputs expected (as X), got %d"):format(S.X:size(2), input_dim(net)))
  end
  if S.beta and not is_mlp(net) then
    check.fail(4, f, "ntklab.mlp expected with option 'beta' (the weight alignment of its first layer), got "
      .. check.typename(net))
  end
  if n == 0 then self:_declare(depth(net)) end
  local started = core.clock()
  local i = n + 1
  local K, lay
  if S.layers then
    if is_mlp(net) then
      if not S.lay then -- the per-layer kernels' buffers, one per layer, reused at every record
        S.lay = {}
        for l = 1, net:depth() do S.lay[l] = core.zeros(S.K:size(1), S.K:size(2)) end
      end
      K, lay = core.ntk(net, S.X, {workspace = self.workspace, out = S.K, layers = S.lay})
    else -- a model's parameter-group kernels are fresh tensors (model_ntk takes layers = true)
      K, lay = core.ntk(net, S.X, kernel_opts(S, net, {out = S.K, layers = true}, self.workspace))
    end
  else
    K = core.ntk(net, S.X, kernel_opts(S, net, {out = S.K}, self.workspace))
  end
  tr.t[i], tr.step[i], tr.loss[i] = t, step, loss
  if S.X_test then
    S.f_test = net:forward(S.X_test, S.f_test)
    -- the loss from the outputs just computed (net:loss would run the forward pass again)
    local d = S.f_test:reshape(S.X_test:size(1)) - S.y_test
    tr.test_loss[i] = (d * d):sum() / (2 * S.X_test:size(1))
  end
  if i == 1 then
    self.K0 = K:clone()
    self.f0_train = net:forward(S.X)
    if S.X_test then
      self.K0_test = core.ntk(net, S.X_test, S.X, kernel_opts(S, net, {}, S.test_workspace))
      self.f0_test = S.f_test:clone()
    end
  end
  -- the five summaries from one pass over K and K0 (in place, no copies)
  local s = core.kernel_stats(K, S.y, self.K0)
  tr.kernel_norm[i], tr.kernel_trace[i] = s.norm, s.trace
  tr.alignment[i], tr.alignment_centered[i] = s.alignment, s.alignment_centered
  tr.kernel_distance[i] = s.distance
  if lay then
    for l = 1, #lay do
      tr["layer" .. l .. "_norm"][i] = core.kernel_norm(lay[l])
      tr["layer" .. l .. "_alignment"][i] = core.alignment(lay[l], S.y)
    end
  end
  if S.topk > 0 then
    local e = core.kernel_eigs(K, S.topk)
    for k = 1, S.topk do tr["eig" .. k][i] = e:get(k) end
  end
  if S.beta then tr.weight_alignment[i] = core.weight_alignment(net:weight(1), S.beta) end
  if S.adam then self:_record_adam(i, t, net) end
  if S.keep_snapshots then
    self.snapshots[i] = {t = t, K = K:clone(),
      k = S.X_test and core.ntk(net, S.X_test, S.X, kernel_opts(S, net, {}, S.test_workspace)) or nil}
  end
  if S.keep_predictions and S.X_test then self.predictions[i] = S.f_test:clone() end
  self.K_end = K
  S.net = net
  self.seconds = self.seconds + (core.clock() - started)
  for _, obs in ipairs(S.observers) do obs:observe(t, step, loss, net, K) end
end

-- rec.observer's body: a call at the previous record's (t, step) is the same point again (a
-- discrete step that passed several record times, each observed by trainer:run): no record.
-- Returns true when it recorded.
function Recorder:_observe_once(t, step, loss, net)
  local tr = self.trajectory
  local n = tr.t and #tr.t or 0
  if n > 0 and t == tr.t[n] and step == tr.step[n] then return false end
  self:observe(t, step, loss, net)
  return true
end

-- The Adam kernel columns of record i (see the module comment; NaN before the first step).
function Recorder:_record_adam(i, t, net)
  local S = private[self]
  local tr = self.trajectory
  if S.adam.steps == 0 then
    tr.adam_norm[i], tr.adam_alignment[i], tr.adam_alignment_centered[i] = 0 / 0, 0 / 0, 0 / 0
    return
  end
  S.eta = S.adam:effective_lr(net, S.eta)
  local K = core.ntk(net, S.X, kernel_opts(S, net, {eta = S.eta, out = S.K_adam}, self.workspace))
  local s = core.kernel_stats(K, S.y)
  tr.adam_norm[i], tr.adam_alignment[i], tr.adam_alignment_centered[i] =
    s.norm, s.alignment, s.alignment_centered
  if not self.K_adam0 then
    self.K_adam0, self.t_adam0 = K:clone(), t
    if S.X_test then
      self.K_adam0_test = core.ntk(net, S.X_test, S.X,
        kernel_opts(S, net, {eta = S.eta}, S.test_workspace))
    end
  end
  self.K_adam_end = K
end

--- rec:finish([net]): computes K_end_test, the test x train kernel of the net at the last record
-- (net defaults to the one last observed, which must not have moved since), the end outputs,
-- and finishes the attached observers. Returns rec.
function Recorder:finish(net)
  local f = "recorder:finish"
  local S = private[self]
  if net ~= nil and not is_net(net) then check.fail(1, f, NET .. " expected, got " .. check.typename(net)) end
  net = net or S.net
  if not net then check.fail(1, f, "nothing recorded yet") end
  local started = core.clock()
  if S.X_test then
    self.K_end_test = core.ntk(net, S.X_test, S.X, kernel_opts(S, net, {}, S.test_workspace))
    self.f_end_test = net:forward(S.X_test)
    if self.K_adam_end then
      self.K_adam_end_test = core.ntk(net, S.X_test, S.X,
        kernel_opts(S, net, {eta = S.adam:effective_lr(net, S.eta)}, S.test_workspace))
    end
  end
  self.f_end_train = net:forward(S.X)
  -- the cached input Grams and scratch are not needed any more (a later observe refills them):
  -- free them before the observers' finish, which may need much memory of its own
  self.workspace:clear()
  if S.test_workspace then S.test_workspace:clear() end
  S.lay = nil -- the per-layer buffers too (allocated again by a later observe)
  self.seconds = self.seconds + (core.clock() - started)
  for _, obs in ipairs(S.observers) do obs:finish(net, self.K_end, self.K_end_test) end
  return self
end

--- rec:t_end(): the last record time.
function Recorder:t_end() return self.times[#self.times] end

--- rec:run(trainer, net, {stop_loss = number, progress = fn}): trains net on (X, y) with the
-- trainer, recording at rec.times, until the last time or until the train loss at a record is
-- below stop_loss (that record is then the last: training stops there), and finishes. One
-- trainer:run call with rec.times as its observation times (times before the trainer's current
-- t are observed at once); its observer records and returns true to end the run at stop_loss.
-- progress(i, n, t, loss), when given, is called after each new record, i the index of its
-- time in rec.times and n = #rec.times. A pending request to finish early
-- (ntklab.request_finish, or SIGUSR1 to the ntklab host) ends the run at the next record as
-- stop_loss would; it is consumed, and rec.finished_on_request is then true. Returns rec.
function Recorder:run(trainer, net, opts)
  local f = "recorder:run"
  local S = private[self]
  if getmetatable(trainer) ~= core.metatable("trainer") then
    check.fail(1, f, "trainer expected, got " .. check.typename(trainer))
  end
  if S.adam and trainer ~= S.adam then
    -- another trainer's steps would leave the recorded eta (the adam option's) stale
    check.fail(1, f, "the trainer given as option 'adam' expected, got another trainer")
  end
  if not is_net(net) then check.fail(2, f, NET .. " expected, got " .. check.typename(net)) end
  opts = opts or {}
  check.table(opts, 3, f)
  check.options(opts, 3, f, {"stop_loss", "progress"})
  local stop = opts.stop_loss
  if stop ~= nil and (type(stop) ~= "number" or not (stop > 0)) then
    check.fail(3, f, "option 'stop_loss': positive number expected, got " .. tostring(stop))
  end
  local progress = opts.progress
  if progress ~= nil and type(progress) ~= "function" then
    check.fail(3, f, "option 'progress': function expected, got " .. check.typename(progress))
  end
  local n, now = #self.times, trainer.t
  self.finished_on_request = false
  local observe = {}
  for i, t in ipairs(self.times) do observe[i] = math.max(t, now) end
  local k = 0
  -- t_final: the end of the whole run, so a single step longer than it is reported (issue 11 B6)
  trainer:run(net, S.X, S.y, {t = observe[n], t_final = observe[n], observe = observe,
    observer = function(t, step, loss, at)
      k = k + 1
      if not self:_observe_once(t, step, loss, at) then return false end
      if progress then progress(k, n, self.times[k], loss) end
      if core.finish_requested() then
        core.request_finish(false)
        self.finished_on_request = true
        return true
      end
      return stop ~= nil and loss < stop
    end})
  return self:finish(net)
end

--- The number of records so far.
function Recorder:count() return self.trajectory.t and #self.trajectory.t or 0 end

return recorder
