-- 92-kernel_tiles_sweep: a tiled kernel computed as sweep jobs (experiments/kernel_tiles.lua,
-- one job per row block, all writing into one directory). The GNU parallel job list, run over
-- two "hosts" (two sshlogins through spec/support/fake_ssh.sh, a stand-in for ssh to another
-- machine sharing the file system), gives the same kernel, bit for bit, as one process; the
-- merge step (--tile 0) checks the manifest and names a missing tile.
local ntklab = require "ntklab"
local output = require "ntklab.output"
local tiles = require "ntklab.tiles"
local files = require "spec.support.files"
local q, host = files.q, files.host
local script = files.absolute(files.source_dir .. "/experiments/kernel_tiles.lua")
local fake_ssh = files.absolute(files.source_dir .. "/spec/support/fake_ssh.sh")

-- The tiles' row-block gemms against the in-memory symmetric Gram: a few ulps (spec 90).
local SUMMATION_REL = 1e-14
local P, D = 300, 12 -- 3 tiles: the row unit of a 300-column kernel is 128 rows

local sh = files.sh

local function have(tool) return select(2, sh("command -v " .. tool)) == 0 end

local function same_bits(a, b)
  for i = 1, a:size(1) do
    for j = 1, a:size(2) do
      if string.pack("<d", a:get(i, j)) ~= string.pack("<d", b:get(i, j)) then return false end
    end
  end
  return a:size(1) == b:size(1) and a:size(2) == b:size(2)
end

describe("kernel tiles as sweep jobs", function()
  local base, inputs, net, X
  setup(function()
    base = files.scratch_dir()
    X = ntklab.rng(5):normal(P, D)
    inputs = base .. "/X.npy"
    assert(ntklab.io.write_npy(inputs, X))
    -- the experiment's fresh net: widths D-16-16-1, --net-seed 3
    net = ntklab.mlp{widths = {D, 16, 16, 1}, seed = 3}
  end)
  teardown(function() files.remove_tree(base) end)

  local function common(dir)
    return " --tiles " .. q(dir) .. " --inputs " .. q(inputs) .. " --width 16 --depth 2 --net-seed 3 --block 100"
  end

  it("GNU parallel over two hosts gives the kernel of one process, bit for bit", function()
    if not have("parallel") then pending("GNU parallel is not installed (scripts/setup installs it)") return end
    local kdir, sdir = base .. "/K", base .. "/sweep"
    local out, code = sh(q(host) .. " sweep " .. q(script) .. " --grid tile=1,2,3" .. common(kdir)
                         .. " --emit parallel --out " .. q(sdir))
    assert.are.equal(0, code, out)
    local hosts = base .. "/hosts"
    local f = assert(io.open(hosts, "w"))
    f:write("1/" .. fake_ssh .. " hostA\n1/" .. fake_ssh .. " hostB\n")
    f:close()
    out, code = sh("parallel --will-cite --sshloginfile " .. q(hosts) .. " --joblog " .. q(sdir .. "/joblog")
                   .. " < " .. q(sdir .. "/jobs.txt"))
    assert.are.equal(0, code, out)
    local log = files.slurp(sdir .. "/joblog")
    assert.matches("hostA", log)
    assert.matches("hostB", log)
    out, code = sh(q(host) .. " sweep merge " .. q(sdir))
    assert.are.equal(0, code, out)
    local runs = assert(output.read_json(sdir .. "/runs.json")).runs
    assert.are.equal(3, #runs)
    for _, r in ipairs(runs) do assert.are.equal("done", r.status) end
    -- the merge step
    out, code = sh(q(host) .. " run " .. q(script) .. " --tile 0" .. common(kdir) .. " --out " .. q(base .. "/check"))
    assert.are.equal(0, code, out)
    assert.matches("complete %(3 tiles of a 300 x 300 ntk kernel", out)
    -- one process
    -- with the sweep jobs' thread count: BLAS kernels may split their sums by thread (the
    -- AVX-512 ones do), so the same bits need the same build, seed and threads
    local one = base .. "/one"
    local threads = ntklab.threads()
    ntklab.threads(1)
    local ok, err = pcall(tiles.write, one, net, X, {block = 100})
    ntklab.threads(threads)
    assert(ok and err, err)
    local K = assert(tiles.open(kdir))
    assert.is_true(same_bits(K, assert(tiles.open(one))))
    -- against the symmetric in-memory Gram: the same sums in another order (spec 90)
    local R = ntklab.ntk(net, X, {output = "trace"})
    assert.is_true((K - R):abs():max() <= SUMMATION_REL * R:abs():max())
    assert.are.equal(files.slurp(one .. "/manifest.json"), files.slurp(kdir .. "/manifest.json"))
  end)

  it("the merge step fails and names a missing tile", function()
    local kdir = base .. "/partial"
    local out, code = sh(q(host) .. " run " .. q(script) .. " --tile 2" .. common(kdir) .. " --out " .. q(base .. "/t2"))
    assert.are.equal(0, code, out)
    out, code = sh(q(host) .. " run " .. q(script) .. " --tile 0" .. common(kdir) .. " --out " .. q(base .. "/c2"))
    assert.are_not.equal(0, code)
    assert.matches("2 of 3 tiles missing or incomplete: tile_00001.npy, tile_00003.npy", out, 1, true)
  end)

  it("a job whose options disagree with the manifest fails", function()
    local kdir = base .. "/partial"
    local out, code = sh(q(host) .. " run " .. q(script) .. " --tile 1 --dtype f4" .. common(kdir) .. " --out " .. q(base .. "/t1"))
    assert.are_not.equal(0, code)
    assert.matches("manifest.json has dtype 'f8', this job asks for 'f4'", out, 1, true)
    out, code = sh(q(host) .. " run " .. q(script) .. " --tile 1 --net-seed 4" .. common(kdir):gsub("%-%-net%-seed 3", "")
                   .. " --out " .. q(base .. "/t1b"))
    assert.are_not.equal(0, code)
    assert.matches("net checksum", out)
  end)
end)
