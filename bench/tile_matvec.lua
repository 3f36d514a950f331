-- bench/tile_matvec.lua: the streaming product K V of a kernel on disk (ntklab.tile_matvec)
-- against its memory-bandwidth bound (issue 18). Run from the source tree:
--   build/bin/ntklab bench/tile_matvec.lua [P] [dir] [threads]   (default 8000 /tmp/ntk_tile_matvec 1)
-- A [P x P] trace NTK of a small net (10-64-1 on Gaussian inputs: the values do not matter,
-- only the bytes) is written as f8 and f4 tiles; while they sit in the page cache, each product
-- is timed (best of REPS) for m = 1 and 10 columns:
--   bound  = max(bytes / bandwidth, 2 P^2 m / gemm rate), the bandwidth being that of a dgemv
--            on an in-memory [P x P] float64 matrix (it reads 8 P^2 bytes once), the rate that
--            of a square dgemm, both measured here at the same thread count;
--   f8, f4 = ntklab.tile_matvec:apply by its fused AVX-512 loops (where the CPU has them) and by
--            BLAS on widened panels, and the ratio to the bound;
--   lua f4 = the Lua path it replaces (each tile read by io.read_npy, widened, then matmul).
local ntklab = require "ntklab"
local tiles = require "ntklab.tiles"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")

local P = bench.number_arg(1, 8000, "P", true)
local dir = arg[2] or "/tmp/ntk_tile_matvec"
local threads = bench.number_arg(3, 1, "threads", true)
local REPS = 5
ntklab.threads(threads)

local function best(f) return bench.best_of(REPS, f) end

local rng = ntklab.rng(1)
local X = rng:normal(P, 10)
local net = ntklab.mlp{widths = {10, 64, 1}, seed = 2}
for _, dtype in ipairs{"f8", "f4"} do
  if not tiles.check(dir .. "/" .. dtype) then
    os.execute("rm -rf '" .. dir .. "/" .. dtype .. "'")
    assert(tiles.write(dir .. "/" .. dtype, net, X, {dtype = dtype}))
  end
end

-- the bandwidth: a dgemv reads each of the 8 P^2 bytes of an in-memory matrix once
local A = rng:normal(P, P)
local x, y = rng:normal(P), ntklab.zeros(P)
ntklab.matmul(A, x, y)
local t_gemv = best(function() ntklab.matmul(A, x, y) end)
local bandwidth = 8 * P * P / t_gemv
A = nil
collectgarbage()
-- the gemm rate: a square product of 2000 x 2000 float64 matrices
local n = 2000
local B, Cm = rng:normal(n, n), ntklab.zeros(n, n)
local t_gemm = best(function() ntklab.matmul(B, B, Cm) end)
local rate = 2 * n ^ 3 / t_gemm
B, Cm = nil, nil
collectgarbage()
print(("P = %d, %d BLAS thread(s), BLAS core %s: bandwidth %.1f GB/s (dgemv), gemm %.1f GFLOP/s"):format(
  P, ntklab.threads(), ntklab.blas_core and ntklab.blas_core() or "?", bandwidth / 1e9, rate / 1e9))

local ops = {}
for _, dtype in ipairs{"f8", "f4"} do
  ops[dtype] = {}
  for _, loops in ipairs{"fused", "blas"} do
    -- fused loops raise on a CPU without AVX-512: then only BLAS is timed
    local ok, op = pcall(tiles.operator, dir .. "/" .. dtype, {loops = loops})
    if ok and op then ops[dtype][#ops[dtype] + 1] = {loops = loops, op = op} end
  end
end
local m4 = assert(tiles.check(dir .. "/f4"))
for _, m in ipairs{1, 10} do
  local V, out = rng:normal(P, m), ntklab.zeros(P, m)
  local flop_time = 2 * P * P * m / rate
  for _, dtype in ipairs{"f8", "f4"} do
    for _, o in ipairs(ops[dtype]) do
      local op = o.op
      op:apply(V, out) -- pages in
      local t = best(function() op:apply(V, out) end)
      local bound = math.max(op:bytes() / bandwidth, flop_time)
      print(("m = %2d  %s tiles, %-5s loops: %.3f s per product, bound %.3f s (%s), ratio %.2f"):format(
        m, dtype, o.loops, t, bound, op:bytes() / bandwidth >= flop_time and "bandwidth" or "flops", t / bound))
    end
  end
  local t_lua = best(function()
    for _, t in ipairs(m4.tiles) do
      local tile = assert(ntklab.io.read_npy(dir .. "/f4/" .. t.file))
      ntklab.matmul(tile, V, out:narrow(1, t.rows[1], t.rows[2] - t.rows[1] + 1))
    end
  end)
  local bound4 = math.max(ops.f4[1].op:bytes() / bandwidth, flop_time)
  print(("m = %2d  f4 tiles by the Lua path (read_npy + matmul): %.3f s, ratio %.2f"):format(
    m, t_lua, t_lua / bound4))
end
