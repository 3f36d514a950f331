-- 22-metrics: kernel-target alignment (uncentered and centered, labelled; traced and full
-- kernels; per layer), norms, spectra, effective rank, distance, weight alignment, PSD check.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"

-- Plain sums over a few dozen terms: rounding of order 1e-15.
local TOL = 1e-12

local function outer(u, v, s)
  local K = {}
  for i = 1, #u do
    K[i] = {}
    for j = 1, #v do K[i][j] = (s or 1) * u[i] * v[j] end
  end
  return ntklab.tensor(K)
end

describe("metrics", function()
  local rng = ntklab.rng(5)

  it("alignment of K = y y^T is 1, centered and uncentered, and says which", function()
    local y = rng:normal(7)
    local K = outer(y:totable(), y:totable(), 2.5)
    local a, label = ntklab.alignment(K, y)
    assert.is_true(math.abs(a - 1) <= TOL)
    assert.are.equal("uncentered", label)
    local c, clabel = ntklab.alignment(K, y, {centered = true})
    assert.is_true(math.abs(c - 1) <= TOL)
    assert.are.equal("centered", clabel)
  end)

  it("uncentered alignment is y^T K y / (|K|_F |y|^2); centered uses H K H and H y", function()
    local B = rng:normal(6, 6)
    local K = ref.matmul(B, B, false, true)
    local y = rng:normal(6):totable()
    local num, kn, yn = 0, 0, 0
    for i = 1, 6 do
      yn = yn + y[i] ^ 2
      for j = 1, 6 do
        num = num + y[i] * K[i][j] * y[j]
        kn = kn + K[i][j] ^ 2
      end
    end
    local a = ntklab.alignment(ntklab.tensor(K), ntklab.tensor(y))
    assert.is_true(math.abs(a - num / (math.sqrt(kn) * yn)) <= TOL)
    -- centered by hand
    local rm, cm, tm, ym = {}, {}, 0, 0
    for i = 1, 6 do rm[i], cm[i] = 0, 0 end
    for i = 1, 6 do
      ym = ym + y[i] / 6
      for j = 1, 6 do
        rm[i] = rm[i] + K[i][j] / 6
        cm[j] = cm[j] + K[i][j] / 6
        tm = tm + K[i][j] / 36
      end
    end
    local cn, ckn, cyn = 0, 0, 0
    for i = 1, 6 do
      cyn = cyn + (y[i] - ym) ^ 2
      for j = 1, 6 do
        local kc = K[i][j] - rm[i] - cm[j] + tm
        cn = cn + (y[i] - ym) * kc * (y[j] - ym)
        ckn = ckn + kc ^ 2
      end
    end
    local c = ntklab.alignment(ntklab.tensor(K), ntklab.tensor(y), {centered = true})
    assert.is_true(math.abs(c - cn / (math.sqrt(ckn) * cyn)) <= TOL)
  end)

  it("handles C > 1 on the traced (P x P) and on the full (P C x P C) kernel", function()
    local net = ntklab.mlp{widths = {3, 8, 3}, activation = "tanh", seed = 4}
    local X, Y = rng:normal(10, 3), rng:normal(10, 3)
    local Kt = ntklab.ntk(net, X, {output = "trace"})
    local Kf = ntklab.ntk(net, X, {output = "full"})
    local at = ntklab.alignment(Kt, Y)
    local af = ntklab.alignment(Kf, Y)
    assert.is_true(at > -1 and at < 1 and af > -1 and af < 1)
    -- a traced target kernel Y Y^T and a full one vec(Y) vec(Y)^T are perfectly aligned
    local yt, v = Y:totable(), {}
    for i = 1, 10 do for k = 1, 3 do v[#v + 1] = yt[i][k] end end
    assert.is_true(math.abs(ntklab.alignment(outer(v, v), Y) - 1) <= TOL)
    assert.is_true(math.abs(ntklab.alignment(outer(v, v), Y, {centered = true}) - 1) <= TOL)
    -- per layer: each layer's contribution has its own alignment
    local _, layers = ntklab.ntk(net, X, {output = "trace", layers = true})
    for l = 1, 2 do
      local a = ntklab.alignment(layers[l], Y)
      assert.is_true(a > -1 and a < 1)
    end
  end)

  it("norms, trace, top eigenvalues, effective rank and distance", function()
    local D = ntklab.tensor{{3, 0, 0}, {0, 7, 0}, {0, 0, 1}}
    assert.is_true(math.abs(ntklab.kernel_norm(D) - math.sqrt(59)) <= TOL)
    assert.are.equal(11, ntklab.kernel_trace(D))
    assert.are.same({7, 3}, ntklab.kernel_eigs(D, 2):totable())
    assert.is_true(math.abs(ntklab.effective_rank(D) - 121 / 59) <= TOL)
    assert.is_true(math.abs(ntklab.effective_rank(outer({1, 2, 3}, {1, 2, 3})) - 1) <= TOL)
    local I = ntklab.tensor{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
    assert.is_true(math.abs(ntklab.effective_rank(I) - 3) <= TOL)
    assert.is_true(math.abs(ntklab.kernel_distance(D, D:clone())) <= TOL)
    assert.is_true(math.abs(ntklab.kernel_distance(ntklab.tensor{{1, 0}, {0, 0}},
                                                   ntklab.tensor{{0, 0}, {0, 1}}) - 1) <= TOL)
  end)

  it("psd_check reports the minimum eigenvalue instead of failing later", function()
    local ok, lmin, lmax = ntklab.psd_check(ntklab.tensor{{1, 2}, {2, 1}})
    assert.is_false(ok)
    assert.is_true(math.abs(lmin + 1) <= TOL and math.abs(lmax - 3) <= TOL)
    ok, lmin = ntklab.psd_check(outer({1, 2}, {1, 2}))
    assert.is_true(ok)
    assert.is_true(math.abs(lmin) < 1e-14)
    -- a strict tolerance of 0 flags rounding-level negative eigenvalues too
    assert.is_false((ntklab.psd_check(ntklab.tensor{{1, 0}, {0, -1e-18}}, 0)))
  end)

  it("weight_alignment is the cosine of W^T W with beta beta^T", function()
    local beta = {1, -2, 0.5}
    local W = outer({0.3, -1, 2, 0.1}, beta)
    assert.is_true(math.abs(ntklab.weight_alignment(W, ntklab.tensor(beta)) - 1) <= TOL)
    local E = ntklab.tensor{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
    assert.is_true(math.abs(ntklab.weight_alignment(E, ntklab.tensor(beta)) - 1 / math.sqrt(3))
                   <= TOL)
    -- a matrix teacher B (r x D) uses B^T B
    assert.is_true(math.abs(ntklab.weight_alignment(W, ntklab.tensor{beta}) - 1) <= TOL)
  end)
end)
