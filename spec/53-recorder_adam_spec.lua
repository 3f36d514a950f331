-- 53-recorder_adam: the recorder's adam option (Adam's kernel, paper Eq. 91). Every recorded
-- Adam column and every kept K_eta is checked against an independent computation from the
-- explicit Jacobian, J diag(eta) J^T in plain Lua, with eta = trainer:effective_lr(net) read
-- at the same moment; alignments against the plain-Lua twin of the alignment (spec/support).
local ntklab = require "ntklab"
local data = require "ntklab.data"
local bad_args = require "spec.support.bad_args"
local kernel_reference = require "spec.support.kernel_reference"

-- The same kernel by two routes (sqrt(eta)-scaled BLAS tiles vs a plain-Lua triple sum over
-- ~100 parameters): rounding of sums whose terms reach eta ~ lr / sqrt(v_hat) ~ 1e2, relative.
local TOL = 1e-10

local function problem()
  local ds = assert(data.teacher{P = 20, D = 5, test = 7, seed = 4})
  local net = ntklab.mlp{widths = {5, 10, 1}, activation = "relu", sigma = 0.5, seed = 4}
  return ds, net
end

-- K = J1 diag(eta) J2^T from the explicit Jacobians, as a Lua table of rows.
local function eta_kernel(net, eta, X1, X2)
  local J1, J2 = ntklab.jacobian(net, X1):totable(), ntklab.jacobian(net, X2):totable()
  local e = eta:totable()
  local K = {}
  for a = 1, #J1 do
    K[a] = {}
    for b = 1, #J2 do
      local s = 0
      for j = 1, #e do s = s + J1[a][j] * e[j] * J2[b][j] end
      K[a][b] = s
    end
  end
  return K
end

local function rel_diff(A, Kt)
  local B = Kt:totable()
  local m, scale = 0, 0
  for a = 1, #A do
    for b = 1, #A[a] do
      m = math.max(m, math.abs(A[a][b] - B[a][b]))
      scale = math.max(scale, math.abs(A[a][b]))
    end
  end
  return m / scale
end

local frobenius = require("spec.support.ops_reference").frobenius

local function is_nan(v) return v ~= v end

