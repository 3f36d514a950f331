-- 98-readme_examples: every fenced Lua block in README.md is a complete program. Each block is
-- written to a file of its own in a fresh scratch directory and run there by the host
-- (build/bin/ntklab), alone: no block sees another's variables or files. Reading a global that
-- nothing defined raises (a block that forgot `local rng = ...` would otherwise run on nil),
-- and a block passes only when the host exits with status 0.
local source_dir = os.getenv("NTKLAB_SOURCE_DIR") or "."
local build_dir = os.getenv("NTKLAB_BUILD_DIR") or (source_dir .. "/build")
local host = build_dir .. "/bin/ntklab"

-- The README has 8 Lua blocks today; fewer found means the extraction broke, and a spec that
-- finds no block would pass without testing anything.
local MIN_BLOCKS = 8

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local p = assert(io.popen("pwd"))
  local cwd = p:read("l")
  p:close()
  return cwd .. "/" .. path
end

-- The ```lua ... ``` blocks of a Markdown text: {{line = first line of code, code = text}, ...}.
local function lua_blocks(text)
  local blocks, current, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("(.-)\n") do
    n = n + 1
    if current then
      if line:match("^```%s*$") then
        blocks[#blocks + 1] = current
        current = nil
      else
        current.code = current.code .. line .. "\n"
      end
    elseif line:match("^```lua%s*$") then
      current = {line = n + 1, code = ""}
    end
  end
  assert(not current, "README.md: unterminated ```lua block from line " .. (current and current.line or 0))
  return blocks
end

-- Undefined globals raise: a complete program defines (or requires) everything it reads.
local STRICT = "setmetatable(_G, {__index = function(_, k) "
  .. "error('read of undefined global ' .. tostring(k), 2) end})"

local readme = assert(io.open(source_dir .. "/README.md")):read("a")
local blocks = lua_blocks(readme)

describe("README examples", function()
  it("finds the README's Lua blocks", function()
    assert.is_true(#blocks >= MIN_BLOCKS, ("%d Lua blocks found, at least %d expected"):format(#blocks, MIN_BLOCKS))
  end)

  it("rejects a block that reads an undefined global (the check itself works)", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    local f = assert(io.open(dir .. "/block.lua", "w"))
    f:write('local ntklab = require "ntklab"\nprint(rng:normal(2, 2))\n')
    f:close()
    local p = assert(io.popen(("cd %s && %s -e %s block.lua 2>&1"):format(q(dir), q(absolute(host)), q(STRICT))))
    local out = p:read("a")
    local ok = p:close()
    os.execute("rm -rf " .. q(dir))
    assert.is_falsy(ok)
    assert.matches("read of undefined global rng", out, 1, true)
  end)

  for i, b in ipairs(blocks) do
    it(("block %d (README.md line %d) runs on its own"):format(i, b.line), function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. q(dir)))
      local f = assert(io.open(dir .. "/block.lua", "w"))
      f:write(b.code)
      f:close()
      -- NTKLAB_DATA points at the empty scratch directory: the blocks use synthetic data only,
      -- so they run on a machine without any dataset.
      local cmd = ("cd %s && NTKLAB_DATA=%s OPENBLAS_NUM_THREADS=1 %s -e %s block.lua 2>&1")
        :format(q(dir), q(dir .. "/data"), q(absolute(host)), q(STRICT))
      local p = assert(io.popen(cmd))
      local out = p:read("a")
      local ok, _, code = p:close()
      os.execute("rm -rf " .. q(dir))
      if not ok then
        error(("README.md block at line %d exited with status %s:\n%s"):format(b.line, tostring(code), out), 0)
      end
    end)
  end
end)
