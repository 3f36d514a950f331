-- bench/ntk.lua: speed and memory of the empirical NTK (issue 4). Run from the source tree:
--   build/bin/ntklab bench/ntk.lua            (full run, about a minute)
--   build/bin/ntklab bench/ntk.lua quick      (skips P = 4000 and the depth table)
-- float64, 2 BLAS threads, C = 1, no biases, D = 784, hidden width N = 100, ReLU.
-- Times are medians of several calls after a warm-up, from a monotonic wall clock; the best
-- call is shown in brackets (on a shared machine it is the better estimate of the unloaded time). "uncached"
-- recomputes X X^T; "fresh" also allocates the result and every buffer (no workspace);
-- "cached" reuses a workspace whose X X^T is valid and writes into an existing tensor.
-- The FLOP bound counts 2 flops per multiply-add of the forward and backward gemms and of the
-- Gram products (syrk: P^2 n per n-column Gram), at 90 GFLOP/s; element-wise work is free.
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")

local quick = arg and arg[1] == "quick"
local RATE = 90e9
ntklab.threads(2)

-- Resets VmHWM to the current RSS (Linux >= 4.0), so each phase reports its own peak.
local function reset_peak()
  collectgarbage()
  collectgarbage()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then
    f:write("5")
    f:close()
  end
end

local peak_mb = bench.peak_mb

