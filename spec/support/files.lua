-- spec/support/files.lua: scratch directories, file helpers and the shell, shared by the specs
-- that write files or run the host on a command line; not a spec itself.
local output = require "ntklab.output"
local lfs = require "lfs"

local files = {}

-- Where ctest says the checkout and the build are (the defaults suit a run from the checkout),
-- and the host executable built there.
files.source_dir = os.getenv("NTKLAB_SOURCE_DIR") or "."
files.build_dir = os.getenv("NTKLAB_BUILD_DIR") or (files.source_dir .. "/build")
files.host = files.build_dir .. "/bin/ntklab"

-- path made absolute against the working directory (for commands run from another one).
function files.absolute(path) return (assert(output.absolute(path))) end

-- s quoted for a POSIX shell command line.
function files.q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

-- A fresh, empty directory of its own (remove it with files.remove_tree).
-- Runs a shell command; returns its output (stdout and stderr together) and its exit code.
function files.sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

function files.scratch_dir()
  local base = os.tmpname()
  os.remove(base)
  assert(output.mkdir_p(base .. ".d"))
  return base .. ".d"
end

-- The whole content of the file at path (raises when it cannot be read).
function files.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The names in dir, sorted, without "." and "..".
function files.entries(dir)
  local names = {}
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- Removes dir and everything below it.
function files.remove_tree(dir)
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then
      local p = dir .. "/" .. name
      if lfs.attributes(p, "mode") == "directory" then files.remove_tree(p) else os.remove(p) end
    end
  end
  lfs.rmdir(dir)
end

return files
