-- 58-readout_informative: t_align90 is flagged "not informative" when the alignment barely
-- changes or falls (issue 19: there it passes trivially), on constructed trajectories and on a
-- real run whose alignment is flat (the lazy regime: a wide net from a large init).
local ntklab = require "ntklab"
local analysis = ntklab.analysis
local direction = require "ntklab.direction"

describe("informative readouts", function()
  local base = {t = {0, 1, 2, 3, 4}, kernel_norm = {0.01, 0.02, 0.1, 0.8, 1}, loss = {1, 1, 0.9, 0.2, 0.01}}
  local function with(alignment, dir)
    local tr = {alignment = alignment, direction = dir}
    for k, v in pairs(base) do tr[k] = v end
    return tr
  end

  it("flags a flat alignment, a falling one, and passes a growing one", function()
    -- |A_end - A_0| = 0.005 < 0.1 x 0.105: flat
    local flat = analysis.informative(with{0.1, 0.101, 0.103, 0.104, 0.105})
    assert.is_false(flat.align90)
    assert.matches("^not informative: the alignment changes by", flat.reasons.align90)
    -- the issue's Fashion-MNIST case: 0.061 -> 0.056
    local falls = analysis.informative(with{0.061, 0.06, 0.058, 0.057, 0.056})
    assert.is_false(falls.align90)
    assert.matches("decreases", falls.reasons.align90)
    -- either side of the bound 0.1 x A_end
    assert.is_true(analysis.informative(with{0.89, 0.9, 0.9, 0.9, 1}).align90)
    assert.is_false(analysis.informative(with{0.91, 0.9, 0.9, 0.9, 1}).align90)
    local grows = analysis.informative(with{0.05, 0.2, 0.5, 0.6, 0.7})
    assert.is_true(grows.align90)
    assert.is_nil(grows.dir90) -- no direction column
  end)

  it("flags a direction that starts final (1 - c(0) < 0.01), and readouts carry the flags", function()
    local lazy = with({0.1, 0.2, 0.3, 0.4, 0.5}, {0.995, 0.996, 0.998, 0.999, 1})
    local r = analysis.readouts(lazy)
    assert.is_false(r.informative.dir90)
    assert.matches("^not informative: 1 %- c%(0%) = 0.005 < 0.01", r.informative.reasons.dir90)
    local rich = with({0.1, 0.2, 0.3, 0.4, 0.5}, {0.7, 0.75, 0.99, 1, 1})
    assert.is_true(analysis.readouts(rich).informative.dir90)
  end)

  it("a real run with a flat alignment (lazy: width 200, sigma = 1) is flagged not informative", function()
    local rng = ntklab.rng(7)
    local X = rng:normal(60, 10)
    local y = ntklab.matmul(X, rng:normal(10)):tanh()
    local net = ntklab.mlp{widths = {10, 200, 1}, activation = "tanh", sigma = 1, seed = 7}
    local dir = direction.new{X = X, y = y}
    local rec = ntklab.recorder{times = {log = {1e-2, 50, 20}}, X = X, y = y, observers = {dir}}
    rec:run(ntklab.train.flow{method = "rk45", rtol = 1e-6}, net, {stop_loss = 1e-3})
    local tr = rec.trajectory
    for _, c in ipairs(dir.columns) do tr[c] = dir.trajectory[c] end
    local r = analysis.readouts(tr)
    local a = tr.alignment
    assert.is_true(math.abs(a[#a] - a[1]) < 0.1 * a[#a], ("alignment %g -> %g"):format(a[1], a[#a]))
    assert.is_false(r.informative.align90, r.informative.reasons.align90)
    assert.matches("^not informative", r.informative.reasons.align90)
  end)
end)
