-- 51-silent_alignment_experiment: experiments/silent_alignment.lua on a tiny teacher problem
-- writes every promised file, parseable and complete; a run killed mid-way leaves the previous
-- summary intact and no temporary files; bad command lines are refused with exit status 2.
local output = require "ntklab.output"
local analysis = require "ntklab.analysis"
local lfs = require "lfs"

local files = require "spec.support.files"
local host = files.host
local script = files.source_dir .. "/experiments/silent_alignment.lua"

local q = files.q

local function run(args) return files.sh(q(host) .. " run " .. q(script) .. " " .. args) end

local scratch_dir, entries, remove_tree = files.scratch_dir, files.entries, files.remove_tree

local function read_csv(path)
  local f = assert(io.open(path))
  local header = {}
  for c in f:read("l"):gmatch("[^,]+") do header[#header + 1] = c end
  local rows = {}
  for line in f:lines() do
    local row = {}
    for c in (line .. ","):gmatch("([^,]*),") do row[#row + 1] = c end
    rows[#rows + 1] = row
  end
  f:close()
  return header, rows
end

local TINY = "--dataset teacher --P 40 --dim 8 --test 12 --width 16 --records 30 --t-max 200 --quiet"

local function complete(s)
  for _, path in ipairs{
    {"config"}, {"data", "source"}, {"data", "P"}, {"data", "D"}, {"data", "rank"},
    {"final", "train_loss"}, {"final", "test_error"},
    {"alignment", "initial"}, {"alignment", "final"}, {"alignment", "centered_final"},
    {"times", "align90"}, {"times", "kernel10"}, {"times", "half_loss"}, {"times", "dir90"},
    {"informative", "align90"}, {"informative", "dir90"}, {"informative", "reasons", "align90"},
    {"direction", "initial", "total"}, {"direction", "at_kernel10", "layers", 1},
    {"direction", "at_kernel10", "learned"}, {"direction", "at_dir90", "total"},
    {"early_kernel", "rows"}, {"early_kernel", "at_dir90", "rel_err"},
    {"early_kernel", "at_kernel10", "rel_err"}, {"early_kernel", "at_kernel10", "test_direction"},
    {"verdict", "rule"}, {"verdict", "timing"},
    {"predictors", "final_ntk", "corr"}, {"predictors", "final_ntk", "rel_err"},
    {"predictors", "initial_ntk", "corr"}, {"predictors", "initial_ntk", "rel_err"},
    {"predictors", "path_kernel", "corr"}, {"predictors", "path_kernel", "rel_err"},
    {"silent_alignment"}} do
    local v = s
    for _, k in ipairs(path) do
      assert(type(v) == "table", table.concat(path, ".") .. " missing")
      v = v[k]
    end
    assert(v ~= nil, table.concat(path, ".") .. " missing")
  end
  assert.is_boolean(s.silent_alignment)
end

describe("experiments/silent_alignment.lua", function()
  it("writes summary, CSVs and plots that read back complete", function()
    local dir = scratch_dir()
    local out, code = run(TINY .. " --out " .. q(dir))
    assert.are.equal(0, code, out)
    local s = assert(output.read_json(dir .. "/summary.json"))
    complete(s)
    assert.are.equal(40, s.data.P)
    assert.are.equal(8, s.data.D)
    assert.are.equal(8, s.data.rank)
    assert.are.equal("teacher", s.config.dataset)
    local header, rows = read_csv(dir .. "/trajectory.csv")
    assert.are.equal(s.records, #rows)
    for _, c in ipairs{"t", "step", "loss", "test_loss", "kernel_norm", "alignment",
      "alignment_centered", "kernel_distance", "layer1_norm", "weight_alignment", "direction",
      "direction_learned", "layer1_direction", "layer2_direction_learned"} do
      local found = false
      for _, h in ipairs(header) do found = found or h == c end
      assert.is_true(found, "trajectory column " .. c)
    end
    for _, r in ipairs(rows) do assert.are.equal(#header, #r) end
    -- the last record's loss and the summary's agree
    local loss_col
    for i, h in ipairs(header) do if h == "loss" then loss_col = i end end
    assert.are.equal(s.final.train_loss, tonumber(rows[#rows][loss_col]))
    header, rows = read_csv(dir .. "/predictions.csv")
    assert.are.same({"index", "label", "target", "net", "final_ntk", "initial_ntk", "net_init", "net_completed", "path_kernel"}, header)
    assert.are.equal(12, #rows)
    for _, p in ipairs(s.files.plots) do
      assert.is_true((lfs.attributes(p, "size") or 0) > 1000, p)
    end
    assert.are.equal(4, #s.files.plots)
    -- the verdict times the direction (issue 19), and its numbers are the summary's
    assert.are.equal("direction", s.verdict.timing)
    assert.matches("^t_dir90 < t_kernel10", s.verdict.rule)
    assert.are.equal(s.times.dir90, s.verdict.t_dir90)
    -- the early-kernel predictor: the initial NTK at the first record, the final at the last
    local rows_e = s.early_kernel.rows
    assert.is_true(math.abs(rows_e[1].rel_err - s.predictors.initial_ntk.rel_err) < 1e-8)
    assert.is_true(math.abs(rows_e[#rows_e].rel_err - s.predictors.final_ntk.rel_err) < 1e-8)
    assert.is_true(s.early_kernel.at_dir90.t >= s.times.dir90)
    -- c(0) = cos(K(0), K_end) is 1 - the recorder's kernel_distance at the last record (its
    -- kernels, computed during training; the direction's are recomputed after it)
    local th, tr_rows = read_csv(dir .. "/trajectory.csv")
    local kd
    for i, h in ipairs(th) do if h == "kernel_distance" then kd = tonumber(tr_rows[#tr_rows][i]) end end
    assert.is_true(math.abs(s.direction.initial.total - (1 - kd)) < 1e-9, tostring(kd))
    -- nothing but the promised files (each plot as a PNG and an SVG beside it)
    assert.are.same({"alignment.png", "alignment.svg", "config.json", "early_kernel.png", "early_kernel.svg",
      "predictions.csv", "predictions.png", "predictions.svg", "summary.json", "trajectory.csv", "trajectory.png",
      "trajectory.svg"}, entries(dir))
    remove_tree(dir)
  end)

  -- A net stopped at a loose --stop-loss still moves in its final kernel's small
  -- eigendirections; continued to t = infinity under that kernel (f + k^T K^+ r) it is close to
  -- the net trained on much further when the kernel has stopped moving. Hence sigma 1 and width
  -- 64 here, where it has: completed 0.0137 from the far net against 0.205 as stopped. At TINY's
  -- sigma 0.1, width 16 the kernel still moves after the loose stop, and the completion only
  -- halves the gap (0.139 against 0.287): it is the t = infinity limit of the final kernel, not
  -- of the net.
  it("the completed net at a loose stop is the net trained on much further; summary and CSV agree", function()
    local function predictions(dir)
      local _, cols = assert(output.read_csv(dir .. "/predictions.csv"))
      return cols
    end
    local function rel(a, b) return analysis.compare(a, b).rel_err end
    local loose_dir, far_dir = scratch_dir(), scratch_dir()
    local base = TINY:gsub("%-%-t%-max 200", "--t-max 100000") .. " --no-path-kernel --sigma 1 --width 64"
    local out, code = run(base .. " --stop-loss 1e-2 --out " .. q(loose_dir))
    assert.are.equal(0, code, out)
    out, code = run(base .. " --stop-loss 1e-8 --out " .. q(far_dir))
    assert.are.equal(0, code, out)
    local loose = assert(output.read_json(loose_dir .. "/summary.json"))
    local far = assert(output.read_json(far_dir .. "/summary.json"))
    local pl, pf = predictions(loose_dir), predictions(far_dir)
    -- the summary's numbers are the CSV's columns (printed with 17 digits)
    local p = loose.predictors
    assert.is_true(math.abs(rel(pl.final_ntk, pl.net_completed) - p.final_ntk.rel_err_completed) < 1e-12)
    assert.is_true(math.abs(rel(pl.initial_ntk, pl.net_completed) - p.initial_ntk.rel_err_completed) < 1e-12)
    assert.is_true(math.abs(rel(pl.net, pl.net_completed) - p.completion_rel_change) < 1e-12)
    -- the loose net is measurably short of the far one; completed, it is within a tenth of that
    local raw, done = rel(pl.net, pf.net), rel(pl.net_completed, pf.net)
    assert.is_true(raw > 1e-3, "raw gap " .. raw)
    assert.is_true(done < 0.1 * raw, ("completed %.3g, raw %.3g"):format(done, raw))
    assert.is_true(far.predictors.completion_rel_change < 0.1 * p.completion_rel_change)
    remove_tree(loose_dir)
    remove_tree(far_dir)
  end)

  -- A long run asked to finish (kill -USR1) stops training at its next record and analyses
  -- what it has: exit status 0, a complete summary that says so. Unasked, this run trains for
  -- ~18 s and then fails (rk45's step budget runs out long before t = 1e9).
  it("SIGUSR1 finishes the training at the next record and writes a complete summary", function()
    local dir = scratch_dir()
    local args = TINY:gsub("%-%-t%-max 200", "--t-max 1e9"):gsub("%-%-records 30", "--records 200")
      .. " --stop-loss 1e-300 --no-path-kernel --out " .. q(dir)
    local script = table.concat({
      q(host) .. " run " .. q(script) .. " " .. args:gsub("%-%-quiet", "") .. " > " .. q(dir .. ".log") .. " 2>&1 &",
      "pid=$!",
      "n=0; while [ ! -e " .. q(dir .. "/config.json") .. " ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done",
      "sleep 0.5; kill -USR1 $pid; sleep 0.1; kill -USR1 $pid", -- a second request must not kill it
      "wait $pid; echo \"status=$?\"",
    }, "\n")
    local out = files.sh("sh -c " .. q(script))
    local log = assert(io.open(dir .. ".log")):read("a")
    os.remove(dir .. ".log")
    assert.truthy(out:find("status=0", 1, true), out .. log)
    assert.truthy(log:find("finish requested (SIGUSR1): training stops at its next record", 1, true), log)
    assert.truthy(log:find("finished early on request", 1, true), log)
    local s = assert(output.read_json(dir .. "/summary.json"))
    assert.is_number(s.predictors.final_ntk.rel_err_completed)
    assert.is_boolean(s.silent_alignment)
    assert.is_true(s.finished_on_request)
    assert.is_false(s.final.reached_stop_loss)
    assert.is_true(s.final.t < 1e9 and s.records < 200)
    remove_tree(dir)
  end)

  it("the path-kernel predictor beats the final NTK, converges with denser snapshots, and can be off", function()
    local dir = scratch_dir()
    local function path_run(args)
      local out, code = run(TINY .. " --no-plots --out " .. q(dir) .. " " .. args)
      assert.are.equal(0, code, out)
      return assert(output.read_json(dir .. "/summary.json")).predictors
    end
    -- measured on this problem: final NTK rel err 0.125; path kernel 0.042 with every 4th
    -- record, 0.0136 with every record. Margins of 2.5x and 2x leave room for other BLAS/libm.
    local sparse, dense = path_run("--path-every 4"), path_run("--path-every 1")
    assert.is_true(dense.path_kernel.rel_err < sparse.path_kernel.rel_err / 2)
    assert.is_true(sparse.path_kernel.rel_err < dense.final_ntk.rel_err / 2.5)
    assert.is_true(dense.path_kernel.snapshots > sparse.path_kernel.snapshots)
    -- With a smooth activation K(t) is smooth and linear interpolation converges as dt^2:
    -- 4x denser records cut the error 16.5x (measured, tanh, rtol 1e-6: 4.2e-3 -> 2.5e-4).
    -- ReLU's NTK jumps where a pre-activation crosses 0, which leaves first order (above, 3x).
    local smooth = "--activation tanh --rtol 1e-6 --path-every 1 --records "
    local coarse, fine = path_run(smooth .. "30"), path_run(smooth .. "120")
    assert.is_true(fine.path_kernel.rel_err < coarse.path_kernel.rel_err / 8,
      ("%g then %g"):format(coarse.path_kernel.rel_err, fine.path_kernel.rel_err))
    local off = path_run("--no-path-kernel")
    assert.is_nil(off.path_kernel)
    local header = read_csv(dir .. "/predictions.csv")
    assert.are.same({"index", "label", "target", "net", "final_ntk", "initial_ntk", "net_init", "net_completed"}, header)
    remove_tree(dir)
  end)

  it("a run into a used --out removes the old summary first: killed mid-way it leaves none, and no temporary files", function()
    local dir = scratch_dir()
    local out, code = run(TINY .. " --no-plots --out " .. q(dir))
    assert.are.equal(0, code, out)
    -- a long run (no early stop, many records) into the same directory, killed after 1 s
    local p = io.popen("sh -c " .. q(q(host) .. " run " .. q(script) .. " --dataset teacher --P 300 "
      .. "--dim 20 --records 400 --t-max 10000 --stop-loss 1e-300 --quiet --out " .. q(dir)
      .. " >/dev/null 2>&1 & echo $!"))
    local pid = p:read("l")
    p:close()
    os.execute("sleep 1")
    local killed = os.execute("kill -9 " .. pid .. " 2>/dev/null")
    assert.is_true(killed == true, "the long run ended within 1 s: it cannot test an interruption")
    os.execute("sleep 0.2")
    -- the old summary would describe files the killed run has since replaced (issue 11, B3)
    assert.is_nil(io.open(dir .. "/summary.json"))
    assert.is_truthy(io.open(dir .. "/config.json"))
    -- a leftover temporary file of a dead writer, as a kill during a write leaves one
    local stale = dir .. "/trajectory.csv.tmp.999999999.1"
    assert(output.write_atomic(stale, "partial"))
    out, code = run(TINY .. " --no-plots --out " .. q(dir))
    assert.are.equal(0, code, out)
    complete(assert(output.read_json(dir .. "/summary.json")))
    for _, name in ipairs(entries(dir)) do
      assert.is_nil(name:find("%.tmp%."), "temporary file left: " .. name)
    end
    remove_tree(dir)
  end)

  it("reports divergence as the run's failure before any predictor runs, with the path kernel on (B4)", function()
    local dir = scratch_dir()
    for _, extra in ipairs{"--path-kernel", "--no-path-kernel"} do
      local out, code = run(TINY .. " --trainer gd --lr 5 " .. extra .. " --out " .. q(dir))
      assert.are.equal(1, code, out)
      -- the trainer's report: "non-finite loss (inf) at step 9, t = 40, ..." or, with a growth
      -- bound, "diverged at step 6, t = 25: loss ... exceeds ..."; either names the step and t
      assert.matches("^silent_alignment: failed: [^\n]*step %d+, t = [%d.e+-]+", out)
      assert.is_nil(out:find("path_kernel_predictor", 1, true), out)
      assert.is_nil(io.open(dir .. "/summary.json"))
      assert.is_nil(io.open(dir .. "/predictions.csv"))
    end
    remove_tree(dir)
  end)

  it("takes a relative --out from the caller's working directory and refuses --out / (B12, B13)", function()
    local dir = scratch_dir()
    local abs_script = files.absolute(script)
    local p = io.popen("cd " .. q(dir) .. " && " .. q(files.absolute(host)) .. " run " .. q(abs_script) .. " "
      .. TINY .. " --no-plots --out rel 2>&1")
    local out = p:read("a")
    local _, _, code = p:close()
    assert.are.equal(0, code, out)
    local s = assert(output.read_json(dir .. "/rel/summary.json"))
    assert.are.equal(dir .. "/rel/trajectory.csv", s.files.trajectory)
    out, code = run(TINY .. " --out /")
    assert.are.equal(2, code, out)
    assert.are.equal("silent_alignment: option 'out': a directory of the run's own expected, got '/' (the root directory)\n", out)
    out, code = run(TINY .. " --out /./")
    assert.are.equal(2, code, out)
    remove_tree(dir)
  end)

  it("caps its count options with an early error that names the cap (B7)", function()
    local out, code = run("--records 100000000000")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("option '--records' must be <= 100000, got 100000000000", 1, true), out)
    out, code = run("--P 1000000")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("option '--P' must be <= 20000", 1, true), out)
    out = run("--help")
    assert.is_truthy(out:find("(default 100, 2 to 100000)", 1, true), out)
  end)

  it("refuses bad command lines with exit status 2 and prints --help", function()
    local out, code = run("--sigma abc")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("option '--sigma' expects a number", 1, true))
    out, code = run("--dataset imagenet")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("expects one of mnist, fashion_mnist, cifar10, teacher", 1, true))
    out, code = run("--dataset fashion-mnist")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("(did you mean fashion_mnist?)", 1, true), out)
    out, code = run("--sigmaa 1")
    assert.are.equal(2, code)
    assert.is_truthy(out:find("unknown option '--sigmaa' (did you mean --sigma?)", 1, true), out)
    out, code = run("--help")
    assert.are.equal(0, code)
    for _, o in ipairs{"--sigma", "--width", "--depth", "--activation", "--P", "--trainer", "--lr",
      "--dataset", "--gamma", "--cutoff", "--seed", "--out", "--quiet"} do
      assert.is_truthy(out:find(o, 1, true), o)
    end
  end)

  it("reports a dataset that is not there as a failure of the world (exit 1)", function()
    local dir = scratch_dir()
    local out, code = run("--dataset cifar10 --quiet --out " .. q(dir))
    assert.are.equal(1, code)
    assert.is_truthy(out:find("silent_alignment: failed:", 1, true))
    assert.is_nil(io.open(dir .. "/summary.json"))
    remove_tree(dir)
  end)
end)

describe("experiments/panels/silent_alignment.lua", function()
  local panels = dofile(files.source_dir .. "/experiments/panels/silent_alignment.lua")
  local traj = {t = {0, 1}, alignment = {0.1, 0.9}, kernel_norm = {0.1, 1}, loss = {1, 0.1}}
  for _, case in ipairs{
    {function() panels.plot_trajectory("p.png", {t = {1, 2}, loss = {1, 2}, alignment = {1}}) end, "bad argument #2 to 'panels.plot_trajectory' (trajectory field 'alignment' has 1 records, t has 2)"},
    {function() panels.plot_trajectory("p.png", {t = {1}, loss = {1}, alignment = {1}}) end, "bad argument #2 to 'panels.plot_trajectory' (trajectory field 'kernel_norm': kernel_norm expected (table or tensor), got nil)"},
    {function() panels.plot_trajectory("p.png", traj, 5) end, "bad argument #3 to 'panels.plot_trajectory' (table expected, got number)"},
    {function() panels.plot_trajectory(nil, traj) end, "bad argument #1 to 'panels.plot_trajectory' (string expected, got nil)"},
    {function() panels.plot_predictions("p.png", {1, 2}, {}) end, "bad argument #3 to 'panels.plot_predictions' (non-empty array of {y =, title =} expected)"},
    {function() panels.plot_predictions("p.png", {1, 2}, {{y = {1}}}) end, "bad argument #3 to 'panels.plot_predictions' (predictor 1 has 1 predictions, the net 2)"},
    {function() panels.plot_predictions("p.png", nil, {{y = {1}}}) end, "bad argument #2 to 'panels.plot_predictions' (net predictions expected (table or tensor), got nil)"},
  } do
    it("rejects bad input: " .. case[2], function()
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(case[2], 1, true), tostring(err))
      -- blamed on the caller, not on the panel module
      assert.matches("51%-silent_alignment_experiment_spec%.lua:%d+: bad argument", err)
    end)
  end
end)
