-- 61-deep_linear_experiment: experiments/deep_linear.lua (Figure 3, Appendix E.1) on small
-- settings (D = 8, N = 10, P = 16): its readouts against ntklab.theory, and the issue's
-- "done when" claims measured on runs of a few tenths of a second each.
local theory = require "ntklab.theory"
local curves = require "ntklab.curves"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local M = dofile(source .. "/experiments/deep_linear.lua")
local runs = dofile(source .. "/spec/support/experiment_run.lua")

-- On the aligned start the ODE is exact: what is left is rk45 (rtol 1e-9 on parameters of
-- size u) and the cubic crossing on records at most max_change apart (measured ~1e-11).
local ALIGNED_TOL = 1e-6

local SMALL = {width = 10, dim = 8, P = 16, s = 1, rtol = 1e-9, t_min = 1e-2, t_max = 1e10,
  per_decade = 10, max_change = 0.05, stop_ratio = 1e-8, seed = 1, init = "random"}

local config = runs.config(SMALL)

describe("experiments/deep_linear.lua", function()
  -- through the runner, in-process: options checked as on the command line, files into exp.dir
  local exp = runs.in_scratch(M, setup, teardown)
  local run = exp.run

  it("from the aligned start, t_1/2 and the final alignment are theory's", function()
    for _, L in ipairs{2, 3, 4} do
      local r = assert(run(config{depth = L, sigma = 0.3, init = "aligned"}))
      assert.is_true(r.converged)
      assert.is_true(math.abs(r.c0 - 0.3 ^ L) < 1e-15)
      assert.is_true(math.abs(r.t_half / r.t_half_ode - 1) < ALIGNED_TOL, ("L = %d: %.12g vs %.12g"):format(L, r.t_half, r.t_half_ode))
      assert.is_true(math.abs(r.t_c_half / r.t_c_half_ode - 1) < ALIGNED_TOL)
      -- the kernel is exactly u^{2L-2} x^T[(L-1)bb^T + I]x' along the way: L/sqrt(L^2 + D - 1)
      assert.is_true(math.abs(r.alignment_final / theory.max_alignment(L, 8) - 1) < 1e-9)
      assert.is_true(math.abs(r.cos_final - 1) < 1e-12)
      assert.is_true(r.balance_drift < 1e-8)
    end
    -- the trajectory file: header and one row per record
    local f = assert(io.open(exp.dir .. "/trajectory.csv"))
    assert.are.equal("t,loss,c,cos,alignment,kernel_norm", f:read("l"))
    f:close()
  end)

  it("Figure 3a, 3c on random init: slopes 2 - L, t_cos1/2 < t_1/2, L = 2 logarithmic", function()
    local sigmas = {3e-3, 1e-2, 3e-2}
    for _, L in ipairs{2, 3, 4} do
      local ts, tc = {}, {}
      for k, sigma in ipairs(sigmas) do
        local r = assert(run(config{depth = L, sigma = sigma}))
        assert.is_true(r.converged)
        assert.is_true(r.t_cos_half < r.t_half, ("L = %d, sigma = %g: t_cos %g, t_half %g"):format(L, sigma, r.t_cos_half, r.t_half))
        ts[k], tc[k] = r.t_half, r.t_cos_half
      end
      if L == 2 then
        -- t_1/2 = (1/2s) log(s/sigma^2) + const: the offsets agree within 2% of t_1/2
        local off = {}
        for k, sigma in ipairs(sigmas) do off[k] = ts[k] - theory.t_half_asymptotic(sigma, 2, 1) end
        for k = 2, #off do assert.is_true(math.abs(off[k] - off[1]) < 0.02 * ts[k], ("offsets %g, %g"):format(off[1], off[k])) end
      else
        local fit, fit_cos = curves.power_law(sigmas, ts), curves.power_law(sigmas, tc)
        assert.is_true(math.abs(fit.slope - (2 - L)) < 0.1, ("L = %d: slope %g"):format(L, fit.slope))
        assert.is_true(math.abs(fit_cos.slope - (2 - L)) < 0.1, ("L = %d: cos slope %g"):format(L, fit_cos.slope))
      end
    end
  end)

  it("E.1: the final alignment is within 2% of L/sqrt(L^2 + r - 1) and the first layer aligns", function()
    for _, L in ipairs{2, 3, 4, 5} do
      local r = assert(run(config{depth = L, sigma = 0.03}))
      assert.are.equal(r.alignment_theory, theory.max_alignment(L, 8))
      assert.is_true(r.alignment_rel_err < 0.02, ("L = %d: %g vs %g"):format(L, r.alignment_final, r.alignment_theory))
      assert.is_true(r.cos_final > 0.99)
      assert.is_true(r.alignment_final > r.alignment_initial)
    end
  end)

  it("fails with a message on settings it cannot run", function()
    local summary, err = run(config{depth = 2, sigma = 0.1, P = 4})
    assert.is_nil(summary)
    assert.is_truthy(tostring(err):find("whitening needs P >= dim, got P = 4, dim = 8", 1, true))
    summary, err = run(config{depth = 2, sigma = 0.1, t_min = 5, t_max = 1})
    assert.is_nil(summary)
    assert.is_truthy(tostring(err):find("need 0 < t_min < t_max", 1, true))
    -- a failed run leaves no summary
    assert.is_nil(io.open(exp.dir .. "/summary.json"))
    -- an option the module does not declare is the runner's bad argument
    local ok, msg = pcall(run, config{depth = 2, sigma = 0.1, widht = 3})
    assert.is_false(ok)
    assert.is_truthy(tostring(msg):find("unknown option 'widht'", 1, true))
  end)
end)
