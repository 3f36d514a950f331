-- 50-recorder: ntklab.recorder on a small teacher problem. What it records is checked against
-- independent computations: the stored kernels against the explicit Jacobian J J^T, the
-- recorded alignments against the plain-Lua twin of the alignment (spec/support) on the stored
-- kernel, K(0) against the NTK of a copy of the untrained net.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local analysis = ntklab.analysis
local bad_args = require "spec.support.bad_args"
local kernel_reference = require "spec.support.kernel_reference"

-- Kernels and alignments computed by two routes (BLAS fast path vs explicit Jacobian, C vs
-- plain Lua) agree to rounding of sums over a few hundred terms of size ~1.
local TOL = 1e-10

local function problem(seed)
  local ds = assert(data.teacher{P = 30, D = 6, test = 8, seed = seed or 1})
  local net = ntklab.mlp{widths = {6, 12, 1}, activation = "relu", sigma = 0.5, seed = seed or 1}
  return ds, net
end

local function max_abs_diff(A, B)
  local a, b = A:totable(), B:totable()
  local m = 0
  for i = 1, #a do
    for j = 1, #a[i] do m = math.max(m, math.abs(a[i][j] - b[i][j])) end
  end
  return m
end

describe("recorder", function()
  it("records at the given times, keeps K(0), K(t_end) and every snapshot on request", function()
    local ds, net = problem(1)
    local net0 = net:clone()
    local rec = ntklab.recorder{times = {0, 0.5, 1, 2}, X = ds.X_train, y = ds.y_train,
      X_test = ds.X_test, y_test = ds.y_test, beta = ds.beta, keep_snapshots = true,
      predictions = true, topk = 3}
    local tr = ntklab.train.flow{method = "rk45", rtol = 1e-8}
    tr:run(net, ds.X_train, ds.y_train, {t = 2, observe = rec.times, observer = rec.observer})
    rec:finish(net)
    local traj = rec.trajectory
    assert.are.same({0, 0.5, 1, 2}, traj.t)
    assert.are.equal(4, #rec.snapshots)
    assert.are.equal(4, #rec.predictions)
    for _, c in ipairs(rec.columns) do assert.are.equal(4, #traj[c], c) end
    -- K(0) is the NTK of the untrained net, on train x train and test x train
    assert.is_true(max_abs_diff(rec.K0, ntklab.ntk_reference(net0, ds.X_train)) < TOL)
    assert.is_true(max_abs_diff(rec.K0_test, ntklab.ntk_reference(net0, ds.X_test, ds.X_train)) < TOL)
    -- K(t_end) is the trained net's
    assert.is_true(max_abs_diff(rec.K_end, ntklab.ntk_reference(net, ds.X_train)) < TOL)
    assert.is_true(max_abs_diff(rec.K_end_test, ntklab.ntk_reference(net, ds.X_test, ds.X_train)) < TOL)
    -- every recorded number is that of the stored snapshot, computed independently
    for i, s in ipairs(rec.snapshots) do
      assert.are.equal(traj.t[i], s.t)
      local K = s.K:totable()
      local y = ds.y_train:totable()
      assert.is_true(math.abs(traj.alignment[i] - kernel_reference.alignment(K, y)) < TOL)
      assert.is_true(math.abs(traj.alignment_centered[i] - kernel_reference.alignment(K, y, true)) < TOL)
      local fro, trace, dot, fro0 = 0, 0, 0, 0
      local K0 = rec.K0:totable()
      for a = 1, #K do
        trace = trace + K[a][a]
        for b = 1, #K do
          fro, dot, fro0 = fro + K[a][b] ^ 2, dot + K[a][b] * K0[a][b], fro0 + K0[a][b] ^ 2
        end
      end
      assert.is_true(math.abs(traj.kernel_norm[i] - math.sqrt(fro)) < TOL * math.sqrt(fro))
      assert.is_true(math.abs(traj.kernel_trace[i] - trace) < TOL * trace)
      assert.is_true(math.abs(traj.kernel_distance[i] - (1 - dot / math.sqrt(fro * fro0))) < TOL)
      assert.is_true(math.abs(traj.eig1[i] - ntklab.kernel_eigs(s.K, 1):get(1)) < TOL * traj.eig1[i])
      assert.are.equal(ds.X_test:size(1), s.k:size(1))
    end
    assert.is_true(math.abs(traj.kernel_distance[1]) < TOL)
    assert.is_true(traj.kernel_distance[4] > 0)
    -- the layers' kernels add up to K: their norms bound it (triangle inequality)
    for i = 1, 4 do
      assert.is_true(traj.layer1_norm[i] + traj.layer2_norm[i] >= traj.kernel_norm[i] * (1 - TOL))
    end
    -- cos(W1^T W1, beta beta^T) of the trained net
    assert.is_true(math.abs(traj.weight_alignment[4] - ntklab.weight_alignment(net:weight(1), ds.beta)) < TOL)
    -- test loss and predictions at the last record are the trained net's
    assert.is_true(math.abs(traj.test_loss[4] - net:loss(ds.X_test, ds.y_test)) < TOL)
    assert.is_true(max_abs_diff(rec.predictions[4], net:forward(ds.X_test)) < TOL)
    -- the trajectory has the layout the analysis and output modules take
    local r = analysis.readouts(traj)
    assert.is_number(r.align90)
  end)

  it("stores no snapshots or predictions unless asked, and reuses its kernel buffer", function()
    local ds, net = problem(2)
    local rec = ntklab.recorder{times = {linear = {0, 1, 11}}, X = ds.X_train, y = ds.y_train,
      X_test = ds.X_test, y_test = ds.y_test, layers = false}
    local tr = ntklab.train.gd{lr = 0.05}
    local first -- the train kernel tensor of the first record
    tr:run(net, ds.X_train, ds.y_train, {t = 1, observe = rec.times, observer = function(...)
      rec.observer(...)
      first = first or rec.K_end
    end})
    assert.are.equal(11, rec:count())
    assert.are.equal(0, #rec.snapshots)
    assert.are.equal(0, #rec.predictions)
    assert.are.equal(first, rec.K_end) -- one buffer, overwritten at each record
    assert.is_nil(rec.trajectory.layer1_norm)
    -- the workspace cached X X^T: every record after the first hit the cache
    assert.is_true(rec.workspace:hits() >= 10, "cache hits: " .. rec.workspace:hits())
    assert.is_true(max_abs_diff(rec.K_end, ntklab.ntk_reference(net, ds.X_train)) < TOL)
  end)

  it("run stops at the first record below stop_loss and builds log-spaced times", function()
    local ds, net = problem(3)
    local rec = ntklab.recorder{times = {log = {1e-2, 1e3, 26}}, X = ds.X_train, y = ds.y_train}
    assert.are.equal(27, #rec.times)
    assert.are.equal(0, rec.times[1])
    assert.are.equal(1e-2, rec.times[2])
    assert.are.equal(1e3, rec.times[27])
    local tr = ntklab.train.flow{method = "rk45", rtol = 1e-6}
    local calls = 0
    rec:run(tr, net, {stop_loss = 1e-3, progress = function() calls = calls + 1 end})
    local loss = rec.trajectory.loss
    local n = #loss
    assert.is_true(loss[n] < 1e-3)
    assert.is_true(loss[n - 1] >= 1e-3)
    assert.are.equal(n, calls)
    assert.is_true(n < 27)
    assert.are.equal(tr.t, rec.trajectory.t[n])
    assert.is_nil(rec.K_end_test) -- no test data
    assert.is_true(rec.seconds > 0)
  end)

  it("a request to finish (ntklab.request_finish, SIGUSR1 to the host) ends run at the next record, once", function()
    local ds, net = problem(3)
    local rec = ntklab.recorder{times = {log = {1e-2, 1e3, 26}}, X = ds.X_train, y = ds.y_train}
    local tr = ntklab.train.flow{method = "rk45", rtol = 1e-6}
    rec:run(tr, net, {progress = function(i) if i == 3 then ntklab.request_finish() end end})
    assert.are.equal(3, rec:count()) -- the record during which it came is the last
    assert.is_true(rec.finished_on_request)
    assert.is_false(ntklab.finish_requested()) -- consumed
    assert.are.equal(tr.t, rec.trajectory.t[3])
    assert.is_true(rec.K_end ~= nil) -- finished: the final kernel of the stopped net
    -- a request withdrawn before the next run changes nothing
    ntklab.request_finish()
    ntklab.request_finish(false)
    local again = ntklab.recorder{times = {0, 1, 2}, X = ds.X_train, y = ds.y_train}
    again:run(ntklab.train.flow{method = "rk45", rtol = 1e-6}, select(2, problem(3)))
    assert.are.equal(3, again:count())
    assert.is_false(again.finished_on_request)
  end)

  it("discrete trainers whose steps pass several record times record each step once", function()
    local ds, net = problem(4)
    local rec = ntklab.recorder{times = {0, 0.01, 0.02, 0.5}, X = ds.X_train, y = ds.y_train}
    rec:run(ntklab.train.gd{lr = 0.25}, net)
    assert.are.same({0, 0.25, 0.5}, rec.trajectory.t)
    -- the same through rec.observer handed to trainer:run, which observes every time
    local ds2, net2 = problem(4)
    local direct = ntklab.recorder{times = {0, 0.01, 0.02, 0.5}, X = ds2.X_train, y = ds2.y_train}
    ntklab.train.gd{lr = 0.25}:run(net2, ds2.X_train, ds2.y_train,
      {t = 0.5, observe = direct.times, observer = direct.observer})
    assert.are.same(rec.trajectory, direct.trajectory)
  end)

  -- Issue 11 B5: the end-of-run slack of discrete methods was 1e-9 lr, which swallowed every
  -- record time below it: a huge lr took no step and observed t = 0 twice. With targets equal
  -- to the net's outputs the gradient is zero, so any lr is a valid (if idle) run.
  for _, case in ipairs{{"gd", 1e8}, {"adam", 1e300}} do
    local method, lr = case[1], case[2]
    it(("a huge lr (%s, lr = %g) steps past the first record times instead of stalling"):format(method, lr), function()
      local ds2, net2 = problem(6)
      local y = net2:forward(ds2.X_train)
      local rec = ntklab.recorder{times = {0, 0.01, 1e-3 * lr, lr}, X = ds2.X_train, y = y}
      local tr = ntklab.train[method]{lr = lr}
      rec:run(tr, net2)
      assert.are.same({0, lr}, rec.trajectory.t)
      assert.are.same({0, 1}, rec.trajectory.step)
      assert.are.equal(lr, tr.t)
    end)
  end

  it("a huge lr on real targets ends in the trainer's non-finite loss report, not in the recorder", function()
    local ds2, net2 = problem(6)
    local rec = ntklab.recorder{times = {0, 0.01, 1}, X = ds2.X_train, y = ds2.y_train}
    local ok, err = pcall(rec.run, rec, ntklab.train.adam{lr = 1e300}, net2)
    assert.is_false(ok)
    -- the trainer's own report (names the loss, step, t and settings), raised before the observer
    -- nan or inf: which one depends on the BLAS kernels' order of operations
    assert.matches("^non%-finite loss %(%-?%a+%) at step %d+, t = [%d.]+e%+300, in adam{lr = 1e%+300", err)
    assert.are.same({0}, rec.trajectory.t)
  end)

  it("rec:run is one trainer:run, whose observer ends it at stop_loss", function()
    -- the same records as driving the trainer by hand (rk45 keeps its step size across records)
    local ds2, net2 = problem(3)
    local by_run = ntklab.recorder{times = {log = {1e-2, 1e3, 26}}, X = ds2.X_train, y = ds2.y_train}
    local tr = ntklab.train.flow{method = "rk45", rtol = 1e-4}
    by_run:run(tr, net2, {stop_loss = 1e-3})
    local ds3, net3 = problem(3)
    local by_hand = ntklab.recorder{times = by_run.times, X = ds3.X_train, y = ds3.y_train}
    local tr3 = ntklab.train.flow{method = "rk45", rtol = 1e-4}
    tr3:run(net3, ds3.X_train, ds3.y_train, {t = by_hand:t_end(), observe = by_hand.times,
      observer = function(...)
        by_hand.observer(...)
        return by_hand.trajectory.loss[by_hand:count()] < 1e-3 -- true ends the run here
      end})
    assert.are.same(by_run.trajectory, by_hand.trajectory)
    assert.are.equal(tr.t, tr3.t)
    assert.are.equal(tr.evals, tr3.evals)
  end)

  it("hands each new record and the finish to its observers, with its own kernels", function()
    local ds2, net2 = problem(7)
    local seen, finished = {}, nil
    local spy = {
      observe = function(_, t, step, loss, n, K)
        seen[#seen + 1] = {t = t, step = step, loss = loss, net = n, K = K:clone()}
      end,
      finish = function(_, n, K, k) finished = {net = n, K = K, k = k} end,
    }
    local rec = ntklab.recorder{times = {0, 0.01, 0.02, 0.5}, X = ds2.X_train, y = ds2.y_train,
      X_test = ds2.X_test, y_test = ds2.y_test, keep_snapshots = true, observers = {spy}}
    rec:run(ntklab.train.gd{lr = 0.25}, net2)
    assert.are.equal(rec:count(), #seen)
    for i, s in ipairs(seen) do
      assert.are.equal(rec.trajectory.t[i], s.t)
      assert.are.equal(rec.trajectory.loss[i], s.loss)
      assert.are.same(rec.snapshots[i].K:totable(), s.K:totable())
      assert.are.equal(net2, s.net)
    end
    assert.are.equal(net2, finished.net)
    assert.are.equal(rec.K_end, finished.K)
    assert.are.equal(rec.K_end_test, finished.k)
  end)

  it("ntklab.direction as an observer: c(t) and its learned part equal the cosines of the kept snapshots", function()
    local direction = require "ntklab.direction"
    local ds2, net2 = problem(11)
    local dir = direction.new{X = ds2.X_train, y = ds2.y_train, X_test = ds2.X_test, predict_every = 2}
    local rec = ntklab.recorder{times = {log = {1e-2, 20, 12}}, X = ds2.X_train, y = ds2.y_train,
      X_test = ds2.X_test, y_test = ds2.y_test, keep_snapshots = true, observers = {dir}}
    rec:run(ntklab.train.flow{method = "rk45", rtol = 1e-6}, net2)
    local n = rec:count()
    assert.are.equal(n, #dir.trajectory.t)
    -- the plain-Lua cosine of two kernels (tables), the independent route
    local function cosine(A, B, C) -- cos(A - C, B - C), C optional
      local ab, aa, bb = 0, 0, 0
      for i = 1, #A do for j = 1, #A[i] do
        local a, b = A[i][j] - (C and C[i][j] or 0), B[i][j] - (C and C[i][j] or 0)
        ab, aa, bb = ab + a * b, aa + a * a, bb + b * b
      end end
      return ab / math.sqrt(aa * bb)
    end
    local Ke, K0 = rec.snapshots[n].K:totable(), rec.snapshots[1].K:totable()
    local ke, k0 = rec.snapshots[n].k:totable(), rec.snapshots[1].k:totable()
    local tr = dir.trajectory
    for i = 1, n do
      local Ki = rec.snapshots[i].K:totable()
      assert.are.equal(rec.trajectory.t[i], tr.t[i])
      assert.is_true(math.abs(tr.direction[i] - cosine(Ki, Ke)) < TOL, i)
      if i > 1 then assert.is_true(math.abs(tr.direction_learned[i] - cosine(Ki, Ke, K0)) < 1e-8, i) end
    end
    for _, row in ipairs(dir.predictor) do
      local ki = rec.snapshots[row.record].k:totable()
      assert.is_true(math.abs(row.test_direction - cosine(ki, ke)) < TOL)
      if row.record > 1 then assert.is_true(math.abs(row.test_direction_learned - cosine(ki, ke, k0)) < 1e-8) end
    end
    -- rows at the first, every 2nd and the last record; predictor_at adds one in order
    assert.are.equal(1, dir.predictor[1].record)
    assert.are.equal(n, dir.predictor[#dir.predictor].record)
    local row = assert(dir:predictor_at(rec.trajectory.t[4] * 0.999))
    assert.are.equal(4, row.record)
    for i = 2, #dir.predictor do assert.is_true(dir.predictor[i].record > dir.predictor[i - 1].record) end
    assert.is_nil((dir:predictor_at(1e9)))
    -- misuse
    assert.has_error(function() direction.new{X = ds2.X_train} end, "bad argument #1 to 'direction.new' (option 'y': tensor required)")
    assert.has_error(function() direction.new{X = ds2.X_train, y = ds2.y_train, every = 2} end,
      "bad argument #1 to 'direction.new' (invalid option 'every'; valid options: 'X', 'X_test', 'layers', 'predict_every', 'stats', 'y')")
    assert.has_error(function() direction.new{X = ds2.X_train, y = ds2.y_train, predict_every = -1} end,
      "bad argument #1 to 'direction.new' (option 'predict_every': integer >= 0 expected, got -1)")
    assert.has_error(function() direction.new{X = ds2.X_train, y = ds2.y_train}:finish() end,
      "bad argument #1 to 'direction:finish' (nothing observed yet)")
    assert.has_error(function() direction.new{X = ds2.X_train, y = ds2.y_train}:predictor_at(1) end,
      "bad argument #1 to 'direction:predictor_at' (finish first)")
  end)

  local ds, net = problem(5)
  local X, y = ds.X_train, ds.y_train
  local function rec() return ntklab.recorder{times = {0, 1}, X = X, y = y} end
  bad_args.cases(it, {
    {"ntklab.recorder", function() ntklab.recorder() end, "bad argument #1 to 'recorder' (table expected"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0, 1}, X = X, y = y, foo = 1} end, "invalid option 'foo'"},
    {"ntklab.recorder", function() ntklab.recorder{X = X, y = y} end, "option 'times' required"},
    {"ntklab.recorder", function() ntklab.recorder{times = {1, 0}, X = X, y = y} end, "strictly ascending"},
    {"ntklab.recorder", function() ntklab.recorder{times = {-1}, X = X, y = y} end, "finite time >= 0 expected at [1]"},
    {"ntklab.recorder", function() ntklab.recorder{times = {log = {0, 1, 5}}, X = X, y = y} end, "log = {from, to, n}"},
    {"ntklab.recorder", function() ntklab.recorder{times = {linear = {0, 1}}, X = X, y = y} end, "{linear = {from, to, n}} expected"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, y = y} end, "option 'X': tensor required"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = ds.X_test} end, "option 'y': 30 rows expected"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = X} end, "one output expected"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, X_test = ds.X_test} end, "go together"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, beta = ntklab.zeros(5)} end, "option 'beta': 6 entries expected"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, topk = 31} end, "option 'topk': integer in [0, 30]"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, layers = 1} end, "option 'layers': boolean expected"},
    {"ntklab.recorder", function() rec():observe("a", 0, 1, net) end, "bad argument #1 to 'recorder:observe' (number expected"},
    {"ntklab.recorder", function() rec():observe(0, 0, 1, {}) end, "bad argument #4 to 'recorder:observe' (ntklab.mlp or ntklab.model expected"},
    {"ntklab.recorder", function() local r = rec(); r:observe(1, 0, 1, net); r:observe(1, 0, 1, net) end, "time after the previous record"},
    {"ntklab.recorder", function() rec():observe(0, 0, 1, ntklab.mlp{widths = {3, 1}, seed = 1}) end, "net with 6 inputs expected"},
    {"ntklab.recorder", function() rec():finish() end, "nothing recorded yet"},
    {"ntklab.recorder", function() rec():run(net, net) end, "bad argument #1 to 'recorder:run' (trainer expected"},
    {"ntklab.recorder", function() rec():run(ntklab.train.gd{lr = 0.1}, net, {stop_loss = -1}) end, "option 'stop_loss'"},
    {"ntklab.recorder", function() rec():run(ntklab.train.gd{lr = 0.1}, net, {foo = 1}) end, "invalid option 'foo'"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, observers = {{}}} end,
      "option 'observers': [1]: object with observe and finish methods expected, got table"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, observers = 1} end,
      "option 'observers': array expected, got number"},
  })
end)
