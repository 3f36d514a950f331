-- 06-rng: ntklab.rng, the seeded xoshiro256** generator: determinism (same seed, same bits on
-- every machine), clones and reseeding, moments of uniform and normal draws, integers and
-- permutations, and bad arguments.
local ntklab = require "ntklab"

-- Every statistical check below compares an average over N draws with its exact expectation,
-- allowing Z standard errors. The seeds are fixed, so a check cannot flake; with Z = 5 a
-- correct generator fails one for about one seed in 1.7 million, while a wrong sampler (bad
-- scaling, a bias of 1%, a lost bit) misses by hundreds of standard errors at this N.
local N = 200000
local Z = 5

-- The 0.9999 quantile of the chi-square distribution with 5 degrees of freedom (tables, e.g.
-- NIST/SEMATECH e-Handbook 1.3.6.7.4): the bound for the 6-cell frequency tests below.
local CHI2_5DF_Q9999 = 25.745

local function mean_of(xs, f)
  local s = 0
  for i = 1, #xs do s = s + f(xs[i]) end
  return s / #xs
end

local function chi_square(counts, expected)
  local x2 = 0
  for _, c in pairs(counts) do x2 = x2 + (c - expected) ^ 2 / expected end
  return x2
end

describe("rng determinism", function()
  it("the same seed gives the same bits; different seeds differ", function()
    local a, b = ntklab.rng(7), ntklab.rng(7)
    assert.are.same(a:uniform(1000):totable(), b:uniform(1000):totable())
    assert.are.same(a:normal(31, 3):totable(), b:normal(31, 3):totable())
    for _ = 1, 100 do assert.are.equal(a:integer(1000000), b:integer(1000000)) end
    assert.are.same(a:permutation(50), b:permutation(50))
    local seeds = {0, 1, 2, -1, math.maxinteger, math.mininteger}
    local firsts = {}
    for _, s in ipairs(seeds) do
      local u = ntklab.rng(s):uniform(8):totable()
      local key = table.concat(u, ",")
      assert.is_nil(firsts[key], "seed " .. s .. " repeats another seed's stream")
      firsts[key] = s
    end
  end)

  it("reproduces the reference xoshiro256** stream (splitmix64 seeding)", function()
    -- the first output for seed 0 is 0x99ec5f36cb75f2b4 (Vigna's reference code, state from
    -- splitmix64(0)); uniform keeps its top 53 bits
    local expected = (0x99ec5f36cb75f2b4 >> 11) * 2.0 ^ -53
    assert.are.equal(expected, ntklab.rng(0):uniform())
  end)

  it("scalar draws, 1-D and 2-D tensors consume the same stream in row-major order", function()
    local flat = ntklab.rng(3):normal(12):totable()
    local m = ntklab.rng(3):normal(3, 4):totable()
    local r = ntklab.rng(3)
    for i = 1, 3 do
      for j = 1, 4 do
        assert.are.equal(flat[(i - 1) * 4 + j], m[i][j])
        assert.are.equal(m[i][j], r:normal())
      end
    end
    local u = ntklab.rng(4):uniform(2, 5):totable()
    local s = ntklab.rng(4)
    for i = 1, 2 do for j = 1, 5 do assert.are.equal(u[i][j], s:uniform()) end end
  end)

  it("a clone continues identically, including a pending second normal", function()
    local r = ntklab.rng(11)
    r:uniform(5)
    r:normal() -- the polar method made a pair; one normal is now pending
    local c = r:clone()
    assert.are.equal(r:normal(), c:normal())
    assert.are.same(r:normal(7):totable(), c:normal(7):totable())
    assert.are.same(r:uniform(4, 4):totable(), c:uniform(4, 4):totable())
    assert.are.equal(r:integer(99), c:integer(99))
    assert.are.same(r:permutation(20), c:permutation(20))
    -- and the clone is independent: drawing from it leaves the original alone
    c:uniform(100)
    local d = r:clone()
    assert.are.same(r:uniform(3):totable(), d:uniform(3):totable())
  end)

  it("seed restarts the stream and drops a pending normal", function()
    local r = ntklab.rng(5)
    local first = r:normal(9):totable()
    r:normal() -- leaves one pending
    assert.are.equal(r, r:seed(5))
    assert.are.same(first, r:normal(9):totable())
  end)
end)

