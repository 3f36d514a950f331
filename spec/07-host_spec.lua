-- 07-host: the ntklab executable behaves like the stock lua5.4 interpreter (arg, -e, exit
-- status, stdin, the prompt) and finds the project's modules from any working directory.
-- The stock interpreter is the reference: the same command line is run under both and the
-- outputs compared, with only the interpreter's own name (arg[-n]) told apart.
local files = require "spec.support.files"
local host, q = files.host, files.q

-- Runs a shell command; returns its output (stdout and stderr), and its exit code.
local run = files.sh

-- The output of cmd, asserting that it exits with status 0 (the output is the failure message).
local function succeeds(cmd)
  local out, code = run(cmd)
  assert.are.equal(0, code, out)
  return out
end

local function tmpfile(contents)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write(contents)
  f:close()
  return name
end

-- Prints arg (all integer keys, sorted) and the varargs, with the interpreter's own path
-- replaced by "<interp>" so that host and lua5.4 runs compare equal.
local show_args = tmpfile([==[
local keys = {}
for k in pairs(arg) do keys[#keys + 1] = k end
table.sort(keys)
local interp = arg[keys[1]]
for _, k in ipairs(keys) do
  local v = arg[k]
  if k == keys[1] and k < 0 then v = "<interp>" end
  io.write(k, "=", v, " ")
end
io.write("| n=", select("#", ...))
for i = 1, select("#", ...) do io.write(" ", (select(i, ...))) end
io.write("\n")
]==])

describe("the ntklab host", function()
  teardown(function() os.remove(show_args) end)

  it("exists in the build tree", function()
    local out = succeeds(q(host) .. " -v")
    assert.matches("^ntklab %d+%.%d+%.%d+ with Lua 5%.4", out)
  end)

  it("sets arg and ... exactly as lua5.4 does", function()
    local cases = {
      {show_args},
      {show_args, "a", "b c", ""},
      {"-e", "x = 1", show_args, "-x", "--", "y"},
      {"--", show_args, "-e"},
      {"-W", "-e", "y = 2", "-e", "z = 3", show_args, "1", "2"},
    }
    for _, argv in ipairs(cases) do
      local line = {}
      for i, a in ipairs(argv) do line[i] = q(a) end
      line = table.concat(line, " ")
      local want, wcode = run("lua5.4 " .. line)
      local got, gcode = run(q(host) .. " " .. line)
      assert.are.equal(0, wcode, want)
      assert.are.equal(want, got, "for arguments: " .. line)
      assert.are.equal(wcode, gcode)
    end
  end)

  it("builds arg without a script as lua5.4 does", function()
    local chunk = "local t = {} for i = -1, #arg do t[#t + 1] = tostring(arg[i]) end print(table.concat(t, ' '))"
    local got = run(q(host) .. " -e " .. q(chunk))
    local want = run("lua5.4 -e " .. q(chunk))
    assert.are.equal(want:gsub("lua5%.4", "<interp>"), (got:gsub(host:gsub("%p", "%%%0"), "<interp>")))
  end)

  it("runs -e chunks and -l modules in order", function()
    local out = succeeds(q(host) .. " -e 'x = 40' -l nt=ntklab -e 'print(x + 2, nt.version)'")
    assert.matches("^42\t%d+%.%d+%.%d+\n$", out)
  end)

  it("exits with status 1 and a message on errors, as lua5.4 does", function()
    local bad = tmpfile("local x = 1\nerror('boom at line 2')\n")
    local syntax = tmpfile("local = 1\n")
    local cases = {
      {"-e " .. q("error('boom')"), "boom"},
      {q(bad), "boom at line 2"},
      {q(syntax), "<name> expected near '='"},
      {q("/nonexistent/script.lua"), "cannot open /nonexistent/script.lua"},
      {"-x", "unrecognized option '-x'"},
      {"-e", "'-e' needs argument"},
      {"-l", "'-l' needs argument"},
      {"-l no_such_module_anywhere", "module 'no_such_module_anywhere' not found"},
    }
    for _, c in ipairs(cases) do
      local out, code = run(q(host) .. " " .. c[1])
      local ref_out, ref_code = run("lua5.4 " .. c[1])
      assert.are.equal(1, code, c[1] .. ": " .. out)
      assert.are.equal(ref_code, code, c[1])
      assert.truthy(out:find(c[2], 1, true), c[1] .. ": " .. out)
      assert.truthy(ref_out:find(c[2], 1, true), "lua5.4 " .. c[1] .. ": " .. ref_out)
    end
    os.remove(bad)
    os.remove(syntax)
  end)

  it("passes os.exit codes through and returns 0 on success", function()
    local _, code = run(q(host) .. " -e 'os.exit(3)'")
    assert.are.equal(3, code)
    local _, code0 = run(q(host) .. " -e 'x = 1'")
    assert.are.equal(0, code0)
    local _, code1 = run(q(host) .. " -e 'os.exit(false)'")
    assert.are.equal(1, code1)
  end)

  it("runs a script from stdin, with and without '-'", function()
    local out = run("printf 'print(1 + 1)\\n' | " .. q(host))
    assert.are.equal("2\n", out)
    out = run("printf 'print(arg[0], ...)\\n' | " .. q(host) .. " - a b")
    assert.are.equal("-\ta\tb\n", out)
    local out2, code = run("printf 'error(\"from stdin\")\\n' | " .. q(host))
    assert.are.equal(1, code)
    assert.truthy(out2:find("from stdin", 1, true))
  end)

  it("does not read stdin after -v alone or after -e", function()
    local out = run("printf 'print(\"read\")\\n' | " .. q(host) .. " -v")
    assert.is_nil(out:find("read", 1, true))
    out = run("printf 'print(\"read\")\\n' | " .. q(host) .. " -e 'x = 1'")
    assert.are.equal("", out)
  end)

  it("finds the modules from any working directory, in the source tree", function()
    local chunk = "print(require('ntklab').version, package.searchpath('ntklab', package.path))"
    local out = succeeds("cd / && " .. q(host) .. " -e " .. q(chunk))
    local version, path = out:match("^(%S+)\t(%S+)\n$")
    assert.matches("^%d+%.%d+%.%d+$", version)
    -- the build tree's host reads lua/ of its source tree (edits need no rebuild)
    local f = assert(io.open(path))
    f:close()
    assert.matches("/lua/ntklab/init%.lua$", path)
    local script = tmpfile("local n = require 'ntklab'\nprint(n.zeros(2, 3):numel())\n")
    local out2, code2 = run("cd /tmp && " .. q(host) .. " " .. q(script))
    os.remove(script)
    assert.are.equal(0, code2, out2)
    assert.are.equal("6\n", out2)
  end)

  it("puts its modules ahead of LUA_PATH, and NTKLAB_LUA_DIR overrides them", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir .. "/ntklab")))
    local f = assert(io.open(dir .. "/ntklab/init.lua", "w"))
    f:write("return {decoy = true}\n")
    f:close()
    local chunk = "print(require('ntklab').decoy)"
    local out = run("LUA_PATH=" .. q(dir .. "/?/init.lua;;") .. " " .. q(host) .. " -e " .. q(chunk))
    assert.are.equal("nil\n", out)
    out = run("NTKLAB_LUA_DIR=" .. q(dir) .. " " .. q(host) .. " -e " .. q(chunk))
    assert.are.equal("true\n", out)
    os.execute("rm -rf " .. q(dir))
  end)

  it("stops running code on Ctrl-C with an error, as lua5.4 does", function()
    -- The signal goes only after the chunk has signalled that it runs (it writes a marker
    -- file): a fixed delay raced with start-up on a loaded machine, where the default SIGINT
    -- action ended the host with status 130 before the interpreter's handler was in place.
    local marker = os.tmpname()
    os.remove(marker)
    local chunk = ("io.open(%q, 'w'):close() while true do end"):format(marker)
    local script = table.concat({
      q(host) .. " -e " .. q(chunk) .. " 2>&1 &",
      "pid=$!",
      "n=0; while [ ! -e " .. q(marker) .. " ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done",
      "kill -INT $pid",
      "wait $pid; echo \"status=$?\"",
    }, "\n")
    local out = run("sh -c " .. q(script))
    os.remove(marker)
    assert.truthy(out:find("status=1", 1, true), out)
    assert.truthy(out:find("interrupted!", 1, true), out)
  end)

  -- SIGTERM is what kill, timeout and a batch system's time limit or scancel send: the same
  -- hook stops the code with an error that says so, and an experiment run leaves failure.json
  -- with it (no summary.json), instead of dying with nothing written.
  it("stops running code on SIGTERM with an error; a run it stops leaves failure.json", function()
    local marker = os.tmpname()
    os.remove(marker)
    local function term(cmd)
      return run("sh -c " .. q(table.concat({
        cmd .. " 2>&1 &",
        "pid=$!",
        "n=0; while [ ! -e " .. q(marker) .. " ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done",
        "kill -TERM $pid",
        "wait $pid; echo \"status=$?\"",
      }, "\n")))
    end
    local chunk = ("io.open(%q, 'w'):close() while true do end"):format(marker)
    local out = term(q(host) .. " -e " .. q(chunk))
    os.remove(marker)
    assert.truthy(out:find("status=1", 1, true), out)
    assert.truthy(out:find("terminated (SIGTERM)!", 1, true), out)
    -- an experiment that spins after it has started
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    local spin = dir .. "/spin.lua"
    local f = assert(io.open(spin, "w"))
    f:write(([[return {name = "spin", summary = "spins until stopped", options = {},
      run = function() io.open(%q, "w"):close() while true do end end}]]):format(marker))
    f:close()
    out = term(q(host) .. " run " .. q(spin) .. " --out " .. q(dir .. "/out"))
    os.remove(marker)
    assert.falsy(out:find("status=0", 1, true), out)
    local failure = assert(io.open(dir .. "/out/failure.json")):read("a")
    assert.truthy(failure:find("terminated (SIGTERM)!", 1, true), failure)
    assert.is_nil(io.open(dir .. "/out/summary.json"))
    os.execute("rm -rf " .. q(dir))
  end)

  it("runs LUA_INIT unless -E is given", function()
    local out = run("LUA_INIT='x = 5' " .. q(host) .. " -e 'print(x)'")
    assert.are.equal("5\n", out)
    out = run("LUA_INIT='x = 5' " .. q(host) .. " -E -e 'print(x)'")
    assert.are.equal("nil\n", out)
  end)

  it("has a prompt: expressions print their value, statements span lines", function()
    local input = table.concat({
      "1 + 2",
      "function double(x)",
      "  return 2 * x",
      "end",
      "double(21)",
      "local t = {",
      "  10,",
      "  20 } print(#t)",
      "error('oops')",
      "'still' .. ' alive'",
      "require('ntklab').zeros(2):numel()",
      "x = ",
      "  7",
      "x, x + 1",
    }, "\n") .. "\n"
    local file = tmpfile(input)
    local out, code = run(q(host) .. " -i < " .. q(file))
    os.remove(file)
    assert.are.equal(0, code, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l:gsub("^[>%s]+", "") end
    local text = table.concat(lines, "\n")
    assert.matches("^ntklab %d", text)
    assert.truthy(text:find("\n3\n", 1, true), text)
    assert.truthy(text:find("\n42\n", 1, true), text)
    assert.truthy(text:find("\n2\n", 1, true), text)
    assert.truthy(text:find("stdin:1: oops", 1, true), text)
    assert.truthy(text:find("\nstill alive\n", 1, true), text)
    assert.truthy(text:find("\n7\t8", 1, true), text)
    -- errors at the prompt carry no program-name prefix, as in lua5.4
    assert.is_nil(text:find("ntklab: stdin", 1, true))
  end)

  it("runs the script first, then the prompt, with -i", function()
    local script = tmpfile("y = 6 * 7\n")
    local out, code = run("printf 'y\\n' | " .. q(host) .. " -i " .. q(script))
    os.remove(script)
    assert.are.equal(0, code, out)
    assert.truthy(out:find("> 42\n", 1, true), out)
  end)
end)
