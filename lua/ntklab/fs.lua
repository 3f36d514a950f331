--- ntklab.fs: directories, paths and atomic file replacement, for everything that writes results.
-- Files are written atomically: the bytes go to "<path>.tmp.<pid>.<n>" in the same directory,
-- which is flushed, closed and renamed over <path> (rename(2) is atomic within a file system), so
-- a reader sees the old file or the complete new one, never a truncated one; on any failure the
-- temporary file is removed and the old file is left as it was. (Pure Lua cannot fsync: a power
-- loss right after the rename may still lose the new contents, not corrupt the old ones.)
-- A process killed between open and rename leaves its temporary file behind: clean_temp(dir)
-- removes such files whose writer is gone, and the experiment runner calls it at every start.
-- Misuse raises "bad argument #n to 'output.f' (...)" (these functions are published as
-- ntklab.output.f); failures of the world (permissions, a full disk) return nil, msg.
local check = require "ntklab.argcheck"
check.register()

local fs = {}

local fmt = string.format

local lfs_module
--- LuaFileSystem (Debian's lua-filesystem, installed by scripts/setup), or false.
function fs.lfs()
  if lfs_module == nil then
    local ok, m = pcall(require, "lfs")
    lfs_module = ok and m or false
  end
  return lfs_module
end

local NO_LFS = "LuaFileSystem (lfs) is not installed (apt-get install lua-filesystem)"

--- Creates a directory and its missing parents (like mkdir -p). Returns true, or nil, msg.
function fs.mkdir_p(path)
  check.string(path, 1, "output.mkdir_p")
  if path == "" then check.fail(1, "output.mkdir_p", "non-empty path expected") end
  local lfs = fs.lfs()
  if not lfs then return nil, "mkdir_p: " .. NO_LFS end
  local prefix = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    prefix = prefix .. part
    local mode = lfs.attributes(prefix, "mode")
    if mode == nil then
      local ok, err = lfs.mkdir(prefix)
      -- Another process may have created it in between: only a missing directory is a failure.
      if not ok and lfs.attributes(prefix, "mode") ~= "directory" then
        return nil, fmt("mkdir_p: cannot create '%s': %s", prefix, tostring(err))
      end
    elseif mode ~= "directory" then
      return nil, fmt("mkdir_p: '%s' exists and is not a directory", prefix)
    end
    prefix = prefix .. "/"
  end
  return true
end

--- path made absolute against the current working directory (the caller's, for a command
-- line), with "." and ".." segments and repeated or trailing slashes removed. Returns the path,
-- or nil, msg when the working directory cannot be read.
function fs.absolute(path)
  check.string(path, 1, "output.absolute")
  if path == "" then check.fail(1, "output.absolute", "non-empty path expected") end
  local full = path
  if path:sub(1, 1) ~= "/" then
    local lfs = fs.lfs()
    if not lfs then return nil, "absolute: " .. NO_LFS end
    local cwd, err = lfs.currentdir()
    if not cwd then return nil, "absolute: cannot read the working directory: " .. tostring(err) end
    full = cwd .. "/" .. path
  end
  local parts = {}
  for part in full:gmatch("[^/]+") do
    if part == ".." then
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

-- ---------------------------------------------------------------------------------------------
-- Atomic writes
-- ---------------------------------------------------------------------------------------------

-- The process id from /proc/self/stat (Linux), or a per-process random tag elsewhere: it only
-- has to keep two processes writing the same path from sharing a temporary file.
local process_tag
--- This process's tag in temporary file names (its pid on Linux).
function fs.tag()
  if not process_tag then
    local f = io.open("/proc/self/stat", "r")
    local pid = f and f:read("n")
    if f then f:close() end
    process_tag = pid and fmt("%d", pid)
      or fmt("%x%s", os.time(), tostring({}):match("0x(%x+)") or "0")
  end
  return process_tag
end
local temp_counter = 0

--- A fresh temporary name next to path: "<path>.tmp.<tag>.<n>[suffix]".
function fs.temp_name(path, suffix)
  temp_counter = temp_counter + 1
  return fmt("%s.tmp.%s.%d%s", path, fs.tag(), temp_counter, suffix or "")
end

-- Writes what producer(emit) emits to path atomically. emit(s) appends a string. Returns true,
-- or nil, msg on an I/O failure; an error raised by the producer is re-raised unchanged after
-- the temporary file is removed.
function fs.atomic(path, producer)
  local tmp = fs.temp_name(path)
  local f, err = io.open(tmp, "wb")
  if not f then return nil, fmt("cannot write '%s': %s", path, err) end
  local buffer, size, failure = {}, 0, nil
  local function flush_buffer()
    if failure or #buffer == 0 then return end
    local ok, werr = f:write(table.concat(buffer))
    if not ok then failure = werr end
    buffer, size = {}, 0
  end
  local function emit(s)
    buffer[#buffer + 1] = s
    size = size + #s
    if size >= 65536 then flush_buffer() end
  end
  local ok, perr = pcall(producer, emit)
  if ok then flush_buffer() end
  local function abandon()
    f:close()
    os.remove(tmp)
  end
  if not ok then
    abandon()
    error(perr, 0)
  end
  if failure then
    abandon()
    return nil, fmt("cannot write '%s': %s", path, failure)
  end
  local fok, ferr = f:flush()
  if not fok then
    abandon()
    return nil, fmt("cannot write '%s': %s", path, ferr)
  end
  local cok, cerr = f:close()
  if not cok then
    os.remove(tmp)
    return nil, fmt("cannot write '%s': %s", path, cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, fmt("cannot replace '%s': %s", path, rerr)
  end
  return true
end

--- Writes content to path atomically. content: a string, or a function(write) that calls
-- write(s) for each piece. Returns true, or nil, msg; an error raised by the function is
-- re-raised after the temporary file is removed (the old file stays as it was).
function fs.write_atomic(path, content)
  local f = "output.write_atomic"
  check.string(path, 1, f)
  if type(content) == "string" then
    return fs.atomic(path, function(emit) emit(content) end)
  end
  if type(content) ~= "function" then
    check.fail(2, f, "string or function expected, got " .. check.typename(content))
  end
  return fs.atomic(path, content)
end

-- A writer is alive when /proc/<pid> exists and is not a zombie (a killed process stays one
-- until its parent reaps it); without /proc (or for a non-numeric tag) nobody can tell, and the
-- file counts as abandoned: two runs into one directory at once are not supported anyway.
local function writer_alive(tag)
  local pid = tonumber(tag)
  if not pid or tag == fs.tag() then return false end
  local f = io.open("/proc/" .. tag .. "/stat", "r")
  if not f then return false end
  local state = (f:read("l") or ""):match("^%d+ %b() (%a)")
  f:close()
  return state ~= nil and state ~= "Z" and state ~= "X"
end

--- Removes the temporary files ("<name>.tmp.<tag>.<n>...") that interrupted writers left in
-- dir (not below it), except those of writers still running. Returns the number removed, or
-- nil, msg.
function fs.clean_temp(dir)
  check.string(dir, 1, "output.clean_temp")
  local lfs = fs.lfs()
  if not lfs then return nil, "clean_temp: " .. NO_LFS end
  if lfs.attributes(dir, "mode") ~= "directory" then return 0 end
  local ok, iter, state = pcall(lfs.dir, dir)
  if not ok then return nil, fmt("clean_temp: cannot list '%s': %s", dir, tostring(iter)) end
  local stale = {}
  for name in iter, state do
    local tag = name:match("%.tmp%.([%w]+)%.%d+")
    if tag and not writer_alive(tag) then stale[#stale + 1] = dir .. "/" .. name end
  end
  for _, path in ipairs(stale) do
    local rok, rerr = os.remove(path)
    if not rok then return nil, fmt("clean_temp: cannot remove '%s': %s", path, tostring(rerr)) end
  end
  return #stale
end

return fs