describe("rng moments", function()
  it("uniform: values in [0, 1), mean 1/2 and variance 1/12 within Z standard errors", function()
    local u = ntklab.rng(101):uniform(N):totable()
    local lo, hi = math.huge, -math.huge
    for i = 1, N do lo, hi = math.min(lo, u[i]), math.max(hi, u[i]) end
    assert.is_true(lo >= 0 and hi < 1)
    local m = mean_of(u, function(x) return x end)
    -- Var U = 1/12; Var (U - 1/2)^2 = E (U - 1/2)^4 - (1/12)^2 = 1/80 - 1/144 = 1/180
    assert.is_true(math.abs(m - 0.5) < Z * math.sqrt(1 / 12 / N))
    local v = mean_of(u, function(x) return (x - 0.5) ^ 2 end)
    assert.is_true(math.abs(v - 1 / 12) < Z * math.sqrt(1 / 180 / N))
    -- each tenth of [0, 1) gets its share: binomial standard error sqrt(p (1 - p) / N)
    local bins = {}
    for i = 1, N do
      local b = math.floor(u[i] * 10)
      bins[b] = (bins[b] or 0) + 1
    end
    for b = 0, 9 do
      assert.is_true(math.abs(bins[b] / N - 0.1) < Z * math.sqrt(0.1 * 0.9 / N))
    end
  end)

  it("normal: mean 0, variance 1, fourth moment 3, P(|z| < 1) within Z standard errors", function()
    local z = ntklab.rng(202):normal(N):totable()
    -- standard errors from the normal's moments: Var z = 1, Var z^2 = 3 - 1 = 2,
    -- Var z^4 = E z^8 - 9 = 105 - 9 = 96
    assert.is_true(math.abs(mean_of(z, function(x) return x end)) < Z * math.sqrt(1 / N))
    assert.is_true(math.abs(mean_of(z, function(x) return x * x end) - 1) < Z * math.sqrt(2 / N))
    assert.is_true(math.abs(mean_of(z, function(x) return x ^ 4 end) - 3) < Z * math.sqrt(96 / N))
    -- Phi(1) - Phi(-1) = erf(1 / sqrt 2)
    local p = 0.68268949213708585
    local inside = mean_of(z, function(x) return math.abs(x) < 1 and 1 or 0 end)
    assert.is_true(math.abs(inside - p) < Z * math.sqrt(p * (1 - p) / N))
    -- symmetry: as many positive as negative draws
    local pos = mean_of(z, function(x) return x > 0 and 1 or 0 end)
    assert.is_true(math.abs(pos - 0.5) < Z * math.sqrt(0.25 / N))
  end)
end)

