-- 36-wide_resnet_experiment: experiments/wide_resnet.lua (Figure 1d-e, Appendix J) on tiny
-- settings (P = 10 Fashion-MNIST or CIFAR-10 images, 6 Adam steps): the summary names its data,
-- its readouts are the centered alignment's, its predictor errors are those of its own
-- predictions.csv, and the figure script draws from a merged sweep.
local ntklab = require "ntklab"
local csv = require "ntklab.csv"
local json = require "ntklab.json"
local images = require "ntklab.images"
local sweep = require "ntklab.sweep"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local M = dofile(source .. "/experiments/wide_resnet.lua")
local figure = dofile(source .. "/experiments/figures/wide_resnet.lua")
local runs = dofile(source .. "/spec/support/experiment_run.lua")
local files = dofile(source .. "/spec/support/files.lua")

-- the summary's errors against those recomputed from its CSV (printed with 17 digits)
local REL_TOL = 1e-12

local SMALL = {P = 10, test = 8, steps = 6, per_decade = 2, tile = 4, seed = 1}
local config = runs.config(SMALL)

local have_images = images.load{train = 2, test = 1} ~= nil

local function read(path)
  local header, cols = csv.read_csv(path)
  assert(header, cols)
  return cols
end

-- |a - b| / |b| over two arrays
local function rel_l2(a, b)
  local num, den = 0, 0
  for i = 1, #b do num, den = num + (a[i] - b[i]) ^ 2, den + b[i] ^ 2 end
  return math.sqrt(num / den)
end

describe("experiments/wide_resnet.lua", function()
  local exp = runs.in_scratch(M)
  setup(exp.setup)
  teardown(exp.teardown)

  it("runs, names its data, and reports the centered alignment's readouts", function()
    if not have_images then pending("neither CIFAR-10 nor Fashion-MNIST installed") return end
    local s = assert(exp.run(config{}))
    assert.is_truthy(s.data.name == "CIFAR-10 0/1" or s.data.name == "Fashion-MNIST 0/1")
    if s.data.dataset == "fashion_mnist" then assert.is_truthy(s.data.fallback:find("CIFAR-10 not found", 1, true)) end
    assert.are.same({1, 28, 28}, s.data.dataset == "fashion_mnist" and s.data.shape or {1, 28, 28})
    assert.is_true(s.data.whitened)
    assert.are.equal(ntklab.wide_resnet{k = 1, b = 1, outputs = 1, input = s.data.shape, seed = 1}:nparams(),
      s.net.nparams)
    assert.are.equal(6, s.final.step)
    local tr = read(exp.dir .. "/trajectory.csv")
    assert.are.equal(s.records, #tr.t)
    -- records at exactly the planned Adam steps (0, then log-spaced, then the last)
    assert.are.same({0, 1, 3, 6}, M.record_steps(6, 2))
    assert.are.same(M.record_steps(6, 2), tr.step)
    -- the readouts are the centered alignment's (recomputed from the CSV)
    local t90 = ntklab.analysis.t_align90{t = tr.t, alignment = tr.alignment_centered}
    assert.are.equal(t90, s.readouts.t_align90)
    assert.are.equal(ntklab.analysis.t_kernel10{t = tr.t, kernel_norm = tr.kernel_norm}, s.readouts.t_kernel10)
    assert.are.equal(s.readouts.t_align90 < s.readouts.t_kernel10, s.readouts.silent_timing)
    assert.are.equal(tr.alignment_centered[#tr.t], s.alignment.centered_final)
    -- the predictor errors are those of predictions.csv
    local pr = read(exp.dir .. "/predictions.csv")
    assert.are.equal(8, #pr.net)
    for _, key in ipairs{"final_ntk", "initial_ntk"} do
      local want = rel_l2(pr[key], pr.net)
      assert.is_true(math.abs(s.predictors[key].rel_err - want) <= REL_TOL * want, key)
    end
    assert.is_number(s.predictors.final_adam_kernel.rel_err)
    assert.are.equal(s.verdict.timing and s.verdict.predicts, s.verdict.silent)
    local text = M.verdict(s)
    assert.is_truthy(text:find(s.data.name, 1, true))
  end)

  it("records every step early, then per_decade steps per decade", function()
    local steps = M.record_steps(2000, 20)
    for s = 0, 11 do assert.are.equal(s, steps[s + 1]) end -- spacing under one step up to 11
    assert.are.equal(2000, steps[#steps])
    local per_decade = 0
    for _, s in ipairs(steps) do if s >= 100 and s < 1000 then per_decade = per_decade + 1 end end
    assert.are.equal(20, per_decade)
    for i = 2, #steps do assert.is_true(steps[i] > steps[i - 1]) end
    assert.are.same({0, 1, 2}, M.record_steps(2, 20))
    assert.are.same({0, 1}, M.record_steps(1, 20))
  end)

  it("unwhitened (gamma = 1, J.1) says so; shortcut = neural_tangents reaches the net", function()
    if not have_images then pending("neither CIFAR-10 nor Fashion-MNIST installed") return end
    local s = assert(exp.run(config{gamma = 1, steps = 2, shortcut = "neural_tangents"}))
    assert.is_false(s.data.whitened)
    -- and the shortcut option reaches the builder
    assert.are.equal("neural_tangents", s.net.shortcut)
    assert.are.equal(ntklab.wide_resnet{k = 1, b = 1, outputs = 1, input = s.data.shape, seed = 1,
      shortcut = "neural_tangents"}:nparams(), s.net.nparams)
    assert.is_truthy(M.verdict(s):find("gamma = 1", 1, true))
  end)

  it("sweeps over b and draws the figure from the merged table", function()
    if not have_images then pending("neither CIFAR-10 nor Fashion-MNIST installed") return end
    local dir = exp.dir .. "/sweep_b"
    local plan = assert(sweep.plan{module = source .. "/experiments/wide_resnet.lua",
      grid = {{"b", {"1", "2"}}}, seeds = {1}, out = dir, host = files.host, threads = 1,
      fixed = {"--P", "6", "--test", "4", "--steps", "2", "--per-decade", "1", "--tile", "3"}})
    assert(sweep.write_plan(plan))
    local done = sweep.run_local(plan, 1)
    assert.are.equal(2, done)
    local merged = assert(sweep.merge(dir))
    assert.are.equal(2, merged.done)
    local png = dir .. "/fig.png"
    local table_md = figure.draw(png, dir, "b")
    assert.is_truthy(table_md:find("| b = 2 |", 1, true))
    local f = assert(io.open(png, "rb"))
    assert.are.equal("\137PNG", f:read(4))
    f:close()
    assert.is_truthy(json.read_json(dir .. "/runs.json"))
  end)
end)
