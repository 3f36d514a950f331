-- 43-output_files: JSON and CSV files that read back, atomic replacement that survives an
-- interrupted write, directories, and gnuplot PNGs.
local ntklab = require "ntklab"
local output = require "ntklab.output"
local cjson = require "cjson"
local lfs = require "lfs"

local files = require "spec.support.files"
local scratch_dir, slurp, entries, remove_tree =
  files.scratch_dir, files.slurp, files.entries, files.remove_tree

describe("output: JSON", function()
  local dir
  before_each(function() dir = scratch_dir() end)
  after_each(function() remove_tree(dir) end)

  it("writes a summary that cjson reads back, keys sorted, numbers exact, NaN as null", function()
    local summary = {
      config = {sigma = 0.1, width = 100, trainer = "flow"},
      data = {source = "mnist", P = 1000, D = 784, rank = 577},
      final = {train_loss = 1 / 3, test_error = 0.0125},
      alignment = {initial = 0.3, final = 0.95, centered_final = 0 / 0},
      times = {align90 = 1e-300, kernel10 = math.huge, half_loss = 12.5},
      silent_alignment = true,
      list = {1, 2.5, -3},
      tensor = ntklab.tensor{{1, 2}, {3, 4}},
      empty = output.array{},
      text = "quote \" backslash \\ newline \n tab \t bell \7",
    }
    local path = dir .. "/summary.json"
    assert.is_true(output.write_json(path, summary))
    local back = cjson.decode(slurp(path))
    assert.are.equal(0.1, back.config.sigma)
    assert.are.equal(1 / 3, back.final.train_loss)
    assert.are.equal(1e-300, back.times.align90)
    assert.are.equal(cjson.null, back.times.kernel10)
    assert.are.equal(cjson.null, back.alignment.centered_final)
    assert.are.equal(true, back.silent_alignment)
    assert.are.same({1, 2.5, -3}, back.list)
    assert.are.same({{1, 2}, {3, 4}}, back.tensor)
    assert.are.same({}, back.empty)
    assert.are.equal(summary.text, back.text)
    local text = slurp(path)
    assert.matches('"empty": %[%]', text)
    -- sorted keys, humane numbers
    local a, c, t = text:find('"alignment"'), text:find('"config"'), text:find('"times"')
    assert.is_true(a < c and c < t)
    assert.matches('"sigma": 0.1,', text)
    assert.are.same(back, output.read_json(path))
  end)

  it("refuses values JSON cannot hold, naming where they are", function()
    assert.has_error(function() output.encode_json{config = {f = print}} end,
      "bad argument #1 to 'output.encode_json' (cannot encode a function at $.config.f)")
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() output.encode_json(cyc) end,
      "bad argument #1 to 'output.encode_json' (cycle at $.self)")
    assert.has_error(function() output.encode_json{[true] = 1} end)
    assert.has_error(function() output.encode_json{1, 2, nil, 4, x = 1} end)
    assert.are.equal('{"a":[1,2],"b":{}}', output.encode_json({b = {}, a = {1, 2}}, false))
  end)

  it("leaves the previous file intact and no temporary file when encoding fails", function()
    local path = dir .. "/summary.json"
    assert.is_true(output.write_json(path, {version = 1}))
    local before = slurp(path)
    assert.has_error(function() output.write_json(path, {version = 2, bad = {coroutine.create(print)}}) end)
    assert.are.equal(before, slurp(path))
    assert.are.same({"summary.json"}, entries(dir))
  end)

  it("read_json reports missing and malformed files", function()
    local none, msg = output.read_json(dir .. "/missing.json")
    assert.is_nil(none)
    assert.matches("missing.json", msg)
    assert.is_true(output.write_atomic(dir .. "/bad.json", "{\"a\": [1, 2"))
    none, msg = output.read_json(dir .. "/bad.json")
    assert.is_nil(none)
    assert.matches("bad.json", msg)
  end)
end)

