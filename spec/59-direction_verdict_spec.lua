-- 59-direction_verdict: the silent-alignment verdict times the kernel's direction (t_dir90 <
-- t_kernel10, issue 19) and states that rule; t_dir90's definition on constructed curves; the
-- verdict changes when t_dir90 >= t_kernel10 although the alignment's timing would pass.
local analysis = require "ntklab".analysis
local bad_args = require "spec.support.bad_args"

local function close(a, b) return math.abs(a - b) < 1e-12 end

describe("t_dir90 and the direction verdict", function()
  -- kernel norm reaches 10% of its final value between t = 2 and 3 (at 2 + 0.08/0.3)
  local base = {t = {0, 1, 2, 3, 4, 5}, kernel_norm = {0.01, 0.01, 0.02, 0.32, 0.9, 1},
    loss = {1, 1, 1, 0.8, 0.1, 0.01}}
  -- the alignment's timing passes trivially here: it falls (t_align90 = the first record)
  local falling = {0.061, 0.06, 0.059, 0.058, 0.057, 0.056}
  local function traj(dir, align)
    local tr = {direction = dir, alignment = align or falling}
    for k, v in pairs(base) do tr[k] = v end
    return tr
  end
  local preds = {final_ntk = {rel_err = 0.04}, initial_ntk = {rel_err = 0.2}}

  it("t_dir90: c(t) - c(0) >= 0.9 (1 - c(0)) for good, interpolated, after the last dip", function()
    -- c(0) = 0.5: threshold 0.95; crosses between t = 1 (0.9) and 2 (1.0): t = 1.5
    assert.is_true(close(analysis.t_dir90(traj{0.5, 0.9, 1, 1, 1, 1}), 1.5))
    -- a dip below the threshold after a first crossing: the crossing after the dip counts
    assert.is_true(close(analysis.t_dir90(traj{0.5, 0.96, 0.9, 1, 1, 1}), 2.5))
    local none, msg = analysis.t_dir90(traj{1, 1, 1, 1, 1, 1})
    assert.is_nil(none)
    assert.matches("never moves", msg)
  end)

  it("silent when t_dir90 < t_kernel10 and the predictors agree; the rule says so", function()
    local v = analysis.verdict(analysis.readouts(traj{0.5, 0.9, 1, 1, 1, 1}), preds)
    assert.is_true(v.silent, v.reason)
    assert.are.equal("direction", v.timing)
    assert.matches("^t_dir90 < t_kernel10", v.rule)
    assert.matches("final_ntk.rel_err <= 0.1 and initial_ntk.rel_err >= 3", v.rule)
    assert.matches("^t_dir90 = 1.5 < t_kernel10 = 2.26", v.reason)
  end)

  it("not silent when t_dir90 >= t_kernel10, although t_align90 < t_kernel10 (constructed case)", function()
    -- the direction moves only when the kernel grows: crosses 0.95 between t = 3 (0.8) and 4 (1)
    local late = analysis.readouts(traj{0.5, 0.55, 0.6, 0.8, 1, 1})
    assert.is_true(late.align90 < late.kernel10) -- the old rule would have said silent
    local v = analysis.verdict(late, preds)
    assert.is_false(v.silent)
    assert.matches("^t_dir90 = 3.75 is not before t_kernel10 = 2.26", v.reason)
    -- exactly equal is not before
    local tie = analysis.verdict({dir90 = 2, kernel10 = 2, messages = {}}, preds)
    assert.is_false(tie.silent)
    -- the predictor rule still applies when the timing passes
    local early = analysis.readouts(traj{0.5, 0.9, 1, 1, 1, 1})
    local bad = analysis.verdict(early, {final_ntk = {rel_err = 0.04}, initial_ntk = {rel_err = 0.05}})
    assert.is_false(bad.silent)
    assert.matches("less than 3 x", bad.reason)
  end)

  it("a direction that never becomes final by the last record is no silent alignment", function()
    local v = analysis.verdict(analysis.readouts(traj{1, 1, 1, 1, 1, 1}), preds)
    assert.is_false(v.silent)
    assert.matches("missing: initial direction cosine 1", v.reason)
  end)

  it("without a direction column the old alignment timing is used, and the rule says it is weak", function()
    local v = analysis.verdict(analysis.readouts(traj(nil, {0.1, 0.5, 0.9, 0.95, 0.96, 0.96})), preds)
    assert.are.equal("alignment", v.timing)
    assert.matches("passes trivially when the alignment falls", v.rule)
  end)

  bad_args.cases(it, {
    {"ntklab.analysis.t_dir90", function() analysis.t_dir90{t = {0, 1}, alignment = {1, 2}} end,
      "bad argument #1 to 'analysis.t_dir90' (trajectory field 'direction' missing)"},
    {"ntklab.analysis.t_dir90", function() analysis.t_dir90(traj{0.5, 1, 1, 1, 1, 1}, 2) end,
      "bad argument #2 to 'analysis.t_dir90' (fraction in (0, 1] expected, got 2)"},
    {"ntklab.analysis.informative", function() analysis.informative{t = {0, 1}} end,
      "bad argument #1 to 'analysis.informative' (trajectory field 'alignment' missing)"},
    {"ntklab.analysis.informative", function() analysis.informative(traj{0.5, 0 / 0, 1, 1, 1, 1}) end,
      "bad argument #1 to 'analysis.informative' (trajectory field 'direction' is NaN at record 2)"},
  })
end)
