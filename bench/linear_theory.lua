-- bench/linear_theory.lua: accuracy of ntklab.theory against the plain-Lua simulator of the
-- specs, and the cost of the plain-Lua path-kernel predictor. Prints numbers; asserts nothing.
--   build/bin/ntklab bench/linear_theory.lua
local ntklab = require "ntklab"
local theory = require "ntklab.theory"
local analysis = require "ntklab.analysis"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local source = os.getenv("NTKLAB_SOURCE_DIR") or bench.root
-- the simulator requires spec.support.* modules, found from the source tree in any directory
package.path = source .. "/?.lua;" .. package.path
local sim = dofile(source .. "/spec/support/linear_sim.lua")

-- 1. Two-layer q(t), r(t): D = 25, N = 10, sigma = 1e-3, s = 1, RK4 h = 0.01, t in [0, 15].
local D, N, S = 25, 10, 1.0
local beta, nb = {}, 0
for j = 1, D do beta[j] = math.sin(j) + 0.3; nb = nb + beta[j] ^ 2 end
for j = 1, D do beta[j] = beta[j] / math.sqrt(nb) end
local Ws = sim.random_init(ntklab.rng(1), {D, N, 1}, 1e-3)
local times = {}
for i = 0, 60 do times[#times + 1] = 0.25 * i end
local q0, r0
local worst, worst_paper, worst_u2 = 0, 0, 0
local t0 = os.clock()
sim.run(Ws, times, 0.01, S, beta, function(t, W)
  local q, r = theory.qr(W[2][1], W[1], beta)
  if t == 0 then q0, r0 = q, r end
  worst = math.max(worst, math.abs(theory.q(t, S, q0, r0) - q), math.abs(theory.r(t, S, q0, r0) - r))
  worst_paper = math.max(worst_paper, math.abs(theory.q_paper(t, S, q0) - q), math.abs(theory.r_paper(t, S, q0) - r))
  local a2 = 0
  for _, x in ipairs(W[2][1]) do a2 = a2 + x * x end
  local u2 = theory.u2(t, S, (q0 + r0) / 2)
  if u2 >= 0.05 * S then worst_u2 = math.max(worst_u2, math.abs(u2 - a2)) end
end)
print(string.format("two-layer D=%d N=%d sigma=1e-3: max |q,r - theory| / s: r0-corrected %.2e, paper (Eqs. 50-51) %.2e; phase II |a|^2 vs u(t)^2: %.2e  (%.2f s)",
  D, N, worst, worst_paper, worst_u2, os.clock() - t0))

-- 2. Deep L = 3 from random init: t_1/2 ratio (t(s/4) - t(s/2)) / (t(s/2) - t(s)) -> 2^{L-2} = 2.
local function t_half_sim(sigma)
  local b = {0.5, 0.5, 0.5, 0.5}
  local W = sim.random_init(ntklab.rng(5), {4, 4, 4, 1}, sigma)
  local pt, pc, t = 0, 0, 0
  while true do
    W = sim.rk4_step(W, 0.05, 1, b)
    t = t + 0.05
    local v = sim.end_to_end(W)
    local c = 0
    for j = 1, 4 do c = c + v[j] * b[j] end
    if c >= 0.5 then return pt + (0.5 - pc) / (c - pc) * (t - pt) end
    pt, pc = t, c
  end
end
local a, b, c = t_half_sim(0.02), t_half_sim(0.01), t_half_sim(0.005)
print(string.format("deep L=3 random init: t_1/2 = %.3f, %.3f, %.3f at sigma = 0.02, 0.01, 0.005; difference ratio %.6f (theory 2)",
  a, b, c, (c - b) / (b - a)))

-- 3. Path-kernel predictor cost, P = M = 1000, 10 RK4 steps (plain Lua).
local P = 1000
local rng = ntklab.rng(1)
local k = rng:normal(P, P):totable()
local K = {}
for i = 1, P do K[i] = {} for j = 1, P do K[i][j] = (i == j) and 1 or 0 end end
local span = 10 * 0.25 * P / math.sqrt(P)
local y, z = {}, {}
for i = 1, P do y[i], z[i] = 1, 0 end
t0 = os.clock()
local out = analysis.path_kernel_predictor({{t = 0, K = K, k = k}, {t = span, K = K, k = k}}, y, z, z)
print(string.format("path_kernel_predictor P = M = %d: %d RK4 steps in %.2f s CPU (argument copies included)",
  P, out.steps, os.clock() - t0))
