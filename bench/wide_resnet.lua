-- bench/wide_resnet.lua: the Wide-ResNet (ntklab.wide_resnet) training step and NTK against this
-- machine's DGEMM rate, and the same step in PyTorch float64, in one sitting. A benchmark, not a
-- test: it prints, it asserts nothing.
--
--   build/bin/ntklab bench/wide_resnet.lua [k] [b] [P] [reps] [tile] [what]
--     k, b   width factor and blocks per group (default 4, 1: the issue's WRN)
--     P      samples of 3 x 32 x 32 (default 100)
--     reps   timed repetitions; the fastest counts (default 2)
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
-- count, measured between the runs (the machine is shared: rates drift, ratios hold better).
local ntklab = require "ntklab"

local k = tonumber(arg[1] or 4)
local b = tonumber(arg[2] or 1)
local P = tonumber(arg[3] or 100)
local reps = tonumber(arg[4] or 2)
local tile = tonumber(arg[5] or 25)
local what = arg[6] or "all"
local clock = ntklab.clock
local threads = ntklab.threads()
local root = (arg[0]:match("^(.*)/bench/[^/]*$") or ".")

local function best_of(n, fn)
  fn()
  local best = math.huge
  for _ = 1, n do
    local t0 = clock()
    fn()
    best = math.min(best, clock() - t0)
  end
  return best
end

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

local function peak_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

if what == "ntk-memory" then
  local t0 = clock()
  ntklab.model_ntk(m, X, {tile = tile})
  print(("ntk_memory seconds %.2f peak_mb %.0f"):format(clock() - t0, peak_mb()))
  return
end

print(("WRN k = %d, b = %d, P = %d, %d parameters, %d BLAS threads"):format(k, b, P, m:nparams(),
  threads))
print(("convolution FLOPs: forward %.1f G, training step %.1f G; NTK bound %.1f G (Gram %.1f G)")
  :format(fwd / 1e9, step_flops / 1e9, ntk_flops / 1e9, 2 * P * P * m:nparams() / 1e9))

local rate = dgemm_rate()
print(("DGEMM 2000^3: %.1f GFLOP/s"):format(rate / 1e9))

if what == "all" or what == "step" then
  local t = best_of(reps, function() m:grad(X, Y) end)
  print(("ntklab step: %.2f s = %.1f GFLOP/s = %.0f%% of DGEMM (goal >= 60%%)")
    :format(t, step_flops / t / 1e9, 100 * step_flops / t / rate))
end

if what == "all" or what == "torch" then
  for _, layout in ipairs{"", "channels_last"} do
    local cmd = ("/usr/bin/python3 %q %d %d %d %d %d %s 2>&1"):format(
      root .. "/bench/wide_resnet_torch.py", k, b, P, reps, threads, layout)
    local p = io.popen(cmd)
    local out = p and p:read("a") or ""
    if p then p:close() end
    local s = tonumber(out:match("best_seconds%s+(%S+)"))
    if s then
      print(("pytorch step (%s): %.2f s = %.1f GFLOP/s"):format(layout == "" and "NCHW" or layout,
        s, step_flops / s / 1e9))
    else
      print("pytorch step: not measured (" .. out:gsub("\n.*", "") .. ")")
    end
  end
  rate = math.max(rate, dgemm_rate())
end

if what == "all" or what == "ntk" then
  local t = best_of(math.max(1, reps - 1), function() ntklab.model_ntk(m, X) end)
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
