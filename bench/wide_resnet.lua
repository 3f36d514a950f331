-- bench/wide_resnet.lua: the Wide-ResNet (ntklab.wide_resnet) training step and NTK against this
-- machine's DGEMM rate, and the same step in PyTorch float64, in one sitting. A benchmark, not a
-- test: it prints, it asserts nothing.
--
--   build/bin/ntklab bench/wide_resnet.lua [k] [b] [P] [reps] [tile] [what]
--     k, b   width factor and blocks per group (default 4, 1: the issue's WRN)
--     P      samples of 3 x 32 x 32 (default 100)
--     reps   rounds (step: median of the rounds, each beside its own DGEMM rate; NTK: the
--            fastest of reps - 1 calls) (default 3)
--     tile   Jacobian tile of the memory-bounded NTK run (default 25)
--     what   "all" (default), "step", "torch", "ntk", or "ntk-memory" (one tiled NTK in this
--            process, then its peak resident memory: run by "all" as a child process)
--
-- FLOP counts (convolutions only; pooling, additions and the dense layer are < 0.1%):
--   f_l = 2 P Ho Wo Cout (kh kw Cin) per convolution l, forward;
--   training step = forward + weight gradients + input gradients = 3 sum f_l - f_first (the
--     first convolution's input gradient is not needed);
--   NTK bound = forward + input gradients + per-sample weight gradients (3 sum f_l - f_first)
--     + the Gram 2 P^2 #params, all at the DGEMM rate; the measured time is printed beside it.
-- The DGEMM rate is that of a 2000 x 2000 product through ntklab.matmul at the same thread
-- count, measured in every round (the machine is shared: rates drift, ratios hold better).
-- OpenBLAS picks its kernel from the CPU it detects; on a CPU it does not know it falls back to
-- an old one (this VM: Prescott, 5x slower than SkylakeX). The host now sets the best kernels the
-- CPU supports itself (ntklab.blas_core(); OPENBLAS_CORETYPE overrides), and prints them below.
local ntklab = require "ntklab"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")

local k = bench.number_arg(1, 4, "k", true)
local b = bench.number_arg(2, 1, "b", true)
local P = bench.number_arg(3, 100, "P", true)
local reps = bench.number_arg(4, 3, "reps", true)
local tile = bench.number_arg(5, 25, "tile", true)
local what = arg[6] or "all"
local clock = bench.clock
local threads = ntklab.threads()
local root = bench.root
local median, peak_mb = bench.median, bench.peak_mb

-- fastest of n calls after a warm-up call
local function best_of(n, fn) return bench.best_of(n, fn, true) end

local function dgemm_rate()
  local A = ntklab.rng(1):normal(2000, 2000)
  local C = ntklab.zeros(2000, 2000)
  local t = best_of(2, function() ntklab.matmul(A, A, C) end)
  return 2 * 2000 ^ 3 / t
end

-- Forward FLOPs per convolution, from the layer list and the model's node shapes.
local function conv_flops(m, list)
  local total, first = 0, nil
  for i, l in ipairs(list) do
    if l[1] == "conv" then
      local cout, ho, wo = m:node_shape(i)
      local cin = select(1, m:node_shape(l.from))
      local f = 2 * P * ho * wo * cout * l.kernel * l.kernel * cin
      total = total + f
      first = first or f
    end
  end
  return total, first
end

local opts = {k = k, b = b, input = {3, 32, 32}, outputs = 1, seed = 1}
local m = ntklab.wide_resnet(opts)
local list = ntklab.wide_resnet_layers(opts)
local X = ntklab.rng(2):normal(P, 3 * 32 * 32)
local Y = ntklab.zeros(P, 1)
local fwd, first = conv_flops(m, list)
local step_flops = 3 * fwd - first
local ntk_flops = 3 * fwd - first + 2 * P * P * m:nparams()

-- The GEMMs a training step cannot avoid, replayed bare on buffers of the layers' chunk shapes
-- (M = samples per im2col chunk x Ho Wo, as core/nn/ntk_conv.c forms them): forward
-- cols @ W^T, weight gradient dy^T @ cols, input gradient dy @ W (not for the first conv).
-- step / bare is the share of everything that is not GEMM (im2col, col2im, activations, copies).
local BUDGET = 2 ^ 19 -- NTK_LAYER_COLS_BUDGET
local function bare_gemms()
  local jobs = {}
  for i, l in ipairs(list) do
    if l[1] == "conv" then
      local cout, ho, wo = m:node_shape(i)
      local K = l.kernel * l.kernel * select(1, m:node_shape(l.from))
      local n = math.max(1, BUDGET // (ho * wo * K))
      local chunks, M = math.ceil(P / n), math.min(n, P) * ho * wo
      local cols, W, dy = ntklab.zeros(M, K), ntklab.zeros(cout, K), ntklab.zeros(M, cout)
      local y, dW, dcols = ntklab.zeros(M, cout), ntklab.zeros(cout, K), ntklab.zeros(M, K)
      jobs[#jobs + 1] = function()
        for _ = 1, chunks do
          ntklab.gemm(y, 1, cols, W:t(), 0)
          ntklab.gemm(dW, 1, dy:t(), cols, 1)
          if l.from ~= 0 then ntklab.gemm(dcols, 1, dy, W, 0) end
        end
      end
    end
  end
  return function() for _, job in ipairs(jobs) do job() end end
end

if what == "ntk-memory" then
  local t0 = clock()
  ntklab.model_ntk(m, X, {tile = tile})
  print(("ntk_memory seconds %.2f peak_mb %.0f"):format(clock() - t0, peak_mb()))
  return
end

print(("OpenBLAS kernels: %s"):format(ntklab.blas_core()))
print(("WRN k = %d, b = %d, P = %d, %d parameters, %d BLAS threads"):format(k, b, P, m:nparams(),
  threads))
print(("convolution FLOPs: forward %.1f G, training step %.1f G; NTK bound %.1f G (Gram %.1f G)")
  :format(fwd / 1e9, step_flops / 1e9, ntk_flops / 1e9, 2 * P * P * m:nparams() / 1e9))

-- Rounds interleave the DGEMM rate with each step measurement, so that a ratio compares two
-- numbers taken seconds apart under the same load; the median of the rounds is reported.

local function torch_step(layout)
  local cmd = ("/usr/bin/python3 %q %d %d %d 1 %d %s 2>&1"):format(
    root .. "/bench/wide_resnet_torch.py", k, b, P, threads, layout)
  local p = io.popen(cmd)
  local out = p and p:read("a") or ""
  if p then p:close() end
  return tonumber(out:match("best_seconds%s+(%S+)")), out
end

local rates, ratio, step, torch, torch_cl, bare = {}, {}, {}, {}, {}, {}
local rate
if what == "all" or what == "step" or what == "torch" then
  local g = ntklab.zeros(m:nparams())
  m:grad(X, Y, g) -- warm-up: caches allocated, pages touched; g reused as a trainer would
  local replay = what ~= "torch" and bare_gemms()
  if replay then replay() end
  for round = 1, reps do
    local r = dgemm_rate()
    rates[#rates + 1] = r
    if what ~= "torch" then
      local t0 = clock()
      m:grad(X, Y, g)
      local t = clock() - t0
      step[#step + 1] = t
      ratio[#ratio + 1] = step_flops / t / r
      t0 = clock()
      replay()
      bare[#bare + 1] = clock() - t0
      print(("round %d: DGEMM %.1f GFLOP/s, ntklab step %.2f s = %.0f%% of it; its bare GEMMs "
        .. "%.2f s"):format(round, r / 1e9, t, 100 * step_flops / t / r, bare[#bare]))
    end
    if what ~= "step" then
      local s, out = torch_step("nchw")
      local c = torch_step("channels_last")
      if not s then print("pytorch: not measured (" .. out:gsub("\n.*", "") .. ")") break end
      torch[#torch + 1], torch_cl[#torch_cl + 1] = s, c
      print(("round %d: pytorch step %.2f s (NCHW), %.2f s (channels_last)"):format(round, s, c))
    end
  end
  rate = median(rates)
  print(("DGEMM 2000^3: median %.1f GFLOP/s over %d rounds"):format(rate / 1e9, #rates))
  if #step > 0 then
    local t = median(step)
    print(("ntklab step: median %.2f s = %.1f GFLOP/s = %.0f%% of DGEMM (median of the per-round "
      .. "ratios; goal >= 60%%); bare GEMMs %.2f s = %.0f%% of DGEMM")
      :format(t, step_flops / t / 1e9, 100 * median(ratio), median(bare),
              100 * step_flops / median(bare) / rate))
  end
  if #torch > 0 then
    print(("pytorch step: median %.2f s (NCHW), %.2f s (channels_last)"):format(median(torch),
      median(torch_cl)))
  end
else
  rate = dgemm_rate()
end

if what == "all" or what == "ntk" then
  local t = best_of(math.max(1, reps - 1), function() ntklab.model_ntk(m, X) end)
  rate = math.max(rate, dgemm_rate())
  local bound = ntk_flops / rate
  print(("ntklab NTK untiled: %.2f s, FLOP bound %.2f s: %.2fx (goal <= 2x)"):format(t, bound,
    t / bound))
  local cmd = ("%q %q %d %d %d 1 %d ntk-memory"):format(arg[-1], arg[0], k, b, P, tile)
  local p = io.popen(cmd)
  local out = p and p:read("a") or ""
  if p then p:close() end
  local s, mb = out:match("ntk_memory seconds (%S+) peak_mb (%S+)")
  if s then
    print(("ntklab NTK tile = %d: %.2f s (%.2fx the bound), peak memory %.0f MB (goal < 2048)")
      :format(tile, tonumber(s), tonumber(s) / bound, tonumber(mb)))
  else
    print("tiled NTK: not measured (" .. out .. ")")
  end
end
