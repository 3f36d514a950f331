--- ntklab.tiles: a kernel on disk as row blocks, for kernels larger than memory.
-- A tiled kernel is a directory: manifest.json and one paged NPY file per row block
-- [i0, i1) x [1, P] of the P x P kernel of a net on inputs X (1-based, inclusive ranges in the
-- manifest: rows = {first, last}). The manifest records the shapes, the tile grid, the kernel
-- ("ntk" with output "trace" or "mean"; "nngp" with a layer), the dtype, and the checksums of the
-- net's parameters and of X, so a tile computed from another net or other data is refused.
--   tiles.plan(P [, block]) -> {{first, last}, ...}   row blocks; block rounded up to the row unit
--                                                     (io.paged_row_unit(P)) so blocks map side by side
--   tiles.create(dir, net, X [, opts]) -> manifest   writes manifest.json (no tiles yet)
--       opts: kernel = "ntk" | "nngp" | "analytic_ntk" | "analytic_nngp" (infinite width, of the
--       net's architecture; ntk and analytic_ntk are of one output when C = 1), output = "trace" | "mean" (ntk), layer = l (nngp, default
--       the last), dtype = "f8" | "f4", block = rows per tile (default: about 64 MiB per tile)
--   tiles.compute(dir, net, X, k [, ws]) -> path     computes and writes tile k (atomically)
--   tiles.block(net, X, first, last [, X2, opts]) -> K[first..last, :] of the kernel (in memory)
--   tiles.write(dir, net, X [, opts]) -> manifest    create, then every tile, in one process
--   tiles.check(dir) -> manifest | nil, msg           every tile present with its exact size
--   tiles.open(dir) -> K | nil, msg                   the whole kernel mapped read-only (f8 only)
--   tiles.each(dir) -> iterator of k, first, last, tile   tiles one at a time (f8 or f4)
--   tiles.operator(dir [, {loops = "fused" | "blas"}]) -> op, manifest | nil, msg
--                                                     every tile mapped read-only (f8 or f4) as
--                                                     an ntklab.tile_matvec: op:apply(V) = K V in
--                                                     float64 streaming the tiles, op:row(i),
--                                                     op:diagonal()
local check = require "ntklab.argcheck"
check.register()
local json = require "ntklab.json"
local fs = require "ntklab.fs"

local tiles = {}
local fmt = string.format

local FORMAT = "ntklab.kernel_tiles"
local HEADER = 4096 -- NTK_IO_PAGED_HEADER: the payload offset of a paged NPY file
local DEFAULT_TILE_BYTES = 64 * 2 ^ 20

local function core() return require "ntklab" end

local function tile_name(k) return fmt("tile_%05d.npy", k) end

