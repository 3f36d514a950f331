-- 44-output_cli: the progress line (only on a terminal, or when forced) and the option parser
-- that every experiment uses.
local output = require "ntklab.output"

local function host()
  local build = os.getenv("NTKLAB_BUILD_DIR") or "build"
  return build .. "/bin/ntklab"
end

-- Runs `code` as a script under the host, with environment assignments `env` and arguments
-- `args`; returns stdout, stderr and the exit status.
local function run(env, code, args)
  local script, err = os.tmpname(), os.tmpname()
  local f = io.open(script, "wb")
  f:write(code)
  f:close()
  local cmd = string.format("%s %s %s %s 2>%s", env, host(), script, args or "", err)
  local p = io.popen(cmd, "r")
  local out = p:read("a")
  local _, _, status = p:close()
  f = io.open(err, "rb")
  local errtext = f:read("a")
  f:close()
  os.remove(err)
  os.remove(script)
  return out, errtext, status
end

local function capture()
  local path = os.tmpname()
  local f = io.open(path, "w+b")
  return f, function()
    f:seek("set")
    local s = f:read("a")
    f:close()
    os.remove(path)
    return s
  end
end

describe("output.progress", function()
  it("redraws one line in place on a terminal and ends it with a newline", function()
    local stream, contents = capture()
    local p = output.progress{total = 4, label = "train", stream = stream, interval = 0,
      isatty = function() return true end}
    assert.is_true(p.enabled)
    for i = 1, 4 do p:update(i, "loss " .. (1 / i)) end
    p:finish()
    local s = contents()
    assert.matches("^\rtrain  25%% %(1/4%) loss 1", s)
    -- the last line is shorter than the one before: padded over it with spaces
    assert.matches("\rtrain 100%% %(4/4%) loss 0.25 +\n$", s)
    local _, redraws = s:gsub("\r", "")
    assert.are.equal(4, redraws)
  end)

  it("writes plain lines every 10% when stderr is not a terminal, and nothing with quiet", function()
    local stream, contents = capture()
    local p = output.progress{total = 100, label = "sweep", stream = stream, interval = 0,
      isatty = function() return false end}
    assert.are.equal("log", p.mode)
    for i = 1, 100 do p:update(i, {t = i / 10, loss = 1 / i}) end
    p:finish()
    local s = contents()
    assert.is_nil(s:find("\r", 1, true))
    local lines = {}
    for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(10, #lines, s)
    assert.matches("^sweep  10%% %(10/100%) t 1 loss 0.1 ETA %d+s$", lines[1])
    assert.matches("^sweep 100%% %(100/100%) t 10 loss 0.01$", lines[10])
    stream, contents = capture()
    p = output.progress{total = 3, stream = stream, interval = 0, quiet = true, isatty = function() return true end}
    assert.are.equal("off", p.mode)
    p:update(1)
    p:update(3)
    p:finish()
    assert.are.equal("", contents())
  end)

  it("in a log, writes a line after log_interval seconds even within the same 10%", function()
    local stream, contents = capture()
    local now = 0
    local p = output.progress{total = 1000, stream = stream, mode = "log", clock = function() return now end}
    for i = 1, 50 do now = i; p:update(i) end -- 50 s, under 10% done: one line, at 31 s
    p:finish()
    assert.are.equal("  3% (31/1000) ETA 16m09s\n", contents())
  end)

  it("throttles redraws to the interval but always draws the last step", function()
    local stream, contents = capture()
    local p = output.progress{total = 1000, stream = stream, interval = 3600, isatty = function() return true end}
    for i = 1, 1000 do p:update(i) end
    p:finish()
    local _, redraws = contents():gsub("\r", "")
    assert.are.equal(2, redraws)
  end)

  it("NTKLAB_FORCE_PROGRESS=1 draws in place on a redirected stderr, =0 silences it; by default a log gets plain lines", function()
    local code = "local p = require'ntklab.output'.progress{total = 2, interval = 0} p:update(1) p:update(2) p:finish()"
    local _, forced = run("NTKLAB_FORCE_PROGRESS=1", code)
    assert.matches("^\r 50%% %(1/2%) ETA %d+s\r100%% %(2/2%) +\n$", forced)
    local _, plain = run("NTKLAB_FORCE_PROGRESS=", code)
    assert.matches("^ 50%% %(1/2%) ETA %d+s\n100%% %(2/2%)\n$", plain)
    local _, off = run("NTKLAB_FORCE_PROGRESS=0", code)
    assert.are.equal("", off)
  end)
end)

describe("output.parse_args", function()
  local spec = {
    name = "silent_alignment",
    description = "Figure 1a-b: a two-layer ReLU net on whitened MNIST 0 vs 1.",
    options = {
      {name = "sigma", type = "number", default = 0.1, min = 0, help = "initialization scale"},
      {name = "width", type = "integer", default = 100, min = 1, help = "hidden width"},
      {name = "trainer", type = "choice", choices = {"flow", "gd", "adam"}, default = "flow", help = "optimizer"},
      {name = "quiet", type = "boolean", default = false, help = "no progress line"},
      {name = "out", type = "string", help = "output directory"},
      {name = "half_loss", type = "number", default = 0.5},
    },
  }

  it("fills defaults and converts values", function()
    local o = assert(output.parse_args(spec, {}))
    assert.are.same({sigma = 0.1, width = 100, trainer = "flow", quiet = false, half_loss = 0.5}, o)
    o = assert(output.parse_args(spec, {"--sigma", "1e-3", "--width=1e2", "--trainer", "adam", "--quiet",
      "--out", "results/x", "--half-loss", "0.25"}))
    assert.are.same({sigma = 1e-3, width = 100, trainer = "adam", quiet = true, out = "results/x", half_loss = 0.25}, o)
    assert.are.equal("integer", math.type(o.width))
    o = assert(output.parse_args(spec, {"--quiet", "--no-quiet", "--sigma=-0", "--quiet=yes"}))
    assert.is_true(o.quiet)
    -- the last occurrence wins
    assert.are.equal(7, output.parse_args(spec, {"--width", "3", "--width", "7"}).width)
    -- a flag followed by its value, as a sweep grid or a user writes it
    o = assert(output.parse_args(spec, {"--quiet", "false", "--sigma", "2"}))
    assert.is_false(o.quiet)
    assert.are.equal(2, o.sigma)
    assert.is_true(assert(output.parse_args(spec, {"--quiet", "YES"})).quiet)
  end)

  local errors = {
    {{"--sigmaa", "1"}, "silent_alignment: unknown option '--sigmaa' (did you mean --sigma?) (see --help)"},
    {{"--wdith", "1"}, "unknown option '--wdith' (did you mean --width?)"},
    {{"--trainer", "flwo"}, "option '--trainer' expects one of flow, gd, adam, got 'flwo' (did you mean flow?)"},
    {{"--xyz", "1"}, "unknown option '--xyz' (see --help)"},
    {{"--sigma"}, "option '--sigma' needs a value"},
    {{"--sigma", "abc"}, "option '--sigma' expects a number, got 'abc'"},
    {{"--sigma", "nan"}, "option '--sigma' expects a number, got 'nan'"},
    {{"--sigma", "-1"}, "option '--sigma' must be >= 0, got -1"},
    {{"--width", "2.5"}, "option '--width' expects an integer, got '2.5'"},
    {{"--width", "0"}, "option '--width' must be >= 1, got 0"},
    {{"--trainer", "sgd"}, "option '--trainer' expects one of flow, gd, adam, got 'sgd'"},
    {{"--quiet=maybe"}, "option '--quiet' expects true or false, got 'maybe'"},
    {{"--no-sigma"}, "unknown option '--no-sigma'"},
    {{"--no-quiet=1"}, "option '--no-quiet' takes no value"},
    {{"--no-quiet", "false"}, "option '--no-quiet' takes no value"},
    {{"--quiet", "maybe"}, "unexpected argument 'maybe'"},
    {{"results"}, "unexpected argument 'results'"},
    {{"-x"}, "unexpected argument '-x'"},
  }
  for _, case in ipairs(errors) do
    it("rejects " .. table.concat(case[1], " "), function()
      local none, msg, code = output.parse_args(spec, case[1])
      assert.is_nil(none)
      assert.are.equal(2, code)
      assert.is_truthy(msg:find(case[2], 1, true), msg)
    end)
  end

  it("answers --help with the options, their defaults and descriptions", function()
    local none, text, code = output.parse_args(spec, {"--sigma", "2", "--help"})
    assert.is_nil(none)
    assert.are.equal(0, code)
    assert.matches("^usage: ntklab silent_alignment %[options%]\n", text)
    assert.matches("Figure 1a%-b", text)
    assert.matches("\n  %-%-sigma NUMBER +initialization scale %(default 0.1, >= 0%)\n", text)
    assert.matches("\n  %-%-width INTEGER +hidden width %(default 100, >= 1%)\n", text)
    assert.matches("\n  %-%-trainer flow|gd|adam +optimizer %(default flow%)\n", text)
    assert.matches("\n  %-%-quiet +no progress line %(default false%)\n", text)
    assert.matches("\n  %-%-out STRING +output directory\n", text)
    assert.matches("\n  %-%-half%-loss NUMBER +%(default 0.5%)\n", text)
    assert.matches("\n  %-%-help +show this help and exit\n$", text)
    assert.are.equal(text, select(2, output.parse_args(spec, {"-h"})))
  end)

  it("cli exits 0 with the help on stdout and 2 with the error on stderr", function()
    local code = "local o = require'ntklab.output'.cli({name = 'demo', options = {{name = 'n', type = 'integer', default = 3}}}, arg) print('n=' .. o.n)"
    local out, err, status = run("", code, "--help")
    assert.are.equal(0, status)
    assert.matches("%-%-n INTEGER", out)
    assert.are.equal("", err)
    out, err, status = run("", code, "--m 4")
    assert.are.equal(2, status)
    assert.are.equal("", out)
    assert.are.equal("demo: unknown option '--m' (see --help)\n", err)
    out, _, status = run("", code, "--n 4")
    assert.are.equal(0, status)
    assert.are.equal("n=4\n", out)
  end)
end)
