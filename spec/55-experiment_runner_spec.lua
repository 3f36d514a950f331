-- 55-experiment_runner: ntklab.experiment runs an experiment module in-process and through
-- `ntklab run`: config.json before the run's files, summary.json last with the timing split and
-- the machine, the previous summary and dead writers' temporary files removed at the start, a
-- failing run leaves no summary, options checked as declared (choices, ranges, did you mean),
-- and trainer:run reports progress to the same reporter.
local ntklab = require "ntklab"
local experiment = require "ntklab.experiment"
local output = require "ntklab.output"
local lfs = require "lfs"

local files = require "spec.support.files"
local q, host = files.q, files.host

local function exists(path) return lfs.attributes(path, "mode") ~= nil end

-- A small experiment that looks at its directory while it runs.
local function toy(seen)
  return {
    name = "toy", summary = "a toy experiment for the runner's spec",
    options = {
      {name = "n", type = "integer", default = 3, min = 1, max = 100, help = "rows"},
      {name = "mode", type = "choice", choices = {"ok", "fail", "raise", "nothing"}, default = "ok"},
      {name = "scale", type = "number", default = 1, min = 0},
    },
    run = function(cfg, ctx)
      seen.config_first = exists(ctx.out .. "/config.json")
      seen.no_summary = not exists(ctx.out .. "/summary.json")
      seen.cfg = cfg
      local rows = {}
      local p = ctx.progress{total = cfg.n, mode = "off"}
      for i = 1, cfg.n do rows[i] = {i, i * cfg.scale}; p:update(i) end
      p:finish()
      ctx.write_csv("rows.csv", {"i", "value"}, rows)
      ctx.timer:lap("compute")
      if cfg.mode == "fail" then ctx.fail("the toy failed on purpose") end
      if cfg.mode == "raise" then error("toy: an error deep inside") end
      if cfg.mode == "nothing" then return nil end
      return {total_value = cfg.n * (cfg.n + 1) / 2 * cfg.scale, ok = true}
    end,
    verdict = function(s) return "fine", string.format("sum %g", s.total_value) end,
  }
end

describe("experiment.run", function()
  local dir
  before_each(function() dir = files.scratch_dir() end)
  after_each(function() files.remove_tree(dir) end)

  it("writes config.json first and summary.json last, with timing, machine and files", function()
    local seen = {}
    local s, out = experiment.run(toy(seen), {n = 4, scale = 2, out = dir .. "/run"})
    assert.is_table(s, out)
    assert.are.equal(dir .. "/run", out)
    assert.is_true(seen.config_first)
    assert.is_true(seen.no_summary)
    assert.are.equal(20, s.total_value)
    local back = assert(output.read_json(out .. "/summary.json"))
    assert.are.equal(20, back.total_value)
    assert.are.equal("toy", back.experiment)
    assert.are.equal(4, back.config.n)
    assert.are.equal("ok", back.config.mode) -- defaults filled in
    for _, k in ipairs{"total", "run", "runner", "files", "compute"} do
      assert.is_number(back.seconds[k], k)
    end
    assert.are.equal(ntklab.threads(), back.machine.threads)
    assert.is_string(back.machine.blas)
    assert.are.equal(out .. "/rows.csv", back.files.rows)
    assert.are.equal("fine", back.verdict_text)
    assert.are.equal("sum 20", back.verdict_reason)
    local config = assert(output.read_json(out .. "/config.json"))
    assert.are.equal("toy", config.experiment)
    assert.are.equal(2, config.config.scale)
    assert.are.same({"config.json", "rows.csv", "summary.json"}, files.entries(out))
  end)

  it("a failing run returns nil, msg and leaves no summary, not even the previous one", function()
    local seen = {}
    assert(experiment.run(toy(seen), {out = dir}))
    assert.is_true(exists(dir .. "/summary.json"))
    assert.is_false(exists(dir .. "/failure.json"))
    for mode, msg in pairs{fail = "the toy failed on purpose", raise = "toy: an error deep inside",
                           nothing = "toy: run must return the summary table, returned nil"} do
      local none, err = experiment.run(toy(seen), {out = dir, mode = mode})
      assert.is_nil(none)
      assert.are.equal(msg, err)
      assert.is_false(exists(dir .. "/summary.json"), mode)
      assert.are.equal(msg, assert(output.read_json(dir .. "/failure.json")).error)
    end
    -- the next successful run removes the failure note
    assert(experiment.run(toy(seen), {out = dir}))
    assert.is_false(exists(dir .. "/failure.json"))
  end)

  it("removes temporary files that dead writers left, and keeps those of live ones", function()
    local seen = {}
    assert(output.mkdir_p(dir))
    local dead = dir .. "/rows.csv.tmp.999999999.3"
    local dead_png = dir .. "/plot.png.tmp.999999998.1.png"
    local live = dir .. "/rows.csv.tmp.1.1" -- pid 1 is alive
    for _, p in ipairs{dead, dead_png, live} do assert(output.write_atomic(p, "x")) end
    assert(experiment.run(toy(seen), {out = dir}))
    assert.is_false(exists(dead))
    assert.is_false(exists(dead_png))
    assert.is_true(exists(live))
  end)

  it("checks the configuration as the command line does", function()
    local m = toy({})
    for _, case in ipairs{
      {{n = 0}, "bad argument #2 to 'experiment.run' (option '--n' must be >= 1, got 0)"},
      {{n = 1000}, "option '--n' must be <= 100, got 1000"},
      {{n = 2.5}, "option 'n': integer expected, got number"},
      {{mode = "fial"}, "option '--mode' expects one of ok, fail, raise, nothing, got 'fial' (did you mean fail?)"},
      {{scael = 2}, "unknown option 'scael' for toy (did you mean 'scale'?)"},
      {{out = "/"}, "option 'out': a directory of the run's own expected, got '/' (the root directory)"},
    } do
      local ok, err = pcall(experiment.run, m, case[1])
      assert.is_false(ok)
      assert.is_truthy(err:find(case[2], 1, true), err)
    end
    local ok, err = pcall(experiment.run, {name = "x"}, {})
    assert.is_false(ok)
    assert.is_truthy(err:find("module.run: function expected, got nil", 1, true), err)
    ok, err = pcall(experiment.run, {name = "x", run = print, options = {{name = "out", type = "string"}}})
    assert.is_false(ok)
    assert.is_truthy(err:find("'out' is the runner's option", 1, true), err)
  end)

  it("runs a real experiment in-process with the numbers of its command line", function()
    local script = files.source_dir .. "/experiments/linear_two_layer.lua"
    local args = "--sigma 1e-2 --records 40 --quiet"
    local s = assert(experiment.run(script, {sigma = 1e-2, records = 40, quiet = true, out = dir .. "/a"}))
    local p = io.popen(q(host) .. " run " .. q(script) .. " " .. args .. " --out " .. q(dir .. "/b") .. " 2>&1")
    local text = p:read("a")
    local _, _, code = p:close()
    assert.are.equal(0, code, text)
    local b = assert(output.read_json(dir .. "/b/summary.json"))
    assert.are.equal(b.max_q_err_over_s, s.max_q_err_over_s)
    assert.are.equal(b.runs[1].t_half, s.runs[1].t_half)
  end)
end)