local function median(f, reps)
  f() -- warm-up: grows buffers, faults in pages
  local ts = {}
  for i = 1, reps do
    local t0 = ntklab.clock()
    f()
    ts[i] = ntklab.clock() - t0
  end
  table.sort(ts)
  return ts[(reps + 1) // 2], ts[1]
end

local function make_net(depth, D, N, seed)
  local widths = {D}
  for _ = 1, depth - 1 do widths[#widths + 1] = N end
  widths[#widths + 1] = 1
  return ntklab.mlp{widths = widths, activation = "relu", sigma = 1, seed = seed}
end

-- flops of one NTK: forward gemms, backward gemms (layers 2..L-1 signals), and the Grams
-- (inputs of every layer, signals of layers 1..L-1); cached drops the P^2 D of X X^T.
local function flops(depth, D, N, P, cached)
  local w = {D}
  for _ = 1, depth - 1 do w[#w + 1] = N end
  w[#w + 1] = 1
  local f = 0
  for l = 1, depth do f = f + 2 * P * w[l] * w[l + 1] end
  for l = 1, depth - 2 do f = f + 2 * P * w[l + 1] * w[l + 2] end
  for l = 1, depth do
    if not (cached and l == 1) then f = f + P * P * w[l] end
  end
  for l = 1, depth - 1 do f = f + P * P * w[l + 1] end
  return f
end

local function ms(t) return string.format("%8.2f ms", t * 1e3) end

local rng = ntklab.rng(2022)
local D, N = 784, 100
print(string.format("ntklab NTK benchmark: D = %d, N = %d, float64, %d BLAS threads, load %s",
                    D, N, ntklab.threads(), (io.open("/proc/loadavg") or io):read("l") or "?"))

-- 1. The issue's case: two-layer ReLU, P = 1000.
do
  local P = 1000
  local net = make_net(2, D, N, 1)
  local X, Xb = rng:normal(P, D), rng:normal(P, D)
  local ws = ntklab.kernel_workspace()
  local out = ntklab.zeros(P, P)
  reset_peak()
  local fresh, fresh_best = median(function() ntklab.ntk(net, X) end, 15)
  local flip = false
  local uncached, uncached_best = median(function()
    flip = not flip
    ntklab.ntk(net, flip and X or Xb, {workspace = ws, out = out})
  end, 15)
  local cached, cached_best = median(function() ntklab.ntk(net, X, {workspace = ws, out = out}) end, 15)
  local fast_peak = peak_mb()
  local bound_u, bound_c = flops(2, D, N, P, false) / RATE, flops(2, D, N, P, true) / RATE
  print(string.format("two-layer ReLU, P = %d (%d parameters)", P, net:nparams()))
  print(string.format("  uncached, fresh buffers  %s (%s)  FLOP bound %s   ratio %.2f (%.2f)",
                      ms(fresh), ms(fresh_best), ms(bound_u), fresh / bound_u, fresh_best / bound_u))
  print(string.format("  uncached, workspace      %s (%s)  FLOP bound %s   ratio %.2f (%.2f)",
                      ms(uncached), ms(uncached_best), ms(bound_u), uncached / bound_u,
                      uncached_best / bound_u))
  print(string.format("  X X^T cached             %s (%s)  FLOP bound %s   ratio %.2f (%.2f)",
                      ms(cached), ms(cached_best), ms(bound_c), cached / bound_c,
                      cached_best / bound_c))
  -- Calibration: what BLAS delivers right now. The two workspace calls differ only by the
  -- syrk X X^T (P^2 D flops) and the 0.3 ms content hash, so their difference measures the
  -- syrk rate inside this very computation; on a shared machine it is far below 90 GFLOP/s.
  local current_rate = P * P * D / (uncached_best - cached_best)
  print(string.format("  syrk rate seen (uncached - cached): %.1f GFLOP/s; at that rate the bounds "
                      .. "are %s / %s: best-call ratios %.2f uncached, %.2f cached",
                      current_rate / 1e9, ms(bound_u * RATE / current_rate),
                      ms(bound_c * RATE / current_rate),
                      uncached_best / (bound_u * RATE / current_rate),
                      cached_best / (bound_c * RATE / current_rate)))
  print(string.format("  peak memory (VmHWM) of the fast path: %.0f MB", fast_peak))
  local K = ntklab.ntk(net, X)
  reset_peak()
  local t0 = ntklab.clock()
  local R = ntklab.ntk_reference(net, X)
  local tref = ntklab.clock() - t0
  local ref_peak = peak_mb()
  print(string.format("  reference J J^T          %s   = %.0fx uncached fresh (%.0fx best), "
                      .. "%.0fx cached (%.0fx best)", ms(tref), tref / fresh, tref / fresh_best,
                      tref / cached, tref / cached_best))
  print(string.format("  peak memory (VmHWM) of the reference path: %.0f MB", ref_peak))
  local k, r = K:totable(), R:totable()
  local d, n = 0, 0
  for i = 1, P do
    for j = 1, P do
      d = d + (k[i][j] - r[i][j]) ^ 2
      n = n + r[i][j] ^ 2
    end
  end
  print(string.format("  |K - J J^T|_F / |J J^T|_F = %.2e", math.sqrt(d / n)))
  R = nil
  collectgarbage()
end

if quick then return end

-- 2. P = 4000, two layers.
do
  local P = 4000
  local net = make_net(2, D, N, 2)
  local X = rng:normal(P, D)
  reset_peak()
  local fresh, fresh_best = median(function() ntklab.ntk(net, X) end, 5)
  local peak = peak_mb()
  local ws = ntklab.kernel_workspace()
  local out = ntklab.zeros(P, P)
  local cached, cached_best = median(function() ntklab.ntk(net, X, {workspace = ws, out = out}) end, 5)
  print(string.format("two-layer ReLU, P = %d", P))
  print(string.format("  uncached, fresh buffers  %s (%s)  FLOP bound %s   ratio %.2f (%.2f)",
                      ms(fresh), ms(fresh_best), ms(flops(2, D, N, P, false) / RATE),
                      fresh / (flops(2, D, N, P, false) / RATE),
                      fresh_best / (flops(2, D, N, P, false) / RATE)))
  print(string.format("  X X^T cached             %s (%s)  FLOP bound %s   ratio %.2f (%.2f)",
                      ms(cached), ms(cached_best), ms(flops(2, D, N, P, true) / RATE),
                      cached / (flops(2, D, N, P, true) / RATE),
                      cached_best / (flops(2, D, N, P, true) / RATE)))
  print(string.format("  peak memory (VmHWM) of the uncached fresh calls: %.0f MB", peak))
  ws:release()
  collectgarbage()
  -- the memory-bounded mode: 1000 x 1000 sample tiles, scratch 2 x 8 MB, no cached Gram
  reset_peak()
  local tiled, tiled_best = median(function() ntklab.ntk(net, X, {tile = 1000, out = out}) end, 3)
  print(string.format("  tiled (tile = 1000)      %s (%s)  peak %.0f MB (of which K: %.0f MB, X: %.0f MB)",
                      ms(tiled), ms(tiled_best), peak_mb(), P * P * 8 / 2^20, P * D * 8 / 2^20))
  out:release()
  collectgarbage()
end

-- 3. Depth table: uncached (fresh) and cached times, each with its ratio to the FLOP bound.
print("depth table (width 100): time / FLOP bound at 90 GFLOP/s; peak = VmHWM during the row")
print("    P  depth   uncached (best)          ratio (best)   cached (best)            ratio (best)   peak")
for _, P in ipairs{1000, 2000, 4000} do
  local X = rng:normal(P, D)
  for _, depth in ipairs{2, 3, 4} do
    local net = make_net(depth, D, N, 10 * depth)
    reset_peak()
    local reps = P >= 4000 and 3 or 7
    local u, ub = median(function() ntklab.ntk(net, X) end, reps)
    local ws = ntklab.kernel_workspace()
    local out = ntklab.zeros(P, P)
    local c, cb = median(function() ntklab.ntk(net, X, {workspace = ws, out = out}) end, reps)
    local bu, bc = flops(depth, D, N, P, false) / RATE, flops(depth, D, N, P, true) / RATE
    print(string.format("%5d  %5d  %s (%s) %5.2f (%5.2f)  %s (%s) %5.2f (%5.2f)  %5.0f MB", P,
                        depth, ms(u), ms(ub), u / bu, ub / bu, ms(c), ms(cb), c / bc, cb / bc,
                        peak_mb()))
    ws:release()
    out:release()
    collectgarbage()
  end
end
