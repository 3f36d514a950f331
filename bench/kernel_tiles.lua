-- bench/kernel_tiles.lua: a tiled kernel and CG regression at scale (issue 18). Run from the
-- source tree:
--   build/bin/ntklab bench/kernel_tiles.lua [P] [width] [dir] [rank] [maxiter without preconditioner] [threads]
--   (default 8000 100 /tmp/ntk_tiles_P 500 20000 2)
-- Fashion-MNIST classes 0/1 (targets +-1), a 784-width-width-1 ReLU net at initialization,
-- the trace NTK. It reports:
--   1. in memory vs tiled: how many of the P^2 entries differ in any bit, and the largest
--      relative difference; the time and peak RSS of each;
--   2. CG against the direct Cholesky solve at ridge 1e-6: relative solution difference,
--      iterations without and with the pivoted-Cholesky preconditioner, time per matvec.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local tiles = require "ntklab.tiles"
local cg = require "ntklab.cg"
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")

local P = tonumber(arg and arg[1]) or 8000
local width = tonumber(arg and arg[2]) or 100
local dir = arg and arg[3] or ("/tmp/ntk_tiles_" .. P)
local RIDGE, TOL = 1e-6, 1e-12
local RANK = tonumber(arg and arg[4]) or 500
-- the unpreconditioned run is stopped here when it has not converged (it reports its residual)
local NONE_MAXITER = tonumber(arg and arg[5]) or 20000
ntklab.threads(tonumber(arg and arg[6]) or 2)
local clock = ntklab.clock
local peak_mb = bench.peak_mb

local ds = assert(data.fashion_mnist{classes = {0, 1}, train = P, test = 100, seed = 0})
local X, Y = ds.X_train, ds.y_train
local net = ntklab.mlp{widths = {784, width, width, 1}, seed = 1}
print(("P = %d, D = 784, widths 784-%d-%d-1, trace NTK, %s, %d BLAS thread(s), BLAS core %s"):format(
  P, width, width, dir, ntklab.threads(), ntklab.blas_core()))

local t0 = clock()
local K = ntklab.ntk(net, X, {output = "trace"})
print(("in memory: %.2f s, peak RSS %.0f MB"):format(clock() - t0, peak_mb()))

os.execute("rm -rf '" .. dir .. "'")
t0 = clock()
local m = assert(tiles.write(dir, net, X))
print(("tiled: %d tiles of %d rows, %.2f s, peak RSS %.0f MB"):format(#m.tiles,
  m.tiles[1].rows[2] - m.tiles[1].rows[1] + 1, clock() - t0, peak_mb()))
local T = assert(tiles.open(dir))
local differ, worst = 0, 0
local scale = K:abs():max()
for i = 1, P do
  local d = (T:select(1, i) - K:select(1, i)):abs()
  local c = d:gt(0):sum()
  if c > 0 then
    differ = differ + c
    worst = math.max(worst, d:max() / scale)
  end
end
print(("tiled vs in memory: %d of %d entries differ, largest relative difference %.3g"):format(
  differ, P * P, worst))

t0 = clock()
local direct = assert(ntklab.kernel_regression{K = K, y = Y, ridge = RIDGE})
print(("direct (%s): %.2f s"):format(direct.method, clock() - t0))
K = nil
collectgarbage()
for _, pc in ipairs{"pivchol", "none"} do
  t0 = clock()
  local fit, msg, partial = cg.solve{K = dir, y = Y, ridge = RIDGE, tol = TOL, precond = pc,
                                     rank = RANK, maxiter = pc == "none" and NONE_MAXITER or 20000}
  fit = fit or partial
  print(("cg %-7s rank %3d: %5d iterations, residual %.2g, %.3f s per matvec, preconditioner %.2f s, total %.1f s, relative difference to direct %.3g%s"):format(
    pc, fit.rank, fit.iterations, fit.residual, fit.matvec_seconds, fit.precond_seconds,
    clock() - t0, (fit.alpha - direct.alpha):norm() / direct.alpha:norm(), msg and (" (" .. msg .. ")") or ""))
end
print(("peak RSS %.0f MB"):format(peak_mb()))
