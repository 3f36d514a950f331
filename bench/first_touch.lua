-- bench/first_touch.lua: the default calls (new buffers and results every call) against their
-- reused-buffer twins, interleaved in one run (issue 17, "no first-touch tax").
--   build/bin/ntklab bench/first_touch.lua [P] [rounds]     (default 1000 5)
-- Prints, per call, the median over rounds of the best of 3 calls, and the ratio default /
-- reused. ntk: ntklab.ntk(net, X) (same X: its per-net default workspace keeps X X^T; and X
-- alternating, the same arithmetic as) a kernel_workspace call with X alternating between two
-- inputs (so X X^T is recomputed), new result each call, and with `out` reused. grad: net:grad(X, Y) against net:grad(X, Y, g). gd step: a gd trainer's
-- run{steps = 1} on a fresh trainer against one trainer reused.
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local P, rounds = bench.number_arg(1, 1000, "P", true), bench.number_arg(2, 5, "rounds", true)
local rng = ntklab.rng(1)
local XA, XB = rng:normal(P, 784), rng:normal(P, 784)
local Y = rng:normal(P, 1)
local net = ntklab.mlp{widths = {784, 100, 1}, activation = "relu", seed = 1}


local ws, out, g = ntklab.kernel_workspace(), ntklab.zeros(P, P), ntklab.zeros(net:nparams())
local flip = false
local function alt() flip = not flip return flip and XA or XB end
local reused_tr = ntklab.train.gd{lr = 1e-3}
local cases = {
  {"ntk default", function() return ntklab.ntk(net, XA) end},
  {"ntk default, X alternating", function() return ntklab.ntk(net, alt()) end},
  {"ntk workspace, X alternating, new result", function() return ntklab.ntk(net, alt(), {workspace = ws}) end},
  {"ntk workspace, X alternating, out reused", function() return ntklab.ntk(net, alt(), {workspace = ws, out = out}) end},
  {"grad default", function() return net:grad(XA, Y) end},
  {"grad into g", function() return net:grad(XA, Y, g) end},
  {"gd step, new trainer", function() ntklab.train.gd{lr = 1e-3}:run(net, XA, Y, {steps = 1}) end},
  {"gd step, trainer reused", function() reused_tr:run(net, XA, Y, {steps = 1}) end},
}
local times = {}
for _, c in ipairs(cases) do times[c[1]] = {} end
for _ = 1, rounds do
  for _, c in ipairs(cases) do
    local tr = times[c[1]]
    tr[#tr + 1] = bench.best_of(3, c[2])
  end
end
print(("%s; P = %d, threads %d, median of %d rounds of best-of-3"):format(bench.uptime(), P, ntklab.threads(), rounds))
local m = {}
for _, c in ipairs(cases) do
  m[c[1]] = bench.median(times[c[1]])
  print(("%-45s %9.2f ms"):format(c[1], m[c[1]] * 1e3))
end
print(("ratio ntk default / workspace alternating (new result): %.2f; / out reused: %.2f"):format(
  m["ntk default"] / m["ntk workspace, X alternating, new result"],
  m["ntk default"] / m["ntk workspace, X alternating, out reused"]))
print(("ratio ntk default, X alternating / workspace alternating (new result): %.2f"):format(
  m["ntk default, X alternating"] / m["ntk workspace, X alternating, new result"]))
print(("ratio grad default / into g: %.2f; gd step new trainer / reused: %.2f"):format(
  m["grad default"] / m["grad into g"], m["gd step, new trainer"] / m["gd step, trainer reused"]))
