-- 52-linear_two_layer_experiment: experiments/linear_two_layer.lua on the synthetic data
-- (D = 25, N = 10, whitened): q(t), r(t) within 1e-3 s of the theory at every record for small
-- sigma, t_1/2 - (1/2s) log(s/sigma^2) the same for every sigma, and its files complete.
local output = require "ntklab.output"
local lfs = require "lfs"

local files = require "spec.support.files"
local host = files.host
local script = files.source_dir .. "/experiments/linear_two_layer.lua"

local q = files.q

-- The issue's bound on |q_sim - q_theory| / s at every record.
local QR_TOL = 1e-3
-- t_1/2 offsets from (1/2s) log(s/sigma^2): the closed form's O(sigma^2) corrections move them
-- by ~sigma^2 / s = 1e-4 here; the interpolation between records (spacing ~0.08) by less than
-- that spacing. 0.02 is a quarter of a record spacing, far below the formula's range (2.3).
local OFFSET_SPREAD = 0.02

describe("experiments/linear_two_layer.lua", function()
  it("matches the two-layer theory on whitened synthetic data", function()
    local base = os.tmpname()
    os.remove(base)
    local dir = base .. ".d"
    local p = io.popen(q(host) .. " run " .. q(script) .. " --sigmas 1e-3,1e-2 --records 120 --quiet --out "
      .. q(dir) .. " 2>&1")
    local out = p:read("a")
    local _, _, code = p:close()
    assert.are.equal(0, code, out)
    local s = assert(output.read_json(dir .. "/summary.json"))
    assert.are.equal(25, s.data.D)
    assert.are.equal(10, s.data.N)
    assert.is_true(s.qr_within_1e3_s)
    assert.is_true(s.max_q_err_over_s <= QR_TOL, tostring(s.max_q_err_over_s))
    assert.is_true(s.max_r_err_over_s <= QR_TOL, tostring(s.max_r_err_over_s))
    assert.are.equal(2, #s.runs)
    for _, r in ipairs(s.runs) do assert.is_number(r.t_half) end
    assert.is_true(s.t_half.offset_spread < OFFSET_SPREAD, tostring(s.t_half.offset_spread))
    assert.is_true(s.t_half.formula_range > 2)
    for _, f in ipairs(s.files.plots) do assert.is_true((lfs.attributes(f, "size") or 0) > 1000, f) end
    local fh = assert(io.open(dir .. "/trajectories.csv"))
    assert.are.equal("sigma,t,loss,q_sim,r_sim,q_theory,r_theory", fh:read("l"))
    local rows = 0
    for _ in fh:lines() do rows = rows + 1 end
    fh:close()
    assert.are.equal(240, rows)
    for name in lfs.dir(dir) do if name ~= "." and name ~= ".." then os.remove(dir .. "/" .. name) end end
    lfs.rmdir(dir)
  end)
end)
