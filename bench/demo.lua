-- bench/demo.lua: wall time of the demo and of the fixed peer workload (issue 6's benchmark).
--   build/bin/ntklab bench/demo.lua [demo|fixed|all] [BLAS threads]
-- demo:  experiments/silent_alignment.lua with its defaults (MNIST must be cached: run
--        scripts/fetch-data mnist once), in a child process; its summary's timing split
--        (data, training, NTK and metrics, analysis, the rest = plots and files) is printed.
-- fixed: the Figure 1a net (P = 1000, D = 784, N = 100, ReLU, sigma = 0.1) on ZCA-whitened
--        Gaussian inputs with labels sign(beta . x); 2000 GD steps at lr 0.01; the train NTK and
--        its alignment every 20 steps (101 kernels), through ntklab.recorder (layers and
--        eigenvalues off: the peers compute the kernel and the alignment only).
-- Wall time from ntklab.clock (monotonic). Nothing is asserted.
local ntklab = require "ntklab"
local preprocess = require "ntklab.preprocess"
local output = ntklab.output
local clock = ntklab.clock
local bench = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/bench_util.lua")
local which = arg[1] or "all"
if arg[2] then ntklab.threads(assert(math.tointeger(tonumber(arg[2])), "threads: integer expected")) end

if which == "demo" or which == "all" then
  local dir = os.tmpname()
  os.remove(dir)
  local source = os.getenv("NTKLAB_SOURCE_DIR") or bench.root
  local host = arg[-1] or "build/bin/ntklab"
  local t0 = clock()
  local ok = os.execute(("%q run %q --quiet --out %q"):format(host, source .. "/experiments/silent_alignment.lua", dir))
  local wall = clock() - t0
  if not ok then error("the demo experiment failed (is MNIST cached? scripts/fetch-data mnist)") end
  local s = assert(output.read_json(dir .. "/summary.json"))
  local sec = s.seconds
  print(string.format("demo (silent_alignment defaults): %.2f s wall, of which in the script %.2f s:", wall, sec.total))
  print(string.format("  training %.2f s (%d gradient evaluations), NTK and metrics %.2f s (%d records),",
    sec.train, s.final.gradient_evals, sec.ntk_and_metrics, s.records))
  print(string.format("  data %.2f s, analysis %.2f s, other (plots, files, start-up) %.2f s",
    sec.data, sec.analysis, wall - sec.train - sec.ntk_and_metrics - sec.data - sec.analysis))
  for _, f in ipairs{"config.json", "summary.json", "trajectory.csv", "predictions.csv", "trajectory.png",
                     "predictions.png", "alignment.png"} do
    os.remove(dir .. "/" .. f)
  end
  os.remove(dir)
end

if which == "fixed" or which == "all" then
  local P, D, N = 1000, 784, 100
  local rng = ntklab.rng(7)
  local Z = rng:normal(P, D)
  local X = assert(preprocess.fit(Z, {zca = true})):transform(Z)
  local beta = rng:normal(D)
  local y = ntklab.zeros(P)
  local xb = X:matmul(beta)
  for i = 1, P do y:set(i, xb:get(i) >= 0 and 1 or -1) end
  local net = ntklab.mlp{widths = {D, N, 1}, activation = "relu", sigma = 0.1, seed = 1}
  local gd = ntklab.train.gd{lr = 0.01}
  local steps, every = 2000, 20
  local times = {}
  for k = 0, steps // every do times[#times + 1] = k * every * 0.01 end
  local rec = ntklab.recorder{times = times, X = X, y = y, layers = false}
  local t0 = clock()
  gd:run(net, X, y, {steps = steps, observe = times, observer = rec.observer})
  local wall = clock() - t0
  print(string.format("fixed workload (%d BLAS threads): %d GD steps + %d NTKs with alignment: %.2f s wall "
    .. "(training %.2f s, NTK and metrics %.2f s); goal <= 8.5 s (numpy 12.7 s, PyTorch 14.1 s tuned)",
    ntklab.threads(), gd.steps, rec:count(), wall, wall - rec.seconds, rec.seconds))
  print(string.format("  final loss %.4g, alignment %.4f -> %.4f", rec.trajectory.loss[rec:count()],
    rec.trajectory.alignment[1], rec.trajectory.alignment[rec:count()]))
end
