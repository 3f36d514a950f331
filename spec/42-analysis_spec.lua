-- 42-analysis: predictor comparison, kernel alignment and the silent-alignment readouts on
-- synthetic trajectories whose answers are known.
local ntklab = require "ntklab"
local analysis = require "ntklab.analysis"
local kernel_reference = require "spec.support.kernel_reference"

-- Hand-computed answers below are exact in decimal but not in binary: 1e-12 covers rounding.
local EXACT = 1e-12

local function close(a, b, tol) return math.abs(a - b) <= (tol or EXACT) * math.max(1, math.abs(b)) end
local function isnan(x) return x ~= x end

describe("analysis.compare", function()
  it("is perfect for identical vectors", function()
    local c = analysis.compare({1, 2, 3, 5}, {1, 2, 3, 5})
    assert.are.equal(1, c.corr)
    assert.are.equal(0, c.rel_err)
    assert.are.equal(1, c.r2)
    assert.are.equal(4, c.n)
    assert.are.equal("ref", c.reference)
  end)

  it("measures the relative error against the reference (second argument)", function()
    -- pred = 2 ref: |pred - ref| / |ref| = 1, but |pred - ref| / |pred| would be 0.5.
    local ref = {1, -1, 2, 0}
    local c = analysis.compare({2, -2, 4, 0}, ref)
    assert.is_true(close(c.rel_err, 1))
    assert.is_true(close(c.corr, 1))
    -- r2 = 1 - sum (pred - ref)^2 / sum (ref - mean)^2 = 1 - 6 / (0.25 + 3.25 + 2.25 + 0.25 ... )
    local mean, ss = 0.5, 0
    for _, b in ipairs(ref) do ss = ss + (b - mean) ^ 2 end
    assert.is_true(close(c.r2, 1 - 6 / ss))
    local back = analysis.compare(ref, {2, -2, 4, 0})
    assert.is_true(close(back.rel_err, 0.5))
  end)

  it("matches a direct Pearson computation on an irregular pair, and accepts tensors", function()
    local a, b = {0.3, -1.2, 2.5, 0.7, 0.1}, {0.1, -1.0, 2.2, 1.1, -0.4}
    local ma, mb = 0, 0
    for i = 1, 5 do ma, mb = ma + a[i] / 5, mb + b[i] / 5 end
    local sab, saa, sbb = 0, 0, 0
    for i = 1, 5 do
      sab = sab + (a[i] - ma) * (b[i] - mb)
      saa = saa + (a[i] - ma) ^ 2
      sbb = sbb + (b[i] - mb) ^ 2
    end
    local c = analysis.compare(ntklab.tensor(a), ntklab.tensor{b})
    assert.is_true(close(c.corr, sab / math.sqrt(saa * sbb)))
    -- and column matrices (P x 1 predictions) too
    local col = {}
    for i = 1, 5 do col[i] = {a[i]} end
    assert.are.same(c, analysis.compare(col, b))
  end)

  it("reports undefined statistics as NaN, not as numbers", function()
    local c = analysis.compare({1, 1, 1}, {1, 2, 3})
    assert.is_true(isnan(c.corr))
    assert.is_true(c.rel_err > 0)
    local z = analysis.compare({1, 2}, {0, 0})
    assert.is_true(isnan(z.rel_err))
    assert.is_true(isnan(z.r2))
  end)
end)

