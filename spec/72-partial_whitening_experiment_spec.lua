-- 72-partial_whitening_experiment: experiments/partial_whitening.lua (Figure 4's runs) at small
-- settings through the host: the dataset chooser, the spectrum's normalization per gamma, the
-- predictors (final NTK, initial NTK, Adam's kernel) and the files the figure script reads;
-- then experiments/figures/partial_whitening.lua on a merged two-run sweep.
local output = require "ntklab.output"
local lfs = require "lfs"

local files = require "spec.support.files"
local host = files.host
local q = files.q
local script = files.source_dir .. "/experiments/partial_whitening.lua"

-- Covariance eigenvalues are lambda_k^gamma / lambda_1^gamma: compare gamma = 0.5 with the
-- square root of gamma = 1 (same data, same seed); both are rounding-level outputs of one SVD.
local SPECTRUM_TOL = 1e-9

local function have_fashion()
  return io.open("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "rb") ~= nil
end

local function run(args, env)
  local dir = files.scratch_dir()
  local p = io.popen((env or "") .. q(host) .. " run " .. q(script) .. " " .. args .. " --quiet --out "
    .. q(dir .. "/run") .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, dir .. "/run", dir
end

local SMALL = "--P 60 --test 40 --records 6"

describe("experiments/partial_whitening.lua", function()
  it("on the power-law teacher: spectrum lambda_k^gamma with lambda_1 = 1, flow and both predictors", function()
    local spectra = {}
    for _, g in ipairs{0.5, 1} do
      local code, out, dir, top = run(SMALL .. " --dataset powerlaw --dim 30 --trainer flow --gamma " .. g)
      assert.are.equal(0, code, out)
      local s = assert(output.read_json(dir .. "/summary.json"))
      assert.are.equal("powerlaw", s.data.dataset)
      assert.are.equal("k^-1", s.data.spectrum)
      assert.is_nil(s.predictors.final_adam_kernel)
      -- the trained net is closer to its final NTK's regression than to its initial one's
      assert.is_true(s.predictors.final_ntk.rel_err < s.predictors.initial_ntk.rel_err)
      local _, cols = output.read_csv(dir .. "/spectrum.csv")
      assert.is_true(math.abs(cols.lambda[1] - 1) < SPECTRUM_TOL)
      spectra[g] = cols.lambda
      files.remove_tree(top)
    end
    assert.are.equal(#spectra[1], #spectra[0.5])
    for k = 1, #spectra[1] do
      assert.is_true(math.abs(spectra[0.5][k] - math.sqrt(spectra[1][k])) < SPECTRUM_TOL)
    end
    -- and a real decay: the teacher's k^-1 over 30 directions
    assert.is_true(spectra[1][#spectra[1]] < 0.1)
  end)

  it("auto picks CIFAR-10 when present, else Fashion-MNIST, and names it; Adam adds Eq. 91's kernel", function()
    if not have_fashion() then
      pending("dataset-fashion-mnist is not installed (scripts/setup installs it as root)")
      return
    end
    local empty = files.scratch_dir()
    -- an empty data cache: no CIFAR-10 batches, so auto falls back to Fashion-MNIST
    local code, out, dir, top = run(SMALL .. " --gamma 0.5", "NTKLAB_DATA=" .. q(empty) .. " ")
    assert.are.equal(0, code, out)
    local s = assert(output.read_json(dir .. "/summary.json"))
    assert.are.equal("fashion_mnist", s.data.dataset)
    assert.are.equal("0/1", s.data.classes)
    assert.are.equal("adam", s.trainer.method or s.config.trainer)
    assert.is_number(s.predictors.final_adam_kernel.rel_err)
    local header = output.read_csv(dir .. "/predictions.csv")
    assert.are.same({"index", "target", "net", "final_ntk", "initial_ntk", "adam_kernel"}, header)
    -- the figure script draws from a merge of this run's directory
    local sweep_dir = top .. "/sweep"
    local p = io.popen(q(host) .. " sweep " .. q(script) .. " --grid gamma=0,1 --seeds 1 --jobs 1 --P 40 --test 20 "
      .. "--records 4 --out " .. q(sweep_dir) .. " >/dev/null 2>&1 && " .. q(host) .. " sweep merge "
      .. q(sweep_dir) .. " >/dev/null 2>&1 && NTKLAB_DATA=" .. q(empty) .. " " .. q(host) .. " "
      .. q(files.source_dir .. "/experiments/figures/partial_whitening.lua") .. " " .. q(top .. "/fig4.png")
      .. " test " .. q(sweep_dir) .. " 2>&1")
    local fig_out = p:read("a")
    local _, _, fcode = p:close()
    assert.are.equal(0, fcode, fig_out)
    assert.matches("| adam | 1 |", fig_out, 1, true)
    assert.is_true((lfs.attributes(top .. "/fig4.png", "size") or 0) > 1000)
    files.remove_tree(top)
    files.remove_tree(empty)
  end)

  it("rejects a dataset it does not know, with the choices", function()
    local code, out, _, top = run("--dataset cifar")
    assert.are.equal(2, code)
    assert.matches("cifar10", out)
    assert.matches("powerlaw", out)
    files.remove_tree(top)
  end)
end)
