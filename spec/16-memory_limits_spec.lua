-- 16-memory_limits: under an address-space limit (ulimit -v) a request that cannot fit fails at
-- once with a message naming the bytes, instead of OpenBLAS spinning in blas_memory_alloc; thread
-- counts are capped at the cores. Issue 11: B2.
local ntklab = require "ntklab"
local files = require "spec.support.files"

-- ASan reserves terabytes of address space for its shadow memory: no ulimit -v under it.
local function sanitized()
  local f = io.open(files.build_dir .. "/CMakeCache.txt")
  if not f then return false end
  local text = f:read("a")
  f:close()
  return text:match("NTK_SANITIZE:BOOL=ON") ~= nil
end

-- Runs Lua `code` in the host under `ulimit -v kib` and a time limit (a spin is killed);
-- returns the output and the exit status (124: killed by the time limit).
local LIMIT = 30
local function limited(kib, code)
  local cmd = ("ulimit -v %d; timeout %d %s -e %s 2>&1; echo status=$?"):format(kib, LIMIT,
    files.q(files.host), files.q(code))
  local p = assert(io.popen("bash -c " .. files.q(cmd)))
  local out = p:read("a")
  p:close()
  return out, tonumber(out:match("status=(%d+)"))
end

describe("memory limits", function()
  local it_limited = sanitized() and pending or it

  it_limited("a kernel that cannot fit under ulimit -v fails at once, naming the bytes", function()
    -- P = 15000: the kernel alone is 1.8e9 bytes of a 2.048e9-byte address space
    local out, status = limited(2000000, [[
      local ntklab = require 'ntklab'
      local net = ntklab.mlp{widths = {10, 20, 1}, seed = 1}
      local ok, msg = pcall(ntklab.ntk, net, ntklab.rng(1):normal(15000, 10))
      print(ok, msg)]])
    assert.are_not.equal(124, status, "the kernel spun under the memory limit")
    assert.matches("false\ta tensor of 225000000 doubles needs 1800000000 bytes, more than the %d+ "
      .. "this process may still use %(RLIMIT_AS%)", out)
  end)

  it_limited("what fits still runs under the same limit", function()
    local out = limited(2000000, [[
      local ntklab = require 'ntklab'
      local net = ntklab.mlp{widths = {10, 20, 1}, seed = 1}
      print(ntklab.ntk(net, ntklab.rng(1):normal(3000, 10)):size())]])
    assert.matches("^3000\t3000\n", out)
  end)

  it_limited("threads(n) returns nil, msg when n OpenBLAS buffers cannot fit", function()
    local out = limited(400000, [[
      local ntklab = require 'ntklab'
      print(ntklab.threads(64))
      print(ntklab.threads(1))]])
    local p = assert(io.popen("nproc"))
    local cores = tonumber(p:read("a"))
    p:close()
    if cores > 1 then
      assert.matches("^nil\t%d+ BLAS threads need %d+ bytes of buffers, %d+ more than RLIMIT_AS leaves\n1\n", out)
    else
      assert.matches("^1\n1\n", out)
    end
  end)

  it("caps the thread count at the cores this process may use", function()
    local p = assert(io.popen("nproc"))
    local cores = tonumber(p:read("a"))
    p:close()
    local before = ntklab.threads()
    assert.are.equal(math.min(64, cores), ntklab.threads(64))
    assert.are.equal(1, ntklab.threads(1))
    ntklab.threads(before)
    -- OPENBLAS_NUM_THREADS asking for more is capped when the module loads
    local p2 = assert(io.popen(("OPENBLAS_NUM_THREADS=64 %s -e %s"):format(files.q(files.host),
      files.q("print(require 'ntklab'.threads())"))))
    assert.are.equal(tostring(math.min(64, cores)), p2:read("l"))
    p2:close()
  end)
end)