-- The library's alignment (C, through analysis.kernel_alignment) and the plain-Lua twin the
-- recorder specs check against, both against the same closed forms.
for _, impl in ipairs{{"analysis.kernel_alignment", analysis.kernel_alignment},
                      {"kernel_reference.alignment (plain-Lua twin)", kernel_reference.alignment}} do
  local name, kernel_alignment = impl[1], impl[2]
  describe(name, function()
    it("is 1 for K = y y^T and 1/sqrt(P) for K = I with |y| any", function()
      local y = {1, -2, 0.5}
      local K = {}
      for i = 1, 3 do K[i] = {} for j = 1, 3 do K[i][j] = y[i] * y[j] end end
      assert.is_true(close(kernel_alignment(K, y), 1))
      assert.is_true(close(kernel_alignment({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, y), 1 / math.sqrt(3)))
    end)

    it("centered: equals the uncentered alignment of H K H with H y (explicit H)", function()
      local K = {{2, 0.5, 0.1, 0}, {0.5, 1, 0.3, 0.2}, {0.1, 0.3, 3, 1}, {0, 0.2, 1, 1.5}}
      local y = {1, 0.2, -0.7, 2}
      local P = 4
      local H = {}
      for i = 1, P do H[i] = {} for j = 1, P do H[i][j] = (i == j and 1 or 0) - 1 / P end end
      local function mm(A, B)
        local C = {}
        for i = 1, P do C[i] = {} for j = 1, P do
          local s = 0
          for k = 1, P do s = s + A[i][k] * B[k][j] end
          C[i][j] = s
        end end
        return C
      end
      local HKH = mm(mm(H, K), H)
      local Hy = {}
      for i = 1, P do Hy[i] = 0 for k = 1, P do Hy[i] = Hy[i] + H[i][k] * y[k] end end
      assert.is_true(close(kernel_alignment(K, y, true), kernel_alignment(HKH, Hy)))
      assert.is_false(close(kernel_alignment(K, y, true), kernel_alignment(K, y), 1e-3))
      -- The input is not modified by centering.
      assert.are.equal(2, K[1][1])
      assert.are.equal(1, y[1])
    end)

    it("is NaN for a zero kernel or zero targets", function()
      assert.is_true(isnan(kernel_alignment({{0, 0}, {0, 0}}, {1, 2})))
      assert.is_true(isnan(kernel_alignment({{1, 0}, {0, 1}}, {0, 0})))
    end)
  end)
end

describe("silent-alignment readouts", function()
  it("t_align90 interpolates the crossing after the last record below 90% of the final value", function()
    -- piecewise linear data: the interpolated answer is exact
    local traj = {t = {0, 1, 2, 3}, alignment = {0, 0.5, 0.95, 1.0}}
    assert.is_true(close(analysis.t_align90(traj), 1 + 0.4 / 0.45))
    -- non-monotone: reaches 0.95 early, drops to 0.5, comes back; "stays" means the last crossing
    local bumpy = {t = {0, 1, 2, 3, 4}, alignment = {0, 0.95, 0.5, 0.92, 1.0}}
    assert.is_true(close(analysis.t_align90(bumpy), 2 + 0.4 / 0.42))
    -- another fraction
    assert.is_true(close(analysis.t_align90(traj, 0.5), 1))
  end)

  it("t_align90 on a smooth curve: 1 - e^{-t} sampled every 0.01", function()
    local traj = {t = {}, alignment = {}}
    for i = 0, 1000 do traj.t[i + 1] = i * 0.01; traj.alignment[i + 1] = 1 - math.exp(-i * 0.01) end
    local final = traj.alignment[#traj.alignment]
    local want = -math.log(1 - 0.9 * final)
    -- Linear interpolation error: h^2/8 |a''| / |a'| = 1e-4/8 (curvature over slope is 1).
    assert.is_true(math.abs(analysis.t_align90(traj) - want) < 2e-5)
  end)

  it("t_align90: already there at the first record, single record, non-positive final", function()
    assert.are.equal(5, analysis.t_align90{t = {5, 6, 7}, alignment = {0.95, 0.97, 1}})
    assert.are.equal(3, analysis.t_align90{t = {3}, alignment = {0.5}})
    local none, msg = analysis.t_align90{t = {0, 1}, alignment = {0.2, -0.1}}
    assert.is_nil(none)
    assert.matches("not positive", msg)
  end)

  it("t_kernel10 is the first passage of 10% of the final norm, measured from zero", function()
    local traj = {t = {0, 1, 2, 3}, kernel_norm = {0.01, 0.05, 0.2, 1.0}}
    assert.is_true(close(analysis.t_kernel10(traj), 1 + 0.05 / 0.15))
    -- overshoot then dip: the first passage counts
    assert.is_true(close(analysis.t_kernel10{t = {0, 1, 2, 3}, kernel_norm = {0.01, 0.3, 0.05, 1}},
      0 + 0.09 / 0.29))
    -- lazy regime: the initial kernel is already above 10% of the final -> t[1]
    assert.are.equal(2, analysis.t_kernel10{t = {2, 4}, kernel_norm = {0.5, 1}})
    assert.are.equal(7, analysis.t_kernel10{t = {7}, kernel_norm = {3}})
    -- measured from the initial norm instead: 0.5 + 0.1 (1 - 0.5) = 0.55 at t = 2 + 0.05/0.5
    assert.is_true(close(analysis.t_kernel10({t = {2, 4}, kernel_norm = {0.5, 1}}, nil, "initial"), 2.2))
    assert.is_true(close(analysis.t_kernel10({t = {0, 1, 2, 3}, kernel_norm = {0.01, 0.05, 0.2, 1.0}}, 0.1, "zero"),
      1 + 0.05 / 0.15))
    local flat, why = analysis.t_kernel10({t = {0, 1}, kernel_norm = {1, 1}}, nil, "initial")
    assert.is_nil(flat)
    assert.matches("does not grow", why)
    local none, msg = analysis.t_kernel10{t = {0, 1}, kernel_norm = {1, 0}}
    assert.is_nil(none)
    assert.matches("not positive", msg)
  end)

  it("t_half is the first passage of half the initial loss; nil, msg when it never happens", function()
    assert.is_true(close(analysis.t_half{t = {0, 2, 4, 6}, loss = {1, 0.8, 0.4, 0.1}}, 2 + 2 * 0.3 / 0.4))
    assert.is_true(close(analysis.t_half{t = {0, 1, 2, 3}, loss = {1, 0.4, 0.9, 0.1}}, 1 / 0.6 * 0.5))
    local none, msg = analysis.t_half{t = {0, 1, 2}, loss = {1, 0.9, 0.7}}
    assert.is_nil(none)
    assert.matches("never reached 0.5 of its initial value 1 %(lowest 0.7", msg)
    none, msg = analysis.t_half{t = {0}, loss = {2}}
    assert.is_nil(none)
    assert.matches("never", msg)
    none, msg = analysis.t_half{t = {0, 1}, loss = {0, 0}}
    assert.is_nil(none)
    assert.matches("initial loss 0 is not positive", msg)
  end)

  local silent = {
    t = {0, 1, 2, 3, 4, 5},
    alignment = {0.1, 0.5, 0.9, 0.95, 0.96, 0.96},
    kernel_norm = {0.001, 0.002, 0.01, 0.05, 0.6, 1.0},
    loss = {1, 1, 0.99, 0.9, 0.2, 0.01},
  }

  it("readouts collects the three times, with messages for missing ones", function()
    local r = analysis.readouts(silent)
    assert.is_true(close(r.align90, 1 + (0.864 - 0.5) / 0.4))
    assert.is_true(close(r.kernel10, 3 + 0.05 / 0.55))
    assert.is_true(close(r.half_loss, 3 + 0.4 / 0.7))
    assert.are.same({}, r.messages)
    local flat = {t = {0, 1}, alignment = {0.2, 0.3}, kernel_norm = {1, 2}, loss = {1, 1}}
    local f = analysis.readouts(flat)
    assert.is_nil(f.half_loss)
    assert.matches("never", f.messages.half_loss)
  end)

  it("verdict states its rule and decides by it", function()
    local v = analysis.verdict(silent)
    assert.is_true(v.silent)
    assert.matches("t_align90 < t_kernel10", v.rule)
    assert.matches("^t_align90 = ", v.reason)
    -- alignment after the kernel grows: not silent
    local late = {t = silent.t, alignment = {0.1, 0.1, 0.1, 0.2, 0.5, 0.96},
      kernel_norm = silent.kernel_norm, loss = silent.loss}
    local nv = analysis.verdict(late)
    assert.is_false(nv.silent)
    assert.matches("is not before", nv.reason)
    -- from a readouts table, with predictors
    local r = analysis.readouts(silent)
    local good = analysis.verdict(r, {final_ntk = {rel_err = 0.05}, initial_ntk = {rel_err = 0.4}})
    assert.is_true(good.silent)
    assert.matches("final_ntk.rel_err <= 0.1 and initial_ntk.rel_err >= 3", good.rule)
    local bad = analysis.verdict(r, {final_ntk = {rel_err = 0.05}, initial_ntk = {rel_err = 0.1}})
    assert.is_false(bad.silent)
    assert.matches("less than 3 x", bad.reason)
    local far = analysis.verdict(r, {final_ntk = {rel_err = 0.2}, initial_ntk = {rel_err = 0.9}})
    assert.is_false(far.silent)
    -- a missing readout is never silent
    local missing = analysis.verdict{align90 = 1}
    assert.is_false(missing.silent)
    assert.matches("missing", missing.reason)
  end)
end)