--- tiles.plan(P [, block]): the row blocks {{first, last}, ...} of a P x P kernel (the header).
function tiles.plan(P, block)
  check.integer(P, 1, "tiles.plan", 1)
  local unit = core().io.paged_row_unit(P)
  if unit == 0 then check.fail(1, "tiles.plan", "this system's page size cannot map paged NPY files") end
  if block == nil then block = math.max(1, DEFAULT_TILE_BYTES // (8 * P)) end
  check.integer(block, 2, "tiles.plan", 1)
  block = ((block + unit - 1) // unit) * unit
  local grid = {}
  for first = 1, P, block do grid[#grid + 1] = {first, math.min(P, first + block - 1)} end
  return grid
end

local KERNELS = {ntk = true, nngp = true, analytic_ntk = true, analytic_nngp = true}
local OUTPUTS = {trace = true, mean = true}
local DTYPES = {f8 = true, f4 = true}
local OPTION_KEYS = {kernel = true, output = true, layer = true, dtype = true, block = true}

local function check_inputs(net, X, fname)
  if getmetatable(net) ~= core().metatable("mlp") then
    check.fail(2, fname, "mlp expected, got " .. check.typename(net))
  end
  if check.typename(X) ~= "ntklab.tensor" or X:dim() ~= 2 then
    check.fail(3, fname, "[P x D] tensor expected, got " .. check.typename(X))
  end
end

local function checksums(net, X)
  local io = core().io
  return io.checksum(net:params()), io.checksum(X)
end

--- The kernel's rows first..last against X2 (default X): what tile [first, last] holds.
function tiles.block(net, X, first, last, X2, opts)
  local f = "tiles.block"
  check_inputs(net, X, f)
  local P = X:size(1)
  check.integer(first, 3, f, 1)
  check.integer(last, 4, f, first)
  if last > P then check.fail(4, f, fmt("row %d out of range [1, %d]", last, P)) end
  opts = opts or {}
  local n = core()
  local rows = X:narrow(1, first, last - first + 1)
  X2 = X2 or X
  local kernel = opts.kernel or "ntk"
  if kernel == "nngp" then
    local ks = n.nngp(net, rows, X2)
    return ks[opts.layer or #ks]
  elseif kernel == "analytic_ntk" or kernel == "analytic_nngp" then
    return n[kernel](net, rows, X2) -- the net's architecture; its weights do not enter
  end
  return n.ntk(net, rows, X2, {output = opts.output or "trace", workspace = opts.workspace})
end

--- tiles.create(dir, net, X, opts): writes the manifest of a tiled kernel (the header).
function tiles.create(dir, net, X, opts)
  local f = "tiles.create"
  check.string(dir, 1, f)
  check_inputs(net, X, f)
  opts = opts or {}
  check.table(opts, 4, f)
  check.options(opts, 4, f, OPTION_KEYS)
  local kernel = opts.kernel or "ntk"
  if not KERNELS[kernel] then check.fail(4, f, fmt("option 'kernel': 'ntk', 'nngp', 'analytic_ntk' or 'analytic_nngp' expected, got '%s'", tostring(kernel))) end
  local output = opts.output or "trace"
  if kernel == "ntk" and not OUTPUTS[output] then
    check.fail(4, f, fmt("option 'output': 'trace' or 'mean' expected, got '%s'", tostring(output)))
  end
  local dtype = opts.dtype or "f8"
  if not DTYPES[dtype] then check.fail(4, f, fmt("option 'dtype': 'f8' or 'f4' expected, got '%s'", tostring(dtype))) end
  local layer = nil
  if kernel == "nngp" then
    layer = opts.layer or net:depth()
    check.integer(layer, 4, f, 0)
  end
  local P = X:size(1)
  local grid = tiles.plan(P, opts.block)
  local net_sum, data_sum = checksums(net, X)
  local manifest = {
    format = FORMAT, version = 1, kernel = kernel, output = kernel == "ntk" and output or nil,
    layer = layer, dtype = dtype, P = P, input_dim = X:size(2), shape = {P, P},
    net_checksum = net_sum, data_checksum = data_sum, net = net:config(),
    tiles = {},
  }
  for k, b in ipairs(grid) do
    manifest.tiles[k] = {rows = b, file = tile_name(k), bytes = HEADER + (b[2] - b[1] + 1) * P * (dtype == "f8" and 8 or 4)}
  end
  local ok, err = fs.mkdir_p(dir)
  if not ok then return nil, err end
  ok, err = json.write_json(dir .. "/manifest.json", manifest)
  if not ok then return nil, err end
  return manifest
end

local function read_manifest(dir)
  local m, err = json.read_json(dir .. "/manifest.json")
  if not m then return nil, err end
  if type(m) ~= "table" or m.format ~= FORMAT or type(m.tiles) ~= "table" then
    return nil, fmt("%s/manifest.json: not a kernel tiles manifest", dir)
  end
  return m
end

--- tiles.compute(dir, net, X, k [, ws]): computes and writes tile k.
function tiles.compute(dir, net, X, k, ws)
  local f = "tiles.compute"
  check.string(dir, 1, f)
  check_inputs(net, X, f)
  local m, err = read_manifest(dir)
  if not m then return nil, err end
  check.integer(k, 4, f, 1)
  if k > #m.tiles then check.fail(4, f, fmt("tile %d out of range [1, %d]", k, #m.tiles)) end
  local net_sum, data_sum = checksums(net, X)
  if net_sum ~= m.net_checksum then
    check.fail(2, f, fmt("net checksum %s differs from the manifest's %s", net_sum, m.net_checksum))
  end
  if data_sum ~= m.data_checksum then
    check.fail(3, f, fmt("data checksum %s differs from the manifest's %s", data_sum, m.data_checksum))
  end
  local t = m.tiles[k]
  local K = tiles.block(net, X, t.rows[1], t.rows[2], nil,
                        {kernel = m.kernel, output = m.output, layer = m.layer, workspace = ws})
  local path = dir .. "/" .. t.file
  local ok, werr = core().io.write_npy_paged(path, K, {dtype = m.dtype})
  if not ok then return nil, werr end
  return path
end

--- tiles.write(dir, net, X, opts): create, then compute every tile.
function tiles.write(dir, net, X, opts)
  local m, err = tiles.create(dir, net, X, opts)
  if not m then return nil, err end
  local ws = core().kernel_workspace()
  for k = 1, #m.tiles do
    local ok, cerr = tiles.compute(dir, net, X, k, ws)
    if not ok then return nil, cerr end
  end
  return m
end

local function file_size(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local size = fh:seek("end")
  fh:close()
  return size
end

--- The manifest when every tile is present with its exact size, else nil, msg naming the
-- missing or short tiles.
function tiles.check(dir)
  check.string(dir, 1, "tiles.check")
  local m, err = read_manifest(dir)
  if not m then return nil, err end
  local missing, expect_first = {}, 1
  for k, t in ipairs(m.tiles) do
    if t.rows[1] ~= expect_first then
      return nil, fmt("%s/manifest.json: tile %d starts at row %d, expected %d", dir, k, t.rows[1], expect_first)
    end
    expect_first = t.rows[2] + 1
    if file_size(dir .. "/" .. t.file) ~= t.bytes then missing[#missing + 1] = t.file end
  end
  if expect_first ~= m.P + 1 then
    return nil, fmt("%s/manifest.json: tiles end at row %d, expected %d", dir, expect_first - 1, m.P)
  end
  if #missing > 0 then
    return nil, fmt("%s: %d of %d tiles missing or incomplete: %s%s", dir, #missing, #m.tiles,
                    table.concat(missing, ", ", 1, math.min(#missing, 5)), #missing > 5 and ", ..." or "")
  end
  return m
end

--- The complete kernel as one read-only-file, memory-mapped [P x P] tensor.
function tiles.open(dir)
  local m, err = tiles.check(dir)
  if not m then return nil, err end
  if m.dtype ~= "f8" then return nil, fmt("%s: f4 tiles do not map as a float64 tensor; use tiles.each", dir) end
  local paths, rows = {}, {}
  for k, t in ipairs(m.tiles) do
    paths[k] = dir .. "/" .. t.file
    rows[k] = t.rows[2] - t.rows[1] + 1
  end
  local K, merr = core().io.map_npy_rows(paths, rows, m.P)
  if not K then return nil, merr end
  return K, m
end

--- The complete kernel as an ntklab.tile_matvec over its mapped tiles (f8 or f4): products
-- K V accumulate in float64 in C, one pass over the tiles, without widening them in memory.
-- opts.loops: "fused" (AVX-512, the default where the CPU has it) or "blas".
function tiles.operator(dir, opts)
  local f = "tiles.operator"
  check.string(dir, 1, f)
  opts = opts or {}
  check.table(opts, 2, f)
  check.options(opts, 2, f, {"loops"})
  local m, err = tiles.check(dir)
  if not m then return nil, err end
  local paths, rows = {}, {}
  for k, t in ipairs(m.tiles) do
    paths[k] = dir .. "/" .. t.file
    rows[k] = t.rows[2] - t.rows[1] + 1
  end
  local op, operr = core().tile_matvec(paths, rows, m.P, {dtype = m.dtype, loops = opts.loops})
  if not op then return nil, operr end
  return op, m
end

--- Iterates over the tiles of a complete kernel: k, first, last, tile ([rows x P], float64).
-- f8 tiles are views of the mapping; f4 tiles are read and widened one at a time.
function tiles.each(dir)
  local m, err = tiles.check(dir)
  if not m then error(err, 2) end
  local K = m.dtype == "f8" and assert(tiles.open(dir)) or nil
  local k = 0
  return function()
    k = k + 1
    local t = m.tiles[k]
    if not t then return nil end
    local tile
    if K then
      tile = K:narrow(1, t.rows[1], t.rows[2] - t.rows[1] + 1)
    else
      tile = assert(core().io.read_npy(dir .. "/" .. t.file))
    end
    return k, t.rows[1], t.rows[2], tile
  end
end

return tiles