describe("output: atomic writes", function()
  local dir
  before_each(function() dir = scratch_dir() end)
  after_each(function() remove_tree(dir) end)

  it("an interrupted writer leaves the old file and removes its temporary file", function()
    local path = dir .. "/trajectory.csv"
    assert.is_true(output.write_atomic(path, "old contents\n"))
    -- More than the 64 KiB buffer, so part of the new contents is on disk when the writer dies.
    local ok, err = pcall(output.write_atomic, path, function(write)
      for _ = 1, 5000 do write("0123456789012345678901234567890123456789\n") end
      error("interrupted")
    end)
    assert.is_false(ok)
    assert.matches("interrupted", err)
    assert.are.equal("old contents\n", slurp(path))
    assert.are.same({"trajectory.csv"}, entries(dir))
  end)

  it("replaces the file in one step and reports I/O failures as nil, msg", function()
    local path = dir .. "/x.txt"
    assert.is_true(output.write_atomic(path, function(write) write("a"); write("b") end))
    assert.are.equal("ab", slurp(path))
    assert.is_true(output.write_atomic(path, "c"))
    assert.are.equal("c", slurp(path))
    local none, msg = output.write_atomic(dir .. "/no/such/dir/x.txt", "c")
    assert.is_nil(none)
    assert.matches("cannot write '.*no/such/dir/x.txt'", msg)
    -- the target is a directory: rename fails, the temporary file goes
    assert(output.mkdir_p(dir .. "/sub"))
    none, msg = output.write_atomic(dir .. "/sub", "c")
    assert.is_nil(none)
    assert.matches("cannot replace", msg)
    assert.are.same({"sub", "x.txt"}, entries(dir))
  end)

  it("mkdir_p creates parents, accepts existing directories, refuses files in the way", function()
    assert.is_true(output.mkdir_p(dir .. "/a/b/c"))
    assert.are.equal("directory", lfs.attributes(dir .. "/a/b/c", "mode"))
    assert.is_true(output.mkdir_p(dir .. "/a/b/c/"))
    assert.is_true(output.write_atomic(dir .. "/a/file", "x"))
    local none, msg = output.mkdir_p(dir .. "/a/file/d")
    assert.is_nil(none)
    assert.matches("exists and is not a directory", msg)
  end)
end)

