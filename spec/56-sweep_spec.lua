-- 56-sweep: `ntklab sweep` expands a 2 x 2 grid x 2 seeds of experiments/linear_two_layer.lua
-- into 8 runs and gives the same merged table (runs.csv) run locally with 2 workers, through the
-- emitted GNU parallel job list with the real `parallel`, and through the emitted Slurm array
-- script with SLURM_ARRAY_TASK_ID set for each task in turn. Reruns skip finished runs; a
-- failed run keeps its log, has no summary and counts in the exit status.
local output = require "ntklab.output"
local sweep = require "ntklab.sweep"
local lfs = require "lfs"

local files = require "spec.support.files"
local q, host = files.q, files.host
local script = files.absolute(files.source_dir .. "/experiments/linear_two_layer.lua")

-- 2 x 2 x 2 = 8 short runs (a few hundred ms each)
local GRID = "--grid sigma=1e-3,1e-2 --grid s=1,2 --seeds 1-2 --records 30 --P 60"

local fmt = string.format

local sh = files.sh

local function sweep_cmd(args) return q(host) .. " sweep " .. q(script) .. " " .. args end

local function have(tool)
  local _, code = sh("command -v " .. tool)
  return code == 0
end

-- The merged table of dir, after `ntklab sweep merge dir`.
local function merged(dir)
  local out, code = sh(q(host) .. " sweep merge " .. q(dir))
  assert.are.equal(0, code, out)
  return files.slurp(dir .. "/runs.csv"), assert(output.read_json(dir .. "/runs.json"))
end

