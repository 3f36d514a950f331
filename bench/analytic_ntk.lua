-- bench/analytic_ntk.lua: the infinite-width NTK (ntklab.analytic_ntk) at P points against
-- the empirical NTK of one net of the same architecture, and (with "match") the relative
-- Frobenius distance between the analytic ReLU NTK and the mean empirical NTK of 20 nets of
-- width 4096 with two hidden layers. Not a test: prints numbers, asserts nothing.
--   build/bin/ntklab bench/analytic_ntk.lua [P] [D] [width] [match]   (default 4000 784 1024)
local ntklab = require "ntklab"

local P = tonumber(arg and arg[1]) or 4000
local D = tonumber(arg and arg[2]) or 784
local width = tonumber(arg and arg[3]) or 1024
local clock = ntklab.clock

local X = ntklab.rng(1):normal(P, D)
local spec = {widths = {D, width, width, 1}, param = "ntk", activation = "relu", seed = 1}
print(("P = %d, D = %d, depth 3 (two hidden layers), %d BLAS threads"):format(P, D, ntklab.threads()))
for _, act in ipairs{"relu", "erf"} do
  spec.activation = act
  local best, cpu = math.huge, math.huge
  for _ = 1, 3 do
    local t0, c0 = clock(), os.clock()
    ntklab.analytic_ntk(spec, X)
    best, cpu = math.min(best, clock() - t0), math.min(cpu, os.clock() - c0)
  end
  -- CPU time (all threads) next to wall time: on the shared VM the wall time mostly measures
  -- the other jobs
  print(("analytic_ntk %-5s: %.3f s wall, %.3f s CPU (best of 3)"):format(act, best, cpu))
end
spec.activation = "relu"
local net = ntklab.mlp(spec)
local ws = ntklab.kernel_workspace()
local best, cpu = math.huge, math.huge
for _ = 1, 2 do
  local t0, c0 = clock(), os.clock()
  ntklab.ntk(net, X, {workspace = ws})
  best, cpu = math.min(best, clock() - t0), math.min(cpu, os.clock() - c0)
end
print(("empirical ntk, width %d: %.3f s wall, %.3f s CPU (best of 2)"):format(width, best, cpu))

if arg and arg[4] == "match" then
  local Xs = ntklab.rng(1):normal(8, 10)
  local s = {widths = {10, 4096, 4096, 1}, param = "ntk", activation = "relu"}
  local A = ntklab.analytic_ntk(s, Xs)
  local sum = ntklab.zeros(8, 8)
  local t0 = clock()
  for seed = 1, 20 do
    s.seed = seed
    sum:add_(ntklab.ntk(ntklab.mlp(s), Xs))
  end
  sum:mul_(1 / 20)
  print(("ReLU, 8 points in D = 10, mean of 20 nets of width 4096 (%.0f s): relative Frobenius %.4f"):format(
    clock() - t0, (sum - A):norm() / A:norm()))
end