describe("recorder with adam", function()
  it("records Adam's kernel norm and alignments as computed from the Jacobian at each record", function()
    local ds, net = problem()
    local tr = ntklab.train.adam{lr = 1e-2}
    local rec = ntklab.recorder{times = {0, 0.01, 0.05, 0.2, 0.5}, X = ds.X_train, y = ds.y_train,
      X_test = ds.X_test, y_test = ds.y_test, adam = tr}
    local y = ds.y_train:totable()
    local refs = {}
    -- an observer that records, then takes the reference with the same net and eta
    local function observer(t, step, loss, n)
      rec:observe(t, step, loss, n)
      if tr.steps > 0 then
        local eta = tr:effective_lr(n)
        refs[rec:count()] = {K = eta_kernel(n, eta, ds.X_train, ds.X_train),
          k = eta_kernel(n, eta, ds.X_test, ds.X_train)}
      end
    end
    tr:run(net, ds.X_train, ds.y_train, {t = 0.5, observe = rec.times, observer = observer})
    rec:finish(net)
    local traj = rec.trajectory
    for _, c in ipairs{"adam_norm", "adam_alignment", "adam_alignment_centered"} do
      assert.are.equal(5, #traj[c], c)
      -- t = 0: no Adam step yet, no v_hat: NaN by definition
      assert.is_true(is_nan(traj[c][1]), c)
    end
    assert.is_nil(refs[1])
    for i = 2, 5 do
      local K = refs[i].K
      assert.is_true(math.abs(traj.adam_norm[i] - frobenius(K)) <= TOL * frobenius(K), "norm " .. i)
      assert.is_true(math.abs(traj.adam_alignment[i] - kernel_reference.alignment(K, y)) < TOL)
      assert.is_true(math.abs(traj.adam_alignment_centered[i] - kernel_reference.alignment(K, y, true)) < TOL)
    end
    -- K_eta at the first record after a step and at the last, train and test x train
    assert.are.equal(0.01, rec.t_adam0)
    assert.is_true(rel_diff(refs[2].K, rec.K_adam0) < TOL)
    assert.is_true(rel_diff(refs[2].k, rec.K_adam0_test) < TOL)
    assert.is_true(rel_diff(refs[5].K, rec.K_adam_end) < TOL)
    assert.is_true(rel_diff(refs[5].k, rec.K_adam_end_test) < TOL)
    -- Adam's kernel is not a multiple of the plain NTK (else this option would add nothing)
    assert.is_true(math.abs(traj.adam_alignment[5] - traj.alignment[5]) > 1e-3)
    -- the plain columns are those of a recorder without the option
    local ds2, net2 = problem()
    local tr2 = ntklab.train.adam{lr = 1e-2}
    local plain = ntklab.recorder{times = rec.times, X = ds2.X_train, y = ds2.y_train}
    tr2:run(net2, ds2.X_train, ds2.y_train, {t = 0.5, observe = plain.times, observer = plain.observer})
    assert.are.same(plain.trajectory.alignment, traj.alignment)
    assert.are.same(plain.trajectory.kernel_norm, traj.kernel_norm)
  end)

  it("reuses its kernel tensor and keeps the workspace's cached input Gram", function()
    local ds, net = problem()
    local tr = ntklab.train.adam{lr = 1e-2}
    local rec = ntklab.recorder{times = {linear = {0.01, 0.1, 10}}, X = ds.X_train, y = ds.y_train,
      adam = tr, layers = false}
    local K_adam -- the Adam kernel tensor of the first record (after a step: t = 0.01)
    rec:run(tr, net, {progress = function() K_adam = K_adam or rec.K_adam_end end})
    assert.are.equal(10, rec:count())
    assert.is_not_nil(K_adam)
    assert.are.equal(K_adam, rec.K_adam_end)
    -- the plain kernel's input Gram is served from the cache at every record after the first:
    -- the eta path between them neither recomputes nor invalidates it
    assert.are.equal(9, rec.workspace:hits())
    assert.is_nil(rec.K_adam_end_test) -- no test set
  end)

  it("leaves the Adam kernels undefined when no record follows a step", function()
    local ds, net = problem()
    local tr = ntklab.train.adam{lr = 1e-2}
    local rec = ntklab.recorder{times = {0}, X = ds.X_train, y = ds.y_train, X_test = ds.X_test,
      y_test = ds.y_test, adam = tr}
    rec:observe(0, 0, net:loss(ds.X_train, ds.y_train), net)
    rec:finish(net)
    assert.is_true(is_nan(rec.trajectory.adam_norm[1]))
    assert.is_nil(rec.K_adam0)
    assert.is_nil(rec.K_adam_end)
    assert.is_nil(rec.K_adam_end_test)
  end)

  local ds = assert(data.teacher{P = 6, D = 3, test = 2, seed = 1})
  local X, y = ds.X_train, ds.y_train
  bad_args.cases(it, {
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, adam = 1} end,
      "option 'adam': trainer expected, got number"},
    {"ntklab.recorder", function() ntklab.recorder{times = {0}, X = X, y = y, adam = ntklab.train.gd{lr = 0.1}} end,
      "option 'adam': adam trainer expected, got method 'gd'"},
    {"ntklab.recorder", function()
      -- a trainer that stepped a net of another size: its eta does not fit this net
      local other = ntklab.mlp{widths = {3, 4, 1}, seed = 1}
      local tr = ntklab.train.adam{lr = 1e-2}
      tr:run(other, X, y, {steps = 1})
      local rec = ntklab.recorder{times = {0}, X = X, y = y, adam = tr}
      rec:observe(0.01, 1, 1, ntklab.mlp{widths = {3, 5, 1}, seed = 1})
    end, "parameters expected (the trainer's)"},
    {"ntklab.recorder", function()
      local rec = ntklab.recorder{times = {0, 1}, X = X, y = y, adam = ntklab.train.adam{lr = 1e-2}}
      rec:run(ntklab.train.adam{lr = 1e-2}, ntklab.mlp{widths = {3, 4, 1}, seed = 1})
    end, "bad argument #1 to 'recorder:run' (the trainer given as option 'adam' expected"},
  })
end)
