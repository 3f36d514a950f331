-- bench/path_kernel.lua: cost of pathkernel.predictor (Eq. 2) per RK4 step, tensor path
-- (BLAS products into preallocated buffers) against the plain-Lua path, at the demo's sizes.
-- Not a test: prints numbers, asserts nothing.
--   build/bin/ntklab bench/path_kernel.lua [P] [M]     (default P = 1000, M = 1128)
local ntklab = require "ntklab"
local pathkernel = require "ntklab.pathkernel"

local P = tonumber(arg and arg[1]) or 1000
local M = tonumber(arg and arg[2]) or 1128
local clock = ntklab.clock

local rng = ntklab.rng(1)
local function snapshot(t)
  local A = rng:normal(P, P)
  return {t = t, K = ntklab.matmul(A, A:t()) * (1 / P), k = rng:normal(M, P)}
end
local snaps = {snapshot(0), snapshot(1)}
local y, f0, f0t = rng:normal(P), rng:normal(P) * 0.1, rng:normal(M) * 0.1
-- one interval of length 1; a step bound of (eta/P) |K|_F / n gives n RK4 steps. Per-step cost
-- is the difference of two runs (n1 and n2 steps), which cancels the setup (argument checks,
-- norms, the once-per-interval test products).
local scale = math.max(snaps[1].K:norm(), snaps[2].K:norm()) / P
local function per_step(s, n1, n2)
  local function run(n)
    local t0 = clock()
    local out = assert(pathkernel.predictor(s, y, f0, f0t, {step = scale / n * (1 + 1e-9)}))
    assert(out.steps == n)
    return clock() - t0
  end
  return (run(n2) - run(n1)) / (n2 - n1)
end
local fast = per_step(snaps, 20, 220)
local tables = {}
for i, s in ipairs(snaps) do tables[i] = {t = s.t, K = s.K:totable(), k = s.k:totable()} end
local slow = per_step(tables, 1, 3)
print(string.format("P = %d, M = %d: tensor path %.3g ms per RK4 step, plain Lua %.3g ms, ratio %.0fx",
  P, M, 1e3 * fast, 1e3 * slow, slow / fast))
