-- kernel_tiles.lua: one row block of a kernel too large for one process, as a sweep job.
-- Every job builds the same net and inputs (from --net FILE or --width/--depth/--net-seed, and
-- from --inputs FILE.npy or Fashion-MNIST/MNIST --classes, --P, --seed: same options, same bits
-- on every host), writes the manifest into --tiles DIR if it is not there yet (identical text
-- from every job, renamed into place atomically), and computes tile --tile k of the grid.
-- --tile 0 is the merge step: it checks the manifest and every tile, and fails when any is
-- missing. Sweep it over the grid:
--   ntklab sweep experiments/kernel_tiles.lua --grid tile=$(seq -s, 1 8) --tiles /shared/K \
--     --P 8000 --emit parallel --out results/tiles
--   parallel --sshloginfile hosts --joblog results/tiles/joblog < results/tiles/jobs.txt
--   ntklab run experiments/kernel_tiles.lua --tile 0 --tiles /shared/K --P 8000 --out results/tiles/check
-- The kernel then opens with require "ntklab.tiles".open(DIR), or streams into ntklab.cg.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local tiles = require "ntklab.tiles"

local experiment = {
  name = "kernel_tiles",
  summary = "One row block of a tiled kernel (NTK, NNGP or their infinite-width forms) into a shared directory; tile 0 checks them all.",
  options = {
    {name = "tiles", type = "string", help = "the kernel's directory (shared by every job)"},
    {name = "tile", type = "integer", default = 0, min = 0, max = 1000000,
      help = "the row block to compute (1-based); 0 checks the manifest and every tile"},
    {name = "kernel", type = "choice", choices = {"ntk", "nngp", "analytic_ntk", "analytic_nngp"}, default = "ntk",
      help = "which kernel (analytic: infinite width, of the net's architecture)"},
    {name = "output", type = "choice", choices = {"trace", "mean"}, default = "trace",
      help = "NTK over the outputs: sum (trace) or mean"},
    {name = "dtype", type = "choice", choices = {"f8", "f4"}, default = "f8", help = "tile element type"},
    {name = "block", type = "integer", min = 1, max = 1000000,
      help = "rows per tile (rounded up so tiles map side by side; default about 64 MiB per tile)"},
    {name = "dataset", type = "choice", choices = {"fashion_mnist", "mnist"}, default = "fashion_mnist",
      help = "inputs when --inputs is not given"},
    {name = "classes", type = "string", default = "0,1", help = "comma-separated classes, or 'all'"},
    {name = "P", type = "integer", default = 1000, min = 1, max = 1000000, help = "training points"},
    {name = "inputs", type = "string", help = "an NPY file of the [P x D] inputs (replaces the dataset)"},
    {name = "net", type = "string", help = "a saved net (net:save); otherwise a fresh ReLU net"},
    {name = "width", type = "integer", default = 100, min = 1, max = 100000, help = "hidden width (fresh net)"},
    {name = "depth", type = "integer", default = 2, min = 1, max = 100, help = "hidden layers (fresh net)"},
    {name = "net_seed", type = "integer", default = 1, help = "seed of the fresh net"},
    {name = "seed", type = "integer", default = 0, help = "seed of the data subsample"},
  },
  columns = {"tile", "first", "last", "seconds.tile", "complete"},
}

local function inputs(opts, ctx)
  if opts.inputs then
    local X, err = ntklab.io.read_npy(opts.inputs)
    if not X then ctx.fail(err) end
    return X
  end
  local classes
  if opts.classes ~= "all" then
    classes = {}
    for c in opts.classes:gmatch("[^,]+") do
      local v = math.tointeger(tonumber(c))
      if not v or v < 0 or v > 9 then ctx.fail("option 'classes': 'all' or digits 0-9 expected, got '" .. c .. "'") end
      classes[#classes + 1] = v
    end
  end
  local ds, err = data[opts.dataset]{classes = classes, train = opts.P, test = 1, seed = opts.seed}
  if not ds then ctx.fail(err) end
  return ds.X_train
end

local function network(opts, D, ctx)
  if opts.net then
    local net, err = ntklab.mlp_load(opts.net)
    if not net then ctx.fail(err) end
    return net
  end
  local widths = {D}
  for _ = 1, opts.depth do widths[#widths + 1] = opts.width end
  widths[#widths + 1] = 1
  return ntklab.mlp{widths = widths, seed = opts.net_seed}
end

function experiment.run(opts, ctx)
  if not opts.tiles then ctx.fail("option 'tiles': the kernel's directory is required") end
  local dir = opts.tiles
  if opts.tile == 0 then
    local m, err = tiles.check(dir)
    if not m then ctx.fail(err) end
    local bytes = 0
    for _, t in ipairs(m.tiles) do bytes = bytes + t.bytes end
    return {tile = 0, complete = true, tiles_total = #m.tiles, P = m.P, kernel = m.kernel,
            dtype = m.dtype, bytes = bytes, net_checksum = m.net_checksum, data_checksum = m.data_checksum}
  end
  local X = inputs(opts, ctx)
  local net = network(opts, X:size(2), ctx)
  ctx.timer:lap("setup")
  local json = require "ntklab.json"
  local m = json.read_json(dir .. "/manifest.json")
  if m then
    -- another job (or an earlier sweep) wrote it: it must describe this kernel
    for _, key in ipairs{"kernel", "dtype"} do
      if m[key] ~= opts[key] then
        ctx.fail(("%s/manifest.json has %s '%s', this job asks for '%s'"):format(dir, key, tostring(m[key]), opts[key]))
      end
    end
    if m.kernel == "ntk" and m.output ~= opts.output then
      ctx.fail(("%s/manifest.json has output '%s', this job asks for '%s'"):format(dir, tostring(m.output), opts.output))
    end
  else
    local err
    m, err = tiles.create(dir, net, X, {kernel = opts.kernel, output = opts.output,
                                         dtype = opts.dtype, block = opts.block})
    if not m then ctx.fail(err) end
  end
  local ok, path = pcall(tiles.compute, dir, net, X, opts.tile)
  if not ok or not path then ctx.fail(tostring(path)) end
  ctx.timer:lap("tile")
  local t = m.tiles[opts.tile]
  return {tile = opts.tile, first = t.rows[1], last = t.rows[2], file = path,
          tiles_total = #m.tiles, complete = tiles.check(dir) ~= nil, P = m.P}
end

function experiment.verdict(s)
  if s.tile == 0 then
    return "complete", ("%d tiles of a %d x %d %s kernel (%s), %.1f MB"):format(s.tiles_total, s.P, s.P,
      s.kernel, s.dtype, s.bytes / 1e6)
  end
  return "tile written", ("rows %d-%d of %d (tile %d of %d)"):format(s.first, s.last, s.P, s.tile, s.tiles_total)
end

return experiment
