-- 95-api_docs: the API reference (scripts/api-docs: LDoc over the Lua modules and the C
-- binding's /*** */ blocks, options generated from the binding's option tables) builds without
-- a warning, and has an entry for every public function.
--
-- Public functions: everything spec 99 enumerates (reachable from require "ntklab", sub-tables
-- included, and the methods and operator metamethods of every ntklab.<type> metatable), plus the
-- functions of the modules the README sends users to that require "ntklab" does not load
-- (EXTRA_MODULES). A function reachable under several names (ntklab.core.zeros is ntklab.zeros)
-- needs one entry under any of them. Each documented name is resolved back to a function, so an
-- entry is matched by identity, and an entry naming no function fails too (a renamed function
-- would otherwise keep a stale entry).
local ntklab = require "ntklab"

local source_dir = os.getenv("NTKLAB_SOURCE_DIR") or "."

local EXTRA_MODULES = {"ntklab.tiles", "ntklab.cg", "ntklab.direction", "ntklab.experiment",
                       "ntklab.curves", "ntklab.deep_linear", "ntklab.record_schedule",
                       "ntklab.image_data"}

local public_api = require "spec.support.public_api"
local registry_methods = public_api.methods

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

-- The function a documented name denotes, or nil: module M's item "f" is M.f, "T:m" the method m
-- of metatable ntklab.T (or of M's class T, a Lua table reachable as M.T), "T.__op" a metamethod.
local function resolve(module, item)
  local tname, method = item:match("^([%w_]+):([%w_]+)$")
  if tname then
    local methods = registry_methods(tname)
    if methods then return methods[method] end
    return nil, "lua-class"        -- a method of a Lua-side class (Recorder:run): not enumerable
  end
  local tn, meta = item:match("^([%w_]+)%.(__[%w_]+)$")
  if tn then
    local _, mt = registry_methods(tn)
    return mt and mt[meta]
  end
  local ok, mod = pcall(require, module)
  if not ok or type(mod) ~= "table" then
    -- a sub-table of ntklab (ntklab.io, ntklab.train) rather than a module of its own
    mod = ntklab
    for part in module:gsub("^ntklab%.?", ""):gmatch("[^.]+") do mod = mod and mod[part] end
  end
  if type(mod) ~= "table" then return nil end
  local v = mod
  for part in item:gmatch("[^.]+") do v = type(v) == "table" and v[part] or nil end
  -- LDoc names a function by the local table it is defined on: `multi.mode_c0` in a module
  -- whose table is local `multi`
  if v == nil and item:find(".", 1, true) then v = mod[item:match("([^.]+)$")] end
  return v
end

local out = os.tmpname()
os.remove(out)
local p = assert(io.popen(("cd %s && scripts/api-docs %s 2>&1"):format(q(source_dir), q(out))))
local build_log = p:read("a")
local built = p:close()
local documented = {}
if built then
  for line in io.lines(out .. "/names.txt") do
    local module, item = line:match("^(%S+) (%S+)$")
    if module then documented[#documented + 1] = {module = module, item = item} end
  end
end
os.execute("rm -rf " .. q(out))

describe("API reference", function()
  it("builds with ldoc, without a warning", function()
    assert(built, "scripts/api-docs failed:\n" .. build_log)
    assert.is_true(#documented > 0)
  end)

  it("has an entry for every public function", function()
    assert(built, "scripts/api-docs failed:\n" .. build_log)
    local names = public_api.functions(EXTRA_MODULES)
    local covered, unknown = {}, {}
    for _, d in ipairs(documented) do
      local fn, why = resolve(d.module, d.item)
      if type(fn) == "function" then covered[fn] = true
      elseif why ~= "lua-class" and not d.item:match("^[%u]") then
        -- fields and tables have entries too (data.FASHION_MNIST_DIR); only a function entry
        -- that resolves to nothing is stale
        if fn == nil then unknown[#unknown + 1] = d.module .. " " .. d.item end
      end
    end
    local missing = {}
    for fn, list in pairs(names) do
      if not covered[fn] then
        table.sort(list)
        missing[#missing + 1] = table.concat(list, " = ")
      end
    end
    table.sort(missing)
    table.sort(unknown)
    assert.are.same({}, missing, #missing .. " public functions without an entry in the reference:\n  "
      .. table.concat(missing, "\n  "))
    assert.are.same({}, unknown, "entries naming no function:\n  " .. table.concat(unknown, "\n  "))
  end)
end)
