-- 82-multiclass_transfer_experiments: experiments/multiclass.lua and experiments/transfer.lua
-- run in-process at small sizes, then their figure scripts draw from the files alone.
local experiment = require "ntklab.experiment"
local lfs = require "lfs"
local files = require "spec.support.files"
local host = files.host
local q = files.q

local function scratch()
  local base = os.tmpname()
  os.remove(base)
  return base .. ".d"
end

local function figure(script, dir)
  local p = io.popen(q(host) .. " " .. q(files.source_dir .. "/experiments/figures/" .. script) .. " " .. q(dir) .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  assert.are.equal(0, code, out)
end

describe("experiments/multiclass.lua", function()
  it("two layers: every mode is learned within 15% of theory.mode_times, in order", function()
    local dir = scratch()
    local s = assert(experiment.run(files.source_dir .. "/experiments/multiclass.lua",
      {P = 40, D = 10, C = 3, s = "3,1,0.3", width = 20, records = 150, quiet = true, out = dir}))
    -- measured 0.4-0.7% at the default sizes; the issue's bound is 15%
    assert.is_true(s.max_rel_time_error <= 0.15, tostring(s.max_rel_time_error))
    assert.is_true(s.order_ok)
    assert.is_true(math.abs(s.final_alignment - s.final_alignment_theory) <= 1e-3)
    figure("multiclass.lua", dir)
    local name = dir:match("([^/]+)$")
    assert.is_true((lfs.attributes(dir .. "/multiclass_" .. name .. "_modes.png", "size") or 0) > 1000)
  end)
end)

describe("experiments/transfer.lua", function()
  it("Eq. 67 against ridge regression; the per-direction normalization is rejected", function()
    local dir = scratch()
    local s = assert(experiment.run(files.source_dir .. "/experiments/transfer.lua",
      {D = 30, Ps = "5,15", As = "0,4", alphas = "0.5,0.9", trials = 150, depth = 2, width = 10,
       P_train = 60, sigma = 0.05, quiet = true, out = dir}))
    -- 2 standard errors hold for ~95% of the points when Eq. 67 is right, up to its finite-D
    -- corrections (spec 47: a few % at D = 30): ask for 80%
    assert.is_true(s.within_2se >= 0.8 * s.points, s.within_2se .. " of " .. s.points)
    -- (1 - alpha^2)/(D - 1) per direction is off by far more
    assert.is_true(s.per_direction_normalization_max_z > 10)
    -- a two-layer linear net's final NTK has A = L - 1 = 1 (NOTES.md, Eq. 63)
    assert.is_true(math.abs(s.A_fit - 1) <= 0.1, tostring(s.A_fit))
    figure("transfer.lua", dir)
    for _, f in ipairs{"transfer_a", "transfer_b", "transfer_c", "transfer_learned"} do
      assert.is_true((lfs.attributes(dir .. "/" .. f .. ".png", "size") or 0) > 1000, f)
    end
  end)
end)
