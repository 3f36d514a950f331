-- scale_regression.lua: kernel regression with the final NTK of a trained net, at P past
-- memory (issue 18, item 4). Fashion-MNIST, the chosen classes (default all ten), centered
-- one-hot targets; a ReLU net trained by full-batch Adam; its final trace NTK written as tiles
-- (ntklab.tiles, float64 or float32) and solved by preconditioned CG (ntklab.cg, its matvecs
-- streaming the mapped tiles in C) with all C outputs as one block of right-hand sides; test
-- predictions K(test, train) alpha computed by test blocks, so neither P x P nor test x P is
-- ever in memory. Writes the trained net to net.mlp. Complete tiles of the same net and inputs
-- already in --tiles are reused (the summary says so); another net's are refused.
-- Reports the test accuracy of the kernel predictor against the trained net's, the wall time
-- of each phase, the peak resident memory (VmHWM, which counts the cached pages of the mapped
-- tiles, and the largest anonymous resident memory sampled at the end of each phase), the disk
-- the tiles take, and the ratio of the time of the tiles and the matvecs to their FLOP bound
-- (2 flops per multiply-add at --rate).
--   build/bin/ntklab run experiments/scale_regression.lua --P 60000 --tiles /big/K60k --dtype f4
local ntklab = require "ntklab"
local tiles = require "ntklab.tiles"
local cg = require "ntklab.cg"
local json = require "ntklab.json"

-- The ridge relative to mean diag K when --ridge is not given (f4 tiles raise it to their floor).
local DEFAULT_RIDGE = 1e-6

local experiment = {
  name = "scale_regression",
  summary = "Final-NTK kernel regression of a trained net on Fashion-MNIST at large P, by tiles and CG.",
  options = {
    {name = "P", type = "integer", default = 60000, min = 10, max = 60000, help = "training points"},
    {name = "test", type = "integer", default = 10000, min = 10, max = 10000, help = "test points"},
    {name = "classes", type = "string", default = "all", help = "comma-separated classes, or 'all'"},
    {name = "width", type = "integer", default = 100, min = 1, max = 100000, help = "hidden width"},
    {name = "depth", type = "integer", default = 2, min = 1, max = 20, help = "hidden layers"},
    {name = "steps", type = "integer", default = 200, min = 0, max = 1000000, help = "full-batch Adam steps"},
    {name = "net", type = "string", help = "a trained net (net.mlp of an earlier run) instead of training one"},
    {name = "lr", type = "number", default = 1e-3, min = 0, help = "Adam learning rate"},
    {name = "tiles", type = "string", help = "tiles directory (default: the run's directory/K)"},
    {name = "dtype", type = "choice", choices = {"f8", "f4"}, default = "f4", help = "tile element type"},
    {name = "ridge", type = "number", min = 0,
      help = "ridge, relative to mean diag K (default 1e-6, and for f4 tiles at least their rounding floor cg.ridge_floor = 10 x 2^-24 sqrt(P))"},
    {name = "tol", type = "number", default = 1e-6, min = 0, max = 0.5, help = "CG relative residual"},
    {name = "rank", type = "integer", default = 500, min = 1, max = 100000, help = "preconditioner rank"},
    {name = "maxiter", type = "integer", default = 2000, min = 1, max = 1000000, help = "CG iterations"},
    {name = "rate", type = "number", default = 90e9, min = 1, help = "FLOP/s of the bound"},
    {name = "seed", type = "integer", default = 0, help = "seed of the data and the init"},
  },
  columns = {"P", "accuracy_net", "accuracy_kernel", "cg.iterations", "seconds_total", "peak_rss_mb", "disk_mb"},
}

local function peak_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) / 1024
end

-- Resident anonymous memory (heap, tensors) now, in MB: peak_mb's VmHWM also counts the pages
-- of the mapped tiles, which are page cache the kernel reclaims under pressure.
local function anon_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local kb = tonumber(s:match("RssAnon:%s*(%d+)"))
  return kb and kb / 1024
end

local function accuracy(pred, labels)
  local hit = 0
  local am = pred:argmax(2)
  for i = 1, pred:size(1) do
    if am:get(i, 1) - 1 == labels:get(i, 1) then hit = hit + 1 end
  end
  return hit / pred:size(1)
end