describe("ntklab sweep", function()
  local base, reference
  setup(function() base = files.scratch_dir() end)
  teardown(function() files.remove_tree(base) end)

  it("runs a 2 x 2 grid x 2 seeds locally with 2 workers and merges one row per run", function()
    local dir = base .. "/local"
    local out, code = sh(sweep_cmd(GRID .. " --jobs 2 --threads 1 --out " .. q(dir)))
    assert.are.equal(0, code, out)
    assert.matches("8 runs of linear_two_layer, 2 at a time, 1 BLAS thread each", out)
    assert.matches("8 done, 0 failed, 0 skipped", out)
    local text, runs = merged(dir)
    reference = text
    assert.are.equal(8, #runs.runs)
    local header = text:match("^[^\n]+")
    assert.are.equal("run,status,sigma,s,seed,max_q_err_over_s,max_r_err_over_s,qr_within_1e3_s,runs.1.t_half,"
      .. "runs.1.t_half_formula", header)
    local seen = {}
    for _, r in ipairs(runs.runs) do
      assert.are.equal("done", r.status)
      assert.is_number(r["runs.1.t_half"])
      -- each row's numbers are its own run's summary
      local s = assert(output.read_json(dir .. "/" .. r.run .. "/summary.json"))
      assert.are.equal(s.max_q_err_over_s, r.max_q_err_over_s)
      assert.are.equal(r.sigma, s.config.sigma)
      assert.are.equal(r.seed, s.config.seed)
      assert.are.equal(r.s, s.config.s)
      seen[r.run] = true
    end
    assert.is_true(seen["sigma=1e-3,s=2,seed=1"])
    assert.is_true(seen["sigma=1e-2,s=1,seed=2"])
  end)

  it("reruns only the runs without a summary", function()
    local dir = base .. "/local"
    local victim = dir .. "/sigma=1e-2,s=2,seed=1"
    local keep = dir .. "/sigma=1e-3,s=1,seed=1/summary.json"
    local before = lfs.attributes(keep, "modification")
    local before_text = files.slurp(keep)
    os.remove(victim .. "/summary.json")
    local out, code = sh(sweep_cmd(GRID .. " --jobs 2 --threads 1 --out " .. q(dir)))
    assert.are.equal(0, code, out)
    assert.matches("1 done, 0 failed, 7 skipped", out)
    assert.are.equal(before, lfs.attributes(keep, "modification"))
    assert.are.equal(before_text, files.slurp(keep))
    assert.are.equal(reference, (merged(dir)))
  end)

  it("gives the same table through the GNU parallel job list", function()
    if not have("parallel") then pending("GNU parallel is not installed (scripts/setup installs it)") return end
    local dir = base .. "/parallel"
    local out, code = sh(sweep_cmd(GRID .. " --emit parallel --out " .. q(dir)))
    assert.are.equal(0, code, out)
    assert.matches("8 runs %-> .*/jobs.txt", out)
    assert.matches("parallel %-%-jobs %d+ %-%-joblog .*/joblog %-%-resume < .*/jobs.txt", out)
    -- nothing has run yet
    assert.is_nil(io.open(dir .. "/sigma=1e-3,s=1,seed=1/summary.json"))
    out, code = sh("parallel --will-cite --jobs 2 --joblog " .. q(dir .. "/joblog") .. " --resume < "
      .. q(dir .. "/jobs.txt"))
    assert.are.equal(0, code, out)
    assert.are.equal(reference, (merged(dir)))
    -- --resume: a second pass runs nothing (the joblog has every line)
    out, code = sh("parallel --will-cite --jobs 2 --joblog " .. q(dir .. "/joblog") .. " --resume < "
      .. q(dir .. "/jobs.txt"))
    assert.are.equal(0, code, out)
    local joblog = files.slurp(dir .. "/joblog")
    local _, lines = joblog:gsub("\n", "")
    assert.are.equal(9, lines) -- header and 8 jobs, not 16
  end)

  it("gives the same table through the Slurm array script, task by task", function()
    local dir = base .. "/slurm"
    local out, code = sh(sweep_cmd(GRID .. " --emit slurm --threads 1 --out " .. q(dir)))
    assert.are.equal(0, code, out)
    local sbatch = dir .. "/sweep.sbatch"
    local text = files.slurp(sbatch)
    assert.matches("#SBATCH %-%-array=1%-8\n", text)
    assert.matches("#SBATCH %-%-cpus%-per%-task=1\n", text)
    for task = 1, 8 do
      out, code = sh("SLURM_ARRAY_TASK_ID=" .. task .. " bash " .. q(sbatch))
      assert.are.equal(0, code, out)
    end
    out, code = sh("SLURM_ARRAY_TASK_ID=9 bash " .. q(sbatch))
    assert.are_not.equal(0, code)
    assert.matches("no run number 9", out)
    assert.are.equal(reference, (merged(dir)))
  end)

  it("counts failed runs in its exit status; a failed run keeps its log and has no summary", function()
    local dir = base .. "/failing"
    -- gd at lr 1e3 diverges at once: a non-finite loss is the run's failure
    local toy = base .. "/toy.lua"
    assert(output.write_atomic(toy, [[
return {name = "toy", summary = "fails for x = 2", options = {{name = "x", type = "integer", default = 1}},
  run = function(cfg, ctx)
    if cfg.x == 2 then ctx.fail("x = 2 is the failing case") end
    return {x = cfg.x, square = cfg.x * cfg.x}
  end}
]]))
    local out, code = sh(q(host) .. " sweep " .. q(toy) .. " --grid x=1,2,3 --jobs 2 --threads 1 --out " .. q(dir))
    assert.are.equal(1, code, out)
    assert.matches("FAILED x=2 %(exit 1; log: .*/x=2/run.log%)", out)
    assert.matches("1 of 3 runs failed", out)
    assert.is_nil(io.open(dir .. "/x=2/summary.json"))
    assert.matches("x = 2 is the failing case", files.slurp(dir .. "/x=2/run.log"))
    local _, runs = merged(dir)
    local status = {}
    for _, r in ipairs(runs.runs) do status[r.x] = r.status end
    assert.are.same({"done", "failed", "done"}, status)
    assert.are.equal(9, runs.runs[3].square)
    assert.are.equal("x = 2 is the failing case", runs.runs[2].error)
    assert.matches("\nx=2,failed,2,,,x = 2 is the failing case\n", files.slurp(dir .. "/runs.csv"))
    -- a run that started and ended neither way (killed, or still running) is not a failure
    os.remove(dir .. "/x=3/summary.json")
    local text = sh(q(host) .. " sweep merge " .. q(dir))
    assert.matches("3 runs %(1 done, 1 failed, 0 not run, 1 started without an end: running or killed%)", text)
  end)

  it("refuses bad sweeps with status 101 and a message naming the option", function()
    for _, case in ipairs{
      {"--grid sigma=1e-3,abc --jobs 1", "--grid sigma: option '--sigma' expects a number, got 'abc'"},
      {"--grid recrods=10 --jobs 1", "--grid recrods: the experiment has no option 'recrods' (did you mean 'records'?)"},
      {"--grid sigma=1e-3 --seeds 3-1", "--seeds: seed range '3-1' runs backwards"},
      {"--grid sigma=1e-3 --emit slrum", "--emit: parallel or slurm expected, got 'slrum' (did you mean slurm?)"},
      {"--grid sigma=1e-3 --jobs 64 --threads 64", "--jobs 64 x --threads 64 = 4096 BLAS threads on"},
      {"--grid sigma=1e-3 --sigma 1", "--sigma is swept (--grid/--seeds) and fixed at once"},
      {"--grid sigma=1e-3 --records 1", "option '--records' must be >= 2, got 1"},
      {"--grid sigma=1e-3 --out /", "--out: a directory of the sweep's own expected, got '/'"},
      {"--grid sigma,s=1e-3:1,1e-2", "--grid sigma,s: 2 values separated by ':' expected in each item, got '1e-2'"},
      {"--grid sigma,s=1e-3:1:2", "--grid sigma,s: 2 values separated by ':' expected in each item, got '1e-3:1:2'"},
      {"--grid sigma,s=1e-3:x", "--grid s: option '--s' expects a number, got 'x'"},
      {"--grid sigma,sigma=1e-3:1e-2", "--grid sigma given twice"},
      {"--grid sigma,s=1e-3:1 --grid s=2", "--grid s given twice"},
    } do
      local out, code = sh(sweep_cmd(case[1]))
      assert.are.equal(101, code, out)
      assert.is_truthy(out:find(case[2], 1, true), out)
    end
    local out, code = sh(q(host) .. " sweep merge " .. q(base .. "/nowhere"))
    assert.are.equal(1, code)
    assert.matches("is not a sweep directory", out)
  end)

  it("Ctrl-C stops a sweep with status 130 and one line; a rerun keeps the finished run", function()
    if not have("setsid") then pending("setsid (util-linux) is not installed") return end
    local dir, spin = base .. "/interrupted", base .. "/spin.lua"
    -- a run that spins in Lua (where the host's Ctrl-C hook can strike) until interrupted
    local f = assert(io.open(spin, "w"))
    f:write([[return {name = "spin", summary = "spins until interrupted",
      options = {{name = "spin", type = "boolean", default = false, help = "spin"}},
      run = function(cfg)
        local t0 = os.time()
        while cfg.spin and os.time() - t0 < 60 do end
        return {spun = cfg.spin}
      end}]])
    f:close()
    -- Ctrl-C reaches the whole foreground process group: setsid makes one to signal; the shell
    -- ignores INT itself so that it lives to write the status
    local log, rc = base .. "/interrupted.log", base .. "/interrupted.rc"
    assert(os.execute(fmt("setsid sh -c %s >/dev/null 2>&1 &", q(fmt(
      "trap '' INT; echo $$ > %s.pid; %s sweep %s --grid spin=false,true --jobs 1 --threads 1 --out %s > %s 2>&1; echo $? > %s",
      q(rc), q(host), q(spin), q(dir), q(log), q(rc))))))
    -- the file's text, or nil while it does not exist yet (these files only appear)
    local function read(path) return lfs.attributes(path) and files.slurp(path) or nil end
    local function wait_for(pred)
      for _ = 1, 300 do
        if pred() then return true end
        os.execute("sleep 0.1")
      end
      return false
    end
    assert.is_true(wait_for(function() return (read(log) or ""):find("done   spin=false", 1, true) end),
                   "the first run did not finish")
    local pgid = assert(files.slurp(rc .. ".pid")):match("%d+")
    assert(os.execute("bash -c 'kill -INT -- -" .. pgid .. "'"))
    assert.is_true(wait_for(function() return (read(rc) or ""):match("%d+") end), "the sweep did not stop")
    assert.are.equal("130", files.slurp(rc):match("%d+"))
    local text = files.slurp(log)
    assert.is_truthy(text:find("sweep: interrupted (finished runs keep their summary.json", 1, true), text)
    assert.is_nil(text:find("traceback", 1, true), text)
    assert.is_truthy(lfs.attributes(dir .. "/spin=false/summary.json"))
    assert.is_nil(lfs.attributes(dir .. "/spin=true/summary.json"))
  end)

  it("plans runs in-process: names from the parameters, the same command for every backend", function()
    local plan = assert(sweep.plan{module = script, grid = {{"sigma", {"1e-3", "1e-2"}}}, seeds = {1, 2},
      fixed = {"--records", "30"}, out = base .. "/plan", host = host, threads = 1})
    assert.are.equal(4, #plan.runs)
    assert.are.same({"sigma", "seed"}, plan.params)
    assert.are.equal("sigma=1e-3,seed=2", plan.runs[2].name)
    assert.are.same({"--sigma", "1e-3", "--seed", "2", "--records", "30"}, plan.runs[2].args)
    local cmd = sweep.command(plan, plan.runs[2])
    assert.matches("^%[ %-e .*/sigma=1e%-3,seed=2/summary.json %] || OPENBLAS_NUM_THREADS=1 ", cmd)
    assert.matches(" run .*linear_two_layer.lua %-%-sigma 1e%-3 %-%-seed 2 %-%-records 30 %-%-out ", cmd)
    -- paired options: one run per item, not the product (2 items x 2 seeds = 4 runs, not 8)
    local paired = assert(sweep.plan{module = script, grid = {{{"sigma", "s"}, {{"1e-3", "1"}, {"1e-2", "2"}}}},
      seeds = {1, 2}, out = base .. "/paired", host = host, threads = 1})
    assert.are.equal(4, #paired.runs)
    assert.are.same({"sigma", "s", "seed"}, paired.params)
    local names = {}
    for i, r in ipairs(paired.runs) do names[i] = r.name end
    assert.are.same({"sigma=1e-3,s=1,seed=1", "sigma=1e-3,s=1,seed=2", "sigma=1e-2,s=2,seed=1",
      "sigma=1e-2,s=2,seed=2"}, names)
    assert.are.same({"--sigma", "1e-2", "--s", "2", "--seed", "1"}, paired.runs[3].args)
    assert.are.same({sigma = "1e-2", s = "2", seed = "1"}, paired.runs[3].params)
    -- the command line spells the same plan
    local out, code = sh(sweep_cmd("--grid sigma,s=1e-3:1,1e-2:2 --seeds 1-2 --emit parallel --out " ..
      q(base .. "/paired_cli")))
    assert.are.equal(0, code, out)
    local jobs = files.slurp(base .. "/paired_cli/jobs.txt")
    local _, lines = jobs:gsub("\n", "")
    assert.are.equal(4, lines, jobs)
    assert.matches("%-%-sigma 1e%-2 %-%-s 2 %-%-seed 1 ", jobs)
    local none, err = sweep.plan{module = script, grid = {{"seed", {"1"}}}, seeds = {1}, out = base, host = host}
    assert.is_nil(none)
    assert.are.equal("--seeds and --grid seed=... both set the seed", err)
  end)
end)
