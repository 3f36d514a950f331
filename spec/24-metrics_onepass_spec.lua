-- 24-metrics_onepass: the one-pass metrics (kernel_stats, and alignment, kernel_norm and
-- kernel_distance reading K in place) against explicit plain-Lua computations: the centered
-- alignment against an explicit H K H on non-symmetric kernels with a large mean part and
-- targets of non-zero mean; the full (P C) layout's (H (x) I) K (H (x) I); transposed,
-- narrowed and strided views; entries whose squares overflow or underflow; and the
-- cancellation-prone case K close to a constant matrix.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

-- Sums of a few hundred terms of size ~10: rounding ~1e-14 relative; the one-pass centered
-- norm subtracts terms up to ~100 times |H K H|_F^2 (guarded below 1e-4), so 1e-11 leaves room.
local TOL = 1e-11

local function tab(T) return type(T) == "table" and T or T:totable() end

-- Plain-Lua references on tables. Full layout: row mu*m + a; m = 1 for a P x P kernel.
local function ref_center(K, P, m)
  local n = P * m
  local H = {}
  for i = 1, n do
    H[i] = {}
    for j = 1, n do
      local same_out = (i - 1) % m == (j - 1) % m
      H[i][j] = (i == j and 1 or 0) - (same_out and 1 / P or 0)
    end
  end
  local mul = require("spec.support.ops_reference").matmul
  return mul(mul(H, K), H), H
end

-- <K, z z^T> / (|K|_F |z|^2) for one target column z (n entries).
local function ref_align(K, z)
  local n = #z
  local num, kn, zn = 0, 0, 0
  for i = 1, n do
    zn = zn + z[i] ^ 2
    for j = 1, n do
      num = num + z[i] * K[i][j] * z[j]
      kn = kn + K[i][j] ^ 2
    end
  end
  return num / (math.sqrt(kn) * zn)
end

local function ref_centered(K, z, P, m)
  local Kc, H = ref_center(K, P, m)
  return ref_align(Kc, require("spec.support.ops_reference").matvec(H, z))
end

local function ref_norm(K)
  local s = 0
  for i = 1, #K do for j = 1, #K[i] do s = s + K[i][j] ^ 2 end end
  return math.sqrt(s)
end

local function ref_distance(A, B)
  local ab = 0
  for i = 1, #A do for j = 1, #A[i] do ab = ab + A[i][j] * B[i][j] end end
  return 1 - ab / (ref_norm(A) * ref_norm(B))
end

local function near(a, b, tol)
  return math.abs(a - b) <= (tol or TOL) * math.max(1, math.abs(b))
end

