-- 63-deep_relu_experiment: experiments/deep_relu.lua (Appendix E.2) on small settings (P = 40
-- whitened Fashion-MNIST images, 40 test points, width 50, loss down to 1% of its start): the readouts and predictors it
-- reports, against direct computations from the files it writes.
local ntklab = require "ntklab"
local curves = require "ntklab.curves"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local M = dofile(source .. "/experiments/deep_relu.lua")
local runs = dofile(source .. "/spec/support/experiment_run.lua")

local SMALL = {width = 50, P = 40, test = 40, dataset = "fashion_mnist", cutoff = 1e-2, kernels = true,
  kernel_records = 4, rtol = 1e-3, t_min = 1e-2, t_max = 1e4, per_decade = 5, max_change = 0.1,
  stop_ratio = 1e-2, seed = 1}

local config = runs.config(SMALL)

local have_fashion = runs.have_fashion_mnist()

describe("experiments/deep_relu.lua", function()
  -- through the runner, in-process: options checked as on the command line, files into exp.dir
  local exp = runs.in_scratch(M, setup, teardown)
  local run = exp.run

  it("L = 3: t_1/2 from its loss records, kernel readouts, predictors from its prediction file", function()
    if not have_fashion then pending("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)") return end
    local r = assert(run(config{depth = 3, sigma = 0.1}))
    assert.is_true(r.converged)
    assert.is_truthy(r.dataset:find("Fashion-MNIST classes 0/1", 1, true))
    -- t_1/2 is the crossing of the recorded loss at half its initial value
    local T = assert(ntklab.io.read_csv(exp.dir .. "/loss.csv", {header = true}))
    local t, loss = {}, {}
    for i = 1, T:size(1) do t[i], loss[i] = T:get(i, 1), T:get(i, 2) end
    assert.are.equal(curves.crossing(t, loss, loss[1] / 2), r.t_half)
    assert.are.equal(r.loss_initial, loss[1])
    -- predictors: rel L2 error of each kernel predictor against the net, from predictions.csv
    local Pr = assert(ntklab.io.read_csv(exp.dir .. "/predictions.csv", {header = true}))
    assert.are.equal(40, Pr:size(1))
    local function rel_err(col)
      local num, den = 0, 0
      for i = 1, Pr:size(1) do num, den = num + (Pr:get(i, col) - Pr:get(i, 2)) ^ 2, den + Pr:get(i, 2) ^ 2 end
      return math.sqrt(num / den)
    end
    assert.is_true(math.abs(rel_err(3) - r.final_ntk_rel_err) < 1e-9)
    assert.is_true(math.abs(rel_err(4) - r.initial_ntk_rel_err) < 1e-9)
    -- the trained net is kernel regression with its final NTK far better than with its initial one
    assert.is_true(r.final_ntk_rel_err < r.initial_ntk_rel_err)
    assert.is_true(r.alignment_final > r.alignment_initial)
    assert.is_true(r.kernel_norm_final > 10 * r.kernel_norm_initial)
    assert.is_number(r.t_align90)
    assert.is_number(r.t_kernel10)
    assert.are.equal(r.silent, r.t_align90 < r.t_kernel10 and r.final_ntk_rel_err <= 0.1 and r.initial_over_final >= 3)
  end)

  it("kernels = false records the loss alone", function()
    if not have_fashion then pending("Fashion-MNIST not installed") return end
    local r = assert(run(config{depth = 2, sigma = 0.1, kernels = false}))
    assert.is_number(r.t_half)
    assert.is_nil(r.final_ntk_rel_err)
    assert.is_nil(r.t_align90)
    local verdict = M.verdict(r)
    assert.are.equal("converged", verdict)
  end)

  it("fails with a message on settings it cannot run", function()
    local summary, err = run(config{depth = 2, sigma = 0})
    assert.is_nil(summary)
    assert.is_truthy(tostring(err):find("need sigma > 0", 1, true))
  end)
end)
