-- 33-io_special_files: every loader (io.read_idx, read_npy, read_csv, read_cifar10, mlp_load)
-- refuses what is not a regular file (a directory, a FIFO, a device) with a message saying so,
-- without blocking; net:save and the io writers create files with the same mode. Issue 11: B10,
-- B11, file modes.
local ntklab = require "ntklab"
local files = require "spec.support.files"

-- Each loader as a snippet of Lua taking the path P.
local loaders = {
  read_idx = "return ntklab.io.read_idx(P)",
  read_npy = "return ntklab.io.read_npy(P)",
  read_csv = "return ntklab.io.read_csv(P)",
  read_cifar10 = "return ntklab.io.read_cifar10(P)",
  mlp_load = "return ntklab.mlp_load(P)",
}

-- Runs `code` (with P bound to path) in the host under a time limit; returns its output and
-- whether it finished (a loader that blocks on a FIFO is killed after LIMIT seconds).
local LIMIT = 10
local function run_host(code, path)
  local script = ("local ntklab = require 'ntklab'; local P = %q; "
    .. "local ok, a, b = pcall(function() %s end); print(ok, a, b)"):format(path, code)
  local cmd = ("timeout %d %s -e %s 2>&1; echo status=$?"):format(LIMIT, files.q(files.host), files.q(script))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out, not out:match("status=124")
end

describe("loaders refuse non-regular files", function()
  local dir
  before_each(function() dir = files.scratch_dir() end)
  after_each(function() files.remove_tree(dir) end)

  for name, code in pairs(loaders) do
    it(name .. " on a directory: nil and 'is a directory'", function()
      local ok, msg = load("local ntklab, P = ...; " .. code)(ntklab, dir)
      assert.is_nil(ok)
      assert.are.equal(dir .. ": is a directory, not a regular file", msg)
    end)

    it(name .. " on a FIFO: nil and 'is a FIFO' at once, no wait for a writer", function()
      local fifo = dir .. "/f"
      assert.is_true(os.execute("mkfifo " .. files.q(fifo)))
      local out, finished = run_host(code, fifo)
      assert.is_true(finished, name .. " blocked on a FIFO")
      assert.matches("true\tnil\t" .. fifo:gsub("%p", "%%%0") .. ": is a FIFO, not a regular file", out)
    end)

    it(name .. " on a character device", function()
      local ok, msg = load("local ntklab, P = ...; " .. code)(ntklab, "/dev/null")
      assert.is_nil(ok)
      assert.are.equal("/dev/null: is a character device, not a regular file", msg)
    end)
  end

  it("refuses a path with a NUL byte (the C library would open what precedes it)", function()
    local base = dir .. "/a.csv"
    local f = assert(io.open(base, "w"))
    f:write("1,2\n")
    f:close()
    for name, code in pairs(loaders) do
      assert.has_error(function() load("local ntklab, P = ...; " .. code)(ntklab, base .. "\0.npy") end,
        nil, name)
    end
    local ok, msg = pcall(function() return ntklab.io.read_csv(base .. "\0x") end)
    assert.is_false(ok)
    assert.matches("path without NUL bytes expected", msg)
    assert.has_error(function() ntklab.mlp{widths = {2, 1}, seed = 1}:save(base .. "\0x") end)
  end)

  it("still reads through a symlink to a regular file", function()
    local net = ntklab.mlp{widths = {2, 3, 1}, seed = 1}
    assert.is_true(net:save(dir .. "/net.mlp"))
    assert.is_true(os.execute(("ln -s net.mlp %s"):format(files.q(dir .. "/link.mlp"))))
    assert.are.same(net:get():totable(), assert(ntklab.mlp_load(dir .. "/link.mlp")):get():totable())
  end)
end)

describe("writers refuse to replace non-regular files", function()
  it("io writers and net:save leave a FIFO, a directory and a device in place", function()
    local dir = files.scratch_dir()
    local fifo = dir .. "/f"
    assert.is_true(os.execute("mkfifo " .. files.q(fifo)))
    assert.is_true(os.execute("ln -s /dev/null " .. files.q(dir .. "/null")))
    local net = ntklab.mlp{widths = {2, 1}, seed = 1}
    for path, kind in pairs{[fifo] = "a FIFO", [dir] = "a directory", [dir .. "/null"] = "a character device"} do
      for _, write in ipairs{
        function() return ntklab.io.write_npy(path, ntklab.zeros(2)) end,
        function() return ntklab.io.write_idx(path, ntklab.zeros(2), {type = "ubyte"}) end,
        function() return net:save(path) end,
      } do
        local ok, msg = write()
        assert.is_nil(ok)
        assert.are.equal(path .. ": is " .. kind .. ", not a regular file", msg)
      end
    end
    local lfs = require "lfs"
    assert.are.equal("named pipe", lfs.attributes(fifo, "mode"))
    assert.are.same({"f", "null"}, files.entries(dir)) -- and no temporary left behind
    files.remove_tree(dir)
  end)
end)