-- flops of an n x P block of the trace NTK with C = widths[#widths] outputs (ntk_kernel.c's
-- kernel_block): the Gram of every layer's inputs (inner dimension widths[l], 2 n P widths[l]
-- flops) and, for every layer but the last, the traced Gram of its backward signals (C per
-- sample: inner dimension C widths[l + 1]); the last layer's signal Gram is the constant C.
-- Plus the forward and backward passes of both row sets (4 (n + P) widths[l] widths[l + 1]).
local function tile_flops(widths, n, P)
  local C, f = widths[#widths], 0
  for l = 1, #widths - 1 do
    f = f + 2 * n * P * widths[l]                     -- input Gram of layer l
    f = f + 4 * (n + P) * widths[l] * widths[l + 1]   -- forward and backward gemms
    if l < #widths - 1 then f = f + 2 * n * P * C * widths[l + 1] end -- its signal Gram
  end
  return f
end

function experiment.run(opts, ctx)
  local clock = ntklab.clock
  local t_start = clock()
  local classes
  if opts.classes ~= "all" then
    classes = {}
    for c in opts.classes:gmatch("[^,]+") do classes[#classes + 1] = math.tointeger(tonumber(c)) end
  end
  -- The tiles round K (f4: by about 2^-24 sqrt(P) mean diag K in the 2-norm, cg.rounding); a
  -- ridge below ten times that solves the rounding, not K (ntklab.cg's header).
  local floor = cg.ridge_floor(opts.P, opts.dtype)
  local ridge_rel = opts.ridge or math.max(DEFAULT_RIDGE, floor)
  if ridge_rel < floor then
    ctx.fail(("--ridge %g is below the %s tiles' rounding floor %.3g at P = %d (cg.ridge_floor: 10 x the unit roundoff x sqrt(P), relative to mean diag K): give --ridge >= %.3g%s"):format(
      ridge_rel, opts.dtype, floor, opts.P, floor, opts.dtype == "f4" and " or --dtype f8" or ""))
  end
  local ds, err = ntklab.data.fashion_mnist{classes = classes, train = opts.P, test = opts.test, seed = opts.seed}
  if not ds then ctx.fail(err) end
  local X, Xt = ds.X_train, ds.X_test
  local C = #ds.classes
  -- centered one-hot targets: y_k = 1 - 1/C for the class, -1/C otherwise
  local Y = ntklab.zeros(X:size(1), C):add_(-1 / C)
  for i = 1, X:size(1) do
    local k = math.tointeger(ds.labels_train:get(i, 1))
    local col = 1
    for j, c in ipairs(ds.classes) do if c == k then col = j end end
    Y:set(i, col, 1 - 1 / C)
  end
  local widths, net = {X:size(2)}, nil
  if opts.net then
    local lerr
    net, lerr = ntklab.mlp_load(opts.net)
    if not net then ctx.fail(lerr) end
    widths = net:config().widths
    if widths[1] ~= X:size(2) or widths[#widths] ~= C then
      ctx.fail(("--net %s: widths %s do not fit %d inputs and %d classes"):format(
        opts.net, table.concat(widths, "-"), X:size(2), C))
    end
  else
    for _ = 1, opts.depth do widths[#widths + 1] = opts.width end
    widths[#widths + 1] = C
    net = ntklab.mlp{widths = widths, seed = opts.seed + 1}
  end
  ctx.timer:lap("data")

  local adam = ntklab.train.adam{lr = opts.lr}
  local steps = opts.net and 0 or opts.steps -- a given net is used as it is
  local loss = steps > 0 and adam:run(net, X, Y, {steps = steps}) or net:loss(X, Y)
  local f_test = net:forward(Xt)
  local acc_net = accuracy(f_test, ds.labels_test)
  local saved, serr = net:save(ctx.path("net.mlp")) -- the trained net: for tile jobs (--net) and checks
  if not saved then ctx.fail(serr) end
  local anon_max = anon_mb() or 0
  local function sample() anon_max = math.max(anon_max, anon_mb() or 0) end
  local t_train = ctx.timer:lap("train")
  ctx.log(("trained: loss %.4g, test accuracy %.4f"):format(loss, acc_net))

  local dir = opts.tiles or ctx.path("K")
  -- tiles already in the directory (a resumed run) must be this net's on these inputs: the
  -- same seed, options and thread count give the same bits
  local old = json.read_json(dir .. "/manifest.json")
  if old then
    local net_sum, data_sum = ntklab.io.checksum(net:params()), ntklab.io.checksum(X)
    if old.net_checksum ~= net_sum or old.data_checksum ~= data_sum or old.dtype ~= opts.dtype then
      ctx.fail(("%s holds the tiles of another net, other inputs or another dtype (net %s, data %s, %s; this run: %s, %s, %s): give another --tiles"):format(
        dir, tostring(old.net_checksum), tostring(old.data_checksum), tostring(old.dtype), net_sum, data_sum, opts.dtype))
    end
  end
  local m = tiles.check(dir)
  local reused = m ~= nil
  local t0 = clock()
  if not m then
    m = assert(tiles.create(dir, net, X, {dtype = opts.dtype}))
    local ws = ntklab.kernel_workspace()
    local prog = ctx.progress{total = #m.tiles, label = "tiles"}
    for k = 1, #m.tiles do
      local f = io.open(dir .. "/" .. m.tiles[k].file, "rb")
      local have = f and f:seek("end") == m.tiles[k].bytes
      if f then f:close() end
      if not have then assert(tiles.compute(dir, net, X, k, ws)) end
      prog:update(k)
    end
    prog:finish()
    m = assert(tiles.check(dir))
  end
  local t_tiles = clock() - t0
  sample()
  ctx.timer:lap("tiles")
  local disk = 0
  for _, t in ipairs(m.tiles) do disk = disk + t.bytes end

  -- ridge relative to the kernel's scale: mean diagonal
  local op = assert(tiles.operator(dir))
  local ridge = ridge_rel * op:diagonal():sum() / m.P
  local prog = ctx.progress{total = opts.maxiter, label = "cg"}
  local fit, cg_err, partial = cg.solve{K = op, y = Y, ridge = ridge, tol = opts.tol,
                                        rank = opts.rank, maxiter = opts.maxiter,
                                        progress = function(i, r) prog:update(i, {residual = r}) end}
  prog:finish()
  fit = fit or partial
  if not fit then ctx.fail(cg_err) end
  sample()
  local t_cg = ctx.timer:lap("cg")

  local pred = ntklab.zeros(Xt:size(1), C)
  local ws = ntklab.kernel_workspace()
  for first = 1, Xt:size(1), 1000 do
    local n = math.min(1000, Xt:size(1) - first + 1)
    local Kx = ntklab.ntk(net, Xt:narrow(1, first, n), X, {output = "trace", workspace = ws})
    ntklab.matmul(Kx, fit.alpha, pred:narrow(1, first, n))
  end
  local acc_kernel = accuracy(pred, ds.labels_test)
  sample()
  local t_pred = ctx.timer:lap("predict")

  local P = m.P
  local flops_tiles = reused and 0 or tile_flops(widths, P, P)
  local flops_matvec = 2 * P * P * C * fit.iterations
  return {
    P = P, C = C, test = Xt:size(1), widths = widths, dtype = m.dtype,
    loss = loss, accuracy_net = acc_net, accuracy_kernel = acc_kernel,
    cg = {iterations = fit.iterations, residual = fit.residual, converged = fit.converged,
          matvec_seconds = fit.matvec_seconds, precond_seconds = fit.precond_seconds, rank = fit.rank,
          tol = opts.tol, precond_shift = fit.shift,
          ridge = ridge, ridge_relative = ridge_rel, ridge_floor = floor, rounding = fit.rounding,
          breakdown = fit.breakdown and fit.breakdown.what, message = cg_err},
    tiles_reused = reused, -- then seconds_tiles and the FLOP bound leave the tiles out
    seconds_train = t_train, seconds_tiles = t_tiles, seconds_cg = t_cg, seconds_predict = t_pred,
    seconds_total = clock() - t_start,
    peak_rss_mb = peak_mb(), anon_rss_mb = anon_max, disk_mb = disk / 1e6,
    flop_bound_seconds = (flops_tiles + flops_matvec) / opts.rate,
    flop_ratio = (t_tiles + fit.matvec_seconds * fit.iterations) / ((flops_tiles + flops_matvec) / opts.rate),
  }
end

function experiment.verdict(s)
  return s.cg.converged and "done" or s.cg.breakdown and "cg breakdown" or "cg not converged",
    ("kernel accuracy %.4f vs net %.4f at P = %d; %d CG iterations; %.0f s, peak %.0f MB, %.0f MB of tiles, %.1fx the FLOP bound"):format(
      s.accuracy_kernel, s.accuracy_net, s.P, s.cg.iterations, s.seconds_total, s.peak_rss_mb or 0,
      s.disk_mb, s.flop_ratio)
end

return experiment