describe("rng integers and permutations", function()
  it("integer(n) stays in [1, n] and hits each value equally often", function()
    local r = ntklab.rng(303)
    local counts, draws = {}, 60000
    local bad = 0
    for _ = 1, draws do
      local k = r:integer(6)
      if math.type(k) ~= "integer" or k < 1 or k > 6 then bad = bad + 1 end
      counts[k] = (counts[k] or 0) + 1
    end
    assert.are.equal(0, bad)
    assert.is_true(chi_square(counts, draws / 6) < CHI2_5DF_Q9999)
    assert.are.equal(1, r:integer(1))
    for _ = 1, 100 do
      local k = r:integer(math.maxinteger)
      assert.is_true(k >= 1)
    end
  end)

  it("permutation(n) contains each of 1..n exactly once", function()
    local r = ntklab.rng(404)
    for _, n in ipairs{0, 1, 2, 10, 1000} do
      local p = r:permutation(n)
      assert.are.equal(n, #p)
      local seen = {}
      for i = 1, n do
        assert.is_true(math.type(p[i]) == "integer" and p[i] >= 1 and p[i] <= n)
        assert.is_nil(seen[p[i]])
        seen[p[i]] = true
      end
    end
  end)

  it("permutation(3) draws the 6 orders about equally often", function()
    local r = ntklab.rng(505)
    local counts, draws = {}, 60000
    for _ = 1, draws do
      local key = table.concat(r:permutation(3))
      counts[key] = (counts[key] or 0) + 1
    end
    local kinds = 0
    for _ in pairs(counts) do kinds = kinds + 1 end
    assert.are.equal(6, kinds)
    assert.is_true(chi_square(counts, draws / 6) < CHI2_5DF_Q9999)
  end)

  it("permutation(6) sends element 1 to each position about equally often", function()
    local r = ntklab.rng(606)
    local counts, draws = {}, 60000
    for _ = 1, draws do
      local p = r:permutation(6)
      for pos = 1, 6 do
        if p[pos] == 1 then counts[pos] = (counts[pos] or 0) + 1 end
      end
    end
    assert.is_true(chi_square(counts, draws / 6) < CHI2_5DF_Q9999)
  end)
end)

describe("rng printing", function()
  it("names its type", function()
    assert.matches("^ntklab%.rng", tostring(ntklab.rng(1)))
  end)
end)

describe("rng bad arguments", function()
  local r = ntklab.rng(1)
  local cases = {
    {"rng", function() ntklab.rng() end, "bad argument #1 to 'rng' (number expected, got no value)"},
    {"rng", function() ntklab.rng(1.5) end, "number has no integer representation"},
    {"rng", function() ntklab.rng("seed") end, "bad argument #1 to 'rng' (number expected, got string)"},
    {"seed", function() r:seed() end, "bad argument #1 to 'seed' (number expected, got no value)"},
    {"seed", function() r:seed(0.25) end, "number has no integer representation"},
    {"seed", function() r.seed(3, 4) end, "ntklab.rng expected, got number"},
    {"clone", function() r.clone({}) end, "bad argument #1 to 'clone' (ntklab.rng expected, got table)"},
    {"uniform", function() r:uniform(-1) end, "bad argument #1 to 'uniform' (non-negative size expected)"},
    {"uniform", function() r:uniform(2, -3) end, "bad argument #2 to 'uniform' (non-negative size expected)"},
    {"uniform", function() r:uniform("many") end, "bad argument #1 to 'uniform' (number expected, got string)"},
    {"uniform", function() r:uniform(nil, 3) end, "bad argument #1 to 'uniform' (number expected, got nil)"},
    {"uniform", function() r.uniform(4) end, "ntklab.rng expected, got number"},
    {"normal", function() r:normal(-2) end, "bad argument #1 to 'normal' (non-negative size expected)"},
    {"normal", function() r:normal(2.5) end, "number has no integer representation"},
    {"normal", function() r:normal(3, {}) end, "bad argument #2 to 'normal' (number expected, got table)"},
    {"normal", function() r:normal(nil, 2) end, "bad argument #1 to 'normal' (number expected, got nil)"},
    {"integer", function() r:integer() end, "bad argument #1 to 'integer' (number expected, got no value)"},
    {"integer", function() r:integer(0) end, "bad argument #1 to 'integer' (positive bound expected, got 0)"},
    {"integer", function() r:integer(-5) end, "positive bound expected, got -5"},
    {"permutation", function() r:permutation(-1) end, "bad argument #1 to 'permutation' (size in [0, 2^28] expected, got -1)"},
    {"permutation", function() r:permutation(1 << 29) end, "size in [0, 2^28] expected"},
    {"permutation", function() r:permutation("n") end, "number expected, got string"},
  }

  for i, case in ipairs(cases) do
    local name, call, expected = case[1], case[2], case[3]
    it(("%s raises (case %d): %s"):format(name, i, expected), function()
      local ok, msg = pcall(call)
      assert.is_false(ok)
      assert.is_truthy(tostring(msg):find(expected, 1, true),
                       ("expected '%s' in '%s'"):format(expected, tostring(msg)))
    end)
  end

  it("covers the constructor and every rng method", function()
    local covered = {}
    for _, case in ipairs(cases) do covered[case[1]] = true end
    assert.is_true(covered.rng)
    for name in pairs(ntklab.core.metatable("rng").__index) do
      assert.is_true(covered[name], "rng:" .. name .. " has no bad-argument case")
    end
  end)
end)
