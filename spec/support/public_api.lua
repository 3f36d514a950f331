--- spec/support/public_api.lua: the functions a user can reach, for the coverage specs (99: a
-- bad-argument row each; 95: an entry each in the API reference).
--
-- public_api.functions([modules]) -> {[fn] = {names...}}, types: every function reachable from
-- require "ntklab" (recursively through its sub-tables; a table reachable under several names,
-- such as ntklab.linalg = ntklab.core.linalg, gives its functions every one of those names), the
-- functions of the extra modules listed (e.g. "ntklab.tiles", walked the same way), and for every
-- metatable named "ntklab.<type>" in the registry (luaopen_ntklab_core creates them all up front)
-- the functions of its method table ("<type>:<method>") and its metamethods ("<type>.__add"),
-- except those only the runtime calls with a valid object of the type (RUNTIME_ONLY). Each
-- function appears once, with all its names, sorted; types is the sorted list of type names.
local ntklab = require "ntklab"

local public_api = {}

-- Metamethods that only the Lua runtime calls, always with a valid object of the type.
public_api.RUNTIME_ONLY = {__gc = true, __close = true, __tostring = true, __len = true,
                           __unm = true, __index = true, __name = true, __methods = true}

--- The method table of metatable ntklab.<tname> (a metatable whose __index is a function keeps
-- it as __methods), and the metatable; nil when there is no such type.
function public_api.methods(tname)
  local mt = debug.getregistry()["ntklab." .. tname]
  if type(mt) ~= "table" then return nil end
  return type(mt.__index) == "table" and mt.__index or mt.__methods, mt
end

function public_api.functions(modules)
  local names = {}
  local function add(fn, name)
    names[fn] = names[fn] or {}
    table.insert(names[fn], name)
  end
  -- only tables on the current path are skipped (cycles)
  local on_path = {}
  local function walk(tbl, prefix)
    if on_path[tbl] then return end
    on_path[tbl] = true
    for k, v in pairs(tbl) do
      if type(k) == "string" then
        if type(v) == "function" then
          add(v, prefix .. k)
        elseif type(v) == "table" then
          walk(v, prefix .. k .. ".")
        end
      end
    end
    on_path[tbl] = nil
  end
  walk(ntklab, "ntklab.")
  for _, m in ipairs(modules or {}) do walk(require(m), m .. ".") end
  local types = {}
  for key, mt in pairs(debug.getregistry()) do
    -- metatables (luaL_newmetatable sets __name); other registry tables are not types
    if type(key) == "string" and key:match("^ntklab%.") and type(mt) == "table" and mt.__name then
      types[#types + 1] = key:sub(#"ntklab." + 1)
    end
  end
  table.sort(types)
  for _, tname in ipairs(types) do
    local methods, mt = public_api.methods(tname)
    assert(type(methods) == "table", "metatable ntklab." .. tname ..
           ": neither __index nor __methods is a table, its methods cannot be listed")
    for k, v in pairs(methods) do
      if type(v) == "function" then add(v, tname .. ":" .. k) end
    end
    for k, v in pairs(mt) do
      if type(k) == "string" and k:match("^__") and type(v) == "function" and not public_api.RUNTIME_ONLY[k] then
        add(v, tname .. "." .. k)
      end
    end
  end
  for _, list in pairs(names) do table.sort(list) end
  return names, types
end

return public_api