describe("output: CSV", function()
  local dir
  before_each(function() dir = scratch_dir() end)
  after_each(function() remove_tree(dir) end)

  local function parse(text)
    local rows = {}
    for line in text:gmatch("([^\n]*)\n") do
      local fields = {}
      for field in (line .. ","):gmatch("([^,]*),") do fields[#fields + 1] = field end
      rows[#rows + 1] = fields
    end
    return rows
  end

  it("writes column-oriented trajectories, row arrays and records alike", function()
    local traj = {t = {0, 0.5, 1}, loss = {1, 1 / 3, 0 / 0}, alignment = ntklab.tensor{0.1, 0.2, math.huge}}
    local path = dir .. "/trajectory.csv"
    assert.is_true(output.write_csv(path, {"t", "loss", "alignment"}, traj))
    local rows = parse(slurp(path))
    assert.are.same({"t", "loss", "alignment"}, rows[1])
    assert.are.equal(4, #rows)
    assert.are.equal(1 / 3, tonumber(rows[3][2]))
    assert.are.equal("nan", rows[4][2])
    assert.are.equal("inf", rows[4][3])
    local from_rows = dir .. "/rows.csv"
    assert.is_true(output.write_csv(from_rows, {"t", "loss", "alignment"},
      {{0, 1, 0.1}, {0.5, 1 / 3, 0.2}, {1, 0 / 0, math.huge}}))
    assert.are.equal(slurp(path), slurp(from_rows))
    local from_records = dir .. "/records.csv"
    assert.is_true(output.write_csv(from_records, {"t", "loss", "alignment"},
      {{t = 0, loss = 1, alignment = 0.1}, {t = 0.5, loss = 1 / 3, alignment = 0.2},
       {t = 1, loss = 0 / 0, alignment = math.huge}}))
    assert.are.equal(slurp(path), slurp(from_records))
  end)

  it("quotes text fields as RFC 4180 asks and writes nil as an empty field", function()
    local path = dir .. "/p.csv"
    assert.is_true(output.write_csv(path, {"name", "value"}, {{'a,"b"', 1}, {"plain", nil}, {"x\ny", true}}))
    assert.are.equal('name,value\n"a,""b""",1\nplain,\n"x\ny",true\n', slurp(path))
    assert.is_true(output.write_csv(path, {"only"}, {}))
    assert.are.equal("only\n", slurp(path))
  end)

  it("a bad value deep in the rows raises, naming it, and leaves the old file", function()
    local path = dir .. "/predictions.csv"
    assert.is_true(output.write_csv(path, {"i"}, {{1}}))
    local rows = {}
    for i = 1, 20000 do rows[i] = {i, i / 7} end
    rows[15000][2] = {}
    assert.has_error(function() output.write_csv(path, {"i", "f"}, rows) end,
      "bad argument #3 to 'output.write_csv' (row 15000, column 'f': cannot write a table)")
    assert.are.equal("i\n1\n", slurp(path))
    assert.are.same({"predictions.csv"}, entries(dir))
  end)
end)

describe("output: plots", function()
  local dir
  before_each(function() dir = scratch_dir() end)
  after_each(function() remove_tree(dir) end)

  local probe = io.popen("command -v gnuplot 2>/dev/null")
  local have_gnuplot = probe:read("a") ~= ""
  probe:close()

  local function series()
    local x, y1, y2 = {}, {}, {}
    for i = 1, 50 do x[i] = i / 10; y1[i] = 1 - math.exp(-x[i]); y2[i] = x[i] ^ 2 / 25 end
    return {{x = x, y = y1, title = "alignment"}, {x = ntklab.tensor(x), y = y2, title = "|K| / |K_final|", style = "dashed"}}
  end

  it("draws a non-empty PNG with gnuplot", function()
    if not have_gnuplot then pending("gnuplot is not installed") return end
    local file = dir .. "/panel.png"
    local ok, msg = output.plot{file = file, title = "silent alignment (it's a test)", xlabel = "t",
      ylabel = "value", logx = true, series = series(), vlines = {1.5, {x = 3, title = "t_kernel10"}}}
    assert.is_true(ok, msg)
    local png = slurp(file)
    assert.are.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    assert.is_true(#png > 1000)
    -- the SVG beside it, with the real symbols of the labels as text
    local svg = slurp(dir .. "/panel.svg")
    assert.matches("<svg", svg, 1, true)
    assert.matches("t_kernel10", svg, 1, true)
    assert.are.same({"panel.png", "panel.svg"}, entries(dir))
  end)

  it("draws the trajectory and prediction panels", function()
    if not have_gnuplot then pending("gnuplot is not installed") return end
    local traj = {t = {}, loss = {}, alignment = {}, kernel_norm = {}}
    for i = 0, 40 do
      local t = 10 ^ (-1 + i * 0.1)
      traj.t[i + 1], traj.loss[i + 1] = t, 1 / (1 + t / 30)
      traj.alignment[i + 1], traj.kernel_norm[i + 1] = 1 - 0.7 / (1 + t), 0.01 + t / (10 + t)
    end
    local panels = dofile(files.source_dir .. "/experiments/panels/silent_alignment.lua")
    local file = dir .. "/trajectory.png"
    assert.is_true(panels.plot_trajectory(file, traj, {align90 = 8, kernel10 = 1.2}))
    assert.are.equal("\137PNG", slurp(file):sub(1, 4))
    local net, pred = {}, {}
    for i = 1, 30 do net[i] = math.sin(i); pred[i] = 0.9 * math.sin(i) end
    file = dir .. "/predictions.png"
    assert.is_true(panels.plot_predictions(file, net, {{y = pred, title = "final NTK"}}, {title = "MNIST 0/1"}))
    assert.are.equal("\137PNG", slurp(file):sub(1, 4))
  end)

  it("writes labels as gnuplot enhanced text: _{} and ^{} are markup, every other character literal", function()
    local plot = require "ntklab.plot"
    assert.are.equal([['‖K‖_{F} t\_half σ^{2} it''s \@ \{x\}']], plot.text("‖K‖_{F} t_half σ^{2} it's @ {x}"))
    assert.are.equal([['a'."\n".'b\_c']], plot.text("a\nb_c"))
    assert.are.equal("fig.svg", plot.svg_name("fig.png"))
  end)

  it("draws panels and a heat map into one PNG and one SVG", function()
    if not have_gnuplot then pending("gnuplot is not installed") return end
    local file = dir .. "/fig.png"
    local s = series()
    local ok, msg = output.figure{file = file, title = "σ^{2} = 10^{-3}\nsecond line", cols = 2, panels = {
      {title = "‖K‖_{F}", xlabel = "t", logx = true, series = s, vlines = {{x = 2, title = "t_{1/2} = 2"}}, hlines = {0.5}},
      {title = "kernel", heatmap = {{1, -0.5}, {-0.5, 1}}}}}
    assert.is_true(ok, msg)
    assert.are.equal("\137PNG", slurp(file):sub(1, 4))
    assert.matches("<svg", slurp(dir .. "/fig.svg"), 1, true)
    assert.are.same({"fig.png", "fig.svg"}, entries(dir))
  end)

  it("returns nil, msg when gnuplot is missing or fails, keeping the old PNG", function()
    local file = dir .. "/panel.png"
    assert.is_true(output.write_atomic(file, "old"))
    local none, msg = output.plot{file = file, series = series(), gnuplot = dir .. "/no-gnuplot"}
    assert.is_nil(none)
    assert.matches("gnuplot not found", msg)
    if have_gnuplot then
      -- every y undefined on a log axis: gnuplot gives up with an error
      none, msg = output.plot{file = file, logy = true, series = {{x = {1, 2}, y = {-1, -2}}}}
      assert.is_nil(none)
      assert.matches("gnuplot failed", msg)
    end
    assert.are.equal("old", slurp(file))
    assert.are.same({"panel.png"}, entries(dir))
  end)
end)