describe("one-pass metrics", function()
  local rng = ntklab.rng(11)

  -- K = B B^T + 5 (a large constant part) + a non-symmetric perturbation; y with mean ~0.7
  local function case(P)
    local B = rng:normal(P, 4):totable()
    local E = rng:normal(P, P):totable()
    local K = {}
    for i = 1, P do
      K[i] = {}
      for j = 1, P do
        local s = 5 + 0.3 * E[i][j]
        for k = 1, 4 do s = s + B[i][k] * B[j][k] end
        K[i][j] = s
      end
    end
    local y = rng:normal(P):totable()
    for i = 1, P do y[i] = y[i] + 0.7 end
    return K, y
  end

  it("centered alignment equals the explicit H K H on non-symmetric K and off-mean y", function()
    local P = 9
    local K, y = case(P)
    local Kt, yt = ntklab.tensor(K), ntklab.tensor(y)
    local c = ntklab.alignment(Kt, yt, {centered = true})
    assert.is_true(near(c, ref_centered(K, y, P, 1)))
    assert.is_true(near(ntklab.alignment(Kt, yt), ref_align(K, y)))
    -- the centering matters here: the uncentered value is far from the centered one
    assert.is_true(math.abs(c - ntklab.alignment(Kt, yt)) > 0.05)
  end)

  it("kernel_stats gives all five from one call, equal to the separate functions", function()
    local P = 8
    local K, y = case(P)
    local K0 = case(P)
    local Kt, yt, K0t = ntklab.tensor(K), ntklab.tensor(y), ntklab.tensor(K0)
    local s = ntklab.kernel_stats(Kt, yt, K0t)
    assert.is_true(near(s.norm, ref_norm(K)))
    local tr = 0
    for i = 1, P do tr = tr + K[i][i] end
    assert.is_true(near(s.trace, tr))
    assert.is_true(near(s.alignment, ref_align(K, y)))
    assert.is_true(near(s.alignment_centered, ref_centered(K, y, P, 1)))
    assert.is_true(near(s.distance, ref_distance(K, K0)))
    assert.are.equal(ntklab.kernel_norm(Kt), s.norm)
    assert.is_true(near(ntklab.kernel_distance(Kt, K0t), s.distance, 1e-14))
    -- without K0 there is no distance
    assert.is_nil(ntklab.kernel_stats(Kt, yt).distance)
  end)

  it("multi-output: traced Y Y^T and full vec(Y) vec(Y)^T layouts, centered per output", function()
    local P, C = 5, 3
    local Y = rng:normal(P, C):totable()
    for i = 1, P do Y[i][2] = Y[i][2] + 2 end -- one output far off zero mean
    local Kf = case(P * C)
    local v = {}
    for i = 1, P do for a = 1, C do v[#v + 1] = Y[i][a] end end
    local Yt = ntklab.tensor(Y)
    assert.is_true(near(ntklab.alignment(ntklab.tensor(Kf), Yt), ref_align(Kf, v)))
    assert.is_true(near(ntklab.alignment(ntklab.tensor(Kf), Yt, {centered = true}),
                        ref_centered(Kf, v, P, C)))
    -- the same through the row-by-row pass (K^T read along memory makes K0 strided), and
    -- through the rescaled pass (squares that overflow)
    local KfT = {}
    for i = 1, P * C do
      KfT[i] = {}
      for j = 1, P * C do KfT[i][j] = Kf[j][i] end
    end
    local s = ntklab.kernel_stats(ntklab.tensor(Kf):t(), Yt, ntklab.tensor(Kf))
    assert.is_true(near(s.alignment_centered, ref_centered(KfT, v, P, C)))
    assert.is_true(near(s.alignment, ref_align(KfT, v)))
    assert.is_true(near(s.distance, ref_distance(KfT, Kf)))
    s = ntklab.kernel_stats(ntklab.tensor(Kf) * 1e300, Yt)
    assert.is_true(near(s.alignment_centered, ref_centered(Kf, v, P, C)))
    -- traced: <K, Y Y^T> = sum_a y_a^T K y_a, |Y Y^T|_F = |Y^T Y|_F; centered: H K H, H Y
    local K = case(P)
    local function traced(Kx, Yx)
      local num, g = 0, 0
      for a = 1, C do
        for i = 1, P do for j = 1, P do num = num + Yx[i][a] * Kx[i][j] * Yx[j][a] end end
        for b = 1, C do
          local s = 0
          for i = 1, P do s = s + Yx[i][a] * Yx[i][b] end
          g = g + s * s
        end
      end
      return num / (ref_norm(Kx) * math.sqrt(g))
    end
    assert.is_true(near(ntklab.alignment(ntklab.tensor(K), Yt), traced(K, Y)))
    local Kc = ref_center(K, P, 1)
    local Yc = {}
    for i = 1, P do Yc[i] = {} end
    for a = 1, C do
      local mean = 0
      for i = 1, P do mean = mean + Y[i][a] / P end
      for i = 1, P do Yc[i][a] = Y[i][a] - mean end
    end
    assert.is_true(near(ntklab.alignment(ntklab.tensor(K), Yt, {centered = true}), traced(Kc, Yc)))
  end)

  it("reads transposed, narrowed and strided views in place, with the same results", function()
    local P = 7
    local K, y = case(P)
    local K0 = case(P)
    local Kt, yt, K0t = ntklab.tensor(K), ntklab.tensor(y), ntklab.tensor(K0)
    local KT = {}
    for i = 1, P do
      KT[i] = {}
      for j = 1, P do KT[i][j] = K[j][i] end
    end
    -- K^T: a column-major view
    local s = ntklab.kernel_stats(Kt:t(), yt, K0t)
    assert.is_true(near(s.alignment_centered, ref_centered(KT, y, P, 1)))
    assert.is_true(near(s.alignment, ref_align(KT, y)))
    assert.is_true(near(s.norm, ref_norm(K)))
    assert.is_true(near(s.distance, ref_distance(KT, K0)))
    -- mixed layouts in the distance, both orders
    assert.is_true(near(ntklab.kernel_distance(Kt:t(), K0t), ref_distance(KT, K0)))
    assert.is_true(near(ntklab.kernel_distance(K0t, Kt:t()), ref_distance(K0, KT)))
    -- a P x P window of a larger tensor (row stride P + 3) and its transpose
    local big = rng:normal(P + 2, P + 3)
    local win = big:narrow(1, 2, P):narrow(2, 3, P)
    assert.is_false(win:is_contiguous())
    local W, WT = win:totable(), win:t():totable()
    s = ntklab.kernel_stats(win, yt, K0t)
    assert.is_true(near(s.alignment_centered, ref_centered(W, y, P, 1)))
    assert.is_true(near(s.distance, ref_distance(W, K0)))
    assert.is_true(near(ntklab.kernel_norm(win), ref_norm(W)))
    assert.is_true(near(ntklab.kernel_trace(win:t()), s.trace))
    s = ntklab.kernel_stats(win:t(), yt, K0t:t())
    assert.is_true(near(s.alignment_centered, ref_centered(WT, y, P, 1)))
    assert.is_true(near(s.distance, ref_distance(W, K0)))
    -- targets as a strided column of a matrix; a 1-D strided tensor's norm
    local Ymat = ntklab.zeros(P, 2)
    for i = 1, P do Ymat:set(i, 2, y[i]) end
    local col = Ymat:select(2, 2)
    assert.is_false(col:is_contiguous())
    assert.is_true(near(ntklab.alignment(Kt, col, {centered = true}), ref_centered(K, y, P, 1)))
    local yn = 0
    for i = 1, P do yn = yn + y[i] ^ 2 end
    assert.is_true(near(ntklab.kernel_norm(col), math.sqrt(yn)))
  end)

  it("entries whose squares overflow or underflow, and K close to a constant", function()
    local P = 6
    local K, y = case(P)
    local Kt, yt = ntklab.tensor(K), ntklab.tensor(y)
    local base = ntklab.kernel_stats(Kt, yt, Kt:t())
    for _, f in ipairs{1e200, 1e-200} do
      local s = ntklab.kernel_stats(Kt * f, yt * f, Kt:t() * (1 / f))
      assert.is_true(near(s.norm, base.norm * f))
      assert.is_true(near(s.trace, base.trace * f))
      assert.is_true(near(s.alignment, base.alignment))
      assert.is_true(near(s.alignment_centered, base.alignment_centered))
      assert.is_true(near(s.distance, base.distance))
      assert.is_true(near(ntklab.kernel_distance(Kt * f, Kt:t()), base.distance))
      assert.is_true(near(ntklab.kernel_norm((Kt * f):t()), base.norm * f))
    end
    -- K = 1e6 (a constant) + a small part: |H K H|_F^2 is ~1e-12 of |K|_F^2, below what the
    -- one-pass formula resolves; the explicit second pass must give the reference
    local C = {}
    local E = rng:normal(P, P):totable()
    for i = 1, P do
      C[i] = {}
      for j = 1, P do C[i][j] = 1e6 + E[i][j] end
    end
    local c = ntklab.alignment(ntklab.tensor(C), yt, {centered = true})
    assert.is_true(near(c, ref_centered(C, y, P, 1), 1e-8))
  end)

  bad_args.cases(it, {
    {"ntklab.kernel_stats", function() ntklab.kernel_stats(ntklab.zeros(3, 2), ntklab.zeros(3)) end,
     "bad argument #1 to 'kernel_stats' (square matrix expected, got [3 x 2])"},
    {"ntklab.kernel_stats", function() ntklab.kernel_stats(ntklab.zeros(3, 3), {1, 2, 3}) end,
     "bad argument #2 to 'kernel_stats'"},
    {"ntklab.kernel_stats", function() ntklab.kernel_stats(ntklab.zeros(3, 3), ntklab.zeros(4)) end,
     "kernel of size 3 matches neither P = 4 nor P*C = 4 of targets [4]"},
    {"ntklab.kernel_stats", function() ntklab.kernel_stats(ntklab.zeros(3, 3), ntklab.tensor{1, 2, 3}) end,
     "bad argument #1 to 'kernel_stats' (zero kernel: alignment undefined)"},
    {"ntklab.kernel_stats", function()
       ntklab.kernel_stats(ntklab.tensor{{1, 0}, {0, 1}}, ntklab.tensor{2, 2}) end,
     "bad argument #2 to 'kernel_stats' (constant targets: centered alignment undefined)"},
    {"ntklab.kernel_stats", function()
       ntklab.kernel_stats(ntklab.tensor{{1, 0}, {0, 1}}, ntklab.tensor{1, 2}, ntklab.zeros(3, 3)) end,
     "bad argument #3 to 'kernel_stats' (shape [2 x 2] (as K) expected, got [3 x 3])"},
    {"ntklab.kernel_stats", function()
       ntklab.kernel_stats(ntklab.tensor{{1, 0}, {0, 1}}, ntklab.tensor{1, 2}, ntklab.zeros(2, 2)) end,
     "bad argument #3 to 'kernel_stats' (zero kernel: distance undefined)"},
    {"ntklab.kernel_stats", function()
       ntklab.kernel_stats(ntklab.tensor{{1, 0}, {0, 1}}, ntklab.tensor{1, 2}, nil, 4) end,
     "bad argument #4 to 'kernel_stats' (no value expected (K, y [, K0]))"},
  })
end)
