-- bench/bench_mlp.lua: step times of the C training loop and the cost of integrating gradient
-- flow (issue #3). Not a test: prints numbers, asserts nothing.
--   build/bin/ntklab bench/bench_mlp.lua [case]     case: relu | small | flow | all (default)
local ntklab = require "ntklab"

-- Wall clock: ntklab.clock where the build has it; else date(1), whose ~1 ms call cost is
-- negligible against the >= 1 s spans timed here. os.clock would add up the BLAS threads.
local clock = ntklab.clock or function()
  local p = io.popen("date +%s.%N")
  local s = p:read("l")
  p:close()
  return tonumber(s)
end

local which = arg and arg[1] or "all"

-- Runs trainer for about `budget` seconds of steps; returns seconds per step.
local function time_steps(tr, net, X, Y, budget)
  tr:run(net, X, Y, {steps = 3}) -- warm-up: buffers and caches are allocated here
  local n, elapsed = 10, 0
  while true do
    local t0 = clock()
    tr:run(net, X, Y, {steps = n})
    elapsed = clock() - t0
    if elapsed >= budget then break end
    n = math.floor(n * math.min(100, 1.5 * budget / math.max(elapsed, 1e-6))) + 1
  end
  return elapsed / n, n
end

local function case_relu()
  -- P = 1000, D = 784, N = 100, one ReLU hidden layer, C = 1: 314 MFLOP per step
  local P, D, N = 1000, 784, 100
  local rng = ntklab.rng(1)
  local X, Y = rng:normal(P, D), rng:normal(P, 1)
  local net = ntklab.mlp{widths = {D, N, 1}, activation = "relu", sigma = 0.1, seed = 2}
  local s, n = time_steps(ntklab.train.gd{lr = 1e-3}, net, X, Y, 2.0)
  local flops = 2 * (2 * P * D * N) + 4 * P * N
  print(string.format("relu  P=%d D=%d N=%d (threads %d): %.3f ms per gd step (%d steps), %.1f GFLOP/s",
    P, D, N, ntklab.threads(), s * 1e3, n, flops / s * 1e-9))
end

local function small_problem(sigma)
  -- deep linear, D = 30, N = 50, L = 3, P = 200; teacher y = x . beta, |beta| = 1 (s = 1)
  local P, D = 200, 30
  local rng = ntklab.rng(3)
  local X = rng:normal(P, D)
  local beta = rng:normal(D):totable()
  local nb = 0
  for i = 1, D do nb = nb + beta[i] ^ 2 end
  local Yt, Xt = {}, X:totable()
  for mu = 1, P do
    local y = 0
    for i = 1, D do y = y + Xt[mu][i] * beta[i] / math.sqrt(nb) end
    Yt[mu] = y
  end
  local net = ntklab.mlp{widths = {D, 50, 50, 1}, activation = "linear", sigma = sigma, seed = 4}
  return net, X, ntklab.tensor(Yt)
end

local function case_small()
  local net, X, Y = small_problem(1.0)
  for _, threads in ipairs{1, 2} do
    local saved = ntklab.threads()
    ntklab.threads(threads)
    local s, n = time_steps(ntklab.train.gd{lr = 1e-3}, net, X, Y, 2.0)
    ntklab.threads(saved)
    print(string.format("small deep linear D=30 N=50 L=3 P=200 (threads %d): %.1f us per gd step (%d steps)",
      threads, s * 1e6, n))
  end
end

local function relerr(a, b)
  local pa, pb = a:get():totable(), b:get():totable()
  local num, den = 0, 0
  for i = 1, #pa do num, den = num + (pa[i] - pb[i]) ^ 2, den + pb[i] ^ 2 end
  return math.sqrt(num / den)
end

local function case_flow()
  local sigma = 1e-3
  local net0, X, Y = small_problem(sigma)
  local loss0 = net0:loss(X, Y)
  -- "convergence": the first observed time with loss < 1e-10 loss0, found by rk45 itself
  local T
  do
    local net = net0:clone()
    local tr = ntklab.train.flow{rtol = 1e-8, atol = 1e-12}
    local times = {}
    for k = 1, 200 do times[k] = 250 * k end
    pcall(tr.run, tr, net, X, Y, {t = times[#times], observe = times, observer = function(t, _, loss)
      if not T and loss < 1e-10 * loss0 then T = t; error("converged") end
    end})
    assert(T, "no convergence by t = 50000")
  end
  local ref = net0:clone()
  ntklab.train.flow{rtol = 1e-12, atol = 1e-16}:run(ref, X, Y, {t = T})
  local function measure(make)
    local net = net0:clone()
    local tr = make()
    local t0 = clock()
    local loss = tr:run(net, X, Y, {t = T})
    return clock() - t0, tr.evals, relerr(net, ref), loss
  end
  print(string.format("flow: deep linear D=30 N=50 L=3 P=200 from sigma = %g to t = %g (loss %.1e -> < 1e-10 of it)",
    sigma, T, loss0))
  local w45, e45, err45 = measure(function() return ntklab.train.flow{rtol = 1e-8, atol = 1e-12} end)
  print(string.format("  rk45 rtol 1e-8: %8d gradient evals, %7.3f s, relative parameter error %.2e", e45, w45, err45))
  -- rk4: the largest dt (halving from 64) that is as accurate as rk45
  local dt = 64
  while true do
    local ok, w, e, err = pcall(measure, function() return ntklab.train.flow{method = "rk4", dt = dt} end)
    if ok and err <= err45 then
      print(string.format("  rk4 dt %-8g %8d gradient evals, %7.3f s, relative parameter error %.2e (ratio to rk45: %.1fx evals, %.1fx time)",
        dt, e, w, err, e / e45, w / w45))
      break
    end
    dt = dt / 2
  end
  -- GD: error ~ c lr (first order); measure two learning rates, extrapolate to rk45's accuracy
  local pts = {}
  for _, lr in ipairs{0.2, 0.1} do
    local ok, w, e, err = pcall(measure, function() return ntklab.train.gd{lr = lr} end)
    if ok then
      pts[#pts + 1] = {lr, w, e, err}
      print(string.format("  gd lr %-8g   %8d gradient evals, %7.3f s, relative parameter error %.2e", lr, e, w, err))
    else
      print(string.format("  gd lr %-8g   diverged", lr))
    end
  end
  if #pts == 2 then
    local order = math.log(pts[1][4] / pts[2][4]) / math.log(2)
    local lr_needed = pts[2][1] * (err45 / pts[2][4]) ^ (1 / order)
    local steps = T / lr_needed
    print(string.format("  gd at rk45's accuracy (observed order %.2f): lr ~ %.2e, ~%.2e evals, ~%.0f s at the measured step rate (ratio to rk45: ~%.0fx evals)",
      order, lr_needed, steps, steps * pts[2][2] / pts[2][3], steps / e45))
  end
end

if which == "relu" or which == "all" then case_relu() end
if which == "small" or which == "all" then case_small() end
if which == "flow" or which == "all" then case_flow() end
