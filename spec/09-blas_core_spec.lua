-- 09-blas_core: the host runs the OpenBLAS kernels this CPU supports. OpenBLAS 0.3.21 falls back
-- to its Prescott (SSE3) kernels on CPUs it does not recognize, about 5x slower GEMM on an
-- AVX-512 machine; the host then sets OPENBLAS_CORETYPE and re-executes itself
-- (core/base/ntk_blas_core.h). A user's OPENBLAS_CORETYPE is kept.
local ntklab = require "ntklab"
local files = require "spec.support.files"
local q, host = files.q, files.host

-- the core the host runs, and the best this CPU supports, from a fresh host process
local function host_cores(env)
  local p = io.popen(env .. " " .. q(host) .. [[ -e 'local l, s = require("ntklab").blas_core() ]]
                     .. [[io.write(l, " ", s or "none", " ", os.getenv("OPENBLAS_CORETYPE") or "unset")' 2>&1]])
  local out = p:read("a")
  p:close()
  return out:match("^(%S+) (%S+) (%S+)$")
end

describe("the OpenBLAS core type", function()
  it("names the loaded core and the supported one", function()
    local loaded, supported = ntklab.blas_core()
    assert.is_string(loaded)
    assert.is_true(supported == nil or supported == "SkylakeX" or supported == "Haswell")
  end)

  it("the host runs the supported core when none is asked for", function()
    local loaded, supported, env = host_cores("env -u OPENBLAS_CORETYPE")
    assert.is_string(loaded, "host output unreadable")
    if supported == "none" then
      assert.are.equal("unset", env) -- nothing better to ask for: no re-execution
    else
      -- either OpenBLAS recognized the CPU (no variable needed) or the host asked for it
      assert.is_true(env == "unset" or (env == supported and loaded == supported),
                     ("loaded %s, supported %s, OPENBLAS_CORETYPE %s"):format(loaded, supported, env))
      assert.are_not.equal("Prescott", loaded)
    end
  end)

  it("keeps a user's OPENBLAS_CORETYPE", function()
    local loaded, _, env = host_cores("OPENBLAS_CORETYPE=Prescott")
    assert.are.equal("Prescott", env)
    assert.are.equal("Prescott", loaded)
  end)
end)