describe("ntklab run", function()
  local function run(args)
    local p = io.popen(q(host) .. " run " .. args .. " 2>&1")
    local out = p:read("a")
    local _, _, code = p:close()
    return out, code
  end
  local script = files.source_dir .. "/experiments/linear_two_layer.lua"

  it("prints the report and the verdict with its reason", function()
    local dir = files.scratch_dir()
    local out, code = run(q(script) .. " --sigma 1e-3 --records 40 --out " .. q(dir))
    assert.are.equal(0, code, out)
    assert.matches("\nlinear_two_layer: q%(t%), r%(t%) match the theory %(max |q %- q_theory|/s, "
      .. "|r %- r_theory|/s over sigma <= 1e%-2: [%d.e-]+, <= 1e%-3; t_1/2 offset spread 0 over a formula "
      .. "range of 0%) in [%d.]+ s %-> " .. dir:gsub("%p", "%%%0") .. "/summary.json\n$", out)
    files.remove_tree(dir)
  end)

  it("generates --help from the declarations and refuses bad command lines with status 2", function()
    local out, code = run(q(script) .. " --help")
    assert.are.equal(0, code)
    assert.matches("^usage: ntklab run .*linear_two_layer.lua %[options%]\n", out)
    assert.is_truthy(out:find("--dataset synthetic|mnist", 1, true), out)
    assert.is_truthy(out:find("--records INTEGER", 1, true), out)
    assert.is_truthy(out:find("(default 200, 2 to 100000)", 1, true), out)
    assert.is_truthy(out:find("--threads INTEGER", 1, true), out)
    assert.is_truthy(out:gsub("%s+", " "):find("(default results/linear_two_layer)", 1, true), out)
    out, code = run(q(script) .. " --dataset mnsit")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("option '--dataset' expects one of synthetic, mnist, got 'mnsit' (did you mean mnist?)", 1, true), out)
    out, code = run(q(files.source_dir .. "/no-such-experiment.lua"))
    assert.are.equal(2, code)
    assert.is_truthy(out:find("cannot open", 1, true), out)
    out, code = run("")
    assert.are.equal(2, code)
    assert.matches("^usage: ntklab run EXPERIMENT.lua", out)
  end)
end)

describe("trainer:run with a progress reporter", function()
  it("updates the reporter at every observation and at the end", function()
    local rng = ntklab.rng(1)
    local X, Y = rng:normal(20, 3), rng:normal(20, 1)
    local net = ntklab.mlp{widths = {3, 4, 1}, seed = 1}
    local calls = {}
    local reporter = {update = function(_, done, extra) calls[#calls + 1] = {done, extra.t, extra.loss} end,
                      finish = function() calls.finished = true end}
    local observed = 0
    local gd = ntklab.train.gd{lr = 0.1}
    local loss = gd:run(net, X, Y, {t = 2, observe = {0.5, 1}, progress = reporter,
      observer = function() observed = observed + 1 end})
    assert.are.equal(2, observed)
    assert.are.equal(3, #calls)
    assert.are.same({0.5, 1}, {calls[1][1], calls[2][1]})
    assert.are.equal(2, calls[3][1])
    assert.are.equal(loss, calls[3][3])
    assert.is_true(calls.finished)
    local ok, err = pcall(gd.run, gd, net, X, Y, {t = 1, progress = 3})
    assert.is_false(ok)
    assert.is_truthy(err:find("bad argument #4 to 'run' (option 'progress': a reporter", 1, true), err)
  end)
end)