describe("a writer killed mid-write", function()
  it("leaves the old file whole and no temporary behind (kill -9, 10 times)", function()
    local dir = files.scratch_dir()
    local code = ("local n = require 'ntklab'; local net = n.mlp{widths = {300, 300, 300, 1}, seed = 1}; "
      .. "for i = 1, 1000 do assert(net:save(%q)) end"):format(dir .. "/net.mlp")
    -- a saving loop killed at a random instant in its first second, ten times
    local script = ("for i in $(seq 1 10); do %s -e %s & pid=$!; sleep 0.$((RANDOM %% 9 + 1)); "
      .. "kill -9 $pid; wait $pid 2>/dev/null; done; true"):format(files.q(files.host), files.q(code))
    assert.is_true(os.execute("bash -c " .. files.q(script)))
    local names = files.entries(dir)
    -- a kill before the first commit leaves no net.mlp at all, never a part of one
    if names[1] == "net.mlp" then assert.are.equal(180300, assert(ntklab.mlp_load(dir .. "/net.mlp")):nparams()) end
    -- a kill between naming the temporary and renaming it (two system calls; a loaded machine
    -- hits it) may leave one net.mlp.tmp.<pid>.*: the next save of the path removes it
    for _, name in ipairs(names) do
      assert.is_truthy(name == "net.mlp" or name:match("^net%.mlp%.tmp%.%d+%.1%w%w%w%w%w%w$"), name)
    end
    local net = ntklab.mlp{widths = {2, 1}, seed = 1}
    assert(net:save(dir .. "/net.mlp"))
    names = files.entries(dir)
    files.remove_tree(dir)
    assert.are.same({"net.mlp"}, names)
  end)

  it("the next writer of a path removes what dead writers left, and keeps a live writer's", function()
    local dir = files.scratch_dir()
    -- a pid that has exited (the shell's), and one that is running (a sleep, for the test)
    -- (the handle is closed before the save: an unreaped shell is a zombie, which counts as alive)
    local shell = io.popen("sh -c 'echo $$'")
    local dead = assert(tonumber(shell:read("l")))
    shell:close()
    local sleeper = io.popen("sleep 30 & echo $!")
    local live = assert(tonumber(sleeper:read("l")))
    local stale = ("%s/net.mlp.tmp.%d.1abcde"):format(dir, dead)
    local running = ("%s/net.mlp.tmp.%d.1fghij"):format(dir, live)
    local other = ("%s/other.mlp.tmp.%d.1klmno"):format(dir, dead)
    for _, p in ipairs{stale, running, other} do
      local f = assert(io.open(p, "wb"))
      f:write("partial")
      f:close()
    end
    assert(ntklab.mlp{widths = {2, 1}, seed = 1}:save(dir .. "/net.mlp"))
    local names = files.entries(dir)
    os.execute("kill " .. live)
    sleeper:close()
    files.remove_tree(dir)
    -- the dead writer's temporary of net.mlp went; a live writer's and another path's stay
    assert.are.same({"net.mlp", ("net.mlp.tmp.%d.1fghij"):format(live), ("other.mlp.tmp.%d.1klmno"):format(dead)}, names)
  end)
end)

describe("file modes", function()
  it("net:save and the io writers give the same mode (0666 & ~umask)", function()
    local dir = files.scratch_dir()
    for _, mask in ipairs{"022", "027", "077"} do
      local code = ([[
        local ntklab = require 'ntklab'
        local lfs = require 'lfs'
        local d = %q
        assert(ntklab.mlp{widths = {2, 1}, seed = 1}:save(d .. '/n.mlp'))
        assert(ntklab.io.write_npy(d .. '/t.npy', ntklab.zeros(2, 2)))
        print(lfs.attributes(d .. '/n.mlp', 'permissions'), lfs.attributes(d .. '/t.npy', 'permissions'))
      ]]):format(dir)
      local p = assert(io.popen(("umask %s; %s -e %s 2>&1"):format(mask, files.q(files.host), files.q(code))))
      local out = p:read("a")
      p:close()
      local want = ({["022"] = "rw-r--r--", ["027"] = "rw-r-----", ["077"] = "rw-------"})[mask]
      assert.are.equal(want .. "\t" .. want .. "\n", out)
    end
    files.remove_tree(dir)
  end)
end)
