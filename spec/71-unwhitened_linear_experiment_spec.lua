-- 71-unwhitened_linear_experiment: experiments/unwhitened_linear.lua (Figure C.1) and
-- experiments/phase_portrait.lua (Figure 2), run through the host at small settings: the two
-- alignment phases the issue asks for, the files the figure scripts read, and the figures.
local output = require "ntklab.output"
local lfs = require "lfs"

local files = require "spec.support.files"
local host = files.host
local q = files.q

-- The issue's criterion: at the end of phase I the top eigenvector of M is within cos 0.99 of
-- Sigma beta (sigma <= 1e-3).
local SPIKE_COS = 0.99
-- At the end of phase I the kernel has NOT yet turned to beta: with this spectrum (k^-1, D = 10,
-- P = 6, seed 1) Sigma beta and beta are 45 degrees apart (cos 0.70); 0.9 separates the phases.
local NOT_YET_BETA = 0.9
-- The end: W^T a is X^+ y up to the O(sigma) part of W0^T a off the data span (sigma = 1e-3:
-- measured 6.3e-4); spec 70 checks 1e-6 at sigma = 1e-7.
local MIN_NORM_TOL = 3e-3
-- Early theory of |a|^2 vs the simulation while |a|^2 < 1e-3 s: O(|a|^2/s) dropped terms plus
-- the rk45 tolerance.
local EARLY_TOL = 1e-2

local function run(script, args)
  local base = os.tmpname()
  os.remove(base)
  local dir = base .. ".d"
  local p = io.popen(q(host) .. " run " .. q(files.source_dir .. "/experiments/" .. script) .. " " .. args
    .. " --quiet --out " .. q(dir) .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  assert.are.equal(0, code, out)
  return dir, assert(output.read_json(dir .. "/summary.json"))
end

local function remove(dir)
  for name in lfs.dir(dir) do if name ~= "." and name ~= ".." then os.remove(dir .. "/" .. name) end end
  lfs.rmdir(dir)
end

describe("experiments/unwhitened_linear.lua", function()
  it("shows the spike along Sigma beta, then the realignment to the min-norm interpolator", function()
    local dir, s = run("unwhitened_linear.lua", "--records 120")
    assert.is_true(s.phase_I.cos_sigma_beta >= SPIKE_COS, tostring(s.phase_I.cos_sigma_beta))
    assert.is_true(s.phase_I.cos_beta < NOT_YET_BETA, tostring(s.phase_I.cos_beta))
    assert.is_true(s.final.cos_beta >= SPIKE_COS, tostring(s.final.cos_beta))
    assert.is_true(s.final.rel_dist_min_norm < MIN_NORM_TOL, tostring(s.final.rel_dist_min_norm))
    assert.is_true(s.early.max_rel_err_a2 < EARLY_TOL, tostring(s.early.max_rel_err_a2))
    assert.are.equal(3, #s.snapshots)
    local header = output.read_csv(dir .. "/kernels.csv")
    assert.are.same({"label", "t", "g11", "g12", "g22"}, header)
    assert.is_true((lfs.attributes(dir .. "/fig_c1.png", "size") or 0) > 1000)
    remove(dir)
  end)
end)

describe("experiments/phase_portrait.lua", function()
  it("turns the kernel before the weights move (Figure 2)", function()
    local dir, s = run("phase_portrait.lua", "--records 120")
    assert.are.equal(2, s.data.D)
    assert.are.equal(1, s.data.P)
    -- P = 1: Sigma beta is parallel to beta, so the phase-I kernel already points at the solution
    assert.is_true(s.phase_I.cos_beta >= SPIKE_COS, tostring(s.phase_I.cos_beta))
    -- ... while the function has moved by about |a|^2 = 1e-2 s only
    assert.is_true(s.phase_I.beta_norm_over_s < 0.05, tostring(s.phase_I.beta_norm_over_s))
    assert.is_true(s.final.rel_dist_min_norm < MIN_NORM_TOL, tostring(s.final.rel_dist_min_norm))
    assert.is_true((lfs.attributes(dir .. "/fig2.png", "size") or 0) > 1000)
    remove(dir)
  end)
end)
