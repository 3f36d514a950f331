-- scripts/api_docs.lua SRC_DIR: writes the sources LDoc reads for the API reference into SRC_DIR
-- (scripts/api-docs runs it, then ldoc). Run from the source tree with lua5.4. The Lua face of a C
-- function is documented in its binding file, in blocks appended under "Lua reference".
--
-- SRC_DIR/ntklab/*.lua     copies of lua/ntklab/*.lua: the Lua modules document themselves
--                          (`---` comments; the facade output.lua is left out);
-- SRC_DIR/ntklab_c/*.lua   one file per module (ntklab, ntklab.io, ...): the /*** ... */ blocks of
--                          lua/binding/**/*.c as Lua comments (gathered as described at main), with
--                          every `@options NAME` line expanded from the binding's declarative
--                          option table NAME (lntk_options): each option's type, whether it is
--                          required, its default and its choices come from the table itself,
--                          its meaning from an `@opt key text` line of the block. A table key
--                          without an @opt line, an @opt line for a key the table lacks, or an
--                          @options naming no table stops the build: the reference cannot
--                          drift from the checks the binding makes.
--
-- `$choices(FILE, ARRAY)` in a block lists the strings of a C array of another file (the
-- activation names, which the binding copies from the core at run time).
--
-- A block with `@each NAME TEXT` lines documents a family (the tensor's element-wise maps): it
-- becomes one entry per line, named NAME, with $name and $text in the block's text filled in.
--
-- NAME is a file-scope option array (`mlp_options`) or the C function whose body declares the
-- array (`train_sgd`). The tables are read from the C preprocessor's output, so option macros
-- (LR, NUMBER(key)) are expanded and a default given as a #define or an enum constant is resolved.
local out_dir = assert(arg[1], "usage: lua5.4 scripts/api_docs.lua SRC_DIR")
local cc = os.getenv("CC") or "cc"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local list = {}
  for l in p:lines() do list[#list + 1] = l end
  assert(p:close(), "failed: " .. cmd)
  return list
end

local function q(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end

local errors = {}
local function fail(where, msg) errors[#errors + 1] = where .. ": " .. msg end

-- ---- option tables from the preprocessed C ------------------------------------------------

-- Every folder of the core and the binding is on the include path, as the build has them: a
-- binding file may include any group's header (lntk_model.h from train/).
local function preprocess(file)
  local flags = {}
  for _, d in ipairs(lines_of("find core lua/binding -type d | sort")) do flags[#flags + 1] = "-I" .. d end
  for _, d in ipairs(lines_of("pkg-config --cflags-only-I lua5.4 2>/dev/null; echo")) do
    flags[#flags + 1] = d
  end
  local p = assert(io.popen(("%s -E -P %s %s"):format(cc, table.concat(flags, " "), q(file))))
  local text = p:read("a")
  assert(p:close(), "the C preprocessor failed on " .. file)
  return text
end

-- Enum constants and numeric #defines that survive preprocessing as names: every enum body's
-- constants with their values (implicit ones counted on).
local function enum_values(text)
  local values = {}
  for body in text:gmatch("enum%s*[%w_]*%s*(%b{})") do
    local n = -1
    for item in body:sub(2, -2):gmatch("[^,]+") do
      local name, value = item:match("^%s*([%a_][%w_]*)%s*=%s*(.-)%s*$")
      if name then
        n = tonumber(value) or values[value] or n + 1
      else
        name = item:match("^%s*([%a_][%w_]*)%s*$")
        n = n + 1
      end
      if name then values[name] = n end
    end
  end
  return values
end

-- String arrays: name -> {"a", "b"} for `const char *const name[] = {"a", "b", NULL}`.
local function string_arrays(text)
  local arrays = {}
  for name, body in text:gmatch("char%s*%*%s*const%s+([%w_]+)%s*%[[%w_%s]*%]%s*=%s*(%b{})") do
    local list = {}
    for s in body:gmatch('"([^"]*)"') do list[#list + 1] = s end
    arrays[name] = list
  end
  return arrays
end

-- Splits "{.key = ("x"), .type = (T), .what = "a, b"}" into its designated fields.
local function fields(entry)
  local f = {}
  local body = entry:sub(2, -2)
  local i = 1
  while i <= #body do
    local s, e, name = body:find("^%s*%.([%w_]+)%s*=%s*", i)
    if not s then break end
    i = e + 1
    -- the value runs to the next top-level comma (strings and parentheses kept whole)
    local depth, j, value = 0, i, nil
    while j <= #body do
      local c = body:sub(j, j)
      if c == '"' then
        local k = j + 1
        while body:sub(k, k) ~= '"' do k = k + (body:sub(k, k) == "\\" and 2 or 1) end
        j = k
      elseif c == "(" or c == "{" then depth = depth + 1
      elseif c == ")" or c == "}" then depth = depth - 1
      elseif c == "," and depth == 0 then break end
      j = j + 1
    end
    value = body:sub(i, j - 1):gsub("^%s+", ""):gsub("%s+$", "")
    f[name] = value
    i = j + 1
  end
  return f
end

local function unparen(v)
  while v and v:match("^%b()$") do v = v:sub(2, -2) end
  return v
end

-- Every lntk_option array of a preprocessed file: {[name] = {{key, type, required, def,
-- choices, what}, ...}}, keyed by the array's name and, for an array inside a function, by the
-- function's name too.
local function option_tables(text)
  local enums, arrays = enum_values(text), string_arrays(text)
  local tables = {}
  -- the enclosing function of a position: the last top-level definition opened before it
  local functions = {}
  local depth, pos = 0, 1
  for i = 1, #text do
    local c = text:sub(i, i)
    if c == "{" then
      if depth == 0 then
        local head = text:sub(pos, i - 1)
        local fname = head:match("([%a_][%w_]*)%s*%b()%s*$")
        functions[#functions + 1] = {start = i, name = fname}
      end
      depth = depth + 1
    elseif c == "}" then
      depth = depth - 1
      if depth == 0 then
        functions[#functions].stop = i
        pos = i + 1
      end
    elseif c == ";" and depth == 0 then
      pos = i + 1
    end
  end
  local function enclosing(at)
    for _, f in ipairs(functions) do
      if f.name and at > f.start and at < (f.stop or math.huge) then return f.name end
    end
  end
  local init = 1
  while true do
    local s, e, name = text:find("lntk_option%s+([%w_]+)%s*%[%s*%]%s*=%s*", init)
    if not s then break end
    local body = text:match("^%b{}", e + 1)
    init = e + 1
    local list = {}
    local inner = body:sub(2, -2)
    for entry in inner:gmatch("%b{}") do
      local f = fields(entry)
      local key = unparen(f.key)
      if key and key ~= "((void *)0)" and key ~= "(void *)0" and key ~= "0" then
        key = key:match('^"(.*)"$')
        local def = f.def and unparen(f.def)
        if def then def = tonumber(def) or enums[def] or def end
        list[#list + 1] = {key = key, type = unparen(f.type):match("LNTK_OPT_(%u+)"),
          required = f.required and unparen(f.required) ~= "0", def = def,
          choices = f.choices and arrays[unparen(f.choices)], choices_name = f.choices,
          what = f.what and f.what:match('^"(.*)"$'), mt = f.mt and f.mt:match('^"(.*)"$')}
      end
    end
    tables[name] = list
    local fn = enclosing(s)
    if fn then tables[fn] = list end
  end
  return tables
end

-- ---- doc blocks ---------------------------------------------------------------------------

local TYPE_NAMES = {NUMBER = "number", INTEGER = "int", BOOLEAN = "bool", STRING = "string",
  CHOICE = "string", TENSOR = "tensor", TABLE = "table", FUNCTION = "func", ANY = "any"}

local function lua_literal(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 1e15 then
    return tostring(math.tointeger(v))
  end
  return tostring(v)
end

-- The @tparam lines for an option table, with each key's description from `described`.
local function expand_options(where, tbl, described, argname)
  local out, seen = {}, {}
  for _, o in ipairs(tbl) do
    seen[o.key] = true
    local text = described[o.key]
    if not text then
      fail(where, ("option '%s' of the binding's table has no '@opt %s ...' line"):format(o.key, o.key))
      text = ""
    end
    local tname = o.type == "OBJECT" and (o.mt or "userdata"):gsub("^ntklab%.", "") or TYPE_NAMES[o.type]
    local extra = {}
    local default
    if o.type == "CHOICE" then
      local list = {}
      for _, c in ipairs(o.choices or {}) do list[#list + 1] = ("%q"):format(c) end
      extra[#extra + 1] = "one of " .. table.concat(list, ", ")
      if type(o.def) == "number" and o.choices then default = ("%q"):format(o.choices[o.def + 1]) end
      if o.def == nil and o.choices then default = ("%q"):format(o.choices[1]) end
    elseif o.def ~= nil and o.type ~= "BOOLEAN" then
      default = lua_literal(o.def)
    elseif o.type == "BOOLEAN" then
      default = (o.def and o.def ~= 0) and "true" or "false"
    end
    if o.what then extra[#extra + 1] = o.what end
    local mark = o.required and "" or ("[opt" .. (default and ("=" .. default) or "") .. "]")
    local tail = #extra > 0 and (" (" .. table.concat(extra, "; ") .. ")") or ""
    if o.required then tail = tail .. " Required." end
    out[#out + 1] = ("@tparam%s %s %s.%s %s%s"):format(mark, tname, argname, o.key, text, tail)
  end
  for key in pairs(described) do
    if not seen[key] then fail(where, ("'@opt %s': the binding's option table has no key '%s'"):format(key, key)) end
  end
  return out
end

-- "$choices(FILE, ARRAY)" in a block: the strings of the C array ARRAY in FILE, quoted, for a
-- list the binding fills at run time (the activation names come from the core).
local function expand_choices(where, block)
  return (block:gsub("%$choices%(%s*([^,%s]+)%s*,%s*([%w_]+)%s*%)", function(file, name)
    local f = io.open(file, "rb")
    local list = f and string_arrays(f:read("a"))[name]
    if f then f:close() end
    if not list then
      fail(where, ("$choices(%s, %s): no string array of that name in that file"):format(file, name))
      return ""
    end
    local quoted = {}
    for i, s in ipairs(list) do quoted[i] = ("%q"):format(s) end
    return table.concat(quoted, ", ")
  end))
end

-- Converts one /*** ... */ block to Lua comment lines.
local function convert(where, block, tables)
  block = expand_choices(where, block)
  local lines = {}
  for l in (block .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  -- gather @opt lines per @options: each @options consumes the @opt lines that follow it
  local out, i = {}, 1
  while i <= #lines do
    local l = lines[i]
    local name, argname = l:match("^%s*@options%s+([%w_]+)%s*([%w_]*)")
    if name then
      argname = argname ~= "" and argname or "opts"
      local described, order = {}, {}
      i = i + 1
      while i <= #lines do
        local key, text = lines[i]:match("^%s*@opt%s+([%w_]+)%s+(.*)$")
        if not key then break end
        -- continuation lines of an @opt start with spaces and no tag
        while i + 1 <= #lines and lines[i + 1]:match("^%s%s+[^@%s]") do
          i = i + 1
          text = text .. " " .. lines[i]:gsub("^%s+", "")
        end
        described[key] = text
        order[#order + 1] = key
        i = i + 1
      end
      local tbl = tables[name]
      if not tbl then
        fail(where, ("@options %s: no lntk_option table or function of that name"):format(name))
      else
        for _, t in ipairs(expand_options(where .. " (@options " .. name .. ")", tbl, described, argname)) do
          out[#out + 1] = t
        end
      end
    else
      if l:match("^%s*@opt%s") then fail(where, "@opt line outside an @options list: " .. l) end
      out[#out + 1] = l
      i = i + 1
    end
  end
  local text = {}
  for k, l in ipairs(out) do
    text[#text + 1] = (k == 1 and "--- " or "-- ") .. l
  end
  return table.concat(text, "\n"):gsub("%-%- \n", "--\n"):gsub("%-%- $", "--")
end

-- LDoc renders the comments as Markdown, where "theta <- theta - lr g" would open an HTML tag and
-- swallow the text up to the next ">": "<" outside `code spans` becomes "&lt;".
local function escape_lt(line)
  local out, code = {}, false
  for piece, tick in (line .. "`"):gmatch("([^`]*)(`)") do
    out[#out + 1] = code and piece or piece:gsub("<", "&lt;")
    code = not code
  end
  return table.concat(out, "`"):sub(1, #line)
end

local function escape_comments(text)
  local out = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do
    out[#out + 1] = l:match("^%s*%-%-") and escape_lt(l) or l
  end
  return table.concat(out, "\n")
end

-- ---- main ----------------------------------------------------------------------------------

os.execute("mkdir -p " .. q(out_dir .. "/ntklab") .. " " .. q(out_dir .. "/ntklab_c"))
-- output.lua defines no function of its own (it re-exports fs, json, csv, plot, progress and
-- cli) and init.lua only copies ntklab.core and wraps trainer:run (documented with the binding):
-- LDoc would report modules without items. Module ntklab is the binding's.
local FACADES = {["output.lua"] = true, ["init.lua"] = true}
for _, f in ipairs(lines_of("ls lua/ntklab/*.lua")) do
  local name = f:match("[^/]+$")
  if not FACADES[name] then write(out_dir .. "/ntklab/" .. name, escape_comments(read(f))) end
end

-- The C blocks, gathered per module: a file's first block names its module (`@module M` once
-- per module, with the module's description; `@submodule M` in the other files, whose first
-- block's summary titles their section; a `@section` block retitles it). Each module becomes one file, in the order LDoc needs:
-- the description, each file's functions under its section, then each type (`@type T`, its
-- first description) with every method named T:m or T.__op, from whichever file.
local modules, order = {}, {}
local function module_of(name)
  if not modules[name] then
    modules[name] = {sections = {}, types = {}, type_order = {}}
    order[#order + 1] = name
  end
  return modules[name]
end

-- Files in the order of lntk.h's LNTK_CONCEPTS (the tensor first, as luaopen_ntklab_core opens
-- them), the others after them: the reference reads as a tour, like the specs.
local rank = {}
for concept in read("lua/binding/lntk.h"):match("#define LNTK_CONCEPTS%(X%)(.-)\n\n"):gmatch("X%(([%w_]+)%)") do
  rank["lntk_" .. concept .. ".c"] = #rank + 1
  rank[#rank + 1] = concept
end
local files = lines_of("find lua/binding -name '*.c' | sort")
table.sort(files, function(a, b)
  local ra, rb = rank[a:match("[^/]+$")] or math.huge, rank[b:match("[^/]+$")] or math.huge
  if ra ~= rb then return ra < rb end
  return a < b
end)

for _, file in ipairs(files) do
  local src = read(file)
  local blocks = {}
  for block in src:gmatch("/%*%*%*(.-)%*/") do blocks[#blocks + 1] = block end
  if #blocks > 0 then
    local tables = src:find("@options", 1, true) and option_tables(preprocess(file)) or {}
    local mod, section
    for k, block in ipairs(blocks) do
      local line = select(2, src:sub(1, src:find(block, 1, true)):gsub("\n", "")) + 1
      local where = ("%s:%d"):format(file, line)
      block = block:gsub("^%s*\n?", "")
      if k == 1 then
        local kind, name = block:match("@(%a+)%s+([%w_.]+)")
        if kind ~= "module" and kind ~= "submodule" then
          fail(where, "the first /*** */ block of a file names its module (@module M or @submodule M)")
          break
        end
        mod = module_of(name)
        if kind == "module" then
          if mod.head then fail(where, "module " .. name .. " is declared twice (@module); use @submodule") end
          mod.head = convert(where, block, tables)
        end
        -- a @module block's first line describes the module, not this file's section
        section = {id = file:match("([^/]+)%.c$"), items = {},
                   title = kind == "module" and "Functions" or block:match("^([^\n@]-)%s*\n") or file}
        mod.sections[#mod.sections + 1] = section
      elseif block:match("@section%s") then
        -- the title of this file's section, when the first block is the module's description
        section.title = block:match("^([^\n@]-)%s*\n") or section.title
      else
        -- a family (the element-wise maps): one entry per `@each name text` line, the block's
        -- other lines repeated with $name and $text filled in
        local each = {}
        block = block:gsub("[ \t]*@each%s+([%w_:.]+)%s+([^\n]*)\n?", function(name, text)
          each[#each + 1] = {name = name, text = text}
          return ""
        end)
        local entries = {}
        if #each == 0 then
          entries[1] = {name = block:match("@function%s+(%S+)"), text = convert(where, block, tables)}
        else
          for _, e in ipairs(each) do
            local one = block:gsub("%$name", (e.name:gsub("%%", "%%%%"))):gsub("%$text", (e.text:gsub("%%", "%%%%")))
            entries[#entries + 1] = {name = e.name, text = convert(where, one .. "\n@function " .. e.name, tables)}
          end
        end
        local tname = block:match("@type%s+([%w_]+)")
        if tname then
          local t = mod.types[tname]
          if not t then
            t = {items = {}}
            mod.types[tname] = t
            mod.type_order[#mod.type_order + 1] = tname
          end
          t.head = t.head or convert(where, block, tables)
        else
          for _, e in ipairs(entries) do
            local owner = e.name and e.name:match("^([%w_]+)[:.]")
            if owner and owner ~= "ntklab" then
              local t = mod.types[owner]
              if not t then
                t = {items = {}}
                mod.types[owner] = t
                mod.type_order[#mod.type_order + 1] = owner
              end
              t.items[#t.items + 1] = e.text
            else
              section.items[#section.items + 1] = e.text
            end
          end
        end
      end
    end
  end
end

for _, name in ipairs(order) do
  local mod = modules[name]
  if not mod.head then fail(name, "no file declares @module " .. name) end
  local parts = {"-- generated by scripts/api_docs.lua from the /*** */ blocks of lua/binding: "
    .. "edit the sources, not this file", mod.head or ("--- " .. name .. "\n-- @module " .. name)}
  for _, sec in ipairs(mod.sections) do
    if #sec.items > 0 then
      parts[#parts + 1] = ("--- %s\n-- @section %s"):format(sec.title, sec.id)
      for _, item in ipairs(sec.items) do parts[#parts + 1] = item end
    end
  end
  for _, tname in ipairs(mod.type_order) do
    local t = mod.types[tname]
    parts[#parts + 1] = t.head or ("--- " .. tname .. "\n-- @type " .. tname)
    for _, item in ipairs(t.items) do parts[#parts + 1] = item end
  end
  write(out_dir .. "/ntklab_c/" .. name:gsub("%.", "_") .. ".lua",
        escape_comments(table.concat(parts, "\n\n")) .. "\n")
end

if #errors > 0 then
  io.stderr:write("api_docs: the reference would drift from the binding:\n  ",
    table.concat(errors, "\n  "), "\n")
  os.exit(1)
end
