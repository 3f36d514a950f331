-- 99-bad_arguments_coverage: every function a user can reach has at least one row in a
-- table-driven bad-argument spec.
--
-- How it works (conventions for every spec author):
-- 1. Bad-argument rows go through spec/support/bad_args.lua, at describe level:
--      bad_args.cases(it, { {"ntklab.zeros", function() ntklab.zeros(-1) end, "bad argument #1 to 'zeros'"}, ... })
--    Names: "ntklab.<path>" (module functions, sub-tables included: "ntklab.linalg.eigh"),
--    "<type>:<method>" (methods of the ntklab.<type> metatable: "tensor:get", "rng:normal"),
--    "<type>.<metamethod>" (operators that take a foreign operand: "tensor.__add").
-- 2. This spec lists what must be covered: every function reachable from require "ntklab"
--    (recursively through its sub-tables; a function reachable under several names counts
--    once, under any of them), and for every metatable named "ntklab.<type>" in the registry
--    (luaopen_ntklab_core creates them all up front) the functions of its __index table and
--    its metamethods, except those only the runtime calls with a valid object (__gc, __close,
--    __tostring, __len, __unm, __index, __name).
-- 3. It then loads every spec/*_spec.lua that uses spec.support.bad_args with stub
--    describe/it (so no test runs; the rows only register their names) and compares.
-- A missing name fails with the list of uncovered functions; a row naming a function that
-- does not exist fails too (a typo would otherwise cover nothing).
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

local source_dir = os.getenv("NTKLAB_SOURCE_DIR") or "."

-- Every public function with its names (spec/support/public_api.lua, shared with spec 95).
local function reachable_functions() return require("spec.support.public_api").functions() end

-- Loads each spec file that uses the registry with stub busted functions: describe-like
-- blocks run their body (that is where rows are registered), everything else does nothing.
local function collect_covered()
  local noop = function() end
  local run_body = function(_, body) if type(body) == "function" then body() end end
  local stubs = {describe = run_body, context = run_body, insulate = run_body, expose = run_body}
  -- busted's assertion library, for specs that assert at describe level
  local has_luassert, luassert = pcall(require, "luassert")
  if has_luassert then stubs.assert = luassert end
  for _, name in ipairs{"it", "spec", "test", "pending", "setup", "teardown", "lazy_setup",
                        "lazy_teardown", "strict_setup", "strict_teardown", "before_each",
                        "after_each", "finally", "randomize"} do
    stubs[name] = noop
  end
  local files = {}
  local p = assert(io.popen("ls " .. source_dir .. "/spec/*_spec.lua"))
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  local before = {}
  for k, v in pairs(bad_args.covered) do before[k] = v end
  for k in pairs(bad_args.covered) do bad_args.covered[k] = nil end
  for _, file in ipairs(files) do
    local fh = assert(io.open(file))
    local text = fh:read("a")
    fh:close()
    if not file:match("99%-bad_arguments_coverage_spec%.lua$") and text:find("spec.support.bad_args", 1, true) then
      local env = setmetatable({}, {__index = function(_, k)
        if stubs[k] then return stubs[k] end
        return _G[k]
      end})
      local chunk = assert(loadfile(file, "t", env))
      local ok, err = pcall(chunk)
      assert(ok, "loading " .. file .. " to collect its bad-argument rows: " .. tostring(err))
    end
  end
  local covered = bad_args.covered
  bad_args.covered = before
  return covered, #files
end

describe("bad-argument coverage", function()
  it("finds the functions and the metatables of the module", function()
    local names, types = reachable_functions()
    local all = {}
    for _, list in pairs(names) do for _, n in ipairs(list) do all[n] = true end end
    -- the enumeration itself must see the skeleton's functions, or it proves nothing
    for _, n in ipairs{"ntklab.tensor", "ntklab.zeros", "ntklab.rng", "ntklab.threads",
                       "ntklab.metatable", "tensor:get", "tensor:narrow", "rng:normal"} do
      assert.is_true(all[n], "enumeration misses " .. n)
    end
    local has = {}
    for _, t in ipairs(types) do has[t] = true end
    assert.is_true(has.tensor and has.rng)
  end)

  it("has a bad-argument row for every function", function()
    local names = reachable_functions()
    local covered, nfiles = collect_covered()
    assert.is_true(nfiles > 0)
    local missing, known = {}, {}
    for _, list in pairs(names) do
      local hit = false
      for _, n in ipairs(list) do
        known[n] = true
        if covered[n] then hit = true end
      end
      if not hit then missing[#missing + 1] = table.concat(list, " = ") end
    end
    table.sort(missing)
    assert.are.same({}, missing, "functions without a bad-argument row (spec/support/bad_args.lua):\n  "
                    .. table.concat(missing, "\n  "))
    local unknown = {}
    for n in pairs(covered) do
      if not known[n] then unknown[#unknown + 1] = n end
    end
    table.sort(unknown)
    assert.are.same({}, unknown, "rows naming functions that do not exist:\n  " .. table.concat(unknown, "\n  "))
  end)
end)
