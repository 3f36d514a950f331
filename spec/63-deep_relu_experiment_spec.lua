-- 63-deep_relu_experiment: experiments/deep_relu.lua (Appendix E.2) on small settings (P = 40
-- whitened Fashion-MNIST images, 40 test points, width 50, loss down to 1% of its start): the readouts and predictors it
-- reports, against direct computations from the files it writes; the span basis it trains in,
-- against the pixel-basis net it stands for.
local ntklab = require "ntklab"
local curves = require "ntklab.curves"
local analysis = require "ntklab.analysis"
local preprocess = require "ntklab.preprocess"
local image_data = require "ntklab.image_data"
local source = os.getenv("NTKLAB_SOURCE_DIR") or "."
local M = dofile(source .. "/experiments/deep_relu.lua")
local runs = dofile(source .. "/spec/support/experiment_run.lua")

local SMALL = {width = 50, P = 40, test = 40, dataset = "fashion_mnist", cutoff = 1e-2, kernels = true,
  kernel_records = 4, rtol = 1e-3, t_min = 1e-2, t_max = 1e4, per_decade = 5, max_change = 0.1,
  stop_ratio = 1e-2, seed = 1}

local config = runs.config(SMALL)

local have_fashion = runs.have_fashion_mnist()

describe("experiments/deep_relu.lua", function()
  -- through the runner, in-process: options checked as on the command line, files into exp.dir
  local exp = runs.in_scratch(M, setup, teardown)
  local run = exp.run

  it("L = 3: t_1/2 from its loss records, kernel readouts, predictors from its prediction file", function()
    if not have_fashion then pending("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)") return end
    local r = assert(run(config{depth = 3, sigma = 0.1}))
    assert.is_true(r.converged)
    assert.is_truthy(r.dataset:find("Fashion-MNIST classes 0/1", 1, true))
    -- t_1/2 is the crossing of the recorded loss at half its initial value
    local T = assert(ntklab.io.read_csv(exp.dir .. "/loss.csv", {header = true}))
    local t, loss = {}, {}
    for i = 1, T:size(1) do t[i], loss[i] = T:get(i, 1), T:get(i, 2) end
    assert.are.equal(curves.crossing(t, loss, loss[1] / 2), r.t_half)
    assert.are.equal(r.loss_initial, loss[1])
    -- predictors: rel L2 error of each kernel predictor against the net, from predictions.csv
    local Pr = assert(ntklab.io.read_csv(exp.dir .. "/predictions.csv", {header = true}))
    assert.are.equal(40, Pr:size(1))
    local function rel_err(col)
      local num, den = 0, 0
      for i = 1, Pr:size(1) do num, den = num + (Pr:get(i, col) - Pr:get(i, 2)) ^ 2, den + Pr:get(i, 2) ^ 2 end
      return math.sqrt(num / den)
    end
    assert.is_true(math.abs(rel_err(3) - r.final_ntk_rel_err) < 1e-9)
    assert.is_true(math.abs(rel_err(4) - r.initial_ntk_rel_err) < 1e-9)
    -- the trained net is kernel regression with its final NTK far better than with its initial one
    assert.is_true(r.final_ntk_rel_err < r.initial_ntk_rel_err)
    assert.is_true(r.alignment_final > r.alignment_initial)
    assert.is_true(r.kernel_norm_final > 10 * r.kernel_norm_initial)
    assert.is_number(r.t_align90)
    assert.is_number(r.t_kernel10)
    -- the readouts, recomputed from trajectory.csv: the direction c(t), the centered alignment
    local _, cols = assert(ntklab.output.read_csv(exp.dir .. "/trajectory.csv"))
    local function column(name) return assert(cols[name], name) end
    local tk = column("t")
    assert.are.equal(r.kernel_records, #tk)
    local c = column("direction")
    assert.is_true(math.abs(c[#c] - 1) < 1e-12) -- K_end against itself
    assert.is_truthy(cols.layer1_direction and cols["layer" .. 3 .. "_direction_learned"])
    assert.are.equal(analysis.t_dir90{t = tk, direction = c}, r.t_dir90)
    assert.are.equal(analysis.t_align90{t = tk, alignment = column("alignment_centered")}, r.t_align90_centered)
    assert.are.equal(analysis.t_kernel10{t = tk, kernel_norm = column("kernel_norm")}, r.t_kernel10)
    -- c(t_kernel10), linear between the records around t_kernel10
    local j = 2
    while tk[j] < r.t_kernel10 do j = j + 1 end
    local w = (r.t_kernel10 - tk[j - 1]) / (tk[j] - tk[j - 1])
    assert.is_true(math.abs(r.direction_at_kernel10 - (c[j - 1] + w * (c[j] - c[j - 1]))) < 1e-12)
    assert.is_true(math.abs(r.direction_share_at_kernel10 - (r.direction_at_kernel10 - c[1]) / (1 - c[1])) < 1e-12)
    local best = c[1]
    local loss_k = column("loss")
    for i = 1, #c do
      if loss_k[i] < 0.98 * loss_k[1] then break end
      best = math.max(best, c[i])
    end
    assert.are.equal(best, r.direction_silent_max.direction)
    -- the verdict is the direction rule of ntklab.analysis (issue 19), with the predictors
    assert.is_truthy(r.verdict_rule:find("t_dir90 < t_kernel10", 1, true))
    assert.are.equal(r.silent, r.t_dir90 < r.t_kernel10 and r.final_ntk_rel_err <= 0.1 and r.initial_over_final >= 3)
    -- the early-kernel predictor at t_dir90: the first NTK record at or after it
    local e = r.early_predictor_at_dir90
    assert.is_true(e.t >= r.t_dir90 and e.rel_err >= 0)
    -- span basis: r kept directions as inputs, first-layer sigma scaled by sqrt(r / D)
    assert.are.equal(r.data.rank, r.data.D)
    assert.are.equal(784, r.data.D_pixels)
    assert.is_true(math.abs(r.sigma_first_layer - 0.1 * math.sqrt(r.data.rank / 784)) < 1e-15)
  end)

  it("the completed net f + k^T K^+ r at a loose stop is the net trained on much further", function()
    if not have_fashion then pending("Fashion-MNIST not installed") return end
    local function predictions()
      local Pr = assert(ntklab.io.read_csv(exp.dir .. "/predictions.csv", {header = true}))
      local cols = {}
      for c = 1, Pr:size(2) do
        cols[c] = {}
        for i = 1, Pr:size(1) do cols[c][i] = Pr:get(i, c) end
      end
      return cols
    end
    local function rel(a, b) return analysis.compare(a, b).rel_err end
    local loose = assert(run(config{depth = 2, sigma = 0.2, stop_ratio = 1e-2}))
    local pl = predictions()
    -- (the far run without per-layer directions: the same net, the total's columns only)
    local far = assert(run(config{depth = 2, sigma = 0.2, stop_ratio = 1e-6, layer_directions = false}))
    local pf = predictions()
    local _, cols = assert(ntklab.output.read_csv(exp.dir .. "/trajectory.csv"))
    assert.is_truthy(cols.direction and cols.direction_learned and cols.kernel_norm)
    assert.is_nil(cols.layer1_direction)
    -- the summary's numbers from the files: kernel regression against the completed net (column
    -- 5), and the train residual from the final loss (mean squared error / 2, targets +-1)
    assert.is_true(math.abs(rel(pl[3], pl[5]) - loose.final_ntk_rel_err_completed) < 1e-12)
    assert.is_true(math.abs(rel(pl[4], pl[5]) - loose.initial_ntk_rel_err_completed) < 1e-12)
    assert.is_true(math.abs(rel(pl[2], pl[5]) - loose.completion_rel_change) < 1e-12)
    assert.is_true(math.abs(loose.train_rel_residual - math.sqrt(2 * loose.loss_final)) < 1e-12)
    -- the loosely stopped net still moves: its test outputs are ~8% from the net trained to
    -- 1e-6 of the initial loss; completed under its final kernel they are ~0.2% from it (the
    -- kernel barely moves in the tail). 0.1 of the raw gap leaves room for that motion.
    local raw, completed = rel(pl[2], pf[2]), rel(pl[5], pf[2])
    assert.is_true(raw > 0.03, "raw gap " .. raw)
    assert.is_true(completed < 0.1 * raw, ("completed %.3g, raw %.3g"):format(completed, raw))
    -- and the far run hardly needs completing
    assert.is_true(far.completion_rel_change < 0.1 * loose.completion_rel_change)
  end)

  it("NTK records follow the dynamics: kernel_step adds records where the loss or |theta| moves", function()
    if not have_fashion then pending("Fashion-MNIST not installed") return end
    local coarse = assert(run(config{depth = 3, sigma = 0.1, kernel_step = 0}))
    local fine = assert(run(config{depth = 3, sigma = 0.1, kernel_step = 0.25}))
    -- the same training (kernels are read-only observers; the loss records do not depend on them)
    assert.are.equal(coarse.t_half, fine.t_half)
    assert.is_true(fine.kernel_records > coarse.kernel_records + 3)
    -- and between consecutive records of the fine run the log loss moves by at most about kernel_step
    local _, cols = assert(ntklab.output.read_csv(exp.dir .. "/trajectory.csv"))
    local worst = 0
    for i = 2, #cols.loss do worst = math.max(worst, math.abs(math.log(cols.loss[i] / cols.loss[i - 1]))) end
    -- a record is taken at the first loss record past the step; loss records move log loss by
    -- about max_change (0.1 here; a few of them at a sudden drop, see record_schedule)
    assert.is_true(worst < 0.25 + 4 * 0.1, "largest log-loss move between NTK records " .. worst)
  end)

  it("kernels = false records the loss alone", function()
    if not have_fashion then pending("Fashion-MNIST not installed") return end
    -- sigma_by_depth picks this depth's sigma over sigma
    local r = assert(run(config{depth = 2, sigma = 0.5, sigma_by_depth = "3=0.2, 2=0.1", kernels = false}))
    assert.are.equal(0.1, r.sigma)
    assert.is_number(r.t_half)
    assert.is_nil(r.final_ntk_rel_err)
    assert.is_nil(r.t_align90)
    local verdict = M.verdict(r)
    assert.are.equal("converged", verdict)
  end)

  it("span basis: the same net and dynamics as the pixel-basis net it stands for", function()
    if not have_fashion then pending("Fashion-MNIST not installed") return end
    local ds = assert(image_data.two_class("fashion_mnist", {train = 40, test = 10, seed = 1}))
    local zca = assert(preprocess.fit(ds.X_train, {gamma = 0, rcond = 1e-2}))
    local span = assert(preprocess.fit(ds.X_train, {gamma = 0, rcond = 1e-2, pca = 784}))
    local Xp, Xpt = zca:transform(ds.X_train), zca:transform(ds.X_test)
    local Xs, Xst = span:transform(ds.X_train), span:transform(ds.X_test)
    local r = span.rank
    assert.are.equal(r, Xs:size(2))
    -- the pixel-basis inputs are the span coordinates through the basis V [784 x r]
    local V = span.V:narrow(2, 1, r)
    local ROUND = 1e-10 -- relative: a few GEMMs and an SVD of 40 x 784 inputs
    assert.is_true((ntklab.matmul(Xs, V:t()) - Xp):norm() <= ROUND * Xp:norm())
    assert.is_true((ntklab.matmul(Xst, V:t()) - Xpt):norm() <= ROUND * Xpt:norm())
    -- the pixel net, and the span net with W1' = W1 V and the same other layers
    local pix = ntklab.mlp{widths = {784, 30, 30, 1}, activation = "relu", sigma = 0.5, seed = 3}
    local sp = ntklab.mlp{widths = {r, 30, 30, 1}, activation = "relu",
      sigma = {0.5 * math.sqrt(r / 784), 0.5, 0.5}, seed = 3}
    sp:weight(1):copy_(ntklab.matmul(pix:weight(1), V))
    for l = 2, 3 do sp:weight(l):copy_(pix:weight(l)) end
    local y = ds.y_train
    local K_pix, K_sp = ntklab.ntk(pix, Xp), ntklab.ntk(sp, Xs)
    assert.is_true((K_pix - K_sp):norm() <= ROUND * K_pix:norm())
    for _, net in ipairs{pix, sp} do
      ntklab.train.flow{method = "rk4", dt = 0.05}:run(net, net == pix and Xp or Xs, y, {t = 2})
    end
    local fp, fs = pix:forward(Xpt), sp:forward(Xst)
    assert.is_true((fp - fs):norm() <= ROUND * fp:norm())
    -- the pixel net's W1 moved only inside the span: its projection W1 V is the span net's W1
    assert.is_true((ntklab.matmul(pix:weight(1), V) - sp:weight(1)):norm() <= ROUND * sp:weight(1):norm())
  end)

  it("the figure script reads several kernel sweeps as one, and a slope sweep", function()
    if not have_fashion then pending("Fashion-MNIST not installed") return end
    local files = dofile(source .. "/spec/support/files.lua")
    local q, host = files.q, files.host
    local top = files.scratch_dir()
    local small = " --width 50 --P 40 --test 40 --dataset fashion_mnist --kernel-records 4 --t-max 1e4 "
      .. "--per-decade 5 --max-change 0.1 --stop-ratio 1e-2 --jobs 1 --threads 1"
    local function sh(cmd)
      local p = io.popen(cmd .. " 2>&1")
      local text = p:read("a")
      local _, _, code = p:close()
      assert.are.equal(0, code, cmd .. "\n" .. text)
      return text
    end
    local script = q(source .. "/experiments/deep_relu.lua")
    sh(q(host) .. " sweep " .. script .. " --grid depth=2,3 --sigma-by-depth 2=0.1,3=0.2 --seeds 1" .. small
      .. " --out " .. q(top .. "/a") .. " && " .. q(host) .. " sweep merge " .. q(top .. "/a"))
    sh(q(host) .. " sweep " .. script .. " --grid depth=3 --grid sigma=0.1 --seeds 1" .. small
      .. " --out " .. q(top .. "/b") .. " && " .. q(host) .. " sweep merge " .. q(top .. "/b"))
    sh(q(host) .. " sweep " .. script .. " --grid depth=3 --grid sigma=0.1,0.3 --seeds 1 --no-kernels" .. small
      .. " --out " .. q(top .. "/s") .. " && " .. q(host) .. " sweep merge " .. q(top .. "/s"))
    local text = sh(q(host) .. " " .. q(source .. "/experiments/figures/deep_relu.lua") .. " "
      .. q(top .. "/a") .. "," .. q(top .. "/b") .. " " .. q(top .. "/s") .. " " .. q(top .. "/fig"))
    -- one line per kernel run of both sweeps, sorted by depth, sigma, seed; the slope line
    local lines = {}
    for line in text:gmatch("L = (%d sigma [%d.]+) seed") do lines[#lines + 1] = line end
    assert.are.same({"2 sigma 0.1", "3 sigma 0.1", "3 sigma 0.2"}, lines)
    assert.matches("slope L = 3: t_1/2 ", text, 1, true)
    local report = assert(ntklab.output.read_json(top .. "/fig/figures.json"))
    assert.are.equal(3, #report.runs)
    -- the direction readouts, from each run's trajectory.csv (c(t_kernel10) from the summary)
    for _, r in ipairs(report.runs) do
      local d = assert(r.direction)
      local dirname = (r.depth == 3 and r.sigma == 0.1) and "b/depth=3,sigma=0.1,seed=1"
        or ("a/depth=" .. math.tointeger(r.depth) .. ",seed=1")
      local summary = assert(ntklab.output.read_json(top .. "/" .. dirname .. "/summary.json"))
      assert.is_true(math.abs(d.c_kernel10 - summary.direction_at_kernel10) < 1e-12)
      assert.are.equal(summary.direction_silent_max.direction, d.c_silent_max)
    end
    for _, png in ipairs{"figE2_dynamics.png", "figE2_predictions.png", "figE2_t_half.png"} do
      local fh = assert(io.open(top .. "/fig/" .. png, "rb"))
      assert.is_true(#fh:read("a") > 1000, png)
      fh:close()
    end
    files.remove_tree(top)
  end)

  it("fails with a message on settings it cannot run", function()
    local summary, err = run(config{depth = 2, sigma = 0})
    assert.is_nil(summary)
    assert.is_truthy(tostring(err):find("need sigma > 0", 1, true))
    summary, err = run(config{depth = 4, sigma_by_depth = "2=0.1,3=0.2"})
    assert.is_nil(summary)
    assert.is_truthy(tostring(err):find("sigma_by_depth '2=0.1,3=0.2' has no sigma for depth 4", 1, true))
    summary, err = run(config{depth = 2, sigma_by_depth = "2=0.1,3"})
    assert.is_nil(summary)
    assert.is_truthy(tostring(err):find("DEPTH=SIGMA items separated by commas expected, got '3'", 1, true))
  end)
end)
